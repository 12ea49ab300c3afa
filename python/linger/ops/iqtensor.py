"""linger 1.x `linger.ops.iqtensor`: IQTensor, its constructors and the explicit iq functions."""
from __future__ import annotations

from ..compat import Quant2IQTensor, Requant, ScaledRoundLayer
from ..iqfunctions import iqadd, iqdiv, iqmul, iqsum
from ..iqtensor import IQTensor, from_torch_tensor, is_iqtensor
from ..nn import (iqAddLayer, iqCatLayer, iqClampLayer, iqDivLayer, iqMulLayer, iqSigmoidLayer, iqSumLayer,
                  iqTanhLayer, logsoftmaxIntLayer, softmaxIntLayer)

__all__ = ["IQTensor", "from_torch_tensor", "is_iqtensor", "Quant2IQTensor", "Requant", "ScaledRoundLayer", "iqadd",
           "iqmul", "iqdiv", "iqsum", "iqAddLayer", "iqMulLayer", "iqDivLayer", "iqSumLayer", "iqCatLayer",
           "iqSigmoidLayer", "iqTanhLayer", "iqClampLayer", "softmaxIntLayer", "logsoftmaxIntLayer"]
