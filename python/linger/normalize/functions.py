"""Clamp primitives of the float constraint ("normalize") stage.

Gradient policy of the weight/bias clamp (linger 1.x left it unspecified):
inside [-bound, bound] the gradient passes unchanged; for a value clipped at
+bound only a gradient that would move it down (grad > 0 under gradient
descent) passes, at -bound only one that would move it up (grad < 0). A
clipped parameter can thus return into range but is never pushed further out.
Outputs use a plain clamp (zero gradient outside).
"""
from __future__ import annotations

from typing import Optional

import torch


class _InwardClamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp(-bound, bound)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        b = ctx.bound
        keep = (x.abs() <= b) | ((x > b) & (g > 0)) | ((x < -b) & (g < 0))
        return g * keep.to(g.dtype), None


def clamp_param(x: Optional[torch.Tensor], bound: Optional[float]) -> Optional[torch.Tensor]:
    """Clamp a weight or bias to [-bound, bound] (no-op when either is None)."""
    if x is None or bound is None:
        return x
    return _InwardClamp.apply(x, float(bound))


def clamp_output(y: torch.Tensor, bound: Optional[float]) -> torch.Tensor:
    """Clamp an output to [-bound, bound] (zero gradient outside); no-op when bound is None."""
    if bound is None:
        return y
    return y.clamp(-float(bound), float(bound))


def check_bound(owner: str, name: str, value) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"linger: {owner}: {name} must be a positive number or None, got {value!r}")
    return float(value)
