"""Decoded, resampled training records in one memory-mapped file.

Reading and resampling a record costs far more than cutting a window out of it, and training
reads every record once per epoch per fold. The cache does that work once, in parallel, and
every fold, epoch and process then reads windows straight from `signals.f32` (float32, each
record's 12 x n samples stored contiguously). `index.json` holds each record's name, offset,
length, demographics, labels and the size and time of its source files; a cache whose index
does not match the data folder and settings is rebuilt.
"""
import json
import os
import time

import numpy as np
from joblib import Parallel, delayed

from . import preprocess
from .records import RecordError, load_header, load_signal

CACHE_VERSION = 1
LEADS = len(preprocess.LEADS)


def _fingerprint(header_path):
    mat_path = os.path.splitext(header_path)[0] + ".mat"
    stats = [os.stat(p) for p in (header_path, mat_path) if os.path.exists(p)]
    return [[s.st_size, s.st_mtime_ns] for s in stats]


def _expected_length(header, sample_rate):
    up, down = preprocess.resampling_ratio(header.sample_rate, sample_rate)
    return -(-header.num_samples * up // down)


def _fill(signals_path, jobs, sample_rate):
    """Decode and resample records into their slots of the memory map; return failures."""
    signals = np.memmap(signals_path, dtype=np.float32, mode="r+")
    failures = []
    for position, header_path, offset, length in jobs:
        try:
            header = load_header(header_path)
            signal, _ = preprocess.prepare_signal(load_signal(header), header.lead_names,
                                                  header.sample_rate, sample_rate, header.path)
            if signal.shape[1] != length:
                raise RecordError(header.mat_path, f"resampled to {signal.shape[1]} samples, expected {length}")
            signals[offset:offset + signal.size] = signal.ravel()
        except RecordError as e:
            failures.append((position, str(e)))
    signals.flush()
    return failures


class SignalCache:
    """Read side of a cache: `signal(i)` is record i's (12, n) float32 view."""

    def __init__(self, folder):
        with open(os.path.join(folder, "index.json")) as f:
            self.index = json.load(f)
        self.records = self.index["records"]
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


def build_cache(header_paths, folder, sample_rate, jobs=-1, log=print):
    """Make (or reuse) the cache of `header_paths` in `folder`.

    Records whose header cannot be read are left out of the index and records whose signal
    cannot be read are kept with `error` set; both are reported through `log` by name."""
    os.makedirs(folder, exist_ok=True)
    key = {"version": CACHE_VERSION, "sample_rate": sample_rate,
           "sources": {p: _fingerprint(p) for p in header_paths}}
    index_path = os.path.join(folder, "index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            if json.load(f).get("key") == key:
                log(f"cache: reusing {folder}")
                return SignalCache(folder)
    started = time.time()
    records, work = [], []
    offset = 0
    for path in header_paths:
        try:
            header = load_header(path)
            if header.num_samples is None:
                raise RecordError(path, "header does not give the number of samples")
        except RecordError as e:
            log(f"skipped record: {e}")
            continue
        length = _expected_length(header, sample_rate)
        records.append({"name": header.name, "path": path, "offset": offset, "length": length,
                        "demographics": preprocess.demographics(header.age, header.sex).tolist(),
                        "dx": list(header.dx), "error": None})
        work.append((len(records) - 1, path, offset, length))
        offset += LEADS * length
    signals_path = os.path.join(folder, "signals.f32")
    with open(signals_path, "wb") as f:
        f.truncate(offset * 4)
    chunks = [work[i::max(1, min(len(work), 64))] for i in range(min(len(work), 64))]
    log(f"cache: decoding and resampling {len(work)} records to {sample_rate} Hz "
        f"({offset * 4 / 2**30:.2f} GiB) into {folder}")
    results = Parallel(n_jobs=jobs)(delayed(_fill)(signals_path, chunk, sample_rate) for chunk in chunks)
    for failures in results:
        for position, message in failures:
            records[position]["error"] = message
            log(f"skipped record: {message}")
    with open(index_path + ".tmp", "w") as f:
        json.dump({"key": key, "records": records}, f)
    os.replace(index_path + ".tmp", index_path)
    log(f"cache: {len(records)} records in {time.time() - started:.1f} s")
    return SignalCache(folder)
