"""Conv2dInt, Conv1dInt, ConvTranspose2dInt: int8 convolutions (numerics.md §3)."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from ..config import QuantMode
from ..normalize.functions import check_bound, clamp_param
from .base import check_bits
from .weighted import WeightedIntMixin

STATS = ("running_x", "running_w", "running_o", "scale_x", "scale_w", "scale_o")


def init_weighted(m: WeightedIntMixin, owner: str, data_bits: int, parameter_bits: int, mode: QuantMode,
                  o_bits: Optional[int], clamp_data, clamp_weight, clamp_bias, ahead_relu: bool,
                  o_bits_allowed=(None, 8, 16)) -> None:
    check_bits(owner, "data_bits", data_bits, (8,))
    check_bits(owner, "parameter_bits", parameter_bits, tuple(range(2, 9)))
    check_bits(owner, "o_bits", o_bits, o_bits_allowed)  # 32-bit codes are not exact in float32 tensors
    m._init_quant(data_bits, parameter_bits, mode, o_bits, STATS)
    m.clamp_data = check_bound(owner, "clamp_data", clamp_data)
    m.clamp_weight = check_bound(owner, "clamp_weight", clamp_weight)
    m.clamp_bias = check_bound(owner, "clamp_bias", clamp_bias)
    m.ahead_relu = bool(ahead_relu)


def check_padding(owner: str, padding, padding_mode: str) -> None:
    if padding_mode != "zeros":
        raise ValueError(f"linger: {owner} supports padding_mode='zeros' only, got {padding_mode!r}; "
                         "pad explicitly with F.pad before the conv")
    if isinstance(padding, str):
        raise ValueError(f"linger: {owner} needs numeric padding, got padding={padding!r}")


def conv2d_eval(xi, wi, bi, stride, pads, dilation, groups, qx, qw, qo, o_bits):
    """Integer Conv2dInt (shared C++ definition), returned dequantized."""
    if qo is None:
        acc = ops.conv2d_int(xi, wi, bi, list(stride), list(pads), list(dilation), groups, 0, False, 32)
        return ops.dequantize(acc, qx + qw)
    return ops.dequantize(ops.conv2d_int(xi, wi, bi, list(stride), list(pads), list(dilation), groups,
                                         qx + qw - qo, False, o_bits), qo)


def conv2d_eval_packed(x, packed, bq, qx, qw, qo, o_bits):
    """The fast eval form of conv2d_eval: float x -> the same integers through the packed weights, dequantized."""
    if qo is None:
        return packed.run(x, bq, qx, 0, 32, qx + qw)
    return packed.run(x, bq, qx, qx + qw - qo, o_bits, qo)


class Conv2dInt(WeightedIntMixin, nn.Conv2d):
    _onnx_op = "Conv2dInt"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = 8,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False,
                 ahead_sigmoid: bool = False) -> None:
        check_padding("Conv2dInt", padding, padding_mode)
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                           padding_mode)
        init_weighted(self, "Conv2dInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight,
                      clamp_bias, ahead_relu)
        self.ahead_sigmoid = ahead_sigmoid

    @classmethod
    def from_float(cls, m: nn.Conv2d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "Conv2dInt":
        q = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                m.bias is not None, m.padding_mode, data_bits, parameter_bits, mode, o_bits, **clamps)
        q.weight = m.weight  # the same Parameter objects: an optimizer built before init stays valid
        q.bias = m.bias
        return q

    def _pads(self):
        ph, pw = self.padding
        return [ph, pw, ph, pw]

    def _float_weight_bias(self, x):
        return clamp_param(self.weight, self.clamp_weight), clamp_param(self.bias, self.clamp_bias)

    def _float_op(self, x, w, b):
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)

    def _int_op(self, xi, wi, bi, qx, qw, qo):
        return conv2d_eval(xi, wi, bi, self.stride, self._pads(), self.dilation, self.groups, qx, qw, qo,
                           self.o_bits)

    def _pack(self, wi):
        return ops.pack_conv2d(wi, list(self.stride), self._pads(), list(self.dilation), self.groups)

    def _eval_op(self, c, x, qx, bq):
        return conv2d_eval_packed(x, c.packed, bq, qx, c.qw, c.qo, self.o_bits)

    def _onnx_attrs(self) -> Dict[str, object]:
        return dict(dilations_i=list(self.dilation), group_i=self.groups, kernel_shape_i=list(self.kernel_size),
                    pads_i=self._pads(), strides_i=list(self.stride), castor_mode_s="luna")

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()


class Conv1dInt(WeightedIntMixin, nn.Conv1d):
    _onnx_op = "Conv1dInt"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = None,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False) -> None:
        check_padding("Conv1dInt", padding, padding_mode)
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                           padding_mode)
        init_weighted(self, "Conv1dInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight,
                      clamp_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.Conv1d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "Conv1dInt":
        q = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                m.bias is not None, m.padding_mode, data_bits, parameter_bits, mode, o_bits, **clamps)
        q.weight = m.weight
        q.bias = m.bias
        return q

    def _float_weight_bias(self, x):
        return clamp_param(self.weight, self.clamp_weight), clamp_param(self.bias, self.clamp_bias)

    def _float_op(self, x, w, b):
        return F.conv1d(x, w, b, self.stride, self.padding, self.dilation, self.groups)

    def _int_op(self, xi, wi, bi, qx, qw, qo):
        # Conv1dInt is Conv2dInt with H = KH = 1 (numerics/conv1d.h)
        p = self.padding[0]
        y = conv2d_eval(xi.unsqueeze(2), wi.unsqueeze(2), bi, (1, self.stride[0]), (0, p, 0, p),
                        (1, self.dilation[0]), self.groups, qx, qw, qo, self.o_bits)
        return y.squeeze(2)

    def _pack(self, wi):
        p = self.padding[0]
        return ops.pack_conv2d(wi.unsqueeze(2), [1, self.stride[0]], [0, p, 0, p], [1, self.dilation[0]], self.groups)

    def _eval_op(self, c, x, qx, bq):
        return conv2d_eval_packed(x.unsqueeze(2), c.packed, bq, qx, c.qw, c.qo, self.o_bits).squeeze(2)

    def _onnx_attrs(self) -> Dict[str, object]:
        p = self.padding[0]
        return dict(dilations_i=[self.dilation[0]], group_i=self.groups, kernel_shape_i=[self.kernel_size[0]],
                    pads_i=[p, p], strides_i=[self.stride[0]])

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()


class ConvTranspose2dInt(WeightedIntMixin, nn.ConvTranspose2d):
    _onnx_op = "ConvTranspose2dInt"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = None,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False) -> None:
        check_padding("ConvTranspose2dInt", padding, padding_mode)
        nn.ConvTranspose2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
                                    groups, bias, dilation, padding_mode)
        init_weighted(self, "ConvTranspose2dInt", data_bits, parameter_bits, mode, o_bits, clamp_data,
                      clamp_weight, clamp_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.ConvTranspose2d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "ConvTranspose2dInt":
        q = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.output_padding, m.groups,
                m.bias is not None, m.dilation, m.padding_mode, data_bits, parameter_bits, mode, o_bits, **clamps)
        q.weight = m.weight
        q.bias = m.bias
        return q

    def forward(self, input: torch.Tensor, output_size=None) -> torch.Tensor:  # type: ignore[override]
        if output_size is not None:
            raise ValueError(f"linger: ConvTranspose2dInt {self._label()}: output_size is not supported; "
                             "set output_padding in the constructor instead")
        return WeightedIntMixin.forward(self, input)

    def _pads(self):
        ph, pw = self.padding
        return [ph, pw, ph, pw]

    def _float_weight_bias(self, x):
        return clamp_param(self.weight, self.clamp_weight), clamp_param(self.bias, self.clamp_bias)

    def _float_op(self, x, w, b):
        return F.conv_transpose2d(x, w, b, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)

    def _int_op(self, xi, wi, bi, qx, qw, qo):
        args = (list(self.stride), self._pads(), list(self.output_padding), list(self.dilation), self.groups)
        if qo is None:
            return ops.dequantize(ops.convtranspose2d_int(xi, wi, bi, *args, 0, False, 32), qx + qw)
        return ops.dequantize(ops.convtranspose2d_int(xi, wi, bi, *args, qx + qw - qo, False, self.o_bits), qo)

    def _onnx_attrs(self) -> Dict[str, object]:
        return dict(dilations_i=list(self.dilation), group_i=self.groups, kernel_shape_i=list(self.kernel_size),
                    pads_i=self._pads(), output_padding_i=list(self.output_padding), strides_i=list(self.stride))

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()
