"""Loop-based reference implementation of the 2020 challenge metrics, for the tests.

It follows the rules of the official 2020 scorer as CHALLENGE2020.md and the docstrings describe
them, with plain Python loops over records and classes (no vectorisation, no shared code with
`ecgnet.metrics`). test_metrics.py checks the package against it (and both against scikit-learn
where their definitions meet); test_scoring.py runs the arrays its reference file reader builds
through it.
"""

import math

import numpy as np

from ecgnet import labels as label_space
from ecgnet import metrics

NAN = float("nan")
TOLERANCE = 1e-9


def ref_nanmean(values):
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else NAN


def ref_auc_one_class(truth, scores):
    """AUROC and AUPRC of one class: thresholds at one point above the maximum output (where
    nothing is predicted positive) and then at every distinct output value, descending; a
    record is predicted positive at threshold t when its output is >= t."""
    positives = sum(1 for y in truth if y)
    negatives = len(truth) - positives
    thresholds = sorted(set(scores), reverse=True)
    tp_list, fp_list = [0], [0]  # the point above the maximum
    for t in thresholds:
        tp = fp = 0
        for y, s in zip(truth, scores):
            if s >= t:
                if y:
                    tp += 1
                else:
                    fp += 1
        tp_list.append(tp)
        fp_list.append(fp)
    tpr, tnr, ppv = [], [], []
    for tp, fp in zip(tp_list, fp_list):
        fn = positives - tp
        tn = negatives - fp
        tpr.append(tp / (tp + fn) if tp + fn else NAN)
        tnr.append(tn / (tn + fp) if tn + fp else NAN)
        ppv.append(tp / (tp + fp) if tp + fp else NAN)
    auroc = 0.0
    auprc = 0.0
    for j in range(len(tpr) - 1):
        auroc += 0.5 * (tpr[j + 1] - tpr[j]) * (tnr[j + 1] + tnr[j])
        auprc += (tpr[j + 1] - tpr[j]) * ppv[j + 1]
    return auroc, auprc


def ref_scores(labels, binary, scalar, weights, normal_index):
    """Every metric; `labels`, `binary` lists of lists of 0/1, `scalar` list of lists of floats,
    `weights` list of lists. Returns a dict like metrics.evaluate (per-class lists)."""
    n = len(labels)
    c = len(labels[0])

    def column(rows, k):
        return [row[k] for row in rows]

    auroc, auprc = [], []
    for k in range(c):
        a, p = ref_auc_one_class(column(labels, k), column(scalar, k))
        auroc.append(a)
        auprc.append(p)

    correct_records = 0
    for i in range(n):
        if all(bool(labels[i][k]) == bool(binary[i][k]) for k in range(c)):
            correct_records += 1
    accuracy = correct_records / n

    f_measure = []
    for k in range(c):
        tp = fp = fn = 0
        for i in range(n):
            if labels[i][k] and binary[i][k]:
                tp += 1
            elif binary[i][k]:
                fp += 1
            elif labels[i][k]:
                fn += 1
        f_measure.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else NAN)

    beta = 2
    f_beta, g_beta = [], []
    for k in range(c):
        tp = fp = fn = 0.0
        for i in range(n):
            weight = 1.0 / max(sum(1 for x in labels[i] if x), 1)
            if labels[i][k] and binary[i][k]:
                tp += weight
            elif binary[i][k]:
                fp += weight
            elif labels[i][k]:
                fn += weight
        denominator = (1 + beta**2) * tp + fp + beta**2 * fn
        f_beta.append((1 + beta**2) * tp / denominator if denominator else NAN)
        denominator = tp + fp + beta * fn
        g_beta.append(tp / denominator if denominator else NAN)

    def challenge_score(outputs):
        a = [[0.0] * c for _ in range(c)]
        for i in range(n):
            union = sum(1 for k in range(c) if labels[i][k] or outputs[i][k])
            normalization = max(union, 1)
            for j in range(c):
                if labels[i][j]:
                    for k in range(c):
                        if outputs[i][k]:
                            a[j][k] += 1.0 / normalization
        total = 0.0
        for j in range(c):
            for k in range(c):
                product = weights[j][k] * a[j][k]
                if not math.isnan(product):  # nansum
                    total += product
        return total

    observed = challenge_score(binary)
    correct = challenge_score(labels)
    inactive = challenge_score([[1 if k == normal_index else 0 for k in range(c)] for _ in range(n)])
    challenge = (observed - inactive) / (correct - inactive) if correct != inactive else 0.0

    return {
        "AUROC": ref_nanmean(auroc),
        "AUPRC": ref_nanmean(auprc),
        "Accuracy": accuracy,
        "F-measure": ref_nanmean(f_measure),
        "Fbeta-measure": ref_nanmean(f_beta),
        "Gbeta-measure": ref_nanmean(g_beta),
        "Challenge metric": challenge,
        "classes": {"AUROC": auroc, "AUPRC": auprc, "F-measure": f_measure},
    }


def reference_evaluate(labels, binary, scalar, weights=None, normal_index=None):
    """The reference on numpy inputs (default: the package's 24 x 24 weights and normal class)."""
    weights = label_space.WEIGHTS if weights is None else weights
    normal_index = label_space.NORMAL_INDEX if normal_index is None else normal_index
    return ref_scores(
        np.asarray(labels, dtype=int).tolist(),
        np.asarray(binary, dtype=int).tolist(),
        np.asarray(scalar, dtype=float).tolist(),
        np.asarray(weights, dtype=float).tolist(),
        normal_index,
    )


def same(a, b, tolerance=TOLERANCE):
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tolerance


def assert_same_results(result, expected, context=""):
    for name in metrics.METRIC_NAMES:
        assert same(result[name], expected[name]), (context, name, result[name], expected[name])
    for name in ("AUROC", "AUPRC", "F-measure"):
        got, want = result["classes"][name], expected["classes"][name]
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            assert same(g, w), (context, name, k, g, w)
