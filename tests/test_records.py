"""Tests of `ecgnet.records`: the committed real records (and the whole sample where it is
present), checked against wfdb, and synthetic headers/.mat files, written into tmp_path, for
every quirk and every kind of bad input."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from ecgnet.errors import RecordError
from ecgnet.folders import find_records
from ecgnet.headers import load_header, parse_age, parse_dx, parse_header, parse_sex
from ecgnet.matfiles import load_adc, load_signal

from helpers import RECORDS, record_folders

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def headers_of(folder):
    return sorted(folder.glob("*.hea"))


# ---------------------------------------------------------------------------------------------
# Synthetic records
# ---------------------------------------------------------------------------------------------


def signal_line(name, gain="1000/mV", adc_zero=0, lead="I", init=0, checksum=0):
    return f"{name}.mat 16+24 {gain} 16 {adc_zero} {init} {checksum} 0 {lead}"


def make_header(
    name,
    num_leads=12,
    fs=500,
    num_samples=100,
    gains="1000/mV",
    leads=STANDARD_LEADS,
    adc_zero=0,
    comments=("#Age: 60", "#Sex: Male", "#Dx: 426783006"),
    record_name=None,
    signal_lines=None,
):
    """Header text; `gains` is one gain field for every lead or a list, one per lead."""
    if isinstance(gains, str):
        gains = [gains] * len(leads)
    first = f"{record_name or name} {num_leads} {fs}" + (f" {num_samples}" if num_samples is not None else "")
    if signal_lines is None:
        signal_lines = [signal_line(name, g, adc_zero, lead) for g, lead in zip(gains, leads)]
    return "\n".join([first, *signal_lines, *comments]) + "\n"


def write_mat(path, val):
    scipy.io.savemat(str(path), {"val": val}, format="4")


def write_record(folder, name, val, **header_options):
    """Write NAME.hea and NAME.mat (MATLAB v4, variable `val`); return the header path."""
    folder = Path(folder)
    val = np.asarray(val)
    header_options.setdefault("num_leads", val.shape[0])
    header_options.setdefault("num_samples", val.shape[1])
    header_options.setdefault("leads", STANDARD_LEADS[: val.shape[0]])
    hea = folder / f"{name}.hea"
    hea.write_text(make_header(name, **header_options))
    write_mat(folder / f"{name}.mat", val)
    return hea


def random_adc(rng, num_leads=12, num_samples=100):
    return rng.integers(-3000, 3000, size=(num_leads, num_samples)).astype(np.int16)


def load(hea):
    header = load_header(hea)
    return header, load_signal(header)


# ---------------------------------------------------------------------------------------------
# Every real record loads and agrees with wfdb
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", record_folders())
def test_find_records_lists_every_header_sorted(folder):
    found = find_records(str(folder))
    assert len(found) == {RECORDS: 13}.get(folder, 214)
    assert [Path(p).name for p in found] == sorted(p.name for p in folder.glob("*.hea"))
    assert all(p.endswith(".hea") for p in found)


def test_find_records_ignores_hidden_other_files_and_folders(tmp_path):
    for name in ("B.hea", "A.hea", ".hidden.hea", "A.mat", "notes.txt", "C.HEA"):
        (tmp_path / name).write_text("x")
    (tmp_path / "D.hea").mkdir()
    found = [Path(p).name for p in find_records(str(tmp_path))]
    assert found == ["A.hea", "B.hea", "C.HEA"]


def test_find_records_missing_folder_is_record_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(RecordError) as e:
        find_records(str(missing))
    assert str(missing) in str(e.value)


@pytest.mark.parametrize("folder", record_folders())
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # raised while importing wfdb
def test_every_real_record_loads_and_matches_wfdb(folder, tmp_path):
    import wfdb  # a test dependency (requirements-dev.txt)

    headers = headers_of(folder)
    assert len(headers) == {RECORDS: 13}.get(folder, 214)
    compared = 0
    for hea in headers:
        header, signal = load(hea)
        assert header.name == hea.stem
        assert signal.dtype == np.float32
        assert signal.shape == (len(header.leads), header.num_samples)
        assert np.isfinite(signal).all()
        assert len(header.leads) == 12
        # wfdb rejects the Georgia record line `E00009.mat 12 500 ...`: give it a copy of the
        # header whose record name is fixed (signal lines unchanged), next to a copy of the .mat.
        path = hea.with_suffix("")
        first = hea.read_text().split("\n", 1)[0].split()
        if first[0] != hea.stem:
            assert first[0] == hea.stem + ".mat"
            text = hea.read_text()
            (tmp_path / hea.name).write_text(text.replace(first[0] + " ", hea.stem + " ", 1))
            shutil.copyfile(hea.with_suffix(".mat"), tmp_path / (hea.stem + ".mat"))
            path = tmp_path / hea.stem
        reference = wfdb.rdrecord(str(path), physical=True)
        assert reference.sig_name == list(header.lead_names), hea.name
        assert reference.fs == header.sample_rate, hea.name
        assert reference.sig_len == header.num_samples == signal.shape[1], hea.name
        assert reference.n_sig == signal.shape[0]
        np.testing.assert_allclose(signal, reference.p_signal.T, rtol=0, atol=1e-6, err_msg=hea.name)
        compared += 1
    assert compared == len(headers)


@pytest.mark.parametrize("folder", record_folders())
def test_adc_values_and_first_samples_agree_with_header(folder):
    for hea in headers_of(folder):
        header = load_header(hea)
        val = load_adc(header)
        assert val.dtype == np.int16
        first_values = [int(line.split()[5]) for line in hea.read_text().splitlines()[1:13]]
        assert val[:, 0].tolist() == first_values, hea.name


# ---------------------------------------------------------------------------------------------
# Quirks of the real data
# ---------------------------------------------------------------------------------------------


def test_georgia_record_name_with_mat_suffix_real():
    header = load_header(RECORDS / "E00009.hea")
    assert (RECORDS / "E00009.hea").read_text().split()[0] == "E00009.mat"
    assert header.name == "E00009"
    assert header.sample_rate == 500 and header.num_samples == 5000


def test_georgia_record_name_with_mat_suffix_synthetic(tmp_path):
    rng = np.random.default_rng(1)
    val = random_adc(rng)
    hea = write_record(tmp_path, "E12345", val, record_name="E12345.mat")
    header, signal = load(hea)
    assert header.name == "E12345"
    np.testing.assert_allclose(signal, val / 1000.0, atol=1e-7)


@pytest.mark.parametrize(
    "name, gain",
    [
        ("E00009", 4880.0),
        ("E00015", 4880.0),
        ("HR00599", 200.0),
        ("HR20715", 200.0),
        ("HR07968", 1000.0),
        ("A0001", 1000.0),
    ],
)
def test_real_gains(name, gain):
    header = load_header(RECORDS / f"{name}.hea")
    assert [lead.gain for lead in header.leads] == [gain] * 12
    assert [lead.baseline for lead in header.leads] == [0.0] * 12
    assert [lead.mv_per_unit for lead in header.leads] == [1.0] * 12
    signal = load_signal(header)
    val = scipy.io.loadmat(RECORDS / f"{name}.mat")["val"]
    np.testing.assert_allclose(signal, val / gain, rtol=0, atol=1e-6)


def test_lower_case_mv_units_real():
    header = load_header(RECORDS / "HR07968.hea")
    assert "1000/mv" in (RECORDS / "HR07968.hea").read_text().splitlines()[1]
    assert all(lead.mv_per_unit == 1.0 and lead.gain == 1000.0 for lead in header.leads)


@pytest.mark.parametrize(
    "gain_field, gain, baseline, scale",
    [
        ("1000/mV", 1000.0, 0.0, 1.0),
        ("1000/mv", 1000.0, 0.0, 1.0),
        ("1000/MV", 1000.0, 0.0, 1.0),
        ("4880/mV", 4880.0, 0.0, 1.0),
        ("200/mV", 200.0, 0.0, 1.0),
        ("1000.0(0)/mV", 1000.0, 0.0, 1.0),
        ("1000(0)/mV", 1000.0, 0.0, 1.0),
        ("1000(5)/mV", 1000.0, 5.0, 1.0),
        ("1000(-12)/mV", 1000.0, -12.0, 1.0),
        ("1000", 1000.0, 0.0, 1.0),  # no units: WFDB's default is mV
        ("1000(3)", 1000.0, 3.0, 1.0),
        ("1/uV", 1.0, 0.0, 1e-3),
    ],
)
def test_gain_field_syntax(tmp_path, gain_field, gain, baseline, scale):
    rng = np.random.default_rng(2)
    val = random_adc(rng)
    hea = write_record(tmp_path, "G0001", val, gains=gain_field)
    header, signal = load(hea)
    assert all(lead.gain == gain and lead.baseline == baseline and lead.mv_per_unit == scale for lead in header.leads)
    expected = (val.astype(np.float64) - baseline) / gain * scale
    np.testing.assert_allclose(signal, expected, rtol=1e-6, atol=1e-7)


def test_baseline_defaults_to_adc_zero_field(tmp_path):
    rng = np.random.default_rng(3)
    val = random_adc(rng)
    hea = write_record(tmp_path, "Z0001", val, adc_zero=7)
    header, signal = load(hea)
    assert [lead.baseline for lead in header.leads] == [7.0] * 12
    np.testing.assert_allclose(signal, (val - 7.0) / 1000.0, atol=1e-7)
    # An explicit baseline wins over the ADC zero field.
    hea = write_record(tmp_path, "Z0002", val, adc_zero=7, gains="1000(5)/mV")
    header, signal = load(hea)
    assert [lead.baseline for lead in header.leads] == [5.0] * 12
    np.testing.assert_allclose(signal, (val - 5.0) / 1000.0, atol=1e-7)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # raised while importing wfdb
def test_synthetic_baselines_and_gains_agree_with_wfdb(tmp_path):
    import wfdb  # a test dependency (requirements-dev.txt)

    rng = np.random.default_rng(4)
    val = random_adc(rng, num_samples=300)
    gains = [
        "1000(5)/mV",
        "1000/mv",
        "4880/mV",
        "200(-3)/mV",
        "1000(0)/mV",
        "500/mV",
        "1000/mV",
        "1000(12)/mV",
        "2000/mV",
        "1000/mV",
        "250(1)/mV",
        "1000/mV",
    ]
    hea = write_record(tmp_path, "W0001", val, gains=gains, adc_zero=2, fs=257)
    header, signal = load(hea)
    reference = wfdb.rdrecord(str(tmp_path / "W0001"), physical=True)
    assert reference.fs == header.sample_rate == 257
    assert list(header.lead_names) == reference.sig_name
    assert reference.baseline == [int(lead.baseline) for lead in header.leads]
    np.testing.assert_allclose(signal, reference.p_signal.T, rtol=0, atol=1e-6)


def test_leads_in_another_order_are_read_from_the_header(tmp_path):
    rng = np.random.default_rng(5)
    val = random_adc(rng)
    leads = tuple(reversed(STANDARD_LEADS))
    # A distinct gain per lead shows which row each lead's scaling applies to.
    gains = [f"{100 * (i + 1)}/mV" for i in range(12)]
    hea = write_record(tmp_path, "O0001", val, leads=leads, gains=gains)
    header, signal = load(hea)
    assert header.lead_names == leads
    assert header.lead_names[0] == "V6" and header.lead_names[-1] == "I"
    for i in range(12):
        np.testing.assert_allclose(signal[i], val[i] / (100.0 * (i + 1)), atol=1e-7)


def test_fewer_leads_and_other_rates_are_allowed(tmp_path):
    rng = np.random.default_rng(6)
    val = random_adc(rng, num_leads=2, num_samples=77)
    hea = write_record(tmp_path, "I0001", val, fs=257, leads=("II", "V5"))
    header, signal = load(hea)
    assert header.lead_names == ("II", "V5")
    assert header.sample_rate == 257.0 and header.num_samples == 77
    assert signal.shape == (2, 77)


def test_header_without_sample_count_takes_it_from_the_mat(tmp_path):
    rng = np.random.default_rng(7)
    val = random_adc(rng, num_samples=55)
    hea = write_record(tmp_path, "N0001", val, num_samples=None)
    header, signal = load(hea)
    assert header.num_samples is None
    assert signal.shape == (12, 55)


def test_flat_leads_load(tmp_path):
    val = np.zeros((12, 50), dtype=np.int16)
    val[:6] = 100
    header, signal = load(write_record(tmp_path, "F0001", val))
    assert (signal[6:] == 0).all() and np.allclose(signal[:6], 0.1)


def test_all_zero_leads_real():
    header, signal = load(RECORDS / "JS11438.hea")
    assert int((np.abs(signal).max(axis=1) == 0).sum()) == 6


@pytest.mark.parametrize(
    "line, age",
    [
        ("#Age: 74", 74.0),
        ("#Age: 74.5", 74.5),
        ("#Age: 0", 0.0),
        ("#Age: 89", 89.0),
        ("#Age: 300", 90.0),  # PTB-XL's code for "over 89"
        ("#Age: NaN", None),
        ("#Age: nan", None),
        ("#Age: Unknown", None),
        ("#Age:", None),
        ("#Age: -1", None),
        ("#Age: inf", None),
        ("# Age: 41", 41.0),  # a space after '#'
        ("#Age:41", 41.0),
        (None, None),  # no #Age line at all
    ],
)
def test_age(line, age):
    comments = ["#Sex: Male", "#Dx: 426783006"] + ([line] if line else [])
    header = parse_header(make_header("X0001", comments=comments), "X0001.hea")
    assert header.age == age
    assert header.age is None or isinstance(header.age, float)


@pytest.mark.parametrize(
    "line, sex",
    [
        ("#Sex: Male", "male"),
        ("#Sex: Female", "female"),
        ("#Sex: M", "male"),
        ("#Sex: F", "female"),
        ("#Sex: male", "male"),
        ("#Sex: female", "female"),
        ("#Sex: f", "female"),
        ("#Sex: m", "male"),
        ("#Sex: MALE", "male"),
        ("#Sex:  Female  ", "female"),
        ("# Sex: F", "female"),
        ("#Sex: NaN", None),
        ("#Sex: Unknown", None),
        ("#Sex:", None),
        ("#Sex: X", None),
        (None, None),
    ],
)
def test_sex_spellings(line, sex):
    comments = ["#Age: 50", "#Dx: 426783006"] + ([line] if line else [])
    header = parse_header(make_header("X0001", comments=comments), "X0001.hea")
    assert header.sex == sex


def test_real_sex_and_age_values():
    headers = [load_header(p) for p in headers_of(RECORDS)]
    assert {h.sex for h in headers} == {"male", "female"}
    assert all(h.age is None or 0 <= h.age <= 90 for h in headers)
    a1 = load_header(RECORDS / "A0001.hea")
    assert (a1.age, a1.sex, a1.dx) == (74.0, "male", ("59118001",))


def test_empty_dx_item_real():
    header = load_header(RECORDS / "JS20005.hea")
    assert header.dx == ("284470004", "89792004", "427084000", "427172004")


@pytest.mark.parametrize(
    "line, dx",
    [
        ("#Dx: 284470004,89792004,427084000,,427172004", ("284470004", "89792004", "427084000", "427172004")),
        ("#Dx: 164889003, 59118001 ,", ("164889003", "59118001")),
        ("#Dx: ,", ()),
        ("#Dx:", ()),
        ("# Dx: 426783006", ("426783006",)),  # as wfdb rewrites it
        (None, ()),
    ],
)
def test_dx_items(line, dx):
    comments = ["#Age: 50", "#Sex: F"] + ([line] if line else [])
    header = parse_header(make_header("X0001", comments=comments), "X0001.hea")
    assert header.dx == dx


def test_absent_sx_line_real():
    text = (RECORDS / "E07500.hea").read_text()
    assert "#Sx" not in text
    header = load_header(RECORDS / "E07500.hea")
    assert "sx" not in header.comments
    assert header.dx == ("67741000119109", "426177001")
    assert load_header(RECORDS / "A0001.hea").comments["sx"] == "Unknows"


def test_comments_dictionary_and_absent_sx(tmp_path):
    comments = ["#Age: 50", "#Sex: Female", "#Dx: 164889003", "#Rx: Unknown", "#Hx: Unknown"]
    header = parse_header(make_header("X0001", comments=comments), "X0001.hea")
    assert header.comments == {"age": "50", "sex": "Female", "dx": "164889003", "rx": "Unknown", "hx": "Unknown"}


def test_windows_line_endings_and_blank_lines(tmp_path):
    rng = np.random.default_rng(8)
    val = random_adc(rng)
    text = make_header("R0001", num_samples=100).replace("\n", "\r\n\r\n")
    (tmp_path / "R0001.hea").write_text(text, newline="")
    write_mat(tmp_path / "R0001.mat", val)
    header, signal = load(tmp_path / "R0001.hea")
    assert header.lead_names == STANDARD_LEADS
    assert header.dx == ("426783006",)
    np.testing.assert_allclose(signal, val / 1000.0, atol=1e-7)


def test_signal_is_float32_and_mat_float_val_is_accepted(tmp_path):
    val = np.linspace(-500, 500, 12 * 40).reshape(12, 40)
    header, signal = load(write_record(tmp_path, "D0001", val))
    assert signal.dtype == np.float32
    np.testing.assert_allclose(signal, val / 1000.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Bad inputs: always RecordError, naming the file and the problem
# ---------------------------------------------------------------------------------------------


def assert_record_error(excinfo, path, *words):
    error = excinfo.value
    assert type(error) is RecordError
    assert error.path == str(path)
    message = str(error)
    assert str(path) in message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def good_record(tmp_path, name="B0001", **options):
    rng = np.random.default_rng(9)
    return write_record(tmp_path, name, random_adc(rng), **options)


def test_missing_mat(tmp_path):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    mat.unlink()
    header = load_header(hea)
    with pytest.raises(RecordError) as e:
        load_signal(header)
    assert_record_error(e, mat, "missing")


@pytest.mark.parametrize("keep", [0, 10, 23, 24, 100, 0.5, -1])
def test_truncated_mat(tmp_path, keep):
    data = (RECORDS / "A0001.mat").read_bytes()
    shutil.copyfile(RECORDS / "A0001.hea", tmp_path / "A0001.hea")
    size = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    mat = tmp_path / "A0001.mat"
    mat.write_bytes(data[:size])
    header = load_header(tmp_path / "A0001.hea")
    with pytest.raises(RecordError) as e:
        load_signal(header)
    assert_record_error(e, mat)


def test_truncated_synthetic_mat(tmp_path):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    mat.write_bytes(mat.read_bytes()[:-10])
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, mat, "cannot read")


def test_mat_that_is_not_a_mat_file(tmp_path):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    mat.write_text("this is not a MATLAB file at all, just some text " * 5)
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, mat)


def test_mat_without_val(tmp_path):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    scipy.io.savemat(str(mat), {"data": np.zeros((12, 100), dtype=np.int16)}, format="4")
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, mat, "val")


@pytest.mark.parametrize("shape", [(11, 100), (13, 100), (12, 99), (12, 101), (100, 12)])
def test_val_shape_disagrees_with_header(tmp_path, shape):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    write_mat(mat, np.zeros(shape, dtype=np.int16))
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, mat, "shape")


def test_val_without_samples(tmp_path):
    hea = tmp_path / "B0001.hea"
    hea.write_text(make_header("B0001", num_samples=0))
    write_mat(tmp_path / "B0001.mat", np.zeros((12, 0), dtype=np.int16))
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, tmp_path / "B0001.mat")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    val = np.ones((12, 100))
    val[3, 17] = bad
    hea = write_record(tmp_path, "B0001", val)
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, tmp_path / "B0001.mat", "nan")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_samples_overflowing_float32(tmp_path):
    val = np.full((12, 10), 1e300)
    hea = write_record(tmp_path, "B0001", val)
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, tmp_path / "B0001.mat")


def test_val_that_is_text(tmp_path):
    hea = good_record(tmp_path)
    mat = tmp_path / "B0001.mat"
    scipy.io.savemat(str(mat), {"val": "hello"}, format="4")
    with pytest.raises(RecordError) as e:
        load_signal(load_header(hea))
    assert_record_error(e, mat)


BAD_HEADERS = {
    "non-integer lead count": ("B0001 twelve 500 100\n", "lead count"),
    "fractional lead count": ("B0001 12.5 500 100\n", "lead count"),
    "zero lead count": ("B0001 0 500 100\n", "lead count"),
    "record line too short": ("B0001 12\n", "record line"),
    "zero sampling rate": ("B0001 12 0 100\n", "sampling rate"),
    "negative sampling rate": ("B0001 12 -500 100\n", "sampling rate"),
    "non-numeric sampling rate": ("B0001 12 fast 100\n", "sampling rate"),
    "nan sampling rate": ("B0001 12 nan 100\n", "sampling rate"),
    "non-integer sample count": ("B0001 12 500 many\n", "sample count"),
    "negative sample count": ("B0001 12 500 -5\n", "sample count"),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_unparsable_record_line(tmp_path, case):
    first, word = BAD_HEADERS[case]
    text = make_header("B0001")
    text = first + text.split("\n", 1)[1]
    hea = tmp_path / "B0001.hea"
    hea.write_text(text)
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea, word)


SIGNAL_LINE_PROBLEMS = {
    "missing fields": ("B0001.mat 16+24 1000/mV 16 0 0 0", "fields"),
    "missing lead name": ("B0001.mat 16+24 1000/mV 16 0 0 0 0", "fields"),
    "non-numeric gain": ("B0001.mat 16+24 abc/mV 16 0 0 0 0 V1", "gain"),
    "empty gain": ("B0001.mat 16+24 /mV 16 0 0 0 0 V1", "gain"),
    "zero gain": ("B0001.mat 16+24 0/mV 16 0 0 0 0 V1", "gain"),
    "negative gain": ("B0001.mat 16+24 -1000/mV 16 0 0 0 0 V1", "gain"),
    "infinite gain": ("B0001.mat 16+24 inf/mV 16 0 0 0 0 V1", "gain"),
    "non-numeric baseline": ("B0001.mat 16+24 1000(x)/mV 16 0 0 0 0 V1", "baseline"),
    "non-numeric adc zero": ("B0001.mat 16+24 1000/mV 16 zero 0 0 0 V1", "baseline"),
    "broken gain syntax": ("B0001.mat 16+24 1000(0/mV 16 0 0 0 0 V1", "gain"),
    "unknown units": ("B0001.mat 16+24 1000/furlong 16 0 0 0 0 V1", "units"),
}


@pytest.mark.parametrize("case", sorted(SIGNAL_LINE_PROBLEMS))
def test_unparsable_signal_line(tmp_path, case):
    bad_line, word = SIGNAL_LINE_PROBLEMS[case]
    lines = [signal_line("B0001", lead=lead) for lead in STANDARD_LEADS]
    lines[6] = bad_line
    hea = tmp_path / "B0001.hea"
    hea.write_text(make_header("B0001", signal_lines=lines))
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea, word)
    assert "8" in e.value.problem  # the header's line number of the bad signal line


@pytest.mark.parametrize("declared, present", [(12, 11), (12, 0), (3, 12), (2, 1)])
def test_lead_count_disagrees_with_signal_lines(tmp_path, declared, present):
    lines = [signal_line("B0001", lead=f"L{i}") for i in range(present)]
    hea = tmp_path / "B0001.hea"
    hea.write_text(make_header("B0001", num_leads=declared, signal_lines=lines))
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea, str(declared), str(present), "signal lines")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "#Age: 50\n#Dx: 426783006\n"])
def test_empty_header(tmp_path, text):
    hea = tmp_path / "B0001.hea"
    hea.write_text(text)
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea, "empty")


def test_missing_header(tmp_path):
    hea = tmp_path / "B0001.hea"
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea, "header")


def test_header_that_is_a_folder(tmp_path):
    hea = tmp_path / "B0001.hea"
    hea.mkdir()
    with pytest.raises(RecordError) as e:
        load_header(hea)
    assert_record_error(e, hea)


def test_parse_header_names_the_given_path():
    with pytest.raises(RecordError) as e:
        parse_header("X 12 0 100\n", "some/where/X.hea")
    assert_record_error(e, "some/where/X.hea", "sampling rate")


def test_record_error_attributes():
    error = RecordError("a/b.mat", "is broken")
    assert str(error) == "a/b.mat: is broken"
    assert error.path == "a/b.mat" and error.problem == "is broken"
    assert isinstance(error, Exception)


def test_age_parser_and_sex_parser_directly():
    assert parse_age("300") == 90.0
    assert parse_age("45") == 45.0
    assert math.isnan(float("nan")) and parse_age("NaN") is None
    assert parse_sex(" Female ") == "female"
    assert parse_sex("Unknown") is None
    assert parse_dx("1,,2, ,3") == ("1", "2", "3")
