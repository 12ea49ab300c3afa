"""BatchNorm2dInt: standalone batch norm as an int8 per-channel multiply-add (numerics.md §3).

alpha = gamma / sqrt(var + eps) (int8, one exponent for all channels), beta = bias - mean * alpha
(int32 at Qx+Qw); y = sat8(rhu_shift(x * alpha_c + beta_c, Qx + Qw - Qo)). Training uses batch
statistics (full BN gradient) and updates the running statistics unless
linger.SetBnMomentumUpdate(disable=True) is in force; eval uses the running statistics.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .._ext import ops
from ..bnutil import batch_stats, bn_alpha_beta
from ..config import QuantMode
from ..normalize.functions import clamp_param
from .conv_int import init_weighted
from .weighted import WeightedIntMixin


class BatchNorm2dInt(WeightedIntMixin, nn.BatchNorm2d):
    _onnx_op = "BatchNorm2dInt"
    _weight_from_batch = True  # training folds the batch's mean/var into the weight (reduced over DDP ranks)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1, affine: bool = True,
                 track_running_stats: bool = True, data_bits: int = 8, parameter_bits: int = 8,
                 mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = 8, clamp_data=None, clamp_weight=None,
                 clamp_bias=None, ahead_relu: bool = False) -> None:
        nn.BatchNorm2d.__init__(self, num_features, eps, momentum, affine, track_running_stats)
        if not track_running_stats:
            raise ValueError("linger: BatchNorm2dInt needs track_running_stats=True (eval uses running statistics)")
        init_weighted(self, "BatchNorm2dInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight,
                      clamp_bias, ahead_relu, o_bits_allowed=(8, 16))

    @classmethod
    def from_float(cls, m: nn.BatchNorm2d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "BatchNorm2dInt":
        q = cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, data_bits, parameter_bits, mode,
                o_bits or 8, **clamps)
        q.weight, q.bias = m.weight, m.bias
        q.running_mean, q.running_var, q.num_batches_tracked = m.running_mean, m.running_var, m.num_batches_tracked
        return q

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() != 4:
            raise ValueError(f"linger: BatchNorm2dInt {self._label()} expects 4-D input [N, C, H, W], "
                             f"got {input.dim()}-D")
        return WeightedIntMixin.forward(self, input)

    def _float_weight_bias(self, x):
        if self.training:
            mean, var = batch_stats(self, x)
        else:
            mean, var = self.running_mean, self.running_var
        alpha, beta = bn_alpha_beta(self, mean, var)
        return clamp_param(alpha, self.clamp_weight), clamp_param(beta, self.clamp_bias)

    def _float_op(self, x, w, b):
        return x * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)

    def _int_op(self, xi, wi, bi, qx, qw, qo):
        return ops.dequantize(ops.batchnorm2d_int(xi, wi, bi, qx + qw - qo, self.o_bits), qo)

    def _eval_op(self, c, x, qx, bq):
        return ops.batchnorm2d_eval(x, c.wi, bq, qx, qx + c.qw - c.qo, self.o_bits, c.qo)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._bits_repr()


class BatchNorm1dInt(BatchNorm2dInt):
    """Standalone `nn.BatchNorm1d` on [N, C] or [N, C, L]: the same integer op (exported as BatchNorm2dInt on
    the 2-D / 3-D tensor; the runtime takes [N, C, ...])."""

    @classmethod
    def from_float(cls, m: nn.BatchNorm1d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "BatchNorm1dInt":
        return super().from_float(m, data_bits, parameter_bits, o_bits, mode, **clamps)  # type: ignore[return-value]

    def _check_input_dim(self, input: torch.Tensor) -> None:
        nn.BatchNorm1d._check_input_dim(self, input)  # type: ignore[arg-type]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() not in (2, 3):
            raise ValueError(f"linger: BatchNorm1dInt {self._label()} expects [N, C] or [N, C, L] input, "
                             f"got {input.dim()}-D")
        return WeightedIntMixin.forward(self, input)

    def _float_op(self, x, w, b):
        shape = [1, -1] + [1] * (x.dim() - 2)
        return x * w.view(shape) + b.view(shape)
