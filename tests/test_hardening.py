"""Hostile-but-fair inputs (issue 10): records, names, folders and model files that once gave
NaN outputs, tracebacks, unbounded memory or a stopped run. Each test is one defect's recipe."""

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch

import driver  # the entry points (on pytest's pythonpath), run in-process
import evaluate_model
import train_model
from ecgnet import headers, labels, loop, matfiles, modelstore, preprocess, training
from ecgnet.inference import Ensemble
from ecgnet.records import RecordError
from ecgnet.runner import run_folder

from helpers import RECORDS, ROOT, TINY, link_records, sample_names

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def a0001():
    return scipy.io.loadmat(RECORDS / "A0001.mat")["val"]


def write_record(folder, name, val=None, first=None, edit=None, file_name=None, mat_format="4"):
    """NAME.hea and NAME.mat from A0001: its header with record line `first` (default: the
    right one for `val`) and lines changed by `edit`, and `val` (default: A0001's samples)."""
    val = a0001() if val is None else val
    lines = (RECORDS / "A0001.hea").read_text().splitlines()
    lines[0] = first or f"{name} {val.shape[0]} 500 {val.shape[1]}"
    lines = edit(lines) if edit else lines
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, file_name or name)
    with open(stem + ".hea", "w") as f:
        f.write("\n".join(lines) + "\n")
    scipy.io.savemat(stem + ".mat", {"val": val}, format=mat_format)
    return stem


def read_output(path):
    """(labels, probabilities) of an output file, checked to be well formed and finite."""
    lines = open(path).read().splitlines()
    assert len(lines) == 4 and lines[1].split(",") == list(labels.CLASSES), path
    probabilities = np.array(lines[3].split(","), dtype=float)
    assert np.isfinite(probabilities).all() and len(probabilities) == 24, path
    return np.array(lines[2].split(","), dtype=int), probabilities


def assert_negative(path):
    binary, probabilities = read_output(path)
    assert not binary.any() and not probabilities.any(), path


def drive(ensemble, data, outputs):
    """run_folder in-process: (report, {name: reason}, log text)."""
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("ecgnet.runner")
    logger.addHandler(handler)
    try:
        report = run_folder(ensemble, str(data), str(outputs))
    finally:
        logger.removeHandler(handler)
    return report, dict(report.failures), "\n".join(messages)


def run_main(module, capsys, *args):
    """An entry point's main() in-process: (status, stderr)."""
    status = module.main([str(a) for a in args])
    return status, capsys.readouterr().err


@pytest.fixture(scope="module")
def ensemble(tiny_model):
    return Ensemble.from_folder(tiny_model[0], "cpu")


# ---------------------------------------------------------------------------------------------
# 1. NaN is never checked
# ---------------------------------------------------------------------------------------------


def test_records_that_resample_or_scale_to_nan_fail_by_name(ensemble, tmp_path):
    data = tmp_path / "data"
    write_record(data, "one", a0001()[:, :1], first="one 12 500 1")
    write_record(
        data, "gain", edit=lambda lines: [lines[0]] + [line.replace("1000/mV", "1e-15/mV") for line in lines[1:]]
    )
    write_record(data, "good")
    report, failures, _ = drive(ensemble, data, tmp_path / "out")
    assert set(failures) == {"one", "gain"}
    assert "one.hea" in failures["one"] and "not finite" in failures["one"]
    assert "gain.mat" in failures["gain"] and "gain" in failures["gain"]
    for name in ("one", "gain"):
        assert_negative(tmp_path / "out" / f"{name}.csv")
    assert read_output(tmp_path / "out" / "good.csv")[0].any()


def test_no_output_file_holds_nan_even_when_the_network_gives_it(ensemble, tmp_path, monkeypatch):
    data = tmp_path / "data"
    for name in ("R1", "R2"):
        write_record(data, name)

    def nan_for_r2(records, batch_samples=None, measurements=None):
        binary = np.zeros((len(records), 24), dtype=bool)
        probabilities = np.full((len(records), 24), 0.25, dtype=np.float32)
        probabilities[[r.name == "R2" for r in records]] = np.nan
        return binary, probabilities

    monkeypatch.setattr(ensemble, "classify", nan_for_r2)
    _, failures, _ = drive(ensemble, data, tmp_path / "out")
    assert list(failures) == ["R2"] and "not finite" in failures["R2"]
    assert_negative(tmp_path / "out" / "R2.csv")
    assert read_output(tmp_path / "out" / "R1.csv")[1][0] == 0.25


