"""Measurements of the pipeline, run on demand (not by the tests).

`run` (`ecgnet benchmark`) measures the speed and memory of every stage against references
measured in the same run: the authors' own code, run by `anchor`, and, secondary, their
inference loop rebuilt in `reference_driver`; `profile` times the driver process stage by stage;
`gpu_check` (`scripts/gpu_check.sh`) checks the GPU path for real;
`wfdb_reader` measures ecgnet's native WFDB reader against wfdb's, and `scaling` the driver
over collections of 1x, 10x and 100x the sample size; `tools` holds what they share. Each runs
the project's commands in subprocesses through `python -m ecgnet`, with the package this one
was imported from first on PYTHONPATH (`child_env`, here because it needs no heavy imports), so
that a checkout and an installed copy each measure themselves.
"""

import os
from pathlib import Path

import ecgnet

# The folder holding the `ecgnet` package: the repository root in a checkout.
PACKAGE_PARENT = str(Path(ecgnet.__file__).resolve().parent.parent)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus `extra`, with PACKAGE_PARENT first on PYTHONPATH, so that a subprocess
    `python -m ecgnet ...` runs this very ecgnet (a checkout or an installed copy)."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env
