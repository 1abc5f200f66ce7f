"""The 2020 challenge metrics, vectorised, with the official scorer's exact definitions.

Inputs are arrays over (records, classes): `labels` and `binary` are boolean, `scalar` is
float. Per-class values that the official scorer leaves undefined are NaN and are skipped by
the macro averages (nanmean), as there.
"""

import warnings

import numpy as np

from . import labels as label_space


def _nanmean(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN gives NaN, as officially
        return float(np.nanmean(values))


def _divide(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1), np.nan)


def class_auc(labels, scalar):
    """Per-class AUROC and AUPRC over the distinct output values, as the official scorer.

    AUROC is the trapezoid area under TNR over TPR and AUPRC the step sum of precision over
    recall, with thresholds at every distinct value of the class's outputs."""
    num_records, num_classes = labels.shape
    auroc = np.empty(num_classes)
    auprc = np.empty(num_classes)
    for k in range(num_classes):
        order = np.argsort(-scalar[:, k], kind="stable")
        values = scalar[order, k]
        positive = labels[order, k].astype(np.float64)
        # Counts at a threshold include every record with an output >= it: the last record
        # of each run of equal values closes a threshold.
        last = np.r_[values[1:] != values[:-1], True]
        tp = np.r_[0.0, np.cumsum(positive)[last]]
        fp = np.r_[0.0, np.cumsum(1.0 - positive)[last]]
        num_positive, num_negative = tp[-1], fp[-1]
        tpr = tp / num_positive if num_positive else np.full(tp.shape, np.nan)
        tnr = (num_negative - fp) / num_negative if num_negative else np.full(fp.shape, np.nan)
        ppv = _divide(tp, tp + fp)
        auroc[k] = np.sum(0.5 * np.diff(tpr) * (tnr[1:] + tnr[:-1]))
        auprc[k] = np.sum(np.diff(tpr) * ppv[1:])
    return auroc, auprc


def accuracy(labels, binary):
    """Fraction of records whose whole label set is predicted exactly."""
    return float(np.mean(np.all(labels == binary, axis=1)))


def confusion_counts(labels, binary, weights=None):
    """Per-class (tp, fp, fn, tn), each record counted with weight `weights` (default 1)."""
    w = np.ones(labels.shape[0]) if weights is None else weights
    labels = labels.astype(np.float64)
    binary = binary.astype(np.float64)
    tp = w @ (labels * binary)
    fp = w @ ((1 - labels) * binary)
    fn = w @ (labels * (1 - binary))
    tn = w @ ((1 - labels) * (1 - binary))
    return tp, fp, fn, tn


def class_f_measure(labels, binary):
    tp, fp, fn, _ = confusion_counts(labels, binary)
    return _divide(2 * tp, 2 * tp + fp + fn)


def sensitivity_specificity(labels, binary):
    """Per-class sensitivity TP / (TP + FN) and specificity TN / (TN + FP), NaN where a class
    has no positives (sensitivity) or no negatives (specificity), and their macro averages over
    the classes where each is defined: (sensitivity, specificity, macro_sens, macro_spec)."""
    tp, fp, fn, tn = confusion_counts(np.asarray(labels, dtype=bool), np.asarray(binary, dtype=bool))
    sensitivity = _divide(tp, tp + fn)
    specificity = _divide(tn, tn + fp)
    return sensitivity, specificity, _nanmean(sensitivity), _nanmean(specificity)


def beta_measures(labels, binary, beta=2):
    """Macro F-beta and G-beta; each record counts 1 / (its number of labels, at least 1)."""
    per_record = 1.0 / np.maximum(labels.sum(axis=1), 1)
    tp, fp, fn, _ = confusion_counts(labels, binary, per_record)
    f_beta = _divide((1 + beta**2) * tp, (1 + beta**2) * tp + fp + beta**2 * fn)
    g_beta = _divide(tp, tp + fp + beta * fn)
    return _nanmean(f_beta), _nanmean(g_beta)


