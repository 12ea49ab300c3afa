"""linger 1.x `linger.ops`: the quantized modules, the iq layers and the IQTensor helpers
(`linger.ops.iqtensor`). The torch operators of the C++ extension are `linger._ext.ops`."""
from __future__ import annotations

from ..nn import (AvgPool2dInt, BatchNorm1dInt, BatchNorm2dInt, BatchNormInt, BmmInt, Conv1dInt, Conv2dInt,
                  ConvBN1dInt, ConvBN2dInt, ConvTranspose2dInt, ConvTransposeBN2dInt, EmbeddingInt, GroupNormInt,
                  LayerNormInt, LinearBN1dInt, LinearInt, ModuleIntConfig, iqAddLayer, iqCatLayer, iqClampLayer,
                  iqDivLayer, iqMulLayer, iqSigmoidLayer, iqSumLayer, iqTanhLayer, iqVarLayer, logsoftmaxIntLayer,
                  softmaxIntLayer)
from . import iqtensor
from .iqtensor import IQTensor, Quant2IQTensor, Requant, ScaledRoundLayer, from_torch_tensor, iqadd, iqmul

__all__ = ["iqtensor", "IQTensor", "from_torch_tensor", "Quant2IQTensor", "Requant", "ScaledRoundLayer", "iqadd",
           "iqmul", "AvgPool2dInt", "BatchNorm1dInt", "BatchNorm2dInt", "BatchNormInt", "BmmInt", "Conv1dInt",
           "Conv2dInt", "ConvBN1dInt", "ConvBN2dInt", "ConvTranspose2dInt", "ConvTransposeBN2dInt", "EmbeddingInt",
           "GroupNormInt", "LayerNormInt", "LinearBN1dInt", "LinearInt", "ModuleIntConfig", "iqAddLayer",
           "iqCatLayer", "iqClampLayer", "iqDivLayer", "iqMulLayer", "iqSigmoidLayer", "iqSumLayer", "iqTanhLayer",
           "iqVarLayer", "logsoftmaxIntLayer", "softmaxIntLayer"]
