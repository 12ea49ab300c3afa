"""Straight-through-estimator gradients of the training forward, checked exactly."""
import pytest
import torch
import torch.nn.functional as F

import linger


def ref_round_half_up(v):
    return torch.floor(v.double() + 0.5).float()


def test_fake_quant_forward_rounds_half_up_and_saturates():
    q = 3
    ints = torch.tensor([-130.0, -128.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5, 127.49, 200.0])
    x = ints / 2 ** q
    y = linger.fake_quant(x, q, 8) * 2 ** q
    assert y.tolist() == [-128, -128, -2, -1, 0, 1, 2, 3, 127, 127, 127]
    # the largest float below a tie must round down (float32 x + 0.5 would round up)
    below = torch.nextafter(torch.tensor(0.5), torch.tensor(0.0))
    assert linger.fake_quant(below, 0, 8).item() == 0.0


def test_fake_quant_matches_reference_on_random_data():
    for bits, q in [(8, 4), (4, 2), (16, 10), (32, 20)]:
        x = torch.randn(100000) * 2.0 ** (bits - 1 - q)
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        ref = ref_round_half_up(x * 2 ** q).clamp(lo, hi) / 2 ** q
        assert torch.equal(linger.fake_quant(x, q, bits), ref)


def test_fake_quant_32_bits_saturates_at_the_float_bound():
    """The bias grid (32 bits): 2^31 - 1 is 2^31 in float32; values beyond it saturate there, also through the
    SSE2 loop (it once converted 2^31 to int32, which is undefined and gave -2^31), in both signs."""
    x = torch.tensor([3e9, 2.2e9, float("inf"), 1e30, 2147483520.0, -3e9, float("-inf")] * 9)  # vector + tail
    want = torch.tensor([2.0 ** 31, 2.0 ** 31, 2.0 ** 31, 2.0 ** 31, 2147483520.0, -2.0 ** 31, -2.0 ** 31] * 9)
    assert torch.equal(linger.fake_quant(x, 0, 32), want)
    assert torch.equal(linger.fake_quant(x / 2 ** 10, 10, 32), want / 2 ** 10)


def test_fake_quant_gradient_is_straight_through_with_saturation_mask():
    x = (torch.randn(5000) * 3).requires_grad_()
    g = torch.randn(5000)
    linger.fake_quant(x, 5, 8).backward(g)
    v = ref_round_half_up(x.detach() * 32)
    keep = (v >= -128) & (v <= 127)
    assert torch.equal(x.grad, torch.where(keep, g, torch.zeros_like(g)))
    assert (~keep).any() and keep.any()


def test_fake_quant_generic_path_matches_cpu_kernel():
    x = torch.randn(1000, dtype=torch.float64) * 3
    assert torch.equal(linger.fake_quant(x, 5, 8).float(), linger.fake_quant(x.float(), 5, 8))


def _ste(x, q, bits):
    """Independent STE: value of the quantizer, gradient 1 inside the range, 0 where it saturates."""
    v = ref_round_half_up(x.detach() * 2.0 ** q)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    keep = ((v >= lo) & (v <= hi)).float()
    val = v.clamp(lo, hi) * 2.0 ** -q
    return val + (x - x.detach()) * keep


M = float(torch.tensor(0.1, dtype=torch.float32))  # the statistics' momentum (float32 0.1)


def _ref_exponent(r, bits=8):
    """Independent exponent rule: the largest Q with r * 2^Q <= 2^(bits-1) - 1 (exact rationals)."""
    from fractions import Fraction
    r = Fraction(float(r))
    q = 0
    while r * Fraction(2) ** q > 2 ** (bits - 1) - 1:
        q -= 1
    while r * Fraction(2) ** (q + 1) <= 2 ** (bits - 1) - 1:
        q += 1
    return q


def _ref_ema(old, observed):
    old = float(torch.tensor(float(old), dtype=torch.float32))
    observed = float(torch.tensor(float(observed), dtype=torch.float32))
    if not old > 0:
        return observed
    return float(torch.tensor((1.0 - M) * old + M * observed, dtype=torch.float32))


