"""IQTensor arithmetic (iqops / iqfunctions): the eval integer path against independent exact references
(int_reference_arith.py), training == eval, STE gradients, export attributes, in-place forms and 1.x layer names."""
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
from linger.nn.iqops import IQLayer

import int_reference_arith as R


# ---------------------------------------------------------------------------------------------------------------
# harness

class Fn(nn.Module):
    """Marks its inputs as IQTensors at the given exponents, then applies `fn` (the op under test)."""

    def __init__(self, fn, qs, clone=False):
        super().__init__()
        self.fn = fn
        self.qs = list(qs)
        self.clone = clone

    def forward(self, *xs):
        if self.clone:  # in-place ops need non-leaf inputs (as in plain torch)
            xs = [x.clone() for x in xs]
        xs = [linger.from_torch_tensor(x, 2.0 ** q) for x, q in zip(xs, self.qs)]
        return self.fn(*xs)


def grid(rng, shape, q, lo=-128, hi=127):
    """(codes int64, float tensor of the grid values codes * 2^-q)."""
    c = np.asarray(rng.integers(lo, hi + 1, size=shape, dtype=np.int64))
    return c, torch.from_numpy(np.asarray(c.astype(np.float64) * 2.0 ** -q)).float()


def codes_of(y, q):
    v = y.detach().as_subclass(torch.Tensor).double() * 2.0 ** q
    assert torch.equal(v, torch.round(v)), "output is not on its grid"
    return v.long().numpy()


def iq_layers(m):
    return [(n, l) for n, l in m.named_modules() if isinstance(l, IQLayer)]


def set_qo(m, qo):
    """Make every functional-op layer's running_o imply output exponent qo."""
    for _, l in iq_layers(m):
        with torch.no_grad():
            l.running_o.fill_(127.0 * 2.0 ** -qo)


def eval_at(fn, qs, xs, qo):
    """Create the layers in one training forward, then evaluate at output exponent qo."""
    m = linger.init(Fn(fn, qs))
    m.train()
    m(*xs)
    set_qo(m, qo)
    m.eval()
    with torch.no_grad():
        y = m(*xs)
    assert linger.is_iqtensor(y)
    return m, y


def exp_of(buf):
    return int(round(math.log2(float(buf))))


# ---------------------------------------------------------------------------------------------------------------
# eval integer path == exact reference

MUL_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ()), ((), (2, 3)),
              ((1, 3, 1), (2, 1, 5))]


@pytest.mark.parametrize("op", ["mul", "div", "add"])
@pytest.mark.parametrize("seed", range(4))
def test_binary_eval_matches_reference(op, seed):
    rng = np.random.default_rng(100 + seed)
    fns = {"mul": (lambda a, b: a * b, R.iqmul), "div": (lambda a, b: a / b, R.iqdiv),
           "add": (lambda a, b: a + b, R.iqadd)}
    fn, ref = fns[op]
    saturated = 0
    for sa, sb in MUL_SHAPES:
        qa, qb = int(rng.integers(-2, 9)), int(rng.integers(-2, 9))
        ca, a = grid(rng, sa, qa)
        cb, b = grid(rng, sb, qb, -20 if op == "div" else -128, 20 if op == "div" else 127)
        if op == "div" and cb.size > 1:  # zero divisors: saturation by the sign of a, 0/0 = 0
            cb.reshape(-1)[0] = 0
            b = torch.from_numpy(np.asarray(cb * 2.0 ** -qb)).float()
            ca.reshape(-1)[0] = 0
            a = torch.from_numpy(np.asarray(ca * 2.0 ** -qa)).float()
        base = {"mul": qa + qb, "div": qa - qb, "add": max(qa, qb)}[op]
        for qo in (base - 6, base - 2, base, base + 2):
            _, y = eval_at(fn, (qa, qb), (a, b), qo)
            assert y.exponent == qo
            exp = ref(ca, cb, qa, qb, qo)
            got = codes_of(y, qo)
            assert got.shape == exp.shape, (sa, sb)
            assert np.array_equal(got, exp), (op, sa, sb, qa, qb, qo)
            saturated += int(((exp == 127) | (exp == -128)).sum())
    assert saturated > 0  # the saturation cases are exercised


SCALAR_FNS = {"mul": lambda a, c: a * c, "rmul": lambda a, c: c * a, "mul_fn": lambda a, c: torch.mul(a, c),
              "div": lambda a, c: a / c, "div_fn": lambda a, c: torch.div(a, c), "add": lambda a, c: a + c,
              "radd": lambda a, c: c + a}
SCALAR_REF = {"mul": R.iqmul, "rmul": R.iqmul, "mul_fn": R.iqmul, "div": R.iqdiv, "div_fn": R.iqdiv, "add": R.iqadd,
              "radd": R.iqadd}


@pytest.mark.parametrize("op", sorted(SCALAR_FNS))
@pytest.mark.parametrize("c", [0.7, -3.0, 5, 1000.0, 0.013, 0.0])
def test_binary_scalar_operand_eval_matches_reference(op, c):
    rng = np.random.default_rng(7)
    qa = 5
    ca, a = grid(rng, (3, 5), qa)
    fn = lambda a: SCALAR_FNS[op](a, c)
    ref = SCALAR_REF[op]
    qc = R.scalar_exponent(c) if c != 0 else 0
    cc = np.array(R.quantize_value(float(np.float32(c)), qc), dtype=np.int64)
    for qo in (0, 3, 6):
        _, y = eval_at(fn, (qa,), (a,), qo)
        assert np.array_equal(codes_of(y, qo), ref(ca, cc, qa, qc, qo)), (op, c, qo)


