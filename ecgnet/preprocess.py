"""From a record's millivolt signal to network input: lead order, resampling, demographics,
training windows and inference views, and the conditioning of every span the network sees."""

import functools
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from .config import Config
from .errors import RecordError
from .resampling import resample_poly

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
NUM_LEADS = len(LEADS)
_LEAD_INDEX = {name.lower(): i for i, name in enumerate(LEADS)}
DEMOGRAPHICS = ("age/100", "age missing", "female", "male", "sex known")
# Einthoven's and Goldberger's laws: each limb lead (rows, in LEADS order) as a combination of
# I and II, e.g. III = II - I and aVR = -(I + II) / 2. Any two independent limb leads give all six.
_LIMB_FROM_I_II = np.array([[1, 0], [0, 1], [-1, 1], [-0.5, -0.5], [1, -0.5], [-0.5, 1]], dtype=np.float32)


# Butterworth order of `Config.bandpass` per pass: filtfilt runs it forward and backward, so the
# magnitude response is squared and the phase cancels (no shift of waves against each other).
BANDPASS_ORDER = 4
# Per-lead standard deviation (mV) below which `standardise` divides by this instead: a flat or
# disconnected lead (a few uV of quantisation noise) stays near zero rather than becoming noise
# of unit variance.
STD_FLOOR = 0.01


class ReducedLeadsWarning(UserWarning):
    """Records lack some of the 12 leads the network was trained on."""


