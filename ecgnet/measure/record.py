"""A record's signal -> its measurements row: `measure(signal, rate, missing) -> Measurement`.

The steps (each in its own module): leads without signal set aside and missing limb leads
derived (`quality`, `ecgnet.preprocess.complete_limb_leads`); beats found on all usable leads
together (`beats`); a median beat per lead over the dominant beats (`median`); wave
boundaries placed across leads (`delineate`); axes from the limb leads' net areas (`axes`).
Nothing here raises for a bad signal: what cannot be measured is None, and `reason` says why.
"""

from dataclasses import dataclass, field

import numpy as np

from ..preprocess import LEADS, complete_limb_leads
from . import quality
from .axes import LIMB_LEADS, frontal_axis, net_areas
from .beats import Beats, find_beats
from .delineate import Boundaries, delineate
from .filters import bandpass
from .median import MedianBeat, median_beat

COLUMNS = (
    "record",
    "heart_rate_bpm",
    "rr_sd_ms",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
    "qrs_amp_limb_mv",
    "qrs_amp_precordial_mv",
    "beats",
    "quality",
    "reason",
)
VALUES = COLUMNS[1:13]  # the measured numbers
# Decimals each value is written with (and rounded to before any criterion reads it).
DECIMALS = {"heart_rate_bpm": 1, "qrs_amp_limb_mv": 3, "qrs_amp_precordial_mv": 3}
PRECORDIAL_LEADS = LEADS[6:]
MIN_SECONDS = 1.5  # shorter records hold too few beats for a rate or a median beat
MAX_SECONDS = 300.0  # longer records are measured on their first 5 minutes
MIN_BEATS = 3
MAX_MEDIAN_BEATS = 120  # beats in a median beat at most
MIN_RATE, MAX_RATE = 20.0, 300.0  # bpm: outside, the "beats" are not heart beats
MIN_CORRELATION = 0.5  # median QRS correlation below which the beats are noise, not one rhythm
JUNCTION_SECONDS = 0.01  # the PQ junction, the isoelectric reference, lies this far before QRS onset


@dataclass
class Measurement:
    """One record's measurements: `values` by column (None: not measured), beats, quality and
    the reasons for every blank or doubt."""

    values: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(VALUES))
    beats: int = 0
    quality: str = "failed"
    reasons: list[str] = field(default_factory=list)
    # For drawing and checking, not written: the beats, the median beats and their boundaries.
    found: Beats | None = None
    median: MedianBeat | None = None
    boundaries: Boundaries | None = None

    def row(self, record: str = "") -> dict[str, object]:
        """The CSV row: values rounded as written, blanks as None."""
        out: dict[str, object] = {"record": record}
        for name in VALUES:
            value = self.values[name]
            out[name] = None if value is None else round(value, DECIMALS.get(name, 0)) + 0.0
        out.update(beats=self.beats, quality=self.quality, reason="; ".join(dict.fromkeys(self.reasons)))
        return out


def _failed(reason: str, beats: int = 0) -> Measurement:
    return Measurement(beats=beats, quality="failed", reasons=[reason])


def measure(signal: np.ndarray, rate: float, missing: tuple[str, ...] = ()) -> Measurement:
    """Measurements of a (12, n) millivolt signal in `LEADS` order at `rate` Hz; `missing`
    names leads the record lacks (their rows are ignored). Never raises for a bad signal."""
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 2 or signal.shape[0] != len(LEADS):
        return _failed(f"signal of shape {signal.shape}, not 12 leads x samples")
    if not np.isfinite(signal).all():
        return _failed("signal holds values that are not finite")
    if not rate > 0 or signal.shape[1] < MIN_SECONDS * rate:
        return _failed(f"record of {signal.shape[1] / rate if rate > 0 else 0:.2g} s: too short to measure")
    if signal.shape[1] > MAX_SECONDS * rate:  # a long recording: its first minutes, in bounded time
        out = _measure(signal[:, : int(MAX_SECONDS * rate)], float(rate), tuple(missing))
        out.reasons.append(f"first {MAX_SECONDS:g} s of {signal.shape[1] / rate:.0f} s measured")
        return out
    return _measure(signal, float(rate), tuple(missing))


