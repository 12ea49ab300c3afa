"""Target platforms of the chip engine and their hardware limits (docs/platforms.md).

`linger.SetPlatform(name, quant_mode=None, limits="error")` (or `linger.init(model, platform=...)`, or
`linger.onnx.export(..., platform=...)`) picks the target. The export then writes the string attribute
`platform` on every `thinker` node and, on platforms whose packer needs it (venusA, arcs), `quant_mode` on
Conv2dInt / Conv1dInt / ConvTranspose2dInt / LinearInt.

Default (no platform chosen): the file is for `venus` (the packer's default when `platform` is absent) and is
written exactly as before (no attribute), and limits are NOT checked: our runtime runs any kernel size, and a
model that is not meant for the chip must keep working. Choosing a platform explicitly (also `venus`) turns the
checks on, at `init` and again at export; `limits="warn"` makes them warnings, `limits="off"` skips them.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Dict, List, Optional, Tuple

import torch.nn as nn

# quant_mode names of the engine's packer -> how the requantisation shift rounds (numerics.md §2).
# Only floor_add is linger's integer contract (rhu_shift: floor(v / 2^s + 1/2), the engine's shift with carry,
# verified bit-exact); the others are refused until the runtime and the eval ops implement them.
QUANT_MODES = {"floor_add": "round half up: floor(v / 2^s + 1/2) (rhu_shift)",
               "floor": "floor(v / 2^s) (arithmetic shift)",
               "round": "round half away from zero",
               "ceil": "ceil(v / 2^s)"}
IMPLEMENTED_QUANT_MODES = ("floor_add",)
QUANT_MODE_OPS = ("Conv2dInt", "Conv1dInt", "ConvTranspose2dInt", "LinearInt")
LIMIT_ACTIONS = ("error", "warn", "off")


@dataclasses.dataclass(frozen=True)
class Platform:
    name: str
    shared_mem_kb: int              # share-mem SRAM the NPU addresses (activations + staged weights)
    needs_quant_mode: bool          # packer needs `quant_mode` on the weighted nodes
    max_kernel: int = 5             # conv2d / deconv / pooling kernel height and width
    strides: Tuple[int, ...] = (1, 2, 4)
    max_pad: int = 4
    dilation_one: bool = False      # dilation must be 1
    linear_max_in: int = 16384      # LinearInt 8-bit input length: 4*ceil(n/8)*8 <= 65536
    deconv_weights_in_shared: bool = False  # ConvTranspose2d weights must sit in share-mem
    near: float = 0.8               # a layer at >= 80 % of a limit is "near" it in the report


PLATFORMS: Dict[str, Platform] = {
    "venus": Platform("venus", 640, False, dilation_one=True, deconv_weights_in_shared=True),
    "venusA": Platform("venusA", 384, True),
    "arcs": Platform("arcs", 384, True),
    "mars": Platform("mars", 384, False),
}
DEFAULT = "venus"


class _State:
    platform: Optional[str] = None   # None: default venus, no attribute, no limit checks
    quant_mode: Optional[str] = None
    limits: str = "error"


state = _State()


def check_platform(where: str, name: Optional[str], quant_mode: Optional[str] = None,
                   limits: Optional[str] = None) -> Tuple[Optional[str], Optional[str]]:
    """Validate a (platform, quant_mode, limits) choice; returns (platform, quant_mode) with the default mode."""
    if name is not None and name not in PLATFORMS:
        raise ValueError(f"linger.{where}: platform={name!r} is unknown; choose one of {', '.join(PLATFORMS)}")
    if limits is not None and limits not in LIMIT_ACTIONS:
        raise ValueError(f"linger.{where}: limits={limits!r}; choose one of {', '.join(LIMIT_ACTIONS)}")
    if quant_mode is not None:
        if quant_mode not in QUANT_MODES:
            raise ValueError(f"linger.{where}: quant_mode={quant_mode!r} is unknown; choose one of "
                             f"{', '.join(QUANT_MODES)}")
        if quant_mode not in IMPLEMENTED_QUANT_MODES:
            raise NotImplementedError(
                f"linger.{where}: quant_mode={quant_mode!r} ({QUANT_MODES[quant_mode]}) is not implemented by "
                f"linger's integer runtime and eval ops; use 'floor_add' ({QUANT_MODES['floor_add']}), the "
                "rounding the engine's packer verified bit-exact")
        if name is None or not PLATFORMS[name].needs_quant_mode:
            raise ValueError(f"linger.{where}: quant_mode is only written for platforms "
                             f"{', '.join(p for p, v in PLATFORMS.items() if v.needs_quant_mode)}; got "
                             f"platform={name!r}")
    if name is not None and PLATFORMS[name].needs_quant_mode and quant_mode is None:
        quant_mode = "floor_add"
    return name, quant_mode


def SetPlatform(platform: Optional[str] = DEFAULT, quant_mode: Optional[str] = None, limits: str = "error") -> None:
    """Choose the target platform for every later `linger.init` / `linger.onnx.export`: 'venus' (640 KB share-mem,
    dilation 1), 'venusA', 'arcs' (384 KB, need quant_mode, default 'floor_add') or 'mars' (384 KB).
    `limits`: 'error' (default), 'warn' or 'off'. `SetPlatform(None)` restores the default (venus implied,
    no attribute written, no limit checks)."""
    name, mode = check_platform("SetPlatform", platform, quant_mode, limits)
    state.platform, state.quant_mode, state.limits = name, mode, limits


def resolve(model: Optional[nn.Module], where: str, platform: Optional[str] = None, quant_mode: Optional[str] = None,
            limits: Optional[str] = None) -> Tuple[Optional[str], Optional[str], str]:
    """The (platform, quant_mode, limits) in force: explicit arguments, else the model's (set by init), else
    SetPlatform's."""
    saved = getattr(model, "_linger_platform", None) if model is not None else None
    if platform is None and quant_mode is None and saved is not None:
        name, mode, lim = saved
    elif platform is None and quant_mode is None:
        name, mode, lim = state.platform, state.quant_mode, state.limits
    else:
        name, mode, lim = platform, quant_mode, state.limits
        if name is None:
            name = state.platform
    if limits is not None:
        lim = limits
    name, mode = check_platform(where, name, mode, lim)
    return name, mode, lim


