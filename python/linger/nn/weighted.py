"""Shared forward of the quantized modules with weights (conv, linear, batch norm, fused conv-bn).

A subclass provides:
  _float_weight_bias(x)  -> (w, b)   the float parameters this forward uses (clamped by the constraint stage,
                                      folded for fused conv-bn / batch norm); differentiable
  _float_op(x, w, b)     -> y        the float op of the training forward
  _int_op(xi, wi, bi, qx, qw, qo) -> y   the eval integer op (C++ shared definition), returned dequantized
  _onnx_op, _onnx_attrs()            the thinker node written at export
and, for the fast eval path (eval_cache.py: weights quantized and packed once per eval session), optionally
  _pack(wi)                          the integer weights in the optimised kernels' form (None: not packed)
  _eval_op(c, x, qx, bq)             float input -> the same integers as _int_op, dequantized, in one op
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from .._ext import ops
from ..iqtensor import _make, is_iqtensor, resolve
from ..normalize.functions import clamp_output
from .._tracing import exporting, tracing_paused
from ..ops_table import OPS
from ..quant import fake_quant
from .base import ModuleIntConfig
from .eval_cache import CACHE_ATTR, EvalCache, drop, state_key


class WeightedIntMixin(ModuleIntConfig):
    clamp_data: Optional[float] = None
    clamp_weight: Optional[float] = None
    clamp_bias: Optional[float] = None
    ahead_relu: bool = False
    _onnx_op = ""
    # False: eval runs the reference path (_int_forward: every op re-quantizes the weights); the tests compare the two
    _eval_fast: bool = True

    # ---- to implement ------------------------------------------------------------------------
    def _float_weight_bias(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        raise NotImplementedError

    def _float_op(self, x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _int_op(self, xi, wi, bi, qx: int, qw: int, qo: Optional[int]) -> torch.Tensor:
        raise NotImplementedError

    def _onnx_attrs(self) -> Dict[str, object]:
        return {}

    def _pack(self, wi: torch.Tensor) -> Any:
        return None

    def _eval_op(self, c: EvalCache, x: torch.Tensor, qx: int, bq: Optional[torch.Tensor]) -> torch.Tensor:
        return self._int_op(ops.quantize(x, qx, self.data_bits), c.wi, bq, qx, c.qw, c.qo)

    # ---- shared ----------------------------------------------------------------------------------
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training and self._eval_fast and not exporting() and torch._C._get_tracing_state() is None:
            return self._eval_forward(input)
        x, qx = self._input(input)
        w, b = self._float_weight_bias(x)
        qw = self._weight_exponent(w)
        if b is not None:
            self._check_exponent(qx + qw, "int32 bias (input exponent + weight exponent)")
        if self.training:
            wq = fake_quant(w, qw, self.parameter_bits)
            bq = fake_quant(b, qx + qw, 32) if b is not None else None
            y = self._float_op(x, wq, bq)
            if self.o_bits is None:
                return y
            return self._quant_output_train(clamp_output(y, self.clamp_data), self.ahead_relu)
        qo = None if self.o_bits is None else self._output_exponent(None)
        w, b = w.detach(), (b.detach() if b is not None else None)
        if exporting():
            from ..onnx import functions as export_fn  # export path only
            if not is_iqtensor(input):
                x = export_fn.quant(x, qx, self.data_bits)
            info = export_fn.ExportInfo(lambda v: self._int_forward(v, w, b, qx, qw, qo),
                                        self._symbolic(w, b, qx, qw, qo))
            y = export_fn.apply(info, x)
        else:
            y = self._int_forward(x, w, b, qx, qw, qo)
        return y if qo is None else _make(y, 2.0 ** qo, self.o_bits, self._stat("running_o"))

    # ---- eval: weights quantized and packed once per eval session ---------------------------------
    def train(self, mode: bool = True):
        drop(self)  # `train()` and `eval()` start a new session
        return super().train(mode)  # type: ignore[misc]

    def _load_from_state_dict(self, *args, **kwargs):
        drop(self)
        super()._load_from_state_dict(*args, **kwargs)  # type: ignore[misc]

    def __getstate__(self):
        """Copies (`copy.deepcopy`), pickles and `torch.save` of the module leave the eval cache out."""
        state = self.__dict__.copy()
        state.pop(CACHE_ATTR, None)
        return state

    def _eval_forward(self, input: torch.Tensor) -> torch.Tensor:
        """The eval forward outside export: the integers of `_int_forward` (the reference path, which export
        still uses), with the weights' integers and exponents from the cache."""
        if not isinstance(input, torch.Tensor):
            self._input(input)  # the error naming the module
        c = self._eval_cache(input)
        x, qx = self._eval_input(input, c)
        bq = c.bias_q.get(qx)
        if bq is None and c.bias is not None:
            self._check_exponent(qx + c.qw, "int32 bias (input exponent + weight exponent)")
            with torch.no_grad():
                bq = c.bias_q[qx] = ops.quantize(c.bias, qx + c.qw, 32)
        with torch.no_grad():
            y = self._eval_op(c, x, qx, bq)
        return y if c.qo is None else _make(y, 2.0 ** c.qo, self.o_bits, c.running_o)

    def _eval_input(self, input: torch.Tensor, c: EvalCache) -> Tuple[torch.Tensor, int]:
        """`_input` in eval mode, with the exponent of a plain float input (from running_x) computed once."""
        input = resolve(input)
        if is_iqtensor(input) and input.bits == self.data_bits:
            qx = input.exponent
        else:
            if c.qx_stat is None:
                c.qx_stat = self._input(input)[1]
            qx = c.qx_stat
        if type(input) is not torch.Tensor:
            with torch._C.DisableTorchFunction():
                input = input.as_subclass(torch.Tensor)
        return input, qx

    def _eval_cache(self, x: torch.Tensor) -> EvalCache:
        key = state_key(self, (self.parameter_bits, self.o_bits, self.clamp_weight, self.clamp_bias))
        c = self.__dict__.get(CACHE_ATTR)
        if c is not None and key is not None and c.key == key:
            return c
        with torch.no_grad(), tracing_paused():
            w, b = self._float_weight_bias(x)
            w = w.detach()
            qw = self._weight_exponent(w)
            qo = None if self.o_bits is None else self._output_exponent(None)
            wi = ops.quantize(w, qw, self.parameter_bits)
            c = EvalCache(key, qw, qo, wi, self._pack(wi), None if b is None else b.detach().clone(),
                          None if qo is None else self._stat("running_o"))
        if key is not None:
            self.__dict__[CACHE_ATTR] = c
        return c

    def _int_tensors(self, w: torch.Tensor, b: Optional[torch.Tensor], qx: int, qw: int):
        wi = ops.quantize(w, qw, self.parameter_bits)
        bi = ops.quantize(b, qx + qw, 32) if b is not None else None
        return wi, bi

    def _int_forward(self, x, w, b, qx: int, qw: int, qo: Optional[int]) -> torch.Tensor:
        xi = ops.quantize(x, qx, self.data_bits)
        wi, bi = self._int_tensors(w, b, qx, qw)
        return self._int_op(xi, wi, bi, qx, qw, qo)

    def _symbolic(self, w, b, qx: int, qw: int, qo: Optional[int]):
        from ..onnx import functions as export_fn  # export path only

        def write(g, info, x):
            with tracing_paused(), torch.no_grad():
                wi, bi = self._int_tensors(w, b, qx, qw)
            inputs = [x, export_fn.const(g, wi)] + ([export_fn.const(g, bi)] if bi is not None else [])
            attrs = dict(scale_x_f=2.0 ** qx, scale_w_f=2.0 ** qw, data_bits_i=self.data_bits,
                         parameter_bits_i=self.parameter_bits, platform_quant_s=export_fn.PLATFORM)
            if qo is not None:
                attrs.update(scale_o_f=2.0 ** qo, o_bits_i=self.o_bits)
            attrs.update(self._onnx_attrs())
            out = g.op(OPS[self._onnx_op].onnx_name, *inputs, **attrs)
            return export_fn.set_type(out, x, export_fn.out_type(self.o_bits), info.out_shape)
        return write
