"""Conv2dInt: int8 convolution (numerics.md §3)."""
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


class Conv2dInt(ModuleIntConfig, nn.Conv2d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = 8,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False,
                 ahead_sigmoid: bool = False) -> None:
        if padding_mode != "zeros":
            raise ValueError(f"linger: Conv2dInt supports padding_mode='zeros' only, got {padding_mode!r}; "
                             "pad explicitly with F.pad before the conv")
        if isinstance(padding, str):
            raise ValueError(f"linger: Conv2dInt needs numeric padding, got padding={padding!r}")
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                           padding_mode)
        check_bits("Conv2dInt", "data_bits", data_bits, (8,))
        check_bits("Conv2dInt", "parameter_bits", parameter_bits, tuple(range(2, 9)))
        check_bits("Conv2dInt", "o_bits", o_bits, (None, 8, 16))  # 32-bit codes are not exact in float32
        self._init_quant(data_bits, parameter_bits, mode, o_bits, _STATS)
        self.clamp_data, self.clamp_weight, self.clamp_bias = clamp_data, clamp_weight, clamp_bias
        self.ahead_relu = ahead_relu
        self.ahead_sigmoid = ahead_sigmoid

    @classmethod
    def from_float(cls, m: nn.Conv2d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode) -> "Conv2dInt":
        q = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                m.bias is not None, m.padding_mode, data_bits, parameter_bits, mode, o_bits,
                ahead_relu=bool(getattr(m, "_linger_ahead_relu", False)))
        q.weight = m.weight  # the same Parameter objects: an optimizer built before init stays valid
        q.bias = m.bias
        return q

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x, qx = self._input(input)
        qw = self._weight_exponent(self.weight)
        if self.training:
            w = fake_quant(self.weight, qw, self.parameter_bits)
            b = fake_quant(self.bias, qx + qw, 32) if self.bias is not None else None
            y = F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)
            if self.o_bits is None:
                return y
            return self._quant_output_train(y, self.ahead_relu)
        xi = ops.quantize(x, qx, self.data_bits)
        wi = ops.quantize(self.weight.detach(), qw, self.parameter_bits)
        bi = ops.quantize(self.bias.detach(), qx + qw, 32) if self.bias is not None else None
        ph, pw = self.padding
        pads = [ph, pw, ph, pw]
        if self.o_bits is None:
            acc = ops.conv2d_int(xi, wi, bi, list(self.stride), pads, list(self.dilation), self.groups, 0, False, 32)
            return ops.dequantize(acc, qx + qw)
        # output exponent from the statistics (eval); needs a float estimate only for training
        qo = self._output_exponent(None)  # eval: from running_o
        yi = ops.conv2d_int(xi, wi, bi, list(self.stride), pads, list(self.dilation), self.groups, qx + qw - qo,
                            False, self.o_bits)
        return _make(ops.dequantize(yi, qo), 2.0 ** qo, self.o_bits, float(self.running_o))

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()
