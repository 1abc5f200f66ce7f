"""Reading challenge records: a WFDB text header (`NAME.hea`) and a MATLAB file (`NAME.mat`).

Headers and `.mat` files are untrusted input. Every problem raises `RecordError`, whose
message names the file and the problem; nothing here returns partial data silently. What a
header declares is checked against plausible limits before anything is allocated from it,
and the shape of a `.mat` file's `val` is read from its headers before its data.
"""
import io
import math
import os
import re
import stat
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import scipy.io
import scipy.io.matlab

from .errors import RecordError  # defined with the project's other errors; importable here as always

# Limits on what a record may declare (README, "The data"). Challenge records are 257 to
# 1000 Hz, 12 leads, 6 s to 30 min; these leave wide room while bounding memory.
MAX_HEADER_BYTES = 64 * 1024
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 50.0, 10_000.0   # Hz
MAX_SAMPLES = 2_000_000                              # per lead: 33 min at 1000 Hz
MAX_SECONDS = 3600.0
MAX_VALUES = 12 * MAX_SAMPLES                        # leads x samples
MAX_MILLIVOLTS = 10_000.0                            # |signal|; an ECG is a few mV

# Physical units a header may give, as a factor to millivolts.
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# `gain(baseline)/units`: gain and baseline are optional parts of one WFDB field.
_GAIN_FIELD = re.compile(r"^([^()/]*)(?:\(([^()]*)\))?(?:/(.*))?$")
_COMMENT = re.compile(r"^#\s*([A-Za-z][\w ]*?)\s*:(.*)$")
# Control characters never found in a text header (tab, line and page breaks are fine).
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
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


def _quote(text, limit=40):
    """`text` for an error message: quoted, escaped, and cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _number(text, path, what):
    try:
        value = float(text)
    except ValueError:
        raise RecordError(path, f"{what} {_quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(path, f"{what} {_quote(text)} is not finite")
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


def check_size(num_leads, num_samples, sample_rate, path):
    """Refuse a record larger than the limits, before anything of its size is allocated."""
    if num_samples > MAX_SAMPLES:
        raise RecordError(path, f"{num_samples} samples per lead is more than the limit of {MAX_SAMPLES}")
    if num_samples / sample_rate > MAX_SECONDS:
        raise RecordError(path, f"{num_samples} samples at {sample_rate:g} Hz last longer than the limit of "
                                f"{MAX_SECONDS / 60:g} min")
    if num_leads * num_samples > MAX_VALUES:
        raise RecordError(path, f"{num_leads} leads x {num_samples} samples is more than the limit of {MAX_VALUES} values")


def _parse_lead(line, number, path):
    tokens = line.split()
    if len(tokens) < 9:
        raise RecordError(path, f"signal line {number} has {len(tokens)} fields, expected 9: {_quote(line)}")
    match = _GAIN_FIELD.match(tokens[2])
    if not match or not match.group(1):
        raise RecordError(path, f"signal line {number}: cannot read gain field {_quote(tokens[2])}")
    gain = _number(match.group(1), path, f"signal line {number} gain")
    if gain <= 0:
        raise RecordError(path, f"signal line {number}: gain {_quote(tokens[2])} is not positive")
    # WFDB: without an explicit baseline, the ADC zero (field 5) is the baseline.
    baseline_text = match.group(2) if match.group(2) is not None else tokens[4]
    baseline = _number(baseline_text, path, f"signal line {number} baseline")
    units = (match.group(3) or "mV").strip().lower()
    if units not in _UNIT_TO_MV:
        raise RecordError(path, f"signal line {number}: unknown units {_quote(match.group(3))}")
    return Lead(" ".join(tokens[8:]), gain, baseline, _UNIT_TO_MV[units])


def _parse_record_line(line, path):
    """(name, lead count, sampling rate, sample count or None) from a header's first line."""
    first = line.split()
    if len(first) < 3:
        raise RecordError(path, f"record line {_quote(line)} needs at least a name, lead count and sampling rate")
    name = first[0]
    if name.lower().endswith(".mat"):  # Georgia headers write NAME.mat
        name = name[:-4]
    try:
        num_leads = int(first[1])
    except ValueError:
        raise RecordError(path, f"lead count {_quote(first[1])} is not an integer") from None
    if num_leads <= 0:
        raise RecordError(path, f"lead count {num_leads} is not positive")
    sample_rate = _number(first[2].split("/")[0], path, "sampling rate")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise RecordError(path, f"sampling rate {_quote(first[2])} is outside the supported "
                                f"{MIN_SAMPLE_RATE:g} to {MAX_SAMPLE_RATE:g} Hz")
    num_samples = None
    if len(first) > 3:
        try:
            num_samples = int(first[3])
        except ValueError:
            raise RecordError(path, f"sample count {_quote(first[3])} is not an integer") from None
        if num_samples < 0:
            raise RecordError(path, f"sample count {num_samples} is negative")
        check_size(num_leads, num_samples, sample_rate, path)
    return name, num_leads, sample_rate, num_samples