def _exponents(mod, x, op, w, b, running_x, running_o):
    """(qx, qw, qo) of a training forward from the statistics before it and the rules, not the module's buffers:
    activations by the EMA, weights by the current max |w| (momentum 1), the output from the float op's output."""
    qx = _ref_exponent(_ref_ema(running_x, x.detach().abs().max()))
    qw = _ref_exponent(w.detach().abs().max())
    with torch.no_grad():
        y = op(_ste(x, qx, 8), _ste(w, qw, 8), _ste(b, qx + qw, 32))
    qo = _ref_exponent(_ref_ema(running_o, y.abs().max()))
    return qx, qw, qo


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_conv_and_linear_gradients_equal_the_float_composition(kind):
    torch.manual_seed(0)
    if kind == "conv":
        mod = linger.Conv2dInt(3, 5, 3, padding=1, stride=2)
        x = torch.randn(2, 3, 9, 9, requires_grad=True)
    else:
        mod = linger.LinearInt(7, 4, o_bits=8)
        x = torch.randn(6, 7, requires_grad=True)
    with torch.no_grad():  # narrow statistics so that some inputs and outputs saturate
        mod.running_x.fill_(1.0)
        mod.running_o.fill_(0.5)
    gy = torch.randn_like(mod(x.detach()).as_subclass(torch.Tensor))
    with torch.no_grad():
        mod.running_x.fill_(1.0)
        mod.running_o.fill_(0.5)
        mod.weight.mul_(3.0)  # the weights moved since the last forward (as after an optimizer step)
    y = mod(x)
    y.backward(gy)
    op = (lambda a, w, b: F.conv2d(a, w, b, mod.stride, mod.padding)) if kind == "conv" else F.linear
    qx, qw, qo = _exponents(mod, x, op, mod.weight, mod.bias, 1.0, 0.5)

    x2 = x.detach().clone().requires_grad_()
    w2 = mod.weight.detach().clone().requires_grad_()
    b2 = mod.bias.detach().clone().requires_grad_()
    xs, ws, bs = _ste(x2, qx, 8), _ste(w2, qw, 8), _ste(b2, qx + qw, 32)
    z = F.conv2d(xs, ws, bs, mod.stride, mod.padding) if kind == "conv" else F.linear(xs, ws, bs)
    z = _ste(z, qo, 8)
    z.backward(gy)
    assert torch.allclose(y.detach().as_subclass(torch.Tensor), z.detach(), atol=0, rtol=0)
    assert torch.allclose(x.grad, x2.grad, rtol=1e-5, atol=1e-6)
    assert torch.allclose(mod.weight.grad, w2.grad, rtol=1e-5, atol=1e-6)
    assert torch.allclose(mod.bias.grad, b2.grad, rtol=1e-5, atol=1e-6)
    assert (x2.grad == 0).any(), "expected saturated inputs to have zero gradient"


def test_avgpool_gradient_is_the_avgpool_gradient():
    pool = linger.AvgPool2dInt(2, 2)
    x = (torch.randint(-100, 100, (2, 3, 6, 6)).float() / 64).requires_grad_()
    xi = linger.from_torch_tensor(x, 64.0, 8)
    g = torch.randn(2, 3, 3, 3)
    pool(xi).backward(g)
    x2 = x.detach().clone().requires_grad_()
    F.avg_pool2d(x2, 2, 2).backward(g)
    assert torch.equal(x.grad, x2.grad)


def test_iqadd_gradient_passes_where_not_saturated():
    layer = linger.iqAddLayer()
    a0 = (torch.randint(-128, 128, (500,)).float() / 16).requires_grad_()
    b0 = (torch.randint(-128, 128, (500,)).float() / 16).requires_grad_()
    with torch.no_grad():
        layer.running_o.fill_(5.0)  # sums beyond ~7.9 saturate
    a = linger.from_torch_tensor(a0, 16.0, 8)
    b = linger.from_torch_tensor(b0, 16.0, 8)
    out = layer(a, b)
    out.sum().backward()
    qo = out.exponent
    s = ref_round_half_up(a0.detach() * 2 ** qo) + ref_round_half_up(b0.detach() * 2 ** qo)
    keep = ((s >= -128) & (s <= 127)).float()
    assert torch.equal(a0.grad, keep) and torch.equal(b0.grad, keep)
    assert (keep == 0).any()


