"""The network: a 1-d squeeze-and-excite ResNet-18 with age and sex inputs.

Padding masks. Batches hold records of different lengths, zero-padded. With
`mask_padding`, every layer re-zeroes the positions that lie outside a sample's valid span and
the squeeze-and-excite and final poolings average over valid positions only. Since all
convolutions pad with zeros, a padded record then gives exactly the outputs of the record
alone (in eval mode), so inference never computes padding for nothing and never depends on
how records were batched. Position i of a feature map with total stride S stands for input
sample i * S; it is valid when that sample is.

In-place arithmetic. `fuse_for_inference` sets `inplace`: masks and gates then overwrite the
feature maps they scale instead of allocating new ones (faster, less memory). Only a network
that never computes gradients may do so, since autograd needs the maps it would overwrite.
"""

import functools
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import features
from .config import Config
from .labels import NUM_CLASSES
from .preprocess import DEMOGRAPHICS, LEADS


def masked(x: torch.Tensor, mask: torch.Tensor | None, inplace: bool) -> torch.Tensor:
    """x with the positions outside `mask` zeroed (in place with `inplace`); x itself without one."""
    if mask is None:
        return x
    mask = mask.to(x.dtype)  # stay in the autocast dtype under mixed precision
    return x.mul_(mask) if inplace else x * mask


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean(dim=-1)
    return x.sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)


# mask(stride, length, dtype) -> the padding mask of a feature map, or None (SEResNet1d.masks)
Masks = Callable[[int, int, torch.dtype], torch.Tensor | None]


def no_masks(stride: int, length: int, dtype: torch.dtype) -> None:
    """The masks of a batch without padding: every position counts."""
    return None


def _fused(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> nn.Conv1d:
    """`conv` with `bn` folded in, computed in its own weight: torch's fuse_conv_bn_eval would
    copy the weights, memory the allocator then keeps (35 MiB a fold model of the paper's
    size). The arithmetic is fuse_conv_bn_eval's, so the results are the same. On the meta
    device only the structure (a bias added): arithmetic on meta tensors would import torch's
    compiler (70 MiB, 3 s)."""
    if conv.weight.is_meta:
        return nn.Conv1d(
            conv.in_channels,
            conv.out_channels,
            cast(tuple[int], conv.kernel_size),
            cast(tuple[int], conv.stride),
            cast(tuple[int], conv.padding),
            device="meta",
        )
    assert bn.running_var is not None and bn.running_mean is not None  # the network's batch norms track them
    with torch.no_grad():
        rsqrt = torch.rsqrt(bn.running_var + bn.eps)
        bias = torch.zeros_like(bn.running_mean) if conv.bias is None else conv.bias
        conv.weight.mul_((bn.weight * rsqrt).reshape(-1, 1, 1))
        conv.bias = nn.Parameter((bias - bn.running_mean) * rsqrt * bn.weight + bn.bias)
    return conv


class SqueezeExcite(nn.Module):
    """Scale each channel by a gate computed from all channels' mean activations."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction, bias=False)
        self.fc2 = nn.Linear(channels // reduction, channels, bias=False)

    def gate(self, means: torch.Tensor) -> torch.Tensor:
        """(batch, channels) gates in (0, 1) from the channels' mean activations."""
        return torch.sigmoid(self.fc2(F.relu(self.fc1(means))))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        gate = self.gate(_masked_mean(x, mask)).unsqueeze(-1)
        return x.mul_(gate) if inplace else x * gate


class LeadGate(nn.Module):
    """Explicit adaptive lead weighting: a gate per input lead from every lead's log power."""

    def __init__(self, leads: int):
        super().__init__()
        self.fc1 = nn.Linear(leads, leads)
        self.fc2 = nn.Linear(leads, leads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        power = torch.log(_masked_mean(x * x, mask) + 1e-4)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(power))))
        return x * gate.unsqueeze(-1)


