"""The eval path of the op-family layers: run the integer computation, or, while
exporting, route it through the ONNX writer (imported only then)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional

import torch

from ._tracing import exporting


class NodeSpec(NamedTuple):
    """One thinker node: `op` is the ops.inc name; `attrs` use torch's typed suffixes (scale_x_f=...);
    `consts` are extra constant inputs appended after the tensor inputs; `out_dtype` the node's output type."""
    op: str
    attrs: Dict[str, Any]
    consts: List[torch.Tensor] = []
    out_dtype: torch.dtype = torch.int8


def run_int(compute: Callable[..., torch.Tensor], node: Optional[NodeSpec], *xs: torch.Tensor) -> torch.Tensor:
    """`compute(*xs)` (the eval integer path, dequantized); during export the same computation becomes `node`."""
    if node is not None and exporting():
        from .onnx.functions import apply_node
        return apply_node(compute, node, *xs)
    with torch.no_grad():
        return compute(*xs)


# Observers of the integer ops that run without a module of their own (pooling handlers): `linger.tools.compare`
# installs one for the duration of its eval run (scoped; nothing is installed otherwise).
RECORDERS: List[Callable[[str, torch.Tensor], None]] = []


def record(op: str, y: torch.Tensor) -> None:
    for r in RECORDERS:
        r(op, y)
