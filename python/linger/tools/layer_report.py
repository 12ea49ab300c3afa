"""Per-layer quantization report: each quantized layer's int8 output (eval, the integer path) against the
float model's output of the layer with the same name, on the same inputs. For each layer: SQNR (dB), max
absolute error, saturation share (codes at -128/127), output exponent. Sorted worst (lowest SQNR) first;
a text table and PNG plots (matplotlib). This is the tool for "int8 accuracy dropped: which layer?".

    from linger.tools.layer_report import layer_report
    rows = layer_report(float_model, qat_model, batches, out_dir="report")

Command line (a factory returning the float model, its checkpoint, the QAT checkpoint, inputs as .npy):
    python -m linger.tools.layer_report --model mypkg.nets:make_net --float-checkpoint f.pt \
        --qat-checkpoint q.pt --input x.npy --out report
    python -m linger.tools.layer_report --demo --out report     # a small conv-bn CNN, a few QAT steps
"""
from __future__ import annotations

import argparse
import copy
import importlib
import math
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn as nn

from ..iqtensor import is_iqtensor
from ..nn.base import ModuleIntConfig
from ..nn.iqops import IQLayer


def _progress(it: Sequence[Any], desc: str) -> Iterable[Any]:
    try:
        from tqdm import tqdm  # optional
        return tqdm(it, desc=desc)
    except ImportError:
        def gen():
            n = len(it)
            for i, x in enumerate(it):
                print(f"\r{desc}: {i + 1}/{n}", end="", file=sys.stderr, flush=True)
                yield x
            print(file=sys.stderr)
        return gen()


def _plain(t: torch.Tensor) -> torch.Tensor:
    with torch._C.DisableTorchFunction():
        return t.as_subclass(torch.Tensor).detach().float()


class _Acc:
    def __init__(self) -> None:
        self.sig = 0.0
        self.noise = 0.0
        self.max_err = 0.0
        self.sat = 0
        self.count = 0
        self.exponent: Optional[int] = None
        self.order = -1


def layer_report(float_model: nn.Module, quant_model: nn.Module, inputs: Iterable[Any],
                 out_dir: Optional[str] = None, plots: bool = True) -> List[Dict[str, Any]]:
    """`float_model`: the float network with the same module names (e.g. a copy taken before `linger.init`,
    with the weights to compare); `quant_model`: after `linger.init` and QAT (run in eval here, then its mode
    is restored); `inputs`: batches (a tensor or a tuple of tensors each). Returns one dict per quantized layer
    (`layer`, `type`, `sqnr_db`, `max_abs_error`, `saturation`, `exponent`, `order`: position in the forward),
    worst first. The errors accumulate along the network: the culprit is the first layer in forward order whose
    SQNR drops (often with a large saturation share: its range statistic is too small). With `out_dir`
    writes layer_report.txt, layer_report_sqnr.png and layer_report_saturation.png."""
    qmods = {n: m for n, m in quant_model.named_modules() if isinstance(m, (ModuleIntConfig, IQLayer))}
    fmods = dict(float_model.named_modules())
    pairs = {n: m for n, m in qmods.items() if n in fmods}
    if not pairs:
        raise ValueError("linger.tools.layer_report: no quantized layer of quant_model has a module of the same name "
                         "in float_model; pass the float network before linger.init (same structure)")
    acc = {n: _Acc() for n in pairs}
    fout: Dict[str, torch.Tensor] = {}
    handles = []

    def fhook(name: str) -> Callable:
        def h(_m, _i, out):
            if isinstance(out, torch.Tensor):
                fout[name] = _plain(out)
        return h

    def qhook(name: str) -> Callable:
        def h(_m, _i, out):
            if not (isinstance(out, torch.Tensor) and is_iqtensor(out)) or name not in fout:
                return
            q, f = _plain(out), fout[name]
            if q.shape != f.shape:
                return
            a = acc[name]
            if a.order < 0:
                a.order = sum(1 for b in acc.values() if b.order >= 0)
            a.exponent = out.exponent
            err = q - f
            a.sig += float((f.double() ** 2).sum())
            a.noise += float((err.double() ** 2).sum())
            a.max_err = max(a.max_err, float(err.abs().max()) if err.numel() else 0.0)
            codes = torch.round(q * 2.0 ** out.exponent)
            hi = 2 ** (out.bits - 1)
            a.sat += int(((codes >= hi - 1) | (codes <= -hi)).sum())
            a.count += q.numel()
        return h

    for n in pairs:
        handles.append(fmods[n].register_forward_hook(fhook(n)))
        handles.append(qmods[n].register_forward_hook(qhook(n)))
    was_f, was_q = float_model.training, quant_model.training
    float_model.eval()
    quant_model.eval()
    batches = list(inputs)
    try:
        with torch.no_grad():
            for x in _progress(batches, "linger layer_report"):
                args = x if isinstance(x, tuple) else (x,)
                fout.clear()
                float_model(*args)
                quant_model(*args)
    finally:
        for h in handles:
            h.remove()
        float_model.train(was_f)
        quant_model.train(was_q)
    rows = []
    for n, a in acc.items():
        if a.count == 0:
            continue
        sqnr = math.inf if a.noise == 0 else (10 * math.log10(a.sig / a.noise) if a.sig > 0 else -math.inf)
        rows.append({"layer": n, "type": type(pairs[n]).__name__, "sqnr_db": sqnr, "max_abs_error": a.max_err,
                     "saturation": a.sat / a.count, "exponent": a.exponent, "order": a.order})
    rows.sort(key=lambda r: (r["sqnr_db"], -r["saturation"]))
    if out_dir:
        write(rows, out_dir, plots)
    return rows


