"""Autograd Functions whose `symbolic` writes the thinker dialect (docs/onnx-dialect.md).

During `torch.onnx.export` the quantized modules route their eval (integer)
computation through these Functions: the forward runs the very same integer
code as eval (tracing paused), the symbolic emits one thinker node with integer
weights as constants. Nothing here changes a module, a parameter or a statistic.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, List, Optional

import torch

from .._tracing import exporting, tracing_paused  # noqa: F401  (re-exported)

PLATFORM = "luna_quant"

_ONNX_INT_TYPES = {8: torch.int8, 16: torch.int16, 32: torch.int32}


def set_type(value, like, dtype: torch.dtype, shape: Optional[List[int]]):
    t = like.type().with_dtype(dtype)
    if shape is not None:
        t = t.with_sizes(shape)
    value.setType(t)
    return value


class ExportInfo:
    """What one node needs: a compute function (the eval integer path) and a symbolic writer."""

    def __init__(self, compute: Callable[..., torch.Tensor], symbolic: Callable[..., Any]) -> None:
        self.compute = compute
        self.symbolic = symbolic
        self.out_shape: Optional[List[int]] = None


class LingerOp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, info: ExportInfo, *xs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        with tracing_paused(), torch.no_grad():
            out = info.compute(*xs)
        info.out_shape = list(out.shape)
        return out

    @staticmethod
    def symbolic(g, info: ExportInfo, *xs):  # pragma: no cover - called by the exporter
        # torch 1.13 deprecates the g.op it itself hands to symbolics: keep plain torch.onnx.export quiet
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_graph_op.*")
            return info.symbolic(g, info, *xs)


class LingerMultiOp(torch.autograd.Function):
    """LingerOp for a node with several outputs: `info.compute` returns a tuple, `info.out_shape` is the list of
    their shapes, the symbolic returns one value per output (g.op(..., outputs=n))."""

    @staticmethod
    def forward(ctx, info: ExportInfo, *xs: torch.Tensor):  # type: ignore[override]
        with tracing_paused(), torch.no_grad():
            outs = tuple(info.compute(*xs))
        info.out_shape = [list(o.shape) for o in outs]
        return outs

    @staticmethod
    def symbolic(g, info: ExportInfo, *xs):  # pragma: no cover - called by the exporter
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_graph_op.*")
            return info.symbolic(g, info, *xs)


def apply_multi(info: ExportInfo, *xs: torch.Tensor):
    return LingerMultiOp.apply(info, *[_plain(x) for x in xs])


def absent(g):
    """An omitted optional input (written with the empty name)."""
    n = g.op("prim::Constant")
    n.setType(torch._C.OptionalType.ofTensor())
    return n


def as_int64(g, v):
    """`v` cast to int64 (always a Cast: a value's type at symbolic time may change afterwards, e.g. torch's
    packing pass replaces PadPacked's int64 lengths by the int32 lengths it packed with)."""
    out = g.op("Cast", v, to_i=7)  # TensorProto.INT64
    t = v.type()
    if hasattr(t, "with_dtype"):
        out.setType(t.with_dtype(torch.int64))
    return out


def _plain(t: torch.Tensor) -> torch.Tensor:
    if type(t) is not torch.Tensor:
        with torch._C.DisableTorchFunction():
            return t.as_subclass(torch.Tensor)
    return t


def apply(info: ExportInfo, *xs: torch.Tensor) -> torch.Tensor:
    return LingerOp.apply(info, *[_plain(x) for x in xs])


def const(g, t: torch.Tensor):
    return g.op("Constant", value_t=t.detach().cpu().contiguous())


def quant(x: torch.Tensor, exponent: int, bits: int = 8) -> torch.Tensor:
    """thinker::Quant: float enters the integer graph."""
    from .._ext import ops
    from ..ops_table import OPS

    def compute(v):
        return ops.dequantize(ops.quantize(v, exponent, bits), exponent)

    def symbolic(g, info, v):
        out = g.op(OPS["Quant"].onnx_name, v, data_bits_i=bits, scale_x_f=float(2.0 ** exponent),
                   platform_quant_s=PLATFORM)
        return set_type(out, v, _ONNX_INT_TYPES[bits], info.out_shape)

    return apply(ExportInfo(compute, symbolic), x)


def dequant(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """thinker::Dequant: an integer tensor leaves the integer graph."""
    from ..ops_table import OPS

    def compute(v):
        return v.clone()

    def symbolic(g, info, v):
        out = g.op(OPS["Dequant"].onnx_name, v, scale_o_f=float(2.0 ** exponent))
        return set_type(out, v, torch.float32, info.out_shape)

    return apply(ExportInfo(compute, symbolic), x)


def out_type(o_bits: Optional[int]) -> torch.dtype:
    return torch.float32 if o_bits is None else _ONNX_INT_TYPES[o_bits]


def apply_node(compute: Callable[..., torch.Tensor], node, *xs: torch.Tensor) -> torch.Tensor:
    """Export one op-family node (linger._dispatch.NodeSpec): `compute` gives the traced values, the node
    is written as `domain::op_type(*xs, *consts)` with the spec's attributes."""
    from ..ops_table import OPS

    entry = OPS[node.op]

    def symbolic(g, info, *vs):
        inputs = list(vs) + [const(g, c) for c in node.consts]
        out = g.op(entry.onnx_name, *inputs, **node.attrs)
        return set_type(out, vs[0], node.out_dtype, info.out_shape)

    return apply(ExportInfo(compute, symbolic), *xs)


def dequant_outputs(out):
    """Quantized graph outputs leave the integer graph through Dequant."""
    from ..iqtensor import is_iqtensor, resolve
    out = resolve(out)
    if is_iqtensor(out):
        return dequant(out, out.exponent)
    if isinstance(out, tuple) and not hasattr(out, "_fields"):
        return tuple(dequant_outputs(o) for o in out)
    if isinstance(out, list):
        return [dequant_outputs(o) for o in out]
    if isinstance(out, dict):
        return {k: dequant_outputs(v) for k, v in out.items()}
    return out


def opset(g=None) -> int:
    """The opset of the export in progress (`g`: the symbolic's graph, a GraphContext with `.opset` on torch 2.x)."""
    if isinstance(getattr(g, "opset", None), int):
        return int(g.opset)
    try:  # torch 1.13 and the earlier 2.x
        from torch.onnx._globals import GLOBALS
    except ImportError:  # later 2.x: the TorchScript exporter moved under torch.onnx._internal
        from torch.onnx._internal.torchscript_exporter._globals import GLOBALS
    return int(GLOBALS.export_onnx_opset_version)


def squeeze_like(x: torch.Tensor, out_compute: Callable[[torch.Tensor], torch.Tensor], axes: List[int],
                 op_type: str) -> torch.Tensor:
    """A plain Squeeze/Unsqueeze with constant axes (torch writes Equal/If when it cannot see a static shape)."""
    def symbolic(g, info, v):
        if opset(g) >= 13:
            out = g.op(op_type, v, g.op("Constant", value_t=torch.tensor(axes, dtype=torch.int64)))
        else:
            out = g.op(op_type, v, axes_i=axes)
        t = v.type()
        if info.out_shape is not None and hasattr(t, "with_sizes"):
            out.setType(t.with_sizes(info.out_shape))
        return out

    return apply(ExportInfo(out_compute, symbolic), x)


def iqcat_same_exponent(xs: List[torch.Tensor], dim: int, exponent: int) -> torch.Tensor:
    """thinker iqCat of int8 tensors at one exponent (an exact copy; torch's own Concat of int8 gets Casts)."""
    from ..ops_table import OPS

    def symbolic(g, info, *vs):
        attrs = {f"scale_x_{i}_f": float(2.0 ** exponent) for i in range(len(vs))}
        out = g.op(OPS["iqCat"].onnx_name, *vs, scale_o_f=float(2.0 ** exponent), dim_i=dim, platform_quant_s=PLATFORM,
                   **attrs)
        return set_type(out, vs[0], torch.int8, info.out_shape)

    return apply(ExportInfo(lambda *vs: torch.cat(vs, dim), symbolic), *xs)


def int_relu(x: torch.Tensor) -> torch.Tensor:
    """A plain ONNX Relu on the integer tensor (thinker's engine runs Relu on int8)."""
    def symbolic(g, info, v):
        out = g.op("Relu", v)
        out.setType(v.type())
        return out

    return apply(ExportInfo(lambda v: torch.relu(v), symbolic), x)
