"""Epoch selection (`config.selection`), the per-source cv_report and threshold methods in a
real training run: a tiny network on the committed records of five sources."""

import json

import numpy as np
import pytest
import torch

from ecgnet import loop, modelstore
from ecgnet.folds import inner_split
from ecgnet.foldstate import read_result
from ecgnet.report.training_labels import read_training_labels
from ecgnet.training import train

from helpers import RECORDS, TINY, TINY_PAPER, link_records, sample_names

# The paper's protocol (per-class thresholds), its epoch chosen on an inner split: half of a
# fold's six training records, so that both parts have records of several sources.
INNER = TINY_PAPER.replace(selection="inner", inner_fraction=0.5)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(data folder, shared signal cache folder)."""
    root = tmp_path_factory.mktemp("selection")
    folder = link_records(RECORDS, root / "data", sample_names())
    return folder, str(root / "cache")


def fold_results(model, count):
    store = modelstore.ModelFolder(model)
    return [read_result(store.fold_result(k)) for k in range(count)]


@pytest.fixture(scope="module")
def inner_model(data, tmp_path_factory):
    """(model folder, report, rows each epoch trained on) of a run with selection=inner."""
    folder, cache = data
    model = tmp_path_factory.mktemp("inner") / "model"
    trained_on = []
    real_plan = loop.epoch_plan

    def spy(indices, *args, **kwargs):
        trained_on.append(set(indices.tolist()))
        return real_plan(indices, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "epoch_plan", spy)
        report = train(folder, str(model), config=INNER, cache_folder=cache, jobs=1)
    return str(model), report, trained_on


def test_inner_split_is_apart_from_training_and_held_out_records(inner_model):
    model, report, trained_on = inner_model
    results = fold_results(model, 2)
    names, folds = modelstore.ModelFolder(model).read_folds()
    folds = np.array(folds)
    labels = read_training_labels(str(RECORDS), names)  # as training encodes them
    assert len(trained_on) == 2 * INNER.epochs
    for result in results:
        inner, held_out = set(result.inner.tolist()), set(result.validation.tolist())
        assert inner and not inner & held_out
        assert held_out == set(np.flatnonzero(folds == result.fold).tolist())
        training = set(np.flatnonzero(folds != result.fold).tolist()) - inner
        for rows in trained_on[result.fold * INNER.epochs : (result.fold + 1) * INNER.epochs]:
            assert rows == training  # every epoch trains on the rest, never on the inner split
        # The split is the one its seed and fold give.
        rows = np.flatnonzero(folds != result.fold)
        expected = inner_split([names[i] for i in rows], labels[rows], INNER.inner_fraction, INNER.seed, result.fold)
        assert set(rows[expected].tolist()) == inner


def test_inner_selection_keeps_the_epoch_best_on_the_inner_split(inner_model):
    model, report, _ = inner_model
    for result, entry in zip(fold_results(model, 2), report["folds"]):
        inner = [h["inner_challenge"] for h in result.history]
        held_out = [h["val_challenge"] for h in result.history]
        assert len(inner) == len(held_out) == INNER.epochs
        assert result.best_epoch == int(np.argmax(inner)) + 1 and result.best_score == max(inner)
        assert result.held_out_best_epoch == int(np.argmax(held_out)) + 1
        assert result.held_out_best_score == max(held_out)
        assert entry["inner_records"] == len(result.inner) and entry["inner_challenge"] == max(inner)
        assert entry["best_validation_challenge"] == held_out[result.best_epoch - 1]
    selection = report["selection"]
    assert selection["method"] == "inner" and selection["inner_fraction"] == INNER.inner_fraction
    assert selection["chosen"]["after_thresholds"] == report["overall"]["after_thresholds"]["Challenge metric"]
    assert selection["held_out_choice"]["epochs"] == [r.held_out_best_epoch for r in fold_results(model, 2)]
    assert set(selection["held_out_choice"]) == {"epochs", "before_thresholds", "after_thresholds"}


def test_cv_report_has_the_split_sources_and_threshold_transfer(inner_model):
    model, report, _ = inner_model
    assert report == json.load(open(f"{model}/cv_report.json"))
    assert report["split"] == "stratified" and report["threshold_method"] == "per_class"
    assert list(report["sources"]) == ["A", "E", "HR", "JS", "Q"]
    assert sum(s["records"] for s in report["sources"].values()) == report["overall"]["records"]
    for source in report["sources"].values():
        assert not source["unseen"] and set(source["after_thresholds"]) >= {"Challenge metric", "AUROC"}
    transfer = report["threshold_transfer"]
    assert set(transfer["sources"]) == {"A", "E", "HR", "JS", "Q"}
    assert set(transfer["methods"]) == {"per_class", "global", "shrunk", "mean_source", "worst_source"}


def test_resumed_inner_run_equals_the_uninterrupted_one(inner_model, data, tmp_path, caplog):
    folder, cache = data
    model = tmp_path / "model"
    real_train = loop._FoldRun.train

    class Stop(Exception):
        pass

    def train_one_epoch(self, epoch):
        if epoch == 1:  # fold 1's checkpoint holds epoch 1: stop as a crash would
            raise Stop
        return real_train(self, epoch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop._FoldRun, "train", train_one_epoch)
        with pytest.raises(Stop):
            train(folder, str(model), config=INNER, cache_folder=cache, jobs=1)
    assert (model / "work" / "fold1_checkpoint.pt").exists()
    with caplog.at_level("INFO", logger="ecgnet"):
        report = train(folder, str(model), config=INNER, cache_folder=cache, jobs=1)
    assert "fold 1: resuming after epoch 1" in caplog.text
    straight, straight_report, _ = inner_model
    for k in (1, 2):
        a = torch.load(f"{straight}/fold{k}.pt", weights_only=True)
        b = torch.load(model / f"fold{k}.pt", weights_only=True)
        assert all(torch.equal(a[name], b[name]) for name in a)
    for a, b in zip(fold_results(straight, 2), fold_results(str(model), 2)):
        assert np.array_equal(a.inner, b.inner)
        assert np.array_equal(a.held_out_best_probabilities, b.held_out_best_probabilities)
        assert a.held_out_best_epoch == b.held_out_best_epoch
    assert report["selection"] == straight_report["selection"]


def test_last_epoch_under_source_split_with_one_global_threshold(data, tmp_path):
    folder, cache = data
    config = TINY.replace(split="source")
    assert (config.selection, config.threshold_method) == ("last", "global")  # the defaults
    report = train(folder, str(tmp_path / "model"), config=config, cache_folder=cache, jobs=1)
    assert len(report["folds"]) == 5  # one per source
    for fold in report["folds"]:
        history = fold["history"]
        assert [h["val_challenge"] is None for h in history] == [True] * (config.epochs - 1) + [False]
        assert fold["best_epoch"] == config.epochs == len(history)
        assert fold["best_validation_challenge"] == history[-1]["val_challenge"]
    assert report["selection"]["method"] == "last" and report["selection"]["chosen"]["epochs"] == [2] * 5
    assert "held_out_choice" not in report["selection"]
    assert report["split"] == "source" and all(s["unseen"] for s in report["sources"].values())
    assert len(set(report["thresholds"].values())) == 1
    manifest = modelstore.read_manifest(str(tmp_path / "model"))
    assert len(set(manifest["thresholds"])) == 1