def hostile_training_folder(folder):
    """Good sample records plus records that once crashed training or poisoned its weights."""
    link_records(RECORDS, folder, sample_names(per_prefix=3))
    write_record(folder, "one", a0001()[:, :1], first="one 12 500 1")  # resamples to NaN
    write_record(folder, "sparse", scipy.sparse.csc_matrix(a0001()), mat_format="5")  # TypeError
    write_record(folder, "slow", first="slow 12 0.0001 7500")  # ZeroDivisionError
    write_record(folder, "huge", first=f"huge 12 500 {10**30}")  # OverflowError
    write_record(folder, "comma", first="a,b 12 500 7500")  # header name with a comma
    write_record(folder, "x,y")  # file name with a comma
    return str(folder)


def test_training_excludes_and_counts_bad_records_and_its_weights_stay_finite(tmp_path):
    data = hostile_training_folder(tmp_path / "data")
    model = tmp_path / "model"
    report = training.train(data, str(model), config=TINY.replace(epochs=1), jobs=1)
    assert report is not None and (model / "model.json").exists()
    log = (model / "train.log").read_text()
    assert "13 records for training; excluded 1 without any scored label and 5 unreadable" in log
    for name, problem in [
        ("one.hea", "not finite"),
        ("sparse.mat", "sparse"),
        ("slow.hea", "sampling rate"),
        ("huge.hea", "samples"),
        ("x,y.hea", "a comma"),
    ]:
        assert any(name in line and problem in line for line in log.splitlines()), name
    for fold in (1, 2):
        weights = torch.load(model / f"fold{fold}.pt", weights_only=True)
        assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())
    rows = (model / "oof_probabilities.csv").read_text().splitlines()
    assert all(len(row.split(",")) == 26 for row in rows)
    assert any(row.startswith("comma,") for row in rows)  # named after its file, as the driver names outputs


