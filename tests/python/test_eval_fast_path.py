"""The fast eval path of the modules with weights (issue 10): weights quantized and packed once per eval session,
the runtime's optimised int8 kernels. Its outputs must be the integers of the reference eval path (every forward
re-quantizes the weights and runs the scalar reference ops; `WeightedIntMixin._eval_fast = False`), tolerance 0,
and of the independent numpy reference (int_reference.py); the cache must follow every change of the weights and
never be part of the model's state."""
import copy
import io
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn

import linger
from linger.nn.eval_cache import CACHE_ATTR
from linger.nn.weighted import WeightedIntMixin

import int_reference as R

ops = torch.ops.linger


def calibrated(model, shape, batches=3):
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(shape))
    return model.eval()


def plain(t):
    return t.as_subclass(torch.Tensor) if isinstance(t, torch.Tensor) else t


def reference_forward(model, x, monkeypatch):
    with monkeypatch.context() as mp, torch.no_grad():
        mp.setattr(WeightedIntMixin, "_eval_fast", False)
        return model(x)


def assert_same(fast, ref):
    assert getattr(fast, "scale_data", None) == getattr(ref, "scale_data", None)
    assert plain(fast).dtype == plain(ref).dtype and torch.equal(plain(fast), plain(ref))


def fast_forward(model, x):
    with torch.no_grad():
        return model(x)


# ---------------------------------------------------------------------------------------------------------------
# the vectorised quantize of the eval ops