def format_table(rows: List[Dict[str, Any]]) -> str:
    head = (f"{'layer':30s} {'type':20s} {'SQNR dB':>9s} {'max |err|':>11s} {'saturated':>10s} {'exponent':>8s} "
            f"{'order':>5s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['layer']:30s} {r['type']:20s} {r['sqnr_db']:9.2f} {r['max_abs_error']:11.6f} "
                     f"{100 * r['saturation']:9.2f}% {r['exponent']:8d} {r['order']:5d}")
    return "\n".join(lines)


def write(rows: List[Dict[str, Any]], out_dir: str, plots: bool = True) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "layer_report.txt")]
    with open(paths[0], "w") as f:
        f.write(format_table(rows) + "\n")
    if plots:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = [r["layer"] for r in rows]
        for key, label, fname in (("sqnr_db", "SQNR (dB), worst first", "layer_report_sqnr.png"),
                                  ("saturation", "saturated share of outputs", "layer_report_saturation.png")):
            vals = [min(r[key], 100.0) if key == "sqnr_db" else r[key] for r in rows]
            fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
            ax.barh(range(len(rows)), vals, color="tab:red" if key == "saturation" else "tab:blue")
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels(names)
            ax.invert_yaxis()
            ax.set_xlabel(label)
            ax.set_title("linger per-layer quantization report")
            fig.tight_layout()
            p = os.path.join(out_dir, fname)
            fig.savefig(p, dpi=80)
            plt.close(fig)
            paths.append(p)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# command line

class DemoNet(nn.Module):
    """The conv-bn CNN of examples/fashion_mnist_demo.py."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        return self.fc(x.flatten(1))


def demo_models(steps: int = 5, seed: int = 0):
    """(float model, QAT model, input batches): DemoNet on random images after a few QAT steps."""
    import linger
    torch.manual_seed(seed)
    fm = DemoNet()
    qm = copy.deepcopy(fm)
    linger.init(qm)
    opt = torch.optim.SGD(qm.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(qm(torch.randn(16, 1, 28, 28)), torch.randint(0, 10, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    fm.load_state_dict({k: v for k, v in qm.state_dict().items() if k in fm.state_dict()})
    return fm, qm, [torch.randn(8, 1, 28, 28) for _ in range(2)]


def main(argv: Optional[List[str]] = None) -> int:
    import numpy as np
    import linger
    p = argparse.ArgumentParser(prog="python -m linger.tools.layer_report", description=__doc__.split("\n")[0])
    p.add_argument("--demo", action="store_true", help="report on a small conv-bn CNN after a few QAT steps")
    p.add_argument("--model", help="module:function returning the float model")
    p.add_argument("--float-checkpoint", help="state_dict of the float model (optional)")
    p.add_argument("--qat-checkpoint", help="state_dict saved after QAT (linger.init applied to the same model)")
    p.add_argument("--input", help=".npy input batch")
    p.add_argument("--out", default="layer_report", help="output directory (table and plots)")
    p.add_argument("--no-plots", action="store_true")
    a = p.parse_args(argv)
    if a.demo:
        fm, qm, batches = demo_models()
    else:
        if not (a.model and a.qat_checkpoint and a.input):
            p.error("give --demo, or --model, --qat-checkpoint and --input")
        mod, _, fn = a.model.partition(":")
        factory = getattr(importlib.import_module(mod), fn)
        fm = factory()
        if a.float_checkpoint:
            fm.load_state_dict(torch.load(a.float_checkpoint, map_location="cpu"))
        qm = linger.init(copy.deepcopy(fm))
        qm.load_state_dict(torch.load(a.qat_checkpoint, map_location="cpu"))
        if not a.float_checkpoint:
            fm.load_state_dict({k: v for k, v in qm.state_dict().items() if k in fm.state_dict()})
        batches = [torch.from_numpy(np.load(a.input)).float()]
    rows = layer_report(fm, qm, batches, out_dir=a.out, plots=not a.no_plots)
    print(format_table(rows))
    print(f"written to {a.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
