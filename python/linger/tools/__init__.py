"""Tools around quantized models: `compare` (PyTorch eval vs runtime), dataset readers."""
from . import datasets

__all__ = ["datasets", "compare"]


def __getattr__(name):  # `linger.tools.compare` imports the runtime bindings lazily
    if name == "compare":
        from . import compare as _compare
        return _compare
    raise AttributeError(name)
