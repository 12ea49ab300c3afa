"""After export: every node must be one the linger runtime runs (docs/export.md "What the runtime accepts").

A node it cannot run is an error naming the module that produced it, the torch construct behind it and what to
use instead; `linger.onnx.export(..., check="warn")` turns it into a warning (for files aimed at another engine),
`check=False` skips the check.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Set, Tuple

import onnx

# op_type -> (the torch construct that writes it, what to do instead)
_HINTS: Dict[str, Tuple[str, str]] = {
    "Add": ("`+` / torch.add with a float operand (or iqAdd switched off)",
            "make both operands quantized tensors (outputs of quantized modules), or keep this part out of the model"),
    "Sub": ("`-` on tensors", "write it as `a + (-1.0) * b` on quantized tensors, or keep it out of the model"),
    "Mul": ("`*` / torch.mul with a float operand", "make both operands quantized tensors or multiply by a number"),
    "Div": ("`/` with a float operand, or Python shape arithmetic traced from x.size()",
            "divide quantized tensors or by a number; use constant shapes (e.g. x.flatten(1), view(-1, C))"),
    "GlobalAveragePool": ("nn.AdaptiveAvgPool2d / F.adaptive_avg_pool2d on a float tensor",
                          "apply it to a quantized tensor (AvgPool2dInt / AdaptiveAvgPool2dInt)"),
    "AveragePool": ("F.avg_pool2d / nn.AvgPool1d with count_include_pad=False or divisor_override, or on a float "
                    "tensor", "use count_include_pad=True and no divisor_override (the NPU divides by the kernel "
                    "area) on a quantized tensor"),
    "ReduceMean": ("x.mean(...) on a float tensor", "apply it to a quantized tensor (iqMean)"),
    "Clip": ("nn.ReLU6 / nn.Hardtanh / torch.clamp on a float tensor",
             "use torch.clamp on a quantized tensor (iqClamp)"),
    "Resize": ("F.interpolate / nn.Upsample", "no integer resize yet: keep it out of the model"),
    "HardSigmoid": ("nn.Hardswish / nn.Hardsigmoid", "no integer form yet: use ReLU"),
    "Sigmoid": ("torch.sigmoid on a float tensor (or iqSigmoid switched off)",
                "apply it to a quantized tensor (iqSigmoid)"),
    "Tanh": ("torch.tanh on a float tensor", "apply it to a quantized tensor (iqTanh)"),
    "Softmax": ("softmax of a float tensor", "apply it to a quantized tensor (SoftmaxInt)"),
    "LogSoftmax": ("log_softmax of a float tensor", "apply it to a quantized tensor (LogSoftmaxInt)"),
    "MatMul": ("torch.matmul / bmm / `@` of float tensors", "apply it to quantized tensors (BmmInt)"),
    "Gemm": ("F.linear in forward, or an nn.Linear kept in float (seed R4)",
             "use an nn.Linear module so linger.init quantizes it"),
    "Conv": ("F.conv2d in forward, or a conv kept in float (disable_quant) (seed R4)",
             "use an nn.Conv2d module so linger.init quantizes it"),
    "BatchNormalization": ("a batch norm kept in float (e.g. nn.BatchNorm1d/3d)",
                           "fuse it with trace_layers or use nn.BatchNorm2d"),
    "LSTM": ("nn.LSTM kept in float", "let linger.init replace it by LSTMInt"),
    "GRU": ("nn.GRU kept in float", "let linger.init replace it by GRUInt"),
    "Expand": ("expand / broadcasting of a traced shape", "use constant shapes"),
    "Split": ("torch.split / chunk on a float tensor", "split the quantized tensor instead"),
}


def _module_of(node: onnx.NodeProto) -> str:
    """torch names nodes '/<module path as scopes>/<op>': the last scope is the module's dotted path."""
    parts = [p for p in node.name.split("/") if p]
    return parts[-2] if len(parts) >= 2 else "<model forward>"


def supported_ops() -> Set[Tuple[str, str]]:
    from ..runtime import _rt
    return {(d, t) for d, t in _rt.supported_ops()}


def unsupported_nodes(proto: onnx.ModelProto) -> List[onnx.NodeProto]:
    ok = supported_ops()
    return [n for n in proto.graph.node if ((n.domain if n.domain != "ai.onnx" else ""), n.op_type) not in ok]


def describe(node: onnx.NodeProto) -> str:
    what, fix = _HINTS.get(node.op_type, ("an op with no integer form in linger",
                                          "keep it out of the exported model, or add the op (docs/adding-an-op.md)"))
    dom = f"{node.domain}::" if node.domain else ""
    return (f"node '{node.name or node.output[0]}' ({dom}{node.op_type}) from module '{_module_of(node)}': "
            f"written for {what}; {fix}")


def check_model(proto: onnx.ModelProto, data: bytes, mode) -> None:
    """Raise (or warn) when the linger runtime could not run `proto`."""
    if mode is False or mode is None:
        return
    if mode not in (True, "error", "warn"):
        raise ValueError(f"linger.onnx.export: check must be True/'error', 'warn' or False, got {mode!r}")
    bad = unsupported_nodes(proto)
    problems = [describe(n) for n in bad]
    if not problems:
        from ..runtime import InferenceSession, InvalidModel
        try:
            InferenceSession(data)
        except InvalidModel as e:
            problems.append(f"the linger runtime rejects the file: {e}")
    if not problems:
        return
    shown = problems[:12] + ([f"... and {len(problems) - 12} more"] if len(problems) > 12 else [])
    msg = ("linger.onnx.export: the exported model has nodes the linger runtime cannot run:\n  " + "\n  ".join(shown)
           + "\nPass check='warn' to write the file anyway (e.g. for another engine).")
    if mode == "warn":
        warnings.warn(msg, stacklevel=3)
    else:
        raise ValueError(msg)
