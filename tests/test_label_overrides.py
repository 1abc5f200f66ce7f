"""Label overrides in training (`train --label-overrides`, ecgnet.overrides): the labels and loss
cells they change, their record in model.json and train.log, resuming with other overrides, and
the challenge path staying free of the review extras."""

import csv
import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgnet import cli, modelstore, synthetic, training
from ecgnet import labels as label_space
from ecgnet.dataset import WindowBatches, prepare_data
from ecgnet.distributed import Runtime
from ecgnet.errors import TrainingError
from ecgnet.headers import load_header
from ecgnet.loop import masked_loss
from ecgnet.overrides import read_overrides

from helpers import ROOT, TINY, cli_settings

K = label_space.NUM_CLASSES
SR, AF, IAVB = "426783006", "164889003", "270492004"
QUICK = TINY.replace(epochs=1, lr_milestones=())


def _overrides(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([("record", "class", "label"), *rows])
    return str(path)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic") / "data"
    return str(folder), synthetic.make_dataset(folder, 16, seed=7)


def test_prepare_data_applies_exactly_the_listed_overrides(records, tmp_path, caplog):
    folder, names = records
    given = prepare_data(folder, modelstore.ModelFolder(tmp_path / "plain"), QUICK, Runtime(), jobs=1)
    assert given.loss_mask is None
    row = {name: i for i, name in enumerate(given.names)}
    a, b, c = names[0], names[1], names[2]
    sr, af, iavb = (label_space.CLASS_INDEX[code] for code in (SR, AF, IAVB))
    flip_a = 1 - int(given.labels[row[a], sr])
    path = _overrides(
        tmp_path / "o.csv",
        [
            (a, SR, str(flip_a)),
            (a, AF, "weight:0.25"),
            (b, AF, "mask"),
            (b, IAVB, "1"),
            (c, "*", "drop"),
            ("NOT_HERE", SR, "0"),
        ],
    )
    with caplog.at_level(logging.INFO):
        data = prepare_data(
            folder,
            modelstore.ModelFolder(tmp_path / "overridden"),
            QUICK,
            Runtime(),
            jobs=1,
            overrides=read_overrides(path),
        )
    assert data.names == [n for n in given.names if n != c]
    old = given.labels[[row[n] for n in data.names]]
    changed = {(data.names[i], int(k)) for i, k in zip(*np.nonzero(data.labels != old))}
    expected = {(a, sr)} | ({(b, iavb)} if given.labels[row[b], iavb] == 0 else set())
    assert changed == expected and data.labels[data.names.index(b), iavb] == 1
    assert data.labels.dtype == np.float32 and data.loss_mask.dtype == np.float32
    assert {(data.names[i], int(k)) for i, k in zip(*np.nonzero(data.loss_mask == 0))} == {(b, af)}
    assert {(data.names[i], int(k)) for i, k in zip(*np.nonzero(data.loss_mask == 0.25))} == {(a, af)}
    assert any(r.levelno == logging.WARNING and "NOT_HERE" in r.getMessage() for r in caplog.records)
    assert "1 dropped by the label overrides" in caplog.text and "1 masked, 1 down-weighted" in caplog.text

    # A batch carries its share's weights and the summed weights of the whole global batch, on every process.
    ia, ib = data.names.index(a), data.names.index(b)
    batch = np.array(
        [(i, 0, 0, 64) for i in range(len(data.names)) if i not in (ia, ib)][:3] + [(ia, 0, 0, 64), (ib, 0, 0, 64)]
    )
    shares = [WindowBatches(data, [batch], QUICK, rank, 2)[0] for rank in (0, 1)]
    assert [s[5][1] for s in shares] == [5 * K - 1.75] * 2
    assert sum(float(s[5][0].sum()) for s in shares) == 5 * K - 1.75
    assert WindowBatches(given, [batch], QUICK)[0][5] is None  # without overrides: no mask at all


def test_a_masked_cell_adds_no_loss_and_is_not_counted():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, K, generator=generator, requires_grad=True)
    y = (torch.rand(4, K, generator=generator) > 0.7).float()
    mask = torch.ones(4, K)
    mask[1, 3] = 0
    # Two processes, rows 0, 2 and 1, 3 of a global batch of 4: DDP sums the shares' gradients / world.
    total = (
        sum(masked_loss(logits[rank::2], y[rank::2], (mask[rank::2], int(mask.sum())), 4, 2)[1] for rank in (0, 1)) / 2
    )
    cells = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    hand = (cells.sum() - cells[1, 3]) / (4 * K - 1)
    assert torch.allclose(total, hand, rtol=0, atol=1e-7)
    total.backward()
    assert logits.grad[1, 3] == 0
    want = (torch.sigmoid(logits) - y).detach() / (4 * K - 1)
    want[1, 3] = 0
    assert torch.allclose(logits.grad, want, rtol=0, atol=1e-8)
    # The logged loss: the mean over unmasked cells, as a sum per sample.
    logged = sum(masked_loss(logits[r::2], y[r::2], (mask[r::2], int(mask.sum())), 4, 2)[2] for r in (0, 1))
    assert torch.allclose(logged / 4, hand, atol=1e-7)


