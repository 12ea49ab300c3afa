"""Errors that say what to do (seed Q5, Q11, G6): hooks `linger.init` puts on every quantized module.

* training: a NaN/Inf input, weight or output names the module and the likely cause (ModuleIntConfig._observe);
  a NaN/Inf gradient arriving
  at a module's output names the module and the float op after it that is the usual culprit (Q5); an
  all-zero output warns once per module (a following sqrt/log/atan2 then breaks the backward, Q5);
* `torch.autocast` (mixed precision) is refused with the fix (G6);
* eval with gradients enabled: the output carries a node whose backward raises a linger error saying to call
  `model.train()` (Q11; as in PyTorch, an eval output requires grad unless under `torch.no_grad()`)."""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import torch
import torch.nn as nn

from ._tracing import exporting
from .iqtensor import _make, is_iqtensor


def _label(module: nn.Module) -> str:
    return f"'{getattr(module, '_linger_name', '') or type(module).__name__}' ({type(module).__name__})"


def _plain(t: torch.Tensor) -> torch.Tensor:
    if type(t) is not torch.Tensor:
        with torch._C.DisableTorchFunction():
            return t.as_subclass(torch.Tensor)
    return t


def _finite(t: torch.Tensor) -> bool:
    """One pass: a sum is finite iff every element is (short of float32 overflow, itself a divergence)."""
    with torch._C.DisableTorchFunction():
        return math.isfinite(float(_plain(t).detach().sum()))


def _autocast_on() -> bool:
    try:  # torch >= 2.4: per device type (the device-less forms are deprecated there)
        return bool(torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda"))
    except TypeError:  # torch 1.13
        return bool(torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled())


def _torch_export_running() -> bool:
    """torch.export tracing (torch 2.x), which torch.onnx.export's dynamo exporter (its default from torch 2.9) runs."""
    is_exporting = getattr(getattr(torch, "compiler", None), "is_exporting", None)
    return bool(is_exporting()) if is_exporting is not None else False


def pre_forward_guard(module: nn.Module, inputs: Any) -> None:
    if exporting() or torch.jit.is_tracing():
        return
    if _torch_export_running():
        raise RuntimeError(
            f"linger: module {_label(module)} is being traced by torch.export (torch.onnx.export's dynamo exporter, "
            "the default from torch 2.9 on), which cannot write linger's thinker nodes. Use linger.onnx.export(...), "
            "or torch.onnx.export(..., **linger.onnx.torchscript_kwargs()) for the TorchScript exporter "
            "(docs/export.md).")
    if _autocast_on():
        raise RuntimeError(
            f"linger: module {_label(module)} runs under torch.autocast (mixed precision). linger QAT trains a "
            "float32 network to int8 (seed G6): remove torch.autocast / GradScaler around the quantized model.")


class _GradCheck:
    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, grad: torch.Tensor) -> None:
        if not _finite(grad):
            raise RuntimeError(
                f"linger: the gradient reaching the output of module {self.label} is NaN/Inf (seed Q5). Usual "
                "causes: an op after it whose derivative is infinite where a quantized value is exactly 0 (sqrt, "
                "log, atan2, division, pow with exponent < 1: add an epsilon, e.g. torch.sqrt(x + 1e-6)); a batch "
                "norm after it over very few values (tiny batches at 1x1 spatial size: use larger batches or "
                "inputs); too high a learning rate.")


class _EvalBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, anchor: torch.Tensor, label: str) -> torch.Tensor:  # type: ignore[override]
        ctx.label = label
        return x.clone()  # not a view: callers may modify the output in place

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        raise RuntimeError(
            f"linger: backward() through module {ctx.label}, which ran in eval mode: eval runs the integer path, "
            "which has no gradient (seed Q11). Call model.train() before the training forward (and model.eval() "
            "only for evaluation, under torch.no_grad()).")


def forward_guard(module: nn.Module, inputs: Any, output: Any) -> Optional[Any]:
    if not isinstance(output, torch.Tensor) or exporting() or torch.jit.is_tracing():
        return None
    if module.training:
        if not torch.is_grad_enabled():
            return None
        if output.requires_grad:
            with torch._C.DisableTorchFunction():
                torch.Tensor.register_hook(output, _GradCheck(_label(module)))
        if not getattr(module, "_linger_warned_zero", False) and output.numel() > 1:
            with torch._C.DisableTorchFunction():
                zero = not bool(_plain(output).detach().any())
            if zero:
                module._linger_warned_zero = True
                warnings.warn(
                    f"linger: module {_label(module)} output is all zeros in training: its inputs or weights "
                    "collapsed (dead ReLU, too high a learning rate) or its range rounds to 0 at 8 bits. A float op "
                    "after it such as sqrt/log/atan2 then gets exactly 0 and its backward gives NaN (seed Q5); add "
                    "an epsilon there and check the learning rate.", RuntimeWarning, stacklevel=2)
        return None
    if not torch.is_grad_enabled() or output.requires_grad:
        return None
    anchor = next((p for p in module.parameters() if p.requires_grad), None)
    if anchor is None:
        return None
    guarded = _EvalBackward.apply(_plain(output), anchor, _label(module))
    if is_iqtensor(output):
        return _make(guarded, output.scale_data, output.bits, output.running_data)
    return guarded


def install(module: nn.Module) -> None:
    """Put the guards on a quantized module (once)."""
    if getattr(module, "_linger_guarded", False):
        return
    module.register_forward_pre_hook(pre_forward_guard)
    module.register_forward_hook(forward_guard)
    module._linger_guarded = True
