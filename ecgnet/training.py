"""Training the fold ensemble: `train(data_folder, model_folder, config)`.

The run reads top to bottom: prepare the data (signal cache, labels, folds); train each fold
(epochs of random windows, validation on whole records, a checkpoint after every epoch, the
best epoch kept by validation challenge metric); then search the per-class thresholds on the
out-of-fold predictions and write the MODEL folder.

Interrupted runs resume: started again with the same MODEL folder, a run skips finished folds
and continues an unfinished one after its last completed epoch. Every random choice comes
from (seed, fold, epoch), so a resumed run makes the same choices as an uninterrupted one.

Under torchrun the processes split every batch (DistributedDataParallel averages their
gradients) and every validation set; with `parallel_folds` each process trains whole folds
on its own device instead.
"""
import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from . import distributed, metrics, modelstore, preprocess
from . import labels as label_space
from .cache import SignalCache, build_cache
from .config import Config
from .errors import TrainingError
from .folds import assign_folds
from .inference import Prepared, default_batch_samples, predict
from .model import SEResNet1d
from .records import list_records
from .thresholds import apply_thresholds, search_thresholds


class Log:
    """Lines to the terminal and to MODEL/train.log."""

    def __init__(self, path=None, prefix="", enabled=True):
        self.path = path
        self.prefix = prefix
        self.enabled = enabled

    def __call__(self, message):
        if not self.enabled:
            return
        line = f"{time.strftime('%H:%M:%S')} {self.prefix}{message}"
        print(line, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


# ---------------------------------------------------------------- configuration and data

def resolve_config(store, requested):
    """The run's config: the saved one when resuming, else `requested` (default: paper)."""
    path = store.work_path("config.json")
    if os.path.exists(path):
        with open(path) as f:
            saved = Config.from_dict(json.load(f))
        if requested is not None and requested != saved:
            changed = [k for k, v in requested.to_dict().items() if saved.to_dict()[k] != v]
            raise TrainingError(f"{store.folder} holds a training run with other settings ({', '.join(changed)}); "
                                "resume it without --config/--set, or train into a new MODEL folder")
        return saved, True
    return requested or Config(), False


@dataclass
class TrainingData:
    cache: SignalCache
    rows: np.ndarray          # cache position of each training record
    names: list
    labels: np.ndarray        # (records, classes) float32
    demographics: np.ndarray  # (records, 5) float32
    folds: np.ndarray         # fold of each record

    def lengths(self):
        return self.cache.lengths[self.rows]

    def records(self, indices):
        """Prepared records (signals are views into the cache) for validation."""
        return [Prepared(self.names[i], self.cache.signal(self.rows[i]), self.demographics[i]) for i in indices]


def prepare_data(data_folder, store, config, runtime, log, cache_folder=None, jobs=-1):
    """Cache the records, keep those with a scored label, and assign folds."""
    cache_folder = cache_folder or store.cache
    if runtime.is_main:
        found = list_records(data_folder)
        if not found:
            raise TrainingError(f"no records (NAME.hea and NAME.mat files) found in {data_folder}")
        log(f"data: {len(found)} records in {data_folder}")
        cache = build_cache(found, cache_folder, config.sample_rate, jobs=jobs, log=log)
    runtime.barrier()
    if not runtime.is_main:
        cache = SignalCache(cache_folder)
    counts = label_space.LabelCounts()
    rows, labels, demographics, unreadable = [], [], [], len(cache.skipped)
    for i, record in enumerate(cache.records):
        if record["error"]:
            unreadable += 1
            continue
        y = label_space.encode(record["dx"], counts)
        if y.any():
            rows.append(i)
            labels.append(y)
            demographics.append(record["demographics"])
    excluded = len(cache.records) + len(cache.skipped) - unreadable - len(rows)
    log(f"data: {len(rows)} records for training; excluded {excluded} without any scored label "
        f"and {unreadable} unreadable; {counts.summary()}")
    if len(rows) < config.folds:
        raise TrainingError(f"{len(rows)} usable records cannot make {config.folds} folds")
    names = [cache.names[i] for i in rows]
    labels = np.array(labels, dtype=np.float32)
    folds = assign_folds(names, labels, config.folds, config.seed)
    path = store.work_path("folds.json")
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved["names"] != names or saved["folds"] != folds.tolist():
            raise TrainingError(f"the records in {data_folder} differ from those this run started with "
                                f"({path}); train into a new MODEL folder")
    elif runtime.is_main:
        modelstore.write_json(path, {"names": names, "folds": folds.tolist()})
    return TrainingData(cache, np.array(rows), names, labels, np.array(demographics, dtype=np.float32), folds)


# ---------------------------------------------------------------- batches

def epoch_plan(indices, lengths, config, rng, world=1):
    """The epoch's batches: a shuffled pass over `indices`, each record as a random window.

    A batch is an int array of rows (record, source start, target start, count). A last
    batch smaller than the number of processes joins the one before it, so that no
    process ever gets an empty share."""
    order = rng.permutation(indices)
    plan = [np.array([(i, *preprocess.training_window(int(lengths[i]), config.window, rng)) for i in order[s:s + config.batch_size]])
            for s in range(0, len(order), config.batch_size)]
    if len(plan) > 1 and len(plan[-1]) < world:
        plan[-2:] = [np.concatenate(plan[-2:])]
    return plan


class WindowBatches(torch.utils.data.Dataset):
    """Batch k of an epoch plan as tensors: (x, demographics, labels, (start, end), global size).

    Each process takes its share (every world-th row) of every global batch."""

    def __init__(self, data, plan, window, rank=0, world=1):
        self.data = data
        self.plan = plan
        self.window = window
        self.rank, self.world = rank, world

    def __len__(self):
        return len(self.plan)

    def __getitem__(self, k):
        batch = self.plan[k][self.rank::self.world]
        x = np.zeros((len(batch), len(preprocess.LEADS), self.window), dtype=np.float32)
        for row, (i, source, target, count) in enumerate(batch):
            signal = self.data.cache.signal(self.data.rows[i])
            x[row, :, target:target + count] = signal[:, source:source + count]
        indices = batch[:, 0]
        start = torch.from_numpy(batch[:, 2].copy())
        return (torch.from_numpy(x), torch.from_numpy(self.data.demographics[indices]),
                torch.from_numpy(self.data.labels[indices]), (start, start + torch.from_numpy(batch[:, 3].copy())),
                len(self.plan[k]))


def _loader(dataset, workers, device):
    if workers == 0:
        return dataset
    return torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                       pin_memory=device.type == "cuda", prefetch_factor=4)


