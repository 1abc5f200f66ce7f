"""Where the driver's time goes: the whole `ecgnet drive` path on a folder, stage by stage.

    python -m ecgnet.benchmarks.profile MODEL [--sample-data DIR] [--precisions int8,fp32]
                                        [--rounds N] [--json FILE]

For each precision, a fresh process (`--child`) does what `driver.py` does (`cli.drive`: import
the inference modules, load MODEL, `runner.run_folder` over DATA into a temporary folder) with
timers around the functions of each stage (STAGES, in order), but without the driver's head
start (`reading.HeadStart`): every record is read and measured in the process, where the timers
see it. The driver works in several
threads at once (a reader, the network's workers: `reading`, `inference.predict`), so the
timers count CPU time, in the thread that runs each stage (`time.thread_time`); each counts
its own time less that of the timers inside it in its thread, and a thread waiting for
another counts nothing. Two rows are measured otherwise: the interpreter's start-up and exit
(the process's wall time, measured from outside, less the wall time the child timed from its
first line to its last: one thread, so its CPU time too), and what no timer saw (the process's
CPU time less the stages', such as threads torch or oneDNN start). The stages then add up to
the process's CPU time; its wall time is beside it. Network stages are summed over the fold
models. The timers add a few microseconds a call (thousands of calls: well under 1%).
`--rounds`: processes per precision, alternating; the one with the least wall time is reported.
"""

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence

# (stage, what it holds), in the order of the table.
STAGES = (
    ("interpreter start-up and exit", "python itself, before the driver's first line and after its last"),
    ("imports", "the modules `driver.py` imports (torch, numpy, ecgnet)"),
    ("model load", "reading, checking and building the fold models"),
    ("listing", "finding the records (`folders.iter_records`, twice)"),
    ("header reading", "`headers.load_header`"),
    ("signal reading", "`.mat` (`matfiles.load_signal`) or native WFDB signal files"),
    ("resampling", "`preprocess.resample` to the model's rate"),
    ("record: other", "lead order, checks, demographics (`records.read_record`)"),
    ("measurements", "`features.measure_records`: the measurements of every record"),
    ("network inputs", "demographics and encoded measurements (`features.network_inputs`)"),
    ("views", "conditioning each view (`preprocess.condition`: band-pass, standardise)"),
    ("batching", "views into batches, averaging a record's views (`inference.predict`)"),
    ("network: stem stage", "lead gate, stem convolution, pooling (`stem_stage`)"),
    ("network: block convolutions", "the residual blocks' convolutions (int8 or float32)"),
    ("network: squeeze-excite", "the blocks' squeeze-and-excite gates"),
    ("network: body other", "masks, ReLU, residual sums between the block convolutions"),
    ("network: head", "pooling, demographics, measurements, classifier (`head`)"),
    ("network: other", "per-view plumbing, sigmoid (`probabilities`)"),
    ("second stage", "rule decisions and the stacked stage (`decisions.SecondStage.apply`)"),
    ("thresholds and vote", "`inference.combine`"),
    ("output writing", "`outputs.write_output`, one file per record"),
    ("driver loop: other", "the rest of `runner.run_folder`"),
    ("not timed", "CPU time no timer saw (threads of torch and oneDNN, the garbage collector)"),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)


