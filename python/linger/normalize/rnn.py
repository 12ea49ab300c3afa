"""NormalizeFastLSTM and NormalizeFastGRU: the constraint-stage (float) LSTM and GRU (linger 1.x names).

The float recurrence of `nn.LSTM` / `nn.GRU` (torch's own kernels) over clamped parameters: every
`weight_*` to +-normalize_weight and every `bias_*` to +-normalize_bias (the inward-gradient clamp of
functions.py), and the output sequence (a padded tensor or the data of a PackedSequence) to
+-normalize_data. The final states are returned unclamped, as in 1.x. The parameter names are those of the
float module (same state_dict keys), so a float checkpoint loads with strict=True, and `linger.init` turns
them into LSTMInt / GRUInt with the same bounds as clamp_weight / clamp_bias / clamp_data.

Differences from 1.x: `num_layers > 1`, `bias=False` and `batch_first` work (1.x asserted one layer and
crashed without biases); the GRU's output is clamped like the LSTM's (1.x clamped it only at export; with
states in [-1, 1] the GRU output is in [-1, 1] and the clamp changes nothing for bounds >= 1).
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn as nn
from torch.nn.utils.rnn import PackedSequence

from .functions import clamp_output, clamp_param
from .modules import NormalizeMixin, _adopt


class _NormalizeRNN(NormalizeMixin):
    _lstm = True

    def _init_rnn(self, normalize_data, normalize_weight, normalize_bias) -> None:
        if getattr(self, "proj_size", 0):
            raise ValueError(f"linger: {type(self).__name__}: proj_size > 0 is not supported; use proj_size=0 or "
                             "keep the layer in float with linger.disable_normalize")
        self._init_1x(normalize_data, normalize_weight, normalize_bias, False)

    def _clamped_weights(self) -> List[torch.Tensor]:
        out = []
        for name in self._flat_weights_names:
            p = getattr(self, name)
            bound = self.normalize_weight if name.startswith("weight") else self.normalize_bias
            out.append(clamp_param(p, bound))
        return out

    def _zero_state(self, x: torch.Tensor, batch: int):
        D = 2 if self.bidirectional else 1
        h = torch.zeros(self.num_layers * D, batch, self.hidden_size, dtype=x.dtype, device=x.device)
        return (h, h.clone()) if self._lstm else h

    def forward(self, input, hx=None):
        owner = f"{type(self).__name__}"
        weights = self._clamped_weights()
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            batch = int(batch_sizes[0])
            if hx is None:
                hx = self._zero_state(data, batch)
            elif sorted_indices is not None:  # the caller's row order -> the packed (sorted) order
                hx = tuple(h.index_select(1, sorted_indices) for h in hx) if self._lstm \
                    else hx.index_select(1, sorted_indices)
        else:
            if not isinstance(input, torch.Tensor) or input.dim() != 3:
                raise ValueError(f"linger: {owner} expects a 3-D input ([T, B, I], or [B, T, I] with "
                                 f"batch_first=True) or a PackedSequence, got "
                                 f"{getattr(input, 'shape', type(input).__name__)}")
            batch = input.shape[0] if self.batch_first else input.shape[1]
            if hx is None:
                hx = self._zero_state(input, batch)
            sorted_indices = unsorted_indices = None
        if self._lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ValueError(f"linger: {owner}: hx must be a tuple (h_0, c_0)")
        args = (weights, self.bias, self.num_layers, float(self.dropout), self.training, self.bidirectional)
        if self._lstm:
            if packed:
                out = torch._VF.lstm(data, batch_sizes, tuple(hx), *args)
            else:
                out = torch._VF.lstm(input, tuple(hx), *args, self.batch_first)
            y, state = out[0], (out[1], out[2])
        else:
            if packed:
                y, state = torch._VF.gru(data, batch_sizes, hx, *args)
            else:
                y, state = torch._VF.gru(input, hx, *args, self.batch_first)
        y = clamp_output(y, self.normalize_data)
        if unsorted_indices is not None:  # states back in the caller's row order (as nn.LSTM / nn.GRU)
            state = tuple(s.index_select(1, unsorted_indices) for s in state) if self._lstm \
                else state.index_select(1, unsorted_indices)
        if packed:
            return PackedSequence(y, batch_sizes, sorted_indices, unsorted_indices), state
        return y, state

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._norm_repr()


class _NormalizeRNNLayer(_NormalizeRNN):
    """The 1.x constructor and from_float of both classes (`_torch_rnn`: the float class they extend)."""
    _torch_rnn: type = nn.LSTM

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0, bidirectional: bool = False,
                 normalize_data: Optional[float] = None, normalize_weight: Optional[float] = None,
                 normalize_bias: Optional[float] = None) -> None:
        self._torch_rnn.__init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self._init_rnn(normalize_data, normalize_weight, normalize_bias)

    @classmethod
    def from_float(cls, m: nn.RNNBase) -> "_NormalizeRNNLayer":
        if getattr(m, "proj_size", 0):
            raise ValueError(f"linger: normalize_layers: nn.{cls._torch_rnn.__name__} with proj_size > 0 is not "
                             "supported; keep it out with linger.disable_normalize")
        return _adopt(cls(m.input_size, m.hidden_size, m.num_layers, m.bias, m.batch_first, m.dropout,
                          m.bidirectional), m)


class NormalizeFastLSTM(_NormalizeRNNLayer, nn.LSTM):
    _lstm = True
    _torch_rnn = nn.LSTM


class NormalizeFastGRU(_NormalizeRNNLayer, nn.GRU):
    _lstm = False
    _torch_rnn = nn.GRU
