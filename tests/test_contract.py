"""The organisers' own scripts, run as they run them, against this project.

The challenge runs an entry with its own copies of the scripts teams must not edit: for 2020
`driver.py` and `train_model.py`, for 2021 `train_model.py`, `test_model.py` and `helper_code.py`.
Each is re-implemented below (not copied), doing what the official one does in the same order,
and run as a subprocess from a folder of its own, so that its `driver.py` or `train_model.py`
shadows the project's and its imports find the project's modules through PYTHONPATH, as when
the organisers drop their files into the repository. Their outputs must equal the project
driver's to 1e-6, on whole records and on 6-, 4-, 3- and 2-lead copies of records.
"""

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.io
import torch

from ecgnet import labels, preprocess
from ecgnet.inference import Ensemble
from ecgnet.model import SEResNet1d
from ecgnet.records import Record

from helpers import PTBXL, RECORDS, ROOT, TINY, run_driver, sample_names

# python-classifier-2020 driver.py: load the model once; for each .mat (hidden files skipped),
# `val` as float64 and the header's readlines() go to run_12ECG_classifier; str() of each value.
DRIVER_2020 = """
import os, sys
import numpy as np
from scipy.io import loadmat
from run_12ECG_classifier import load_12ECG_model, run_12ECG_classifier

def load_challenge_data(mat_file):
    data = np.asarray(loadmat(mat_file)["val"], dtype=np.float64)
    with open(mat_file.replace(".mat", ".hea"), "r") as f:
        header_data = f.readlines()
    return data, header_data

def save_challenge_predictions(output_directory, mat_name, scores, labels, classes):
    lines = ["#" + os.path.splitext(mat_name)[0], ",".join(classes),
             ",".join(str(x) for x in labels), ",".join(str(x) for x in scores)]
    with open(os.path.join(output_directory, mat_name.replace(".mat", ".csv")), "w") as f:
        f.write("\\n".join(lines) + "\\n")

if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise Exception("usage: python driver.py model input output")
    model_input, input_directory, output_directory = sys.argv[1:]
    input_files = [f for f in os.listdir(input_directory)
                   if os.path.isfile(os.path.join(input_directory, f))
                   and not f.lower().startswith(".") and f.lower().endswith("mat")]
    if not os.path.isdir(output_directory):
        os.mkdir(output_directory)
    model = load_12ECG_model(model_input)
    for f in input_files:
        data, header_data = load_challenge_data(os.path.join(input_directory, f))
        current_label, current_score, classes = run_12ECG_classifier(data, header_data, model)
        save_challenge_predictions(output_directory, f, current_score, current_label, classes)
"""

# python-classifier-2020 train_model.py: create the output folder, then train into it.
TRAIN_2020 = """
import os, sys
from train_12ECG_classifier import train_12ECG_classifier

if __name__ == "__main__":
    input_directory, output_directory = sys.argv[1], sys.argv[2]
    if not os.path.isdir(output_directory):
        os.mkdir(output_directory)
    train_12ECG_classifier(input_directory, output_directory)
"""

# python-classifier-2021 train_model.py.
TRAIN_2021 = """
import sys
from team_code import training_code

if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise Exception("usage: python train_model.py data model")
    training_code(sys.argv[1], sys.argv[2])
"""

# python-classifier-2021 test_model.py: the lead sets present (sort_leads of each header's leads),
# one load_model per set, then per record the raw recording to run_model and save_outputs.
TEST_2021 = """
import os, sys
from team_code import load_model, run_model
from helper_code import *

if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise Exception("usage: python test_model.py model data outputs")
    model_directory, data_directory, output_directory = sys.argv[1:]
    header_files, recording_files = find_challenge_files(data_directory)
    if not recording_files:
        raise Exception("No data was provided.")
    if not os.path.isdir(output_directory):
        os.mkdir(output_directory)
    lead_sets = {sort_leads(get_leads(load_header(f))) for f in header_files}
    models = {leads: load_model(model_directory, leads) for leads in lead_sets}
    for header_file, recording_file in zip(header_files, recording_files):
        header = load_header(header_file)
        recording = load_recording(recording_file)
        model = models[sort_leads(get_leads(header))]
        classes, labels, probabilities = run_model(model, header, recording)
        root = os.path.splitext(os.path.basename(header_file))[0]
        save_outputs(os.path.join(output_directory, root + ".csv"), get_recording_id(header),
                     classes, labels, probabilities)
"""

