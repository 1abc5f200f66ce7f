"""ECG measurements (`ecgnet.measure`): known-truth signals, the signals that must give blanks
with reasons (never an exception), the axis of hand-built limb leads, the command and its file,
and neurokit2 as an independent oracle where it applies."""

import csv
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from ecgnet.cli import records
from ecgnet.measure.axes import LIMB_LEADS, PROJECTION, frontal_axis
from ecgnet.measure.filters import bandpass
from ecgnet.measure.folder import measure_record
from ecgnet.measure.record import COLUMNS, measure
from ecgnet.measure.table import MeasurementsError, read_measurements, write_measurements
from ecgnet.preprocess import LEADS
from ecgnet.synthetic import WaveTruth, random_truth, truth_signal, write_record

from helpers import RECORDS, ROOT, record_folders

ANGLES = np.radians([0.0, 60.0, 120.0, -150.0, -30.0, 90.0])


def angle_error(measured: float, true: float) -> float:
    return abs((measured - true + 180) % 360 - 180)


@pytest.mark.parametrize("rate", [500, 257])
def test_known_truth_within_the_aims(rate):
    rng = np.random.default_rng(7)
    errors = {"hr": [], "pr": [], "qrs": [], "axis": []}
    for _ in range(16):
        truth = random_truth(rng)
        signal, onsets = truth_signal(truth, rate, 10.0, rng)
        row = measure(signal, rate).row()
        assert row["quality"] == "ok", row["reason"]
        errors["hr"].append(abs(row["heart_rate_bpm"] - 60 / np.mean(np.diff(onsets))))
        errors["axis"].append(angle_error(row["qrs_axis_deg"], truth.qrs_axis))
        errors["qrs"].append(abs(row["qrs_ms"] - 1000 * truth.qrs))
        if row["pr_ms"] is not None:
            errors["pr"].append(abs(row["pr_ms"] - 1000 * truth.pr))
    assert max(errors["hr"]) < 2.0
    assert len(errors["pr"]) >= 14  # P waves found in nearly every record
    assert np.median(errors["pr"]) < 10 and np.median(errors["qrs"]) < 10
    assert np.median(errors["axis"]) < 10 and max(errors["axis"]) < 20


def test_the_driver_rate_measures_like_500_hz():
    """At the network's 257 Hz (where the driver would measure) the values stay close to 500 Hz's."""
    rng = np.random.default_rng(3)
    for _ in range(6):
        truth = random_truth(rng)
        signal, _ = truth_signal(truth, 500, 10.0, rng)
        from ecgnet.preprocess import resample

        high, low = measure(signal, 500).row(), measure(resample(signal, 500, 257), 257).row()
        assert abs(high["heart_rate_bpm"] - low["heart_rate_bpm"]) < 1
        assert abs(high["qrs_ms"] - low["qrs_ms"]) < 12
        assert angle_error(high["qrs_axis_deg"], low["qrs_axis_deg"]) < 5


def limb_leads(angle_deg: float, n: int = 5000) -> np.ndarray:
    """A 12-lead signal whose limb leads see a QRS-like pulse along `angle_deg` (precordial zero)."""
    t = np.arange(n) / 500
    pulse = np.zeros(n)
    for beat in np.arange(0.4, 10, 0.8):
        pulse += np.exp(-0.5 * ((t - beat) / 0.012) ** 2)
    signal = np.zeros((12, n))
    gains = np.hypot(PROJECTION[:, 0], PROJECTION[:, 1])
    for k, lead in enumerate(LIMB_LEADS):
        signal[LEADS.index(lead)] = 1.2 * gains[k] * np.cos(np.radians(angle_deg) - ANGLES[k]) * pulse
    return signal


@pytest.mark.parametrize("angle", [-150, -90, -60, -45, -31, -29, 0, 45, 60, 89, 91, 120, 179])
def test_axis_of_hand_built_limb_leads(angle):
    row = measure(limb_leads(angle), 500, missing=LEADS[6:]).row()
    assert angle_error(row["qrs_axis_deg"], angle) <= 1.0
    assert row["qrs_amp_precordial_mv"] is None and "precordial leads missing" in row["reason"]


