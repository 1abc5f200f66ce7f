"""The decoded-signal cache: exact signals, reuse, rebuild on change, failures reported."""

import logging
import os
import pickle

import numpy as np

from ecgnet import synthetic
from ecgnet.cache import build_cache
from ecgnet.config import Config
from ecgnet.folders import list_records
from ecgnet.records import read_record
from ecgnet.training import train


def test_cache_holds_the_prepared_signals_and_is_reused(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ecgnet")
    synthetic.make_dataset(tmp_path / "data", 6, seed=3, fs=500)
    synthetic.make_dataset(tmp_path / "data", 2, seed=4, fs=1000, start=7)
    found = list_records(tmp_path / "data")
    cache = build_cache(found, tmp_path / "cache", 257, jobs=2)
    assert len(cache) == 8 and not any("skipped" in m for m in caplog.messages)
    for i, files in enumerate(found):
        np.testing.assert_array_equal(cache.signal(i), read_record(files, Config().sample_rate).signal)
    build_cache(found, tmp_path / "cache", 257)
    assert caplog.messages[-1].startswith("cache: reusing")
    os.utime(found[0].header, ns=(1, 1))  # a changed source file invalidates the cache
    build_cache(found, tmp_path / "cache", 257)
    assert not caplog.messages[-1].startswith("cache: reusing")


def test_unreadable_records_are_reported_and_marked(tmp_path, caplog):
    synthetic.make_dataset(tmp_path / "data", 3, seed=5)
    (tmp_path / "data" / "SYN00002.mat").write_bytes(b"MATLAB garbage")
    (tmp_path / "data" / "SYN00003.hea").write_text("SYN00003 twelve 500 5000\n")
    cache = build_cache(list_records(tmp_path / "data"), tmp_path / "cache", 257, jobs=1)
    assert cache.names == ["SYN00001"]
    assert [r["name"] for r in cache.failures] == ["SYN00002", "SYN00003"]
    assert "SYN00002.mat" in cache.failures[0]["error"] and "SYN00003.hea" in cache.failures[1]["error"]
    skipped = [m for m in caplog.messages if m.startswith("skipped record")]
    assert len(skipped) == 2 and "SYN00003.hea" in skipped[0] + skipped[1]


def test_pickled_cache_reopens_the_file_instead_of_copying_it(tmp_path):
    synthetic.make_dataset(tmp_path / "data", 4, seed=6)
    cache = build_cache(list_records(tmp_path / "data"), tmp_path / "cache", 257)
    blob = pickle.dumps(cache)
    assert len(blob) < 10_000 < cache.signal(0).nbytes * 4
    np.testing.assert_array_equal(pickle.loads(blob).signal(3), cache.signal(3))


def test_training_with_data_loader_processes(tmp_path):
    synthetic.make_dataset(tmp_path / "data", 24, seed=7)
    config = Config(width=8, blocks=(1,), se_reduction=4, folds=2, epochs=1, batch_size=8, window=512, overlap=64)
    report = train(str(tmp_path / "data"), str(tmp_path / "model"), config=config, workers=2, jobs=1)
    assert report["overall"]["records"] == 24