def test_training_refuses_an_epoch_that_is_not_finite_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    data = link_records(RECORDS, tmp_path / "data", sample_names(per_prefix=2))
    real_epoch, calls = loop.train_epoch, []

    def poisoned_second_epoch(network, *args):
        loss, seen = real_epoch(network, *args)
        calls.append(loss)
        if len(calls) == 2:
            with torch.no_grad():
                next(network.parameters()).fill_(math.nan)
            return math.nan, seen
        return loss, seen

    monkeypatch.setattr(loop, "train_epoch", poisoned_second_epoch)
    model = tmp_path / "model"
    with pytest.raises(
        training.TrainingError, match=r"fold 1 epoch 2: the loss and the weights .*checkpoint of epoch 1 is kept"
    ):
        training.train(data, str(model), config=TINY, jobs=1)
    checkpoint = torch.load(model / "work" / "fold1_checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in checkpoint["model"].values() if t.is_floating_point())
    assert not (model / "fold1.pt").exists() and not (model / "model.json").exists()


# ---------------------------------------------------------------------------------------------
# 2. One unexpected exception stops the whole run
# ---------------------------------------------------------------------------------------------


def test_sparse_val_and_tiny_rate_fail_by_name_and_the_run_goes_on(tiny_model, tmp_path, capsys):
    data = tmp_path / "data"
    write_record(data, "sparse", scipy.sparse.csc_matrix(a0001()), mat_format="5")
    write_record(data, "slow", first="slow 12 0.0001 7500")
    for name in ("A", "Z"):
        write_record(data, name)
    status, stderr = run_main(driver, capsys, tiny_model[0], data, tmp_path / "out")
    assert status == 1 and "Traceback" not in stderr
    assert "failed: sparse:" in stderr and "failed: slow:" in stderr and "sampling rate" in stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["A.csv", "Z.csv", "slow.csv", "sparse.csv"]


def test_any_unexpected_failure_while_reading_is_that_records_failure(ensemble, tmp_path, monkeypatch):
    data = tmp_path / "data"
    for name in ("A", "B", "C"):
        write_record(data, name, first=f"{name} 12 {500 if name != 'B' else 250} 7500")
    real = preprocess.prepare_signal

    def fails_at_250_hz(signal, lead_names, from_rate, *args):
        if from_rate == 250:
            raise ZeroDivisionError("a library bug")
        return real(signal, lead_names, from_rate, *args)

    monkeypatch.setattr(preprocess, "prepare_signal", fails_at_250_hz)
    report, failures, _ = drive(ensemble, data, tmp_path / "out")
    assert list(failures) == ["B"] and "B.hea" in failures["B"] and "ZeroDivisionError: a library bug" in failures["B"]
    assert report.written == 3


def test_a_failing_chunk_is_logged_and_retried_record_by_record(ensemble, tmp_path, monkeypatch):
    data = tmp_path / "data"
    for name in ("A", "B", "C"):
        write_record(data, name)
    real = ensemble.classify

    def fails_on_b(records, batch_samples=None, measurements=None):
        if any(r.name == "B" for r in records):
            raise RuntimeError("B breaks the batch")
        return real(records, batch_samples, measurements)

    monkeypatch.setattr(ensemble, "classify", fails_on_b)
    _, failures, log = drive(ensemble, data, tmp_path / "out")
    assert "a chunk of 3 records failed (RuntimeError: B breaks the batch)" in log
    assert list(failures) == ["B"] and read_output(tmp_path / "out" / "A.csv")[0].any()


# ---------------------------------------------------------------------------------------------
# 3. Unbounded resources from a header
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, words",
    [
        ("X 12 100000000 7500", "sampling rate"),
        ("X 12 1000000 15000000", "sampling rate"),
        ("X 12 20 7500", "sampling rate"),
        (f"X 12 500 {10**30}", "samples per lead"),
        ("X 12 1000 2000001", "samples per lead"),
        ("X 12 50 200000", "longer than the limit of 60 min"),
        ("X 64 1000 1000000", "values"),
    ],
)
def test_header_sizes_beyond_the_limits_are_refused_before_any_allocation(tmp_path, first, words):
    lines = [first] + [f"X.mat 16+24 1000/mV 16 0 0 0 0 L{i}" for i in range(int(first.split()[1]))]
    (tmp_path / "X.hea").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=words):
        headers.load_header(tmp_path / "X.hea")


def test_a_rate_whose_resampling_filter_would_be_huge_is_refused(ensemble, tmp_path):
    write_record(tmp_path / "data", "fine", first="fine 12 359.999 7500")
    _, failures, _ = drive(ensemble, tmp_path / "data", tmp_path / "out")
    assert "fewer decimals" in failures["fine"]


def test_mat_shape_is_read_without_loading_or_inflating_the_data(tmp_path):
    write_record(tmp_path, "X", a0001()[:, :5000])
    scipy.io.savemat(tmp_path / "X.mat", {"val": np.zeros((12, 1_500_000), np.int16)}, do_compression=True)
    assert os.path.getsize(tmp_path / "X.mat") < 100_000  # 36 MB of samples
    header = headers.load_header(tmp_path / "X.hea")
    tracemalloc.start()
    try:
        with pytest.raises(RecordError, match=r"shape \(12, 1500000\) but the header says \(12, 5000\)"):
            matfiles.load_signal(header)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_compressed_val_holding_more_data_than_its_shape_is_refused(tmp_path):
    write_record(tmp_path, "X", a0001()[:, :100])
    scipy.io.savemat(tmp_path / "plain.mat", {"val": a0001()[:, :100]}, format="5")
    plain = (tmp_path / "plain.mat").read_bytes()
    element = plain[128:] + bytes(50_000_000)  # the matrix, then 50 MB more inside the stream
    compressed = zlib.compress(element)
    tag = np.array([15, len(compressed)], dtype="<u4").tobytes()
    (tmp_path / "X.mat").write_bytes(plain[:128] + tag + compressed)
    with pytest.raises(RecordError, match="more data than its shape"):
        matfiles.load_signal(headers.load_header(tmp_path / "X.hea"))


