"""LinearInt: int8 fully connected layer (numerics.md §3)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from ..config import QuantMode
from ..iqtensor import _make, is_iqtensor
from ..onnx import functions as export_fn
from ..onnx.functions import exporting
from ..quant import fake_quant
from .base import ModuleIntConfig, check_bits

_STATS = ("running_x", "running_w", "running_o", "scale_x", "scale_w", "scale_o")


class LinearInt(ModuleIntConfig, nn.Linear):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = None,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False,
                 ahead_sigmoid: bool = False) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias)
        check_bits("LinearInt", "data_bits", data_bits, (8,))
        check_bits("LinearInt", "parameter_bits", parameter_bits, tuple(range(2, 9)))
        check_bits("LinearInt", "o_bits", o_bits, (None, 8, 16))  # 32-bit codes are not exact in float32
        self._init_quant(data_bits, parameter_bits, mode, o_bits, _STATS)
        self.clamp_data, self.clamp_weight, self.clamp_bias = clamp_data, clamp_weight, clamp_bias
        self.ahead_relu = ahead_relu
        self.ahead_sigmoid = ahead_sigmoid

    @classmethod
    def from_float(cls, m: nn.Linear, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode) -> "LinearInt":
        q = cls(m.in_features, m.out_features, m.bias is not None, data_bits, parameter_bits, mode, o_bits,
                ahead_relu=bool(getattr(m, "_linger_ahead_relu", False)))
        q.weight = m.weight
        q.bias = m.bias
        return q

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x, qx = self._input(input)
        qw = self._weight_exponent(self.weight)
        if self.training:
            w = fake_quant(self.weight, qw, self.parameter_bits)
            b = fake_quant(self.bias, qx + qw, 32) if self.bias is not None else None
            y = F.linear(x, w, b)
            if self.o_bits is None:
                return y
            return self._quant_output_train(y, self.ahead_relu)
        qo = None if self.o_bits is None else self._output_exponent(None)
        if exporting():
            if not is_iqtensor(input):
                x = export_fn.quant(x, qx, self.data_bits)
            info = export_fn.ExportInfo(lambda v: self._int_forward(v, qx, qw, qo), self._symbolic(qx, qw, qo))
            y = export_fn.apply(info, x)
        else:
            y = self._int_forward(x, qx, qw, qo)
        return y if qo is None else _make(y, 2.0 ** qo, self.o_bits, self._stat("running_o"))

    def _int_tensors(self, qx: int, qw: int):
        wi = ops.quantize(self.weight.detach(), qw, self.parameter_bits)
        bi = ops.quantize(self.bias.detach(), qx + qw, 32) if self.bias is not None else None
        return wi, bi

    def _int_forward(self, x: torch.Tensor, qx: int, qw: int, qo: Optional[int]) -> torch.Tensor:
        """The eval path: integers of numerics::linear_int, returned dequantized (float)."""
        xi = ops.quantize(x, qx, self.data_bits)
        wi, bi = self._int_tensors(qx, qw)
        if qo is None:
            return ops.linear_int(xi, wi, bi, qx + qw, 0)
        return ops.dequantize(ops.linear_int(xi, wi, bi, qx + qw - qo, self.o_bits), qo)

    def _symbolic(self, qx: int, qw: int, qo: Optional[int]):
        def write(g, info, x):
            with export_fn.tracing_paused(), torch.no_grad():
                wi, bi = self._int_tensors(qx, qw)
            inputs = [x, export_fn.const(g, wi)] + ([export_fn.const(g, bi)] if bi is not None else [])
            attrs = dict(scale_x_f=2.0 ** qx, scale_w_f=2.0 ** qw, data_bits_i=self.data_bits,
                         parameter_bits_i=self.parameter_bits, platform_quant_s=export_fn.PLATFORM)
            if qo is not None:
                attrs.update(scale_o_f=2.0 ** qo, o_bits_i=self.o_bits)
            out = g.op("thinker::LinearInt", *inputs, **attrs)
            return export_fn.set_type(out, x, export_fn.out_type(self.o_bits), info.out_shape)
        return write

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()
