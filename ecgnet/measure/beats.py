"""Beats: R peaks found on a combination of all usable leads, then typed by QRS shape.

Detection follows the usual energy detector (Pan and Tompkins, IEEE TBME 1985, and its
multi-lead forms): each lead band-passed to the QRS band (5-25 Hz), its slope squared over its
median (so that clean leads count most), the leads summed with the largest at each sample
left out (an artefact in one lead makes no beat), smoothed over 100 ms. Peaks of that envelope
at least 200 ms apart (300 bpm at most) above a threshold set from the larger peaks are beats;
long gaps are searched again at half the threshold, and a peak within 360 ms of a beat at
under half its height is a T wave, as in Pan and Tompkins. Each beat's fiducial point is then
moved to the best match with the median QRS (cross-correlation, +-40 ms), so that the median
beat is not blurred by the envelope's jitter.

Typing: a beat is "dominant" when its QRS (+-60 ms) correlates with the median QRS (r >= 0.8,
the median over leads of each lead's correlation); the others (ventricular ectopics) stay in
the heart rate but not in the median beat, except an odd-shaped one that splits a regular RR
interval in two, which is an artefact and is dropped.
"""

from dataclasses import dataclass

import numpy as np

from .filters import bandpass, moving_average

QRS_BAND = (5.0, 25.0)
MIN_RR = 0.2  # s: 300 bpm
T_WAVE_SECONDS = 0.36
ENVELOPE_SECONDS = 0.1
ALIGN_SECONDS = 0.04
QRS_HALF_WIDTH = 0.06
DOMINANT_CORRELATION = 0.8


@dataclass
class Beats:
    """Fiducial sample of each beat (near the largest QRS slope), and which are dominant."""

    samples: np.ndarray  # int, ascending
    dominant: np.ndarray  # bool, same length
    correlation: np.ndarray  # each beat's QRS correlation with the median QRS


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the samples larger than the one before and at least the one after."""
    if len(x) < 3:
        return np.zeros(0, dtype=int)
    return np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1


def _separated(candidates: np.ndarray, heights: np.ndarray, distance: int) -> np.ndarray:
    """The candidates kept when the higher of two closer than `distance` samples wins (sorted)."""
    if not len(candidates):
        return candidates.astype(int)
    blocked = np.zeros(int(candidates.max()) + distance + 1, dtype=bool)
    kept = []
    for c in candidates[np.argsort(-heights, kind="stable")]:
        if not blocked[c]:
            kept.append(c)
            blocked[max(c - distance + 1, 0) : c + distance] = True
    return np.sort(np.array(kept, dtype=int))


def envelope(signal: np.ndarray, rate: float) -> np.ndarray:
    """The QRS energy envelope of (leads, n) millivolts: the detector's input."""
    band = bandpass(signal, rate, *QRS_BAND, order=2)
    slope = np.diff(band, axis=1, prepend=band[:, :1]) * rate
    # Each lead's slope over its median size: QRS stands far out of a clean lead and little out
    # of a noisy one, so the clean leads lead the sum whatever their amplitude.
    scale = np.median(np.abs(slope), axis=1, keepdims=True)
    energy = moving_average((slope / np.maximum(scale, 1e-6)) ** 2, int(round(ENVELOPE_SECONDS * rate)))
    # The largest lead at each sample is left out: an artefact in one lead cannot make a beat.
    if len(energy) >= 3:
        return energy.sum(axis=0) - energy.max(axis=0)
    return energy.sum(axis=0)


def detect(signal: np.ndarray, rate: float) -> np.ndarray:
    """R-peak fiducial samples (ascending) of (leads, n) millivolts."""
    env = envelope(signal, rate)
    candidates = _local_maxima(env)
    if not len(candidates):
        return candidates
    heights = env[candidates]
    # The threshold follows the larger peaks (the 90th percentile of the candidates above the
    # envelope's median), so a few huge artefacts or ectopics do not raise it for all.
    strong = heights[heights > np.median(env)]
    reference = np.percentile(strong, 90) if len(strong) else heights.max()
    distance = max(int(MIN_RR * rate), 1)
    peaks = _separated(candidates[heights >= 0.3 * reference], heights[heights >= 0.3 * reference], distance)
    peaks = _search_back(peaks, candidates, heights, 0.15 * reference, distance)
    return _without_t_waves(peaks, env, rate)


def _without_t_waves(peaks: np.ndarray, env: np.ndarray, rate: float) -> np.ndarray:
    """Peaks less than 360 ms after a kept one and under half its height dropped: T waves, as
    Pan and Tompkins tell them from QRS complexes."""
    kept: list[int] = []
    for p in peaks:
        if kept and p - kept[-1] < T_WAVE_SECONDS * rate and env[p] < 0.5 * env[kept[-1]]:
            continue
        kept.append(int(p))
    return np.array(kept, dtype=int)


