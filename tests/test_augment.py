"""Training augmentations (ecgnet.augment) and their place in the training batches: what each
does, that the padding stays as it was and that without augmentations the batches are the
published method's, mixup's label and loss-weight math, and that every choice depends on
(seed, fold, epoch, batch) alone."""

import dataclasses

import numpy as np
import pytest
import torch

from ecgnet import augment, modelstore, preprocess, synthetic
from ecgnet.augment import Augmentation
from ecgnet.dataset import WindowBatches, batch_loader, epoch_plan, prepare_data
from ecgnet.distributed import Runtime

from helpers import TINY, TINY_PAPER

K = 24
# The published method's windows: no conditioning and no augmentation (the defaults mask leads).
PLAIN = TINY_PAPER
EVERYTHING = TINY.replace(
    bandpass=(0.5, 40.0),
    standardise=True,
    lead_mask=0.5,
    amplitude_scale=0.2,
    baseline_wander=0.3,
    noise=0.05,
    mixup=0.4,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    synthetic.make_dataset(root / "data", 12, seed=3, seconds=(3.0, 6.0))  # shorter and longer than the window
    return prepare_data(str(root / "data"), modelstore.ModelFolder(root / "model"), TINY, Runtime(), jobs=1)


def plan_of(data, config):
    return epoch_plan(np.arange(len(data.names)), data.lengths(), config, np.random.default_rng(0))


def batches(data, config):
    return WindowBatches(data, plan_of(data, config), config, augmentation=Augmentation(config, 1, 0))


def same(a, b):
    """Two WindowBatches items are equal, tensor for tensor."""
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
        elif isinstance(x, tuple):
            same(x, y)
        else:
            assert x == y


def signal(seed=0, n=1000):
    return np.random.default_rng(seed).normal(size=(12, n)).astype(np.float32)


def test_without_augmentations_a_window_is_the_record_itself():
    part = signal()
    assert Augmentation(PLAIN, 0, 0).window(part, 0, 0) is part


def test_without_augmentations_the_batches_are_the_published_methods(data):
    plan = plan_of(data, PLAIN)
    plain = WindowBatches(data, plan, PLAIN)
    augmented = WindowBatches(data, plan, PLAIN, augmentation=Augmentation(PLAIN, 0, 0))
    for k in range(len(plan)):
        same(plain[k], augmented[k])
        x, _, _, (start, end), _, _ = plain[k]
        for row, (i, source, target, count) in enumerate(plan[k]):  # the cache's samples, unchanged
            record = data.cache.signal(data.rows[i])[:, source : source + count]
            assert np.array_equal(x[row, :, target : target + count].numpy(), record)


def test_each_window_augmentation_does_what_it_says():
    part = signal(1, 4000)
    gain = Augmentation(PLAIN.replace(amplitude_scale=0.2), 0, 0).window(part, 0, 0)
    ratio = gain / part
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-5) and (np.abs(ratio[:, 0] - 1) <= 0.2).all()
    assert len(np.unique(ratio[:, 0].round(5))) == 12  # a gain per lead

    flat = np.zeros((12, 8 * 257), np.float32)
    wander = Augmentation(PLAIN.replace(baseline_wander=0.3), 0, 0).window(flat, 0, 0)
    assert 0 < np.abs(wander).max() <= 0.3 and np.abs(np.diff(wander, axis=1)).max() < 2 * np.pi * 0.5 * 0.3 / 257
    assert not flat.any()  # the input is never changed (the cache is read-only)

    noise = Augmentation(PLAIN.replace(noise=0.05), 0, 0).window(flat, 0, 0)
    assert abs(noise.std() - 0.05) < 0.002 and abs(noise.mean()) < 0.002


def test_wander_is_slow():
    out = augment.wander(100 * 257, 1.0, 257, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(out, axis=1))
    peak = np.fft.rfftfreq(out.shape[1], 1 / 257)[np.argmax(spectrum, axis=1)]
    assert ((augment.WANDER_HZ[0] - 0.01 <= peak) & (peak <= augment.WANDER_HZ[1] + 0.01)).all()


def test_lead_masking_drops_some_leads_and_never_all():
    counts = [augment.dropped_leads(np.random.default_rng(seed)).sum() for seed in range(2000)]
    assert min(counts) == 1 and max(counts) == 11 and abs(np.mean(counts) - 6) < 0.2
    masking = Augmentation(TINY.replace(lead_mask=1.0), 0, 0)
    for position in range(200):
        out = masking.window(signal(position, 50), 0, position)
        zero = ~out.any(axis=1)
        assert 1 <= zero.sum() <= 11
    half = Augmentation(TINY.replace(lead_mask=0.5), 0, 0)
    masked = [(~half.window(signal(p, 50), 0, p).any(axis=1)).any() for p in range(400)]
    assert 0.4 < np.mean(masked) < 0.6


