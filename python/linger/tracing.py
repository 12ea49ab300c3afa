"""`linger.trace_layers`: find conv/linear + batch-norm pairs and "ahead relu" patterns by tracing,
and fuse the pairs ("forward fused, backward not fused").

Unlike linger 1.x there is no process-wide registry: the fused pairs are recorded on the root model
(plain data, picklable), the key mapping for checkpoints is a picklable callable object, calling
`trace_layers` again is harmless (already fused pairs are no longer visible), and it works for any
number of models in one process (seed G2, Q22).
"""
from __future__ import annotations

import warnings

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .checkpoints import install_checkpoint_mapper
from .normalize.modules import (EmptyBatchNorm, NormalizeConvBN1d, NormalizeConvBN2d, NormalizeConvTransposeBN2d,
                                NormalizeLinearBN1d)

_FUSABLE = (
    (nn.Conv2d, nn.BatchNorm2d, NormalizeConvBN2d),
    (nn.ConvTranspose2d, nn.BatchNorm2d, NormalizeConvTransposeBN2d),
    (nn.Conv1d, nn.BatchNorm1d, NormalizeConvBN1d),
    (nn.Linear, nn.BatchNorm1d, NormalizeLinearBN1d),
)
_PRODUCERS = {"aten::_convolution", "aten::conv2d", "aten::conv1d", "aten::conv_transpose2d", "aten::linear",
              "aten::matmul", "aten::addmm"}
_RELU = {"aten::relu", "aten::relu_"}
_SIGMOID = {"aten::sigmoid", "aten::sigmoid_"}


def _scope_path(node) -> str:
    scope = node.scopeName()
    if not scope:
        return ""
    return scope.split("/")[-1].replace("__module.", "", 1)


def _get(root: nn.Module, path: str) -> Optional[nn.Module]:
    m = root
    for part in path.split(".") if path else []:
        m = getattr(m, part, None)
        if m is None:
            return None
    return m


