"""Shared machinery of the quantized modules (linger 1.x `ModuleIntConfig`)."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch

from ..config import QuantMode
from ..iqtensor import _make, is_iqtensor, resolve
from .._tracing import tracing_paused
from ..quant import exponent_for_range, fake_quant, observe

STAT_PREFIXES = ("running_", "scale_")
MIN_EXPONENT, MAX_EXPONENT = -32, 40  # include/linger/numerics/quantize.h kMinExponent / kMaxExponent


def check_bits(owner: str, name: str, value: Optional[int], allowed: Sequence[Optional[int]]) -> None:
    if value not in allowed:
        shown = ", ".join("None" if a is None else str(a) for a in allowed)
        raise ValueError(f"linger: {owner}: {name}={value!r} is not supported; choose one of {shown}")


def check_float32(module, fn) -> None:
    """`module.half()` / `.double()` / `.to(dtype)` on a quantized module: an error with the fix (the integer
    grid and the statistics are float32; seed G6). Device moves pass."""
    probe = fn(torch.zeros(1))
    if isinstance(probe, torch.Tensor) and probe.is_floating_point() and probe.dtype != torch.float32:
        name = getattr(module, "_linger_name", "") or type(module).__name__
        raise TypeError(
            f"linger: cannot convert the quantized module '{name}' ({type(module).__name__}) to {probe.dtype}: a "
            "linger QAT model runs in float32 (its values are int8 codes times powers of two, kept exactly in "
            "float32). Keep it float32 (model.float() restores modules already converted); for a small fast model "
            "export it (linger.onnx.export) and run the int8 file.")


class ModuleIntConfig:
    """Mixin: bit widths, statistics buffers, input/output exponents, error messages."""

    _stat_names: Tuple[str, ...] = ()
    _weight_from_batch = False  # True where the training weight depends on the batch (BatchNorm2dInt)

    def _apply(self, fn):
        check_float32(self, fn)
        return super()._apply(fn)  # type: ignore[misc]

    def _init_quant(self, data_bits: int, parameter_bits: Optional[int], mode: QuantMode, o_bits: Optional[int],
                    stat_names: Tuple[str, ...]) -> None:
        if mode is not QuantMode.QValue:
            raise ValueError(f"linger: {type(self).__name__}: mode must be linger.QuantMode.QValue, got {mode!r}")
        self.data_bits = data_bits
        self.parameter_bits = parameter_bits
        self.o_bits = o_bits
        self.quant_mode = mode
        self.momentum = 0.1
        self._stat_names = stat_names
        self._linger_name = ""
        for n in stat_names:
            self.register_buffer(n, torch.zeros(1))

    # ---- naming and errors ------------------------------------------------------------------
    def _label(self) -> str:
        return f"'{self._linger_name or type(self).__name__}' ({type(self).__name__})"

    def _missing_stats(self, buf: str) -> RuntimeError:
        return RuntimeError(
            f"linger: module {self._label()} has no statistics ({buf} is 0): it never ran a training-mode forward. "
            "Run training batches with model.train() before eval or export (every quantized module must be used in "
            "forward), or load a checkpoint saved after QAT training."
        )

    def _record(self, name: str, value: float) -> None:
        """Writes the statistics buffer `name` in training mode only: an eval forward, and so an export, never
        changes the model (docs/numerics.md §4.4). The eval exponents are computed, not stored."""
        if self.training:
            with torch.no_grad(), tracing_paused():
                getattr(self, name).fill_(value)

    def _stat(self, name: str) -> float:
        with tracing_paused():
            return float(getattr(self, name))

    # ---- exponents ----------------------------------------------------------------------------
    def _observe(self, what: str, t: torch.Tensor, buf: str, bits: int, **kw) -> int:
        """`observe` (training statistics) with NaN/Inf reported against this module and the likely cause
        (seed Q5); costs one scalar read beyond the statistic itself."""
        try:
            q = observe(t, getattr(self, buf), bits, **kw)
            finite = math.isfinite(self._stat(buf))
        except RuntimeError as e:
            if "NaN" not in str(e):
                raise
            finite = False
        if not finite:
            cause = ("an earlier backward produced NaN/Inf gradients" if what == "weight" else
                     "the values diverged before this module" if what == "input" else "its computation overflowed")
            raise RuntimeError(
                f"linger: the {what} of module {self._label()} contains NaN/Inf in training: {cause}. Likely causes "
                "(seed Q5, Q15): a learning rate too high for QAT (use ~10x below the float one) or too small a "
                "batch; or a float op (sqrt, log, atan2, division, pow) that got a value of exactly 0: add an "
                "epsilon there (e.g. torch.sqrt(x + 1e-6)). Reload the last good checkpoint if weights are hit.")
        return q

    def _check_exponent(self, q: int, what: str) -> int:
        """A quantization exponent outside the supported range means the values diverged (or collapsed to 0):
        an error naming this module instead of the kernel's bare range error."""
        if not MIN_EXPONENT <= q <= MAX_EXPONENT:
            raise ValueError(
                f"linger: module {self._label()}: the exponent {q} of its {what} is outside [{MIN_EXPONENT}, "
                f"{MAX_EXPONENT}]: the values reaching this module have diverged or collapsed. {self._exponent_hint()}"
                "Typical causes are batch norms folded by linger.init while their running statistics were still "
                "the initial ones (mean 0, var 1: the float stage never ran training batches in train mode, "
                "docs/two-stage.md), batch norms over very few values (tiny batches at 1x1 spatial size) "
                "and too high a learning rate; calibrate or train the float stage first, use larger batches or "
                "inputs, a lower learning rate, or constrain the layers first with linger.normalize_layers.")
        return q

    def _exponent_hint(self) -> str:
        """A module-specific first guess for `_check_exponent`'s message ('' when none)."""
        return ""

    def _input(self, input: torch.Tensor) -> Tuple[torch.Tensor, int]:
        """Returns (float tensor on the input grid, Qx). Updates running_x/scale_x."""
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"linger: module {self._label()} expects a tensor input, got {type(input).__name__}")
        input = resolve(input)
        if is_iqtensor(input) and input.bits == self.data_bits:
            qx = input.exponent
            self._record("running_x", input.running_data)
            with torch._C.DisableTorchFunction():
                x = input.as_subclass(torch.Tensor)
        else:
            if type(input) is not torch.Tensor:
                with torch._C.DisableTorchFunction():
                    input = input.as_subclass(torch.Tensor)
            x = input
            if self.training:
                qx = self._observe("input", x, "running_x", self.data_bits)
            else:
                with tracing_paused():
                    r = float(self.running_x)
                if not r > 0.0:
                    raise self._missing_stats("running_x")
                qx = exponent_for_range(r, self.data_bits)
        if self.training:
            x = fake_quant(x, qx, self.data_bits)
        self._record("scale_x", 2.0 ** qx)
        return x, qx

    def _weight_exponent(self, w: torch.Tensor) -> int:
        if self.training:
            # DDP keeps weights identical on every rank; a weight computed from the batch (BatchNorm2dInt's folded
            # gamma/sigma in training) is reduced over ranks like an activation statistic (docs/ddp.md)
            qw = self._observe("weight", w, "running_w", self.parameter_bits, momentum=1.0,
                               sync=self._weight_from_batch)
        else:
            from .._ext import ops
            with tracing_paused():
                qw = int(ops.weight_exponent(w.detach(), self.parameter_bits))
        self._record("scale_w", 2.0 ** qw)
        return qw

    def _output_exponent(self, y: Optional[torch.Tensor], positive_only: bool = False) -> int:
        """Training: observe `y`; eval: the exponent implied by running_o (`y` unused)."""
        if self.training:
            qo = self._observe("output", y, "running_o", self.o_bits, positive_only=positive_only)
        else:
            with tracing_paused():
                r = float(self.running_o)
            if not r > 0.0:
                raise self._missing_stats("running_o")
            qo = exponent_for_range(r, self.o_bits)
        self._record("scale_o", 2.0 ** qo)
        return qo

    def _quant_output_train(self, y: torch.Tensor, positive_only: bool = False) -> torch.Tensor:
        qo = self._output_exponent(y, positive_only)
        return _make(fake_quant(y, qo, self.o_bits), 2.0 ** qo, self.o_bits, self._stat("running_o"))

    # ---- checkpoints --------------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,  # type: ignore[misc]
                                      unexpected_keys, error_msgs)
        # A float checkpoint (no statistics yet) loads with strict=True; the statistics stay 0 and
        # eval/export then says so clearly.
        for n in self._stat_names:
            key = prefix + n
            if key in missing_keys:
                missing_keys.remove(key)

    def _bits_repr(self) -> str:
        return f"data_bits={self.data_bits}, parameter_bits={self.parameter_bits}, o_bits={self.o_bits}"