class BasicBlock(nn.Module):
    """conv-BN-ReLU-dropout-conv-BN-SE, plus a (projected) shortcut, then ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int, kernel: int, dropout: float, reduction: int):
        super().__init__()
        self.stride = stride  # of its first convolution: the block's output has 1/stride of its input's positions
        self.conv1 = nn.Conv1d(in_channels, channels, kernel, stride, kernel // 2, bias=False)
        self.bn1: nn.Module = nn.BatchNorm1d(channels)  # nn.Identity once fused
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(channels, channels, kernel, 1, kernel // 2, bias=False)
        self.bn2: nn.Module = nn.BatchNorm1d(channels)
        self.se = SqueezeExcite(channels, reduction)
        self.shortcut: nn.Module | None = None  # a Sequential (convolution, batch norm), one convolution once fused
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm1d(channels)
            )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        out = self.dropout(F.relu(masked(self.bn1(self.conv1(x)), mask, inplace), inplace=True))
        out = self.se(masked(self.bn2(self.conv2(out)), mask, inplace), mask, inplace)
        identity = x if self.shortcut is None else masked(self.shortcut(x), mask, inplace)
        return F.relu(out.add_(identity), inplace=True)

    def fuse_batch_norm(self) -> None:
        self.conv1, self.bn1 = _fused(self.conv1, cast(nn.BatchNorm1d, self.bn1)), nn.Identity()
        self.conv2, self.bn2 = _fused(self.conv2, cast(nn.BatchNorm1d, self.bn2)), nn.Identity()
        if self.shortcut is not None:
            conv, bn = cast(nn.Sequential, self.shortcut)
            self.shortcut = _fused(cast(nn.Conv1d, conv), cast(nn.BatchNorm1d, bn))


class SEResNet1d(nn.Module):
    feature_center: torch.Tensor  # buffers, with features=measurements
    feature_spread: torch.Tensor
    block_type: type[BasicBlock] = BasicBlock  # the int8 network's blocks compute otherwise

    def __init__(self, config: Config, initialise: bool = True):
        super().__init__()
        self.mask_padding = config.mask_padding
        self.inplace = False  # see the module's docstring; set by fuse_for_inference
        width = config.width
        self.lead_gate = LeadGate(len(LEADS)) if config.lead_gate else None
        self.stem = nn.Conv1d(len(LEADS), width, config.stem_kernel, 2, config.stem_kernel // 2, bias=False)
        self.stem_bn: nn.Module = nn.BatchNorm1d(width)  # nn.Identity once fused
        self.blocks = nn.ModuleList()
        channels = width
        for stage, count in enumerate(config.blocks):
            out_channels = width * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                self.blocks.append(
                    self.block_type(channels, out_channels, stride, config.kernel, config.dropout, config.se_reduction)
                )
                channels = out_channels
        self.demographics = nn.Linear(len(DEMOGRAPHICS), config.demographics_features)
        # features=measurements: the scaled measurements go into the classifier beside the
        # demographics' projection and the pooled signal features; their scaling (fitted on the
        # fold's training records, `set_feature_scaling`) is saved with the weights.
        self.feature_count = features.FEATURE_COUNT if config.features == "measurements" else 0
        if self.feature_count:
            self.register_buffer("feature_center", torch.zeros(self.feature_count))
            self.register_buffer("feature_spread", torch.ones(self.feature_count))
        head = channels + config.demographics_features + self.feature_count
        self.classifier = nn.Linear(head, NUM_CLASSES)
        if initialise:
            self._initialise()

    def _initialise(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_feature_scaling(self, center: np.ndarray, spread: np.ndarray) -> None:
        """The measurements' scaling (`features.fit_scaling` of the training records)."""
        with torch.no_grad():
            self.feature_center.copy_(torch.from_numpy(center))
            self.feature_spread.copy_(torch.from_numpy(spread))

    @staticmethod
    def _mask(start: torch.Tensor, end: torch.Tensor, stride: int, length: int) -> torch.Tensor:
        """(batch, 1, length) mask of positions whose input sample i * stride is valid."""
        position = torch.arange(length, device=start.device) * stride
        return ((position >= start[:, None]) & (position < end[:, None])).unsqueeze(1).float()

    def forward(
        self, x: torch.Tensor, demographics: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Logits for a batch. x: (batch, 12, samples); demographics: (batch, 5), followed with
        features=measurements by the encoded measurements (`features.network_inputs`);
        valid: optional (start, end) long tensors of each sample's valid span (end exclusive).
        Without `valid` (or without mask_padding) every position counts."""
        mask = self.masks(valid)
        x = self.stem_stage(x, mask)
        x, stride = self.body(x, mask)
        return self.head(x, mask(stride, x.shape[-1], x.dtype), demographics)

    def probabilities(
        self, x: torch.Tensor, demographics: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Float32 class probabilities for a batch (the sigmoid of `forward`'s logits)."""
        return torch.sigmoid(self(x, demographics, valid).float())

    def masks(self, valid: tuple[torch.Tensor, torch.Tensor] | None) -> Masks:
        """mask(stride, length, dtype): the (batch, 1, length) mask of a feature map with total
        stride `stride` (`_mask`), made once per stride; None without `valid` or mask_padding."""
        if valid is None or not self.mask_padding:
            return no_masks
        made = {}

        def mask(stride: int, length: int, dtype: torch.dtype) -> torch.Tensor:
            if stride not in made:
                made[stride] = self._mask(valid[0], valid[1], stride, length).to(dtype)
            return made[stride]

        return mask

    def stem_stage(self, x: torch.Tensor, mask: Masks) -> torch.Tensor:
        """Lead gate, stem and max pooling: the first block's input (total stride 4)."""
        if self.lead_gate is not None:
            x = self.lead_gate(x, mask(1, x.shape[-1], x.dtype))
        inplace = self.inplace
        stem_mask = mask(2, (x.shape[-1] + 1) // 2, x.dtype)
        x = F.relu(masked(self.stem_bn(self.stem(x)), stem_mask, inplace), inplace=True)
        # Inputs are >= 0, so zeroed padding never wins the max inside the valid span; the
        # max does leak into padding next to it, which is zeroed again.
        x = F.max_pool1d(x, 3, 2, 1)
        return masked(x, mask(4, x.shape[-1], x.dtype), inplace)

    def body(self, x: torch.Tensor, mask: Masks) -> tuple[torch.Tensor, int]:
        """The residual blocks on the stem stage's output: (feature map, its total stride)."""
        stride = 4
        for block in blocks(self):
            stride *= block.stride
            x = block(x, mask(stride, (x.shape[-1] + block.stride - 1) // block.stride, x.dtype), self.inplace)
        return x, stride

    def head(self, x: torch.Tensor, mask: torch.Tensor | None, demographics: torch.Tensor) -> torch.Tensor:
        """Logits from the last feature map (its valid positions' mean), the demographics and,
        with features=measurements, the scaled measurements that follow them."""
        pooled = _masked_mean(x, mask)
        head = [self.demographics(demographics[:, : len(DEMOGRAPHICS)]), pooled]
        if self.feature_count:
            measured = demographics[:, len(DEMOGRAPHICS) :].float()
            head.append(features.scale(measured, self.feature_center, self.feature_spread).to(pooled.dtype))
        return self.classifier(torch.cat(head, dim=1))


def blocks(model: SEResNet1d) -> list[BasicBlock]:
    """The residual blocks of `model`, in order."""
    return cast(list[BasicBlock], list(model.blocks))


def fuse_for_inference(model: SEResNet1d) -> SEResNet1d:
    """For inference only: fold every batch norm into the convolution before it (the same
    outputs with one pass less over each feature map) and compute in place (see the module's
    docstring). Leaves the model in eval mode; it can no longer be trained."""
    model.eval()
    model.inplace = True
    model.stem, model.stem_bn = _fused(model.stem, cast(nn.BatchNorm1d, model.stem_bn)), nn.Identity()
    for block in blocks(model):
        block.fuse_batch_norm()
    return model


# Every fold of a model has the same shapes: built once per config (callers only read them).
@functools.lru_cache(maxsize=4)
def state_shapes(config: Config) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """{name: (shape, dtype)} of the network's state, found without allocating it (on the
    meta device, skipping the initialisation that would load torch's compiler there)."""
    with torch.device("meta"):
        state = SEResNet1d(config, initialise=False).state_dict()
    return {name: (tuple(t.shape), t.dtype) for name, t in state.items()}
