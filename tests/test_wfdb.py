"""Native WFDB records (`ecgnet.wfdbformats`, `ecgnet.datfiles`), read against wfdb as the oracle.

Every supported format is written by `wfdb.wrsamp` where wfdb writes it (16, 24, 32, 80, 212)
and by a small encoder of WFDB's signal(5) layouts below where it only reads it (8, 61, 160,
310, 311; the encoder is itself checked by wfdb reading its files back), over many shapes and
values, then read by ecgnet and by `wfdb.rdrecord` and compared sample for sample. Damaged
files and hostile headers fail their record by name, and an audit hook shows that nothing
outside DATA is opened while such a record is read.
"""

import os
import sys
import warnings

import numpy as np
import pytest

from ecgnet import datfiles, wfdbformats
from ecgnet.errors import RecordError
from ecgnet.folders import RecordFiles, list_records
from ecgnet.headers import load_header
from ecgnet.records import read_record, record_signal

from helpers import PTBXL, SHARED, WHOLE_SAMPLE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # wfdb's own imports warn about pandas options
    import wfdb

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
WRITTEN_BY_WFDB = {"16": 16, "24": 24, "32": 32, "80": 8, "212": 12}  # format -> bits
READ_BY_WFDB = {"8": 8, "61": 16, "160": 16, "310": 10, "311": 10}
SHAPES = [(1, 1), (1, 2), (2, 3), (3, 7), (5, 4), (12, 1), (12, 2), (12, 500), (7, 101)]


