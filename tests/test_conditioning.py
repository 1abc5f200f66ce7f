"""Signal conditioning (`bandpass`, `standardise`; preprocess.condition): what it does to a span,
and that inference, the driver included, applies the conditioning a model was trained with."""

import json

import numpy as np
import pytest
import torch

from ecgnet import cli, preprocess, synthetic, training
from ecgnet.config import Config, parse_overrides
from ecgnet.inference import Ensemble, view_batches
from ecgnet.records import Record, read_record

from helpers import TINY, TINY_NETWORK

RATE = 257


def tone(hz, seconds=8.0, amplitude=1.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def amplitude_after(span, config, hz):
    """Amplitude of the `hz` component of the conditioned span's middle half (away from the
    ends, where a window cannot know the signal beyond it)."""
    out = preprocess.condition(span, config)
    n = out.shape[1]
    t = np.arange(n // 4, 3 * n // 4) / RATE
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t), np.ones_like(t)], axis=1)
    coefficients = np.linalg.lstsq(basis, out[:, n // 4 : 3 * n // 4].T, rcond=None)[0]
    return np.hypot(coefficients[0], coefficients[1])


def test_the_papers_settings_leave_every_span_untouched_and_the_defaults_standardise_it():
    span = np.random.default_rng(0).normal(size=(12, 300)).astype(np.float32)
    assert preprocess.condition(span, Config.paper()) is span
    np.testing.assert_array_equal(preprocess.condition(span, Config()), preprocess.standardise(span))


def test_bandpass_keeps_the_ecg_band_and_takes_out_drift_and_mains_hum_of_either_grid():
    config = Config.paper().replace(bandpass=(0.5, 40.0))
    assert parse_overrides(["bandpass=0.5,40"], Config.paper()) == config
    for hz in (1, 10, 25):
        assert np.allclose(amplitude_after(np.tile(tone(hz), (12, 1)), config, hz), 1, atol=0.03)
    # The attenuation of a Butterworth filter grows with the distance past its cut-off.
    for hz, most in ((50, 0.2), (60, 0.05)):
        assert amplitude_after(np.tile(tone(hz), (12, 1)), config, hz).max() < most
    assert amplitude_after(np.tile(tone(50), (12, 1)), Config.paper().replace(bandpass=(0.5, 30)), 50).max() < 0.02
    offset = np.full((12, 2000), 3, np.float32)
    assert np.abs(preprocess.condition(offset, config)).max() < 1e-3
    assert np.allclose(
        preprocess.condition(offset, Config.paper().replace(bandpass=(0, 40))), 3, atol=1e-4
    )  # low 0: low-pass


def test_bandpass_is_zero_phase_and_designed_once():
    pulse = np.zeros((12, 1001), dtype=np.float32)
    pulse[:, 500] = 1
    out = preprocess.condition(pulse, Config.paper().replace(bandpass=(1, 40)))
    assert out.dtype == np.float32 and (np.argmax(out, axis=1) == 500).all()
    assert np.allclose(out[:, 500 - 50 : 500], out[:, 501 : 501 + 50][:, ::-1], atol=1e-4)  # symmetric
    assert preprocess.bandpass_sections(1, 40, RATE) is preprocess.bandpass_sections(1, 40, RATE)


@pytest.mark.parametrize("length", [1, 2, 5, 27, 28, 100])
def test_spans_shorter_than_the_filters_padding_are_filtered_with_what_they_have(length):
    span = np.random.default_rng(length).normal(size=(12, length)).astype(np.float32)
    out = preprocess.condition(span, Config(bandpass=(0.5, 40.0), standardise=True))
    assert out.shape == span.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_standardise_is_a_per_lead_z_score_that_leaves_empty_leads_empty():
    rng = np.random.default_rng(1)
    span = (rng.normal(size=(12, 2000)) * np.arange(1, 13)[:, None] + 5).astype(np.float32)
    span[3] = 0  # a missing lead
    span[4] = 1.5  # a flat one
    span[5] = rng.normal(scale=1e-4, size=2000)  # quantisation noise of a disconnected lead
    out = preprocess.condition(span, Config(standardise=True))
    live = [i for i in range(12) if i not in (3, 4, 5)]
    assert np.allclose(out[live].mean(axis=1), 0, atol=1e-5) and np.allclose(out[live].std(axis=1), 1, atol=1e-4)
    assert not out[3].any() and not out[4].any() and np.abs(out[5]).max() < 0.1


def test_view_batches_condition_each_view_on_its_own():
    config = TINY.replace(bandpass=(0.5, 40.0), standardise=True)
    rng = np.random.default_rng(2)
    records = [
        Record(f"R{n}", rng.normal(size=(12, n)).astype(np.float32), np.zeros(5, np.float32)) for n in (300, 2500, 40)
    ]
    seen = 0
    for x, _, valid, owners in view_batches(records, config, 4096):
        ends = valid[1] if valid is not None else torch.full((len(x),), x.shape[2])
        for row, r in enumerate(owners):
            span = x[row, :, : ends[row]].numpy()
            spans = preprocess.inference_views(records[r].signal.shape[1], config.window, config.overlap)
            expected = [preprocess.condition(records[r].signal[:, s:e], config) for s, e in spans]
            assert any(e.shape == span.shape and np.array_equal(e, span) for e in expected)
            assert not x[row, :, ends[row] :].any()  # padding stays zero
            seen += 1
    assert seen == sum(len(preprocess.inference_views(r.signal.shape[1], 1024, 128)) for r in records)


def read_probabilities(folder, names):
    return np.array([(folder / f"{name}.csv").read_text().splitlines()[3].split(",") for name in names], float)


def test_the_driver_applies_the_conditioning_the_model_was_trained_with(tmp_path):
    data = tmp_path / "data"
    # Records shorter than the window: each is classified on one view, the whole record.
    names = synthetic.make_dataset(data, 12, seed=5, seconds=(3.0, 3.9))
    model = tmp_path / "model"
    # The network alone: measurements of the conditioned records would differ from the driver's.
    config = TINY_NETWORK.replace(epochs=1, lr_milestones=(), bandpass=(1.0, 40.0), standardise=True)
    training.train(str(data), str(model), config=config, jobs=1)
    assert json.loads((model / "model.json").read_text())["config"]["bandpass"] == [1.0, 40.0]
    assert cli.drive([str(model), str(data), str(tmp_path / "conditioned")]) == 0
    conditioned = read_probabilities(tmp_path / "conditioned", names)

    # They are the network's outputs on the conditioned records ...
    records = [read_record(data / f"{name}.hea", config.sample_rate) for name in names]
    assert all(r.signal.shape[1] < config.window for r in records)
    ready = [Record(r.name, preprocess.condition(r.signal, config), r.demographics) for r in records]
    manifest = json.loads((model / "model.json").read_text())
    manifest["config"].update(bandpass=[], standardise=False)
    (model / "model.json").write_text(json.dumps(manifest))
    unconditioned = Ensemble.from_folder(str(model), "cpu")
    assert np.allclose(unconditioned.classify(ready)[1], conditioned, atol=1e-6)
    # ... and the same weights told to skip the conditioning give other outputs.
    assert cli.drive([str(model), str(data), str(tmp_path / "raw")]) == 0
    assert np.abs(read_probabilities(tmp_path / "raw", names) - conditioned).max() > 1e-3
