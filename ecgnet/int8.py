"""int8 inference on CPUs: the network's residual-block convolutions in 8-bit integers.

What is quantised. The 16 block convolutions and the 3 projected shortcuts (batch norm
folded in first) hold all but about 2% of the network's arithmetic. Their weights are int8
with one scale per output channel; their inputs are quantised per tensor with a scale fixed at
calibration (`ecgnet quantize`), so that a record's int8 values never depend on the batch it
is in. The stem, the lead gate, the squeeze-and-excite gates, the poolings, the masks and
the classifier stay in float32: the stem sees the signed, unbounded millivolt signal, which
one fixed scale would clip or blur, for about 2% of the arithmetic.

The kernels. `onednn::qconv1d_pointwise` is the int8 convolution that torch's
X86InductorQuantizer lowers to; called directly it runs int8 arithmetic without
torch.compile, on plain uint8/int8 tensors (torch's quantised tensor types are deprecated),
and returns float32 (dequantisation fused). Every block input is a ReLU output, so
activations are unsigned with zero point 0 and a masked (zero) position stays exactly zero.
Each block's first convolution hands its output to the second as uint8 codes at the second's
input scale (oneDNN applies the ReLU and requantises), with no float32 map in between: the
block's masking then works on codes (the same results, a quarter of the memory traffic). A
block's input is quantised once, for its first convolution and its projected shortcut
(`Int8Block`). A projected shortcut (1x1, stride 2) runs as a 1x1 convolution on every second
position, the same arithmetic: oneDNN's strided int8 1x1 kernels (oneDNN 3.12, torch 2.13)
return wrong sums for a few outputs (32 of 61,440 in one run, off by as much as the sums
themselves), different ones from run to run, when two threads run them at once and the input
channels are an odd multiple of the instruction set's block (8 with AVX2, 4 with SSE4.1 and
AVX; the tiny test model has 8).

7-bit activations (0..127). On x86 CPUs without VNNI (AVX2 only, as AMD Zen 3), the int8
kernels add pairs of uint8 x int8 products in int16, which saturates for full-range
activations: measured on this project's machines with oneDNN limited to AVX2, a 256-channel
convolution was off by 7.2 of 26 with 0..255 and exact with 0..127. torch's own x86
quantisation settings reduce the range the same way.

Outputs that do not depend on the batch. On every CPU, a view's int8 outputs are bit for bit
the same whether its record is classified alone or in any batch, padded and masked or not.
int8 needs this more than float32 does: a float value one unit in the last place apart lands,
now and then, on the other side of a rounding boundary of the next layer's codes, and one
code moves the probabilities by up to 4e-4 (paper-size model; float32 moved 3e-7). So nothing
before a quantiser may depend on the batch:
- the int8 convolutions: integer sums are exact, every scale is fixed, and the
  dequantisation is one multiply-add per output;
- the float arithmetic around them runs one view at a time, on tensors of that view alone
  (`Int8Network`): the lead gate, the stem (as one matrix product per view: oneDNN's float
  kernels, and torch's choice among them, change with the batch's size and width), each
  squeeze-and-excite gate with its channel means (`PerViewSqueezeExcite`), the final pooling
  and classifier, and the sigmoid (torch's vectorised sigmoid and its scalar one differ in the
  last bit, and which an output gets depends on its place in the tensor);
- what stays batched is exact elementwise arithmetic: masks, ReLU, residual sums, gate
  products and quantisation.
This costs the int8 network about 6% more CPU time (sample records). tests/test_quantize.py
checks it, with the integer sums, with oneDNN limited to every instruction set the CPU has
(tests/int8_check.py). Across CPU kinds the outputs differ a little (other kernels round
differently): see docs/speed.md, "int8 on different CPUs".

The price of fixed scales: activations beyond the calibrated range are clipped. On the sample
records one record (Q0010, with spikes of 11 mV) drove every layer 3 to 11 times past it, and
one of its probabilities moved by 0.83; the fidelity gate (`quantize`) counts such records in
its label cells and names the worst.
"""

import functools
import platform
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config
from .model import BasicBlock, SEResNet1d, SqueezeExcite, blocks, fuse_for_inference, masked, no_masks

ACTIVATION_MAX = 127  # 7-bit activations: see the module's docstring
WEIGHT_MIN, WEIGHT_MAX = -128, 127
# The tensors an int8 convolution `NAME` stores, beside the float tensors of the network:
# NAME.weight (int8), NAME.weight_scale (per output channel), NAME.bias, NAME.input_scale (scalar).
QUANTISED_SUFFIXES = ("weight", "weight_scale", "bias", "input_scale")


def supported() -> bool:
    """Whether this torch runs the int8 kernels here (oneDNN on an x86-64 CPU)."""
    return torch.backends.mkldnn.is_available() and platform.machine().lower() in ("x86_64", "amd64")