def _search_back(peaks, candidates, heights, low_threshold, distance) -> np.ndarray:
    """Peaks plus, in each gap longer than 1.66 median RR, the highest candidate above
    `low_threshold` at least `distance` from its neighbours (repeated while gaps remain)."""
    for _ in range(8):
        if len(peaks) < 3:
            return peaks
        rr = np.diff(peaks)
        limit = 1.66 * np.median(rr)
        added = []
        for a, b in zip(peaks[:-1][rr > limit], peaks[1:][rr > limit]):
            inside = (candidates > a + distance) & (candidates < b - distance) & (heights >= low_threshold)
            if inside.any():
                added.append(candidates[inside][np.argmax(heights[inside])])
        if not added:
            return peaks
        peaks = np.sort(np.concatenate([peaks, added]))
    return peaks


def _qrs_segments(signal: np.ndarray, samples: np.ndarray, half: int) -> np.ndarray:
    """(beats, leads, 2 half + 1) windows around `samples`, edges padded with the end values."""
    padded = np.pad(signal, ((0, 0), (half, half)), mode="edge")
    offsets = np.arange(-half, half + 1)
    return padded[:, samples[:, None] + half + offsets].transpose(1, 0, 2)


def _correlations(segments: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Each beat's median over leads of its QRS correlation with the template's (an artefact in
    a few leads does not make a beat another shape)."""
    a = segments - segments.mean(axis=2, keepdims=True)
    b = template - template.mean(axis=1, keepdims=True)
    denominator = np.linalg.norm(a, axis=2) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denominator > 0, (a * b).sum(axis=2) / np.maximum(denominator, 1e-30), 0.0)
    return np.median(r, axis=1)


def align(signal: np.ndarray, rate: float, samples: np.ndarray) -> np.ndarray:
    """Fiducial samples moved (at most +-40 ms) to each beat's best match with the median QRS."""
    half, shift = int(round(QRS_HALF_WIDTH * rate)), int(round(ALIGN_SECONDS * rate))
    if len(samples) < 2 or half < 1:
        return samples
    template = np.median(_qrs_segments(signal, samples, half), axis=0)
    wide = _qrs_segments(signal, samples, half + shift)  # (beats, leads, 2 (half + shift) + 1)
    best = np.zeros(len(samples), dtype=int)
    scores = np.full(len(samples), -np.inf)
    for s in range(-shift, shift + 1):
        window = wide[:, :, shift + s : shift + s + 2 * half + 1]
        score = (window * template).sum(axis=(1, 2))
        better = score > scores
        scores[better], best[better] = score[better], s
    return np.clip(samples + best, 0, signal.shape[1] - 1)


def classify(signal: np.ndarray, rate: float, samples: np.ndarray) -> Beats:
    """Beats at `samples` typed by their QRS correlation with the median QRS."""
    half = max(int(round(QRS_HALF_WIDTH * rate)), 1)
    if not len(samples):
        return Beats(samples, np.zeros(0, dtype=bool), np.zeros(0))
    segments = _qrs_segments(signal, samples, half)
    correlation = _correlations(segments, np.median(segments, axis=0))
    dominant = correlation >= DOMINANT_CORRELATION
    if dominant.sum() >= 2:  # once more, against the median of the dominant beats only
        correlation = _correlations(segments, np.median(segments[dominant], axis=0))
        dominant = correlation >= DOMINANT_CORRELATION
    return Beats(samples, dominant, correlation)


def without_artefacts(beats: Beats) -> Beats:
    """`beats` less the odd-shaped ones that split one regular RR interval in two (an artefact
    between two beats; an ectopic beat comes early and is followed by a pause, so stays)."""
    s = beats.samples
    if len(s) < 4:
        return beats
    rr = np.median(np.diff(s))
    keep = np.ones(len(s), dtype=bool)
    for i in range(1, len(s) - 1):
        joined = s[i + 1] - s[i - 1]
        if not beats.dominant[i] and abs(joined - rr) < 0.15 * rr:
            keep[i] = False
    return Beats(s[keep], beats.dominant[keep], beats.correlation[keep])


def find_beats(signal: np.ndarray, rate: float) -> Beats:
    """Detected, aligned and typed beats of (leads, n) millivolts (the usable leads only)."""
    samples = detect(signal, rate)
    qrs = bandpass(signal, rate, 0.5, 40.0)
    samples = np.unique(align(qrs, rate, samples))
    return without_artefacts(classify(qrs, rate, samples))
