"""The signal drawn on a review sheet: 10 s windows of a record from its start (filtered past
the last window), a known misstated gain corrected, a zero-phase high-pass against baseline
wander."""

from dataclasses import dataclass

import numpy as np

from ..errors import RecordError, first_line
from ..headers import misstated_gain
from ..preprocess import order_leads
from ..records import record_signal
from .blinding import WINDOW_SECONDS

FILTER_PAD_SECONDS = 5.0  # filtered past the window so its end has no filter transient
MAX_WINDOWS = 30  # --windows: at most 5 minutes of one record


@dataclass
class Drawn:
    """What the sheets of one record show: `windows` is [(start s, stop s, (12, n) millivolts
    in LEADS order from the window's first sample)], `missing` the leads not recorded, `seconds`
    the record's length, `note` a gain correction (coordinator only) or None."""

    windows: list
    missing: tuple
    seconds: float
    note: str | None


def gain_correction(header):
    """(factor to multiply the stated-gain millivolts by, note) for a known misstated gain."""
    gains = misstated_gain(header)
    if gains:
        stated, true = gains
        return stated / true, f"stated {stated:g}/mV drawn as {true:g}/mV"
    return 1.0, None


def high_pass(signal, rate):
    """Zero-phase 0.67 Hz high-pass: removes baseline wander without shifting ST segments."""
    from scipy import signal as sps

    from .sheet import HIGH_PASS_HZ

    if signal.shape[1] <= 15:  # too short for the filter's padding: draw as recorded
        return signal
    sos = sps.butter(2, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos")
    return sps.sosfiltfilt(sos, signal, axis=1)


def window_starts(seconds: float, count: int) -> list[float]:
    """Start times of up to `count` 10 s windows of a record of `seconds`: consecutive from 0,
    the last one ending at the record's end when a part shorter than 10 s remains."""
    starts = [0.0]
    while len(starts) < count and starts[-1] + WINDOW_SECONDS < seconds - 1e-6:
        starts.append(min(starts[-1] + WINDOW_SECONDS, seconds - WINDOW_SECONDS))
    return starts


def sheet_signal(record, windows: int = 1) -> Drawn:
    """The `Drawn` windows of a record (at most `windows`)."""
    header = record.header
    try:
        signal = record_signal(header, record.files).astype(np.float64)
    except RecordError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged file fails its record only
        path = header.path if header.is_native else record.files.mat_path
        raise RecordError(path, f"reading it failed ({type(e).__name__}: {first_line(e)})") from e
    factor, note = gain_correction(header)
    rate, total = header.sample_rate, signal.shape[1]
    starts = window_starts(total / rate, windows)
    keep = min(total, int(round((starts[-1] + WINDOW_SECONDS + FILTER_PAD_SECONDS) * rate)))
    signal, missing = order_leads(signal[:, :keep] * factor, header.lead_names, header.path)
    filtered = high_pass(signal, rate)
    shown = []
    for start in starts:
        first = int(round(start * rate))
        part = filtered[:, first : first + int(round(WINDOW_SECONDS * rate)) + 1]
        shown.append((start, min(start + WINDOW_SECONDS, total / rate), part))
    return Drawn(shown, missing, total / rate, note)
