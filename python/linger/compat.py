"""The remaining names of the linger 1.x public surface (spec §2.7, §2.8, §6): `quant_module_by_type`,
`quant_tensor`/`ScaledRoundLayer`, `Requant`, `Quant2IQTensor`, `QuantInfo`/`ClampInfo`, the `LINGER_*`
attribute names. docs/compat-1x.md lists what differs from 1.x and why."""
from __future__ import annotations

from typing import Iterable, Optional

import torch
import torch.nn as nn

from .config import QuantMode
from .initialize import DefaultQuantIntXOP, quant_module
from .iqfunctions import layer_in_module
from .iqtensor import IQTensor, _make, exponent_of_scale, is_iqtensor
from .nn.iqops import LAYER_KINDS, LAYER_PREFIX, IQLayer, float_forward, plain
from .quant import exponent_for_range

# attribute names linger sets on modules (1.x `linger/utils.py`)
LINGER_IQTENSOR_LAYER_COUNTER = "_linger_iq_tensor_index_"
LINGER_FUNCINT_BMM_COUNTER = "_linger_funcint_bmm_index_"
LINGER_AHEAD_RELU = "_linger_ahead_relu"
LINGER_AHEAD_SIGMOID = "_linger_ahead_sigmoid"
LINGER_MODE = "_linger_mode"
LINGER_OBIT = "_linger_obit"
LINGER_ROUND_TENSOR_PREFIX = LAYER_PREFIX


class QuantInfo:
    """Per-module quantization settings (1.x `linger.utils.QuantInfo`)."""

    def __init__(self, data_bits: int = 8, parameter_bits: int = 8, output_bits: Optional[int] = None,
                 mode: QuantMode = QuantMode.QValue) -> None:
        self.data_bits, self.parameter_bits, self.output_bits, self.mode = data_bits, parameter_bits, output_bits, mode

    def set_data_bits(self, bits: int) -> None:
        self.data_bits = bits

    def set_parameter_bits(self, bits: int) -> None:
        self.parameter_bits = bits

    def set_output_bits(self, bits: Optional[int]) -> None:
        self.output_bits = bits

    def set_mode(self, mode: QuantMode) -> None:
        self.mode = mode

    def __repr__(self) -> str:
        return (f"QuantInfo(data_bits={self.data_bits}, parameter_bits={self.parameter_bits}, "
                f"output_bits={self.output_bits}, mode={self.mode})")


class ClampInfo:
    """Per-module constraint-stage bounds (1.x `linger.utils.ClampInfo`)."""

    def __init__(self, clamp_weight: Optional[float] = 8, clamp_bias: Optional[float] = 8,
                 clamp_output: Optional[float] = None) -> None:
        self.clamp_weight_value, self.clamp_bias_value, self.clamp_output_value = clamp_weight, clamp_bias, clamp_output

    def set_clamp_weight_value(self, v: Optional[float]) -> None:
        self.clamp_weight_value = v

    def set_clamp_bias_value(self, v: Optional[float]) -> None:
        self.clamp_bias_value = v

    def set_clamp_output_value(self, v: Optional[float]) -> None:
        self.clamp_output_value = v

    def __repr__(self) -> str:
        return (f"ClampInfo(clamp_weight={self.clamp_weight_value}, clamp_bias={self.clamp_bias_value}, "
                f"clamp_output={self.clamp_output_value})")


def quant_module_by_type(module: nn.Module, type_modules: Iterable = DefaultQuantIntXOP,
                         mode: QuantMode = QuantMode.QValue, data_bits: int = 8, parameter_bits: int = 8,
                         out_bits: Optional[int] = None) -> None:
    """1.x alias of `quant_module` (same registration; an unsupported type raises)."""
    quant_module(module, type_modules, mode, data_bits, parameter_bits, out_bits)


class ScaledRoundLayer(IQLayer):
    """`quant_tensor`'s layer: quantizes a float tensor to int8 with its own running statistic (exported as a
    Quant node). Buffers `running_o`/`scale_o` (1.x: `running_x`/`scale_x`)."""

    OP = "Quant"

    def __init__(self, bits: int = 8, mode: QuantMode = QuantMode.QValue, zero_point: int = 0) -> None:
        if bits != 8:
            raise ValueError(f"linger.quant_tensor: bits must be 8, got {bits}")
        if zero_point != 0:
            raise ValueError("linger.quant_tensor: only zero_point=0 (symmetric quantization) is supported")
        if mode is not QuantMode.QValue:
            raise ValueError(f"linger.quant_tensor: mode must be QuantMode.QValue, got {mode!r}")
        super().__init__()

    def forward(self, x: torch.Tensor) -> IQTensor:
        return float_forward(self, lambda: plain(x))


LAYER_KINDS.setdefault("iq_tensor_quant", ScaledRoundLayer)  # checkpoints recreate the layer before loading


def quant_tensor(module: nn.Module, x: torch.Tensor, name: str = "_default_layername",
                 mode: QuantMode = QuantMode.QValue, bits: int = 8, zero_point: int = 0) -> IQTensor:
    """Quantize `x` inside `module.forward` (1.x §2.7): the layer `_linger_round_tensor_iq_tensor_quant_<name>`
    is created on `module` at the first training call and keeps the running statistic."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"linger.quant_tensor(module, x): module must be an nn.Module (usually `self`), "
                        f"got {type(module).__name__}")
    ScaledRoundLayer(bits, mode, zero_point)  # validates the arguments
    layer = layer_in_module(module, "iq_tensor_quant", ScaledRoundLayer, x.device, name=name)
    return layer(x)


def _bound(bits: int) -> int:
    return 2 ** (bits - 1) - 1


class Requant(torch.autograd.Function):
    """`Requant.apply(x, bits_dst)`: `x` (an IQTensor) re-rounded to `bits_dst` bits at the 1.x scale
    s_dst = 2**round(log2(bound(b_dst)/bound(b_src))) * s_src. Returns a new tensor: unlike 1.x, the input's
    storage is not overwritten. Backward: identity."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, o_bits: int) -> torch.Tensor:  # type: ignore[override]
        if not is_iqtensor(x):
            raise TypeError("linger.Requant expects an IQTensor (an output of a quantized layer or "
                            "linger.from_torch_tensor)")
        q_src = exponent_of_scale(x.scale_data)
        shift = round(torch.log2(torch.tensor(_bound(o_bits) / _bound(x.bits), dtype=torch.float64)).item())
        q = q_src + int(shift)
        b = _bound(o_bits)
        with torch._C.DisableTorchFunction():
            v = torch.clamp(torch.floor(x.as_subclass(torch.Tensor) * 2.0 ** q + 0.5), -b - 1, b) / 2.0 ** q
        return _make(v, 2.0 ** q, o_bits, x.running_data)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None


class Quant2IQTensor:
    """`Quant2IQTensor.apply(t, bits=8)`: `t` quantized at the exponent of its own max |t| (round half up,
    saturating) as an IQTensor; gradient straight through."""

    @staticmethod
    def apply(t: torch.Tensor, bits: int = 8, mode: QuantMode = QuantMode.QValue) -> IQTensor:
        if mode is not QuantMode.QValue:
            raise ValueError(f"linger.Quant2IQTensor: mode must be QuantMode.QValue, got {mode!r}")
        t = plain(t)
        r = float(t.detach().abs().max()) if t.numel() else 0.0
        q = exponent_for_range(r, bits)
        b = _bound(bits)
        v = torch.clamp(torch.floor(t.detach() * 2.0 ** q + 0.5), -b - 1, b) / 2.0 ** q
        return _make(t + (v - t).detach(), 2.0 ** q, bits, r)