def digital(rng, fmt, bits, signals, samples):
    """Random samples over the format's whole range, its invalid-sample value left out."""
    low, high = -(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1
    values = rng.integers(low, high + 1, size=(samples, signals), dtype=np.int64)
    values[0, :] = high  # the extremes in every file
    if samples > 1:
        values[1, :] = low
    return values


def write_wfdb(folder, name, d, fmt, gains=None, baselines=None, leads=None):
    """A record written by wfdb.wrsamp (one file NAME.dat); returns the header path."""
    signals = d.shape[1]
    wfdb.wrsamp(
        name,
        fs=500,
        units=["mV"] * signals,
        sig_name=list(leads or [f"s{i}" for i in range(signals)]),
        d_signal=d.astype(np.int32),
        fmt=[fmt] * signals,
        adc_gain=list(gains or [1000.0] * signals),
        baseline=list(baselines or [0] * signals),
        write_dir=str(folder),
    )
    return folder / f"{name}.hea"


def encode(fmt, d):
    """WFDB signal(5) bytes of samples `d` (frames x signals) in a format wfdb does not write."""
    flat = d.reshape(-1).astype(np.int64)
    if fmt == "61":
        return flat.astype(">i2").tobytes()
    if fmt == "160":
        return (flat + 32768).astype("<u2").tobytes()
    if fmt == "8":  # differences from an initial value of 0
        return np.diff(np.vstack([np.zeros((1, d.shape[1]), np.int64), d]), axis=0).astype(np.int8).tobytes()
    u = flat & 0x3FF
    u = np.concatenate([u, np.zeros(-len(u) % 3, np.int64)]).reshape(-1, 3)
    if fmt == "311":
        word = u[:, 0] | u[:, 1] << 10 | u[:, 2] << 20
        groups = np.stack([word & 255, word >> 8 & 255, word >> 16 & 255, word >> 24 & 255], axis=1)
    else:  # 310: two 16-bit words, the third sample's halves in their top 5 bits
        w0, w1 = u[:, 0] << 1 | (u[:, 2] & 0x1F) << 11, u[:, 1] << 1 | (u[:, 2] >> 5) << 11
        groups = np.stack([w0 & 255, w0 >> 8, w1 & 255, w1 >> 8], axis=1)
    return groups.astype(np.uint8).tobytes()


def write_header(folder, name, lines, num_samples, rate=500):
    """NAME.hea with signal lines `lines` (without the record line)."""
    first = f"{name} {len(lines)} {rate}" + ("" if num_samples is None else f" {num_samples}")
    path = folder / f"{name}.hea"
    path.write_text("\n".join([first, *lines]) + "\n")
    return path


def signal_lines(file, fmt, count, gain="1000/mV", leads=None):
    return [f"{file} {fmt} {gain} 16 0 0 0 0 {(leads or LEADS)[i] if count <= 12 else f's{i}'}" for i in range(count)]


def ecgnet_adc(hea, root=None):
    return datfiles.load_adc(load_header(hea), str(hea.parent), None if root is None else str(root))


# ---------------------------------------------------------------------------------------------
# Every format, against wfdb
# ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt", sorted(WRITTEN_BY_WFDB))
def test_formats_wfdb_writes_read_sample_for_sample(tmp_path, fmt):
    rng = np.random.default_rng(int(fmt))
    for signals, samples in SHAPES:
        d = digital(rng, fmt, WRITTEN_BY_WFDB[fmt], signals, samples)
        name = f"r{signals}x{samples}"
        hea = write_wfdb(tmp_path, name, d, fmt)
        reference = wfdb.rdrecord(str(tmp_path / name), physical=False)
        np.testing.assert_array_equal(reference.d_signal, d)  # wfdb wrote what it was given
        adc = ecgnet_adc(hea)
        assert adc.dtype == np.int32 and adc.shape == (signals, samples)
        np.testing.assert_array_equal(adc.T, reference.d_signal, err_msg=f"{fmt} {signals}x{samples}")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt", sorted(READ_BY_WFDB))
def test_formats_wfdb_only_reads_read_sample_for_sample(tmp_path, fmt):
    rng = np.random.default_rng(int(fmt))
    for signals, samples in SHAPES + [(1, 3), (1, 4), (2, 2), (3, 3)]:
        if fmt == "8":  # differences of at most 127 each
            d = np.cumsum(rng.integers(-127, 128, size=(samples, signals)), axis=0)
        else:
            d = digital(rng, fmt, READ_BY_WFDB[fmt], signals, samples)
        name = f"h{signals}x{samples}"
        (tmp_path / f"{name}.dat").write_bytes(encode(fmt, d))
        hea = write_header(tmp_path, name, signal_lines(f"{name}.dat", fmt, signals), samples)
        reference = wfdb.rdrecord(str(tmp_path / name), physical=False)
        np.testing.assert_array_equal(reference.d_signal, d, err_msg="the test's encoder disagrees with wfdb")
        np.testing.assert_array_equal(ecgnet_adc(hea).T, d, err_msg=f"{fmt} {signals}x{samples}")


@pytest.mark.filterwarnings("ignore")
def test_gains_baselines_units_and_lead_order_in_millivolts_match_wfdb(tmp_path):
    rng = np.random.default_rng(7)
    d = rng.integers(-3000, 3000, size=(1000, 12))
    gains = [1000.0, 200.0, 4880.0, 500.0, 1000.0, 2000.0, 100.0, 1000.0, 250.0, 1000.0, 800.0, 1000.0]
    baselines = [0, 5, -12, 0, 100, 0, 0, -1, 3, 0, 0, 9]
    leads = LEADS[::-1]
    hea = write_wfdb(tmp_path, "g", d, "16", gains, baselines, leads)
    header = load_header(hea)
    signal = record_signal(header, RecordFiles.of_header(hea))
    reference = wfdb.rdrecord(str(tmp_path / "g"))
    assert header.lead_names == leads == tuple(reference.sig_name)
    np.testing.assert_allclose(signal, reference.p_signal.T, rtol=0, atol=1e-6)
    # In uV the same samples are 1000 times smaller in mV.
    hea.write_text(hea.read_text().replace("/mV", "/uV"))
    np.testing.assert_allclose(record_signal(load_header(hea), RecordFiles.of_header(hea)), signal / 1000, atol=1e-9)


@pytest.mark.filterwarnings("ignore")
def test_several_files_per_record_and_several_signals_per_file(tmp_path):
    d = np.random.default_rng(1).integers(-2000, 2000, size=(300, 5)).astype(np.int32)
    record = wfdb.Record(
        record_name="m",
        n_sig=5,
        fs=250,
        sig_len=300,
        file_name=["m_a.dat"] * 2 + ["m_b.dat"] * 3,
        fmt=["16", "16", "212", "212", "212"],
        adc_gain=[200.0] * 5,
        baseline=[0, 5, -3, 0, 7],
        units=["mV"] * 5,
        sig_name=["I", "II", "V1", "V2", "V3"],
        d_signal=d,
        adc_res=[16, 16, 12, 12, 12],
        adc_zero=[0] * 5,
        block_size=[0] * 5,
        init_value=[int(x) for x in d[0]],
        checksum=[int(x) for x in d.sum(axis=0) % 65536],
    )
    record.wrsamp(write_dir=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["m.hea", "m_a.dat", "m_b.dat"]
    reference = wfdb.rdrecord(str(tmp_path / "m"))
    np.testing.assert_array_equal(ecgnet_adc(tmp_path / "m.hea").T, d)
    signal = record_signal(load_header(tmp_path / "m.hea"), RecordFiles.of_header(tmp_path / "m.hea"))
    np.testing.assert_allclose(signal, reference.p_signal.T, rtol=0, atol=1e-6)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt, offset", [("16", 24), ("16", 1), ("212", 512), ("24", 7), ("80", 3), ("32", 100)])
def test_byte_offsets(tmp_path, fmt, offset):
    d = digital(np.random.default_rng(offset), fmt, WRITTEN_BY_WFDB[fmt], 3, 41)
    hea = write_wfdb(tmp_path, "o", d, fmt)
    dat = tmp_path / "o.dat"
    dat.write_bytes(os.urandom(offset) + dat.read_bytes())
    hea.write_text(hea.read_text().replace(f".dat {fmt} ", f".dat {fmt}+{offset} "))
    reference = wfdb.rdrecord(str(tmp_path / "o"), physical=False)
    np.testing.assert_array_equal(reference.d_signal, d)
    np.testing.assert_array_equal(ecgnet_adc(hea).T, d)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt", ["16", "212", "24"])
def test_a_header_without_a_sample_count_takes_it_from_the_file_size(tmp_path, fmt):
    d = digital(np.random.default_rng(3), fmt, WRITTEN_BY_WFDB[fmt], 2, 77)
    hea = write_wfdb(tmp_path, "n", d, fmt)
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:3])
    hea.write_text("\n".join(lines) + "\n")
    assert load_header(hea).num_samples is None
    reference = wfdb.rdrecord(str(tmp_path / "n"), physical=False)
    np.testing.assert_array_equal(ecgnet_adc(hea).T, reference.d_signal)
    assert ecgnet_adc(hea).shape == (2, 77)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fmt", ["16", "212", "80", "24"])
