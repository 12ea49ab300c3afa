"""The float constraint stage."""
from .api import DefaultNormalizeIntXModule, disable_normalize, normalize_layers, normalize_module
from .modules import (EmptyBatchNorm, NormalizeBatchNorm2d, NormalizeConv1d, NormalizeConv2d, NormalizeConvBN1d,
                      NormalizeConvBN2d, NormalizeConvTranspose2d, NormalizeConvTransposeBN2d, NormalizeEmbedding,
                      NormalizeLayerNorm, NormalizeLinear, NormalizeLinearBN1d)
from .rnn import NormalizeFastGRU, NormalizeFastLSTM

__all__ = ["normalize_layers", "normalize_module", "disable_normalize", "DefaultNormalizeIntXModule",
           "EmptyBatchNorm", "NormalizeConv2d", "NormalizeConv1d", "NormalizeConvTranspose2d", "NormalizeLinear",
           "NormalizeBatchNorm2d", "NormalizeConvBN2d", "NormalizeConvBN1d", "NormalizeConvTransposeBN2d",
           "NormalizeLinearBN1d", "NormalizeLayerNorm", "NormalizeEmbedding", "NormalizeFastLSTM", "NormalizeFastGRU"]
