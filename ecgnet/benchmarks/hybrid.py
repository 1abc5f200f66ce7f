"""What measurements cost the driver (features, stacked stage, rule decisions; docs/hybrid.md).

    python -m ecgnet.benchmarks.hybrid [--sample-data DIR] [--rounds N] [--json FILE]

Two untrained 5-fold models of the default (paper) size, the same but for the measurements:
`plain` (the defaults) and `hybrid` (features=measurements, stacking=logistic with a stage that
returns the network's probabilities, decide_rules for the rate, interval and axis classes).
Speed does not depend on the weights. Measured, alternating the two so that both see the same
load on a shared machine:
  1. the whole driver process (`python -m ecgnet drive`, what `driver.py` runs) over the sample
     records: wall time and peak memory of each, `--rounds` times; the ratio hybrid / plain
     of the medians;
  2. in this process, per record: reading it, measuring it (`features.measure_records`), the
     network on its views, and the second stage.
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
from ecgnet.benchmarks.tools import machine, run_measured
from ecgnet.config import Config
from ecgnet.files import atomic_write
from ecgnet.folders import list_records
from ecgnet.inference import Ensemble, predict
from ecgnet.model import SEResNet1d
from ecgnet.records import read_record
from ecgnet.stacking import Stacker

SAMPLE = os.path.join("..", "shared", "data", "cinc2020_sample")
ECGNET = [sys.executable, "-m", "ecgnet"]
HYBRID = {"features": "measurements", "stacking": "logistic", "decide_rules": "SB,STach,Brady,IAVB,LPR,LAD,RAD"}


def identity_stage() -> Stacker:
    """A stacked stage that returns the network's probabilities (a = 1, w = 0, b = 0)."""
    coefficients = np.zeros((label_space.NUM_CLASSES, 1 + features.FEATURE_COUNT))
    coefficients[:, 0] = 1.0
    count = features.FEATURE_COUNT
    return Stacker(np.zeros(count), np.ones(count), coefficients, np.zeros(label_space.NUM_CLASSES))


def make_models(work: str) -> dict[str, str]:
    """{name: folder} of the two untrained 5-fold models."""
    folders = {}
    for name, config in (("plain", Config()), ("hybrid", Config().replace(**HYBRID))):
        folder = os.path.join(work, name)
        os.makedirs(folder)
        for k in range(config.folds):
            torch.manual_seed(k)
            modelstore.save_tensors(modelstore.ModelFolder(folder).weights(k), SEResNet1d(config).state_dict())
        stage = identity_stage() if config.stacking != "none" else None
        thresholds = [0.5] * label_space.NUM_CLASSES
        modelstore.save_model(folder, config, thresholds, config.folds, {"note": "untrained, for benchmarks"}, stage)
        folders[name] = folder
    return folders


def driver_processes(models: dict[str, str], data: str, rounds: int, log) -> dict:
    """Wall seconds and peak MiB of whole driver processes, the models alternating."""
    runs = {name: [] for name in models}
    for round_ in range(rounds):
        for name, folder in models.items():
            with tempfile.TemporaryDirectory() as out:
                seconds, mib, _ = run_measured([*ECGNET, "drive", folder, data, out])
                count = len(os.listdir(out))
            runs[name].append({"seconds": seconds, "peak_mib": mib, "records": count})
            log(f"   round {round_ + 1}, {name}: {count} records in {seconds:.1f} s, peak {mib:.0f} MiB")
    result = {
        name: {
            "seconds": [r["seconds"] for r in entries],
            "median_seconds": statistics.median(r["seconds"] for r in entries),
            "peak_mib": max(r["peak_mib"] for r in entries),
        }
        for name, entries in runs.items()
    }
    result["time_ratio"] = result["hybrid"]["median_seconds"] / result["plain"]["median_seconds"]
    result["paired_ratios"] = [h / p for h, p in zip(result["hybrid"]["seconds"], result["plain"]["seconds"])]
    log(
        f"1. driver process: plain {result['plain']['median_seconds']:.1f} s, peak {result['plain']['peak_mib']:.0f} "
        f"MiB; hybrid {result['hybrid']['median_seconds']:.1f} s, peak {result['hybrid']['peak_mib']:.0f} MiB; "
        f"time ratio {result['time_ratio']:.2f} (rounds: {', '.join(f'{r:.2f}' for r in result['paired_ratios'])})"
    )
    return result


def in_process(models: dict[str, str], data: str, log) -> dict:
    """Seconds per record of each step of the hybrid model's path, in this process."""
    ensemble = Ensemble.from_folder(models["hybrid"], "cpu", "fp32")
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
    parser.add_argument("--rounds", type=int, default=3, help="driver processes per model")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    data = os.path.abspath(args.sample_data)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as work:
        models = make_models(work)
        results = {
            "machine": machine(),
            "driver": driver_processes(models, data, args.rounds, print),
            "in_process": in_process(models, data, print),
        }
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
