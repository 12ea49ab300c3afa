"""ONNX export in the thinker dialect (docs/onnx-dialect.md)."""
from .export import export

__all__ = ["export"]
