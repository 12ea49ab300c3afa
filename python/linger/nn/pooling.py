"""Pooling of quantized tensors without a module of its own (docs/onnx-dialect.md, numerics.md §3).

Average and max pooling keep the input's exponent, so they need no statistics: they run as IQTensor handlers
(registered by `linger.iqfunctions`) wherever a quantized tensor reaches them, whatever module calls them:
* `F.avg_pool2d` / `nn.AvgPool2d` left float, `F.avg_pool1d` / `nn.AvgPool1d` (as [N, C, 1, L]): AvgPool2dInt,
  `y = sat8(floor(S/k + 1/2))` with S the window sum and k the kernel area (zero padding counts);
* `F.adaptive_avg_pool2d` / `nn.AdaptiveAvgPool2d` (and 1d): when the input size is a multiple of the output
  size, AvgPool2dInt with kernel = stride = input/output (global pooling is the output size 1); otherwise
  linger's AdaptiveAvgPool2dInt (PyTorch's adaptive windows, each divided by its own area, rounded half up);
* `F.adaptive_max_pool2d` (and 1d) likewise as MaxPool, `F.max_pool1d` as MaxPool on [N, C, 1, L].
Training computes the same integers exactly (window sums of int8 codes are exact in float) with the gradient
of the float pooling (straight-through). Anything else (count_include_pad=False, divisor_override, an adaptive
max pool whose sizes do not divide, return_indices) runs in float: the export names it.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .._dispatch import NodeSpec, record, run_int
from .._ext import ops
from .._tracing import tracing_paused
from ..context import get_current_module
from ..iqtensor import IQTensor, _make, fallback, is_iqtensor, register_handler
from .iqops import PLATFORM, exact_ste, plain

__all__ = ["avg_pool2d_iq", "adaptive_avg_pool2d_iq", "max_pool2d_iq"]


def _pair(v: Any) -> Tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))


def _training() -> bool:
    module = get_current_module()
    return bool(module.training) if module is not None else torch.is_grad_enabled()


def avg_pool2d_iq(x: IQTensor, k: Sequence[int], s: Sequence[int], p: Sequence[int], ceil_mode: bool) -> IQTensor:
    """AvgPool2dInt on an 8-bit quantized [N, C, H, W] tensor; the output keeps its exponent."""
    fx, qx = plain(x), x.exponent
    k, s, p = list(k), list(s), list(p)
    area = k[0] * k[1]
    pads = [p[0], p[1], p[0], p[1]]

    def compute(u: torch.Tensor) -> torch.Tensor:
        return ops.dequantize(ops.avgpool2d_int(ops.quantize(u, qx, 8), k, s, pads, ceil_mode), qx)

    if _training():
        avg = F.avg_pool2d(fx, k, s, p, ceil_mode, True, None)
        with torch.no_grad(), tracing_paused():
            sums = F.avg_pool2d(torch.floor(fx * (2.0 ** qx) + 0.5), k, s, p, ceil_mode, True, 1)
            exact = torch.floor((2 * sums + area) / (2 * area)).clamp_(-128, 127) * (2.0 ** -qx)
        y = exact_ste(avg, exact)
    else:
        attrs = dict(kernel_shape_i=k, strides_i=s, pads_i=pads, ceil_mode_i=int(ceil_mode), data_bits_i=8,
                     scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qx, o_bits_i=8, platform_quant_s=PLATFORM)
        y = run_int(compute, NodeSpec("AvgPool2dInt", attrs), fx)
    out = _make(y, x.scale_data, 8, x.running_data)
    record("AvgPool2dInt", out)
    return out


def adaptive_avg_pool2d_iq(x: IQTensor, out_size: Sequence[int]) -> IQTensor:
    """AdaptiveAvgPool2dInt (linger's op): PyTorch's adaptive windows, each sum divided by its own area,
    rounded half up; the output keeps the input's exponent. Training: the same integers (the eval op on the
    codes), the gradient of the float adaptive pool."""
    fx, qx = plain(x), x.exponent
    oh, ow = int(out_size[0]), int(out_size[1])

    def compute(u: torch.Tensor) -> torch.Tensor:
        return ops.dequantize(ops.adaptive_avgpool2d_int(ops.quantize(u, qx, 8), oh, ow), qx)

    if _training():
        with torch.no_grad(), tracing_paused():
            exact = compute(fx)
        y = exact_ste(F.adaptive_avg_pool2d(fx, (oh, ow)), exact)
    else:
        attrs = dict(output_size_i=[oh, ow], data_bits_i=8, scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qx, o_bits_i=8,
                     platform_quant_s=PLATFORM)
        y = run_int(compute, NodeSpec("AdaptiveAvgPool2dInt", attrs), fx)
    out = _make(y, x.scale_data, 8, x.running_data)
    record("AdaptiveAvgPool2dInt", out)
    return out


def max_pool2d_iq(x: IQTensor, k: Sequence[int], s: Sequence[int], p: Sequence[int], ceil_mode: bool) -> IQTensor:
    """MaxPool on an 8-bit quantized tensor (exact: it picks one of the codes)."""
    with torch._C.DisableTorchFunction():
        y = F.max_pool2d(x.as_subclass(torch.Tensor), list(k), list(s), list(p), 1, ceil_mode)
    return _make(y, x.scale_data, x.bits, x.running_data)


def _iq8(t: Any) -> bool:
    return is_iqtensor(t) and t.bits == 8


def _arg(args, kwargs, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _shape(x: torch.Tensor) -> List[int]:
    with tracing_paused():
        return [int(v) for v in x.shape]


def _as_2d(x: IQTensor, body: Callable[[IQTensor], IQTensor]) -> IQTensor:
    """A 1-d pool as the 2-d one on [N, C, 1, L] (Unsqueeze -> pool -> Squeeze in the export)."""
    return body(x.unsqueeze(-2)).squeeze(-2)


def _avg_pool(dims: int):
    def handler(func: Callable, args, kwargs):
        x = _arg(args, kwargs, 0, "input", None)
        k = _arg(args, kwargs, 1, "kernel_size", None)
        s = _arg(args, kwargs, 2, "stride", None)
        p = _arg(args, kwargs, 3, "padding", 0)
        ceil_mode = bool(_arg(args, kwargs, 4, "ceil_mode", False))
        include_pad = bool(_arg(args, kwargs, 5, "count_include_pad", True))
        divisor = _arg(args, kwargs, 6, "divisor_override", None) if dims == 2 else None
        if not _iq8(x) or k is None or not include_pad or divisor is not None or x.dim() not in (dims + 1, dims + 2):
            return fallback(func, args, kwargs)
        if s is None or (not isinstance(s, int) and len(tuple(s)) == 0):
            s = k
        if dims == 1:
            one = lambda v: v if isinstance(v, int) else tuple(v)[0]  # noqa: E731
            return _as_2d(x, lambda u: avg_pool2d_iq(u, (1, one(k)), (1, one(s)), (0, one(p)), ceil_mode))
        return avg_pool2d_iq(x, _pair(k), _pair(s), _pair(p), ceil_mode)
    return handler


def _max_pool1d(func: Callable, args, kwargs):
    x = _arg(args, kwargs, 0, "input", None)
    k = _arg(args, kwargs, 1, "kernel_size", None)
    s = _arg(args, kwargs, 2, "stride", None)
    p = _arg(args, kwargs, 3, "padding", 0)
    dil = _arg(args, kwargs, 4, "dilation", 1)
    ceil_mode = bool(_arg(args, kwargs, 5, "ceil_mode", False))
    ret = bool(_arg(args, kwargs, 6, "return_indices", False))
    one = lambda v: v if isinstance(v, int) else tuple(v)[0]  # noqa: E731
    if not _iq8(x) or k is None or ret or one(dil) != 1 or x.dim() not in (2, 3):
        return fallback(func, args, kwargs)
    s = k if s is None or (not isinstance(s, int) and len(tuple(s)) == 0) else s
    return _as_2d(x, lambda u: max_pool2d_iq(u, (1, one(k)), (1, one(s)), (0, one(p)), ceil_mode))


def _adaptive_sizes(in_size: Sequence[int], out: Any, dims: int) -> Optional[List[int]]:
    """The output size per spatial dim (None entries keep the input size), or None when not valid."""
    out = [out] * dims if isinstance(out, int) else list(out)
    if len(out) != dims:
        return None
    sizes = [i if o is None else int(o) for i, o in zip(in_size, out)]
    return sizes if all(o >= 1 and i >= 1 for o, i in zip(sizes, in_size)) else None


def _adaptive(dims: int, pool: Callable[..., IQTensor], general: Optional[Callable[..., IQTensor]]):
    """Divisible sizes: the plain pool with kernel = stride = input/output; others: `general` (avg) or float."""
    def handler(func: Callable, args, kwargs):
        x = _arg(args, kwargs, 0, "input", None)
        out = _arg(args, kwargs, 1, "output_size", None)
        if not _iq8(x) or out is None or bool(_arg(args, kwargs, 2, "return_indices", False)) \
                or x.dim() not in (dims + 1, dims + 2):
            return fallback(func, args, kwargs)
        in_size = _shape(x)[-dims:]
        sizes = _adaptive_sizes(in_size, out, dims)
        if sizes is None:
            return fallback(func, args, kwargs)
        if dims == 1:
            in_size, sizes = [1] + in_size, [1] + sizes
        if all(i % o == 0 for i, o in zip(in_size, sizes)):
            ks = [i // o for i, o in zip(in_size, sizes)]
            body = lambda u: pool(u, ks, ks, (0, 0), False)  # noqa: E731
        elif general is not None:
            body = lambda u: general(u, sizes)  # noqa: E731
        else:
            return fallback(func, args, kwargs)
        return _as_2d(x, body) if dims == 1 else body(x)
    return handler


_MAX1 = [F.max_pool1d, torch.max_pool1d]
register_handler((F.avg_pool2d, torch._C._nn.avg_pool2d), _avg_pool(2))
register_handler((F.avg_pool1d, torch.avg_pool1d), _avg_pool(1))
register_handler(_MAX1, _max_pool1d)
register_handler((F.adaptive_avg_pool2d, torch._C._nn.adaptive_avg_pool2d),
                 _adaptive(2, avg_pool2d_iq, adaptive_avg_pool2d_iq))
register_handler((F.adaptive_avg_pool1d, torch.adaptive_avg_pool1d),
                 _adaptive(1, avg_pool2d_iq, adaptive_avg_pool2d_iq))
register_handler((F.adaptive_max_pool2d, torch._C._nn.adaptive_max_pool2d), _adaptive(2, max_pool2d_iq, None))
register_handler((F.adaptive_max_pool1d, torch.adaptive_max_pool1d), _adaptive(1, max_pool2d_iq, None))
