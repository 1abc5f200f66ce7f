"""The GPU path, checked for real: training with mixed precision, torchrun, the driver on the
GPU against the CPU, and throughput. Run through `bash scripts/gpu_check.sh` on a GPU machine.

    python -m ecgnet.benchmarks.gpu_check [--records N] [--epochs E] [--json FILE] [--keep DIR]

Steps, each a real command line of the project (`python -m ecgnet ...`, what the challenge
scripts run) in a subprocess:
  1. synthetic records (N for training, N/4 for the test);
  2. `ecgnet train` (train_model.py) with the paper's network (2 folds, E epochs, bf16 autocast on CUDA):
     record passes/s from the epoch history (each epoch trains on half the records and
     validates on the other half), peak GPU memory, and from these a rough time for the
     paper's run on the full 43,000 records (5 folds x 70 epochs);
  3. the same under `torchrun --nproc_per_node=G` (DistributedDataParallel over NCCL; one
     epoch), and with `--parallel-folds` when there are 2 or more GPUs;
  4. `ecgnet drive` (driver.py) on the GPU (default: TF32 convolutions, as torch runs them out of the box),
     on the GPU with TF32 off (NVIDIA_TF32_OVERRIDE=0), and on the CPU: records/s, and the
     largest probability difference and the label agreement of each GPU run against the CPU.

Tolerances: with TF32 off the GPU computes in fp32 like the CPU, so probabilities must agree
to 1e-4 (summation order alone differs). TF32 keeps 10 mantissa bits, so its probabilities
are checked to 1e-2 and the actual difference is reported; labels may only differ where a
probability sits within that difference of its threshold.
"""

import argparse
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence

from ecgnet.benchmarks import child_env
from ecgnet.files import atomic_write

TOLERANCE_FP32 = 1e-4
TOLERANCE_TF32 = 1e-2


