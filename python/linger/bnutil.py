"""Batch-norm arithmetic shared by the constraint stage and the quantized modules."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .config import bn_momentum
from .distributed import global_moments


def bn_alpha_beta(bn: nn.modules.batchnorm._BatchNorm, mean: torch.Tensor, var: torch.Tensor):
    inv = torch.rsqrt(var + bn.eps)
    alpha = bn.weight * inv if bn.affine else inv
    beta = (bn.bias - mean * alpha) if bn.affine else -mean * alpha
    return alpha, beta


def batch_stats(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor):
    """Batch mean and biased variance over all dims but 1; updates the running statistics (PyTorch rule,
    unbiased running variance) unless frozen."""
    dims = [d for d in range(x.dim()) if d != 1]
    mean = x.mean(dims)
    var = x.var(dims, unbiased=False)
    if bn.track_running_stats:
        m = bn_momentum(bn.momentum)
        with torch.no_grad():
            n = x.numel() / x.size(1)
            if m:
                rmean, rvar = mean.detach(), var.detach()
                g = global_moments(rmean, rvar, n)  # under torch.distributed: the global batch's (docs/ddp.md)
                if g is not None:
                    rmean, rvar, n = g
                bn.running_mean.mul_(1 - m).add_(rmean, alpha=m)
                bn.running_var.mul_(1 - m).add_(rvar * n / max(n - 1, 1), alpha=m)
            bn.num_batches_tracked += 1
    return mean, var


def has_initial_stats(bn: nn.Module) -> bool:
    """True when the running statistics are still exactly the ones a fresh batch norm starts with (mean 0,
    var 1 in every channel): no training batch has reached it and no trained checkpoint was loaded."""
    rm, rv = getattr(bn, "running_mean", None), getattr(bn, "running_var", None)
    if rm is None or rv is None:
        return False
    with torch.no_grad():
        return bool((rm == 0).all()) and bool((rv == 1).all())


def fold(weight: torch.Tensor, bias: Optional[torch.Tensor], bn, layout: str, groups: int = 1):
    alpha, beta = bn_alpha_beta(bn, bn.running_mean, bn.running_var)
    if layout == "out_first":  # conv / linear weights [O, ...]
        w = weight * alpha.reshape([-1] + [1] * (weight.dim() - 1))
    else:  # conv-transpose weights [Cin, O/g, kh, kw]
        cin, opg = weight.shape[0], weight.shape[1]
        w = (weight.reshape(groups, cin // groups, opg, *weight.shape[2:])
             * alpha.reshape(groups, 1, opg, *([1] * (weight.dim() - 2)))).reshape(weight.shape)
    b = beta if bias is None else bias * alpha + beta
    return w, b
