"""`wb_analyse(path_or_state_dict)`: per-tensor weight/bias statistics of a checkpoint and a warning for
outliers (linger 1.x `linger.tools.wb_analyse`).

For every floating-point tensor whose key does not contain "running" (statistics) or start with "scale_":
mean |v|, max |v|, max/mean ("Multiple"), the 99th percentile of |v| ("Dynamic 0.99": element int(0.99 n) - 1
of the sorted |v|, as 1.x) and max/percentile ("Versu"). A tensor with Versu > 10 has a few values far
beyond the rest: at 8 bits with a power-of-two scale set by the maximum, most of its values then use only a
few codes. Command line: `python -m linger.tools.wb_analyse checkpoint.pt [--log wb_analyse.log]`.
"""
from __future__ import annotations

import argparse
import warnings
from typing import Dict, List, Mapping, Optional, Union

import torch

from ._stats import OUTLIER_RATIO, tensor_stats  # noqa: F401  (part of this module's API)
HEADER = ("Layer", "Mean", "Max", "Multiple", "Dynamic 0.99", "Versu")


def _load(path_or_state_dict: Union[str, Mapping[str, torch.Tensor]]) -> Mapping[str, torch.Tensor]:
    if isinstance(path_or_state_dict, Mapping):
        sd = path_or_state_dict
    else:
        sd = torch.load(path_or_state_dict, map_location="cpu")
    if isinstance(sd, torch.nn.Module):
        sd = sd.state_dict()
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise TypeError(f"linger.tools.wb_analyse: expected a state_dict (or a file holding one), got "
                        f"{type(sd).__name__}")
    return sd


def wb_analyse(path_or_state_dict: Union[str, Mapping[str, torch.Tensor]],
               save_log_path: Optional[str] = None) -> List[Dict[str, object]]:
    """Statistics per tensor (a list of dicts with `name` and the columns above, in checkpoint order); prints
    the table (and writes it to `save_log_path` if given); warns naming every tensor with Versu > 10."""
    sd = _load(path_or_state_dict)
    rows: List[Dict[str, object]] = []
    for name, v in sd.items():
        leaf = name.split(".")[-1]
        if "running" in name or leaf.startswith("scale_") or not isinstance(v, torch.Tensor) \
                or not v.is_floating_point() or v.numel() == 0:
            continue
        rows.append({"name": name, **tensor_stats(v)})
    lines = [" | ".join(HEADER)]
    for r in rows:
        lines.append(f"{r['name']} | {r['mean']:.6f} | {r['max']:.6f} | {r['multiple']:.2f} | "
                     f"{r['dynamic_099']:.6f} | {r['versu']:.2f}")
        if r["versu"] > OUTLIER_RATIO:
            lines.append("!!! " + " | ".join(["!!!"] * (len(HEADER) - 1)))
    text = "\n".join(lines)
    print(text)
    if save_log_path:
        with open(save_log_path, "w") as f:
            f.write(text + "\n")
    outliers = [r for r in rows if r["versu"] > OUTLIER_RATIO]
    if outliers:
        warnings.warn("linger.tools.wb_analyse: outliers (max |v| > 10x the 99th percentile) in " +
                      ", ".join(f"{r['name']} ({r['versu']:.1f}x)" for r in outliers) +
                      ": their 8-bit scale is set by a few values. Constrain them in stage 1 "
                      "(linger.normalize_layers, normalize_weight_value) or check the training.", RuntimeWarning,
                      stacklevel=2)
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m linger.tools.wb_analyse", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a file saved with torch.save (a state_dict, {'state_dict': ...} or a model)")
    p.add_argument("--log", default=None, help="also write the table to this file")
    a = p.parse_args(argv)
    rows = wb_analyse(a.checkpoint, a.log)
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
