"""Wave boundaries on the median beats, placed once for all leads together, as 12-lead machines
place them (the global onsets and offsets of GE 12SL, Philips DXL and Glasgow): QRS onset is
the earliest and QRS offset the latest activity in any lead, so that a wave seen late in one
lead is not cut short by another where it is isoelectric.

The leads used are the eight independent ones (I, II, V1-V6; the other four limb leads are
combinations of I and II and would count those twice), or those of them present.

- QRS (on the median beats low-passed at 50 Hz): the spatial velocity (the length of the vector
  of the leads' slopes) rises above a threshold (7% of its peak above its floor, at least 4
  times the floor's spread) and stays there, gaps of up to 20 ms bridged (an R apex, where one
  lead's slope changes sign), around the fiducial point; onset and offset are where it crosses
  the threshold, interpolated.
- P (low-passed at 25 Hz): the largest bump of the spatial magnitude (the length of the vector
  of the leads' deviations from the straight line joining the end of the previous T wave and
  the PQ junction) between the previous beat's T end and QRS onset, present when it stands out
  from the beats' spread there (a P wave seen in each beat, not f waves or noise, which the
  median flattens) and rises and falls inside the window; its onset and offset are where the
  magnitude crosses 5% of the bump's height above its base on that side (the 20th percentile
  of the magnitude within 100 ms of the peak: the noise's typical level, not its deepest dip).
- T end (low-passed at 25 Hz): the tangent at the steepest descent of the spatial magnitude after the T peak, to
  where it meets the level the magnitude falls to after the T wave (the tangent method, as a
  clinician draws it with a ruler).
"""

from dataclasses import dataclass, field

import numpy as np

from .filters import bandpass
from .median import MedianBeat

SPATIAL_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
QRS_FRACTION = 0.07
QRS_LOWPASS_HZ = 50.0
QRS_FLOOR_SPREADS = 4.0
QRS_GAP_SECONDS = 0.02
P_FRACTION = 0.05
P_MIN_MV = 0.025
P_HALF_SECONDS = 0.1
P_BASE_PERCENTILE = 20.0
P_SPREAD_RATIO = 1.5
T_MIN_MV = 0.05


@dataclass
class Boundaries:
    """Wave boundaries, in samples of the median beat (fractional); None where not found."""

    qrs_on: float | None = None
    qrs_off: float | None = None
    p_on: float | None = None
    p_off: float | None = None
    t_peak: float | None = None
    t_end: float | None = None
    reasons: list[str] = field(default_factory=list)

    def qrs(self) -> tuple[float, float]:
        """(onset, offset) of a QRS that was found (they are found together)."""
        assert self.qrs_on is not None and self.qrs_off is not None, "no QRS found"
        return self.qrs_on, self.qrs_off

    def p(self) -> tuple[float, float]:
        """(onset, offset) of a P wave that was found (they are found together)."""
        assert self.p_on is not None and self.p_off is not None, "no P wave found"
        return self.p_on, self.p_off


def _crossing(x: np.ndarray, i: int, j: int, level: float) -> float:
    """Fractional position between samples i and j (adjacent) where x crosses `level`."""
    a, b = x[i], x[j]
    if a == b:
        return float(j)
    return float(i + (j - i) * np.clip((level - a) / (b - a), 0.0, 1.0))


def _spatial_velocity(waves: np.ndarray, rate: float) -> np.ndarray:
    """mV/s: the length of the vector of the leads' slopes at each sample."""
    return np.sqrt(((np.gradient(waves, axis=1) * rate) ** 2).sum(axis=0))