def test_without_overrides_the_loss_is_computed_as_before():
    generator = torch.Generator().manual_seed(1)
    logits, y = torch.randn(3, K, generator=generator), (torch.rand(3, K, generator=generator) > 0.5).float()
    loss_sum, loss, per_sample = masked_loss(logits, y, None, 6, 2)
    before = F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    assert torch.equal(loss_sum, before) and torch.equal(loss, before * (2 / (6 * K)))
    assert torch.equal(per_sample, before / K)


def test_model_json_records_the_overrides_and_resuming_with_others_is_refused(records, tmp_path):
    folder, names = records
    first = _overrides(
        tmp_path / "first.csv",
        [(names[0], SR, "1"), (names[1], AF, "mask"), (names[2], AF, "weight:0.5"), ("GONE", SR, "0")],
    )
    other = _overrides(tmp_path / "other.csv", [(names[0], SR, "0")])
    model = str(tmp_path / "model")
    assert (
        training.train(folder, model, config=QUICK, folds=[0], jobs=1, label_overrides=first) is None
    )  # fold 2 still to train
    sha = modelstore.sha256(first)
    with pytest.raises(
        TrainingError,
        match=rf"started with {first} \(sha256 {sha[:12]}\), but this call gives "
        rf"{other} \(sha256 {modelstore.sha256(other)[:12]}\)",
    ):
        training.train(folder, model, jobs=1, label_overrides=other)
    with pytest.raises(TrainingError, match=r"started with .*first.csv .* but this call gives no label overrides"):
        training.train(folder, model, jobs=1)
    same = shutil.copy(first, tmp_path / "same_content.csv")  # the same overrides under another name resume
    assert training.train(folder, model, jobs=1, label_overrides=same) is not None
    recorded = json.loads((tmp_path / "model" / "model.json").read_text())["training"]["label_overrides"]
    assert recorded == {
        "file": str(same),
        "sha256": sha,
        "set": 1,
        "masked": 1,
        "weighted": 1,
        "dropped": 0,
        "unmatched": 1,
    }
    log = (tmp_path / "model" / "train.log").read_text()
    assert f"label overrides: {first} sha256 {sha}" in log and "ignored: GONE" in log
    assert "1 masked, 1 down-weighted, 0 records dropped" in log
    assert "report skipped" not in log and not (tmp_path / "model" / "report").exists()  # training writes none
    # The model is finished: the same overrides have nothing to do, others are refused, naming both.
    assert training.train(folder, model, jobs=1, label_overrides=first) is None
    with pytest.raises(
        TrainingError,
        match=rf"holds a finished model trained with {same} \(sha256 {sha[:12]}\): 1 labels set, 1 masked, "
        rf"1 down-weighted, 0 records dropped, but this call gives {other} \(sha256 "
        rf"{modelstore.sha256(other)[:12]}\); train into a new MODEL folder",
    ):
        training.train(folder, model, jobs=1, label_overrides=other)
    with pytest.raises(TrainingError, match=r"but this call gives no label overrides"):
        training.train(folder, model, jobs=1)


def test_a_run_without_overrides_refuses_to_resume_with_them(records, tmp_path):
    folder, names = records
    model = str(tmp_path / "model")
    training.train(folder, model, config=QUICK, folds=[0], jobs=1)
    path = _overrides(tmp_path / "o.csv", [(names[0], SR, "1")])
    with pytest.raises(TrainingError, match=r"started with no label overrides, but this call gives .*o.csv"):
        training.train(folder, model, jobs=1, label_overrides=path)


