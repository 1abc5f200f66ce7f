#!/usr/bin/env python
"""The 2021 challenge's helper functions (python-classifier-2021 `helper_code.py`), over
`ecgnet.folders`, `ecgnet.headers`, `ecgnet.matfiles` and `ecgnet.datfiles`: the same names,
arguments, return types and results, plus `load_signals`.

Headers are text, as `load_header` returns them. The organisers may replace this file with
theirs: nothing in `ecgnet`, team_code.py or the scripts imports it. Deliberate differences from the official file,
each noted where it applies:
- a header or recording that cannot be read raises `RecordError` naming the file and the problem,
  where the official functions crash (IndexError, ValueError) or return None or 0;
- headers are read as WFDB defines them: a gain written `1000(0)/mV` is 1000 (officially 0), a
  lead's baseline is the one in parentheses when given, and Georgia's record name `E00001.mat`
  is `E00001`;
- empty `#Dx` items are dropped; `load_outputs` strips the newline off the record name;
- native WFDB records count too: `find_challenge_files` lists a NAME.hea with NAME.dat beside
  it (the recording file is then NAME.dat) as well as with NAME.mat, searching subfolders when
  the folder holds no records of its own (`ecgnet.folders.iter_records`), and `load_recording`
  reads the signal files the header names.
"""

import os

import numpy as np

# Underscored, so that `from helper_code import *` exports the official names (and np, os, as
# the official file does) and nothing else.
from ecgnet import datfiles as _datfiles
from ecgnet import folders as _folders
from ecgnet import headers as _headers
from ecgnet import matfiles as _matfiles
from ecgnet import records as _records
from ecgnet.errors import RecordError as _RecordError
from ecgnet.preprocess import LEADS as _TWELVE_LEADS


def is_number(x) -> bool:
    """Whether `float(x)` works ('NaN' and 'inf' count as numbers)."""
    try:
        float(x)
    except (ValueError, TypeError):
        return False
    return True


def is_integer(x) -> bool:
    return is_number(x) and float(x).is_integer()


def is_finite_number(x) -> bool:
    return is_number(x) and bool(np.isfinite(float(x)))


def sort_leads(leads) -> tuple:
    """`leads` in the 12-lead order (I, II, III, aVR, aVL, aVF, V1..V6), other names after them in
    their given order (the sort is stable)."""
    rank = {lead: i for i, lead in enumerate(_TWELVE_LEADS)}
    return tuple(sorted(leads, key=lambda lead: rank.get(lead, len(rank))))


def find_challenge_files(data_directory: str):
    """(header_files, recording_files): the `NAME.hea` files of a folder (hidden ones ignored) that
    have a `NAME.mat`, or else a native `NAME.dat`, beside them, sorted by name. A folder that
    cannot be listed raises RecordError."""
    header_files, recording_files = [], []
    for header_file in _folders.find_records(data_directory):
        root, extension = os.path.splitext(header_file)
        recording_file = next((root + e for e in (".mat", ".dat") if os.path.isfile(root + e)), None)
        if extension == ".hea" and recording_file:
            header_files.append(header_file)
            recording_files.append(recording_file)
    return header_files, recording_files


def load_header(header_file: str) -> str:
    """The header file's text (UTF-8; undecodable bytes replaced)."""
    with open(header_file, encoding="utf-8", errors="replace") as f:
        return f.read()


def _parse(header, path="<header>"):
    return _headers.parse_header(header, path)


def load_recording(recording_file: str, header: str = None, leads=None, key: str = "val") -> np.ndarray:
    """The raw ADC matrix of a recording (leads x samples, as stored: int16 in challenge `.mat`
    files, int32 from native WFDB signal files, whose invalid samples read as the baseline);
    given `header` and `leads`, its rows chosen and ordered by `leads` (see `choose_leads`).

    Stricter than the official helper: the matrix is checked against the header (`header`, else
    the `NAME.hea` beside the file), and a file that cannot be read, has no `val` or disagrees
    with its header raises RecordError naming it. Only `key='val'` exists in challenge files.
    A header that names native WFDB signal files has them read from the recording's folder."""
    if key != "val":
        raise ValueError(f"challenge recordings keep their samples in 'val', not {key!r}")
    header_file = os.path.splitext(recording_file)[0] + ".hea"
    parsed = _headers.load_header(header_file) if header is None else _parse(header, header_file)
    if parsed.is_native:
        recording = _datfiles.load_adc(parsed, os.path.dirname(recording_file) or os.curdir)
    else:
        recording = _matfiles.load_adc(parsed, recording_file)
    if header and leads:
        recording = choose_leads(recording, header, leads)
    return recording


