"""`ecgnet quantize MODEL DATA`: int8 weights for a trained MODEL folder, calibrated on its
training records and kept only when they pass a fidelity gate.

Each fold model is quantised on its own (`int8` says what and how):
- calibration: the fold model, in float32, runs on `calibration` records of its own
  training folds (never the records its out-of-fold predictions are of, on which the gate
  measures it), read through `records.read_record`; torch's x86 observers record what each
  quantised convolution sees: `HistogramObserver` (the scale that minimises the quantisation
  error of the inputs, over 0..127) and `PerChannelMinMaxObserver` (symmetric int8 weights,
  one scale per output channel), the choices of torch's x86 default qconfig;
- the gate: every record of MODEL/oof_probabilities.csv goes through its own fold's model in
  float32 and in int8, as in cross-validation, then through the model's second stage if it has
  one (`decisions.SecondStage`: stacked stage, rule decisions; the measurements, like the
  classifier's head, stay float32); the labels are each model's thresholded decisions (the
  ensemble's thresholds, most probable class always on). Measured: the
  fraction of identical (record, class) label cells, the largest and mean probability
  difference, and the challenge metric of both label sets against the headers' labels.

Nothing is written unless every fold is done and the gate passed; then the int8 files and
model.json are written (`modelstore.save_int8`), with the numbers.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.ao.quantization.observer import HistogramObserver, PerChannelMinMaxObserver

from . import features, int8, metrics, modelstore
from . import labels as label_space
from .config import Config
from .decisions import SecondStage
from .errors import EcgnetError, RecordError
from .folders import RecordFiles, list_records
from .inference import float_network, predict
from .model import SEResNet1d
from .records import Record, read_record
from .thresholds import apply_thresholds

log = logging.getLogger(__name__)

# Records read and classified at a time by the gate: memory stays bounded on the full data.
GATE_CHUNK = 128


class QuantizationError(EcgnetError):
    """int8 weights that cannot be made or that miss the fidelity gate."""


@dataclass(frozen=True)
class Gate:
    """What int8 outputs must keep of the float32 ones on the out-of-fold records, and how
    close the float32 outputs must come to MODEL/oof_probabilities.csv (the same fold models on
    the same records: far from them, DATA is not the data the model was trained on)."""

    min_identical: float = 0.995  # fraction of (record, class) label cells that stay the same
    max_metric_change: float = 0.005  # absolute change of the challenge metric
    # Largest |float32 output - saved out-of-fold probability|: 5e-7 on the CPU (the file keeps 6
    # decimals); a model trained on a GPU computed them there, with TF32 convolutions, which
    # agree with the CPU's to 1e-4 (docs/gpus.md, "Training on GPUs"): ten times that is allowed.
    max_oof_difference: float = 1e-3

    def __post_init__(self):
        limits = (
            ("min_identical", self.min_identical, 1.0),
            ("max_metric_change", self.max_metric_change, 2.0),
            ("max_oof_difference", self.max_oof_difference, 1.0),
        )
        for name, value, most in limits:
            if not (isinstance(value, (int, float)) and 0 <= value <= most):  # NaN fails too
                raise QuantizationError(f"the gate's {name} must be a number from 0 to {most:g}, not {value!r}")


def spread(items: Sequence, count: int | None) -> list:
    """`count` items spread evenly over `items` (all of them when count is None or larger)."""
    if count is None or count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def calibrate(model: SEResNet1d, records: Sequence[Record], config: Config) -> dict[str, float]:
    """{name: input scale} of every quantised convolution of a fused float `model`, from its
    inputs on `records`."""
    observers, hooks = {}, []
    for name, conv in int8.quantised_convolutions(model).items():
        observer = HistogramObserver(dtype=torch.quint8, quant_min=0, quant_max=int8.ACTIVATION_MAX)
        observers[name] = observer
        hooks.append(conv.register_forward_pre_hook(lambda _module, args, observer=observer: observer(args[0])))
    try:
        predict([model], records, config, "cpu")
    finally:
        for hook in hooks:
            hook.remove()
    scales = {}
    for name, observer in observers.items():
        scale, zero_point = observer.calculate_qparams()
        if int(zero_point) != 0:  # every input is a ReLU output: its range starts at 0
            raise QuantizationError(f"calibration: the inputs of {name} are negative, which int8 cannot represent")
        scales[name] = float(scale)
    return scales


def int8_state(model: SEResNet1d, input_scales: dict[str, float]) -> dict[str, torch.Tensor]:
    """The stored int8 state (`int8.state_shapes`) of a fused float `model` with the input
    scales from `calibrate`."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, conv in int8.quantised_convolutions(model).items():
        weight = conv.weight.detach()
        observer = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
        observer(weight)
        scale, _ = observer.calculate_qparams()
        scale = scale.float()
        codes = torch.round(weight / scale[:, None, None]).clamp_(int8.WEIGHT_MIN, int8.WEIGHT_MAX)
        state[f"{name}.weight"] = codes.to(torch.int8)
        state[f"{name}.weight_scale"] = scale
        assert conv.bias is not None  # a fused convolution has one
        state[f"{name}.bias"] = conv.bias.detach().float().clone()
        state[f"{name}.input_scale"] = torch.tensor(input_scales[name], dtype=torch.float32)
    return state


