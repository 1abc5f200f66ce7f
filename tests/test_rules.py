"""The rule reader: the criteria on measurement rows, `ecgnet rules` (kappa against
scikit-learn's), the audit's rule column and the paper's sample read by rule, `relabel
--from-rules`."""

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from ecgnet import labels as label_space
from ecgnet.cli import review as commands
from ecgnet.measure import criteria
from ecgnet.measure.table import MEASUREMENTS_FILE, read_measurements
from ecgnet.review import rules
from ecgnet.review.audit import read_issues
from ecgnet.synthetic import WaveTruth, truth_signal, write_record

LAD = "39732003"


def row(**values):
    base = dict.fromkeys(("heart_rate_bpm", "rr_sd_ms", "pr_ms", "p_axis_deg", "qrs_ms", "qrs_axis_deg"))
    base.update(quality="ok", qtc_fridericia_ms=None, qrs_amp_limb_mv=None)
    base.update(values)
    return base


def test_rate_criteria_need_sinus_rhythm_where_the_class_says_sinus():
    sinus_slow = row(heart_rate_bpm=52.0, pr_ms=160.0, p_axis_deg=50.0, rr_sd_ms=20.0)
    af_slow = row(heart_rate_bpm=52.0, rr_sd_ms=180.0)  # no P waves, irregular
    hidden_p = row(heart_rate_bpm=52.0, rr_sd_ms=10.0)  # no P waves, regular: cannot tell
    v = {name: criteria.verdicts(r) for name, r in (("sinus", sinus_slow), ("af", af_slow), ("hidden", hidden_p))}
    assert v["sinus"]["426177001"] == 1 and v["af"]["426177001"] == 0 and v["hidden"]["426177001"] is None
    assert v["sinus"]["426627000"] == v["af"]["426627000"] == v["hidden"]["426627000"] == 1  # bradycardia: any rhythm
    assert v["sinus"]["427084000"] == 0 and v["sinus"]["426783006"] == 0
    assert criteria.verdicts(row(heart_rate_bpm=None))["426177001"] is None
    assert criteria.verdicts(row(heart_rate_bpm=52.0, pr_ms=160.0, p_axis_deg=-60.0))["426177001"] == 0  # ectopic P


@pytest.mark.parametrize(
    "axis, lad, rad, lafb",
    [(-30.0, 0, 0, 0), (-30.5, 1, 0, 0), (-45.0, 1, 0, 1), (-90.0, 1, 0, 1), (-120.0, 0, 0, 0), (120.0, 0, 1, 0)],
)
def test_axis_criteria_at_their_boundaries(axis, lad, rad, lafb):
    v = criteria.verdicts(row(qrs_axis_deg=axis, qrs_ms=100.0))
    assert (v[LAD], v["47665007"], v["445118002"]) == (lad, rad, lafb)
    assert criteria.verdicts(row(qrs_axis_deg=-60.0, qrs_ms=130.0))["445118002"] == 0  # wide QRS: not LAFB alone


def test_prolonged_qt_by_sex():
    r = row(qtc_fridericia_ms=455.0)
    assert criteria.prolonged_qt(r, "male") == 1 and criteria.prolonged_qt(r, "female") == 0
    assert criteria.prolonged_qt(r, None) is None and criteria.prolonged_qt(row(qtc_fridericia_ms=470.0), None) == 1


def test_every_criterion_names_a_scored_class_and_a_source():
    for c in criteria.CRITERIA:
        assert label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c.code]] == c.abbreviation and c.source


def test_kappa_equals_scikit_learns_on_a_fixed_table():
    # 40 records: label/rule 1/1 x12, 1/0 x5, 0/1 x8, 0/0 x15, and 3 records the rule cannot tell.
    pairs = [(1, 1)] * 12 + [(1, 0)] * 5 + [(0, 1)] * 8 + [(0, 0)] * 15 + [(1, None)] * 3
    names = [f"R{i:02d}" for i in range(len(pairs))]
    k = label_space.CLASS_INDEX[LAD]
    labels, verdict_table = {}, {}
    for name, (given, verdict) in zip(names, pairs):
        labels[name] = np.zeros(label_space.NUM_CLASSES, dtype=np.int8)
        labels[name][k] = given
        verdict_table[name] = dict.fromkeys(criteria.BY_CODE)
        verdict_table[name][LAD] = verdict
    entry = rules.agreement(verdict_table, labels, resamples=200)["classes"][LAD]
    x = [g for g, v in pairs if v is not None]
    y = [v for _, v in pairs if v is not None]
    assert entry["labels_vs_rule"]["kappa"] == pytest.approx(cohen_kappa_score(x, y), abs=1e-6)
    assert entry["labels_vs_rule"]["table"] == [[12, 5], [8, 15]] and entry["rule_blank"] == 3
    assert entry["labelling_sources"] == ["R"]
    assert entry["labels_vs_rule_in_labelling_sources"]["kappa"] == entry["labels_vs_rule"]["kappa"]
    assert entry["sources"]["R"] == {
        "records": 43,
        "labelled": 20,
        "labelled_rule_met": 12,
        "labelled_rule_not_met": 5,
        "labelled_rule_blank": 3,
        "share_met": round(12 / 17, 4),
        "rule_positive": 20,
    }