# ---------------------------------------------------------------- one fold

def learning_rate(config, epoch):
    """Step schedule: lr x gamma at every milestone reached (epochs counted from 0)."""
    return config.lr * config.lr_gamma ** sum(epoch >= m for m in config.lr_milestones)


def checkpoint_metric(probabilities, labels, config):
    """The epoch-selection score: challenge metric of (p >= 0.5) OR the most probable class."""
    threshold = np.full(label_space.NUM_CLASSES, config.checkpoint_threshold)
    return metrics.challenge_metric(labels, apply_thresholds(probabilities, threshold))


def validate(model, data, indices, config, runtime):
    """Probabilities of `indices` (all processes get all of them), each process predicting
    every world-th record."""
    model.eval()
    share = indices[runtime.rank::runtime.world]
    probabilities = predict([model], data.records(share), config, runtime.device,
                            default_batch_samples(runtime.device))[0]
    parts = runtime.all_gather(probabilities)
    out = np.zeros((len(indices), label_space.NUM_CLASSES), dtype=np.float32)
    for rank, part in enumerate(parts):
        out[rank::runtime.world] = part
    return out


def _amp(config, device):
    """(autocast context factory, GradScaler or None): bf16 where the GPU has it, else fp16."""
    if not (config.amp and device.type == "cuda"):
        return contextlib.nullcontext, None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


