"""AvgPool2dInt: integer average pooling, output exponent = input exponent (numerics.md §3)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

from .._ext import ops
from ..config import QuantMode
from ..iqtensor import _make, is_iqtensor
from ..ops_table import OPS
from .._tracing import exporting, tracing_paused
from .base import ModuleIntConfig, check_bits

_STATS = ("running_x", "running_o", "scale_x", "scale_o")


class AvgPool2dInt(ModuleIntConfig, nn.AvgPool2d):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None, data_bits: int = 8, mode: QuantMode = QuantMode.QValue,
                 o_bits: Optional[int] = 8) -> None:
        if not count_include_pad or divisor_override is not None:
            raise ValueError("linger: AvgPool2dInt divides by the kernel area (the NPU's rule); "
                             "count_include_pad=False and divisor_override are not supported")
        nn.AvgPool2d.__init__(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        check_bits("AvgPool2dInt", "data_bits", data_bits, (8,))
        check_bits("AvgPool2dInt", "o_bits", o_bits, (None, 8))
        self._init_quant(data_bits, None, mode, 8, _STATS)

    @classmethod
    def from_float(cls, m: nn.AvgPool2d, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode) -> "AvgPool2dInt":
        return cls(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override,
                   data_bits, mode)

    def _geometry(self):
        k, s, p = _pair(self.kernel_size), _pair(self.stride if self.stride is not None else self.kernel_size), \
            _pair(self.padding)
        return k, s, p

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x, qx = self._input(input)
        k, s, p = self._geometry()
        area = k[0] * k[1]
        if self.training:
            with torch.no_grad():
                self.running_o.copy_(self.running_x)
                self.scale_o.copy_(self.scale_x)
            avg = F.avg_pool2d(x, k, s, p, self.ceil_mode, True, None)
            with torch.no_grad():
                # exact integer window sums, then floor(S/k + 1/2) (exact in float for int8 sums)
                sums = F.avg_pool2d(x * (2.0 ** qx), k, s, p, self.ceil_mode, True, 1)
                q = torch.floor((2 * sums + area) / (2 * area)).clamp_(-128, 127)
                exact = q * (2.0 ** -qx)
            y = avg + (exact - avg).detach()  # value of the integer op, gradient of avg-pool
            return _make(y, 2.0 ** qx, 8, self._stat("running_x"))
        # eval / export: nothing is stored (the model does not change)
        if exporting():
            from ..onnx import functions as export_fn  # export path only
            if not is_iqtensor(input):
                x = export_fn.quant(x, qx, self.data_bits)
            y = export_fn.apply(export_fn.ExportInfo(lambda v: self._int_forward(v, qx), self._symbolic(qx)), x)
        else:
            y = self._int_forward(x, qx)
        return _make(y, 2.0 ** qx, 8, self._stat("running_x"))

    def _pads(self):
        p = self._geometry()[2]
        return [p[0], p[1], p[0], p[1]]

    def _int_forward(self, x: torch.Tensor, qx: int) -> torch.Tensor:
        k, s, _ = self._geometry()
        xi = ops.quantize(x, qx, self.data_bits)
        return ops.dequantize(ops.avgpool2d_int(xi, list(k), list(s), self._pads(), self.ceil_mode), qx)

    def _symbolic(self, qx: int):
        from ..onnx import functions as export_fn  # export path only

        def write(g, info, x):
            k, s, _ = self._geometry()
            out = g.op(OPS["AvgPool2dInt"].onnx_name, x, kernel_shape_i=list(k), strides_i=list(s), pads_i=self._pads(),
                       ceil_mode_i=int(self.ceil_mode), data_bits_i=self.data_bits, scale_x_f=2.0 ** qx,
                       scale_o_f=2.0 ** qx, o_bits_i=8, platform_quant_s=export_fn.PLATFORM)
            return export_fn.set_type(out, x, torch.int8, info.out_shape)
        return write

    def extra_repr(self) -> str:
        return super().extra_repr() + f", data_bits={self.data_bits}"
