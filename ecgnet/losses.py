"""The training loss of each (record, class) cell (`Config.loss`, `label_smoothing`).

A loss here is `loss(logits, targets, reduction)` with torch's reductions "none" (per cell)
and "sum"; `loop.masked_loss` weights the cells and normalises over the global batch, the same
for every loss. Targets may be soft (mixup, label smoothing): every loss takes targets in [0, 1].
"""

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .config import Config

Loss = Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]
# Smallest base of ASL's focusing powers: p ** gamma at p = 0 has an infinite gradient for
# gamma < 1, which times the zero gradient of the clip would give NaN.
_EPSILON = 1e-8


def bce(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Binary cross-entropy, the published method's loss."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction)


def asymmetric(
    logits: torch.Tensor,
    targets: torch.Tensor,
    reduction: str = "none",
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
) -> torch.Tensor:
    """Asymmetric loss (Ridnik et al., "Asymmetric Loss For Multi-Label Classification", ICCV
    2021): with p = sigmoid(logit) and p_m = max(p - clip, 0),

        -y (1 - p)^gamma_pos log(p) - (1 - y) p_m^gamma_neg log(1 - p_m).

    Easy negatives (small p) are focused away by gamma_neg and those with p below `clip` add
    nothing, so the many easy negatives of rare classes do not swamp their few positives; the
    gradient of a negative also falls again where p is very high, so a missed label (a
    positive recorded as negative) pulls less than under BCE. With gammas 0 and clip 0 it is
    BCE. For hard targets it is the paper's; a soft target weighs the two terms. Gradients flow
    through the focusing weights, as in the loss's definition."""
    probability = torch.sigmoid(logits)
    log_p = F.logsigmoid(logits)
    if clip > 0:
        shifted = (probability - clip).clamp(min=0)
        log_not_shifted = torch.log((1 - probability + clip).clamp(max=1))
    else:
        shifted, log_not_shifted = probability, F.logsigmoid(-logits)
    positive = (1 - probability).clamp(min=_EPSILON) ** gamma_pos * log_p
    negative = shifted.clamp(min=_EPSILON) ** gamma_neg * log_not_shifted
    cells = -(targets * positive + (1 - targets) * negative)
    return cells.sum() if reduction == "sum" else cells


def smooth(targets: torch.Tensor, amount: float) -> torch.Tensor:
    """Targets pulled toward 0.5: y (1 - amount) + amount / 2."""
    return targets * (1 - amount) + amount / 2


def criterion(config: Config) -> Loss:
    """The loss of `config`; `bce` itself by default, so that the published loss is computed
    exactly as before."""
    loss = bce
    if config.loss == "asl":
        loss = functools.partial(
            asymmetric, gamma_neg=config.asl_gamma_neg, gamma_pos=config.asl_gamma_pos, clip=config.asl_clip
        )
    if not config.label_smoothing:
        return loss

    def smoothed(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "none") -> torch.Tensor:
        return loss(logits, smooth(targets, config.label_smoothing), reduction)

    return smoothed
