"""What the report shows, as numbers: read from a MODEL folder, training labels and a test set.

No plotting here (and no matplotlib): `plots` draws these arrays and `html` lays them out.
It runs over ~300 lines because its readers and the numbers they feed share one set of types
(`Scored`, `ModelData`, `TestData`) that splitting would scatter.

The MODEL folder gives the per-fold history and metrics (`cv_report.json`), the out-of-fold
probabilities (`oof_probabilities.csv`) and the thresholds (`model.json`). It holds no labels:
the curves, per-class and per-source views of the cross-validation need the training records'
headers (`labels`), whose `#Dx` codes are encoded as training encodes them.
"""

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .. import jsonshape, metrics, scoring
from .. import labels as label_space
from ..config import Config
from ..errors import ConfigError, InputFileError, ReportError
from ..files import read_json
from ..thresholds import apply_thresholds
from . import shapes
from .training_labels import Provenance, scored_labels

MAX_JSON_BYTES = 64 * 1024 * 1024  # cv_report.json of 5 folds x 70 epochs is about 100 kB


# ---------------------------------------------------------------- small helpers


def number(x):
    """float(x), or None where x is missing or not finite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def number_in(x, low, high):
    """Whether `x` (from a JSON file) is a number from `low` to `high` (NaN is not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and low <= x <= high


def _read_json(path, what, shape):
    """The JSON value of `path` (`files.read_json`), checked against `shape` (`jsonshape`);
    ReportError names the file and every value of the wrong type."""
    try:
        value = read_json(path, what, MAX_JSON_BYTES)
    except InputFileError as e:
        raise ReportError(str(e)) from None
    found = jsonshape.problems(value, shape)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise ReportError(f"{path}: the {what} has values of the wrong type: {'; '.join(found[:3])}{more}")
    return value


def class_weight_share(labels, weights=None):
    """Each class's share of the challenge score of perfect outputs: sum_k W[j, k] A[j, k] of
    the labels scored against themselves, over its total. The classes the metric rides on."""
    weights = np.nan_to_num(label_space.WEIGHTS if weights is None else weights)
    labels = np.asarray(labels, dtype=bool)
    per_class = np.sum(weights * metrics.challenge_confusion(labels, labels), axis=1)
    total = per_class.sum()
    return per_class / total if total > 0 else per_class


# ---------------------------------------------------------------- curves and sweeps


def class_curves(labels, scores):
    """ROC (fpr, tpr) and PR (recall, precision) points of one class at every distinct output
    value, as `metrics.class_auc` integrates them; None where the class has no positives."""
    labels = np.asarray(labels, dtype=bool)
    if not labels.any():
        return None
    order = np.argsort(-scores, kind="stable")
    values, positive = scores[order], labels[order].astype(np.float64)
    last = np.r_[values[1:] != values[:-1], True]
    tp = np.r_[0.0, np.cumsum(positive)[last]]
    fp = np.r_[0.0, np.cumsum(1.0 - positive)[last]]
    tpr = tp / tp[-1]
    fpr = fp / fp[-1] if fp[-1] else np.zeros_like(fp)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 1.0)
    return {"fpr": fpr, "tpr": tpr, "recall": tpr, "precision": precision}


def operating_point(labels, binary):
    """(fpr, tpr, precision) of one class's binary outputs; NaN where undefined."""
    tp, fp, fn, tn = metrics.confusion_counts(labels[:, None], binary[:, None])
    tp, fp, fn, tn = tp[0], fp[0], fn[0], tn[0]
    return (
        fp / (fp + tn) if fp + tn else math.nan,
        tp / (tp + fn) if tp + fn else math.nan,
        tp / (tp + fp) if tp + fp else math.nan,
    )


def confusion_views(labels, binary):
    """The challenge metric's confusion matrix A and the parts of it that tell mistakes apart.

    `A`: as metrics.challenge_score builds it (true x predicted, 1/|labels OR outputs| per
    record). `wrong`: the part of A from predicted classes the record does not have. `missed`:
    per true class, the 1/|labels OR outputs| of records where it was not predicted."""
    labels = np.asarray(labels, dtype=bool)
    binary = np.asarray(binary, dtype=bool)
    y, b = labels.astype(np.float64), binary.astype(np.float64)
    normalization = np.maximum(np.maximum(y, b).sum(axis=1), 1)[:, None]
    return {
        "A": metrics.challenge_confusion(labels, binary),
        "wrong": (y / normalization).T @ (b * (1 - y)),
        "missed": np.sum(y * (1 - b) / normalization, axis=0),
        "W": np.nan_to_num(label_space.WEIGHTS),
    }


