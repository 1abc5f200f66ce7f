"""The training data: records from the signal cache, their labels and folds, and the batches
of random windows an epoch trains on.

`prepare_data` caches the records of a data folder (`cache`), takes their labels, age and sex
from their headers or from PTB-XL's database (`ptbxl`), applies the label overrides if any
(`overrides`: labels set, loss cells masked or down-weighted, records dropped), keeps those
with a scored label and assigns their folds (split=ptbxl: PTB-XL's own, folds 1-8 train the one
model, 9 validates it, 10 is left out for testing), checking them against the folds the run started
with (kept in the MODEL folder, `modelstore`). `epoch_plan` draws an epoch's batches;
`WindowBatches` cuts them out of the cache, augments (`augment`) and conditions them
(`preprocess.condition`) as tensors, in data-loader processes when there are any.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from . import augment, features, preprocess
from . import labels as label_space
from .augment import Augmentation
from .cache import SignalCache, build_cache
from .config import Config
from .distributed import Runtime
from .errors import TrainingError
from .folders import list_records, name_prefix
from .folds import assign_folds, source_folds
from .modelstore import ModelFolder
from .overrides import Overrides, apply_overrides, summary, unmatched
from .ptbxl import TEST_FOLD, VALIDATION_FOLD, PtbxlLabels
from .records import Record

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    cache: SignalCache
    rows: np.ndarray  # cache position of each training record
    names: list[str]
    labels: np.ndarray  # (records, classes) float32
    demographics: np.ndarray  # (records, 5) float32
    folds: np.ndarray  # fold of each record; -1: trains every fold model, validates none (split=ptbxl)
    # (records, classes) float32 loss weights from the label overrides: 0 where a cell is masked,
    # its weight where down-weighted, else 1; None without overrides (every cell counts fully)
    loss_mask: np.ndarray | None = None
    # The records' measurements where the config needs them (`features.needed`), else None; and
    # their encoded features (`features.encode`) where the network takes them (features=measurements)
    measurements: features.MeasurementTable | None = None
    features: np.ndarray | None = None

    @property
    def num_folds(self) -> int:
        """config.folds, under split=source the number of sources, under split=ptbxl 1."""
        return int(self.folds.max()) + 1

    def lengths(self) -> np.ndarray:
        return self.cache.lengths[self.rows]

    def inputs(self, indices: np.ndarray) -> np.ndarray:
        """The network's inputs beside the signal of these records: demographics, then the
        encoded measurements where it takes them (as `features.network_inputs`)."""
        if self.features is None:
            return self.demographics[indices]
        return np.concatenate([self.demographics[indices], self.features[indices]], axis=1)

    def records(self, indices: np.ndarray) -> list[Record]:
        """Records (signals are views into the cache) for validation."""
        return [Record(self.names[i], self.cache.signal(self.rows[i]), self.demographics[i]) for i in indices]


def _open_cache(
    data_folder: str, cache_folder: str, config: Config, runtime: Runtime, jobs: int, recursive: bool | None
) -> SignalCache:
    """The cache of the records of `data_folder`: built by the main process, opened by all."""
    cache = None
    if runtime.is_main:
        found = list_records(data_folder, require=True, recursive=recursive)
        log.info(f"data: {len(found)} records in {data_folder}")
        cache = build_cache(found, cache_folder, config.sample_rate, jobs=jobs)
        if features.needed(config):
            features.cached_measurements(cache, config.sample_rate, jobs)
    runtime.barrier()
    return cache if cache is not None else SignalCache(cache_folder)


def _overridden(
    names: list[str], labels: np.ndarray, overrides: Overrides, runtime: Runtime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`apply_overrides` over every readable record, logging what it changed."""
    labels, loss_mask, keep = apply_overrides(names, labels, overrides)
    if runtime.is_main:
        counts = summary(names, overrides)
        log.info(
            f"label overrides {overrides.path}: {counts['set']} labels set, {counts['masked']} masked, "
            f"{counts['weighted']} down-weighted, {counts['dropped']} records dropped"
        )
        missing = unmatched(names, overrides)
        if missing:
            log.warning(
                f"label overrides {overrides.path}: {len(missing)} record(s) not among the readable records "
                f"of the data folder, ignored: {', '.join(missing[:10])}"
                + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
            )
    return labels, loss_mask, keep


