import copy

import numpy as np
import pytest
import torch

from ecgnet.config import Config
from ecgnet.inference import predict
from ecgnet.model import SEResNet1d, fuse_for_inference
from ecgnet.preprocess import condition
from ecgnet.records import Record

from helpers import TINY_NETWORK


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def test_default_network_has_the_published_size():
    assert 8.7e6 < count_parameters(SEResNet1d(Config())) < 8.9e6


def test_lead_gate_adds_a_small_gate():
    extra = count_parameters(SEResNet1d(TINY_NETWORK.replace(lead_gate=True))) - count_parameters(
        SEResNet1d(TINY_NETWORK.replace(lead_gate=False))
    )
    assert extra == 2 * (12 * 12 + 12)


@pytest.mark.parametrize("lead_gate", [False, True])
def test_padding_never_changes_outputs(lead_gate):
    torch.manual_seed(0)
    model = SEResNet1d(TINY_NETWORK.replace(lead_gate=lead_gate)).eval()
    lengths = [333, 1024, 517, 1, 64, 999]
    x = torch.randn(len(lengths), 12, 1024)
    for i, n in enumerate(lengths):
        x[i, :, n:] = 0
    demographics = torch.rand(len(lengths), 5)
    with torch.no_grad():
        batched = model(x, demographics, (torch.zeros(len(lengths), dtype=torch.long), torch.tensor(lengths)))
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :, :n], demographics[i : i + 1])
            assert torch.allclose(batched[i], alone[0], atol=1e-5), n


def test_without_masks_padding_changes_outputs():
    torch.manual_seed(0)
    model = SEResNet1d(TINY_NETWORK.replace(mask_padding=False)).eval()
    x = torch.randn(1, 12, 500)
    padded = torch.nn.functional.pad(x, (0, 524))
    with torch.no_grad():
        valid = (torch.tensor([0]), torch.tensor([500]))
        assert not torch.allclose(model(x, torch.zeros(1, 5)), model(padded, torch.zeros(1, 5), valid), atol=1e-4)


def test_flat_and_zero_records_give_finite_outputs():
    model = SEResNet1d(TINY_NETWORK.replace(lead_gate=True)).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 12, 300), torch.zeros(2, 5))
    assert out.shape == (2, 24) and torch.isfinite(out).all()


@pytest.mark.parametrize("mask_padding", [True, False])
def test_predict_does_not_depend_on_batching(mask_padding):
    torch.manual_seed(1)
    config = TINY_NETWORK.replace(mask_padding=mask_padding)
    model = SEResNet1d(config).eval()
    rng = np.random.default_rng(0)
    records = [
        Record(f"r{i}", rng.standard_normal((12, n)).astype(np.float32), rng.random(5).astype(np.float32))
        for i, n in enumerate([300, 1024, 3000, 5000, 700, 700, 1500])
    ]
    together = predict([model], records, config, "cpu", batch_samples=8 * 1024)
    one_by_one = np.concatenate([predict([model], [r], config, "cpu", batch_samples=1024) for r in records], axis=1)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert together.shape == (1, len(records), 24)


def test_predict_averages_the_views_of_a_long_record():
    torch.manual_seed(2)
    model = SEResNet1d(TINY_NETWORK).eval()
    signal = np.random.default_rng(1).standard_normal((12, 3000)).astype(np.float32)
    demographics = np.zeros(5, np.float32)
    record = Record("long", signal, demographics)
    got = predict([model], [record], TINY_NETWORK, "cpu")[0, 0]
    views = [(0, 3000), (658, 1682), (1316, 2340), (1976, 3000)]  # whole record + windows of 1024, overlap >= 128
    with torch.no_grad():  # each view conditioned (the defaults: a per-lead z-score) on its own
        expected = np.mean(
            [
                torch.sigmoid(
                    model(torch.from_numpy(condition(signal[:, s:e], TINY_NETWORK)[None]), torch.zeros(1, 5))
                )[0].numpy()
                for s, e in views
            ],
            axis=0,
        )
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_fused_batch_norm_gives_the_same_outputs():
    torch.manual_seed(3)
    model = SEResNet1d(TINY_NETWORK.replace(lead_gate=True))
    model.train()
    with torch.no_grad():  # give the batch norms non-trivial statistics
        for _ in range(3):
            model(torch.randn(8, 12, 700) * 3 + 1, torch.rand(8, 5))
    model.eval()
    x, demographics = torch.randn(4, 12, 900), torch.rand(4, 5)
    x[1, :, 400:] = 0
    valid = (torch.zeros(4, dtype=torch.long), torch.tensor([900, 400, 900, 900]))
    with torch.no_grad():
        expected = model(x, demographics, valid)
        fused = fuse_for_inference(copy.deepcopy(model))
        assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in fused.modules())
        torch.testing.assert_close(fused(x, demographics, valid), expected, atol=1e-5, rtol=1e-5)


def test_training_mode_still_backpropagates_through_masks():
    model = SEResNet1d(TINY_NETWORK)
    x = torch.randn(3, 12, 600, requires_grad=True)
    valid = (torch.tensor([0, 50, 0]), torch.tensor([600, 500, 300]))
    model(x, torch.rand(3, 5), valid).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
