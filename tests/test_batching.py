"""How the driver shares its work out: the batch plan (`inference.plan_batches`), worker threads
(`inference.predict`'s `workers`), the reader thread that reads and measures one chunk ahead
(`reading.ahead`), and the thread-safe medians the measurements use there."""

import itertools
import threading
import time
import warnings

import numpy as np
import pytest

from ecgnet import features, inference, reading, runner
from ecgnet.folders import list_records
from ecgnet.inference import BATCH_COST_SAMPLES, Ensemble, plan_batches, predict
from ecgnet.measure.median import _median_over_beats
from ecgnet.records import read_record

from helpers import RECORDS


def plan_cost(widths, plan):
    return sum((end - start) * widths[start] + BATCH_COST_SAMPLES for start, end in plan)


def every_plan(widths, batch_samples, equal_widths):
    """All valid plans, by brute force over the cut points."""
    count = len(widths)
    for cuts in itertools.product((False, True), repeat=count - 1):
        bounds = [0] + [i + 1 for i, cut in enumerate(cuts) if cut] + [count]
        plan = list(zip(bounds, bounds[1:]))
        if all(
            (end - start == 1 or (end - start) * widths[start] <= batch_samples)
            and (not equal_widths or len(set(widths[start:end])) == 1)
            for start, end in plan
        ):
            yield plan


@pytest.mark.parametrize("equal_widths", [False, True])
def test_the_batch_plan_is_the_cheapest_valid_one(equal_widths):
    """Against every plan, on 300 random sets of views: the plan is valid (in order, every view
    once, within the batch size or alone, one width per batch when asked) and no valid plan
    costs less."""
    generator = np.random.default_rng(0)
    for _ in range(300):
        count = int(generator.integers(1, 11))
        widths = sorted((32 * generator.integers(1, 200, size=count)).tolist(), reverse=True)
        if equal_widths:
            widths = sorted((32 * generator.choice([40, 80, 128], size=count)).tolist(), reverse=True)
        batch_samples = int(generator.integers(1, 40)) * 512
        plan = plan_batches(widths, batch_samples, equal_widths)
        assert [start for start, _ in plan] == [0] + [end for _, end in plan[:-1]] and plan[-1][1] == count
        plans = list(every_plan(widths, batch_samples, equal_widths))
        assert plan in plans
        assert plan_cost(widths, plan) == min(plan_cost(widths, p) for p in plans)


def test_the_batch_plan_pads_nothing_where_greedy_filling_padded():
    """Views of a long record beside many short ones: filling each batch greedily put short views
    in the long ones' batches (51,072 samples of padding here); the plan pads none, at the cost
    of two more batches."""
    widths = [14880, 6432] + [4096] * 20 + [2592] * 60
    plan = plan_batches(widths, 65536)
    assert sum((end - start) * widths[start] for start, end in plan) == sum(widths)
    assert all((end - start) * widths[start] <= 65536 for start, end in plan) and len(plan) == 7
    assert plan_batches([100_000, 50], 65536) == [(0, 1), (1, 2)]  # too long for any batch: alone


