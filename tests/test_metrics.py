"""Tests of `ecgnet.metrics` against an independent, deliberately simple reference.

The reference below follows the rules of the official 2020 scorer as CHALLENGE2020.md and the
docstrings describe them, with plain Python loops over records and classes (no vectorisation,
no shared code with the package). `ecgnet.metrics.evaluate` must agree with it to 1e-9 on
hundreds of random inputs, and both are checked on small cases computed by hand.
"""
import math

import numpy as np
import pytest

from ecgnet import labels as label_space
from ecgnet import metrics

NAN = float("nan")
TOLERANCE = 1e-9


# ---------------------------------------------------------------------------------------------
# Reference implementation (loops only)
# ---------------------------------------------------------------------------------------------

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
    tp_list, fp_list = [0], [0]                      # the point above the maximum
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
    column = lambda rows, k: [row[k] for row in rows]

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
        denominator = (1 + beta ** 2) * tp + fp + beta ** 2 * fn
        f_beta.append((1 + beta ** 2) * tp / denominator if denominator else NAN)
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
                if not math.isnan(product):   # nansum
                    total += product
        return total

    observed = challenge_score(binary)
    correct = challenge_score(labels)
    inactive = challenge_score([[1 if k == normal_index else 0 for k in range(c)] for _ in range(n)])
    challenge = (observed - inactive) / (correct - inactive) if correct != inactive else 0.0

    return {
        "AUROC": ref_nanmean(auroc), "AUPRC": ref_nanmean(auprc), "Accuracy": accuracy,
        "F-measure": ref_nanmean(f_measure), "Fbeta-measure": ref_nanmean(f_beta),
        "Gbeta-measure": ref_nanmean(g_beta), "Challenge metric": challenge,
        "classes": {"AUROC": auroc, "AUPRC": auprc, "F-measure": f_measure},
    }


def reference_evaluate(labels, binary, scalar, weights=None, normal_index=None):
    """The reference on numpy inputs (default: the package's 24 x 24 weights and normal class)."""
    weights = label_space.WEIGHTS if weights is None else weights
    normal_index = label_space.NORMAL_INDEX if normal_index is None else normal_index
    return ref_scores(np.asarray(labels, dtype=int).tolist(), np.asarray(binary, dtype=int).tolist(),
                      np.asarray(scalar, dtype=float).tolist(), np.asarray(weights, dtype=float).tolist(),
                      normal_index)


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


# ---------------------------------------------------------------------------------------------
# Random inputs
# ---------------------------------------------------------------------------------------------

def random_case(seed):
    """Random labels/binary/scalar over the 24 classes with the awkward cases mixed in."""
    rng = np.random.default_rng(seed)
    c = label_space.NUM_CLASSES
    n = int(rng.choice([1, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60]))
    density = rng.uniform(0, 0.5, size=c) * (rng.random(c) < 0.7)
    labels = rng.random((n, c)) < density
    style = seed % 4
    if style == 1:     # some classes with every record positive
        labels[:, rng.random(c) < 0.2] = True
    elif style == 2:   # many records normal-only
        normal_only = rng.random(n) < 0.5
        labels[normal_only] = False
        labels[normal_only, label_space.NORMAL_INDEX] = True
    elif style == 3:   # some records without any scored label
        labels[rng.random(n) < 0.3] = False

    binary_style = seed % 3
    if binary_style == 0:
        binary = rng.random((n, c)) < rng.uniform(0, 0.5)
    elif binary_style == 1:   # labels with some flips
        binary = labels ^ (rng.random((n, c)) < rng.uniform(0, 0.3))
    else:                     # normal-only / empty outputs mixed with random ones
        binary = rng.random((n, c)) < 0.1
        binary[rng.random(n) < 0.5] = False
        binary[rng.random(n) < 0.3, label_space.NORMAL_INDEX] = True

    scalar_style = seed % 7
    if scalar_style == 0:
        scalar = rng.random((n, c))
    elif scalar_style == 1:
        scalar = np.round(rng.random((n, c)), 1)            # many ties
    elif scalar_style == 2:
        scalar = np.round(rng.random((n, c)), 2)
    elif scalar_style == 3:
        scalar = binary.astype(float)                       # only two distinct values
    elif scalar_style == 4:
        scalar = rng.integers(0, 3, size=(n, c)).astype(float)
    elif scalar_style == 5:                                 # infinities and negatives
        scalar = np.round(rng.normal(size=(n, c)), 1)
        scalar[rng.random((n, c)) < 0.15] = np.inf
        scalar[rng.random((n, c)) < 0.15] = -np.inf
    else:                                                   # informative, with ties
        scalar = np.round(np.clip(labels * 0.6 + rng.random((n, c)) * 0.5, 0, 1), 1)
    scalar[:, rng.random(c) < 0.1] = 0.5                    # constant columns
    return labels, binary, scalar


