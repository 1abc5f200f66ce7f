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
block's masking and ReLU then work on codes (the same results, a quarter of the memory traffic).

7-bit activations (0..127). On x86 CPUs without VNNI (AVX2 only, as AMD Zen 3), the int8
kernels add pairs of uint8 x int8 products in int16, which saturates for full-range
activations: measured on this project's machines with oneDNN limited to AVX2, a 256-channel
convolution was off by 7.2 of 26 with 0..255 and exact with 0..127. torch's own x86
quantisation settings reduce the range the same way.

Padding masks still hold: padding is zero in int8 as in float, the integer sums are exact
whatever the batch width, and every scale is fixed. The float32 rounding of the masked means
(sums over rows of another width) remains, and in int8 it can move a value across a rounding
boundary of the next layer's codes: a padded record's probabilities differ from those of the
record alone by up to 2e-4 (paper-size model, sample records), against 3e-7 in float32.

The price of fixed scales: activations beyond the calibrated range are clipped. On the sample
records one record (Q0010, with spikes of 11 mV) drove every layer 3 to 11 times past it, and
one of its probabilities moved by 0.83; the fidelity gate (`quantize`) counts such records in
its label cells and names the worst.
"""

import platform

import torch
from torch import nn

from .config import Config
from .model import SEResNet1d, fuse_for_inference

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
    return codes.to(torch.uint8)


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
        self.stride, self.padding = stride, weight.shape[-1] // 2
        self.weight_scale, self.bias = weight_scale.float(), bias.float()
        self.weight_zero_point = torch.zeros(weight.shape[0], dtype=torch.long)
        # The int8 weight is not kept: only the packed copy oneDNN computes with.
        self.packed = torch.ops.onednn.qconv_prepack(
            weight, self.weight_scale, self.input_scale, 0, [stride], [self.padding], [1], 1, None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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


def quantised_convolutions(model: SEResNet1d) -> dict[str, nn.Conv1d]:
    """{name: convolution} of the convolutions int8 computes, in a fused network
    (`fuse_for_inference`): each block's two and its shortcut, if projected."""
    convolutions = {}
    for i, block in enumerate(model.blocks):
        for part in ("conv1", "conv2", "shortcut"):
            if getattr(block, part) is not None:
                convolutions[f"blocks.{i}.{part}"] = getattr(block, part)
    return convolutions


def _fused_skeleton(config: Config) -> SEResNet1d:
    """The fused float network of `config` on the meta device: its structure, nothing allocated."""
    with torch.device("meta"):
        return fuse_for_inference(SEResNet1d(config, initialise=False))


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


def int8_network(config: Config, state: dict[str, torch.Tensor]) -> SEResNet1d:
    """The int8 network of a stored state (checked by `modelstore.load_int8_weights`), in
    eval mode, on the CPU. The state's tensors are used, not copied."""
    model = _fused_skeleton(config)
    convolutions = quantised_convolutions(model)
    for name, conv in convolutions.items():
        block, part = name.rsplit(".", 1)
        tensors = [state[f"{name}.{suffix}"] for suffix in QUANTISED_SUFFIXES]
        # conv1's output goes, through the block's mask and ReLU only, into conv2: as codes
        output_scale = float(state[f"{block}.conv2.input_scale"]) if part == "conv1" else None
        setattr(model.get_submodule(block), part, Int8Conv1d(*tensors, conv.stride[0], output_scale))
    floats = {k: v for k, v in state.items() if k.rsplit(".", 1)[0] not in convolutions}
    model.load_state_dict(floats, strict=True, assign=True)
    return model
