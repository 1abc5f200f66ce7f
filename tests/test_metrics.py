"""Tests of `ecgnet.metrics` against independent references.

The reference in reference_metrics.py follows the rules of the official 2020 scorer as
CHALLENGE2020.md and the docstrings describe them, with plain Python loops over records and
classes (no vectorisation, no shared code with the package). `ecgnet.metrics.evaluate` must agree
with it to 1e-9 on hundreds of random inputs, and both are checked on small cases computed by
hand. scikit-learn, written by others, is a second oracle where its definitions are the
challenge's (AUROC, AUPRC as average precision, F-measure, F-beta, subset accuracy).
"""

import math

import numpy as np
import pytest

from ecgnet import labels as label_space
from ecgnet import metrics

from reference_metrics import TOLERANCE, assert_same_results, ref_auc_one_class, reference_evaluate, same

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
    if style == 1:  # some classes with every record positive
        labels[:, rng.random(c) < 0.2] = True
    elif style == 2:  # many records normal-only
        normal_only = rng.random(n) < 0.5
        labels[normal_only] = False
        labels[normal_only, label_space.NORMAL_INDEX] = True
    elif style == 3:  # some records without any scored label
        labels[rng.random(n) < 0.3] = False

    binary_style = seed % 3
    if binary_style == 0:
        binary = rng.random((n, c)) < rng.uniform(0, 0.5)
    elif binary_style == 1:  # labels with some flips
        binary = labels ^ (rng.random((n, c)) < rng.uniform(0, 0.3))
    else:  # normal-only / empty outputs mixed with random ones
        binary = rng.random((n, c)) < 0.1
        binary[rng.random(n) < 0.5] = False
        binary[rng.random(n) < 0.3, label_space.NORMAL_INDEX] = True

    scalar_style = seed % 7
    if scalar_style == 0:
        scalar = rng.random((n, c))
    elif scalar_style == 1:
        scalar = np.round(rng.random((n, c)), 1)  # many ties
    elif scalar_style == 2:
        scalar = np.round(rng.random((n, c)), 2)
    elif scalar_style == 3:
        scalar = binary.astype(float)  # only two distinct values
    elif scalar_style == 4:
        scalar = rng.integers(0, 3, size=(n, c)).astype(float)
    elif scalar_style == 5:  # infinities and negatives
        scalar = np.round(rng.normal(size=(n, c)), 1)
        scalar[rng.random((n, c)) < 0.15] = np.inf
        scalar[rng.random((n, c)) < 0.15] = -np.inf
    else:  # informative, with ties
        scalar = np.round(np.clip(labels * 0.6 + rng.random((n, c)) * 0.5, 0, 1), 1)
    scalar[:, rng.random(c) < 0.1] = 0.5  # constant columns
    return labels, binary, scalar


@pytest.mark.parametrize("block", range(20))
def test_evaluate_equals_reference_on_random_inputs(block):
    for seed in range(block * 30, block * 30 + 30):  # 600 seeds in all
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
        weights[rng.random((c, c)) < 0.2] = np.nan  # nansum skips NaN weights
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
    assert_same_results(metrics.evaluate(labels, binary, scalar), reference_evaluate(labels, binary, scalar))


def test_evaluate_accepts_other_dtypes_and_rejects_no_records():
    labels, binary, scalar = random_case(11)
    expected = metrics.evaluate(labels, binary, scalar)
    result = metrics.evaluate(labels.astype(np.float32), binary.astype(int), scalar.astype(np.float32))
    assert_same_results(result, reference_evaluate(labels, binary, scalar.astype(np.float32)))
    assert same(result["Challenge metric"], expected["Challenge metric"])
    with pytest.raises(ValueError):
        metrics.evaluate(np.zeros((0, 24), bool), np.zeros((0, 24), bool), np.zeros((0, 24)))


# ---------------------------------------------------------------------------------------------
# scikit-learn: a second oracle, written by others
# ---------------------------------------------------------------------------------------------
# Where the challenge's definitions are scikit-learn's, the package must agree with it to 1e-9:
# - AUROC: the trapezoid area under (TPR, TNR) over the distinct outputs is the ROC area with
#   ties counted half, roc_auc_score. Defined only for a class with positives and negatives
#   (scikit-learn raises, the challenge gives NaN); compared on those classes.
# - AUPRC: sum over distinct outputs, descending, of (recall step) x precision there, which is
#   scikit-learn's average_precision_score, not the trapezoid area under the PR curve
#   (sklearn.metrics.auc(recall, precision)), which differs where precision changes between
#   points. Compared on classes with a positive: without one the challenge gives NaN and
#   scikit-learn 0 with a warning, a deliberate difference.
# - F-measure: f1_score per class, with zero_division=NaN for classes neither labelled nor
#   predicted (NaN in the challenge, skipped by its macro mean).
# - F-beta: fbeta_score (beta 2) per class with each record weighted 1 / its number of labels.
#   (G-beta and the challenge metric have no scikit-learn counterpart.)
# - Accuracy: accuracy_score of multi-label indicators is the fraction of records whose whole
#   label set is right, the challenge's accuracy.
# scikit-learn refuses infinite outputs; the areas depend only on the outputs' order and ties,
# so those inputs go to it as dense ranks per class, which keep both.