def qrs_boundaries(waves: np.ndarray, fiducial: int, rate: float) -> tuple[float, float] | None:
    """(QRS onset, offset) on (leads, length) median beats; None when no QRS stands out."""
    velocity = _spatial_velocity(waves, rate)
    valid = np.isfinite(velocity)
    if not valid[fiducial]:
        return None
    lo, hi = max(fiducial - int(0.2 * rate), 0), min(fiducial + int(0.25 * rate), len(velocity) - 1)
    near = slice(max(fiducial - int(0.06 * rate), 0), min(fiducial + int(0.06 * rate), len(velocity) - 1) + 1)
    peak = np.nanmax(velocity[near])
    floor_values = velocity[valid]
    floor = np.percentile(floor_values, 10)
    spread = np.percentile(floor_values, 25) - np.percentile(floor_values, 5)
    level = max(floor + QRS_FRACTION * (peak - floor), floor + QRS_FLOOR_SPREADS * spread)
    if peak <= level:
        return None
    active = np.nan_to_num(velocity, nan=0.0) > level
    gap = int(round(QRS_GAP_SECONDS * rate))
    start = int(near.start + np.argmax(velocity[near]))
    on = start
    while on > lo:  # walk back over the active run, bridging short gaps
        if active[on - 1]:
            on -= 1
            continue
        back = np.flatnonzero(active[max(on - 1 - gap, lo) : on - 1])
        if not len(back):
            break
        on = max(on - 1 - gap, lo) + int(back[-1])
    off = start
    while off < hi:
        if active[off + 1]:
            off += 1
            continue
        ahead = np.flatnonzero(active[off + 2 : min(off + 2 + gap, hi + 1)])
        if not len(ahead):
            break
        off = off + 2 + int(ahead[0])
    if on <= lo or off >= hi:
        return None
    return _crossing(velocity, on - 1, on, level), _crossing(velocity, off, off + 1, level)