def prepare_data(
    data_folder: str,
    store: ModelFolder,
    config: Config,
    runtime: Runtime,
    cache_folder: str | None = None,
    jobs: int = -1,
    overrides: Overrides | None = None,
    labels: PtbxlLabels | None = None,
    recursive: bool | None = None,
) -> TrainingData:
    """Cache the records, take their labels (the headers', or `labels`'), apply the label
    overrides, keep the records with a scored label (after the overrides; dropped ones are left
    out; under split=ptbxl, those of PTB-XL's test fold too), and assign folds."""
    cache = _open_cache(data_folder, cache_folder or store.cache, config, runtime, jobs, recursive)
    counts = label_space.LabelCounts()
    dx, all_demographics, strat_folds = _given(cache, labels, config, runtime)
    encoded = [label_space.encode(codes, counts) for codes in dx]
    all_labels = np.array(encoded, dtype=np.float32).reshape(len(encoded), label_space.NUM_CLASSES)
    loss_mask: np.ndarray | None = None
    keep: np.ndarray | None = None
    if overrides is not None:
        all_labels, loss_mask, keep = _overridden(list(cache.names), all_labels, overrides, runtime)
    testing = np.asarray(strat_folds == TEST_FOLD) if config.split == "ptbxl" else np.zeros(len(all_labels), bool)
    rows = [i for i in range(len(all_labels)) if all_labels[i].any() and (keep is None or keep[i]) and not testing[i]]
    dropped = 0 if keep is None else int((~keep).sum())
    unlabelled = sum(1 for i in range(len(all_labels)) if not all_labels[i].any() and (keep is None or keep[i]))
    log.info(
        f"data: {len(rows)} records for training; excluded {unlabelled} without any scored label"
        + (f", {dropped} dropped by the label overrides" if overrides is not None else "")
        + (f", {int(testing.sum())} of PTB-XL's test fold {TEST_FOLD}" if config.split == "ptbxl" else "")
        + f" and {len(cache.failures)} unreadable; {counts.summary()}"
    )
    names = [cache.names[i] for i in rows]
    row_labels = all_labels[rows]
    if loss_mask is not None:
        loss_mask = loss_mask[rows]
        if len(rows) and not loss_mask.any():
            assert overrides is not None  # the mask is theirs
            log.warning(
                f"label overrides {overrides.path}: every (record, class) cell of the {len(rows)} training records is "
                "masked or weighted 0, so the loss is 0 and the network learns nothing"
            )
    folds = _folds(names, row_labels, config, data_folder, None if strat_folds is None else strat_folds[rows])
    saved = store.read_folds()
    if saved is not None and saved != (names, folds.tolist()):
        raise TrainingError(
            f"the records in {data_folder} differ from those this run started with "
            f"({store.work_path('folds.json')}); train into a new MODEL folder"
        )
    if saved is None and runtime.is_main:
        store.write_folds(names, folds)
    demographics = all_demographics[rows]
    data = TrainingData(cache, np.array(rows), names, row_labels, demographics, folds, loss_mask)
    if features.needed(config):
        data.measurements = features.cached_measurements(cache, config.sample_rate, jobs).take(rows)
        if config.features == "measurements":
            data.features = features.encode(data.measurements.values)
    return data


def _given(
    cache: SignalCache, labels: PtbxlLabels | None, config: Config, runtime: Runtime
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray | None]:
    """(each cached record's labels, demographics (records, 5), PTB-XL fold or None): from the
    headers, or from `labels` (a record it lacks has no labels, and fold 0)."""
    header_demographics = np.array([r["demographics"] for r in cache.records], dtype=np.float32).reshape(-1, 5)
    if labels is None:
        if config.split == "ptbxl":
            raise TrainingError("split=ptbxl takes PTB-XL's strat_fold from its database: train with --labels ptbxl")
        return [r["dx"] for r in cache.records], header_demographics, None
    entries = [labels.entry(name) for name in cache.names]
    missing = [name for name, entry in zip(cache.names, entries) if entry is None]
    if missing and runtime.is_main:
        log.warning(
            f"labels: {len(missing)} record(s) are not in {labels.path}, so have no labels (first: "
            f"{', '.join(missing[:5])})"
        )
    if runtime.is_main:
        log.info(f"labels: {labels.describe()}")
    dx = [entry.dx if entry else () for entry in entries]
    demographics = np.array(
        [labels.demographics(n, labels.path) if e else d for n, e, d in zip(cache.names, entries, header_demographics)],
        dtype=np.float32,
    ).reshape(-1, 5)
    return dx, demographics, np.array([entry.strat_fold if entry else 0 for entry in entries])


def _folds(
    names: list[str], labels: np.ndarray, config: Config, data_folder: str, strat_folds: np.ndarray | None
) -> np.ndarray:
    """Each usable record's fold, by `config.split`."""
    if config.split == "ptbxl":
        folds = np.where(strat_folds == VALIDATION_FOLD, 0, -1)
        if not (folds == 0).any() or not (folds == -1).any():
            raise TrainingError(
                f"split=ptbxl needs records of PTB-XL's folds 1-8 (training) and 9 (validation) among the usable "
                f"records of {data_folder}; it has {int((folds == -1).sum())} and {int((folds == 0).sum())}"
            )
        log.info(
            f"folds: PTB-XL's strat_fold: {int((folds == -1).sum())} records of folds 1-8 train one model, "
            f"{int((folds == 0).sum())} of fold 9 validate it; fold 10 is left out for testing"
        )
        return folds
    if config.split == "source":
        folds = source_folds(names)
        sources = sorted({name_prefix(name) for name in names})
        if len(sources) < 2:
            raise TrainingError(
                f"split=source needs records of at least 2 sources (record name prefixes); the usable "
                f"records of {data_folder} are all from {sources[0] if sources else 'none'}"
            )
        log.info(f"folds: one per source (leave-one-source-out): {', '.join(sources)}")
        return folds
    if len(names) < config.folds:
        raise TrainingError(f"{len(names)} usable records cannot make {config.folds} folds")
    return assign_folds(names, labels, config.folds, config.seed)


