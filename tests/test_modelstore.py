"""The MODEL folder loads only when it is complete, intact, of a known version, and data-only."""

import json
import os

import pytest
import torch

from ecgnet import modelstore
from ecgnet.inference import Ensemble


def test_a_complete_model_loads(copy_model):
    config, paths, thresholds = modelstore.load_model(copy_model)
    assert len(paths) == config.folds == 2 and len(thresholds) == 24
    ensemble = Ensemble(config, map(modelstore.load_tensors, paths), thresholds, "cpu")
    assert len(ensemble.models) == 2 and ensemble.models[0].training is False


def test_unfinished_folder_is_named(copy_model):
    os.remove(copy_model / "model.json")
    with pytest.raises(modelstore.ModelFolderError, match="not a finished ecgnet model.*model.json is missing"):
        modelstore.load_model(copy_model)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=2), "format version 2; this ecgnet .* reads version 1"),
        (lambda m: m.update(format="other"), "not an ecgnet model description"),
        (lambda m: m.update(classes=m["classes"][:-1]), "other classes"),
        (lambda m: m.pop("thresholds"), "incomplete or invalid"),
        (lambda m: m["config"].update(width=16), "weights do not fit the saved config"),
    ],
)
def test_incompatible_descriptions_are_refused(copy_model, change, message):
    manifest = json.loads((copy_model / "model.json").read_text())
    change(manifest)
    (copy_model / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(modelstore.ModelFolderError, match=message):
        Ensemble.from_folder(copy_model, "cpu")


def test_damaged_files_are_named(copy_model):
    (copy_model / "model.json").write_text("{not json")
    with pytest.raises(
        modelstore.ModelFolderError, match=r"model.json: the model description is not valid JSON \(line 1"
    ):
        modelstore.load_model(copy_model)


def test_changed_weights_fail_the_checksum(copy_model):
    data = bytearray((copy_model / "fold2.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy_model / "fold2.pt").write_bytes(bytes(data))
    with pytest.raises(modelstore.ModelFolderError, match="fold2.pt is damaged: its checksum"):
        modelstore.load_model(copy_model)


class Payload:
    """A pickle gadget: unpickling it would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_weight_files_never_run_pickled_code(copy_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = copy_model / "fold1.pt"
    torch.save({"x": Payload()}, evil)  # a malicious file whose checksum was also updated
    manifest = json.loads((copy_model / "model.json").read_text())
    manifest["weights"][0]["sha256"] = modelstore.sha256(evil)
    (copy_model / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(modelstore.ModelFolderError, match="fold1.pt is damaged or not a tensor file"):
        Ensemble.from_folder(copy_model, "cpu")
    assert not (tmp_path / "pwned").exists()