@pytest.mark.parametrize("block", range(20))
def test_evaluate_equals_reference_on_random_inputs(block):
    for seed in range(block * 30, block * 30 + 30):   # 600 seeds in all
        labels, binary, scalar = random_case(seed)
        result = metrics.evaluate(labels, binary, scalar)
        expected = reference_evaluate(labels, binary, scalar)
        assert_same_results(result, expected, f"seed {seed}")
        assert result["records"] == labels.shape[0]
        np.testing.assert_array_equal(result["classes"]["positives"], labels.sum(axis=0))
        np.testing.assert_array_equal(result["classes"]["predicted positives"], binary.sum(axis=0))
        np.testing.assert_array_equal(result["classes"]["true positives"], (labels & binary).sum(axis=0))


@pytest.mark.parametrize("seed", range(100))
def test_evaluate_equals_reference_with_other_weights(seed):
    """Any weight matrix and normal class (few classes, so the challenge metric's corners show)."""
    rng = np.random.default_rng(1000 + seed)
    c = int(rng.integers(1, 6))
    n = int(rng.integers(1, 12))
    weights = np.round(rng.random((c, c)), 2)
    if seed % 5 == 0:
        weights[rng.random((c, c)) < 0.2] = np.nan          # nansum skips NaN weights
    normal_index = int(rng.integers(0, c))
    labels = rng.random((n, c)) < 0.4
    binary = rng.random((n, c)) < 0.4
    scalar = np.round(rng.random((n, c)), 1)
    result = metrics.evaluate(labels, binary, scalar, weights, normal_index)
    expected = reference_evaluate(labels, binary, scalar, weights, normal_index)
    assert_same_results(result, expected, f"seed {seed}")


def test_large_random_input():
    rng = np.random.default_rng(7)
    n, c = 400, label_space.NUM_CLASSES
    labels = rng.random((n, c)) < rng.uniform(0, 0.3, size=c)
    binary = labels ^ (rng.random((n, c)) < 0.1)
    scalar = np.round(np.clip(labels * 0.3 + rng.random((n, c)) * 0.7, 0, 1), 2)
    assert_same_results(metrics.evaluate(labels, binary, scalar),
                        reference_evaluate(labels, binary, scalar))


def test_evaluate_accepts_other_dtypes_and_rejects_no_records():
    labels, binary, scalar = random_case(11)
    expected = metrics.evaluate(labels, binary, scalar)
    result = metrics.evaluate(labels.astype(np.float32), binary.astype(int), scalar.astype(np.float32))
    assert_same_results(result, reference_evaluate(labels, binary, scalar.astype(np.float32)))
    assert same(result["Challenge metric"], expected["Challenge metric"])
    with pytest.raises(ValueError):
        metrics.evaluate(np.zeros((0, 24), bool), np.zeros((0, 24), bool), np.zeros((0, 24)))


# ---------------------------------------------------------------------------------------------
# Hand-computed cases
# ---------------------------------------------------------------------------------------------

