"""Pooling, mean and normalisation of issue 8 (iqMean, functional/adaptive/1-d pools, LayerNormInt,
GroupNormInt, BatchNorm1dInt): the eval integer path against independent exact references
(int_reference.py, int_reference_arith.py), training == eval on the same statistics, STE gradients,
export attributes == eval, and linger.init's default module set."""
import io
import math

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger

import int_reference as RI
import int_reference_arith as R


class Fn(nn.Module):
    """Marks its input as an IQTensor at exponent q, then applies `fn`."""

    def __init__(self, fn, q):
        super().__init__()
        self.fn = fn
        self.q = q

    def forward(self, x):
        return self.fn(linger.from_torch_tensor(x, 2.0 ** self.q))


def grid(rng, shape, q, lo=-128, hi=127):
    c = np.asarray(rng.integers(lo, hi + 1, size=shape, dtype=np.int64))
    return c, torch.from_numpy(c.astype(np.float64) * 2.0 ** -q).float()


def codes_of(y, q):
    v = y.detach().as_subclass(torch.Tensor).double() * 2.0 ** q
    assert torch.equal(v, torch.round(v)), "output is not on its grid"
    return v.long().numpy()


def train_then_eval(model, x):
    model = linger.init(model) if not getattr(model, "_linger_root", False) else model
    model.train()
    yt = model(x)
    model.eval()
    with torch.no_grad():
        ye = model(x)
    return model, yt, ye


# ---------------------------------------------------------------------------------------------------------------
# iqMean

@pytest.mark.parametrize("seed", range(4))
def test_mean_eval_matches_reference_and_keeps_the_exponent(seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(-3, 8))
    shape = tuple(int(s) for s in rng.integers(1, 6, size=4))
    dims = sorted(set(int(d) for d in rng.integers(0, 4, size=int(rng.integers(1, 4)))))
    keep = bool(rng.integers(0, 2))
    c, x = grid(rng, shape, q)
    m, yt, ye = train_then_eval(Fn(lambda t: t.mean(dims, keepdim=keep), q), x)
    assert ye.scale_data == 2.0 ** q
    assert np.array_equal(codes_of(ye, q), R.iqmean(c, dims, keep, q, q))
    assert np.array_equal(codes_of(yt, q), codes_of(ye, q))  # training == eval


def test_mean_rounds_half_up_on_exact_ties():
    c = np.array([[[[-3, 0]]], [[[3, 0]]], [[[-1, -2]]], [[[1, 2]]]], dtype=np.int64)  # sums -3, 3, -3, 3 over 2
    x = torch.from_numpy(c.astype(np.float64)).float()
    _, _, ye = train_then_eval(Fn(lambda t: t.mean(-1), 0), x)
    assert codes_of(ye, 0).ravel().tolist() == [-1, 2, -1, 2]  # -1.5 -> -1, 1.5 -> 2


def test_mean_gradient_is_the_float_mean_gradient():
    rng = np.random.default_rng(1)
    _, x = grid(rng, (2, 3, 4, 5), 4)
    x.requires_grad_(True)
    m = linger.init(Fn(lambda t: t.mean((2, 3)), 4))
    m.train()
    y = m(x)
    g = torch.randn(y.shape)
    (y.as_subclass(torch.Tensor) * g).sum().backward()
    assert torch.allclose(x.grad, g[:, :, None, None].expand(2, 3, 4, 5) / 20.0)


# ---------------------------------------------------------------------------------------------------------------
# pooling handlers

