"""Zero-phase filters in NumPy, by the FFT: the measurements run where the driver runs, which
never imports `scipy.signal` (50 MiB and about 2 s of every start; see `ecgnet.resampling`).

Each filter multiplies the spectrum by the squared magnitude of a Butterworth response, as
`filtfilt` of that Butterworth filter would (no phase shift: waves keep their timing against
each other). The ends are extended by odd reflection before the transform, so that a baseline
offset or slope does not wrap around and ring.
"""

import numpy as np


def _padded_spectrum(x: np.ndarray, pad: int) -> tuple[np.ndarray, int]:
    """(rfft of each row extended by `pad` samples of odd reflection at both ends, its length)."""
    n = x.shape[-1]
    pad = min(pad, n - 1)
    if pad > 0:
        head = 2 * x[..., :1] - x[..., pad:0:-1]
        tail = 2 * x[..., -1:] - x[..., -2 : -pad - 2 : -1]
        x = np.concatenate([head, x, tail], axis=-1)
    length = _fast_length(x.shape[-1])
    return np.fft.rfft(x, length, axis=-1), pad


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: an FFT length NumPy transforms quickly."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def butterworth_gain(frequencies: np.ndarray, low: float, high: float, order: int) -> np.ndarray:
    """|H|^2 of a Butterworth band-pass (high-pass where `high` is 0, low-pass where `low` is 0):
    what a forward-backward pass of the filter of this order applies."""
    gain = np.ones_like(frequencies)
    if low > 0:
        with np.errstate(divide="ignore"):
            gain = gain / (1 + (low / np.maximum(frequencies, 1e-12)) ** (2 * order))
    if high > 0:
        gain = gain / (1 + (frequencies / high) ** (2 * order))
    return gain**2


def bandpass(x: np.ndarray, rate: float, low: float = 0.0, high: float = 0.0, order: int = 2) -> np.ndarray:
    """Rows of `x` zero-phase filtered between `low` and `high` Hz (0: no such edge); float64 out."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n < 3 or (low <= 0 and high <= 0):
        return x.copy()
    # Odd reflection of about two periods of the lowest edge (at most the record) keeps the ends clean.
    pad = int(min(n - 1, max(2.0 / low if low > 0 else 0.2, 0.2) * rate))
    spectrum, pad = _padded_spectrum(x, pad)
    length = 2 * (spectrum.shape[-1] - 1)
    frequencies = np.fft.rfftfreq(length, 1.0 / rate)
    filtered = np.fft.irfft(spectrum * butterworth_gain(frequencies, low, high, order), length, axis=-1)
    return filtered[..., pad : pad + n]


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of the last axis over `width` samples (edges: the mean of what is there)."""
    width = max(int(width), 1)
    if width == 1:
        return np.asarray(x, dtype=np.float64).copy()
    cumulative = np.cumsum(np.pad(np.asarray(x, dtype=np.float64), [(0, 0)] * (x.ndim - 1) + [(1, 0)]), axis=-1)
    n = x.shape[-1]
    index = np.arange(n)
    lo = np.clip(index - width // 2, 0, n)
    hi = np.clip(index + (width - width // 2), 0, n)
    return (cumulative[..., hi] - cumulative[..., lo]) / (hi - lo)
