"""The signal drawn on a review sheet: the first 10 s of a record (filtered past the window), a
known misstated gain corrected, a zero-phase high-pass against baseline wander."""

import numpy as np

from ..errors import RecordError, first_line
from ..matfiles import load_signal  # noqa: F401  (kit re-exports it)
from ..preprocess import order_leads
from ..records import record_signal

WINDOW_SECONDS = 10.0
FILTER_PAD_SECONDS = 5.0  # filtered past the window so its end has no filter transient
MISSTATED_GAINS = {4880.0: 1000.0, 200.0: 1000.0}  # stated gain -> gain of the same samples


def gain_correction(header):
    """(factor to multiply the stated-gain millivolts by, note) for a known misstated gain."""
    gains = {lead.gain for lead in header.leads}
    if len(gains) == 1 and gains <= MISSTATED_GAINS.keys():
        stated = gains.pop()
        return stated / MISSTATED_GAINS[stated], f"stated {stated:g}/mV drawn as {MISSTATED_GAINS[stated]:g}/mV"
    return 1.0, None


def high_pass(signal, rate):
    """Zero-phase 0.67 Hz high-pass: removes baseline wander without shifting ST segments."""
    from scipy import signal as sps

    from .sheet import HIGH_PASS_HZ

    if signal.shape[1] <= 15:  # too short for the filter's padding: draw as recorded
        return signal
    sos = sps.butter(2, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos")
    return sps.sosfiltfilt(sos, signal, axis=1)


def seconds_text(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def window_text(seconds):
    if seconds > WINDOW_SECONDS + 1e-6:
        return f"first {seconds_text(WINDOW_SECONDS)} s of {seconds_text(seconds)} s"
    if seconds < WINDOW_SECONDS - 1e-6:
        return f"whole record, {seconds_text(seconds)} s (the rest of the {seconds_text(WINDOW_SECONDS)} s is blank)"
    return f"whole record, {seconds_text(seconds)} s"


def sheet_signal(record):
    """(12 x n millivolts in LEADS order: the window and its last sample, missing leads,
    window text, gain note) of a record."""
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
    keep = min(total, int(round((WINDOW_SECONDS + FILTER_PAD_SECONDS) * rate)))
    signal, missing = order_leads(signal[:, :keep] * factor, header.lead_names, header.path)
    drawn = high_pass(signal, rate)[:, : int(round(WINDOW_SECONDS * rate)) + 1]
    return drawn, missing, window_text(total / rate), note
