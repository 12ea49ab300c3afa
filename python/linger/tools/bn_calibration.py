"""Batch-norm statistics from data: `recalibrate_batch_norms(model, batches)`.

A network whose batch norms still hold their initial running statistics (mean 0, var 1: a random init, or a
model built from a checkpoint without them) computes in eval mode something very different from its train-mode
output, and `linger.init` freezes those statistics into the fused conv-bn layers (it warns). This sets every
batch norm's running mean and variance to the average of its batch statistics over `batches`: the exact mean of
the per-batch means and of the per-batch unbiased variances (the momentum of batch k is 1/k, which is also what
torch's `momentum=None` does).
"""
from __future__ import annotations

from typing import Iterable, Sequence, Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

Batch = Union[torch.Tensor, Sequence[torch.Tensor]]


def recalibrate_batch_norms(model: nn.Module, batches: Iterable[Batch]) -> int:
    """Resets the running statistics of every batch norm of `model` (torch BatchNorm1d/2d/3d, also inside
    linger's fused conv-bn layers of the float stage) and sets them to the average batch statistics of `batches`
    (each a tensor, or a tuple of the forward's arguments), run under torch.no_grad() with the model in train
    mode except dropout (which would perturb the statistics), whatever linger.SetBnMomentumUpdate says. Training
    modes, momenta and that setting are restored after.
    Returns the number of batch norms updated.

    Meant for the float model or the float stage (after trace_layers / normalize_layers, before linger.init):
    on a model already prepared by linger.init, train-mode batches also move its activation ranges, as any
    training batch does. Raises ValueError when `batches` is empty and the model has batch norms."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns:
        return 0
    from ..config import config  # linger.SetBnMomentumUpdate(disable=True) freezes linger's own BN updates
    frozen = config.bn_momentum_update_disabled
    modes = [(m, m.training) for m in model.modules()]
    momenta = [(bn, bn.momentum) for bn in bns]
    saved = [(bn, bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()) for bn in bns]
    count = 0
    try:
        config.bn_momentum_update_disabled = False
        for bn in bns:
            bn.reset_running_stats()
        model.train()
        for m in model.modules():
            if isinstance(m, _DropoutNd):
                m.eval()
        with torch.no_grad():
            for batch in batches:
                count += 1
                for bn in bns:
                    bn.momentum = 1.0 / count
                if isinstance(batch, torch.Tensor):
                    model(batch)
                else:
                    model(*batch)
        if count == 0:
            raise ValueError("linger.tools.recalibrate_batch_norms: `batches` gave no batch; pass a few batches of "
                             "representative inputs (e.g. 10-100 training batches)")
    except BaseException:
        for bn, rm, rv, nb in saved:  # leave the model as it was
            with torch.no_grad():
                bn.running_mean.copy_(rm)
                bn.running_var.copy_(rv)
                bn.num_batches_tracked.copy_(nb)
        raise
    finally:
        config.bn_momentum_update_disabled = frozen
        for bn, mom in momenta:
            bn.momentum = mom
        for m, mode in modes:
            m.training = mode
    return len(bns)
