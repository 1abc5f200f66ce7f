"""Decoded, resampled training records in memory-mapped files.

Reading and resampling a record costs far more than cutting a window out of it, and training
reads every record once per epoch per fold. The cache does that work once, in parallel, and
every fold, epoch and process then reads windows straight from the cache. Each decoding
process reads its share of the records with `records.read_record`, the one read path (each
header parsed once), and appends their signals to a segment file of its own,
`signals-K.f32` (float32, each record's 12 x n samples contiguous). `index.json`, written
last, holds each readable record's name, segment, offset, length, demographics, labels,
missing leads and gain correction (`records.Record`), the records that cannot be read with
why, and the size and time of every source file; a cache whose index does not match the data
folder and settings is rebuilt. Measurements of the cached records, where a run needs them,
are kept beside it (`features.cached_measurements`).
"""

import ctypes
import glob
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

import numpy as np
from joblib import cpu_count

# joblib's process pool: its workers start without re-running the main script (and so
# without importing torch), unlike multiprocessing's spawn and forkserver.
from joblib.externals.loky import ProcessPoolExecutor

from .errors import InputFileError, RecordError
from .files import atomic_file, atomic_write, read_json
from .folders import RecordFiles
from .preprocess import NUM_LEADS
from .records import read_record

log = logging.getLogger(__name__)

CACHE_VERSION = 4
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_MAX_SEGMENTS = 64  # shares of the records, dealt round-robin so that each costs about the same
MAX_INDEX_BYTES = 1 << 30  # a few hundred bytes per record


def _fingerprint(files: RecordFiles) -> list[list[int]]:
    # A native record's signal files are named by its header; NAME.dat stands for them (the
    # usual name: PTB-XL, MIMIC-IV-ECG), as reading every header here would cost a decode pass.
    native = os.path.join(files.folder, files.name + ".dat")
    stats = [os.stat(p) for p in (files.header, files.mat, native) if p and os.path.exists(p)]
    return [[s.st_size, s.st_mtime_ns] for s in stats]


def _segment_path(folder: str, segment: int) -> str:
    return os.path.join(folder, f"signals-{segment}.f32")


def _fill(folder: str, segment: int, share: list[tuple[int, RecordFiles]], sample_rate: int) -> list[dict]:
    """Read the records of `share` ((position, files) pairs) into segment file `segment`;
    returns an index entry per record, `error` set where it cannot be read."""
    entries, offset = [], 0
    with atomic_file(_segment_path(folder, segment), binary=True) as f:
        for position, files in share:
            try:
                record = read_record(files, sample_rate)
            except RecordError as e:
                entries.append({"position": position, "name": files.name, "error": str(e)})
                continue
            f.write(record.signal.tobytes())
            entries.append(
                {
                    "position": position,
                    "name": files.name,
                    "segment": segment,
                    "offset": offset,
                    "length": record.signal.shape[1],
                    "demographics": record.demographics.tolist(),
                    "dx": list(record.dx),
                    "missing": list(record.missing),
                    "gain": record.gain,
                }
            )
            offset += record.signal.size
    return entries


def _end_with_parent(parent: int) -> None:
    """Worker start: have the kernel end this worker when the training process ends, even by
    SIGKILL (Linux), rather than leave it idle for minutes."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)


def _run_parallel(folder: str, shares: list[list], sample_rate: int, jobs: int) -> list[dict]:
    """`_fill` every share, in `jobs` processes (-1: one per core), which end with the call;
    returns the index entries of all records, in the order of their positions."""
    workers = min(len(shares), jobs if jobs > 0 else max(1, cpu_count() + 1 + jobs))
    segments = range(len(shares))
    if workers <= 1:
        parts = [_fill(folder, k, share, sample_rate) for k, share in zip(segments, shares)]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_end_with_parent, initargs=(os.getpid(),)) as pool:
            parts = list(pool.map(_fill, [folder] * len(shares), segments, shares, [sample_rate] * len(shares)))
    entries = sorted((entry for part in parts for entry in part), key=lambda entry: entry["position"])
    for entry in entries:
        del entry["position"]  # the order is the position
    return entries


class SignalCache:
    """Read side of a cache: `signal(i)` is readable record i's (12, n) float32 view."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = str(folder)
        with open(os.path.join(self.folder, "index.json")) as f:
            index = json.load(f)
        self.key = index["key"]  # what the cache was made of (`build_cache`)
        self.segment_count = index["segments"]
        self.records = index["records"]  # readable records, in name order
        self.failures = index["failures"]  # [{"name", "error"}] of the records that cannot be read
        self.names = [r["name"] for r in self.records]
        self.segments = np.array([r["segment"] for r in self.records], dtype=np.int64)
        self.offsets = np.array([r["offset"] for r in self.records], dtype=np.int64)
        self.lengths = np.array([r["length"] for r in self.records], dtype=np.int64)
        self._open()

    def _open(self) -> None:
        self._files = []
        for k in range(self.segment_count):
            path = _segment_path(self.folder, k)
            empty = os.path.getsize(path) == 0  # np.memmap refuses an empty file
            self._files.append(np.zeros(0, np.float32) if empty else np.memmap(path, dtype=np.float32, mode="r"))

    def __getstate__(self) -> dict:  # data-loader processes reopen the files rather than copy them
        return {k: v for k, v in self.__dict__.items() if k != "_files"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def __len__(self) -> int:
        return len(self.records)

    def signal(self, i: int) -> np.ndarray:
        start = self.offsets[i]
        return self._files[self.segments[i]][start : start + NUM_LEADS * self.lengths[i]].reshape(NUM_LEADS, -1)


def _saved_key(index_path: str) -> object:
    """The key of a cache's index, or None where the index cannot be read (it is then rebuilt)."""
    try:
        index = read_json(index_path, "signal cache index", MAX_INDEX_BYTES)
    except InputFileError:
        return None
    return index.get("key") if isinstance(index, dict) else None


def build_cache(
    record_files: Sequence[RecordFiles], folder: str | os.PathLike, sample_rate: int, jobs: int = -1
) -> SignalCache:
    """Make (or reuse) the cache of `record_files` (`folders.RecordFiles`) in `folder`.

    Records that cannot be read are listed in the index's `failures` and logged by name."""
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    key = {
        "version": CACHE_VERSION,
        "sample_rate": sample_rate,
        "sources": {files.name: _fingerprint(files) for files in record_files},
    }
    index_path = os.path.join(folder, "index.json")
    if os.path.lexists(index_path):
        if _saved_key(index_path) == key:
            log.info(f"cache: reusing {folder}")
            return SignalCache(folder)
        os.remove(index_path)  # the old index must not outlive the segments it describes
    for path in glob.glob(os.path.join(folder, "signals*.f32")):
        os.remove(path)
    started = time.time()
    count = min(len(record_files), _MAX_SEGMENTS)
    numbered = list(enumerate(record_files))
    shares = [numbered[k::count] for k in range(count)]
    log.info(f"cache: decoding and resampling {len(record_files)} records to {sample_rate} Hz into {folder}")
    entries = _run_parallel(folder, shares, sample_rate, jobs)
    records = [e for e in entries if "error" not in e]
    failures = [e for e in entries if "error" in e]
    for failure in failures:
        log.warning(f"skipped record: {failure['error']}")
    atomic_write(index_path, json.dumps({"key": key, "segments": count, "records": records, "failures": failures}))
    size = sum(NUM_LEADS * r["length"] for r in records) * 4
    log.info(f"cache: {len(records)} records ({size / 2**30:.2f} GiB) in {time.time() - started:.1f} s")
    return SignalCache(folder)
