"""The challenge's own entry points (2020 and 2021 names) agree with the batched driver."""
import os

import numpy as np
import scipy.io

import helper_code
import team_code
from ecgnet import labels
from ecgnet.inference import Ensemble
from ecgnet.runner import run_folder


def test_per_record_functions_match_the_driver(tiny_model, tmp_path):
    model_folder, data = tiny_model
    run_folder(Ensemble.from_folder(model_folder), data, tmp_path, log=lambda m: None)
    model = team_code.load_12ECG_model(model_folder)
    model_2021 = team_code.load_model(model_folder, ("I", "II"))
    headers, recordings = helper_code.find_challenge_files(data)
    assert len(headers) == 30
    for header_file, recording_file in list(zip(headers, recordings))[::5]:
        name = os.path.splitext(os.path.basename(header_file))[0]
        lines = open(tmp_path / f"{name}.csv").read().splitlines()
        expected_labels = np.array(lines[2].split(","), dtype=int)
        expected_probabilities = np.array(lines[3].split(","), dtype=float)
        with open(header_file) as f:
            header_data = f.readlines()
        data_2020 = scipy.io.loadmat(recording_file)["val"].astype(np.float64)
        got_labels, got_probabilities, classes = team_code.run_12ECG_classifier(data_2020, header_data, model)
        assert classes == list(labels.CLASSES)
        np.testing.assert_array_equal(got_labels, expected_labels)
        np.testing.assert_allclose(got_probabilities, expected_probabilities, atol=1e-6)
        header = helper_code.load_header(header_file)
        classes, got_labels, got_probabilities = team_code.run_model(
            model_2021, header, helper_code.load_recording(recording_file, header))
        np.testing.assert_array_equal(got_labels, expected_labels)


def test_helper_functions_read_the_header(tiny_model):
    _, data = tiny_model
    header = helper_code.load_header(os.path.join(data, "A0001.hea"))
    assert helper_code.get_recording_id(header) == "A0001"
    assert helper_code.get_frequency(header) == 500 and helper_code.get_num_samples(header) == 7500
    assert helper_code.get_leads(header)[:3] == ("I", "II", "III")
    assert (helper_code.get_age(header), helper_code.get_sex(header)) == (74, "Male")
    assert helper_code.get_labels(header) == ["59118001"]
    np.testing.assert_array_equal(helper_code.get_adc_gains(header, ("II", "I")), [1000, 1000])
    signal, leads = helper_code.load_signals(os.path.join(data, "A0001.hea"))
    raw = helper_code.load_recording(os.path.join(data, "A0001.mat"), header, ("II",))
    assert signal.dtype == np.float32 and signal.shape == (12, 7500) and len(leads) == 12
    np.testing.assert_allclose(signal[1], raw[0] / 1000, atol=1e-6)
