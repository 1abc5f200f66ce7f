#!/usr/bin/env python
"""The challenge's library functions over the `ecgnet` package: the one implementation behind
both challenge conventions.

2020 names (python-classifier-2020): train_12ECG_classifier, load_12ECG_model,
run_12ECG_classifier. The organisers' 2020 `driver.py` and `train_model.py` import them from the
top-level modules `run_12ECG_classifier.py` and `train_12ECG_classifier.py`, which re-export these.
2021 names (python-classifier-2021): training_code, load_model, run_model.

Training uses the defaults unless the environment variable ECGNET_CONFIG names a JSON
file of config fields (as `train_model.py --config FILE`): the organisers' scripts call
`train_12ECG_classifier(input, output)` / `training_code(data, model)` with no way to pass one.

This module does not import helper_code, so the organisers may replace helper_code.py with theirs.
"""

import os

import numpy as np

from ecgnet import labels as label_space
from ecgnet.config import load_config_file
from ecgnet.headers import parse_header
from ecgnet.inference import Ensemble, bound_kernel_cache, freeze_loaded_objects
from ecgnet.matfiles import to_millivolts
from ecgnet.records import make_record
from ecgnet.report import write_training_report
from ecgnet.training import train

CONFIG_VARIABLE = "ECGNET_CONFIG"


def train_12ECG_classifier(input_directory: str, output_directory: str) -> None:
    """Train on the records of `input_directory` into `output_directory` (the defaults,
    or the config file named by ECGNET_CONFIG); resumes an interrupted run. The finished
    model's cross-validation report is written as `ecgnet train` writes it."""
    config_file = os.environ.get(CONFIG_VARIABLE)
    config = load_config_file(config_file) if config_file else None
    if train(input_directory, output_directory, config=config) is not None:
        write_training_report(output_directory, input_directory)


def load_12ECG_model(input_directory: str) -> Ensemble:
    """Load a MODEL folder once; the result is passed to run_12ECG_classifier. The process's
    environment is set first, and the loaded objects frozen after, as the driver does
    (`inference.bound_kernel_cache`, `inference.freeze_loaded_objects`)."""
    bound_kernel_cache()
    ensemble = Ensemble.from_folder(input_directory)
    freeze_loaded_objects()
    return ensemble


def _header_text(header):
    """Header text from either convention: 2020 passes `readlines()`, 2021 one string."""
    if isinstance(header, str):
        return header
    return "".join(line if line.endswith("\n") else line + "\n" for line in header)


def _classify(model, header, recording):
    parsed = parse_header(_header_text(header))
    signal = to_millivolts(np.asarray(recording, dtype=np.float64), parsed)
    labels, probabilities = model.classify([make_record(parsed, signal, model.config.sample_rate)])
    return list(label_space.CLASSES), labels[0].astype(int), probabilities[0]


def run_12ECG_classifier(data, header_data, loaded_model):
    """Classify one record (2020 convention): `data` is its `val` matrix (leads x samples, ADC
    units), `header_data` the header's lines. Returns (labels, probabilities, classes): int and
    float arrays and the list of class codes, in the same order."""
    classes, labels, probabilities = _classify(loaded_model, header_data, data)
    return labels, probabilities, classes


def training_code(data_directory: str, model_directory: str) -> None:
    """Train (2021 convention); the same as train_12ECG_classifier."""
    train_12ECG_classifier(data_directory, model_directory)


def load_model(model_directory: str, leads=None) -> Ensemble:
    """Load a MODEL folder (2021 convention). One 12-lead ensemble serves every lead set, so
    `leads` is not used: each record's header says which leads it has. For a record without all
    12, the missing limb leads are derived from the limb leads present (every 2021 set holds I and
    II), the missing precordial leads are zero, and a warning says so once per lead set."""
    return load_12ECG_model(model_directory)


def run_model(model, header, recording):
    """Classify one record (2021 convention): `header` the header text, `recording` its raw
    matrix in the header's lead order. Returns (classes, labels, probabilities)."""
    return _classify(model, header, recording)