def test_invalid_samples_read_as_the_baseline_where_wfdb_gives_nan(tmp_path, fmt):
    invalid = wfdbformats.FORMATS[fmt].invalid
    d = digital(np.random.default_rng(5), fmt, WRITTEN_BY_WFDB[fmt], 3, 50)
    d[10:20, 1] = invalid
    hea = write_wfdb(tmp_path, "v", d, fmt, gains=[1000.0, 1e6, 1000.0], baselines=[0, 4, 0])
    reference = wfdb.rdrecord(str(tmp_path / "v"))
    adc = ecgnet_adc(hea)
    assert (adc[1, 10:20] == 4).all()
    gap = np.isnan(reference.p_signal.T)
    assert gap[1, 10:20].all() and gap.sum() == 10
    signal = record_signal(load_header(hea), RecordFiles.of_header(hea))
    assert (signal[gap] == 0).all()
    np.testing.assert_allclose(signal[~gap], reference.p_signal.T[~gap], rtol=1e-6, atol=1e-6)


def test_byte_ranges_of_packed_formats():
    f212, f310, f311 = (wfdbformats.FORMATS[c] for c in ("212", "310", "311"))
    assert [f212.byte_range(n) for n in (1, 2, 3)] == [(2, 3), (3, 3), (5, 6)]
    assert [f310.byte_range(n) for n in (1, 2, 3, 4)] == [(2, 4), (4, 4), (4, 4), (6, 8)]
    assert [f311.byte_range(n) for n in (1, 2, 3)] == [(2, 4), (3, 4), (4, 4)]
    assert [f212.values_in(b) for b in (2, 3, 5, 6)] == [1, 2, 3, 4]
    assert [f310.values_in(b) for b in (2, 3, 4, 6)] == [1, 1, 3, 4]


# ---------------------------------------------------------------------------------------------
# The PTB-XL sample as PTB-XL ships it
# ---------------------------------------------------------------------------------------------

SHARED_PTBXL = SHARED / "data" / "ptbxl_sample"  # all ten records of the shared PTB-XL sample, at both rates


@pytest.mark.parametrize(
    "folder, count",
    [
        pytest.param(PTBXL, 7, id="committed"),
        pytest.param(
            SHARED_PTBXL,
            20,
            id="sample",
            marks=pytest.mark.skipif(
                not SHARED_PTBXL.is_dir(), reason=f"{WHOLE_SAMPLE}: the PTB-XL sample is not at {SHARED_PTBXL}"
            ),
        ),
    ],
)
@pytest.mark.filterwarnings("ignore")
def test_the_ptbxl_records_read_as_wfdb_reads_them(folder, count):
    found = list_records(folder)
    assert len(found) == count and {f.name[-2:] for f in found} == {"hr", "lr"}
    for files in found:
        header = load_header(files.header)
        assert header.is_native and header.leads[0].file == files.name + ".dat"
        reference = wfdb.rdrecord(os.path.splitext(files.header)[0])
        signal = record_signal(header, files)
        np.testing.assert_allclose(signal, reference.p_signal.T, rtol=0, atol=1e-6, err_msg=files.name)
        assert read_record(files, 257).signal.shape == (12, int(np.ceil(reference.sig_len * 257 / reference.fs)))


