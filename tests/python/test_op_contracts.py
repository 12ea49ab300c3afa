"""Per-op contracts between the three forwards of a quantized op, for every op in include/linger/ops.inc:

- train-vs-eval: the training forward's fake-quantized output equals the eval integers times the scale (where the
  contract says so: same statistics, float op exact), and the exponents (every scale_* buffer) agree;
- export-vs-eval: every attribute the runtime reads (scales, kernel shape, strides, pads, dilations, groups,
  ceil_mode, output_padding, weights and biases as integers) matches what eval used, and the runtime's output
  (shape included) equals eval's on every ISA the machine has.

Expected exponents come from an independent rule (`ref_exponent`, exact rationals) and expected integer weights from
tests/python/int_reference.py, never from the module's own buffers.

`CONTRACT_TESTS` lists, per op, its two tests; `test_every_op_in_ops_inc_has_train_eval_and_export_eval_tests`
fails for an op of ops.inc without an entry. Adding an op: write the two tests (here, or for an op family in
tests/python/test_iq_arith.py) and add one line to CONTRACT_TESTS.
"""
import copy
import io
import os
import re
from fractions import Fraction

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger
from linger.runtime import InferenceSession, isa_supported

import int_reference as R

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# op -> (train-vs-eval test, export-vs-eval test), each "file.py::test_function" in tests/python.
CONTRACT_TESTS = {
    "Quant": ("test_op_contracts.py::test_quant_dequant_train_equals_eval",
              "test_op_contracts.py::test_export_quant_dequant_scales_match_eval"),
    "Dequant": ("test_op_contracts.py::test_quant_dequant_train_equals_eval",
                "test_op_contracts.py::test_export_quant_dequant_scales_match_eval"),
    "Conv2dInt": ("test_op_contracts.py::test_weighted_train_equals_eval",
                  "test_op_contracts.py::test_export_weighted_attributes_match_eval"),
    "Conv1dInt": ("test_op_contracts.py::test_weighted_train_equals_eval",
                  "test_op_contracts.py::test_export_weighted_attributes_match_eval"),
    "ConvTranspose2dInt": ("test_op_contracts.py::test_weighted_train_equals_eval",
                           "test_op_contracts.py::test_export_weighted_attributes_match_eval"),
    "LinearInt": ("test_op_contracts.py::test_weighted_train_equals_eval",
                  "test_op_contracts.py::test_export_weighted_attributes_match_eval"),
    "BatchNorm2dInt": ("test_op_contracts.py::test_batchnorm_train_equals_eval_at_the_batch_statistics",
                       "test_op_contracts.py::test_export_batchnorm_attributes_match_eval"),
    "AvgPool2dInt": ("test_op_contracts.py::test_avgpool_train_equals_eval_on_ties",
                     "test_op_contracts.py::test_export_avgpool_attributes_match_eval"),
    "MaxPool": ("test_op_contracts.py::test_relu_maxpool_train_equals_eval",
                "test_op_contracts.py::test_export_relu_maxpool_attributes_match_eval"),
    "Relu": ("test_op_contracts.py::test_relu_maxpool_train_equals_eval",
             "test_op_contracts.py::test_export_relu_maxpool_attributes_match_eval"),
    "ShuffleChannel": ("test_op_contracts.py::test_shuffle_channel_train_equals_eval",
                       "test_iq_arith.py::test_export_channel_shuffle_groups"),
    "iqAdd": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_binary_attributes_match_eval"),
    "iqMul": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_binary_attributes_match_eval"),
    "iqDiv": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_binary_attributes_match_eval"),
    "iqSum": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "iqVar": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "iqCat": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
              "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "iqClamp": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
                "test_iq_arith.py::test_export_clamp_bounds_quantize_to_the_eval_thresholds"),
    "iqSigmoid": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
                  "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "iqTanh": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
               "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "SoftmaxInt": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
                   "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "LogSoftmaxInt": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
                      "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "BmmInt": ("test_iq_arith.py::test_training_forward_equals_eval_forward",
               "test_iq_arith.py::test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval"),
    "iqMean": ("test_norm_pool.py::test_mean_eval_matches_reference_and_keeps_the_exponent",
               "test_norm_pool.py::test_export_mean_and_adaptive_pool_attributes_match_eval"),
    "AdaptiveAvgPool2dInt": ("test_norm_pool.py::test_adaptive_avg_pool_non_divisible_matches_reference_and_train_equals_eval",
                             "test_norm_pool.py::test_export_mean_and_adaptive_pool_attributes_match_eval"),
    "LayerNormInt": ("test_norm_pool.py::test_norm_eval_matches_reference_and_train_equals_eval",
                     "test_norm_pool.py::test_export_norm_attributes_and_constants_match_eval"),
    "GroupNormInt": ("test_norm_pool.py::test_norm_eval_matches_reference_and_train_equals_eval",
                     "test_norm_pool.py::test_export_norm_attributes_and_constants_match_eval"),
    "EmbeddingInt": ("test_norm_pool.py::test_embedding_eval_train_gradient_and_export",
                     "test_norm_pool.py::test_embedding_eval_train_gradient_and_export"),
    "TableInt": ("test_activations.py::test_train_forward_gives_the_eval_integers_on_the_same_statistics",
                 "test_activations.py::test_eval_equals_the_reference_on_the_codes_and_export_writes_the_op"),
    "ResizeInt": ("test_activations.py::test_train_forward_gives_the_eval_integers_on_the_same_statistics",
                  "test_activations.py::test_eval_equals_the_reference_on_the_codes_and_export_writes_the_op"),
    "GRUInt": ("test_rnn_int.py::test_train_forward_equals_eval_forward",
               "test_rnn_int.py::test_export_attributes_weights_and_runtime_match_eval"),
    "LSTMInt": ("test_rnn_int.py::test_train_forward_equals_eval_forward",
                "test_rnn_int.py::test_export_attributes_weights_and_runtime_match_eval"),
}


