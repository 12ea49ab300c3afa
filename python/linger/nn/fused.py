"""Fused conv-bn (and linear-bn) QAT modules: BN folded into the weights with its running statistics
(frozen during QAT), exported as one Conv2dInt / Conv1dInt / ConvTranspose2dInt / LinearInt (seed R1, R2).

They keep the float `conv`/`linear` and `bn` sub-modules (the same objects and Parameters as before
`init`), so checkpoints of the traced float stage load unchanged and an optimizer built earlier stays
valid. Folding: alpha = gamma / sqrt(running_var + eps) with the BN's own eps,
W' = W * alpha (per output channel), b' = (b - running_mean) * alpha + beta.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from ..config import QuantMode
from ..normalize.functions import clamp_param
from ..bnutil import fold, has_initial_stats
from .conv_int import Conv1dInt, Conv2dInt, ConvTranspose2dInt
from .linear_int import LinearInt


class _FusedMixin:
    _inner = "conv"
    _layout = "out_first"

    def _drop_own_params(self) -> None:
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    def _float_weight_bias(self, x):
        inner = getattr(self, self._inner)
        w, b = fold(inner.weight, inner.bias, self.bn, self._layout, getattr(inner, "groups", 1))
        return clamp_param(w, self.clamp_weight), clamp_param(b, self.clamp_bias)

    def _exponent_hint(self) -> str:
        if not has_initial_stats(self.bn):
            return ""
        return ("Its batch norm still has its initial running statistics (mean 0, var 1), and QAT folds the BN "
                "with its running statistics (frozen, as in linger 1.x): this layer computes the float model's "
                "eval-mode output, not the train-mode one. ")

    def extra_repr(self) -> str:
        return super().extra_repr().replace(", bias=False", "") + ", bn folded (running statistics, frozen)"


class ConvBN2dInt(_FusedMixin, Conv2dInt):
    @classmethod
    def from_fused(cls, conv: nn.Conv2d, bn: nn.BatchNorm2d, data_bits: int, parameter_bits: int,
                   o_bits: Optional[int], mode: QuantMode, **clamps) -> "ConvBN2dInt":
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                conv.groups, True, conv.padding_mode, data_bits, parameter_bits, mode, o_bits, **clamps)
        q._drop_own_params()
        q.conv, q.bn = conv, bn
        return q


class ConvBN1dInt(_FusedMixin, Conv1dInt):
    @classmethod
    def from_fused(cls, conv: nn.Conv1d, bn: nn.BatchNorm1d, data_bits: int, parameter_bits: int,
                   o_bits: Optional[int], mode: QuantMode, **clamps) -> "ConvBN1dInt":
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                conv.groups, True, conv.padding_mode, data_bits, parameter_bits, mode, o_bits, **clamps)
        q._drop_own_params()
        q.conv, q.bn = conv, bn
        return q


class ConvTransposeBN2dInt(_FusedMixin, ConvTranspose2dInt):
    _layout = "in_first"

    @classmethod
    def from_fused(cls, conv: nn.ConvTranspose2d, bn: nn.BatchNorm2d, data_bits: int, parameter_bits: int,
                   o_bits: Optional[int], mode: QuantMode, **clamps) -> "ConvTransposeBN2dInt":
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                conv.output_padding, conv.groups, True, conv.dilation, conv.padding_mode, data_bits, parameter_bits,
                mode, o_bits, **clamps)
        q._drop_own_params()
        q.conv, q.bn = conv, bn
        return q


class LinearBN1dInt(_FusedMixin, LinearInt):
    _inner = "linear"

    @classmethod
    def from_fused(cls, linear: nn.Linear, bn: nn.BatchNorm1d, data_bits: int, parameter_bits: int,
                   o_bits: Optional[int], mode: QuantMode, **clamps) -> "LinearBN1dInt":
        q = cls(linear.in_features, linear.out_features, True, data_bits, parameter_bits, mode, o_bits, **clamps)
        q._drop_own_params()
        q.linear, q.bn = linear, bn
        return q
