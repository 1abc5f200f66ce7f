"""`ecgnet.matfiles` reads `val` as `scipy.io.loadmat` does (the reference), on many files:
MATLAB v4 in both byte orders and every precision, v5 compressed or not, in every number
type, with values stored in a smaller type than their class (as MATLAB writes them), small
data elements, and other variables around `val`."""

import struct
import zlib

import numpy as np
import pytest
import scipy.io

from ecgnet import matfiles
from ecgnet.errors import RecordError
from ecgnet.headers import load_header

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
V4_TYPES = {"f8": 0, "f4": 1, "i4": 2, "i2": 3, "u2": 4, "u1": 5}  # precision digit of the type code
V5_CLASSES = {"f8": 6, "f4": 7, "i1": 8, "u1": 9, "i2": 10, "u2": 11, "i4": 12, "u4": 13, "i8": 14, "u8": 15}
V5_STORED = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 9, "i8": 12, "u8": 13}


def random_values(rng, code, shape):
    info = np.iinfo(code) if code[0] in "iu" else None
    if info is None:
        return rng.normal(0, 1000, shape).astype(code)
    return rng.integers(info.min, info.max, shape, dtype=code, endpoint=True)


def ours(tmp_path, data, shape):
    """`val` of the file `data`, read by ecgnet with a header of its shape."""
    (tmp_path / "R.mat").write_bytes(data)
    lines = [f"R {shape[0]} 500 {shape[1]}"]
    lines += [f"R.mat 16+24 1000/mV 16 0 0 0 0 {LEADS[i]}" for i in range(shape[0])]
    (tmp_path / "R.hea").write_text("\n".join(lines) + "\n")
    return matfiles.load_adc(load_header(tmp_path / "R.hea"))


def reference(tmp_path, data):
    (tmp_path / "ref.mat").write_bytes(data)
    return scipy.io.loadmat(tmp_path / "ref.mat", variable_names=["val"])["val"]


def assert_same(a, b):
    assert a.shape == b.shape and a.dtype.kind == b.dtype.kind and a.dtype.itemsize == b.dtype.itemsize
    assert np.array_equal(a, b)


def v4_variable(name, values, endian):
    code = values.dtype.str[1:]
    order = 1 if endian == ">" else 0
    head = struct.pack(endian + "5i", order * 1000 + V4_TYPES[code] * 10, *values.shape, 0, len(name) + 1)
    return head + name.encode() + b"\0" + values.astype(endian + code).tobytes(order="F")


