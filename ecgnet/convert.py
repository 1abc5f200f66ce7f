"""`ecgnet convert SRC OUT`: any record ecgnet reads, written in the Challenge's format.

Each record of SRC (native WFDB or the Challenge's own, in subfolders too; `folders`) becomes
OUT/NAME.hea and OUT/NAME.mat as the Challenge lays them out: a MATLAB v4 file holding `val`,
int16, leads x samples, in the record's own ADC units (its samples unchanged, so nothing is
rescaled or rounded), and a header whose signal lines read `NAME.mat 16+24 gain(baseline)/mV
16 0 first-sample checksum 0 LEAD` (the gain per millivolt; the 12 standard leads spelt as
the Challenge spells them), then `#Age`, `#Sex`, `#Dx`, `#Rx`, `#Hx` and `#Sx`. Age, sex and
labels are the header's, or with `--labels ptbxl` PTB-XL's (`ptbxl`). A record whose samples
do not fit int16 (24- and 32-bit formats can hold more) fails by name, as does one that cannot
be read; the others are written, each file whole or not at all (`files.atomic_file`).
"""

import os

import numpy as np

from .errors import OutputError, RecordError
from .files import atomic_file, atomic_write
from .folders import RecordFiles, iter_records, name_problem
from .headers import Header, load_header
from .preprocess import LEADS
from .ptbxl import Entry, PtbxlLabels

DESCRIPTION = "Write every record of SRC (native WFDB or the Challenge's) in the Challenge's format into OUT."
_STANDARD = {lead.lower(): lead for lead in LEADS}
_INT16 = np.iinfo(np.int16)


def _adc(header: Header, files: RecordFiles) -> np.ndarray:
    """The record's ADC values as they are stored, from whichever files its header names."""
    from . import datfiles, matfiles

    if header.is_native:
        return datfiles.load_adc(header, files.folder, files.data_root)
    if files.mat is None:
        raise RecordError(files.mat_path, "signal file is missing")
    return matfiles.load_adc(header, files.mat)


def _number(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _signal_line(name: str, lead, row: np.ndarray) -> str:
    gain = _number(lead.gain / lead.mv_per_unit)
    baseline = f"({_number(lead.baseline)})" if lead.baseline else ""
    checksum = int(row.astype(np.int64).sum() % 65536)
    checksum -= 65536 if checksum >= 32768 else 0
    first = int(row[0]) if row.size else 0
    label = _STANDARD.get(lead.name.strip().lower(), lead.name)
    return f"{name}.mat 16+24 {gain}{baseline}/mV 16 0 {first} {checksum} 0 {label}"


def header_text(name: str, header: Header, val: np.ndarray, entry: Entry | None) -> str:
    """The Challenge header of record `name`: `header`'s rate and leads, `val`'s samples, and
    age, sex and labels from `entry` when given, else from `header`."""
    lines = [f"{name} {len(header.leads)} {_number(header.sample_rate)} {val.shape[1]}"]
    lines += [_signal_line(name, lead, row) for lead, row in zip(header.leads, val)]
    if entry is not None:
        age = "NaN" if entry.age is None else _number(entry.age)
        sex = {"male": "Male", "female": "Female"}.get(entry.sex or "", "Unknown")
        dx = entry.dx
    else:
        age, sex, dx = header.comments.get("age") or "NaN", header.comments.get("sex") or "Unknown", header.dx
    lines += [f"#Age: {age}", f"#Sex: {sex}", f"#Dx: {','.join(dx)}"]
    lines += [f"#{key.capitalize()}: {header.comments.get(key) or 'Unknown'}" for key in ("rx", "hx", "sx")]
    return "\n".join(lines) + "\n"


def convert_record(files: RecordFiles, out: str, labels: PtbxlLabels | None = None) -> None:
    """Write OUT/NAME.mat and OUT/NAME.hea of one record; RecordError when it cannot be."""
    import scipy.io

    problem = files.problem or name_problem(files.name) or (None if files.header else "header file is missing")
    if problem:
        raise RecordError(files.header_path, problem)
    assert files.header is not None  # else the problem above
    header = load_header(files.header)
    entry = labels.record_entry(files.name, files.header) if labels is not None else None
    adc = _adc(header, files)
    if adc.size and not (_INT16.min <= adc.min() and adc.max() <= _INT16.max):
        raise RecordError(
            files.header,
            f"samples reach {int(adc.min())} to {int(adc.max())}, beyond int16, which the Challenge's format holds",
        )
    val = adc.astype(np.int16)
    with atomic_file(os.path.join(out, files.name + ".mat"), binary=True) as f:
        scipy.io.savemat(f, {"val": val}, format="4")
    atomic_write(os.path.join(out, files.name + ".hea"), header_text(files.name, header, val, entry))


def convert_folder(
    source: str, out: str, labels: PtbxlLabels | None = None, recursive: bool | None = None
) -> tuple[int, list[tuple[str, str]]]:
    """Convert every record of `source` into `out`: (records written, [(name, reason)] of those
    that failed). The records are listed once first, so that two of one name stop the run
    before a file is written."""
    sum(1 for _ in iter_records(source, recursive, require=True))
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(f"output folder {out} is a file, not a folder")
    os.makedirs(out, exist_ok=True)
    written, failures = 0, []
    for files in iter_records(source, recursive):
        try:
            convert_record(files, out, labels)
            written += 1
        except RecordError as e:
            failures.append((files.name, str(e)))
        except Exception as e:  # noqa: BLE001 - whatever one record's files cause, only that record fails
            failures.append((files.name, f"{files.header_path}: converting it failed ({type(e).__name__}: {e})"))
    return written, failures
