"""The linger 1.x switches (config.SWITCHES): an op switched off runs in float between a Dequant and a Quant of its
own, and the exported file (Dequant -> standard float ONNX ops -> Quant) runs in the C++ runtime.

Every switch: train a few batches with the switch off, eval, export (opsets 12, 13, 14), run the runtime and compare
with the torch eval output.
- exact (tolerance 0): add, mul, div, sum, cat/stack, clamp, bmm/matmul, channel_shuffle, and a plain `-`.
  The float ops see dequantized int8 codes (q * 2^-Q): their sums and products are exact in float32 and
  +, -, *, / and clamp are single correctly rounded IEEE operations, so torch and the runtime get the same floats.
- at most one code off by 1 LSB: sigmoid, tanh, softmax, log_softmax (transcendental) and var.
  torch evaluates exp/tanh with SLEEF's vectorised 1-ulp functions (libm on the tail of a row) and sums softmax
  rows lane by lane; the runtime uses libm and sums in row order (runtime/src/kernels/float_unary.cc,
  float_softmax.cc), so a float can differ by an ulp. torch.var uses Welford's algorithm while the exported graph
  spells var as ReduceMean/Sub/Mul/ReduceMean/Mul/Div (float_reduce.cc), again an ulp or so apart. The following
  Quant rounds to 2^-Qo, many orders of magnitude coarser than an ulp, so a code changes only when the float
  lands within an ulp of a rounding boundary: we allow one such code per output and report the share of exact
  elements.
"""
import contextlib
import importlib
import io

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession

SETTERS = {  # setter -> config field (config.SWITCHES)
    "SetIQTensorAdd": "iqadd",
    "SetIQTensorMul": "iqmul",
    "SetIQTensorDiv": "iqdiv",
    "SetIQTensorSum": "iqsum",
    "SetIQTensorCat": "iqcat",
    "SetIQTensorClamp": "iqclamp",
    "SetIQTensorSigmoid": "iqsigmoid",
    "SetIQTensorTanh": "iqtanh",
    "SetIQTensorSoftmax": "softmaxint",
    "SetIQTensorLogSoftmax": "logsoftmaxint",
    "SetIQTensorVar": "iqvar",
    "SetFunctionBmmQuant": "bmm",
    "SetFunctionChannelShuffleQuant": "channel_shuffle",
}
# the quantized node each switch controls
QUANTIZED_NODE = {
    "SetIQTensorAdd": "iqAdd", "SetIQTensorMul": "iqMul", "SetIQTensorDiv": "iqDiv", "SetIQTensorSum": "iqSum",
    "SetIQTensorCat": "iqCat", "SetIQTensorClamp": "iqClamp", "SetIQTensorSigmoid": "iqSigmoid",
    "SetIQTensorTanh": "iqTanh", "SetIQTensorSoftmax": "SoftmaxInt", "SetIQTensorLogSoftmax": "LogSoftmaxInt",
    "SetIQTensorVar": "iqVar", "SetFunctionBmmQuant": "BmmInt", "SetFunctionChannelShuffleQuant": "ShuffleChannel",
}


class Two(nn.Module):
    """Two convolutions with different output scales, combined by `fn(a, b)` (as in test_parity.py)."""

    def __init__(self, fn, cin=3, cout=4):
        super().__init__()
        self.a = nn.Conv2d(cin, cout, 3, padding=1)
        self.b = nn.Conv2d(cin, cout, 1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.a(x), self.b(x))


