"""linger: int8 quantization-aware training for PyTorch, bit-exact with its C++ integer runtime."""
from __future__ import annotations

from . import onnx, tools
from ._version import __version__
from .config import (PlatFormQuant, QuantMode, SetBnMomentumUpdate, SetFunctionBmmQuant,
                     SetFunctionChannelShuffleQuant, SetIQTensorAdd, SetIQTensorCat, SetIQTensorClamp, SetIQTensorDiv,
                     SetIQTensorLogSoftmax, SetIQTensorMul, SetIQTensorSigmoid, SetIQTensorSoftmax, SetIQTensorSum,
                     SetIQTensorTanh, SetIQTensorVar, SetPlatFormQuant, config)
from .context import get_current_module
from .distributed import SetDistributedStatsSync
from .initialize import DefaultQuantIntXOP, SupportQuantTorchModules, disable_quant, float_ops, init, quant_module
from .iqfunctions import channel_shuffle, iqadd, iqcat, iqdiv, iqmul, iqsum
from .iqtensor import IQTensor, from_torch_tensor, is_iqtensor
from .platform import PLATFORMS, SetPlatform
from .nn import (AvgPool2dInt, BatchNorm1dInt, BatchNorm2dInt, BatchNormInt, BmmInt, Conv1dInt, Conv2dInt,
                 ConvBN1dInt, ConvBN2dInt, EmbeddingInt, GroupNormInt, LayerNormInt, ConvTranspose2dInt,
                 ConvTransposeBN2dInt, LinearBN1dInt, LinearInt, ModuleIntConfig, iqAddLayer,
                 iqCatLayer, iqClampLayer, iqDivLayer, iqMulLayer, iqSigmoidLayer, iqSumLayer, iqTanhLayer, iqVarLayer,
                 logsoftmaxIntLayer, softmaxIntLayer, LSTMInt, GRUInt)
from .normalize import (DefaultNormalizeIntXModule, EmptyBatchNorm, NormalizeBatchNorm2d, NormalizeConv1d,
                        NormalizeConv2d, NormalizeConvBN1d, NormalizeConvBN2d, NormalizeConvTranspose2d,
                        NormalizeConvTransposeBN2d, NormalizeEmbedding, NormalizeLayerNorm, NormalizeLinear,
                        NormalizeLinearBN1d, NormalizeFastLSTM, NormalizeFastGRU, disable_normalize,
                        normalize_layers, normalize_module)
from .quant import exponent_for_range, fake_quant
from .tracing import FuseConvBNAheadRelu, trace_layers
from .compat import (LINGER_AHEAD_RELU, LINGER_AHEAD_SIGMOID, LINGER_FUNCINT_BMM_COUNTER, LINGER_IQTENSOR_LAYER_COUNTER,
                     LINGER_MODE, LINGER_OBIT, ClampInfo, Quant2IQTensor, QuantInfo, Requant, ScaledRoundLayer,
                     quant_module_by_type, quant_tensor)
from .tools.dumper import Dumper
from . import ops, utils  # linger 1.x packages (the extension's torch ops are linger._ext.ops)


def __getattr__(name: str):  # `import linger` makes linger.runtime usable (loaded on first use: C++ bindings)
    if name == "runtime":
        import importlib
        return importlib.import_module(__name__ + ".runtime")
    raise AttributeError(f"module 'linger' has no attribute {name!r}")


__all__ = ["float_ops", 
    "init", "disable_quant", "quant_module", "trace_layers", "normalize_layers", "normalize_module",
    "disable_normalize", "QuantMode", "PlatFormQuant", "SetIQTensorAdd", "SetPlatFormQuant", "SetBnMomentumUpdate",
    "config", "IQTensor", "from_torch_tensor", "is_iqtensor", "Conv2dInt", "Conv1dInt", "ConvTranspose2dInt",
    "LinearInt", "AvgPool2dInt", "BatchNorm2dInt", "BatchNormInt", "iqAddLayer", "ConvBN2dInt", "ConvBN1dInt",
    "ConvTransposeBN2dInt", "LinearBN1dInt", "ModuleIntConfig", "EmptyBatchNorm", "NormalizeConv2d",
    "NormalizeConv1d", "NormalizeConvTranspose2d", "NormalizeLinear", "NormalizeBatchNorm2d", "NormalizeConvBN2d",
    "NormalizeConvBN1d", "NormalizeConvTransposeBN2d", "NormalizeLinearBN1d", "DefaultQuantIntXOP",
    "DefaultNormalizeIntXModule", "SupportQuantTorchModules", "get_current_module", "fake_quant",
    "exponent_for_range", "ops", "onnx", "tools", "__version__",
    "SetIQTensorMul", "SetIQTensorDiv", "SetIQTensorSum", "SetIQTensorCat", "SetIQTensorClamp", "SetIQTensorSigmoid",
    "SetIQTensorTanh", "SetIQTensorSoftmax", "SetIQTensorLogSoftmax", "SetIQTensorVar", "SetFunctionBmmQuant",
    "SetFunctionChannelShuffleQuant", "iqadd", "iqmul", "iqdiv", "iqsum", "iqcat", "channel_shuffle", "BmmInt",
    "iqMulLayer", "iqDivLayer", "iqSumLayer", "iqVarLayer", "iqCatLayer", "iqClampLayer", "iqSigmoidLayer",
    "iqTanhLayer", "softmaxIntLayer", "logsoftmaxIntLayer", "SetPlatform", "PLATFORMS", "BatchNorm1dInt",
    "LayerNormInt", "GroupNormInt", "EmbeddingInt", "LSTMInt", "GRUInt", "NormalizeLayerNorm", "NormalizeEmbedding",
    "NormalizeFastLSTM", "NormalizeFastGRU",
    "FuseConvBNAheadRelu", "quant_module_by_type", "quant_tensor", "ScaledRoundLayer", "Requant", "Quant2IQTensor",
    "QuantInfo", "ClampInfo", "utils", "runtime", "Dumper", "LINGER_AHEAD_RELU", "LINGER_AHEAD_SIGMOID", "LINGER_MODE",
    "LINGER_OBIT", "LINGER_FUNCINT_BMM_COUNTER", "LINGER_IQTENSOR_LAYER_COUNTER", "SetDistributedStatsSync",
]
