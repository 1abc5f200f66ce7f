"""What the benchmarks share: running commands with this ecgnet importable and measuring them,
the machine's description, an untrained model of a given size, many records from a few."""

import os
import platform
import subprocess
import sys

import torch

from ecgnet import labels, modelstore
from ecgnet.benchmarks import child_env
from ecgnet.config import Config
from ecgnet.folders import find_records
from ecgnet.model import SEResNet1d


def machine() -> str:
    """CPU model, cores, torch version and threads, Python version."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = torch.get_num_threads()
    return (
        f"{model}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads), "
        f"Python {platform.python_version()}"
    )


# A child forked from this (large) process starts its peak-RSS count at this process's size;
# a small launcher process forks the measured command instead and reports its own child's peak.
# The driver has a process of its own beside it for a while (`reading.HeadStart`): where /proc
# exists, the launcher also adds up the RSS of the command's process tree every 10 ms, and
# reports the larger of that sum (shared pages counted in each process) and the kernel's peak.
_LAUNCHER = """
import os, subprocess, sys, time

def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    except OSError:
        return 0

def tree(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(child) for child in f.read().split()]
    except OSError:
        children = []
    return [pid] + [p for child in children for p in tree(child)]

started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:])
peak = 0
while True:
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid:
        break
    peak = max(peak, sum(rss(p) for p in tree(process.pid)))
    time.sleep(0.01)
seconds = time.perf_counter() - started
print(f"{seconds} {max(peak, usage.ru_maxrss)} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def run_measured(
    command: list[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[float, float, tuple[str, str]]:
    """(wall seconds, peak RSS MiB, (stdout, stderr)) of a command run in `cwd` with this ecgnet
    importable (or with the environment `env`)."""
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command],
        env=child_env() if env is None else env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds, peak_kib, status = result.stderr.strip().splitlines()[-1].split()
    if int(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return float(seconds), int(peak_kib) / 1024, (result.stdout, result.stderr)


def make_model(folder: str, config: Config, folds: int = 5) -> str:
    """An untrained `folds`-fold model of `config`'s size in `folder`."""
    os.makedirs(folder, exist_ok=True)
    for k in range(folds):
        torch.manual_seed(k)
        modelstore.save_tensors(modelstore.ModelFolder(folder).weights(k), SEResNet1d(config).state_dict())
    modelstore.save_model(
        folder, config.replace(folds=folds), [0.5] * labels.NUM_CLASSES, folds, {"note": "untrained, for benchmarks"}
    )
    return folder


def add_int8_weights(folder: str, data: str, count: int = 16) -> str:
    """Give the (untrained) model in `folder` int8 weights calibrated on the first `count` records
    of `data`, without the fidelity gate (an untrained model has nothing to keep)."""
    from ecgnet.folders import list_records
    from ecgnet.inference import float_network
    from ecgnet.quantize import calibrate, int8_state
    from ecgnet.records import read_record

    config = modelstore.load_model(folder)[0]
    records = [read_record(files, config.sample_rate) for files in list_records(data)[:count]]
    states = []
    for path in modelstore.load_model(folder)[1]:
        network = float_network(config, modelstore.load_weights(path, config), "cpu")
        states.append(int8_state(network, calibrate(network, records, config)))
    modelstore.save_int8(folder, states, {"note": "untrained, for benchmarks: no gate"}, default=False)
    return folder


def replicate(source: str, target: str, count: int) -> str:
    """`count` records named R00001... linking to the source records in turn."""
    os.makedirs(target, exist_ok=True)
    names = [os.path.splitext(os.path.basename(p))[0] for p in find_records(source)]
    for i in range(count):
        name = names[i % len(names)]
        for ext in (".hea", ".mat"):
            os.symlink(os.path.join(source, name + ext), os.path.join(target, f"R{i:05d}{ext}"))
    return target
