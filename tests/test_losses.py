"""The training losses (ecgnet.losses: BCE, asymmetric loss, label smoothing) against values
computed by hand, and loss weights in `loop.masked_loss`."""

import math

import pytest
import torch
import torch.nn.functional as F

from ecgnet import losses
from ecgnet.config import Config
from ecgnet.loop import masked_loss

K = 24


def random_cells(seed, rows=4):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, K, generator=generator, dtype=torch.float64) * 3
    return logits.requires_grad_(), (torch.rand(rows, K, generator=generator) > 0.7).double()


def test_the_papers_loss_is_bce_itself_and_the_defaults_smooth_its_targets():
    assert losses.criterion(Config.paper()) is losses.bce
    logits, y = random_cells(1)
    smoothed = losses.criterion(Config())  # label_smoothing 0.1: targets 0.05 and 0.95
    assert torch.allclose(smoothed(logits, y), losses.bce(logits, y * 0.9 + 0.05), rtol=0, atol=1e-12)


def test_asl_without_focusing_or_clip_is_bce():
    logits, y = random_cells(0)
    asl = losses.asymmetric(logits, y, gamma_neg=0, gamma_pos=0, clip=0)
    assert torch.allclose(asl, losses.bce(logits, y), rtol=0, atol=1e-12)
    (grad_asl,) = torch.autograd.grad(asl.sum(), logits)
    (grad_bce,) = torch.autograd.grad(losses.bce(logits, y, "sum"), logits)
    assert torch.allclose(grad_asl, grad_bce, atol=1e-12)
    assert torch.allclose(losses.asymmetric(logits, y, "sum", 0, 0, 0), asl.sum())


def test_asl_matches_the_papers_formula_by_hand():
    # p = 0.5 for a positive: -(1 - 0.5)^1 log 0.5; for a negative p_m = 0.5 - 0.05:
    # -0.45^4 log(0.55); a negative with p = 0.04 < clip adds nothing.
    logits = torch.tensor([[0.0, 0.0, math.log(0.04 / 0.96)]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    cells = losses.asymmetric(logits, y, gamma_neg=4, gamma_pos=1, clip=0.05)
    expected = [-0.5 * math.log(0.5), -(0.45**4) * math.log(0.55), 0.0]
    assert cells[0].tolist() == pytest.approx(expected, abs=1e-7)


def test_asl_soft_targets_weigh_the_two_terms():
    logits = torch.tensor([[0.7]])
    half = losses.asymmetric(logits, torch.tensor([[0.3]]), gamma_neg=2, gamma_pos=1, clip=0.1)
    positive = losses.asymmetric(logits, torch.ones(1, 1), gamma_neg=2, gamma_pos=1, clip=0.1)
    negative = losses.asymmetric(logits, torch.zeros(1, 1), gamma_neg=2, gamma_pos=1, clip=0.1)
    assert torch.allclose(half, 0.3 * positive + 0.7 * negative)


@pytest.mark.parametrize("gamma_neg", [0.5, 4.0])
def test_asl_gradients_stay_finite_at_extreme_logits(gamma_neg):
    logits = torch.tensor([[-200.0, -5.0, 0.0, 5.0, 200.0]] * 2, requires_grad=True)
    y = torch.tensor([[0.0] * 5, [1.0] * 5])
    for clip in (0.0, 0.05):
        (grad,) = torch.autograd.grad(losses.asymmetric(logits, y, "sum", gamma_neg, 0.5, clip), logits)
        assert torch.isfinite(grad).all()


def test_asl_focuses_away_easy_negatives():
    easy, hard = torch.tensor([[-3.0]]), torch.tensor([[1.0]])
    zero = torch.zeros(1, 1)
    ratio_asl = losses.asymmetric(easy, zero) / losses.asymmetric(hard, zero)
    assert ratio_asl < 0.01 * (losses.bce(easy, zero) / losses.bce(hard, zero))


def test_label_smoothing_pulls_targets_to_one_half():
    assert losses.smooth(torch.tensor([0.0, 1.0, 0.5]), 0.1).tolist() == pytest.approx([0.05, 0.95, 0.5])
    logits, y = random_cells(1)
    smoothed = losses.criterion(Config(label_smoothing=0.1))
    assert torch.allclose(smoothed(logits, y, "none"), losses.bce(logits, y * 0.9 + 0.05))
    asl = losses.criterion(Config(loss="asl", label_smoothing=0.2, asl_gamma_neg=2, asl_clip=0.1))
    expected = losses.asymmetric(logits, y * 0.8 + 0.1, gamma_neg=2, gamma_pos=0, clip=0.1)
    assert torch.allclose(asl(logits, y, "sum"), expected.sum())


def test_loss_weights_give_the_weighted_mean_over_the_global_batch():
    logits, y = random_cells(2)
    weights = torch.ones(4, K, dtype=torch.float64)
    weights[0, 1], weights[2, 3], weights[3, 0] = 0.0, 0.3, 0.5
    loss = losses.criterion(Config(loss="asl"))
    # Two processes, rows 0, 2 and 1, 3 of a global batch of 4: DDP averages the shares' gradients.
    global_weight = float(weights.sum())
    shares = [masked_loss(logits[r::2], y[r::2], (weights[r::2], global_weight), 4, 2, loss) for r in (0, 1)]
    cells = loss(logits, y, "none")
    expected = (cells * weights).sum() / weights.sum()
    assert torch.allclose(sum(s[1] for s in shares) / 2, expected, atol=1e-12)
    assert torch.allclose(sum(s[2] for s in shares) / 4, expected, atol=1e-12)  # the log's mean per cell
    all_masked = masked_loss(logits, y, (torch.zeros(4, K, dtype=torch.float64), 0.0), 4, 1)
    assert all_masked[1] == 0


def test_without_weights_the_chosen_loss_is_the_mean_over_the_global_batch():
    logits, y = random_cells(3)
    loss = losses.criterion(Config(loss="asl"))
    loss_sum, scaled, per_sample = masked_loss(logits, y, None, 8, 2, loss)
    assert torch.allclose(loss_sum, loss(logits, y, "none").sum())
    assert torch.allclose(scaled, loss_sum * 2 / (8 * K)) and torch.allclose(per_sample, loss_sum / K)
    assert torch.equal(
        masked_loss(logits, y, None, 8, 2)[0], F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    )
