"""Statistics shared by wb_analyse and Dumper (kept apart so `python -m linger.tools.wb_analyse` runs its module
fresh: `import linger` imports Dumper, not wb_analyse)."""
from __future__ import annotations

from typing import Dict

import torch

OUTLIER_RATIO = 10.0


def tensor_stats(v: torch.Tensor) -> Dict[str, float]:
    a = v.detach().float().abs().flatten().sort().values
    n = a.numel()
    mean = float(a.mean())
    mx = float(a[-1])
    pct = float(a[max(int(0.99 * n) - 1, 0)])
    return {"mean": mean, "max": mx, "multiple": mx / mean if mean > 0 else float("inf") if mx > 0 else 0.0,
            "dynamic_099": pct, "versu": mx / pct if pct > 0 else (float("inf") if mx > 0 else 0.0)}