@pytest.mark.parametrize("seed", range(2))
def test_extreme_exponents_eval_matches_reference(seed):
    """Exponents far apart (large left shifts, quotients far above or below int8, the clamps in the headers)."""
    rng = np.random.default_rng(900 + seed)
    for _ in range(12):
        qa, qb = int(rng.integers(-15, 25)), int(rng.integers(-15, 25))
        ca, a = grid(rng, (3, 4), qa)
        cb, b = grid(rng, (3, 4), qb)
        cb[0, 0] = 0
        b = torch.from_numpy(cb * 2.0 ** -qb).float()
        clampq = lambda q: max(-30, min(30, q))  # the exponent rule clamps Q to [-32, 40]
        for fn, ref, base in [(lambda a, b: a * b, R.iqmul, qa + qb), (lambda a, b: a / b, R.iqdiv, qa - qb),
                              (lambda a, b: a + b, R.iqadd, max(qa, qb))]:
            qo = clampq(base + int(rng.integers(-45, 45)))
            _, y = eval_at(fn, (qa, qb), (a, b), qo)
            assert y.exponent == qo and np.array_equal(codes_of(y, qo), ref(ca, cb, qa, qb, qo)), (qa, qb, qo)
        qo = clampq(2 * qa + int(rng.integers(-70, 70)))
        _, y = eval_at(lambda a, b: torch.var(a, 1), (qa, qb), (a, b), qo)
        assert np.array_equal(codes_of(y, qo), R.iqvar(ca, [1], False, True, qa, qo)), (qa, qo)
        qo = clampq(qa + int(rng.integers(-45, 45)))
        _, y = eval_at(lambda a, b: a.sum(), (qa, qb), (a, b), qo)
        assert np.array_equal(codes_of(y, qo), R.iqsum(ca, None, False, qa, qo)), (qa, qo)
        _, y = eval_at(lambda a, b: torch.cat([a, b]), (qa, qb), (a, b), qo)
        assert np.array_equal(codes_of(y, qo), R.iqcat([ca, cb], [qa, qb], qo, 0)), (qa, qb, qo)


def test_div_by_zero_saturates_and_zero_over_zero_is_zero():
    a = torch.tensor([1.0, -1.0, 0.0, 0.5, -0.25, 0.0])
    b = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.5])
    _, y = eval_at(lambda a, b: a / b, (4, 4), (a, b), 3)
    assert codes_of(y, 3).tolist() == [127, -128, 0, 127, -128, 0]


REDUCE_CASES = [((3, 4, 5), None, False), ((3, 4, 5), 1, False), ((3, 4, 5), -1, True), ((3, 4, 5), (0, 2), True),
                ((2, 3, 4, 2), (1, 3), False), ((6,), 0, True), ((4, 1), 1, False), ((7,), None, True)]


@pytest.mark.parametrize("seed", range(3))
def test_sum_eval_matches_reference(seed):
    rng = np.random.default_rng(200 + seed)
    for shape, dim, keep in REDUCE_CASES:
        qx = int(rng.integers(-1, 8))
        cx, x = grid(rng, shape, qx)
        if dim is None:
            fn = (lambda x: x.sum()) if not keep else (lambda x: torch.sum(x, tuple(range(len(shape))), keepdim=True))
        else:
            fn = lambda x, d=dim, k=keep: x.sum(d, keepdim=k)
        dims = None if dim is None else ([dim] if isinstance(dim, int) else list(dim))
        for qo in (qx - 6, qx - 3, qx):
            _, y = eval_at(fn, (qx,), (x,), qo)
            exp = R.iqsum(cx, dims, keep, qx, qo)
            got = codes_of(y, qo)
            assert got.shape == exp.shape and np.array_equal(got, exp), (shape, dim, keep, qx, qo)


@pytest.mark.parametrize("seed", range(3))
def test_var_eval_matches_reference(seed):
    rng = np.random.default_rng(300 + seed)
    for shape, dim, keep in REDUCE_CASES:
        for unbiased in (True, False):
            qx = int(rng.integers(-1, 8))
            cx, x = grid(rng, shape, qx, -60, 60)
            if dim is None:
                fn = (lambda x, u=unbiased: torch.var(x, unbiased=u)) if not keep else \
                    (lambda x, u=unbiased: torch.var(x, tuple(range(len(shape))), u, True))
            else:
                fn = lambda x, d=dim, k=keep, u=unbiased: torch.var(x, d, unbiased=u, keepdim=k)
            dims = None if dim is None else ([dim] if isinstance(dim, int) else list(dim))
            for qo in (2 * qx - 12, 2 * qx - 10, 2 * qx - 6):
                _, y = eval_at(fn, (qx,), (x,), qo)
                exp = R.iqvar(cx, dims, keep, unbiased, qx, qo)
                got = codes_of(y, qo)
                assert got.shape == exp.shape and np.array_equal(got, exp), (shape, dim, keep, unbiased, qx, qo)


def test_var_of_one_element_unbiased_is_zero():
    _, y = eval_at(lambda x: torch.var(x, 1), (3,), (torch.tensor([[1.0], [-2.0]]),), 4)
    assert codes_of(y, 4).tolist() == [0, 0]


@pytest.mark.parametrize("seed", range(4))
def test_cat_and_stack_eval_match_reference(seed):
    rng = np.random.default_rng(400 + seed)
    for k in (2, 3):
        qs = [int(rng.integers(-2, 9)) for _ in range(k)]
        dim = int(rng.integers(-3, 3))
        shapes = []
        for _ in range(k):
            s = [2, 3, 4]
            s[dim % 3] = int(rng.integers(1, 4))
            shapes.append(tuple(s))
        data = [grid(rng, s, q) for s, q in zip(shapes, qs)]
        for qo in (min(qs) - 2, min(qs), max(qs)):
            _, y = eval_at(lambda *xs, d=dim: torch.cat(list(xs), d), qs, [d[1] for d in data], qo)
            assert np.array_equal(codes_of(y, qo), R.iqcat([d[0] for d in data], qs, qo, dim % 3))
        # stack: the same shapes for every input
        sdata = [grid(rng, (2, 3), q) for q in qs]
        sd = int(rng.integers(-3, 3))
        for qo in (min(qs) - 1, max(qs)):
            _, y = eval_at(lambda *xs, d=sd: torch.stack(xs, d), qs, [d[1] for d in sdata], qo)
            exp = R.iqcat([np.expand_dims(d[0], sd % 3) for d in sdata], qs, qo, sd % 3)
            assert np.array_equal(codes_of(y, qo), exp)


