"""Tracing state helpers used by the training and eval paths (no export code here)."""
from __future__ import annotations

import contextlib

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
    return bool(torch.onnx.is_in_onnx_export())
