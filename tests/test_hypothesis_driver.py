"""The driver's promise under random damage (property-based, with hypothesis).

Real records (committed under tests/data) have their header lines and `.mat` contents mutated at random; each
example runs the driver's loop on the damaged record beside an intact one. Whatever the
damage, every record must get a finite output file or a failure that names it (or both), the
intact record must be classified, the run must complete, and nothing may be written outside
OUTPUTS. Bounded and deterministic: a fixed number of examples from a fixed seed.
"""

import io
import os
import sys
import tempfile

import numpy as np
import pytest
import scipy.io
import scipy.sparse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ecgnet import labels
from ecgnet.inference import Ensemble
from ecgnet.runner import run_folder

from helpers import PTBXL, RECORDS

EXAMPLES = 500
BASES = ("A0001", "E00009", "HR00599", "JS20005", "Q0001")
NAMES = ("R1", "R 2", "Rä3", "R,4", "R\n5", 'R"6')  # the last three cannot go into a CSV file

numbers = st.one_of(
    st.integers(-10, 10**6).map(str),
    st.sampled_from(["0", "-1", "1e8", "1e-15", "nan", "inf", "1e309", "10" * 20]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
plausible = st.sampled_from(
    [
        "100",
        "128",
        "250",
        "257",
        "257.5",
        "360",
        "500",
        "1000",
        "4000",
        "10000",
        "5000",
        "500(10)/mV",
        "200/mV",
        "2000/uV",
        "1000(0)/mV",
        "V1",
        "aVR",
        "#Age: 200",
        "#Sex: f",
    ]
)
tokens = st.one_of(plausible, plausible, numbers, st.text(max_size=12), st.sampled_from(["1e-15/mV", "x/mV", "()"]))


@st.composite
def damaged_header(draw, lines):
    """A base header's lines, changed by one to three random edits."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["token"] * 4 + ["delete", "duplicate", "insert", "comment", "truncate", "binary"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "token" and lines:
            words = lines[i].split(" ")
            words[draw(st.integers(0, len(words) - 1))] = draw(tokens)
            lines[i] = " ".join(words)
        elif kind == "delete" and lines:
            del lines[i]
        elif kind == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif kind in ("insert", "comment"):
            lines.insert(i, ("#" if kind == "comment" else "") + draw(st.text(max_size=30)))
        elif kind == "truncate":
            lines = "\n".join(lines)[: draw(st.integers(0, 400))].split("\n")
        elif kind == "binary":
            lines.append(draw(st.binary(max_size=40)).decode("latin-1"))
    return lines


arrays = st.builds(
    lambda leads, samples, dtype, fill, seed: _array(leads, samples, dtype, fill, seed),
    st.integers(0, 14),
    st.integers(0, 9000),
    st.sampled_from([np.int16, np.int32, np.float64, np.float32, np.uint8, np.bool_, np.complex128]),
    st.sampled_from(["random", "zeros", "nan", "inf", "huge"]),
    st.integers(0, 2**16),
)


def _array(leads, samples, dtype, fill, seed):
    values = np.random.default_rng(seed).normal(0, 500, (leads, samples))
    if fill == "zeros":
        values[:] = 0
    elif values.size and fill in ("nan", "inf", "huge"):
        values.flat[seed % values.size] = {"nan": np.nan, "inf": np.inf, "huge": 1e30}[fill]
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


class Blob(bytes):
    """File contents that print short in a failing example."""

    def __repr__(self):
        return f"<{len(self)} bytes, starting {bytes(self[:24])!r}>"


@st.composite
def damaged_mat(draw, original, shape):
    """New `.mat` contents made from a base record's file."""
    kind = draw(
        st.sampled_from(
            ["flip"] * 3 + ["array"] * 3 + ["format5"] * 2 + ["truncate", "sparse", "no val", "text", "garbage"]
        )
    )
    if kind == "flip":  # in the variable's header, or anywhere
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.one_of(st.integers(0, 60), st.integers(0, len(data) - 1)))] = draw(st.integers(0, 255))
        return Blob(data)
    if kind == "truncate":
        return Blob(original[: draw(st.integers(0, len(original)))])
    if kind == "garbage":
        return Blob(draw(st.binary(max_size=300)))
    variables = {
        "array": lambda: {"val": draw(arrays)},
        "no val": lambda: {"data": np.zeros(shape, np.int16)},
        "text": lambda: {"val": "hello"},
        "sparse": lambda: {"val": scipy.sparse.csc_matrix(np.ones(shape))},
        "format5": lambda: {"val": scipy.io.loadmat(io.BytesIO(original))["val"]},
    }[kind]()
    buffer = io.BytesIO()
    scipy.io.savemat(
        buffer,
        variables,
        format="4" if kind in ("array", "no val") and draw(st.booleans()) else "5",
        do_compression=draw(st.booleans()),
    )
    return Blob(buffer.getvalue())