CLAMPS = [(-0.3, 0.55), (0.0, None), (None, 0.2), (-0.26, -0.24), (0.01, 0.011), (-100.0, 100.0), (0.0, 1.0)]


@pytest.mark.parametrize("lo,hi", CLAMPS)
def test_clamp_eval_bounds_quantized_at_qx(lo, hi):
    rng = np.random.default_rng(5)
    for qx in (2, 5, 7):
        cx, x = grid(rng, (4, 9), qx)
        if lo is not None and hi is not None:
            fn = lambda x: torch.clamp(x, lo, hi)
        elif lo is not None:
            fn = lambda x: x.clamp(min=lo)
        else:
            fn = lambda x: torch.clamp(x, max=hi)
        m, y = eval_at(fn, (qx,), (x,), 0)
        assert y.exponent == qx  # Q passes through, running_o ignored
        exp, _, _ = R.iqclamp(cx, qx, lo, hi)
        assert np.array_equal(codes_of(y, qx), exp), (lo, hi, qx)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_sigmoid_tanh_eval_every_code_matches_independent_tables(kind):
    codes = np.arange(-128, 128, dtype=np.int64)
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}[kind]
    ref = {"sigmoid": R.iqsigmoid, "tanh": R.iqtanh}[kind]
    for qx in (-3, 0, 3, 5, 7, 11, 12, 16):
        x = torch.from_numpy(codes * 2.0 ** -qx).float()
        _, y = eval_at(fn, (qx,), (x,), 0)
        assert y.exponent == 7
        assert np.array_equal(codes_of(y, 7), ref(codes, qx)), (kind, qx)


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("seed", range(3))
def test_softmax_eval_within_one_lsb_of_float(kind, seed):
    rng = np.random.default_rng(600 + seed)
    for shape, dim in [((3, 7), 1), ((2, 5, 4), 1), ((4, 6), -1), ((2, 3, 2), 0), ((9,), 0)]:
        qx = int(rng.integers(0, 7))
        cx, x = grid(rng, shape, qx)
        fn = (lambda t, d=dim: torch.softmax(t, d)) if kind == "softmax" else (lambda t, d=dim: F.log_softmax(t, d))
        for qo in ((5, 7, 8) if kind == "softmax" else (2, 4, 6)):
            _, y = eval_at(fn, (qx,), (x,), qo)
            got = codes_of(y, qo)
            f = getattr(torch, kind)(torch.from_numpy(cx * 2.0 ** -qx).double(), dim).numpy() * 2.0 ** qo
            f = np.clip(f, -128, 127)
            assert np.abs(got - f).max() <= 1.0, (kind, shape, dim, qx, qo)


@pytest.mark.parametrize("seed", range(3))
def test_bmm_and_matmul_eval_match_reference(seed):
    rng = np.random.default_rng(700 + seed)
    cases = [((2, 3, 4), (2, 4, 5), lambda a, b: torch.bmm(a, b)),
             ((2, 2, 3, 6), (2, 2, 6, 2), lambda a, b: a @ b),
             ((3, 5), (5, 4), lambda a, b: torch.matmul(a, b)),
             ((1, 4, 64), (1, 64, 3), lambda a, b: a.bmm(b))]
    for sa, sb, fn in cases:
        qa, qb = int(rng.integers(0, 8)), int(rng.integers(0, 8))
        ca, a = grid(rng, sa, qa)
        cb, b = grid(rng, sb, qb)
        for qo in (qa + qb - 12, qa + qb - 9, qa + qb - 6):
            _, y = eval_at(fn, (qa, qb), (a, b), qo)
            assert np.array_equal(codes_of(y, qo), R.bmm(ca, cb, qa, qb, qo)), (sa, sb, qa, qb, qo)


# ---------------------------------------------------------------------------------------------------------------
# training forward == eval forward (same statistics)

def _train_eval_cases():
    r = np.random.default_rng(11)
    a3 = grid(r, (2, 3, 4), 5)[1]
    b3 = grid(r, (2, 3, 4), 3)[1]
    b1 = grid(r, (4,), 6, -30, 30)[1]
    b1[0] = 0.0
    sq = grid(r, (2, 4, 3), 4)[1]
    return {
        "mul": (lambda a, b: a * b, (5, 3), (a3, b3)),
        "mul_broadcast": (lambda a, b: a * b, (5, 6), (a3, b1)),
        "mul_scalar": (lambda a, b: a * 0.7 + b * -2, (5, 3), (a3, b3)),
        "add": (lambda a, b: a + b, (5, 3), (a3, b3)),
        "div": (lambda a, b: a / b, (5, 6), (a3, b1)),
        "div_scalar": (lambda a, b: a / 3.0, (5, 3), (a3, b3)),
        "sum": (lambda a, b: a.sum(1) , (5, 3), (a3, b3)),
        "sum_all_keep": (lambda a, b: torch.sum(a, (0, 2), keepdim=True), (5, 3), (a3, b3)),
        "var": (lambda a, b: torch.var(a, 2), (5, 3), (a3, b3)),
        "var_biased_keep": (lambda a, b: torch.var(a, (1, 2), unbiased=False, keepdim=True), (5, 3), (a3, b3)),
        "cat": (lambda a, b: torch.cat([a, b, a], 1), (5, 3), (a3, b3)),
        "stack": (lambda a, b: torch.stack([a, b], -1), (5, 3), (a3, b3)),
        "clamp": (lambda a, b: torch.clamp(a, -0.3, 0.55), (5, 3), (a3, b3)),
        "sigmoid": (lambda a, b: torch.sigmoid(a), (5, 3), (a3, b3)),
        "tanh": (lambda a, b: b.tanh(), (5, 3), (a3, b3)),
        "softmax": (lambda a, b: F.softmax(a, dim=1), (5, 3), (a3, b3)),
        "log_softmax": (lambda a, b: torch.log_softmax(b, -1), (5, 3), (a3, b3)),
        "bmm": (lambda a, b: torch.bmm(a, b), (5, 4), (a3, sq)),
        "matmul": (lambda a, b: a @ b.transpose(1, 2), (5, 3), (a3, b3)),
        # a plain float operand is quantized with the layer's own statistic (running_y)
        "bmm_float_operand": (lambda a, b: torch.bmm(a, F.leaky_relu(b).transpose(1, 2)), (5, 3), (a3, b3 * 1.37)),
    }