def fidelity(
    fp32: np.ndarray,
    quantised: np.ndarray,
    truth: np.ndarray,
    thresholds: np.ndarray,
    names: Sequence[str],
    decided: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """int8 against float32 probabilities (records, classes) of the same models on the records
    `names`; `decided`: what the thresholds label in each precision (default: the probabilities)."""
    fp32_decided, int8_decided = decided or (fp32, quantised)
    fp32_labels, int8_labels = apply_thresholds(fp32_decided, thresholds), apply_thresholds(int8_decided, thresholds)
    difference = np.abs(quantised.astype(np.float64) - fp32)
    fp32_metric = metrics.challenge_metric(truth, fp32_labels)
    int8_metric = metrics.challenge_metric(truth, int8_labels)
    return {
        "records": int(fp32.shape[0]),
        "identical_label_cells": float(np.mean(fp32_labels == int8_labels)),
        "changed_label_cells": int(np.sum(fp32_labels != int8_labels)),
        "max_probability_difference": float(difference.max()),
        "max_probability_difference_record": names[int(difference.max(axis=1).argmax())],
        "mean_probability_difference": float(difference.mean()),
        "challenge_metric_fp32": fp32_metric,
        "challenge_metric_int8": int8_metric,
        "challenge_metric_difference": abs(int8_metric - fp32_metric),
    }


def _chunks(files: Sequence[RecordFiles], config: Config) -> Iterator[list[Record]]:
    for start in range(0, len(files), GATE_CHUNK):
        yield [read_record(f, config.sample_rate) for f in files[start : start + GATE_CHUNK]]


def _record_files(data_folder: str, names: Sequence[str]) -> dict[str, RecordFiles]:
    """{name: files} in DATA of every record named; an error names the records it lacks."""
    found = {files.name: files for files in list_records(data_folder, require=True)}
    missing = [name for name in names if name not in found]
    if missing:
        raise RecordError(
            data_folder,
            f"lacks {len(missing)} of the {len(names)} training records that oof_probabilities.csv lists "
            f"(first: {', '.join(missing[:3])}); give the folder the model was trained on",
        )
    return found


@dataclass
class _Fold:
    """One fold's int8 state and its float32 and int8 outputs on its gate records."""

    state: dict[str, torch.Tensor]
    names: list[str]
    fp32: np.ndarray  # the network's probabilities
    int8: np.ndarray
    truth: np.ndarray
    fp32_decided: np.ndarray  # what the thresholds label, after the second stage (`decisions.SecondStage`)
    int8_decided: np.ndarray


def _quantise_fold(
    config: Config, fp32_state: dict, calibration: list[RecordFiles], gate: list[RecordFiles], stage: SecondStage
) -> _Fold:
    model = float_network(config, fp32_state, "cpu")
    scales = calibrate(model, [read_record(f, config.sample_rate) for f in calibration], config)
    state = int8_state(model, scales)
    quantised = int8.int8_network(config, state)
    outputs: dict[str, list[np.ndarray]] = {"fp32": [], "int8": [], "fp32_decided": [], "int8_decided": []}
    truth: list[np.ndarray] = []
    for records in _chunks(gate, config):
        table = features.measure_records(records, config.sample_rate) if features.needed(config) else None
        inputs = features.network_inputs(records, config, table)
        for precision, network in (("fp32", model), ("int8", quantised)):
            probabilities = predict([network], records, config, "cpu", None, inputs)
            outputs[precision].append(probabilities[0])
            outputs[f"{precision}_decided"].append(stage.apply(probabilities, table, inputs)[1][0])
        truth.append(np.stack([label_space.encode(r.dx) for r in records]))
    names = [f.name for f in gate]
    joined = {key: np.concatenate(parts) for key, parts in outputs.items()}
    return _Fold(state, names, truth=np.concatenate(truth).astype(bool), **joined)


def check_against_saved(
    fold: _Fold, saved: dict[str, np.ndarray], tolerance: float, oof_path: str, data_folder: str, k: int
) -> None:
    """Refuse a fold whose float32 outputs on DATA are not the out-of-fold probabilities saved
    at training (same model, same records): DATA then holds other signals under the training
    records' names, and a gate measured on them says nothing."""
    expected = np.stack([saved[name] for name in fold.names])
    difference = np.abs(fold.fp32.astype(np.float64) - expected)
    worst = float(difference.max()) if difference.size else 0.0
    if not worst <= tolerance:  # NaN fails too
        record = fold.names[int(difference.max(axis=1).argmax())]
        raise QuantizationError(
            f"fold {k + 1}'s float32 outputs on {data_folder} differ from {oof_path} by up to {worst:.4f} "
            f"(record {record}; at most {tolerance:g} allowed): DATA is not the data the model was trained on, "
            "or its records changed since; nothing written"
        )


def quantize_folder(
    model_folder: str,
    data_folder: str,
    calibration_records: int = 32,
    gate: Gate = Gate(),
    gate_records: int | None = None,
    default: bool = True,
    progress: Callable[[str], None] = log.info,
) -> dict:
    """Quantise every fold model of `model_folder`, calibrated on records of `data_folder`
    (the training records), and write the int8 weights if they pass `gate` (else
    QuantizationError, nothing written). `gate_records`: measure on that many out-of-fold
    records, spread over the list (default: all). `default`: make int8 the precision the
    driver uses by default. Returns what model.json records under "int8"."""
    if not int8.supported():
        raise QuantizationError("int8 inference needs oneDNN on an x86-64 CPU, which this torch does not have here")
    started = time.time()
    config, paths, thresholds = modelstore.load_model(model_folder)
    stage = SecondStage.of(config, modelstore.load_stacker(model_folder) if config.stacking != "none" else None)
    oof = modelstore.read_oof_probabilities(modelstore.ModelFolder(model_folder).path("oof_probabilities.csv"))
    if oof.folds.max() > len(paths):
        raise modelstore.ModelFolderError(
            f"{oof.path} lists fold {oof.folds.max()}, but model.json has {len(paths)} fold models"
        )
    files = _record_files(data_folder, oof.names)
    saved = dict(zip(oof.names, oof.probabilities))
    folds, calibrated = [], []
    for k, path in enumerate(paths):
        own = [files[n] for n, f in zip(oof.names, oof.folds) if f == k + 1]
        others = [files[n] for n, f in zip(oof.names, oof.folds) if f != k + 1]
        share = None if gate_records is None else -(-gate_records * len(own) // len(oof.names))
        calibration = spread(others, calibration_records)
        weights = modelstore.load_weights(path, config)
        fold = _quantise_fold(config, weights, calibration, spread(own, share), stage)
        check_against_saved(fold, saved, gate.max_oof_difference, oof.path, data_folder, k)
        folds.append(fold)
        calibrated.append(len(calibration))
        progress(
            f"quantize: fold {k + 1}/{len(paths)}: calibrated on {len(calibration)} records, "
            f"measured on {len(fold.fp32)}"
        )
    numbers = fidelity(
        np.concatenate([f.fp32 for f in folds]),
        np.concatenate([f.int8 for f in folds]),
        np.concatenate([f.truth for f in folds]),
        np.asarray(thresholds),
        [name for f in folds for name in f.names],
        (np.concatenate([f.fp32_decided for f in folds]), np.concatenate([f.int8_decided for f in folds])),
    )
    summary = (
        f"{100 * numbers['identical_label_cells']:.2f}% identical label cells ({numbers['changed_label_cells']} "
        f"changed), max probability difference {numbers['max_probability_difference']:.4f} "
        f"({numbers['max_probability_difference_record']}), challenge metric "
        f"{numbers['challenge_metric_fp32']:.4f} fp32 vs {numbers['challenge_metric_int8']:.4f} int8 "
        f"on {numbers['records']} out-of-fold records"
    )
    undefined = [key for key, value in numbers.items() if isinstance(value, float) and not np.isfinite(value)]
    if undefined:
        raise QuantizationError(f"int8 weights refused, nothing written: {', '.join(undefined)} undefined ({summary})")
    problems = []
    if numbers["identical_label_cells"] < gate.min_identical:
        problems.append(f"fewer than {100 * gate.min_identical:g}% identical label cells")
    if numbers["challenge_metric_difference"] > gate.max_metric_change:
        problems.append(f"the challenge metric moved by more than {gate.max_metric_change:g}")
    if problems:
        raise QuantizationError(f"int8 weights refused, nothing written: {' and '.join(problems)} ({summary})")
    record = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch": torch.__version__,
        "kernels": "onednn::qconv1d_pointwise",
        "activations": f"uint8 0..{int8.ACTIVATION_MAX}, one scale per tensor (HistogramObserver)",
        "weights_scheme": "int8, symmetric, one scale per output channel (PerChannelMinMaxObserver)",
        "calibration": {
            "records_per_model": calibrated,
            "requested": calibration_records,
            "from": "each fold model's own training folds",
        },
        "gate": {
            "min_identical_label_cells": gate.min_identical,
            "max_challenge_metric_change": gate.max_metric_change,
            "max_oof_probability_difference": gate.max_oof_difference,
        },
        "fidelity": {**numbers, "scored_by": "each record's own fold model"},
        "seconds": round(time.time() - started, 1),
    }
    modelstore.save_int8(model_folder, [f.state for f in folds], record, default)
    progress(f"quantize: int8 weights written into {model_folder}: {summary}")
    return record
