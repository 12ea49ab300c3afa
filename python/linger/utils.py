"""linger 1.x `linger.utils`: enums, per-module info records, attribute-name constants, small helpers."""
from __future__ import annotations

import logging
import torch
import torch.nn as nn

from .compat import (LINGER_AHEAD_RELU, LINGER_AHEAD_SIGMOID, LINGER_FUNCINT_BMM_COUNTER,
                     LINGER_IQTENSOR_LAYER_COUNTER, LINGER_MODE, LINGER_OBIT, LINGER_ROUND_TENSOR_PREFIX, ClampInfo,
                     QuantInfo)
from .config import PlatFormQuant, QuantMode

logger = logging.getLogger("linger")


class Singleton:
    """1.x base class: one instance per subclass."""

    _instances: dict = {}

    def __new__(cls, *args, **kwargs):
        if cls not in Singleton._instances:
            Singleton._instances[cls] = super().__new__(cls)
        return Singleton._instances[cls]


def get_device(model: nn.Module) -> torch.device:
    """The device of the first parameter (or buffer) of `model`; cpu for a model without tensors."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def get_max_value(bits: int) -> int:
    """The largest code of a signed `bits`-bit integer."""
    return 2 ** (bits - 1) - 1


__all__ = ["QuantMode", "PlatFormQuant", "QuantInfo", "ClampInfo", "Singleton", "get_device", "get_max_value",
           "logger", "LINGER_AHEAD_RELU", "LINGER_AHEAD_SIGMOID", "LINGER_FUNCINT_BMM_COUNTER",
           "LINGER_IQTENSOR_LAYER_COUNTER", "LINGER_MODE", "LINGER_OBIT", "LINGER_ROUND_TENSOR_PREFIX"]
