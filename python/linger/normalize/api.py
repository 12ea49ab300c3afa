"""`linger.normalize_layers` and friends: the float constraint stage (seed G1)."""
from __future__ import annotations

from collections import deque
from typing import Dict, Iterable, Tuple, Type

import torch.nn as nn

from ..checkpoints import install_checkpoint_mapper
from .functions import check_bound
from .modules import (NormalizeBatchNorm2d, NormalizeConv1d, NormalizeConv2d, NormalizeConvBN1d, NormalizeConvBN2d,
                      NormalizeConvTranspose2d, NormalizeConvTransposeBN2d, NormalizeEmbedding, NormalizeLayerNorm,
                      NormalizeLinear, NormalizeLinearBN1d, NormalizeMixin)
from .rnn import NormalizeFastGRU, NormalizeFastLSTM

NORMALIZE_REPLACEMENTS: Dict[Type[nn.Module], Type[nn.Module]] = {
    nn.Conv2d: NormalizeConv2d,
    nn.Conv1d: NormalizeConv1d,
    nn.ConvTranspose2d: NormalizeConvTranspose2d,
    nn.Linear: NormalizeLinear,
    nn.BatchNorm2d: NormalizeBatchNorm2d,
    nn.LayerNorm: NormalizeLayerNorm,  # supported, not in the default set (as in 1.x)
    nn.Embedding: NormalizeEmbedding,
    nn.LSTM: NormalizeFastLSTM,
    nn.GRU: NormalizeFastGRU,
}
FUSED_TYPES = (NormalizeConvBN2d, NormalizeConvBN1d, NormalizeConvTransposeBN2d, NormalizeLinearBN1d)
DefaultNormalizeIntXModule: Tuple[Type[nn.Module], ...] = (nn.Conv2d, nn.Linear, nn.ConvTranspose2d, nn.Conv1d,
                                                            nn.BatchNorm2d, nn.GRU, nn.LSTM) + FUSED_TYPES


def _check_types(where: str, types: Iterable) -> Tuple[type, ...]:
    if isinstance(types, type):
        types = (types,)
    types = tuple(types)
    for t in types:
        if t not in NORMALIZE_REPLACEMENTS and t not in FUSED_TYPES:
            supported = ", ".join(k.__name__ for k in list(NORMALIZE_REPLACEMENTS) + list(FUSED_TYPES))
            raise ValueError(f"linger.{where}: {getattr(t, '__name__', t)} is not supported; supported: {supported}")
    return types


def normalize_module(module: nn.Module, type_modules: Iterable = DefaultNormalizeIntXModule,
                     normalize_weight_value=8, normalize_bias_value=8, normalize_output_value=None) -> None:
    """Per-module clamp values for `normalize_layers` (call before it): every module under `module`
    (itself included) whose exact type is in `type_modules`."""
    types = _check_types("normalize_module", type_modules)
    info = dict(weight=check_bound("normalize_module", "normalize_weight_value", normalize_weight_value),
                bias=check_bound("normalize_module", "normalize_bias_value", normalize_bias_value),
                data=check_bound("normalize_module", "normalize_output_value", normalize_output_value))
    for m in module.modules():
        if type(m) in types:
            m._linger_normalize_info = info


def disable_normalize(module: nn.Module) -> None:
    """Keep `module` (and everything inside) out of the constraint stage. Such layers are also kept in
    float by `linger.init` (the two stages stay consistent, seed G3); call `linger.quant_module` on them
    to quantize them anyway."""
    for m in module.modules():
        m._linger_disable_normalize = True
        m._linger_disable_quant = True


def normalize_layers(model: nn.Module, *, normalize_modules: Iterable = DefaultNormalizeIntXModule,
                     normalize_weight_value=8, normalize_bias_value=8, normalize_output_value=8) -> nn.Module:
    """Replace, in place, the modules of the given types by their Normalize* versions (sharing the
    Parameters), clamping weights, biases and outputs to the given bounds (None = no clamp). Fused
    conv-bn modules made by `trace_layers` are always included. Returns the model."""
    types = set(_check_types("normalize_layers", normalize_modules)) | set(FUSED_TYPES)
    default = dict(weight=check_bound("normalize_layers", "normalize_weight_value", normalize_weight_value),
                   bias=check_bound("normalize_layers", "normalize_bias_value", normalize_bias_value),
                   data=check_bound("normalize_layers", "normalize_output_value", normalize_output_value))
    queue = deque([model])
    while queue:
        module = queue.popleft()
        for name, child in list(module.named_children()):
            if getattr(child, "_linger_disable_normalize", False):
                continue
            info = getattr(child, "_linger_normalize_info", default)
            if isinstance(child, NormalizeMixin):
                if type(child) in FUSED_TYPES or type(child) in types or hasattr(child, "_linger_normalize_info"):
                    child.set_normalize(info["data"], info["weight"], info["bias"])
                continue
            if type(child) in types and type(child) in NORMALIZE_REPLACEMENTS:
                new = NORMALIZE_REPLACEMENTS[type(child)].from_float(child)
                new.set_normalize(info["data"], info["weight"], info["bias"])
                setattr(module, name, new)
            else:
                queue.append(child)
    install_checkpoint_mapper(model)
    return model