TRAIN_EVAL = _train_eval_cases()


@pytest.mark.parametrize("name", sorted(TRAIN_EVAL))
@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("offgrid", [False, True])
def test_training_forward_equals_eval_forward(name, narrow, offgrid):
    fn, qs, xs = TRAIN_EVAL[name]
    if offgrid:  # from_torch_tensor takes the data as given: every consumer rounds it onto the grid
        g = torch.Generator().manual_seed(3)
        xs = tuple(x + (torch.rand(x.shape, generator=g) - 0.5) * 0.9 * 2.0 ** -q for x, q in zip(xs, qs))
    m = linger.init(Fn(fn, qs))
    m.train()
    for _ in range(3):
        m(*xs)
    if narrow:  # statistics too small: the output saturates
        for _, l in iq_layers(m):
            with torch.no_grad():
                l.running_o.mul_(0.05)
    yt = m(*xs)
    m.eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with torch.no_grad():
        ye = m(*xs)
    for k, v in m.state_dict().items():  # an eval forward changes no statistic
        assert torch.equal(v, before[k]), (name, k)
    assert linger.is_iqtensor(yt) and linger.is_iqtensor(ye)
    assert yt.exponent == ye.exponent
    assert torch.equal(yt.detach().as_subclass(torch.Tensor), ye.as_subclass(torch.Tensor)), name


def _large_bmm_operands():
    """Codes at Q0 whose exact dot product is 64 * 2^18 + 2^17 - 1 (odd, above 2^24: not a float32)."""
    target = 64 * 2 ** 18 + 2 ** 17 - 1
    a, b = [], []
    while target > 0:
        p = min(127 * 127, target)
        x = 127 if p == 127 * 127 else 1
        y = p // x
        if y > 127:
            x, y = 127, p // 127
        a.append(x)
        b.append(y)
        target -= x * y
    assert sum(x * y for x, y in zip(a, b)) == 64 * 2 ** 18 + 2 ** 17 - 1
    ta = torch.tensor(a, dtype=torch.float32).reshape(1, 1, -1)
    tb = torch.tensor(b, dtype=torch.float32).reshape(1, -1, 1)
    return ta, tb


def test_bmm_training_equals_eval_for_accumulations_above_float32_precision():
    """The eval path accumulates in int64: acc = 64.4999962 * 2^18 gives 64 at Qo = -18. The training value must
    be the same integer result (the layer computes its exact value in float64 for this)."""
    a, b = _large_bmm_operands()
    m = linger.init(Fn(lambda a, b: torch.bmm(a, b), (0, 0)))
    m.train()
    m(a, b)
    set_qo(m, -18)
    m.eval()
    with torch.no_grad():
        ye = m(a, b)
    assert ye.exponent == -18 and codes_of(ye, -18).item() == 64  # exact: floor(64.4999962 + 1/2)
    m.train()
    set_qo(m, -18)
    (layer,) = [l for _, l in iq_layers(m)]
    layer.running_o.fill_(127.0 * 2.0 ** 18)  # EMA with max 64.5 * 2^18 keeps Qo = -18
    yt = m(a, b)
    assert yt.exponent == -18
    assert codes_of(yt, -18).item() == 64, "training bmm rounds the exact int64 accumulation through float32"


# ---------------------------------------------------------------------------------------------------------------
# gradients

def _mask_ok(codes_unsat):
    return torch.from_numpy(((codes_unsat >= -128) & (codes_unsat <= 127)).astype(np.float32))


def _train_grads(fn, qs, xs, g=None, narrow=False, used=None):
    m = linger.init(Fn(fn, qs))
    m.train()
    m(*xs)
    if narrow:
        for _, l in iq_layers(m):
            with torch.no_grad():
                l.running_o.mul_(0.05)
    ins = [x.clone().requires_grad_() for x in xs]
    y = m(*ins)
    yp = y.as_subclass(torch.Tensor)
    if g is None:
        g = torch.randn(yp.shape)
    yp.backward(g)
    for k, (x, i) in enumerate(zip(xs, ins)):
        if used is not None and k not in used:
            assert i.grad is None or not i.grad.any()
            continue
        assert i.grad is not None and i.grad.shape == x.shape and torch.isfinite(i.grad).all()
    return m, y, g, [torch.zeros_like(x) if i.grad is None else i.grad for x, i in zip(xs, ins)]


def _float_grads(f, xs, g, dtype=torch.float64):
    ins = [x.clone().to(dtype).requires_grad_() for x in xs]
    out = f(*ins)
    gr = torch.autograd.grad(out, ins, g.to(dtype), allow_unused=True)
    return [torch.zeros_like(x) if t is None else t.float() for x, t in zip(xs, gr)]


def _out_q(m):
    (layer,) = [l for _, l in iq_layers(m)]
    return exp_of(layer.scale_o)


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5))])
def test_mul_gradient_ste_masked_where_output_saturates(narrow, shapes):
    rng = np.random.default_rng(21)
    ca, a = grid(rng, shapes[0], 5)
    cb, b = grid(rng, shapes[1], 4)
    m, y, g, (ga, gb) = _train_grads(lambda a, b: a * b, (5, 4), (a, b), narrow=narrow)
    qo = _out_q(m)
    ca2, cb2 = np.broadcast_arrays(ca, cb)
    mask = _mask_ok(R.rhu_shift(ca2 * cb2, 9 - qo))
    if narrow:
        assert (mask == 0).any() and (mask == 1).any()
    ra, rb = _float_grads(lambda a, b: a * b, (a, b), g * mask, torch.float32)
    assert torch.equal(ga, ra) and torch.equal(gb, rb)