# name -> (setters switched off, fn(a, b), the standard float op types expected in the export, exact)
CASES = {
    "add": (["SetIQTensorAdd"], lambda a, b: a + b, {"Add"}, True),
    "add_scalar": (["SetIQTensorAdd"], lambda a, b: a + 0.25, {"Add"}, True),
    "mul": (["SetIQTensorMul"], lambda a, b: a * b, {"Mul"}, True),
    "mul_scalar_broadcast": (["SetIQTensorMul"], lambda a, b: (a * 0.7) * b[:, :, :1, :1], {"Mul"}, True),
    # the divisor kept away from 0 by an iqClamp (switch on)
    "div": (["SetIQTensorDiv"], lambda a, b: a / torch.clamp(b, 0.5, 4.0), {"Div"}, True),
    "div_scalar": (["SetIQTensorDiv"], lambda a, b: a / 3.0, {"Div"}, True),
    "sum": (["SetIQTensorSum"], lambda a, b: a.sum(-1), {"ReduceSum"}, True),
    "sum_keepdim": (["SetIQTensorSum"], lambda a, b: b.sum((2, 3), keepdim=True), {"ReduceSum"}, True),
    "sum_all": (["SetIQTensorSum"], lambda a, b: a.sum(), {"ReduceSum"}, True),
    "cat": (["SetIQTensorCat"], lambda a, b: torch.cat([a, b, a], 1), {"Concat"}, True),
    "stack": (["SetIQTensorCat"], lambda a, b: torch.stack([a, b], 2), {"Concat", "Unsqueeze"}, True),
    "clamp": (["SetIQTensorClamp"], lambda a, b: torch.clamp(a, -0.3, 0.55), {"Clip"}, True),
    "clamp_min": (["SetIQTensorClamp"], lambda a, b: b.clamp(min=0.0), {"Clip"}, True),
    "bmm": (["SetFunctionBmmQuant"], lambda a, b: torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2)),
            {"MatMul"}, True),
    "matmul_4d": (["SetFunctionBmmQuant"], lambda a, b: a @ b.transpose(2, 3), {"MatMul"}, True),
    "channel_shuffle": (["SetFunctionChannelShuffleQuant"], lambda a, b: linger.channel_shuffle(a, 2), set(), True),
    "sigmoid": (["SetIQTensorSigmoid"], lambda a, b: torch.sigmoid(a), {"Sigmoid"}, False),
    "tanh": (["SetIQTensorTanh"], lambda a, b: torch.tanh(b), {"Tanh"}, False),
    "softmax_dim1": (["SetIQTensorSoftmax"], lambda a, b: torch.softmax(a, 1), {"Softmax"}, False),
    "softmax_last": (["SetIQTensorSoftmax"], lambda a, b: nn.functional.softmax(b, dim=-1), {"Softmax"}, False),
    "log_softmax_last": (["SetIQTensorLogSoftmax"], lambda a, b: torch.log_softmax(a, -1), {"LogSoftmax"}, False),
    "log_softmax_dim1": (["SetIQTensorLogSoftmax"], lambda a, b: b.log_softmax(1), {"LogSoftmax"}, False),
    "var": (["SetIQTensorVar"], lambda a, b: torch.var(a, 2), {"ReduceMean", "Sub", "Mul", "Div"}, False),
    "var_all": (["SetIQTensorVar"], lambda a, b: torch.var(b), {"ReduceMean", "ReduceProd", "Sub", "Mul", "Div"},
                False),
    "var_biased_keepdim": (["SetIQTensorVar"], lambda a, b: torch.var(b, (2, 3), unbiased=False, keepdim=True),
                           {"ReduceMean", "Sub", "Mul"}, False),
}
SHAPE = (8, 3, 6, 5)
EXACT_SHARE = {}  # case -> share of exactly equal elements (reported at the end of the session)


@contextlib.contextmanager
def switched_off(*setters):
    """Turns the switches off; always restores every switch's previous value."""
    saved = {f: getattr(linger.config, f) for f in SETTERS.values()}
    try:
        for s in setters:
            getattr(linger, s)(False)
        yield
    finally:
        for s, f in SETTERS.items():
            getattr(linger, s)(saved[f])


def train(model, seed, steps=3):
    """A few real training steps (forward, backward, SGD) in the current switch state."""
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for i in range(steps):
        out = model(torch.randn(SHAPE) * (1 + i % 3))
        loss = out.as_subclass(torch.Tensor).float().square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def export_and_run(model, x, opset):
    with torch.no_grad():
        ref = model(x).as_subclass(torch.Tensor).numpy()
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf, opset_version=opset)
    sess = InferenceSession(buf.getvalue())
    out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    return ref, out, onnx.load_from_string(buf.getvalue())


def output_lsb(proto):
    """2^-Q of the graph output (written by the final Dequant)."""
    prod = {o: n for n in proto.graph.node for o in n.output}
    dq = prod[proto.graph.output[0].name]
    assert dq.op_type == "Dequant"
    scale = next(onnx.helper.get_attribute_value(a) for a in dq.attribute if a.name == "scale_o")
    return 1.0 / scale