def _ops_inc():
    text = open(os.path.join(ROOT, "include", "linger", "ops.inc")).read()
    return set(re.findall(r"^LINGER_OP\((\w+),", text, re.M))


def _test_exists(ref):
    fname, func = ref.split("::")
    path = os.path.join(HERE, fname)
    return os.path.exists(path) and re.search(rf"^def {re.escape(func)}\(", open(path).read(), re.M) is not None


def test_every_op_in_ops_inc_has_train_eval_and_export_eval_tests():
    ops = _ops_inc()
    missing = sorted(ops - set(CONTRACT_TESTS))
    assert not missing, (f"ops without train-vs-eval / export-vs-eval tests: {missing}; write both and add a line "
                         "to CONTRACT_TESTS in tests/python/test_op_contracts.py")
    stale = sorted(set(CONTRACT_TESTS) - ops)
    assert not stale, f"CONTRACT_TESTS names ops not in ops.inc: {stale}"
    for op, refs in CONTRACT_TESTS.items():
        assert len(refs) == 2, op
        for ref in refs:
            assert _test_exists(ref), f"{op}: test {ref} does not exist"


# ---------------------------------------------------------------------------------------------------------------
# independent rules

M = float(np.float32(0.1))  # the statistics' momentum as the C++ sees it (float 0.1)


def ref_exponent(r, bits=8):
    """The largest Q with r * 2^Q <= 2^(bits-1) - 1 (exact rationals)."""
    r = Fraction(float(r))
    assert r > 0
    b = 2 ** (bits - 1) - 1
    q = 0
    while r * Fraction(2) ** q > b:
        q -= 1
    while r * Fraction(2) ** (q + 1) <= b:
        q += 1
    return q


def ref_ema(old, observed, momentum=M):
    """EMA with start-up correction: the first observation (statistic still 0) is taken as is."""
    old, observed = float(np.float32(old)), float(np.float32(observed))
    if not old > 0:
        return observed
    return float(np.float32((1.0 - momentum) * old + momentum * observed))


