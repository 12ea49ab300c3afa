"""linger's tensor arithmetic on quantized tensors (linger 1.x §2.4-2.6), without patching torch.

Each handler here is registered with IQTensor's `__torch_function__` for the torch functions and Tensor methods
it covers, so it runs only when a quantized tensor takes part. Inside a module prepared by `linger.init`, the k-th
such op of a forward uses a lazily created child layer named as in 1.x (`_linger_round_tensor_iqmul__default_index_2`,
`_linger_round_tensor_iqcat_0`, ...), which holds its statistics and appears in `state_dict`.
With its switch off (`linger.SetIQTensorMul(False)`, ...) the op runs in float between Dequant and Quant.
Anything else falls back to a plain float result.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._tracing import exporting, tracing_paused
from .config import config
from .context import get_current_module
from .iqtensor import IQTensor, _make, fallback, is_iqtensor, register_handler
from .nn import iqops, pooling  # noqa: F401  (pooling registers its IQTensor handlers)
from .nn.iqops import (BmmInt, IQLayer, float_forward, iqAddLayer, iqCatLayer, iqClampLayer, iqDivLayer,
                       iqMeanLayer, iqMulLayer, iqSigmoidLayer, iqSumLayer, iqTableLayer, iqTanhLayer, iqVarLayer,
                       logsoftmaxIntLayer, iqResizeLayer, softmaxIntLayer)

__all__ = ["iqadd", "iqmul", "iqdiv", "iqsum", "iqcat", "channel_shuffle", "LazyLayerLoader"]

_T = torch.Tensor
_COUNTER = "_linger_iq_tensor_index_"
_BMM_COUNTER = "_linger_funcint_bmm_index_"
_FLOAT_COUNTER = "_linger_iq_float_operand_index_"


# ---------------------------------------------------------------------------------------------------------------
# lazily created layers

def _new_layer(cls: type, module: nn.Module, name: str, device: torch.device) -> IQLayer:
    layer = cls().to(device)
    layer._linger_name = f"{getattr(module, '_linger_name', '')}.{name}".lstrip(".")
    layer.train(module.training)
    return layer


def layer_in_module(module: nn.Module, kind: str, cls: type, device: torch.device, name: Optional[str] = None,
                    operator: bool = False, counter: str = _COUNTER) -> IQLayer:
    """The layer of this call: `_linger_round_tensor_<kind>_<name>` for an explicit name, else the module's
    k-th functional op (`<kind>__default_index_<k>` for operators, `<kind>_<k>` for functions)."""
    if name is None:
        k = getattr(module, counter, 0)
        setattr(module, counter, k + 1)
        name = f"_default_index_{k}" if operator else str(k)
    attr = f"{iqops.LAYER_PREFIX}{kind}_{name}"
    layer = getattr(module, attr, None)
    if layer is None:
        if not module.training:
            path = f"{getattr(module, '_linger_name', '')}.{attr}".lstrip(".")
            raise RuntimeError(
                f"linger: '{path}' ({cls.__name__}) is used in eval but was never run in training (or its "
                "checkpoint keys were not loaded). Run training batches first, or load a checkpoint saved after QAT; "
                "the ops of a forward must run in the same order in training and eval.")
        layer = _new_layer(cls, module, attr, device)
        setattr(module, attr, layer)
    elif not isinstance(layer, cls):
        raise RuntimeError(f"linger: '{attr}' is a {type(layer).__name__}, expected {cls.__name__}: the functional "
                           "ops of this forward ran in a different order than when the layer was created")
    return layer


class LazyLayerLoader:
    """Load-state-dict pre-hook: recreates the functional-op layers named in a checkpoint before they load.
    A plain callable object (not a closure), so models stay picklable."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for key in list(state_dict.keys()):
            if not key.startswith(prefix + iqops.LAYER_PREFIX):
                continue
            name = key[len(prefix):].split(".")[0]
            cls = iqops.layer_class_for(name)
            if cls is not None and getattr(self.module, name, None) is None:
                setattr(self.module, name, _new_layer(cls, self.module, name, state_dict[key].device))


# ---------------------------------------------------------------------------------------------------------------
# helpers