def _set(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    setattr(_get(root, parent_path), name, new)


def _single_user(node):
    outs = list(node.outputs())
    if len(outs) != 1:
        return None
    uses = outs[0].uses()
    return uses[0].user if len(uses) == 1 else None


def _analyse(target: nn.Module, args: Tuple[Any, ...]) -> List[Tuple[str, str, Optional[str]]]:
    """(producer path, consumer kind, consumer path) for every producer with a single consumer."""
    modes = {m: m.training for m in target.modules()}
    try:
        target.eval()  # no BN statistics update while tracing
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.x deprecates torch.jit.trace (it still works there); the trace is linger's own business
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit\.trace.* is deprecated")
            traced = torch.jit.trace(target, args, check_trace=False, strict=False)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise RuntimeError(f"linger.trace_layers: torch.jit.trace of {type(target).__name__} failed ({e}); "
                           "pass example inputs as one tuple: trace_layers(root, target, (x, y))") from e
    finally:
        for m, t in modes.items():
            m.training = t
    graph = traced.inlined_graph  # keep the graph alive while its nodes are used
    found = []
    for node in graph.nodes():
        kind = node.kind()
        if kind not in _PRODUCERS and kind != "aten::batch_norm":
            continue
        user = _single_user(node)
        if user is None:
            continue
        found.append((_scope_path(node), kind, user.kind(), _scope_path(user), user))
    out = []
    for path, kind, ukind, upath, user in found:
        out.append((path, kind, ukind, upath))
        if kind in _PRODUCERS and ukind == "aten::batch_norm":
            nxt = _single_user(user)
            if nxt is not None and nxt.kind() in _RELU:
                out.append((path, kind, "bn+relu", upath))
    return out


def _detect(target_model: nn.Module, args: Any, fuse_bn: bool, ahead_conv_relu: bool, ahead_bn_relu: bool,
            ahead_linear_relu: bool, ahead_conv_sigmoid: bool, ahead_linear_sigmoid: bool) -> List[Tuple[str, str, str]]:
    """Trace, set the ahead-relu/sigmoid marks, return the (layer, bn, fused type) triples to fuse."""
    if not isinstance(args, tuple):
        args = (args,)
    patterns = _analyse(target_model, args)
    fused: List[Tuple[str, str, str]] = []
    for path, kind, ukind, upath in patterns:
        prod = _get(target_model, path)
        cons = _get(target_model, upath) if upath else None
        if prod is None:
            continue
        if ukind == "aten::batch_norm" and fuse_bn and cons is not None:
            for ptype, btype, ftype in _FUSABLE:
                if type(prod) is ptype and type(cons) is btype:
                    fused.append((path, upath, ftype.__name__))
        is_linear = isinstance(prod, nn.Linear)
        if ukind in _RELU:
            if isinstance(prod, nn.modules.batchnorm._BatchNorm):
                if ahead_bn_relu:
                    prod._linger_ahead_relu = True
            elif (is_linear and ahead_linear_relu) or (not is_linear and ahead_conv_relu):
                prod._linger_ahead_relu = True
        if ukind in _SIGMOID and ((is_linear and ahead_linear_sigmoid) or (not is_linear and ahead_conv_sigmoid)):
            prod._linger_ahead_sigmoid = True
        if ukind == "bn+relu" and fuse_bn and ahead_bn_relu:
            prod._linger_ahead_relu = True
    return fused


def trace_layers(root_model: nn.Module, target_model: nn.Module, args: Any, *, fuse_bn: bool = True,
                 ahead_conv_relu: bool = True, ahead_bn_relu: bool = True, ahead_linear_relu: bool = True,
                 ahead_conv_sigmoid: bool = True, ahead_linear_sigmoid: bool = True) -> nn.Module:
    """Trace `target_model` (the root itself or one of its sub-modules) with the example inputs `args` (a
    tensor or a tuple), fuse conv/linear + BN pairs into Normalize*BN* modules (the BN becomes
    EmptyBatchNorm) and mark layers followed by ReLU (`ahead_relu`: the output statistic then covers the
    positive range only). Returns `root_model`."""
    if not isinstance(root_model, nn.Module) or not isinstance(target_model, nn.Module):
        raise TypeError("linger.trace_layers(root_model, target_model, args): both must be nn.Module")
    prefix = None
    for name, m in root_model.named_modules():
        if m is target_model:
            prefix = name
            break
    if prefix is None:
        raise ValueError("linger.trace_layers: target_model is not root_model nor one of its sub-modules")
    fused = _detect(target_model, args, fuse_bn, ahead_conv_relu, ahead_bn_relu, ahead_linear_relu,
                    ahead_conv_sigmoid, ahead_linear_sigmoid)

    def full(p: str) -> str:
        return f"{prefix}.{p}" if prefix and p else (p or prefix)

    types = {t.__name__: t for _, _, t in _FUSABLE}
    records = list(getattr(root_model, "_linger_fused", []))
    for path, bn_path, ftype in fused:
        inner = _get(target_model, path)
        bn = _get(target_model, bn_path)
        f = types[ftype].fuse(inner, bn)
        if getattr(inner, "_linger_ahead_relu", False):
            f._linger_ahead_relu = True
        _set(target_model, path, f)
        _set(target_model, bn_path, EmptyBatchNorm())
        records.append((full(path), full(bn_path), f._inner))
    root_model._linger_fused = records
    install_checkpoint_mapper(root_model)
    return root_model


def FuseConvBNAheadRelu(model: nn.Module, *args: Any, fused_bn: bool = True, ahead_conv_relu: bool = True,
                        ahead_bn_relu: bool = True, ahead_linear_relu: bool = True, ahead_conv_sigmoid: bool = True,
                        ahead_linear_sigmoid: bool = True) -> List[Tuple[str, str]]:
    """linger 1.x: trace `model` with the example input `args[0]` and mark the layers followed by a ReLU
    (`.ahead_relu`) or a sigmoid; replaces no module (`trace_layers` does the fusion). Returns the
    (layer, batch norm) paths that `trace_layers` would fuse."""
    if len(args) != 1:
        raise TypeError("linger.FuseConvBNAheadRelu(model, example_input): pass one example input (a tensor, or a "
                        "tuple of tensors for a model with several inputs)")
    fused = _detect(model, args[0], fused_bn, ahead_conv_relu, ahead_bn_relu, ahead_linear_relu,
                    ahead_conv_sigmoid, ahead_linear_sigmoid)
    return [(p, b) for p, b, _ in fused]