def test_hand_auroc_auprc_with_ties():
    # One class, 4 records: labels 1,0,1,0; outputs 0.8,0.8,0.3,0.1 (a tie at 0.8).
    # threshold  TP FP  TPR TNR  PPV
    #  > 0.8      0  0   0   1   nan
    #  0.8        1  1  .5  .5   .5
    #  0.3        2  1   1  .5   2/3
    #  0.1        2  2   1   0   .5
    # AUROC = .5*.5*(1+.5) + .5*.5*(.5+.5) + 0 = .375 + .25 = .625
    #   (pairwise check: (0.8,0.8) tie .5, (0.8,0.1) 1, (0.3,0.8) 0, (0.3,0.1) 1 -> 2.5/4)
    # AUPRC = .5*.5 + .5*(2/3) + 0*.5 = 7/12
    labels = np.array([[1], [0], [1], [0]], bool)
    scalar = np.array([[0.8], [0.8], [0.3], [0.1]])
    auroc, auprc = metrics.class_auc(labels, scalar)
    assert auroc[0] == pytest.approx(0.625, abs=1e-12)
    assert auprc[0] == pytest.approx(7 / 12, abs=1e-12)
    assert ref_auc_one_class([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.1]) == pytest.approx((0.625, 7 / 12), abs=1e-12)


def test_hand_auc_all_tied_and_undefined():
    # Labels 1,0,1 with one shared output: points (TPR 0, TNR 1) and (1, 0):
    # AUROC = .5 * 1 * (0 + 1) = .5; AUPRC = 1 * 2/3.
    # Second class: no positives -> both undefined (NaN). Third: no negatives -> AUROC NaN,
    # AUPRC: outputs .9, .2, .2 -> points TPR 1/3 (PPV 1), 1 (PPV 1) -> 1.
    labels = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1]], bool)
    scalar = np.array([[0.5, 0.1, 0.9], [0.5, 0.7, 0.2], [0.5, 0.7, 0.2]])
    auroc, auprc = metrics.class_auc(labels, scalar)
    assert auroc[0] == pytest.approx(0.5) and auprc[0] == pytest.approx(2 / 3)
    assert math.isnan(auroc[1]) and math.isnan(auprc[1])
    assert math.isnan(auroc[2]) and auprc[2] == pytest.approx(1.0)
    result = metrics.evaluate(labels, labels, scalar, np.eye(3), 0)
    assert result["AUROC"] == pytest.approx(0.5)               # nanmean skips the NaNs
    assert result["AUPRC"] == pytest.approx((2 / 3 + 1) / 2)


def test_hand_auc_perfectly_wrong_and_infinite():
    # Positives get the lowest outputs: AUROC 0; AUPRC: thresholds inf (FP), 1 (FP), -inf (both
    # positives): TPR 0, 0, 1 with PPV at the last point 2/4 -> AUPRC .5.
    labels = np.array([[0], [0], [1], [1]], bool)
    scalar = np.array([[np.inf], [1.0], [-np.inf], [-np.inf]])
    auroc, auprc = metrics.class_auc(labels, scalar)
    assert auroc[0] == pytest.approx(0.0, abs=1e-12)
    assert auprc[0] == pytest.approx(0.5)
    assert (auroc[0], auprc[0]) == pytest.approx(ref_auc_one_class([0, 0, 1, 1], [np.inf, 1.0, -np.inf, -np.inf]))


def test_hand_f_measures_and_challenge_metric_with_partial_credit():
    # Classes N (normal, index 0), X, Y; weights W[N,X]=.5, W[X,Y]=.25, W[N,Y]=0.
    #   record  labels  outputs  |labels OR outputs|  1/|labels|
    #   r1      {X}     {Y}      2                    1
    #   r2      {X,Y}   {X}      2                    1/2
    #   r3      {N}     {N,X}    2                    1
    # observed A: A[X,Y]=.5 (r1); A[X,X]=.5, A[Y,X]=.5 (r2); A[N,N]=.5, A[N,X]=.5 (r3)
    #   score = .25*.5 + 1*.5 + .25*.5 + 1*.5 + .5*.5 = 1.5
    # correct: r1 1; r2 (A[X,X]+A[X,Y]+A[Y,X]+A[Y,Y]=.5 each) .5+.125+.125+.5 = 1.25; r3 1 -> 3.25
    # inactive (outputs {N}): r1 W[X,N]*1/2 = .25; r2 (W[X,N]+W[Y,N])/3 = 1/6; r3 1 -> 17/12
    # challenge = (18/12 - 17/12) / (39/12 - 17/12) = 1/22
    # F-measure: N tp1 -> 1; X tp1 fp1 fn1 -> 2/4; Y fp1 fn1 -> 0; macro .5
    # F2/G2 with record weights 1, 1/2, 1: N tp1 -> F2 1, G2 1; X tp.5 fp1 fn1 -> F2 2.5/7.5,
    #   G2 .5/3.5; Y fp1 fn.5 -> 0, 0.  macro F2 = 4/9, G2 = 8/21.  Accuracy 0.
    w = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]])
    labels = np.array([[0, 1, 0], [0, 1, 1], [1, 0, 0]], bool)
    binary = np.array([[0, 0, 1], [0, 1, 0], [1, 1, 0]], bool)
    scalar = binary.astype(float)
    result = metrics.evaluate(labels, binary, scalar, w, 0)
    assert result["Challenge metric"] == pytest.approx(1 / 22, abs=1e-12)
    assert metrics.challenge_score(labels, binary, w) == pytest.approx(1.5)
    assert metrics.challenge_score(labels, labels, w) == pytest.approx(3.25)
    assert result["F-measure"] == pytest.approx(0.5)
    np.testing.assert_allclose(result["classes"]["F-measure"], [1, 0.5, 0])
    assert result["Fbeta-measure"] == pytest.approx(4 / 9, abs=1e-12)
    assert result["Gbeta-measure"] == pytest.approx(8 / 21, abs=1e-12)
    assert result["Accuracy"] == 0.0
    assert_same_results(result, reference_evaluate(labels, binary, scalar, w, 0))


