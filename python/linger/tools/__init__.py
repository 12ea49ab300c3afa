"""Tools around quantized models: `compare` (PyTorch eval vs runtime), dataset readers, `platform_report`
(per-layer share-mem and the hardware limits a model is near)."""
from . import datasets

__all__ = ["datasets", "compare", "platform_report"]


def __getattr__(name):  # `linger.tools.compare` imports the runtime bindings lazily
    if name == "compare":
        from . import compare as _compare
        return _compare
    if name == "platform_report":  # the function; the module is linger.tools.platform_report (CLI)
        from .platform_report import platform_report as _report
        return _report
    raise AttributeError(name)
