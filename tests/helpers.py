"""Shared test helpers: paths to the shared data, a tiny config, record links, subprocess control.

Test files import these (`from helpers import SAMPLE, needs_sample`); `conftest.py` keeps only
fixtures and command-line options. The sample records are found, in this order, at
`pytest --sample-data DIR`, at `$ECGNET_SAMPLE_DATA`, or at `../shared/data/cinc2020_sample`
next to the repository. `conftest.py` applies `--sample-data` (through `set_sample`) before any
test module is imported, so `from helpers import SAMPLE` in a test module sees the final path.
"""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from ecgnet.config import Config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OFFICIAL = SHARED / "data" / "challenge2020"
SAMPLE_ENV = "ECGNET_SAMPLE_DATA"
DEFAULT_SAMPLE = SHARED / "data" / "cinc2020_sample"


def set_sample(path):
    """Use the sample records in `path`: sets SAMPLE and the `needs_sample` skip mark."""
    global SAMPLE, needs_sample
    SAMPLE = Path(path).expanduser().resolve()
    needs_sample = pytest.mark.skipif(
        not SAMPLE.is_dir(), reason=f"sample records not found at {SAMPLE} (give --sample-data DIR or ${SAMPLE_ENV})"
    )


SAMPLE = needs_sample = None
set_sample(os.environ.get(SAMPLE_ENV) or DEFAULT_SAMPLE)

# A network small enough to train in seconds on a CPU, every code path of the full one kept.
TINY = Config.paper().replace(
    width=8,
    blocks=(1, 1),
    se_reduction=4,
    folds=2,
    epochs=2,
    lr_milestones=(1,),
    batch_size=16,
    window=1024,
    overlap=128,
)


def cli_settings(config):
    """`train_model.py` arguments that give `config`: a `--set` for every non-default field."""
    args = ["--jobs", "1"]
    for name, value in config.to_dict().items():
        if value != Config().to_dict()[name]:
            if isinstance(value, list):
                text = ",".join(map(str, value))
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["--set", f"{name}={text}"]
    return args


def link_records(source, target, names):
    """Symlink NAME.hea/.mat of `names` from `source` into `target`."""
    os.makedirs(target, exist_ok=True)
    for name in names:
        for ext in (".hea", ".mat"):
            os.symlink(os.path.join(source, name + ext), os.path.join(target, name + ext))
    return str(target)


def sample_names(prefixes=("A", "E", "HR", "JS", "Q"), per_prefix=6):
    """The first `per_prefix` sample records of each source prefix, sorted by name."""
    names = sorted(p.stem for p in SAMPLE.glob("*.hea"))
    chosen = []
    for prefix in prefixes:
        chosen += [n for n in names if n.rstrip("0123456789") == prefix][:per_prefix]
    return chosen


def start_process(args, **kwargs):
    """`subprocess.Popen` in a session (process group) of its own, for `kill_process_group`."""
    return subprocess.Popen(args, start_new_session=True, **kwargs)


def _descendants(pid):
    """Ids of the processes `pid` started, their children and so on (Linux /proc; [] elsewhere)."""
    parents = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def kill_process_group(process, sig=signal.SIGKILL):
    """Send `sig` to a process from `start_process`, to its process group and to every process
    it started, then reap it. torchrun starts each worker in a session (group) of its own, so
    the groups that its descendants lead are signalled too. Processes are found by id, from
    the process down, never by name."""
    if process.poll() is not None:  # already ended and reaped: its id may be another's now
        return process.returncode
    tree = [process.pid, *_descendants(process.pid)]
    for pid in tree:
        try:
            if os.getpgid(pid) == pid:  # a group leader of this tree: the group
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return process.wait()
