"""int8 inference: `ecgnet quantize` round trip, its fidelity gate, int8 files that are refused,
the driver in int8, and padding independence of the int8 network."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from ecgnet import cli, int8, modelstore
from ecgnet.errors import ConfigError
from ecgnet.folders import list_records
from ecgnet.inference import KERNEL_CACHE_CAPACITY, Ensemble, bound_kernel_cache, choose_precision, predict
from ecgnet.labels import CLASSES
from ecgnet.outputs import format_output
from ecgnet.records import read_record

import int8_check
from helpers import ROOT
from test_contract import DRIVER_2020, read_outputs, run_script

pytestmark = pytest.mark.skipif(not int8.supported(), reason="int8 kernels need oneDNN on x86-64")


@pytest.fixture(scope="module")
def quantized(tiny_model, tmp_path_factory):
    """(int8 model folder, training data) of the tiny model, quantised through the command line."""
    model = tmp_path_factory.mktemp("int8") / "model"
    shutil.copytree(tiny_model[0], model)
    assert cli.quantize([str(model), tiny_model[1], "--calibration-records", "8"]) == 0
    return model, tiny_model[1]


def records(data, count=None):
    return [read_record(files, 257) for files in list_records(data)[:count]]


def test_quantize_round_trip(quantized, tiny_model):
    model, data = quantized
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["precision"] == "int8"
    fidelity = manifest["int8"]["fidelity"]
    assert fidelity["records"] == 12 and fidelity["identical_label_cells"] >= 0.995
    assert fidelity["max_probability_difference_record"] in {f.name for f in list_records(data)}
    assert fidelity["challenge_metric_difference"] <= 0.005
    assert [os.path.isfile(model / entry["file"]) for entry in manifest["int8"]["weights"]] == [True, True]

    default, fp32 = Ensemble.from_folder(model, "cpu"), Ensemble.from_folder(model, "cpu", "fp32")
    assert default.precision == "int8" and isinstance(default.models[0].blocks[0].conv1, int8.Int8Conv1d)
    chosen = records(data)
    p8, p32 = default.classify(chosen)[1], fp32.classify(chosen)[1]
    original = Ensemble.from_folder(tiny_model[0], "cpu").classify(chosen)[1]
    np.testing.assert_array_equal(p32, original)  # the float32 weights stay as they were
    assert np.abs(p8 - p32).max() < 0.01


def test_quantizing_again_replaces_the_int8_files(quantized, tmp_path):
    model, data = quantized
    again = tmp_path / "model"
    shutil.copytree(model, again)
    before = {e["file"] for e in json.loads((again / "model.json").read_text())["int8"]["weights"]}
    assert cli.quantize([str(again), data, "--calibration-records", "4", "--keep-fp32-default"]) == 0
    manifest = json.loads((again / "model.json").read_text())
    after = {e["file"] for e in manifest["int8"]["weights"]}
    assert manifest["precision"] == "fp32" and Ensemble.from_folder(again, "cpu").precision == "fp32"
    assert before != after and {f for f in os.listdir(again) if ".int8-" in f} == after


def test_the_gate_refuses_and_writes_nothing(copy_model, tiny_model, monkeypatch, capsys):
    before = {
        name: (copy_model / name).read_bytes() for name in os.listdir(copy_model) if name.endswith((".json", ".pt"))
    }
    # Every activation code saturated: int8 outputs that no longer follow the signal, as a broken
    # quantisation would give (the tiny defaults' labels survive milder breaks, such as 2 levels).
    saturated = lambda x, scale: torch.full_like(x, int8.ACTIVATION_MAX, dtype=torch.uint8)  # noqa: E731
    monkeypatch.setattr(int8, "quantise_activations", saturated)
    assert cli.quantize([str(copy_model), tiny_model[1], "--calibration-records", "4"]) == 1
    message = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(message) == 1 and "int8 weights refused, nothing written" in message[0]
    assert "identical label cells" in message[0] or "challenge metric moved" in message[0]
    after = {
        name: (copy_model / name).read_bytes() for name in os.listdir(copy_model) if name.endswith((".json", ".pt"))
    }
    assert after == before


def test_the_gate_limits_are_options(copy_model, tiny_model, capsys):
    # The saved out-of-fold probabilities keep 6 decimals: no float32 output equals them exactly.
    assert cli.quantize([str(copy_model), tiny_model[1], "--max-oof-difference", "0"]) == 1
    assert "at most 0 allowed" in capsys.readouterr().err
    assert "int8" not in json.loads((copy_model / "model.json").read_text())


@pytest.mark.parametrize(
    "option, value",
    [("--min-identical", v) for v in ("nan", "inf", "-0.1", "1.5")]
    + [("--max-metric-change", v) for v in ("nan", "-inf", "-1", "3")]
    + [("--max-oof-difference", v) for v in ("nan", "-1")]
    + [("--calibration-records", v) for v in ("0", "-3", "1e3")]
    + [("--gate-records", "0")],
)
def test_gate_options_out_of_range_are_refused_where_parsed(copy_model, capsys, option, value):
    with pytest.raises(SystemExit) as exit:
        cli.quantize([str(copy_model), str(copy_model), option, value])
    assert exit.value.code == 2 and f"argument {option}: expected" in capsys.readouterr().err


def test_the_gate_refuses_data_that_is_not_the_training_data(copy_model, tiny_model, tmp_path, capsys):
    """The records' names match but their signals are not the training records' (all zero): the
    float32 outputs are not the saved out-of-fold probabilities, so the gate measures nothing."""
    import scipy.io

    zero = tmp_path / "zero"
    zero.mkdir()
    for files in list_records(tiny_model[1]):
        shutil.copy(files.header, zero / os.path.basename(files.header))
        val = scipy.io.loadmat(files.mat)["val"]
        scipy.io.savemat(zero / os.path.basename(files.mat), {"val": np.zeros_like(val)}, format="4")
    assert cli.quantize([str(copy_model), str(zero), "--calibration-records", "4"]) == 1
    error = capsys.readouterr().err
    assert "float32 outputs on" in error and "DATA is not the data the model was trained on" in error
    assert "int8" not in json.loads((copy_model / "model.json").read_text())


def test_quantize_needs_the_training_records(copy_model, tmp_path, capsys):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "X.hea").write_text("X 12 500 5000\n")
    assert cli.quantize([str(copy_model), str(tmp_path / "other")]) == 1
    assert "lacks 12 of the 12 training records" in capsys.readouterr().err


class Payload:
    """A pickle gadget: unpickling it would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _int8_state(model):
    entry = json.loads((model / "model.json").read_text())["int8"]["weights"][0]
    return model / entry["file"], torch.load(model / entry["file"], weights_only=True)


