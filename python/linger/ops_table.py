"""The op list of include/linger/ops.inc, as compiled into the C++ extension.

`OPS[name]` gives the op's code (its linger::OpId, passed to the family torch
ops), ONNX domain and op_type and family. Export names, the export check and
the compare tool read this table; nothing spells an op name twice.
"""
from __future__ import annotations

from typing import Dict, NamedTuple

from ._ext import ops as _ops


class OpEntry(NamedTuple):
    code: int
    name: str
    domain: str
    op_type: str
    family: str

    @property
    def onnx_name(self) -> str:
        """`domain::op_type` as torch's symbolic `g.op` spells it."""
        return f"{self.domain}::{self.op_type}" if self.domain else self.op_type


def _load() -> Dict[str, OpEntry]:
    table = {}
    for code, row in enumerate(_ops.op_table()):
        name, domain, op_type, family = row.split("|")
        table[name] = OpEntry(code, name, domain, op_type, family)
    return table


OPS: Dict[str, OpEntry] = _load()


def code(name: str) -> int:
    return OPS[name].code
