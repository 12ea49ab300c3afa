"""The layers of linger's tensor arithmetic (linger 1.x `iqAddLayer`, `iqMulLayer`, ...), one class per op,
sharing one skeleton per family of include/linger/ops.inc (docs/adding-an-op.md).

A layer holds the output statistic (`running_o`, `scale_o`); the arithmetic itself is in the shared C++
numerics (eval, through the family torch ops) and in an exact training forward:
* fake-quantization where the float formula gives the integer result exactly (add, mul, cat, clamp, bmm);
* otherwise "exact value, float gradient": the training value is the eval integer op on the grid inputs, the
  gradient that of the float function (div, sum, var, sigmoid, tanh, softmax, log_softmax).
Either way a training forward and an eval forward on the same statistics give the same numbers.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._dispatch import NodeSpec, run_int
from .._ext import ops
from .._tracing import tracing_paused
from ..iqtensor import IQTensor, _make, is_iqtensor
from ..ops_table import code
from ..quant import clamp_ste, exponent_for_range, fake_quant, observe

PLATFORM = "luna_quant"
Operand = Union[IQTensor, float, int]


def plain(t: torch.Tensor) -> torch.Tensor:
    if type(t) is not torch.Tensor:
        with torch._C.DisableTorchFunction():
            return t.as_subclass(torch.Tensor)
    return t


def exact_ste(f: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """The value of `exact`, the gradient of `f`."""
    return f + (exact - f).detach()


class IQLayer(nn.Module):
    """Skeleton: buffers `running_o`/`scale_o`, the output exponent rule, 1.x naming and error messages."""

    OP = ""  # the ops.inc name

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("running_o", torch.zeros(1))
        self.register_buffer("scale_o", torch.zeros(1))
        self._linger_name = ""

    def _label(self) -> str:
        return f"{self.OP} '{self._linger_name or type(self).__name__}'"

    def _apply(self, fn):
        from .base import check_float32
        check_float32(self, fn)
        return super()._apply(fn)

    def _check8(self, *ts: IQTensor) -> None:
        for t in ts:
            if t.bits != 8:
                raise ValueError(f"linger: {self._label()} needs 8-bit quantized operands, got {t.bits} bits")

    def _out_exponent(self, y: Optional[torch.Tensor]) -> int:
        """Training: observe `y` (the float result); eval: the exponent implied by running_o."""
        if self.training:
            with tracing_paused():
                qo = observe(plain(y).detach(), self.running_o, 8)
        else:
            # A layer exists only once it ran in training (or was loaded from a checkpoint), so running_o == 0
            # means its outputs were all zero: the defined exponent of a zero range (numerics.md §2).
            with tracing_paused():
                r = float(self.running_o)
            qo = exponent_for_range(r, 8)
        if self.training:  # eval / export compute, never store (the model does not change)
            with torch.no_grad(), tracing_paused():
                self.scale_o.fill_(2.0 ** qo)
        return qo

    def _out(self, y: torch.Tensor, qo: int) -> IQTensor:
        with tracing_paused():
            r = float(self.running_o)
        return _make(y, 2.0 ** qo, 8, r)


def _codes(x: torch.Tensor, q: int) -> torch.Tensor:
    return ops.quantize(x, q, 8)


def _scalar_operand(c: float) -> Tuple[torch.Tensor, int]:
    """A Python number as an int8 operand: its own exponent (the largest that holds it), round half up."""
    c = float(c)
    q = exponent_for_range(abs(c), 8) if c != 0.0 else 0
    with tracing_paused():
        return torch.tensor(c, dtype=torch.float32), q


# ---------------------------------------------------------------------------------------------------------------
# binary elementwise family: iqAdd, iqMul, iqDiv

class _BinaryLayer(IQLayer):
    def _train_value(self, fa: torch.Tensor, fb: torch.Tensor, qa: int, qb: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(value for the statistics, function of qo giving the training output)."""
        raise NotImplementedError

    def _float_operand(self, b: torch.Tensor) -> int:
        """A plain float tensor operand (dropout/stochastic-depth noise, a mask, ...): quantized with this layer's
        own statistic `running_y`, so training and eval run the same integer op."""
        if not self.training:  # eval and export never write buffers (nor register them)
            with tracing_paused():
                r = float(self.running_y) if "running_y" in self._buffers else 0.0
            return exponent_for_range(r, 8)
        if "running_y" not in self._buffers:
            self.register_buffer("running_y", torch.zeros(1, device=b.device))
            self.register_buffer("scale_y", torch.zeros(1, device=b.device))
        q = observe(plain(b), self.running_y, 8)
        with torch.no_grad(), tracing_paused():
            self.scale_y.fill_(2.0 ** q)
        return q

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if prefix + "running_y" in state_dict and "running_y" not in self._buffers:
            self.register_buffer("running_y", torch.zeros(1))
            self.register_buffer("scale_y", torch.zeros(1))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, a: IQTensor, b: Operand) -> IQTensor:
        self._check8(a)
        const: Optional[torch.Tensor] = None
        if isinstance(b, torch.Tensor) and not is_iqtensor(b):
            qb = self._float_operand(b)
            fb = plain(b)
            if not self.training:
                from .._tracing import exporting
                if exporting():
                    from ..onnx.functions import quant
                    fb = quant(fb, qb)
            with tracing_paused():
                ry = float(self.running_y) if "running_y" in self._buffers else 0.0
            b = _make(fb, 2.0 ** qb, 8, ry)
        if is_iqtensor(b):
            self._check8(b)
            fb, qb = plain(b), b.exponent
        else:
            fb, qb = _scalar_operand(b)
            fb = fb.to(a.device)
        fa, qa = plain(a), a.exponent
        if self.training:
            stat, make = self._train_value(fa, fb, qa, qb)
            qo = self._out_exponent(stat)
            return self._out(make(qo), qo)
        qo = self._out_exponent(None)
        op = code(self.OP)

        def compute(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.binary_int(_codes(u, qa), _codes(v, qb), op, qa, qb, qo), qo)

        attrs = dict(scale_x_f=2.0 ** qa, scale_y_f=2.0 ** qb, scale_o_f=2.0 ** qo, platform_quant_s=PLATFORM)
        if self.OP == "iqAdd":
            attrs["mode_s"] = "Non_t710_mode"
        if is_iqtensor(b):
            y = run_int(compute, NodeSpec(self.OP, attrs), fa, fb)
        else:
            with torch.no_grad(), tracing_paused():
                const = _codes(fb, qb).cpu()
            y = run_int(lambda u: compute(u, fb), NodeSpec(self.OP, attrs, [const]), fa)
        return self._out(y, qo)