POOLS = {
    "avg_pool2d_ceil": (lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True), (3, 3), (2, 2), (1, 1), True),
    "avg_pool2d": (lambda t: F.avg_pool2d(t, (2, 3)), (2, 3), (2, 3), (0, 0), False),
    "adaptive_global": (lambda t: F.adaptive_avg_pool2d(t, 1), None, None, (0, 0), False),
    "adaptive_2x1": (lambda t: nn.AdaptiveAvgPool2d((2, 1))(t), None, None, (0, 0), False),
}


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize("seed", range(3))
def test_avg_pools_eval_match_reference_and_train_equals_eval(name, seed):
    fn, k, s, p, ceil = POOLS[name]
    rng = np.random.default_rng(seed)
    q = int(rng.integers(-2, 7))
    h, w = 6, 9
    c, x = grid(rng, (2, 3, h, w), q)
    if k is None:  # adaptive: kernel = stride = input / output
        out = (1, 1) if name == "adaptive_global" else (2, 1)
        k = s = (h // out[0], w // out[1])
    _, yt, ye = train_then_eval(Fn(fn, q), x)
    ref = RI.avgpool2d_int(c, k, s, p, ceil)
    assert ye.scale_data == 2.0 ** q
    assert np.array_equal(codes_of(ye, q), ref)
    assert np.array_equal(codes_of(yt, q), ref)


def test_avg_pool_saturates_and_rounds_half_up():
    # window sums 127*4 and -128*4 stay in range; sum -2 over 4 -> -0.5 -> 0; sum 2 over 4 -> 0.5 -> 1
    c = np.array([[[[127, 127, -128, -128, -1, -1, 1, 1], [127, 127, -128, -128, 0, 0, 0, 0]]]], dtype=np.int64)
    x = torch.from_numpy(c.astype(np.float64)).float()
    _, _, ye = train_then_eval(Fn(lambda t: F.avg_pool2d(t, 2), 0), x)
    assert codes_of(ye, 0).ravel().tolist() == [127, -128, 0, 1]


def test_pool1d_and_adaptive_max_eval_match_reference():
    rng = np.random.default_rng(3)
    c, x = grid(rng, (2, 3, 12), 3)
    _, yt, ye = train_then_eval(Fn(lambda t: F.avg_pool1d(t, 3, 2, 1), 3), x)
    ref = RI.avgpool2d_int(c[:, :, None, :], (1, 3), (1, 2), (0, 1), False)[:, :, 0, :]
    assert np.array_equal(codes_of(ye, 3), ref) and np.array_equal(codes_of(yt, 3), ref)
    _, _, ye = train_then_eval(Fn(lambda t: F.adaptive_max_pool1d(t, 4), 3), x)
    assert np.array_equal(codes_of(ye, 3), c.reshape(2, 3, 4, 3).max(-1))
    c2, x2 = grid(rng, (2, 3, 6, 4), 1)
    _, _, ye = train_then_eval(Fn(lambda t: F.adaptive_max_pool2d(t, (3, 2)), 1), x2)
    assert np.array_equal(codes_of(ye, 1), c2.reshape(2, 3, 3, 2, 2, 2).max((3, 5)))


def test_avg_pool_gradient_is_the_float_pool_gradient():
    rng = np.random.default_rng(2)
    _, x = grid(rng, (2, 3, 6, 6), 4)
    x.requires_grad_(True)
    m = linger.init(Fn(lambda t: F.adaptive_avg_pool2d(t, 2), 4))
    m.train()
    y = m(x)
    g = torch.randn(y.shape)
    (y.as_subclass(torch.Tensor) * g).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    (F.adaptive_avg_pool2d(x2, 2) * g).sum().backward()
    assert torch.allclose(x.grad, x2.grad)


@pytest.mark.parametrize("seed", range(3))
def test_adaptive_avg_pool_non_divisible_matches_reference_and_train_equals_eval(seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(-2, 7))
    h, w = int(rng.integers(3, 12)), int(rng.integers(3, 12))
    oh, ow = int(rng.integers(1, h + 3)), int(rng.integers(1, w + 3))  # also larger than the input
    c, x = grid(rng, (2, 3, h, w), q)
    _, yt, ye = train_then_eval(Fn(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), q), x)
    ref = R.adaptive_avgpool2d(c, oh, ow)
    assert ye.scale_data == 2.0 ** q
    assert np.array_equal(codes_of(ye, q), ref) and np.array_equal(codes_of(yt, q), ref)


def test_adaptive_avg_pool_windows_overlap_and_round_half_up():
    # h = 3 -> 2 outputs: rows [0, 2) and [1, 3) overlap; sums 1 over 2 -> 1 (0.5 up), -1 over 2 -> 0
    c = np.array([[[[1], [0], [-1]]]], dtype=np.int64)
    x = torch.from_numpy(c.astype(np.float64)).float()
    _, _, ye = train_then_eval(Fn(lambda t: F.adaptive_avg_pool2d(t, (2, 1)), 0), x)
    assert codes_of(ye, 0).ravel().tolist() == [1, 0]