def _magnitude(waves: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.sqrt(((waves - reference[:, None]) ** 2).sum(axis=0))


def _largest_bump(magnitude: np.ndarray, floor: float) -> int | None:
    """The highest local maximum that falls back by half its height above `floor` on both sides
    inside `magnitude` (a wave, not the rise into QRS at the end or the tail of T at the start)."""
    best = None
    for i in np.flatnonzero((magnitude[1:-1] > magnitude[:-2]) & (magnitude[1:-1] >= magnitude[2:])) + 1:
        half = floor + 0.5 * (magnitude[i] - floor)
        if (magnitude[:i] < half).any() and (magnitude[i:] < half).any():
            if best is None or magnitude[i] > magnitude[best]:
                best = int(i)
    return best


def p_boundaries(
    waves: np.ndarray, spread: np.ndarray, qrs_on: float, start: int, rate: float
) -> tuple[float, float] | str:
    """(P onset, offset) before `qrs_on` (search from sample `start`), or why there is none."""
    end = int(np.floor(qrs_on)) - max(int(round(0.01 * rate)), 1)
    if end - start < int(0.06 * rate) or not np.isfinite(waves[:, start : end + 1]).all():
        return "no P waves (too little signal between T and QRS)"
    segment = waves[:, start : end + 1]
    # Deviations from the straight line joining the window's first 10 ms and the PQ junction:
    # what is left of the T wave before, or a drifting baseline, does not make a P wave.
    head = segment[:, : max(int(0.01 * rate), 1)].mean(axis=1)
    line = head[:, None] + (segment[:, -1] - head)[:, None] * np.linspace(0.0, 1.0, segment.shape[1])
    magnitude = np.sqrt(((segment - line) ** 2).sum(axis=0))
    floor = float(np.percentile(magnitude, 20))
    top = _largest_bump(magnitude, floor)
    if top is None:
        return "no P waves (none rises and falls between T and QRS)"
    height = magnitude[top] - floor
    noise = float(np.sqrt(np.nanmean(spread[:, start : end + 1] ** 2) * waves.shape[0]))
    if height < P_MIN_MV or height < P_SPREAD_RATIO * noise:
        return "no P waves"
    # Each side's base is measured within P_HALF_SECONDS of the peak: a baseline that drifts
    # before or after the P wave does not stretch it.
    reach = int(round(P_HALF_SECONDS * rate))
    left = max(top - reach, 0)
    before, after = magnitude[left:top], magnitude[top : top + reach + 1]
    base_on, base_off = np.percentile(before, P_BASE_PERCENTILE), np.percentile(after, P_BASE_PERCENTILE)
    level_on = base_on + P_FRACTION * (magnitude[top] - base_on)
    level_off = base_off + P_FRACTION * (magnitude[top] - base_off)
    below_on, below_off = np.flatnonzero(before < level_on), np.flatnonzero(after < level_off)
    if not len(below_on) or not len(below_off):
        return "no P waves (none rises and falls between T and QRS)"
    on, off = left + int(below_on[-1]), top + int(below_off[0])
    return start + _crossing(magnitude, on, on + 1, level_on), start + _crossing(magnitude, off - 1, off, level_off)


def t_end(waves: np.ndarray, qrs_on: float, qrs_off: float, stop: int, rate: float) -> tuple[float, float] | str:
    """(T peak, T end) after `qrs_off` (up to sample `stop`), or why there is none."""
    begin = int(np.ceil(qrs_off)) + int(round(0.06 * rate))
    stop = min(stop, waves.shape[1] - 1)
    if stop - begin < int(0.1 * rate) or not np.isfinite(waves[:, begin : stop + 1]).all():
        return "no T wave (too little signal after QRS)"
    junction = waves[:, max(int(np.floor(qrs_on)) - max(int(round(0.01 * rate)), 1), 0)]
    magnitude = _magnitude(waves[:, begin : stop + 1], junction)
    peak = int(np.argmax(magnitude[: max(int(0.45 * rate), 2)]))  # the T peak lies within 450 ms of ST
    floor = float(np.percentile(magnitude[peak:], 10))
    if magnitude[peak] - floor < T_MIN_MV:
        return "flat T waves"
    # The T wave's own descent: up to where it has fallen by 80% (the next P wave lies beyond).
    fallen = np.flatnonzero(magnitude[peak:] < floor + 0.2 * (magnitude[peak] - floor))
    if not len(fallen):
        return "no T end (T wave runs into the next beat)"
    slope = np.gradient(magnitude)
    descent = peak + int(np.argmin(slope[peak : peak + int(fallen[0]) + 1]))
    if slope[descent] >= 0:
        return "no T end (no falling T slope)"
    end = descent + (magnitude[descent] - floor) / -slope[descent]
    if end > len(magnitude) - 1:
        return "no T end (T wave runs into the next beat)"
    return begin + peak, begin + end


def delineate(median: MedianBeat, leads: tuple[str, ...], rr: float) -> Boundaries:
    """The boundaries of `median` (leads named by `leads`) for a median RR of `rr` seconds."""
    rate = median.rate
    rows = [i for i, lead in enumerate(leads) if lead in SPATIAL_LEADS]
    waves = bandpass(np.nan_to_num(median.waves), rate, 0.0, QRS_LOWPASS_HZ)[rows]
    waves[~np.isfinite(median.waves[rows])] = np.nan
    found = Boundaries()
    qrs = qrs_boundaries(waves, median.fiducial, rate)
    if qrs is None:
        found.reasons.append("no QRS stands out on the median beat")
        return found
    found.qrs_on, found.qrs_off = qrs
    smooth = bandpass(np.nan_to_num(median.waves), rate, 0.0, 25.0)[rows]
    smooth[~np.isfinite(median.waves[rows])] = np.nan
    stop = median.fiducial + int(round(min(0.7, 0.95 * rr - 0.05) * rate))
    t = t_end(smooth, found.qrs_on, found.qrs_off, stop, rate)
    if isinstance(t, str):
        found.reasons.append(t)
        start = median.fiducial - int(round(min(0.5, 0.6 * rr) * rate))
    else:
        found.t_peak, found.t_end = t
        # The P wave comes after the previous beat's T wave, which ended one RR before this one's.
        start = max(median.fiducial - int(round(0.5 * rate)), int(np.ceil(found.t_end - rr * rate + 0.02 * rate)))
    start = max(start, int(np.argmax(np.isfinite(smooth).all(axis=0))), 0)
    p = p_boundaries(smooth, median.spread[rows], found.qrs_on, start, rate)
    if isinstance(p, str):
        found.reasons.append(p)
    else:
        found.p_on, found.p_off = p
    return found