def supported_isas():
    return [i for i in ("scalar", "avx2", "avx512vnni", "auto") if isa_supported(i)]


def plain(t):
    return t.detach().as_subclass(torch.Tensor) if isinstance(t, torch.Tensor) else t


def scales(model):
    return {k: v.clone() for k, v in model.state_dict().items() if k.rsplit(".", 1)[-1].startswith("scale_")}


def train_then_eval(model, batches, x, perturb=None):
    """Training batches, optional perturbation, one more training forward on x (yt), then eval on x (ye).
    Asserts the values and every exponent agree; returns (yt, ye, model)."""
    model.train()
    for b in batches:
        model(b)
    if perturb is not None:
        with torch.no_grad():
            perturb(model)
    yt = model(x)
    st = scales(model)
    model.eval()
    with torch.no_grad():
        ye = model(x)
    se = scales(model)
    assert st.keys() == se.keys() and st
    for k in st:
        assert torch.equal(st[k], se[k]), f"{k}: training {float(st[k])}, eval {float(se[k])}"
    assert linger.is_iqtensor(yt) and linger.is_iqtensor(ye)
    assert yt.exponent == ye.exponent
    a, b = plain(yt), plain(ye)
    assert a.shape == b.shape
    assert torch.equal(a, b), f"{int((a != b).sum())} of {a.numel()} elements differ"
    return yt, ye, model


def export_nodes(model, x):
    """Eval output, exported nodes [(op_type, attrs, inputs)], initializers; checks the runtime output (shape
    included) equals eval on every ISA."""
    model.eval()
    with torch.no_grad():
        ye = model(x)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    p = onnx.load_from_string(buf.getvalue())
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in p.graph.initializer}
    nodes = [(n.op_type, {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}, list(n.input))
             for n in p.graph.node]
    ref = plain(ye).numpy()
    for isa in supported_isas():
        sess = InferenceSession(buf.getvalue(), isa=isa)
        out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        assert out.shape == ref.shape, (isa, out.shape, ref.shape)
        assert np.array_equal(out, ref), f"{isa}: {int((out != ref).sum())} elements differ"
    return ye, nodes, consts


def one(nodes, op):
    found = [n for n in nodes if n[0] == op]
    assert len(found) == 1, (op, [n[0] for n in nodes])
    return found[0]


def exp_of(buf):
    v = float(buf)
    q = int(round(np.log2(v)))
    assert 2.0 ** q == v
    return q


# ---------------------------------------------------------------------------------------------------------------
# weighted ops: Conv2dInt, Conv1dInt, ConvTranspose2dInt, LinearInt

WEIGHTED = {
    "conv2d": (lambda: nn.Conv2d(3, 5, 3, stride=(2, 1), padding=(1, 2), dilation=(1, 2)), (2, 3, 9, 8), "Conv2dInt"),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, (3, 2), stride=2, padding=(0, 1), groups=2), (2, 4, 9, 7), "Conv2dInt"),
    "conv1d": (lambda: nn.Conv1d(3, 4, 5, stride=2, padding=2, dilation=1), (2, 3, 17), "Conv1dInt"),
    "convtranspose": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 6),
                      "ConvTranspose2dInt"),
    "linear": (lambda: nn.Linear(12, 7), (5, 12), "LinearInt"),
}


def _weighted(name, seed=0):
    factory, shape, op = WEIGHTED[name]
    torch.manual_seed(seed)
    model = linger.init(nn.Sequential(factory()))
    g = torch.Generator().manual_seed(seed + 1)
    batches = [torch.randn(shape, generator=g) * (1 + i) for i in range(3)]
    return model, batches, torch.randn(shape, generator=g) * 2, op