def _usable(signal: np.ndarray, rate: float, missing: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...], list]:
    """(high-passed signal with missing limb leads derived, leads still without signal, reasons)."""
    reasons = []
    high = bandpass(signal, rate, 0.5, 0.0)
    flat = quality.flat_leads(high)
    absent = tuple(lead for lead, f in zip(LEADS, flat) if f or lead in missing)
    recorded_flat = [lead for lead, f in zip(LEADS, flat) if f and lead not in missing]
    if recorded_flat:
        reasons.append(f"no signal in {', '.join(recorded_flat)}")
    clipped = [lead for lead, c in zip(LEADS, quality.clipped_leads(signal)) if c and lead not in absent]
    if clipped:
        reasons.append(f"clipped {', '.join(clipped)}")
    high, still = complete_limb_leads(high, absent)
    return high, still, reasons


def _measure(signal: np.ndarray, rate: float, missing: tuple[str, ...]) -> Measurement:
    high, absent, reasons = _usable(signal, rate, missing)
    rows = [i for i, lead in enumerate(LEADS) if lead not in absent]
    if not rows:
        return _failed("no lead holds a signal (flat or missing)")
    at = quality.spikes(high[rows], rate)
    if len(at):
        high = quality.remove_spikes(high, at, rate)
    found = find_beats(high[rows], rate)
    count = len(found.samples)
    if count < MIN_BEATS:
        return _failed(f"{count} beats in {signal.shape[1] / rate:.1f} s: too few to measure", count)
    rr = np.diff(found.samples) / rate
    rate_bpm = 60.0 / rr.mean()
    if not MIN_RATE <= rate_bpm <= MAX_RATE or np.median(found.correlation) < MIN_CORRELATION:
        return _failed("no consistent beats (noise or artefact)", count)
    out = Measurement(beats=count, quality="ok", reasons=reasons, found=found)
    out.values["heart_rate_bpm"] = rate_bpm
    normal = found.dominant[1:] & found.dominant[:-1]
    if normal.sum() >= 2:
        out.values["rr_sd_ms"] = 1000.0 * float(np.std(rr[normal], ddof=1))
    else:
        out.reasons.append("too few consecutive dominant beats for RR variability")
    is_paced = quality.paced(at, found.samples, rate)
    if is_paced:
        out.reasons.append("pacemaker spikes: PR and P axis not measured")
    dominant = found.samples[found.dominant]
    if len(dominant) > MAX_MEDIAN_BEATS:  # a long record: beats spread over it are as good and far quicker
        dominant = dominant[np.linspace(0, len(dominant) - 1, MAX_MEDIAN_BEATS).round().astype(int)]
    if len(dominant) < MIN_BEATS:
        out.reasons.append(f"{len(dominant)} beats of the dominant shape: no median beat")
        out.quality = "noisy"
        return out
    (median,) = median_beat((high,), rate, dominant, float(np.median(rr)))
    out.median = median
    out.boundaries = delineate(median, LEADS, float(np.median(rr)))
    _fill(out, median, out.boundaries, absent, 60.0 / rate_bpm, is_paced)
    return out