def test_masked_leads_are_exactly_zero_after_noise_and_wander_and_conditioning(data):
    config = EVERYTHING.replace(lead_mask=1.0, mixup=0.0)
    x, _, _, (start, end), _, _ = batches(data, config)[0]
    for row in range(len(x)):
        valid = x[row, :, start[row] : end[row]]
        assert 1 <= int((~valid.bool().any(dim=1)).sum()) <= 11


def test_mixup_mixes_signals_demographics_labels_and_takes_the_smaller_weight():
    parts = [np.full((12, 6), 1.0, np.float32), np.full((12, 4), 3.0, np.float32), np.full((12, 6), 5.0, np.float32)]
    labels = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    demographics = np.array([[0.5, 0], [0.7, 1], [0.1, 0]], np.float32)
    weights = np.array([[1, 0], [0.3, 1], [1, 1]], np.float32)
    partners, own = np.array([1, 2, 0]), np.array([0.75, 0.5, 1.0], np.float32)
    mixed, y, d, w = augment.mix(parts, labels, demographics, weights, partners, own)
    assert np.allclose(mixed[0][:, :4], 0.75 * 1 + 0.25 * 3) and np.allclose(mixed[0][:, 4:], 0.75)  # partner shorter
    assert np.allclose(mixed[1], 0.5 * 3 + 0.5 * 5) and mixed[1].shape == (12, 4)  # partner cut to the window
    assert np.allclose(mixed[2], 5.0)
    assert np.allclose(y, [[0.75, 0.25], [0.5, 1], [1, 1]]) and y.dtype == np.float32
    assert np.allclose(d, [[0.55, 0.25], [0.4, 0.5], [0.1, 0]])
    assert np.allclose(w, [[0.3, 0], [0.3, 1], [1, 0]])
    assert augment.mix(parts, labels, demographics, None, partners, own)[3] is None


def test_mixup_draws_are_beta_distributed_permutations():
    partners, own = Augmentation(PLAIN.replace(mixup=0.4), 0, 0).mixing(0, 0, 5000)
    assert sorted(partners) == list(range(5000)) and own.dtype == np.float32
    assert abs(own.mean() - 0.5) < 0.02 and abs(own.var() - 0.25 / 1.8) < 0.01  # Beta(a, a): variance 1/(4(2a+1))


def test_padding_stays_zero_and_the_record_part_is_augmented_then_conditioned(data):
    config = EVERYTHING.replace(mixup=0.0)
    plan = plan_of(data, config)
    augmentation = Augmentation(config, 1, 0)
    x, _, _, (start, end), _, _ = WindowBatches(data, plan, config, augmentation=augmentation)[0]
    assert (start > 0).any()  # some records are shorter than the window
    for row, (i, source, target, count) in enumerate(plan[0]):
        assert not x[row, :, :target].any() and not x[row, :, target + count :].any()
        raw = data.cache.signal(data.rows[i])[:, source : source + count]
        expected = preprocess.condition(augmentation.window(raw, 0, row), config)
        assert np.array_equal(x[row, :, target : target + count].numpy(), expected)


def test_choices_depend_on_seed_fold_epoch_and_batch_alone_not_on_workers(data):
    first, again = batches(data, EVERYTHING), batches(data, EVERYTHING)
    loaded = list(batch_loader(first, 2, torch.device("cpu")))
    for k in range(len(first)):
        same(first[k], again[k])  # a resumed run builds its batches anew: the same
        same(first[k], loaded[k])  # data-loader processes make the same choices

    def first_window(config, fold=1, epoch=0):  # the same windows, augmented for another fold, epoch or seed
        return WindowBatches(data, first.plan, config, augmentation=Augmentation(config, fold, epoch))[0][0]

    assert torch.equal(first_window(EVERYTHING), first[0][0])
    for other in (
        first_window(EVERYTHING, fold=0),
        first_window(EVERYTHING, epoch=1),
        first_window(EVERYTHING.replace(seed=1)),
    ):
        assert not torch.equal(other, first[0][0])


def test_every_process_counts_the_same_global_weight_after_mixup(data):
    weights = np.ones((len(data.names), K), np.float32)
    weights[::3, 2] = 0
    weights[1::4, 5] = 0.25
    data_weighted = dataclasses.replace(data, loss_mask=weights)
    config = EVERYTHING
    plan = plan_of(data, config)
    for k in range(len(plan)):
        shares = [WindowBatches(data_weighted, plan, config, rank, 2, Augmentation(config, 1, 0))[k] for rank in (0, 1)]
        share_weights = [s[5][0] for s in shares]
        total = sum(float(w.double().sum()) for w in share_weights)
        assert [s[5][1] for s in shares] == pytest.approx([total, total], rel=1e-12)
        rows = plan[k][:, 0]
        assert total <= float(weights[rows].sum()) + 1e-9  # mixing only takes weight away
