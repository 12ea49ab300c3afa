"""Where the compiled parts live (liblinger_torch.so, the runtime module, linger-run, linger-pack): `_lib` in the
first folder of the linger package's search path that has them. One folder for a regular install (`pip install .`)
or the checkout after a CMake build; for an editable install (`pip install -e .`) the package's path lists the
install folder, which holds the compiled files, before the checkout's python/linger."""
from __future__ import annotations

import os
import sys


def lib_dir(marker: str = "liblinger_torch.so") -> str:
    pkg = sys.modules[__name__.rpartition(".")[0]]
    dirs = [os.path.join(os.path.abspath(d), "_lib") for d in getattr(pkg, "__path__", [])]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib")
    for d in dirs + [here]:
        if os.path.exists(os.path.join(d, marker)):
            return d
    return dirs[0] if dirs else here
