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
        self.bn_momentum_update_disabled = False

    def __repr__(self) -> str:
        return (f"linger.config(platform_quant={self.platform_quant.name}, iqadd={self.iqadd}, "
                f"bn_momentum_update_disabled={self.bn_momentum_update_disabled})")


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


def SetBnMomentumUpdate(disable: bool = True) -> None:
    """`disable=True` freezes the running mean/var of every BN-bearing linger module (NormalizeBatchNorm2d,
    the fused conv-bn modules of the float stage, BatchNorm2dInt). Read at every forward, so it can be
    called at any point (no ordering trap, seed Q27). Fused conv-bn QAT modules always use frozen statistics."""
    if not isinstance(disable, bool):
        raise TypeError(f"linger.SetBnMomentumUpdate expects a bool, got {type(disable).__name__}")
    config.bn_momentum_update_disabled = disable


def bn_momentum(momentum):
    """The momentum a BN-bearing module uses now (0 when frozen). `None` (cumulative average) is not supported."""
    if config.bn_momentum_update_disabled:
        return 0.0
    if momentum is None:
        raise ValueError("linger: BatchNorm momentum=None (cumulative moving average) is not supported; "
                         "set a numeric momentum such as 0.1")
    return float(momentum)