@pytest.mark.parametrize("narrow", [False, True])
def test_add_gradient_ste_masked_where_fake_quant_saturates(narrow):
    rng = np.random.default_rng(22)
    ca, a = grid(rng, (3, 4), 5)
    cb, b = grid(rng, (4,), 2)
    m, y, g, (ga, gb) = _train_grads(lambda a, b: a + b, (5, 2), (a, b), narrow=narrow)
    qo = _out_q(m)
    ra_, rb_ = R.rhu_shift(ca, 5 - qo), R.rhu_shift(cb, 2 - qo)
    ma, mb = _mask_ok(ra_), _mask_ok(rb_)
    s = R.sat(np.broadcast_to(R.sat(ra_), (3, 4))) + R.sat(np.broadcast_to(R.sat(rb_), (3, 4)))
    ms = _mask_ok(s)
    if narrow:
        assert (ms == 0).any()
    ra, rb = _float_grads(lambda a, b: a * ma + b * mb, (a, b), g * ms, torch.float32)
    assert torch.equal(ga, ra) and torch.equal(gb, rb)


@pytest.mark.parametrize("narrow", [False, True])
def test_cat_gradient_ste_masked_per_input(narrow):
    rng = np.random.default_rng(23)
    ca, a = grid(rng, (2, 3), 6)
    cb, b = grid(rng, (2, 2), 2)
    m, y, g, (ga, gb) = _train_grads(lambda a, b: torch.cat([a, b], 1), (6, 2), (a, b), narrow=narrow)
    qo = _out_q(m)
    ma, mb = _mask_ok(R.rhu_shift(ca, 6 - qo)), _mask_ok(R.rhu_shift(cb, 2 - qo))
    if narrow:
        assert (mb == 0).any()
    assert torch.equal(ga, g[:, :3] * ma) and torch.equal(gb, g[:, 3:] * mb)


@pytest.mark.parametrize("narrow", [False, True])
def test_bmm_gradient_ste_masked_where_output_saturates(narrow):
    rng = np.random.default_rng(24)
    ca, a = grid(rng, (2, 3, 4), 5)
    cb, b = grid(rng, (2, 4, 2), 5)
    m, y, g, (ga, gb) = _train_grads(lambda a, b: torch.bmm(a, b), (5, 5), (a, b), narrow=narrow)
    qo = _out_q(m)
    mask = _mask_ok(R.rhu_shift(np.matmul(ca, cb), 10 - qo))
    if narrow:
        assert (mask == 0).any()
    ra, rb = _float_grads(torch.bmm, (a, b), g * mask, torch.float32)
    assert torch.equal(ga, ra) and torch.equal(gb, rb)


def test_clamp_gradient_is_the_float_clamp_gradient_at_the_quantized_bounds():
    rng = np.random.default_rng(25)
    cx, x = grid(rng, (5, 8), 5)
    _, lo, hi = R.iqclamp(cx, 5, -0.3, 0.55)
    m, y, g, (gx,) = _train_grads(lambda x: torch.clamp(x, -0.3, 0.55), (5,), (x,))
    (rx,) = _float_grads(lambda x: torch.clamp(x, lo / 32.0, hi / 32.0), (x,), g)
    assert torch.equal(gx, rx)


EXACT_GRAD = {
    "div": (lambda a, b: a / b, lambda a, b: a / b, (5, 4)),
    "div_scalar": (lambda a, b: a / 3.0, lambda a, b: a / 3.0, (5, 4)),  # 3.0 is on its grid (Q5)
    "sum": (lambda a, b: a.sum(1), lambda a, b: a.sum(1), (5, 4)),
    "sum_all": (lambda a, b: a.sum(), lambda a, b: a.sum(), (5, 4)),
    "var": (lambda a, b: torch.var(a, 1), lambda a, b: torch.var(a, 1), (5, 4)),
    "var_biased": (lambda a, b: torch.var(a, (0, 1), unbiased=False, keepdim=True),
                   lambda a, b: torch.var(a, (0, 1), unbiased=False, keepdim=True), (5, 4)),
    "sigmoid": (lambda a, b: torch.sigmoid(a), lambda a, b: torch.sigmoid(a), (5, 4)),
    "tanh": (lambda a, b: torch.tanh(b), lambda a, b: torch.tanh(b), (5, 4)),
    "softmax": (lambda a, b: torch.softmax(a, 1), lambda a, b: torch.softmax(a, 1), (5, 4)),
    "log_softmax": (lambda a, b: F.log_softmax(a, dim=-1), lambda a, b: F.log_softmax(a, dim=-1), (5, 4)),
}


@pytest.mark.parametrize("name", sorted(EXACT_GRAD))
@pytest.mark.parametrize("narrow", [False, True])
def test_exact_value_ops_have_the_float_functions_gradient(name, narrow):
    fn, ffloat, qs = EXACT_GRAD[name]
    rng = np.random.default_rng(26)
    _, a = grid(rng, (3, 6), qs[0])
    cb, b = grid(rng, (3, 6), qs[1], 1, 60)
    b = b * torch.from_numpy(np.where(rng.integers(0, 2, (3, 6)) > 0, 1.0, -1.0)).float()  # nonzero divisors
    used = {1} if name == "tanh" else ({0, 1} if name == "div" else {0})
    m, y, g, grads = _train_grads(fn, qs, (a, b), narrow=narrow, used=used)
    ref = _float_grads(ffloat, (a, b), g, torch.float32)  # the same float32 kernels: equal bit for bit
    for got, exp in zip(grads, ref):
        assert torch.equal(got, exp), (name, (got - exp).abs().max())