def top_confusions(views, count=10):
    """The off-diagonal cells of `wrong` that cost most ((1 - W) x mass) and those forgiven
    most (W x mass): two lists of (true, predicted, mass, weight)."""
    wrong, weights = views["wrong"], views["W"]
    cells = [(j, k) for j in range(wrong.shape[0]) for k in range(wrong.shape[1]) if j != k and wrong[j, k] > 0]
    costly = sorted(cells, key=lambda c: -(1 - weights[c]) * wrong[c])
    forgiven = sorted((c for c in cells if weights[c] > 0), key=lambda c: -weights[c] * wrong[c])
    row = lambda c: (c[0], c[1], float(wrong[c]), float(weights[c]))  # noqa: E731
    return [row(c) for c in costly[:count]], [row(c) for c in forgiven[:count]]


# ---------------------------------------------------------------- one labelled set of outputs


@dataclass
class Scored:
    """Labelled outputs of one set of records (out-of-fold or test) and everything derived."""

    names: list
    labels: np.ndarray  # bool (records, classes)
    probabilities: np.ndarray  # float (records, classes)
    binary: np.ndarray  # bool, the outputs at the chosen thresholds
    thresholds: np.ndarray
    result: dict = field(init=False)
    by_source: dict = field(init=False)

    def __post_init__(self):
        self.result, self.by_source = scoring.evaluate_arrays(self.names, self.labels, self.binary, self.probabilities)

    def curves(self):
        return [class_curves(self.labels[:, k], self.probabilities[:, k]) for k in range(label_space.NUM_CLASSES)]

    def operating_points(self):
        return [operating_point(self.labels[:, k], self.binary[:, k]) for k in range(label_space.NUM_CLASSES)]

    def weight_share(self):
        return class_weight_share(self.labels)


def class_rows(result, thresholds=None, weight_share=None):
    """Per-class table rows from a metrics.evaluate result or an evaluate_model.py --json dict."""
    rows = []
    for j, code in enumerate(label_space.CLASSES):
        if isinstance(result.get("classes"), list):  # --json: a list of rows
            values = result["classes"][j]
        else:
            values = {key: column[j] for key, column in result["classes"].items()}
        get = values.get
        rows.append(
            {
                "index": j,
                "class": code,
                "abbreviation": label_space.ABBREVIATIONS[j],
                "positives": int(get("positives") or 0),
                "AUROC": number(get("AUROC")),
                "AUPRC": number(get("AUPRC")),
                "F-measure": number(get("F-measure")),
                "sensitivity": number(get("sensitivity")),
                "specificity": number(get("specificity")),
                "threshold": None if thresholds is None else float(thresholds[j]),
                "weight": None if weight_share is None else float(weight_share[j]),
            }
        )
    return rows


def summary_row(result):
    """The summary table's numbers of one metrics.evaluate result or --json dict."""
    return {name: number(result.get(name)) for name in metrics.ALL_METRIC_NAMES}


# ---------------------------------------------------------------- the MODEL folder


@dataclass
class ModelData:
    folder: str
    manifest: dict
    config: Config  # the checked config of model.json
    cv_report: dict
    thresholds: np.ndarray
    checkpoint_threshold: float
    step: float
    names: list
    folds: np.ndarray  # 1-based fold of each out-of-fold record
    probabilities: np.ndarray
    oof: Scored | None = None  # with the training labels
    oof_before: dict | None = None
    fold_results: list | None = None  # per fold: (before, after) metrics.evaluate results
    provenance: Provenance | None = None  # of the labels scored
    trained_names: list = field(default_factory=list)  # every out-of-fold (training) record