@pytest.mark.parametrize("name", sorted(WEIGHTED))
@pytest.mark.parametrize("perturb", [False, True])
def test_weighted_train_equals_eval(name, perturb):
    """The weights change between batches (perturb: x4, as an optimizer step would move them): the training
    weight exponent must follow the current weights exactly like eval's (momentum 1 for weights)."""
    model, batches, x, _ = _weighted(name)
    scale_w = (lambda m: m[0].weight.mul_(4.0)) if perturb else None
    train_then_eval(model, batches, x, scale_w)
    w = model[0].weight.detach()
    assert exp_of(model[0].scale_w) == ref_exponent(w.abs().max())


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_export_weighted_attributes_match_eval(name):
    model, batches, x, op = _weighted(name, seed=3)
    model.train()
    for b in batches:
        model(b)
    ye, nodes, consts = export_nodes(model, x)
    m = model[0]
    _, at, ins = one(nodes, op)
    w, b = m.weight.detach(), m.bias.detach()
    qw = ref_exponent(w.abs().max())
    qx = ref_exponent(float(m.running_x))
    qo = ref_exponent(float(m.running_o))
    assert at["scale_x"] == 2.0 ** qx and at["scale_w"] == 2.0 ** qw and at["scale_o"] == 2.0 ** qo
    assert ye.exponent == qo and at["o_bits"] == 8 and at["data_bits"] == 8 and at["parameter_bits"] == 8
    wi, bi = consts[ins[1]], consts[ins[2]]
    assert wi.dtype == np.int8 and bi.dtype == np.int32
    assert np.array_equal(wi.astype(np.int64), R.quantize(w.numpy(), qw, 8).astype(np.int64))
    assert np.array_equal(bi.astype(np.int64), R.quantize(b.numpy(), qx + qw, 32).astype(np.int64))
    if op == "LinearInt":
        assert tuple(wi.shape) == (m.out_features, m.in_features)
        return
    nd = len(m.kernel_size)
    assert at["kernel_shape"] == list(m.kernel_size) and at["strides"] == list(m.stride)
    assert at["dilations"] == list(m.dilation) and at["group"] == m.groups
    assert at["pads"] == list(m.padding) * 2, (at["pads"], m.padding)
    assert len(at["pads"]) == 2 * nd
    if op == "ConvTranspose2dInt":
        assert at["output_padding"] == list(m.output_padding)
    # the Quant in front uses the same input exponent
    _, qat, _ = one(nodes, "Quant")
    assert qat["scale_x"] == 2.0 ** qx


# ---------------------------------------------------------------------------------------------------------------
# BatchNorm2dInt

def _bn_model(seed=0):
    torch.manual_seed(seed)
    model = linger.init(nn.Sequential(nn.BatchNorm2d(4)))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.5, -0.7, 0.2, 1.0]))
        model[0].bias.copy_(torch.tensor([0.1, -0.3, 0.25, 0.0]))
    return model


def test_batchnorm_train_equals_eval_at_the_batch_statistics():
    """Training normalizes with batch statistics, eval with running ones: with the running statistics set to the
    batch statistics of the (quantized) input and frozen, the training forward gives the eval integers."""
    model = _bn_model()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 4, 5, 5, generator=g) * 1.5 + 0.3
    model.train()
    model(x)  # statistics
    bn = model[0]
    qx = ref_exponent(float(bn.running_x))
    xq = R.quantize(x.numpy(), qx, 8).astype(np.float64) * 2.0 ** -qx
    xq = torch.from_numpy(xq).float()
    with torch.no_grad():
        bn.running_x.fill_(float(x.abs().max()))  # keep qx for the next forward
        bn.running_mean.copy_(xq.mean((0, 2, 3)))
        bn.running_var.copy_(xq.var((0, 2, 3), unbiased=False))
    try:
        linger.SetBnMomentumUpdate(disable=True)
        yt, ye, _ = train_then_eval(model, [], x)
    finally:
        linger.SetBnMomentumUpdate(disable=False)
    assert yt.exponent == ref_exponent(float(bn.running_o))