def test_headers_that_are_huge_or_endless_are_refused(tmp_path):
    write_record(tmp_path, "big", edit=lambda lines: lines + ["#" + "x" * 100] * 1000)
    with pytest.raises(RecordError, match="larger than the limit of 64 KiB"):
        headers.load_header(tmp_path / "big.hea")
    os.symlink("/dev/zero", tmp_path / "zero.hea")
    with pytest.raises(RecordError, match="not a regular file"):
        headers.load_header(tmp_path / "zero.hea")


# ---------------------------------------------------------------------------------------------
# 4-5. Output files: one that cannot be written, and planted links
# ---------------------------------------------------------------------------------------------


def test_an_output_file_that_cannot_be_written_fails_only_its_record(tiny_model, tmp_path, capsys):
    data, outputs = tmp_path / "data", tmp_path / "out"
    long_name = "L" * 250
    for name in ("A", "X", long_name, "Z"):
        write_record(data, name)
    (outputs / "X.csv").mkdir(parents=True)
    status, stderr = run_main(driver, capsys, tiny_model[0], data, outputs)
    assert status == 1 and "Traceback" not in stderr
    assert "failed: X: cannot write its output file" in stderr
    for name in ("A", long_name, "Z"):
        assert read_output(outputs / f"{name}.csv")[0].any()
    assert not [n for n in os.listdir(outputs) if n.startswith(".")]  # no temporary file left


def test_a_planted_temporary_link_is_never_followed(ensemble, tmp_path):
    data, outputs = tmp_path / "data", tmp_path / "out"
    write_record(data, "A0003")
    outputs.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.symlink(victim, outputs / "A0003.csv.tmp")
    drive(ensemble, data, outputs)
    assert victim.read_text() == "precious"
    assert read_output(outputs / "A0003.csv")[0].any()


# ---------------------------------------------------------------------------------------------
# 6. Model folder checks
# ---------------------------------------------------------------------------------------------


def edit_manifest(folder, change):
    manifest = json.loads((folder / "model.json").read_text())
    change(manifest)
    (folder / "model.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["thresholds"].__setitem__(3, math.nan), "not valid JSON \\(NaN is not a JSON number\\)"),
        (lambda m: m["thresholds"].__setitem__(3, -5), "thresholds must be 24 numbers from 0 to 1"),
        (lambda m: m["thresholds"].__setitem__(3, "0.5"), "thresholds must be 24 numbers from 0 to 1"),
        (lambda m: m["thresholds"].pop(), "thresholds must be 24 numbers"),
        (lambda m: m["weights"][0].pop("file"), 'needs a "file" name'),
        (lambda m: m["weights"][0].update(file="../model.json"), "not a plain file name"),
        (lambda m: m["weights"][0].update(sha256=5), 'needs a "file" name and a "sha256"'),
        (lambda m: m.update(weights={}), "at least one weight file"),
        (lambda m: m["config"].update(width="8"), "width must be an integer"),
        (lambda m: m["config"].update(kernel=0), "kernel"),
        (lambda m: m["config"].update(blocks=3), "blocks must be a list of integers"),
        (lambda m: m.update(config=[1]), "config is not an object"),
        (lambda m: m.update(classes=5), "other classes"),
    ],
)
def test_every_field_of_model_json_is_checked(copy_model, tiny_model, tmp_path, capsys, change, message):
    edit_manifest(copy_model, change)
    with pytest.raises(modelstore.ModelFolderError, match=message) as error:
        Ensemble.from_folder(copy_model, "cpu")
    assert "model.json" in str(error.value)
    status, stderr = run_main(driver, capsys, copy_model, tiny_model[1], tmp_path / "out")
    assert status == 2 and stderr.startswith("error: ") and "model.json" in stderr and "Traceback" not in stderr


def replace_weights(folder, obj):
    torch.save(obj, folder / "fold1.pt")
    edit_manifest(folder, lambda m: m["weights"][0].update(sha256=modelstore.sha256(folder / "fold1.pt")))