def new_model(config, frequency, device):
    """A freshly initialised network; with `prior_bias`, each class's output starts at its
    training frequency instead of 0.5, so the first steps learn features rather than the
    (heavily skewed) class balance."""
    model = SEResNet1d(config)
    if config.prior_bias:
        frequency = np.clip(frequency, 1e-3, 1 - 1e-3)
        with torch.no_grad():
            model.classifier.bias.copy_(torch.from_numpy(np.log(frequency / (1 - frequency))))
    return model.to(device)


def train_epoch(network, optimizer, batches, runtime, amp, progress):
    """One pass over `batches`; returns this process's (summed loss per sample, samples)."""
    autocast, scaler = amp
    device = runtime.device
    network.train()
    total_loss = torch.zeros((), device=device)
    seen, last_print = 0, time.time()
    for step, (x, demographics, y, valid, global_size) in enumerate(batches):
        x, demographics, y = (t.to(device, non_blocking=True) for t in (x, demographics, y))
        valid = tuple(v.to(device, non_blocking=True) for v in valid)
        with autocast():
            logits = network(x, demographics, valid)
        # Sum over this process's share, divided by the global batch: the average that DDP
        # takes over processes is then exactly the mean over the global batch.
        loss_sum = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="sum")
        loss = loss_sum * (runtime.world / (global_size * label_space.NUM_CLASSES))
        optimizer.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total_loss += loss_sum.detach() / label_space.NUM_CLASSES
        seen += len(y)
        if time.time() - last_print > 30:
            last_print = time.time()
            progress(step + 1, total_loss.item() / seen)
    return total_loss.item(), seen


def check_finite(fold, epochs_done, loss, model, probabilities, checkpoint):
    """Refuse an epoch whose loss, weights or validation outputs are not finite. It is refused
    before anything of it is saved: the checkpoint of the epoch before stays as it was."""
    weights_finite = all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point())
    problems = [what for what, finite in (("the loss", math.isfinite(loss)), ("the weights", weights_finite),
                                          ("the validation outputs", np.isfinite(probabilities).all())) if not finite]
    if problems:
        kept = f"the checkpoint of epoch {epochs_done} is kept in {checkpoint}" if epochs_done else "nothing was saved"
        raise TrainingError(f"fold {fold + 1} epoch {epochs_done + 1}: {' and '.join(problems)} became NaN or infinite; "
                            f"training stopped and {kept}. A lower lr may help.")