@pytest.mark.parametrize("kind", ["conv1d", "convtranspose"])
def test_conv1d_and_convtranspose_gradients_equal_the_float_composition(kind):
    torch.manual_seed(0)
    if kind == "conv1d":
        mod = linger.Conv1dInt(3, 4, 3, padding=1, o_bits=8)
        x = torch.randn(2, 3, 11, requires_grad=True)
        op = lambda a, w, b: F.conv1d(a, w, b, mod.stride, mod.padding)  # noqa: E731
    else:
        mod = linger.ConvTranspose2dInt(3, 4, 3, stride=2, padding=1, output_padding=1, o_bits=8)
        x = torch.randn(2, 3, 5, 5, requires_grad=True)
        op = lambda a, w, b: F.conv_transpose2d(a, w, b, mod.stride, mod.padding, mod.output_padding)  # noqa: E731
    mod(x.detach())  # an earlier forward: statistics, running_w included
    with torch.no_grad():
        mod.running_x.fill_(1.0)
        mod.running_o.fill_(0.5)
        mod.weight.mul_(3.0)
    y = mod(x)
    gy = torch.randn(y.shape)
    y.backward(gy)
    qx, qw, qo = _exponents(mod, x, op, mod.weight, mod.bias, 1.0, 0.5)
    x2 = x.detach().clone().requires_grad_()
    w2 = mod.weight.detach().clone().requires_grad_()
    b2 = mod.bias.detach().clone().requires_grad_()
    z = _ste(op(_ste(x2, qx, 8), _ste(w2, qw, 8), _ste(b2, qx + qw, 32)), qo, 8)
    z.backward(gy)
    assert torch.equal(y.detach().as_subclass(torch.Tensor), z.detach())
    assert torch.allclose(x.grad, x2.grad, rtol=1e-5, atol=1e-6)
    assert torch.allclose(mod.weight.grad, w2.grad, rtol=1e-5, atol=1e-6)


def test_batchnorm2d_int_gradient_is_the_batch_norm_gradient_through_the_ste():
    torch.manual_seed(0)
    bn = linger.BatchNorm2dInt(3)
    x = (torch.randn(4, 3, 5, 5) * 0.5).requires_grad_()
    with torch.no_grad():
        bn.running_x.fill_(4.0)
        bn.running_o.fill_(8.0)  # wide: no saturation, so the STE is the identity
    y = bn(x)
    g = torch.randn(y.shape)
    y.backward(g)
    qx = _ref_exponent(_ref_ema(4.0, x.detach().abs().max()))
    with torch.no_grad():
        xq = _ste(x, qx, 8)
        alpha0 = bn.weight / torch.sqrt(xq.var((0, 2, 3), unbiased=False) + bn.eps)
    qw = _ref_exponent(alpha0.abs().max())
    x2 = x.detach().clone().requires_grad_()
    gamma = bn.weight.detach().clone().requires_grad_()
    beta = bn.bias.detach().clone().requires_grad_()
    xs = _ste(x2, qx, 8)
    mean, var = xs.mean((0, 2, 3)), xs.var((0, 2, 3), unbiased=False)
    alpha = gamma / torch.sqrt(var + bn.eps)
    shift = beta - mean * alpha
    z = xs * _ste(alpha, qw, 8).view(1, -1, 1, 1) + _ste(shift, qx + qw, 32).view(1, -1, 1, 1)
    z.backward(g)
    assert torch.allclose(x.grad, x2.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(bn.weight.grad, gamma.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(bn.bias.grad, beta.grad, rtol=1e-4, atol=1e-5)
