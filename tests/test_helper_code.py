"""helper_code.py: the official 2021 helper API on hand-made headers, quirks included."""

import math

import numpy as np
import pytest
import scipy.io

import helper_code as hc
from ecgnet import synthetic
from ecgnet.preprocess import LEADS
from ecgnet.records import RecordError

OFFICIAL_NAMES = (
    "is_number",
    "is_integer",
    "is_finite_number",
    "sort_leads",
    "find_challenge_files",
    "load_header",
    "load_recording",
    "choose_leads",
    "get_recording_id",
    "get_leads",
    "get_age",
    "get_sex",
    "get_num_leads",
    "get_frequency",
    "get_num_samples",
    "get_adc_gains",
    "get_baselines",
    "get_labels",
    "save_outputs",
    "load_outputs",
)


def make_header(
    first="A0001 12 500 7500 05-Feb-2020 11:39:16",
    leads=LEADS,
    gain="1000/mV",
    adc_zero=0,
    comments=("#Age: 74", "#Sex: Male", "#Dx: 59118001", "#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"),
    newline="\n",
):
    """Header text in the challenge's layout: record line, one line per lead, comments."""
    file = first.split()[0].removesuffix(".mat") + ".mat"
    lines = [first] + [f"{file} 16+24 {gain} 16 {adc_zero} {10 * i} {i} 0 {lead}" for i, lead in enumerate(leads)]
    return newline.join(lines + list(comments)) + newline


def test_star_import_gives_the_official_names_and_nothing_private():
    namespace = {}
    exec("from helper_code import *", namespace)
    assert set(OFFICIAL_NAMES) <= set(namespace)
    assert not [name for name in namespace if name.startswith("_") and name != "__builtins__"]


@pytest.mark.parametrize(
    "x, number, integer, finite",
    [
        ("1", True, True, True),
        (" 2 ", True, True, True),
        (3, True, True, True),
        ("1.5", True, False, True),
        ("NaN", True, False, False),
        ("-inf", True, False, False),
        ("abc", False, False, False),
        ("", False, False, False),
        (None, False, False, False),
    ],
)
def test_number_checks(x, number, integer, finite):
    assert (hc.is_number(x), hc.is_integer(x), hc.is_finite_number(x)) == (number, integer, finite)


def test_sort_leads_puts_the_12_lead_order_first_and_other_names_after_in_their_order():
    assert hc.sort_leads(["V1", "Y", "II", "X", "aVR", "I"]) == ("I", "II", "aVR", "V1", "Y", "X")
    for leads in (("I", "II"), ("I", "II", "V2"), ("I", "II", "III", "V2"), LEADS[:6], LEADS):
        assert hc.sort_leads(tuple(reversed(leads))) == leads


def test_find_challenge_files(tmp_path):
    for name in ("B.hea", "B.mat", "A.hea", "A.mat", "C.hea", "D.mat", ".E.hea", ".E.mat", "F.HEA", "F.mat", "G.mat"):
        (tmp_path / name).write_text("")
    (tmp_path / "G.hea").mkdir()  # not a file
    headers, recordings = hc.find_challenge_files(tmp_path)
    assert headers == [str(tmp_path / "A.hea"), str(tmp_path / "B.hea")]
    assert recordings == [str(tmp_path / "A.mat"), str(tmp_path / "B.mat")]
    with pytest.raises(RecordError, match="missing"):  # stricter: names the folder
        hc.find_challenge_files(tmp_path / "missing")


def test_fields_of_a_plain_header():
    header = make_header()
    assert hc.get_recording_id(header) == "A0001"
    assert hc.get_leads(header) == LEADS
    for function, value in (
        (hc.get_num_leads, 12),
        (hc.get_frequency, 500),
        (hc.get_num_samples, 7500),
        (hc.get_age, 74),
    ):
        assert type(function(header)) is float and function(header) == value  # floats, as the official helper
    assert hc.get_sex(header) == "Male"
    assert hc.get_labels(header) == ["59118001"]
    np.testing.assert_array_equal(hc.get_adc_gains(header, LEADS), np.full(12, 1000.0))
    np.testing.assert_array_equal(hc.get_baselines(header), np.zeros(12))


def test_gains_and_baselines_follow_the_leads_asked_for():
    header = make_header(leads=("I", "II", "V6"), first="X 3 500 10", gain="200/mV", adc_zero=5)
    gains = hc.get_adc_gains(header, ("V6", "I", "V2"))
    assert gains.dtype == np.float64
    np.testing.assert_array_equal(gains, [200, 200, 0])  # 0 for a lead the header lacks
    np.testing.assert_array_equal(hc.get_baselines(header, ["II", "aVF"]), [5, 0])