class iqAddLayer(_BinaryLayer):
    """`a + b`: each operand rescaled to Qo on its own, then added (two roundings)."""
    OP = "iqAdd"

    def _train_value(self, fa, fb, qa, qb):
        def make(qo):
            s = fake_quant(fake_quant(fa, qa, 8), qo, 8) + fake_quant(fake_quant(fb, qb, 8), qo, 8)
            return fake_quant(s, qo, 8)
        return fa.detach() + fb.detach(), make


class iqMulLayer(_BinaryLayer):
    """`a * b`: sat8(rhu_shift(a*b, Qa+Qb-Qo)); the float product of two grid values is exact."""
    OP = "iqMul"

    def _train_value(self, fa, fb, qa, qb):
        prod = fake_quant(fa, qa, 8) * fake_quant(fb, qb, 8)
        return prod.detach(), lambda qo: fake_quant(prod, qo, 8)


class iqDivLayer(_BinaryLayer):
    """`a / b`: the exact quotient rounded half up at Qo; b == 0 saturates (0/0 = 0)."""
    OP = "iqDiv"

    def _train_value(self, fa, fb, qa, qb):
        fa8, fb8 = fake_quant(fa, qa, 8), fake_quant(fb, qb, 8)
        zero = fb8 == 0
        f = fa8 / torch.where(zero, torch.ones_like(fb8), fb8)
        op = code(self.OP)

        def make(qo):
            with torch.no_grad(), tracing_paused():
                exact = ops.dequantize(ops.binary_int(_codes(fa8, qa), _codes(fb8, qb), op, qa, qb, qo), qo)
            return exact_ste(f, exact)
        return torch.where(zero, torch.zeros_like(f), f).detach(), make


