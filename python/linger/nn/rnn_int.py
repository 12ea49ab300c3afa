"""LSTMInt and GRUInt: integer recurrent layers (numerics.md "LSTMInt / GRUInt", include/linger/numerics/lstm.h,
gru.h).

Per layer l and direction d (statistics suffix: "" for layer 0 forward, "_l<l>" for deeper layers, "_reverse"
for the reverse direction; with `unified=True` the reverse direction reads and writes the forward buffers):
  Qx  from running_i (or the exponent of an 8-bit IQTensor input of layer 0)
  Qiw, Qhw the weight exponents (running_iw/running_hw), biases int32 at Qx+Qiw and Qh+Qhw
  Qh = Qo from running_o (running_h mirrors it): the hidden state and the output are int8 at Qo
  the LSTM cell state is int16 at Q7.

Training forward ("exact value, float gradient"): the float recurrence (torch's own LSTM/GRU over the
fake-quantized weights and inputs) observes the output range and gives the gradient; the values are the integer
recurrence of the eval forward (the same torch op), so train and eval agree exactly on the same statistics.
"""
from __future__ import annotations

import warnings
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .._ext import ops
from .._tracing import exporting, tracing_paused
from ..config import QuantMode
from ..iqtensor import _make, is_iqtensor, resolve
from ..normalize.functions import check_bound, clamp_param
from ..quant import exponent_for_range, fake_quant, observe
from .base import ModuleIntConfig, check_bits
from .iqops import exact_ste

_STAT_KINDS = ("i", "h", "iw", "hw", "io", "ho", "o")
CELL_EXPONENT = 7  # LSTM cell state: int16 at Q7


def _reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x [T, B, ...]: each row's first L_b steps reversed, the padding left in place."""
    T = x.shape[0]
    t = torch.arange(T, device=x.device)[:, None]
    L = lengths.to(x.device)[None, :]
    idx = torch.where(t < L, L - 1 - t, t)
    return x.gather(0, idx.reshape(idx.shape + (1,) * (x.dim() - 2)).expand_as(x))


def _plain(t: torch.Tensor) -> torch.Tensor:
    if type(t) is not torch.Tensor:
        with torch._C.DisableTorchFunction():
            return t.as_subclass(torch.Tensor)
    return t


