"""Classifying records (`records.Record`) with the fold ensemble.

Each record is classified on its inference views (the whole record, plus windows for long
records; `preprocess.inference_views`). Views of many records are sorted by length and cut
into batches of nearly equal length (`plan_batches`); padding masks make the outputs
independent of the batching. On a CPU, several worker threads each run one batch through one
fold model at a time (`predict`'s `workers`): the network's float arithmetic between the
convolutions is single-threaded Python and small tensors, which one batch on two cores leaves
half idle. Each fold model averages the probabilities of a record's views; the models'
thresholded labels are then combined by majority vote.

The fold models compute in float32 or, after `ecgnet quantize`, in int8 on CPUs (`int8`);
`choose_precision` decides which. A model trained with measurements (`features.needed`)
measures every record once: for the network's inputs, its stacked stage and its rule
decisions (`decisions.SecondStage`), which come between the fold models and their vote.
"""

import gc
import logging
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from . import features, int8, modelstore, preprocess, stacking
from . import labels as label_space
from .config import Config
from .decisions import SecondStage
from .errors import ConfigError
from .model import SEResNet1d, fuse_for_inference
from .records import Record
from .thresholds import apply_thresholds

log = logging.getLogger(__name__)

# A batch of views: (signals, demographics, valid spans or None, the record each view is of).
Batch = tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None, np.ndarray]


# Batch widths are rounded up to a multiple of this (the network's total stride): padding
# costs at most 31 samples a view, while far fewer distinct shapes keep the CPU convolution
# library's cache of compiled kernels, and the memory it holds, small.
WIDTH_STEP = 32


# oneDNN compiles a kernel for every convolution shape it meets and by default keeps 1024 of
# them: 70 to 90 MiB of the driver's peak on the sample records, growing with the batch shapes a
# run meets. Without the cache every convolution call compiles its kernel again: about 5% of the
# driver's time in int8, 12% in float32 (docs/speed.md). A batch shape needs 14 kernels, which
# the five fold models share (their scales are arguments, not part of a kernel): 16 kept serve
# 80% of the calls on the sample records, for 20 to 30 MiB of the driver's peak.
KERNEL_CACHE_CAPACITY = 16