def test_the_challenge_path_imports_no_review_extra(tmp_path):
    """driver.py, team_code, the CLI's train and drive, and training's own modules never import
    matplotlib, cleanlab or statsmodels (the challenge image has none of them)."""
    code = f"""
import sys
import driver, team_code, train_model, train_12ECG_classifier, run_12ECG_classifier
import ecgnet.cli, ecgnet.training, ecgnet.overrides, ecgnet.report
assert ecgnet.cli.drive([{str(tmp_path / "no_model")!r}, {str(tmp_path)!r}, {str(tmp_path / "out")!r}]) == 2
assert ecgnet.cli.train([{str(tmp_path / "no_data")!r}, {str(tmp_path / "model")!r}]) == 1
print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'matplotlib', 'cleanlab', 'statsmodels'}}))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_synth_label_noise_flag(tmp_path, capsys):
    assert cli.records.synth([str(tmp_path / "d"), "10", "--seed", "3", "--label-noise", "0.1"]) == 0
    assert "with 0.1 of their labels flipped" in capsys.readouterr().out
    truth = (tmp_path / "d" / synthetic.TRUE_LABELS_FILE).read_text().splitlines()
    assert len(truth) == 11 and truth[0] == "record," + ",".join(label_space.CLASSES)
    flipped = 0
    for line in truth[1:]:
        name, *values = line.split(",")
        given = label_space.encode(load_header(str(tmp_path / "d" / f"{name}.hea")).dx)
        flipped += int(np.sum(given != np.array(values, dtype=float)))
    assert flipped == round(0.1 * 10 * len(synthetic.SYNTHETIC_CLASSES))
    with pytest.raises(SystemExit):
        cli.records.synth([str(tmp_path / "e"), "10", "--label-noise", "1.5"])


def test_report_of_a_model_trained_with_overrides_that_add_labels_says_which_labels_it_scores(tmp_path, capsys):
    """A record whose header has no scored label is trained on because the overrides give it one:
    `ecgnet report --labels DATA` scores DATA's labels as given (leaving that record out, and
    saying so) instead of refusing the folder; with --label-overrides it scores the trained labels."""
    pytest.importorskip("matplotlib")
    from ecgnet.cli.reports import report as report_main

    folder = tmp_path / "data"
    names = synthetic.make_dataset(folder, 16, seed=7)
    header = folder / f"{names[0]}.hea"
    lines = header.read_text().splitlines()
    header.write_text("\n".join("#Dx: 164861001" if line.startswith("#Dx") else line for line in lines) + "\n")
    overrides = _overrides(tmp_path / "o.csv", [(names[0], AF, "1"), (names[1], SR, "mask")])
    model = tmp_path / "model"
    trained = cli.train([str(folder), str(model), *cli_settings(QUICK), "--label-overrides", str(overrides)])
    assert trained == 0
    sha = modelstore.sha256(overrides)
    own = (model / "report" / "report.html").read_text()  # the report `ecgnet train` writes
    assert (
        f"<code>{overrides}</code> (SHA-256 <code>{sha[:12]}</code>; among the out-of-fold records: 1 labels set, "
        "1 cells masked" in own
    )
    assert "The model was trained with the same overrides." in own

    assert report_main([str(model), str(tmp_path / "given"), "--labels", str(folder)]) == 0
    given = (tmp_path / "given" / "report.html").read_text()
    assert "as given (no label overrides applied)" in given
    assert "The model was trained with the label overrides" in given and sha[:12] in given
    assert "1 out-of-fold records left out: without a scored label but through the overrides" in given
    assert "on the labels the model was trained with (its label overrides)" in given and "note error" not in given
    assert (
        report_main([str(model), str(tmp_path / "same"), "--labels", str(folder), "--label-overrides", overrides]) == 0
    )
    same = (tmp_path / "same" / "report.html").read_text()
    assert "The model was trained with the same overrides." in same and "left out" not in same
    # the records of 15 of 16 headers with their labels: no refusal, no false "not the folder" claim
    assert "not the folder" not in capsys.readouterr().err
