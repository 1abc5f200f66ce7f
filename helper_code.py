#!/usr/bin/env python
"""The challenge's helper functions (2021 template names), thin over `ecgnet.records`.

Headers are passed around as text, as in the challenge templates. `load_recording` returns
the raw `val` matrix as the templates do; `load_signals` returns float32 millivolts computed
with each lead's gain and baseline.
"""
import os

import numpy as np

from ecgnet import outputs, records


def find_challenge_files(data_directory):
    """(header_files, recording_files) of the records of a folder that have both files."""
    header_files, recording_files = [], []
    for header_file in records.find_records(data_directory):
        recording_file = os.path.splitext(header_file)[0] + ".mat"
        if os.path.isfile(recording_file):
            header_files.append(header_file)
            recording_files.append(recording_file)
    return header_files, recording_files


def load_header(header_file):
    with open(header_file, encoding="utf-8", errors="replace") as f:
        return f.read()


def _parse(header):
    return records.parse_header(header)


def load_recording(recording_file, header=None, leads=None, key="val"):
    """The raw matrix of a `.mat` file (leads x samples), its rows reordered to `leads` when
    `header` and `leads` are given."""
    if key != "val":
        raise ValueError("challenge recordings keep their samples in 'val'")
    if header is None:
        header = load_header(os.path.splitext(recording_file)[0] + ".hea")
    parsed = records.parse_header(header, os.path.splitext(recording_file)[0] + ".hea")
    val = records.load_adc(parsed, recording_file)
    if leads is None:
        return val
    names = list(parsed.lead_names)
    return np.stack([val[names.index(lead)] for lead in leads])


def load_signals(header_file):
    """(float32 millivolts, lead names) of a record, leads in header order."""
    header = records.load_header(header_file)
    return records.load_signal(header), header.lead_names


def get_recording_id(header):
    return _parse(header).name


def get_leads(header):
    return _parse(header).lead_names


def get_age(header):
    """Age in years, NaN when missing."""
    age = _parse(header).age
    return float("nan") if age is None else age


def get_sex(header):
    """'Female', 'Male' or 'Unknown', whatever spelling the header uses."""
    sex = _parse(header).sex
    return {"female": "Female", "male": "Male"}.get(sex, "Unknown")


def get_labels(header):
    return list(_parse(header).dx)


def get_frequency(header):
    return _parse(header).sample_rate


def get_num_samples(header):
    return _parse(header).num_samples


def _per_lead(header, leads, attribute):
    parsed = _parse(header)
    by_name = {lead.name: getattr(lead, attribute) for lead in parsed.leads}
    return np.array([by_name[name] for name in (leads or parsed.lead_names)], dtype=np.float64)


def get_adc_gains(header, leads=None):
    return _per_lead(header, leads, "gain")


def get_baselines(header, leads=None):
    return _per_lead(header, leads, "baseline")


def save_outputs(output_file, recording_id, classes, labels, probabilities):
    """Write a four-line output file (record, classes, labels, probabilities)."""
    with open(output_file, "w") as f:
        f.write(outputs.format_output(recording_id, classes, labels, probabilities))