def test_lead_i_positive_and_avf_negative_is_a_left_axis():
    areas = np.array([1.0, 0.0, -1.0, -0.5, 1.0, -1.0])  # I up, aVF down (II and III as they follow)
    areas[1] = areas[0] + areas[2]  # Einthoven: II = I + III
    assert frontal_axis(areas) < -30
    assert frontal_axis(-areas) > 90  # I down, aVF up: right axis


def test_equiphasic_limb_leads_have_no_axis():
    assert frontal_axis(np.zeros(6)) is None
    # Areas no frontal vector explains (orthogonal to every projection) point nowhere.
    rng = np.random.default_rng(0)
    areas = rng.normal(size=6)
    areas -= PROJECTION @ np.linalg.lstsq(PROJECTION, areas, rcond=None)[0]
    assert frontal_axis(areas) is None
    assert frontal_axis(areas + PROJECTION @ np.array([0.0, 2.0])) == pytest.approx(90.0, abs=1)


def blank_values(row):
    return all(row[c] is None for c in COLUMNS[1:13])


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda rng: np.zeros((12, 5000)), "no lead holds a signal"),
        (lambda rng: rng.normal(0, 0.3, (12, 5000)), "no consistent beats"),
        (lambda rng: truth_signal(WaveTruth(), 500, 1.0, rng)[0], "too short"),
        (lambda rng: np.full((12, 5000), np.nan), "not finite"),
        (lambda rng: np.zeros((3, 5000)), "not 12 leads"),
    ],
    ids=["flat", "noise", "one second", "not finite", "three rows"],
)
def test_unmeasurable_signals_give_blanks_and_a_reason(make, reason):
    row = measure(make(np.random.default_rng(0)), 500).row("X")
    assert row["quality"] == "failed" and reason in row["reason"] and blank_values(row)


def test_noise_of_every_kind_never_raises():
    rng = np.random.default_rng(1)
    for rate in (100, 257, 500, 1000):
        for scale in (1e-4, 0.05, 1.0, 50.0):
            for seconds in (1.5, 2.2, 10.0):
                signal = rng.standard_cauchy((12, int(rate * seconds))) * scale
                row = measure(signal, rate).row()
                assert row["quality"] in ("ok", "noisy", "failed")


def test_a_long_recording_is_measured_on_its_first_minutes():
    signal, _ = truth_signal(WaveTruth(heart_rate=75), 257, 320.0, np.random.default_rng(6))
    row = measure(signal, 257).row()
    assert "first 300 s of 320 s measured" in row["reason"] and abs(row["heart_rate_bpm"] - 75) < 2
    assert 370 <= row["beats"] <= 380  # 300 s at 75 bpm


def test_atrial_fibrillation_has_no_p_waves():
    rng = np.random.default_rng(5)
    truth = WaveTruth(p_amplitude=0.0, heart_rate=95)
    signal, _ = truth_signal(truth, 500, 10.0, rng)
    t = np.arange(5000) / 500
    signal += 0.06 * np.sin(2 * np.pi * 6.3 * t + rng.uniform(0, 6, (12, 1)))  # f waves
    row = measure(signal, 500).row()
    assert row["pr_ms"] is None and row["p_axis_deg"] is None and "no P waves" in row["reason"]
    assert row["qrs_ms"] is not None and row["heart_rate_bpm"] is not None


def test_paced_looking_signal_blanks_pr_and_says_why():
    rng = np.random.default_rng(2)
    truth = WaveTruth(qrs=0.16, heart_rate=70, p_amplitude=0.0)
    signal, onsets = truth_signal(truth, 500, 10.0, rng)
    for onset in onsets:  # a ventricular pacing spike 2 ms wide just before each QRS
        i = int(round(onset * 500)) - 3
        signal[:, i] += rng.choice([-5.0, 5.0], 12)
    row = measure(signal, 500).row()
    assert row["pr_ms"] is None and "pacemaker spikes" in row["reason"]
    assert row["qrs_ms"] is not None and abs(row["heart_rate_bpm"] - 60 / np.mean(np.diff(onsets))) < 2


