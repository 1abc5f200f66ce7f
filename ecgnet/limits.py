"""What a record may declare (docs/data.md, "The limits"): checked before anything is allocated from it.

Challenge records are 257 to 1000 Hz, 12 leads, 6 s to 30 min; these limits leave wide room
while bounding the memory and time one record can cost.
"""

from .errors import RecordError

MAX_HEADER_BYTES = 64 * 1024
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 50.0, 10_000.0  # Hz
MAX_SAMPLES = 2_000_000  # per lead: 33 min at 1000 Hz
MAX_SECONDS = 3600.0
MAX_VALUES = 12 * MAX_SAMPLES  # leads x samples
MAX_MILLIVOLTS = 10_000.0  # |signal|; an ECG is a few mV
# Resampling from rate r to the model's rate uses a filter of about 20 x max(up, down) taps,
# where up/down is the ratio in lowest terms: 500 Hz to 257 Hz is 257/500, but 359.999 Hz is
# 257000/359999 (7 million taps, gigabytes). Every whole-number rate stays far below this.
MAX_RATIO_TERM = 100_000


def check_size(num_leads: int, num_samples: int, sample_rate: float, path: str) -> None:
    """Refuse a record larger than the limits, before anything of its size is allocated."""
    if num_samples > MAX_SAMPLES:
        raise RecordError(path, f"{num_samples} samples per lead is more than the limit of {MAX_SAMPLES}")
    if num_samples / sample_rate > MAX_SECONDS:
        raise RecordError(
            path, f"{num_samples} samples at {sample_rate:g} Hz last longer than the limit of {MAX_SECONDS / 60:g} min"
        )
    if num_leads * num_samples > MAX_VALUES:
        raise RecordError(
            path, f"{num_leads} leads x {num_samples} samples is more than the limit of {MAX_VALUES} values"
        )
