"""Clamp primitives of the float constraint ("normalize") stage.

Gradient policy of the weight/bias clamp (linger 1.x left it unspecified):
inside [-bound, bound] the gradient passes unchanged; for a value clipped at
+bound only a gradient that would move it down (grad > 0 under gradient
descent) passes, at -bound only one that would move it up (grad < 0). A
clipped parameter can thus return into range but is never pushed further out.
Outputs use a plain clamp (zero gradient outside; passed at the bounds themselves on every torch version).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..quant import clamp_ste


class _InwardClamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp(-bound, bound)

    @staticmethod
    def symbolic(g, x, bound: float):  # pragma: no cover - called by the exporter
        """ONNX `Clip` (also under operator_export_type=ONNX_ATEN_FALLBACK, where torch does not inline
        autograd Functions)."""
        import warnings

        from ..onnx.functions import opset
        with warnings.catch_warnings():  # torch 1.13 deprecates the g.op it hands to symbolics
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_graph_op.*")
            if opset(g) < 11:
                return g.op("Clip", x, min_f=-bound, max_f=bound)
            lo = g.op("Constant", value_t=torch.tensor(-bound, dtype=torch.float32))
            hi = g.op("Constant", value_t=torch.tensor(bound, dtype=torch.float32))
            return g.op("Clip", x, lo, hi)

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
    return clamp_ste(y, -float(bound), float(bound))


def check_bound(owner: str, name: str, value) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"linger: {owner}: {name} must be a positive number or None, got {value!r}")
    return float(value)
