"""Speed and memory of every stage, as ratios against references measured in the same run.

    ecgnet benchmark [--model MODEL] [--records N] [--skip-scaling] [--inference-only] [--json FILE]

Uses the real sample records (--sample-data, default ../shared/data/cinc2020_sample from the
working directory, i.e. the repository root; 214 synthetic ones when absent) and a 5-fold
model of the default (paper) size: with --model, a copy of that trained MODEL folder (trained
on the sample records), quantised with `ecgnet quantize` unless it has int8 weights, so that
every float32 measurement has its int8 twin and the fidelity numbers are real; without it,
an untrained model (speed does not depend on the weights) with int8 weights calibrated on 16
records (no fidelity gate). Measures:
  1. driver end to end (records/s) against the network alone on the same views, in memory,
     and the int8 network alone on the same views;
  2. the whole driver process (`python -m ecgnet drive`, what `driver.py` runs) over the
     sample records in float32 and in int8: wall time and peak memory, against the authors'
     own driver process (`ecgnet.benchmarks.anchor`: --anchor, run with --anchor-python) on
     the same records and threads, the contenders alternating round by round, best of
     --rounds; the authors' loop rebuilt (ecgnet/benchmarks/reference_driver.py) once as a
     secondary reference; the int8 model's fidelity (model.json) and padding independence
     (records alone against batched);
  3. training: samples/s of a real epoch (data loading included) against the training step
     alone on in-memory tensors;
  4. `ecgnet evaluate` (evaluate_model.py) on 43,000 synthetic records;
  5. peak memory of the driver on N and 10 x N records (each precision), and of training.
--inference-only skips 3, 4 and the training memory.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ecgnet import labels, modelstore, preprocess, synthetic
from ecgnet.benchmarks import anchor
from ecgnet.benchmarks.tools import add_int8_weights, machine, make_model, replicate, run_measured
from ecgnet.config import Config
from ecgnet.folders import find_records
from ecgnet.inference import Ensemble, bound_kernel_cache, default_batch_samples, predict, view_batches
from ecgnet.records import read_record
from ecgnet.runner import run_folder

SAMPLE = os.path.join("..", "shared", "data", "cinc2020_sample")
ECGNET = [sys.executable, "-m", "ecgnet"]
# configs/sample-budget.json, the budget of docs/training.md's results table, as --set arguments.
SAMPLE_BUDGET = ["--set", "epochs=15", "--set", "lr_milestones=8,12", "--set", "batch_size=16"]


def network_seconds(models: Sequence[torch.nn.Module], batches: list[tuple]) -> float:
    """Seconds `models` take on `batches` of views, after one warm-up batch."""
    with torch.inference_mode():
        for model in models:
            model(*batches[0])
        started = time.perf_counter()
        for x, d, v in batches:
            for model in models:
                model(x, d, v)
        return time.perf_counter() - started


def driver_vs_network(model_folder: str, data: str, int8: bool, log: Callable[[str], None]) -> dict:
    bound_kernel_cache()  # as the driver
    ensemble = Ensemble.from_folder(model_folder, "cpu", "fp32")
    config = ensemble.config
    records = [read_record(p, config.sample_rate) for p in find_records(data)]
    batches = [(x, d, v) for x, d, v, _ in view_batches(records, config, default_batch_samples("cpu"))]
    samples = sum(r.signal.shape[1] for r in records)
    view_samples = sum(
        e - s for r in records for s, e in preprocess.inference_views(r.signal.shape[1], config.window, config.overlap)
    )
    computed = sum(int(x.shape[0]) * int(x.shape[2]) for x, _, _ in batches)
    network = network_seconds(ensemble.models, batches)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_folder(ensemble, data, out)
        end_to_end = time.perf_counter() - started
    result = {
        "records": len(records),
        "network_records_per_s": len(records) / network,
        "driver_records_per_s": len(records) / end_to_end,
        "ratio": network / end_to_end,
        "record_samples": samples,
        "view_samples": view_samples,
        "computed_samples": computed,
        "views": sum(
            len(preprocess.inference_views(r.signal.shape[1], config.window, config.overlap)) for r in records
        ),
    }
    log(
        f"1. driver end to end {result['driver_records_per_s']:.2f} records/s vs network alone "
        f"{result['network_records_per_s']:.2f} records/s on the same views: "
        f"ratio {result['ratio']:.2f} (goal >= 0.7); per record sample, {view_samples / samples:.3f} in views "
        f"({result['views']} views of {len(records)} records) and "
        f"{computed / samples:.3f} computed with batch padding"
    )
    if int8:
        del ensemble
        int8_network = network_seconds(Ensemble.from_folder(model_folder, "cpu", "int8").models, batches)
        result["int8_network_records_per_s"] = len(records) / int8_network
        log(
            f"   int8 network alone on the same views: {result['int8_network_records_per_s']:.2f} records/s, "
            f"{network / int8_network:.2f}x float32"
        )
    return result


def whole_driver(model_folder: str, data: str, log: Callable[[str], None], label: str, precision: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        seconds, mib, _ = run_measured([*ECGNET, "drive", model_folder, data, out, "--precision", precision])
        count = len(os.listdir(out))
    log(f"   driver.py on {count} records ({label}, {precision}): {seconds:.1f} s, peak {mib:.0f} MiB")
    return {"records": count, "seconds": seconds, "peak_mib": mib, "precision": precision}


def training(data: str, work: str, log: Callable[[str], None], steps: int = 6) -> dict:
    """The real training loop (`train_epoch`) on windows read from the cache, against the
    same loop on the same batches already in memory."""
    from ecgnet.dataset import WindowBatches, epoch_plan, prepare_data
    from ecgnet.distributed import Runtime
    from ecgnet.loop import MixedPrecision, new_model, train_epoch

    config = Config(batch_size=16)
    store = modelstore.ModelFolder(os.path.join(work, "training"))
    os.makedirs(store.work)
    runtime = Runtime()
    tdata = prepare_data(data, store, config, runtime)
    plan = epoch_plan(np.arange(len(tdata.names)), tdata.lengths(), config, np.random.default_rng(0))[:steps]
    torch.manual_seed(0)
    model = new_model(config, tdata.labels.mean(axis=0), runtime.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    amp = MixedPrecision()  # off, as on a CPU
    batches = WindowBatches(tdata, plan, config)

    def timed(source):
        started = time.perf_counter()
        train_epoch(model, optimizer, source, runtime, amp, "benchmark")
        return time.perf_counter() - started

    timed([batches[0]])  # warm up
    real = timed(batches)  # reading windows from the memory-mapped cache
    alone = timed([batches[k] for k in range(len(plan))])
    samples = sum(len(p) for p in plan)
    result = {
        "samples_per_s": samples / real,
        "step_alone_samples_per_s": samples / alone,
        "loading_fraction": max(0.0, 1 - alone / real),
    }
    log(
        f"3. training {result['samples_per_s']:.2f} samples/s with data loading "
        f"vs {result['step_alone_samples_per_s']:.2f} "
        f"for the step alone: loading costs {100 * result['loading_fraction']:.1f}% (goal < 10%)"
    )
    return result


def scoring(work: str, log: Callable[[str], None], count: int = 43000) -> dict:
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
            f.write(
                f"#{name}\n{','.join(labels.CLASSES)}\n{','.join(str(int(x > 0.7)) for x in p)}\n"
                f"{','.join(f'{x:.4f}' for x in p)}\n"
            )
    seconds, mib, _ = run_measured(
        [
            *ECGNET,
            "evaluate",
            labels_dir,
            outputs_dir,
            os.path.join(work, "scores.csv"),
            "--json",
            os.path.join(work, "scores.json"),
        ]
    )
    log(f"4. ecgnet evaluate (evaluate_model.py) on {count} records: {seconds:.1f} s, peak {mib:.0f} MiB")
    return {"records": count, "seconds": seconds, "peak_mib": mib}


def training_memory(data: str, work: str, log: Callable[[str], None]) -> dict:
    seconds, mib, _ = run_measured(
        [*ECGNET, "train", data, os.path.join(work, "model"), *SAMPLE_BUDGET, "--set", "epochs=1", "--set", "folds=2"]
    )
    log(
        f"5. ecgnet train (train_model.py), paper network, 1 epoch x 2 folds on the sample records: "
        f"{seconds:.0f} s, peak {mib:.0f} MiB"
    )
    return {"seconds": seconds, "peak_mib": mib}


def driver_process(
    model: str,
    data: str,
    precisions: Sequence[str],
    log: Callable[[str], None],
    anchor_folder: str | None = None,
    anchor_python: str = sys.executable,
    rounds: int = 2,
) -> dict:
    """2. The whole driver process on the sample records in each precision against the
    authors' own code (`anchor`, when `anchor_folder` is given) run the same way, the contenders
    alternating round by round, best of `rounds`; the authors' loop rebuilt, once, as a
    secondary reference."""
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    anchor_runs = []
    for round_ in range(rounds):
        if anchor_folder:
            with tempfile.TemporaryDirectory() as out:
                seconds, mib = anchor.drive(anchor_folder, data, out, anchor_python)
                anchor_runs.append({"seconds": seconds, "peak_mib": mib, "records": len(os.listdir(out))})
            log(f"   round {round_ + 1}: the authors' code {seconds:.1f} s, peak {mib:.0f} MiB")
        for p in precisions:
            runs[p].append(whole_driver(model, data, log, f"round {round_ + 1}", p))
    best = {p: min(entries, key=lambda r: r["seconds"]) for p, entries in runs.items()}
    with tempfile.TemporaryDirectory() as out:
        seconds, mib, _ = run_measured([sys.executable, "-m", "ecgnet.benchmarks.reference_driver", model, data, out])
    rebuilt = {"seconds": seconds, "peak_mib": mib}
    folds = modelstore.load_model(model)[0].folds
    result = {**best, "rounds": {p: [r["seconds"] for r in e] for p, e in runs.items()}, "rebuilt_loop": rebuilt}
    if anchor_runs:
        authors = min(anchor_runs, key=lambda r: r["seconds"])
        result["authors"] = {**authors, "rounds": [r["seconds"] for r in anchor_runs]}
        log(
            f"2. driver process, {folds} fold models, {best[precisions[0]]['records']} sample records, "
            f"best of {rounds}, against the authors' code ({authors['records']} records): {authors['seconds']:.1f} s, "
            f"peak {authors['peak_mib']:.0f} MiB"
        )
        for precision, run in best.items():
            run["speedup"] = authors["seconds"] / run["seconds"]
            log(
                f"   {precision}: {run['seconds']:.1f} s, peak {run['peak_mib']:.0f} MiB: {run['speedup']:.2f}x faster "
                f"than the authors' code, {run['peak_mib'] / authors['peak_mib']:.2f}x its memory "
                f"(goal >= 3x, <= {authors['seconds'] / 3:.1f} s, <= 500 MiB)"
            )
    else:
        log(f"2. driver process, {folds} fold models (the authors' code absent: rebuilt loop only)")
        for precision, run in best.items():
            log(f"   {precision}: {run['seconds']:.1f} s, peak {run['peak_mib']:.0f} MiB")
    for run in best.values():
        run["speedup_vs_rebuilt_loop"] = seconds / run["seconds"]
    log(
        f"   secondary reference, the authors' loop rebuilt (ecgnet/benchmarks/reference_driver.py), one run: "
        f"{seconds:.1f} s, peak {mib:.0f} MiB; "
        + ", ".join(f"{p} {r['speedup_vs_rebuilt_loop']:.2f}x" for p, r in best.items())
    )
    return result


def padding(model: str, data: str, precisions: Sequence[str], log: Callable[[str], None], count: int = 40) -> dict:
    """Largest probability difference between records classified alone and batched with
    others (zero-padded to the batch's width, masked), on `count` sample records."""
    config = modelstore.load_model(model)[0]
    records = [read_record(p, config.sample_rate) for p in find_records(data)[:count]]
    result = {}
    bound_kernel_cache()  # as the driver
    for precision in precisions:
        models = Ensemble.from_folder(model, "cpu", precision).models
        batched = predict(models, records, config, "cpu")
        alone = np.concatenate([predict(models, [r], config, "cpu") for r in records], axis=1)
        result[precision] = float(np.abs(batched - alone).max())
    log(
        f"   padding independence, {len(records)} records alone vs batched, largest probability difference: "
        + ", ".join(f"{p} {d:.1e}" for p, d in result.items())
    )
    return result


def quantized_copy(trained: str, data: str, work: str, log: Callable[[str], None]) -> tuple[str, dict]:
    """A copy of a trained MODEL folder with int8 weights (made by `ecgnet quantize` on `data`,
    measured, unless the folder has them), and what model.json records of them."""
    model = os.path.join(work, "trained")
    shutil.copytree(trained, model, ignore=shutil.ignore_patterns("work", "report"))
    manifest = modelstore.read_manifest(model)
    timing = None
    if "int8" not in manifest:
        seconds, mib, _ = run_measured([*ECGNET, "quantize", model, data])
        timing = {"seconds": seconds, "peak_mib": mib}
        manifest = modelstore.read_manifest(model)
    fidelity = manifest["int8"]["fidelity"]
    log(
        "0. ecgnet quantize: "
        + (f"{timing['seconds']:.0f} s, peak {timing['peak_mib']:.0f} MiB; " if timing else "(int8 weights given); ")
        + f"fidelity on {fidelity['records']} out-of-fold records, each by its own fold model: "
        f"{100 * fidelity['identical_label_cells']:.2f}% identical label cells "
        f"({fidelity['changed_label_cells']} changed), probabilities max {fidelity['max_probability_difference']:.4f} "
        f"({fidelity['max_probability_difference_record']}) "
        f"mean {fidelity['mean_probability_difference']:.5f} apart, challenge metric "
        f"{fidelity['challenge_metric_fp32']:.4f} fp32 vs {fidelity['challenge_metric_int8']:.4f} int8"
    )
    return model, {"quantize": timing, "fidelity": fidelity}


def memory_scaling(model: str, data: str, work: str, whole: dict, log: Callable[[str], None]) -> dict:
    """5. Peak memory of the driver process on N and 10 x N records, in the precision of `whole`."""
    count = 10 * whole["records"]
    ten = os.path.join(work, "ten")
    if not os.path.isdir(ten):
        replicate(data, ten, count)
    bigger = whole_driver(model, ten, lambda m: None, "10 x N", whole["precision"])
    ratio = bigger["peak_mib"] / whole["peak_mib"]
    log(
        f"5. driver peak memory, {whole['precision']}: {whole['peak_mib']:.0f} MiB at N={whole['records']}, "
        f"{bigger['peak_mib']:.0f} MiB at 10 x N={bigger['records']} (ratio {ratio:.2f})"
    )
    return {"n": whole, "ten_n": bigger, "ratio": ratio}


def measure(args: argparse.Namespace, work: str, log: Callable[[str], None]) -> dict:
    """Every measurement in `work` (a temporary folder): the results dictionary."""
    results: dict[str, Any] = {"machine": machine()}
    log(f"machine: {results['machine']}")
    data = os.path.abspath(args.sample_data)
    if not os.path.isdir(data):
        data = os.path.join(work, "synthetic")
        synthetic.make_dataset(data, 214, seed=0)
        log("(sample records absent: using 214 synthetic records)")
    if args.model:
        model, results["int8"] = quantized_copy(args.model, data, work, log)
    else:
        model = add_int8_weights(make_model(os.path.join(work, "model5"), Config()), data)
        log("(an untrained model, int8 weights calibrated on 16 records: give --model MODEL for int8's fidelity)")
    precisions = ["fp32", "int8"]
    anchor_folder = None
    if os.path.isdir(args.anchor):
        problem = anchor.python_problem(args.anchor_python)
        if problem:
            log(f"(the authors' code not run: {problem})")
        else:
            anchor_folder = anchor.prepare(
                os.path.abspath(args.anchor), os.path.join(work, "anchor"), args.anchor_python
            )
    else:
        log(f"(the authors' code not run: {args.anchor} is absent)")
    many = replicate(data, os.path.join(work, "many"), args.records)
    results["driver_vs_network"] = driver_vs_network(model, many, True, log)
    results["driver_process"] = driver_process(
        model, data, precisions, log, anchor_folder, args.anchor_python, args.rounds
    )
    results["padding"] = padding(model, data, precisions, log)
    if not args.inference_only:
        results["training"] = training(data, work, log)
        results["scoring"] = scoring(os.path.join(work, "scoring"), log)
    if not args.skip_scaling:
        results["driver_memory_scaling"] = {
            p: memory_scaling(model, data, work, results["driver_process"][p], log) for p in precisions
        }
    if not args.inference_only:
        results["training_process"] = training_memory(data, work, log)
    return results
