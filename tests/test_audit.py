"""`ecgnet audit` (ecgnet.review.audit) on a hand-made model folder, and the synthetic
generator's planted label noise (ecgnet.synthetic.make_dataset(label_noise=...))."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from ecgnet import labels as label_space
from ecgnet import synthetic
from ecgnet.config import Config
from ecgnet.headers import load_header
from ecgnet.modelstore import save_model

pytest.importorskip("cleanlab")
from ecgnet.cli import review as commands  # noqa: E402
from ecgnet.review import audit  # noqa: E402

K = label_space.NUM_CLASSES
AUDITED = [label_space.CLASS_INDEX[c] for c in ("426783006", "164889003", "270492004", "39732003")]
RARE = label_space.CLASS_INDEX["164909002"]  # LBBB: 3 positives, below --min-positives


def _write_model(folder, names, folds, probabilities, thresholds):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "fold1.pt"), "wb") as f:
        f.write(b"not read by the audit")
    save_model(str(folder), Config(), thresholds, 1, {})
    with open(os.path.join(folder, "oof_probabilities.csv"), "w") as f:
        f.write("record,fold," + ",".join(label_space.CLASSES) + "\n")
        for name, fold, row in zip(names, folds, probabilities):
            f.write(f"{name},{fold}," + ",".join(f"{p:.6f}" for p in row) + "\n")


def _write_headers(folder, names, labels):
    os.makedirs(folder, exist_ok=True)
    for name, row in zip(names, labels):
        dx = [label_space.CLASSES[k] for k in np.flatnonzero(row)]
        synthetic.write_record(str(folder), name, np.zeros((12, 50)), 500, age=50, sex="Male", dx=dx)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """300 records (A and E prefixes), four classes with informative out-of-fold probabilities,
    15 given labels flipped; LBBB with 3 positives only."""
    root = tmp_path_factory.mktemp("audit")
    rng = np.random.default_rng(5)
    n = 300
    names = [f"{'A' if i % 2 else 'E'}{i:04d}" for i in range(n)]
    truth = np.zeros((n, K), dtype=int)
    for k, prevalence in zip(AUDITED, (0.5, 0.25, 0.2, 0.15)):
        truth[:, k] = rng.random(n) < prevalence
    truth[:3, RARE] = 1
    probabilities = np.clip(np.where(truth == 1, 0.85, 0.08) + rng.normal(0, 0.05, truth.shape), 0.001, 0.999)
    given = truth.copy()
    flipped = [(int(i), AUDITED[j % 4]) for j, i in enumerate(rng.choice(np.arange(3, n), 15, replace=False))]
    for i, k in flipped:
        given[i, k] = 1 - given[i, k]
    thresholds = np.full(K, 0.5)
    _write_model(root / "model", names, np.arange(n) % 3 + 1, probabilities, thresholds)
    _write_headers(root / "data", names, given)
    return {
        "root": root,
        "names": names,
        "truth": truth,
        "given": given,
        "probabilities": probabilities,
        "flipped": set(flipped),
        "model": str(root / "model"),
        "data": str(root / "data"),
    }


def test_ranking_finds_planted_flips(case, tmp_path, capsys):
    out = tmp_path / "out"
    assert commands.audit([case["model"], case["data"], str(out)]) == 0
    assert "flagged pairs" in capsys.readouterr().out
    with open(out / "label_issues.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == (
            "record",
            "source",
            "class",
            "abbreviation",
            "given_label",
            "oof_probability",
            "threshold",
            "label_quality",
            "issue",
            "rank",
            "rule",
        )
        rows = list(reader)
    index = {name: i for i, name in enumerate(case["names"])}
    flagged = {(index[r["record"]], label_space.CLASS_INDEX[r["class"]]) for r in rows}
    # cleanlab's noise-rate pruning is conservative: here it flags only planted flips, most of them
    assert flagged <= case["flipped"] and len(flagged) >= 10
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert [float(r["label_quality"]) for r in rows] == sorted(float(r["label_quality"]) for r in rows)
    for r in rows:
        i, k = index[r["record"]], label_space.CLASS_INDEX[r["class"]]
        assert int(r["given_label"]) == case["given"][i, k]
        assert r["issue"] == ("spurious" if case["given"][i, k] else "missing")
        assert r["source"] == r["record"][0]
        assert r["abbreviation"] == label_space.ABBREVIATIONS[k]
        assert float(r["oof_probability"]) == pytest.approx(case["probabilities"][i, k], abs=1e-6)
        assert float(r["threshold"]) == 0.5
        assert k != RARE

    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == 300 and summary["flagged_pairs"] == len(rows)
    assert sorted(summary["classes_audited"]) == sorted(label_space.CLASSES[k] for k in AUDITED)
    assert "3 positive records" in summary["classes_not_audited"]["164909002"]
    lad = summary["classes"]["39732003"]
    assert lad["audited"] and lad["records"] == 300 and lad["positives"] == case["given"][:, AUDITED[3]].sum()
    assert lad["estimated_noise_rate"] == pytest.approx(lad["flagged"] / 300, abs=1e-6)
    assert lad["spurious"] + lad["missing"] == lad["flagged"]
    assert summary["classes"]["164909002"]["flagged"] is None
    assert set(summary["sources"]) == {"A", "E"}
    assert sum(s["flagged"] for s in summary["sources"].values()) == len(rows)
    assert summary["sources"]["A"]["records"] == 150


def test_paper_selection(case, tmp_path, capsys):
    k = label_space.CLASS_INDEX["39732003"]
    # as the driver labels: probability >= threshold, or the record's most probable class
    predicted = (case["probabilities"][:, k] >= 0.5) | (case["probabilities"].argmax(axis=1) == k)
    given = case["given"][:, k] == 1
    misclassified = {case["names"][i] for i in np.flatnonzero(predicted != given)}
    runs = []
    for seed, out in ((1, "a"), (1, "b"), (2, "c")):
        assert (
            commands.audit(
                [
                    case["model"],
                    case["data"],
                    str(tmp_path / out),
                    "--paper",
                    "--class",
                    "LAD",
                    "--n",
                    "4",
                    "--seed",
                    str(seed),
                ]
            )
            == 0
        )
        runs.append(audit.read_issues(str(tmp_path / out / "label_issues.csv")))
    assert runs[0] == runs[1] and [r["record"] for r in runs[0]] != [r["record"] for r in runs[2]]
    assert len(runs[0]) == min(4, len(misclassified))
    assert {r["record"] for r in runs[0]} <= misclassified and {r["class"] for r in runs[0]} == {"39732003"}
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())["paper"]
    assert summary["false_negatives"] == int((given & ~predicted).sum())
    assert summary["false_positives"] == int((~given & predicted).sum())
    assert summary["sampled_false_negatives"] == sum(r["issue"] == "spurious" for r in runs[0])
    # n larger than the misclassified records: all of them, with a warning; the summary holds no ranking
    commands.audit(
        [case["model"], case["data"], str(tmp_path / "all"), "--paper", "--class", "39732003", "--n", "1000"]
    )
    assert {r["record"] for r in audit.read_issues(str(tmp_path / "all" / "label_issues.csv"))} == misclassified
    whole = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert whole["warnings"] == [
        f"--n 1000 asked, but only {len(misclassified)} records are misclassified for LAD out of fold: all of "
        "them were taken, a census rather than a random sample"
    ]
    assert not {"method", "flagged_pairs", "classes", "classes_audited"} & set(whole)
    assert whole["mode"] == "paper" and whole["records"] == 300
    assert "warning: --n 1000 asked" in capsys.readouterr().err


def _damage(case, tmp_path, edit):
    model = tmp_path / "model"
    os.makedirs(model)
    for name in os.listdir(case["model"]):
        (model / name).write_bytes((Path(case["model"]) / name).read_bytes())
    path = model / "oof_probabilities.csv"
    path.write_text(edit(path.read_text()))
    return str(model), str(path)


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda t: t.replace("\nA0001,2,", "\nA0001,2,x", 1), "row 3, column 270492004: 'x"),
        (lambda t: t.replace("\nA0001,2,", "\nA0001,0,", 1), "row 3, column fold"),
        (lambda t: t.replace("record,fold,", "name,fold,", 1), "row 1"),
        (lambda t: t.replace("\nA0001,", "\nE0000,", 1), "row 3, column record: record 'E0000' is also on row 2"),
        (lambda t: t.replace("\nA0001,", "\nZ9999,", 1), "have no header in"),
    ],
)
def test_bad_oof_file_is_named(case, tmp_path, capsys, edit, where):
    model, path = _damage(case, tmp_path, edit)
    assert commands.audit([model, case["data"], str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and path in err and where in err


def test_missing_oof_file(case, tmp_path, capsys):
    model, path = _damage(case, tmp_path, lambda t: t)
    os.remove(path)
    assert commands.audit([model, case["data"], str(tmp_path / "out")]) == 2
    assert "oof_probabilities.csv is missing" in capsys.readouterr().err


def test_paper_needs_a_class(case, tmp_path):
    with pytest.raises(SystemExit):
        commands.audit([case["model"], case["data"], str(tmp_path), "--paper"])
    with pytest.raises(SystemExit):
        commands.audit([case["model"], case["data"], str(tmp_path), "--paper", "--class", "12345"])


def test_synthetic_label_noise(tmp_path):
    clean = synthetic.make_dataset(tmp_path / "clean", 40, seed=4, seconds=2.0)
    noisy = synthetic.make_dataset(tmp_path / "noisy", 40, seed=4, seconds=2.0, label_noise=0.1)
    assert clean == noisy and not (tmp_path / "clean" / "true_labels.csv").exists()
    with open(tmp_path / "noisy" / "true_labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["record", *label_space.CLASSES] and [r[0] for r in rows[1:]] == noisy
    truth = np.array([[int(v) for v in r[1:]] for r in rows[1:]])
    flips = 0
    for name, true_row in zip(noisy, truth):
        clean_header = load_header(tmp_path / "clean" / f"{name}.hea")
        noisy_header = load_header(tmp_path / "noisy" / f"{name}.hea")
        np.testing.assert_array_equal(label_space.encode(clean_header.dx), true_row)
        flips += int((label_space.encode(noisy_header.dx) != true_row).sum())
        assert (tmp_path / "clean" / f"{name}.mat").read_bytes() == (tmp_path / "noisy" / f"{name}.mat").read_bytes()
    assert flips == round(0.1 * 40 * len(synthetic.SYNTHETIC_CLASSES))  # exactly the fraction asked
    # a second call into the same folder keeps the first call's rows
    synthetic.make_dataset(tmp_path / "noisy", 5, seed=9, seconds=2.0, start=100, label_noise=0.2)
    with open(tmp_path / "noisy" / "true_labels.csv") as f:
        assert len(f.read().splitlines()) == 1 + 45
    with pytest.raises(ValueError):
        synthetic.make_dataset(tmp_path / "bad", 2, label_noise=1.5)
