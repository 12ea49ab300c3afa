"""Tracing state helpers used by the training and eval paths (no export code here)."""
from __future__ import annotations

import contextlib
import sys

import torch


@contextlib.contextmanager
def tracing_paused():
    """Run a block without recording it into a TorchScript trace (statistics, exponent bookkeeping)."""
    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)
    try:
        yield
    finally:
        torch._C._set_tracing_state(state)


def exporting() -> bool:
    """Whether a torch.onnx export is running. torch 2.x imports torch.onnx only on first use (dozens of modules):
    no torch.onnx module yet means no export, and a training step must not import it."""
    onnx = sys.modules.get("torch.onnx")
    return onnx is not None and bool(onnx.is_in_onnx_export())
