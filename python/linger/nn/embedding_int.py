"""EmbeddingInt (linger 1.x §3.11): the table quantized to int8 at one exponent Qw; a lookup copies codes, so
the output is an 8-bit quantized tensor at Qw (no output statistic). Exported as thinker Gather(W, indices)
(include/linger/numerics/embedding.h). Training: the same codes (fake-quantized table), gradient to the
table only (straight-through)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._ext import ops
from .._tracing import exporting, tracing_paused
from ..config import QuantMode
from ..iqtensor import _make
from ..normalize.functions import check_bound, clamp_param
from ..quant import fake_quant
from .base import ModuleIntConfig, check_bits

_STATS = ("running_x", "running_w", "running_o", "scale_x", "scale_w", "scale_o")


class EmbeddingInt(ModuleIntConfig, nn.Embedding):
    clamp_data: Optional[float] = None
    clamp_weight: Optional[float] = None

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 max_norm: Optional[float] = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Optional[torch.Tensor] = None, data_bits: int = 8,
                 parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue, o_bits: Optional[int] = 8,
                 clamp_data=None, clamp_weight=None, clamp_bias=None) -> None:
        if max_norm is not None or sparse:
            raise ValueError("linger: EmbeddingInt supports neither max_norm (it rewrites the table during the "
                             "lookup) nor sparse=True; use a plain nn.Embedding(..., max_norm=None, sparse=False)")
        nn.Embedding.__init__(self, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                              scale_grad_by_freq, sparse, _weight)
        check_bits("EmbeddingInt", "data_bits", data_bits, (8,))
        check_bits("EmbeddingInt", "parameter_bits", parameter_bits, (8,))
        check_bits("EmbeddingInt", "o_bits", o_bits, (None, 8))
        self._init_quant(data_bits, parameter_bits, mode, 8, _STATS)
        self.clamp_data = check_bound("EmbeddingInt", "clamp_data", clamp_data)
        self.clamp_weight = check_bound("EmbeddingInt", "clamp_weight", clamp_weight)

    @classmethod
    def from_float(cls, m: nn.Embedding, data_bits: int, parameter_bits: int, o_bits: Optional[int],
                   mode: QuantMode, clamp_data=None, clamp_weight=None, clamp_bias=None,
                   ahead_relu: bool = False) -> "EmbeddingInt":
        q = cls(m.num_embeddings, m.embedding_dim, m.padding_idx, m.max_norm, m.norm_type, m.scale_grad_by_freq,
                m.sparse, m.weight, data_bits, 8, mode, 8, clamp_data, clamp_weight)
        q.weight = m.weight  # the same Parameter (weights and optimizer state kept)
        return q.to(m.weight.device)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor) or input.is_floating_point():
            raise TypeError(f"linger: EmbeddingInt {self._label()} expects integer indices, got "
                            f"{getattr(input, 'dtype', type(input).__name__)}")
        if type(input) is not torch.Tensor:
            with torch._C.DisableTorchFunction():
                input = input.as_subclass(torch.Tensor)
        w = clamp_param(self.weight, self.clamp_weight)
        qw = self._weight_exponent(w)
        with torch.no_grad(), tracing_paused():
            self.running_o.copy_(self.running_w)
            self.scale_o.fill_(2.0 ** qw)
        if self.training:
            y = F.embedding(input, fake_quant(w, qw, 8), self.padding_idx, None, self.norm_type,
                            self.scale_grad_by_freq, False)
            return _make(y, 2.0 ** qw, 8, self._stat("running_w"))
        w = w.detach()
        if exporting():
            from ..onnx import functions as export_fn  # export path only
            info = export_fn.ExportInfo(lambda i: self._int_forward(i, w, qw), self._symbolic(w, qw))
            y = export_fn.apply(info, input)
        else:
            y = self._int_forward(input, w, qw)
        return _make(y, 2.0 ** qw, 8, self._stat("running_w"))

    def _int_forward(self, idx: torch.Tensor, w: torch.Tensor, qw: int) -> torch.Tensor:
        return ops.dequantize(ops.embedding_int(ops.quantize(w, qw, 8), idx.long()), qw)

    def _symbolic(self, w: torch.Tensor, qw: int):
        from ..onnx import functions as export_fn  # export path only

        def write(g, info, idx):
            with tracing_paused(), torch.no_grad():
                wi = ops.quantize(w, qw, 8)
            out = g.op("thinker::Gather", export_fn.const(g, wi), idx, scale_w_f=2.0 ** qw, scale_o_f=2.0 ** qw,
                       parameter_bits_i=8, o_bits_i=8, platform_quant_s=export_fn.PLATFORM)
            return export_fn.set_type(out, idx, torch.int8, info.out_shape)
        return write

    def extra_repr(self) -> str:
        return nn.Embedding.extra_repr(self) + ", " + self._bits_repr()