def epoch_plan(
    indices: np.ndarray, lengths: np.ndarray, config: Config, rng: np.random.Generator, world: int = 1
) -> list[np.ndarray]:
    """The epoch's batches: a shuffled pass over `indices`, each record as a random window.

    A batch is an int array of rows (record, source start, target start, count). A last
    batch smaller than the number of processes joins the one before it, so that no
    process ever gets an empty share."""
    order = rng.permutation(indices)
    plan = [
        np.array(
            [
                (i, *preprocess.training_window(int(lengths[i]), config.window, rng))
                for i in order[s : s + config.batch_size]
            ]
        )
        for s in range(0, len(order), config.batch_size)
    ]
    if len(plan) > 1 and len(plan[-1]) < world:
        plan[-2:] = [np.concatenate(plan[-2:])]
    return plan


class WindowBatches(torch.utils.data.Dataset):
    """Batch k of an epoch plan as tensors: (x, demographics, labels, (start, end), global size,
    loss weights). The loss weights are None without label overrides, else (this share's
    weights, the summed weights of the whole global batch).

    Each window's record part is augmented (`augmentation`, training only; None: not) and
    conditioned (`preprocess.condition`) before it is laid into the zero window, so padding
    stays zero; with mixup, the share's windows are then mixed in pairs. Every choice depends
    on k alone, whichever process computes it. Each process takes its share (every world-th
    row) of every global batch."""

    def __init__(
        self,
        data: TrainingData,
        plan: list[np.ndarray],
        config: Config,
        rank: int = 0,
        world: int = 1,
        augmentation: Augmentation | None = None,
    ):
        self.data = data
        self.plan = plan
        self.config = config
        self.rank, self.world = rank, world
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[tuple]:
        return (self[k] for k in range(len(self)))

    def __getitem__(self, k: int) -> tuple:
        batch = self.plan[k][self.rank :: self.world]
        indices = batch[:, 0]
        labels, demographics = self.data.labels[indices], self.data.inputs(indices)
        weights = None if self.data.loss_mask is None else self.data.loss_mask[indices]
        parts = self._parts(k, batch)
        if self.augmentation is not None and self._mixup:
            mixing = self.augmentation.mixing(k, self.rank, len(batch))
            parts, labels, demographics, weights = augment.mix(parts, labels, demographics, weights, *mixing)
        x = np.zeros((len(batch), preprocess.NUM_LEADS, self.config.window), dtype=np.float32)
        for row, ((_, _, target, count), part) in enumerate(zip(batch, parts)):
            x[row, :, target : target + count] = part
        start = torch.from_numpy(batch[:, 2].copy())
        mask = None if weights is None else (torch.from_numpy(weights), self._global_weight(k))
        return (
            torch.from_numpy(x),
            torch.from_numpy(demographics),
            torch.from_numpy(labels),
            (start, start + torch.from_numpy(batch[:, 3].copy())),
            len(self.plan[k]),
            mask,
        )

    @property
    def _mixup(self) -> bool:
        return self.augmentation is not None and self.config.mixup > 0

    def _parts(self, k: int, batch: np.ndarray) -> list[np.ndarray]:
        """The record part of each window of this share, augmented and conditioned."""
        parts = []
        for position, (i, source, _, count) in zip(range(self.rank, len(self.plan[k]), self.world), batch):
            part = self.data.cache.signal(self.data.rows[i])[:, source : source + count]
            if self.augmentation is not None:
                part = self.augmentation.window(part, k, position)
            parts.append(preprocess.condition(part, self.config))
        return parts

    def _global_weight(self, k: int) -> float:
        """The summed loss weights of global batch k, after mixup: the same on every process
        (0/1 weights sum to the number of unmasked cells)."""
        whole = self.plan[k][:, 0]
        loss_mask = self.data.loss_mask
        assert loss_mask is not None  # called for a masked loss only
        if self.augmentation is None or not self._mixup:
            return float(loss_mask[whole].sum(dtype=np.float64))
        total = 0.0
        for rank in range(self.world):
            weights = loss_mask[whole[rank :: self.world]]
            partners, _ = self.augmentation.mixing(k, rank, len(weights))
            total += float(augment.mixed_weights(weights, partners).sum(dtype=np.float64))
        return total


def batch_loader(
    batches: WindowBatches, workers: int, device: torch.device
) -> WindowBatches | torch.utils.data.DataLoader:
    """`batches` read ahead by `workers` data-loader processes (none: in this process)."""
    if workers == 0:
        return batches
    return torch.utils.data.DataLoader(
        batches, batch_size=None, num_workers=workers, pin_memory=device.type == "cuda", prefetch_factor=4
    )
