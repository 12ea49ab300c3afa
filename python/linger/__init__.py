"""linger: int8 quantization-aware training for PyTorch, bit-exact with its C++ integer runtime."""
from __future__ import annotations

from ._ext import ops
from .config import PlatFormQuant, QuantMode, SetIQTensorAdd, SetPlatFormQuant, config
from .context import get_current_module
from .initialize import DefaultQuantIntXOP, SupportQuantTorchModules, disable_quant, init, quant_module
from .iqtensor import IQTensor, from_torch_tensor, is_iqtensor
from .nn import AvgPool2dInt, Conv2dInt, LinearInt, ModuleIntConfig, iqAddLayer
from .quant import exponent_for_range, fake_quant

from ._version import __version__

__all__ = [
    "init", "disable_quant", "quant_module", "QuantMode", "PlatFormQuant", "SetIQTensorAdd", "SetPlatFormQuant",
    "config", "IQTensor", "from_torch_tensor", "is_iqtensor", "Conv2dInt", "LinearInt", "AvgPool2dInt",
    "iqAddLayer", "ModuleIntConfig", "DefaultQuantIntXOP", "SupportQuantTorchModules", "get_current_module",
    "fake_quant", "exponent_for_range", "ops",
]
