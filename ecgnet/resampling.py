"""Polyphase resampling by a rational factor up/down, in NumPy: the result of
`scipy.signal.resample_poly(x, up, down, axis=1, padtype="line")` (to about 1e-12 in float64).

Why not scipy's: importing `scipy.signal` imports most of SciPy (stats, optimize,
interpolate), 50 MiB and about 2 s of every driver start, for one function.

The method is scipy's: a linear-phase low-pass FIR filter of 20 * max(up, down) + 1 taps,
cutoff 1 / max(up, down) of the Nyquist rate, Kaiser window (beta 5), scaled to unit DC gain
times `up`; the signal is extended at both ends along the line through its first and last
samples (so that a baseline offset does not ring at the edges); output sample i is the
filter centred on up-sampled position i * down, which keeps the signal's timing.
"""

import functools
import math

import numpy as np

# Values gathered at a time (outputs x taps x leads): bounds memory on long records.
_BLOCK_VALUES = 1 << 21


@functools.lru_cache(maxsize=8)
def _polyphase_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """(filter, half length): the windowed-sinc low-pass of `resample_poly`, times `up`."""
    rate = max(up, down)
    half = 10 * rate
    cutoff = 1.0 / rate
    positions = np.arange(2 * half + 1, dtype=np.float64) - half
    h = cutoff * np.sinc(cutoff * positions) * np.kaiser(2 * half + 1, 5.0)
    return h * (up / h.sum()), half


def output_length(length: int, up: int, down: int) -> int:
    """ceil(length * up / down): the number of samples `resample_poly` returns."""
    return -(-length * up // down)


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Each row of `x` (rows x samples) resampled by up/down; float64 out. A single sample has
    no line through two points: like scipy's, the result is then not finite."""
    divisor = math.gcd(up, down)
    up, down = up // divisor, down // divisor
    x = np.asarray(x, dtype=np.float64)
    if up == down == 1:
        return x.copy()
    length = x.shape[1]
    h, half = _polyphase_filter(up, down)
    taps = len(h) // up + 1  # input samples under the filter for any output
    # Extend by `taps` samples at each end along the line through the first and last samples.
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (x[:, -1:] - x[:, :1]) / (length - 1)
    steps = np.arange(1, taps + 1, dtype=np.float64)
    extended = np.concatenate([x[:, :1] - slope * steps[::-1], x, x[:, -1:] + slope * steps], axis=1)
    padded_h = np.concatenate([h, np.zeros(taps * up - len(h) + up)])
    windows = np.lib.stride_tricks.sliding_window_view(extended, taps, axis=1)  # windows[:, s, k] = extended[:, s + k]
    out = np.empty((x.shape[0], output_length(length, up, down)))
    block = max(1, _BLOCK_VALUES // (taps * x.shape[0]))
    for start in range(0, out.shape[1], block):
        # Output i sums h[centre - j * up] * x[j] over input samples j, centre = half + i * down:
        # the last input sample under the filter is centre // up, then one every `up` taps back;
        # in `extended` (offset by `taps`) they are the window starting after that sample, reversed.
        centre = half + np.arange(start, min(start + block, out.shape[1])) * down
        last = centre // up
        tap = (centre - last * up)[:, None] + np.arange(taps - 1, -1, -1) * up
        out[:, start : start + len(centre)] = np.einsum("rot,ot->ro", windows[:, last + 1], padded_h[tap])
    return out