class GpuMemory:
    """Peak used GPU memory (MiB, all GPUs summed) sampled with nvidia-smi while a step runs."""

    def __init__(self, interval=0.25):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            try:
                text = subprocess.run(
                    ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                self.peak = max(self.peak, sum(int(v) for v in text.split()))
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


def run(
    step: str, command: list[str], env: dict[str, str] | None = None, log_dir: str | None = None
) -> tuple[float, int, str]:
    """Run one command with this ecgnet importable; its output goes to LOG_DIR/STEP.log.
    Returns (seconds, peak GPU MiB, output text)."""
    print(f"gpu_check: {step}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    with GpuMemory() as memory:
        result = subprocess.run(command, env=child_env(env), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if log_dir:
        with open(os.path.join(log_dir, f"{step}.log"), "w") as f:
            f.write(output)
    if result.returncode != 0:
        print(output[-4000:], file=sys.stderr)
        raise SystemExit(f"gpu_check: {step} failed with status {result.returncode}")
    print(f"gpu_check: {step}: {seconds:.1f} s, peak GPU memory {memory.peak} MiB", flush=True)
    return seconds, memory.peak, output


FULL_DATA_RECORDS, PAPER_FOLDS, PAPER_EPOCHS = 43_000, 5, 70


def training_rate(model_folder: str) -> tuple[float, int]:
    """Record passes/s (training and validation) over every epoch after each fold's first,
    which pays for start-up; with 2 folds an epoch trains on half the records and validates
    on the other half, so every record passes once."""
    with open(os.path.join(model_folder, "cv_report.json")) as f:
        report = json.load(f)
    epochs = [h for fold in report["folds"] for h in fold["history"]]
    warm = [h for fold in report["folds"] for h in fold["history"][1:]] or epochs
    records = report["overall"]["records"]
    return len(warm) * records / sum(h["seconds"] for h in warm), len(epochs)


def read_outputs(folder: str) -> dict[str, tuple[list[int], list[float]]]:
    """{record: (labels, probabilities)} of a folder of driver output files."""
    outputs = {}
    for path in glob.glob(os.path.join(folder, "*.csv")):
        with open(path) as f:
            rows = list(csv.reader(f))
        outputs[os.path.basename(path)[:-4]] = ([int(v) for v in rows[2]], [float(v) for v in rows[3]])
    return outputs


def compare(gpu_folder: str, cpu_folder: str) -> dict:
    """Largest probability difference and label agreement of two folders of output files."""
    gpu, cpu = read_outputs(gpu_folder), read_outputs(cpu_folder)
    if set(gpu) != set(cpu) or not gpu:
        raise SystemExit(f"gpu_check: {gpu_folder} and {cpu_folder} hold different records")
    cells = same = 0
    largest = 0.0
    for name, (labels, probabilities) in cpu.items():
        gpu_labels, gpu_probabilities = gpu[name]
        largest = max(largest, max(abs(a - b) for a, b in zip(probabilities, gpu_probabilities)))
        cells += len(labels)
        same += sum(a == b for a, b in zip(labels, gpu_labels))
    return {"records": len(cpu), "max_probability_difference": largest, "label_agreement": same / cells}


def driver_rate(output: str) -> float:
    """Records/s from the driver's closing line (model loading and imports excluded)."""
    match = re.search(r"wrote (\d+) output files for \d+ recordings in ([\d.]+) s", output)
    if match is None:
        raise ValueError(f"the driver's closing line is missing from its output: {output[-300:]!r}")
    return int(match.group(1)) / float(match.group(2))


def train_steps(records: int, epochs: int, gpus: int, work: str, logs: str) -> dict:
    """Steps 1-3: the records, `ecgnet train` on one GPU and under torchrun. Their summary."""
    py, train, test = sys.executable, os.path.join(work, "train"), os.path.join(work, "test")
    run("synthetic", [py, "-m", "ecgnet", "synth", train, str(records), "--seed", "1"], log_dir=logs)
    run(
        "synthetic-test",
        [py, "-m", "ecgnet", "synth", test, str(records // 4), "--seed", "2", "--start", str(records + 1)],
        log_dir=logs,
    )
    settings = ["--set", "folds=2", "--set", f"epochs={epochs}", "--set", "lr_milestones=1", "--jobs", "8"]
    model = os.path.join(work, "model")
    seconds, peak, _ = run("train", [py, "-m", "ecgnet", "train", train, model, *settings], log_dir=logs)
    rate, done = training_rate(model)
    # A full-data epoch passes every record once too (80% training, 20% validation): rough,
    # since validation is cheaper than training and 5 folds validate less than 2.
    hours = PAPER_FOLDS * PAPER_EPOCHS * FULL_DATA_RECORDS / rate / 3600
    summary = {
        "train": {
            "seconds": round(seconds, 1),
            "epochs": done,
            "record_passes_per_s": round(rate, 1),
            "peak_gpu_mib": peak,
            "paper_run_on_43k_records_hours": round(hours, 1),
        }
    }
    ddp = ["--set", "folds=2", "--set", "epochs=1", "--set", "lr_milestones=1", "--jobs", "8"]
    torchrun = [py, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", "-m", "ecgnet"]
    torchrun += ["train", train]
    seconds, peak, _ = run("torchrun", [*torchrun, os.path.join(work, "model_ddp"), *ddp], log_dir=logs)
    summary["torchrun"] = {"processes": gpus, "seconds": round(seconds, 1), "peak_gpu_mib": peak}
    if gpus > 1:
        seconds, peak, _ = run(
            "parallel-folds", [*torchrun, os.path.join(work, "model_pf"), *ddp, "--parallel-folds"], log_dir=logs
        )
        summary["parallel_folds"] = {"processes": gpus, "seconds": round(seconds, 1), "peak_gpu_mib": peak}
    return summary


def driver_steps(work: str, logs: str) -> dict:
    """Step 4: `ecgnet drive` with TF32, without, and on the CPU, compared. Their summary."""
    model, test = os.path.join(work, "model"), os.path.join(work, "test")
    summary = {}
    drivers = {"gpu_tf32": ("cuda", {}), "gpu_fp32": ("cuda", {"NVIDIA_TF32_OVERRIDE": "0"}), "cpu": ("cpu", {})}
    for name, (device, env) in drivers.items():
        out = os.path.join(work, f"outputs_{name}")
        command = [sys.executable, "-m", "ecgnet", "drive", model, test, out, "--device", device]
        seconds, peak, output = run(f"driver-{name}", command, env=env, log_dir=logs)
        summary[f"driver_{name}"] = {
            "seconds": round(seconds, 1),
            "records_per_s": round(driver_rate(output), 1),
            "peak_gpu_mib": peak,
        }
    cpu_out = os.path.join(work, "outputs_cpu")
    summary["driver_gpu_fp32"].update(compare(os.path.join(work, "outputs_gpu_fp32"), cpu_out))
    summary["driver_gpu_tf32"].update(compare(os.path.join(work, "outputs_gpu_tf32"), cpu_out))
    return summary


def failures_of(summary: dict) -> list[str]:
    """What the GPU got wrong against the CPU, beyond the tolerances."""
    failures = []
    if summary["driver_gpu_fp32"]["max_probability_difference"] > TOLERANCE_FP32:
        failures.append(f"GPU fp32 probabilities differ from the CPU's by more than {TOLERANCE_FP32}")
    if summary["driver_gpu_tf32"]["max_probability_difference"] > TOLERANCE_TF32:
        failures.append(f"GPU TF32 probabilities differ from the CPU's by more than {TOLERANCE_TF32}")
    return failures


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run every step, print the summary; 0 when the GPU agrees with the CPU, else 1."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records", type=int, default=4000, help="synthetic training records (the test set is a quarter)"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="write the summary here too")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    import torch  # only to count GPUs and name them; every measured step runs in a subprocess

    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA GPU is visible to torch")
    gpus = torch.cuda.device_count()
    work = args.keep or tempfile.mkdtemp(prefix="gpu_check_")
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    summary = {
        "gpu": torch.cuda.get_device_name(0),
        "gpus": gpus,
        "torch": torch.__version__,
        "bf16": torch.cuda.is_bf16_supported(),
    }
    summary.update(train_steps(args.records, args.epochs, gpus, work, logs))
    summary.update(driver_steps(work, logs))
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        atomic_write(args.json, text + "\n")
    failures = failures_of(summary)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"gpu_check: FAILED: {failure}", file=sys.stderr)
    print("gpu_check: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