def _rewrite(model, path, obj):
    """Replace an int8 file and update its checksum, as an attacker with write access would."""
    torch.save(obj, path)
    manifest = json.loads((model / "model.json").read_text())
    manifest["int8"]["weights"][0]["sha256"] = modelstore.sha256(path)
    (model / "model.json").write_text(json.dumps(manifest))


def _pickle_gadget(model):
    path, _ = _int8_state(model)
    _rewrite(model, path, {"x": Payload()})


def _float_weights(model):
    path, state = _int8_state(model)
    state["blocks.0.conv1.weight"] = state["blocks.0.conv1.weight"].float()
    _rewrite(model, path, state)


def _negative_scale(model):
    path, state = _int8_state(model)
    state["blocks.1.conv2.input_scale"] = torch.tensor(-1.0)
    _rewrite(model, path, state)


def _missing_scale(model):
    path, state = _int8_state(model)
    del state["blocks.0.conv2.weight_scale"]
    _rewrite(model, path, state)


def _changed_bytes(model):
    path, _ = _int8_state(model)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _deleted(model):
    os.remove(_int8_state(model)[0])


def _manifest(change):
    def damage(model):
        manifest = json.loads((model / "model.json").read_text())
        change(manifest)
        (model / "model.json").write_text(json.dumps(manifest))

    return damage


