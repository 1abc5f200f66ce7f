"""Signal checks before measuring: leads without signal, clipped leads, pacemaker spikes, and
the noise left on the median beat. Each finding becomes part of the record's `reason`."""

import numpy as np

FLAT_MV = 0.02  # a lead whose 0.5-99.5 percentile range after high-pass is below this holds no ECG
CLIPPED_SHARE = 0.005  # share of a lead's samples at its exact extreme value that marks clipping
SPIKE_MV = 1.0  # second difference of a pacemaker spike (mV per sample^2), in two leads at once
MIN_SPIKE_RATE = 400.0  # Hz: below this a spike of under a millisecond is smoothed away
NOISY_MV = 0.06  # beats' median spread about the median beat (outside QRS) that marks a record noisy


def flat_leads(signal: np.ndarray) -> np.ndarray:
    """Boolean per lead: no ECG there (a missing or disconnected lead)."""
    low, high = np.percentile(signal, [0.5, 99.5], axis=1)
    return (high - low) < FLAT_MV


def clipped_leads(raw: np.ndarray) -> np.ndarray:
    """Boolean per lead: many samples sit at the lead's exact maximum or minimum (saturation)."""
    n = raw.shape[1]
    at_top = (raw == raw.max(axis=1, keepdims=True)).sum(axis=1)
    at_bottom = (raw == raw.min(axis=1, keepdims=True)).sum(axis=1)
    limit = max(5, CLIPPED_SHARE * n)
    return ((at_top >= limit) | (at_bottom >= limit)) & (raw.max(axis=1) > raw.min(axis=1))


def spikes(signal: np.ndarray, rate: float) -> np.ndarray:
    """Samples where pacemaker-like spikes are (two leads or more at once, a few ms apart at
    most); empty below MIN_SPIKE_RATE."""
    if rate < MIN_SPIKE_RATE or signal.shape[1] < 3:
        return np.zeros(0, dtype=int)
    curvature = np.abs(signal[:, 2:] - 2 * signal[:, 1:-1] + signal[:, :-2])
    hits = (curvature > SPIKE_MV).sum(axis=0) >= min(2, signal.shape[0])
    return np.flatnonzero(hits) + 1


def remove_spikes(signal: np.ndarray, at: np.ndarray, rate: float) -> np.ndarray:
    """`signal` with +-2 ms around each spike sample replaced by a straight line."""
    out = signal.copy()
    half = max(int(round(0.002 * rate)), 1)
    n = signal.shape[1]
    for s in at:
        a, b = max(s - half, 0), min(s + half, n - 1)
        out[:, a : b + 1] = np.linspace(out[:, a], out[:, b], b - a + 1, axis=1)
    return out


def paced(spike_samples: np.ndarray, beat_samples: np.ndarray, rate: float) -> bool:
    """Whether spikes precede at least half the beats (within 300 ms of their fiducial point)."""
    if not len(spike_samples) or not len(beat_samples):
        return False
    window = int(0.3 * rate)
    led = [np.any((spike_samples < b) & (spike_samples >= b - window)) for b in beat_samples]
    return float(np.mean(led)) >= 0.5
