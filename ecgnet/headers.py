"""WFDB text headers (`NAME.hea`): the record line, one line per lead, and `#Key: value` comments.

A signal line names the file that holds its samples: the Challenge's `NAME.mat` (read by
`matfiles`), or a native WFDB signal file, usually `NAME.dat`, whose format, byte offset and
initial value the line also gives (`Storage`; read by `datfiles`). One header names one kind.

Headers are untrusted input. Every problem raises `RecordError`, whose message names the file
and the problem; what a header declares is checked against `limits` before anything is
allocated from it. Every quirk of the official data is read as WFDB defines it (Georgia's
`NAME.mat` record name, `1000/mv`, `1000(0)/mV`, gains other than 1000, `#Age: NaN`, every sex
spelling, empty `#Dx` items).
"""

import math
import os
import re
from dataclasses import dataclass, field

from .errors import RecordError, quote
from .files import open_regular
from .limits import MAX_HEADER_BYTES, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_size

# Physical units a header may give, as a factor to millivolts.
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# `gain(baseline)/units`: gain and baseline are optional parts of one WFDB field.
_GAIN_FIELD = re.compile(r"^([^()/]*)(?:\(([^()]*)\))?(?:/(.*))?$")
# `format[xsamples per frame][:skew][+byte offset]`
_FORMAT_FIELD = re.compile(r"^([0-9]{1,4})(?:x([0-9]{1,9}))?(?::([0-9]{1,9}))?(?:\+([0-9]{1,15}))?$")
_COMMENT = re.compile(r"^#\s*([A-Za-z][\w ]*?)\s*:(.*)$")
# Control characters never found in a text header (tab, line and page breaks are fine).
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# PTB-XL writes ages over 89 as 300; any age past this is read as this.
_OLDEST_AGE = 90.0
# Gains the first releases of two sources state for samples in 1000/mV units (Georgia 4880/mV,
# PTB-XL 200/mV; the later releases state 1000/mV for the same samples): stated -> true gain.
MISSTATED_GAINS = {4880.0: 1000.0, 200.0: 1000.0}


@dataclass(frozen=True)
class Storage:
    """Where a native WFDB signal's samples are (a signal line's format field and the fields
    after the gain): parsed as written, checked when the file is read (`datfiles`)."""

    format: str  # WFDB format code, e.g. "16" or "212"
    samples_per_frame: int
    skew: int
    byte_offset: int
    initial_value: int  # the first sample (format 8 counts its differences from it)


@dataclass(frozen=True)
class Lead:
    name: str
    gain: float  # ADC units per physical unit
    baseline: float  # ADC value of 0 physical units
    mv_per_unit: float
    file: str = ""  # the signal file the line names, as written
    storage: Storage | None = None  # None for the Challenge's `.mat` files


@dataclass
class Header:
    path: str  # the .hea file
    name: str
    sample_rate: float
    num_samples: int | None  # None when the header does not say
    leads: tuple[Lead, ...]
    age: float | None  # years; None when missing
    sex: str | None  # "female", "male" or None
    dx: tuple[str, ...]  # SNOMED CT codes as written (empty items dropped)
    # `#Key: value` comments as written, keys in lower case (helper_code's get_age, get_sex)
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def lead_names(self) -> tuple[str, ...]:
        return tuple(lead.name for lead in self.leads)

    @property
    def mat_path(self) -> str:
        return os.path.splitext(self.path)[0] + ".mat"

    @property
    def is_native(self) -> bool:
        """Whether the samples are in native WFDB signal files (else in NAME.mat)."""
        return self.leads[0].storage is not None


def misstated_gain(header: Header) -> tuple[float, float] | None:
    """(stated gain, true gain) when every lead states one of `MISSTATED_GAINS`, else None.
    Millivolts read at the stated gain times stated / true are the true millivolts."""
    gains = {lead.gain for lead in header.leads}
    if len(gains) == 1 and gains <= MISSTATED_GAINS.keys():
        stated = gains.pop()
        return stated, MISSTATED_GAINS[stated]
    return None


