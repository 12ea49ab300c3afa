"""Configuration switches (linger 1.x names) and enums."""
from __future__ import annotations

import enum


class QuantMode(enum.Enum):
    """Only power-of-two ("Q-value") scales exist in linger."""

    QValue = 1


class PlatFormQuant(enum.Enum):
    """Target platform: the LUNA NPU integer contract."""

    luna_quant = 1


class _Config:
    def __init__(self) -> None:
        self.platform_quant = PlatFormQuant.luna_quant
        self.iqadd = True

    def __repr__(self) -> str:
        return f"linger.config(platform_quant={self.platform_quant.name}, iqadd={self.iqadd})"


config = _Config()


def SetPlatFormQuant(platform_quant: PlatFormQuant = PlatFormQuant.luna_quant) -> None:
    if platform_quant is not PlatFormQuant.luna_quant:
        raise ValueError(f"linger.SetPlatFormQuant: only PlatFormQuant.luna_quant is supported, got {platform_quant!r}")
    config.platform_quant = platform_quant


def SetIQTensorAdd(enable: bool = True) -> None:
    """`+`, `+=`, `torch.add` on two quantized tensors inside a linger model become iqAdd (default on).
    Read at every call, so it can be changed at any time."""
    if not isinstance(enable, bool):
        raise TypeError(f"linger.SetIQTensorAdd expects a bool, got {type(enable).__name__}")
    config.iqadd = enable