# What python-classifier-2021's helper_code.py does for test_model.py, to run it with theirs.
OFFICIAL_HELPER_2021 = """
import os
import numpy as np
from scipy.io import loadmat

STANDARD = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

def sort_leads(leads):
    position = lambda lead: STANDARD.index(lead) if lead in STANDARD else len(STANDARD) + leads.index(lead)
    return tuple(sorted(leads, key=position))

def find_challenge_files(data_directory):
    header_files, recording_files = [], []
    for name in sorted(os.listdir(data_directory)):
        root, extension = os.path.splitext(name)
        header_file = os.path.join(data_directory, root + ".hea")
        recording_file = os.path.join(data_directory, root + ".mat")
        is_record = extension == ".hea" and os.path.isfile(header_file) and os.path.isfile(recording_file)
        if not root.startswith(".") and is_record:
            header_files.append(header_file)
            recording_files.append(recording_file)
    return header_files, recording_files

def load_header(header_file):
    with open(header_file, "r") as f:
        return f.read()

def get_leads(header):
    lines = header.split("\\n")
    count = int(lines[0].split(" ")[1])
    return tuple(line.split(" ")[-1] for line in lines[1:count + 1])

def choose_leads(recording, header, leads):
    available = get_leads(header)
    chosen = np.zeros((len(leads), np.shape(recording)[1]), recording.dtype)
    for i, lead in enumerate(leads):
        if lead in available:
            chosen[i, :] = recording[available.index(lead), :]
    return chosen

def load_recording(recording_file, header=None, leads=None, key="val"):
    recording = loadmat(recording_file)[key]
    return choose_leads(recording, header, leads) if header and leads else recording

def get_recording_id(header):
    return header.split("\\n")[0].split(" ")[0]

def save_outputs(output_file, recording_id, classes, labels, probabilities):
    lines = ["#{}".format(recording_id), ",".join(str(c) for c in classes),
             ",".join(str(l) for l in labels), ",".join(str(p) for p in probabilities)]
    with open(output_file, "w") as f:
        f.write("\\n".join(lines) + "\\n")
"""

# The 2021 lead sets below 12 leads.
REDUCED = {
    6: ("I", "II", "III", "aVR", "aVL", "aVF"),
    4: ("I", "II", "III", "V2"),
    3: ("I", "II", "V2"),
    2: ("I", "II"),
}
COPIED = ("A0001", "E07500", "HR07968")  # records copied with fewer leads


