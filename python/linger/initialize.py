"""`linger.init` and the module-selection helpers (linger 1.x API).

Differences from 1.x that remove its traps:
* replacements reuse the float module's Parameter objects, so weights are kept
  and an optimizer built before `init` keeps training the right tensors (Q23);
* selections (`disable_quant`, `quant_module`) are attributes on the modules,
  not process-global registries: nothing leaks between models, models pickle;
* torch is never monkey-patched: functional ops are handled by IQTensor.
"""
from __future__ import annotations

from collections import deque
from typing import Dict, Iterable, Optional, Tuple, Type

import torch.nn as nn

from .config import QuantMode
from .context import hook_forward, hook_pre_forward
from .nn.avgpool2d_int import AvgPool2dInt
from .nn.base import ModuleIntConfig
from .nn.conv2d_int import Conv2dInt
from .nn.iqadd import LazyLayerLoader
from .nn.linear_int import LinearInt

# float type -> quantized type
_REPLACEMENTS: Dict[Type[nn.Module], Type[nn.Module]] = {
    nn.Conv2d: Conv2dInt,
    nn.Linear: LinearInt,
    nn.AvgPool2d: AvgPool2dInt,
}

DefaultQuantIntXOP: Tuple[Type[nn.Module], ...] = tuple(_REPLACEMENTS)
SupportQuantTorchModules = list(_REPLACEMENTS)

DATA_BITS = 8
OUT_BITS = 8


def _check_types(where: str, types: Iterable) -> Tuple[Type[nn.Module], ...]:
    if isinstance(types, type):
        types = (types,)
    try:
        types = tuple(types)
    except TypeError:
        raise TypeError(f"linger.{where}: expected a tuple of module types, got {types!r}") from None
    for t in types:
        if not isinstance(t, type) or t not in _REPLACEMENTS:
            supported = ", ".join(f"nn.{k.__name__}" for k in _REPLACEMENTS)
            name = getattr(t, "__name__", repr(t))
            raise ValueError(f"linger.{where}: {name} cannot be quantized by linger; supported types: {supported}. "
                             "Leave it out of the tuple: unsupported modules keep running in float.")
    return types


def _check_bits(where: str, name: str, bits, allowed) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in allowed:
        raise ValueError(f"linger.{where}: {name}={bits!r} is not supported; choose an int in "
                         f"[{min(allowed)}, {max(allowed)}]")


def disable_quant(module: nn.Module) -> None:
    """Keep `module` and everything inside it in float when `linger.init` runs later."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"linger.disable_quant expects an nn.Module, got {type(module).__name__}")
    for m in module.modules():
        m._linger_disable_quant = True


def quant_module(module: nn.Module, type_modules: Iterable = DefaultQuantIntXOP, mode: QuantMode = QuantMode.QValue,
                 data_bits: int = 8, parameter_bits: int = 8, out_bits: Optional[int] = None) -> None:
    """Choose per-module bit widths for `linger.init`: every module under `module` (itself included) whose exact
    type is in `type_modules` is quantized with these settings (`out_bits=None`: float output where the module
    allows it, else 8)."""
    types = _check_types("quant_module", type_modules)
    _check_bits("quant_module", "data_bits", data_bits, (8,))
    _check_bits("quant_module", "parameter_bits", parameter_bits, range(2, 9))
    if out_bits is not None:
        _check_bits("quant_module", "out_bits", out_bits, (8, 16))
    if mode is not QuantMode.QValue:
        raise ValueError(f"linger.quant_module: mode must be QuantMode.QValue, got {mode!r}")
    for m in module.modules():
        if type(m) in types:
            m._linger_quant_info = dict(data_bits=data_bits, parameter_bits=parameter_bits, o_bits=out_bits, mode=mode)


def _build(child: nn.Module, path: str, parameter_bits: int, mode: QuantMode) -> nn.Module:
    cls = _REPLACEMENTS[type(child)]
    info = getattr(child, "_linger_quant_info", None)
    if info is not None:
        o_bits = info["o_bits"]
        if cls is AvgPool2dInt and o_bits not in (None, 8):
            raise ValueError(f"linger.init: module '{path}' (AvgPool2d) keeps its input's 8 bits; out_bits={o_bits}")
        if cls is Conv2dInt and o_bits is None:
            o_bits = OUT_BITS
        q = cls.from_float(child, info["data_bits"], info["parameter_bits"], o_bits, info["mode"])
    else:
        q = cls.from_float(child, DATA_BITS, parameter_bits, OUT_BITS, mode)
    q.train(child.training)
    q._linger_name = path
    return q


def _hook(module: nn.Module, path: str) -> None:
    module._linger_name = path
    module._linger_obit = OUT_BITS
    if getattr(module, "_linger_hooked", False):
        return
    module.register_forward_pre_hook(hook_pre_forward)
    module.register_forward_hook(hook_forward)
    module._register_load_state_dict_pre_hook(LazyLayerLoader(module))
    module._linger_hooked = True


def init(model: nn.Module, *, quant_modules: Iterable = DefaultQuantIntXOP, parameter_bits: int = 8,
         mode: QuantMode = QuantMode.QValue) -> nn.Module:
    """Replace the modules of the given types by their int8 QAT versions (in place) and return the model.

    Weights are kept (the replacements share the float modules' Parameters). `nn.ReLU`, `nn.MaxPool2d`,
    `nn.Flatten` and shape ops keep working on quantized tensors; `+` of two quantized tensors becomes iqAdd.
    Calling `init` again on the same model is harmless."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"linger.init expects an nn.Module, got {type(model).__name__}")
    types = _check_types("init", quant_modules)
    _check_bits("init", "parameter_bits", parameter_bits, range(2, 9))
    if mode is not QuantMode.QValue:
        raise ValueError(f"linger.init: mode must be linger.QuantMode.QValue, got {mode!r}")
    if type(model) in types:
        raise ValueError(f"linger.init: the model itself is a {type(model).__name__}; wrap it in a container "
                         "module (e.g. nn.Sequential(model)) so it can be replaced")
    model._linger_root = True
    queue = deque([("", model)])
    while queue:
        path, module = queue.popleft()
        if getattr(module, "_linger_disable_quant", False) and module is not model:
            continue
        _hook(module, path)
        for name, child in list(module.named_children()):
            cpath = f"{path}.{name}" if path else name
            if getattr(child, "_linger_disable_quant", False):
                continue
            if isinstance(child, ModuleIntConfig):
                child._linger_name = cpath
                continue
            if type(child) in types or (getattr(child, "_linger_quant_info", None) is not None
                                        and type(child) in _REPLACEMENTS):
                setattr(module, name, _build(child, cpath, parameter_bits, mode))
            else:
                queue.append((cpath, child))
    return model
