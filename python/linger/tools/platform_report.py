"""Per-layer share-mem estimate and hardware limits of a model for a target platform (docs/platforms.md).

    python -m linger.tools.platform_report --model examples.fashion_mnist_demo:ConvBNCNN --input 1,1,28,28 \
        --platform venusA

`platform_report(model, example_input, platform)` returns one row per layer that runs on the NPU (quantized
modules and max pools): its share-mem estimate (int8 input with conv channels aligned to 8, int8 output, staged
int8 weights + int32 bias), its fraction of the platform's share-mem, the limits it breaks (`violations`) and
those it is near (>= 80 % of a limit, or at it: kernel 5, the largest stride). Nothing in the model changes.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import sys
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from .. import platform as _plat


def _near(m: nn.Module, p: "_plat.Platform", mem_total: int) -> List[str]:
    near = []
    if mem_total >= p.near * p.shared_mem_kb * 1024:
        near.append(f"share-mem {100.0 * mem_total / (p.shared_mem_kb * 1024):.0f}% of {p.shared_mem_kb} KB")
    k = getattr(m, "kernel_size", None)
    if k is not None and isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.AvgPool2d)):
        k = _plat._pair(k)
        if max(k) == p.max_kernel:
            near.append(f"kernel {max(k)} = limit {p.max_kernel}")
    if isinstance(m, nn.Linear) and m.in_features >= p.near * p.linear_max_in:
        near.append(f"in_features {m.in_features} of limit {p.linear_max_in}")
    return near


def platform_report(model: nn.Module, example_input, platform: Optional[str] = None) -> List[Dict[str, object]]:
    """Rows (dicts: name, type, input_bytes, output_bytes, weight_bytes, total_bytes, fraction, near,
    violations) for `model` (after `linger.init`) on `example_input`; platform default: the model's or
    SetPlatform's, else 'venus'."""
    from ..nn.base import ModuleIntConfig
    name = _plat.resolve(model, "tools.platform_report", platform)[0] or _plat.DEFAULT
    p = _plat.PLATFORMS[name]
    shapes: Dict[str, tuple] = {}
    # shapes from a training-mode forward of a copy: needs no statistics and changes nothing in `model`
    work = copy.deepcopy(model).train()
    names = {n for n, m in model.named_modules() if isinstance(m, (ModuleIntConfig, nn.MaxPool2d))}
    def record(n):
        def hook(m, inp, out):  # returns None: the output is not replaced
            if inp and isinstance(inp[0], torch.Tensor) and isinstance(out, torch.Tensor):
                shapes.setdefault(n, (list(inp[0].shape), list(out.shape)))
        return hook
    for n, m in work.named_modules():
        if n in names:
            m.register_forward_hook(record(n))
    with torch.no_grad():
        work(*(example_input if isinstance(example_input, tuple) else (example_input,)))
    mods = [(n, m) for n, m in model.named_modules() if n in names]
    rows = []
    for n, m in mods:
        if n not in shapes:
            continue
        mem = _plat.layer_memory(m, *shapes[n])
        single = nn.Module()
        single.add_module(n.replace(".", "_") or "model", m)
        viol = [v.split(": ", 1)[1] for v in _plat.static_violations(single, p)]
        if mem["total"] > p.shared_mem_kb * 1024:
            viol.append(f"share-mem estimate {mem['total']} B exceeds {p.shared_mem_kb} KB")
        rows.append(dict(name=n, type=type(m).__name__, input_bytes=mem["input"], output_bytes=mem["output"],
                         weight_bytes=mem["weights"], total_bytes=mem["total"],
                         fraction=mem["total"] / (p.shared_mem_kb * 1024), near=_near(m, p, mem["total"]),
                         violations=viol, platform=name))
    return rows


def format_report(rows: List[Dict[str, object]]) -> str:
    if not rows:
        return "no NPU layers found"
    plat = rows[0]["platform"]
    lines = [f"platform {plat} ({_plat.PLATFORMS[plat].shared_mem_kb} KB share-mem)",
             f"{'layer':30s} {'type':20s} {'in B':>9s} {'out B':>9s} {'w B':>9s} {'total B':>9s} {'share':>6s}  notes"]
    for r in rows:
        notes = "; ".join([f"LIMIT: {v}" for v in r["violations"]] + [f"near: {v}" for v in r["near"]])
        lines.append(f"{r['name']:30s} {r['type']:20s} {r['input_bytes']:9d} {r['output_bytes']:9d} "
                     f"{r['weight_bytes']:9d} {r['total_bytes']:9d} {100 * r['fraction']:5.1f}%  {notes}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    import linger
    ap = argparse.ArgumentParser(prog="python -m linger.tools.platform_report", description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="module:callable returning a float nn.Module")
    ap.add_argument("--input", required=True, help="example input shape, e.g. 1,1,28,28")
    ap.add_argument("--platform", default=None, choices=list(_plat.PLATFORMS))
    a = ap.parse_args(argv)
    mod, _, fn = a.model.partition(":")
    sys.path.insert(0, ".")
    model = getattr(importlib.import_module(mod), fn)()
    model = linger.init(model, limits="off") if a.platform is None else \
        linger.init(model, platform=a.platform, limits="off")
    rows = platform_report(model, torch.randn(*[int(v) for v in a.input.split(",")]), a.platform)
    print(format_report(rows))
    return 1 if any(r["violations"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
