"""Reading challenge records: a WFDB text header (`NAME.hea`) and a MATLAB file (`NAME.mat`).

Headers and `.mat` files are untrusted input. Every problem raises `RecordError`, whose
message names the file and the problem; nothing here returns partial data silently.
"""
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np
import scipy.io


class RecordError(Exception):
    """A record that cannot be read. `path` is the offending file, `problem` what is wrong."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


# Physical units a header may give, as a factor to millivolts.
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# `gain(baseline)/units`: gain and baseline are optional parts of one WFDB field.
_GAIN_FIELD = re.compile(r"^([^()/]*)(?:\(([^()]*)\))?(?:/(.*))?$")
_COMMENT = re.compile(r"^#\s*([A-Za-z][\w ]*?)\s*:(.*)$")
# PTB-XL writes ages over 89 as 300; any age past this is read as this.
_OLDEST_AGE = 90.0


@dataclass(frozen=True)
class Lead:
    name: str
    gain: float       # ADC units per physical unit
    baseline: float   # ADC value of 0 physical units
    mv_per_unit: float


@dataclass
class Header:
    path: str                 # the .hea file
    name: str
    sample_rate: float
    num_samples: int | None   # None when the header does not say
    leads: tuple
    age: float | None         # years; None when missing
    sex: str | None           # "female", "male" or None
    dx: tuple                 # SNOMED CT codes as written (empty items dropped)
    comments: dict = field(default_factory=dict)
    lines: tuple = ()

    @property
    def lead_names(self):
        return tuple(lead.name for lead in self.leads)

    @property
    def mat_path(self):
        return os.path.splitext(self.path)[0] + ".mat"


def _number(text, path, what):
    try:
        value = float(text)
    except ValueError:
        raise RecordError(path, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(path, f"{what} {text!r} is not finite")
    return value


def parse_age(text):
    """Age in years from a `#Age:` value, or None when missing or not a valid age."""
    try:
        age = float(text)
    except ValueError:
        return None
    if not math.isfinite(age) or age < 0:
        return None
    return min(age, _OLDEST_AGE)


def parse_sex(text):
    """`female`, `male` or None from a `#Sex:` value in any of the spellings in use."""
    value = text.strip().lower()
    if value in ("female", "f"):
        return "female"
    if value in ("male", "m"):
        return "male"
    return None


def parse_dx(text):
    return tuple(code.strip() for code in text.split(",") if code.strip())


def _parse_lead(line, number, path):
    tokens = line.split()
    if len(tokens) < 9:
        raise RecordError(path, f"signal line {number} has {len(tokens)} fields, expected 9: {line!r}")
    match = _GAIN_FIELD.match(tokens[2])
    if not match or not match.group(1):
        raise RecordError(path, f"signal line {number}: cannot read gain field {tokens[2]!r}")
    gain = _number(match.group(1), path, f"signal line {number} gain")
    if gain <= 0:
        raise RecordError(path, f"signal line {number}: gain {tokens[2]!r} is not positive")
    # WFDB: without an explicit baseline, the ADC zero (field 5) is the baseline.
    baseline_text = match.group(2) if match.group(2) is not None else tokens[4]
    baseline = _number(baseline_text, path, f"signal line {number} baseline")
    units = (match.group(3) or "mV").strip().lower()
    if units not in _UNIT_TO_MV:
        raise RecordError(path, f"signal line {number}: unknown units {match.group(3)!r}")
    return Lead(" ".join(tokens[8:]), gain, baseline, _UNIT_TO_MV[units])


def parse_header(text, path="<header>"):
    """Parse header text into a `Header`; `path` is only used in error messages."""
    lines = tuple(text.splitlines())
    content = [(i, l.strip()) for i, l in enumerate(lines, 1) if l.strip() and not l.lstrip().startswith("#")]
    if not content:
        raise RecordError(path, "header is empty")
    first = content[0][1].split()
    if len(first) < 3:
        raise RecordError(path, f"record line {first!r} needs at least a name, lead count and sampling rate")
    name = first[0]
    if name.lower().endswith(".mat"):  # Georgia headers write NAME.mat
        name = name[:-4]
    try:
        num_leads = int(first[1])
    except ValueError:
        raise RecordError(path, f"lead count {first[1]!r} is not an integer") from None
    if num_leads <= 0:
        raise RecordError(path, f"lead count {num_leads} is not positive")
    sample_rate = _number(first[2].split("/")[0], path, "sampling rate")
    if sample_rate <= 0:
        raise RecordError(path, f"sampling rate {first[2]!r} is not positive")
    num_samples = None
    if len(first) > 3:
        try:
            num_samples = int(first[3])
        except ValueError:
            raise RecordError(path, f"sample count {first[3]!r} is not an integer") from None
        if num_samples < 0:
            raise RecordError(path, f"sample count {num_samples} is negative")
    signal_lines = content[1:]
    if len(signal_lines) != num_leads:
        raise RecordError(path, f"header declares {num_leads} leads but has {len(signal_lines)} signal lines")
    leads = tuple(_parse_lead(line, i, path) for i, line in signal_lines)
    comments = {}
    for line in lines:
        match = _COMMENT.match(line.strip())
        if match:
            comments.setdefault(match.group(1).strip().lower(), match.group(2).strip())
    return Header(
        path=str(path), name=name, sample_rate=sample_rate, num_samples=num_samples, leads=leads,
        age=parse_age(comments.get("age", "")), sex=parse_sex(comments.get("sex", "")),
        dx=parse_dx(comments.get("dx", "")), comments=comments, lines=lines)


def load_header(path):
    """Read and parse `NAME.hea`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise RecordError(path, f"cannot read header: {e.strerror or e}") from None
    return parse_header(text, path)