# ---------------------------------------------------------------------------------------------------------------
# export attributes == what eval used

def _export_nodes(m, xs):
    buf = io.BytesIO()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    # the test module feeds float inputs straight into the op (no Quant node): skip the runtime's dtype check
    linger.onnx.export(m, tuple(xs), buf, check=False)
    after = m.state_dict()
    for k, v in before.items():  # exporting changes no statistic
        assert torch.equal(v, after[k]), k
    p = onnx.load_from_string(buf.getvalue())
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in p.graph.initializer}
    for n in p.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = onnx.numpy_helper.to_array(n.attribute[0].t)
    nodes = [(n.op_type, {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}, list(n.input))
             for n in p.graph.node]
    return nodes, consts


def _one(nodes, op):
    found = [n for n in nodes if n[0] == op]
    assert len(found) == 1, (op, [n[0] for n in nodes])
    return found[0]


def _prepared(fn, qs, xs):
    m = linger.init(Fn(fn, qs))
    m.train()
    for _ in range(2):
        m(*xs)
    m.eval()
    with torch.no_grad():
        y = m(*xs)
    return m, y


def _layer(m):
    (l,) = [l for _, l in iq_layers(m)]
    return l


def test_export_binary_attributes_match_eval():
    rng = np.random.default_rng(31)
    a, b = grid(rng, (2, 3, 4), 5)[1], grid(rng, (4,), 3, 1, 100)[1]
    for fn, op in [(lambda a, b: a * b, "iqMul"), (lambda a, b: a / b, "iqDiv"), (lambda a, b: a + b, "iqAdd")]:
        m, y = _prepared(fn, (5, 3), (a, b))
        nodes, _ = _export_nodes(m, (a, b))
        _, at, _ = _one(nodes, op)
        assert at["scale_x"] == 2.0 ** 5 and at["scale_y"] == 2.0 ** 3
        assert at["scale_o"] == float(_layer(m).scale_o) == 2.0 ** y.exponent
        assert at["platform_quant"] == b"luna_quant"
        if op == "iqAdd":
            assert at["mode"] == b"Non_t710_mode"


@pytest.mark.parametrize("c", [0.7, -3.0, 5, 0.013, 1000.0])
@pytest.mark.parametrize("form", sorted(SCALAR_FNS))
def test_export_scalar_operand_is_the_quantized_int8_constant(form, c):
    a = grid(np.random.default_rng(32), (3, 4), 5)[1]
    fn = lambda a: SCALAR_FNS[form](a, c)
    op = {"mul": "iqMul", "div": "iqDiv", "add": "iqAdd"}[form[:3] if form[0] != "r" else form[1:4]]
    m, y = _prepared(fn, (5,), (a,))
    nodes, consts = _export_nodes(m, (a,))
    _, at, ins = _one(nodes, op)
    qc = R.scalar_exponent(c)
    assert at["scale_y"] == 2.0 ** qc and at["scale_x"] == 32.0
    assert at["scale_o"] == float(_layer(m).scale_o)
    k = consts[ins[1]]
    assert k.dtype == np.int8 and k.size == 1
    assert int(k.reshape(-1)[0]) == R.quantize_value(float(np.float32(c)), qc)


def test_export_reduce_cat_clamp_lut_softmax_bmm_attributes_match_eval():
    rng = np.random.default_rng(33)
    a, b = grid(rng, (2, 3, 4), 5)[1], grid(rng, (2, 3, 4), 3)[1]
    sq = grid(rng, (2, 4, 3), 4)[1]
    cases = [
        (lambda a, b: torch.sum(a, (2, 1), keepdim=True), "iqSum", dict(dims=[1, 2], keepdim=1)),
        (lambda a, b: a.sum(-1), "iqSum", dict(dims=[2], keepdim=0)),
        (lambda a, b: a.sum(), "iqSum", dict(keepdim=0)),
        (lambda a, b: torch.var(a, 1, unbiased=False), "iqVar", dict(dims=[1], keepdim=0, unbiased=0)),
        (lambda a, b: torch.var(a, (0, 2), True, True), "iqVar", dict(dims=[0, 2], keepdim=1, unbiased=1)),
        (lambda a, b: torch.cat([a, b], -2), "iqCat", dict(dim=1, scale_x_0=32.0, scale_x_1=8.0)),
        (lambda a, b: torch.stack([b, a], 0), "iqCat", dict(dim=0, scale_x_0=8.0, scale_x_1=32.0)),
        (lambda a, b: torch.sigmoid(a), "iqSigmoid", dict(scale_o=128.0, castor_mode=b"luna")),
        (lambda a, b: torch.tanh(a), "iqTanh", dict(scale_o=128.0, castor_mode=b"luna")),
        (lambda a, b: torch.softmax(a, 1), "SoftmaxInt", dict(dim=1, data_bits=8, o_bits=8)),
        (lambda a, b: F.log_softmax(a, -1), "LogSoftmaxInt", dict(dim=2, data_bits=8, o_bits=8)),
    ]
    for fn, op, want in cases:
        m, y = _prepared(fn, (5, 3), (a, b))
        nodes, _ = _export_nodes(m, (a, b))
        _, at, _ = _one(nodes, op)
        for k, v in want.items():
            assert at[k] == v, (op, k, at)
        if "scale_x_0" not in want:
            assert at["scale_x"] == 32.0, op
        for k in ("dims", "unbiased"):
            if k not in want:
                assert k not in at, (op, k)
        assert at["scale_o"] == float(_layer(m).scale_o) == 2.0 ** y.exponent, op
    # bmm: both scales and the output scale
    m, y = _prepared(lambda a, b: torch.bmm(a, b), (5, 4), (a, sq))
    nodes, _ = _export_nodes(m, (a, sq))
    _, at, _ = _one(nodes, "BmmInt")
    l = _layer(m)
    assert at["scale_x"] == 32.0 == float(l.scale_x) and at["scale_y"] == 16.0 == float(l.scale_y)
    assert at["scale_o"] == float(l.scale_o) == 2.0 ** y.exponent