# ---- limits ----------------------------------------------------------------------------------------------------
def _pair(v) -> Tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def static_violations(model: nn.Module, p: Platform) -> List[str]:
    """Limits checkable without data: kernel, stride, padding, dilation, ceil_mode, linear length, deconv weights.
    Each entry names the module (its path in the model) and the limit."""
    from .nn.base import ModuleIntConfig
    out: List[str] = []
    for name, m in model.named_modules():
        where = f"'{name or type(model).__name__}' ({type(m).__name__})"
        quant = isinstance(m, ModuleIntConfig)
        if quant and isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) or isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) \
                and (quant or isinstance(m, nn.MaxPool2d)):
            k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
            pad = _pair(m.padding)
            dil = _pair(getattr(m, "dilation", 1))
            if max(k) > p.max_kernel:
                out.append(f"{where}: kernel size {'x'.join(map(str, k))} exceeds the {p.name} limit "
                           f"kernel <= {p.max_kernel}")
            if any(v not in p.strides for v in s):
                out.append(f"{where}: stride {s} is not allowed on {p.name} (stride in {set(p.strides)})")
            if any(not 0 <= v <= p.max_pad for v in pad):
                out.append(f"{where}: padding {pad} exceeds the {p.name} limit padding <= {p.max_pad}")
            if isinstance(m, nn.Conv2d) and any(ki < si for ki, si in zip(k, s)):
                out.append(f"{where}: kernel {k} smaller than stride {s} (limit: kernel >= stride)")
            if p.dilation_one and any(d != 1 for d in dil):
                out.append(f"{where}: dilation {dil} is not supported on {p.name} (limit: dilation 1)")
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) and m.ceil_mode:
                out.append(f"{where}: ceil_mode=True is not supported by the engine (limit: ceil_mode=False; the "
                           "engine's output would be smaller)")
            if isinstance(m, nn.ConvTranspose2d):
                for ki, si in zip(k, s):
                    if (si == 2 and ki < 2) or (si == 4 and ki < 4):
                        out.append(f"{where}: deconv stride {si} needs kernel >= {si} (limit)")
                if p.deconv_weights_in_shared:
                    wb = m.weight.numel()
                    if wb > p.shared_mem_kb * 1024:
                        out.append(f"{where}: weights {wb} B must sit in {p.name} share-mem "
                                   f"({p.shared_mem_kb} KB limit)")
        elif quant and isinstance(m, nn.Conv1d):
            if p.dilation_one and m.dilation[0] != 1:
                out.append(f"{where}: dilation {m.dilation[0]} is not supported on {p.name} (limit: dilation 1)")
            if m.stride[0] not in p.strides:
                out.append(f"{where}: stride {m.stride[0]} is not allowed on {p.name} (stride in {set(p.strides)})")
        elif quant and isinstance(m, nn.Linear):
            if m.in_features > p.linear_max_in:
                out.append(f"{where}: input length {m.in_features} exceeds the {p.name} LinearInt limit "
                           f"in_features <= {p.linear_max_in}")
    return out


def report_violations(problems: List[str], where: str, action: str) -> None:
    if not problems or action == "off":
        return
    msg = f"linger.{where}: the model exceeds hardware limits of the target platform:\n  " + "\n  ".join(problems) \
        + "\n(choose another platform, change the layers, or pass limits='warn' / 'off')"
    if action == "warn":
        warnings.warn(msg, stacklevel=3)
    else:
        raise ValueError(msg)


def layer_memory(module: nn.Module, in_shape, out_shape) -> Dict[str, int]:
    """Share-mem estimate of one layer, batch as given: int8 input and output activations, rows aligned like the
    packer (conv input channels to 8), plus the layer's int8 weights and int32 bias staged in share-mem."""
    def numel(shape):
        return int(math.prod(shape)) if shape else 0
    ins = list(in_shape or [])
    if isinstance(module, (nn.Conv2d, nn.Conv1d, nn.ConvTranspose2d)) and len(ins) >= 2:
        ins[1] = -(-ins[1] // 8) * 8
    w = getattr(module, "weight", None)
    b = getattr(module, "bias", None)
    wbytes = int(w.numel()) if isinstance(w, nn.Parameter) else 0
    bbytes = 4 * int(b.numel()) if isinstance(b, nn.Parameter) else 0
    out = dict(input=numel(ins), output=numel(out_shape or []), weights=wbytes + bbytes)
    out["total"] = out["input"] + out["output"] + out["weights"]
    return out