@pytest.mark.parametrize("bits", [8, 16, 4, 32])
def test_quantize_equals_the_numpy_formula_on_rounding_edges(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    for q in list(range(-32, 41, 3)) + [0, 7, -1]:
        k = np.arange(lo - 3, hi + 4, max(1, (hi - lo) // 2000), dtype=np.float64)
        half = ((k + 0.5) * 2.0 ** -q).astype(np.float32)  # the ties of the rounding and their float neighbours
        x = np.concatenate([
            half, np.nextafter(half, np.float32(np.inf)), np.nextafter(half, np.float32(-np.inf)),
            (k * 2.0 ** -q).astype(np.float32),
            rng.standard_normal(1000).astype(np.float32) * np.float32(2.0) ** rng.integers(-70, 70, 1000),
            np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38, -3.4e38, 0.49999997, -0.49999997, 0.5,
                      -0.5, -0.50000006], np.float32)])
        expect = np.clip(np.floor(x.astype(np.float64) * 2.0 ** q + 0.5), lo, hi).astype(np.int64)
        got = ops.quantize(torch.from_numpy(x), q, bits).numpy().astype(np.int64)
        assert np.array_equal(got, expect), (bits, q, x[got != expect][:5])


def test_quantize_reports_nan():
    x = torch.zeros(100)
    x[77] = float("nan")
    with pytest.raises(RuntimeError, match="NaN"):
        ops.quantize(x, 3, 8)


# ---------------------------------------------------------------------------------------------------------------
# module by module: fast path == reference path == numpy reference

CONVS = [
    # in, out, kernel, stride, padding, dilation, groups, bias, o_bits, input H x W
    (3, 8, 3, 1, 1, 1, 1, True, 8, (9, 11)),
    (8, 8, 3, 2, 1, 1, 8, True, 8, (10, 9)),            # depthwise, stride 2
    (16, 16, 3, 1, 1, 1, 16, False, 8, (7, 12)),        # depthwise, stride 1, no bias
    (8, 16, 3, 1, 2, 2, 1, False, 8, (12, 12)),         # dilation, no bias
    (8, 16, 1, 1, 0, 1, 1, True, 16, (7, 5)),           # 1x1 (the direct GEMM), 16-bit output
    (6, 12, (3, 5), (2, 1), (1, 2), 1, 3, True, None, (9, 13)),  # groups, non-square, float output
    (4, 8, 5, 3, 2, 1, 2, True, 8, (17, 15)),           # strided im2col
    (32, 24, 3, 2, 0, 1, 1, True, 8, (6, 6)),
]


@pytest.mark.parametrize("cfg", CONVS, ids=lambda c: "x".join(map(str, c[9])) + f"-g{c[6]}-s{c[3]}-o{c[8]}")
def test_conv2d_fast_equals_reference_and_numpy(cfg, monkeypatch):
    cin, cout, k, s, p, d, g, bias, o_bits, hw = cfg
    model = calibrated(linger.init(nn.Sequential(nn.Conv2d(cin, cout, k, s, p, d, g, bias))), (4, cin) + hw)
    model[0].o_bits = o_bits
    calibrated(model, (4, cin) + hw)
    x = torch.randn((3, cin) + hw)
    fast = fast_forward(model, x)
    assert_same(fast, reference_forward(model, x, monkeypatch))
    # the independent reference on the integers
    m = model[0]
    qx = linger.quant.exponent_for_range(float(m.running_x), 8)
    qw = int(ops.weight_exponent(m.weight.detach(), 8))
    xi = R.quantize(x.numpy(), qx, 8)
    wi = R.quantize(m.weight.detach().numpy(), qw, 8)
    bi = R.quantize(m.bias.detach().numpy(), qx + qw, 32) if bias else None
    pads = (m.padding[0], m.padding[1]) * 2
    if o_bits is None:
        acc = R.conv2d_int(xi, wi, bi, m.stride, pads, m.dilation, g, 0, 32)
        expect = np.vectorize(lambda v: math.ldexp(int(v), -(qx + qw)))(acc).astype(np.float32)
    else:
        qo = linger.quant.exponent_for_range(float(m.running_o), o_bits)
        yi = R.conv2d_int(xi, wi, bi, m.stride, pads, m.dilation, g, qx + qw - qo, o_bits)
        expect = (yi.astype(np.float64) * 2.0 ** -qo).astype(np.float32)
    assert np.array_equal(plain(fast).numpy(), expect)


@pytest.mark.parametrize("o_bits", [None, 8, 16])
def test_linear_fast_equals_reference_and_numpy(o_bits, monkeypatch):
    model = linger.init(nn.Sequential(nn.Linear(40, 24)))
    model[0].o_bits = o_bits
    calibrated(model, (6, 5, 40))
    x = torch.randn(2, 5, 40)
    fast = fast_forward(model, x)
    assert_same(fast, reference_forward(model, x, monkeypatch))
    m = model[0]
    qx = linger.quant.exponent_for_range(float(m.running_x), 8)
    qw = int(ops.weight_exponent(m.weight.detach(), 8))
    xi = R.quantize(x.numpy().reshape(-1, 40), qx, 8)
    wi = R.quantize(m.weight.detach().numpy(), qw, 8)
    bi = R.quantize(m.bias.detach().numpy(), qx + qw, 32)
    if o_bits is None:
        acc = xi.astype(np.int64) @ wi.astype(np.int64).T + bi.astype(np.int64)
        expect = np.vectorize(lambda v: math.ldexp(int(v), -(qx + qw)))(acc).astype(np.float32)
    else:
        qo = linger.quant.exponent_for_range(float(m.running_o), o_bits)
        yi = R.linear_int(xi, wi, bi, qx + qw - qo, o_bits)
        expect = (yi.astype(np.float64) * 2.0 ** -qo).astype(np.float32)
    assert np.array_equal(plain(fast).numpy().reshape(-1, 24), expect)


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv1d(6, 8, 3, stride=2, padding=1, groups=2), (3, 6, 19)),
    (lambda: nn.Conv1d(4, 4, 5, padding=4, dilation=2, groups=4, bias=False), (2, 4, 11)),
    (lambda: nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1), (2, 6, 5, 7)),
    (lambda: nn.BatchNorm2d(6), (3, 6, 5, 4)),
    (lambda: nn.BatchNorm1d(6), (5, 6)),
    (lambda: nn.BatchNorm1d(6), (5, 6, 7)),
], ids=["conv1d", "conv1d-depthwise-dilated", "convtranspose2d", "bn2d", "bn1d-2d", "bn1d-3d"])
def test_other_weighted_modules_fast_equals_reference(make, shape, monkeypatch):
    model = calibrated(linger.init(nn.Sequential(make())), (8,) + shape[1:])
    x = torch.randn(shape)
    assert_same(fast_forward(model, x), reference_forward(model, x, monkeypatch))


class ConvBnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, stride=2, groups=8, bias=False), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.b1(self.c1(x)))
        x = torch.relu(self.b2(self.c2(x)))
        return self.fc(x.flatten(1))


def traced_net(size=9):
    model = ConvBnNet()
    linger.trace_layers(model, model, (torch.randn(1, 3, size, size),))
    linger.normalize_layers(model)
    linger.init(model)
    return calibrated(model, (8, 3, size, size))


