"""Every op of include/linger/ops.inc: the exported node carries exactly the attribute names and types that
docs/onnx-dialect.md documents, for every target platform.

Data-driven: DIALECT has one entry per op -- a small float model whose export contains the op, its input
shape, and the attributes (name -> ONNX type) of that node. Adding an op to ops.inc: add its entry here and
its row to docs/onnx-dialect.md (test_every_op_in_ops_inc_has_a_dialect_entry fails until both exist)."""
import io
import os
import re

import onnx
import pytest
import torch
import torch.nn as nn

import linger

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "onnx-dialect.md")
F, I, IS, S = "FLOAT", "INT", "INTS", "STRING"


class Two(nn.Module):
    """Two conv outputs at different scales combined by `fn` (the op under test)."""

    def __init__(self, fn):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.a(x), self.b(x))


def two(fn):
    return lambda: Two(fn)


class GruY(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(5, 4, bidirectional=True)

    def forward(self, x):
        return self.rnn(x)[0]


class LstmY(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 4, bidirectional=True)

    def forward(self, x):
        return self.rnn(x)[0]


IMG = (2, 3, 6, 5)
CONV = dict(scale_x=F, scale_w=F, scale_o=F, dilations=IS, group=I, kernel_shape=IS, pads=IS, strides=IS,
            data_bits=I, parameter_bits=I, o_bits=I, platform_quant=S)
WEIGHTED = dict(scale_x=F, scale_w=F, scale_o=F, data_bits=I, parameter_bits=I, o_bits=I, platform_quant=S)
BINARY = dict(scale_x=F, scale_y=F, scale_o=F, platform_quant=S)
LUT = dict(scale_x=F, scale_o=F, platform_quant=S, castor_mode=S)
SOFTMAX = dict(scale_x=F, scale_o=F, dim=I, data_bits=I, o_bits=I, platform_quant=S)

RNN = dict(input_size=I, hidden_size=I, num_layers=I, batch_first=I, dropout=F, go_forward=I, scale_i=F, scale_h=F,
           scale_iw=F, scale_hw=F, scale_o=F, data_bits=I, parameter_bits=I, o_bits=I, platform_quant=S)

# op -> (model factory, input shape, {attribute: type} of the op's node)
DIALECT = {
    "Quant": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1)), IMG, dict(data_bits=I, scale_x=F, platform_quant=S)),
    "Dequant": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1)), IMG, dict(scale_o=F)),
    "Conv2dInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3)), IMG, dict(CONV, castor_mode=S)),
    "Conv1dInt": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3)), (2, 3, 9), CONV),
    "ConvTranspose2dInt": (lambda: nn.Sequential(nn.ConvTranspose2d(3, 4, 2, 2)), IMG, dict(CONV, output_padding=IS)),
    "LinearInt": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(90, 4)), IMG, WEIGHTED),
    "BatchNorm2dInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), IMG, WEIGHTED),
    "AvgPool2dInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.AvgPool2d(2)), IMG,
                     dict(kernel_shape=IS, strides=IS, pads=IS, ceil_mode=I, data_bits=I, scale_x=F, scale_o=F,
                          o_bits=I, platform_quant=S)),
    "MaxPool": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.MaxPool2d(2)), IMG,
                dict(kernel_shape=IS, strides=IS, pads=IS, ceil_mode=I)),
    "Relu": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()), IMG, {}),
    "iqAdd": (two(lambda a, b: a + b), IMG, dict(BINARY, mode=S)),
    "iqMul": (two(lambda a, b: a * b), IMG, BINARY),
    "iqDiv": (two(lambda a, b: a / b), IMG, BINARY),
    "iqSum": (two(lambda a, b: a.sum(-1) + b.sum(-1)), IMG, dict(scale_x=F, scale_o=F, dims=IS, keepdim=I,
                                                                  platform_quant=S)),
    "iqVar": (two(lambda a, b: torch.var(a, 2) + torch.var(b, 2)), IMG,
              dict(scale_x=F, scale_o=F, dims=IS, keepdim=I, unbiased=I, platform_quant=S)),
    "iqCat": (two(lambda a, b: torch.cat([a, b], 1)), IMG, dict(scale_x_0=F, scale_x_1=F, scale_o=F, dim=I,
                                                              platform_quant=S)),
    "iqClamp": (two(lambda a, b: torch.clamp(a, -0.3, 0.5) + b), IMG, dict(min=F, max=F, scale_x=F, scale_o=F,
                                                                         platform_quant=S)),
    "iqSigmoid": (two(lambda a, b: torch.sigmoid(a) + b), IMG, LUT),
    "iqTanh": (two(lambda a, b: torch.tanh(a) + b), IMG, LUT),
    "SoftmaxInt": (two(lambda a, b: torch.softmax(a, 1) + b), IMG, SOFTMAX),
    "LogSoftmaxInt": (two(lambda a, b: torch.log_softmax(a, 1) + b), IMG, SOFTMAX),
    "BmmInt": (two(lambda a, b: torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2))), IMG,
               dict(scale_x=F, scale_y=F, scale_o=F, data_bits=I, o_bits=I, platform_quant=S)),
    "ShuffleChannel": (two(lambda a, b: linger.channel_shuffle(a, 2) + b), IMG, dict(groups=I)),
    "iqMean": (two(lambda a, b: a.mean(-1) + b.mean(-1)), IMG,
               dict(scale_x=F, scale_o=F, dims=IS, keepdim=I, platform_quant=S)),
    "LayerNormInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.LayerNorm([6, 5])), IMG,
                     dict(WEIGHTED, eps_q=I)),
    "GroupNormInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.GroupNorm(2, 4)), IMG,
                     dict(WEIGHTED, eps_q=I, num_groups=I)),
    "AdaptiveAvgPool2dInt": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d((4, 3))), IMG,
                             dict(output_size=IS, data_bits=I, scale_x=F, scale_o=F, o_bits=I, platform_quant=S)),
    "EmbeddingInt": (lambda: nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)), "indices",
                     dict(scale_w=F, scale_o=F, parameter_bits=I, o_bits=I, platform_quant=S)),
    "TableInt": (two(lambda a, b: nn.functional.hardswish(a) + b), IMG,
                 dict(scale_x=F, scale_o=F, function=S, platform_quant=S)),
    "ResizeInt": (two(lambda a, b: nn.functional.interpolate(a, scale_factor=2.0, mode="bilinear",
                                                             align_corners=False)[..., ::2, ::2] + b), IMG,
                  dict(scale_x=F, scale_o=F, size=IS, mode=S, align_corners=I, platform_quant=S)),
    "LSTMInt": (LstmY, (6, 2, 5), RNN),
    "GRUInt": (GruY, (6, 2, 5), RNN),
}
PLATFORMS = [None, "venus", "venusA", "arcs", "mars"]