def load_model_data(model_folder, labels=None, label_overrides=None):
    """The MODEL folder's numbers; with `labels` (DATA or a mapping) the out-of-fold views,
    after `label_overrides` (an overrides file) where given (`training_labels.scored_labels`)."""
    folder = str(model_folder)
    if not os.path.isdir(folder):
        raise ReportError(f"model folder {folder} {'is not a folder' if os.path.exists(folder) else 'does not exist'}")
    path = os.path.join(folder, "model.json")
    manifest = _read_json(path, "model description (model.json; is training finished?)", shapes.MODEL_JSON)
    if manifest.get("format") != "ecgnet-model" or manifest.get("classes") != list(label_space.CLASSES):
        raise ReportError(f"{path} is not an ecgnet model of these classes")
    cv_report = _read_json(os.path.join(folder, "cv_report.json"), "cross-validation report", shapes.CV_REPORT)
    thresholds = manifest.get("thresholds")
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != label_space.NUM_CLASSES
        or not all(number_in(t, 0, 1) for t in thresholds)
    ):
        raise ReportError(f"{path}: thresholds must be {label_space.NUM_CLASSES} numbers from 0 to 1")
    thresholds = np.array(thresholds, dtype=np.float64)
    try:
        config = Config.from_saved(manifest.get("config"))
    except ConfigError as e:
        raise ReportError(f"{path}: {e}") from None
    # cv_report.json keeps the name `checkpoint_threshold`; model configs call it `uniform_threshold`.
    checkpoint_threshold = float(cv_report.get("checkpoint_threshold", config.uniform_threshold))
    from .. import modelstore  # imports torch: only once the cheap checks passed

    oof = modelstore.read_oof_probabilities(os.path.join(folder, "oof_probabilities.csv"))
    names, folds, probabilities = oof.names, oof.folds, oof.probabilities
    data = ModelData(
        folder,
        manifest,
        config,
        cv_report,
        thresholds,
        checkpoint_threshold,
        config.threshold_step,
        names,
        folds,
        probabilities,
    )
    data.trained_names = list(oof.names)
    if labels is not None:
        y, keep, data.provenance = scored_labels(labels, names, manifest, label_overrides)
        names, folds, probabilities, y = (
            [names[i] for i in np.flatnonzero(keep)],
            folds[keep],
            probabilities[keep],
            y[keep],
        )
        data.names, data.folds, data.probabilities = names, folds, probabilities
        fixed = np.full(label_space.NUM_CLASSES, checkpoint_threshold)
        before_binary = apply_thresholds(probabilities, fixed)
        data.oof = Scored(names, y, probabilities, apply_thresholds(probabilities, thresholds), thresholds)
        data.oof_before = metrics.evaluate(y, before_binary, probabilities)
        data.fold_results = []
        for fold in sorted(set(folds.tolist())):
            rows = folds == fold
            data.fold_results.append(
                (
                    metrics.evaluate(y[rows], before_binary[rows], probabilities[rows]),
                    metrics.evaluate(y[rows], data.oof.binary[rows], probabilities[rows]),
                )
            )
    return data


# ---------------------------------------------------------------- a test set


@dataclass
class TestSet:
    """A scored test set: `scores` (evaluate_model.py --json), and the label and output
    folders it was scored from (`labels`, `outputs`) for its curves. Give `scores`, or
    `labels` and `outputs` (the scores are then computed), or all three."""

    scores: str | None = None
    labels: str | None = None
    outputs: str | None = None


@dataclass
class TestData:
    scores: dict
    scored: Scored | None  # with labels and outputs


def load_test(test, thresholds):
    if isinstance(test, dict):
        test = TestSet(**test)
    if bool(test.labels) != bool(test.outputs):
        raise ReportError("the test set's curves need both its labels (LABELS folder) and its OUTPUTS folder")
    if not test.scores and not test.labels:
        raise ReportError("a test set needs its scores (evaluate_model.py --json FILE) or its labels and outputs")
    scored = None
    if test.labels:
        evaluation = scoring.evaluate_folders(test.labels, test.outputs)
        scored = Scored(
            evaluation.record_names, evaluation.labels, evaluation.outputs.scalar, evaluation.outputs.binary, thresholds
        )
    if test.scores:
        scores = _read_json(test.scores, "test scores file (evaluate_model.py --json)", shapes.SCORES)
        if [row.get("class") for row in scores["classes"]] != list(label_space.CLASSES):
            raise ReportError(f"{test.scores} is not the --json output of evaluate_model.py for these classes")
        if scored is not None and scores.get("records") != len(scored.names):
            raise ReportError(
                f"{test.scores} scores {scores.get('records')} records but {test.labels} and "
                f"{test.outputs} hold {len(scored.names)}: give the folders it was scored from"
            )
    else:
        assert scored is not None  # a test set without scores has labels and outputs (checked above)
        evaluation_like = scoring.Evaluation(
            scored.names,
            scored.labels,
            scoring.Outputs(scored.binary, scored.probabilities),
            scored.result,
            scored.by_source,
        )
        scores = scoring.evaluation_json(evaluation_like)
    return TestData(scores, scored)
