"""Batch norm over the global batch when a batch is split over the processes of a group.

Under torchrun every process holds a share of each global batch. A plain `BatchNorm1d`
would normalise each share by the share's own mean and variance; `global_batch_norm` makes
every batch norm of a network use the mean and variance of the whole global batch instead,
over the same positions (padding included) that one process holding the whole batch would
use, and update its running statistics from them. Training then gives one process's
numbers, up to the order of float sums.

On CUDA this is torch's `SyncBatchNorm`; elsewhere (gloo on CPU, where SyncBatchNorm refuses
to run) `GlobalBatchNorm1d`. Both keep the parameter and buffer names of `BatchNorm1d` and
share its tensors, so state dicts, checkpoints and the optimizer are unchanged: a trained
state dict loads into a plain network. Evaluation uses the running statistics as usual.
"""

from typing import TypeVar, cast

import torch
import torch.distributed as dist
from torch import nn

_M = TypeVar("_M", bound=nn.Module)


class _GlobalBatchNormFunction(torch.autograd.Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and (biased) variance
    of x over every process's share (dims 0 and 2..). Statistics are computed in float32 at least
    (two passes: the mean, then the squared deviations from it); returns (y, mean, var,
    count), the last three without gradient.

    Backward: the gradient of x takes the sums of dy and dy * xhat over the global batch
    (all-reduced), since every process's loss depends on every share through the statistics;
    those of weight and bias are this process's own sums, which DDP then averages like any
    other parameter gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, group):
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.to(torch.promote_types(x.dtype, torch.float32))
        sums = torch.cat([xf.sum(dims), xf.new_full((1,), x.numel() // x.shape[1])])
        dist.all_reduce(sums, group=group)
        count, mean = sums[-1], sums[:-1] / sums[-1]
        centred = xf - mean.view(shape)
        squares = (centred * centred).sum(dims)
        dist.all_reduce(squares, group=group)
        var = squares / count
        invstd = torch.rsqrt(var + eps)
        xhat = centred * invstd.view(shape)
        y = xhat if weight is None else xhat * weight.view(shape).to(xf.dtype)
        if bias is not None:
            y = y + bias.view(shape).to(xf.dtype)
        ctx.save_for_backward(x, weight, bias, mean, invstd, count)
        ctx.group = group
        ctx.mark_non_differentiable(mean, var, count)
        return y.to(x.dtype), mean, var, count

    @staticmethod
    def backward(ctx, dy, _mean, _var, _count):
        x, weight, bias, mean, invstd, count = ctx.saved_tensors
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        dyf = dy.to(mean.dtype)
        xhat = (x.to(mean.dtype) - mean.view(shape)) * invstd.view(shape)
        sum_dy, sum_dy_xhat = dyf.sum(dims), (dyf * xhat).sum(dims)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # Every process's x needs the same global sums: all processes run this.
            total = torch.cat([sum_dy, sum_dy_xhat])
            dist.all_reduce(total, group=ctx.group)
            c = sum_dy.numel()
            scale = invstd if weight is None else invstd * weight.to(mean.dtype)
            mean_dy, mean_dy_xhat = (total[:c] / count).view(shape), (total[c:] / count).view(shape)
            grad_x = ((dyf - mean_dy - xhat * mean_dy_xhat) * scale.view(shape)).to(x.dtype)
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = sum_dy_xhat.to(weight.dtype)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = sum_dy.to(bias.dtype)
        return grad_x, grad_weight, grad_bias, None, None


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """`BatchNorm1d` that, in training mode inside a process group of more than one process,
    normalises by the statistics of the global batch (`_GlobalBatchNormFunction`) and updates
    its running statistics from them; otherwise exactly `BatchNorm1d`."""

    def __init__(self, *args, process_group: dist.ProcessGroup | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.process_group = process_group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size(self.process_group) > 1
        ):
            return super().forward(x)
        self._check_input_dim(x)
        y, mean, var, count = _GlobalBatchNormFunction.apply(x, self.weight, self.bias, self.eps, self.process_group)
        if self.track_running_stats:
            # Tracked statistics exist (nn.BatchNorm's constructor makes them with track_running_stats).
            assert self.num_batches_tracked is not None and self.running_mean is not None
            assert self.running_var is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)
        return y

    @classmethod
    def convert(cls, module: nn.Module, process_group: dist.ProcessGroup | None = None) -> nn.Module:
        """`module` with every `BatchNorm1d` below it (or itself) replaced by a
        `GlobalBatchNorm1d` holding the same parameter and buffer tensors (the same objects:
        an optimizer made before keeps working)."""
        if isinstance(module, nn.BatchNorm1d) and not isinstance(module, cls):
            new = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group=process_group,
            )
            for name in ("weight", "bias"):
                setattr(new, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(new, name, getattr(module, name))
            new.train(module.training)
            return new
        for name, child in module.named_children():
            converted = cls.convert(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module


def global_batch_norm(module: _M, device: torch.device) -> _M:
    """`module` (changed in place where it is not itself a batch norm) with every batch norm
    using the global batch's statistics: torch's `SyncBatchNorm` on CUDA, `GlobalBatchNorm1d`
    elsewhere. Same state dict keys and the same parameter objects as before."""
    if device.type == "cuda":
        return cast(_M, nn.SyncBatchNorm.convert_sync_batchnorm(module))
    return cast(_M, GlobalBatchNorm1d.convert(module))
