"""Synthetic 12-lead ECG records in the challenge's file format, for the demo and the tests.

Each record is a train of beats built from Gaussian P, Q, R, S and T waves with per-lead
amplitudes, plus baseline wander, mains hum and noise. The label set decides the rhythm
(normal sinus, sinus bradycardia, sinus tachycardia or atrial fibrillation) and may add a
first-degree AV block, a bundle branch block and premature ventricular beats, each with the
shape a clinician would look for, so that a network has real features to learn. Records are
written exactly like challenge records: a WFDB header and a MATLAB v4 `val` matrix of int16.
"""

import os
from dataclasses import dataclass

import numpy as np
import scipy.io

from .csvfiles import Problems, read_table, write_table
from .files import atomic_file, atomic_write
from .labels import CLASSES, encode
from .preprocess import LEADS

SINUS_RHYTHM, SINUS_BRADYCARDIA, SINUS_TACHYCARDIA, ATRIAL_FIBRILLATION = (
    "426783006",
    "426177001",
    "427084000",
    "164889003",
)
FIRST_DEGREE_AV_BLOCK, RBBB, LBBB, PVC = "270492004", "59118001", "164909002", "427172004"
RHYTHMS = (SINUS_RHYTHM, SINUS_BRADYCARDIA, SINUS_TACHYCARDIA, ATRIAL_FIBRILLATION)
HEART_RATE = {
    SINUS_RHYTHM: (62, 95),
    SINUS_BRADYCARDIA: (42, 56),
    SINUS_TACHYCARDIA: (108, 150),
    ATRIAL_FIBRILLATION: (70, 130),
}

# Typical wave amplitudes (mV) per lead, in LEADS order.
_P = np.array([0.10, 0.15, 0.05, -0.10, 0.04, 0.10, 0.06, 0.08, 0.08, 0.08, 0.08, 0.07])
_R = np.array([0.80, 1.20, 0.50, -0.90, 0.30, 0.80, 0.30, 0.60, 1.00, 1.40, 1.30, 1.00])
_S = np.array([-0.2, -0.2, -0.2, 0.20, -0.2, -0.2, -1.2, -1.5, -0.8, -0.4, -0.2, -0.1])
_T = np.array([0.25, 0.30, 0.10, -0.25, 0.10, 0.20, 0.10, 0.30, 0.40, 0.40, 0.35, 0.30])
_V1, _V2, _V5, _V6, _LEAD_I = 6, 7, 10, 11, 0


def _gauss(t, center, width):
    return np.exp(-0.5 * ((t - center) / width) ** 2)


def _beat(fs, scale, qrs_width=0.025, pr=0.16, p_wave=True, rbbb=False, lbbb=False):
    """One beat (12 x samples), R peak at 0.3 s into the template."""
    t = np.arange(int(0.9 * fs)) / fs - 0.3
    r, s, tw = _R * scale, _S * scale, _T * scale
    beat = np.outer(r, _gauss(t, 0.0, qrs_width)) + np.outer(s, _gauss(t, 1.6 * qrs_width, qrs_width))
    beat -= np.outer(0.1 * np.abs(r), _gauss(t, -1.6 * qrs_width, 0.6 * qrs_width))  # Q
    if p_wave:
        beat += np.outer(_P * scale, _gauss(t, -pr, 0.025))
    t_amplitude = tw.copy()
    if rbbb:  # late R' in V1-V2, slurred late S in I and V5-V6
        late = np.zeros(12)
        late[[_V1, _V2]] = 0.7
        late[[_LEAD_I, _V5, _V6]] = -0.35
        beat += np.outer(late * scale, _gauss(t, 0.07, 0.025))
    if lbbb:  # deep broad S in V1-V2, notched broad R and inverted T in I and V5-V6
        beat[[_V1, _V2]] -= np.outer([1.2, 1.2], _gauss(t, 0.04, 0.035))
        notch = np.zeros(12)
        notch[[_LEAD_I, _V5, _V6]] = 0.7
        beat += np.outer(notch * scale, _gauss(t, 0.05, 0.03))
        t_amplitude[[_LEAD_I, _V5, _V6]] *= -1
    beat += np.outer(t_amplitude, _gauss(t, 0.28 + 2 * qrs_width, 0.06))
    return beat


def _pvc_beat(fs, scale, rng):
    t = np.arange(int(0.9 * fs)) / fs - 0.3
    polarity = rng.choice([-1.0, 1.0]) * np.sign(_R + 0.01)
    beat = np.outer(1.6 * polarity * np.abs(_R) * scale, _gauss(t, 0.0, 0.06))
    beat -= np.outer(0.5 * polarity * np.abs(_T) * scale, _gauss(t, 0.3, 0.08))
    return beat


