"""`linger.onnx.export`: torch.onnx.export with linger's defaults and a tidy-up pass.

Plain `torch.onnx.export(model, ...)` already writes the thinker dialect for a
model prepared with `linger.init` (the quantized modules detect the export);
this wrapper adds: opset 12 by default, eval mode forced, a trailing dict input
kept as an input (seed Q9), integer weight constants stored as named
initializers, a check that the linger runtime can run every node (onnx/check.py),
and a guarantee that the model (parameters, statistics, mode) is unchanged
afterwards and that a failed export leaves no partial file.
"""
from __future__ import annotations

import inspect
import io
import os
import warnings
from typing import Any, Optional

import torch

import onnx

from .. import platform as _plat
from .._version import __version__


def torchscript_kwargs() -> dict:
    """The torch.onnx.export arguments that select the TorchScript exporter: `{"dynamo": False}` on torch 2.x (whose
    default from 2.9 on is the dynamo exporter, which does not run the symbolics that write thinker nodes), `{}` on
    torch versions without the argument. For plain calls: `torch.onnx.export(m, x, f, **linger.onnx.torchscript_kwargs())`
    (docs/export.md)."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _drop_unit_dilations(node: "onnx.NodeProto") -> None:
    """torch 2.x writes `dilations=[1, 1]` on MaxPool, torch 1.13 leaves it out (the default): drop the all-ones
    form so both torches write the same file (the dialect's MaxPool attributes, docs/onnx-dialect.md)."""
    for i, a in enumerate(node.attribute):
        if a.name == "dilations" and all(v == 1 for v in a.ints):
            del node.attribute[i]
            return


def _drop_stale_intermediate_shapes(g: "onnx.GraphProto") -> None:
    """With symbolic input dims (dynamic_axes), torch 2.x's exporter annotates intermediate values with the example
    input's fixed sizes, which a run at another size contradicts (the runtime checks declared shapes). The shapes of
    intermediates are optional: keep their element types, drop their shapes. Static graphs keep everything."""
    symbolic = any(d.HasField("dim_param") for vi in g.input for d in vi.type.tensor_type.shape.dim)
    if not symbolic:
        return
    for vi in g.value_info:
        if vi.type.HasField("tensor_type"):
            vi.type.tensor_type.ClearField("shape")


def _tidy(model_proto: "onnx.ModelProto") -> "onnx.ModelProto":
    g = model_proto.graph
    keep = []
    for node in g.node:
        if node.op_type == "Constant" and node.domain == "" and len(node.attribute) == 1 \
                and node.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(node.attribute[0].t)
            t.name = node.output[0]
            g.initializer.append(t)
        else:
            if node.op_type == "MaxPool" and node.domain == "":
                _drop_unit_dilations(node)
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)
    _drop_stale_intermediate_shapes(g)
    model_proto.producer_name = "linger"
    model_proto.producer_version = __version__
    return model_proto


def _write_platform(model_proto: "onnx.ModelProto", name: Optional[str], quant_mode: Optional[str]) -> None:
    """`platform` on every thinker node, `quant_mode` on the weighted ones (docs/platforms.md)."""
    if name is None:
        return
    for node in model_proto.graph.node:
        if node.domain != "thinker":
            continue
        node.attribute.append(onnx.helper.make_attribute("platform", name))
        if quant_mode is not None and node.op_type in _plat.QUANT_MODE_OPS:
            node.attribute.append(onnx.helper.make_attribute("quant_mode", quant_mode))


def _file_violations(model_proto: "onnx.ModelProto", p: "_plat.Platform") -> list:
    """Limits of nodes written by functional calls (no module to check at init): pooling ceil_mode and kernel."""
    out = []
    for node in model_proto.graph.node:
        if node.op_type in ("MaxPool", "AvgPool2dInt"):
            a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
            if a.get("ceil_mode", 0):
                out.append(f"node '{node.name}' ({node.op_type}): ceil_mode=1 is not supported by the engine "
                           "(limit: ceil_mode=False)")
            if max(a.get("kernel_shape", [1])) > p.max_kernel:
                out.append(f"node '{node.name}' ({node.op_type}): kernel {list(a['kernel_shape'])} exceeds the {p.name} "
                           f"limit kernel <= {p.max_kernel}")
    return out