def test_adaptive_avg_pool_gradient_is_the_float_gradient_when_not_divisible():
    rng = np.random.default_rng(5)
    _, x = grid(rng, (2, 3, 7, 5), 4)
    x.requires_grad_(True)
    m = linger.init(Fn(lambda t: F.adaptive_avg_pool2d(t, (3, 2)), 4))
    m.train()
    y = m(x)
    g = torch.randn(y.shape)
    (y.as_subclass(torch.Tensor) * g).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    (F.adaptive_avg_pool2d(x2, (3, 2)) * g).sum().backward()
    assert torch.allclose(x.grad, x2.grad)


def test_unsupported_pool_forms_stay_float_and_export_refuses_them():
    # (divisor_override stays float too; torch's exporter itself cannot write it)
    fn = lambda t: F.avg_pool2d(t, 3, 1, 1, count_include_pad=False)  # noqa: E731
    model = nn.Sequential(nn.Conv2d(3, 4, 3), Lambda(fn))
    x = torch.randn(2, 3, 8, 9)
    model = linger.init(model)
    model.train()
    y = model(x)
    assert not linger.is_iqtensor(y)
    model.eval()
    with pytest.raises(ValueError, match="AveragePool.*count_include_pad=True"):
        linger.onnx.export(model, (x,), io.BytesIO())


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_export_functional_avg_pool_attributes_match_eval():
    model = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), Lambda(lambda t: F.avg_pool2d(t, 3, 2, 1, True))))
    model.train()
    x = torch.randn(2, 3, 9, 9)
    model(x)
    model.eval()
    with torch.no_grad():
        y = model(x)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    node = [n for n in onnx.load_from_string(buf.getvalue()).graph.node if n.op_type == "AvgPool2dInt"][0]
    a = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
    assert a["kernel_shape"] == [3, 3] and a["strides"] == [2, 2] and a["pads"] == [1, 1, 1, 1]
    assert a["ceil_mode"] == 1 and a["scale_x"] == a["scale_o"] == y.scale_data


# ---------------------------------------------------------------------------------------------------------------
# LayerNormInt / GroupNormInt

def _norm_model(kind, eps=1e-5):
    torch.manual_seed(0)
    if kind == "layernorm":
        norm = nn.LayerNorm([3, 5], eps=eps)
    else:
        norm = nn.GroupNorm(2, 4, eps=eps)
    with torch.no_grad():
        norm.weight.uniform_(-2, 2)
        norm.bias.uniform_(-1, 1)
    return norm


def _norm_reference(kind, norm, c, qx, qw, qo):
    wi = np.asarray([R.rhu(v) for v in (norm.weight.detach().double().numpy().ravel() * 2 ** qw)], dtype=np.int64)
    bi = np.asarray([R.rhu(v) for v in (norm.bias.detach().double().numpy().ravel() * 2 ** (qw + 10))], dtype=np.int64)
    if kind == "layernorm":
        return R.layernorm(c, wi.reshape(norm.weight.shape), bi.reshape(norm.weight.shape), norm.eps, qx, qw, qo)
    return R.groupnorm(c, norm.num_groups, wi, bi, norm.eps, qx, qw, qo)


@pytest.mark.parametrize("kind", ["layernorm", "groupnorm"])
@pytest.mark.parametrize("seed", range(4))
def test_norm_eval_matches_reference_and_train_equals_eval(kind, seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(-1, 9))
    eps = [1e-5, 1e-3, 0.5, 1e-12][seed]
    shape = (3, 4, 3, 5)
    lo, hi = [(-128, 127), (-3, 3), (5, 9), (-128, 127)][seed]  # wide, narrow, constant-ish, full
    c, x = grid(rng, shape, q, lo, hi)
    if seed == 3:
        c[0] = 17  # a row of equal codes: D = eps_q only
        x = torch.from_numpy(c.astype(np.float64) * 2.0 ** -q).float()
    norm = _norm_model(kind, eps)
    m = linger.init(nn.Sequential(norm))
    m.train()
    yt = m(linger.from_torch_tensor(x, 2.0 ** q))
    qo = int(round(math.log2(yt.scale_data)))
    if seed == 1:  # narrow the output statistic: many codes saturate
        with torch.no_grad():
            m[0].running_o.mul_(0.25)
    m.eval()
    with torch.no_grad():
        ye = m(linger.from_torch_tensor(x, 2.0 ** q))
    qo_e = int(round(math.log2(ye.scale_data)))
    qw = int(round(math.log2(float(m[0].scale_w))))
    ref = _norm_reference(kind, norm, c, q, qw, qo_e)
    assert np.array_equal(codes_of(ye, qo_e), ref)
    if seed == 1:
        assert (np.abs(ref) >= 127).sum() > 1
    else:
        assert qo == qo_e and np.array_equal(codes_of(yt, qo), ref)  # training == eval on the same statistics