# ---------------------------------------------------------------------------------------------
# Damaged files and hostile headers: that record fails, by name; nothing outside DATA is read
# ---------------------------------------------------------------------------------------------

_opened: list[str] | None = None


def _audit(event, args):
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


def read_opening(files):
    """read_record(files) -> (RecordError or None, real paths of every file opened meanwhile)."""
    global _opened
    _opened = []
    try:
        read_record(files, 257)
        error = None
    except RecordError as e:
        error = e
    finally:
        opened, _opened = _opened, None
    return error, opened


@pytest.fixture
def data(tmp_path):
    """DATA (tmp_path/data) holding one good format-16 record `good`, and a valid-looking
    `x.dat` outside it (tmp_path/outside/x.dat) that no header may reach."""
    folder = tmp_path / "data"
    folder.mkdir()
    d = np.random.default_rng(0).integers(-500, 500, size=(500, 12))
    (folder / "good.dat").write_bytes(d.astype("<i2").tobytes())
    write_header(folder, "good", signal_lines("good.dat", "16", 12), 500)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.dat").write_bytes(d.astype("<i2").tobytes())
    return folder


def hostile(folder, name, file, fmt="16", samples=500, extra=None):
    """Record `name` in `folder` whose 12 signal lines name `file` in format `fmt`."""
    lines = signal_lines(file, fmt, 12)
    return write_header(folder, name, extra(lines) if extra else lines, samples)


def assert_fails(data, name, path, *words):
    files = next(f for f in list_records(data) if f.name == name)
    error, opened = read_opening(files)
    assert error is not None, name
    assert str(path) in str(error), (str(error), path)
    for word in words:
        assert word in str(error), (word, str(error))
    top = os.path.realpath(data)
    assert all(p == top or p.startswith(top + os.sep) for p in opened), opened
    return error


def test_a_header_naming_a_file_outside_its_folder_fails_and_nothing_outside_is_opened(data, tmp_path):
    outside = tmp_path / "outside" / "x.dat"
    for name, file in [
        ("up", "../outside/x.dat"),
        ("absolute", str(outside)),
        ("sub", "sub/x.dat"),
        ("backslash", "..\\outside\\x.dat"),
        ("dot", "."),
        ("dotdot", ".."),
    ]:
        hostile(data, name, file)
        assert_fails(data, name, data / f"{name}.hea", "not a plain file name in the record's folder")
    (data / "sub").mkdir()
    (data / "sub" / "x.dat").write_bytes(outside.read_bytes())
    assert_fails(data, "sub", data / "sub.hea", "not a plain file name")


def test_a_link_out_of_data_fails_and_a_link_inside_is_followed(data, tmp_path):
    os.symlink(tmp_path / "outside" / "x.dat", data / "out.dat")
    hostile(data, "linked", "out.dat")
    assert_fails(data, "linked", data / "out.dat", "a link to a file outside the data folder")
    os.symlink(data / "good.dat", data / "in.dat")
    hostile(data, "inside", "in.dat")
    files = next(f for f in list_records(data) if f.name == "inside")
    error, opened = read_opening(files)
    assert error is None and os.path.realpath(data / "good.dat") in opened  # the hook sees every open
    # A record in a subfolder may follow a link to a file elsewhere in DATA.
    (data / "nested").mkdir()
    os.symlink(data / "good.dat", data / "nested" / "n.dat")
    hostile(data / "nested", "nested", "n.dat")
    files = next(f for f in list_records(data, recursive=True) if f.name == "nested")
    assert files.root == str(data) and read_opening(files)[0] is None


@pytest.mark.parametrize(
    "size, words",
    [
        (0, "signal file is 0 bytes, but the header's 500 samples of 12 signal(s) in format 16"),
        (11999, "take 12000 bytes"),
        (12001, "is 12001 bytes"),
        (24000, "is 24000 bytes"),
    ],
)
def test_a_signal_file_of_the_wrong_size_fails_before_it_is_read(data, size, words):
    (data / "short.dat").write_bytes((data / "good.dat").read_bytes()[:size].ljust(size, b"\0"))
    hostile(data, "short", "short.dat")
    assert_fails(data, "short", data / "short.dat", words)


