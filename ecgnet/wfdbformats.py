"""WFDB signal file formats: how many bytes a format's samples take, and the samples of bytes.

A native WFDB record keeps its samples in `.dat` files, each in one of the formats of WFDB's
signal(5) page, several signals interleaved frame by frame (one sample of each per frame).
Decoded here: 8 (8-bit first differences), 16 and 61 (16-bit two's complement, little- and
big-endian), 80 and 160 (8- and 16-bit offset binary), 24 and 32 (24- and 32-bit little-endian),
212 (two 12-bit samples in three bytes), 310 and 311 (three 10-bit samples in four bytes).
Every other format is refused by name (`format_of`): 0 (no samples stored) and the
FLAC-compressed 508, 516 and 524. This module only turns bytes into numbers; which files a
record reads, and their sizes against its header, are `datfiles`' work.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Format:
    code: str
    group_samples: int  # samples packed into one group of bytes
    group_bytes: int
    invalid: int | None  # the value WFDB writes for "no sample here", None where there is none
    # Packed formats: the bytes that the first r samples of a group need, r = 0, 1, ...
    partial_bytes: tuple[int, ...] = (0,)

    def byte_range(self, values: int) -> tuple[int, int]:
        """(fewest, most) bytes that hold `values` samples: a last group may be cut after its
        last sample or padded whole (WFDB writers pad 212, 310 and 311 to whole groups)."""
        groups, rest = divmod(values, self.group_samples)
        fewest = groups * self.group_bytes + self.partial_bytes[rest]
        return fewest, (groups + (rest > 0)) * self.group_bytes

    def values_in(self, size: int) -> int:
        """How many whole samples `size` bytes hold."""
        groups, rest = divmod(size, self.group_bytes)
        return groups * self.group_samples + max(r for r, need in enumerate(self.partial_bytes) if need <= rest)


FORMATS = {
    f.code: f
    for f in (
        Format("8", 1, 1, None),
        Format("16", 1, 2, -(2**15)),
        Format("61", 1, 2, -(2**15)),
        Format("80", 1, 1, -(2**7)),
        Format("160", 1, 2, -(2**15)),
        Format("24", 1, 3, -(2**23)),
        Format("32", 1, 4, -(2**31)),
        Format("212", 2, 3, -(2**11), (0, 2)),
        Format("310", 3, 4, -(2**9), (0, 2, 4)),
        Format("311", 3, 4, -(2**9), (0, 2, 3)),
    )
}
REFUSED = {
    "0": "stores no samples (a null signal)",
    "508": "is FLAC-compressed",
    "516": "is FLAC-compressed",
    "524": "is FLAC-compressed",
}


def format_of(code: str) -> Format | str:
    """The `Format` of a WFDB format code, or why it cannot be read (a sentence)."""
    if code in FORMATS:
        return FORMATS[code]
    supported = ", ".join(FORMATS)
    reason = REFUSED.get(code, "is not a WFDB signal format this reader knows")
    return f"format {code} {reason}; supported formats are {supported} (convert with WFDB's xform or wfdb.wrsamp)"


def _signed(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned `bits`-bit values as two's complement."""
    return values - ((values >> (bits - 1)) & 1) * (1 << bits)


def _unpack(data: np.ndarray, fmt: Format, count: int) -> np.ndarray:
    """The first `count` samples (int64) in `data` (uint8, at least enough bytes for them)."""
    if fmt.code == "8":
        return data[:count].view(np.int8).astype(np.int64)
    if fmt.code == "80":
        return data[:count].astype(np.int64) - 128
    if fmt.code in ("16", "61", "160"):
        dtype = {"16": "<i2", "61": ">i2", "160": "<u2"}[fmt.code]
        values = data[: 2 * count].view(dtype).astype(np.int64)
        return values - 32768 if fmt.code == "160" else values
    if fmt.code == "32":
        return data[: 4 * count].view("<i4").astype(np.int64)
    # Packed formats: whole groups, padding a part-filled last group with zero bytes.
    groups = -(-count // fmt.group_samples)
    raw = np.zeros(groups * fmt.group_bytes, dtype=np.uint8)
    available = min(len(data), len(raw))
    raw[:available] = data[:available]
    b = raw.reshape(groups, fmt.group_bytes).astype(np.int64)
    if fmt.code == "24":
        samples = _signed(b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16, 24)[:, None]
    elif fmt.code == "212":
        first = b[:, 0] | (b[:, 1] & 0x0F) << 8
        second = b[:, 2] | (b[:, 1] >> 4) << 8
        samples = _signed(np.stack([first, second], axis=1), 12)
    elif fmt.code == "310":
        # Two little-endian 16-bit words: bits 1-10 of each are samples 1 and 2; bits 11-15 of
        # the first and of the second are the low and high halves of sample 3.
        w0, w1 = b[:, 0] | b[:, 1] << 8, b[:, 2] | b[:, 3] << 8
        third = (w0 >> 11) | (w1 >> 11) << 5
        samples = _signed(np.stack([(w0 >> 1) & 0x3FF, (w1 >> 1) & 0x3FF, third], axis=1), 10)
    else:  # 311: one little-endian 32-bit word, samples in bits 0-9, 10-19 and 20-29
        word = b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16 | b[:, 3] << 24
        samples = _signed(np.stack([word & 0x3FF, (word >> 10) & 0x3FF, (word >> 20) & 0x3FF], axis=1), 10)
    return samples.reshape(-1)[:count]


def decode(data: bytes, fmt: Format, num_signals: int, num_frames: int, initial: list[int]) -> np.ndarray:
    """The samples (int64, frames x signals) of `num_frames` frames of `num_signals`
    interleaved signals in `data` (the file's bytes after its byte offset, at least
    `fmt.byte_range(num_frames * num_signals)[0]` of them). Format 8 stores differences:
    each signal starts from its `initial` value (WFDB: the first sample is the initial value
    plus the first difference). WFDB's invalid-sample value is left as it is."""
    count = num_frames * num_signals
    samples = _unpack(np.frombuffer(data, dtype=np.uint8), fmt, count).reshape(num_frames, num_signals)
    if fmt.code == "8":
        samples = np.cumsum(samples, axis=0) + np.asarray(initial, dtype=np.int64)
    return samples
