"""Decoded, resampled training records in one memory-mapped file.

Reading and resampling a record costs far more than cutting a window out of it, and training
reads every record once per epoch per fold. The cache does that work once, in parallel, and
every fold, epoch and process then reads windows straight from `signals.f32` (float32, each
record's 12 x n samples stored contiguously). `index.json` holds each record's name, offset,
length, demographics, labels and the size and time of its source files, and the records left
out with why; a cache whose index does not match the data folder and settings is rebuilt.
"""
import ctypes
import json
import os
import signal
import sys
import time

import numpy as np
from joblib import cpu_count
# joblib's process pool: its workers start without re-running the main script (and so
# without importing torch), unlike multiprocessing's spawn and forkserver.
from joblib.externals.loky import ProcessPoolExecutor

from . import preprocess, reading
from .records import RecordError

CACHE_VERSION = 2
LEADS = len(preprocess.LEADS)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _fingerprint(files):
    stats = [os.stat(p) for p in (files.header, files.mat) if p and os.path.exists(p)]
    return [[s.st_size, s.st_mtime_ns] for s in stats]


def _expected_length(header, sample_rate):
    up, down = preprocess.resampling_ratio(header.sample_rate, sample_rate)
    return -(-header.num_samples * up // down)


def _fill(signals_path, jobs, sample_rate):
    """Decode and resample records into their slots of the memory map; return failures."""
    signals = np.memmap(signals_path, dtype=np.float32, mode="r+")
    failures = []
    for position, files, offset, length in jobs:
        try:
            header, signal = reading.read_record(files, sample_rate)
            if signal.shape[1] != length:
                raise RecordError(header.mat_path, f"resampled to {signal.shape[1]} samples, expected {length}")
            signals[offset:offset + signal.size] = signal.ravel()
        except RecordError as e:
            failures.append((position, str(e)))
    signals.flush()
    return failures


def _end_with_parent(parent):
    """Worker start: have the kernel end this worker when the training process ends, even by
    SIGKILL (Linux), rather than leave it idle for minutes."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)


def _run_parallel(chunks, signals_path, sample_rate, jobs):
    """`_fill` every chunk, in `jobs` processes (-1: one per core), which end with the call."""
    workers = min(len(chunks), jobs if jobs > 0 else max(1, cpu_count() + 1 + jobs))
    if workers <= 1:
        return [_fill(signals_path, chunk, sample_rate) for chunk in chunks]
    with ProcessPoolExecutor(max_workers=workers, initializer=_end_with_parent, initargs=(os.getpid(),)) as pool:
        return list(pool.map(_fill, [signals_path] * len(chunks), chunks, [sample_rate] * len(chunks)))


class SignalCache:
    """Read side of a cache: `signal(i)` is record i's (12, n) float32 view."""

    def __init__(self, folder):
        with open(os.path.join(folder, "index.json")) as f:
            self.index = json.load(f)
        self.records = self.index["records"]
        self.skipped = self.index["skipped"]  # [{"name", "error"}] of records without a usable header
        self.names = [r["name"] for r in self.records]
        self.offsets = np.array([r["offset"] for r in self.records], dtype=np.int64)
        self.lengths = np.array([r["length"] for r in self.records], dtype=np.int64)
        self.path = os.path.join(folder, "signals.f32")
        self._open()

    def _open(self):
        size = os.path.getsize(self.path)
        self._signals = np.memmap(self.path, dtype=np.float32, mode="r") if size else np.zeros(0, np.float32)

    def __getstate__(self):  # data-loader processes reopen the file rather than copy it
        return {k: v for k, v in self.__dict__.items() if k != "_signals"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def __len__(self):
        return len(self.records)

    def signal(self, i):
        return self._signals[self.offsets[i]:self.offsets[i] + LEADS * self.lengths[i]].reshape(LEADS, -1)


def build_cache(record_files, folder, sample_rate, jobs=-1, log=print):
    """Make (or reuse) the cache of `record_files` (`records.RecordFiles`) in `folder`.

    Records whose header cannot be read are left out of the index and listed as skipped;
    records whose signal cannot be read are kept with `error` set; both are reported through
    `log` by name."""
    os.makedirs(folder, exist_ok=True)
    key = {"version": CACHE_VERSION, "sample_rate": sample_rate,
           "sources": {files.name: _fingerprint(files) for files in record_files}}
    index_path = os.path.join(folder, "index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            if json.load(f).get("key") == key:
                log(f"cache: reusing {folder}")
                return SignalCache(folder)
    started = time.time()
    records, skipped, work = [], [], []
    offset = 0
    for files in record_files:
        try:
            header = reading.read_header(files)
            if header.num_samples is None:
                raise RecordError(files.header, "header does not give the number of samples")
        except RecordError as e:
            log(f"skipped record: {e}")
            skipped.append({"name": files.name, "error": str(e)})
            continue
        length = _expected_length(header, sample_rate)
        records.append({"name": files.name, "path": files.header, "offset": offset, "length": length,
                        "demographics": preprocess.demographics(header.age, header.sex).tolist(),
                        "dx": list(header.dx), "error": None})
        work.append((len(records) - 1, files, offset, length))
        offset += LEADS * length
    signals_path = os.path.join(folder, "signals.f32")
    with open(signals_path, "wb") as f:
        f.truncate(offset * 4)
    chunks = [work[i::max(1, min(len(work), 64))] for i in range(min(len(work), 64))]
    log(f"cache: decoding and resampling {len(work)} records to {sample_rate} Hz "
        f"({offset * 4 / 2**30:.2f} GiB) into {folder}")
    for failures in _run_parallel(chunks, signals_path, sample_rate, jobs):
        for position, message in failures:
            records[position]["error"] = message
            log(f"skipped record: {message}")
    with open(index_path + ".tmp", "w") as f:
        json.dump({"key": key, "records": records, "skipped": skipped}, f)
    os.replace(index_path + ".tmp", index_path)
    log(f"cache: {len(records)} records in {time.time() - started:.1f} s")
    return SignalCache(folder)
