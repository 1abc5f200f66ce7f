"""A record's signal file (`NAME.mat`): its `val` matrix read within limits, and in millivolts.

MATLAB files are untrusted input. The shape and class of `val` are read from the file's own
headers and checked against the record's header and the `limits` before any data are read, and
a compressed `val` is never inflated past what its shape holds. Every problem raises
`RecordError` naming the file.

The reader is this module's own, for the two formats `scipy.io.loadmat` reads that can hold
numbers (MATLAB v4, which the Challenge's files use, and v5/v7, compressed or not), and gives
the same arrays (tests/test_matfiles.py compares them): importing `scipy.io` cost every driver
start about 0.2 s and 14 MiB, for one function.
"""

import io
import math
import struct
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np

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
_MI_MATRIX, _MI_COMPRESSED = 14, 15
# v5 data types an array's values may be stored in (MATLAB stores a double array of small
# integers as int8 or int16, for instance): the NumPy type codes.
_MI_VALUES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MAT5_FILE_HEADER = 128
_MATRIX_HEADER_BYTES = 4096  # enough for any matrix header (flags, dimensions, name)
# MATLAB v4: the precision digit of a variable's type code, and the class it holds.
_MAT4_VALUES = {
    0: ("double", "f8"),
    1: ("single", "f4"),
    2: ("int32", "i4"),
    3: ("int16", "i2"),
    4: ("uint16", "u2"),
    5: ("uint8", "u1"),
}
_MAT4_HEADER = struct.Struct("5i")  # type code, rows, columns, imaginary flag, name length
_MAT4_MAX_NAME = 1 << 16


@dataclass
class _MatVariable:
    shape: tuple
    kind: str  # MATLAB class, "complex ..." or "logical"
    itemsize: int  # bytes per value (0 when not numeric)
    values_at: int = 0  # v4: file offset of the values; v5: of their element, from the matrix element's tag
    dtype: str = ""  # v4: the values' NumPy type, byte order included
    element_at: int = 0  # v5: file offset of the matrix element (its tag)
    compressed: tuple | None = None  # (offset, size) of a v5 compressed element


def _version(f: IO[bytes]) -> int:
    """0 (v4), 1 (v5/v7) or 2 (v7.3, HDF5), from the file's first bytes, as scipy tells them."""
    first = f.read(4)
    if len(first) < 4:
        raise ValueError("the file is empty or shorter than any MATLAB file")
    if 0 in first:
        return 0  # a v4 type code: a small integer, so some of its bytes are 0
    f.seek(124)
    version = f.read(4)
    if len(version) < 4:
        raise ValueError("the file ends inside its v5 header")
    major = version[int(version[2:3] == b"I")]
    if major not in (1, 2):
        raise ValueError(f"unknown MATLAB file version {major}")
    return major


def _mat4_variables(f: IO[bytes]):
    """Yield (name, _MatVariable) of a v4 file's variables: fixed-size headers, each followed by
    its name and values."""
    f.seek(0)
    first = int.from_bytes(f.read(4), "little", signed=True)
    endian = ">" if first < 0 or first > 5000 else "<"  # scipy's guess: a type code is at most 4052
    header = struct.Struct(endian + _MAT4_HEADER.format)
    f.seek(0)
    while head := f.read(header.size):
        if len(head) < header.size:
            raise ValueError("the file ends inside a variable's header")
        code, rows, columns, imaginary, name_length = header.unpack(head)
        order, rest = divmod(code, 1000)
        other, rest = divmod(rest, 100)
        precision, matrix_type = divmod(rest, 10)
        if order not in (0, 1) or other != 0 or precision not in _MAT4_VALUES or matrix_type > 2:
            raise ValueError(f"a variable has type code {code}, which is not MATLAB v4's")
        if rows < 0 or columns < 0 or not 0 < name_length <= _MAT4_MAX_NAME:
            raise ValueError(f"a variable has {rows} x {columns} values and a name of {name_length} bytes")
        name = f.read(name_length).split(b"\0", 1)[0].decode("latin-1")
        kind, code_letter = _MAT4_VALUES[precision]
        itemsize = np.dtype(code_letter).itemsize
        values_at = f.tell()
        if matrix_type:  # text or sparse: not a matrix of numbers
            yield name, _MatVariable((rows, columns), {1: "char", 2: "sparse"}[matrix_type], 0)
        else:
            kind = ("complex " if imaginary else "") + kind
            yield name, _MatVariable((rows, columns), kind, itemsize, values_at, endian + code_letter)
        f.seek(values_at + rows * columns * itemsize * (2 if imaginary else 1))


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
    return name, _MatVariable(shape, kind, itemsize, values_at=offset)


def _mat5_endian(f: IO[bytes]) -> str:
    f.seek(126)
    return "<" if f.read(2) == b"IM" else ">"


