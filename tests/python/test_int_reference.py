"""Eval outputs of the quantized modules equal an independent int64 reference, tolerance 0."""
import math

import numpy as np
import pytest
import torch

import linger
from int_reference import avgpool2d_int, conv2d_int, iqadd, linear_int, quantize


def choose_exponent(r, bits):
    b = 2 ** (bits - 1) - 1
    if r == 0:
        return 0
    q = math.floor(math.log2(b / r))
    while r * 2.0 ** q > b:
        q -= 1
    while r * 2.0 ** (q + 1) <= b:
        q += 1
    return max(-32, min(40, q))


def as_int(t, q):
    v = t.detach().double() * 2.0 ** q
    assert torch.equal(v, torch.round(v)), "output is not on its grid"
    return v.long().numpy()


CONV_CASES = [
    # cin, cout, k, stride, pad, dil, groups, hw
    (3, 8, 3, 1, 1, 1, 1, 9),
    (4, 6, 3, 2, 0, 1, 2, 11),
    (8, 8, 3, 1, 2, 2, 8, 10),
    (5, 7, 1, 1, 0, 1, 1, 6),
    (2, 4, (5, 3), (2, 1), (2, 1), 1, 1, 13),
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("saturate", [False, True])
def test_conv2d_int_eval_matches_int64_reference(case, saturate):
    cin, cout, k, stride, pad, dil, groups, hw = case
    m = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k, stride, pad, dil, groups))
    linger.init(m)
    conv = m[0]
    with torch.no_grad():
        conv.weight.normal_(0, 0.3)
        conv.bias.normal_(0, 0.5)
        conv.running_x.fill_(0.7 if saturate else 3.0)   # small range: inputs saturate
        conv.running_o.fill_(0.05 if saturate else 6.0)   # small range: outputs saturate
    m.eval()
    x = torch.randn(2, cin, hw, hw) * 1.5
    y = m(x)
    assert isinstance(y, linger.IQTensor)
    qx = choose_exponent(0.7 if saturate else 3.0, 8)
    qw = choose_exponent(float(conv.weight.abs().max()), 8)
    qo = choose_exponent(float(conv.running_o), 8)
    assert y.exponent == qo
    xi = quantize(x.numpy(), qx, 8)
    wi = quantize(conv.weight.detach().numpy(), qw, 8)
    bi = quantize(conv.bias.detach().numpy(), qx + qw, 32)
    p = conv.padding
    ref = conv2d_int(xi, wi, bi, conv.stride, (p[0], p[1], p[0], p[1]), conv.dilation, groups, qx + qw - qo)
    assert np.array_equal(as_int(y, qo), ref)
    if saturate:
        assert (np.abs(ref) >= 127).any()


@pytest.mark.parametrize("o_bits", [8, 16, None])
def test_linear_int_eval_matches_int64_reference(o_bits):
    lin = linger.LinearInt(37, 11, o_bits=o_bits)
    m = torch.nn.Sequential(lin)
    with torch.no_grad():
        lin.weight.normal_(0, 0.2)
        lin.bias.normal_(0, 0.3)
        lin.running_x.fill_(2.5)
        lin.running_o.fill_(0.9)
    m.eval()
    x = torch.randn(3, 5, 37) * 1.2
    y = m(x)
    qx = choose_exponent(2.5, 8)
    qw = choose_exponent(float(lin.weight.abs().max()), 8)
    xi = quantize(x.numpy(), qx, 8)
    wi = quantize(lin.weight.detach().numpy(), qw, 8)
    bi = quantize(lin.bias.detach().numpy(), qx + qw, 32)
    if o_bits is None:
        acc = linear_int(xi.astype(np.int64), wi.astype(np.int64), bi.astype(np.int64), 0, 0)
        assert not isinstance(y, linger.IQTensor)
        assert np.array_equal(as_int(y, qx + qw), acc)
        return
    qo = choose_exponent(0.9, o_bits)
    ref = linear_int(xi.astype(np.int64), wi.astype(np.int64), bi.astype(np.int64), qx + qw - qo, o_bits)
    assert y.bits == o_bits and y.exponent == qo
    assert np.array_equal(as_int(y, qo), ref)


@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, False), (3, 1, 1, False), (3, 2, 1, True), (5, 5, 2, False),
                                        ((2, 3), (2, 1), (1, 0), True)])
def test_avgpool2d_int_eval_matches_int64_reference(k, s, p, ceil):
    pool = linger.AvgPool2dInt(k, s, p, ceil_mode=ceil)
    with torch.no_grad():
        pool.running_x.fill_(1.1)
    pool.eval()
    x = torch.randn(2, 3, 9, 10) * 1.3  # some values saturate at 127/64
    y = pool(x)
    qx = choose_exponent(1.1, 8)
    assert y.exponent == qx
    kk, ss, pp = torch.nn.modules.utils._pair(k), torch.nn.modules.utils._pair(s), torch.nn.modules.utils._pair(p)
    ref = avgpool2d_int(quantize(x.numpy(), qx, 8).astype(np.int64), kk, ss, pp, ceil)
    assert np.array_equal(as_int(y, qx), ref)


@pytest.mark.parametrize("qa,qb,ro", [(5, 7, 2.0), (7, 7, 0.3), (3, 6, 9.0), (6, 4, 1.0)])
def test_iqadd_eval_matches_int64_reference(qa, qb, ro):
    layer = linger.iqAddLayer()
    with torch.no_grad():
        layer.running_o.fill_(ro)
    layer.eval()
    ai = torch.randint(-128, 128, (4, 33)).float()
    bi = torch.randint(-128, 128, (4, 33)).float()
    a = linger.from_torch_tensor(ai * 2.0 ** -qa, 2.0 ** qa, 8)
    b = linger.from_torch_tensor(bi * 2.0 ** -qb, 2.0 ** qb, 8)
    y = layer(a, b)
    qo = choose_exponent(ro, 8)
    assert y.exponent == qo
    ref = iqadd(ai.long().numpy(), bi.long().numpy(), qa - qo, qb - qo)
    assert np.array_equal(as_int(y, qo), ref)


