"""Checkpoints across the stages (float -> traced -> normalized -> quantized), seed Q17/Q21.

A float checkpoint loads with `strict=True` into the traced, normalized or quantized model: the keys of
fused conv/BN pairs are mapped (`conv.weight` -> `conv.conv.weight`, `bn.*` -> `conv.bn.*`); quantization
statistics missing from a float checkpoint are forgiven (they start at 0). A checkpoint saved at any stage
reloads into the same stage unchanged. A checkpoint that needs a later stage than the model has gives an
error saying which order works.
"""
from __future__ import annotations

import torch.nn as nn

_QUANT_KEYS = (".running_x", ".running_o", ".scale_x", ".scale_o")
_RELU6INT_KEYS = (".running_x", ".scale_x", ".min_thresh", ".max_thresh")


class CheckpointMapper:
    """Load-state-dict pre-hook on the root model (a plain object, so the model pickles)."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root

    def __call__(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        from .nn.base import ModuleIntConfig
        root = self.root
        for conv_path, bn_path, inner in getattr(root, "_linger_fused", []):
            cp, bp = prefix + conv_path + ".", prefix + bn_path + "."
            if (cp + "weight") in state_dict and (cp + inner + ".weight") not in state_dict:
                for k in [k for k in state_dict if k.startswith(cp) and "." not in k[len(cp):]]:
                    if k[len(cp):] in ("weight", "bias"):
                        state_dict[cp + inner + "." + k[len(cp):]] = state_dict.pop(k)
                for k in [k for k in state_dict if k.startswith(bp) and "." not in k[len(bp):]]:
                    state_dict[cp + "bn." + k[len(bp):]] = state_dict.pop(k)
        quantized = any(isinstance(m, ModuleIntConfig) for m in root.modules())
        if not quantized and any(k.startswith(prefix) and k.endswith(_QUANT_KEYS) for k in state_dict):
            raise RuntimeError(
                "linger: this checkpoint was saved after linger.init (it holds quantization statistics such as "
                "running_x), but the model is not quantized yet. Load it after the same transformations it was "
                "saved with: trace_layers -> normalize_layers -> init -> load_state_dict.")
        # linger 1.x ReLU6Int kept its own input statistic and thresholds; here ReLU6 clamps at the exponent of its
        # quantized input (iqClamp), so those keys carry nothing to load
        for k in [k for k in state_dict if k.startswith(prefix) and k.endswith(_RELU6INT_KEYS)]:
            if isinstance(_get(root, k[len(prefix):].rsplit(".", 1)[0]), nn.Hardtanh):
                del state_dict[k]
        fused_here = {c for c, _, _ in getattr(root, "_linger_fused", [])}
        for k in state_dict:
            if not k.startswith(prefix):
                continue
            parts = k[len(prefix):].split(".")
            if len(parts) >= 3 and parts[-2] == "bn" and ".".join(parts[:-2]) not in fused_here \
                    and isinstance(_get(root, ".".join(parts[:-2])), (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d,
                                                                      nn.Linear)):
                raise RuntimeError(
                    f"linger: checkpoint key '{k}' comes from a model after linger.trace_layers (fused conv-bn), "
                    "but this model was not traced. Call linger.trace_layers(model, model, example_inputs) "
                    "before load_state_dict, as when the checkpoint was saved.")


def _get(root: nn.Module, path: str):
    m = root
    for part in path.split("."):
        m = getattr(m, part, None)
        if m is None:
            return None
    return m


def install_checkpoint_mapper(root: nn.Module) -> None:
    if getattr(root, "_linger_checkpoint_mapper", False):
        return
    root._register_load_state_dict_pre_hook(CheckpointMapper(root))
    root._linger_checkpoint_mapper = True
