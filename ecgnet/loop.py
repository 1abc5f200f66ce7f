"""Training one fold: epochs of random windows, validation on whole records, a checkpoint
after every epoch, the epoch kept by `config.selection`.

selection=validation (the paper's) keeps the epoch best on the fold's held-out records, the
ones its out-of-fold score is then computed on. selection=inner trains on the fold's training
records less an inner split (`folds.inner_split`), validates every epoch on both, keeps the
epoch best on the inner split, and also remembers the epoch the held-out records would have
chosen, so that both choices' out-of-fold scores can be reported. selection=last keeps the
last epoch and validates only it.

A fold's progress is a `foldstate.FoldState`, which round-trips through the fold's checkpoint
(with the network's and the optimizer's state): a run started again goes on after the last
epoch done. Every random choice comes from (seed, fold, epoch), so a resumed fold makes the
same choices as an uninterrupted one. A finished fold leaves its weights and a
`crossval.FoldResult`. What the folds of one call share travels as one `FoldContext`.

Besides the loop: mixed precision (`MixedPrecision`), the time left (`TimeLeft`), the
learning-rate schedule, the loss over a process's share of a batch (`masked_loss`) and the
finite checks.
"""

import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from . import features, logs, losses, metrics, modelstore
from . import labels as label_space
from .augment import Augmentation
from .batchnorm import global_batch_norm
from .config import Config
from .crossval import FoldResult
from .dataset import TrainingData, WindowBatches, batch_loader, epoch_plan
from .distributed import Runtime
from .errors import TrainingError
from .folds import inner_split
from .foldstate import FoldState, write_result
from .inference import default_batch_samples, predict
from .model import SEResNet1d
from .thresholds import apply_thresholds

log = logging.getLogger(__name__)


@dataclass
class MixedPrecision:
    """Mixed precision on CUDA: bf16 where the GPU has it, else fp16 with loss scaling; off
    (`dtype` None) on the CPU or without `config.amp`."""

    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def choose(cls, enabled: bool, device: torch.device) -> "MixedPrecision":
        if not (enabled and device.type == "cuda"):
            return cls()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return cls(dtype, torch.amp.GradScaler("cuda") if dtype == torch.float16 else None)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cuda", dtype=self.dtype) if self.dtype else contextlib.nullcontext()

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backpropagate `loss` and step `optimizer`, through the loss scaler if there is one."""
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()


class TimeLeft:
    """The time this process's training has left, from its last few epochs."""

    def __init__(self, config: Config, store: modelstore.ModelFolder, folds: list[int]):
        self.config, self.store, self.folds = config, store, folds
        self.durations: list[float] = []

    def after_epoch(self, fold: int, epochs_done: int, seconds: float) -> str:
        self.durations.append(seconds)
        per_epoch = float(np.mean(self.durations[-5:]))
        folds_after = sum(1 for k in self.folds if k > fold and not os.path.exists(self.store.fold_result(k)))
        return logs.duration(per_epoch * ((self.config.epochs - epochs_done) + folds_after * self.config.epochs))


@dataclass(frozen=True)
class FoldContext:
    """What every fold a process trains in one call shares: the records, the model folder, the
    run's settings, the processes that train each fold together, the data-loader processes and
    the time budget's estimate."""

    data: TrainingData
    store: modelstore.ModelFolder
    config: Config
    runtime: Runtime
    workers: int
    time_left: TimeLeft


def learning_rate(config: Config, epoch: int) -> float:
    """Step schedule: lr x gamma at every milestone reached (epochs counted from 0)."""
    return config.lr * config.lr_gamma ** sum(epoch >= m for m in config.lr_milestones)


def selection_score(probabilities: np.ndarray, labels: np.ndarray, config: Config) -> float:
    """The score the best epoch is chosen by: the challenge metric of the labels
    (p >= `uniform_threshold`) OR the most probable class."""
    threshold = np.full(label_space.NUM_CLASSES, config.uniform_threshold)
    return metrics.challenge_metric(labels, apply_thresholds(probabilities, threshold))


