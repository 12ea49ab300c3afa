"""`linger.init` and the module-selection helpers (linger 1.x API).

Differences from 1.x that remove its traps:
* replacements reuse the float module's Parameter objects, so weights are kept
  and an optimizer built before `init` keeps training the right tensors (Q23);
* selections (`disable_quant`, `quant_module`) are attributes on the modules,
  not process-global registries: nothing leaks between models, models pickle;
* torch is never monkey-patched: functional ops are handled by IQTensor;
* a layer constrained by `normalize_layers` whose type is not quantized is an
  error naming it, not a silent mismatch (G3).
"""
from __future__ import annotations

import math
import warnings
from collections import deque
from typing import Dict, Iterable, List, Optional, Tuple, Type

import torch
import torch.nn as nn

from . import guards, platform as _platform
from .bnutil import has_initial_stats
from .checkpoints import install_checkpoint_mapper
from .config import QuantMode
from .context import hook_forward, hook_pre_forward
from .nn.avgpool2d_int import AvgPool2dInt
from .nn.base import ModuleIntConfig
from .nn.batchnorm_int import BatchNorm1dInt, BatchNorm2dInt
from .nn.conv_int import Conv1dInt, Conv2dInt, ConvTranspose2dInt
from .nn.fused import ConvBN1dInt, ConvBN2dInt, ConvTransposeBN2dInt, LinearBN1dInt
from .iqfunctions import LazyLayerLoader
from .nn.embedding_int import EmbeddingInt
from .nn.layernorm_int import GroupNormInt, LayerNormInt
from .nn.linear_int import LinearInt
from .nn.rnn_int import GRUInt, LSTMInt
from .normalize import modules as nm
from .normalize import rnn as nm_rnn

# float type -> quantized type
_REPLACEMENTS: Dict[Type[nn.Module], Type[nn.Module]] = {
    nn.Conv2d: Conv2dInt,
    nn.Conv1d: Conv1dInt,
    nn.ConvTranspose2d: ConvTranspose2dInt,
    nn.Linear: LinearInt,
    nn.BatchNorm2d: BatchNorm2dInt,
    nn.AvgPool2d: AvgPool2dInt,
    nn.BatchNorm1d: BatchNorm1dInt,
    nn.LayerNorm: LayerNormInt,
    nn.GroupNorm: GroupNormInt,
    nn.Embedding: EmbeddingInt,
    nn.LSTM: LSTMInt,
    nn.GRU: GRUInt,
}
# constraint-stage type -> (the float type it stands for, quantized type)
_NORMALIZED: Dict[Type[nn.Module], Tuple[Type[nn.Module], Type[nn.Module]]] = {
    nm.NormalizeConv2d: (nn.Conv2d, Conv2dInt),
    nm.NormalizeConv1d: (nn.Conv1d, Conv1dInt),
    nm.NormalizeConvTranspose2d: (nn.ConvTranspose2d, ConvTranspose2dInt),
    nm.NormalizeLinear: (nn.Linear, LinearInt),
    nm.NormalizeBatchNorm2d: (nn.BatchNorm2d, BatchNorm2dInt),
    nm.NormalizeConvBN2d: (nn.Conv2d, ConvBN2dInt),
    nm.NormalizeConvBN1d: (nn.Conv1d, ConvBN1dInt),
    nm.NormalizeConvTransposeBN2d: (nn.ConvTranspose2d, ConvTransposeBN2dInt),
    nm.NormalizeLinearBN1d: (nn.Linear, LinearBN1dInt),
    nm.NormalizeLayerNorm: (nn.LayerNorm, LayerNormInt),
    nm.NormalizeEmbedding: (nn.Embedding, EmbeddingInt),
    nm_rnn.NormalizeFastLSTM: (nn.LSTM, LSTMInt),
    nm_rnn.NormalizeFastGRU: (nn.GRU, GRUInt),
}
_FUSED = (nm.NormalizeConvBN2d, nm.NormalizeConvBN1d, nm.NormalizeConvTransposeBN2d, nm.NormalizeLinearBN1d)

DefaultQuantIntXOP: Tuple[Type[nn.Module], ...] = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.Conv1d,
                                                   nn.ConvTranspose2d, nn.BatchNorm2d, nn.BatchNorm1d,
                                                   nn.LayerNorm, nn.GroupNorm, nn.Embedding,
                                                   nn.LSTM, nn.GRU)
SupportQuantTorchModules = list(_REPLACEMENTS) + list(_NORMALIZED)

# 1.x listed nn.ReLU6 in its tuples; here it is quantized whenever its input is (iqClamp, docs/activations.md)
ON_QUANTIZED_TENSORS = (nn.ReLU6,)
DATA_BITS = 8
OUT_BITS = 8
# |alpha| ratio of a batch norm above which small channels lose most of their precision (seed Q26)
BN_ALPHA_RATIO_WARN = 2.0 ** 6


