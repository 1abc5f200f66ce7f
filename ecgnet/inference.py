"""Classifying records (`records.Record`) with the fold ensemble.

Each record is classified on its inference views (the whole record, plus windows for long
records; `preprocess.inference_views`). Views of many records are sorted by length and
batched, so the network runs on full batches of nearly equal length; padding masks make
the outputs independent of the batching. Each fold model averages the probabilities of a
record's views; the models' thresholded labels are then combined by majority vote.

The fold models compute in float32 or, after `ecgnet quantize`, in int8 on CPUs (`int8`);
`choose_precision` decides which. A model trained with measurements (`features.needed`)
measures every record once: for the network's inputs, its stacked stage and its rule
decisions (`decisions.SecondStage`), which come between the fold models and their vote.
"""

import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence

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


# oneDNN compiles a kernel for every convolution shape it meets (for int8, also every layer's
# scales) and by default keeps 1024 of them: 70 to 90 MiB of the driver's peak on the sample
# records. Compiling again costs about 0.4 ms a call, and the driver's time did not change
# measurably without the cache (docs/speed.md), so it is off unless the user sets it.
KERNEL_CACHE_CAPACITY = 0


def bound_kernel_cache() -> None:
    """Bound oneDNN's kernel cache to KERNEL_CACHE_CAPACITY, unless ONEDNN_PRIMITIVE_CACHE_CAPACITY
    is set: the one environment setting the driver makes for its process. oneDNN reads it once,
    at the process's first kernel, so the driver's entry points call this before loading a model
    (`ecgnet drive` and driver.py, team_code's loaders; the benchmarks that time the driver in
    their own process do too). Nothing else in the package changes the environment."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNEL_CACHE_CAPACITY))


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_batch_samples(device: torch.device | str) -> int:
    """Samples (views x length) per forward pass. On a CPU larger batches are no faster and
    cost memory; a GPU needs many more to keep busy."""
    return (256 if torch.device(device).type == "cuda" else 16) * 4096


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


def view_batches(
    records: Sequence[Record], config: Config, batch_samples: int, inputs: np.ndarray | None = None
) -> Iterator[Batch]:
    """Yield (x, demographics, valid, owners) batches covering every view of `records`, each
    view conditioned on its own, as training conditions each window (`preprocess.condition`).
    `inputs`: each record's inputs beside the signal (`features.network_inputs`, computed here
    when None), the batches' `demographics`."""
    if inputs is None:
        inputs = features.network_inputs(records, config)
    views = _views(records, config)
    i = 0
    while i < len(views):
        width = _width(views[i][2] - views[i][1], config)
        count = max(1, min(len(views) - i, batch_samples // width))
        if not config.mask_padding:  # only views of exactly this width
            count = next(
                (k for k in range(1, count) if _width(views[i + k][2] - views[i + k][1], config) != width), count
            )
        batch = views[i : i + count]
        x = np.zeros((count, preprocess.NUM_LEADS, width), dtype=np.float32)
        ends = np.empty(count, dtype=np.int64)
        for row, (r, s, e) in enumerate(batch):
            x[row, :, : e - s] = preprocess.condition(records[r].signal[:, s:e], config)
            ends[row] = e - s
        valid = None
        if config.mask_padding and ends.min() < width:
            valid = (torch.zeros(count, dtype=torch.long), torch.from_numpy(ends))
        demographics = inputs[[r for r, _, _ in batch]]
        yield torch.from_numpy(x), torch.from_numpy(demographics), valid, np.array([r for r, _, _ in batch])
        i += count


@torch.inference_mode()
def predict(
    models: Sequence[SEResNet1d],
    records: Sequence[Record],
    config: Config,
    device: torch.device | str,
    batch_samples: int | None = None,
    inputs: np.ndarray | None = None,
) -> np.ndarray:
    """Mean view probability per model and record: float32 array (models, records, classes).
    `inputs`: as `view_batches` takes them."""
    batch_samples = batch_samples or default_batch_samples(device)
    totals = np.zeros((len(models), len(records), label_space.NUM_CLASSES), dtype=np.float64)
    counts = np.zeros(len(records))
    for x, demographics, valid, owners in view_batches(records, config, batch_samples, inputs):
        x, demographics = x.to(device, non_blocking=True), demographics.to(device, non_blocking=True)
        if valid is not None:
            valid = (valid[0].to(device), valid[1].to(device))
        for m, model in enumerate(models):
            probabilities = model.probabilities(x, demographics, valid).cpu().numpy()
            np.add.at(totals[m], owners, probabilities)
        np.add.at(counts, owners, 1)
    return (totals / counts[None, :, None]).astype(np.float32)


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
    ):
        """`states`: an iterable of fold state dicts (int8 ones with `precision` "int8"),
        consumed one at a time; `stacker`: the stacked stage (config stacking)."""
        self.config = config
        if config.stacking != "none" and stacker is None:
            raise ConfigError(f"the config's stacking={config.stacking} needs its fitted stage, and none was given")
        self.second_stage = SecondStage.of(config, stacker)
        self.device = torch.device(device) if device else default_device()
        self.precision = precision
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.models = [
            int8.int8_network(config, state) if precision == "int8" else float_network(config, state, self.device)
            for state in states
        ]
        self.warned_lead_sets: set[tuple[str, ...]] = set()  # reduced lead sets warned about

    @classmethod
    def from_folder(
        cls, folder: str, device: torch.device | str | None = None, precision: str | None = None
    ) -> "Ensemble":
        """The ensemble of a MODEL folder, every file checked (`modelstore.load_weights`), in
        `precision` ("fp32", "int8", or None: the folder's default; `choose_precision`)."""
        device = torch.device(device) if device else default_device()
        precision = choose_precision(str(folder), precision, device)
        config, paths, thresholds = modelstore.load_model(folder, precision)
        stacker = modelstore.load_stacker(folder) if config.stacking != "none" else None
        load = modelstore.load_int8_weights if precision == "int8" else modelstore.load_weights
        ensemble = cls(config, (load(p, config) for p in paths), thresholds, device, precision, stacker)
        log.info(f"model: {len(ensemble.models)} {precision} fold models from {folder} on {device}")
        return ensemble

    def classify(self, records: Sequence[Record], batch_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(labels bool, probabilities float32), each (records, classes) in CLASSES order."""
        if not records:
            empty = np.zeros((0, label_space.NUM_CLASSES))
            return empty.astype(bool), empty.astype(np.float32)
        self._warn_reduced_leads(records)
        table = features.measure_records(records, self.config.sample_rate) if features.needed(self.config) else None
        inputs = features.network_inputs(records, self.config, table)
        probabilities = predict(self.models, records, self.config, self.device, batch_samples, inputs)
        probabilities, decisions = self.second_stage.apply(probabilities, table, inputs)
        return combine(probabilities, self.thresholds, decisions)

    def _warn_reduced_leads(self, records: Sequence[Record]) -> None:
        """Say once per lead set what the 12-lead network is given for records lacking leads."""
        for missing in dict.fromkeys(r.missing for r in records if r.missing):
            if missing not in self.warned_lead_sets:
                self.warned_lead_sets.add(missing)
                warnings.warn(preprocess.reduced_leads_message(missing), preprocess.ReducedLeadsWarning, stacklevel=3)
