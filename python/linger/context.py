"""Which linger-managed module is running (for functional ops such as `+`).

`linger.init` registers two forward hooks on every container module it walks.
The hooks are module-level functions (picklable); the stack is per thread.
"""
from __future__ import annotations

import threading
from typing import List, Optional

import torch.nn as nn

_state = threading.local()


def _stack() -> List[nn.Module]:
    s = getattr(_state, "stack", None)
    if s is None:
        s = []
        _state.stack = s
    return s


# Containers iterate their children (nn.Sequential's forward, a ModuleDict subclass looping over `self.items()`,
# e.g. torchvision's DenseNet blocks), so the layers of functional ops must not become their children.
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def get_current_module() -> Optional[nn.Module]:
    """The innermost running module prepared by `linger.init` that may own functional-op layers: containers
    (Sequential/ModuleList/ModuleDict) hand them to their nearest non-container caller. None outside a linger
    model, or inside a disabled module."""
    s = _stack()
    if not s or getattr(s[-1], "_linger_disable_quant", False):
        return None
    for m in reversed(s):
        if not isinstance(m, _CONTAINERS):
            return m
    return s[-1]


def hook_pre_forward(module: nn.Module, inputs) -> None:
    s = _stack()
    if getattr(module, "_linger_root", False):
        s.clear()  # a root forward starts clean even if an earlier forward raised
    s.append(module)
    module._linger_iq_tensor_index_ = 0
    module._linger_funcint_bmm_index_ = 0
    module._linger_iq_float_operand_index_ = 0


def hook_forward(module: nn.Module, inputs, output):
    s = _stack()
    if s and s[-1] is module:
        s.pop()
    module._linger_iq_tensor_index_ = 0
    module._linger_funcint_bmm_index_ = 0
    module._linger_iq_float_operand_index_ = 0
    if getattr(module, "_linger_root", False) and _exporting():
        from .onnx.functions import dequant_outputs  # export path only
        return dequant_outputs(output)
    return None


def _exporting() -> bool:
    import sys
    onnx = sys.modules.get("torch.onnx")  # torch 2.x imports torch.onnx lazily: not imported, no export running
    return onnx is not None and bool(onnx.is_in_onnx_export())