def _check_types(where: str, types: Iterable) -> Tuple[Type[nn.Module], ...]:
    if isinstance(types, type):
        types = (types,)
    try:
        types = tuple(types)
    except TypeError:
        raise TypeError(f"linger.{where}: expected a tuple of module types, got {types!r}") from None
    out = []
    for t in types:
        if isinstance(t, type) and t in ON_QUANTIZED_TENSORS:
            continue  # always quantized when their input is (docs/activations.md); accepted for 1.x tuples
        if isinstance(t, type) and t in _NORMALIZED:
            t = _NORMALIZED[t][0]
        if not isinstance(t, type) or t not in _REPLACEMENTS:
            supported = ", ".join(f"nn.{k.__name__}" for k in _REPLACEMENTS)
            name = getattr(t, "__name__", repr(t))
            raise ValueError(f"linger.{where}: {name} cannot be quantized by linger; supported types: {supported}. "
                             "Leave it out of the tuple: unsupported modules keep running in float.")
        out.append(t)
    return tuple(out)


def _check_bits(where: str, name: str, bits, allowed) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in allowed:
        raise ValueError(f"linger.{where}: {name}={bits!r} is not supported; choose an int in "
                         f"[{min(allowed)}, {max(allowed)}]")


def disable_quant(module: nn.Module) -> None:
    """Keep `module` and everything inside it in float when `linger.init` runs later."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"linger.disable_quant expects an nn.Module, got {type(module).__name__}")
    for m in module.modules():
        m._linger_disable_quant = True


def quant_module(module: nn.Module, type_modules: Iterable = DefaultQuantIntXOP, mode: QuantMode = QuantMode.QValue,
                 data_bits: int = 8, parameter_bits: int = 8, out_bits: Optional[int] = None) -> None:
    """Choose per-module bit widths for `linger.init`: every module under `module` (itself included) whose exact
    type is in `type_modules` (or whose constraint-stage type stands for one) is quantized with these settings,
    even if it was excluded by `disable_quant`/`disable_normalize` (`out_bits=None`: 8 bits)."""
    types = _check_types("quant_module", type_modules)
    _check_bits("quant_module", "data_bits", data_bits, (8,))
    _check_bits("quant_module", "parameter_bits", parameter_bits, range(2, 9))
    if out_bits is not None:
        _check_bits("quant_module", "out_bits", out_bits, (8, 16))
    if mode is not QuantMode.QValue:
        raise ValueError(f"linger.quant_module: mode must be QuantMode.QValue, got {mode!r}")
    for m in module.modules():
        base = _NORMALIZED[type(m)][0] if type(m) in _NORMALIZED else type(m)
        if base in types:
            m._linger_quant_info = dict(data_bits=data_bits, parameter_bits=parameter_bits, o_bits=out_bits, mode=mode)
            m._linger_disable_quant = False


def _clamps(child: nn.Module) -> dict:
    if isinstance(child, nm.NormalizeMixin):
        return dict(clamp_data=child.normalize_data, clamp_weight=child.normalize_weight,
                    clamp_bias=child.normalize_bias, ahead_relu=bool(getattr(child, "_linger_ahead_relu", False)))
    return dict(ahead_relu=bool(getattr(child, "_linger_ahead_relu", False)))


def _build(child: nn.Module, path: str, parameter_bits: int, mode: QuantMode) -> nn.Module:
    info = getattr(child, "_linger_quant_info", None)
    data_bits, pbits, o_bits = DATA_BITS, parameter_bits, OUT_BITS
    if info is not None:
        data_bits, pbits, mode = info["data_bits"], info["parameter_bits"], info["mode"]
        o_bits = info["o_bits"] or OUT_BITS
    if type(child) is nn.AvgPool2d:
        q = AvgPool2dInt.from_float(child, data_bits, pbits, o_bits, mode)
    elif type(child) in _FUSED:
        cls = _NORMALIZED[type(child)][1]
        inner = getattr(child, child._inner)
        q = cls.from_fused(inner, child.bn, data_bits, pbits, o_bits, mode, **_clamps(child))
        _warn_bn_alpha(child.bn, path)
    else:
        cls = _NORMALIZED[type(child)][1] if type(child) in _NORMALIZED else _REPLACEMENTS[type(child)]
        q = cls.from_float(child, data_bits, pbits, o_bits, mode, **_clamps(child))
        if isinstance(child, (nn.BatchNorm2d, nn.BatchNorm1d)):
            _warn_bn_alpha(child, path)
    q.train(child.training)
    q._linger_name = path
    return q


def _warn_bn_alpha(bn: nn.Module, path: str) -> None:
    """seed Q26: BN is folded as alpha = gamma/sigma with ONE exponent for all channels; a wide spread of
    |alpha| leaves the small channels with few levels."""
    with torch.no_grad():
        alpha = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
        a = alpha.abs()
    if a.numel() == 0 or float(a.max()) == 0.0:
        return
    small = float(a[a > 0].min()) if (a > 0).any() else 0.0
    ratio = float(a.max()) / small if small > 0 else math.inf
    if ratio > BN_ALPHA_RATIO_WARN:
        warnings.warn(f"linger: batch norm of '{path}': |gamma/sigma| spans a ratio of {ratio:.0f} across channels; "
                      "with one 8-bit exponent per tensor the smallest channels keep few levels (seed Q26). "
                      "Consider constraining gamma, or keeping this layer in float.", stacklevel=3)


def _warn_initial_bn_stats(model: nn.Module) -> None:
    """Fused conv-bn layers fold the BN's running statistics into their weights, frozen during QAT (linger 1.x
    semantics): with the initial statistics (mean 0, var 1) the QAT model computes the float model's eval-mode
    function, which for a randomly initialised deep network collapses towards 0 (MobileNetV2: ~1e-9 at the
    last block), and the train-mode batch statistics the float model used are gone."""
    fused = (ConvBN1dInt, ConvBN2dInt, ConvTransposeBN2dInt, LinearBN1dInt)
    fresh = [name for name, m in model.named_modules() if isinstance(m, fused) and has_initial_stats(m.bn)]
    if fresh:
        more = f" and {len(fresh) - 3} more" if len(fresh) > 3 else ""
        warnings.warn(
            f"linger.init: {len(fresh)} fused conv-bn layer(s) ({', '.join(repr(n) for n in fresh[:3])}{more}) fold a "
            "batch norm whose running statistics are still the initial ones (mean 0, var 1). QAT keeps them frozen "
            "(linger 1.x semantics), so these layers compute the float model's eval-mode output, not its train-mode "
            "one. Run training batches through the model in train mode after normalize_layers (the float stage, "
            "docs/two-stage.md), set them from data with linger.tools.recalibrate_batch_norms(model, batches), or load "
            "trained float weights before linger.init.", stacklevel=3)


def _hook(module: nn.Module, path: str) -> None:
    module._linger_name = path
    module._linger_obit = OUT_BITS
    if getattr(module, "_linger_hooked", False):
        return
    module.register_forward_pre_hook(hook_pre_forward)
    module.register_forward_hook(hook_forward)
    module._register_load_state_dict_pre_hook(LazyLayerLoader(module))
    module._linger_hooked = True


def _replaceable(child: nn.Module, types: Tuple[type, ...]) -> bool:
    if type(child) in _NORMALIZED:
        return True
    if type(child) in types:
        return True
    return getattr(child, "_linger_quant_info", None) is not None and type(child) in _REPLACEMENTS


def init(model: nn.Module, *, quant_modules: Iterable = DefaultQuantIntXOP, parameter_bits: int = 8,
         mode: QuantMode = QuantMode.QValue, platform: Optional[str] = None, quant_mode: Optional[str] = None,
         limits: Optional[str] = None) -> nn.Module:
    """Replace the modules of the given types (and every constraint-stage module) by their int8 QAT versions,
    in place, and return the model.

    Weights are kept (the replacements share the float modules' Parameters). `nn.ReLU`, `nn.MaxPool2d`,
    `nn.Flatten` and shape ops keep working on quantized tensors; `+` of two quantized tensors becomes iqAdd.
    Calling `init` again on the same model is harmless.

    `platform` ('venus', 'venusA', 'arcs', 'mars'; default: `linger.SetPlatform`'s, else none) is the export
    target; once one is chosen its hardware limits are checked here (`limits`: 'error', 'warn', 'off'), naming
    the module and the limit (linger/platform.py, docs/platforms.md)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"linger.init expects an nn.Module, got {type(model).__name__}")
    types = _check_types("init", quant_modules)
    _check_bits("init", "parameter_bits", parameter_bits, range(2, 9))
    if mode is not QuantMode.QValue:
        raise ValueError(f"linger.init: mode must be linger.QuantMode.QValue, got {mode!r}")
    if type(model) in types or type(model) in _NORMALIZED:
        raise ValueError(f"linger.init: the model itself is a {type(model).__name__}; wrap it in a container "
                         "module (e.g. nn.Sequential(model)) so it can be replaced")
    # seed G3: a layer constrained in stage 1 whose type is not quantized in stage 2
    orphans: List[str] = []
    for name, m in model.named_modules():
        if type(m) in _NORMALIZED and _NORMALIZED[type(m)][0] not in types \
                and not getattr(m, "_linger_disable_quant", False) and getattr(m, "_linger_quant_info", None) is None:
            orphans.append(f"'{name}' ({type(m).__name__})")
    if orphans:
        needed = sorted({_NORMALIZED[type(m)][0].__name__ for _, m in model.named_modules() if type(m) in _NORMALIZED
                         and _NORMALIZED[type(m)][0] not in types})
        raise ValueError(
            "linger.init: these layers were constrained by normalize_layers but their types are not in "
            f"quant_modules: {', '.join(orphans)}. Add {', '.join('nn.' + n for n in needed)} to quant_modules "
            "(the two stages must quantize what they constrained, seed G3), or call linger.disable_quant on them "
            "to keep them in float.")
    _warn_functional(model, types)
    model._linger_root = True
    queue = deque([("", model)])
    while queue:
        path, module = queue.popleft()
        _hook(module, path)
        for name, child in list(module.named_children()):
            cpath = f"{path}.{name}" if path else name
            if isinstance(child, ModuleIntConfig):
                child._linger_name = cpath
                guards.install(child)
                continue
            if not getattr(child, "_linger_disable_quant", False) and _replaceable(child, types):
                setattr(module, name, _build(child, cpath, parameter_bits, mode))
                guards.install(getattr(module, name))
            else:
                queue.append((cpath, child))
    _warn_initial_bn_stats(model)
    install_checkpoint_mapper(model)
    if platform is not None or quant_mode is not None or limits is not None:
        model._linger_platform = _platform.resolve(None, "init", platform, quant_mode, limits)
    name, _, action = _platform.resolve(model, "init")
    if name is not None:
        _platform.report_violations(_platform.static_violations(model, _platform.PLATFORMS[name]), "init", action)
    return model


# ---------------------------------------------------------------------------------------------------------------
# what stays float (seed R4)

_FUNCTIONAL_WEIGHTED = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "linear", "bilinear")


