"""Every hyper-parameter in one object. Defaults are the published method's, except seven
settings chosen by leave-one-source-out validation (`PAPER_SETTINGS` lists the published
values; `Config.paper()` and `--paper` give them all).

The config is saved in the MODEL folder, so a model always runs with the settings it was
trained with. Override fields from the command line with `--set name=value` (see `parse_overrides`).
"""

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, InputFileError
from .files import read_json
from .limits import MAX_MILLIVOLTS, MAX_SAMPLE_RATE
from .measure import criteria

# Upper limits far beyond any use, so that a typo cannot ask for endless work or memory.
MAX_FOLDS, MAX_EPOCHS, MAX_BATCH, MAX_WORKERS = 1000, 100_000, 65_536, 1024
MAX_CONFIG_BYTES = 1024 * 1024  # a config file is a few hundred bytes
MIN_THRESHOLD_STEP = 1e-4  # the threshold search tries 1 / step values per class and round
# Seeds go to numpy (any non-negative integer) and to torch.manual_seed(seed * 1000 + fold)
# (below 2**64): 32 bits, the range every generator accepts, keep both well inside.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Config:
    # Signal
    sample_rate: int = 257  # Hz; every record is resampled to this rate
    window: int = 4096  # samples per training window and inference window
    overlap: int = 256  # overlap of consecutive inference windows
    # Network
    width: int = 64  # channels of the stem and first stage (x2 per stage)
    blocks: tuple = (2, 2, 2, 2)  # residual blocks per stage (ResNet-18 pattern)
    stem_kernel: int = 15
    kernel: int = 7
    se_reduction: int = 16
    dropout: float = 0.2
    demographics_features: int = 10  # age/sex projection width
    lead_gate: bool = True  # explicit squeeze-and-excite gate over the 12 input leads
    mask_padding: bool = True  # padding never changes outputs (see model.py)
    prior_bias: bool = True  # start each class's output bias at its training frequency
    # Training
    folds: int = 5
    epochs: int = 70
    batch_size: int = 64  # global batch, split over processes when distributed
    lr: float = 3e-3
    weight_decay: float = 1e-5
    lr_milestones: tuple = (20, 40, 60)
    lr_gamma: float = 0.1
    seed: int = 2020
    workers: int = -1  # data loader processes; -1: 4 on CUDA, 0 on CPU
    amp: bool = True  # mixed precision on CUDA (never on CPU)
    # Thresholds
    threshold_step: float = 0.01  # grid of the per-class threshold search
    # One threshold for every class, before the per-class search: it labels the validation
    # records each epoch is chosen by, starts the search, and gives the "before" figures.
    uniform_threshold: float = 0.5
    # How the thresholds are fitted on the out-of-fold predictions: "per_class" (the paper's
    # grid search), "global" (one threshold for all classes), "shrunk" (per-class thresholds
    # pulled toward the global one, more so for classes with few positives: weight
    # positives / (positives + threshold_shrinkage)), "mean_source" or "worst_source" (per-class
    # search maximising the mean or the worst per-source challenge metric).
    threshold_method: str = "global"
    threshold_shrinkage: float = 10.0
    # Validation (generalisation). split: "stratified" (the paper's folds, stratified within
    # each source), "source" (one fold per record source, leave-one-source-out) or "ptbxl"
    # (PTB-XL's strat_fold, with --labels ptbxl: one model trained on folds 1-8, validated on
    # fold 9; fold 10, the test fold, left out).
    # selection: which epoch a fold keeps: "validation" (the paper's: the best on the fold it
    # is scored on), "inner" (the best on an inner split of `inner_fraction` of the fold's
    # training records, so the out-of-fold score chose nothing) or "last".
    split: str = "stratified"
    selection: str = "last"
    inner_fraction: float = 0.2
    # Signal conditioning of every span the network sees (training windows and inference
    # views), at `sample_rate`, so that it does not depend on a record's own rate:
    # bandpass (low, high) Hz, zero-phase Butterworth (order 4 each way; low 0: low-pass),
    # () = off; e.g. (0.5, 40) takes out baseline drift and most 50/60 Hz mains hum (to 0.10
    # and 0.014 of its amplitude) alike for every site; standardise: per-lead z-score over the
    # span. See preprocess.condition.
    bandpass: tuple = ()
    standardise: bool = True
    # Training augmentations of each window's record part, 0 = off (see augment.py): lead_mask
    # (probability that a window has a random nonempty proper subset of its leads zeroed),
    # amplitude_scale (per-lead gain drawn from 1 +- this), baseline_wander (mV, the most a
    # lead's slow 0.05-0.5 Hz sinusoid reaches), noise (mV, standard deviation of Gaussian
    # noise), mixup (alpha of Beta(alpha, alpha): pairs of a batch mixed, labels too).
    lead_mask: float = 0.3
    amplitude_scale: float = 0.0
    baseline_wander: float = 0.0
    noise: float = 0.0
    mixup: float = 0.0
    # Loss: "bce" (the paper's) or "asl" (asymmetric loss, Ridnik et al. 2021, for imbalance and
    # label noise: negatives focused by asl_gamma_neg and shifted by asl_clip, positives by
    # asl_gamma_pos; see losses.py); label_smoothing e makes every target y (1 - e) + e / 2.
    loss: str = "bce"
    label_smoothing: float = 0.1
    asl_gamma_neg: float = 4.0
    asl_gamma_pos: float = 0.0
    asl_clip: float = 0.05
    # Measurements (`ecgnet.measure`, computed for every record, in training and by the driver)
    # beside the network (see docs/hybrid.md). features: "measurements" gives them to the
    # network's head beside age and sex (robustly scaled, each fold on its training records);
    # stacking: "logistic" re-fits each class's probability from the fold model's logit and
    # the measurements (fitted on out-of-fold predictions only), shrunk toward the network's
    # own probability by stacking_penalty; "criteria" the same for the classes with a published
    # criterion, on the measurements it reads, the others left as they are; decide_rules:
    # classes (abbreviations or codes, comma separated, e.g. "SB,STach,IAVB") whose label the
    # rule reader (`measure.criteria`) decides wherever it can tell, the network's probability
    # kept for ranking. The defaults (measurements for the network, the rule reader deciding the
    # rate, interval and axis classes) were chosen by leave-one-source-out validation.
    features: str = "measurements"
    stacking: str = "none"
    stacking_penalty: float = 10.0
    decide_rules: str = "SB,STach,Brady,IAVB,LPR,LAD,RAD"

    def __post_init__(self):
        problems = self._type_problems()
        if problems:  # the range checks below need the right types
            raise ConfigError("invalid config: " + "; ".join(problems))
        if not 0 < self.sample_rate <= MAX_SAMPLE_RATE:
            problems.append(f"sample_rate must be from 1 to {MAX_SAMPLE_RATE:g} Hz")
        if not 64 <= self.window <= 1 << 20:
            problems.append("window must be 64 to 1048576 samples")
        if not 0 <= self.overlap < self.window:
            problems.append("overlap must be in [0, window)")
        if self.width < 4 or len(self.blocks) < 1 or min(self.blocks) < 1:
            problems.append("width must be >= 4 and every stage needs a block")
        if (
            self.width > 4096
            or len(self.blocks) > 8
            or max(self.blocks, default=0) > 64
            or max(self.kernel, self.stem_kernel) > 1024
        ):
            problems.append(
                "the network is far larger than any use: width <= 4096, up to 8 stages of up to "
                "64 blocks, kernels <= 1024"
            )
        if self.width * 2 ** (len(self.blocks) - 1) < self.se_reduction:
            problems.append("se_reduction is larger than the widest stage")
        if not 2 <= self.folds <= MAX_FOLDS:
            problems.append(f"folds must be from 2 to {MAX_FOLDS}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            problems.append("epochs, batch_size and lr must be positive")
        if self.epochs > MAX_EPOCHS or self.batch_size > MAX_BATCH or self.demographics_features > 4096:
            problems.append(
                f"epochs <= {MAX_EPOCHS}, batch_size <= {MAX_BATCH} and demographics_features <= 4096 "
                "(far beyond any use)"
            )
        if not 0 <= self.seed <= MAX_SEED:
            problems.append(f"seed must be from 0 to {MAX_SEED}")
        if not MIN_THRESHOLD_STEP <= self.threshold_step < 1:
            problems.append(f"threshold_step must be from {MIN_THRESHOLD_STEP:g} to below 1")
        if min(self.stem_kernel, self.kernel, self.se_reduction, self.demographics_features) < 1:
            problems.append("stem_kernel, kernel, se_reduction and demographics_features must be positive")
        if min(self.lr_milestones, default=1) < 1:
            problems.append("lr_milestones must be epochs from 1")
        if not 0 <= self.dropout < 1 or not 0 <= self.uniform_threshold <= 1:
            problems.append("dropout must be in [0, 1) and uniform_threshold in [0, 1]")
        if self.weight_decay < 0 or self.lr_gamma <= 0 or not -1 <= self.workers <= MAX_WORKERS:
            problems.append(f"weight_decay must be >= 0, lr_gamma > 0 and workers from -1 to {MAX_WORKERS}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not 0 < self.inner_fraction < 1 or self.threshold_shrinkage < 0:
            problems.append("inner_fraction must be in (0, 1) and threshold_shrinkage >= 0")
        if self.bandpass and not (
            len(self.bandpass) == 2 and 0 <= self.bandpass[0] < self.bandpass[1] < self.sample_rate / 2
        ):
            problems.append("bandpass must be empty or (low, high) Hz with 0 <= low < high < sample_rate / 2")
        if not 0 <= self.lead_mask <= 1 or not 0 <= self.amplitude_scale < 1:
            problems.append("lead_mask must be in [0, 1] and amplitude_scale in [0, 1)")
        if min(self.baseline_wander, self.noise, self.mixup, self.asl_gamma_neg, self.asl_gamma_pos) < 0:
            problems.append("baseline_wander, noise, mixup, asl_gamma_neg and asl_gamma_pos must be >= 0")
        if (
            max(self.baseline_wander, self.noise) > MAX_MILLIVOLTS
            or max(self.mixup, self.asl_gamma_neg, self.asl_gamma_pos) > 1000
        ):
            problems.append(
                f"baseline_wander and noise must be <= {MAX_MILLIVOLTS:g} mV, mixup, asl_gamma_neg and "
                "asl_gamma_pos <= 1000 (far beyond any use)"
            )
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.asl_clip < 1:
            problems.append("label_smoothing and asl_clip must be in [0, 1)")
        if not 0 < self.stacking_penalty <= 1e9:
            problems.append("stacking_penalty must be positive and <= 1e9 (far beyond any use)")
        if self.stacking != "none" and self.split == "ptbxl":
            problems.append("stacking needs out-of-fold predictions of two folds or more; split=ptbxl validates one")
        if self.decide_rules:
            problem = criteria.unknown_classes_problem(self.decide_rules)
            if problem:
                problems.append(problem)
            if self.uniform_threshold == 0:
                problems.append("decide_rules needs uniform_threshold > 0 (a threshold of 0 turns a rule's 'no' on)")
        if problems:
            raise ConfigError("invalid config: " + "; ".join(problems))

    def _type_problems(self) -> list[str]:
        """Fields whose value is not of their default's type (a float field takes an int)."""
        problems = []
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default
            if isinstance(default, tuple):
                element = _is_number if f.name in _NUMBER_TUPLES else _is_int
                right = isinstance(value, tuple) and all(element(v) for v in value)
            elif isinstance(default, bool):
                right = isinstance(value, bool)
            elif isinstance(default, str):
                right = isinstance(value, str)
            elif isinstance(default, int):
                right = _is_int(value)
            else:
                right = _is_number(value)
            if not right:
                kind = "a list of numbers" if f.name in _NUMBER_TUPLES else _KINDS[type(default)]
                problems.append(f"{f.name} must be {kind}, not {value!r}")
        return problems

    def to_dict(self) -> dict:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)
        }

    @classmethod
    def paper(cls) -> "Config":
        """The published method's settings (`--paper`)."""
        return cls(**PAPER_SETTINGS)

    @classmethod
    def from_dict(cls, values: dict, base: "Config | None" = None) -> "Config":
        """The config of a dict of fields, as `to_dict` writes them (older names read too);
        the fields it lacks keep `base`'s values (default: the defaults)."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config is a JSON object of fields, not {type(values).__name__}")
        values = {_RENAMED.get(k, k): v for k, v in values.items()}
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown config fields: {', '.join(map(str, unknown))}")
        return (base or cls()).replace(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @classmethod
    def from_saved(cls, values: dict) -> "Config":
        """The config a MODEL folder was trained with. A field its config lacks did not exist
        when it was written, so the model was trained with that field's published value."""
        return cls.from_dict(values, base=cls.paper())

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)