# ---------------------------------------------------------------------------------------------------------------
# reduction family: iqSum, iqVar

class _ReduceLayer(IQLayer):
    KEEPS_EXPONENT = False  # True: Qo = Qx (no output statistic), like AvgPool2dInt

    def _keep_exponent(self, x: IQTensor) -> int:
        with torch.no_grad(), tracing_paused():
            self.scale_o.fill_(2.0 ** x.exponent)
            self.running_o.fill_(float(x.running_data or 0.0))
        return x.exponent

    def _float(self, x: torch.Tensor, dims: List[int], keepdim: bool, unbiased: bool) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: IQTensor, dims: Optional[Sequence[int]] = None, keepdim: bool = False,
                unbiased: bool = True) -> IQTensor:
        self._check8(x)
        fx, qx = plain(x), x.exponent
        dl = list(range(fx.dim())) if dims is None else [int(d) for d in dims]
        op = code(self.OP)
        keep = bool(keepdim)

        def compute(u: torch.Tensor, qo: int) -> torch.Tensor:
            return ops.dequantize(ops.reduce_int(_codes(u, qx), op, dl, keep, qx, qo, bool(unbiased)), qo)

        if self.training:
            f = self._float(fake_quant(fx, qx, 8), dl, keep, unbiased)
            qo = self._keep_exponent(x) if self.KEEPS_EXPONENT else self._out_exponent(f)
            with torch.no_grad(), tracing_paused():
                exact = compute(fx, qo)
            return self._out(exact_ste(f, exact), qo)
        qo = self._keep_exponent(x) if self.KEEPS_EXPONENT else self._out_exponent(None)
        attrs = dict(scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qo, keepdim_i=int(keep), platform_quant_s=PLATFORM)
        if dims is not None:
            attrs["dims_i"] = dl
        if self.OP == "iqVar":
            attrs["unbiased_i"] = int(bool(unbiased))
        return self._out(run_int(lambda u: compute(u, qo), NodeSpec(self.OP, attrs), fx), qo)


class iqSumLayer(_ReduceLayer):
    """`x.sum(dims)`: exact integer sum, rescaled to Qo (round half up)."""
    OP = "iqSum"

    def _float(self, x, dims, keepdim, unbiased):
        return torch.sum(x, dim=dims, keepdim=keepdim) if dims else x.clone()


class iqMeanLayer(_ReduceLayer):
    """`x.mean(dims)`: the exact mean of the codes rounded half up, at the input's exponent (Qo = Qx)."""
    OP = "iqMean"
    KEEPS_EXPONENT = True

    def _float(self, x, dims, keepdim, unbiased):
        return torch.mean(x, dim=dims, keepdim=keepdim) if dims else x.clone()


class iqVarLayer(_ReduceLayer):
    """`torch.var(x, dims, unbiased)`: the exact variance of the codes, rounded half up at Qo."""
    OP = "iqVar"

    def _float(self, x, dims, keepdim, unbiased):
        n = 1
        for d in dims:
            n *= x.shape[d]
        if unbiased and n == 1:
            return torch.zeros_like(torch.sum(x, dim=dims, keepdim=keepdim))
        return torch.var(x, dim=dims, unbiased=unbiased, keepdim=keepdim)


# ---------------------------------------------------------------------------------------------------------------
# concatenation: iqCat