def quantise_activations(x: torch.Tensor, scale: float) -> torch.Tensor:
    """uint8 codes round(x / scale), clipped to 0..ACTIVATION_MAX (x >= 0: a ReLU output)."""
    codes = x.mul(1.0 / scale)
    codes.round_().clamp_(0, ACTIVATION_MAX)
    # 0..127 have the same bits in int8 and uint8; torch converts float32 to int8 about 3x
    # faster than to uint8 (measured with AVX2 and AVX-512).
    return codes.to(torch.int8).view(torch.uint8)


class Int8Conv1d(nn.Module):
    """A 1-d convolution computed in int8 (see the module's docstring). It takes float32 input
    (quantised here) or uint8 codes at its input scale; it returns float32 or, with
    `output_scale`, the uint8 codes of its ReLU output at that scale.

    Its tensors are plain attributes, not parameters: the oneDNN-packed weight has no place in
    a state dict, and the int8 network is only ever built from a stored state (`int8_network`)."""

    def __init__(
        self,
        weight: torch.Tensor,
        weight_scale: torch.Tensor,
        bias: torch.Tensor,
        input_scale: float,
        stride: int,
        output_scale: float | None = None,
    ):
        super().__init__()
        self.input_scale = float(input_scale)
        self.output_scale = output_scale
        # A strided 1x1 convolution is the same as a 1x1 one on every stride-th position:
        # oneDNN's strided int8 1x1 kernels give wrong sums on several threads (module docstring).
        self.subsample = stride if weight.shape[-1] == 1 else 1
        self.stride, self.padding = stride // self.subsample, weight.shape[-1] // 2
        self.weight_scale, self.bias = weight_scale.float(), bias.float()
        self.weight_zero_point = torch.zeros(weight.shape[0], dtype=torch.long)
        # The int8 weight is not kept: only the packed copy oneDNN computes with.
        self.packed = torch.ops.onednn.qconv_prepack(
            weight, self.weight_scale, self.input_scale, 0, [self.stride], [self.padding], [1], 1, None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.subsample > 1:
            x = x[..., :: self.subsample]
        codes = x if x.dtype == torch.uint8 else quantise_activations(x, self.input_scale)
        out = torch.ops.onednn.qconv1d_pointwise(
            codes,
            self.input_scale,
            0,
            self.packed,
            self.weight_scale,
            self.weight_zero_point,
            self.bias,
            [self.stride],
            [self.padding],
            [1],
            1,
            1.0 if self.output_scale is None else self.output_scale,
            0,
            torch.float32 if self.output_scale is None else None,  # None: uint8 codes
            "none" if self.output_scale is None else "relu",
            [],
            "",
        )
        return out if self.output_scale is None else out.clamp_(max=ACTIVATION_MAX)


class PerViewConv1d(nn.Conv1d):
    """A float convolution computed as one matrix product per view (batch row) on its im2col
    patches: a shape that depends on the view alone, where oneDNN's float kernels and their
    blocking change with the batch's size and width (module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kernel,), (stride,), (padding,) = self.kernel_size, self.stride, cast(tuple[int], self.padding)
        assert self.bias is not None  # made with one
        weight = self.weight.reshape(self.out_channels, -1)
        views = []
        for view in x:
            patches = F.pad(view, (padding, padding)).unfold(-1, kernel, stride)  # (channels, positions, kernel)
            patches = patches.transpose(0, 1).reshape(patches.shape[1], -1)
            views.append(torch.addmm(self.bias[:, None], weight, patches.t()))
        return torch.stack(views)


class Int8Block(BasicBlock):
    """A residual block of the int8 network (`int8_network` replaces its convolutions with
    `Int8Conv1d`): its input is quantised once, for its first convolution and for its projected
    shortcut, which calibration gives the same scale (they read the same tensor); the first
    convolution's output stays in codes, already ReLU'd and never dropped out (eval only)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        conv1, shortcut = cast(Int8Conv1d, self.conv1), cast(Int8Conv1d | None, self.shortcut)
        codes = quantise_activations(x, conv1.input_scale)
        out = self.se(masked(self.conv2(masked(conv1(codes), mask, inplace)), mask, inplace), mask, inplace)
        if shortcut is None:
            identity = x
        else:
            identity = masked(shortcut(codes if shortcut.input_scale == conv1.input_scale else x), mask, inplace)
        return F.relu(out.add_(identity), inplace=True)


class PerViewSqueezeExcite(SqueezeExcite):
    """SqueezeExcite that gates each view (batch row) on its own: the channel means of its
    valid positions and its gate come from tensors of that view alone (module docstring)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        out = x if inplace else x.clone()
        # Valid positions of a view are its first ones (views start at position 0).
        counts = [x.shape[-1]] * len(x) if mask is None else mask.sum(-1)[:, 0].long().tolist()
        # The gate's arithmetic, without nn.Linear's module calls (a few microseconds each, twice
        # per view and block).
        fc1, fc2 = self.fc1.weight, self.fc2.weight
        for row, count in enumerate(counts):
            view = out[row : row + 1, :, :count]
            view.mul_(torch.sigmoid(F.linear(F.relu(F.linear(view.mean(dim=-1), fc1)), fc2)).unsqueeze(-1))
        return out


class Int8Network(SEResNet1d):
    """The int8 network (`int8_network`): block convolutions in int8 on the whole batch, the
    float arithmetic around them one view at a time, so that a view's outputs never depend on
    the batch it is in (module docstring)."""

    block_type = Int8Block

    def forward(
        self, x: torch.Tensor, demographics: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        ends = self._view_ends(x, valid)
        stem_out = x.new_zeros(x.shape[0], self.stem.out_channels, (x.shape[-1] + 3) // 4)
        for row, end in enumerate(ends):
            view = self.stem_stage(x[row : row + 1, :, :end], no_masks)
            stem_out[row, :, : view.shape[-1]] = view[0]
        x, stride = self.body(stem_out, self.masks(valid))
        return torch.cat(
            [
                self.head(x[row : row + 1, :, : -(-end // stride)], None, demographics[row : row + 1])
                for row, end in enumerate(ends)
            ]
        )

    def probabilities(
        self, x: torch.Tensor, demographics: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return torch.cat([torch.sigmoid(row) for row in self(x, demographics, valid).split(1)])

    def _view_ends(self, x: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor] | None) -> list[int]:
        """Each view's valid samples: its first `end` (`inference.view_batches` starts every view
        at 0); all of them without `valid` or mask_padding."""
        if valid is None or not self.mask_padding:
            return [x.shape[-1]] * x.shape[0]
        if bool((valid[0] != 0).any()):
            raise ValueError("int8 networks classify views that start at sample 0")
        return valid[1].clamp(max=x.shape[-1]).tolist()


def quantised_convolutions(model: SEResNet1d) -> dict[str, nn.Conv1d]:
    """{name: convolution} of the convolutions int8 computes, in a fused network
    (`fuse_for_inference`): each block's two and its shortcut, if projected."""
    convolutions = {}
    for i, block in enumerate(model.blocks):
        for part in ("conv1", "conv2", "shortcut"):
            if getattr(block, part) is not None:
                convolutions[f"blocks.{i}.{part}"] = getattr(block, part)
    return convolutions


