"""A record's signal file (`NAME.mat`): its `val` matrix read within limits, and in millivolts.

MATLAB files are untrusted input. The shape and class of `val` are read from the file's own
headers (a small reader of MATLAB v5 matrix headers below) and checked against the record's
header and the `limits` before any data are read, and a compressed `val` is never inflated
past what its shape holds. Every problem raises `RecordError` naming the file.
"""

import io
import math
import struct
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np
import scipy.io
import scipy.io.matlab

from .errors import RecordError, quote
from .files import open_regular
from .headers import Header
from .limits import MAX_MILLIVOLTS, check_size

# MATLAB v5 array classes that hold numbers, with their bytes per value.
_MAT5_NUMERIC = {
    6: ("double", 8),
    7: ("single", 4),
    8: ("int8", 1),
    9: ("uint8", 1),
    10: ("int16", 2),
    11: ("uint16", 2),
    12: ("int32", 4),
    13: ("uint32", 4),
    14: ("int64", 8),
    15: ("uint64", 8),
}
_MAT5_OTHER = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse"}
_ITEMSIZE = dict(_MAT5_NUMERIC.values())
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MAT5_FILE_HEADER = 128
_MATRIX_HEADER_BYTES = 4096  # enough for any matrix header (flags, dimensions, name)


@dataclass
class _MatVariable:
    shape: tuple
    kind: str  # MATLAB class, "complex ..." or "logical"
    itemsize: int  # bytes per value (0 when not numeric)
    compressed: tuple | None = None  # (offset, size) of a v5 compressed element


def _mat5_tag(data: bytes, offset: int, endian: str) -> tuple[int, int, int, int]:
    """(type, size, data offset, next offset) of a v5 data element's tag. A small element packs
    its size into the type word and its data into the tag's second half."""
    mdtype, size = struct.unpack_from(endian + "II", data, offset)
    if mdtype >> 16:
        return mdtype & 0xFFFF, mdtype >> 16, offset + 4, offset + 8
    return mdtype, size, offset + 8, offset + 8 + -(-size // 8) * 8


def _mat5_matrix(data: bytes, endian: str) -> tuple[str, _MatVariable]:
    """(name, _MatVariable) from the start of a v5 miMATRIX element."""
    mdtype, _, offset, _ = _mat5_tag(data, 0, endian)
    if mdtype != _MI_MATRIX:
        raise ValueError(f"expected a matrix element, found type {mdtype}")
    _, _, start, offset = _mat5_tag(data, offset, endian)
    flags = struct.unpack_from(endian + "I", data, start)[0]
    _, size, start, offset = _mat5_tag(data, offset, endian)
    shape = struct.unpack_from(f"{endian}{size // 4}i", data, start)
    _, size, start, offset = _mat5_tag(data, offset, endian)
    name = data[start : start + size].decode("latin-1")
    kind, itemsize = _MAT5_NUMERIC.get(flags & 0xFF, (_MAT5_OTHER.get(flags & 0xFF, "unknown"), 0))
    if flags & 0x200:
        kind = "logical"
    elif flags & 0x800:
        kind = "complex " + kind
    return name, _MatVariable(shape, kind, itemsize)


def _mat5_variables(f: IO[bytes]):
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


def _find_val(f: IO[bytes], version: int) -> _MatVariable | None:
    """The `_MatVariable` of `val`, or None."""
    if version == 1:
        return next((v for name, v in _mat5_variables(f) if name == "val"), None)
    # v4 headers are fixed-size and scipy reads nothing else to list them.
    for name, shape, kind in scipy.io.whosmat(f):
        if name == "val":
            return _MatVariable(tuple(shape), kind, _ITEMSIZE.get(kind, 0))
    return None


def _inflate(f: IO[bytes], variable: _MatVariable, path: str) -> io.BytesIO:
    """A compressed v5 variable as an uncompressed v5 file in memory, inflating no more than
    its declared shape can hold."""
    assert variable.compressed is not None, "only a compressed variable is inflated"
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


def _check_val_header(variable: _MatVariable, header: Header, mat_path: str) -> None:
    if variable.itemsize == 0 or variable.kind.startswith("complex"):
        raise RecordError(mat_path, f"'val' is a {variable.kind} array, expected a real leads x samples matrix")
    if len(variable.shape) != 2:
        raise RecordError(mat_path, f"'val' has shape {variable.shape}, expected a leads x samples matrix")
    expected = (len(header.leads), header.num_samples if header.num_samples is not None else variable.shape[1])
    if variable.shape != expected:
        raise RecordError(mat_path, f"'val' has shape {variable.shape} but the header says {expected}")
    check_size(*variable.shape, header.sample_rate, mat_path)


def _read_val(header: Header, mat_path: str) -> np.ndarray:
    """`val` of a MATLAB file, its shape and class checked against the header and the limits
    before its data are read."""
    with open_regular(mat_path, "signal file") as f:
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
            raise RecordError(mat_path, f"cannot read MATLAB file ({type(e).__name__}: {quote(str(e), 200)})") from None


def load_adc(header: Header, mat_path: str | None = None) -> np.ndarray:
    """The raw `val` matrix (leads x samples) of a record, checked against its header."""
    mat_path = mat_path or header.mat_path
    val = _read_val(header, mat_path)
    if val.ndim != 2 or not np.issubdtype(val.dtype, np.number) or np.iscomplexobj(val):
        raise RecordError(
            mat_path, f"'val' is {val.dtype} of shape {val.shape}, expected a real leads x samples matrix"
        )
    expected = (len(header.leads), header.num_samples if header.num_samples is not None else val.shape[1])
    if val.shape != expected:
        raise RecordError(mat_path, f"'val' has shape {val.shape} but the header says {expected}")
    if val.shape[1] == 0:
        raise RecordError(mat_path, "record has no samples")
    if val.dtype.kind == "f" and not np.isfinite(val).all():
        raise RecordError(mat_path, "samples contain NaN or infinite values")
    return val


def to_millivolts(val: np.ndarray, header: Header, path: str | None = None) -> np.ndarray:
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
        raise RecordError(
            path or header.mat_path,
            f"samples reach {peak:g} mV, beyond the limit of ±{MAX_MILLIVOLTS:g} mV: is the gain in the header right?",
        )
    return signal


def load_signal(header: Header, mat_path: str | None = None) -> np.ndarray:
    """The record's signal as float32 millivolts, leads in header order (`header.lead_names`)."""
    mat_path = mat_path or header.mat_path
    return to_millivolts(load_adc(header, mat_path), header, mat_path)
