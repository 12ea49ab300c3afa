"""Loads the C++ extension (built by CMake into linger/_lib, or installed there by `pip install .`)."""
from __future__ import annotations

import os
import re

import torch

from ._libdir import lib_dir

_LIB_DIR = lib_dir()
_LIB = os.path.join(_LIB_DIR, "liblinger_torch.so")
_BUILT_FOR = os.path.join(_LIB_DIR, "torch_version.txt")

_REBUILD = ("Rebuild it for this torch: `pip install .` (or `pip install -e .`) in the environment that imports this "
            "torch, or `cmake -S . -B build -DPython3_EXECUTABLE=<this python> && cmake --build build` in the linger "
            "checkout (docs/install.md).")


def _release(version: str) -> str:
    """'2.15.0+cu132' -> '2.15.0', '1.13.0a0+gitunknown' -> '1.13.0'."""
    m = re.match(r"\d+\.\d+\.\d+", version)
    return m.group(0) if m else version


def _load() -> None:
    if not os.path.exists(_LIB):
        raise ImportError(f"linger: the C++ extension {_LIB} is missing. " + _REBUILD)
    if os.path.exists(_BUILT_FOR):
        with open(_BUILT_FOR, encoding="utf-8") as f:
            built = f.read().strip()
        if _release(built) != _release(torch.__version__):
            raise ImportError(f"linger: the C++ extension {_LIB} was built for torch {built}, but this Python imports "
                              f"torch {torch.__version__} ({torch.__file__}); a torch extension only loads under the "
                              "torch release it was compiled against. " + _REBUILD)
    torch.ops.load_library(_LIB)


_load()
ops = torch.ops.linger
