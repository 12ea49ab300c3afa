"""How closely ONNX Runtime, running linger's QDQ export, agrees with linger's runtime on the thinker export
(docs/qdq.md). Needs the `onnxruntime` package.

    from linger.tools.qdq_agreement import agreement
    r = agreement(thinker_bytes, qdq_bytes, {"x": images})   # r.share_equal, r.max_code_diff, r.codes

Output codes are compared: each graph output is dequantized by a `Dequant` (thinker) / `DequantizeLinear` (QDQ)
at exponent Q, so `value * 2^Q` is its int8 code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import onnx


@dataclass
class Agreement:
    codes: int            # output codes compared
    equal: int            # of which equal
    max_code_diff: int    # largest |ORT code - linger code|
    per_output: Dict[str, tuple]
    rows: int = 0         # rows of 2-D outputs (e.g. images' logits)
    same_argmax: int = 0  # of which the index of the largest value is the same (the same predicted class)

    @property
    def share_equal(self) -> float:
        return self.equal / self.codes if self.codes else 1.0

    def __str__(self) -> str:
        top = f", same argmax {self.same_argmax}/{self.rows}" if self.rows else ""
        return (f"{100.0 * self.share_equal:.2f}% of {self.codes} output codes equal, largest difference "
                f"{self.max_code_diff}{top}")


def output_exponents(thinker: onnx.ModelProto) -> Dict[str, Optional[int]]:
    """Graph output -> the exponent of the Dequant writing it (None for a float output)."""
    out: Dict[str, Optional[int]] = {o.name: None for o in thinker.graph.output}
    for n in thinker.graph.node:
        if n.op_type == "Dequant" and n.output[0] in out:
            scale = next(onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "scale_o")
            out[n.output[0]] = int(np.frexp(scale)[1]) - 1
    return out


def ort_session(qdq: bytes, optimize: bool = True, threads: int = 1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = threads
    return ort.InferenceSession(qdq, so, providers=["CPUExecutionProvider"])


def agreement(thinker: bytes, qdq: bytes, feeds: Dict[str, np.ndarray], optimize: bool = True,
              batch: Optional[int] = None) -> Agreement:
    """Run `thinker` in linger's runtime and `qdq` in ONNX Runtime on `feeds` (in one run, or split along dim 0
    into `batch`es for files exported with a dynamic batch axis) and compare the output codes."""
    from ..runtime import InferenceSession

    exps = output_exponents(onnx.load_from_string(thinker))
    names = list(exps)
    ours_s = InferenceSession(thinker)
    ort_s = ort_session(qdq, optimize)
    n = len(next(iter(feeds.values())))
    batch = batch or n
    ours: List[List[np.ndarray]] = [[] for _ in names]
    theirs: List[List[np.ndarray]] = [[] for _ in names]
    for i in range(0, n, batch):
        part = {k: np.ascontiguousarray(v[i:i + batch]) for k, v in feeds.items()}
        for acc, res in ((ours, ours_s.run(names, part)), (theirs, ort_s.run(names, part))):
            for j, r in enumerate(res):
                acc[j].append(np.asarray(r))
    codes = equal = worst = rows = same = 0
    per = {}
    for j, name in enumerate(names):
        a, b = np.concatenate(ours[j]), np.concatenate(theirs[j])
        q = exps[name]
        if q is not None:  # codes: exact in float64 (int8 times a power of two)
            a, b = a.astype(np.float64) * 2.0 ** q, b.astype(np.float64) * 2.0 ** q
        d = np.abs(a - b)
        e, m = int((d == 0).sum()), int(np.ceil(d.max())) if d.size else 0
        per[name] = (d.size, e, m)
        codes, equal, worst = codes + d.size, equal + e, max(worst, m)
        if a.ndim == 2 and a.shape[1] > 1:
            rows += a.shape[0]
            same += int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
    return Agreement(codes, equal, worst, per, rows, same)