def check_float_region(proto, float_ops):
    """Every node of the expected float op types is fed (through standard-domain nodes, constants and initializers
    only) by Dequant nodes and feeds (through standard-domain nodes only) Quant nodes."""
    prod = {o: n for n in proto.graph.node for o in n.output}
    cons = {}
    for n in proto.graph.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    inits = {t.name for t in proto.graph.initializer}
    outputs = {o.name for o in proto.graph.output}

    def back(n, seen):
        found = False
        for i in n.input:
            if not i or i in inits:
                continue
            p = prod.get(i)
            assert p is not None, f"{n.op_type} reads graph input {i!r} directly"
            if p.op_type == "Dequant":
                found = True
            elif p.domain == "" and id(p) not in seen:
                seen.add(id(p))
                found = back(p, seen) or found
            elif p.domain != "":
                raise AssertionError(f"{n.op_type} reads {p.op_type} output {i!r} without a Dequant")
        return found

    def fwd(n, seen):
        for o in n.output:
            assert o not in outputs, f"{n.op_type} output {o!r} is a graph output (no Quant after it)"
            for c in cons.get(o, []):
                if c.op_type == "Quant":
                    continue
                assert c.domain == "", f"{n.op_type} feeds {c.op_type} without a Quant"
                if id(c) not in seen:
                    seen.add(id(c))
                    fwd(c, seen)

    nodes = [n for n in proto.graph.node if n.domain == "" and n.op_type in float_ops]
    assert nodes
    for n in nodes:
        assert back(n, set()), f"no Dequant before {n.op_type}"
        fwd(n, set())


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


@pytest.mark.parametrize("opset", [12, 13, 14])
@pytest.mark.parametrize("name", sorted(CASES))
def test_switched_off_op_exports_and_runs_in_the_runtime(name, opset):
    setters, fn, float_ops, exact = CASES[name]
    with switched_off(*setters):
        torch.manual_seed(0)
        model = train(linger.init(Two(fn)), seed=1)
        torch.manual_seed(2)
        x = torch.randn(SHAPE) * 2.5
        ref, out, proto = export_and_run(model, x, opset)
    ops = _ops(proto)
    for s in setters:
        assert QUANTIZED_NODE[s] not in ops, ops
    assert float_ops <= set(ops), (float_ops, ops)
    if float_ops:
        check_float_region(proto, float_ops)
    else:  # channel_shuffle: Reshape/Transpose/Reshape on the int8 tensor
        assert ops.count("Reshape") == 2 and "Transpose" in ops
    assert ref.shape == out.shape and ref.dtype == out.dtype
    share = float((ref == out).mean())
    EXACT_SHARE[f"{name}/opset{opset}"] = share
    if exact:
        assert np.array_equal(ref, out), f"{name}: {int((ref != out).sum())} of {ref.size} elements differ"
    else:
        lsb = output_lsb(proto)
        codes = np.abs(ref.astype(np.float64) - out.astype(np.float64)) / lsb
        assert codes.max() <= 1.0, f"{name}: a code differs by {codes.max()} LSB"
        assert int((codes != 0).sum()) <= 1, f"{name}: {int((codes != 0).sum())} of {ref.size} codes differ"
    print(f"{name} opset {opset}: {share:.2%} of {ref.size} elements exact")


def test_plain_sub_falls_back_to_float_and_runs_exactly():
    """`a - b` is not a linger op: it runs in float on the dequantized tensors and exports Dequant -> Sub."""
    torch.manual_seed(0)
    model = train(linger.init(Two(lambda a, b: a - b)), seed=1)
    x = torch.randn(SHAPE)
    ref, out, proto = export_and_run(model, x, 12)
    assert "Sub" in _ops(proto)
    assert np.array_equal(ref, out)


