import subprocess
import sys

import numpy as np
import pytest

from ecgnet import preprocess, resampling
from ecgnet.records import RecordError

import helpers
from helpers import ROOT


def test_order_leads_by_name_and_zero_fills_missing():
    signal = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    out, missing = preprocess.order_leads(signal, ["v6", "I", "aVR"])
    assert out.shape == (12, 4)
    np.testing.assert_array_equal(out[preprocess.LEADS.index("V6")], signal[0])
    np.testing.assert_array_equal(out[0], signal[1])
    np.testing.assert_array_equal(out[preprocess.LEADS.index("aVR")], signal[2])
    assert missing == tuple(lead for lead in preprocess.LEADS if lead not in ("I", "aVR", "V6"))
    assert not out[1].any()


@pytest.mark.parametrize("names, problem", [(["I", "X7"], "unknown lead"), (["I", "i"], "more than once")])
def test_order_leads_rejects_bad_names(names, problem):
    with pytest.raises(RecordError, match=problem):
        preprocess.order_leads(np.zeros((2, 5), np.float32), names, "rec.hea")


@pytest.mark.parametrize(
    "rate, expected",
    [(500, (257, 500)), (1000, (257, 1000)), (257, (1, 1)), (250, (257, 250)), (360, (257, 360)), (499.5, (514, 999))],
)
def test_resampling_ratio(rate, expected):
    assert preprocess.resampling_ratio(rate, 257) == expected


@pytest.mark.parametrize("rate", [257, 250, 360, 500, 1000])
def test_resample_keeps_an_in_band_tone_and_the_duration(rate):
    seconds = 8
    t = np.arange(seconds * rate) / rate
    signal = np.tile(np.sin(2 * np.pi * 5 * t), (12, 1)).astype(np.float32)
    out = preprocess.resample(signal, rate, 257)
    assert out.dtype == np.float32 and out.shape == (12, int(np.ceil(seconds * rate * 257 / rate)))
    expected = np.sin(2 * np.pi * 5 * np.arange(out.shape[1]) / 257)
    middle = slice(257, -257)  # away from the edges
    assert np.abs(out[:, middle] - expected[middle]).max() < 0.01


def test_resample_removes_what_257_hz_cannot_represent():
    rate = 1000
    t = np.arange(10 * rate) / rate
    signal = np.tile(np.sin(2 * np.pi * 200 * t), (12, 1)).astype(np.float32)  # above 128.5 Hz
    out = preprocess.resample(signal, rate, 257)
    assert np.abs(out[:, 257:-257]).max() < 0.01  # no alias left behind


def test_demographics():
    np.testing.assert_allclose(preprocess.demographics(74, "male"), [0.74, 0, 0, 1, 1])
    np.testing.assert_allclose(preprocess.demographics(None, "female"), [0, 1, 1, 0, 1])
    np.testing.assert_allclose(preprocess.demographics(30, None), [0.3, 0, 0, 0, 0])


def test_training_window_crops_long_and_places_short_records():
    rng = np.random.default_rng(0)
    starts = {preprocess.training_window(5000, 4096, rng) for _ in range(200)}
    assert all(t == 0 and n == 4096 and 0 <= s <= 904 for s, t, n in starts)
    assert len({s for s, _, _ in starts}) > 50
    offsets = {preprocess.training_window(2570, 4096, rng) for _ in range(200)}
    assert all(s == 0 and n == 2570 and 0 <= t <= 1526 for s, t, n in offsets)
    assert len({t for _, t, _ in offsets}) > 50
    assert preprocess.training_window(4096, 4096, rng) == (0, 0, 4096)


def test_inference_views_follow_the_published_scheme():
    assert preprocess.inference_views(2570, 4096, 256) == [(0, 2570)]
    assert preprocess.inference_views(4096, 4096, 256) == [(0, 4096)]
    # 14872 samples: 4 views; the whole record, then windows at 3592, 7184 and the end.
    assert preprocess.inference_views(14872, 4096, 256) == [(0, 14872), (3592, 7688), (7184, 11280), (10776, 14872)]
    for length in (4097, 7000, 30000, 462600):
        views = preprocess.inference_views(length, 4096, 256)
        windows = views[1:]
        assert views[0] == (0, length) and windows[-1][1] == length
        assert all(e - s == 4096 for s, e in windows)
        starts = [0] + [s for s, _ in windows]
        # Evenly spaced by at most window - overlap; rounding may widen the last gap a little.
        assert all(b - a <= 4096 - 256 + len(windows) for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("up, down", [(257, 500), (257, 1000), (257, 360), (257, 250), (257, 128), (514, 999), (3, 7)])
@pytest.mark.parametrize("length", [2, 3, 17, 100, 5000])
def test_resampling_is_scipys_resample_poly(up, down, length):
    from scipy import signal

    x = np.random.default_rng(length).normal(size=(3, length)).cumsum(axis=1) + 3  # a wandering baseline
    expected = signal.resample_poly(x, up, down, axis=1, padtype="line")
    np.testing.assert_allclose(resampling.resample_poly(x, up, down), expected, rtol=0, atol=1e-12 * np.abs(x).max())


def test_a_single_sample_resamples_to_nan_as_with_scipy():
    assert not np.isfinite(resampling.resample_poly(np.ones((2, 1)), 257, 500)).any()


def test_the_driver_imports_neither_scipy_nor_the_compiler_nor_review_extras():
    """Reading a record (its .mat file, resampled) needs no SciPy: importing scipy.io alone cost
    every driver start about 0.2 s."""
    code = (
        "import sys, driver, team_code; from ecgnet import inference, runner, records; "
        "records.read_record(sys.argv[1], 257); "
        "print(sorted({m for m in sys.modules if m.split('.')[0] in "
        "('scipy', 'matplotlib', 'cleanlab', 'statsmodels', 'sklearn')} | "
        "{m for m in ('torch._dynamo',) if m in sys.modules}))"
    )
    record = helpers.RECORDS / "A0001.hea"
    result = subprocess.run([sys.executable, "-c", code, str(record)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_resampling_in_blocks_gives_the_same_result(monkeypatch):
    x = np.random.default_rng(0).normal(size=(12, 3000))
    whole = resampling.resample_poly(x, 257, 500)
    monkeypatch.setattr(resampling, "_BLOCK_VALUES", 5000)  # blocks of about 10 outputs
    np.testing.assert_array_equal(resampling.resample_poly(x, 257, 500), whole)