def v5_element(mi_type, payload, endian):
    return struct.pack(endian + "II", mi_type, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def v5_variable(name, values, endian, class_code, compress):
    """A v5 matrix of MATLAB class `class_code` (`V5_CLASSES`' code) whose values are stored
    as `values`' own type, as MATLAB stores a double array of small integers as int16."""
    code = values.dtype.str[1:]
    matrix = (
        v5_element(6, struct.pack(endian + "II", V5_CLASSES[class_code], 0), endian)
        + v5_element(5, struct.pack(f"{endian}{values.ndim}i", *values.shape), endian)
        + v5_element(1, name.encode(), endian)
        + v5_element(V5_STORED[code], values.astype(endian + code).tobytes(order="F"), endian)
    )
    element = struct.pack(endian + "II", 14, len(matrix)) + matrix
    if compress:
        packed = zlib.compress(element)
        element = struct.pack(endian + "II", 15, len(packed)) + packed
    return element


def v5_file(variables, endian):
    text = b"MATLAB 5.0 MAT-file, written by ecgnet's tests".ljust(116, b" ") + b"\0" * 8
    return text + (b"\x00\x01IM" if endian == "<" else b"\x01\x00MI") + b"".join(variables)


def test_v4_files_read_as_scipy_reads_them(tmp_path):
    rng = np.random.default_rng(0)
    for case in range(150):
        code = rng.choice(list(V4_TYPES))
        shape = (int(rng.integers(1, 13)), int(rng.integers(1, 400)))
        val = random_values(rng, code, shape)
        endian = "<>"[case % 2]
        others = [v4_variable(f"x{i}", random_values(rng, "f8", (2, 3)), endian) for i in range(rng.integers(0, 3))]
        data = b"".join(others[:1] + [v4_variable("val", val, endian)] + others[1:])
        assert_same(ours(tmp_path, data, shape), reference(tmp_path, data))
        assert np.array_equal(ours(tmp_path, data, shape), val)


def test_v4_files_that_scipy_writes(tmp_path):
    rng = np.random.default_rng(1)
    for code in V4_TYPES:
        val = random_values(rng, code, (12, 257))
        scipy.io.savemat(tmp_path / "w.mat", {"a": np.ones((3, 3)), "val": val, "z": np.zeros((1, 1))}, format="4")
        data = (tmp_path / "w.mat").read_bytes()
        assert_same(ours(tmp_path, data, val.shape), reference(tmp_path, data))


@pytest.mark.parametrize("compress", [False, True])
def test_v5_files_that_scipy_writes(tmp_path, compress):
    rng = np.random.default_rng(2)
    for case in range(60):
        code = rng.choice(list(V5_CLASSES))
        # 1 x 1 and 1 x 2 values of one or two bytes go in a small data element
        shape = (
            [(1, 1), (1, 2), (2, 1)][case % 3] if case < 12 else (int(rng.integers(1, 13)), int(rng.integers(1, 400)))
        )
        val = random_values(rng, code, shape)
        scipy.io.savemat(tmp_path / "w.mat", {"before": np.arange(5.0), "val": val}, do_compression=compress)
        data = (tmp_path / "w.mat").read_bytes()
        assert_same(ours(tmp_path, data, shape), reference(tmp_path, data))


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("compress", [False, True])
def test_v5_values_stored_in_a_smaller_type(tmp_path, endian, compress):
    rng = np.random.default_rng(3)
    for stored in ("i1", "u1", "i2", "u2", "i4", "f4", "f8"):
        for class_code in ("f8", "i2", "i4"):
            shape = (int(rng.integers(1, 13)), int(rng.integers(1, 300)))
            val = random_values(rng, stored, shape)
            other = v5_variable("other", random_values(rng, "f8", (2, 2)), endian, "f8", compress)
            data = v5_file([other, v5_variable("val", val, endian, class_code, compress)], endian)
            assert_same(ours(tmp_path, data, shape), reference(tmp_path, data))


def test_v5_values_that_do_not_fill_the_shape_are_refused(tmp_path):
    val = np.arange(24, dtype="i2").reshape(2, 12)
    data = bytearray(v5_file([v5_variable("val", val, "<", "f8", False)], "<"))
    # The values element says 46 bytes where the 2 x 12 shape needs 48.
    at = data.rindex(struct.pack("<II", 3, 48))
    data[at : at + 8] = struct.pack("<II", 3, 46)
    with pytest.raises(RecordError, match=r"R\.mat.*holds 46 bytes of values where its shape \(2, 12\) needs 48"):
        ours(tmp_path, bytes(data), val.shape)


def test_v4_header_with_a_type_code_of_another_format_is_refused(tmp_path):
    data = bytearray(v4_variable("val", np.zeros((2, 3), "i2"), "<"))
    data[0:4] = struct.pack("<i", 130)  # the "O" digit must be 0
    with pytest.raises(RecordError, match=r"R\.mat.*type code 130"):
        ours(tmp_path, bytes(data), (2, 3))


@pytest.mark.parametrize(
    "val, fmt, kind",
    [
        (np.array(["hellohello" * 3]), "4", "char"),  # 1 x 30 characters
        (np.zeros((1, 30), dtype=bool), "5", "logical"),
        (np.ones((1, 30)) + 1j, "5", "complex double"),
        (np.ones((1, 30)) + 1j, "4", "complex double"),
    ],
)
def test_val_that_is_not_a_real_number_matrix_is_refused(tmp_path, val, fmt, kind):
    """Refused by its class, the shape (1 x 30) being the header's, as scipy's arrays were by
    their type (text, bool and complex are not real numbers)."""
    scipy.io.savemat(tmp_path / "w.mat", {"val": val}, format=fmt)
    with pytest.raises(RecordError, match=rf"R\.mat.*'val' is a {kind} array"):
        ours(tmp_path, (tmp_path / "w.mat").read_bytes(), (1, 30))