class iqCatLayer(IQLayer):
    """`torch.cat` / `torch.stack` of quantized tensors: each input rescaled to Qo, then joined."""
    OP = "iqCat"

    def forward(self, xs: Sequence[IQTensor], dim: int = 0) -> IQTensor:
        self._check8(*xs)
        fs, qs = [plain(x) for x in xs], [x.exponent for x in xs]
        if self.training:
            with torch.no_grad():
                stat = torch.cat([f.detach().reshape(-1) for f in fs])
            qo = self._out_exponent(stat)
            return self._out(torch.cat([fake_quant(fake_quant(f, q, 8), qo, 8) for f, q in zip(fs, qs)], dim), qo)
        qo = self._out_exponent(None)

        def compute(*us: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.concat_int([_codes(u, q) for u, q in zip(us, qs)], dim, qs, qo), qo)

        attrs = {f"scale_x_{i}_f": 2.0 ** q for i, q in enumerate(qs)}
        attrs.update(scale_o_f=2.0 ** qo, dim_i=int(dim), platform_quant_s=PLATFORM)
        return self._out(run_int(compute, NodeSpec(self.OP, attrs), *fs), qo)


# ---------------------------------------------------------------------------------------------------------------
# clamp: iqClamp (scale-preserving; integer thresholds)

class iqClampLayer(IQLayer):
    """`torch.clamp(x, min, max)` on a quantized tensor: bounds quantized at the input exponent; Q passes through."""
    OP = "iqClamp"

    def forward(self, x: IQTensor, min: Optional[float] = None, max: Optional[float] = None) -> IQTensor:
        self._check8(x)
        fx, qx = plain(x), x.exponent
        lo_f = -float("inf") if min is None else float(min)
        hi_f = float("inf") if max is None else float(max)
        if lo_f > hi_f:
            raise ValueError(f"linger: {self._label()}: min={min} is above max={max}")
        with tracing_paused():
            lo, hi = (int(ops.quantize(torch.tensor([v]), qx, 8)[0]) for v in (lo_f, hi_f))
        if self.training:
            with torch.no_grad(), tracing_paused():
                self.running_o.fill_(x.running_data)
                self.scale_o.fill_(2.0 ** qx)
            y = clamp_ste(fake_quant(fx, qx, 8), lo * 2.0 ** -qx, hi * 2.0 ** -qx)
            return _make(y, 2.0 ** qx, 8, x.running_data)

        def compute(u: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.clamp_int(_codes(u, qx), lo, hi), qx)

        attrs = dict(min_f=lo_f if min is not None else -128.0 * 2.0 ** -qx,
                     max_f=hi_f if max is not None else 127.0 * 2.0 ** -qx,
                     scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qx, platform_quant_s=PLATFORM)
        return _make(run_int(compute, NodeSpec(self.OP, attrs), fx), 2.0 ** qx, 8, x.running_data)


# ---------------------------------------------------------------------------------------------------------------
# unary lookup-table family: iqSigmoid, iqTanh (engine tables, Q11 in, Q7 out)

LUT_QO = 7


class _LutLayer(IQLayer):
    FLOAT: Callable[[torch.Tensor], torch.Tensor] = staticmethod(torch.sigmoid)

    def forward(self, x: IQTensor) -> IQTensor:
        self._check8(x)
        fx, qx = plain(x), x.exponent
        op = code(self.OP)
        def compute(u: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.lut_int(_codes(u, qx), op, qx), LUT_QO)

        if self.training:
            with torch.no_grad(), tracing_paused():
                self.running_o.fill_(1.0)
                self.scale_o.fill_(2.0 ** LUT_QO)
            f = type(self).FLOAT(fake_quant(fx, qx, 8))
            with torch.no_grad(), tracing_paused():
                exact = compute(fx)
            return _make(exact_ste(f, exact), 2.0 ** LUT_QO, 8, 1.0)
        attrs = dict(scale_x_f=2.0 ** qx, scale_o_f=2.0 ** LUT_QO, platform_quant_s=PLATFORM, castor_mode_s="luna")
        return _make(run_int(compute, NodeSpec(self.OP, attrs), fx), 2.0 ** LUT_QO, 8, 1.0)


class iqSigmoidLayer(_LutLayer):
    OP = "iqSigmoid"
    FLOAT = staticmethod(torch.sigmoid)


class iqTanhLayer(_LutLayer):
    OP = "iqTanh"
    FLOAT = staticmethod(torch.tanh)