def challenge_score(labels, binary, weights):
    """Unnormalised challenge score: sum of W * A, where A[j, k] gains 1 / |labels OR outputs|
    of each record for each true class j and predicted class k."""
    labels = labels.astype(np.float64)
    binary = binary.astype(np.float64)
    normalization = np.maximum(np.sum(np.maximum(labels, binary), axis=1), 1)
    confusion = (labels / normalization[:, None]).T @ binary
    return float(np.nansum(weights * confusion))


def challenge_confusion(labels, binary):
    """The matrix A of `challenge_score` (true class x predicted class): each record adds
    1 / |labels OR outputs| to A[j, k] for every true class j and predicted class k."""
    labels = np.asarray(labels, dtype=np.float64)
    binary = np.asarray(binary, dtype=np.float64)
    normalization = np.maximum(np.sum(np.maximum(labels, binary), axis=1), 1)
    return (labels / normalization[:, None]).T @ binary


def challenge_metric(labels, binary, weights=None, normal_index=None):
    """The normalised challenge metric: 1 for the true labels, 0 for normal-only outputs.
    0 when those two references score the same (as the official scorer)."""
    weights = label_space.WEIGHTS if weights is None else weights
    normal_index = label_space.NORMAL_INDEX if normal_index is None else normal_index
    labels = np.asarray(labels, dtype=bool)
    inactive = np.zeros_like(labels)
    inactive[:, normal_index] = True
    observed = challenge_score(labels, binary, weights)
    correct = challenge_score(labels, labels, weights)
    baseline = challenge_score(labels, inactive, weights)
    if correct == baseline:
        return 0.0
    return float(observed - baseline) / float(correct - baseline)


METRIC_NAMES = ("AUROC", "AUPRC", "Accuracy", "F-measure", "Fbeta-measure", "Gbeta-measure", "Challenge metric")
# Not in the official scorer's files (SCORES_CSV keeps METRIC_NAMES): evaluate() and --json add them.
EXTRA_METRIC_NAMES = ("Sensitivity", "Specificity")
ALL_METRIC_NAMES = METRIC_NAMES + EXTRA_METRIC_NAMES


def evaluate(labels, binary, scalar, weights=None, normal_index=None):
    """Every metric of the official scorer, plus a per-class table.

    Returns a dict: the seven metrics under their official names, macro `Sensitivity` and
    `Specificity` (EXTRA_METRIC_NAMES), and `classes`, a dict of per-class arrays (AUROC, AUPRC,
    F-measure, sensitivity, specificity, positives, predicted and true positives), and
    `records`, the number of records."""
    labels = np.asarray(labels, dtype=bool)
    binary = np.asarray(binary, dtype=bool)
    scalar = np.asarray(scalar, dtype=np.float64)
    if labels.shape[0] == 0:
        raise ValueError("no records to evaluate")
    auroc, auprc = class_auc(labels, scalar)
    f_measure = class_f_measure(labels, binary)
    f_beta, g_beta = beta_measures(labels, binary)
    sensitivity, specificity, macro_sensitivity, macro_specificity = sensitivity_specificity(labels, binary)
    return {
        "AUROC": _nanmean(auroc),
        "AUPRC": _nanmean(auprc),
        "Accuracy": accuracy(labels, binary),
        "F-measure": _nanmean(f_measure),
        "Fbeta-measure": f_beta,
        "Gbeta-measure": g_beta,
        "Challenge metric": challenge_metric(labels, binary, weights, normal_index),
        "Sensitivity": macro_sensitivity,
        "Specificity": macro_specificity,
        "classes": {
            "AUROC": auroc,
            "AUPRC": auprc,
            "F-measure": f_measure,
            "sensitivity": sensitivity,
            "specificity": specificity,
            "positives": labels.sum(axis=0),
            "predicted positives": binary.sum(axis=0),
            "true positives": (labels & binary).sum(axis=0),
        },
        "records": labels.shape[0],
    }