def export(model: torch.nn.Module, args: Any, f, *pos, opset_version: Optional[int] = None,
           do_constant_folding: bool = True, check=True, platform: Optional[str] = None,
           quant_mode: Optional[str] = None, limits: Optional[str] = None, dialect: str = "thinker",
           **kwargs) -> None:
    """Same signature as torch.onnx.export, plus `check`. Writes `f` (path or file object) only if the export
    succeeds and (with `check=True`, the default) the linger runtime can run every node: otherwise a ValueError
    names each node, the module that wrote it and what to use instead. `check="warn"` writes the file and warns
    (files for another engine); `check=False` skips the check.

    `platform`/`quant_mode`/`limits` (default: those given to `linger.init`, else `linger.SetPlatform`'s): the
    target written into the file (`platform` on thinker nodes, `quant_mode` on weighted ones where the platform
    needs it); the platform's limits, including each layer's share-mem estimate, are checked again here.

    `dialect="qdq"` writes standard ONNX instead (QuantizeLinear/DequantizeLinear around standard ops, scales 2^-Q,
    zero point 0, opset 13 by default; docs/qdq.md) for ONNX Runtime and other engines: `check` then runs
    onnx.checker (full check), and the platform options do not apply."""
    if dialect not in ("thinker", "qdq"):
        raise ValueError(f"linger.onnx.export: dialect must be 'thinker' or 'qdq', got {dialect!r}")
    if opset_version is None:
        opset_version = 13 if dialect == "qdq" else 12
    if dialect == "qdq":
        from .qdq import MIN_OPSET
        if opset_version < MIN_OPSET:
            raise ValueError(f"linger.onnx.export: dialect='qdq' needs opset_version >= {MIN_OPSET} (got "
                             f"{opset_version})")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"linger.onnx.export expects an nn.Module, got {type(model).__name__}")
    if not isinstance(args, tuple):
        args = (args,)
    if args and isinstance(args[-1], dict):
        args = args + ({},)  # a trailing dict is an input, not keyword arguments (seed Q9)
    kwargs.pop("operator_export_type", None)  # the default (ONNX) is the right one; ATen fallback is not needed
    for k, v in torchscript_kwargs().items():
        kwargs.setdefault(k, v)
    training = {m: m.training for m in model.modules()}
    if dialect == "qdq":
        pname, pmode, paction = None, None, "off"
    else:
        pname, pmode, paction = _plat.resolve(model, "onnx.export", platform, quant_mode, limits)
    shapes: dict = {}
    hooks = []
    if pname is not None and paction != "off":
        from ..nn.base import ModuleIntConfig

        def hook(m, inp, out):
            x = inp[0] if inp and isinstance(inp[0], torch.Tensor) else None
            if x is not None and isinstance(out, torch.Tensor):
                shapes[m] = (list(x.shape), list(out.shape))
        hooks = [m.register_forward_hook(hook) for m in model.modules()
                 if isinstance(m, (ModuleIntConfig, torch.nn.MaxPool2d))]
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*shape inference of thinker::.*")
            warnings.filterwarnings("ignore", message=".*shape inference of linger::.*")
            # the empty optional inputs of LSTMInt/GRUInt (onnx/functions.py absent()) are untyped prim::Constant
            warnings.filterwarnings("ignore", message=".*shape inference of prim::Constant type is missing.*")
            # torch's own packing nodes, removed by its ONNX pass (a packed RNN input, docs/rnn.md)
            warnings.filterwarnings("ignore", message=".*shape inference of prim::Pa(ckPadded|dPacked) type.*")
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_graph_op.*")
            # torch 2.x: the TorchScript exporter is chosen on purpose (docs/export.md, "Which exporter on torch 2.x")
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message=".*legacy TorchScript-based ONNX export.*")
            torch.onnx.export(model, args, buf, *pos, opset_version=opset_version,
                              do_constant_folding=do_constant_folding,
                              training=torch.onnx.TrainingMode.EVAL, **kwargs)
    finally:
        for m, t in training.items():
            m.training = t
        for h in hooks:
            h.remove()
    proto = _tidy(onnx.load_from_string(buf.getvalue()))
    if pname is not None:
        p = _plat.PLATFORMS[pname]
        problems = _plat.static_violations(model, p) + _file_violations(proto, p)
        names = {m: n for n, m in model.named_modules()}
        for m, (i, o) in shapes.items():
            mem = _plat.layer_memory(m, i, o)
            if mem["total"] > p.shared_mem_kb * 1024:
                problems.append(f"'{names.get(m, '?')}' ({type(m).__name__}): share-mem estimate {mem['total']} B "
                                f"(input {mem['input']}, output {mem['output']}, weights {mem['weights']}) exceeds "
                                f"the {p.name} limit {p.shared_mem_kb} KB")
        _plat.report_violations(problems, "onnx.export", paction)
        _write_platform(proto, pname, pmode)
    if dialect == "qdq":
        from .qdq import check_qdq, to_qdq
        proto = to_qdq(proto)
        data = proto.SerializeToString()
        check_qdq(proto, check)
    else:
        data = proto.SerializeToString()
        from .check import check_model
        check_model(proto, data, check)
    if isinstance(f, (str, os.PathLike)):
        tmp = f"{os.fspath(f)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, f)
    else:
        f.write(data)