def _number(text: str, path: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RecordError(path, f"{what} {quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(path, f"{what} {quote(text)} is not finite")
    return value


def parse_age(text: str) -> float | None:
    """Age in years from a `#Age:` value, or None when missing or not a valid age."""
    try:
        age = float(text)
    except ValueError:
        return None
    if not math.isfinite(age) or age < 0:
        return None
    return min(age, _OLDEST_AGE)


def parse_sex(text: str) -> str | None:
    """`female`, `male` or None from a `#Sex:` value in any of the spellings in use."""
    value = text.strip().lower()
    if value in ("female", "f"):
        return "female"
    if value in ("male", "m"):
        return "male"
    return None


def parse_dx(text: str) -> tuple[str, ...]:
    return tuple(code.strip() for code in text.split(",") if code.strip())


def _parse_lead(line: str, number: int, path: str) -> Lead:
    tokens = line.split()
    if len(tokens) < 9:
        raise RecordError(path, f"signal line {number} has {len(tokens)} fields, expected 9: {quote(line)}")
    match = _GAIN_FIELD.match(tokens[2])
    if not match or not match.group(1):
        raise RecordError(path, f"signal line {number}: cannot read gain field {quote(tokens[2])}")
    gain = _number(match.group(1), path, f"signal line {number} gain")
    if gain <= 0:
        raise RecordError(path, f"signal line {number}: gain {quote(tokens[2])} is not positive")
    # WFDB: without an explicit baseline, the ADC zero (field 5) is the baseline.
    baseline_text = match.group(2) if match.group(2) is not None else tokens[4]
    baseline = _number(baseline_text, path, f"signal line {number} baseline")
    units = (match.group(3) or "mV").strip().lower()
    if units not in _UNIT_TO_MV:
        raise RecordError(path, f"signal line {number}: unknown units {quote(match.group(3))}")
    storage = None if tokens[0].lower().endswith(".mat") else _parse_storage(tokens, number, path)
    return Lead(" ".join(tokens[8:]), gain, baseline, _UNIT_TO_MV[units], tokens[0], storage)


def _integer(text: str, path: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RecordError(path, f"{what} {quote(text)} is not an integer") from None


def _parse_storage(tokens: list[str], number: int, path: str) -> Storage:
    """The `Storage` of a signal line that names a native WFDB signal file."""
    match = _FORMAT_FIELD.match(tokens[1])
    if not match:
        raise RecordError(path, f"signal line {number}: cannot read format field {quote(tokens[1])}")
    code, per_frame, skew, offset = match.groups()
    return Storage(
        format=str(int(code)),
        samples_per_frame=int(per_frame or 1),
        skew=int(skew or 0),
        byte_offset=int(offset or 0),
        initial_value=_integer(tokens[5], path, f"signal line {number} initial value"),
    )


def _parse_record_line(line: str, path: str) -> tuple[str, int, float, int | None]:
    """(name, lead count, sampling rate, sample count or None) from a header's first line."""
    first = line.split()
    if len(first) < 3:
        raise RecordError(path, f"record line {quote(line)} needs at least a name, lead count and sampling rate")
    name = first[0]
    if name.lower().endswith(".mat"):  # Georgia headers write NAME.mat
        name = name[:-4]
    try:
        num_leads = int(first[1])
    except ValueError:
        raise RecordError(path, f"lead count {quote(first[1])} is not an integer") from None
    if num_leads <= 0:
        raise RecordError(path, f"lead count {num_leads} is not positive")
    sample_rate = _number(first[2].split("/")[0], path, "sampling rate")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise RecordError(
            path,
            f"sampling rate {quote(first[2])} is outside the supported {MIN_SAMPLE_RATE:g} to {MAX_SAMPLE_RATE:g} Hz",
        )
    num_samples = None
    if len(first) > 3:
        try:
            num_samples = int(first[3])
        except ValueError:
            raise RecordError(path, f"sample count {quote(first[3])} is not an integer") from None
        if num_samples < 0:
            raise RecordError(path, f"sample count {num_samples} is negative")
        check_size(num_leads, num_samples, sample_rate, path)
    return name, num_leads, sample_rate, num_samples


def parse_header(text: str, path: str | os.PathLike = "<header>") -> Header:
    """Parse header text into a `Header`; `path` is only used in error messages."""
    path = str(path)
    if _BINARY.search(text):
        raise RecordError(path, "is not a WFDB header: it holds binary data, not text")
    lines = text.splitlines()
    content = [
        (i, line.strip()) for i, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")
    ]
    if not content:
        raise RecordError(path, "header is empty")
    name, num_leads, sample_rate, num_samples = _parse_record_line(content[0][1], path)
    signal_lines = content[1:]
    if len(signal_lines) != num_leads:
        raise RecordError(path, f"header declares {num_leads} leads but has {len(signal_lines)} signal lines")
    leads = tuple(_parse_lead(line, i, path) for i, line in signal_lines)
    if len({lead.storage is None for lead in leads}) > 1:
        raise RecordError(path, "header names both MATLAB (.mat) and other signal files; a record uses one kind")
    if leads[0].storage is not None and "/" in content[0][1].split()[0]:
        raise RecordError(
            path, f"is a multi-segment record ({quote(content[0][1].split()[0])}), which is not supported"
        )
    comments: dict[str, str] = {}
    for line in lines:
        match = _COMMENT.match(line.strip())
        if match:
            comments.setdefault(match.group(1).strip().lower(), match.group(2).strip())
    return Header(
        path=path,
        name=name,
        sample_rate=sample_rate,
        num_samples=num_samples,
        leads=leads,
        age=parse_age(comments.get("age", "")),
        sex=parse_sex(comments.get("sex", "")),
        dx=parse_dx(comments.get("dx", "")),
        comments=comments,
    )


def load_header(path: str | os.PathLike) -> Header:
    """Read and parse `NAME.hea` (at most `MAX_HEADER_BYTES`)."""
    with open_regular(path, "header file") as f:
        data = f.read(MAX_HEADER_BYTES + 1)
    if len(data) > MAX_HEADER_BYTES:
        raise RecordError(path, f"header file is larger than the limit of {MAX_HEADER_BYTES // 1024} KiB")
    return parse_header(data.decode("utf-8", errors="replace"), path)