def test_export_batchnorm_attributes_match_eval():
    model = _bn_model(1)
    g = torch.Generator().manual_seed(6)
    model.train()
    for i in range(3):
        model(torch.randn(4, 4, 5, 5, generator=g) * (1 + i) + 0.5)
    x = torch.randn(2, 4, 5, 5, generator=g) * 2
    ye, nodes, consts = export_nodes(model, x)
    bn = model[0]
    _, at, ins = one(nodes, "BatchNorm2dInt")
    alpha = (bn.weight * torch.rsqrt(bn.running_var + bn.eps)).detach()
    beta = (bn.bias - bn.running_mean * alpha).detach()
    qw, qx, qo = ref_exponent(alpha.abs().max()), ref_exponent(float(bn.running_x)), ref_exponent(float(bn.running_o))
    assert at["scale_x"] == 2.0 ** qx and at["scale_w"] == 2.0 ** qw and at["scale_o"] == 2.0 ** qo
    assert ye.exponent == qo
    wi, bi = consts[ins[1]].astype(np.int64), consts[ins[2]].astype(np.int64)
    assert wi.shape == (4,) and bi.shape == (4,)
    assert np.array_equal(wi, R.quantize(alpha.numpy(), qw, 8).astype(np.int64))
    assert np.array_equal(bi, R.quantize(beta.numpy(), qx + qw, 32).astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# AvgPool2dInt

def _tie_codes(shape, k, seed):
    """int8 codes whose k x k (stride k) window sums are all exact ties S = j*area + area/2 (area even)."""
    g = np.random.default_rng(seed)
    c = g.integers(-30, 30, size=shape).astype(np.int64)
    area = k * k
    n, ch, h, w = shape
    for y in range(0, h - k + 1, k):
        for x in range(0, w - k + 1, k):
            s = c[:, :, y:y + k, x:x + k].sum(axis=(2, 3))
            c[:, :, y, x] += (area // 2 - s) % area  # sum = area/2 mod area
    return np.clip(c, -128, 127)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avgpool_train_equals_eval_on_ties(ceil_mode):
    """Every window sum is a tie: the training forward rounds half up exactly like the integer op
    (train [0, 2] vs eval [1, 2] for sums 2 and 6 over 4 if it rounded half to even)."""
    q = 4
    codes = _tie_codes((2, 3, 9, 9), 2, 7)
    x = torch.from_numpy(codes.astype(np.float64) * 2.0 ** -q).float()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.AvgPool2d(2, 2, 0, ceil_mode=ceil_mode)

        def forward(self, v):
            return self.pool(linger.from_torch_tensor(v, 2.0 ** q, 8))

    model = linger.init(Net())
    yt, ye, _ = train_then_eval(model, [x], x)
    assert yt.exponent == q
    exp = R.avgpool2d_int(codes, (2, 2), (2, 2), (0, 0), ceil_mode)
    assert np.array_equal(plain(ye).double().mul(2.0 ** q).long().numpy(), exp)
    # hand-worked: sums 2 and 6 over 4 -> 1 and 2 (half up), -2 -> 0
    hand = torch.tensor([[[[1.0, 0.0, 3.0, 3.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0, -1.0, 0.0]]]]) * 2.0 ** -q
    yt, ye, _ = train_then_eval(linger.init(Net()), [hand], hand)
    assert (plain(yt) * 2.0 ** q).flatten().tolist() == [1.0, 2.0, 0.0]


@pytest.mark.parametrize("geom", [(2, 2, 0, True), (3, 2, 1, True), (3, 2, 1, False), (2, 1, 0, False)])
def test_export_avgpool_attributes_match_eval(geom):
    k, s, p, ceil_mode = geom
    model = linger.init(nn.Sequential(nn.Conv2d(3, 3, 1), nn.AvgPool2d(k, s, p, ceil_mode=ceil_mode)))
    g = torch.Generator().manual_seed(8)
    model.train()
    for i in range(2):
        model(torch.randn(2, 3, 9, 9, generator=g) * (1 + i))
    x = torch.randn(2, 3, 9, 9, generator=g)
    ye, nodes, _ = export_nodes(model, x)
    assert tuple(ye.shape) == tuple(F.avg_pool2d(torch.zeros(2, 3, 9, 9), k, s, p, ceil_mode).shape)
    _, at, _ = one(nodes, "AvgPool2dInt")
    assert at["kernel_shape"] == [k, k] and at["strides"] == [s, s] and at["pads"] == [p] * 4
    assert at["ceil_mode"] == int(ceil_mode)
    conv = model[0]
    assert at["scale_x"] == at["scale_o"] == float(conv.scale_o) == 2.0 ** ye.exponent
    assert ye.exponent == ref_exponent(float(conv.running_o))


# ---------------------------------------------------------------------------------------------------------------
# Relu and MaxPool (exact on integers, Q passes through)

def _relu_pool(ceil_mode=True):
    torch.manual_seed(2)
    return linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=ceil_mode)))