@pytest.mark.parametrize(
    "weights, message",
    [
        (lambda w: list(w.values()), "not a weight file: it holds a list"),
        (
            lambda w: {**w, "stem.weight": torch.zeros(3)},
            "weights do not fit the saved config: stem.weight is \\(3,\\)",
        ),
        (lambda w: {k: v for k, v in list(w.items())[1:]}, "weights do not fit the saved config: .* is missing"),
        (lambda w: {**w, "extra": torch.zeros(1)}, "extra is not a weight of this network"),
        (lambda w: {k: v.double() if v.is_floating_point() else v for k, v in w.items()}, "float64, expected"),
        (
            lambda w: {k: torch.full_like(v, math.nan) if v.is_floating_point() else v for k, v in w.items()},
            "not finite",
        ),
    ],
)
def test_every_tensor_is_checked_against_the_config(copy_model, weights, message):
    state = torch.load(copy_model / "fold1.pt", weights_only=True)
    replace_weights(copy_model, weights(state))
    with pytest.raises(modelstore.ModelFolderError, match=message) as error:
        Ensemble.from_folder(copy_model, "cpu")
    assert "fold1.pt" in str(error.value)


class Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_refused_pickle_is_named_in_one_line(copy_model):
    replace_weights(copy_model, {"x": Payload()})
    with pytest.raises(modelstore.ModelFolderError) as error:
        Ensemble.from_folder(copy_model, "cpu")
    message = str(error.value)
    assert "\n" not in message and len(message) < 300 and "fold1.pt" in message and "refused" in message


# ---------------------------------------------------------------------------------------------
# 7. evaluate_model.py writing into a missing folder
# ---------------------------------------------------------------------------------------------


def test_scores_into_a_missing_folder_are_an_error_not_a_traceback(ensemble, tmp_path, capsys):
    data, outputs = tmp_path / "data", tmp_path / "out"
    write_record(data, "A")
    drive(ensemble, data, outputs)
    capsys.readouterr()  # the driver's own log lines
    missing = tmp_path / "missing" / "scores.csv"
    for args in ([missing], ["--json", missing]):
        status, stderr = run_main(evaluate_model, capsys, data, outputs, *args)
        assert status == 1 and stderr == f"error: {missing}: No such file or directory\n"


# ---------------------------------------------------------------------------------------------
# 8-10. Which files make a record, and names
# ---------------------------------------------------------------------------------------------


def test_every_header_is_a_record_even_without_its_mat(ensemble, tmp_path, capsys):
    data, outputs = tmp_path / "data", tmp_path / "out"
    for name in ("A", "NOMAT", "DANGLING", "NOHEA"):
        write_record(data, name)
    os.remove(data / "NOMAT.mat")
    os.remove(data / "DANGLING.mat")
    os.symlink(tmp_path / "gone.mat", data / "DANGLING.mat")
    os.remove(data / "NOHEA.hea")
    _, failures, _ = drive(ensemble, data, outputs)
    assert "NOMAT.mat: signal file is missing" in failures["NOMAT"]
    assert "DANGLING.mat: signal file is a link to a missing file" in failures["DANGLING"]
    assert "NOHEA.hea: header file is missing" in failures["NOHEA"]
    assert sorted(os.listdir(outputs)) == ["A.csv", "DANGLING.csv", "NOHEA.csv", "NOMAT.csv"]
    assert run_main(evaluate_model, capsys, data, outputs)[0] == 0  # the scorer finds an output for every header


def test_upper_case_extensions_make_a_record(ensemble, tmp_path):
    data = tmp_path / "data"
    stem = write_record(data, "N")
    os.rename(stem + ".hea", stem + ".HEA")
    os.rename(stem + ".mat", stem + ".MAT")
    stem = write_record(data, "TWO")  # TWO.hea and TWO.HEA: which is the header?
    os.link(stem + ".hea", stem + ".HEA")
    report, failures, _ = drive(ensemble, data, tmp_path / "out")
    assert list(failures) == ["TWO"] and "has several files of one kind" in failures["TWO"]
    assert read_output(tmp_path / "out" / "N.csv")[0].any()


