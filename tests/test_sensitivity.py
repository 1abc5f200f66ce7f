"""Sensitivity and specificity: `metrics.sensitivity_specificity`, `metrics.evaluate` and the
scorer's --json (top level, per class, per source), with the official CSV files unchanged.

Checked against a hand-computed case, a loop over records written from the definitions, and
scikit-learn's recall (specificity is the recall of the negatives)."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from ecgnet import labels as label_space
from ecgnet import metrics, scoring

C = label_space.CLASS_INDEX
N = label_space.NUM_CLASSES


def loop_sensitivity_specificity(labels, binary):
    """Per class from the definitions, one record at a time; NaN where undefined."""
    sensitivity, specificity = [], []
    for k in range(labels.shape[1]):
        tp = fp = fn = tn = 0
        for truth, output in zip(labels[:, k], binary[:, k]):
            if truth and output:
                tp += 1
            elif truth:
                fn += 1
            elif output:
                fp += 1
            else:
                tn += 1
        sensitivity.append(tp / (tp + fn) if tp + fn else math.nan)
        specificity.append(tn / (tn + fp) if tn + fp else math.nan)
    defined_sens = [x for x in sensitivity if not math.isnan(x)]
    defined_spec = [x for x in specificity if not math.isnan(x)]
    return (
        sensitivity,
        specificity,
        sum(defined_sens) / len(defined_sens) if defined_sens else math.nan,
        sum(defined_spec) / len(defined_spec) if defined_spec else math.nan,
    )


def test_hand_computed_case():
    labels = np.zeros((4, N), dtype=bool)
    binary = np.zeros((4, N), dtype=bool)
    labels[:, 0] = [1, 1, 0, 0]  # TP 1, FN 1, FP 1, TN 1: 1/2 and 1/2
    binary[:, 0] = [1, 0, 1, 0]
    labels[:, 1] = [1, 1, 1, 1]  # no negatives: sensitivity 3/4, specificity undefined
    binary[:, 1] = [1, 1, 1, 0]
    binary[:, 2] = [0, 1, 0, 0]  # no positives: sensitivity undefined, specificity 3/4
    sens, spec, macro_sens, macro_spec = metrics.sensitivity_specificity(labels, binary)
    assert sens[0] == 0.5 and sens[1] == 0.75 and np.isnan(sens[2:]).all()
    assert spec[0] == 0.5 and np.isnan(spec[1]) and spec[2] == 0.75 and (spec[3:] == 1).all()
    assert macro_sens == pytest.approx(0.625)
    assert macro_spec == pytest.approx((0.5 + 0.75 + 21) / 23)
    result = metrics.evaluate(labels, binary, binary.astype(float))
    assert result["Sensitivity"] == macro_sens and result["Specificity"] == macro_spec
    np.testing.assert_array_equal(result["classes"]["sensitivity"], sens)
    np.testing.assert_array_equal(result["classes"]["specificity"], spec)


def test_nothing_defined_gives_nan():
    labels = np.ones((3, N), dtype=bool)
    sens, spec, macro_sens, macro_spec = metrics.sensitivity_specificity(labels, labels)
    assert (sens == 1).all() and np.isnan(spec).all() and macro_sens == 1 and math.isnan(macro_spec)


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_loop_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    records = int(rng.integers(1, 60))
    labels = rng.random((records, N)) < rng.uniform(0.01, 0.5)
    binary = rng.random((records, N)) < rng.uniform(0.01, 0.5)
    if seed % 4 == 0:  # some classes never positive, some always
        labels[:, rng.integers(N, size=5)] = False
        labels[:, rng.integers(N, size=2)] = True
    sens, spec, macro_sens, macro_spec = metrics.sensitivity_specificity(labels, binary)
    want_sens, want_spec, want_macro_sens, want_macro_spec = loop_sensitivity_specificity(labels, binary)
    np.testing.assert_allclose(sens, want_sens, rtol=0, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(spec, want_spec, rtol=0, atol=1e-12, equal_nan=True)
    assert macro_sens == pytest.approx(want_macro_sens, abs=1e-12, nan_ok=True)
    assert macro_spec == pytest.approx(want_macro_spec, abs=1e-12, nan_ok=True)
    for k in range(N):
        y, b = labels[:, k], binary[:, k]
        expected_sens = recall_score(y, b, zero_division=np.nan) if y.any() else np.nan
        expected_spec = recall_score(~y, ~b, zero_division=np.nan) if (~y).any() else np.nan
        assert sens[k] == pytest.approx(expected_sens, abs=1e-12, nan_ok=True)
        assert spec[k] == pytest.approx(expected_spec, abs=1e-12, nan_ok=True)


def test_extra_names_stay_out_of_the_official_csv():
    assert "Sensitivity" not in metrics.METRIC_NAMES and "Specificity" not in metrics.METRIC_NAMES
    assert metrics.ALL_METRIC_NAMES == metrics.METRIC_NAMES + ("Sensitivity", "Specificity")
    rng = np.random.default_rng(3)
    labels, binary = rng.random((20, N)) < 0.2, rng.random((20, N)) < 0.2
    result = metrics.evaluate(labels, binary, rng.random((20, N)))
    assert scoring.scores_csv(result).splitlines()[0] == ",".join(metrics.METRIC_NAMES)
    assert [line.split(",")[0] for line in scoring.class_scores_csv(result).splitlines()] == [
        "Classes",
        "AUROC",
        "AUPRC",
        "F-measure",
    ]


# ---------------------------------------------------------------- through the folder scorer


def write_pair(labels_dir, outputs_dir, name, true_codes, predicted_codes):
    labels_dir.mkdir(exist_ok=True)
    outputs_dir.mkdir(exist_ok=True)
    (labels_dir / f"{name}.hea").write_text(f"{name} 12 500 5000\n#Age: 50\n#Sex: Male\n#Dx: {','.join(true_codes)}\n")
    codes = list(label_space.CLASSES)
    (outputs_dir / f"{name}.csv").write_text(
        f"#{name}\n"
        + ",".join(codes)
        + "\n"
        + ",".join("1" if c in predicted_codes else "0" for c in codes)
        + "\n"
        + ",".join("0.9" if c in predicted_codes else "0.1" for c in codes)
        + "\n"
    )


def test_json_has_them_at_every_level_with_equivalent_classes_merged(tmp_path):
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    AF, NSR, CRBBB, RBBB = "164889003", "426783006", "713427006", "59118001"
    # RBBB in a label is CRBBB's class: predicting CRBBB is a true positive.
    write_pair(labels_dir, outputs_dir, "A0001", [RBBB], [CRBBB])
    write_pair(labels_dir, outputs_dir, "A0002", [AF], [NSR])
    write_pair(labels_dir, outputs_dir, "E00001", [NSR], [NSR, AF])
    write_pair(labels_dir, outputs_dir, "E00002", [AF, RBBB], [AF])
    evaluation = scoring.evaluate_folders(str(labels_dir), str(outputs_dir))
    scoring.write_json(evaluation, tmp_path / "scores.json")
    data = json.loads((tmp_path / "scores.json").read_text())
    labels, binary = evaluation.labels, evaluation.outputs.binary
    sens, spec, macro_sens, macro_spec = loop_sensitivity_specificity(labels, binary)
    assert data["Sensitivity"] == pytest.approx(macro_sens) and data["Specificity"] == pytest.approx(macro_spec)
    rows = {row["abbreviation"]: row for row in data["classes"]}
    assert rows["CRBBB"]["sensitivity"] == 0.5 and rows["CRBBB"]["specificity"] == 1.0  # 1 of 2 found
    assert rows["AF"]["sensitivity"] == 0.5 and rows["AF"]["specificity"] == 0.5
    assert rows["NSR"]["sensitivity"] == 1.0 and rows["NSR"]["specificity"] == pytest.approx(2 / 3)
    assert rows["LBBB"]["sensitivity"] is None and rows["LBBB"]["specificity"] == 1.0  # no positives: null
    for k, row in enumerate(data["classes"]):
        assert (row["sensitivity"] is None) if math.isnan(sens[k]) else row["sensitivity"] == pytest.approx(sens[k])
        assert (row["specificity"] is None) if math.isnan(spec[k]) else row["specificity"] == pytest.approx(spec[k])
    for source, members in (("A", [0, 1]), ("E", [2, 3])):
        _, _, want_sens, want_spec = loop_sensitivity_specificity(labels[members], binary[members])
        assert data["sources"][source]["Sensitivity"] == pytest.approx(want_sens)
        assert data["sources"][source]["Specificity"] == pytest.approx(want_spec)
        assert "sensitivity" in data["sources"][source]["classes"][0]
    # The official files: the same header and rows as before.
    assert (
        scoring.scores_csv(evaluation.overall).splitlines()[0]
        == "AUROC,AUPRC,Accuracy,F-measure,Fbeta-measure,Gbeta-measure,Challenge metric"
    )
    assert len(scoring.class_scores_csv(evaluation.overall).splitlines()) == 4