def validate(
    model: SEResNet1d, data: TrainingData, indices: np.ndarray, config: Config, runtime: Runtime
) -> np.ndarray:
    """Probabilities of `indices` (all processes get all of them), each process predicting
    every world-th record."""
    model.eval()
    share = indices[runtime.rank :: runtime.world]
    probabilities = predict(
        [model], data.records(share), config, runtime.device, default_batch_samples(runtime.device), data.inputs(share)
    )[0]
    parts = runtime.all_gather(probabilities)
    out = np.zeros((len(indices), label_space.NUM_CLASSES), dtype=np.float32)
    for rank, part in enumerate(parts):
        out[rank :: runtime.world] = part
    return out


def new_model(config: Config, frequency: np.ndarray, device: torch.device) -> SEResNet1d:
    """A freshly initialised network; with `prior_bias`, each class's output starts at its
    training frequency instead of 0.5, so the first steps learn features rather than the
    (heavily skewed) class balance."""
    model = SEResNet1d(config)
    if config.prior_bias:
        frequency = np.clip(frequency, 1e-3, 1 - 1e-3)
        with torch.no_grad():
            model.classifier.bias.copy_(torch.from_numpy(np.log(frequency / (1 - frequency))))
    return model.to(device)


def masked_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    mask: tuple[torch.Tensor, float] | None,
    global_size: int,
    world: int,
    loss: losses.Loss = losses.bce,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(this share's summed `loss`, the loss to backpropagate, the share's summed loss per
    sample for the log) of one process's share of a global batch of `global_size` records.

    The share's sum is divided by the global batch's number of loss cells, so the average that
    DDP takes over the `world` processes is exactly the mean over the global batch. Without a
    mask (no label overrides) that is global_size x NUM_CLASSES cells, computed as always. With
    one ((share's loss weights in [0, 1], summed weights of the whole global batch)) each cell
    counts by its weight: the loss is the weighted mean over the global batch, which for 0/1
    weights is the mean over its unmasked cells (masked cells add nothing and are not counted)."""
    if mask is None:
        loss_sum = loss(logits, y, "sum")
        scaled = loss_sum * (world / (global_size * label_space.NUM_CLASSES))
        return loss_sum, scaled, loss_sum.detach() / label_space.NUM_CLASSES
    weights, global_weight = mask
    weights = weights.to(logits.device, non_blocking=True)
    loss_sum = (loss(logits, y, "none") * weights).sum()
    global_weight = float(global_weight) or 1.0  # all masked: the sum is 0 anyway
    return loss_sum, loss_sum * (world / global_weight), loss_sum.detach() * (global_size / global_weight)


def train_epoch(
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: WindowBatches | torch.utils.data.DataLoader,
    runtime: Runtime,
    amp: MixedPrecision,
    name: str,
    loss: losses.Loss = losses.bce,
) -> tuple[float, int]:
    """One pass over `batches` minimising `loss`, logging progress (as `name`) every 30 s;
    returns this process's (summed loss per sample, samples)."""
    device = runtime.device
    network.train()
    total_loss = torch.zeros((), device=device)
    seen, last_report = 0, time.time()
    for step, (x, demographics, y, valid, global_size, mask) in enumerate(batches):
        x, demographics, y = (t.to(device, non_blocking=True) for t in (x, demographics, y))
        valid = tuple(v.to(device, non_blocking=True) for v in valid)
        with amp.autocast():
            logits = network(x, demographics, valid)
        _, scaled, per_sample = masked_loss(logits.float(), y, mask, global_size, runtime.world, loss)
        optimizer.zero_grad(set_to_none=True)
        amp.step(scaled, optimizer)
        total_loss += per_sample
        seen += len(y)
        if time.time() - last_report > 30:
            last_report = time.time()
            log.info(f"{name} step {step + 1}/{len(batches)} loss {total_loss.item() / seen:.4f}")
    return total_loss.item(), seen


def check_finite(
    fold: int, epochs_done: int, loss: float, model: torch.nn.Module, outputs: list[np.ndarray], checkpoint: str
) -> None:
    """Refuse an epoch whose loss, weights or validation outputs (`outputs`: the probabilities
    of each set validated) are not finite. It is refused before anything of it is saved: the
    checkpoint of the epoch before stays as it was."""
    weights_finite = all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point())
    problems = [
        what
        for what, finite in (
            ("the loss", math.isfinite(loss)),
            ("the weights", weights_finite),
            ("the validation outputs", all(np.isfinite(p).all() for p in outputs)),
        )
        if not finite
    ]
    if problems:
        kept = f"the checkpoint of epoch {epochs_done} is kept in {checkpoint}" if epochs_done else "nothing was saved"
        raise TrainingError(
            f"fold {fold + 1} epoch {epochs_done + 1}: {' and '.join(problems)} became NaN or "
            f"infinite; training stopped and {kept}. A lower lr may help."
        )


class _FoldRun:
    """One fold's training: its network, optimizer and state, new or from its checkpoint."""

    def __init__(self, fold: int, context: FoldContext):
        self.fold, self.context = fold, context
        data, store, config, runtime = context.data, context.store, context.config, context.runtime
        self.data, self.store, self.config, self.runtime = data, store, config, runtime
        device = runtime.device
        self.train_idx, self.val_idx = np.flatnonzero(data.folds != fold), np.flatnonzero(data.folds == fold)
        self.inner_idx = self._inner_records() if config.selection == "inner" else None
        if self.inner_idx is not None:
            self.train_idx = np.setdiff1d(self.train_idx, self.inner_idx)
        torch.manual_seed(config.seed * 1000 + fold)
        self.model = new_model(config, data.labels[self.train_idx].mean(axis=0), device)
        if data.features is not None:  # features=measurements: scaled on the fold's training records
            self.model.set_feature_scaling(*features.fit_scaling(data.features[self.train_idx]))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.state = FoldState()
        if os.path.exists(store.checkpoint(fold)):
            saved = modelstore.load_tensors(store.checkpoint(fold))
            self.state = FoldState.from_checkpoint(saved, self.model, self.optimizer)
            best = (
                f" (best {self.state.best_score:.4f} at epoch {self.state.best_epoch})"
                if self.state.best_epoch > 0
                else ""
            )
            log.info(f"fold {fold + 1}: resuming after epoch {self.state.epoch}{best}")
        self.network: torch.nn.Module = self.model  # wrapped to average gradients over the processes of a group
        if runtime.in_group:
            # Batch norm over the global batch, as one process would (same tensors and state dict keys).
            self.model = global_batch_norm(self.model, device)
            self.network = DistributedDataParallel(self.model, device_ids=[device] if device.type == "cuda" else None)
        self.amp = MixedPrecision.choose(config.amp, device)

    def _inner_records(self) -> np.ndarray:
        """The fold's inner validation split (rows), drawn from its training records."""
        train_idx, config = self.train_idx, self.config
        inner = inner_split(
            [self.data.names[i] for i in train_idx],
            self.data.labels[train_idx],
            config.inner_fraction,
            config.seed,
            self.fold,
        )
        if inner.all() or not inner.any():
            raise TrainingError(
                f"fold {self.fold + 1}: inner_fraction={config.inner_fraction} of its {len(train_idx)} training "
                "records leaves no records to train on or none to choose the epoch by; use more records or "
                "another inner_fraction"
            )
        return train_idx[inner]

    def _validate(self, epoch: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(held-out, inner split) probabilities after epoch `epoch` (from 0), each None where
        the selection does not validate it: selection=last validates only after the last epoch."""
        config = self.config
        held_out = None
        if config.selection != "last" or epoch + 1 == config.epochs:
            held_out = validate(self.model, self.data, self.val_idx, config, self.runtime)
        inner = None
        if self.inner_idx is not None:
            inner = validate(self.model, self.data, self.inner_idx, config, self.runtime)
        return held_out, inner

    def train(self, epoch: int) -> float:
        """Train and validate epoch `epoch` (from 0) and save the checkpoint; returns the mean
        loss (the validation scores are in the state's last history entry)."""
        config, runtime, state = self.config, self.runtime, self.state
        started = time.time()
        rng = np.random.default_rng([config.seed, self.fold, epoch])
        torch.manual_seed(int(rng.integers(2**62)))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch)
        plan = epoch_plan(self.train_idx, self.data.lengths(), config, rng, runtime.world)
        augmentation = Augmentation(config, self.fold, epoch)
        batches = batch_loader(
            WindowBatches(self.data, plan, config, runtime.rank, runtime.world, augmentation),
            self.context.workers,
            runtime.device,
        )
        name = f"fold {self.fold + 1} epoch {epoch + 1}"
        loss, seen = train_epoch(
            self.network, self.optimizer, batches, runtime, self.amp, name, losses.criterion(config)
        )
        held_out, inner = self._validate(epoch)
        seen = sum(runtime.all_gather(seen))
        mean_loss = sum(runtime.all_gather(loss)) / max(seen, 1)
        validated = [p for p in (held_out, inner) if p is not None]
        check_finite(self.fold, state.epoch, mean_loss, self.model, validated, self.store.checkpoint(self.fold))
        labels = self.data.labels
        held_out_score = None if held_out is None else selection_score(held_out, labels[self.val_idx], config)
        entry = {
            "epoch": epoch + 1,
            "loss": mean_loss,
            "val_challenge": held_out_score,
            "lr": learning_rate(config, epoch),
            "steps": len(plan),
            "samples": seen,
            "seconds": time.time() - started,
        }
        score = held_out_score  # selection=validation, and selection=last (None before the last epoch)
        if inner is not None:
            score = entry["inner_challenge"] = selection_score(inner, labels[self.inner_idx], config)
        state.add_epoch(self.model, entry, score, held_out, track_held_out=inner is not None)
        if runtime.is_main:
            modelstore.save_tensors(self.store.checkpoint(self.fold), state.to_checkpoint(self.model, self.optimizer))
        runtime.barrier()
        return mean_loss

    def finish(self) -> None:
        """Write the chosen epoch's weights (foldK.pt) and the fold's result; the checkpoint goes."""
        if self.runtime.is_main:
            state = self.state
            modelstore.save_tensors(self.store.weights(self.fold), state.best_model)
            assert state.best_probabilities is not None  # every selection keeps an epoch
            result = FoldResult(
                self.fold, state.best_epoch, state.best_score, state.history, self.val_idx, state.best_probabilities
            )
            if self.inner_idx is not None:
                result.inner = self.inner_idx
                result.held_out_best_epoch = state.held_out_best_epoch
                result.held_out_best_score = state.held_out_best_score
                result.held_out_best_probabilities = state.held_out_best_probabilities
            write_result(self.store.fold_result(self.fold), result)
            os.remove(self.store.checkpoint(self.fold))
        self.runtime.barrier()


def _epoch_scores(entry: dict, state: FoldState) -> str:
    """The validation part of an epoch's log line."""
    if entry["val_challenge"] is None:
        return "not validated (selection=last)"
    if "inner_challenge" in entry:
        return (
            f"inner challenge {entry['inner_challenge']:.4f} (best {state.best_score:.4f} @ {state.best_epoch}), "
            f"held-out {entry['val_challenge']:.4f}"
        )
    return f"val challenge {entry['val_challenge']:.4f} (best {state.best_score:.4f} @ {state.best_epoch})"


def _choice(state: FoldState, config: Config) -> str:
    """The fold's last log line: the epoch it keeps, and why."""
    if config.selection == "last":
        return f"kept the last epoch, {state.best_epoch}: held-out challenge metric {state.best_score:.4f}"
    if config.selection == "inner":
        held_out = state.history[state.best_epoch - 1]["val_challenge"]
        return (
            f"kept epoch {state.best_epoch}, the best on the inner split ({state.best_score:.4f}; held-out "
            f"{held_out:.4f}); the held-out records would have chosen epoch {state.held_out_best_epoch} "
            f"({state.held_out_best_score:.4f})"
        )
    return f"best validation challenge metric {state.best_score:.4f} at epoch {state.best_epoch}"


def train_fold(fold: int, context: FoldContext) -> FoldState:
    """Train one fold and keep the epoch `config.selection` chooses; writes foldK.pt and its
    `FoldResult`."""
    run = _FoldRun(fold, context)
    data, config, runtime = context.data, context.config, context.runtime
    state = run.state
    inner = f"{len(run.inner_idx)} inner validation, " if run.inner_idx is not None else ""
    log.info(
        f"fold {fold + 1}/{data.num_folds}: {len(run.train_idx)} training, {inner}{len(run.val_idx)} validation "
        f"records on {runtime.device}"
    )
    for epoch in range(state.epoch, config.epochs):
        loss = run.train(epoch)
        entry = state.history[-1]
        log.info(
            f"fold {fold + 1}/{data.num_folds} epoch {epoch + 1}/{config.epochs} loss {loss:.4f} "
            f"{_epoch_scores(entry, state)} "
            f"{entry['seconds']:.1f}s, {context.time_left.after_epoch(fold, epoch + 1, entry['seconds'])} left"
        )
    run.finish()
    log.info(f"fold {fold + 1}: {_choice(state, config)}")
    return state