def test_layernorm_training_follows_the_float_layer_norm():
    torch.manual_seed(1)
    m = linger.init(nn.Sequential(nn.LayerNorm(32)))
    m.train()
    x = torch.randn(8, 32)
    y = m(x).as_subclass(torch.Tensor)
    ref = F.layer_norm(x, (32,), m[0].weight, m[0].bias, 1e-5)
    assert (y - ref).abs().max() < 0.1


@pytest.mark.parametrize("kind", ["layernorm", "groupnorm"])
def test_norm_gradients_are_the_float_norm_gradients(kind):
    norm = _norm_model(kind)
    ref = _norm_model(kind)
    m = linger.init(nn.Sequential(norm))
    norm = m[0]  # the quantized module (it shares the Parameters)
    m.train()
    rng = np.random.default_rng(0)
    _, x = grid(rng, (3, 4, 3, 5), 5)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y = m(x1)
    qw = int(round(math.log2(float(norm.scale_w))))
    g = torch.randn(y.shape)
    (y.as_subclass(torch.Tensor) * g).sum().backward()
    wq = torch.floor(ref.weight.detach() * 2 ** qw + 0.5) * 2.0 ** -qw
    bq = torch.floor(ref.bias.detach() * 2 ** (qw + 10) + 0.5) * 2.0 ** -(qw + 10)
    with torch.no_grad():
        ref.weight.copy_(wq)
        ref.bias.copy_(bq)
    qx = int(round(math.log2(float(norm.scale_x))))
    x2q = x2 + (torch.floor(x2 * 2 ** qx + 0.5) * 2.0 ** -qx - x2).detach()  # the input on its grid, STE
    (ref(x2q) * g).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-5)
    assert torch.allclose(norm.weight.grad, ref.weight.grad, atol=1e-4)
    assert torch.allclose(norm.bias.grad, ref.bias.grad, atol=1e-5)


@pytest.mark.parametrize("kind", ["layernorm", "groupnorm"])
def test_export_norm_attributes_and_constants_match_eval(kind):
    norm = _norm_model(kind, eps=1e-3)
    m = linger.init(nn.Sequential(nn.Conv2d(4, 4, 1), norm))
    norm = m[1]
    m.train()
    x = torch.randn(2, 4, 3, 5)
    m(x)
    m.eval()
    buf = io.BytesIO()
    linger.onnx.export(m, (x,), buf)
    g = onnx.load_from_string(buf.getvalue()).graph
    node = [n for n in g.node if n.op_type in ("LayerNormInt", "GroupNormInt")][0]
    assert node.domain == "thinker"
    a = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
    qx = int(round(math.log2(float(norm.scale_x))))
    qw = int(round(math.log2(float(norm.scale_w))))
    count = 15 if kind == "layernorm" else 30
    assert a["scale_x"] == float(norm.scale_x) and a["scale_w"] == float(norm.scale_w)
    assert a["scale_o"] == float(norm.scale_o) and a["parameter_bits"] == 16 and a["o_bits"] == 8
    assert a["eps_q"] == R.layernorm_eps_q(1e-3, qx, count)
    if kind == "groupnorm":
        assert a["num_groups"] == 2
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}
    vals = {**inits, **consts}
    w, b = vals[node.input[1]], vals[node.input[2]]
    assert w.dtype == np.int16 and b.dtype == np.int32
    assert np.array_equal(w.ravel(), [R.rhu(v) for v in norm.weight.detach().double().numpy().ravel() * 2 ** qw])
    assert np.array_equal(b.ravel(), [R.rhu(v) for v in norm.bias.detach().double().numpy().ravel() * 2 ** (qw + 10)])


def test_layernorm_wrong_shape_names_the_module():
    m = linger.init(nn.Sequential(nn.LayerNorm(6)))
    with pytest.raises(ValueError, match=r"'0' \(LayerNormInt\).*ending in \(6,\)"):
        m(torch.randn(2, 5))


