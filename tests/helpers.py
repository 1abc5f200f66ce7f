"""Shared test helpers: the committed test records, the tiny config, record links, subprocess control.

Test files import these (`from helpers import RECORDS, TINY`); `conftest.py` keeps only
fixtures, command-line options and the summary of skipped tests.

Every test runs on the records committed under `tests/data/` (see its README): 13 Challenge
records (`RECORDS`) and 7 PTB-XL records as PTB-XL ships them (`PTBXL`). A few slower checks
run over the whole 214-record sample too; they find it, in this order, at
`pytest --sample-data DIR`, at `$ECGNET_SAMPLE_DATA`, or at `../shared/data/cinc2020_sample`
next to the repository, and are skipped (and listed at the end of the run) without it.
`conftest.py` applies `--sample-data` (through `set_sample`) before any test module is
imported, so `from helpers import SAMPLE` in a test module sees the final path.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecgnet.config import PAPER_SETTINGS, Config, load_config_file

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RECORDS = DATA / "cinc2020"  # the committed Challenge records
PTBXL = DATA / "ptbxl"  # the committed PTB-XL records, in PTB-XL's own layout
OFFICIAL = ROOT / "ecgnet" / "data"  # the official scoring tables (test_labels checks their git hashes)
SHARED = ROOT.parent / "shared"
SAMPLE_ENV = "ECGNET_SAMPLE_DATA"
DEFAULT_SAMPLE = SHARED / "data" / "cinc2020_sample"
WHOLE_SAMPLE = "whole-sample check"  # the start of every reason a whole-sample check is skipped for


def set_sample(path):
    """Use the whole sample in `path`: sets SAMPLE and the `needs_sample` skip mark."""
    global SAMPLE, needs_sample
    SAMPLE = Path(path).expanduser().resolve()
    needs_sample = pytest.mark.skipif(
        not SAMPLE.is_dir(),
        reason=f"{WHOLE_SAMPLE}: the 214 sample records are not at {SAMPLE} (give --sample-data DIR or ${SAMPLE_ENV})",
    )


SAMPLE = needs_sample = None
set_sample(os.environ.get(SAMPLE_ENV) or DEFAULT_SAMPLE)

# The shipped defaults at a size that trains in seconds on a CPU, every code path of the full
# network kept: the same file the smoke scripts train with.
TINY = load_config_file(ROOT / "configs" / "tiny.json")
# The published method's protocol at the same size, for tests about the paper's epoch choice,
# per-class thresholds or unconditioned, unaugmented windows.
TINY_PAPER = TINY.replace(**PAPER_SETTINGS)
# The defaults' network alone, without the measurements beside it (no measurement inputs, no rule
# decisions), for tests of the network and of what the driver feeds it.
TINY_NETWORK = TINY.replace(features="none", decide_rules="")


def record_folders():
    """pytest parameters: the committed records, and the whole sample where it is present."""
    return [pytest.param(RECORDS, id="committed"), pytest.param(SAMPLE, id="sample", marks=needs_sample)]


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


def sample_names(prefixes=("A", "E", "HR", "JS", "Q"), per_prefix=None, folder=None):
    """The records of `folder` (default: the committed ones) of each source prefix, sorted by
    name, the first `per_prefix` of each (all by default)."""
    names = sorted(p.stem for p in Path(folder or RECORDS).glob("*.hea"))
    chosen = []
    for prefix in prefixes:
        chosen += [n for n in names if n.rstrip("0123456789") == prefix][:per_prefix]
    return chosen


def run_driver(model, data, outputs, *options):
    """The project's driver.py as a user runs it, in a fresh process from the repository root."""
    return subprocess.run(
        [sys.executable, "driver.py", str(model), str(data), str(outputs), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
