"""LinearInt: int8 fully connected layer (numerics.md §3)."""
from __future__ import annotations

from typing import Optional

import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from ..config import QuantMode
from ..normalize.functions import clamp_param
from .conv_int import init_weighted
from .weighted import WeightedIntMixin


class LinearInt(WeightedIntMixin, nn.Linear):
    _onnx_op = "LinearInt"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = None,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False,
                 ahead_sigmoid: bool = False) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias)
        init_weighted(self, "LinearInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight,
                      clamp_bias, ahead_relu)
        self.ahead_sigmoid = ahead_sigmoid

    @classmethod
    def from_float(cls, m: nn.Linear, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "LinearInt":
        q = cls(m.in_features, m.out_features, m.bias is not None, data_bits, parameter_bits, mode, o_bits,
                **clamps)
        q.weight = m.weight
        q.bias = m.bias
        return q

    def _float_weight_bias(self, x):
        return clamp_param(self.weight, self.clamp_weight), clamp_param(self.bias, self.clamp_bias)

    def _float_op(self, x, w, b):
        return F.linear(x, w, b)

    def _int_op(self, xi, wi, bi, qx, qw, qo):
        if qo is None:
            return ops.linear_int(xi, wi, bi, qx + qw, 0)
        return ops.dequantize(ops.linear_int(xi, wi, bi, qx + qw - qo, self.o_bits), qo)

    def _pack(self, wi):
        return ops.pack_linear(wi)

    def _eval_op(self, c, x, qx, bq):
        if c.qo is None:
            return c.packed.run(x, bq, qx, qx + c.qw, 0, 0)
        return c.packed.run(x, bq, qx, qx + c.qw - c.qo, self.o_bits, c.qo)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()
