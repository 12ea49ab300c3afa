"""Training-side quantization primitives over the C++ kernels."""
from __future__ import annotations

import torch

from ._ext import ops
from ._tracing import exporting, tracing_paused
from .distributed import global_absmax

MOMENTUM = 0.1


class _FakeQuant(torch.autograd.Function):
    """y = sat_b(floor(x * 2**Q + 1/2)) * 2**-Q; straight-through gradient, zero where the value saturates."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, exponent: int, bits: int) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        ctx.bits = bits
        return ops.fake_quant(x, exponent, bits)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return ops.fake_quant_backward(grad.contiguous(), x, ctx.exponent, ctx.bits), None, None


def fake_quant(x: torch.Tensor, exponent: int, bits: int) -> torch.Tensor:
    """Fake-quantize `x` to `bits` bits at exponent Q (values k * 2**-Q), with a straight-through gradient."""
    if isinstance(x, torch.Tensor) and type(x) is not torch.Tensor:
        with torch._C.DisableTorchFunction():
            x = x.as_subclass(torch.Tensor)
    return _FakeQuant.apply(x, int(exponent), int(bits))


def clamp_ste(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """`x.clamp(lo, hi)` whose gradient passes where lo <= x <= hi, bounds included, on every torch version.

    torch 1.13's clamp passes the gradient at x == lo and x == hi; torch 2.x's gives those points a zero gradient.
    Quantized values sit exactly on the bounds often (a ReLU6 clamps codes at 0 and at the code of 6.0), so the
    training gradient would depend on the torch version; this keeps torch 1.13's rule. Without a gradient to
    shape (eval, no_grad, ONNX export: a plain `Clip` node) it is `x.clamp(lo, hi)`."""
    if exporting() or not (torch.is_grad_enabled() and x.requires_grad):
        return x.clamp(lo, hi)
    inside = (x >= lo) & (x <= hi)
    return torch.where(inside, x, x.detach().clamp(lo, hi))


def observe(x: torch.Tensor, running: torch.Tensor, bits: int, positive_only: bool = False,
            momentum: float = MOMENTUM, sync: bool = True) -> int:
    """Update the statistic `running` with this batch's max |x| and return the exponent it now implies.

    Under torch.distributed (and `sync`, which weights turn off: DDP keeps them identical) the batch maximum is
    the maximum over all ranks' batches (linger/distributed.py, docs/ddp.md)."""
    with torch._C.DisableTorchFunction(), tracing_paused():
        if sync:
            g = global_absmax(x, positive_only)
            if g is not None:  # the global max, observed through the same EMA and exponent rule
                return int(ops.observe(g, running, momentum, bits, positive_only))
        return int(ops.observe(x.detach(), running, momentum, bits, positive_only))


def exponent_for_range(r: float, bits: int) -> int:
    """The one exponent rule: the largest Q with r * 2**Q <= 2**(bits-1) - 1 (r == 0 gives 0)."""
    with tracing_paused():
        return int(ops.exponent_for_range(float(r), int(bits)))
