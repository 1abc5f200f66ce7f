"""The driver on records of unusual rate, length and layout, and on records it cannot read."""

import os
import shutil

import numpy as np

from ecgnet import labels, synthetic
from ecgnet.inference import Ensemble
from ecgnet.preprocess import LEADS
from ecgnet.runner import run_folder

from helpers import run_driver as drive


def read_output(path):
    lines = open(path).read().splitlines()
    assert len(lines) == 4 and lines[1].split(",") == list(labels.CLASSES)
    return np.array(lines[2].split(","), dtype=int), np.array(lines[3].split(","), dtype=float)


def write(folder, name, rate, seconds, seed, lead_names=LEADS):
    rng = np.random.default_rng(seed)
    signal = synthetic.make_signal([synthetic.SINUS_RHYTHM], rate, seconds, rng)
    order = [LEADS.index(lead) for lead in lead_names]
    synthetic.write_record(
        folder, name, signal[order], rate, age=50, sex="Female", dx=[synthetic.SINUS_RHYTHM], lead_names=lead_names
    )


def test_unusual_rates_and_lengths(tiny_model, tmp_path):
    model, _ = tiny_model
    data = tmp_path / "data"
    data.mkdir()
    cases = {
        "R257": (257, 30 * 60),
        "R1000": (1000, 60),
        "R360": (360, 12),
        "R250": (250, 10),
        "R128": (128, 10),
        "SHORT": (500, 1.5),
        "TINY": (500, 0.05),
    }
    for i, (name, (rate, seconds)) in enumerate(cases.items()):
        write(data, name, rate, seconds, i)
    (data / ".hidden.mat").write_bytes(b"not a record")
    result = drive(model, data, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == sorted(f"{n}.csv" for n in cases)
    for name in cases:
        binary, probabilities = read_output(tmp_path / "out" / f"{name}.csv")
        assert binary.sum() >= 1 and np.all((probabilities > 0) & (probabilities < 1)), name


def test_lead_order_in_the_header_does_not_matter(tiny_model, tmp_path):
    model, _ = tiny_model
    shuffled = list(reversed(LEADS))
    for folder, lead_names in (("a", LEADS), ("b", shuffled)):
        (tmp_path / folder).mkdir()
        write(tmp_path / folder, "X1", 500, 10, seed=3, lead_names=lead_names)
    assert drive(model, tmp_path / "a", tmp_path / "oa").returncode == 0
    assert drive(model, tmp_path / "b", tmp_path / "ob").returncode == 0
    a, b = read_output(tmp_path / "oa" / "X1.csv"), read_output(tmp_path / "ob" / "X1.csv")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)


def test_unreadable_records_still_get_outputs_and_a_failing_status(tiny_model, tmp_path):
    model, _ = tiny_model
    data = tmp_path / "data"
    data.mkdir()
    for i, name in enumerate(["GOOD1", "TRUNC", "NOHEADER", "BADRATE", "GOOD2"]):
        write(data, name, 500, 10, i)
    mat = (data / "TRUNC.mat").read_bytes()
    (data / "TRUNC.mat").write_bytes(mat[: len(mat) // 3])
    os.remove(data / "NOHEADER.hea")
    text = (data / "BADRATE.hea").read_text().replace("BADRATE 12 500", "BADRATE 12 0", 1)
    (data / "BADRATE.hea").write_text(text)
    result = drive(model, data, tmp_path / "out")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for name, problem in [("TRUNC", "TRUNC.mat"), ("NOHEADER", "NOHEADER.hea"), ("BADRATE", "sampling rate")]:
        assert any(line.startswith(f"failed: {name}:") and problem in line for line in result.stderr.splitlines()), name
        binary, probabilities = read_output(tmp_path / "out" / f"{name}.csv")
        assert not binary.any() and not probabilities.any()
    for name in ("GOOD1", "GOOD2"):
        assert read_output(tmp_path / "out" / f"{name}.csv")[0].sum() >= 1
    assert "wrote 5 output files for 5 recordings" in result.stderr and "3 failed" in result.stderr


def test_driver_refuses_a_bad_model_folder(tmp_path):
    (tmp_path / "data").mkdir()
    result = drive(tmp_path / "nomodel", tmp_path / "data", tmp_path / "out")
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_output_does_not_depend_on_chunking(tiny_model, tmp_path):
    model, data = tiny_model
    ensemble = Ensemble.from_folder(model)
    run_folder(ensemble, data, tmp_path / "together")
    for name in sorted(os.listdir(data))[:12:2]:  # a few records on their own
        single = tmp_path / "single" / name
        single.mkdir(parents=True)
        stem = os.path.splitext(name)[0]
        for ext in (".hea", ".mat"):
            shutil.copy(os.path.join(data, stem + ext), single)
        run_folder(ensemble, single, tmp_path / "alone")
        a, b = read_output(tmp_path / "together" / f"{stem}.csv"), read_output(tmp_path / "alone" / f"{stem}.csv")
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], atol=2e-6)