class _RNNIntMixin(ModuleIntConfig):
    GATES = 4
    _onnx_op = ""

    def _init_rnn(self, owner: str, data_bits: int, parameter_bits: int, mode: QuantMode, o_bits: Optional[int],
                  unified: bool, clamp_data, clamp_weight, clamp_bias) -> None:
        check_bits(owner, "data_bits", data_bits, (8,))
        check_bits(owner, "parameter_bits", parameter_bits, tuple(range(2, 9)))
        check_bits(owner, "o_bits", o_bits, (None, 8))
        if getattr(self, "proj_size", 0):
            raise ValueError(f"linger: {owner}: proj_size > 0 is not supported; use proj_size=0 or keep the layer "
                             "in float with linger.disable_quant")
        stats: List[str] = []
        for layer in range(self.num_layers):
            for d in range(2 if self.bidirectional else 1):
                sfx = self._suffix(layer, d)
                stats += [f"running_{k}{sfx}" for k in _STAT_KINDS] + [f"scale_{k}{sfx}" for k in _STAT_KINDS]
        # the hidden state is always int8 at Qo (o_bits=None behaves as 8: h feeds back into the recurrence)
        self._init_quant(data_bits, parameter_bits, mode, o_bits, tuple(stats))
        self.unified = bool(unified)
        self.clamp_data = check_bound(owner, "clamp_data", clamp_data)
        self.clamp_weight = check_bound(owner, "clamp_weight", clamp_weight)
        self.clamp_bias = check_bound(owner, "clamp_bias", clamp_bias)

    @staticmethod
    def _suffix(layer: int, d: int) -> str:
        return ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d else "")

    def _stat_sfx(self, layer: int, d: int) -> str:
        return self._suffix(layer, 0 if self.unified else d)

    # ---- exponents ---------------------------------------------------------------------------------
    def _exp(self, name: str, x: Optional[torch.Tensor], bits: int, momentum: float = 0.1) -> int:
        """Training: observe `x` into `name` and return its exponent; eval: the exponent `name` implies."""
        if self.training:
            q = observe(x, getattr(self, name), bits, momentum=momentum)
        else:
            r = self._stat(name)
            if not r > 0.0:
                raise self._missing_stats(name)
            q = exponent_for_range(r, bits)
        return self._check_exponent(q, name)

    def _w_exp(self, name: str, w: torch.Tensor) -> int:
        if self.training:
            q = observe(w, getattr(self, name), self.parameter_bits, momentum=1.0, sync=False)
        else:
            with tracing_paused():
                q = int(ops.weight_exponent(w.detach(), self.parameter_bits))
        return self._check_exponent(q, name)

    def _set_scale(self, name: str, q: int) -> None:
        self._record(name, 2.0 ** q)

    # ---- forward -------------------------------------------------------------------------------------
    def _layer_params(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w_ih = clamp_param(getattr(self, "weight_ih" + sfx), self.clamp_weight)
        w_hh = clamp_param(getattr(self, "weight_hh" + sfx), self.clamp_weight)
        b_ih = clamp_param(getattr(self, "bias_ih" + sfx), self.clamp_bias) if self.bias else None
        b_hh = clamp_param(getattr(self, "bias_hh" + sfx), self.clamp_bias) if self.bias else None
        return w_ih, w_hh, b_ih, b_hh

    def forward(self, input, hx=None):
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if isinstance(input, tuple):
            raise TypeError(f"linger: module {self._label()} expects a tensor or a PackedSequence, got a tuple; pack "
                            "padded sequences with torch.nn.utils.rnn.pack_padded_sequence (however imported)")
        return self._forward_padded(input, hx, None)

    def _forward_packed(self, packed: PackedSequence, hx):
        """A real PackedSequence (from torch's own pack_padded_sequence / pack_sequence): run on the padded batch
        in the caller's row order with per-row lengths, return a PackedSequence with the input's batch layout."""
        data = packed.data
        if exporting() and packed.sorted_indices is not None:
            raise NotImplementedError(
                f"linger: module {self._label()}: a PackedSequence made with enforce_sorted=False exports torch's "
                "sort of the lengths (TopK, ScatterElements), which the runtime does not run. The exported node takes "
                "the lengths of the rows in any order: pack with enforce_sorted=True while exporting, e.g. "
                "pack_padded_sequence(x, lengths, enforce_sorted=torch.onnx.is_in_onnx_export()), and sort the "
                "example batch by decreasing length (docs/rnn.md, \"Packed sequences in the export\")")
        padded, lengths = pad_packed_sequence(packed, batch_first=False)  # rows in the caller's order
        if is_iqtensor(data):
            padded = _make(padded, data.scale_data, data.bits, data.running_data)
        bf = self.batch_first
        self.batch_first = False
        try:
            out, state = self._forward_padded(padded, hx, lengths)
        finally:
            self.batch_first = bf
        if exporting():
            # the graph: the caller's pad_packed_sequence(pack_padded_sequence(y, lengths)) is removed by torch's
            # ONNX pass (a no-op packing); y leaves the integer graph as float, as the eval forward's plain
            # PackedSequence data does
            from ..onnx import functions as export_fn
            y = export_fn.dequant(out, out.exponent) if is_iqtensor(out) else out
            with warnings.catch_warnings():  # torch's as_tensor of the traced lengths: they stay traced
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                return pack_padded_sequence(y, lengths, enforce_sorted=True), state
        bs = packed.batch_sizes
        order = packed.sorted_indices if packed.sorted_indices is not None else torch.arange(padded.shape[1])
        order = order.to(padded.device)
        plain_out = _plain(out)
        rows = [plain_out[t, order[: int(bs[t])]] for t in range(len(bs))]
        out_data = torch.cat(rows, 0)
        if is_iqtensor(out):
            out_data = _make(out_data, out.scale_data, out.bits, out.running_data)
        return PackedSequence(out_data, bs, packed.sorted_indices, packed.unsorted_indices), state

    def _forward_padded(self, input, hx, lengths):
        input = resolve(input)
        if not isinstance(input, torch.Tensor) or input.dim() != 3:
            raise ValueError(f"linger: module {self._label()} expects a 3-D input ([T, B, I], or [B, T, I] with "
                             f"batch_first=True), got {getattr(input, 'shape', type(input).__name__)}")
        in_q = None
        if is_iqtensor(input) and input.bits == self.data_bits:
            in_q = (input.exponent, float(input.running_data or 127 * 2.0 ** -input.exponent))
        self._graph_q = in_q[0] if in_q is not None else None  # export: the exponent x has in the integer graph
        x = _plain(input)
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B, _ = x.shape
        D = 2 if self.bidirectional else 1
        h0, c0 = self._initial(hx, B, x)
        hn: List[torch.Tensor] = []
        cn: List[torch.Tensor] = []
        out_qs: List[int] = []
        for layer in range(self.num_layers):
            outs = []
            out_qs_l: List[int] = []
            for d in range(D):
                k = layer * D + d
                y, h, c, qo = self._direction(x, layer, d, in_q if layer == 0 else None, h0[k],
                                              None if c0 is None else c0[k], lengths)
                outs.append(y)
                out_qs_l.append(qo)
                if exporting():  # h_n leaves the integer graph (its layers may have different exponents)
                    from ..onnx import functions as export_fn
                    h = export_fn.dequant(h, qo)
                    if c is not None:
                        c = export_fn.dequant(c, CELL_EXPONENT)
                hn.append(h)
                cn.append(c)
                if layer == self.num_layers - 1:
                    out_qs.append(qo)
            if exporting() and len(set(out_qs_l)) != 1:
                raise NotImplementedError(f"linger: module {self._label()}: the directions of layer {layer} have "
                                          f"different output exponents {out_qs_l}; export with unified=True")
            if D == 1:
                x = outs[0]
            elif exporting():
                from ..onnx import functions as export_fn
                x = export_fn.iqcat_same_exponent(outs, 2, out_qs_l[0])
            else:
                x = torch.cat(outs, dim=2)
            self._graph_q = out_qs_l[0]
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if self.batch_first:
            x = x.transpose(0, 1)
        if len(set(out_qs)) == 1:
            x = _make(x, 2.0 ** out_qs[0], 8, self._stat("running_o" + self._stat_sfx(self.num_layers - 1, 0)))
        h_n = torch.stack(hn, 0)
        if self.GATES == 4:
            return x, (h_n, torch.stack(cn, 0))
        return x, h_n

    def _initial(self, hx, B: int, x: torch.Tensor):
        with warnings.catch_warnings():  # a traced export compares traced sizes: fine, the shapes are checked
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            return self._initial_checked(hx, B, x)

    def _initial_checked(self, hx, B: int, x: torch.Tensor):
        D = 2 if self.bidirectional else 1
        shape = (self.num_layers * D, B, self.hidden_size)
        if self.GATES == 4:
            if hx is None:
                return [None] * shape[0], None
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise ValueError(f"linger: module {self._label()}: hx must be a tuple (h_0, c_0)")
            h0, c0 = (_plain(resolve(t)) for t in hx)
            for t, n in ((h0, "h_0"), (c0, "c_0")):
                if tuple(t.shape) != shape:
                    raise ValueError(f"linger: module {self._label()}: {n} must have shape {shape}, got "
                                     f"{tuple(t.shape)}")
            if exporting():  # Gather with a constant index (the runtime has no Split)
                return [h0[k] for k in range(shape[0])], [c0[k] for k in range(shape[0])]
            return list(h0.unbind(0)), list(c0.unbind(0))
        if hx is None:
            return [None] * shape[0], None
        h0 = _plain(resolve(hx))
        if tuple(h0.shape) != shape:
            raise ValueError(f"linger: module {self._label()}: h_0 must have shape {shape}, got {tuple(h0.shape)}")
        if exporting():  # Gather with a constant index (the runtime has no Split)
            return [h0[k] for k in range(shape[0])], None
        return list(h0.unbind(0)), None

    def _direction(self, x, layer: int, d: int, in_q, h0f, c0f, lengths=None):
        sfx = self._stat_sfx(layer, d)
        w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, d)
        B = x.shape[1]
        H = self.hidden_size
        if in_q is not None:
            qx, r = in_q
            self._record("running_i" + sfx, r)
        else:
            qx = self._exp("running_i" + sfx, x, self.data_bits)
        self._set_scale("scale_i" + sfx, qx)
        wsfx = self._suffix(layer, d)  # weight statistics are per direction even when unified (own weights)
        qiw = self._w_exp("running_iw" + wsfx, w_ih)
        qhw = self._w_exp("running_hw" + wsfx, w_hh)
        self._set_scale("scale_iw" + wsfx, qiw)
        self._set_scale("scale_hw" + wsfx, qhw)
        hx_given = h0f is not None
        if h0f is None:
            h0f = x.new_zeros(B, H)
        if self.GATES == 4 and c0f is None:
            c0f = x.new_zeros(B, H)

        if self.training:
            xq = fake_quant(x, qx, self.data_bits)
            wiq = fake_quant(w_ih, qiw, self.parameter_bits)
            whq = fake_quant(w_hh, qhw, self.parameter_bits)
            biq = fake_quant(b_ih, qx + qiw, 32) if b_ih is not None else None
            params = [wiq, whq] + ([biq, b_hh] if b_ih is not None else [])
            yf, hf, cf = self._float_direction(xq, params, b_ih is not None, h0f, c0f, bool(d), lengths)
            qo = self._exp("running_o" + sfx, yf, 8)
            self._record("running_h" + sfx, self._stat("running_o" + sfx))
        else:
            qo = self._exp("running_o" + sfx, None, 8)
        self._check_exponent(qo + qhw, "int32 bias of the recurrent matmul (hidden exponent + weight exponent)")
        self._set_scale("scale_o" + sfx, qo)
        self._set_scale("scale_h" + sfx, qo)

        if exporting():
            from ..onnx import functions as export_fn  # export path only
            return self._export_direction(export_fn, x, h0f if hx_given else None, c0f if hx_given else None, w_ih,
                                          w_hh, b_ih, b_hh, qx, qiw, qhw, qo, bool(d), lengths) + (qo,)
        with torch.no_grad(), tracing_paused():
            xi = ops.quantize(x.detach(), qx, self.data_bits)
            wii = ops.quantize(w_ih.detach(), qiw, self.parameter_bits)
            whi = ops.quantize(w_hh.detach(), qhw, self.parameter_bits)
            bii = ops.quantize(b_ih.detach(), qx + qiw, 32) if b_ih is not None else None
            bhi = ops.quantize(b_hh.detach(), qo + qhw, 32) if b_hh is not None else None
            h0i = ops.quantize(h0f.detach(), qo, 8)
            if self.GATES == 4:
                c0i = ops.quantize(c0f.detach(), CELL_EXPONENT, 16)
                yi, hi, ci = ops.lstm_int(xi, h0i, c0i, wii, whi, bii, bhi, qx, qiw, qo, qhw, bool(d), lengths)
                c = ops.dequantize(ci, CELL_EXPONENT)
            else:
                yi, hi = ops.gru_int(xi, h0i, wii, whi, bii, bhi, qx, qiw, qo, qhw, bool(d), lengths)
                c = None
            y = ops.dequantize(yi, qo)
            h = ops.dequantize(hi, qo)
        if self.training:
            y = exact_ste(yf, y)
            h = exact_ste(hf[0], h)
            if c is not None:
                c = exact_ste(cf[0], c)
        return y, h, c, qo

    def _export_direction(self, export_fn, x, h0f, c0f, w_ih, w_hh, b_ih, b_hh, qx: int, qiw: int, qhw: int, qo: int,
                          reverse: bool, lengths=None):
        """One GRUInt / LSTMInt node (docs/onnx-dialect.md): inputs [x, h0, (c0,) W_ih, W_hh, B_ih, B_hh, lengths] in
        fixed slots (absent ones with the empty name; lengths, int64 [B], only when packed), outputs (y, h_n) int8 at
        Qo (and c_n int16 at Q7). x enters at Qx (Quant, or Dequant + Quant when the graph carries it at another
        exponent); h0 is quantized to Qo and c0 to Q7 (int16) as the eval forward does."""
        gq = self._graph_q
        if gq is None:
            x = export_fn.quant(x, qx, self.data_bits)
        elif gq != qx:
            x = export_fn.quant(export_fn.dequant(x, gq), qx, self.data_bits)
        lstm = self.GATES == 4
        xs = [x]
        has_h0 = h0f is not None
        if has_h0:
            xs.append(export_fn.quant(h0f, qo, 8))
            if lstm:
                xs.append(export_fn.quant(c0f, CELL_EXPONENT, 16))
        has_len = lengths is not None
        if has_len:
            xs.append(lengths)
        with torch.no_grad(), tracing_paused():
            wii = ops.quantize(w_ih.detach(), qiw, self.parameter_bits)
            whi = ops.quantize(w_hh.detach(), qhw, self.parameter_bits)
            bii = ops.quantize(b_ih.detach(), qx + qiw, 32) if b_ih is not None else None
            bhi = ops.quantize(b_hh.detach(), qo + qhw, 32) if b_hh is not None else None
        H = self.hidden_size

        def compute(xv, *rest):
            B = xv.shape[1]
            h0v = rest[0] if has_h0 else xv.new_zeros(B, H)
            lv = rest[-1].to(torch.int64) if has_len else None
            xi = ops.quantize(xv, qx, self.data_bits)
            h0i = ops.quantize(h0v, qo, 8)
            if lstm:
                c0v = rest[1] if has_h0 else xv.new_zeros(B, H)
                c0i = ops.quantize(c0v, CELL_EXPONENT, 16)
                yi, hi, ci = ops.lstm_int(xi, h0i, c0i, wii, whi, bii, bhi, qx, qiw, qo, qhw, reverse, lv)
                return ops.dequantize(yi, qo), ops.dequantize(hi, qo), ops.dequantize(ci, CELL_EXPONENT)
            yi, hi = ops.gru_int(xi, h0i, wii, whi, bii, bhi, qx, qiw, qo, qhw, reverse, lv)
            return ops.dequantize(yi, qo), ops.dequantize(hi, qo)

        def symbolic(g, info, xv, *rest):
            ins = [xv, rest[0] if has_h0 else export_fn.absent(g)]
            if lstm:
                ins.append(rest[1] if has_h0 else export_fn.absent(g))
            ins += [export_fn.const(g, wii), export_fn.const(g, whi)]
            if bii is not None:
                ins += [export_fn.const(g, bii), export_fn.const(g, bhi)]
            elif has_len:
                ins += [export_fn.absent(g), export_fn.absent(g)]
            if has_len:  # the last slot, int64 [B] (torch's packing casts the lengths to int32)
                ins.append(export_fn.as_int64(g, rest[-1]))
            attrs = dict(input_size_i=int(wii.shape[1]), hidden_size_i=H, num_layers_i=1,
                         batch_first_i=0, dropout_f=0.0, go_forward_i=0 if reverse else 1, scale_i_f=2.0 ** qx,
                         scale_h_f=2.0 ** qo, scale_iw_f=2.0 ** qiw, scale_hw_f=2.0 ** qhw, scale_o_f=2.0 ** qo,
                         data_bits_i=self.data_bits, parameter_bits_i=self.parameter_bits, o_bits_i=8,
                         platform_quant_s=export_fn.PLATFORM)
            outs = g.op("thinker::" + self._onnx_op, *ins, outputs=3 if lstm else 2, **attrs)
            types = [torch.int8, torch.int8, torch.int16]
            for k, o in enumerate(outs):
                export_fn.set_type(o, xv, types[k], info.out_shape[k])
            return outs

        outs = export_fn.apply_multi(export_fn.ExportInfo(compute, symbolic), *xs)
        return tuple(outs) if lstm else tuple(outs) + (None,)

    def _float_direction(self, x, params, has_bias: bool, h0, c0, reverse: bool, lengths):
        """The float recurrence of one direction (training: statistics and gradient). With lengths, row b runs
        its first L_b steps (reverse: from L_b - 1 down), steps past L_b give 0."""
        lstm = self.GATES == 4
        if lengths is None:
            xs = x.flip(0) if reverse else x
            if lstm:
                y, h, c = torch._VF.lstm(xs, (h0[None], c0[None]), params, has_bias, 1, 0.0, True, False, False)
            else:
                (y, h), c = torch._VF.gru(xs, h0[None], params, has_bias, 1, 0.0, True, False, False), None
            return (y.flip(0) if reverse else y), h, c
        T = x.shape[0]
        if reverse:
            x = _reverse_within(x, lengths)
        p = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        si, ui = p.sorted_indices, p.unsorted_indices
        if lstm:
            yd, h, c = torch._VF.lstm(p.data, p.batch_sizes, (h0[si][None], c0[si][None]), params, has_bias, 1, 0.0,
                                      True, False)
            c = c[:, ui]
        else:
            (yd, h), c = torch._VF.gru(p.data, p.batch_sizes, h0[si][None], params, has_bias, 1, 0.0, True, False), None
        h = h[:, ui]
        y = pad_packed_sequence(PackedSequence(yd, p.batch_sizes, si, ui), total_length=T)[0]
        return (_reverse_within(y, lengths) if reverse else y), h, c

    def extra_repr(self) -> str:
        return super().extra_repr() + f", unified={self.unified}, " + self._bits_repr()