def train_fold(fold, data, store, config, runtime, log, workers, eta):
    """Train one fold to its best epoch; writes foldK.pt and its out-of-fold result."""
    device = runtime.device
    train_idx = np.flatnonzero(data.folds != fold)
    val_idx = np.flatnonzero(data.folds == fold)
    lengths = data.lengths()
    torch.manual_seed(config.seed * 1000 + fold)
    model = new_model(config, data.labels[train_idx].mean(axis=0), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": -1, "history": []}
    best_model, best_probabilities = None, None
    if os.path.exists(store.checkpoint(fold)):
        saved = modelstore.load_tensors(store.checkpoint(fold))
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        best_model, best_probabilities = saved["best_model"], saved["best_probabilities"].numpy()
        state = {k: saved[k] for k in state}
        log(f"fold {fold + 1}: resuming after epoch {state['epoch']} (best {state['best_score']:.4f} at epoch {state['best_epoch']})")
    network = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None) if runtime.group else model
    amp = _amp(config, device)
    log(f"fold {fold + 1}/{config.folds}: {len(train_idx)} training, {len(val_idx)} validation records on {device}")
    for epoch in range(state["epoch"], config.epochs):
        started = time.time()
        rng = np.random.default_rng([config.seed, fold, epoch])
        torch.manual_seed(int(rng.integers(2**62)))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch)
        plan = epoch_plan(train_idx, lengths, config, rng, runtime.world)
        batches = _loader(WindowBatches(data, plan, config.window, runtime.rank, runtime.world), workers, device)
        loss, seen = train_epoch(network, optimizer, batches, runtime, amp, lambda step, loss: log(
            f"fold {fold + 1} epoch {epoch + 1} step {step}/{len(plan)} loss {loss:.4f}"))
        probabilities = validate(model, data, val_idx, config, runtime)
        seen = sum(runtime.all_gather(seen))
        mean_loss = sum(runtime.all_gather(loss)) / max(seen, 1)
        check_finite(fold, state["epoch"], mean_loss, model, probabilities, store.checkpoint(fold))
        score = checkpoint_metric(probabilities, data.labels[val_idx], config)
        if score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch + 1)
            best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best_probabilities = probabilities
        seconds = time.time() - started
        state["history"].append({"epoch": epoch + 1, "loss": mean_loss, "val_challenge": score, "lr": learning_rate(config, epoch),
                                 "steps": len(plan), "samples": seen, "seconds": seconds})
        state["epoch"] = epoch + 1
        if runtime.is_main:
            modelstore.save_tensors(store.checkpoint(fold), {
                **state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "best_model": best_model, "best_probabilities": torch.from_numpy(best_probabilities)})
        runtime.barrier()
        log(f"fold {fold + 1}/{config.folds} epoch {epoch + 1}/{config.epochs} loss {mean_loss:.4f} "
            f"val challenge {score:.4f} (best {state['best_score']:.4f} @ {state['best_epoch']}) "
            f"{seconds:.1f}s, {eta(fold, epoch + 1, seconds)} left")
    if runtime.is_main:
        modelstore.save_tensors(store.weights(fold), best_model)
        modelstore.save_tensors(store.fold_result(fold), {
            "fold": fold, "best_epoch": state["best_epoch"], "best_score": state["best_score"],
            "history": state["history"], "validation": torch.from_numpy(val_idx),
            "probabilities": torch.from_numpy(best_probabilities)})
        os.remove(store.checkpoint(fold))
    runtime.barrier()
    log(f"fold {fold + 1}: best validation challenge metric {state['best_score']:.4f} at epoch {state['best_epoch']}")
    return state


# ---------------------------------------------------------------- thresholds and report

def _metrics_json(result):
    return {name: (float(result[name]) if np.isfinite(result[name]) else None) for name in metrics.METRIC_NAMES}


def finalize(data, store, config, log, started):
    """Thresholds on the out-of-fold predictions, the report, and model.json."""
    oof = np.zeros_like(data.labels)
    fold_results = []
    for fold in range(config.folds):
        result = modelstore.load_tensors(store.fold_result(fold))
        oof[result["validation"].numpy()] = result["probabilities"].numpy()
        fold_results.append(result)
    labels = data.labels.astype(bool)
    thresholds, rounds = search_thresholds(oof, labels, config.threshold_step, config.checkpoint_threshold)
    fixed = np.full(label_space.NUM_CLASSES, config.checkpoint_threshold)

    def evaluation(rows):
        before = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], fixed), oof[rows])
        after = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], thresholds), oof[rows])
        return {"records": int(len(rows)), "before_thresholds": _metrics_json(before),
                "after_thresholds": _metrics_json(after)}

    everything = np.arange(len(labels))
    report = {
        "checkpoint_threshold": config.checkpoint_threshold,
        "threshold_search_rounds": rounds,
        "thresholds": dict(zip(label_space.CLASSES, thresholds.tolist())),
        "overall": evaluation(everything),
        "folds": [{"fold": r["fold"] + 1, "best_epoch": r["best_epoch"], "best_validation_challenge": r["best_score"],
                   **evaluation(r["validation"].numpy()), "history": r["history"]} for r in fold_results],
    }
    modelstore.write_json(store.path("cv_report.json"), report)
    with open(store.path("thresholds.csv"), "w") as f:
        f.write("class,abbreviation,threshold\n")
        for code, abbreviation, t in zip(label_space.CLASSES, label_space.ABBREVIATIONS, thresholds):
            f.write(f"{code},{abbreviation},{t:.2f}\n")
    with open(store.path("oof_probabilities.csv"), "w") as f:
        f.write("record,fold," + ",".join(label_space.CLASSES) + "\n")
        for name, fold, row in zip(data.names, data.folds, oof):
            f.write(f"{name},{fold + 1}," + ",".join(f"{p:.6f}" for p in row) + "\n")
    summary = {"records": len(data.names), "seconds": round(time.time() - started, 1),
               "cv_challenge_before_thresholds": report["overall"]["before_thresholds"]["Challenge metric"],
               "cv_challenge_after_thresholds": report["overall"]["after_thresholds"]["Challenge metric"],
               "best_epochs": [r["best_epoch"] for r in fold_results]}
    modelstore.save_model(store.folder, config, thresholds, config.folds, summary)
    log(f"out-of-fold challenge metric {summary['cv_challenge_before_thresholds']:.4f} with threshold "
        f"{config.checkpoint_threshold}, {summary['cv_challenge_after_thresholds']:.4f} with searched thresholds")
    return report


