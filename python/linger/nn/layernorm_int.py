"""LayerNormInt (linger 1.x §3.7) and GroupNormInt: integer normalisation (include/linger/numerics/layernorm.h).

x int8 at Qx; gamma int16 at Qw (per-tensor exponent, parameter_bits 16); beta int32 at 10 + Qw; the normalised
value is int16 at Q10 (the engine's format), the output int8 at Qo (running statistic). The epsilon enters as
the integer eps_q = floor(eps * 2^(2Qx) * T^2 + 1/2) (T = elements normalised together), computed exactly here
from the module's eps and exported as an attribute. Training computes the eval integers on the same
statistics and takes the gradient of the float layer_norm / group_norm (straight-through).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from .._tracing import exporting, tracing_paused
from ..config import QuantMode
from ..iqtensor import _make, is_iqtensor
from ..normalize.functions import check_bound, clamp_output, clamp_param
from ..quant import fake_quant
from .base import ModuleIntConfig, check_bits

_STATS = ("running_x", "running_w", "running_o", "scale_x", "scale_w", "scale_o")
NORM_Q = 10  # exponent of the int16 normalised value
MAX_EPS_Q = 1 << 52
MAX_COUNT = 1 << 16


def eps_q(eps: float, qx: int, count: int) -> int:
    """floor(eps * 2^(2 qx) * count^2 + 1/2), exact for the float eps, capped at 2^52."""
    v = Fraction(float(eps)) * Fraction(2) ** (2 * qx) * count * count + Fraction(1, 2)
    return min(int(v.__floor__()), MAX_EPS_Q)


class _NormIntMixin(ModuleIntConfig):
    """Shared forward; subclasses give the float op and the row geometry."""

    clamp_data: Optional[float] = None
    clamp_weight: Optional[float] = None
    clamp_bias: Optional[float] = None
    ahead_relu: bool = False
    _onnx_op = ""

    def _setup(self, owner: str, data_bits: int, parameter_bits: int, mode: QuantMode, o_bits: Optional[int],
               clamp_data, clamp_weight, clamp_bias, ahead_relu: bool) -> None:
        check_bits(owner, "data_bits", data_bits, (8,))
        check_bits(owner, "parameter_bits", parameter_bits, (16,))
        check_bits(owner, "o_bits", o_bits, (8,))
        self._init_quant(data_bits, parameter_bits, mode, o_bits, _STATS)
        self.clamp_data = check_bound(owner, "clamp_data", clamp_data)
        self.clamp_weight = check_bound(owner, "clamp_weight", clamp_weight)
        self.clamp_bias = check_bound(owner, "clamp_bias", clamp_bias)
        self.ahead_relu = bool(ahead_relu)

    # ---- to implement ----
    def _float_norm(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _geometry(self, shape) -> Tuple[int, int, int]:
        """(count, inner, groups) of layernorm_int for an input of this shape."""
        raise NotImplementedError

    def _param_count(self) -> int:
        raise NotImplementedError

    def _extra_attrs(self) -> dict:
        return {}

    # ---- shared ----
    def _params(self) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.weight is None:
            n = self._param_count()
            dev = self.running_x.device
            return torch.ones(n, device=dev), torch.zeros(n, device=dev)
        return clamp_param(self.weight, self.clamp_weight), clamp_param(self.bias, self.clamp_bias)

    def _check_input(self, x: torch.Tensor) -> None:
        pass

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input(input)
        x, qx = self._input(input)
        w, b = self._params()
        qw = self._weight_exponent(w)
        with tracing_paused():
            shape = [int(s) for s in x.shape]
        count, inner, groups = self._geometry(shape)
        if count > MAX_COUNT:
            raise ValueError(f"linger: {self._label()} normalises {count} elements together; at most {MAX_COUNT} "
                             "are supported")
        eq = eps_q(self.eps, qx, count)
        if self.training:
            wq = fake_quant(w, qw, 16)
            bq = fake_quant(b, qw + NORM_Q, 32)
            f = clamp_output(self._float_norm(x, wq, bq), self.clamp_data)
            qo = self._output_exponent(f, self.ahead_relu)
            with torch.no_grad(), tracing_paused():
                exact = self._int_forward(x.detach(), wq.detach(), bq.detach(), qx, qw, qo, eq, (count, inner, groups))
            y = f + (exact - f).detach()
            return _make(y, 2.0 ** qo, 8, self._stat("running_o"))
        qo = self._output_exponent(None)
        w, b = w.detach(), b.detach()
        geo = (count, inner, groups)
        if exporting():
            from ..onnx import functions as export_fn  # export path only
            if not is_iqtensor(input):
                x = export_fn.quant(x, qx, self.data_bits)
            info = export_fn.ExportInfo(lambda v: self._int_forward(v, w, b, qx, qw, qo, eq, geo),
                                        self._symbolic(w, b, qx, qw, qo, eq))
            y = export_fn.apply(info, x)
        else:
            y = self._int_forward(x, w, b, qx, qw, qo, eq, geo)
        return _make(y, 2.0 ** qo, 8, self._stat("running_o"))

    def _int_tensors(self, w: torch.Tensor, b: torch.Tensor, qw: int):
        return ops.quantize(w, qw, 16), ops.quantize(b, qw + NORM_Q, 32)

    def _int_forward(self, x, w, b, qx: int, qw: int, qo: int, eq: int, geo) -> torch.Tensor:
        xi = ops.quantize(x, qx, 8)
        wi, bi = self._int_tensors(w, b, qw)
        count, inner, groups = geo
        yi = ops.layernorm_int(xi, wi.reshape(-1), bi.reshape(-1), count, inner, groups, eq, NORM_Q + qw - qo, 8)
        return ops.dequantize(yi, qo)

    def _symbolic(self, w, b, qx: int, qw: int, qo: int, eq: int):
        from ..onnx import functions as export_fn  # export path only

        def write(g, info, x):
            with tracing_paused(), torch.no_grad():
                wi, bi = self._int_tensors(w, b, qw)
            attrs = dict(scale_x_f=2.0 ** qx, scale_w_f=2.0 ** qw, scale_o_f=2.0 ** qo, eps_q_i=int(eq),
                         data_bits_i=self.data_bits, parameter_bits_i=16, o_bits_i=8,
                         platform_quant_s=export_fn.PLATFORM)
            attrs.update(self._extra_attrs())
            out = g.op("thinker::" + self._onnx_op, x, export_fn.const(g, wi), export_fn.const(g, bi), **attrs)
            return export_fn.set_type(out, x, torch.int8, info.out_shape)
        return write


class LayerNormInt(_NormIntMixin, nn.LayerNorm):
    """`nn.LayerNorm` quantized (parameter_bits 16; linger 1.x LayerNormInt, exported as thinker LayerNormInt)."""

    _onnx_op = "LayerNormInt"

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, data_bits: int = 8,
                 parameter_bits: int = 16, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = 8,
                 clamp_data=None, clamp_weight=None, clamp_bias=None, ahead_relu: bool = False) -> None:
        nn.LayerNorm.__init__(self, normalized_shape, eps, elementwise_affine)
        self._setup("LayerNormInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight, clamp_bias,
                    ahead_relu)

    @classmethod
    def from_float(cls, m: nn.LayerNorm, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "LayerNormInt":
        q = cls(m.normalized_shape, m.eps, m.elementwise_affine, data_bits, 16, mode, o_bits or 8, **clamps)
        if m.elementwise_affine:
            q.weight, q.bias = m.weight, m.bias
        return q.to(m.weight.device if m.weight is not None else "cpu")

    def _param_count(self) -> int:
        n = 1
        for s in self.normalized_shape:
            n *= int(s)
        return n

    def _check_input(self, x: torch.Tensor) -> None:
        k = len(self.normalized_shape)
        with tracing_paused():
            tail = tuple(int(s) for s in x.shape[x.dim() - k:]) if x.dim() >= k else None
        if tail != tuple(self.normalized_shape):
            raise ValueError(f"linger: {self._label()} expects inputs ending in {tuple(self.normalized_shape)}, got "
                             f"shape {tuple(x.shape)}")

    def _geometry(self, shape):
        return self._param_count(), 1, 1

    def _float_norm(self, x, w, b):
        return F.layer_norm(x, self.normalized_shape, w.reshape(self.normalized_shape),
                            b.reshape(self.normalized_shape), self.eps)

    def _params(self):
        w, b = super()._params()
        return w.reshape(self.normalized_shape), b.reshape(self.normalized_shape)

    def extra_repr(self) -> str:
        return nn.LayerNorm.extra_repr(self) + ", " + self._bits_repr()


class GroupNormInt(_NormIntMixin, nn.GroupNorm):
    """`nn.GroupNorm` quantized with the LayerNormInt arithmetic (rows of C/G channels; exported as GroupNormInt)."""

    _onnx_op = "GroupNormInt"

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 data_bits: int = 8, parameter_bits: int = 16, mode: QuantMode = QuantMode.QValue,
                 o_bits: Optional[int] = 8, clamp_data=None, clamp_weight=None, clamp_bias=None,
                 ahead_relu: bool = False) -> None:
        nn.GroupNorm.__init__(self, num_groups, num_channels, eps, affine)
        self._setup("GroupNormInt", data_bits, parameter_bits, mode, o_bits, clamp_data, clamp_weight, clamp_bias,
                    ahead_relu)

    @classmethod
    def from_float(cls, m: nn.GroupNorm, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, **clamps) -> "GroupNormInt":
        q = cls(m.num_groups, m.num_channels, m.eps, m.affine, data_bits, 16, mode, o_bits or 8, **clamps)
        if m.affine:
            q.weight, q.bias = m.weight, m.bias
        return q.to(m.weight.device if m.weight is not None else "cpu")

    def _param_count(self) -> int:
        return self.num_channels

    def _check_input(self, x: torch.Tensor) -> None:
        with tracing_paused():
            bad = x.dim() < 2 or int(x.shape[1]) != self.num_channels
        if bad:
            raise ValueError(f"linger: {self._label()} expects [N, {self.num_channels}, ...] input, got shape "
                             f"{tuple(x.shape)}")

    def _geometry(self, shape):
        inner = 1
        for s in shape[2:]:
            inner *= s
        return (self.num_channels // self.num_groups) * inner, inner, self.num_groups

    def _float_norm(self, x, w, b):
        return F.group_norm(x, self.num_groups, w, b, self.eps)

    def _extra_attrs(self) -> dict:
        return dict(num_groups_i=int(self.num_groups))

    def extra_repr(self) -> str:
        return nn.GroupNorm.extra_repr(self) + ", " + self._bits_repr()
