"""Tools around quantized models: `compare` (PyTorch eval vs runtime), dataset readers."""
from . import datasets

__all__ = ["datasets", "compare"]


def __getattr__(name: str):  # `linger.tools.compare` imports the runtime bindings lazily
    if name == "compare":
        import importlib
        return importlib.import_module(__name__ + ".compare")  # not `from . import`: that re-enters __getattr__
    raise AttributeError(f"module 'linger.tools' has no attribute {name!r}")