def _fill(out: Measurement, median: MedianBeat, b: Boundaries, absent: tuple[str, ...], rr: float, paced: bool) -> None:
    """Intervals, axes, amplitudes and quality from the boundaries of the median beat."""
    rate, waves, v = median.rate, median.waves, out.values
    out.reasons += b.reasons
    if b.qrs_on is None:
        out.quality = "noisy"
        return
    ms = 1000.0 / rate
    qrs_on, qrs_off = b.qrs()
    v["qrs_ms"] = (qrs_off - qrs_on) * ms
    if b.p_on is not None and not paced:
        v["pr_ms"] = (b.qrs_on - b.p_on) * ms
    if b.t_end is not None:
        qt = (b.t_end - b.qrs_on) * ms
        v["qt_ms"], v["qtc_bazett_ms"], v["qtc_fridericia_ms"] = qt, qt / np.sqrt(rr), qt / np.cbrt(rr)
    junction = _level(waves, qrs_on - JUNCTION_SECONDS * rate)
    limb = [LEADS.index(lead) for lead in LIMB_LEADS]
    if any(lead in absent for lead in LIMB_LEADS):
        out.reasons.append("limb leads missing: no axes or limb voltage")
    else:
        _axes(out, waves[limb], junction[limb], b, rate, paced)
        v["qrs_amp_limb_mv"] = _peak_to_peak(waves[limb], b)
    if any(lead in absent for lead in PRECORDIAL_LEADS):
        out.reasons.append("precordial leads missing: no precordial voltage")
    else:
        v["qrs_amp_precordial_mv"] = _peak_to_peak(waves[[LEADS.index(lead) for lead in PRECORDIAL_LEADS]], b)
    noise = _noise(median, b, absent)
    if noise > quality.NOISY_MV or any(r.startswith("clipped") for r in out.reasons):
        out.quality = "noisy"
        out.reasons.append(f"noisy: beats spread {noise:.2f} mV about the median beat")


def _level(waves: np.ndarray, at: float) -> np.ndarray:
    """Each lead's value at fractional sample `at` (the nearest valid one)."""
    i = int(np.clip(round(at), 0, waves.shape[1] - 1))
    return np.nan_to_num(waves[:, i])


def _axes(out: Measurement, limb: np.ndarray, junction: np.ndarray, b: Boundaries, rate: float, paced: bool) -> None:
    v = out.values
    qrs_on, qrs_off = b.qrs()
    v["qrs_axis_deg"] = frontal_axis(net_areas(limb, qrs_on, qrs_off, junction, rate))
    if v["qrs_axis_deg"] is None:
        out.reasons.append("QRS axis indeterminate (net limb-lead areas near zero)")
    if b.p_on is not None and not paced:
        p_on, p_off = b.p()
        v["p_axis_deg"] = frontal_axis(net_areas(limb, p_on, p_off, _level(limb, p_on), rate))
        if v["p_axis_deg"] is None:
            out.reasons.append("P axis indeterminate")
    if b.t_end is not None:
        v["t_axis_deg"] = frontal_axis(net_areas(limb, qrs_off, b.t_end, junction, rate))
        if v["t_axis_deg"] is None:
            out.reasons.append("T axis indeterminate")


def _peak_to_peak(waves: np.ndarray, b: Boundaries) -> float:
    """The largest QRS peak-to-peak amplitude (mV) among `waves`, between QRS onset and offset."""
    qrs_on, qrs_off = b.qrs()
    segment = waves[:, int(np.floor(qrs_on)) : int(np.ceil(qrs_off)) + 1]
    return float(np.nanmax(np.nanmax(segment, axis=1) - np.nanmin(segment, axis=1)))


def _noise(median: MedianBeat, b: Boundaries, absent: tuple[str, ...]) -> float:
    """mV: the beats' typical spread about the median beat outside QRS, over the leads present."""
    rows = [i for i, lead in enumerate(LEADS) if lead not in absent]
    keep = np.ones(median.waves.shape[1], dtype=bool)
    margin = int(0.02 * median.rate)
    qrs_on, qrs_off = b.qrs()
    keep[max(int(qrs_on) - margin, 0) : int(np.ceil(qrs_off)) + margin] = False
    spread = median.spread[rows][:, keep]
    return float(np.nanmedian(spread)) if np.isfinite(spread).any() else 0.0
