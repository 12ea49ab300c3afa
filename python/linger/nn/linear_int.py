"""LinearInt: int8 fully connected layer (numerics.md §3)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from ..config import QuantMode
from ..iqtensor import _make
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
        xi = ops.quantize(x, qx, self.data_bits)
        wi = ops.quantize(self.weight.detach(), qw, self.parameter_bits)
        bi = ops.quantize(self.bias.detach(), qx + qw, 32) if self.bias is not None else None
        if self.o_bits is None:
            return ops.linear_int(xi, wi, bi, qx + qw, 0)
        qo = self._output_exponent(None)
        yi = ops.linear_int(xi, wi, bi, qx + qw - qo, self.o_bits)
        return _make(ops.dequantize(yi, qo), 2.0 ** qo, self.o_bits, float(self.running_o))

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()