# ---------------------------------------------------------------------------------------------------------------
# softmax family: SoftmaxInt, LogSoftmaxInt

class _SoftmaxLayer(IQLayer):
    FLOAT: Callable[..., torch.Tensor] = staticmethod(F.softmax)

    def forward(self, x: IQTensor, dim: int) -> IQTensor:
        self._check8(x)
        fx, qx = plain(x), x.exponent
        op = code(self.OP)
        d = int(dim)

        def compute(u: torch.Tensor, qo: int) -> torch.Tensor:
            return ops.dequantize(ops.softmax_int(_codes(u, qx), op, d, qx, qo), qo)

        if self.training:
            f = type(self).FLOAT(fake_quant(fx, qx, 8), dim=d)
            qo = self._out_exponent(f)
            with torch.no_grad(), tracing_paused():
                exact = compute(fx, qo)
            return self._out(exact_ste(f, exact), qo)
        qo = self._out_exponent(None)
        attrs = dict(scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qo, dim_i=d, data_bits_i=8, o_bits_i=8,
                     platform_quant_s=PLATFORM)
        return self._out(run_int(lambda u: compute(u, qo), NodeSpec(self.OP, attrs), fx), qo)


class softmaxIntLayer(_SoftmaxLayer):
    OP = "SoftmaxInt"
    FLOAT = staticmethod(F.softmax)


class logsoftmaxIntLayer(_SoftmaxLayer):
    OP = "LogSoftmaxInt"
    FLOAT = staticmethod(F.log_softmax)


# ---------------------------------------------------------------------------------------------------------------
# BmmInt: batched matmul of two int8 operands

class BmmInt(IQLayer):
    """`torch.bmm(a, b)` / `a @ b` (equal ranks >= 2, equal batch dims). A quantized operand keeps its exponent;
    a float operand is quantized with its own statistic (`running_x` for a, `running_y` for b)."""
    OP = "BmmInt"

    def __init__(self, data_bits: int = 8, mode=None, o_bits: Optional[int] = 8, clamp_data=None) -> None:
        super().__init__()
        if data_bits != 8 or o_bits not in (None, 8):
            raise ValueError("linger: BmmInt supports data_bits=8 and o_bits=8")
        for n in ("running_x", "running_y", "scale_x", "scale_y"):
            self.register_buffer(n, torch.zeros(1))
        self.data_bits, self.o_bits = 8, 8

    def _operand(self, t: torch.Tensor, running: torch.Tensor, scale: torch.Tensor) -> Tuple[torch.Tensor, int]:
        if is_iqtensor(t) and t.bits == 8:
            q = t.exponent
            if self.training:
                with torch.no_grad(), tracing_paused():
                    running.fill_(t.running_data)
        elif self.training:
            q = observe(plain(t), running, 8)
        else:
            with tracing_paused():
                r = float(running)
            if not r > 0.0:
                raise RuntimeError(f"linger: {self._label()} has no statistics for a float operand; run training "
                                   "batches before eval/export")
            q = exponent_for_range(r, 8)
        if self.training:
            with torch.no_grad(), tracing_paused():
                scale.fill_(2.0 ** q)
        return plain(t), q

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> IQTensor:
        fa, qa = self._operand(a, self.running_x, self.scale_x)
        fb, qb = self._operand(b, self.running_y, self.scale_y)
        if self.training:
            a8, b8 = fake_quant(fa, qa, 8), fake_quant(fb, qb, 8)
            f = torch.matmul(a8, b8)
            qo = self._out_exponent(f)
            with torch.no_grad():  # float64: the exact integer accumulation (|acc| < 2^53), rounded in float64
                acc = torch.matmul(a8.double(), b8.double())
                exact = (torch.clamp(torch.floor(acc * 2.0 ** qo + 0.5), -128, 127) * 2.0 ** -qo).float()
            return self._out(exact_ste(fake_quant(f, qo, 8), exact), qo)
        qo = self._out_exponent(None)
        quant_in = [not is_iqtensor(a), not is_iqtensor(b)]

        def compute(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.bmm_int(_codes(u, qa), _codes(v, qb), qa + qb - qo, 8), qo)

        if any(quant_in):
            from .._tracing import exporting
            if exporting():
                from ..onnx.functions import quant
                fa = quant(fa, qa) if quant_in[0] else fa
                fb = quant(fb, qb) if quant_in[1] else fb
        attrs = dict(scale_x_f=2.0 ** qa, scale_y_f=2.0 ** qb, scale_o_f=2.0 ** qo, data_bits_i=8, o_bits_i=8,
                     platform_quant_s=PLATFORM)
        return self._out(run_int(compute, NodeSpec(self.OP, attrs), fa, fb), qo)