def test_missing_leads_blank_what_needs_them():
    rng = np.random.default_rng(4)
    signal, _ = truth_signal(WaveTruth(), 500, 10.0, rng)
    only_precordial = signal.copy()
    only_precordial[:6] = 0
    row = measure(only_precordial, 500, missing=LEADS[:6]).row()
    assert row["qrs_axis_deg"] is None and row["qrs_amp_limb_mv"] is None and "limb leads missing" in row["reason"]
    assert row["heart_rate_bpm"] is not None and row["qrs_ms"] is not None
    two_leads = signal.copy()
    two_leads[2:] = 0  # I and II only: the other limb leads are derived, precordial ones missing
    row = measure(two_leads, 500, missing=LEADS[2:]).row()
    assert angle_error(row["qrs_axis_deg"], WaveTruth().qrs_axis) < 10
    assert row["qrs_amp_precordial_mv"] is None
    flat_lead = signal.copy()
    flat_lead[LEADS.index("V3")] = 0.0  # recorded but disconnected
    row = measure(flat_lead, 500).row()
    assert "no signal in V3" in row["reason"] and row["qrs_amp_precordial_mv"] is None


def test_filters_are_zero_phase_and_keep_their_band():
    rate, n = 500.0, 5000
    t = np.arange(n) / rate
    slow, fast = np.sin(2 * np.pi * 0.1 * t), np.sin(2 * np.pi * 10 * t)
    out = bandpass(np.stack([slow + fast]), rate, 0.5, 40.0)[0]
    middle = slice(1000, 4000)
    assert np.max(np.abs(out[middle] - fast[middle])) < 0.02  # 10 Hz passes in place, 0.1 Hz is gone


# ------------------------------------------------------------------ the command and its file


