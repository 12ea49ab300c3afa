"""The eval-session cache of a quantized module with weights (conv, linear, batch norm, fused conv-bn).

In eval mode the integer weights, their exponent, the output exponent and the kernels' packed form depend only on
the module's parameters, buffers and settings, so they are computed on the first eval forward and reused while
none of these changes. The cache is a plain attribute (never a buffer: eval and export do not write the model's
state, docs/numerics.md §4.4): it is not in the state_dict, copies and pickles of the module leave it out, and it
is dropped by `train()` / `eval()` and by `load_state_dict`. A change of the weights without those calls (an
in-place update under `torch.no_grad()`, `param.data = ...`, `.to(device)`) is seen through the tensors'
identity, storage address and version counter, which the key records.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

CACHE_ATTR = "_linger_eval_cache"


class EvalCache:
    """What an eval forward needs besides the input: exponents Qw / Qo, the integer weights `wi` (and `packed`,
    their form for the optimised kernels, or None), the float bias (quantized per input exponent on first use)."""

    __slots__ = ("key", "qw", "qo", "wi", "packed", "bias", "bias_q", "running_o", "qx_stat")

    def __init__(self, key: Optional[Tuple], qw: int, qo: Optional[int], wi: torch.Tensor, packed: Any,
                 bias: Optional[torch.Tensor], running_o: Optional[float]) -> None:
        self.key = key
        self.qw = qw
        self.qo = qo
        self.wi = wi
        self.packed = packed
        self.bias = bias
        self.bias_q: Dict[int, torch.Tensor] = {}
        self.running_o = running_o
        self.qx_stat: Optional[int] = None  # Qx implied by running_x, for inputs that are not quantized tensors


def state_key(module: torch.nn.Module, settings: Tuple) -> Optional[Tuple]:
    """`settings` plus the identity, storage address and version counter of every parameter and buffer of
    `module` and its sub-modules; None when a tensor has no version counter (inference-mode tensors): the
    module then does not cache. (A walk over the modules' own dicts: `parameters()` costs several times more.)"""
    key = list(settings)
    stack = [module]
    try:
        while stack:
            m = stack.pop()
            for group in (m._parameters, m._buffers):
                for t in group.values():
                    if t is not None:
                        key += (id(t), t.data_ptr(), t._version)
            stack.extend(c for c in m._modules.values() if c is not None)
    except RuntimeError:
        return None
    return tuple(key)


def drop(module: torch.nn.Module) -> None:
    module.__dict__.pop(CACHE_ATTR, None)