def make_signal(labels, fs=500, seconds=10.0, rng=None):
    """A (12, n) float32 millivolt signal showing the rhythm and findings in `labels`."""
    rng = rng or np.random.default_rng()
    labels = set(labels)
    rhythm = next((r for r in RHYTHMS if r in labels), SINUS_RHYTHM)
    n = int(round(seconds * fs))
    scale = rng.uniform(0.7, 1.3, 12)
    af = rhythm == ATRIAL_FIBRILLATION
    width = 0.05 if (RBBB in labels or LBBB in labels) else 0.025
    normal = _beat(
        fs,
        scale,
        width,
        pr=0.28 if FIRST_DEGREE_AV_BLOCK in labels else rng.uniform(0.13, 0.18),
        p_wave=not af,
        rbbb=RBBB in labels,
        lbbb=LBBB in labels,
    )
    premature = _pvc_beat(fs, scale, rng)
    rr = 60.0 / rng.uniform(*HEART_RATE[rhythm])
    signal = np.zeros((12, n + 3 * normal.shape[1]))
    time, offset = rng.uniform(0, rr), int(0.3 * fs)
    while time < seconds + 0.6:
        beat = normal
        if PVC in labels and rng.random() < 0.15:
            time -= 0.35 * rr
            beat = premature
        start = int(time * fs) + normal.shape[1] - offset
        signal[:, start : start + beat.shape[1]] += beat
        time += rr * (rng.uniform(0.6, 1.4) if af else rng.uniform(0.97, 1.03)) * (1.35 if beat is premature else 1.0)
    signal = signal[:, normal.shape[1] : normal.shape[1] + n]
    t = np.arange(n) / fs
    if af:
        signal += 0.05 * np.sin(2 * np.pi * rng.uniform(5, 8) * t + rng.uniform(0, 6.3, (12, 1)))
    signal += rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3, (12, 1)))
    signal += 0.01 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 0.015, (12, n))
    return signal.astype(np.float32)


def random_labels(rng):
    """A plausible label set: one rhythm, maybe an AV block, a bundle branch block, PVCs."""
    labels = [RHYTHMS[rng.choice(4, p=[0.4, 0.2, 0.2, 0.2])]]
    conduction = rng.choice(4, p=[0.55, 0.15, 0.15, 0.15])
    if conduction == 1 and labels[0] != ATRIAL_FIBRILLATION:
        labels.append(FIRST_DEGREE_AV_BLOCK)
    elif conduction == 2:
        labels.append(RBBB)
    elif conduction == 3:
        labels.append(LBBB)
    if rng.random() < 0.15:
        labels.append(PVC)
    return labels


def write_record(folder, name, signal_mv, fs, age=None, sex=None, dx=(), gain=1000.0, lead_names=LEADS):
    """Write NAME.hea and NAME.mat as the challenge does (int16 ADC values, gain per mV)."""
    val = np.clip(np.round(np.asarray(signal_mv, dtype=np.float64) * gain), -32768, 32767).astype(np.int16)
    with atomic_file(os.path.join(folder, name + ".mat"), binary=True) as f:
        scipy.io.savemat(f, {"val": val}, format="4")
    lines = [f"{name} {val.shape[0]} {fs} {val.shape[1]}"]
    for lead, row in zip(lead_names, val):
        checksum = int(row.astype(np.int64).sum() % 65536)
        checksum = checksum - 65536 if checksum >= 32768 else checksum
        lines.append(f"{name}.mat 16+24 {gain:g}/mV 16 0 {int(row[0]) if row.size else 0} {checksum} 0 {lead}")
    lines += [
        f"#Age: {'NaN' if age is None else age}",
        f"#Sex: {sex or 'Unknown'}",
        f"#Dx: {','.join(dx)}",
        "#Rx: Unknown",
        "#Hx: Unknown",
        "#Sx: Unknown",
    ]
    atomic_write(os.path.join(folder, name + ".hea"), "\n".join(lines) + "\n")


# The classes the generator draws (codes as written in headers), the cells `label_noise` flips.
SYNTHETIC_CLASSES = RHYTHMS + (FIRST_DEGREE_AV_BLOCK, RBBB, LBBB, PVC)
TRUE_LABELS_FILE = "true_labels.csv"