@pytest.fixture(scope="module")
def short_and_long():
    """Records of several lengths: some shortened (padded in their batches), one made long
    (whole-record view and windows)."""
    records = [read_record(files, 257) for files in list_records(RECORDS)]
    for record in records[1::3]:
        record.signal = record.signal[:, : record.signal.shape[1] // 3]
    records[0].signal = np.tile(records[0].signal, 3)
    return records


@pytest.mark.parametrize("workers", [2, 3])
def test_worker_threads_give_the_same_outputs(tiny_model, short_and_long, workers):
    """The float32 networks in worker threads against one thread: the same probabilities, added
    up in the same order (the batches are smaller, so float32 may differ in the last bits)."""
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu", "fp32")
    models, config = ensemble.models, ensemble.config
    alone = predict(models, short_and_long, config, "cpu", 8 * 4096)
    threaded = predict(models, short_and_long, config, "cpu", 8 * 4096, workers=workers)
    np.testing.assert_allclose(threaded, alone, rtol=0, atol=1e-6)


def test_the_caller_keeps_its_torch_threads(tiny_model, short_and_long):
    import torch

    ensemble = Ensemble.from_folder(tiny_model[0], "cpu", "fp32", workers=2)
    before = torch.get_num_threads()
    ensemble.classify(short_and_long[:4])
    assert torch.get_num_threads() == before


def test_workers_default_to_the_cpus_threads_and_one_on_a_gpu(monkeypatch):
    monkeypatch.setattr(inference.torch, "get_num_threads", lambda: 2)
    assert inference.default_workers("cpu") == 2
    monkeypatch.setattr(inference.torch, "get_num_threads", lambda: 64)
    assert inference.default_workers("cpu") == inference.MAX_CPU_WORKERS
    assert inference.default_workers("cuda") == 1
    with pytest.raises(ValueError, match="CPU"):
        predict([], [], None, "cuda", 4096, np.zeros((0, 5)), workers=2)


def test_a_failure_in_a_worker_reaches_the_caller(tiny_model, short_and_long):
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu", "fp32", workers=2)

    def broken(*args):
        raise RuntimeError("broken network")

    ensemble.models[1].probabilities = broken
    with pytest.raises(RuntimeError, match="broken network"):
        ensemble.classify(short_and_long)


def test_classify_uses_the_measurements_it_is_given(tiny_model, short_and_long):
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu", "fp32")
    table = ensemble.measure(short_and_long)
    assert table is not None and len(table) == len(short_and_long)  # the defaults measure
    labels, probabilities = ensemble.classify(short_and_long)
    given = ensemble.classify(short_and_long, measurements=table)
    np.testing.assert_array_equal(given[1], probabilities)
    np.testing.assert_array_equal(given[0], labels)
    table.values[:] = np.nan  # nothing measured: the network's inputs change
    assert not np.array_equal(ensemble.classify(short_and_long, measurements=table)[1], probabilities)


def test_ahead_yields_everything_in_order_from_another_thread():
    threads = []

    def made():
        for i in range(20):
            threads.append(threading.current_thread())
            yield i

    assert list(reading.ahead(made())) == list(range(20))
    assert all(t is not threading.main_thread() for t in threads)


def test_ahead_raises_the_readers_exception_after_what_came_before():
    def made():
        yield 1
        yield 2
        raise KeyError("record X")

    got = []
    with pytest.raises(KeyError, match="record X"):
        for item in reading.ahead(made()):
            got.append(item)
    assert got == [1, 2]


def test_ahead_stops_its_thread_when_the_consumer_stops():
    def endless():
        i = 0
        while True:
            i += 1
            yield i

    before = threading.active_count()
    items = reading.ahead(endless())
    assert next(items) == 1 and next(items) == 2
    items.close()  # as a `for` loop left by an exception does
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_medians_over_beats_equal_numpys_median_and_nanmedian():
    """Bit for bit, on 500 random stacks (odd and even numbers of beats reaching each sample,
    ties included), as np.median and np.nanmedian compute them (np.nanmedian warns,
    process-wide, on all-NaN columns; none reach here)."""
    generator = np.random.default_rng(1)
    for _ in range(500):
        leads, beats, samples = (int(generator.integers(1, n)) for n in (4, 30, 40))
        values = np.round(generator.normal(size=(leads, beats, samples)), int(generator.integers(1, 4)))
        np.testing.assert_array_equal(_median_over_beats(values), np.median(values, axis=1))
        reach = generator.random((beats, samples)) < generator.uniform(0.2, 1)
        reach[generator.integers(0, beats, size=samples), np.arange(samples)] = True  # every sample reached
        values = np.where(reach[None], values, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expected = np.nanmedian(values, axis=1)
        np.testing.assert_array_equal(_median_over_beats(values, reach.sum(axis=0)), expected)


def test_a_chunk_that_cannot_be_measured_ahead_is_measured_again_record_by_record(tiny_model, tmp_path, monkeypatch):
    """The reader's measurement of a chunk fails: the run goes on, the chunk is measured again
    where a failure is isolated, and only the record that causes it fails."""
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu", "fp32")
    real = features.measure_records
    calls = []

    def measure(records, rate):
        calls.append(len(records))
        if any(r.name == list_records(RECORDS)[1].name for r in records):
            raise RuntimeError("cannot measure this one")
        return real(records, rate)

    monkeypatch.setattr(features, "measure_records", measure)  # where the reader and classify measure
    report = runner.run_folder(ensemble, str(RECORDS), str(tmp_path / "out"))
    assert [name for name, _ in report.failures] == [list_records(RECORDS)[1].name]
    assert report.written == len(list_records(RECORDS)) and calls[0] > 1 and 1 in calls  # the failure gets a file too