def bound_kernel_cache() -> None:
    """Bound oneDNN's kernel cache to KERNEL_CACHE_CAPACITY, unless ONEDNN_PRIMITIVE_CACHE_CAPACITY
    is set: the one environment setting the driver makes for its process. oneDNN reads it once,
    at the process's first kernel, so the driver's entry points call this before loading a model
    (`ecgnet drive` and driver.py, team_code's loaders; the benchmarks that time the driver in
    their own process do too). Nothing else in the package changes the environment."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNEL_CACHE_CAPACITY))


# A batch costs about as much as this many samples of width besides its own (kernel set-up, the
# per-view arithmetic around the convolutions): `plan_batches` weighs it against padding.
# Measured on the sample records: batches of a quarter the size, 4x as many, took the same
# time with 4% less padding.
BATCH_COST_SAMPLES = 2048

# Worker threads on a CPU: at most this many, each with an equal share of torch's threads.
MAX_CPU_WORKERS = 4


def freeze_loaded_objects() -> None:
    """Put every object alive now out of the garbage collector's way: torch's modules and the
    loaded model live as long as the process, and walking them again at every full collection
    and at the interpreter's exit cost a driver process about 0.3 s (docs/speed.md). The
    driver's entry points call it once the model is loaded; garbage made so far is collected
    first, so nothing unreachable is kept."""
    gc.collect()
    gc.freeze()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_batch_samples(device: torch.device | str) -> int:
    """Samples (views x length) per forward pass. On a CPU larger batches are no faster and
    cost memory; a GPU needs many more to keep busy."""
    return (256 if torch.device(device).type == "cuda" else 16) * 4096


def default_workers(device: torch.device | str) -> int:
    """Batches classified at once (`predict`): on a CPU one per torch thread, at most
    MAX_CPU_WORKERS; on a GPU one."""
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), MAX_CPU_WORKERS))


def _views(records: Sequence[Record], config: Config) -> list[tuple[int, int, int]]:
    """(record index, start, end) of every view, longest first."""
    views = []
    for r, record in enumerate(records):
        spans = preprocess.inference_views(record.signal.shape[1], config.window, config.overlap)
        views += [(r, start, end) for start, end in spans]
    return sorted(views, key=lambda v: v[1] - v[2])


def _width(length: int, config: Config) -> int:
    """Width of the batch a view of `length` samples can go into.

    With padding masks any width >= length gives the same outputs. Without them (the
    published method), a view shorter than the window is zero-padded to it and a longer one
    must not be padded at all."""
    if config.mask_padding:
        return -(-length // WIDTH_STEP) * WIDTH_STEP
    return max(length, config.window)


def plan_batches(widths: Sequence[int], batch_samples: int, equal_widths: bool = False) -> list[tuple[int, int]]:
    """Cut views into batches: `widths` are the views' batch widths, longest first; returns the
    batches as [start, end) of that order. A batch holds at most `batch_samples` samples (a
    longer view goes alone) and is as wide as its first view; the cuts are the ones that
    compute the fewest samples, padding included, counting BATCH_COST_SAMPLES for each batch
    (dynamic programming from the end). With `equal_widths`, a batch holds views of one width.
    Greedy filling instead padded 10% of the sample records' samples; this, 2%."""
    count = len(widths)
    cost = [0] * (count + 1)  # cost[i]: the cheapest plan of views i..count-1
    cut = [count] * (count + 1)
    for i in range(count - 1, -1, -1):
        width = widths[i]
        cost[i] = width + BATCH_COST_SAMPLES + cost[i + 1]  # the view alone
        cut[i] = i + 1
        for end in range(i + 2, min(count, i + batch_samples // width) + 1):
            if equal_widths and widths[end - 1] != width:
                break
            total = (end - i) * width + BATCH_COST_SAMPLES + cost[end]
            if total < cost[i]:
                cost[i], cut[i] = total, end
    plan, i = [], 0
    while i < count:
        plan.append((i, cut[i]))
        i = cut[i]
    return plan


def view_batches(
    records: Sequence[Record], config: Config, batch_samples: int, inputs: np.ndarray | None = None
) -> Iterator[Batch]:
    """Yield (x, demographics, valid, owners) batches covering every view of `records`
    (`plan_batches`), each view conditioned on its own, as training conditions each window
    (`preprocess.condition`). `inputs`: each record's inputs beside the signal
    (`features.network_inputs`, computed here when None), the batches' `demographics`."""
    if inputs is None:
        inputs = features.network_inputs(records, config)
    views = _views(records, config)
    widths = [_width(end - start, config) for _, start, end in views]
    for first, last in plan_batches(widths, batch_samples, equal_widths=not config.mask_padding):
        batch, width = views[first:last], widths[first]
        x = np.zeros((len(batch), preprocess.NUM_LEADS, width), dtype=np.float32)
        ends = np.empty(len(batch), dtype=np.int64)
        for row, (r, s, e) in enumerate(batch):
            x[row, :, : e - s] = preprocess.condition(records[r].signal[:, s:e], config)
            ends[row] = e - s
        valid = None
        if config.mask_padding and ends.min() < width:
            valid = (torch.zeros(len(batch), dtype=torch.long), torch.from_numpy(ends))
        demographics = inputs[[r for r, _, _ in batch]]
        yield torch.from_numpy(x), torch.from_numpy(demographics), valid, np.array([r for r, _, _ in batch])


def predict(
    models: Sequence[SEResNet1d],
    records: Sequence[Record],
    config: Config,
    device: torch.device | str,
    batch_samples: int | None = None,
    inputs: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Mean view probability per model and record: float32 array (models, records, classes).
    `inputs`: as `view_batches` takes them. `workers` > 1 (CPU only): that many threads each
    run one batch through one model at a time, with an equal share of torch's threads; the
    batches are then `batch_samples` / `workers` samples, so as many samples are in flight.
    The outputs are the same (results are added up in the same order)."""
    batch_samples = batch_samples or default_batch_samples(device)
    totals = np.zeros((len(models), len(records), label_space.NUM_CLASSES), dtype=np.float64)
    counts = np.zeros(len(records))

    def add(m: int, owners: np.ndarray, probabilities: np.ndarray) -> None:
        np.add.at(totals[m], owners, probabilities)
        if m == len(models) - 1:
            np.add.at(counts, owners, 1)

    batches = view_batches(records, config, batch_samples // max(1, workers), inputs)
    if workers <= 1:
        with torch.inference_mode():
            for x, demographics, valid, owners in batches:
                x, demographics = x.to(device, non_blocking=True), demographics.to(device, non_blocking=True)
                if valid is not None:
                    valid = (valid[0].to(device), valid[1].to(device))
                for m, model in enumerate(models):
                    add(m, owners, model.probabilities(x, demographics, valid).cpu().numpy())
    else:
        if torch.device(device).type != "cpu":
            raise ValueError(f"worker threads classify on a CPU, not on {device}")
        _predict_in_threads(models, batches, workers, add)
    return (totals / counts[None, :, None]).astype(np.float32)


def _predict_in_threads(
    models: Sequence[SEResNet1d],
    batches: Iterator[Batch],
    workers: int,
    add: Callable[[int, np.ndarray, np.ndarray], None],
) -> None:
    """Run every (batch, model) pair on `workers` threads; `add` gets the results in order."""

    def run(model: SEResNet1d, x: torch.Tensor, demographics: torch.Tensor, valid) -> np.ndarray:
        with torch.inference_mode():  # a per-thread mode
            return model.probabilities(x, demographics, valid).numpy()

    threads = max(1, torch.get_num_threads() // workers)
    pending: deque[tuple[int, np.ndarray, Future]] = deque()
    # torch's thread count is per thread: the workers' own, the caller's unchanged.
    with ThreadPoolExecutor(workers, "ecgnet-predict", torch.set_num_threads, (threads,)) as pool:
        try:
            for x, demographics, valid, owners in batches:
                for m, model in enumerate(models):
                    pending.append((m, owners, pool.submit(run, model, x, demographics, valid)))
                while len(pending) > 2 * workers:  # bounds the batches held at once
                    m, owners, future = pending.popleft()
                    add(m, owners, future.result())
            while pending:
                m, owners, future = pending.popleft()
                add(m, owners, future.result())
        finally:
            for _, _, future in pending:
                future.cancel()


def combine(
    probabilities: np.ndarray, thresholds: np.ndarray, decisions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble decision from per-model probabilities (models, records, classes).

    Each model labels a record with its thresholds (most probable class always on); the
    labels are averaged over models, the class with the most votes is forced on, and a
    majority (>= 0.5) decides. The probability is the models' mean. `decisions` (the same
    shape; `decisions.SecondStage`): what the thresholds label instead of the probabilities."""
    decisions = probabilities if decisions is None else decisions
    votes = np.mean([apply_thresholds(p, thresholds) for p in decisions], axis=0)
    votes[np.arange(votes.shape[0]), np.argmax(votes, axis=1)] = 1.0
    return votes >= 0.5, probabilities.mean(axis=0)


def float_network(config: Config, state: dict[str, torch.Tensor], device: torch.device | str) -> SEResNet1d:
    """The float32 network of a fold's state, fused for inference (`fuse_for_inference`)."""
    # Built on the meta device, the network allocates nothing before it takes over the
    # state's tensors: one copy of the weights, until batch norm is folded in.
    with torch.device("meta"):
        model = SEResNet1d(config, initialise=False)
    model.load_state_dict(state, assign=True)
    return fuse_for_inference(model).to(device)


def choose_precision(folder: str, requested: str | None, device: torch.device) -> str:
    """The precision a MODEL folder's networks compute in: `requested` ("fp32" or "int8"), or
    with None the one model.json gives (`modelstore.stored_precision`), except where int8
    cannot run: on a GPU or a CPU without oneDNN's int8 kernels the default is fp32."""
    if requested == "int8":
        if device.type != "cpu" or not int8.supported():
            where = f"on {device.type}" if device.type != "cpu" else "on this CPU (it needs oneDNN on x86-64)"
            raise ConfigError(f"int8 inference does not run {where}; use --precision fp32")
        return "int8"
    if requested == "fp32":
        return "fp32"
    if requested is not None:
        raise ConfigError(f"precision {requested!r} is not one of {', '.join(modelstore.PRECISIONS)}")
    stored = modelstore.stored_precision(folder)
    if stored == "int8" and (device.type != "cpu" or not int8.supported()):
        log.info(f"{folder}: int8 is the model's default precision, but int8 does not run on {device}: using fp32")
        return "fp32"
    return stored


class Ensemble:
    """The fold models of a MODEL folder, loaded once, with their thresholds."""

    def __init__(
        self,
        config: Config,
        states: Iterable[dict[str, torch.Tensor]],
        thresholds: Sequence[float],
        device: torch.device | str | None = None,
        precision: str = "fp32",
        stacker: stacking.Stacker | None = None,
        workers: int | None = None,
    ):
        """`states`: an iterable of fold state dicts (int8 ones with `precision` "int8"),
        consumed one at a time; `stacker`: the stacked stage (config stacking); `workers`:
        threads classifying batches at once (`predict`; None: `default_workers`)."""
        self.config = config
        if config.stacking != "none" and stacker is None:
            raise ConfigError(f"the config's stacking={config.stacking} needs its fitted stage, and none was given")
        self.second_stage = SecondStage.of(config, stacker)
        self.device = torch.device(device) if device else default_device()
        self.workers = default_workers(self.device) if workers is None else workers
        self.precision = precision
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.models = [
            int8.int8_network(config, state) if precision == "int8" else float_network(config, state, self.device)
            for state in states
        ]
        self.warned_lead_sets: set[tuple[str, ...]] = set()  # reduced lead sets warned about

    @classmethod
    def from_folder(
        cls,
        folder: str,
        device: torch.device | str | None = None,
        precision: str | None = None,
        workers: int | None = None,
    ) -> "Ensemble":
        """The ensemble of a MODEL folder, every file checked (`modelstore.load_weights`), in
        `precision` ("fp32", "int8", or None: the folder's default; `choose_precision`), with
        `workers` (as the constructor takes them)."""
        device = torch.device(device) if device else default_device()
        precision = choose_precision(str(folder), precision, device)
        config, paths, thresholds = modelstore.load_model(folder, precision)
        stacker = modelstore.load_stacker(folder) if config.stacking != "none" else None
        load = modelstore.load_int8_weights if precision == "int8" else modelstore.load_weights
        ensemble = cls(config, (load(p, config) for p in paths), thresholds, device, precision, stacker, workers)
        log.info(f"model: {len(ensemble.models)} {precision} fold models from {folder} on {device}")
        return ensemble

    def measure(self, records: Sequence[Record]) -> features.MeasurementTable | None:
        """The measurements of `records` that this model's features and decisions need (None
        if it needs none); `classify` measures the records itself unless given them."""
        return features.measure_for(self.config, records)

    def classify(
        self,
        records: Sequence[Record],
        batch_samples: int | None = None,
        measurements: features.MeasurementTable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(labels bool, probabilities float32), each (records, classes) in CLASSES order.
        `measurements`: `measure(records)`, when already made."""
        if not records:
            empty = np.zeros((0, label_space.NUM_CLASSES))
            return empty.astype(bool), empty.astype(np.float32)
        self._warn_reduced_leads(records)
        table = self.measure(records) if measurements is None else measurements
        inputs = features.network_inputs(records, self.config, table)
        probabilities = predict(self.models, records, self.config, self.device, batch_samples, inputs, self.workers)
        probabilities, decisions = self.second_stage.apply(probabilities, table, inputs)
        return combine(probabilities, self.thresholds, decisions)

    def _warn_reduced_leads(self, records: Sequence[Record]) -> None:
        """Say once per lead set what the 12-lead network is given for records lacking leads."""
        for missing in dict.fromkeys(r.missing for r in records if r.missing):
            if missing not in self.warned_lead_sets:
                self.warned_lead_sets.add(missing)
                warnings.warn(preprocess.reduced_leads_message(missing), preprocess.ReducedLeadsWarning, stacklevel=3)