def _fused_skeleton(config: Config, network: type[SEResNet1d] = SEResNet1d) -> SEResNet1d:
    """The fused float `network` of `config` on the meta device: its structure, nothing allocated."""
    with torch.device("meta"):
        return fuse_for_inference(network(config, initialise=False))


# Every fold of a model has the same shapes: built once per config (callers only read them).
@functools.lru_cache(maxsize=4)
def state_shapes(config: Config) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """{name: (shape, dtype)} of an int8 network's stored state: the fused float network's
    tensors, with each quantised convolution's as QUANTISED_SUFFIXES lists them."""
    skeleton = _fused_skeleton(config)
    shapes = {name: (tuple(t.shape), t.dtype) for name, t in skeleton.state_dict().items()}
    for name, conv in quantised_convolutions(skeleton).items():
        channels = conv.weight.shape[0]
        shapes[f"{name}.weight"] = (tuple(conv.weight.shape), torch.int8)
        shapes[f"{name}.weight_scale"] = ((channels,), torch.float32)
        shapes[f"{name}.input_scale"] = ((), torch.float32)
    return shapes


def int8_network(config: Config, state: dict[str, torch.Tensor]) -> Int8Network:
    """The int8 network of a stored state (checked by `modelstore.load_int8_weights`), in
    eval mode, on the CPU. The state's tensors are used, not copied."""
    model = cast(Int8Network, _fused_skeleton(config, Int8Network))
    with torch.device("meta"):
        stem = model.stem
        model.stem = PerViewConv1d(
            stem.in_channels,
            stem.out_channels,
            cast(tuple[int], stem.kernel_size),
            cast(tuple[int], stem.stride),
            cast(tuple[int], stem.padding),
        )
        for block in blocks(model):
            block.se = PerViewSqueezeExcite(block.se.fc1.in_features, config.se_reduction)
    convolutions = quantised_convolutions(model)
    for name, conv in convolutions.items():
        owner, part = name.rsplit(".", 1)
        weight, weight_scale, bias, input_scale = (state[f"{name}.{suffix}"] for suffix in QUANTISED_SUFFIXES)
        # conv1's output goes, through the block's mask and ReLU only, into conv2: as codes
        output_scale = float(state[f"{owner}.conv2.input_scale"]) if part == "conv1" else None
        int8_conv = Int8Conv1d(weight, weight_scale, bias, float(input_scale), conv.stride[0], output_scale)
        setattr(model.get_submodule(owner), part, int8_conv)
    floats = {k: v for k, v in state.items() if k.rsplit(".", 1)[0] not in convolutions}
    model.load_state_dict(floats, strict=True, assign=True)
    return model