def sklearn_oracle(labels, binary, scalar):
    """Per-class AUROC, AUPRC, F-measure and F-beta and the accuracy, from scikit-learn."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from scipy.stats import rankdata

    labels, binary = labels.astype(int), binary.astype(int)
    if not np.isfinite(scalar).all():
        scalar = rankdata(scalar, method="dense", axis=0)
    c = labels.shape[1]
    positives, negatives = labels.any(axis=0), (1 - labels).any(axis=0)
    auroc, auprc = np.full(c, np.nan), np.full(c, np.nan)
    both = positives & negatives
    if both.any():
        auroc[both] = sklearn_metrics.roc_auc_score(labels[:, both], scalar[:, both], average=None)
    if positives.any():
        auprc[positives] = sklearn_metrics.average_precision_score(
            labels[:, positives], scalar[:, positives], average=None
        )
    f1 = sklearn_metrics.f1_score(labels, binary, average=None, zero_division=np.nan)
    per_record = 1.0 / np.maximum(labels.sum(axis=1), 1)
    f2 = sklearn_metrics.fbeta_score(
        labels, binary, beta=2, average=None, sample_weight=per_record, zero_division=np.nan
    )
    return {
        "AUROC": auroc,
        "AUPRC": auprc,
        "F-measure": f1,
        "Fbeta": f2,
        "Accuracy": sklearn_metrics.accuracy_score(labels, binary),
    }


def assert_agrees_with_sklearn(labels, binary, scalar, context=""):
    result = metrics.evaluate(labels, binary, scalar)
    oracle = sklearn_oracle(labels, binary, scalar)
    for name in ("AUROC", "AUPRC", "F-measure"):
        np.testing.assert_allclose(
            result["classes"][name], oracle[name], rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=f"{context} {name}"
        )
    with np.errstate(invalid="ignore"):
        f_beta = np.nanmean(oracle["Fbeta"]) if not np.isnan(oracle["Fbeta"]).all() else np.nan
    assert same(result["Fbeta-measure"], f_beta), (context, result["Fbeta-measure"], f_beta)
    assert same(result["Accuracy"], oracle["Accuracy"]), context
    return oracle


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("block", range(6))
def test_evaluate_agrees_with_sklearn_on_random_inputs(block):
    compared = 0
    for seed in range(block * 50, block * 50 + 50):  # 300 seeds, every style of random_case
        labels, binary, scalar = random_case(seed)
        oracle = assert_agrees_with_sklearn(labels, binary, scalar, f"seed {seed}")
        compared += np.isfinite(oracle["AUROC"]).sum()
    assert compared > 300  # the AUROC comparisons are not all skipped as undefined


@pytest.mark.parametrize("seed", range(20))
def test_evaluate_agrees_with_sklearn_on_large_continuous_inputs(seed):
    """Many records, few ties, informative outputs: the usual case of a trained model."""
    rng = np.random.default_rng(5000 + seed)
    n, c = int(rng.integers(50, 500)), label_space.NUM_CLASSES
    labels = rng.random((n, c)) < rng.uniform(0.01, 0.4, size=c)
    binary = labels ^ (rng.random((n, c)) < rng.uniform(0, 0.3))
    scalar = labels * rng.uniform(0, 1) + rng.random((n, c))
    if seed % 2:
        scalar = np.round(scalar, 2)  # ties
    assert_agrees_with_sklearn(labels, binary, scalar, f"seed {seed}")


def test_auprc_is_average_precision_not_the_trapezoid_area():
    """The deliberate difference above, on a hand case: labels 1,0,1, outputs .9,.8,.7.
    Points (recall, precision): (.5, 1), (.5, .5), (1, 2/3). Step sum: .5*1 + .5*2/3 = 5/6;
    the trapezoid area from (0, 1) is .5*1 + .5*(.5 + 2/3)/2 = 19/24."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    labels, scalar = np.array([[1], [0], [1]], bool), np.array([[0.9], [0.8], [0.7]])
    auprc = metrics.class_auc(labels, scalar)[1][0]
    assert auprc == pytest.approx(5 / 6, abs=1e-12)
    assert sklearn_metrics.average_precision_score(labels[:, 0], scalar[:, 0]) == pytest.approx(5 / 6, abs=1e-12)
    precision, recall, _ = sklearn_metrics.precision_recall_curve(labels[:, 0], scalar[:, 0])
    assert sklearn_metrics.auc(recall, precision) != pytest.approx(auprc, abs=1e-3)


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
    assert result["AUROC"] == pytest.approx(0.5)  # nanmean skips the NaNs
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
    labels[0, label_space.NORMAL_INDEX] ^= True  # make sure some class has a positive
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
    permuted = metrics.evaluate(
        labels[:, order],
        binary[:, order],
        scalar[:, order],
        w[np.ix_(order, order)],
        int(np.flatnonzero(order == label_space.NORMAL_INDEX)[0]),
    )
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