def run_script(folder, files, arguments, env=None, timeout=600):
    """Write `files` ({name: source}) into `folder` and run the first with `arguments` there."""
    os.makedirs(folder, exist_ok=True)
    for name, source in files.items():
        (folder / name).write_text(source)
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    result = subprocess.run(
        [sys.executable, next(iter(files)), *map(str, arguments)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def reduced_copy(name, leads, target):
    """Write NAME_L<k> into `target`: committed record NAME with only `leads`, in that order."""
    new_name = f"{name}_L{len(leads)}"
    lines = (RECORDS / f"{name}.hea").read_text().splitlines()
    first = lines[0].split(" ")
    signal_lines = lines[1 : 1 + int(first[1])]
    rows = [[line.split()[-1] for line in signal_lines].index(lead) for lead in leads]
    first[:2] = [new_name, str(len(leads))]
    chosen = [f"{new_name}.mat {signal_lines[r].split(' ', 1)[1]}" for r in rows]
    header = [" ".join(first)] + chosen + lines[1 + len(signal_lines) :]
    (target / f"{new_name}.hea").write_text("\n".join(header) + "\n")
    val = scipy.io.loadmat(RECORDS / f"{name}.mat")["val"]
    scipy.io.savemat(target / f"{new_name}.mat", {"val": val[rows]}, format="4")
    return new_name


def read_outputs(folder):
    """{file name: (record line, classes, labels, probabilities)} of an outputs folder."""
    outputs = {}
    for name in sorted(os.listdir(folder)):
        lines = (folder / name).read_text().splitlines()
        assert len(lines) == 4, name
        outputs[name] = (
            lines[0],
            lines[1].split(","),
            np.array(lines[2].split(","), dtype=int),
            np.array(lines[3].split(","), dtype=float),
        )
    return outputs


def assert_same_outputs(got, expected, record_lines=True):
    assert sorted(got) == sorted(expected)
    for name, (record, classes, binary, probabilities) in got.items():
        assert classes == expected[name][1] == list(labels.CLASSES), name
        np.testing.assert_array_equal(binary, expected[name][2], err_msg=name)
        np.testing.assert_allclose(probabilities, expected[name][3], rtol=0, atol=1e-6, err_msg=name)
        if record_lines:
            assert record == expected[name][0], name


@pytest.fixture(scope="module")
def test_data(tmp_path_factory):
    """The committed records (the tiny model's own: the scripts must agree on any record), plus
    reduced-lead copies of three."""
    folder = tmp_path_factory.mktemp("contract") / "data"
    folder.mkdir()
    for name in sample_names():
        for ext in (".hea", ".mat"):
            os.symlink(RECORDS / f"{name}{ext}", folder / f"{name}{ext}")
    for name in COPIED:
        for leads in REDUCED.values():
            reduced_copy(name, leads, folder)
    return folder


@pytest.fixture(scope="module")
def driver_outputs(tiny_model, test_data):
    """The project's batched driver.py on the test data."""
    outputs = test_data.parent / "driver_outputs"
    result = run_driver(tiny_model[0], test_data, outputs)
    assert result.returncode == 0, result.stderr
    return read_outputs(outputs)


def test_official_2020_driver(tiny_model, test_data, driver_outputs, tmp_path):
    run_script(tmp_path / "organisers", {"driver.py": DRIVER_2020}, [tiny_model[0], test_data, tmp_path / "out"])
    assert_same_outputs(read_outputs(tmp_path / "out"), driver_outputs)


@pytest.mark.parametrize("helper", ["ours", "theirs"])
def test_official_2021_test_model(helper, tiny_model, test_data, driver_outputs, tmp_path):
    files = {"test_model.py": TEST_2021}
    if helper == "theirs":
        files["helper_code.py"] = OFFICIAL_HELPER_2021  # shadows the project's helper_code.py
    result = run_script(tmp_path / "organisers", files, [tiny_model[0], test_data, tmp_path / "out"])
    # Their get_recording_id keeps Georgia's `E00009.mat`; ours reads the record name.
    assert_same_outputs(read_outputs(tmp_path / "out"), driver_outputs, record_lines=helper == "ours")
    # One warning per reduced lead set, saying what the 12-lead network gets instead.
    assert result.stderr.count("ReducedLeadsWarning") == len(REDUCED), result.stderr
    assert (
        "records with leads I, II: the network was trained on 12 leads; III, aVR, aVL, aVF derived "
        "from the limb leads present; V1, V2, V3, V4, V5, V6 set to zero" in result.stderr
    )


def test_official_training_scripts_train_what_the_project_trains(tiny_model, tmp_path):
    """Both training templates, with ECGNET_CONFIG naming the tiny config, train on the tiny
    model's records exactly the tiny model (training is deterministic), so the driver tests
    above hold for a model they trained."""
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY.to_dict()))
    env = {"ECGNET_CONFIG": str(config_file)}
    data = tiny_model[1]
    run_script(tmp_path / "organisers2020", {"train_model.py": TRAIN_2020}, [data, tmp_path / "model2020"], env)
    run_script(tmp_path / "organisers2021", {"train_model.py": TRAIN_2021}, [data, tmp_path / "model2021"], env)
    expected = json.loads(open(os.path.join(tiny_model[0], "model.json")).read())
    for model in ("model2020", "model2021"):
        manifest = json.loads((tmp_path / model / "model.json").read_text())
        assert manifest["config"] == TINY.to_dict() and manifest["thresholds"] == expected["thresholds"]
        for k in (1, 2):
            trained = torch.load(tmp_path / model / f"fold{k}.pt", weights_only=True)
            reference = torch.load(os.path.join(tiny_model[0], f"fold{k}.pt"), weights_only=True)
            assert trained.keys() == reference.keys() and all(torch.equal(trained[n], reference[n]) for n in trained)


def test_reduced_lead_copies_give_sensible_outputs(driver_outputs):
    """6-, 4-, 3- and 2-lead copies: finite probabilities, at least one label, and the same
    outputs whichever limb leads are given (they are derived from I and II)."""
    for name in COPIED:
        whole = driver_outputs[f"{name}.csv"]
        copies = {k: driver_outputs[f"{name}_L{k}.csv"] for k in REDUCED}
        for k, (_, _, binary, probabilities) in copies.items():
            assert np.all((probabilities > 0) & (probabilities < 1)) and binary.sum() >= 1, (name, k)
            assert not np.array_equal(probabilities, whole[3])  # the record did lose leads
        # Same precordial leads (none, or V2 alone), so only the derivation differs: ~1 uV.
        np.testing.assert_allclose(copies[2][3], copies[6][3], atol=1e-3)
        np.testing.assert_allclose(copies[3][3], copies[4][3], atol=1e-3)


