"""End to end on the committed real records: train (tiny network, 2 folds), drive, evaluate."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

from ecgnet import labels, metrics, modelstore
from ecgnet.config import Config

from helpers import RECORDS, ROOT, TINY, cli_settings, link_records, sample_names


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_model_folder_is_complete(tiny_model):
    model, _ = tiny_model
    names = set(os.listdir(model))
    assert {
        "model.json",
        "fold1.pt",
        "fold2.pt",
        "thresholds.csv",
        "oof_probabilities.csv",
        "cv_report.json",
        "train.log",
    } <= names
    assert not os.path.exists(os.path.join(model, "work", "cache"))  # deleted once complete
    manifest = modelstore.read_manifest(model)
    assert manifest["classes"] == list(labels.CLASSES) and len(manifest["thresholds"]) == 24
    report = json.load(open(os.path.join(model, "cv_report.json")))
    assert len(report["folds"]) == 2
    assert sum(f["records"] for f in report["folds"]) == report["overall"]["records"] == 12
    for part in [report["overall"], *report["folds"]]:
        for key in ("before_thresholds", "after_thresholds"):
            assert set(part[key]) == {
                "AUROC",
                "AUPRC",
                "Accuracy",
                "F-measure",
                "Fbeta-measure",
                "Gbeta-measure",
                "Challenge metric",
                "Sensitivity",
                "Specificity",
            }
            assert set(part[key]) == set(metrics.ALL_METRIC_NAMES)
            assert 0 <= part[key]["Sensitivity"] <= 1 and 0 <= part[key]["Specificity"] <= 1
    assert all(len(f["history"]) == 2 for f in report["folds"])
    oof = np.loadtxt(os.path.join(model, "oof_probabilities.csv"), delimiter=",", skiprows=1, usecols=range(2, 26))
    assert oof.shape == (12, 24) and (oof > 0).all() and (oof < 1).all()
    log = open(os.path.join(model, "train.log")).read()
    assert "excluded 1 without any scored label" in log and "out-of-fold challenge metric" in log
    # The cross-validation report, written at the end when matplotlib is installed (the `review` extra).
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "report skipped: matplotlib is not installed" in log
    else:
        html = open(os.path.join(model, "report", "report.html")).read()
        assert f"report: {os.path.join(model, 'report', 'report.html')}" in log
        assert "Sensitivity" in html and "out-of-fold" in html
        assert "The labels given give an out-of-fold challenge metric" not in html  # the labels it trained on
        # The defaults' rule decisions come after the thresholds: said, not taken for other labels.
        assert ("pass through a second stage" in html) == bool(TINY.decide_rules) and 'class="note error"' not in html


def test_training_without_matplotlib_skips_the_report_in_one_line(copy_model, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ModuleNotFoundError
    import ecgnet.report

    for name in ("build", "plots"):  # imported again, as in a fresh process
        monkeypatch.delitem(sys.modules, f"ecgnet.report.{name}", raising=False)
        monkeypatch.delattr(ecgnet.report, name, raising=False)
    store = modelstore.ModelFolder(copy_model)
    shutil.rmtree(store.path("report"), ignore_errors=True)
    with caplog.at_level("INFO"):
        assert ecgnet.report.write_training_report(copy_model, str(RECORDS)) is None
    lines = [r.getMessage() for r in caplog.records if "report" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("report skipped: matplotlib is not installed"), lines
    assert not os.path.exists(store.path("report"))


def test_train_drive_evaluate_commands(tmp_path):
    train_names = sample_names(per_prefix=2)
    test_names = [n for n in sample_names() if n not in train_names]
    data = link_records(RECORDS, tmp_path / "train", train_names)
    test = link_records(RECORDS, tmp_path / "test", test_names)
    model, outputs = tmp_path / "model", tmp_path / "outputs"
    trained = run(
        "train_model.py", data, str(model), *cli_settings(TINY.replace(epochs=1, batch_size=64)), "--no-report"
    )
    assert trained.returncode == 0, trained.stderr
    assert "report skipped (--no-report)" in trained.stderr and not (model / "report").exists()
    assert "fold 2/2 epoch 1/1" in trained.stderr and "model complete" in trained.stderr  # the log
    driven = run("driver.py", str(model), test, str(outputs))
    assert driven.returncode == 0, driven.stderr
    for name in test_names:
        lines = (outputs / f"{name}.csv").read_text().splitlines()
        assert len(lines) == 4 and lines[0] == f"#{name}"
        assert lines[1].split(",") == list(labels.CLASSES)
        assert set(lines[2].split(",")) <= {"0", "1"} and "1" in lines[2].split(",")
        assert all(0 <= float(p) <= 1 for p in lines[3].split(","))
    scores = tmp_path / "scores.csv"
    evaluated = run("evaluate_model.py", test, str(outputs), str(scores), "--json", str(tmp_path / "scores.json"))
    assert evaluated.returncode == 0, evaluated.stderr
    header, values = scores.read_text().split("\n")
    assert header.split(",")[-1] == "Challenge metric" and len(values.split(",")) == 7
    assert json.loads((tmp_path / "scores.json").read_text())["records"] == len(test_names)


def test_training_refuses_other_settings_when_resuming(tiny_model, tmp_path):
    model, data = tiny_model
    result = run("train_model.py", data, model, "--set", "epochs=5")
    assert result.returncode == 0 and "nothing to do" in result.stderr  # a complete model is left alone
    partial = tmp_path / "partial"
    (partial / "work").mkdir(parents=True)
    (partial / "work" / "config.json").write_text(json.dumps(Config().replace(epochs=3).to_dict()))
    result = run("train_model.py", data, str(partial), "--set", "epochs=5")
    assert result.returncode == 1 and "other settings (epochs)" in result.stderr


def test_training_data_errors_are_clear(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("train_model.py", str(empty), str(tmp_path / "model"))
    assert result.returncode == 1 and "no records" in result.stderr and "Traceback" not in result.stderr
    result = run("train_model.py", str(tmp_path / "missing"), str(tmp_path / "model2"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"data folder {tmp_path / 'missing'} does not exist" in result.stderr
    assert not (tmp_path / "model2").exists()  # a mistyped path leaves nothing behind