# ---------------------------------------------------------------------------------------------------------------
# TableInt family (domain linger): activations as a 256-entry int8 table per channel (numerics/table.h)

TABLE_FNS = {"hardswish": 0, "hardsigmoid": 1, "leaky_relu": 2, "prelu": 3, "silu": 4, "gelu": 5, "gelu_tanh": 6}
TABLE_MIN_Q, TABLE_MAX_Q = -16, 24
HARDSIGMOID_QO = 7  # bounded in [0, 1]: a fixed output exponent


def _table_float(fn: str, x: torch.Tensor, alpha: Optional[torch.Tensor]) -> torch.Tensor:
    if fn == "hardswish":
        return F.hardswish(x)
    if fn == "hardsigmoid":
        return F.hardsigmoid(x)
    if fn == "silu":
        return F.silu(x)
    if fn == "gelu":
        return F.gelu(x)
    if fn == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if fn == "leaky_relu":
        return F.leaky_relu(x, float(alpha))
    return F.prelu(x, alpha)


class iqTableLayer(IQLayer):
    """An activation of a quantized tensor (hardswish, hardsigmoid, silu, gelu, gelu_tanh, leaky_relu, prelu): int8 at Qx ->
    the int8 table of the function at (Qx, Qo) -> int8 at Qo. Qo: 7 for hardsigmoid, else the running statistic of
    the output. Training: the value of the table (exactly the eval integers), the gradient of the float function
    (for PReLU also towards its weight)."""
    OP = "TableInt"

    def forward(self, x: IQTensor, fn: str, alpha: Any = None) -> IQTensor:
        self._check8(x)
        fx, qx = plain(x), x.exponent
        if not TABLE_MIN_Q <= qx <= TABLE_MAX_Q:
            raise ValueError(f"linger: {self._label()} ({fn}): the input exponent {qx} is outside "
                             f"[{TABLE_MIN_Q}, {TABLE_MAX_Q}] (an input range of about 2^{-qx + 7}); rescale the "
                             "input of this activation or keep the module in float (linger.disable_quant)")
        with tracing_paused():
            a = torch.zeros(1) if alpha is None else (alpha.detach().float().reshape(-1).cpu()
                                                        if isinstance(alpha, torch.Tensor) else torch.tensor([float(alpha)]))
        f = None
        if self.training:
            f = _table_float(fn, fake_quant(fx, qx, 8), alpha)
        if fn == "hardsigmoid":
            qo = HARDSIGMOID_QO
            with torch.no_grad(), tracing_paused():
                self.running_o.fill_(1.0)
        else:
            qo = self._out_exponent(f)
        qo = max(min(qo, TABLE_MAX_Q), TABLE_MIN_Q)
        with torch.no_grad(), tracing_paused():
            self.scale_o.fill_(2.0 ** qo)
            table = ops.table_build(TABLE_FNS[fn], qx, qo, a)

        def compute(u: torch.Tensor) -> torch.Tensor:
            return ops.dequantize(ops.table_int(_codes(u, qx), table), qo)

        if self.training:
            with torch.no_grad(), tracing_paused():
                exact = compute(fx)
            return self._out(exact_ste(f, exact), qo)
        attrs = dict(scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qo, function_s=fn, platform_quant_s=PLATFORM)
        return self._out(run_int(compute, NodeSpec(self.OP, attrs, [table]), fx), qo)


# ---------------------------------------------------------------------------------------------------------------
# ResizeInt (domain linger): nearest / bilinear 2-D resize, Q passes through (numerics/resize.h)

