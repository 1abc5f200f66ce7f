"""Where the driver's time goes: the whole `ecgnet drive` path on a folder, stage by stage.

    python -m ecgnet.benchmarks.profile MODEL [--sample-data DIR] [--precisions int8,fp32]
                                        [--rounds N] [--json FILE]

For each precision, a fresh process (`--child`) does what `driver.py` does (`cli.drive`: import
the inference modules, load MODEL, `runner.run_folder` over DATA into a temporary folder) with
timers around the functions of each stage (STAGES, in order). Each timer counts its own time
less that of the timers inside it, so the stages add up to the process's wall time: the
interpreter's start-up is the process's wall time, measured from outside, less what the child
timed from its first line. Network stages are summed over the fold models. The timers add a
few microseconds a call (thousands of calls: well under 1%). `--rounds`: processes per precision,
alternating; the one with the least wall time is reported.
"""

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence

# (stage, what it holds), in the order of the table.
STAGES = (
    ("interpreter start-up", "python itself, before the driver's first line"),
    ("imports", "the modules `driver.py` imports (torch, numpy, scipy.io, ecgnet)"),
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
)
STAGE_NAMES = tuple(name for name, _ in STAGES)


class Timers:
    """Exclusive seconds per stage: a timer's time less that of the timers running inside it."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGE_NAMES, 0.0)
        self._inner = [0.0]  # time of finished inner timers, per level of the running ones

    def start(self) -> float:
        self._inner.append(0.0)
        return time.perf_counter()

    def stop(self, stage: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.seconds[stage] += elapsed - self._inner.pop()
        self._inner[-1] += elapsed

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


def child(model: str, data: str, out: str, precision: str) -> dict[str, float]:
    """What `driver.py` does, timed: {stage: seconds} (all but the interpreter's start-up)."""
    timers = Timers()
    first = timers.start()
    started = timers.start()
    from ecgnet import features, inference, records, runner
    from ecgnet.model import SEResNet1d

    timers.stop("imports", started)
    for module, attribute, stage in (
        (records, "load_header", "header reading"),
        (records, "load_signal", "signal reading"),
        (records.datfiles, "load_adc", "signal reading"),
        (records.preprocess, "resample", "resampling"),
        (runner, "read_record", "record: other"),
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
    timers.patch(runner, "iter_records", "listing", iterator=True)
    started = timers.start()
    inference.bound_kernel_cache()  # as the driver
    ensemble = inference.Ensemble.from_folder(model, "cpu", precision)
    timers.stop("model load", started)
    for model_ in ensemble.models:
        model_.probabilities = timers.wrap("network: other", model_.probabilities)  # type: ignore[method-assign]  # this instance only
    _instrument_network(timers, ensemble.models)
    started = timers.start()
    runner.run_folder(ensemble, data, out)
    timers.stop("driver loop: other", started)
    timers.stop("driver loop: other", first)  # this function's own lines
    return timers.seconds


def profile_process(model: str, data: str, precision: str) -> dict:
    """One child process: wall seconds, peak MiB, records and {stage: seconds}."""
    from ecgnet.benchmarks.tools import run_measured

    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "ecgnet.benchmarks.profile", "--child", model, data, out, precision]
        wall, mib, (stdout, _) = run_measured(command)
        count = len(os.listdir(out))
    stages = json.loads(stdout.strip().splitlines()[-1])
    stages["interpreter start-up"] = max(0.0, wall - sum(stages.values()))
    return {"precision": precision, "records": count, "wall_s": wall, "peak_mib": mib, "stages": stages}


def table(runs: Sequence[dict]) -> str:
    """A Markdown table of profiles side by side: stage, then seconds and share of the wall time
    for each."""
    lines = [
        "| stage | " + " | ".join(f"{run['precision']} s | share" for run in runs) + " |",
        "|---|" + "---|---|" * len(runs),
    ]
    for name in STAGE_NAMES:
        cells = [f"{run['stages'][name]:.2f} | {100 * run['stages'][name] / run['wall_s']:.1f}%" for run in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **whole process** | " + " | ".join(f"**{run['wall_s']:.2f}** | 100%" for run in runs) + " |")
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
