"""Configuration switches (linger 1.x names) and enums."""
from __future__ import annotations

import enum


class QuantMode(enum.Enum):
    """Only power-of-two ("Q-value") scales exist in linger."""

    QValue = 1


class PlatFormQuant(enum.Enum):
    """Target platform: the LUNA NPU integer contract."""

    luna_quant = 1


# The arithmetic switches of linger 1.x (spec §2.9): config field -> the ops it controls. Each is read at every
# call, so it can be changed at any time. Off: the op runs in float (training and eval) between a Dequant and a
# Quant of its own, so the exported file stays correct.
SWITCHES = {
    "iqadd": "`+`, `+=`, torch.add (iqAdd)",
    "iqmul": "`*`, `*=`, torch.mul (iqMul)",
    "iqdiv": "`/`, torch.div (iqDiv)",
    "iqsum": "`.sum()`, torch.sum (iqSum)",
    "iqcat": "torch.cat, torch.stack (iqCat)",
    "iqclamp": "torch.clamp, clamp_, clip (iqClamp)",
    "iqsigmoid": "torch.sigmoid, sigmoid_, nn.Sigmoid (iqSigmoid)",
    "iqtanh": "torch.tanh, tanh_, nn.Tanh (iqTanh)",
    "softmaxint": "softmax, nn.Softmax (SoftmaxInt)",
    "logsoftmaxint": "log_softmax, nn.LogSoftmax (LogSoftmaxInt)",
    "iqvar": "torch.var (iqVar)",
    "bmm": "torch.bmm, torch.matmul, `@` (BmmInt)",
    "channel_shuffle": "linger.channel_shuffle (ShuffleChannel)",
}


class _Config:
    def __init__(self) -> None:
        self.platform_quant = PlatFormQuant.luna_quant
        for name in SWITCHES:
            setattr(self, name, True)
        self.bn_momentum_update_disabled = False

    def __repr__(self) -> str:
        flags = ", ".join(f"{n}={getattr(self, n)}" for n in SWITCHES)
        return (f"linger.config(platform_quant={self.platform_quant.name}, {flags}, "
                f"bn_momentum_update_disabled={self.bn_momentum_update_disabled})")


config = _Config()


def SetPlatFormQuant(platform_quant: PlatFormQuant = PlatFormQuant.luna_quant) -> None:
    if platform_quant is not PlatFormQuant.luna_quant:
        raise ValueError(f"linger.SetPlatFormQuant: only PlatFormQuant.luna_quant is supported, got {platform_quant!r}")
    config.platform_quant = platform_quant


def _set(field: str, setter: str, enable: bool) -> None:
    if not isinstance(enable, bool):
        raise TypeError(f"linger.{setter} expects a bool, got {type(enable).__name__}")
    setattr(config, field, enable)


def SetIQTensorAdd(enable: bool = True) -> None:
    """`+`, `+=`, `torch.add` on quantized tensors inside a linger model become iqAdd (default on)."""
    _set("iqadd", "SetIQTensorAdd", enable)


def SetIQTensorMul(enable: bool = True) -> None:
    """`*`, `*=`, `torch.mul` on quantized tensors become iqMul (default on)."""
    _set("iqmul", "SetIQTensorMul", enable)


def SetIQTensorDiv(enable: bool = True) -> None:
    """`/`, `torch.div` on quantized tensors become iqDiv (default on)."""
    _set("iqdiv", "SetIQTensorDiv", enable)


def SetIQTensorSum(enable: bool = True) -> None:
    """`.sum()` / `torch.sum` of a quantized tensor becomes iqSum (default on)."""
    _set("iqsum", "SetIQTensorSum", enable)


def SetIQTensorCat(enable: bool = True) -> None:
    """`torch.cat` / `torch.stack` of quantized tensors become iqCat (default on)."""
    _set("iqcat", "SetIQTensorCat", enable)


def SetIQTensorClamp(enable: bool = True) -> None:
    """`torch.clamp` / `clamp_` / `clip` with number bounds become iqClamp (default on)."""
    _set("iqclamp", "SetIQTensorClamp", enable)


def SetIQTensorSigmoid(enable: bool = True) -> None:
    """`torch.sigmoid` / `sigmoid_` / `nn.Sigmoid` become iqSigmoid (default on)."""
    _set("iqsigmoid", "SetIQTensorSigmoid", enable)


def SetIQTensorTanh(enable: bool = True) -> None:
    """`torch.tanh` / `tanh_` / `nn.Tanh` become iqTanh (default on)."""
    _set("iqtanh", "SetIQTensorTanh", enable)


def SetIQTensorSoftmax(enable: bool = True) -> None:
    """softmax of a quantized tensor becomes SoftmaxInt (default on)."""
    _set("softmaxint", "SetIQTensorSoftmax", enable)


def SetIQTensorLogSoftmax(enable: bool = True) -> None:
    """log_softmax of a quantized tensor becomes LogSoftmaxInt (default on)."""
    _set("logsoftmaxint", "SetIQTensorLogSoftmax", enable)


def SetIQTensorVar(enable: bool = True) -> None:
    """`torch.var` of a quantized tensor becomes iqVar (default on)."""
    _set("iqvar", "SetIQTensorVar", enable)


def SetFunctionBmmQuant(enable: bool = True) -> None:
    """`torch.bmm` / `torch.matmul` / `@` with a quantized operand become BmmInt. Default on (1.x: off, so a
    float MatMul reached the exported file, which the chip cannot run)."""
    _set("bmm", "SetFunctionBmmQuant", enable)


def SetFunctionChannelShuffleQuant(enable: bool = True) -> None:
    """`linger.channel_shuffle` exports one ShuffleChannel node (default on; off: Reshape/Transpose/Reshape)."""
    _set("channel_shuffle", "SetFunctionChannelShuffleQuant", enable)


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