def make_dataset(folder, count, seed=0, fs=500, seconds=(8.0, 12.0), prefix="SYN", start=1, label_noise=0.0):
    """Write `count` random synthetic records into `folder`; returns their names.

    label_noise: the fraction of (record, class) labels over SYNTHETIC_CLASSES flipped in the
    headers' #Dx (exactly round(label_noise x count x 8) cells, drawn at random from a stream of
    their own, so the signals and the clean labels are those of label_noise=0). The signals
    always show the clean labels, which are then written to FOLDER/true_labels.csv
    (`record,<24 class codes in ecgnet.labels.CLASSES order>`, 0/1; rows of other records
    already in the file are kept). With label_noise=0 no such file is written."""
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be a fraction from 0 to 1, not {label_noise!r}")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    flips = np.zeros((count, len(SYNTHETIC_CLASSES)), dtype=bool)
    if label_noise > 0:
        cells = np.random.default_rng((seed, 1)).choice(flips.size, round(label_noise * flips.size), replace=False)
        flips.flat[cells] = True
    names, truth = [], []
    for row, number in enumerate(range(start, start + count)):
        labels = random_labels(rng)
        name = f"{prefix}{number:05d}"
        duration = rng.uniform(*seconds) if isinstance(seconds, tuple) else seconds
        flipped = {SYNTHETIC_CLASSES[k] for k in np.flatnonzero(flips[row])}
        given = [c for c in labels if c not in flipped] + [c for c in SYNTHETIC_CLASSES if c in flipped - set(labels)]
        write_record(
            folder,
            name,
            make_signal(labels, fs, duration, rng),
            fs,
            age=int(rng.integers(18, 90)),
            sex=rng.choice(["Male", "Female"]),
            dx=given,
        )
        names.append(name)
        truth.append(labels)
    if label_noise > 0:
        _write_true_labels(os.path.join(folder, TRUE_LABELS_FILE), names, truth)
    return names


def _write_true_labels(path, names, truth):
    """Add (or replace) these records' rows in the true-labels file, through a temporary file."""
    rows = read_true_labels(path) if os.path.exists(path) else {}
    for name, labels in zip(names, truth):
        rows[name] = encode(labels)
    write_table(path, ("record", *CLASSES), ([name, *map(int, rows[name])] for name in sorted(rows)))


def read_true_labels(path):
    """{record: (24,) 0/1 array, CLASSES order} of a synthetic folder's true_labels.csv."""
    table = read_table(path, "true-labels file", ("record", *CLASSES))
    problems = Problems(path)
    for row in table.rows:
        for code in CLASSES:
            if row[code] not in ("0", "1"):
                problems.value(row.number, code, row[code], "0 or 1")
    problems.raise_any()
    return {row["record"]: np.array([int(row[c]) for c in CLASSES]) for row in table.rows}


MIN_RATE = 100  # Hz: the generator's waves need a few samples each


# ---------------------------------------------------------------------------------------------
# Records with known measurements: the truth of the measurement benchmark and tests


@dataclass(frozen=True)
class WaveTruth:
    """What a known-truth record is made with: every wave starts and ends at a known sample.

    Intervals in seconds (PR from P onset to QRS onset, QT from QRS onset to T end), frontal
    axes in degrees (the direction of the wave's net area vector), amplitudes in mV."""

    heart_rate: float = 70.0
    pr: float = 0.16
    qrs: float = 0.09
    qt: float = 0.38
    p_axis: float = 50.0
    qrs_axis: float = 40.0
    t_axis: float = 40.0
    p_duration: float = 0.1
    t_duration: float = 0.2
    p_amplitude: float = 0.15
    r_amplitude: float = 1.2
    t_amplitude: float = 0.35
    sharpness: float = 2.0  # each wave is sin(pi u)^sharpness over its span: 1 has a kink at its ends
    rr_jitter: float = 0.02  # beat-to-beat RR variation (uniform, +- this share)
    noise: float = 0.01  # mV, white noise
    wander: float = 0.1  # mV, baseline wander
    mains: float = 0.01  # mV, 50 Hz


# Lead vectors (x to the left, y downward, z forward): limb leads from I and II by Einthoven and
# Goldberger, precordial leads in the horizontal plane from V1 (right, forward) to V6 (left).
_PRECORDIAL_ANGLES = np.radians([115.0, 95.0, 75.0, 55.0, 30.0, 0.0])
_PRECORDIAL = np.stack([np.cos(_PRECORDIAL_ANGLES), np.full(6, 0.2), np.sin(_PRECORDIAL_ANGLES)], axis=1)


def _leads_from_vector(vector: np.ndarray) -> np.ndarray:
    """(12, n) leads of a (3, n) heart vector (x left, y down, z forward), LEADS order."""
    lead_i = vector[0]
    lead_ii = 0.5 * vector[0] + np.sqrt(3) / 2 * vector[1]
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    return np.vstack([np.stack(limb), _PRECORDIAL @ vector])