def test_rules_command_on_known_truth_records(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    cases = {  # name: (truth, labels)
        "S1": (WaveTruth(heart_rate=50, qrs_axis=-50), ("426177001", LAD)),
        "S2": (WaveTruth(heart_rate=75, qrs_axis=60), ("426783006",)),
        "S3": (WaveTruth(heart_rate=115, qrs_axis=120), ("427084000", LAD)),  # LAD label the rule contradicts
        "S4": (WaveTruth(heart_rate=70, pr=0.26, qrs_axis=10), ("270492004",)),
    }
    for name, (truth, dx) in cases.items():
        write_record(str(data), name, truth_signal(truth, 500, 10.0, rng)[0], 500, age=50, sex="Male", dx=dx)
    out = tmp_path / "rules"
    assert commands.rules([str(data), str(out)]) == 0
    assert set(read_measurements(out / MEASUREMENTS_FILE)) == set(cases)
    table = rules.read_rule_labels(str(out / rules.RULE_LABELS_FILE))
    assert table[("S1", "426177001")] == 1 and table[("S2", "426783006")] == 1 and table[("S3", "427084000")] == 1
    assert table[("S1", LAD)] == 1 and table[("S3", LAD)] == 0 and table[("S3", "47665007")] == 1
    assert table[("S4", "270492004")] == 1 and table[("S2", "270492004")] == 0
    result = json.loads((out / rules.AGREEMENT_FILE).read_text())
    assert result["classes"][LAD]["labels_vs_rule"]["table"] == [[1, 1], [0, 2]]
    assert "labels vs rule" in capsys.readouterr().out
    overrides = tmp_path / "overrides.csv"
    argv = ["--from-rules", str(out / rules.RULE_LABELS_FILE), "--out", str(overrides)]
    assert commands.relabel([*argv, "--weight", "0.2"]) == 0
    assert ["S3", LAD, "weight:0.2"] in list(csv.reader(overrides.open()))
    assert commands.relabel([*argv, "--override", "--classes", "LAD"]) == 0
    assert list(csv.reader(overrides.open()))[1:] == [["S3", LAD, "0"]]


def test_relabel_from_rules_refuses_mixed_ways(tmp_path, capsys):
    with pytest.raises(SystemExit):
        commands.relabel(["--from-rules", "x.csv", "--out", str(tmp_path / "o.csv")])  # neither weight nor override
    with pytest.raises(SystemExit):
        commands.relabel(["--from-rules", "x.csv", "--weight", "0.5", "--override", "--out", str(tmp_path / "o.csv")])
    assert "--from-rules needs --weight W or --override" in capsys.readouterr().err


def test_rule_labels_file_is_checked(tmp_path):
    path = tmp_path / "rule_labels.csv"
    path.write_text("record,class,abbreviation,rule,given_label\nA,39732003,LAD,yes,1\n")
    with pytest.raises(rules.RulesError, match="row 2, column rule"):
        rules.read_rule_labels(str(path))


@pytest.mark.slow
def test_audit_reads_the_rules_and_the_papers_sample_gets_kappas(tiny_model, tmp_path):
    model, data = tiny_model
    out = tmp_path / "rules"
    assert commands.rules([data, str(out), "--model", model]) == 0
    result = json.loads((out / rules.AGREEMENT_FILE).read_text())
    entry = result["classes"]["426783006"]
    # Every record measured; the model's out-of-fold outputs for all but HR20715 (no scored label).
    assert (result["records"], entry["model_records"]) == (13, 12) and entry["model_vs_rule"]["n"] > 0
    audit = tmp_path / "audit"
    argv = [model, data, str(audit), "--paper", "--class", "426783006", "--n", "10", "--rules"]
    assert commands.audit([*argv, str(out / rules.RULE_LABELS_FILE)]) == 0
    issues = read_issues(str(audit / "label_issues.csv"))
    verdicts = rules.read_rule_labels(str(out / rules.RULE_LABELS_FILE))
    for issue in issues:
        verdict = verdicts[(issue["record"], issue["class"])]
        expected = "" if verdict is None else "agrees" if verdict == int(issue["given_label"]) else "contradicts"
        assert issue["rule"] == expected
    paper = json.loads((audit / "summary.json").read_text())["paper"]["rule"]
    assert paper["pairs"] == len(issues) and paper["with_rule"] + paper["rule_blank"] == len(issues)
    with open(audit / "label_issues.csv", newline="") as f:
        assert next(csv.reader(f))[-1] == "rule"