# ---------------------------------------------------------------- the run

def train(data_folder, model_folder, config=None, parallel_folds=False, folds=None, cache_folder=None,
          device=None, workers=None, jobs=-1):
    """Train (or resume training) the fold ensemble of `data_folder` into `model_folder`.

    config: None resumes with the saved settings or starts with the paper's; folds: train
    only these fold numbers (0-based) in this call; cache_folder: keep the signal cache there
    (default MODEL/work/cache, deleted when the model is complete)."""
    started = time.time()
    store = modelstore.ModelFolder(model_folder)
    if os.path.exists(store.manifest):
        if os.environ.get("RANK", "0") == "0":
            print(f"{store.manifest} exists: the model in {store.folder} is complete; nothing to do.")
        return None
    if not os.path.isdir(data_folder):
        problem = "is a file, not a folder" if os.path.exists(data_folder) else "does not exist"
        raise TrainingError(f"data folder {data_folder} {problem}")
    runtime = distributed.start(device)
    try:
        if runtime.is_main:
            os.makedirs(store.work, exist_ok=True)
            config, resuming = resolve_config(store, config)
            if not resuming:
                modelstore.write_json(store.work_path("config.json"), config.to_dict())
        config, resuming = runtime.broadcast((config, resuming) if runtime.is_main else None)
        log = Log(store.path("train.log"), f"[rank {runtime.rank}] " if runtime.world > 1 else "",
                  enabled=runtime.is_main or parallel_folds)
        if runtime.is_main:
            log(f"{'resuming' if resuming else 'training'} {store.folder} from {data_folder}: "
                f"{runtime.world} process(es) on {runtime.device}; config {json.dumps(config.to_dict())}")
        data = prepare_data(data_folder, store, config, runtime, log, cache_folder, jobs)
        workers = config.workers if workers is None else workers
        if workers < 0:
            workers = 4 if runtime.device.type == "cuda" else 0
        todo = [k for k in range(config.folds) if folds is None or k in folds]
        mine = [k for k in todo if k % runtime.world == runtime.rank] if parallel_folds else todo
        fold_runtime = runtime.single() if parallel_folds else runtime
        durations = []

        def eta(fold, epochs_done, seconds):
            durations.append(seconds)
            per_epoch = float(np.mean(durations[-5:]))
            left_folds = sum(1 for k in mine if k > fold and not os.path.exists(store.fold_result(k)))
            return _duration(per_epoch * ((config.epochs - epochs_done) + left_folds * config.epochs))

        for fold in mine:
            if os.path.exists(store.fold_result(fold)):
                log(f"fold {fold + 1}: already trained")
                continue
            train_fold(fold, data, store, config, fold_runtime, log, workers, eta)
        runtime.barrier()
        report = None
        if runtime.is_main:
            missing = [k + 1 for k in range(config.folds) if not os.path.exists(store.fold_result(k))]
            if missing:
                log(f"folds {missing} are not trained yet; run again to train them and finish the model")
            else:
                report = finalize(data, store, config, log, started)
                if cache_folder is None:
                    shutil.rmtree(store.cache, ignore_errors=True)
                log(f"model complete in {store.folder} ({_duration(time.time() - started)})")
        runtime.barrier()
        return report
    finally:
        distributed.stop(runtime)

