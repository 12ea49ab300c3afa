"""ONNX export in the thinker dialect (docs/onnx-dialect.md)."""
import warnings as _warnings

from .export import export, torchscript_kwargs

# torch 1.13 warns "The shape inference of thinker::X type is missing" for every custom-domain node, before
# and regardless of the type the symbolic sets; linger's symbolics all set the output type and shape
# (onnx/functions.py set_type), so plain torch.onnx.export of a linger model stays quiet too. Only the
# messages about linger's own domains are filtered.
_warnings.filterwarnings("ignore", message=r"The shape inference of (thinker|linger)::", category=UserWarning)

__all__ = ["export", "torchscript_kwargs"]
