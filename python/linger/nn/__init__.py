"""Quantized modules."""
from .avgpool2d_int import AvgPool2dInt
from .base import ModuleIntConfig
from .conv2d_int import Conv2dInt
from .iqadd import iqAddLayer
from .linear_int import LinearInt

__all__ = ["ModuleIntConfig", "Conv2dInt", "LinearInt", "AvgPool2dInt", "iqAddLayer"]