# ---------------------------------------------------------------------------------------------------------------
# BatchNorm1d and the default module set

def test_batchnorm1d_eval_matches_reference_and_train_equals_eval():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(4)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    m = linger.init(nn.Sequential(bn))
    assert type(m[0]).__name__ == "BatchNorm1dInt"
    rng = np.random.default_rng(0)
    for shape in [(6, 4), (3, 4, 5)]:
        c, x = grid(rng, shape, 5)
        m.train()
        m(x)
        m.eval()
        with torch.no_grad():
            ye = m(linger.from_torch_tensor(x, 2.0 ** 5))
            qo = int(round(math.log2(ye.scale_data)))
            inv = torch.rsqrt(bn.running_var + bn.eps)  # the float fold (float32), then exact rounding
            alpha = (bn.weight * inv).double().numpy()
            beta = (bn.bias - bn.running_mean * (bn.weight * inv)).double().numpy()
        # the weight exponent rule on the folded eval weights (eval stores nothing: not read from scale_w):
        # the largest Q with max|alpha| * 2^Q <= 127
        qw = 40
        while float(np.abs(alpha).max()) * 2.0 ** qw > 127:
            qw -= 1
        wi = np.array([R.rhu(v * 2 ** qw) for v in alpha])
        bi = np.array([R.rhu(v * 2 ** (5 + qw)) for v in beta])
        ref = RI.batchnorm_int(c.reshape(shape[0], 4, -1, 1), wi, bi, 5 + qw - qo).reshape(shape)
        assert np.array_equal(codes_of(ye, qo), ref)


def test_default_quant_modules_cover_norms_and_pools():
    for t in (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.AvgPool2d, nn.BatchNorm2d):
        assert t in linger.DefaultQuantIntXOP
    m = linger.init(nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.BatchNorm1d(6)))
    assert [type(c).__name__ for c in m] == ["LinearInt", "LayerNormInt", "BatchNorm1dInt"]


# ---------------------------------------------------------------------------------------------------------------
# EmbeddingInt and the constraint stage

def test_embedding_eval_train_gradient_and_export():
    torch.manual_seed(0)
    emb = nn.Embedding(9, 5, padding_idx=2)
    m = linger.init(nn.Sequential(emb))
    assert type(m[0]).__name__ == "EmbeddingInt" and m[0].weight is emb.weight  # the Parameter is kept
    idx = torch.tensor([[0, 8, 2], [3, 3, 1]])
    m.train()
    yt = m(idx)
    qw = int(round(math.log2(yt.scale_data)))
    table = np.array([[R.rhu(v * 2 ** qw) for v in row] for row in emb.weight.detach().double().numpy()])
    assert np.abs(table).max() <= 127 and np.abs(table).max() >= 64  # the table's own exponent
    assert np.array_equal(codes_of(yt, qw), table[idx.numpy()])
    g = torch.randn(yt.shape)
    (yt.as_subclass(torch.Tensor) * g).sum().backward()
    expect = torch.zeros(9, 5)
    for (a, b), r in np.ndenumerate(idx.numpy()):
        if r != 2:  # padding_idx gets no gradient
            expect[r] += g[a, b]
    assert torch.allclose(emb.weight.grad, expect)
    m.eval()
    with torch.no_grad():
        ye = m(idx)
    assert ye.scale_data == yt.scale_data and np.array_equal(codes_of(ye, qw), table[idx.numpy()])
    buf = io.BytesIO()
    linger.onnx.export(m, (idx,), buf)
    g = onnx.load_from_string(buf.getvalue()).graph
    node = [n for n in g.node if n.op_type == "Gather" and n.domain == "thinker"][0]
    a = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
    assert a["scale_w"] == a["scale_o"] == 2.0 ** qw and a["parameter_bits"] == 8 and a["o_bits"] == 8
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    consts.update({n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in g.node
                   if n.op_type == "Constant"})
    w = consts[node.input[0]]
    assert w.dtype == np.int8 and np.array_equal(w, table)
    from linger.tools.compare import compare
    assert compare(m, buf.getvalue(), idx).ok