def _ops_inc():
    text = open(os.path.join(ROOT, "include", "linger", "ops.inc")).read()
    return {m[0]: m[1] for m in re.findall(r'^LINGER_OP\((\w+), "(\w*)",', text, re.M)}


def _op_types():
    text = open(os.path.join(ROOT, "include", "linger", "ops.inc")).read()
    return {m[0]: m[1] for m in re.findall(r'^LINGER_OP\((\w+), "\w*", "(\w+)",', text, re.M)}


def _example(shape):
    return torch.randint(0, 10, (2, 3)) if shape == "indices" else torch.randn(shape)


def _doc_attrs():
    """op -> attribute names its row of docs/onnx-dialect.md mentions ("as X" rows include X's, "without `a`"
    removes a)."""
    text = open(DOC).read()
    rows, refs = {}, {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 6 or not cells[1].startswith("`"):
            continue
        attrs = cells[4]
        names = set(re.findall(r"`([A-Za-z_]\w*)(?:<i>)?`", attrs))  # `scale_x_<i>` -> scale_x_
        names -= set(re.findall(r"without `(\w+)`", attrs))
        ref = re.match(r"as (\w+)", attrs)
        for op in re.findall(r"`(\w+)`", cells[1]):
            rows[op] = (names - {ref.group(1)} if ref else names)
            refs[op] = (ref.group(1), set(re.findall(r"without `(\w+)`", attrs))) if ref else None
    for op, r in refs.items():
        if r:
            rows[op] |= rows[r[0]] - r[1]
    # standard ops: "`MaxPool` (... attrs `a`, `b` ...)" in the list of standard ops
    std = text[text.index("## Standard ops accepted on integer tensors"):]
    for op, paren in re.findall(r"`(\w+)` \(([^)]*)\)", std):
        rows.setdefault(op, set(re.findall(r"`([a-z_]\w*)`", paren)))
    rows.setdefault("Relu", set())
    plat = text[text.index("## Target platform attributes"):text.index("## Standard ops accepted")]
    return rows, plat


def _export(op, platform):
    factory, shape, _ = DIALECT[op]
    torch.manual_seed(0)
    model = linger.init(nn.Sequential(factory()), platform=platform) if platform else linger.init(
        nn.Sequential(factory()))
    model.train()
    for _ in range(3):
        model(_example(shape))
    model.eval()
    buf = io.BytesIO()
    linger.onnx.export(model, _example(shape), buf)
    return onnx.load_from_string(buf.getvalue())


def expected(op, platform):
    want = dict(DIALECT[op][2])
    if platform is not None and _ops_inc()[op] == "thinker":
        want["platform"] = S
        if platform in ("venusA", "arcs") and op in ("Conv2dInt", "Conv1dInt", "ConvTranspose2dInt", "LinearInt"):
            want["quant_mode"] = S
    return want


def test_every_op_in_ops_inc_has_a_dialect_entry_and_a_doc_row():
    ops = _ops_inc()
    assert not set(ops) - set(DIALECT), f"ops without a dialect entry: {sorted(set(ops) - set(DIALECT))}"
    rows, _ = _doc_attrs()
    assert not set(ops) - set(rows), f"ops without a row in docs/onnx-dialect.md: {sorted(set(ops) - set(rows))}"


@pytest.mark.parametrize("op", sorted(DIALECT))
def test_entry_matches_the_dialect_document(op):
    rows, plat = _doc_attrs()
    names = set(re.sub(r"_\d+$", "_", n) for n in DIALECT[op][2])  # scale_x_0, scale_x_1 -> scale_x_ (<i>)
    doc = rows[op]
    assert names <= doc, f"{op}: exported attributes not in docs/onnx-dialect.md: {sorted(names - doc)}"
    # a doc row may list optional attributes that the entry's model does not write
    optional = {"dims", "dilations", "unbiased", "o_bits", "scale_o", "keepdim"}
    assert doc - names <= optional, f"{op}: documented attributes the entry never exports: {sorted(doc - names)}"
    for a in ("platform", "quant_mode", "venus", "venusA", "arcs", "mars", "floor_add"):
        assert f"`{a}`" in plat


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("op", sorted(DIALECT))
def test_exported_node_has_exactly_the_documented_attributes(op, platform):
    proto = _export(op, platform)
    nodes = [n for n in proto.graph.node if n.op_type == _op_types()[op] and n.domain == _ops_inc()[op]]
    assert nodes, f"the entry's model exports no {op} node: {[n.op_type for n in proto.graph.node]}"
    want = expected(op, platform)
    for n in nodes:
        got = {a.name: onnx.AttributeProto.AttributeType.Name(a.type) for a in n.attribute}
        assert got == want, f"{op} ({platform}): extra {sorted(set(got) - set(want))}, missing " \
                            f"{sorted(set(want) - set(got))}, types {[(k, got[k], want[k]) for k in got if k in want and got[k] != want[k]]}"
    assert "Cast" not in [n.op_type for n in proto.graph.node]
