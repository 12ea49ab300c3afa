"""Float constraint-stage ("normalize") modules (linger 1.x names).

Each keeps the parameter names of the float module it replaces (same state_dict
keys) and clamps, in training and eval: weights to +-normalize_weight, biases to
+-normalize_bias (gradient policy in functions.py), outputs to
+-normalize_data. The fused conv-bn modules are "forward fused, backward not
fused": training runs the conv then a true batch norm (batch statistics, full
BN gradient, running statistics updated unless frozen); eval runs the folded
conv with clamped folded weights; QAT (`linger.init`) turns them into one
quantized conv with the BN folded in.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..bnutil import batch_stats, bn_alpha_beta, fold
from .functions import check_bound, clamp_output, clamp_param


class NormalizeMixin:
    normalize_data: Optional[float] = None
    normalize_weight: Optional[float] = None
    normalize_bias: Optional[float] = None

    @property
    def ahead_relu(self) -> bool:
        """Set by `trace_layers`/`FuseConvBNAheadRelu` when a ReLU follows (1.x attribute name)."""
        return bool(getattr(self, "_linger_ahead_relu", False))

    @ahead_relu.setter
    def ahead_relu(self, value: bool) -> None:
        self._linger_ahead_relu = bool(value)

    def _init_1x(self, normalize_data, normalize_weight, normalize_bias, ahead_relu: bool) -> None:
        """The keyword arguments of the 1.x constructors."""
        self.set_normalize(normalize_data, normalize_weight, normalize_bias)
        if ahead_relu:
            self.ahead_relu = True

    def set_normalize(self, data=None, weight=None, bias=None) -> None:
        owner = type(self).__name__
        self.normalize_data = check_bound(owner, "normalize_data", data)
        self.normalize_weight = check_bound(owner, "normalize_weight", weight)
        self.normalize_bias = check_bound(owner, "normalize_bias", bias)

    def _clamped(self, w, b):
        return clamp_param(w, self.normalize_weight), clamp_param(b, self.normalize_bias)

    def _norm_repr(self) -> str:
        return (f"normalize_data={self.normalize_data}, normalize_weight={self.normalize_weight}, "
                f"normalize_bias={self.normalize_bias}")


def _adopt(new: nn.Module, old: nn.Module) -> nn.Module:
    """Move the parameters and buffers of `old` into `new` (same objects) and copy its training flag."""
    for name, p in old.named_parameters(recurse=False):
        setattr(new, name, p)
    for name, b in old.named_buffers(recurse=False):
        setattr(new, name, b)
    new.train(old.training)
    for attr in ("_linger_ahead_relu",):
        if hasattr(old, attr):
            setattr(new, attr, getattr(old, attr))
    return new


class NormalizeConv2d(NormalizeMixin, nn.Conv2d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros",
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False, ahead_sigmoid: bool = False) -> None:
        if padding_mode != "zeros":
            raise ValueError("linger: NormalizeConv2d supports padding_mode='zeros' only; pad the input with F.pad")
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)
        self._linger_ahead_sigmoid = bool(ahead_sigmoid)

    @classmethod
    def from_float(cls, m: nn.Conv2d) -> "NormalizeConv2d":
        if m.padding_mode != "zeros":
            raise ValueError("linger: normalize_layers supports Conv2d with padding_mode='zeros' only")
        return _adopt(cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                          m.bias is not None), m)

    def forward(self, x):
        w, b = self._clamped(self.weight, self.bias)
        return clamp_output(F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups),
                            self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeConv1d(NormalizeMixin, nn.Conv1d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros",
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False) -> None:
        if padding_mode != "zeros":
            raise ValueError("linger: NormalizeConv1d supports padding_mode='zeros' only; pad the input with F.pad")
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.Conv1d) -> "NormalizeConv1d":
        if m.padding_mode != "zeros":
            raise ValueError("linger: normalize_layers supports Conv1d with padding_mode='zeros' only")
        return _adopt(cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                          m.bias is not None), m)

    def forward(self, x):
        w, b = self._clamped(self.weight, self.bias)
        return clamp_output(F.conv1d(x, w, b, self.stride, self.padding, self.dilation, self.groups),
                            self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeConvTranspose2d(NormalizeMixin, nn.ConvTranspose2d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False) -> None:
        nn.ConvTranspose2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
                                    groups, bias, dilation, padding_mode)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.ConvTranspose2d) -> "NormalizeConvTranspose2d":
        return _adopt(cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.output_padding,
                          m.groups, m.bias is not None, m.dilation), m)

    def forward(self, x, output_size=None):
        if output_size is not None:
            raise ValueError("linger: NormalizeConvTranspose2d does not support output_size; use output_padding")
        w, b = self._clamped(self.weight, self.bias)
        return clamp_output(F.conv_transpose2d(x, w, b, self.stride, self.padding, self.output_padding,
                                               self.groups, self.dilation), self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeLinear(NormalizeMixin, nn.Linear):
    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False, ahead_sigmoid: bool = False) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)
        self._linger_ahead_sigmoid = bool(ahead_sigmoid)

    @classmethod
    def from_float(cls, m: nn.Linear) -> "NormalizeLinear":
        return _adopt(cls(m.in_features, m.out_features, m.bias is not None), m)

    def forward(self, x):
        w, b = self._clamped(self.weight, self.bias)
        return clamp_output(F.linear(x, w, b), self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeBatchNorm2d(NormalizeMixin, nn.BatchNorm2d):
    """BN as y = alpha * x + beta with alpha, beta clamped (weight / bias bounds)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True, track_running_stats: bool = True,
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False) -> None:
        nn.BatchNorm2d.__init__(self, num_features, eps, momentum, affine, track_running_stats)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.BatchNorm2d) -> "NormalizeBatchNorm2d":
        if not m.track_running_stats:
            raise ValueError("linger: normalize_layers needs BatchNorm2d with track_running_stats=True")
        return _adopt(cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats), m)

    def forward(self, x):
        if self.training:
            mean, var = batch_stats(self, x)
        else:
            mean, var = self.running_mean, self.running_var
        a, b = bn_alpha_beta(self, mean, var)
        a, b = self._clamped(a, b)
        shape = [1, -1] + [1] * (x.dim() - 2)
        return clamp_output(x * a.view(shape) + b.view(shape), self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeLayerNorm(NormalizeMixin, nn.LayerNorm):
    """LayerNorm with gamma / beta clamped (weight / bias bounds) and the output clamped."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 normalize_data: Optional[float] = None,
                 normalize_weight: Optional[float] = None, normalize_bias: Optional[float] = None,
                 ahead_relu: bool = False) -> None:
        nn.LayerNorm.__init__(self, normalized_shape, eps, elementwise_affine)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)

    @classmethod
    def from_float(cls, m: nn.LayerNorm) -> "NormalizeLayerNorm":
        return _adopt(cls(m.normalized_shape, m.eps, m.elementwise_affine), m)

    def forward(self, x):
        w, b = self._clamped(self.weight, self.bias)
        return clamp_output(F.layer_norm(x, self.normalized_shape, w, b, self.eps), self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class NormalizeEmbedding(NormalizeMixin, nn.Embedding):
    """Embedding with the table clamped (weight bound) and the output clamped; shares the weight (1.x)."""

    @classmethod
    def from_float(cls, m: nn.Embedding) -> "NormalizeEmbedding":
        new = cls(m.num_embeddings, m.embedding_dim, m.padding_idx, m.max_norm, m.norm_type, m.scale_grad_by_freq,
                  m.sparse, _weight=m.weight)
        return _adopt(new, m)

    def forward(self, idx):
        w = clamp_param(self.weight, self.normalize_weight)
        return clamp_output(F.embedding(idx, w, self.padding_idx, self.max_norm, self.norm_type,
                                        self.scale_grad_by_freq, self.sparse), self.normalize_data)

    def extra_repr(self):
        return super().extra_repr() + ", " + self._norm_repr()


class _NormalizeFused(NormalizeMixin, nn.Module):
    """A float layer followed by its batch norm, created by `linger.trace_layers`."""

    _inner = "conv"
    _layout = "out_first"

    def _setup(self, inner: nn.Module, bn: nn.Module) -> None:
        setattr(self, self._inner, inner)
        self.bn = bn
        self.train(inner.training)

    @classmethod
    def fuse(cls, inner: nn.Module, bn: nn.Module) -> "_NormalizeFused":
        """Wrap an existing layer and its batch norm (same parameter objects), as `trace_layers` does."""
        obj = cls.__new__(cls)
        nn.Module.__init__(obj)
        obj._setup(inner, bn)
        return obj

    def _init_fused(self, inner: nn.Module, bn: nn.Module, normalize_data, normalize_weight, normalize_bias,
                    ahead_relu: bool) -> None:
        nn.Module.__init__(self)
        self._setup(inner, bn)
        self._init_1x(normalize_data, normalize_weight, normalize_bias, ahead_relu)

    def _float(self, x, w, b):
        raise NotImplementedError

    def forward(self, x):
        inner = getattr(self, self._inner)
        if self.training:
            y = self._float(x, inner.weight, inner.bias)
            mean, var = batch_stats(self.bn, y)
            a, b = bn_alpha_beta(self.bn, mean, var)
            shape = [1, -1] + [1] * (y.dim() - 2)
            return clamp_output(y * a.view(shape) + b.view(shape), self.normalize_data)
        w, b = fold(inner.weight, inner.bias, self.bn, self._layout, getattr(inner, "groups", 1))
        w, b = self._clamped(w, b)
        return clamp_output(self._float(x, w, b), self.normalize_data)

    def extra_repr(self):
        return self._norm_repr()


class NormalizeConvBN2d(_NormalizeFused):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True, track_running_stats: bool = True,
                 normalize_data: Optional[float] = None, normalize_weight: Optional[float] = None,
                 normalize_bias: Optional[float] = None, ahead_relu: bool = False) -> None:
        if padding_mode != "zeros":
            raise ValueError("linger: NormalizeConvBN2d supports padding_mode='zeros' only; pad the input with F.pad")
        self._init_fused(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias),
                         nn.BatchNorm2d(out_channels, eps, momentum, affine, track_running_stats), normalize_data, normalize_weight,
                         normalize_bias, ahead_relu)

    def _float(self, x, w, b):
        c = self.conv
        return F.conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups)


class NormalizeConvBN1d(_NormalizeFused):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True, track_running_stats: bool = True,
                 normalize_data: Optional[float] = None, normalize_weight: Optional[float] = None,
                 normalize_bias: Optional[float] = None, ahead_relu: bool = False) -> None:
        if padding_mode != "zeros":
            raise ValueError("linger: NormalizeConvBN1d supports padding_mode='zeros' only; pad the input with F.pad")
        self._init_fused(nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias),
                         nn.BatchNorm1d(out_channels, eps, momentum, affine, track_running_stats), normalize_data, normalize_weight,
                         normalize_bias, ahead_relu)

    def _float(self, x, w, b):
        c = self.conv
        return F.conv1d(x, w, b, c.stride, c.padding, c.dilation, c.groups)


class NormalizeConvTransposeBN2d(_NormalizeFused):
    _layout = "in_first"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True, track_running_stats: bool = True,
                 normalize_data: Optional[float] = None, normalize_weight: Optional[float] = None,
                 normalize_bias: Optional[float] = None, ahead_relu: bool = False) -> None:
        self._init_fused(nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding,
                                            groups, bias, dilation, padding_mode),
                         nn.BatchNorm2d(out_channels, eps, momentum, affine, track_running_stats), normalize_data, normalize_weight,
                         normalize_bias, ahead_relu)

    def _float(self, x, w, b):
        c = self.conv
        return F.conv_transpose2d(x, w, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation)


class NormalizeLinearBN1d(_NormalizeFused):
    """Linear followed by BatchNorm1d (seed R1: fused without rewriting the Linear as a 1x1 conv)."""

    _inner = "linear"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True, track_running_stats: bool = True,
                 normalize_data: Optional[float] = None, normalize_weight: Optional[float] = None,
                 normalize_bias: Optional[float] = None, ahead_relu: bool = False) -> None:
        self._init_fused(nn.Linear(in_features, out_features, bias), nn.BatchNorm1d(out_features, eps, momentum, affine, track_running_stats),
                         normalize_data, normalize_weight, normalize_bias, ahead_relu)

    def _float(self, x, w, b):
        return F.linear(x, w, b)


class EmptyBatchNorm(nn.Module):
    """Stands where a batch norm was folded into the preceding layer: identity, no parameters."""

    def forward(self, x):
        return x