def _from_float(cls, m, data_bits, parameter_bits, o_bits, mode, clamp_data=None, clamp_weight=None,
                clamp_bias=None, **_ignored):
    if m.proj_size if hasattr(m, "proj_size") else 0:
        raise ValueError(f"linger: {cls.__name__}: proj_size > 0 is not supported; keep this layer in float with "
                         "linger.disable_quant")
    q = cls(m.input_size, m.hidden_size, m.num_layers, m.bias, m.batch_first, m.dropout, m.bidirectional,
            data_bits=data_bits, parameter_bits=parameter_bits, mode=mode, o_bits=o_bits, clamp_data=clamp_data,
            clamp_weight=clamp_weight, clamp_bias=clamp_bias)
    for n, p in m.named_parameters(recurse=False):
        setattr(q, n, p)  # the same Parameter objects: an optimizer built before init stays valid
    return q


class LSTMInt(_RNNIntMixin, nn.LSTM):
    GATES = 4
    _onnx_op = "LSTMInt"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0, bidirectional: bool = False, unified: bool = True,
                 data_bits: int = 8, parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue,
                 o_bits: Optional[int] = None, clamp_data=None, clamp_weight=None, clamp_bias=None) -> None:
        nn.LSTM.__init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self._init_rnn("LSTMInt", data_bits, parameter_bits, mode, o_bits, unified, clamp_data, clamp_weight,
                       clamp_bias)

    @classmethod
    def from_float(cls, m: nn.LSTM, data_bits: int, parameter_bits: int, o_bits: Optional[int], mode: QuantMode,
                   **clamps) -> "LSTMInt":
        return _from_float(cls, m, data_bits, parameter_bits, o_bits, mode, **clamps)


class GRUInt(_RNNIntMixin, nn.GRU):
    GATES = 3
    _onnx_op = "GRUInt"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0, bidirectional: bool = False, unified: bool = True,
                 data_bits: int = 8, parameter_bits: int = 8, mode: QuantMode = QuantMode.QValue,
                 o_bits: Optional[int] = None, clamp_data=None, clamp_weight=None, clamp_bias=None) -> None:
        nn.GRU.__init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self._init_rnn("GRUInt", data_bits, parameter_bits, mode, o_bits, unified, clamp_data, clamp_weight,
                       clamp_bias)

    @classmethod
    def from_float(cls, m: nn.GRU, data_bits: int, parameter_bits: int, o_bits: Optional[int], mode: QuantMode,
                   **clamps) -> "GRUInt":
        return _from_float(cls, m, data_bits, parameter_bits, o_bits, mode, **clamps)
