"""From a record's millivolt signal to network input: lead order, resampling, demographics,
training windows and inference views."""
import math
from fractions import Fraction

import numpy as np
from scipy import signal as sps

from .records import RecordError

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_LEAD_INDEX = {name.lower(): i for i, name in enumerate(LEADS)}
DEMOGRAPHICS = ("age/100", "age missing", "female", "male", "sex known")


def order_leads(signal, lead_names, path="<record>"):
    """Rows of `signal` rearranged into `LEADS` order by name (case-insensitive).

    Returns (signal, missing): leads the record lacks are zero rows and listed in `missing`.
    Unknown or repeated lead names are errors."""
    out = np.zeros((len(LEADS), signal.shape[1]), dtype=np.float32)
    seen = set()
    for row, name in enumerate(lead_names):
        index = _LEAD_INDEX.get(name.strip().lower())
        if index is None:
            raise RecordError(path, f"unknown lead name {name!r}; expected 12-lead names {', '.join(LEADS)}")
        if index in seen:
            raise RecordError(path, f"lead {name!r} appears more than once")
        seen.add(index)
        out[index] = signal[row]
    missing = tuple(LEADS[i] for i in range(len(LEADS)) if i not in seen)
    return out, missing


def resampling_ratio(from_rate, to_rate):
    """(up, down): the smallest integers with up / down = to_rate / from_rate (rates to 0.001 Hz)."""
    ratio = Fraction(round(to_rate * 1000), round(from_rate * 1000))
    return ratio.numerator, ratio.denominator


def resample(signal, from_rate, to_rate):
    """Resample every lead with a polyphase anti-aliasing filter (float32 out).

    Output length is ceil(n * to_rate / from_rate); the ends are extended linearly so that a
    baseline offset does not ring at the edges."""
    up, down = resampling_ratio(from_rate, to_rate)
    if up == down:
        return np.ascontiguousarray(signal, dtype=np.float32)
    out = sps.resample_poly(signal, up, down, axis=1, padtype="line")
    return np.ascontiguousarray(out, dtype=np.float32)


def prepare_signal(signal, lead_names, from_rate, to_rate, path="<record>"):
    """Millivolt signal in header lead order -> (12, n) float32 at `to_rate`, and missing leads."""
    ordered, missing = order_leads(signal, lead_names, path)
    return resample(ordered, from_rate, to_rate), missing


def demographics(age, sex):
    """The 5 demographic inputs: age/100 (0 if missing), age missing, female, male, sex known."""
    return np.array([
        0.0 if age is None else age / 100.0,
        1.0 if age is None else 0.0,
        1.0 if sex == "female" else 0.0,
        1.0 if sex == "male" else 0.0,
        0.0 if sex is None else 1.0,
    ], dtype=np.float32)


def training_window(length, window, rng):
    """Where a random training window of a record of `length` samples comes from.

    Returns (source_start, target_start, count): copy `count` samples from `source_start` of
    the record to `target_start` of a zero window. Longer records give a random crop, shorter
    ones sit at a random offset in the zero-padded window."""
    if length >= window:
        return int(rng.integers(0, length - window + 1)), 0, window
    return 0, int(rng.integers(0, window - length + 1)), length


def inference_views(length, window, overlap):
    """The (start, end) spans a record is classified on, as the published method does.

    The whole record is always one view. A record longer than `window` adds windows of
    `window` samples spaced evenly so that consecutive ones overlap by at least `overlap`,
    the last ending at the record's end; the first window is left out because the whole
    record stands in its place."""
    views = [(0, length)]
    if length > window:
        count = math.ceil((length - window) / (window - overlap)) + 1
        step = (length - window) // (count - 1)
        views += [(i * step, i * step + window) for i in range(1, count - 1)]
        views.append((length - window, length))
    return views
