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

from .._version import __version__


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
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)
    model_proto.producer_name = "linger"
    model_proto.producer_version = __version__
    return model_proto


def export(model: torch.nn.Module, args: Any, f, *pos, opset_version: int = 12, do_constant_folding: bool = True,
           check=True, **kwargs) -> None:
    """Same signature as torch.onnx.export, plus `check`. Writes `f` (path or file object) only if the export
    succeeds and (with `check=True`, the default) the linger runtime can run every node: otherwise a ValueError
    names each node, the module that wrote it and what to use instead. `check="warn"` writes the file and warns
    (files for another engine); `check=False` skips the check."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"linger.onnx.export expects an nn.Module, got {type(model).__name__}")
    if not isinstance(args, tuple):
        args = (args,)
    if args and isinstance(args[-1], dict):
        args = args + ({},)  # a trailing dict is an input, not keyword arguments (seed Q9)
    kwargs.pop("operator_export_type", None)  # the default (ONNX) is the right one; ATen fallback is not needed
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs.setdefault("dynamo", False)  # torch >= 2.5: the TorchScript exporter runs the thinker symbolics
    training = {m: m.training for m in model.modules()}
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*shape inference of thinker::.*")
            warnings.filterwarnings("ignore", message=".*shape inference of linger::.*")
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_graph_op.*")
            torch.onnx.export(model, args, buf, *pos, opset_version=opset_version,
                              do_constant_folding=do_constant_folding,
                              training=torch.onnx.TrainingMode.EVAL, **kwargs)
    finally:
        for m, t in training.items():
            m.training = t
    proto = _tidy(onnx.load_from_string(buf.getvalue()))
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
