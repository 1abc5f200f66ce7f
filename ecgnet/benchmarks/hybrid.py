"""What measurements cost the driver (features, rule decisions, stacked stage; docs/hybrid.md).

    python -m ecgnet.benchmarks.hybrid [--sample-data DIR] [--copies K] [--precisions fp32,int8]
                                       [--rounds N] [--json FILE]

Untrained 5-fold models of the default (paper) size that differ only in the measurements (speed
does not depend on the weights): `without` (features=none, no rule decisions: the defaults
before measurements), `with` (features=measurements and rule decisions for the rate, interval
and axis classes) and `stacked` (`with` plus stacking=logistic, a stage that returns the
network's probabilities). Each gets int8 weights calibrated on 16 records (no gate: they are
untrained), so that both precisions are measured. Measured, the models alternating so that
all see the same load on a shared machine:
  1. the whole driver process (`python -m ecgnet drive`, what `driver.py` runs) over the sample
     records (`--copies K`: K links to each, so that start-up counts less) in float32 and int8:
     wall time and peak memory, `--rounds` times each; the ratios to `without` of the medians
     and of each round;
  2. in this process, per record: reading it, measuring it (`features.measure_records`), the
     network on its views (float32), and the second stage.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np
import torch

from ecgnet import features, modelstore
from ecgnet import labels as label_space
from ecgnet.benchmarks.tools import add_int8_weights, machine, replicate, run_measured
from ecgnet.config import Config
from ecgnet.files import atomic_write
from ecgnet.folders import list_records
from ecgnet.inference import Ensemble, bound_kernel_cache, predict
from ecgnet.model import SEResNet1d
from ecgnet.records import read_record
from ecgnet.stacking import Stacker

SAMPLE = os.path.join("..", "shared", "data", "cinc2020_sample")
ECGNET = [sys.executable, "-m", "ecgnet"]
RULES = "SB,STach,Brady,IAVB,LPR,LAD,RAD"
MODELS = {
    "without": {"features": "none", "stacking": "none", "decide_rules": ""},
    "with": {"features": "measurements", "stacking": "none", "decide_rules": RULES},
    "stacked": {"features": "measurements", "stacking": "logistic", "decide_rules": RULES},
}
CALIBRATION_RECORDS = 16


def identity_stage() -> Stacker:
    """A stacked stage that returns the network's probabilities (a = 1, w = 0, b = 0)."""
    coefficients = np.zeros((label_space.NUM_CLASSES, 1 + features.FEATURE_COUNT))
    coefficients[:, 0] = 1.0
    count = features.FEATURE_COUNT
    return Stacker(np.zeros(count), np.ones(count), coefficients, np.zeros(label_space.NUM_CLASSES))


def make_models(work: str, data: str) -> dict[str, str]:
    """{name: folder} of the untrained 5-fold models of MODELS, each with int8 weights."""
    folders = {}
    for name, fields in MODELS.items():
        config = Config().replace(**fields)
        folder = os.path.join(work, name)
        os.makedirs(folder)
        for k in range(config.folds):
            torch.manual_seed(k)
            modelstore.save_tensors(modelstore.ModelFolder(folder).weights(k), SEResNet1d(config).state_dict())
        stage = identity_stage() if config.stacking != "none" else None
        thresholds = [0.5] * label_space.NUM_CLASSES
        modelstore.save_model(folder, config, thresholds, config.folds, {"note": "untrained, for benchmarks"}, stage)
        add_int8_weights(folder, data, CALIBRATION_RECORDS)
        folders[name] = folder
    return folders


def driver_processes(models: dict[str, str], data: str, precision: str, rounds: int, log) -> dict:
    """Wall seconds and peak MiB of whole driver processes in `precision`, the models alternating."""
    runs: dict[str, list] = {name: [] for name in models}
    for round_ in range(rounds):
        for name, folder in models.items():
            with tempfile.TemporaryDirectory() as out:
                seconds, mib, _ = run_measured([*ECGNET, "drive", folder, data, out, "--precision", precision])
                count = len(os.listdir(out))
            runs[name].append({"seconds": seconds, "peak_mib": mib, "records": count})
            log(f"   {precision} round {round_ + 1}, {name}: {count} records in {seconds:.1f} s, peak {mib:.0f} MiB")
    result = {
        name: {
            "seconds": [r["seconds"] for r in entries],
            "median_seconds": statistics.median(r["seconds"] for r in entries),
            "peak_mib": max(r["peak_mib"] for r in entries),
        }
        for name, entries in runs.items()
    }
    reference = result["without"]
    for name in models:
        result[name]["time_ratio"] = result[name]["median_seconds"] / reference["median_seconds"]
        result[name]["round_ratios"] = [a / b for a, b in zip(result[name]["seconds"], reference["seconds"])]
    log(
        f"1. driver process, {precision}: "
        + "; ".join(
            f"{name} {r['median_seconds']:.1f} s (x{r['time_ratio']:.2f}; rounds "
            f"{', '.join(f'{x:.2f}' for x in r['round_ratios'])}), peak {r['peak_mib']:.0f} MiB"
            for name, r in result.items()
        )
    )
    return result


def in_process(models: dict[str, str], data: str, log) -> dict:
    """Seconds per record of each step of the hybrid model's path, in this process."""
    bound_kernel_cache()  # as the driver
    ensemble = Ensemble.from_folder(models["stacked"], "cpu", "fp32")
    config = ensemble.config
    started = time.perf_counter()
    records = [read_record(files, config.sample_rate) for files in list_records(data)]
    read = time.perf_counter() - started
    started = time.perf_counter()
    table = features.measure_records(records, config.sample_rate)
    measured = time.perf_counter() - started
    inputs = features.network_inputs(records, config, table)
    started = time.perf_counter()
    probabilities = predict(ensemble.models, records, config, "cpu", None, inputs)
    network = time.perf_counter() - started
    started = time.perf_counter()
    ensemble.second_stage.apply(probabilities, table, inputs)
    stage = time.perf_counter() - started
    n = len(records)
    result = {
        "records": n,
        "read_ms": 1000 * read / n,
        "measure_ms": 1000 * measured / n,
        "network_ms": 1000 * network / n,
        "second_stage_ms": 1000 * stage / n,
        "failed_measurements": table.quality.count("failed"),
    }
    log(
        f"2. per record, in this process: read {result['read_ms']:.1f} ms, measure {result['measure_ms']:.1f} ms, "
        f"network (5 fold models) {result['network_ms']:.1f} ms, second stage {result['second_stage_ms']:.2f} ms"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet.benchmarks.hybrid", description=__doc__.split("\n")[0])
    parser.add_argument("--sample-data", default=SAMPLE, help="folder of records (default: the sample records)")
    parser.add_argument("--copies", type=int, default=1, help="drive K links to every record (default 1)")
    parser.add_argument("--precisions", default="fp32,int8", help="precisions to drive in (default fp32,int8)")
    parser.add_argument("--rounds", type=int, default=3, help="driver processes per model")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    data = os.path.abspath(args.sample_data)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as work:
        models = make_models(work, data)
        driven = data
        if args.copies > 1:
            count = args.copies * len(list_records(data))
            driven = replicate(data, os.path.join(work, "copies"), count)
        precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
        results = {
            "machine": machine(),
            "copies": args.copies,
            "driver": {p: driver_processes(models, driven, p, args.rounds, print) for p in precisions},
            "in_process": in_process(models, data, print),
        }
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