@pytest.mark.parametrize("lo,hi", [(-0.3, 0.55), (0.0, None), (None, 0.2)])
def test_export_clamp_bounds_quantize_to_the_eval_thresholds(lo, hi):
    cx, x = grid(np.random.default_rng(34), (4, 6), 5)
    m, y = _prepared(lambda x: torch.clamp(x, lo, hi), (5,), (x,))
    nodes, _ = _export_nodes(m, (x,))
    _, at, _ = _one(nodes, "iqClamp")
    _, lo_i, hi_i = R.iqclamp(cx, 5, lo, hi)
    assert at["scale_x"] == at["scale_o"] == 32.0 == float(_layer(m).scale_o)
    assert R.quantize_value(at["min"], 5) == lo_i and R.quantize_value(at["max"], 5) == hi_i


def test_export_channel_shuffle_groups():
    x = grid(np.random.default_rng(35), (2, 6, 3), 4)[1]
    m, y = _prepared(lambda x: linger.channel_shuffle(x, 3), (4,), (x,))
    assert y.exponent == 4
    n = x.reshape(2, 3, 2, 3).transpose(1, 2).reshape(2, 6, 3)
    assert torch.equal(y.as_subclass(torch.Tensor), n)
    nodes, _ = _export_nodes(m, (x,))
    _, at, _ = _one(nodes, "ShuffleChannel")
    assert at["groups"] == 3


# ---------------------------------------------------------------------------------------------------------------
# in-place forms

def _inplace_pair(name):
    def imul(a, b):
        a *= b
        return a

    def mul_(a, b):
        a.mul_(b)
        return a

    def sig_(a, b):
        a.sigmoid_()
        return a

    def clamp_(a, b):
        a.clamp_(0, 1)
        return a

    def iadd(a, b):
        a += b
        return a

    def idiv(a, b):
        a /= b
        return a

    return {"imul": (imul, lambda a, b: a * b), "mul_": (mul_, lambda a, b: a * b),
            "sigmoid_": (sig_, lambda a, b: torch.sigmoid(a)), "clamp_": (clamp_, lambda a, b: torch.clamp(a, 0, 1)),
            "iadd": (iadd, lambda a, b: a + b), "idiv": (idiv, lambda a, b: a / b)}[name]


@pytest.mark.parametrize("name", ["imul", "mul_", "sigmoid_", "clamp_", "iadd", "idiv"])
def test_inplace_forms_equal_out_of_place_in_training_and_eval(name):
    fin, fout = _inplace_pair(name)
    rng = np.random.default_rng(41)
    a = grid(rng, (3, 4), 5)[1]
    b = grid(rng, (3, 4), 4, 1, 100)[1]
    mi, mo = linger.init(Fn(fin, (5, 4), clone=True)), linger.init(Fn(fout, (5, 4), clone=True))
    mi.train()
    mo.train()
    for _ in range(2):
        xi = [a.clone().requires_grad_(), b.clone().requires_grad_()]
        xo = [a.clone().requires_grad_(), b.clone().requires_grad_()]
        yi, yo = mi(*xi), mo(*xo)
        assert linger.is_iqtensor(yi) and yi.exponent == yo.exponent
        assert torch.equal(yi.detach().as_subclass(torch.Tensor), yo.detach().as_subclass(torch.Tensor))
        g = torch.randn(yo.shape)
        yi.as_subclass(torch.Tensor).backward(g)
        yo.as_subclass(torch.Tensor).backward(g)
        for u, v in zip(xi, xo):
            assert (u.grad is None) == (v.grad is None)
            if u.grad is not None:
                assert torch.equal(u.grad, v.grad), name
    assert sorted(dict(mi.named_modules())) == sorted(dict(mo.named_modules()))
    mi.eval()
    mo.eval()
    with torch.no_grad():
        yi, yo = mi(a, b), mo(a, b)
    assert yi.exponent == yo.exponent
    assert torch.equal(yi.as_subclass(torch.Tensor), yo.as_subclass(torch.Tensor))


def test_inplace_on_a_non_leaf_iqtensor_inside_a_deeper_graph_trains():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 1)
            self.conv2 = nn.Conv2d(2, 3, 1)

        def forward(self, x):
            y = self.conv(x)
            z = self.conv2(x)
            y *= z
            y.clamp_(0, 0.75)
            y.sigmoid_()
            y += z
            return y

    m = linger.init(M())
    m.train()
    x = torch.randn(2, 2, 3, 3)
    for _ in range(2):
        y = m(x)
        y.as_subclass(torch.Tensor).sum().backward()
    assert m.conv.weight.grad is not None and torch.isfinite(m.conv.weight.grad).all()
    assert m.conv2.weight.grad is not None and torch.isfinite(m.conv2.weight.grad).all()
    names = {n for n, _ in m.named_children()}
    assert {"_linger_round_tensor_iqmul__default_index_0", "_linger_round_tensor_iqclamp_1",
            "_linger_round_tensor_iqsigmoid_2", "_linger_round_tensor_iqadd__default_index_3"} <= names


def test_inplace_add_of_a_tensor_to_itself_trains():
    """`y += y` trains in plain torch (add saves no input); the quantized form must too. (`y *= y` fails in plain
    torch as well, so it is not required.)"""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 1)

        def forward(self, x):
            y = self.conv(x)
            y += y
            return y

    m = linger.init(M())
    m.train()
    x = torch.randn(2, 2, 3, 3)
    y = m(x)
    assert linger.is_iqtensor(y)
    y.as_subclass(torch.Tensor).sum().backward()
    assert m.conv.weight.grad is not None and torch.isfinite(m.conv.weight.grad).all()


# ---------------------------------------------------------------------------------------------------------------
# 1.x layer names

