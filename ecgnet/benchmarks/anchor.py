"""The original authors' published inference code as the speed reference ("the anchor").

`../shared/reference/authors_anchor/` (from the repository root) holds their code with
`make_anchor.sh OUT PYTHON`, which copies it to OUT with five random-init fold models of their
network (their trained weights were never published; speed does not depend on the weights).
Their `driver.py` is then run as a whole process from OUT (`cd OUT && PYTHON driver.py model_in
DATA OUTPUTS`), with a Python that has torch, numpy, scipy and pandas (their code imports pandas;
ecgnet's challenge path never does: the dev extra brings it in through wfdb). Nothing of their
code is imported here or copied into ecgnet: it runs only in its own processes.
"""

import os
import subprocess
import sys

from ecgnet.benchmarks.tools import run_measured

ANCHOR = os.path.join("..", "shared", "reference", "authors_anchor")
MODULES = ("torch", "numpy", "scipy", "pandas")  # what their driver imports


def python_problem(python: str) -> str | None:
    """Why `python` cannot run the anchor (a module it lacks), or None."""
    code = (
        "import importlib.util, sys; "
        f"missing = [m for m in {MODULES!r} if importlib.util.find_spec(m) is None]; "
        "sys.exit(', '.join(missing) or None)"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return f"{python} lacks {result.stderr.strip() or 'a module'} (the anchor needs {', '.join(MODULES)})"
    return None


def prepare(source: str, folder: str, python: str = sys.executable) -> str:
    """The runnable anchor made by `source`/make_anchor.sh in `folder` (replaced), for `python`."""
    result = subprocess.run(
        ["bash", os.path.join(source, "make_anchor.sh"), folder, python], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{source}/make_anchor.sh failed:\n{result.stdout}\n{result.stderr}")
    return folder


def drive(folder: str, data: str, out: str, python: str = sys.executable) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of the anchor's driver process on `data`, writing into `out`.
    Their paths are relative to their folder, so it runs there, with the environment as it is
    (not this ecgnet's `child_env`: nothing of ecgnet on its path)."""
    seconds, mib, _ = run_measured(
        [python, "driver.py", "model_in", os.path.abspath(data), os.path.abspath(out)], cwd=folder, env=dict(os.environ)
    )
    return seconds, mib