def _functional_calls(cls: type) -> List[Tuple[str, str, int]]:
    """(function, file, line) of every F.conv*/F.linear call in the methods `cls` defines (`forward` and its
    helpers; attribute calls such as `F.conv2d(...)`, `torch.nn.functional.linear(...)`, `torch.conv2d(...)`)."""
    import ast
    import inspect
    import textwrap
    out = []
    for fn in vars(cls).values():
        if not inspect.isfunction(fn):
            continue
        try:
            lines, start = inspect.getsourcelines(fn)
            path = inspect.getsourcefile(fn) or "?"
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in _FUNCTIONAL_WEIGHTED and isinstance(node.func.value, (ast.Name, ast.Attribute)):
                out.append((node.func.attr, path, start + node.lineno - 1))
    return sorted(out, key=lambda t: t[2])


def float_ops(model: nn.Module, quant_modules: Iterable = DefaultQuantIntXOP) -> List[str]:
    """What `linger.init(model, quant_modules=...)` leaves in float, one line each, with the reason and the fix:
    * functional convolutions / linear layers called in a `forward` (`F.conv2d(x, self.weight)` at file:line):
      their weights are never quantized, and `linger.onnx.export` refuses the float Conv/Gemm/MatMul they write;
    * modules with parameters whose type linger does not quantize: they run in float between a Dequant and a
      Quant; export refuses each float node the runtime has no kernel for (python/linger/onnx/check.py).
    Modules of torch.nn and linger themselves are not scanned for functional calls."""
    types = _check_types("float_ops", quant_modules)
    out: List[str] = []
    seen = set()
    for name, m in model.named_modules():
        cls = type(m)
        path = name or "<model>"
        if getattr(m, "_linger_disable_quant", False):
            continue
        if not cls.__module__.startswith(("torch.", "linger.")) and cls not in seen:
            seen.add(cls)
            for fn, file, line in _functional_calls(cls):
                out.append(f"{path} ({cls.__name__}): F.{fn} called at {file}:{line} stays float -- use an nn "
                           f"module (nn.Conv2d / nn.Linear) for it so linger.init can quantize it")
        own = any(True for _ in m.parameters(recurse=False))
        if own and cls.__module__.startswith("torch.") and not _replaceable(m, types) \
                and not isinstance(m, ModuleIntConfig) and type(m) not in (nn.PReLU,):
            out.append(f"{path} ({cls.__name__}): not a quantized type, stays float -- add it to quant_modules if "
                       "linger supports it, or linger.disable_quant the part that must stay float")
    return out


def _warn_functional(model: nn.Module, types: Tuple[type, ...]) -> None:
    for line in float_ops(model, types):
        if " called at " in line:
            warnings.warn(f"linger.init: {line} (seed R4)", stacklevel=3)