def einthoven_signal(samples=500, seed=0):
    """A (12, n) signal whose limb leads obey Einthoven's and Goldberger's laws."""
    rng = np.random.default_rng(seed)
    i, ii = rng.normal(size=(2, samples)).astype(np.float32)
    limb = [i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2]
    return np.vstack([limb, rng.normal(size=(6, samples))]).astype(np.float32)


@pytest.mark.parametrize("leads", list(REDUCED.values()) + [("II", "aVL", "V1"), ("III", "aVF")])
def test_limb_leads_are_derived_and_precordial_leads_stay_zero(leads):
    full = einthoven_signal()
    ordered, missing = preprocess.order_leads(full[[preprocess.LEADS.index(lead) for lead in leads]], leads)
    completed, still_missing = preprocess.complete_limb_leads(ordered, missing)
    np.testing.assert_allclose(completed[:6], full[:6], atol=1e-5)
    assert still_missing == tuple(lead for lead in preprocess.LEADS[6:] if lead not in leads)
    for lead in preprocess.LEADS[6:]:
        expected = full[preprocess.LEADS.index(lead)] if lead in leads else 0
        np.testing.assert_array_equal(completed[preprocess.LEADS.index(lead)], expected)


@pytest.mark.parametrize("leads", [preprocess.LEADS, ("I", "V1", "V2"), ("aVR", "V5")])
def test_nothing_is_derived_from_all_or_fewer_than_two_limb_leads(leads):
    full = einthoven_signal()
    ordered, missing = preprocess.order_leads(full[[preprocess.LEADS.index(lead) for lead in leads]], leads)
    completed, still_missing = preprocess.complete_limb_leads(ordered.copy(), missing)
    np.testing.assert_array_equal(completed, ordered)
    assert still_missing == missing


def test_one_warning_per_lead_set_and_model():
    signal = einthoven_signal(1000)
    records = []
    for k, leads in enumerate((("I", "II"), ("II", "I"), preprocess.LEADS, ("I", "II", "III", "V2"), ("I", "II"))):
        prepared, missing = preprocess.prepare_signal(signal[: len(leads)], leads, 500, TINY.sample_rate)
        records.append(Record(f"R{k}", prepared, preprocess.demographics(50, "male"), (), missing))
    network = SEResNet1d(TINY).state_dict()
    environment = dict(os.environ)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # only the classifier's own once-per-lead-set rule applies
        ensemble = Ensemble(TINY, [network], [0.5] * labels.NUM_CLASSES, "cpu")
        for record in records:
            ensemble.classify([record])
        ensemble.classify(records)
        Ensemble(TINY, [network], [0.5] * labels.NUM_CLASSES, "cpu").classify(records[:1])  # another model
    messages = [str(w.message) for w in caught if issubclass(w.category, preprocess.ReducedLeadsWarning)]
    assert len(messages) == 3
    assert messages[1] == (
        "records with leads I, II, III, V2: the network was trained on 12 leads; "
        "aVR, aVL, aVF derived from the limb leads present; V1, V3, V4, V5, V6 set to zero; "
        "outputs may be less reliable than with 12 leads"
    )
    assert messages[2] == messages[0]
    assert dict(os.environ) == environment  # a model changes nothing of its process's environment


def test_official_2021_test_model_with_our_helper_reads_native_wfdb_records(tiny_model, tmp_path):
    """The 2021 test_model.py, with the project's helper_code.py, on PTB-XL's own nested layout
    (NAME.hea + NAME.dat in records500/00000 and records100/00000): the same outputs as the
    project's driver. (With
    the organisers' helper_code.py it finds nothing: theirs lists NAME.mat files of DATA alone;
    the 2020 driver.py lists .mat files itself.)"""
    data = tmp_path / "ptbxl"
    for rate in ("records500", "records100"):
        shutil.copytree(PTBXL / rate, data / rate)
    result = run_driver(tiny_model[0], data, tmp_path / "driver")
    assert result.returncode == 0, result.stderr
    run_script(tmp_path / "organisers", {"test_model.py": TEST_2021}, [tiny_model[0], data, tmp_path / "out"])
    outputs = read_outputs(tmp_path / "out")
    assert len(outputs) == 7 and outputs["00491_hr.csv"][0] == "#00491_hr"
    assert_same_outputs(outputs, read_outputs(tmp_path / "driver"))