def _mat5_variables(f: IO[bytes]):
    """Yield (name, _MatVariable) of a v5 file's variables from their headers alone. A
    compressed variable is inflated only as far as its header (scipy's `whosmat` inflates
    it whole, so a small file could make it allocate gigabytes)."""
    endian = _mat5_endian(f)
    f.seek(_MAT5_FILE_HEADER)
    while len(tag := f.read(8)) == 8:
        mdtype, size = struct.unpack(endian + "II", tag)
        start = f.tell()
        if mdtype == _MI_COMPRESSED:
            head = zlib.decompressobj().decompress(f.read(min(size, _MATRIX_HEADER_BYTES)), _MATRIX_HEADER_BYTES)
        else:
            head = tag + f.read(min(size, _MATRIX_HEADER_BYTES))
        name, variable = _mat5_matrix(head, endian)
        variable.element_at = start - 8
        if mdtype == _MI_COMPRESSED:
            variable.compressed = (start, size)
        yield name, variable
        f.seek(start + size)


def _find_val(f: IO[bytes], version: int) -> _MatVariable | None:
    """The `_MatVariable` of `val` (the first, as scipy takes it), or None."""
    variables = _mat5_variables(f) if version == 1 else _mat4_variables(f)
    return next((v for name, v in variables if name == "val"), None)


def _inflate(f: IO[bytes], variable: _MatVariable, path: str) -> io.BytesIO:
    """A compressed v5 variable's matrix element, inflated no further than its declared shape
    can hold."""
    assert variable.compressed is not None, "only a compressed variable is inflated"
    start, size = variable.compressed
    limit = _MATRIX_HEADER_BYTES + variable.itemsize * math.prod(variable.shape)
    data = bytearray()
    inflater = zlib.decompressobj()
    f.seek(start)
    while size and not inflater.eof:
        chunk = f.read(min(size, 1 << 20))
        if not chunk:
            break
        size -= len(chunk)
        data += inflater.decompress(chunk, limit + 1 - len(data))
        if len(data) > limit or inflater.unconsumed_tail:
            raise RecordError(path, f"'val' holds more data than its shape {variable.shape} can")
    return io.BytesIO(data)


def _values(f: IO[bytes], count: int, dtype: str) -> np.ndarray:
    """`count` values of `dtype` from where `f` stands, in native byte order."""
    size = count * np.dtype(dtype).itemsize
    data = f.read(size)
    if len(data) < size:
        raise ValueError("the file ends inside 'val''s values")
    return np.frombuffer(data, dtype).astype(np.dtype(dtype).newbyteorder("="))


def _mat5_values(f: IO[bytes], at: int, variable: _MatVariable, endian: str) -> np.ndarray:
    """The values of a v5 matrix, whose values element starts at offset `at` of `f`, in the type
    they are stored in (scipy's loadmat does not convert them to the class either)."""
    f.seek(at)
    tag = f.read(8)
    if len(tag) < 8:
        raise ValueError("the file ends before 'val''s values")
    mdtype, size, start, _ = _mat5_tag(tag, 0, endian)
    if mdtype not in _MI_VALUES:
        raise ValueError(f"'val''s values have data type {mdtype}, not a number type")
    dtype = endian + _MI_VALUES[mdtype]
    count = math.prod(variable.shape)
    if size != count * np.dtype(dtype).itemsize:
        needed = count * np.dtype(dtype).itemsize
        raise ValueError(f"'val' holds {size} bytes of values where its shape {variable.shape} needs {needed}")
    if start == 4:  # a small element: the values are in the tag
        return np.frombuffer(tag[4 : 4 + size], dtype).astype(np.dtype(dtype).newbyteorder("="))
    return _values(f, count, dtype)


def _check_val_header(variable: _MatVariable, header: Header, mat_path: str) -> None:
    if variable.itemsize == 0 or variable.kind.startswith("complex") or variable.kind == "logical":
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
            version = _version(f)
            if version == 2:
                raise RecordError(mat_path, "is a MATLAB 7.3 (HDF5) file; save it in MATLAB's -v7 format or older")
            variable = _find_val(f, version)
            if variable is None:
                raise RecordError(mat_path, "has no variable 'val'")
            _check_val_header(variable, header, mat_path)
            if version == 0:
                f.seek(variable.values_at)
                values = _values(f, math.prod(variable.shape), variable.dtype)
            elif variable.compressed:
                values = _mat5_values(_inflate(f, variable, mat_path), variable.values_at, variable, _mat5_endian(f))
            else:
                values = _mat5_values(f, variable.element_at + variable.values_at, variable, _mat5_endian(f))
            return values.reshape(variable.shape, order="F")
        except RecordError:
            raise
        except Exception as e:  # struct, zlib and NumPy raise many types for damaged files
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
