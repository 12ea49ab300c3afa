"""Quantized modules."""
from .avgpool2d_int import AvgPool2dInt
from .base import ModuleIntConfig
from .batchnorm_int import BatchNorm1dInt, BatchNorm2dInt
from .conv_int import Conv1dInt, Conv2dInt, ConvTranspose2dInt
from .embedding_int import EmbeddingInt
from .fused import ConvBN1dInt, ConvBN2dInt, ConvTransposeBN2dInt, LinearBN1dInt
from .iqops import (BmmInt, iqAddLayer, iqCatLayer, iqClampLayer, iqDivLayer, iqMulLayer, iqSigmoidLayer,
                    iqMeanLayer, iqSumLayer, iqTanhLayer, iqVarLayer, logsoftmaxIntLayer, softmaxIntLayer)
from .layernorm_int import GroupNormInt, LayerNormInt
from .linear_int import LinearInt
from .rnn_int import GRUInt, LSTMInt

BatchNormInt = BatchNorm2dInt  # linger 1.x name

__all__ = ["ModuleIntConfig", "Conv2dInt", "Conv1dInt", "ConvTranspose2dInt", "LinearInt", "AvgPool2dInt",
           "BatchNorm2dInt", "BatchNormInt", "iqAddLayer", "ConvBN2dInt", "ConvBN1dInt", "ConvTransposeBN2dInt",
           "LinearBN1dInt", "iqMulLayer", "iqDivLayer", "iqSumLayer", "iqVarLayer", "iqCatLayer", "iqClampLayer",
           "iqSigmoidLayer", "iqTanhLayer", "softmaxIntLayer", "logsoftmaxIntLayer", "BmmInt",
           "BatchNorm1dInt", "LayerNormInt", "GroupNormInt", "iqMeanLayer", "EmbeddingInt", "LSTMInt", "GRUInt"]