def test_iqadd_training_forward_gives_the_eval_integers():
    """The training forward computes exactly the integers of the eval path (same statistics)."""
    layer = linger.iqAddLayer()
    a = linger.from_torch_tensor(torch.randint(-128, 128, (64,)).float() / 32, 32.0, 8)
    b = linger.from_torch_tensor(torch.randint(-128, 128, (64,)).float() / 128, 128.0, 8)
    y_train = layer(a, b)
    layer.eval()
    y_eval = layer(a, b)
    assert y_train.exponent == y_eval.exponent
    assert torch.equal(y_train.detach().as_subclass(torch.Tensor), y_eval.as_subclass(torch.Tensor))


@pytest.mark.parametrize("cin,cout,k,stride,pad,dil,groups", [(3, 5, 3, 1, 1, 1, 1), (4, 4, 5, 2, 2, 1, 4),
                                                              (2, 6, 3, 1, 2, 2, 2)])
def test_conv1d_int_eval_matches_int64_reference(cin, cout, k, stride, pad, dil, groups):
    from int_reference import conv2d_int as ref_conv
    m = torch.nn.Sequential(torch.nn.Conv1d(cin, cout, k, stride, pad, dil, groups))
    linger.init(m)
    conv = m[0]
    assert isinstance(conv, linger.Conv1dInt)
    with torch.no_grad():
        conv.weight.normal_(0, 0.3)
        conv.bias.normal_(0, 0.5)
        conv.running_x.fill_(1.5)
        conv.running_o.fill_(0.8)
    m.eval()
    x = torch.randn(2, cin, 17) * 1.5
    y = m(x)
    qx, qw, qo = choose_exponent(1.5, 8), choose_exponent(float(conv.weight.abs().max()), 8), choose_exponent(0.8, 8)
    xi = quantize(x.numpy(), qx, 8)[:, :, None, :]
    wi = quantize(conv.weight.detach().numpy(), qw, 8)[:, :, None, :]
    bi = quantize(conv.bias.detach().numpy(), qx + qw, 32)
    ref = ref_conv(xi, wi, bi, (1, stride), (0, pad, 0, pad), (1, dil), groups, qx + qw - qo)[:, :, 0, :]
    assert np.array_equal(as_int(y, qo), ref)


@pytest.mark.parametrize("cin,cout,k,stride,pad,opad,dil,groups", [
    (3, 4, 3, 2, 1, 1, 1, 1), (4, 4, 2, 2, 0, 0, 1, 2), (2, 3, 3, 1, 1, 0, 2, 1), (4, 8, 4, 4, 0, 0, 1, 4),
    (2, 2, 5, 3, 2, 2, 1, 1)])
@pytest.mark.parametrize("saturate", [False, True])
def test_convtranspose2d_int_eval_matches_int64_reference(cin, cout, k, stride, pad, opad, dil, groups, saturate):
    from int_reference import convtranspose2d_int as ref_ct
    m = torch.nn.Sequential(torch.nn.ConvTranspose2d(cin, cout, k, stride, pad, opad, groups, True, dil))
    linger.init(m)
    ct = m[0]
    assert isinstance(ct, linger.ConvTranspose2dInt)
    with torch.no_grad():
        ct.weight.normal_(0, 0.4)
        ct.bias.normal_(0, 0.5)
        ct.running_x.fill_(0.6 if saturate else 2.0)
        ct.running_o.fill_(0.1 if saturate else 4.0)
    m.eval()
    x = torch.randn(2, cin, 5, 6) * 1.5
    y = m(x)
    qx = choose_exponent(0.6 if saturate else 2.0, 8)
    qw, qo = choose_exponent(float(ct.weight.abs().max()), 8), choose_exponent(float(ct.running_o), 8)
    xi = quantize(x.numpy(), qx, 8)
    wi = quantize(ct.weight.detach().numpy(), qw, 8)
    bi = quantize(ct.bias.detach().numpy(), qx + qw, 32)
    ref = ref_ct(xi, wi, bi, (stride, stride), (pad, pad, pad, pad), (opad, opad), (dil, dil), groups, qx + qw - qo)
    assert y.shape == torch.nn.functional.conv_transpose2d(x, ct.weight, ct.bias, stride, pad, opad, groups,
                                                           dil).shape
    assert np.array_equal(as_int(y, qo), ref)


def test_batchnorm2d_int_eval_matches_int64_reference():
    from int_reference import batchnorm_int as ref_bn
    bn = linger.BatchNorm2dInt(6)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_(0, 0.5)
        bn.running_mean.normal_(0, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.running_x.fill_(2.0)
        bn.running_o.fill_(1.0)  # narrow: some outputs saturate
    bn.eval()
    x = torch.randn(3, 6, 4, 5) * 1.5
    y = bn(x)
    alpha = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    beta = bn.bias - bn.running_mean * alpha
    qx, qw, qo = choose_exponent(2.0, 8), choose_exponent(float(alpha.abs().max()), 8), choose_exponent(1.0, 8)
    ref = ref_bn(quantize(x.numpy(), qx, 8), quantize(alpha.detach().numpy(), qw, 8),
                 quantize(beta.detach().numpy(), qx + qw, 32), qx + qw - qo)
    assert np.array_equal(as_int(y, qo), ref)
    assert (np.abs(ref) >= 127).any()