def test_seed_q28_switches_default_on_and_each_turns_its_op_off():
    # every setter exists; defaults as config.SWITCHES says: all True. SetFunctionBmmQuant is True by design,
    # unlike linger 1.x (there: off, which wrote a float MatMul the chip cannot run).
    switches = importlib.import_module("linger.config").SWITCHES  # (linger.config is the config object)
    assert set(SETTERS.values()) == set(switches)
    for setter, field in SETTERS.items():
        assert callable(getattr(linger, setter)), setter
        assert getattr(linger.config, field) is True, field
    for setter, field in SETTERS.items():
        for bad in (0, 1, None, "False", 1.0):
            with pytest.raises(TypeError):
                getattr(linger, setter)(bad)
            assert getattr(linger.config, field) is True
        with switched_off(setter):
            assert getattr(linger.config, field) is False
        assert getattr(linger.config, field) is True

    # one model using every switched op; turning one switch off changes only that op's nodes
    def every_op(a, b):
        s = torch.sigmoid(a) + torch.tanh(b)                      # iqSigmoid, iqTanh, iqAdd
        m = s * torch.clamp(b, -0.5, 0.5)                         # iqClamp, iqMul
        d = m / 2.0                                               # iqDiv
        c = torch.cat([d, torch.softmax(a, 1)], 1)                # SoftmaxInt, iqCat
        c = linger.channel_shuffle(c, 2)                          # ShuffleChannel
        v = torch.var(c, 3, keepdim=True)                         # iqVar
        t = torch.log_softmax(c, -1).sum(3, keepdim=True)         # LogSoftmaxInt, iqSum
        return torch.bmm((v + t).flatten(2).transpose(1, 2), c.flatten(2))  # BmmInt: [N,6,8] x [N,8,30]

    def export(setter):
        with switched_off(*([setter] if setter else [])):
            torch.manual_seed(0)
            model = train(linger.init(Two(every_op)), seed=1)
            x = torch.randn(SHAPE)
            ref, out, proto = export_and_run(model, x, 12)
        return ref, out, proto

    _, _, base = export(None)
    base_ops = [n.op_type for n in base.graph.node if n.domain == "thinker" and n.op_type not in ("Quant", "Dequant")]
    assert set(QUANTIZED_NODE.values()) <= set(base_ops), base_ops
    assert not any(n.domain == "" and n.op_type not in ("Reshape", "Shape", "Slice", "Concat", "Transpose",
                                                        "Gather", "Unsqueeze") for n in base.graph.node)
    for setter, node in QUANTIZED_NODE.items():
        ref, out, proto = export(setter)
        ops = [n.op_type for n in proto.graph.node if n.domain == "thinker" and n.op_type not in ("Quant", "Dequant")]
        expect = [o for o in base_ops if o != node]  # (iqAdd appears twice: both go)
        assert ops == expect, (setter, ops)
        assert ref.shape == out.shape


def test_seed_q24_large_scale_gap_cat_add_sigmoid_switched_off_runs():
    """Inputs 2^6 apart in scale into cat, add and sigmoid, all switched off: the export runs and matches."""

    def fn(a, b):
        return torch.cat([a + b, torch.sigmoid(b), torch.sigmoid(a)], 1)

    with switched_off("SetIQTensorCat", "SetIQTensorAdd", "SetIQTensorSigmoid"):
        torch.manual_seed(0)
        model = Two(fn)
        with torch.no_grad():  # conv b's output range 2^6 times smaller than conv a's (float model)
            probe = torch.randn(SHAPE)
            k = float(model.a(probe).abs().max() / model.b(probe).abs().max()) / 64
            model.b.weight.mul_(k)
            model.b.bias.mul_(k)
        model = linger.init(model)
        torch.manual_seed(1)
        model.train()
        for i in range(3):
            model(torch.randn(SHAPE) * (1 + i % 3))
        model.eval()
        torch.manual_seed(2)
        x = torch.randn(SHAPE) * 2
        ref, out, proto = export_and_run(model, x, 12)
    convs = [n for n in proto.graph.node if n.op_type == "Conv2dInt"]
    qo = [int(round(np.log2(next(onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "scale_o"))))
          for n in convs]
    assert abs(qo[0] - qo[1]) >= 6, qo
    ops = _ops(proto)
    assert {"Concat", "Add", "Sigmoid"} <= set(ops) and not {"iqCat", "iqAdd", "iqSigmoid"} & set(ops)
    check_float_region(proto, {"Concat", "Add", "Sigmoid"})
    # the cat's own output scale applies to all three parts; the add is exact; a sigmoid code may be off by 1
    lsb = output_lsb(proto)
    codes = np.abs(ref.astype(np.float64) - out.astype(np.float64)) / lsb
    assert codes.max() <= 1.0 and int((codes != 0).sum()) <= 1
    assert np.array_equal(ref[:, :4], out[:, :4])  # the a + b part: exact
    print(f"q24: conv exponents {qo}, {float((ref == out).mean()):.2%} exact")


def test_report_exact_shares():
    """Prints the share of exactly equal elements per case (run with -s to see it)."""
    for k, v in sorted(EXACT_SHARE.items()):
        print(f"{k}: {v:.4%}")
