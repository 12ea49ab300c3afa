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
from ..onnx import functions as export_fn
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
        with export_fn.tracing_paused():
            r = float(self.running_o)
        if not r > 0.0:
            raise RuntimeError(
                f"linger: iqAdd {self._linger_name!r} has no statistics (running_o is 0): it never ran in a "
                "training-mode forward. Run training batches before eval/export, or load a QAT checkpoint.")
        qo = exponent_for_range(r, 8)  # eval / export: computed, never stored (the model does not change)
        if export_fn.exporting():
            y = export_fn.apply(export_fn.ExportInfo(lambda u, v: self._int_forward(u, v, qa, qb, qo),
                                                     self._symbolic(qa, qb, qo)), fa, fb)
        else:
            y = self._int_forward(fa, fb, qa, qb, qo)
        return _make(y, 2.0 ** qo, 8, r)

    @staticmethod
    def _int_forward(fa: torch.Tensor, fb: torch.Tensor, qa: int, qb: int, qo: int) -> torch.Tensor:
        yi = ops.iqadd_int(ops.quantize(fa, qa, 8), ops.quantize(fb, qb, 8), qa - qo, qb - qo)
        return ops.dequantize(yi, qo)

    @staticmethod
    def _symbolic(qa: int, qb: int, qo: int):
        def write(g, info, a, b):
            out = g.op("thinker::iqAdd", a, b, scale_x_f=2.0 ** qa, scale_y_f=2.0 ** qb, scale_o_f=2.0 ** qo,
                       platform_quant_s=export_fn.PLATFORM, mode_s="Non_t710_mode")
            return export_fn.set_type(out, a, torch.int8, info.out_shape)
        return write


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