def _lobe(t: np.ndarray, start: float, end: float, sharpness: float, skew: float = 1.0) -> np.ndarray:
    """sin(pi u)^sharpness on [start, end] (u warped by u^skew: skew > 1 rises slowly, falls fast)."""
    u = np.clip((t - start) / (end - start), 0.0, 1.0) ** skew
    return np.where((t > start) & (t < end), np.sin(np.pi * u) ** sharpness, 0.0)


def _direction(angle: float, forward: float = 0.0) -> np.ndarray:
    a = np.radians(angle)
    return np.array([np.cos(a), np.sin(a), forward])


def _beat_vector(t: np.ndarray, truth: WaveTruth, rng: np.random.Generator) -> np.ndarray:
    """(3, n) heart vector of one beat whose QRS starts at t = 0."""
    s = truth.sharpness
    vector = np.outer(
        _direction(truth.p_axis, 0.1) * truth.p_amplitude, _lobe(t, -truth.pr, -truth.pr + truth.p_duration, s)
    )
    # Q, R and S lobes one after another; the whole loop is then turned in the frontal plane so
    # that its net area points along the wanted axis.
    split = np.cumsum([0.0, 0.15, 0.45, 0.40]) * truth.qrs
    angles = truth.qrs_axis + np.array([180.0 + rng.uniform(-40, 40), rng.uniform(-25, 25), rng.uniform(120, 240)])
    sizes = truth.r_amplitude * np.array([rng.uniform(0.05, 0.2), 1.0, rng.uniform(0.2, 0.6)])
    lobes = [
        np.outer(_direction(a, f) * m, _lobe(t, split[k], split[k + 1], s))
        for k, (a, f, m) in enumerate(zip(angles, (0.3, -0.5, 0.6), sizes))
    ]
    qrs = lobes[0] + lobes[1] + lobes[2]
    area = qrs[:2].sum(axis=1)
    turn = np.radians(truth.qrs_axis) - np.arctan2(area[1], area[0])
    rotation = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1]])
    vector += rotation @ qrs
    t_start = truth.qt - truth.t_duration
    vector += np.outer(_direction(truth.t_axis, -0.2) * truth.t_amplitude, _lobe(t, t_start, truth.qt, s, skew=0.8))
    return vector


def truth_signal(truth: WaveTruth, fs: float = 500, seconds: float = 10.0, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """((12, n) float32 millivolts, QRS onset times in seconds) of a record made of `truth`'s beat.

    Every beat is the same (its waves start and end exactly where `truth` says); the RR
    intervals vary by +-`rr_jitter` around 60 / heart_rate (the true rate is 60 over the mean
    RR of the onsets in the record); noise, baseline wander and 50 Hz hum are added."""
    rng = rng or np.random.default_rng()
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    rr = 60.0 / truth.heart_rate
    times = []
    time = -rr + rng.uniform(0, rr)
    while time < seconds + rr:
        times.append(time)
        time += rr * rng.uniform(1 - truth.rr_jitter, 1 + truth.rr_jitter)
    onsets = np.array(times)
    vector = np.zeros((3, n))
    span = np.arange(-int(0.6 * fs), int((truth.qt + 0.1) * fs))
    template = _beat_vector(span / fs, truth, rng)
    starts = np.round(onsets * fs).astype(int)  # each beat on the sample grid: onsets exact
    for start in starts:
        index = start + span
        inside = (index >= 0) & (index < n)
        vector[:, index[inside]] += template[:, inside]
    signal = _leads_from_vector(vector)
    signal += truth.wander * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3, (12, 1)))
    signal += truth.mains * np.sin(2 * np.pi * 50 * t) + rng.normal(0, truth.noise, (12, n))
    onsets = starts / fs
    return signal.astype(np.float32), onsets[(onsets >= 0) & (onsets < seconds)]


def random_truth(rng: np.random.Generator) -> WaveTruth:
    """A sinus beat with rate, PR, QRS, QT, axes, wave shapes and noise drawn over the adult
    range (QT follows the rate as Bazett's 400 ms at 60 bpm, +-10-15%)."""
    rate = rng.uniform(45, 130)
    qrs = rng.uniform(0.07, 0.16)
    qt = 0.4 * np.sqrt(60 / rate) * rng.uniform(0.9, 1.15)
    return WaveTruth(
        heart_rate=rate,
        pr=rng.uniform(0.12, 0.3),
        qrs=qrs,
        qt=qt,
        t_duration=min(0.22, qt - qrs - 0.05),
        p_axis=rng.uniform(0, 80),
        qrs_axis=rng.uniform(-90, 180),
        t_axis=rng.uniform(-20, 90),
        sharpness=rng.uniform(1, 3),
        noise=rng.uniform(0, 0.03),
    )