def test_hand_case_with_the_official_weights():
    # 2 records, class AF only: r1 labels {AF} outputs {AF}; r2 labels {AF} outputs {}.
    # W[AF,AF] = 1, W[AF,normal] = .25.
    # observed = 1 (r1; r2 contributes nothing); correct = 2;
    # inactive: each record {AF} vs {normal}, |union| 2 -> 2 * .25 * 1/2 = .25
    # challenge = (1 - .25) / (2 - .25) = 3/7.  F-measure AF: tp1 fn1 -> 2/3 (other classes
    # undefined); F2 = 5/(5+4) = 5/9; G2 = 1/(1+2) = 1/3; accuracy 1/2.
    # Outputs .9 / .4 on AF: AUROC undefined (no negatives), AUPRC: TPR .5 (PPV 1), 1 (PPV 1) -> 1.
    af = label_space.CLASS_INDEX["164889003"]
    labels = np.zeros((2, 24), bool)
    labels[:, af] = True
    binary = np.zeros((2, 24), bool)
    binary[0, af] = True
    scalar = np.zeros((2, 24))
    scalar[:, af] = [0.9, 0.4]
    result = metrics.evaluate(labels, binary, scalar)
    assert result["Challenge metric"] == pytest.approx(3 / 7, abs=1e-12)
    assert result["F-measure"] == pytest.approx(2 / 3)
    assert result["Fbeta-measure"] == pytest.approx(5 / 9)
    assert result["Gbeta-measure"] == pytest.approx(1 / 3)
    assert result["Accuracy"] == 0.5
    assert math.isnan(result["AUROC"])
    assert result["AUPRC"] == pytest.approx(1.0)
    assert_same_results(result, reference_evaluate(labels, binary, scalar))


def test_hand_case_two_records_three_classes_official_weights():
    # Classes AF (a), AFL (b), normal (n) of the official table: W[a,b] = .5, W[a,n] = .25,
    # W[b,n] = W[n,b] (read below, checked symmetric).
    #   r1 labels {a}   outputs {b}   -> A[a,b] += 1/2
    #   r2 labels {n}   outputs {n,a} -> A[n,n] += 1/2, A[n,a] += 1/2
    # observed = .5*.5 + .5*1 + .5*.25 = .875; correct = 1 + 1 = 2;
    # inactive: r1 {a} vs {n} -> .25/2 = .125; r2 -> 1; total 1.125
    # challenge = (.875 - 1.125) / (2 - 1.125) = -.25/.875 = -2/7
    i = label_space.CLASS_INDEX
    a, b, n = i["164889003"], i["164890007"], i["426783006"]
    w = label_space.WEIGHTS
    assert (w[a, b], w[a, n], w[n, a]) == (0.5, 0.25, 0.25)
    labels = np.zeros((2, 24), bool)
    binary = np.zeros((2, 24), bool)
    labels[0, a] = binary[0, b] = True
    labels[1, n] = binary[1, n] = binary[1, a] = True
    result = metrics.evaluate(labels, binary, np.zeros((2, 24)))
    assert result["Challenge metric"] == pytest.approx(-2 / 7, abs=1e-12)
    # F-measure: a fn1 fp1 -> 0; b fp1 -> 0; n tp1 -> 1; macro 1/3.
    assert result["F-measure"] == pytest.approx(1 / 3)