@pytest.mark.parametrize(
    "damage, message",
    [
        (_pickle_gadget, r"fold1\.int8-\w+\.pt is damaged or not a tensor file: it holds Python objects"),
        (_float_weights, r"weights do not fit the saved config: blocks\.0\.conv1\.weight is .* torch\.float32"),
        (_negative_scale, r"scales that are not positive: blocks\.1\.conv2\.input_scale"),
        (_missing_scale, r"blocks\.0\.conv2\.weight_scale is missing"),
        (_changed_bytes, r"fold1\.int8-\w+\.pt is damaged: its checksum differs"),
        (_deleted, r"fold1\.int8-\w+\.pt is missing"),
        (_manifest(lambda m: m.update(precision="int4")), r"precision \"int4\" is not one of fp32, int8"),
        (_manifest(lambda m: m["int8"]["weights"].pop()), r"\"weights\" list one file for each of the 2 folds"),
        (_manifest(lambda m: m["int8"]["weights"][0].update(file="../x.pt")), r"not a plain file name"),
        (_manifest(lambda m: m.pop("int8")), r"precision is int8 but there is no \"int8\" entry"),
    ],
)
def test_malformed_int8_files_are_refused_in_one_line(quantized, tmp_path, monkeypatch, capsys, damage, message):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model"
    shutil.copytree(quantized[0], model)
    damage(model)
    assert cli.drive([str(model), quantized[1], str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_driver_in_int8_writes_valid_outputs(quantized, tmp_path):
    """The driver's chunks and batches give each record the int8 outputs of the records
    classified together here, to the last digit (a record's int8 outputs do not depend on
    the batch: int8.py)."""
    model, data = quantized
    result = subprocess.run(
        [sys.executable, "driver.py", str(model), data, str(tmp_path / "out"), "--precision", "int8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "2 int8 fold models" in result.stderr, result.stderr
    expected_labels, expected = Ensemble.from_folder(model, "cpu").classify(records(data))
    assert np.all(expected_labels.sum(axis=1) >= 1) and np.all((expected >= 0) & (expected <= 1))
    for i, files in enumerate(list_records(data)):
        written = (tmp_path / "out" / f"{files.name}.csv").read_text()
        assert written == format_output(files.name, CLASSES, expected_labels[i], expected[i]), files.name


def test_the_organisers_unedited_driver_uses_int8(quantized, tmp_path):
    """Their 2020 driver.py (re-implemented in test_contract) loads the quantised folder with
    load_12ECG_model and classifies record by record: int8, as the batched driver's default,
    with the same outputs to the last digit."""
    model, data = quantized
    run_script(tmp_path / "organisers", {"driver.py": DRIVER_2020}, [model, data, tmp_path / "theirs"])
    assert cli.drive([str(model), data, str(tmp_path / "ours")]) == 0
    theirs, ours = sorted(os.listdir(tmp_path / "theirs")), sorted(os.listdir(tmp_path / "ours"))
    assert theirs == ours and len(ours) == len(list_records(data))
    for name in ours:  # their record line names the .mat file; they write str() of each float32
        got, expected = ((tmp_path / folder / name).read_text().splitlines() for folder in ("theirs", "ours"))
        assert got[1:3] == expected[1:3], name
        assert [f"{float(np.float32(p)):.6f}" for p in got[3].split(",")] == expected[3].split(","), name
    fp32 = tmp_path / "fp32"
    assert cli.drive([str(model), data, str(fp32), "--precision", "fp32"]) == 0
    probabilities = [o[3] for o in read_outputs(tmp_path / "ours").values()]
    assert not np.array_equal(probabilities, [o[3] for o in read_outputs(fp32).values()])  # int8 it was


def test_without_int8_weights_fp32_is_used_and_int8_refused(copy_model, tmp_path, capsys):
    assert Ensemble.from_folder(copy_model, "cpu").precision == "fp32"
    assert cli.drive([str(copy_model), str(tmp_path), str(tmp_path / "out"), "--precision", "int8"]) == 2
    assert "has no int8 weights: make them with `ecgnet quantize" in capsys.readouterr().err


def test_int8_is_a_cpu_precision(quantized):
    assert choose_precision(str(quantized[0]), None, torch.device("cuda")) == "fp32"
    with pytest.raises(ConfigError, match="int8 inference does not run on cuda"):
        choose_precision(str(quantized[0]), "int8", torch.device("cuda"))


def test_padding_does_not_change_int8_outputs(quantized):
    """A record batched with longer ones (zero-padded, masked) against the record alone: the
    same int8 outputs, bit for bit."""
    model, data = quantized
    ensemble = Ensemble.from_folder(model, "cpu")
    chosen = records(data, 12)
    for r in chosen[1::2]:  # shorter views, padded to the batch's width
        r.signal = r.signal[:, : r.signal.shape[1] // 3]
    batched = predict(ensemble.models, chosen, ensemble.config, "cpu")
    alone = np.concatenate([predict(ensemble.models, [r], ensemble.config, "cpu") for r in chosen], axis=1)
    np.testing.assert_array_equal(batched, alone)


def test_int8_convolution_is_exact_integer_arithmetic():
    """Full-range weights and 7-bit activations, and the strided 1x1 convolutions oneDNN got
    wrong on several threads, give the exact integer sums on this CPU's instruction set; a
    failure here means int8 is unsafe on this CPU."""
    assert int8_check.inexact_convolutions() == []


# ONEDNN_MAX_CPU_ISA: (the instruction set oneDNN then reports, and the kernels torch and MKL
# use on a CPU of that kind: ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS)
INSTRUCTION_SETS = {
    "SSE41": ("Intel SSE4.1", "default", "SSE4_2"),
    "AVX": ("Intel AVX", "default", "AVX"),
    "AVX2": ("Intel AVX2", "avx2", "AVX2"),
    "AVX2_VNNI": ("Intel AVX2 with Intel DL Boost", "avx2", "AVX2"),
    "AVX2_VNNI_2": ("Intel AVX2 with Intel DL Boost, float16 and bfloat16 support", "avx2", "AVX2"),
    "AVX512_CORE": ("Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions", "avx512", "AVX512"),
    "AVX512_CORE_VNNI": ("Intel AVX-512 with Intel DL Boost", "avx512", "AVX512"),
    "AVX512_CORE_BF16": ("Intel AVX-512 with Intel DL Boost and bfloat16 support", "avx512", "AVX512"),
    "AVX10_1_512": ("Intel AVX 10.1", "avx512", "AVX512"),
    "AVX10_1_512_AMX": ("Intel AVX10.1 and Intel AMX with bfloat16 and 8-bit integer support", "avx512", "AVX512"),
    "AVX10_1_512_AMX_FP16": (
        "Intel AVX10.1 and Intel AMX with bfloat16, float16 and 8-bit integer support",
        "avx512",
        "AVX512",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("isa", INSTRUCTION_SETS)
def test_int8_on_every_instruction_set(quantized, isa):
    """tests/int8_check.py with oneDNN limited to `isa` (torch and MKL to that CPU kind's
    kernels): exact integer convolutions, outputs that do not depend on the batch, and the
    fidelity bound. Skipped, naming what oneDNN ran at, where this CPU lacks `isa`."""
    reports, torch_kernels, mkl_kernels = INSTRUCTION_SETS[isa]
    limits = {"ONEDNN_MAX_CPU_ISA": isa, "ATEN_CPU_CAPABILITY": torch_kernels, "MKL_ENABLE_INSTRUCTIONS": mkl_kernels}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "int8_check.py"), str(quantized[0]), quantized[1], reports],
        env={**os.environ, **limits},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    checked = json.loads(result.stdout.splitlines()[-1])
    ran = checked["onednn_isa"]
    assert ran in {words for words, _, _ in INSTRUCTION_SETS.values()}, f"oneDNN ran at {ran!r}: add it here"
    if ran != reports:
        pytest.skip(f"this CPU lacks {isa}: oneDNN ran at {ran}")
    print(f"{isa}: oneDNN ran {', '.join(checked['int8_kernels'])} ({ran}), torch {checked['torch']}")
    assert checked["inexact"] == [], checked["inexact"]
    assert checked["batches"] == 0 and checked["repeat"] == 0, checked
    assert checked["fidelity"] < 0.01, checked


def test_the_kernel_cache_is_bounded_unless_the_user_sets_it(monkeypatch):
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    bound_kernel_cache()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(KERNEL_CACHE_CAPACITY)
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
    bound_kernel_cache()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"


def test_model_json_records_the_calibration_records_each_fold_model_had(copy_model, tiny_model):
    """Asked for more than a fold's training folds hold, each fold model is calibrated on all of
    them: model.json says how many, per fold, not the number asked for."""
    assert cli.quantize([str(copy_model), tiny_model[1], "--calibration-records", "1000"]) == 0
    text = (copy_model / "model.json").read_text()
    calibration = json.loads(text)["int8"]["calibration"]
    folds = modelstore.read_oof_probabilities(str(copy_model / "oof_probabilities.csv")).folds
    assert calibration["records_per_model"] == [int((folds != k).sum()) for k in (1, 2)]
    assert calibration["requested"] == 1000 and "NaN" not in text and "Infinity" not in text


@pytest.mark.parametrize("field", ["min_identical", "max_metric_change", "max_oof_difference"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, 5.0])
def test_a_gate_of_limits_that_are_not_numbers_in_range_is_refused(field, value):
    from ecgnet.quantize import Gate, QuantizationError

    with pytest.raises(QuantizationError, match=field):
        Gate(**{field: value})