@pytest.mark.parametrize(
    "fmt, named, words",
    [
        ("212", "f.dat", "format 212 after a 0-byte offset take 9000 bytes"),  # a format-16 file read as 212
        ("24", "f.dat", "take 18000 bytes"),
        ("0", "f.hea", "format 0 stores no samples"),
        ("516", "f.hea", "format 516 is FLAC-compressed"),
        ("999", "f.hea", "format 999 is not a WFDB signal format this reader knows"),
        ("16x2", "f.hea", "2 samples per frame (a multi-frequency record)"),
        ("16:3", "f.hea", "skew of 3 samples"),
        ("16+2", "f.dat", "take 12002 bytes"),
        ("sixteen", "f.hea", "cannot read format field"),
    ],
)
def test_a_wrong_format_code_fails_by_name(data, fmt, named, words):
    (data / "f.dat").write_bytes((data / "good.dat").read_bytes())
    hostile(data, "f", "f.dat", fmt=fmt)
    assert_fails(data, "f", data / named, words)


def test_other_signal_file_problems_fail_by_name(data):
    cases = {
        "missing": ("missing.dat", None, "signal file is missing"),
        "mixed": ("good.dat", lambda lines: lines[:11] + [lines[11].replace("good.dat", "good.mat")], "both MATLAB"),
        "apart": (
            "good.dat",
            lambda lines: lines[:5] + [lines[5].replace("good.dat", "other.dat")] + lines[6:],
            "not one after another",
        ),
        "formats": ("good.dat", lambda lines: lines[:11] + [lines[11].replace(" 16 ", " 80 ", 1)], "differ in format"),
    }
    for name, (file, edit, words) in cases.items():
        hostile(data, name, file, extra=edit)
        assert_fails(data, name, name, words)
    (data / "folder.dat").mkdir()
    hostile(data, "folder", "folder.dat")
    assert_fails(data, "folder", data / "folder.dat", "signal file is a folder")
    os.symlink("/dev/zero", data / "zero.dat")
    hostile(data, "zero", "zero.dat")
    assert_fails(data, "zero", data / "zero.dat", "outside the data folder")
    (data / "segments.hea").write_text("segments/2 1 500 500\nseg_1.dat 16 1000/mV 16 0 0 0 0 I\n")
    assert_fails(data, "segments", data / "segments.hea", "multi-segment record")


def test_sizes_beyond_the_limits_are_refused_before_reading(data):
    hostile(data, "long", "good.dat", samples=2_000_001)
    assert_fails(data, "long", data / "long.hea", "samples per lead is more than the limit")
    # Without a sample count the file's size gives it, checked before the samples are read.
    (data / "big.dat").write_bytes(bytes(12 * 2 * 2_000_001))
    write_header(data, "big", signal_lines("big.dat", "16", 12), None)
    assert_fails(data, "big", data / "big.dat", "samples per lead is more than the limit")


def test_format_8_sums_beyond_32_bits_fail(data):
    (data / "d.dat").write_bytes(bytes([127]) * 12 * 10)

    def huge_initial_values(lines):
        return [line.replace(" 0 0 0 0 ", " 0 2147483600 0 0 ") for line in lines]

    hostile(data, "d", "d.dat", fmt="8", samples=10, extra=huge_initial_values)
    assert_fails(data, "d", data / "d.dat", "beyond 32-bit")


def test_the_driver_fails_each_damaged_native_record_by_name_and_classifies_the_rest(data, tiny_model, tmp_path):
    from ecgnet.inference import Ensemble
    from ecgnet.runner import run_folder

    hostile(data, "up", "../outside/x.dat")
    (data / "short.dat").write_bytes(b"\0" * 100)
    hostile(data, "short", "short.dat")
    hostile(data, "codec", "good.dat", fmt="524")
    report = run_folder(Ensemble.from_folder(tiny_model[0], "cpu"), str(data), str(tmp_path / "out"))
    failures = dict(report.failures)
    assert sorted(failures) == ["codec", "short", "up"]
    assert "up.hea" in failures["up"] and "short.dat" in failures["short"] and "524" in failures["codec"]
    assert sorted(os.listdir(tmp_path / "out")) == ["codec.csv", "good.csv", "short.csv", "up.csv"]
    probabilities = (tmp_path / "out" / "good.csv").read_text().splitlines()[3].split(",")
    assert any(float(p) > 0 for p in probabilities)
