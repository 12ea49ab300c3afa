"""`linger.tools.compare`: run the PyTorch eval forward and the C++ runtime side by side and report
the first tensor that differs (op by op, tolerance 0)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import torch
import torch.nn as nn

from .. import _dispatch
from ..iqtensor import is_iqtensor
from ..nn.base import ModuleIntConfig
from ..nn.iqops import IQLayer
from ..ops_table import OPS

_ELEM = {8: onnx.TensorProto.INT8, 16: onnx.TensorProto.INT16, 32: onnx.TensorProto.INT32}
# thinker ops with no module of their own to record (pure data movement, graph boundary)
_SKIP = {OPS[n].op_type for n in ("Quant", "Dequant", "ShuffleChannel")}
# families whose output is float when the node has no o_bits
_FLOAT_WITHOUT_OBITS = {"Conv2d", "Conv1d", "ConvTranspose2d", "Linear", "BatchNorm2d"}
_FAMILY = {e.op_type: e.family for e in OPS.values() if e.domain == "thinker"}


@dataclass
class Mismatch:
    index: int                     # position among the compared ops
    module: str                    # PyTorch module path
    node: str                      # ONNX node name
    op_type: str
    position: Tuple[int, ...]      # first differing element
    torch_value: float
    runtime_value: float
    count: int                     # differing elements in this tensor

    def __str__(self) -> str:
        return (f"first mismatch at op #{self.index} {self.op_type} (module '{self.module}', node '{self.node}'): "
                f"element {self.position}: PyTorch {self.torch_value} vs runtime {self.runtime_value} "
                f"({self.count} elements differ)")


@dataclass
class CompareReport:
    compared: List[Tuple[str, str]] = field(default_factory=list)  # (module, node) pairs, in order
    mismatch: Optional[Mismatch] = None
    outputs_equal: bool = True

    @property
    def ok(self) -> bool:
        return self.mismatch is None and self.outputs_equal

    def __str__(self) -> str:
        if self.ok:
            return f"bit-exact: {len(self.compared)} quantized ops and all outputs equal"
        if self.mismatch is not None:
            return str(self.mismatch)
        return "intermediate tensors equal but graph outputs differ"


def _as_numpy_codes(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if is_iqtensor(t):
        v = t.as_subclass(torch.Tensor).double() * t.scale_data
        return v.round().long().cpu().numpy()
    return t.as_subclass(torch.Tensor).cpu().float().numpy()


def compare(model: nn.Module, onnx_path: Union[str, bytes], inputs: Any, isa: str = "auto") -> CompareReport:
    """Run `model` (eval mode, restored afterwards) and the ONNX file on the same `inputs` (a tensor or a
    tuple of tensors in graph-input order) and compare every quantized op's integer output in execution
    order, then the graph outputs."""
    from ..runtime import InferenceSession

    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    # 1. PyTorch eval, recording each quantized op's output in execution order
    records: List[Tuple[str, str, np.ndarray]] = []
    handles = []
    names = {m: n for n, m in model.named_modules()}

    def hook(mod, inp, out):
        # a copy, not the tensor: a later in-place op (ReLU(inplace=True), `+=`) must not change the record
        records.append((names.get(mod, type(mod).__name__), type(mod).__name__, _as_numpy_codes(out).copy()))

    for m in model.modules():
        if isinstance(m, (ModuleIntConfig, IQLayer)):
            handles.append(m.register_forward_hook(hook))

    def functional(op, out):  # integer ops without a module (pooling handlers)
        records.append((f"<functional {op}>", op, _as_numpy_codes(out).copy()))

    modes = {m: m.training for m in model.modules()}
    _dispatch.RECORDERS.append(functional)
    try:
        model.eval()
        with torch.no_grad():
            torch_out = model(*inputs)
    finally:
        _dispatch.RECORDERS.remove(functional)
        for h in handles:
            h.remove()
        for m, t in modes.items():
            m.training = t
    # functional-op layers are created lazily under their module: they exist once the model has trained.
    torch_outs = list(torch_out) if isinstance(torch_out, (tuple, list)) else [torch_out]

    # 2. runtime, with every quantized node's output exposed as an extra graph output
    proto = onnx.load_from_string(onnx_path) if isinstance(onnx_path, bytes) else onnx.load(onnx_path)
    nodes = [n for n in proto.graph.node if n.domain in ("thinker", "linger") and n.op_type not in _SKIP]
    existing = {o.name for o in proto.graph.output}
    for n in nodes:
        if n.output[0] in existing:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        bits = attrs.get("o_bits", None if _FAMILY.get(n.op_type) in _FLOAT_WITHOUT_OBITS else 8)
        elem = _ELEM[bits] if bits in _ELEM else onnx.TensorProto.FLOAT
        proto.graph.output.append(onnx.helper.make_tensor_value_info(n.output[0], elem, None))
    sess = InferenceSession(proto.SerializeToString(), isa=isa)
    feeds = {i.name: t.detach().cpu().numpy() for i, t in zip(sess.get_inputs(), inputs)}
    out_names = [o.name for o in sess.get_outputs()]
    results = dict(zip(out_names, sess.run(None, feeds)))

    report = CompareReport()
    for k, ((module, _, tout), node) in enumerate(zip(records, nodes)):
        report.compared.append((module, node.name))
        a = tout
        b = results[node.output[0]]
        b = b.astype(np.int64) if b.dtype.kind == "i" else b
        if a.shape != b.shape or not np.array_equal(a, b):
            if a.shape != b.shape:
                report.mismatch = Mismatch(k, module, node.name, node.op_type, (), float("nan"), float("nan"), -1)
                return report
            diff = np.argwhere(a != b)
            pos = tuple(int(i) for i in diff[0])
            report.mismatch = Mismatch(k, module, node.name, node.op_type, pos, float(a[pos]), float(b[pos]),
                                       len(diff))
            return report
    graph_outputs = [o.name for o in proto.graph.output][:len(torch_outs)]
    for name, t in zip(graph_outputs, torch_outs):
        ref = t.detach().as_subclass(torch.Tensor).cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if not np.array_equal(ref, results[name]):
            report.outputs_equal = False
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m linger.tools.compare --demo` or `--model mod:fn --qat-checkpoint q.pt --input x.npy
    [--onnx model.onnx]`: exit status 0 when PyTorch eval and the runtime are bit-exact, 1 otherwise."""
    import argparse
    import importlib
    import os
    import tempfile

    import linger
    from .layer_report import demo_models
    p = argparse.ArgumentParser(prog="python -m linger.tools.compare",
                                description="PyTorch eval vs the C++ runtime, op by op (tolerance 0)")
    p.add_argument("--demo", action="store_true", help="a small conv-bn CNN after a few QAT steps")
    p.add_argument("--model", help="module:function returning the float model")
    p.add_argument("--qat-checkpoint", help="state_dict saved after QAT")
    p.add_argument("--input", help=".npy input")
    p.add_argument("--onnx", help="the exported file (default: exported here from the model)")
    p.add_argument("--isa", default="auto")
    a = p.parse_args(argv)
    if a.demo:
        _, model, batches = demo_models()
        x = batches[0][:1]
    else:
        if not (a.model and a.qat_checkpoint and a.input):
            p.error("give --demo, or --model, --qat-checkpoint and --input")
        mod, _, fn = a.model.partition(":")
        model = linger.init(getattr(importlib.import_module(mod), fn)())
        model.load_state_dict(torch.load(a.qat_checkpoint, map_location="cpu"))
        x = torch.from_numpy(np.load(a.input)).float()
    model.eval()
    path = a.onnx
    if path is None:
        path = os.path.join(tempfile.mkdtemp(prefix="linger_compare_"), "model.onnx")
        linger.onnx.export(model, (x,), path)
    report = compare(model, path, x, isa=a.isa)
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    import sys
    raise SystemExit(main())