def parse_header(text, path="<header>"):
    """Parse header text into a `Header`; `path` is only used in error messages."""
    if _BINARY.search(text):
        raise RecordError(path, "is not a WFDB header: it holds binary data, not text")
    lines = tuple(text.splitlines())
    content = [(i, l.strip()) for i, l in enumerate(lines, 1) if l.strip() and not l.lstrip().startswith("#")]
    if not content:
        raise RecordError(path, "header is empty")
    name, num_leads, sample_rate, num_samples = _parse_record_line(content[0][1], path)
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


def _open_regular(path, what):
    """`path` opened for binary reading if it is a regular file: never a folder, a device
    such as /dev/zero, or a pipe, whose reading could block or never end."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
            raise RecordError(path, f"{what} is {kind}")
        return open(path, "rb")
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise RecordError(path, f"{what} is {'a link to a missing file' if dangling else 'missing'}") from None
    except OSError as e:
        raise RecordError(path, f"cannot read {what}: {e.strerror or e}") from None


def load_header(path):
    """Read and parse `NAME.hea` (at most `MAX_HEADER_BYTES`)."""
    with _open_regular(path, "header file") as f:
        data = f.read(MAX_HEADER_BYTES + 1)
    if len(data) > MAX_HEADER_BYTES:
        raise RecordError(path, f"header file is larger than the limit of {MAX_HEADER_BYTES // 1024} KiB")
    return parse_header(data.decode("utf-8", errors="replace"), path)


# ---------------------------------------------------------------- MATLAB files

# MATLAB v5 array classes that hold numbers, with their bytes per value.
_MAT5_NUMERIC = {6: ("double", 8), 7: ("single", 4), 8: ("int8", 1), 9: ("uint8", 1), 10: ("int16", 2),
                 11: ("uint16", 2), 12: ("int32", 4), 13: ("uint32", 4), 14: ("int64", 8), 15: ("uint64", 8)}
_MAT5_OTHER = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse"}
_ITEMSIZE = dict(_MAT5_NUMERIC.values())
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MAT5_FILE_HEADER = 128
_MATRIX_HEADER_BYTES = 4096  # enough for any matrix header (flags, dimensions, name)


@dataclass
class _MatVariable:
    shape: tuple
    kind: str                        # MATLAB class, "complex ..." or "logical"
    itemsize: int                    # bytes per value (0 when not numeric)
    compressed: tuple | None = None  # (offset, size) of a v5 compressed element


def _mat5_tag(data, offset, endian):
    """(type, size, data offset, next offset) of a v5 data element's tag. A small element packs
    its size into the type word and its data into the tag's second half."""
    mdtype, size = struct.unpack_from(endian + "II", data, offset)
    if mdtype >> 16:
        return mdtype & 0xFFFF, mdtype >> 16, offset + 4, offset + 8
    return mdtype, size, offset + 8, offset + 8 + -(-size // 8) * 8


def _mat5_matrix(data, endian):
    """(name, _MatVariable) from the start of a v5 miMATRIX element."""
    mdtype, _, offset, _ = _mat5_tag(data, 0, endian)
    if mdtype != _MI_MATRIX:
        raise ValueError(f"expected a matrix element, found type {mdtype}")
    _, _, start, offset = _mat5_tag(data, offset, endian)
    flags = struct.unpack_from(endian + "I", data, start)[0]
    _, size, start, offset = _mat5_tag(data, offset, endian)
    shape = struct.unpack_from(f"{endian}{size // 4}i", data, start)
    _, size, start, offset = _mat5_tag(data, offset, endian)
    name = data[start:start + size].decode("latin-1")
    kind, itemsize = _MAT5_NUMERIC.get(flags & 0xFF, (_MAT5_OTHER.get(flags & 0xFF, "unknown"), 0))
    if flags & 0x200:
        kind = "logical"
    elif flags & 0x800:
        kind = "complex " + kind
    return name, _MatVariable(shape, kind, itemsize)


def _mat5_variables(f):
    """Yield (name, _MatVariable) of a v5 file's variables from their headers alone. A
    compressed variable is inflated only as far as its header (scipy's `whosmat` inflates
    it whole, so a small file could make it allocate gigabytes)."""
    f.seek(126)
    endian = "<" if f.read(2) == b"IM" else ">"
    f.seek(_MAT5_FILE_HEADER)
    while len(tag := f.read(8)) == 8:
        mdtype, size = struct.unpack(endian + "II", tag)
        start = f.tell()
        if mdtype == _MI_COMPRESSED:
            head = zlib.decompressobj().decompress(f.read(min(size, _MATRIX_HEADER_BYTES)), _MATRIX_HEADER_BYTES)
        else:
            head = tag + f.read(min(size, _MATRIX_HEADER_BYTES))
        name, variable = _mat5_matrix(head, endian)
        if mdtype == _MI_COMPRESSED:
            variable.compressed = (start, size)
        yield name, variable
        f.seek(start + size)


def _find_val(f, version):
    """The `_MatVariable` of `val`, or None."""
    if version == 1:
        return next((v for name, v in _mat5_variables(f) if name == "val"), None)
    # v4 headers are fixed-size and scipy reads nothing else to list them.
    for name, shape, kind in scipy.io.whosmat(f):
        if name == "val":
            return _MatVariable(tuple(shape), kind, _ITEMSIZE.get(kind, 0))
    return None


def _inflate(f, variable, path):
    """A compressed v5 variable as an uncompressed v5 file in memory, inflating no more than
    its declared shape can hold."""
    start, size = variable.compressed
    limit = _MATRIX_HEADER_BYTES + variable.itemsize * math.prod(variable.shape)
    f.seek(0)
    data = bytearray(f.read(_MAT5_FILE_HEADER))
    inflater = zlib.decompressobj()
    f.seek(start)
    while size and not inflater.eof:
        chunk = f.read(min(size, 1 << 20))
        if not chunk:
            break
        size -= len(chunk)
        data += inflater.decompress(chunk, limit + 1 - (len(data) - _MAT5_FILE_HEADER))
        if len(data) - _MAT5_FILE_HEADER > limit or inflater.unconsumed_tail:
            raise RecordError(path, f"'val' holds more data than its shape {variable.shape} can")
    return io.BytesIO(data)


def _read_val(header, mat_path):
    """`val` of a MATLAB file, its shape and class checked against the header and the limits
    before its data are read."""
    with _open_regular(mat_path, "signal file") as f:
        try:
            version = scipy.io.matlab.matfile_version(f)[0]
            if version == 2:
                raise RecordError(mat_path, "is a MATLAB 7.3 (HDF5) file; save it in MATLAB's -v7 format or older")
            variable = _find_val(f, version)
            if variable is None:
                raise RecordError(mat_path, "has no variable 'val'")
            _check_val_header(variable, header, mat_path)
            source = _inflate(f, variable, mat_path) if variable.compressed else f
            return scipy.io.loadmat(source, variable_names=["val"])["val"]
        except RecordError:
            raise
        except Exception as e:  # scipy, struct and zlib raise many types for damaged files
            raise RecordError(mat_path, f"cannot read MATLAB file ({type(e).__name__}: {_quote(str(e), 200)})") from None


def _check_val_header(variable, header, mat_path):
    if variable.itemsize == 0 or variable.kind.startswith("complex"):
        raise RecordError(mat_path, f"'val' is a {variable.kind} array, expected a real leads x samples matrix")
    if len(variable.shape) != 2:
        raise RecordError(mat_path, f"'val' has shape {variable.shape}, expected a leads x samples matrix")
    expected = (len(header.leads), header.num_samples if header.num_samples is not None else variable.shape[1])
    if variable.shape != expected:
        raise RecordError(mat_path, f"'val' has shape {variable.shape} but the header says {expected}")
    check_size(*variable.shape, header.sample_rate, mat_path)


def load_adc(header, mat_path=None):
    """The raw `val` matrix (leads x samples) of a record, checked against its header."""
    mat_path = mat_path or header.mat_path
    val = _read_val(header, mat_path)
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


def to_millivolts(val, header, path=None):
    """Convert ADC values to float32 millivolts with each lead's gain, baseline and units.

    A signal beyond ±`MAX_MILLIVOLTS` (a wrong gain, such as 1e-15/mV) is refused: the
    network's arithmetic would overflow on it."""
    gain = np.array([lead.gain for lead in header.leads], dtype=np.float64)[:, None]
    baseline = np.array([lead.baseline for lead in header.leads], dtype=np.float64)[:, None]
    scale = np.array([lead.mv_per_unit for lead in header.leads], dtype=np.float64)[:, None]
    signal = np.subtract(val, baseline, dtype=np.float64)
    signal *= scale / gain
    signal = signal.astype(np.float32)
    peak = float(np.abs(signal).max(initial=0.0))
    if not peak <= MAX_MILLIVOLTS:  # also true for NaN
        raise RecordError(path or header.mat_path, f"samples reach {peak:g} mV, beyond the limit of "
                                                   f"±{MAX_MILLIVOLTS:g} mV: is the gain in the header right?")
    return signal


def load_signal(header, mat_path=None):
    """The record's signal as float32 millivolts, leads in header order (`header.lead_names`)."""
    mat_path = mat_path or header.mat_path
    return to_millivolts(load_adc(header, mat_path), header, mat_path)


# ---------------------------------------------------------------- folders of records

def name_prefix(record_name):
    """The letters a record name starts with, which name its source (A, Q, I, S, HR, E, JS...)."""
    match = re.match(r"[A-Za-z]*", record_name)
    return match.group(0)


def name_problem(record_name):
    """Why a record name cannot be written into a CSV file (and its first line), or None."""
    if not record_name.isprintable():
        return f"record name {record_name!r} holds a line break or another unprintable character"
    for character, what in ((",", "a comma"), ('"', "a double quote")):
        if character in record_name:
            return f"record name {record_name!r} holds {what}, which would break CSV files"
    return None


@dataclass(frozen=True)
class RecordFiles:
    """One record of a folder: its name and files. A file that is absent is None; `problem`
    says why the files cannot make a record (two headers of one name, say)."""
    folder: str
    name: str
    header: str | None
    mat: str | None
    problem: str | None = None

    @classmethod
    def of_header(cls, header_path):
        """The record of a header file, its signal file beside it."""
        stem = os.path.splitext(str(header_path))[0]
        return cls(os.path.dirname(stem), os.path.basename(stem), str(header_path), stem + ".mat")

    @property
    def header_path(self):
        """The header, or where it should be."""
        return self.header or os.path.join(self.folder, self.name + ".hea")

    @property
    def mat_path(self):
        """The signal file, or where it should be."""
        return self.mat or os.path.join(self.folder, self.name + ".mat")


def list_records(folder):
    """Every record of a folder, sorted by name: each NAME.hea and NAME.mat (extensions in any
    case: NAME.HEA pairs with NAME.MAT) makes one; either file may be absent. Hidden files
    and folders are ignored; links are followed, and kept even when broken (their record
    then fails by name)."""
    folder = str(folder)
    if not os.path.isdir(folder):
        raise RecordError(folder, "is a file, not a folder" if os.path.exists(folder) else "folder does not exist")
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise RecordError(folder, f"cannot list folder: {e.strerror or e}") from None
    files = {}
    for entry in sorted(names):
        stem, extension = os.path.splitext(entry)
        path = os.path.join(folder, entry)
        if extension.lower() in (".hea", ".mat") and not entry.startswith(".") and not os.path.isdir(path):
            files.setdefault(stem, {}).setdefault(extension.lower(), []).append(path)
    return [_record_files(folder, stem, found) for stem, found in sorted(files.items())]


def _record_files(folder, name, found):
    clashes = [paths for paths in found.values() if len(paths) > 1]
    problem = f"has several files of one kind: {', '.join(clashes[0])}" if clashes else None
    return RecordFiles(folder, name, found.get(".hea", [None])[0], found.get(".mat", [None])[0], problem)


def find_records(folder):
    """Paths of the `.hea` files of a folder that are regular files, sorted by file name, as
    the official code lists them (hidden files ignored)."""
    return sorted((r.header for r in list_records(folder) if r.header and os.path.isfile(r.header)),
                  key=os.path.basename)
