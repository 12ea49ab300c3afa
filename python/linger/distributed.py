"""Activation statistics under multi-process training (DistributedDataParallel), docs/ddp.md.

When `torch.distributed` is initialised with more than one process and the sync is on (the default,
`linger.SetDistributedStatsSync`), every training-mode observation of an activation statistic reduces its batch
statistic over the ranks before the running value is updated, so all ranks hold the same running values and
exponents and export the same bytes:

- `running_x` / `running_o` / `running_y` (max |x| of the batch): all_reduce MAX of the per-rank batch maxima,
  which is exactly the max over the global batch (the union of the ranks' batches), i.e. what one process sees
  when it trains on that batch;
- BatchNorm running mean/var (`bnutil.batch_stats`): the per-rank counts, means and biased variances are
  gathered and combined in rank order (Chan et al.'s pairwise formula), giving the global batch's mean and
  variance on every rank; the forward normalises with the local batch's statistics, as plain BatchNorm under DDP.

Weights need nothing: DDP keeps them identical. The collectives are synchronous and run in the same order on
every rank as long as every rank runs the same quantized modules in each training step (DDP's own requirement).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.distributed

_state = {"enabled": True, "group": None}

NAN_MESSAGE = "linger: NaN in a tensor being quantized (training diverged? lower the learning rate)"


def SetDistributedStatsSync(enable: bool = True, group: Any = None) -> None:
    """Synchronise activation statistics across the ranks of `group` (default: the whole world) in training
    when torch.distributed is initialised (default on). `enable=False` lets each rank keep its own statistics."""
    if not isinstance(enable, bool):
        raise TypeError(f"linger.SetDistributedStatsSync expects a bool, got {type(enable).__name__}")
    _state["enabled"] = enable
    _state["group"] = group


def _group() -> Tuple[bool, Any]:
    """(sync now, process group)."""
    if not _state["enabled"]:
        return False, None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return False, None
    group = _state["group"]
    world = dist.get_world_size(group) if group is not None else dist.get_world_size()
    return world > 1, group


def active() -> bool:
    """Whether training statistics are reduced over ranks now."""
    return _group()[0]


def _device_for(group: Any, like: torch.Tensor) -> torch.device:
    backend = torch.distributed.get_backend(group) if group is not None else torch.distributed.get_backend()
    return like.device if str(backend) == "nccl" else torch.device("cpu")


def global_absmax(x: torch.Tensor, positive_only: bool) -> Optional[torch.Tensor]:
    """The max |x| (max(x, 0) with `positive_only`) over the batches of all ranks, as a float32 tensor of one
    element, or None when no sync is active. A NaN on any rank raises on every rank (no rank is left waiting)."""
    on, group = _group()
    if not on:
        return None
    with torch.no_grad():
        d = x.detach()
        if d.numel() == 0:
            m = torch.zeros((), dtype=torch.float32, device=d.device)
        elif positive_only:
            m = d.max().float().clamp_min(0.0)
        else:
            m = d.abs().max().float()
        nan = torch.isnan(m)
        buf = torch.stack([torch.where(nan, torch.zeros_like(m), m), nan.float()]).to(_device_for(group, d))
        torch.distributed.all_reduce(buf, op=torch.distributed.ReduceOp.MAX, group=group)
        buf = buf.cpu()
    if buf[1].item() != 0.0:
        raise RuntimeError(NAN_MESSAGE)
    return buf[:1].clone()


def global_moments(mean: torch.Tensor, var: torch.Tensor, n: float) -> Optional[Tuple[torch.Tensor, torch.Tensor,
                                                                                         float]]:
    """Combine per-rank (mean, biased var, count) per channel into the global batch's, identically on every
    rank (gathered, then merged in rank order), or None when no sync is active."""
    on, group = _group()
    if not on:
        return None
    dist = torch.distributed
    with torch.no_grad():
        dev = _device_for(group, mean)
        c = mean.numel()
        mine = torch.cat([mean.detach().reshape(-1).double(), var.detach().reshape(-1).double(),
                          torch.tensor([float(n)], dtype=torch.float64, device=mean.device)]).to(dev)
        world = dist.get_world_size(group) if group is not None else dist.get_world_size()
        parts = [torch.empty_like(mine) for _ in range(world)]
        dist.all_gather(parts, mine, group=group)
        parts = [p.cpu() for p in parts]
        g_mean, g_m2, g_n = parts[0][:c].clone(), parts[0][c:2 * c] * parts[0][2 * c], float(parts[0][2 * c])
        for p in parts[1:]:
            m_b, v_b, n_b = p[:c], p[c:2 * c], float(p[2 * c])
            tot = g_n + n_b
            delta = m_b - g_mean
            g_mean = g_mean + delta * (n_b / tot)
            g_m2 = g_m2 + v_b * n_b + delta * delta * (g_n * n_b / tot)
            g_n = tot
    return (g_mean.to(mean.dtype).to(mean.device), (g_m2 / g_n).to(var.dtype).to(var.device), g_n)