def test_embedding_rejects_float_input_and_out_of_range_index():
    m = linger.init(nn.Sequential(nn.Embedding(4, 3)))
    m.train()
    with pytest.raises(TypeError, match=r"'0' \(EmbeddingInt\) expects integer indices"):
        m(torch.randn(2, 3))
    m(torch.tensor([0, 3]))
    m.eval()
    with pytest.raises(RuntimeError, match="out of range"):
        m(torch.tensor([4]))


def test_normalize_layernorm_and_embedding_clamp_then_init_keeps_the_clamps():
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 8)
            self.ln = nn.LayerNorm(8)
            self.fc = nn.Linear(8, 2)

        def forward(self, idx):
            return self.fc(self.ln(self.emb(idx)))

    net = Net()
    with torch.no_grad():
        net.emb.weight.mul_(4)
        net.ln.weight.uniform_(-3, 3)
    linger.normalize_layers(net, normalize_modules=(nn.Linear, nn.LayerNorm, nn.Embedding),
                            normalize_weight_value=2, normalize_bias_value=2, normalize_output_value=3)
    assert isinstance(net.ln, linger.NormalizeLayerNorm) and isinstance(net.emb, linger.NormalizeEmbedding)
    idx = torch.randint(0, 10, (4, 5))
    e = net.emb(idx)
    assert e.abs().max() <= 2  # table clamped to the weight bound
    y = net.ln(torch.randn(4, 8) * 5)
    assert y.abs().max() <= 3 and float(y.abs().max()) == 3.0  # output clamped
    linger.init(net, quant_modules=(nn.Linear, nn.LayerNorm, nn.Embedding))
    assert type(net.ln).__name__ == "LayerNormInt" and net.ln.clamp_weight == 2 and net.ln.clamp_data == 3
    assert type(net.emb).__name__ == "EmbeddingInt" and net.emb.clamp_weight == 2
    net.train()
    for _ in range(2):
        net(torch.randint(0, 10, (4, 5)))
    net.eval()
    buf = io.BytesIO()
    x = torch.randint(0, 10, (4, 5))
    linger.onnx.export(net, (x,), buf)
    from linger.tools.compare import compare
    assert compare(net, buf.getvalue(), x).ok


def test_diverged_values_are_an_error_naming_the_module():
    # the range problem of tiny-batch BNs at 1x1 (mnasnet / mobilenet at 32x32, batch 2): an error naming the module
    m = linger.init(nn.Sequential(nn.BatchNorm1d(4)))
    with torch.no_grad():
        m[0].weight.fill_(1e-12)  # gamma/sigma needs an exponent near 47
    with pytest.raises(ValueError, match=r"module '0' \(BatchNorm1dInt\): the exponent \d+ of its int32 bias"):
        m(torch.randn(8, 4))
    m = linger.init(nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)))
    with torch.no_grad():
        m[1].weight.fill_(1e3)
    with pytest.raises(ValueError, match=r"module '1' \(BatchNorm2dInt\): the exponent -\d+ of its int32 bias"):
        m(1e11 + torch.randn(4, 2, 1, 1) * 1e4)  # huge values, tiny batch variance: gamma/sigma ~1e3


def _export_nodes(model, x):
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    return onnx.load_from_string(buf.getvalue()).graph.node


def test_export_mean_and_adaptive_pool_attributes_match_eval():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return F.adaptive_avg_pool2d(y, (3, 2)) + y.mean((2, 3), keepdim=True)

    torch.manual_seed(0)
    m = linger.init(Net())
    m.train()
    x = torch.randn(2, 3, 9, 8)  # conv output 7 x 6: (3, 2) does not divide 7
    m(x)
    m.eval()
    nodes = _export_nodes(m, x)
    qy = float(m.conv.scale_o)
    ap = [n for n in nodes if n.op_type == "AdaptiveAvgPool2dInt"][0]
    a = {t.name: onnx.helper.get_attribute_value(t) for t in ap.attribute}
    assert ap.domain == "thinker" and a["output_size"] == [3, 2] and a["scale_x"] == a["scale_o"] == qy
    mean = [n for n in nodes if n.op_type == "iqMean"][0]
    a = {t.name: onnx.helper.get_attribute_value(t) for t in mean.attribute}
    assert a["dims"] == [2, 3] and a["keepdim"] == 1 and a["scale_x"] == a["scale_o"] == qy
    from linger.tools.compare import compare
    buf = io.BytesIO()
    linger.onnx.export(m, (x,), buf)
    assert compare(m, buf.getvalue(), x).ok