def test_layer_names_follow_1x():
    class M(nn.Module):
        def forward(self, a, b):
            a = linger.from_torch_tensor(a, 32.0)
            b = linger.from_torch_tensor(b, 16.0)
            p = a * b                                     # iqmul__default_index_0
            c = torch.cat([a, b], 0)                      # iqcat_1
            q = c * 0.5                                   # iqmul__default_index_2
            r = torch.bmm(a, b.transpose(1, 2))           # function_bmm_0 (own counter)
            s = torch.sigmoid(q)                          # iqsigmoid_3
            t = a @ b.transpose(1, 2)                     # function_bmm_1
            u = p / b                                     # iqdiv__default_index_4
            v = p.sum(1)                                  # iqsum__default_index_5
            w = linger.iqadd(self, u, p, name="res")      # iqadd_res (no index)
            z = p + u                                     # iqadd__default_index_6
            return r.sum() + t.sum() + s.sum() + v.sum() + w.sum() + z.sum()

    m = linger.init(M())
    m.train()
    a, b = torch.rand(2, 3, 4), torch.rand(2, 3, 4) + 0.5
    for _ in range(2):
        m(a, b)
    P = "_linger_round_tensor_"
    want = {P + "iqmul__default_index_0": linger.iqMulLayer, P + "iqcat_1": linger.iqCatLayer,
            P + "iqmul__default_index_2": linger.iqMulLayer, P + "function_bmm_0": linger.BmmInt,
            P + "iqsigmoid_3": linger.iqSigmoidLayer, P + "function_bmm_1": linger.BmmInt,
            P + "iqdiv__default_index_4": linger.iqDivLayer, P + "iqsum__default_index_5": linger.iqSumLayer,
            P + "iqadd_res": linger.iqAddLayer, P + "iqadd__default_index_6": linger.iqAddLayer,
            P + "iqsum__default_index_7": linger.iqSumLayer}
    got = {n: type(l) for n, l in m.named_children()}
    for n, cls in want.items():
        assert got.get(n) is cls, (n, sorted(got))
    keys = m.state_dict().keys()
    assert P + "iqadd_res.running_o" in keys and P + "function_bmm_1.running_o" in keys
    m.eval()
    with torch.no_grad():
        m(a, b)  # eval finds the same layers


def test_explicit_functions_use_named_layers():
    class M(nn.Module):
        def forward(self, a, b):
            a = linger.from_torch_tensor(a, 32.0)
            b = linger.from_torch_tensor(b, 16.0)
            x = linger.iqmul(self, a, b, name="m")
            y = linger.iqdiv(self, a, 2.0, name="d")
            s = linger.iqsum(self, x, 1, name="s")
            c = linger.iqcat(self, [x, y], 1)
            return linger.iqadd(self, s, 1.0), c

    m = linger.init(M())
    m(torch.rand(2, 3), torch.rand(2, 3))
    names = {n for n, _ in m.named_children()}
    P = "_linger_round_tensor_"
    assert {P + "iqmul_m", P + "iqdiv_d", P + "iqsum_s", P + "iqcat__default", P + "iqadd__default"} <= names


class _TwoConv(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 1)
        self.b = nn.Conv2d(2, 3, 1)
        self.body = body

    def forward(self, x):
        return self.body(self.a(x), self.b(x))


def _sigmoid_(a, b):
    a.sigmoid_()
    return a


def _mul_(a, b):
    a.mul_(b)
    return a


def _clamp_(a, b):
    a.clamp_(0, 0.5)
    return a


def _imul(a, b):
    a *= b
    return a


def _add_(a, b):
    a.add_(b)
    return a


def _imul_alias(a, b):
    c = a  # `a *= b` modifies the object c also names
    a *= b
    return c + b


@pytest.mark.parametrize("body", [_sigmoid_, _mul_, _clamp_, _add_, _imul, _imul_alias], ids=lambda f: f.__name__)
def test_inplace_forms_export_matches_eval_in_runtime(body):
    """The exported graph must contain the in-place op and give the eval output bit for bit."""
    from linger.runtime import InferenceSession
    torch.manual_seed(0)
    m = linger.init(_TwoConv(body))
    for _ in range(3):
        m(torch.randn(2, 2, 3, 3))
    m.eval()
    x = torch.randn(2, 2, 3, 3)
    with torch.no_grad():
        ref = m(x).as_subclass(torch.Tensor).numpy()
    buf = io.BytesIO()
    linger.onnx.export(m, (x,), buf)
    ops = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    want = {"_sigmoid_": "iqSigmoid", "_mul_": "iqMul", "_clamp_": "iqClamp", "_imul": "iqMul",
            "_imul_alias": "iqMul", "_add_": "iqAdd"}[body.__name__]
    assert want in ops, ops
    sess = InferenceSession(buf.getvalue())
    out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert np.array_equal(out, ref)


@pytest.mark.parametrize("body", ["var_of_one_element", "div_by_zero_scalar", "mul_by_zero"])
def test_layer_whose_training_output_is_all_zero_still_evaluates(body):
    """An op whose training outputs are all 0 (variance over a size-1 dim, x / 0.0 of zeros, x * 0) ran in training
    with range 0; numerics.md §2 gives r == 0 a defined exponent, so eval must not refuse it as 'never ran'."""
    fn = {"var_of_one_element": lambda a: torch.var(a, 1),
          "div_by_zero_scalar": lambda a: a / 0.0,  # on an all-zero input: 0/0 = 0
          "mul_by_zero": lambda a: a * 0.0}[body]
    x = grid(np.random.default_rng(51), (3, 1), 4)[1]
    if body == "div_by_zero_scalar":
        x = torch.zeros(3, 1)
    m = linger.init(Fn(fn, (4,)))
    m.train()
    for _ in range(2):
        yt = m(x)
    assert not yt.as_subclass(torch.Tensor).any()
    m.eval()
    with torch.no_grad():
        ye = m(x)
    assert linger.is_iqtensor(ye) and not ye.as_subclass(torch.Tensor).any()
    assert ye.exponent == yt.exponent
