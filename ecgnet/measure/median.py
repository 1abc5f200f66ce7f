"""The median beat: each lead's sample-by-sample median over the dominant beats, aligned on
their fiducial points, as 12-lead machines form their representative beat (GE 12SL, Philips
DXL and Glasgow use a median or an average; a median ignores a stray artefact in a few beats).

The window reaches far enough before the fiducial point for the P wave of a long PR interval
and far enough after it for the T wave of a long QT, but less at fast rates, where it would
run into the neighbouring beats: before, 0.7 RR between 0.25 and 0.5 s; after, 0.95 RR
between 0.35 and 0.7 s. A beat near the record's ends adds the part of its window that lies
inside the record; a sample needs at least half the beats (and two) to count.
"""

import warnings
from dataclasses import dataclass

import numpy as np

MIN_BEATS = 2


@dataclass
class MedianBeat:
    waves: np.ndarray  # (leads, length) mV; NaN where too few beats reach
    fiducial: int  # sample of `waves` at the beats' fiducial point
    rate: float
    count: int  # beats in the median
    spread: np.ndarray  # (leads, length) robust spread of the beats about the median (1.4826 MAD), mV


def window(rr: float) -> tuple[float, float]:
    """(seconds before, seconds after) the fiducial point for a median RR of `rr` seconds."""
    return float(np.clip(0.7 * rr, 0.25, 0.5)), float(np.clip(0.95 * rr, 0.35, 0.7))


def median_beat(signals: tuple[np.ndarray, ...], rate: float, samples: np.ndarray, rr: float) -> list[MedianBeat]:
    """The median beat of each (leads, n) signal in `signals` (same beats and window for all)."""
    before, after = window(rr)
    offsets = np.arange(-int(round(before * rate)), int(round(after * rate)) + 1)
    n = signals[0].shape[1]
    index = samples[:, None] + offsets[None, :]
    inside = (index >= 0) & (index < n)
    enough = inside.sum(axis=0) >= max(MIN_BEATS, (len(samples) + 1) // 2)
    full = inside.all(axis=0)  # samples every beat reaches: a plain median, much quicker than nanmedian
    partial = enough & ~full
    out = []
    for signal in signals:
        stack = signal[:, np.clip(index, 0, n - 1)]  # (leads, beats, length)
        waves = np.full((signal.shape[0], len(offsets)), np.nan)
        spread = np.full_like(waves, np.nan)
        waves[:, full] = np.median(stack[:, :, full], axis=1)
        spread[:, full] = 1.4826 * np.median(np.abs(stack[:, :, full] - waves[:, None, full]), axis=1)
        if partial.any():
            edge = np.where(inside[None][:, :, partial], stack[:, :, partial], np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                waves[:, partial] = np.nanmedian(edge, axis=1)
                spread[:, partial] = 1.4826 * np.nanmedian(np.abs(edge - waves[:, None, partial]), axis=1)
        out.append(MedianBeat(waves, int(-offsets[0]), rate, len(samples), spread))
    return out