def test_relu_maxpool_train_equals_eval():
    model = _relu_pool()
    g = torch.Generator().manual_seed(9)
    yt, ye, _ = train_then_eval(model, [torch.randn(2, 3, 10, 10, generator=g) for _ in range(2)],
                                torch.randn(2, 3, 10, 10, generator=g) * 2)
    assert ye.exponent == exp_of(model[0].scale_o)
    assert float(plain(ye).min()) >= 0.0


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_export_relu_maxpool_attributes_match_eval(ceil_mode):
    model = _relu_pool(ceil_mode)
    g = torch.Generator().manual_seed(10)
    model.train()
    for _ in range(2):
        model(torch.randn(2, 3, 10, 10, generator=g))
    x = torch.randn(2, 3, 10, 10, generator=g)
    ye, nodes, _ = export_nodes(model, x)
    one(nodes, "Relu")
    _, at, _ = one(nodes, "MaxPool")
    assert at["kernel_shape"] == [3, 3] and at["strides"] == [2, 2] and at["pads"] == [1, 1, 1, 1]
    assert at.get("ceil_mode", 0) == int(ceil_mode)
    _, dq, _ = one(nodes, "Dequant")
    assert dq["scale_o"] == 2.0 ** ye.exponent == float(model[0].scale_o)


# ---------------------------------------------------------------------------------------------------------------
# Quant and Dequant

def test_quant_dequant_train_equals_eval():
    """A 1x1 average pool passes the quantized input through: training = fake-quant, eval = quantize then
    dequantize; inputs on exact ties (k + 1/2) * 2^-Q round half up in both."""
    g = np.random.default_rng(12)
    codes = g.integers(-120, 120, size=(2, 3, 4, 4))
    x = torch.from_numpy((codes + 0.5) * 2.0 ** -5).float()
    model = linger.init(nn.Sequential(nn.AvgPool2d(1)))
    yt, ye, _ = train_then_eval(model, [x], x)
    qx = ref_exponent(float(x.abs().max()))
    assert qx == 5 and ye.exponent == qx
    assert np.array_equal(plain(ye).double().mul(2.0 ** qx).long().numpy(), np.clip(codes + 1, -128, 127))


def test_export_quant_dequant_scales_match_eval():
    torch.manual_seed(4)
    model = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)))
    g = torch.Generator().manual_seed(13)
    model.train()
    for i in range(3):
        model(torch.randn(2, 3, 6, 6, generator=g) * (1 + i))
    x = torch.randn(2, 3, 6, 6, generator=g) * 3  # saturates at the Quant
    ye, nodes, _ = export_nodes(model, x)
    _, qat, _ = one(nodes, "Quant")
    _, dq, _ = one(nodes, "Dequant")
    conv = model[0]
    assert qat["scale_x"] == 2.0 ** ref_exponent(float(conv.running_x)) and qat["data_bits"] == 8
    assert dq["scale_o"] == 2.0 ** ref_exponent(float(conv.running_o)) == 2.0 ** ye.exponent


