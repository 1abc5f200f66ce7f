#!/usr/bin/env python
"""The challenge's library functions, thin over the `ecgnet` package.

2020 names: train_12ECG_classifier, load_12ECG_model, run_12ECG_classifier.
2021 names: training_code, load_model, run_model.
"""
import numpy as np

from ecgnet import labels as label_space
from ecgnet.inference import Ensemble, prepare_record
from ecgnet.records import parse_header, to_millivolts
from ecgnet.training import train


def train_12ECG_classifier(input_directory, output_directory):
    """Train the default (published) configuration on `input_directory` into `output_directory`."""
    train(input_directory, output_directory)


def load_12ECG_model(input_directory):
    """Load a MODEL folder once; the result is passed to run_12ECG_classifier."""
    return Ensemble.from_folder(input_directory)


def _header_text(header_data):
    if isinstance(header_data, str):
        return header_data
    return "".join(line if line.endswith("\n") else line + "\n" for line in header_data)


def _classify(model, header_data, recording):
    header = parse_header(_header_text(header_data))
    signal = to_millivolts(np.asarray(recording, dtype=np.float64), header)
    labels, probabilities = model.classify([prepare_record(header, signal, model.config)])
    return list(label_space.CLASSES), labels[0].astype(int), probabilities[0]


def run_12ECG_classifier(data, header_data, loaded_model):
    """Classify one record: `data` is its `val` matrix (leads x samples), `header_data` the
    header's lines. Returns (labels, probabilities, classes)."""
    classes, labels, probabilities = _classify(loaded_model, header_data, data)
    return labels, probabilities, classes


def training_code(data_directory, model_directory):
    train_12ECG_classifier(data_directory, model_directory)


def load_model(model_directory, leads=None):
    """Load a MODEL folder. Leads missing from a record are zero-filled, so `leads` is not needed."""
    return load_12ECG_model(model_directory)


def run_model(model, header, recording):
    """Classify one record (2021 convention): returns (classes, labels, probabilities)."""
    return _classify(model, header, recording)