def test_fused_conv_bn_fast_equals_reference(monkeypatch):
    model = traced_net()
    assert type(model.c1).__name__ == "ConvBN2dInt"
    x = torch.randn(3, 3, 9, 9)
    assert_same(fast_forward(model, x), reference_forward(model, x, monkeypatch))


def test_torchvision_resnet18_fast_equals_reference(monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(1, 3, 32, 32)
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    linger.init(model)
    calibrated(model, (4, 3, 32, 32))
    x = torch.randn(2, 3, 32, 32)
    assert_same(fast_forward(model, x), reference_forward(model, x, monkeypatch))


def test_every_isa_and_thread_count_give_the_same_integers(monkeypatch):
    model = traced_net()
    x = torch.randn(5, 3, 9, 9)
    expect = plain(fast_forward(model, x))
    threads = torch.get_num_threads()
    try:
        for isa in ("scalar", "avx2", "avx512vnni"):
            for n in (1, 3):
                monkeypatch.setenv("LINGER_ISA", isa)
                torch.set_num_threads(n)
                assert torch.equal(plain(fast_forward(model, x)), expect), (isa, ops.kernel_isa(), n)
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------------------------
# the cache: follows the weights, never part of the state


def test_in_place_weight_change_is_seen(monkeypatch):
    model = traced_net()
    x = torch.randn(2, 3, 9, 9)
    before = plain(fast_forward(model, x))
    with torch.no_grad():
        model.c1.conv.weight.mul_(-1.5)  # in place: same tensor, same storage, new version
        model.fc.bias.add_(0.25)
    after = fast_forward(model, x)
    assert not torch.equal(plain(after), before)
    assert_same(after, reference_forward(model, x, monkeypatch))


def test_fused_bn_statistics_change_is_seen(monkeypatch):
    model = traced_net()
    x = torch.randn(2, 3, 9, 9)
    before = plain(fast_forward(model, x))
    with torch.no_grad():
        model.c2.bn.running_var.mul_(4.0)
    after = fast_forward(model, x)
    assert not torch.equal(plain(after), before)
    assert_same(after, reference_forward(model, x, monkeypatch))


def test_replaced_parameter_data_is_seen(monkeypatch):
    model = calibrated(linger.init(nn.Sequential(nn.Conv2d(3, 4, 3))), (4, 3, 8, 8))
    x = torch.randn(1, 3, 8, 8)
    before = plain(fast_forward(model, x))
    model[0].weight.data = model[0].weight.data.flip(0).clone()
    after = fast_forward(model, x)
    assert not torch.equal(plain(after), before)
    assert_same(after, reference_forward(model, x, monkeypatch))


def test_train_then_eval_starts_a_new_session(monkeypatch):
    model = traced_net()
    x = torch.randn(2, 3, 9, 9)
    fast_forward(model, x)
    assert CACHE_ATTR in model.c1.__dict__
    model.train()
    assert CACHE_ATTR not in model.c1.__dict__
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(2):  # a training step changes the weights and the statistics
        loss = plain(model(torch.randn(8, 3, 9, 9))).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert_same(fast_forward(model, x), reference_forward(model, x, monkeypatch))


def test_load_state_dict_is_seen(monkeypatch):
    a, b = traced_net(), traced_net()
    x = torch.randn(2, 3, 9, 9)
    out_b = plain(fast_forward(b, x))
    assert not torch.equal(plain(fast_forward(a, x)), out_b)
    a.load_state_dict(b.state_dict())
    assert torch.equal(plain(fast_forward(a, x)), out_b)


def test_eval_keeps_the_state_and_copies_leave_the_cache_out():
    model = traced_net()
    keys = list(model.state_dict().keys())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 9, 9)
    out = plain(fast_forward(model, x))
    assert list(model.state_dict().keys()) == keys
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # eval writes no buffer
    assert all(CACHE_ATTR in m.__dict__ for m in model.modules() if isinstance(m, WeightedIntMixin))

    dup = copy.deepcopy(model)
    assert not any(CACHE_ATTR in m.__dict__ for m in dup.modules())
    assert torch.equal(plain(fast_forward(dup, x)), out)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)  # a whole module (torch 2.x defaults to weights only)
    assert torch.equal(plain(fast_forward(loaded, x)), out)
    assert torch.equal(plain(fast_forward(pickle.loads(pickle.dumps(model)), x)), out)