class Timers:
    """Exclusive CPU seconds per stage: in each thread, a timer's time less that of the timers
    running inside it in the same thread."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGE_NAMES, 0.0)
        self._threads = threading.local()
        self._lock = threading.Lock()

    def _inner(self) -> list[float]:
        """This thread's time of finished inner timers, per level of its running ones."""
        if not hasattr(self._threads, "inner"):
            self._threads.inner = [0.0]
        return self._threads.inner

    def start(self) -> float:
        self._inner().append(0.0)
        return time.thread_time()

    def stop(self, stage: str, started: float) -> None:
        elapsed = time.thread_time() - started
        inner = self._inner()
        own = elapsed - inner.pop()
        inner[-1] += elapsed
        with self._lock:
            self.seconds[stage] += own

    def wrap(self, stage: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = self.start()
            try:
                return function(*args, **kwargs)
            finally:
                self.stop(stage, started)

        return timed

    def wrap_iterator(self, stage: str, function: Callable[..., Iterator]) -> Callable[..., Iterator]:
        """`function` returning an iterator, each step of which counts to `stage`."""

        @functools.wraps(function)
        def timed(*args, **kwargs):
            iterator = iter(function(*args, **kwargs))
            while True:
                started = self.start()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self.stop(stage, started)
                yield item

        return timed

    def patch(self, owner: object, attribute: str, stage: str, iterator: bool = False) -> None:
        function = getattr(owner, attribute)
        setattr(owner, attribute, (self.wrap_iterator if iterator else self.wrap)(stage, function))


def _instrument_network(timers: Timers, models: Sequence) -> None:
    for model in models:
        for block in model.blocks:
            for part in ("conv1", "conv2", "shortcut"):
                conv = getattr(block, part)
                if conv is not None:
                    conv.forward = timers.wrap("network: block convolutions", conv.forward)
            block.se.forward = timers.wrap("network: squeeze-excite", block.se.forward)
            block.forward = timers.wrap("network: body other", block.forward)


def child(model: str, data: str, out: str, precision: str) -> dict:
    """What `driver.py` does, timed: {"stages": {stage: CPU seconds} (all but the two measured
    from outside), "wall_s": this function's wall time, "cpu_s": the process's CPU time}."""
    timers = Timers()
    wall_started = time.perf_counter()
    first = timers.start()
    started = timers.start()
    from ecgnet import features, inference, reading, records, runner
    from ecgnet.model import SEResNet1d

    timers.stop("imports", started)
    for module, attribute, stage in (
        (records, "load_header", "header reading"),
        (records, "load_signal", "signal reading"),
        (records.datfiles, "load_adc", "signal reading"),
        (records.preprocess, "resample", "resampling"),
        (reading, "read_record", "record: other"),
        (features, "measure_records", "measurements"),
        (features, "network_inputs", "network inputs"),
        (inference.preprocess, "condition", "views"),
        (inference, "predict", "batching"),
        (SEResNet1d, "stem_stage", "network: stem stage"),
        (SEResNet1d, "head", "network: head"),
        (inference.SecondStage, "apply", "second stage"),
        (inference, "combine", "thresholds and vote"),
        (runner, "write_output", "output writing"),
    ):
        timers.patch(module, attribute, stage)
    timers.patch(reading, "iter_records", "listing", iterator=True)  # counting
    timers.patch(runner, "iter_records", "listing", iterator=True)  # the run's listing
    started = timers.start()
    inference.bound_kernel_cache()  # as the driver
    ensemble = inference.Ensemble.from_folder(model, "cpu", precision)
    inference.freeze_loaded_objects()
    timers.stop("model load", started)
    for model_ in ensemble.models:
        model_.probabilities = timers.wrap("network: other", model_.probabilities)  # type: ignore[method-assign]  # this instance only
    _instrument_network(timers, ensemble.models)
    started = timers.start()
    runner.run_folder(ensemble, data, out)
    timers.stop("driver loop: other", started)
    timers.stop("driver loop: other", first)  # this function's own lines
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "stages": timers.seconds,
        "wall_s": time.perf_counter() - wall_started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def profile_process(model: str, data: str, precision: str) -> dict:
    """One child process: wall seconds, CPU seconds, peak MiB, records and {stage: CPU seconds}
    (adding up to the CPU seconds)."""
    from ecgnet.benchmarks.tools import run_measured

    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "ecgnet.benchmarks.profile", "--child", model, data, out, precision]
        wall, mib, (stdout, _) = run_measured(command)
        count = len(os.listdir(out))
    timed = json.loads(stdout.strip().splitlines()[-1])
    stages = timed["stages"]
    stages["not timed"] = max(0.0, timed["cpu_s"] - sum(stages.values()))
    stages["interpreter start-up and exit"] = max(0.0, wall - timed["wall_s"])
    return {
        "precision": precision,
        "records": count,
        "wall_s": wall,
        "cpu_s": sum(stages.values()),
        "peak_mib": mib,
        "stages": stages,
    }


def table(runs: Sequence[dict]) -> str:
    """A Markdown table of profiles side by side: stage, then CPU seconds and share of the
    process's CPU time for each; then the CPU and wall time, and how many cores that kept busy."""
    lines = [
        "| stage | " + " | ".join(f"{run['precision']} CPU s | share" for run in runs) + " |",
        "|---|" + "---|---|" * len(runs),
    ]
    for name in STAGE_NAMES:
        cells = [f"{run['stages'][name]:.2f} | {100 * run['stages'][name] / run['cpu_s']:.1f}%" for run in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **whole process, CPU** | " + " | ".join(f"**{run['cpu_s']:.2f}** | 100%" for run in runs) + " |")
    lines.append(
        "| **whole process, wall** | "
        + " | ".join(f"**{run['wall_s']:.2f}** | {run['cpu_s'] / run['wall_s']:.2f} cores busy" for run in runs)
        + " |"
    )
    lines.append("| peak memory | " + " | ".join(f"{run['peak_mib']:.0f} MiB | " for run in runs) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet.benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help="MODEL folder (int8 weights needed for int8)")
    parser.add_argument(
        "--sample-data",
        default=os.path.join("..", "shared", "data", "cinc2020_sample"),
        help="folder of records (default: the sample records, from the repository root)",
    )
    parser.add_argument("--precisions", default="int8,fp32", help="comma-separated (default int8,fp32)")
    parser.add_argument("--rounds", type=int, default=1, help="processes per precision; the fastest is reported")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", nargs=4, metavar=("MODEL", "DATA", "OUT", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.model is None:
        parser.error("give the MODEL folder to profile")
    from ecgnet.benchmarks.tools import machine
    from ecgnet.files import atomic_write

    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    data, model = os.path.abspath(args.sample_data), os.path.abspath(args.model)
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    for _ in range(args.rounds):
        for precision in precisions:
            runs[precision].append(profile_process(model, data, precision))
    profiles: dict[str, dict] = {}
    for precision, entries in runs.items():
        best = min(entries, key=lambda r: r["wall_s"])
        profiles[precision] = {**best, "wall_s_rounds": [r["wall_s"] for r in entries]}
    results = {"machine": machine(), "threads": os.environ.get("OMP_NUM_THREADS", "default"), "profiles": profiles}
    print(f"machine: {results['machine']}")
    records = next(iter(profiles.values()))["records"]
    print(f"{records} records of {data}, threads: {results['threads']}\n")
    print(table(list(profiles.values())))
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