def _iq8(t: Any) -> bool:
    return is_iqtensor(t) and t.bits == 8


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _float_tensor(t: Any) -> bool:
    """A plain float tensor operand of + * (noise, a mask): quantized with the op layer's own statistic."""
    return isinstance(t, torch.Tensor) and not is_iqtensor(t) and t.is_floating_point()


def _plain_args(args: Sequence[Any]) -> List[Any]:
    """Inputs of a float op: dequantized while exporting, plain tensors otherwise."""
    from .iqtensor import _dequant_args, _strip
    return list(_dequant_args(tuple(args))) if exporting() else list(_strip(tuple(args)))


def _float_op(func: Callable, args, kwargs) -> Callable[[], torch.Tensor]:
    def compute():
        pa = _plain_args(args)
        pk = {k: (_plain_args([v])[0] if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
        with torch._C.DisableTorchFunction():
            out = func(*pa, **pk)
        return out
    return compute


def _is_inplace(func: Callable) -> bool:
    name = getattr(func, "__name__", "")
    return name.startswith("__i") or (name.endswith("_") and not name.endswith("__"))


def _finish(func: Callable, target: Any, out: IQTensor) -> Any:
    """In-place forms (`a += b`, `a.mul_(b)`, `x.sigmoid_()`) write the result into `a` (outside export: the
    exported graph takes the result, which `a += b` rebinds anyway)."""
    if not _is_inplace(func) or not isinstance(target, IQTensor):
        return out
    if exporting():  # the graph takes the result; later uses of `a` read it (IQTensor resolves the alias)
        target._linger_export_alias = out
        return out
    with torch._C.DisableTorchFunction():
        target.copy_(out)
    target.scale_data, target.bits, target.running_data = out.scale_data, out.bits, out.running_data
    return target


def _operand(t: Any, func: Callable) -> Any:
    """An in-place op in training reads a copy of its target, so autograd's saved inputs are not overwritten."""
    if _is_inplace(func) and isinstance(t, IQTensor) and torch.is_grad_enabled() and t.requires_grad:
        return _make(t.clone(), t.scale_data, t.bits, t.running_data)
    return t


def _run(module: nn.Module, switch: str, layer: IQLayer, quantized: Callable[[], IQTensor], func: Callable, args,
         kwargs) -> IQTensor:
    if getattr(config, switch):
        return quantized()
    return float_forward(layer, _float_op(func, args, kwargs))


# ---------------------------------------------------------------------------------------------------------------
# binary: + * /

def _binary(kind: str, cls: type, switch: str, names=("input", "other")):
    def handler(func: Callable, args, kwargs):
        a = args[0] if args else kwargs.get(names[0])
        b = args[1] if len(args) > 1 else kwargs.get(names[1])
        module = get_current_module()
        extra = set(kwargs) - set(names)
        if module is not None and kind != "iqdiv" and _float_tensor(a) and _iq8(b):
            a, b = b, a  # float * iq, float + iq: commutative, the quantized operand first
        if module is None or extra or not _iq8(a) or not (_iq8(b) or _number(b) or _float_tensor(b)):
            return fallback(func, args, kwargs)
        if _float_tensor(b):  # its own kind and counter: a training-only `x * noise` does not renumber the others
            layer = layer_in_module(module, kind + "_float", cls, a.device, operator=True, counter=_FLOAT_COUNTER)
        else:
            layer = layer_in_module(module, kind, cls, a.device, operator=True)
        a2 = _operand(a, func)
        b2 = a2 if b is a else b  # `a += a`: both operands read the copy
        out = _run(module, switch, layer, lambda: layer(a2, b2), func, args, kwargs)
        return _finish(func, args[0] if args else a, out)
    return handler


register_handler((_T.__add__, _T.__iadd__, _T.__radd__, _T.add, _T.add_, torch.add),
                 _binary("iqadd", iqAddLayer, "iqadd"))
register_handler((_T.__mul__, _T.__imul__, _T.__rmul__, _T.mul, _T.mul_, torch.mul),
                 _binary("iqmul", iqMulLayer, "iqmul"))
register_handler((_T.__truediv__, _T.__itruediv__, _T.div, _T.div_, torch.div, _T.true_divide, torch.true_divide),
                 _binary("iqdiv", iqDivLayer, "iqdiv"))


# ---------------------------------------------------------------------------------------------------------------
# reductions: sum, var

def _dims(dim: Any, rank: int) -> Optional[List[int]]:
    if dim is None:
        return None
    ds = [dim] if isinstance(dim, int) else list(dim)
    return sorted({d % max(rank, 1) for d in ds}) if ds else None


def _sum(func: Callable, args, kwargs):
    x = args[0] if args else kwargs.get("input")
    module = get_current_module()
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    if module is None or not _iq8(x) or kwargs.get("dtype") is not None or len(args) > 3:
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqsum", iqSumLayer, x.device, operator=True)
    return _run(module, "iqsum", layer, lambda: layer(x, _dims(dim, x.dim()), bool(keepdim)), func, args, kwargs)


def _var(func: Callable, args, kwargs):
    x = args[0] if args else kwargs.get("input")
    module = get_current_module()
    rest = list(args[1:])
    dim, unbiased, keepdim = kwargs.get("dim"), kwargs.get("unbiased", True), kwargs.get("keepdim", False)
    if "correction" in kwargs:
        if kwargs["correction"] not in (0, 1):
            return fallback(func, args, kwargs)
        unbiased = kwargs["correction"] == 1
    if rest and isinstance(rest[0], bool):  # var(x, unbiased)
        unbiased = rest.pop(0)
    if rest:
        dim = rest.pop(0)
    if rest:
        unbiased = rest.pop(0)
    if rest:
        keepdim = rest.pop(0)
    if module is None or not _iq8(x) or rest or set(kwargs) - {"input", "dim", "unbiased", "keepdim", "correction"}:
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqvar", iqVarLayer, x.device)
    return _run(module, "iqvar", layer, lambda: layer(x, _dims(dim, x.dim()), bool(keepdim), bool(unbiased)),
                func, args, kwargs)


def _mean(func: Callable, args, kwargs):
    """`x.mean(dims)`: iqMean at the input's exponent (no switch: like average pooling it keeps the scale)."""
    x = args[0] if args else kwargs.get("input")
    module = get_current_module()
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    if module is None or not _iq8(x) or kwargs.get("dtype") is not None or len(args) > 3 or "out" in kwargs:
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqmean", iqMeanLayer, x.device, operator=True)
    return layer(x, _dims(dim, x.dim()), bool(keepdim))


register_handler((_T.sum, torch.sum), _sum)
register_handler((_T.mean, torch.mean), _mean)
register_handler((_T.var, torch.var), _var)


# ---------------------------------------------------------------------------------------------------------------
# cat / stack

def _cat(stack: bool):
    def handler(func: Callable, args, kwargs):
        xs = args[0] if args else kwargs.get("tensors")
        dim = args[1] if len(args) > 1 else kwargs.get("dim", kwargs.get("axis", 0))
        module = get_current_module()
        if module is None or "out" in kwargs or not isinstance(xs, (list, tuple)) or not xs \
                or not all(_iq8(x) for x in xs):
            return fallback(func, args, kwargs)
        layer = layer_in_module(module, "iqcat", iqCatLayer, xs[0].device)
        rank = xs[0].dim() + (1 if stack else 0)
        d = int(dim) % rank
        parts = [x.unsqueeze(d) for x in xs] if stack else list(xs)
        return _run(module, "iqcat", layer, lambda: layer(parts, d), func, args, kwargs)
    return handler


_CAT = [torch.cat] + [getattr(torch, n) for n in ("concat", "concatenate") if hasattr(torch, n)]
register_handler(_CAT, _cat(False))
register_handler((torch.stack,), _cat(True))


# ---------------------------------------------------------------------------------------------------------------
# clamp

def _clamp(func: Callable, args, kwargs):
    x = args[0] if args else kwargs.get("input")
    lo = args[1] if len(args) > 1 else kwargs.get("min")
    hi = args[2] if len(args) > 2 else kwargs.get("max")
    module = get_current_module()
    if module is None or not _iq8(x) or not all(v is None or _number(v) for v in (lo, hi)) \
            or (lo is None and hi is None) or "out" in kwargs:
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqclamp", iqClampLayer, x.device)
    out = _run(module, "iqclamp", layer, lambda: layer(_operand(x, func), lo, hi), func, args, kwargs)
    return _finish(func, x, out)


register_handler((torch.clamp, _T.clamp, _T.clamp_, torch.clamp_, torch.clip, _T.clip, _T.clip_), _clamp)


# ---------------------------------------------------------------------------------------------------------------
# sigmoid / tanh (engine lookup tables)

def _lut(kind: str, cls: type, switch: str):
    def handler(func: Callable, args, kwargs):
        x = args[0] if args else kwargs.get("input")
        module = get_current_module()
        if module is None or not _iq8(x) or len(args) > 1 or set(kwargs) - {"input"}:
            return fallback(func, args, kwargs)
        layer = layer_in_module(module, kind, cls, x.device)
        out = _run(module, switch, layer, lambda: layer(_operand(x, func)), func, args, kwargs)
        return _finish(func, x, out)
    return handler


register_handler((torch.sigmoid, _T.sigmoid, _T.sigmoid_, torch.sigmoid_, F.sigmoid),
                 _lut("iqsigmoid", iqSigmoidLayer, "iqsigmoid"))
register_handler((torch.tanh, _T.tanh, _T.tanh_, torch.tanh_, F.tanh), _lut("iqtanh", iqTanhLayer, "iqtanh"))


# ---------------------------------------------------------------------------------------------------------------
# activations (docs/onnx-dialect.md: iqClamp for hardtanh/relu6, linger::TableInt for the others), dropout, resize

def _inplace_flag(args, kwargs, pos: int) -> bool:
    """`inplace=True` of the torch.nn.functional activations (positional at `pos`)."""
    return bool(args[pos] if len(args) > pos else kwargs.get("inplace", False))


def _hardtanh(func: Callable, args, kwargs):
    x = args[0] if args else kwargs.get("input")
    relu6 = func is F.relu6
    lo = 0.0 if relu6 else (args[1] if len(args) > 1 else kwargs.get("min_val", -1.0))
    hi = 6.0 if relu6 else (args[2] if len(args) > 2 else kwargs.get("max_val", 1.0))
    module = get_current_module()
    if module is None or not _iq8(x) or not (_number(lo) and _number(hi)):
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqclamp", iqClampLayer, x.device)
    flag = _inplace_flag(args, kwargs, 1 if relu6 else 3)
    x2 = _operand(x, _T.clamp_) if flag else x
    out = _run(module, "iqclamp", layer, lambda: layer(x2, float(lo), float(hi)), func, args, kwargs)
    return _finish(_T.clamp_, x, out) if flag else out


register_handler((F.hardtanh, F.relu6), _hardtanh)


def _table(fn: str, slope_arg: Optional[str] = None, default: float = 0.01):
    def handler(func: Callable, args, kwargs):
        x = args[0] if args else kwargs.get("input")
        module = get_current_module()
        alpha = None
        if slope_arg is not None:
            alpha = args[1] if len(args) > 1 else kwargs.get(slope_arg, default)
        ok = module is not None and _iq8(x)
        name = fn
        if fn == "gelu":
            approx = args[1] if len(args) > 1 else kwargs.get("approximate", "none")
            ok = ok and approx in ("none", "tanh")
            name = "gelu" if approx == "none" else "gelu_tanh"
        if fn == "prelu":
            with tracing_paused():
                ok = ok and isinstance(alpha, torch.Tensor) and alpha.numel() in (1, int(x.shape[1]) if x.dim() > 1
                                                                                  else 1)
        if not ok:
            return fallback(func, args, kwargs)
        layer = layer_in_module(module, name, iqTableLayer, x.device)
        flag = fn not in ("gelu", "prelu") and _inplace_flag(args, kwargs, 2 if slope_arg else 1)
        out = layer(_operand(x, _T.clamp_) if flag else x, name, alpha)
        return _finish(_T.clamp_, x, out) if flag else out
    return handler


register_handler((F.hardswish,), _table("hardswish"))
register_handler((F.hardsigmoid,), _table("hardsigmoid"))
register_handler((F.silu,), _table("silu"))
register_handler((F.gelu,), _table("gelu"))
register_handler((F.leaky_relu,), _table("leaky_relu", "negative_slope"))
register_handler((F.prelu, torch.prelu), _table("prelu", "weight"))


def _dropout(func: Callable, args, kwargs):
    """Dropout keeps the quantization: identity in eval (and in the export); in training the dropped/rescaled
    values are fake-quantized at the input's own exponent, so what follows sees the same quantized tensor kind in
    training and eval."""
    x = args[0] if args else kwargs.get("input")
    if not _iq8(x):
        return fallback(func, args, kwargs)
    p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
    training = args[2] if len(args) > 2 else kwargs.get("training", True)
    if not training or p == 0.0:
        return x
    from .quant import fake_quant
    from .nn.iqops import plain
    with torch._C.DisableTorchFunction():
        y = func(plain(x), p, True)
    return _make(fake_quant(y, x.exponent, 8), x.scale_data, 8, x.running_data)


register_handler((F.dropout, F.dropout2d, F.dropout1d, F.alpha_dropout, F.feature_alpha_dropout)
                 if hasattr(F, "dropout1d") else (F.dropout, F.dropout2d, F.alpha_dropout), _dropout)


def _interpolate(func: Callable, args, kwargs):
    names = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
    a = dict(zip(names, args))
    a.update(kwargs)
    x, size, sf = a.get("input"), a.get("size"), a.get("scale_factor")
    mode, ac = a.get("mode", "nearest"), a.get("align_corners")
    if not _iq8(x) or x.dim() != 4 or mode not in ("nearest", "bilinear") or a.get("antialias", False) \
            or (size is None) == (sf is None):
        return fallback(func, args, kwargs)
    with tracing_paused():
        ih, iw = int(x.shape[2]), int(x.shape[3])
    if size is not None:
        with tracing_paused():
            oh, ow = (int(size), int(size)) if _number(size) else (int(size[0]), int(size[1]))
    else:
        sh, sw = (sf, sf) if _number(sf) else (float(sf[0]), float(sf[1]))
        import math
        oh, ow = int(math.floor(ih * sh)), int(math.floor(iw * sw))
    module = get_current_module()
    if module is None or (mode == "nearest" and ac):
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "iqresize", iqResizeLayer, x.device)
    return layer(x, oh, ow, mode, bool(ac) if mode == "bilinear" else False)


register_handler((F.interpolate, F.upsample), _interpolate)

# ---------------------------------------------------------------------------------------------------------------
# softmax / log_softmax

def _softmax(kind: str, cls: type, switch: str):
    def handler(func: Callable, args, kwargs):
        x = args[0] if args else kwargs.get("input")
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        dtype = args[2] if len(args) > 2 and not isinstance(args[2], int) else kwargs.get("dtype")
        module = get_current_module()
        if module is None or not _iq8(x) or dim is None or dtype is not None:
            return fallback(func, args, kwargs)
        layer = layer_in_module(module, kind, cls, x.device)
        return _run(module, switch, layer, lambda: layer(x, int(dim) % max(x.dim(), 1)), func, args, kwargs)
    return handler


register_handler((torch.softmax, _T.softmax, F.softmax), _softmax("SoftmaxInt", softmaxIntLayer, "softmaxint"))
register_handler((torch.log_softmax, _T.log_softmax, F.log_softmax),
                 _softmax("LogSoftmaxInt", logsoftmaxIntLayer, "logsoftmaxint"))


# ---------------------------------------------------------------------------------------------------------------
# bmm / matmul

def _bmm(func: Callable, args, kwargs):
    a = args[0] if args else kwargs.get("input")
    b = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2"))
    if func is _T.__rmatmul__:
        a, b = b, a
    module = get_current_module()
    with tracing_paused():
        ok = (module is not None and isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dim() >= 2
              and a.dim() == b.dim() and tuple(a.shape[:-2]) == tuple(b.shape[:-2])
              and int(a.shape[-1]) == int(b.shape[-2]) and not set(kwargs) - {"input", "other", "mat2"}
              and a.is_floating_point() and b.is_floating_point())
    if not ok:
        return fallback(func, args, kwargs)
    layer = layer_in_module(module, "function_bmm", BmmInt, a.device, counter=_BMM_COUNTER)
    return _run(module, "bmm", layer, lambda: layer(a, b), func, args, kwargs)


register_handler((torch.bmm, _T.bmm, torch.matmul, _T.matmul, _T.__matmul__, _T.__rmatmul__), _bmm)


# ---------------------------------------------------------------------------------------------------------------
# explicit function forms (linger 1.x)

def _explicit(kind: str, cls: type, module: nn.Module, x: IQTensor, y: Any, name: str) -> IQTensor:
    if not isinstance(module, nn.Module):
        raise TypeError(f"linger.{kind}(module, x, y, name): module must be the nn.Module whose forward calls it")
    if not _iq8(x) or not (_iq8(y) or _number(y)):
        raise TypeError(f"linger.{kind}: x must be an 8-bit quantized tensor (IQTensor) and y one or a number; "
                        f"got {type(x).__name__} and {type(y).__name__}")
    layer = layer_in_module(module, kind, cls, x.device, name=name)
    return layer(x, y)


def iqadd(module: nn.Module, x: IQTensor, y: Any, name: str = "_default") -> IQTensor:
    """`x + y` with its own named layer `_linger_round_tensor_iqadd_<name>` on `module` (1.x `iqadd`)."""
    return _explicit("iqadd", iqAddLayer, module, x, y, name)


def iqmul(module: nn.Module, x: IQTensor, y: Any, name: str = "_default") -> IQTensor:
    """`x * y` with its own named layer `_linger_round_tensor_iqmul_<name>` on `module`."""
    return _explicit("iqmul", iqMulLayer, module, x, y, name)


def iqdiv(module: nn.Module, x: IQTensor, y: Any, name: str = "_default") -> IQTensor:
    """`x / y` with its own named layer `_linger_round_tensor_iqdiv_<name>` on `module`."""
    return _explicit("iqdiv", iqDivLayer, module, x, y, name)


def iqsum(module: nn.Module, x: IQTensor, dim=None, keepdim: bool = False, name: str = "_default") -> IQTensor:
    """`x.sum(dim)` with its own named layer on `module`."""
    if not _iq8(x):
        raise TypeError("linger.iqsum: x must be an 8-bit quantized tensor (IQTensor)")
    layer = layer_in_module(module, "iqsum", iqSumLayer, x.device, name=name)
    return layer(x, _dims(dim, x.dim()), keepdim)


def iqcat(module: nn.Module, xs: Sequence[IQTensor], dim: int = 0, name: str = "_default") -> IQTensor:
    """`torch.cat(xs, dim)` with its own named layer on `module`."""
    if not xs or not all(_iq8(x) for x in xs):
        raise TypeError("linger.iqcat: every input must be an 8-bit quantized tensor (IQTensor)")
    layer = layer_in_module(module, "iqcat", iqCatLayer, xs[0].device, name=name)
    return layer(list(xs), int(dim) % xs[0].dim())


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle of [N, C, ...]: view [N, g, C/g, ...], swap dims 1-2, view back. On a
    quantized tensor it keeps the quantization and exports one thinker ShuffleChannel node (or, with
    `SetFunctionChannelShuffleQuant(False)`, Reshape/Transpose/Reshape)."""
    with tracing_paused():
        bad = not isinstance(groups, int) or groups < 1 or x.dim() < 2 or int(x.shape[1]) % groups != 0
    if bad:
        raise ValueError(f"linger.channel_shuffle: groups={groups!r} must be a positive int dividing the "
                         f"{x.shape[1] if x.dim() > 1 else '?'} channels of a tensor of rank >= 2")

    def move(t: torch.Tensor) -> torch.Tensor:
        n, c = t.shape[0], t.shape[1]
        rest = list(t.shape[2:])
        return t.reshape([n, groups, c // groups] + rest).transpose(1, 2).contiguous().reshape([n, c] + rest)

    if not (_iq8(x) and config.channel_shuffle and exporting()):
        return move(x)
    from ._dispatch import NodeSpec, run_int
    from .nn.iqops import plain
    y = run_int(lambda u: move(u), NodeSpec("ShuffleChannel", dict(groups_i=int(groups))), plain(x))
    return _make(y, x.scale_data, x.bits, x.running_data)
