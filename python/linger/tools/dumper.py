"""`Dumper` (linger 1.x context manager): write per-layer tensors of a quantized model to text files.

    with linger.Dumper() as d:
        d.enable_dump_quanted(model, path="dump")     # quantized layers: input, float output, int8 codes
        d.enable_dump_model(model, path="dump")       # every leaf module: first input and output (float)
        d.analyse_layer_output(model)                 # statistics of every leaf output ...
        model(x)
        d.save_out_analyse_log("Analyse_layer_output.log")   # ... written as a table
    # leaving the block removes every hook

Files are `np.savetxt` of the flattened tensor (`%.6f`; integer codes `%d`), one value per line:
`<path>/<layer>.<Type>.input`, `.output`, `.output_int` (codes = output * 2**exponent, exactly what the runtime
computes) and `<path>/<layer>_input_float`, `<layer>_output_float`. Dumps need eval mode (the integer path).
`dump_runtime(model, onnx_path, x, path)` writes the C++ runtime's codes under the same file names.
Command line: `python -m linger.tools.dumper --demo --out dump`.
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn

from ..iqtensor import is_iqtensor
from ..nn.base import ModuleIntConfig
from ..nn.iqops import IQLayer
from ._stats import OUTLIER_RATIO, tensor_stats


def _plain(t: torch.Tensor) -> torch.Tensor:
    with torch._C.DisableTorchFunction():
        return t.as_subclass(torch.Tensor).detach().float().cpu()


def _save(path: str, t: torch.Tensor, fmt: str = "%.6f") -> None:
    np.savetxt(path, _plain(t).flatten().numpy(), fmt=fmt)


class Dumper:
    def __init__(self) -> None:
        self._handles: List[Any] = []
        self.layer_stats: List[Dict[str, Any]] = []

    def __enter__(self) -> "Dumper":
        return self

    def __exit__(self, *exc) -> None:
        self.clear()

    def clear(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.layer_stats.clear()

    @staticmethod
    def _need_eval(model: nn.Module, what: str) -> None:
        if model.training:
            raise RuntimeError(f"linger.Dumper.{what}: the model is in training mode; call model.eval() first "
                               "(the dump shows the integer path that the runtime runs)")

    def enable_dump_quanted(self, model: nn.Module, path: str = "./dump", match_pattern: str = ".*") -> None:
        """Quantized layers (names matching `match_pattern`): input, output (float values) and output codes."""
        self._need_eval(model, "enable_dump_quanted")
        os.makedirs(path, exist_ok=True)
        rx = re.compile(match_pattern)
        for name, m in model.named_modules():
            if isinstance(m, (ModuleIntConfig, IQLayer)) and rx.match(name):
                self._handles.append(m.register_forward_hook(self._quant_hook(path, name, type(m).__name__)))

    @staticmethod
    def _quant_hook(path: str, name: str, typ: str) -> Callable:
        base = os.path.join(path, f"{name}.{typ}")

        def hook(_m, inputs, out):
            if inputs and isinstance(inputs[0], torch.Tensor):
                _save(base + ".input", inputs[0])
            if isinstance(out, torch.Tensor):
                _save(base + ".output", out)
                if is_iqtensor(out):
                    _save(base + ".output_int", torch.round(_plain(out) * 2.0 ** out.exponent), "%d")
        return hook

    def enable_dump_model(self, model: nn.Module, path: str = "./dump", match_pattern: str = ".*",
                          hook_forward: Optional[Callable] = None) -> None:
        """Every leaf module (names matching `match_pattern`): first input and output as float."""
        self._need_eval(model, "enable_dump_model")
        os.makedirs(path, exist_ok=True)
        rx = re.compile(match_pattern)
        for name, m in model.named_modules():
            if name and not any(True for _ in m.children()) and rx.match(name):
                def hook(_m, inputs, out, base=os.path.join(path, name)):
                    if inputs and isinstance(inputs[0], torch.Tensor):
                        _save(base + "_input_float", inputs[0])
                    if isinstance(out, torch.Tensor):
                        _save(base + "_output_float", out)
                self._handles.append(m.register_forward_hook(hook))

    def analyse_layer_output(self, model: nn.Module, match_pattern: str = ".*") -> None:
        """Collect wb_analyse's statistics of every leaf module's output at each forward."""
        rx = re.compile(match_pattern)
        for name, m in model.named_modules():
            if name and not any(True for _ in m.children()) and rx.match(name):
                def hook(_m, _i, out, name=name):
                    if isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel():
                        self.layer_stats.append({"name": name, **tensor_stats(_plain(out))})
                self._handles.append(m.register_forward_hook(hook))

    def save_out_analyse_log(self, save_log_path: str = "Analyse_layer_output.log") -> None:
        lines = ["Layer | Mean | Max | Multiple | Dynamic 0.99 | Versu"]
        for r in self.layer_stats:
            lines.append(f"{r['name']} | {r['mean']:.6f} | {r['max']:.6f} | {r['multiple']:.2f} | "
                         f"{r['dynamic_099']:.6f} | {r['versu']:.2f}")
            if r["versu"] > OUTLIER_RATIO:
                lines.append("!!! | !!! | !!! | !!! | !!! | !!!")
        with open(save_log_path, "w") as f:
            f.write("\n".join(lines) + "\n")


def dump_runtime(model: nn.Module, onnx_path: str, inputs: Any, path: str = "./dump_runtime",
                 isa: str = "auto") -> List[str]:
    """Run the exported file on the C++ runtime and write each quantized node's integer output as
    `<path>/<layer>.<Type>.output_int` -- the names `enable_dump_quanted` uses for the PyTorch eval codes,
    so the two directories compare file by file. Nodes are matched to layers in execution order (as
    `linger.tools.compare`). Returns the files written."""
    import onnx

    from .. import _dispatch
    from ..runtime import InferenceSession
    from .compare import _ELEM, _FAMILY, _FLOAT_WITHOUT_OBITS, _SKIP

    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    names = {m: n for n, m in model.named_modules()}
    order: List[str] = []
    handles = [m.register_forward_hook(lambda mod, i, o: order.append(f"{names[mod]}.{type(mod).__name__}"))
               for m in model.modules() if isinstance(m, (ModuleIntConfig, IQLayer))]

    def functional(op, out):
        order.append(f"functional_{len(order)}.{op}")

    was = {m: m.training for m in model.modules()}
    _dispatch.RECORDERS.append(functional)
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        _dispatch.RECORDERS.remove(functional)
        for h in handles:
            h.remove()
        for m, t in was.items():
            m.training = t
    proto = onnx.load(onnx_path)
    nodes = [n for n in proto.graph.node if n.domain in ("thinker", "linger") and n.op_type not in _SKIP]
    existing = {o.name for o in proto.graph.output}
    for n in nodes:
        if n.output[0] not in existing:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            bits = attrs.get("o_bits", None if _FAMILY.get(n.op_type) in _FLOAT_WITHOUT_OBITS else 8)
            proto.graph.output.append(onnx.helper.make_tensor_value_info(
                n.output[0], _ELEM.get(bits, onnx.TensorProto.FLOAT), None))
    sess = InferenceSession(proto.SerializeToString(), isa=isa)
    feeds = {i.name: t.detach().cpu().numpy() for i, t in zip(sess.get_inputs(), inputs)}
    results = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    os.makedirs(path, exist_ok=True)
    written = []
    for label, node in zip(order, nodes):
        v = np.asarray(results[node.output[0]])
        f = os.path.join(path, label + (".output_int" if v.dtype.kind == "i" else ".output"))
        np.savetxt(f, v.flatten(), fmt="%d" if v.dtype.kind == "i" else "%.6f")
        written.append(f)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    import copy
    import importlib

    import linger
    from .layer_report import demo_models
    p = argparse.ArgumentParser(prog="python -m linger.tools.dumper", description=__doc__.split("\n")[0])
    p.add_argument("--demo", action="store_true", help="dump a small conv-bn CNN after a few QAT steps")
    p.add_argument("--model", help="module:function returning the float model")
    p.add_argument("--qat-checkpoint", help="state_dict saved after QAT")
    p.add_argument("--input", help=".npy input batch")
    p.add_argument("--out", default="dump")
    p.add_argument("--match", default=".*", help="regular expression on layer names")
    a = p.parse_args(argv)
    if a.demo:
        _, qm, batches = demo_models()
        x = batches[0][:1]
    else:
        if not (a.model and a.qat_checkpoint and a.input):
            p.error("give --demo, or --model, --qat-checkpoint and --input")
        mod, _, fn = a.model.partition(":")
        qm = linger.init(getattr(importlib.import_module(mod), fn)())
        qm.load_state_dict(torch.load(a.qat_checkpoint, map_location="cpu"))
        x = torch.from_numpy(np.load(a.input)).float()
    qm.eval()
    with Dumper() as d, torch.no_grad():
        d.enable_dump_quanted(qm, a.out, a.match)
        d.enable_dump_model(qm, a.out, a.match)
        d.analyse_layer_output(qm, a.match)
        qm(x)
        d.save_out_analyse_log(os.path.join(a.out, "Analyse_layer_output.log"))
    onnx_path = os.path.join(a.out, "model.onnx")
    linger.onnx.export(qm, (x,), onnx_path)
    dump_runtime(qm, onnx_path, x, os.path.join(a.out, "runtime"))
    print(f"{len(os.listdir(a.out))} files written to {a.out}/ (runtime codes in {a.out}/runtime/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