def test_measure_command_writes_every_record_and_goes_on_after_a_bad_one(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k, rate in enumerate((500, 257, 1000)):
        write_record(str(data), f"R{k}", truth_signal(WaveTruth(heart_rate=55 + 20 * k), rate, 10.0, rng)[0], rate)
    (data / "BROKEN.hea").write_text("not a header\n")
    write_record(str(data), "SHORT", truth_signal(WaveTruth(), 500, 0.8, rng)[0], 500)
    assert records.measure([str(data), str(tmp_path / "out"), "--jobs", "2"]) == 0
    with open(tmp_path / "out" / "measurements.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    by_name = {r[0]: dict(zip(COLUMNS, r)) for r in rows[1:]}
    assert sorted(by_name) == ["BROKEN", "R0", "R1", "R2", "SHORT"]
    assert by_name["BROKEN"]["quality"] == "failed" and "cannot read record" in by_name["BROKEN"]["reason"]
    assert by_name["SHORT"]["quality"] == "failed" and by_name["SHORT"]["heart_rate_bpm"] == ""
    for k in range(3):
        assert abs(float(by_name[f"R{k}"]["heart_rate_bpm"]) - (55 + 20 * k)) < 2.5
    table = read_measurements(tmp_path / "out" / "measurements.csv")
    assert table["BROKEN"]["heart_rate_bpm"] is None and isinstance(table["R0"]["heart_rate_bpm"], float)
    assert "5 records" in capsys.readouterr().out


def test_measurements_file_is_refused_with_file_row_and_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("record,heart_rate_bpm\nA,60\n")
    with pytest.raises(MeasurementsError, match="row 1"):
        read_measurements(path)
    write_measurements(path, [measure(np.zeros((12, 5000)), 500).row("A")])
    text = path.read_text().replace("failed", "great")
    path.write_text(text)
    with pytest.raises(MeasurementsError, match=r"m\.csv: row 2, column quality"):
        read_measurements(path)
    path.write_text(text.replace("great", "ok").replace(",,", ",abc,", 1) + text.splitlines()[1] + "\n")
    with pytest.raises(MeasurementsError, match=r"3 problems") as caught:  # every problem at once
        read_measurements(path)
    assert "row 2, column heart_rate_bpm" in str(caught.value) and "row 3, column record" in str(caught.value)
    # a record name a spreadsheet would run as a formula is written as text and read back as written
    write_measurements(path, [measure(np.zeros((12, 5000)), 500).row("=1+2")])
    assert "'=1+2" in path.read_text() and list(read_measurements(path)) == ["=1+2"]


def test_measure_command_refuses_a_missing_folder(tmp_path, capsys):
    assert records.measure([str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1
    assert "folder does not exist" in capsys.readouterr().err


def test_the_core_imports_only_numpy():
    """The driver will measure every record: the core must not pull in scipy.signal, neurokit2,
    pandas or matplotlib."""
    code = (
        "import sys, ecgnet.measure, ecgnet.measure.criteria; "
        "bad = [m for m in ('scipy.signal', 'neurokit2', 'pandas', 'matplotlib', 'statsmodels') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ neurokit2 as the oracle


def test_heart_rate_of_neurokit2_simulations():
    """ECGSYN as neurokit2 simulates it (12 leads, and one lead in every row): the rate set, and
    the rate of neurokit2's own R peaks."""
    nk = pytest.importorskip("neurokit2")
    for rate_bpm, seed in ((48, 1), (60, 5), (72, 2), (90, 6), (110, 3), (150, 4)):
        ecg = nk.ecg_simulate(
            duration=12, sampling_rate=500, heart_rate=rate_bpm, method="multileads", random_state=seed
        )
        assert abs(measure(ecg[list(LEADS)].to_numpy().T, 500).row()["heart_rate_bpm"] - rate_bpm) < 2
        one = nk.ecg_simulate(duration=12, sampling_rate=500, heart_rate=rate_bpm, random_state=seed)
        _, info = nk.ecg_peaks(nk.ecg_clean(one, sampling_rate=500), sampling_rate=500)
        theirs = 60 / np.mean(np.diff(info["ECG_R_Peaks"]) / 500)
        ours = measure(np.tile(one, (12, 1)), 500).row()["heart_rate_bpm"]
        assert abs(ours - theirs) < 1 and abs(ours - rate_bpm) < 2


@pytest.mark.parametrize("folder", record_folders())
def test_beats_match_neurokit2_on_real_records(folder):
    """Our beats on all leads against neurokit2's R peaks on lead II, on the committed records
    (every twelfth of the whole sample)."""
    nk = pytest.importorskip("neurokit2")
    from ecgnet.folders import RecordFiles
    from ecgnet.records import read_record

    names = [p.stem for p in sorted(folder.glob("*.hea"))][:: 1 if folder == RECORDS else 12]
    matched = total = 0
    for name in names:
        record = read_record(RecordFiles.of_header(folder / f"{name}.hea"), 500)
        m = measure(record.signal, 500, record.missing)
        if m.found is None:
            continue
        _, info = nk.ecg_peaks(nk.ecg_clean(record.signal[1], sampling_rate=500), sampling_rate=500)
        theirs = np.asarray(info["ECG_R_Peaks"])
        theirs = theirs[(theirs > 250) & (theirs < record.signal.shape[1] - 250)]
        ours = m.found.samples
        total += len(theirs)
        matched += sum(np.min(np.abs(ours - p)) <= 50 for p in theirs) if len(ours) else 0
    assert total > 100 and matched / total > 0.95


@pytest.mark.parametrize("folder", record_folders())
def test_every_real_record_is_measured_without_an_exception(folder):
    from ecgnet.folders import list_records

    rows = [measure_record(files) for files in list_records(folder)[:: 1 if folder == RECORDS else 5]]
    assert all(set(r) == set(COLUMNS) for r in rows)
    assert sum(r["quality"] != "failed" for r in rows) >= 0.9 * len(rows)


def test_wave_truth_is_what_the_generator_makes():
    """The generator's own truth: the clean limb leads' net QRS area points along qrs_axis."""
    truth = dataclasses.replace(WaveTruth(), noise=0.0, wander=0.0, mains=0.0, qrs_axis=-55.0)
    signal, onsets = truth_signal(truth, 1000, 3.0, np.random.default_rng(0))
    start = int(round(onsets[0] * 1000))
    areas = signal[[LEADS.index(lead) for lead in LIMB_LEADS], start : start + int(truth.qrs * 1000) + 1].sum(axis=1)
    assert angle_error(frontal_axis(areas), -55.0) < 0.5
