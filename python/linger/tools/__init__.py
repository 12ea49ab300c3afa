"""Tools around quantized models: `compare` (PyTorch eval vs runtime), dataset readers, `platform_report`
(per-layer share-mem and the hardware limits a model is near), `wb_analyse` (weight/bias statistics),
`layer_report` (per-layer int8 vs float: SQNR, saturation, plots), `Dumper` (per-layer tensors to files),
`recalibrate_batch_norms` (batch-norm running statistics from data batches)."""
from . import datasets
from .bn_calibration import recalibrate_batch_norms
from .dumper import Dumper

__all__ = ["datasets", "compare", "platform_report", "wb_analyse", "layer_report", "Dumper",
           "recalibrate_batch_norms"]


def __getattr__(name: str):  # `linger.tools.compare` imports the runtime bindings lazily
    if name == "compare":
        import importlib
        return importlib.import_module(__name__ + ".compare")  # not `from . import`: that re-enters __getattr__
    if name == "platform_report":  # the function; the module linger.tools.platform_report is the CLI
        import importlib
        fn = importlib.import_module(__name__ + ".platform_report").platform_report
        globals()["platform_report"] = fn  # importing the submodule bound its name to the module: rebind
        return fn
    if name in ("layer_report", "wb_analyse"):  # the function (the module of the same name is the CLI)
        import importlib
        fn = getattr(importlib.import_module(f"{__name__}.{name}"), name)
        globals()[name] = fn  # importing the submodule bound its name to the module: rebind
        return fn
    raise AttributeError(f"module 'linger.tools' has no attribute {name!r}")