def load_adc(header, mat_path=None):
    """The raw `val` matrix (leads x samples) of a record, checked against its header."""
    mat_path = mat_path or header.mat_path
    if not os.path.isfile(mat_path):
        raise RecordError(mat_path, "signal file is missing")
    try:
        contents = scipy.io.loadmat(mat_path, variable_names=["val"])
    except Exception as e:  # scipy raises many types for damaged files
        raise RecordError(mat_path, f"cannot read MATLAB file ({type(e).__name__}: {e})") from None
    if "val" not in contents:
        raise RecordError(mat_path, "has no variable 'val'")
    val = contents["val"]
    if val.ndim != 2 or not np.issubdtype(val.dtype, np.number) or np.iscomplexobj(val):
        raise RecordError(mat_path, f"'val' is {val.dtype} of shape {val.shape}, expected a real leads x samples matrix")
    expected = (len(header.leads), header.num_samples if header.num_samples is not None else val.shape[1])
    if val.shape != expected:
        raise RecordError(mat_path, f"'val' has shape {val.shape} but the header says {expected}")
    if val.shape[1] == 0:
        raise RecordError(mat_path, "record has no samples")
    if val.dtype.kind == "f" and not np.isfinite(val).all():
        raise RecordError(mat_path, "samples contain NaN or infinite values")
    return val


def to_millivolts(val, header):
    """Convert ADC values to float32 millivolts with each lead's gain, baseline and units."""
    gain = np.array([lead.gain for lead in header.leads], dtype=np.float64)[:, None]
    baseline = np.array([lead.baseline for lead in header.leads], dtype=np.float64)[:, None]
    scale = np.array([lead.mv_per_unit for lead in header.leads], dtype=np.float64)[:, None]
    signal = ((val - baseline) * (scale / gain)).astype(np.float32)
    if not np.isfinite(signal).all():
        raise RecordError(header.mat_path, "samples overflow when converted to millivolts")
    return signal


def load_signal(header, mat_path=None):
    """The record's signal as float32 millivolts, leads in header order (`header.lead_names`)."""
    return to_millivolts(load_adc(header, mat_path), header)


def name_prefix(record_name):
    """The letters a record name starts with, which name its source (A, Q, I, S, HR, E, JS...)."""
    match = re.match(r"[A-Za-z]*", record_name)
    return match.group(0)


def find_records(folder):
    """Paths of the `.hea` files of a folder (hidden files ignored), sorted by record name."""
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise RecordError(folder, f"cannot list folder: {e.strerror or e}") from None
    return [os.path.join(folder, n) for n in sorted(names)
            if n.lower().endswith(".hea") and not n.startswith(".") and os.path.isfile(os.path.join(folder, n))]
