"""iqAdd: `+` of two quantized tensors (numerics.md §3).

Each operand is rescaled on its own to the output exponent Qo
(sat8(rhu_shift(a, Qa - Qo))), then the sum is saturated to int8. The
training forward computes exactly these integers (in float) with a
straight-through gradient; eval calls the shared integer definition.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .._ext import ops
from ..iqtensor import IQTensor, _make
from ..quant import exponent_for_range, fake_quant, observe

LAYER_PREFIX = "_linger_round_tensor_iqadd_"


class iqAddLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("running_o", torch.zeros(1))
        self.register_buffer("scale_o", torch.zeros(1))
        self._linger_name = ""

    def forward(self, a: IQTensor, b: IQTensor) -> IQTensor:
        for t in (a, b):
            if t.bits != 8:
                raise ValueError(f"linger: iqAdd {self._linger_name!r} needs 8-bit operands, got {t.bits} bits")
        qa, qb = a.exponent, b.exponent
        with torch._C.DisableTorchFunction():
            fa, fb = a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)
        if self.training:
            with torch._C.DisableTorchFunction():
                qo = observe(fa.detach() + fb.detach(), self.running_o, 8)
            with torch.no_grad():
                self.scale_o.fill_(2.0 ** qo)
            # a' and b' are exactly sat8(rhu_shift(a, Qa - Qo)) * 2^-Qo (inputs lie on their grids).
            s = fake_quant(fake_quant(fa, qa, 8), qo, 8) + fake_quant(fake_quant(fb, qb, 8), qo, 8)
            return _make(fake_quant(s, qo, 8), 2.0 ** qo, 8, float(self.running_o))
        r = float(self.running_o)
        if not r > 0.0:
            raise RuntimeError(
                f"linger: iqAdd {self._linger_name!r} has no statistics (running_o is 0): it never ran in a "
                "training-mode forward. Run training batches before eval/export, or load a QAT checkpoint.")
        qo = exponent_for_range(r, 8)
        with torch.no_grad():
            self.scale_o.fill_(2.0 ** qo)
        ai = ops.quantize(fa, qa, 8)
        bi = ops.quantize(fb, qb, 8)
        yi = ops.iqadd_int(ai, bi, qa - qo, qb - qo)
        return _make(ops.dequantize(yi, qo), 2.0 ** qo, 8, r)


def iqadd_in_module(module: nn.Module, a: IQTensor, b: IQTensor) -> IQTensor:
    """`a + b` inside `module`'s forward: the k-th add uses the child layer `_linger_round_tensor_iqadd__default_index_<k>`."""
    k = getattr(module, "_linger_iq_tensor_index_", 0)
    module._linger_iq_tensor_index_ = k + 1
    name = f"{LAYER_PREFIX}_default_index_{k}"
    layer = getattr(module, name, None)
    if layer is None:
        path = f"{getattr(module, '_linger_name', '')}.{name}".lstrip(".")
        if not module.training:
            raise RuntimeError(
                f"linger: iqAdd '{path}' is used in eval but was never run in training (or its checkpoint "
                "keys were not loaded). Run training batches first, or load a checkpoint saved after QAT.")
        layer = iqAddLayer().to(a.device)
        layer._linger_name = path
        layer.train(module.training)
        setattr(module, name, layer)
    return layer(a, b)


class LazyLayerLoader:
    """Load-state-dict pre-hook: recreates iqAdd layers named in a checkpoint before they are loaded.
    A plain callable object (not a closure), so models stay picklable."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for key in list(state_dict.keys()):
            if not key.startswith(prefix + LAYER_PREFIX):
                continue
            name = key[len(prefix):].split(".")[0]
            if getattr(self.module, name, None) is None:
                layer = iqAddLayer().to(state_dict[key].device)
                layer._linger_name = f"{getattr(self.module, '_linger_name', '')}.{name}".lstrip(".")
                layer.train(self.module.training)
                setattr(self.module, name, layer)