def test_names_that_cannot_go_into_a_csv_file_fail_by_name(ensemble, tmp_path):
    data, outputs = tmp_path / "data", tmp_path / "out"
    for name in ("A", "new\nline", "com,ma", 'quo"te'):
        write_record(data, name, first="X 12 500 7500")
    _, failures, _ = drive(ensemble, data, outputs)
    assert sorted(failures) == sorted(["new\nline", "com,ma", 'quo"te'])
    assert "line break" in failures["new\nline"] and "a comma" in failures["com,ma"]
    assert "a double quote" in failures['quo"te']
    assert os.listdir(outputs) == ["A.csv"]  # nothing malformed was written
    read_output(outputs / "A.csv")


# ---------------------------------------------------------------------------------------------
# 11. Messages in plain words
# ---------------------------------------------------------------------------------------------


def test_a_binary_header_is_named_without_echoing_it(tmp_path):
    (tmp_path / "X.hea").write_bytes(os.urandom(2000) + b"\x00")
    with pytest.raises(RecordError) as error:
        headers.load_header(tmp_path / "X.hea")
    assert error.value.problem == "is not a WFDB header: it holds binary data, not text"


def test_folders_that_cannot_be_used_are_named_plainly(tiny_model, tmp_path, capsys):
    model = tiny_model[0]
    empty, a_file = tmp_path / "empty", tmp_path / "file"
    empty.mkdir()
    a_file.write_text("x")
    for data, outputs, message in [
        (tiny_model[1], a_file, f"output folder {a_file} is a file, not a folder"),
        (a_file, tmp_path / "out", f"{a_file}: is a file, not a folder"),
        (empty, tmp_path / "out", f"{empty}: holds no records"),
    ]:
        status, stderr = run_main(driver, capsys, model, data, outputs)
        assert status == 2 and message in stderr and "Errno" not in stderr, stderr


# ---------------------------------------------------------------------------------------------
# 12. One base class for the project's errors
# ---------------------------------------------------------------------------------------------


def test_the_projects_errors_share_a_base_class_and_programming_errors_show(tiny_model, tmp_path, monkeypatch):
    from ecgnet.config import parse_overrides
    from ecgnet.errors import ConfigError, EcgnetError
    from ecgnet.scoring import ScoringError

    for error in (RecordError, modelstore.ModelFolderError, training.TrainingError, ScoringError, ConfigError):
        assert issubclass(error, EcgnetError)
    with pytest.raises(ConfigError):
        parse_overrides(["epochs=many"])
    import ecgnet.runner

    monkeypatch.setattr(ecgnet.runner, "classify_selection", lambda *args, **options: None.written)
    with pytest.raises(AttributeError):  # a bug in the code is not reported as a user's mistake
        driver.main([tiny_model[0], tiny_model[1], str(tmp_path / "out")])


def test_train_model_reports_bad_settings_in_one_line(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"width": "wide"}')
    status, stderr = run_main(train_model, capsys, tmp_path, tmp_path / "model", "--config", config)
    assert (
        status == 1 and stderr == f"error: config file {config}: invalid config: width must be an integer, not 'wide'\n"
    )


# ---------------------------------------------------------------------------------------------
# Decoding processes end with a killed training
# ---------------------------------------------------------------------------------------------


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except OSError:
            pass
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_decoding_processes_end_when_training_is_killed(tmp_path):
    data = tmp_path / "data"  # the committed records under 10 names each: decoding takes a while
    data.mkdir()
    for name in sample_names():
        for copy in range(10):
            for ext in (".hea", ".mat"):
                os.symlink(RECORDS / f"{name}{ext}", data / f"{name}_{copy}{ext}")
    process = subprocess.Popen(
        [sys.executable, "train_model.py", str(data), str(tmp_path / "model"), "--jobs", "2"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while len(workers := children(process.pid)) < 2:
            assert process.poll() is None and time.time() < deadline, "no decoding processes started"
            time.sleep(0.02)
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.time() + 10
        while any(map(alive, workers)):
            assert time.time() < deadline, "decoding processes outlived the training process"
            time.sleep(0.1)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
