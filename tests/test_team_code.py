"""The challenge's own entry points (2020 and 2021 names) agree with the batched driver."""

import os
import subprocess
import sys

import numpy as np
import scipy.io

import helper_code
import run_12ECG_classifier
import team_code
import train_12ECG_classifier
from ecgnet import labels
from ecgnet.config import Config
from ecgnet.inference import Ensemble
from ecgnet.runner import run_folder

from helpers import ROOT


def test_per_record_functions_match_the_driver(tiny_model, tmp_path):
    model_folder, data = tiny_model
    run_folder(Ensemble.from_folder(model_folder), data, tmp_path)
    model = run_12ECG_classifier.load_12ECG_model(model_folder)
    model_2021 = team_code.load_model(model_folder, ("I", "II"))
    headers, recordings = helper_code.find_challenge_files(data)
    assert len(headers) == 13
    for header_file, recording_file in list(zip(headers, recordings))[::2]:
        name = os.path.splitext(os.path.basename(header_file))[0]
        lines = open(tmp_path / f"{name}.csv").read().splitlines()
        expected_labels = np.array(lines[2].split(","), dtype=int)
        expected_probabilities = np.array(lines[3].split(","), dtype=float)
        with open(header_file) as f:
            header_data = f.readlines()
        data_2020 = scipy.io.loadmat(recording_file)["val"].astype(np.float64)
        got_labels, got_probabilities, classes = run_12ECG_classifier.run_12ECG_classifier(
            data_2020, header_data, model
        )
        assert classes == list(labels.CLASSES) and got_labels.dtype.kind == "i"
        np.testing.assert_array_equal(got_labels, expected_labels)
        np.testing.assert_allclose(got_probabilities, expected_probabilities, atol=1e-6)
        header = helper_code.load_header(header_file)
        classes, got_labels, got_probabilities = team_code.run_model(
            model_2021, header, helper_code.load_recording(recording_file)
        )
        assert classes == list(labels.CLASSES)
        np.testing.assert_array_equal(got_labels, expected_labels)
        np.testing.assert_allclose(got_probabilities, expected_probabilities, atol=1e-6)


def test_the_2020_modules_are_the_one_implementation():
    assert run_12ECG_classifier.run_12ECG_classifier is team_code.run_12ECG_classifier
    assert run_12ECG_classifier.load_12ECG_model is team_code.load_12ECG_model
    assert train_12ECG_classifier.train_12ECG_classifier is team_code.train_12ECG_classifier


def test_entry_points_do_not_import_helper_code():
    """The organisers may replace helper_code.py with theirs, which lacks load_signals."""
    code = "import sys, team_code, run_12ECG_classifier, train_12ECG_classifier; print('helper_code' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_training_uses_the_defaults_unless_ECGNET_CONFIG_names_a_file(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(team_code, "train", lambda data, model, config=None: calls.append((data, model, config)))
    monkeypatch.delenv(team_code.CONFIG_VARIABLE, raising=False)
    train_12ECG_classifier.train_12ECG_classifier("data", "model")
    config_file = tmp_path / "config.json"
    config_file.write_text('{"epochs": 3, "lr_milestones": [2]}')
    monkeypatch.setenv(team_code.CONFIG_VARIABLE, str(config_file))
    team_code.training_code("data2", "model2")
    assert calls == [("data", "model", None), ("data2", "model2", Config(epochs=3, lr_milestones=(2,)))]