def test_challenge_metric_zero_when_references_tie():
    # Every record normal-only: "correct" and "inactive" both score 1 per record -> metric 0,
    # whatever the outputs.
    n = label_space.NORMAL_INDEX
    labels = np.zeros((3, 24), bool)
    labels[:, n] = True
    for binary in (labels.copy(), ~labels, np.zeros_like(labels)):
        assert metrics.challenge_metric(labels, binary) == 0.0
        assert reference_evaluate(labels, binary, np.zeros((3, 24)))["Challenge metric"] == 0.0
    # No scored labels at all: both references score 0.
    assert metrics.challenge_metric(np.zeros((2, 24), bool), np.ones((2, 24), bool)) == 0.0


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_perfect_outputs(seed):
    labels, _, _ = random_case(seed)
    labels[0, label_space.NORMAL_INDEX] ^= True      # make sure some class has a positive
    for scalar in (labels.astype(float), labels * 0.7 + 0.1):
        result = metrics.evaluate(labels, labels, scalar)
        has_positive = labels.any(axis=0)
        has_negative = (~labels).any(axis=0)
        both = has_positive & has_negative
        assert result["Accuracy"] == 1.0
        for name in ("F-measure", "Fbeta-measure", "Gbeta-measure", "AUPRC"):
            assert result[name] == pytest.approx(1.0, abs=1e-12), name
        np.testing.assert_allclose(result["classes"]["AUPRC"][has_positive], 1.0)
        np.testing.assert_allclose(result["classes"]["F-measure"][has_positive], 1.0)
        np.testing.assert_allclose(result["classes"]["AUROC"][both], 1.0)
        assert np.isnan(result["classes"]["AUROC"][~both]).all()
        if both.any():
            assert result["AUROC"] == pytest.approx(1.0)
        labelled = labels.any(axis=1)
        normal_only = labels[:, label_space.NORMAL_INDEX] & (labels.sum(axis=1) == 1)
        if (labelled & ~normal_only).any():
            assert result["Challenge metric"] == pytest.approx(1.0, abs=1e-12)
        else:
            assert result["Challenge metric"] == 0.0


@pytest.mark.parametrize("seed", range(12))
def test_normal_only_outputs_score_zero(seed):
    labels, _, scalar = random_case(seed)
    binary = np.zeros_like(labels)
    binary[:, label_space.NORMAL_INDEX] = True
    assert metrics.evaluate(labels, binary, scalar)["Challenge metric"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_class_permutation_permutes_per_class_values(seed):
    labels, binary, scalar = random_case(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(24)
    w = label_space.WEIGHTS
    result = metrics.evaluate(labels, binary, scalar)
    permuted = metrics.evaluate(labels[:, order], binary[:, order], scalar[:, order],
                                w[np.ix_(order, order)], int(np.flatnonzero(order == label_space.NORMAL_INDEX)[0]))
    for name in metrics.METRIC_NAMES:
        assert same(result[name], permuted[name]), name
    for name in ("AUROC", "AUPRC", "F-measure"):
        np.testing.assert_allclose(result["classes"][name][order], permuted["classes"][name], equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_record_order_does_not_matter(seed):
    labels, binary, scalar = random_case(seed + 100)
    order = np.random.default_rng(seed).permutation(labels.shape[0])
    a = metrics.evaluate(labels, binary, scalar)
    b = metrics.evaluate(labels[order], binary[order], scalar[order])
    for name in metrics.METRIC_NAMES:
        assert same(a[name], b[name]), name


def test_monotone_transform_of_scalars_keeps_auc():
    labels, binary, scalar = random_case(21)
    a = metrics.evaluate(labels, binary, scalar)
    b = metrics.evaluate(labels, binary, scalar * 3 - 7)
    assert same(a["AUROC"], b["AUROC"]) and same(a["AUPRC"], b["AUPRC"])
