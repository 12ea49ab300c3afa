"""IQTensor: a float tensor whose values lie on a power-of-two grid, carrying
its exponent (scale 2**Q), bit width and range.

Scale-preserving ops keep the IQTensor type in method *and* function form
(`x.transpose(1, 2)` and `torch.transpose(x, 1, 2)` alike); `+` of two
IQTensors inside a linger model becomes iqAdd; every other op returns a plain
tensor (the next quantized module re-quantizes it with its own statistics),
and an in-place op that can move values off the grid (e.g.
`F.leaky_relu(x, inplace=True)`) strips the quantization attributes from the
tensor it modified, so stale scales can never reach an integer op.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F

from ._tracing import exporting

__all__ = ["IQTensor", "from_torch_tensor", "is_iqtensor", "exponent_of_scale"]


def exponent_of_scale(scale: float, what: str = "scale") -> int:
    """Q with scale == 2**Q; ValueError if `scale` is not an exact power of two."""
    s = float(scale)
    if not (s > 0.0) or math.isinf(s):
        raise ValueError(f"linger: {what} must be a positive power of two, got {scale!r}")
    m, e = math.frexp(s)
    if m != 0.5:
        raise ValueError(
            f"linger: {what}={scale!r} is not a power of two; linger uses power-of-two (Q-value) scales only "
            f"(nearest: {2.0 ** round(math.log2(s))!r})"
        )
    return e - 1


class IQTensor(torch.Tensor):
    """Attributes: `scale_data` (2**Q), `bits`, `zero_point` (always 0), `running_data` (range for consumers)."""

    scale_data: Optional[float]
    bits: int
    zero_point: int
    running_data: float

    @property
    def exponent(self) -> int:
        if self.scale_data is None:
            raise ValueError("linger: this tensor's quantization was invalidated by an in-place op")
        return exponent_of_scale(self.scale_data)

    @property
    def is_quantized(self) -> bool:
        return getattr(self, "scale_data", None) is not None

    def __repr__(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        with torch._C.DisableTorchFunction():
            body = torch.Tensor.__repr__(self.as_subclass(torch.Tensor))
        return f"IQTensor(scale={getattr(self, 'scale_data', None)}, bits={getattr(self, 'bits', None)}, {body})"

    def __reduce_ex__(self, proto: int):  # pickles as a plain tensor + attributes
        return (_rebuild_iqtensor, (self.detach().as_subclass(torch.Tensor), self.scale_data, self.bits,
                                    self.zero_point, self.running_data))

    @classmethod
    def __torch_function__(cls, func: Callable, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if exporting():
            args, kwargs = resolve(tuple(args)), {k: resolve(v) for k, v in kwargs.items()}
            if not any(isinstance(a, IQTensor) for a in _flat(args, kwargs)):
                with torch._C.DisableTorchFunction():
                    return func(*args, **kwargs)
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(func, args, kwargs)
        return fallback(func, args, kwargs)


def _flat(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (list, tuple)):
            yield from a
        else:
            yield a


def _result(out: Any, args, inplace: bool) -> Any:
    """A plain result; an in-place op returns the very object it modified (now unquantized). An op that returns
    its input unchanged (e.g. dropout in eval) returns a plain alias and leaves the input quantized."""
    if inplace and isinstance(out, IQTensor) and any(out is a for a in args):
        return out
    return _strip(out)


def _dequant_args(a: Any) -> Any:
    """Export: a quantized tensor entering a float op leaves the integer graph through Dequant."""
    if is_iqtensor(a):
        from .onnx.functions import dequant  # export path only
        return dequant(a, a.exponent)
    if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
        return type(a)(_dequant_args(x) for x in a)
    return a


def _rebuild_iqtensor(t: torch.Tensor, scale: Optional[float], bits: int, zp: int, running: float) -> torch.Tensor:
    if scale is None:
        return t
    return _make(t, scale, bits, running)


# torch.load(weights_only=True) (torch's default from 2.6 on) unpickles only allow-listed functions; this one builds
# an IQTensor from a plain tensor and numbers and runs no other code. torch 1.13 has no allow-list (its weights_only
# loader cannot rebuild an IQTensor; its default loader can).
if hasattr(torch.serialization, "add_safe_globals"):
    torch.serialization.add_safe_globals([_rebuild_iqtensor])


def is_iqtensor(t: Any) -> bool:
    """True for an IQTensor whose quantization attributes are valid."""
    return isinstance(t, IQTensor) and getattr(t, "scale_data", None) is not None


def _make(t: torch.Tensor, scale: float, bits: int, running: Optional[float] = None) -> IQTensor:
    with torch._C.DisableTorchFunction():
        out = t.as_subclass(IQTensor)
    out.scale_data = float(scale)
    out.bits = int(bits)
    out.zero_point = 0
    out.running_data = float(running) if running is not None else (2 ** (bits - 1) - 1) / float(scale)
    return out


def from_torch_tensor(t: torch.Tensor, scale: Optional[float], bits: int = 8, zero_point: int = 0,
                      running: Optional[float] = None) -> torch.Tensor:
    """Mark `t` as quantized with scale `scale` (= 2**Q, a power of two) and `bits` bits.
    `scale=None` returns `t` unchanged. The data are used as given; consumers round them onto the grid."""
    if scale is None:
        return t
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"linger.from_torch_tensor expects a torch.Tensor, got {type(t).__name__}")
    if zero_point != 0:
        raise ValueError("linger.from_torch_tensor: only zero_point=0 (symmetric quantization) is supported")
    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise ValueError(f"linger.from_torch_tensor: bits must be an int in [2, 32], got {bits!r}")
    exponent_of_scale(scale, "from_torch_tensor scale")
    if not t.is_floating_point():
        raise TypeError(f"linger.from_torch_tensor expects a floating-point tensor, got {t.dtype}")
    return _make(t, scale, bits, running)


# --------------------------------------------------------------------------------------------------
# __torch_function__ handlers

def _first_iq(args, kwargs) -> Optional[IQTensor]:
    for a in list(args) + list(kwargs.values()):
        if is_iqtensor(a):
            return a
        if isinstance(a, (list, tuple)):
            for b in a:
                if is_iqtensor(b):
                    return b
    return None


def _strip(out: Any) -> Any:
    if isinstance(out, IQTensor):
        with torch._C.DisableTorchFunction():
            return out.as_subclass(torch.Tensor)
    if isinstance(out, tuple) and not hasattr(out, "_fields"):
        return tuple(_strip(o) for o in out)
    if isinstance(out, list):
        return [_strip(o) for o in out]
    return out


def _wrap_like(out: Any, src: IQTensor) -> Any:
    if isinstance(out, torch.Tensor):
        if not out.is_floating_point():
            return _strip(out)  # e.g. max_pool indices
        if out is src:
            return out
        return _make(out, src.scale_data, src.bits, src.running_data)
    if isinstance(out, tuple) and not hasattr(out, "_fields"):
        return tuple(_wrap_like(o, src) for o in out)
    if isinstance(out, list):
        return [_wrap_like(o, src) for o in out]
    return out


def _invalidate(t: IQTensor) -> None:
    t.scale_data = None


def _is_inplace(func: Callable, kwargs) -> bool:
    name = getattr(func, "__name__", "")
    return (name.endswith("_") and not name.endswith("__")) or name.startswith("__i") or bool(kwargs.get("inplace"))


def _invalidate_if_modified(func: Callable, args, kwargs, out: Any) -> bool:
    """An in-place op that may move values off the grid strips the quantization of the tensor it modified.
    Returns whether the op was in-place."""
    inplace = _is_inplace(func, kwargs)
    if inplace and args and isinstance(args[0], IQTensor):
        _invalidate(args[0])
    o = kwargs.get("out")
    if isinstance(o, IQTensor):
        _invalidate(o)
    return inplace


def _preserve(func: Callable, args, kwargs):
    src = _first_iq(args, kwargs)
    with torch._C.DisableTorchFunction():
        out = func(*args, **kwargs)
    if src is None:
        return _result(out, args, _invalidate_if_modified(func, args, kwargs, out))
    return _wrap_like(out, src)


def _preserve_to(func: Callable, args, kwargs):
    """`.to(...)` keeps the scale for device moves and float32; other dtypes drop it."""
    with torch._C.DisableTorchFunction():
        out = func(*args, **kwargs)
    src = _first_iq(args, kwargs)
    if src is not None and isinstance(out, torch.Tensor) and out.dtype == torch.float32:
        return _wrap_like(out, src)
    return _strip(out)


def fallback(func: Callable, args, kwargs):
    """The default for an op without a quantized form: a plain (float) result; while exporting, quantized
    inputs leave the integer graph through Dequant first."""
    if exporting():
        target = args[0] if args and is_iqtensor(args[0]) and _is_inplace(func, kwargs) else None
        args, kwargs = _dequant_args(args), {k: _dequant_args(v) for k, v in kwargs.items()}
        if target is not None:
            # An in-place float op (LeakyReLU(inplace=True)) on a quantized tensor: it runs on the Dequant output,
            # which from now on stands for the tensor in the export (later uses read it, not the int8 value).
            with torch._C.DisableTorchFunction():
                out = func(*args, **kwargs)
            target._linger_export_alias = out
            _invalidate(target)
            return _strip(out)
    with torch._C.DisableTorchFunction():
        out = func(*args, **kwargs)
    return _result(out, args, _invalidate_if_modified(func, args, kwargs, out))


def resolve(a: Any) -> Any:
    """While exporting: the tensor that now stands for `a` after an in-place float op modified it."""
    alias = getattr(a, "_linger_export_alias", None) if isinstance(a, IQTensor) else None
    if alias is not None:
        return alias
    if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
        return type(a)(resolve(x) for x in a)
    return a


def register_handler(funcs, handler: Callable) -> None:
    """Route these torch functions/methods, when called with an IQTensor, to `handler(func, args, kwargs)`."""
    for f in funcs:
        _HANDLERS[f] = handler


_HANDLERS: Dict[Callable, Callable] = {}

_T = torch.Tensor
for _f in (
    _T.view, _T.view_as, _T.reshape, _T.reshape_as, torch.reshape,
    _T.transpose, torch.transpose, _T.permute, torch.permute, _T.t, torch.t,
    _T.flatten, torch.flatten, _T.contiguous, _T.__getitem__, _T.flip, torch.flip,
    _T.narrow, torch.narrow, _T.swapaxes, torch.swapaxes, _T.swapdims, torch.swapdims, _T.movedim, torch.movedim,
    _T.moveaxis, torch.moveaxis, _T.squeeze_, _T.unsqueeze_,
    _T.expand, _T.expand_as, _T.repeat, _T.detach, _T.clone, torch.clone, _T.cpu, _T.cuda,
    F.max_pool1d, F.max_pool2d, torch.max_pool1d, torch.max_pool2d,
    _T.T.__get__,
):
    _HANDLERS[_f] = _preserve
_HANDLERS[_T.to] = _preserve_to


# ---- static splitting and squeezing (plain Slice / Squeeze / Unsqueeze in the export) -------------------------

def _arg(args, kwargs, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _split_static(func: Callable, args, kwargs):
    """chunk / split / unbind as narrow() slices with sizes fixed at trace time: the export writes one Slice
    per piece with constant bounds (torch writes Shape/Gather/Div/... for chunk)."""
    x = _arg(args, kwargs, 0, "input", None)
    if not is_iqtensor(x):
        return fallback(func, args, kwargs)
    name = getattr(func, "__name__", "")
    from ._tracing import tracing_paused
    with tracing_paused():
        shape = [int(s) for s in x.shape]
    if name == "unbind":
        dim = _arg(args, kwargs, 1, "dim", 0)
    else:
        dim = _arg(args, kwargs, 2 if name != "split" else 2, "dim", 0)
    rank = len(shape)
    if not isinstance(dim, int) or not -rank <= dim < rank:
        return fallback(func, args, kwargs)
    dim %= rank
    length = shape[dim]
    if name == "chunk":
        n = int(_arg(args, kwargs, 1, "chunks", 1))
        step = -(-length // n) if n > 0 else length
        sizes = [min(step, length - s) for s in range(0, length, step)] if length else [0]
    elif name == "unbind":
        sizes = [1] * length
    else:
        arg = _arg(args, kwargs, 1, "split_size_or_sections", _arg(args, kwargs, 1, "split_size", None))
        if isinstance(arg, int):
            sizes = [min(arg, length - s) for s in range(0, length, arg)] if length and arg > 0 else [length]
        elif isinstance(arg, (list, tuple)) and all(isinstance(v, int) for v in arg) and sum(arg) == length:
            sizes = list(arg)
        else:
            return fallback(func, args, kwargs)
    with torch._C.DisableTorchFunction():
        p = x.as_subclass(torch.Tensor)
        pieces, start = [], 0
        for size in sizes:
            pieces.append(torch.narrow(p, dim, start, size))
            start += size
    out = [_make(t, x.scale_data, x.bits, x.running_data) for t in pieces]
    if name == "unbind":
        out = [_squeeze_iq(t, [dim]) for t in out]
    return tuple(out)


def _squeeze_iq(x: IQTensor, dims) -> IQTensor:
    from ._tracing import tracing_paused
    with tracing_paused():
        shape = [int(s) for s in x.shape]
    axes = [d % len(shape) for d in dims] if dims is not None else [i for i, s in enumerate(shape) if s == 1]
    axes = sorted(a for a in set(axes) if shape[a] == 1)

    def compute(v: torch.Tensor) -> torch.Tensor:
        return v.reshape([s for i, s in enumerate(shape) if i not in axes])

    if exporting() and axes:
        from .onnx.functions import squeeze_like  # export path only
        y = squeeze_like(x.as_subclass(torch.Tensor) if type(x) is not torch.Tensor else x, compute, axes, "Squeeze")
    else:
        with torch._C.DisableTorchFunction():
            y = compute(x.as_subclass(torch.Tensor)) if axes else x.as_subclass(torch.Tensor).view_as(x)
    return _make(y, x.scale_data, x.bits, x.running_data)


def _squeeze(func: Callable, args, kwargs):
    x = _arg(args, kwargs, 0, "input", None)
    dim = _arg(args, kwargs, 1, "dim", None)
    if not is_iqtensor(x) or not (dim is None or isinstance(dim, int) or
                                  (isinstance(dim, (list, tuple)) and all(isinstance(d, int) for d in dim))):
        return fallback(func, args, kwargs)
    return _squeeze_iq(x, None if dim is None else ([dim] if isinstance(dim, int) else list(dim)))


def _unsqueeze(func: Callable, args, kwargs):
    x = _arg(args, kwargs, 0, "input", None)
    dim = _arg(args, kwargs, 1, "dim", None)
    if not is_iqtensor(x) or not isinstance(dim, int):
        return fallback(func, args, kwargs)
    from ._tracing import tracing_paused
    with tracing_paused():
        shape = [int(s) for s in x.shape]
    d = dim % (len(shape) + 1)
    new_shape = shape[:d] + [1] + shape[d:]

    def compute(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(new_shape)

    if exporting():
        from .onnx.functions import squeeze_like  # export path only
        y = squeeze_like(x.as_subclass(torch.Tensor), compute, [d], "Unsqueeze")
    else:
        with torch._C.DisableTorchFunction():
            y = compute(x.as_subclass(torch.Tensor))
    return _make(y, x.scale_data, x.bits, x.running_data)


def _relu(func: Callable, args, kwargs):
    """ReLU keeps the quantization. While exporting, a plain `Relu` node on the integer tensor is written at every
    opset (torch writes Cast(float) -> Relu -> Cast(int8) below opset 14, which the chip's packer rejects)."""
    x = _arg(args, kwargs, 0, "input", None)
    if not is_iqtensor(x) or not exporting():
        return _preserve(func, args, kwargs)
    from .onnx.functions import int_relu  # export path only
    y = _make(int_relu(x.as_subclass(torch.Tensor)), x.scale_data, x.bits, x.running_data)
    if _is_inplace(func, kwargs):
        x._linger_export_alias = y  # later uses of x read the Relu output in the graph
    return y


for _f in (_T.relu, torch.relu, F.relu, _T.relu_, torch.relu_):
    _HANDLERS[_f] = _relu
for _f in (_T.split, torch.split, _T.chunk, torch.chunk, _T.unbind, torch.unbind):
    _HANDLERS[_f] = _split_static
for _f in (_T.squeeze, torch.squeeze):
    _HANDLERS[_f] = _squeeze
for _f in (_T.unsqueeze, torch.unsqueeze):
    _HANDLERS[_f] = _unsqueeze