def resize_iq(x: IQTensor, out_h: int, out_w: int, mode: str, align_corners: bool) -> IQTensor:
    fx, qx = plain(x), x.exponent
    m = 0 if mode == "nearest" else 1

    def compute(u: torch.Tensor) -> torch.Tensor:
        return ops.dequantize(ops.resize_int(_codes(u, qx), out_h, out_w, m, bool(align_corners)), qx)

    if torch.is_grad_enabled() and fx.requires_grad:
        x8 = fake_quant(fx, qx, 8)
        f = F.interpolate(x8, size=(out_h, out_w), mode=mode, **({} if m == 0 else {"align_corners": align_corners}))
        with torch.no_grad(), tracing_paused():
            exact = compute(fx)
        return _make(exact_ste(f, exact), x.scale_data, 8, x.running_data)
    attrs = dict(scale_x_f=2.0 ** qx, scale_o_f=2.0 ** qx, size_i=[int(out_h), int(out_w)], mode_s=mode,
                 align_corners_i=int(bool(align_corners)), platform_quant_s=PLATFORM)
    return _make(run_int(compute, NodeSpec("ResizeInt", attrs), fx), x.scale_data, 8, x.running_data)



class iqResizeLayer(IQLayer):
    """`F.interpolate` / `nn.Upsample` (nearest, bilinear) of a quantized [N, C, H, W] tensor: ResizeInt; it keeps
    no statistic of its own (Q passes through), the layer only names the op (compare tool, state_dict)."""
    OP = "ResizeInt"

    def forward(self, x: IQTensor, out_h: int, out_w: int, mode: str, align_corners: bool) -> IQTensor:
        self._check8(x)
        with torch.no_grad(), tracing_paused():
            self.running_o.fill_(x.running_data)
            self.scale_o.fill_(x.scale_data)
        return resize_iq(x, out_h, out_w, mode, align_corners)

# 1.x lazily created layer names: prefix -> class (operators use "<kind>__default_index_<k>")
LAYER_PREFIX = "_linger_round_tensor_"
LAYER_KINDS = {
    "iqadd": iqAddLayer, "iqmul": iqMulLayer, "iqdiv": iqDivLayer, "iqsum": iqSumLayer, "iqvar": iqVarLayer,
    "iqmean": iqMeanLayer,
    "iqcat": iqCatLayer, "iqclamp": iqClampLayer, "iqsigmoid": iqSigmoidLayer, "iqtanh": iqTanhLayer,
    "SoftmaxInt": softmaxIntLayer, "LogSoftmaxInt": logsoftmaxIntLayer, "function_bmm": BmmInt,
    **{k: iqTableLayer for k in TABLE_FNS}, "iqresize": iqResizeLayer,
    "iqadd_float": iqAddLayer, "iqmul_float": iqMulLayer,
}


def layer_class_for(attr_name: str) -> Optional[type]:
    if not attr_name.startswith(LAYER_PREFIX):
        return None
    rest = attr_name[len(LAYER_PREFIX):]
    for kind in sorted(LAYER_KINDS, key=len, reverse=True):
        if rest.startswith(kind + "_"):
            return LAYER_KINDS[kind]
    return None


def float_forward(layer: IQLayer, compute: Callable[[], torch.Tensor]) -> IQTensor:
    """A switched-off op (`linger.SetIQTensorMul(False)`, ...): `compute()` runs the float op on the dequantized
    inputs; the result is quantized again with the layer's own statistic, so the exported file reads
    Dequant -> float op -> Quant and the integer graph stays correct."""
    y = compute()
    if layer.training:
        qo = layer._out_exponent(y)
        return layer._out(fake_quant(y, qo, 8), qo)
    qo = layer._out_exponent(None)
    from .._tracing import exporting
    if exporting():
        from ..onnx.functions import quant
        return layer._out(quant(y, qo, 8), qo)
    with torch.no_grad():
        return layer._out(ops.dequantize(ops.quantize(y, qo, 8), qo), qo)