@st.composite
def damaged_records(draw):
    """(base record, name, header lines or None, .mat contents or None): a committed record with
    its header, its .mat, both, its name or the presence of its files damaged, or intact."""
    base = draw(st.sampled_from(BASES))
    lines = (RECORDS / f"{base}.hea").read_text().splitlines()
    mat = Blob((RECORDS / f"{base}.mat").read_bytes())
    shape = (12, int(lines[0].split()[3]))
    damage = draw(st.sampled_from(["none", "header", "header", "mat", "mat", "both", "name", "missing"]))
    name = draw(st.sampled_from(NAMES)) if damage == "name" else NAMES[0]
    if damage in ("header", "both"):
        lines = draw(damaged_header(lines))
    if damage in ("mat", "both"):
        mat = draw(damaged_mat(mat, shape))
    if damage == "missing":
        lines, mat = draw(st.sampled_from([(None, mat), (lines, None)]))
    return base, name, lines, mat


@pytest.fixture(scope="module")
def ensemble(tiny_model):
    return Ensemble.from_folder(tiny_model[0], "cpu")


def snapshot(root, skip):
    return {
        os.path.join(folder, name): os.lstat(os.path.join(folder, name)).st_mtime_ns
        for folder, _, names in os.walk(root)
        if not folder.startswith(skip)
        for name in names
    }


def check_output(path):
    lines = open(path).read().split("\n")
    assert len(lines) == 5 and lines[4] == "" and lines[1].split(",") == list(labels.CLASSES)
    assert set(lines[2].split(",")) <= {"0", "1"}
    probabilities = np.array(lines[3].split(","), dtype=float)
    assert len(probabilities) == 24 and np.isfinite(probabilities).all()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged_records())
def test_every_record_gets_a_finite_output_or_a_named_failure(ensemble, case):
    base, name, lines, mat = case
    with tempfile.TemporaryDirectory() as root:
        data, outputs = os.path.join(root, "data"), os.path.join(root, "outputs")
        os.makedirs(data)
        for ext in (".hea", ".mat"):
            os.symlink(RECORDS / f"{base}{ext}", os.path.join(data, f"INTACT{ext}"))
        if lines is not None:
            with open(os.path.join(data, name + ".hea"), "w") as f:
                f.write("\n".join(lines) + "\n")
        if mat is not None:
            with open(os.path.join(data, name + ".mat"), "wb") as f:
                f.write(mat)
        before = snapshot(root, outputs)
        report = run_folder(ensemble, data, outputs)
        assert snapshot(root, outputs) == before  # nothing written outside OUTPUTS
        failures = dict(report.failures)
        event("damaged record classified" if name not in failures else "damaged record failed")
        assert "INTACT" not in failures
        check_output(os.path.join(outputs, "INTACT.csv"))
        writable = name in NAMES[:3]
        assert sorted(os.listdir(outputs)) == sorted(["INTACT.csv"] + [f"{name}.csv"] * writable)
        if writable:
            check_output(os.path.join(outputs, f"{name}.csv"))
        else:
            assert name in failures
        assert set(failures) <= {name} and report.written == 1 + writable


# ---------------------------------------------------------------------------------------------
# Native WFDB records: the same promise, and nothing outside DATA is opened
# ---------------------------------------------------------------------------------------------

