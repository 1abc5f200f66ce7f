#!/usr/bin/env python
"""Speed and memory of every stage, as ratios against references measured in the same run.

    .venv/bin/python benchmarks/run.py [--records N] [--skip-scaling] [--json FILE]

Uses the real sample records (../shared/data/cinc2020_sample; synthetic ones when absent) and
an untrained 5-fold model of the default (paper) size: speed does not depend on the weights.
Measures:
  1. driver end to end (records/s) against the network alone on the same views, in memory;
  2. the whole `driver.py` process over the sample records: wall time and peak memory,
     against the original authors' inference loop rebuilt in benchmarks/reference_driver.py
     and run in the same benchmark (the issue measured their code at 66.7 s, 694 MiB);
  3. training: samples/s of a real epoch (data loading included) against the training step
     alone on in-memory tensors;
  4. evaluate_model.py on 43,000 synthetic records;
  5. peak memory of the driver on N and 10 x N records, and of training.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ecgnet import labels, modelstore, preprocess, synthetic  # noqa: E402
from ecgnet.config import Config  # noqa: E402
from ecgnet.inference import Ensemble, default_batch_samples, read_record, view_batches  # noqa: E402
from ecgnet.model import SEResNet1d  # noqa: E402
from ecgnet.records import find_records  # noqa: E402
from ecgnet.runner import run_folder  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(ROOT), "shared", "data", "cinc2020_sample")
AUTHORS_DRIVER_SECONDS, AUTHORS_DRIVER_MIB = 66.7, 694  # their code, as issue #5 measured it


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}"


# A child forked from this (large) process starts its peak-RSS count at this process's size;
# a small launcher process forks the measured command instead and reports its own child's peak.
_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(process.pid, 0)
print(f"{time.perf_counter() - started} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def run_measured(command):
    """(wall seconds, peak RSS MiB, (stdout, stderr)) of a command run in the repository."""
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], cwd=ROOT, capture_output=True, text=True)
    seconds, peak_kib, status = result.stderr.strip().splitlines()[-1].split()
    if int(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return float(seconds), int(peak_kib) / 1024, (result.stdout, result.stderr)


def make_model(folder, config, folds=5):
    os.makedirs(folder, exist_ok=True)
    for k in range(folds):
        torch.manual_seed(k)
        modelstore.save_tensors(modelstore.ModelFolder(folder).weights(k), SEResNet1d(config).state_dict())
    modelstore.save_model(folder, config.replace(folds=folds), [0.5] * labels.NUM_CLASSES, folds,
                          {"note": "untrained, for benchmarks"})
    return folder


def replicate(source, target, count):
    """`count` records named R00001... linking to the source records in turn."""
    os.makedirs(target, exist_ok=True)
    names = [os.path.splitext(os.path.basename(p))[0] for p in find_records(source)]
    for i in range(count):
        name = names[i % len(names)]
        for ext in (".hea", ".mat"):
            os.symlink(os.path.join(source, name + ext), os.path.join(target, f"R{i:05d}{ext}"))
    return target


def driver_vs_network(model_folder, data, log):
    ensemble = Ensemble.from_folder(model_folder, "cpu")
    config = ensemble.config
    records = [read_record(p, config) for p in find_records(data)]
    batches = [(x, d, v) for x, d, v, _ in view_batches(records, config, default_batch_samples("cpu"))]
    samples = sum(r.signal.shape[1] for r in records)
    view_samples = sum(e - s for r in records for s, e in preprocess.inference_views(r.signal.shape[1], config.window, config.overlap))
    computed = sum(int(x.shape[0]) * int(x.shape[2]) for x, _, _ in batches)
    with torch.inference_mode():
        for model in ensemble.models:  # warm up
            model(*batches[0])
        started = time.perf_counter()
        for x, d, v in batches:
            for model in ensemble.models:
                model(x, d, v)
        network = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_folder(ensemble, data, out, log=lambda m: None)
        end_to_end = time.perf_counter() - started
    result = {"records": len(records), "network_records_per_s": len(records) / network,
              "driver_records_per_s": len(records) / end_to_end, "ratio": network / end_to_end,
              "record_samples": samples, "view_samples": view_samples, "computed_samples": computed,
              "views": sum(len(preprocess.inference_views(r.signal.shape[1], config.window, config.overlap)) for r in records)}
    log(f"1. driver end to end {result['driver_records_per_s']:.2f} records/s vs network alone "
        f"{result['network_records_per_s']:.2f} records/s on the same views: ratio {result['ratio']:.2f} (goal >= 0.7); "
        f"per record sample, {view_samples / samples:.3f} in views ({result['views']} views of {len(records)} records) and "
        f"{computed / samples:.3f} computed with batch padding")
    return result


def whole_driver(model_folder, data, log, label):
    with tempfile.TemporaryDirectory() as out:
        seconds, mib, _ = run_measured([sys.executable, "driver.py", model_folder, data, out])
        count = len(os.listdir(out))
    log(f"   driver.py on {count} records ({label}): {seconds:.1f} s, peak {mib:.0f} MiB")
    return {"records": count, "seconds": seconds, "peak_mib": mib}


def training(data, work, log, steps=6):
    """The real training loop (`train_epoch`) on windows read from the cache, against the
    same loop on the same batches already in memory."""
    import contextlib
    from ecgnet.distributed import Runtime
    from ecgnet.training import WindowBatches, epoch_plan, new_model, prepare_data, train_epoch
    config = Config(batch_size=16)
    store = modelstore.ModelFolder(os.path.join(work, "training"))
    os.makedirs(store.work)
    runtime = Runtime()
    tdata = prepare_data(data, store, config, runtime, log=lambda m: None)
    plan = epoch_plan(np.arange(len(tdata.names)), tdata.lengths(), config, np.random.default_rng(0))[:steps]
    torch.manual_seed(0)
    model = new_model(config, tdata.labels.mean(axis=0), runtime.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    amp = (contextlib.nullcontext, None)
    batches = WindowBatches(tdata, plan, config.window)

    def timed(source):
        started = time.perf_counter()
        train_epoch(model, optimizer, source, runtime, amp, progress=lambda step, loss: None)
        return time.perf_counter() - started

    timed([batches[0]])  # warm up
    real = timed(batches)  # reading windows from the memory-mapped cache
    alone = timed([batches[k] for k in range(len(plan))])
    samples = sum(len(p) for p in plan)
    result = {"samples_per_s": samples / real, "step_alone_samples_per_s": samples / alone,
              "loading_fraction": max(0.0, 1 - alone / real)}
    log(f"3. training {result['samples_per_s']:.2f} samples/s with data loading vs {result['step_alone_samples_per_s']:.2f} "
        f"for the step alone: loading costs {100 * result['loading_fraction']:.1f}% (goal < 10%)")
    return result


def scoring(work, log, count=43000):
    labels_dir, outputs_dir = os.path.join(work, "labels"), os.path.join(work, "outputs")
    os.makedirs(labels_dir)
    os.makedirs(outputs_dir)
    rng = np.random.default_rng(0)
    prefixes = ["A", "Q", "I", "S", "HR", "E"]
    for i in range(count):
        name = f"{prefixes[i % 6]}{i:06d}"
        truth = rng.choice(labels.CLASSES, rng.integers(1, 4), replace=False)
        with open(os.path.join(labels_dir, name + ".hea"), "w") as f:
            f.write(f"{name} 12 500 5000\n#Age: 50\n#Sex: Male\n#Dx: {','.join(truth)}\n")
        p = rng.random(labels.NUM_CLASSES)
        with open(os.path.join(outputs_dir, name + ".csv"), "w") as f:
            f.write(f"#{name}\n{','.join(labels.CLASSES)}\n{','.join(str(int(x > 0.7)) for x in p)}\n"
                    f"{','.join(f'{x:.4f}' for x in p)}\n")
    seconds, mib, _ = run_measured([sys.executable, "evaluate_model.py", labels_dir, outputs_dir,
                                    os.path.join(work, "scores.csv"), "--json", os.path.join(work, "scores.json")])
    log(f"4. evaluate_model.py on {count} records: {seconds:.1f} s, peak {mib:.0f} MiB")
    return {"records": count, "seconds": seconds, "peak_mib": mib}


def training_memory(data, work, log):
    seconds, mib, _ = run_measured([sys.executable, "train_model.py", data, os.path.join(work, "model"), "--config",
                                    "configs/sample-budget.json", "--set", "epochs=1", "--set", "folds=2"])
    log(f"5. train_model.py, paper network, 1 epoch x 2 folds on the sample records: {seconds:.0f} s, peak {mib:.0f} MiB")
    return {"seconds": seconds, "peak_mib": mib}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=428, help="records for the throughput comparison")
    parser.add_argument("--skip-scaling", action="store_true", help="skip the 10 x N memory run (minutes)")
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    args = parser.parse_args(argv)
    log = print
    log(f"machine: {machine()}")
    results = {"machine": machine()}
    with tempfile.TemporaryDirectory() as work:
        data = SAMPLE
        if not os.path.isdir(SAMPLE):
            data = os.path.join(work, "synthetic")
            synthetic.make_dataset(data, 214, seed=0)
            log("(sample records absent: using 214 synthetic records)")
        model = make_model(os.path.join(work, "model5"), Config())
        many = replicate(data, os.path.join(work, "many"), args.records)
        results["driver_vs_network"] = driver_vs_network(model, many, log)
        whole = whole_driver(model, data, lambda m: None, "sample records")
        with tempfile.TemporaryDirectory() as out:
            seconds, mib, _ = run_measured([sys.executable, "benchmarks/reference_driver.py", model, data, out])
        reference = {"seconds": seconds, "peak_mib": mib}
        results["driver_process"] = {**whole, "reference": reference, "speedup": seconds / whole["seconds"],
                                     "issue_reference": {"seconds": AUTHORS_DRIVER_SECONDS, "peak_mib": AUTHORS_DRIVER_MIB}}
        log(f"2. driver.py, 5 models, {whole['records']} sample records: {whole['seconds']:.1f} s, peak {whole['peak_mib']:.0f} MiB; "
            f"the authors' loop rebuilt (benchmarks/reference_driver.py), same run: {seconds:.1f} s, peak {mib:.0f} MiB: "
            f"{seconds / whole['seconds']:.2f}x faster, {whole['peak_mib'] / mib:.2f}x the memory "
            f"(goal >= 3x, <= 22 s, <= 500 MiB; the issue measured the original at {AUTHORS_DRIVER_SECONDS} s, {AUTHORS_DRIVER_MIB} MiB "
            f"on its machine)")
        results["training"] = training(data, work, log)
        results["scoring"] = scoring(os.path.join(work, "scoring"), log)
        if not args.skip_scaling:
            count = 10 * whole["records"]
            bigger = whole_driver(model, replicate(data, os.path.join(work, "ten"), count), lambda m: None, "10 x N")
            results["driver_memory_scaling"] = {"n": whole, "ten_n": bigger, "ratio": bigger["peak_mib"] / whole["peak_mib"]}
            log(f"5. driver peak memory: {whole['peak_mib']:.0f} MiB at N={whole['records']}, {bigger['peak_mib']:.0f} MiB at "
                f"10 x N={bigger['records']} (ratio {bigger['peak_mib'] / whole['peak_mib']:.2f})")
        results["training_process"] = training_memory(data, work, log)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