# ---------------------------------------------------------------------------------------------------------------
# ShuffleChannel

def test_shuffle_channel_train_equals_eval():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 1)

        def forward(self, v):
            return linger.channel_shuffle(self.conv(v), 3)

    torch.manual_seed(5)
    model = linger.init(Net())
    g = torch.Generator().manual_seed(14)
    x = torch.randn(2, 3, 4, 4, generator=g)
    yt, ye, _ = train_then_eval(model, [x * 2], x)
    assert ye.exponent == exp_of(model.conv.scale_o)
    model.eval()
    with torch.no_grad():
        conv_out = plain(model.conv(x))
    assert torch.equal(plain(ye), conv_out.reshape(2, 3, 2, 4, 4).transpose(1, 2).reshape(2, 6, 4, 4))


# ---------------------------------------------------------------------------------------------------------------
# statistics rules, against numbers worked by hand

def _identity_linear(**kw):
    m = linger.LinearInt(2, 2, o_bits=8, **kw)
    with torch.no_grad():
        m.weight.copy_(torch.eye(2))
        m.bias.zero_()
    return m


def test_activation_ema_momentum_and_start_up_correction_by_hand():
    m = _identity_linear()
    m.train()
    m(torch.tensor([[2.0, -1.0]]))
    # start-up: the first batch's max |x| is taken as is (no 0.1 * 2.0 bias towards 0)
    assert float(m.running_x) == 2.0 and float(m.scale_x) == 32.0  # 2 * 32 = 64 <= 127 < 2 * 64
    assert float(m.running_o) == 2.0 and float(m.scale_o) == 32.0
    assert float(m.running_w) == 1.0 and float(m.scale_w) == 64.0  # 1 * 64 <= 127 < 128
    m(torch.tensor([[30.0, 1.0]]))
    # running_x = 0.9 * 2 + 0.1 * 30 = 4.8 -> 127 / 4.8 = 26.5 -> Q 4
    assert float(m.running_x) == pytest.approx(4.8, rel=1e-6) and float(m.scale_x) == 16.0
    # the input saturates at Q4: 127 / 16 = 7.9375 is the output max; running_o = 0.9 * 2 + 0.1 * 7.9375 = 2.59375
    assert float(m.running_o) == pytest.approx(2.59375, rel=1e-6) and float(m.scale_o) == 32.0
    m(torch.tensor([[-100.0, 1.0]]))
    # running_x = 0.9 * 4.8 + 0.1 * 100 = 14.32 -> 127 / 14.32 = 8.87 -> Q 3
    assert float(m.running_x) == pytest.approx(14.32, rel=1e-6) and float(m.scale_x) == 8.0
    # output max |y| = 128 / 8 = 16 (code -128 at Q3): 0.9 * 2.59375 + 0.1 * 16 = 3.934375 -> Q 5
    assert float(m.running_o) == pytest.approx(3.934375, rel=1e-6) and float(m.scale_o) == 32.0
    # eval uses the same statistics: same exponents, no update
    m.eval()
    with torch.no_grad():
        y = m(torch.tensor([[1.0, 1.0]]))
    assert float(m.scale_x) == 8.0 and float(m.scale_o) == 32.0 and y.exponent == 5
    assert float(m.running_x) == pytest.approx(14.32, rel=1e-6)


def test_ema_matches_independent_rule_over_many_batches():
    m = _identity_linear()
    m.train()
    g = torch.Generator().manual_seed(15)
    r = 0.0
    for i in range(12):
        x = torch.randn(4, 2, generator=g) * (0.5 + i % 4)
        m(x)
        r = ref_ema(r, float(x.abs().max()))
        assert float(m.running_x) == r, i
        assert exp_of(m.scale_x) == ref_exponent(r), i