# The committed PTB-XL records, by name: one at 500 Hz, two at 100 Hz.
NATIVE = {
    path.name: path
    for path in (
        PTBXL / "records500/00000/00491_hr",
        PTBXL / "records100/00000/00498_lr",
        PTBXL / "records100/00000/00500_lr",
    )
}
NATIVE_EXAMPLES = 200
native_tokens = st.one_of(
    tokens,
    st.sampled_from(
        ["16", "212", "24", "80", "16+24", "16+7", "16x2", "16:1", "0", "516", "999", "R1.mat", "../OUTSIDE.dat"]
    ),
    st.sampled_from(["/tmp/OUTSIDE.dat", "..", ".", "sub/R1.dat", "R1.dat", "INTACT.dat", "~"]),
)
_opened = None


def _audit(event, args):
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@st.composite
def damaged_native(draw):
    """(base, header lines or None, .dat contents or None) of a PTB-XL record renamed R1, its
    header lines, its .dat or both damaged, or one of them missing."""
    base = draw(st.sampled_from(sorted(NATIVE)))
    lines = NATIVE[base].with_suffix(".hea").read_text().replace(base, "R1").splitlines()
    dat = Blob(NATIVE[base].with_suffix(".dat").read_bytes())
    damage = draw(st.sampled_from(["none", "header", "header", "token", "dat", "dat", "both", "missing"]))
    if damage in ("header", "both"):
        lines = draw(damaged_header(lines))
    if damage == "token":
        i = draw(st.integers(0, len(lines) - 1))
        words = lines[i].split(" ")
        words[draw(st.integers(0, min(2, len(words) - 1)))] = draw(native_tokens)
        lines[i] = " ".join(words)
    if damage in ("dat", "both"):
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "garbage", "empty"]))
        if kind == "flip":
            data = bytearray(dat)
            for _ in range(draw(st.integers(1, 50))):
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
            dat = Blob(data)
        elif kind == "truncate":
            dat = Blob(dat[: draw(st.integers(0, len(dat) - 1))])
        elif kind == "extend":
            dat = Blob(dat + draw(st.binary(min_size=1, max_size=30)))
        else:
            dat = Blob(draw(st.binary(max_size=300)) if kind == "garbage" else b"")
    if damage == "missing":
        lines, dat = draw(st.sampled_from([(None, dat), (lines, None)]))
    return base, lines, dat


@settings(
    max_examples=NATIVE_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged_native())
def test_every_native_record_gets_a_finite_output_or_a_named_failure_and_nothing_outside_is_read(ensemble, case):
    global _opened
    base, lines, dat = case
    with tempfile.TemporaryDirectory() as root:
        data, outputs = os.path.join(root, "data"), os.path.join(root, "outputs")
        os.makedirs(data)
        for ext in (".hea", ".dat"):
            text = NATIVE[base].with_suffix(ext).read_bytes()
            with open(os.path.join(data, f"INTACT{ext}"), "wb") as f:
                f.write(text.replace(base.encode(), b"INTACT") if ext == ".hea" else text)
        with open(os.path.join(root, "OUTSIDE.dat"), "wb") as f:
            f.write(NATIVE[base].with_suffix(".dat").read_bytes())
        if lines is not None:
            with open(os.path.join(data, "R1.hea"), "w") as f:
                f.write("\n".join(lines) + "\n")
        if dat is not None:
            with open(os.path.join(data, "R1.dat"), "wb") as f:
                f.write(dat)
        before = snapshot(root, outputs)
        _opened = []
        try:
            report = run_folder(ensemble, data, outputs)
        finally:
            opened, _opened = _opened, None
        assert snapshot(root, outputs) == before  # nothing written outside OUTPUTS
        inside = (os.path.realpath(data) + os.sep, os.path.realpath(outputs) + os.sep)
        top = os.path.realpath(root) + os.sep
        assert os.path.realpath(os.path.join(data, "INTACT.dat")) in opened  # the hook sees every open
        assert not [p for p in opened if p.startswith(top) and not p.startswith(inside)], opened
        failures = dict(report.failures)
        event("damaged record classified" if "R1" not in failures else "damaged record failed")
        assert "INTACT" not in failures
        check_output(os.path.join(outputs, "INTACT.csv"))
        assert sorted(os.listdir(outputs)) == (["INTACT.csv", "R1.csv"] if lines is not None else ["INTACT.csv"])
        if lines is not None:
            check_output(os.path.join(outputs, "R1.csv"))
        assert set(failures) <= {"R1"}