def choose_leads(recording: np.ndarray, header: str, leads) -> np.ndarray:
    """Rows of `recording` (in the header's lead order) for `leads`, in that order; a lead the
    header does not have is a row of zeros. The dtype is kept."""
    names = get_leads(header)
    chosen = np.zeros((len(leads), np.shape(recording)[1]), dtype=recording.dtype)
    for i, lead in enumerate(leads):
        if lead in names:
            chosen[i] = recording[names.index(lead)]
    return chosen


def get_recording_id(header: str) -> str:
    """The record name of the header's first line (`E00001.mat` read as `E00001`)."""
    return _parse(header).name


def get_leads(header: str) -> tuple:
    """The lead names, in the header's order."""
    return _parse(header).lead_names


def get_age(header: str):
    """The `#Age:` value as a float (NaN when not a number, e.g. `NaN`); None without `#Age:`.
    As written: the model itself reads PTB-XL's 300 (age over 89) as 90."""
    text = _parse(header).comments.get("age")
    if text is None:
        return None
    return float(text) if is_number(text) else float("nan")


def get_sex(header: str):
    """The `#Sex:` value as written (`Male`, `F`, `NaN`, ...); None without `#Sex:`."""
    return _parse(header).comments.get("sex")


def get_num_leads(header: str) -> float:
    """The lead count of the first line, as a float (as the official helper)."""
    return float(len(_parse(header).leads))


def get_frequency(header: str) -> float:
    """The sampling rate in Hz, as a float."""
    return float(_parse(header).sample_rate)


def get_num_samples(header: str):
    """The sample count of the first line as a float (as the official helper); None if absent."""
    num_samples = _parse(header).num_samples
    return None if num_samples is None else float(num_samples)


def _per_lead(header, leads, attribute):
    parsed = _parse(header)
    names = parsed.lead_names
    return np.array(
        [
            getattr(parsed.leads[names.index(lead)], attribute) if lead in names else 0.0
            for lead in (names if leads is None else leads)
        ],
        dtype=np.float64,
    )


def get_adc_gains(header: str, leads=None) -> np.ndarray:
    """Each lead's ADC gain (units per mV, or per the header's unit), in the order of `leads`
    (default: the header's); 0 for a lead the header does not have. `1000(0)/mV` reads as 1000."""
    return _per_lead(header, leads, "gain")


def get_baselines(header: str, leads=None) -> np.ndarray:
    """Each lead's baseline (the ADC value of 0 mV), in the order of `leads` (default: the
    header's); 0 for a lead the header does not have. WFDB's rule, where the official helper
    always reads the ADC zero field: the baseline in `gain(baseline)/mV`, else the ADC zero."""
    return _per_lead(header, leads, "baseline")


def get_labels(header: str) -> list:
    """The `#Dx:` codes as strings, in order (empty items dropped)."""
    return list(_parse(header).dx)


def save_outputs(output_file: str, recording_id: str, classes, labels, probabilities) -> None:
    """Write an output file: `#ID`, then classes, labels and probabilities, each a comma-separated
    line of `str()` of the values (full precision, as the official helper)."""
    lines = [f"#{recording_id}"] + [",".join(str(x) for x in values) for values in (classes, labels, probabilities)]
    with open(output_file, "w") as f:
        f.write("\n".join(lines) + "\n")


def load_outputs(output_file: str):
    """(recording_id, classes, labels, probabilities) of an output file: the id without `#` (None
    if empty), classes and labels as tuples of strings, probabilities as a tuple of floats (NaN
    where not a finite number). A file with fewer than four lines raises RecordError."""
    with open(output_file, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    if len(lines) < 4:
        raise _RecordError(
            output_file, f"output file has {len(lines)} lines, expected 4 (record, classes, labels, probabilities)"
        )
    recording_id = lines[0][1:].strip() or None
    classes, labels, probabilities = (tuple(cell.strip() for cell in line.split(",")) for line in lines[1:4])
    probabilities = tuple(float(p) if is_finite_number(p) else float("nan") for p in probabilities)
    return recording_id, classes, labels, probabilities


def load_signals(header_file: str):
    """Not in the official file: (float32 millivolts, lead names) of a record, leads in header
    order, computed with each lead's gain, baseline and units."""
    header = _headers.load_header(header_file)
    return _records.record_signal(header, _folders.RecordFiles.of_header(header_file)), header.lead_names
