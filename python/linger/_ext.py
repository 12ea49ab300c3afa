"""Loads the C++ extension (libraries built by CMake into linger/_lib)."""
from __future__ import annotations

import os

import torch

_LIB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib")
_LIB = os.path.join(_LIB_DIR, "liblinger_torch.so")


def _load() -> None:
    if not os.path.exists(_LIB):
        raise ImportError(
            f"linger: the C++ extension {_LIB} is missing. Build it with "
            "`bash scripts/setup.sh` (or `cmake -S . -B build && cmake --build build`) from the linger checkout."
        )
    torch.ops.load_library(_LIB)


_load()
ops = torch.ops.linger