def order_leads(
    signal: np.ndarray, lead_names: Sequence[str], path: str = "<record>"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Rows of `signal` rearranged into `LEADS` order by name (case-insensitive).

    Returns (signal, missing): leads the record lacks are zero rows and listed in `missing`.
    Unknown or repeated lead names are errors."""
    out = np.zeros((NUM_LEADS, signal.shape[1]), dtype=np.float32)
    seen = set()
    for row, name in enumerate(lead_names):
        index = _LEAD_INDEX.get(name.strip().lower())
        if index is None:
            raise RecordError(path, f"unknown lead name {name!r}; expected 12-lead names {', '.join(LEADS)}")
        if index in seen:
            raise RecordError(path, f"lead {name!r} appears more than once")
        seen.add(index)
        out[index] = signal[row]
    missing = tuple(LEADS[i] for i in range(NUM_LEADS) if i not in seen)
    return out, missing


def complete_limb_leads(signal: np.ndarray, missing: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fill the missing limb leads of a (12, n) signal in `LEADS` order from the limb leads present.

    Every 2021 reduced-lead set (6: limb leads; 4: I, II, III, V2; 3: I, II, V2; 2: I, II) has
    two independent limb leads, so all six are recovered as the recording device derives them
    (on the sample records to about 1 uV). Returns (signal, leads still missing: the precordial
    ones, which stay zero)."""
    absent = _derivable_limb_leads(missing)
    if not absent:
        return signal, missing
    present = [i for i in range(len(_LIMB_FROM_I_II)) if LEADS[i] not in missing]
    i_and_ii = np.linalg.pinv(_LIMB_FROM_I_II[present]) @ signal[present]
    signal[absent] = _LIMB_FROM_I_II[absent] @ i_and_ii
    return signal, tuple(lead for lead in missing if LEADS.index(lead) not in absent)


def _derivable_limb_leads(missing: tuple[str, ...]) -> list[int]:
    """Rows of the missing limb leads that `complete_limb_leads` derives: all of them where two
    independent limb leads are present, else none."""
    limb = range(len(_LIMB_FROM_I_II))
    present = [i for i in limb if LEADS[i] not in missing]
    absent = [i for i in limb if LEADS[i] in missing]
    if not absent or len(present) < 2 or np.linalg.matrix_rank(_LIMB_FROM_I_II[present]) < 2:
        return []
    return absent


def reduced_leads_message(missing: tuple[str, ...]) -> str:
    """What the 12-lead network is given for records lacking the leads `missing` (a
    `ReducedLeadsWarning`'s text)."""
    derived = [LEADS[i] for i in _derivable_limb_leads(missing)]
    still_missing = [lead for lead in missing if lead not in derived]
    present = [lead for lead in LEADS if lead not in missing]
    done = [f"{', '.join(derived)} derived from the limb leads present"] if derived else []
    done += [f"{', '.join(still_missing)} set to zero"] if still_missing else []
    return (
        f"records with leads {', '.join(present)}: the network was trained on 12 leads; "
        f"{'; '.join(done)}; outputs may be less reliable than with 12 leads"
    )


def resampling_ratio(from_rate: float, to_rate: float) -> tuple[int, int]:
    """(up, down): the smallest integers with up / down = to_rate / from_rate (rates to 0.001 Hz)."""
    ratio = Fraction(round(to_rate * 1000), round(from_rate * 1000))
    return ratio.numerator, ratio.denominator


def resample(signal: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Resample every lead with a polyphase anti-aliasing filter (float32 out; `resampling`).

    Output length is ceil(n * to_rate / from_rate); the ends are extended linearly so that a
    baseline offset does not ring at the edges."""
    up, down = resampling_ratio(from_rate, to_rate)
    if up == down:
        return np.ascontiguousarray(signal, dtype=np.float32)
    return resample_poly(signal, up, down).astype(np.float32)


def prepare_signal(
    signal: np.ndarray, lead_names: Sequence[str], from_rate: float, to_rate: float, path: str = "<record>"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Millivolt signal in header lead order -> (12, n) float32 at `to_rate`, and the leads the
    record lacks. Missing limb leads are derived from the others (`complete_limb_leads`), missing
    precordial leads are zero (the classifier warns once per lead set: `reduced_leads_message`)."""
    ordered, missing = order_leads(signal, lead_names, path)
    if missing:
        ordered, _ = complete_limb_leads(ordered, missing)
    return resample(ordered, from_rate, to_rate), missing


def demographics(age: float | None, sex: str | None) -> np.ndarray:
    """The 5 demographic inputs: age/100 (0 if missing), age missing, female, male, sex known."""
    return np.array(
        [
            0.0 if age is None else age / 100.0,
            1.0 if age is None else 0.0,
            1.0 if sex == "female" else 0.0,
            1.0 if sex == "male" else 0.0,
            0.0 if sex is None else 1.0,
        ],
        dtype=np.float32,
    )


def training_window(length: int, window: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """Where a random training window of a record of `length` samples comes from.

    Returns (source_start, target_start, count): copy `count` samples from `source_start` of
    the record to `target_start` of a zero window. Longer records give a random crop, shorter
    ones sit at a random offset in the zero-padded window."""
    if length >= window:
        return int(rng.integers(0, length - window + 1)), 0, window
    return 0, int(rng.integers(0, window - length + 1)), length


def inference_views(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
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


def condition(span: np.ndarray, config: Config) -> np.ndarray:
    """A (12, n) span at `config.sample_rate` as the network sees it: band-passed
    (`config.bandpass`), then standardised per lead (`config.standardise`). Training windows (their
    record's part, not the padding) and inference views go through here alike; with both off the
    span itself comes back, untouched."""
    if config.bandpass:
        span = bandpass(span, bandpass_sections(*config.bandpass, config.sample_rate))
    if config.standardise:
        span = standardise(span)
    return span


@functools.lru_cache(maxsize=16)
def bandpass_sections(low: float, high: float, rate: float) -> np.ndarray:
    """Second-order sections of the Butterworth band-pass (a low-pass where `low` is 0), designed
    once per setting and process."""
    from scipy import signal as sps  # here, not at import: the driver of a model without band-pass never needs it

    if low > 0:
        return sps.butter(BANDPASS_ORDER, (low, high), btype="bandpass", fs=rate, output="sos")
    return sps.butter(BANDPASS_ORDER, high, btype="lowpass", fs=rate, output="sos")


def bandpass(span: np.ndarray, sections: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of every lead (float32 out). The ends are extended by odd reflection,
    as scipy does by default, but never by more than the span minus one sample: a short span (a
    record of a few samples) is filtered with what it has rather than refused."""
    from scipy import signal as sps

    padlen = min(3 * (2 * len(sections) + 1), span.shape[1] - 1)
    return sps.sosfiltfilt(sections, span, axis=1, padlen=padlen).astype(np.float32)


def standardise(span: np.ndarray) -> np.ndarray:
    """Each lead minus its mean, over its standard deviation (at least `STD_FLOOR`), so that an
    all-zero lead, a missing one, stays zero."""
    centred = span - span.mean(axis=1, keepdims=True)
    return (centred / np.maximum(centred.std(axis=1, keepdims=True), STD_FLOOR)).astype(np.float32)