def test_weight_exponent_rule_in_training_and_eval_by_hand():
    m = _identity_linear()
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[0.5, -0.25], [0.125, 0.0]]))
    x = torch.tensor([[1.0, 1.0]])
    m.train()
    m(x)
    assert float(m.scale_w) == 128.0  # 0.5 * 128 = 64 <= 127 < 128
    with torch.no_grad():
        m.weight.mul_(4.0)  # max 2.0
    m(x)
    # weights use the current max (momentum 1): 2 * 32 = 64 <= 127 < 128; momentum 0.1 would give 0.65 -> 128
    assert float(m.running_w) == 2.0 and float(m.scale_w) == 32.0
    m.eval()
    with torch.no_grad():
        m(x)
    assert float(m.scale_w) == 32.0
    # the boundary: max 127/64 is exactly representable at Q6; one ulp above is not
    b = 127.0 / 64
    for wmax, q in [(b, 6), (float(np.nextafter(np.float32(b), np.float32(3))), 5)]:
        with torch.no_grad():
            m.weight.copy_(torch.tensor([[wmax, 0.0], [0.0, -0.5]]))
        for mode in (True, False):
            m.train(mode)
            with torch.no_grad():
                m(x)
            assert float(m.scale_w) == 2.0 ** q, (wmax, mode)


def test_ahead_relu_output_statistic_is_the_positive_max_by_hand():
    x = torch.tensor([[-6.0, 1.0], [2.0, -3.0]])
    plain_m, relu_m = _identity_linear(), _identity_linear(ahead_relu=True)
    plain_m.train()
    relu_m.train()
    plain_m(x)
    relu_m(x)
    assert float(plain_m.running_o) == 6.0 and float(plain_m.scale_o) == 16.0  # 6 * 16 = 96 <= 127 < 192
    assert float(relu_m.running_o) == 2.0 and float(relu_m.scale_o) == 32.0  # positive max only
    # second batch: EMA of the positive max 0.5: 0.9 * 2 + 0.1 * 0.5 = 1.85 -> Q 6 (118.4)
    relu_m(torch.tensor([[-7.0, 0.5]]))
    assert float(relu_m.running_o) == pytest.approx(1.85, rel=1e-6) and float(relu_m.scale_o) == 64.0
    relu_m.eval()
    with torch.no_grad():
        assert relu_m(x).exponent == 6


def test_bn_running_statistics_by_hand_and_frozen_by_set_bn_momentum_update():
    def fresh():
        bn = linger.init(nn.Sequential(nn.BatchNorm2d(1)))
        return bn

    # values 3, 5, 7, 5 (exact at the input exponent 4): mean 5, biased var 2, unbiased var 8/3
    x = torch.tensor([3.0, 5.0, 7.0, 5.0]).reshape(1, 1, 2, 2)
    m = fresh()
    m.train()
    m(x)
    assert float(m[0].running_mean) == pytest.approx(0.5, rel=1e-6)  # 0.9 * 0 + 0.1 * 5
    assert float(m[0].running_var) == pytest.approx(0.9 + 0.1 * 8 / 3, rel=1e-6)
    m = fresh()
    try:
        linger.SetBnMomentumUpdate(disable=True)
        m.train()
        m(x)
        assert float(m[0].running_mean) == 0.0 and float(m[0].running_var) == 1.0
    finally:
        linger.SetBnMomentumUpdate(disable=False)
    m(x)
    assert float(m[0].running_mean) == pytest.approx(0.5, rel=1e-6)
    # a fused conv-bn folds the frozen running statistics: a QAT forward never changes them
    conv = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    linger.trace_layers(conv, conv, (x,))
    linger.init(conv)
    before = conv[0].bn.running_mean.clone(), conv[0].bn.running_var.clone()
    conv.train()
    conv(x + 1.0)
    assert torch.equal(conv[0].bn.running_mean, before[0]) and torch.equal(conv[0].bn.running_var, before[1])