@pytest.mark.parametrize(
    "quirk, function, expected",
    [
        ({"first": "E00001.mat 12 500 5000 05-May-2020 14:50:55"}, hc.get_recording_id, "E00001"),  # Georgia
        ({"gain": "1000/mv"}, hc.get_adc_gains, np.full(12, 1000.0)),
        ({"gain": "4880/mV"}, hc.get_adc_gains, np.full(12, 4880.0)),
        ({"gain": "1000(0)/mV"}, hc.get_adc_gains, np.full(12, 1000.0)),  # the official helper: 0
        ({"gain": "1000(12)/mV"}, hc.get_baselines, np.full(12, 12.0)),  # the official helper: 0
        ({"first": "X 12 500"}, hc.get_num_samples, None),
        ({"comments": ("#Age: NaN", "#Sex: Female")}, hc.get_age, math.nan),
        ({"comments": ("#Age: unknown",)}, hc.get_age, math.nan),
        ({"comments": ("#Age: 300",)}, hc.get_age, 300.0),  # PTB-XL's "over 89", as written
        ({"comments": ("#Sex: Male",)}, hc.get_age, None),
        ({"comments": ("#Sex: M",)}, hc.get_sex, "M"),
        ({"comments": ("#Sex: f",)}, hc.get_sex, "f"),
        ({"comments": ("#Sex: NaN",)}, hc.get_sex, "NaN"),
        ({"comments": ("#Sex: Unknown",)}, hc.get_sex, "Unknown"),
        ({"comments": ("#Age: 60",)}, hc.get_sex, None),
        ({"comments": ("#Dx: 164889003,,59118001, ",)}, hc.get_labels, ["164889003", "59118001"]),  # empty items
        ({"comments": ("#Age: 60", "#Dx: 426783006")}, hc.get_labels, ["426783006"]),  # no #Sx, #Rx, #Hx
        ({"comments": ()}, hc.get_labels, []),
        ({"newline": "\r\n"}, hc.get_leads, LEADS),
        ({"newline": "\r\n"}, hc.get_sex, "Male"),
        ({"leads": ("I", "II"), "first": "JS00001 2 500 5000"}, hc.get_num_leads, 2.0),
    ],
)
def test_quirks(quirk, function, expected):
    value = function(make_header(**quirk))
    if isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(value, expected)
    elif isinstance(expected, float) and math.isnan(expected):
        assert type(value) is float and math.isnan(value)
    else:
        assert value == expected


@pytest.mark.parametrize(
    "header, problem",
    [
        ("A0001 12 500 7500\n#Age: 60\n", "12 leads"),
        ("A0001 x 500\n", "lead count"),
        (make_header(gain="abc/mV"), "gain"),
    ],
)
def test_unreadable_headers_raise_a_clear_error(header, problem):
    """Stricter than the official helper, which crashes with IndexError/ValueError or returns 0."""
    with pytest.raises(RecordError, match=problem):
        hc.get_leads(header)


@pytest.fixture
def record(tmp_path):
    """A 3-lead record R1 (I, II, V1), 500 Hz, 2 s: (mat path, header text, int16 val)."""
    rng = np.random.default_rng(1)
    synthetic.write_record(tmp_path, "R1", rng.normal(size=(3, 1000)), 500, lead_names=("I", "II", "V1"))
    header = hc.load_header(tmp_path / "R1.hea")
    return str(tmp_path / "R1.mat"), header, scipy.io.loadmat(tmp_path / "R1.mat")["val"]


def test_load_recording_gives_the_raw_matrix(record):
    mat, header, val = record
    for recording in (hc.load_recording(mat), hc.load_recording(mat, header), hc.load_recording(mat, header, None)):
        assert recording.dtype == np.int16
        np.testing.assert_array_equal(recording, val)


def test_load_recording_chooses_and_orders_leads_zero_for_absent_ones(record):
    mat, header, val = record
    chosen = hc.load_recording(mat, header, ("V1", "I", "V3"))
    assert chosen.dtype == np.int16 and chosen.shape == (3, 1000)
    np.testing.assert_array_equal(chosen, [val[2], val[0], np.zeros(1000)])
    np.testing.assert_array_equal(hc.choose_leads(val.astype(np.float64), header, ["II"]), val[[1]])
    assert hc.choose_leads(val, header, ("II",)).dtype == np.int16


def test_load_recording_checks_the_header(record, tmp_path):
    """Stricter than the official helper: a matrix that disagrees with its header is an error."""
    mat, header, _ = record
    with pytest.raises(RecordError, match="the header says"):
        hc.load_recording(mat, header.replace("R1 3 500 1000", "R1 3 500 999"))
    with pytest.raises(ValueError, match="'val'"):
        hc.load_recording(mat, key="other")
    (tmp_path / "lonely.mat").write_bytes(open(mat, "rb").read())
    with pytest.raises(RecordError, match="lonely.hea"):
        hc.load_recording(str(tmp_path / "lonely.mat"))


def test_load_signals_gives_millivolts(record, tmp_path):
    mat, header, val = record
    signal, leads = hc.load_signals(str(tmp_path / "R1.hea"))
    assert signal.dtype == np.float32 and leads == ("I", "II", "V1")
    np.testing.assert_allclose(signal, val / 1000, atol=1e-6)


def test_save_and_load_outputs(tmp_path):
    path = tmp_path / "A0001.csv"
    hc.save_outputs(
        path, "A0001", ["164889003", "59118001"], np.array([0, 1]), np.array([0.25, 1 / 3], dtype=np.float32)
    )
    assert path.read_text() == "#A0001\n164889003,59118001\n0,1\n0.25,0.33333334\n"  # str(), full precision
    assert hc.load_outputs(path) == ("A0001", ("164889003", "59118001"), ("0", "1"), (0.25, 0.33333334))
    path.write_text("#A0002\n1,2,3\nTrue,F,1\nnan, abc ,0.5\n")
    record, classes, labels, probabilities = hc.load_outputs(path)
    assert (record, classes, labels) == ("A0002", ("1", "2", "3"), ("True", "F", "1"))
    assert math.isnan(probabilities[0]) and math.isnan(probabilities[1]) and probabilities[2] == 0.5
    path.write_text("#A0003\n1,2\n")
    with pytest.raises(RecordError, match="has 2 lines, expected 4"):  # the official helper: UnboundLocalError
        hc.load_outputs(path)