# Fields' earlier names, read in model folders and config files written before the rename.
_RENAMED = {"checkpoint_threshold": "uniform_threshold"}
# The published method's values of the fields whose defaults are not theirs: the defaults were
# chosen by leave-one-source-out validation (docs/generalisation.md;
# docs/hybrid.md for the measurements).
PAPER_SETTINGS: dict[str, Any] = {
    "selection": "validation",
    "threshold_method": "per_class",
    "standardise": False,
    "label_smoothing": 0.0,
    "lead_mask": 0.0,
    "features": "none",
    "decide_rules": "",
}
_KINDS = {
    bool: "true or false",
    int: "an integer",
    float: "a finite number",
    tuple: "a list of integers",
    str: "a string",
}
# Tuple fields of numbers (cut-off frequencies such as 0.5 Hz); the other tuples are of integers.
_NUMBER_TUPLES = frozenset({"bandpass"})
_CHOICES = {
    "threshold_method": ("per_class", "global", "shrunk", "mean_source", "worst_source"),
    "split": ("stratified", "source", "ptbxl"),
    "selection": ("validation", "inner", "last"),
    "loss": ("bce", "asl"),
    "features": ("none", "measurements"),
    "stacking": ("none", "logistic", "criteria"),
}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _convert(field_, text):
    default = field_.default
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{field_.name} takes true or false, not {text!r}")
    kind = float if field_.name in _NUMBER_TUPLES or isinstance(default, float) else int
    what = "numbers" if kind is float else "whole numbers"
    try:
        if isinstance(default, tuple):
            return tuple(kind(x) for x in text.split(",") if x.strip())
        return text if isinstance(default, str) else kind(text)
    except ValueError:
        expected = f"a list of {what} such as 8,12" if isinstance(default, tuple) else f"a {what[:-1]}"
        raise ValueError(f"{field_.name} takes {expected}, not {text!r}") from None


def parse_overrides(pairs: Sequence[str], base: Config | None = None) -> Config:
    """Apply `name=value` strings to a config (tuples as comma lists: `lr_milestones=8,12`)."""
    base = base or Config()
    fields = {f.name: f for f in dataclasses.fields(Config)}
    changes = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = _RENAMED.get(name.strip(), name.strip())
        if not sep or name not in fields:
            raise ConfigError(f"cannot apply {pair!r}: expected name=value with a name among {', '.join(fields)}")
        try:
            changes[name] = _convert(fields[name], text.strip())
        except ValueError as e:
            raise ConfigError(f"cannot apply {pair!r}: {e}") from None
    return base.replace(**changes)


def load_config_file(path: str | os.PathLike, base: Config | None = None) -> Config:
    """The config in a JSON file of fields, the others as in `base` (default: the defaults);
    ConfigError names the file when it cannot be."""
    try:
        values = read_json(path, "config file", MAX_CONFIG_BYTES)
    except InputFileError as e:
        raise ConfigError(str(e)) from None
    try:
        return Config.from_dict(values, base)
    except ConfigError as e:
        raise ConfigError(f"config file {path}: {e}") from None
