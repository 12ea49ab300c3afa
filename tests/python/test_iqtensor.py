"""IQTensor propagation: scale-preserving ops in method and function form, iqAdd, in-place ops."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger


def iq(shape=(2, 3, 4, 5), q=5):
    v = torch.randint(-128, 128, shape).float() * 2.0 ** -q
    return linger.from_torch_tensor(v, 2.0 ** q, 8)


SHAPE_OPS = [
    ("transpose", lambda x: x.transpose(1, 2), lambda x: torch.transpose(x, 1, 2)),
    ("permute", lambda x: x.permute(0, 2, 3, 1), lambda x: torch.permute(x, (0, 2, 3, 1))),
    ("reshape", lambda x: x.reshape(2, -1), lambda x: torch.reshape(x, (2, -1))),
    ("flatten", lambda x: x.flatten(1), lambda x: torch.flatten(x, 1)),
    ("squeeze", lambda x: x[:, :1].squeeze(1), lambda x: torch.squeeze(x[:, :1], 1)),
    ("unsqueeze", lambda x: x.unsqueeze(0), lambda x: torch.unsqueeze(x, 0)),
    ("view", lambda x: x.view(6, 20), lambda x: x.view_as(torch.empty(6, 20))),
    ("slice", lambda x: x[:, 1:, ::2], lambda x: torch.narrow(x, 1, 1, 2)[:, :, ::2]),
    ("flip", lambda x: x.flip(1), lambda x: torch.flip(x, (1,))),
    ("relu", lambda x: x.relu(), lambda x: torch.relu(x)),
    ("relu_nn", lambda x: F.relu(x), lambda x: nn.ReLU()(x)),
    ("maxpool", lambda x: F.max_pool2d(x, 2), lambda x: nn.MaxPool2d(2)(x)),
    ("T", lambda x: x[0, 0].T, lambda x: torch.t(x[0, 0])),
]


@pytest.mark.parametrize("name,method,function", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_method_and_function_forms_keep_the_scale(name, method, function):
    x = iq()
    a, b = method(x), function(x)
    for t in (a, b):
        assert linger.is_iqtensor(t), f"{name} lost the quantization"
        assert t.scale_data == x.scale_data and t.bits == 8
    assert torch.equal(a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor))


def test_shape_ops_gradients_equal_float_gradients():
    base = torch.randint(-128, 128, (2, 3, 4, 5)).float() / 32
    x1 = base.clone().requires_grad_()
    x2 = base.clone().requires_grad_()
    y1 = linger.from_torch_tensor(x1, 32.0, 8)
    (y1.transpose(1, 2).reshape(2, -1)[:, ::3].relu() * torch.arange(20.)).sum().backward()
    (x2.transpose(1, 2).reshape(2, -1)[:, ::3].relu() * torch.arange(20.)).sum().backward()
    assert torch.equal(x1.grad, x2.grad)


def test_unsupported_op_returns_a_plain_tensor():
    x = iq()
    y = torch.sigmoid(x)
    assert not isinstance(y, linger.IQTensor)


def test_inplace_op_that_leaves_the_grid_invalidates_the_scale():
    """seed Q7: F.leaky_relu(inplace=True) must not leave stale quantization attributes."""
    x = iq()
    out = F.leaky_relu(x, 0.1, inplace=True)
    assert out is x
    assert not linger.is_iqtensor(x)
    y = iq()
    y.mul_(0.3)
    assert not linger.is_iqtensor(y)


def test_inplace_relu_keeps_the_scale():
    x = iq()
    nn.ReLU(inplace=True)(x)
    assert linger.is_iqtensor(x) and (x >= 0).all()


class AddNet(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, padding=1)
        self.b = nn.Conv2d(2, 4, 3, padding=1)
        self.mode = mode

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        if self.mode == "op":
            return a + b
        if self.mode == "fn":
            return torch.add(a, b)
        a += b
        return a


@pytest.mark.parametrize("mode", ["op", "fn", "iadd"])
def test_add_forms_become_iqadd(mode):
    torch.manual_seed(1)
    m = linger.init(AddNet(mode))
    x = torch.randn(2, 2, 6, 6)
    y = m(x)
    assert linger.is_iqtensor(y)
    assert hasattr(m, "_linger_round_tensor_iqadd__default_index_0")
    assert float(m._linger_round_tensor_iqadd__default_index_0.running_o) > 0


def test_add_forms_give_identical_results():
    outs = []
    for mode in ("op", "fn", "iadd"):
        torch.manual_seed(3)
        m = linger.init(AddNet(mode))
        x = torch.randn(2, 2, 6, 6)
        m(x)
        m.eval()
        outs.append(m(x).as_subclass(torch.Tensor))
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_setiqtensoradd_false_adds_in_float_then_requantizes():
    try:
        linger.SetIQTensorAdd(False)
        torch.manual_seed(0)
        m = linger.init(AddNet("op"))
        x = torch.randn(1, 2, 5, 5)
        y = m(x)
        a, b = m.a(x), m.b(x)
        s = a.as_subclass(torch.Tensor) + b.as_subclass(torch.Tensor)  # the float add of the two grids
        q = y.exponent
        assert torch.equal(y.as_subclass(torch.Tensor), torch.clamp(torch.floor(s * 2 ** q + 0.5), -128, 127) / 2 ** q)
    finally:
        linger.SetIQTensorAdd(True)


def test_from_torch_tensor_rejects_non_power_of_two_scale():
    with pytest.raises(ValueError, match="power of two"):
        linger.from_torch_tensor(torch.zeros(3), 127 / 6.0, 8)


def test_iqtensor_pickles():
    import io
    x = iq()
    buf = io.BytesIO()
    torch.save(x, buf)
    buf.seek(0)
    y = torch.load(buf)
    assert linger.is_iqtensor(y) and y.scale_data == x.scale_data
    assert torch.equal(y.as_subclass(torch.Tensor), x.as_subclass(torch.Tensor))
    if hasattr(torch.serialization, "add_safe_globals"):  # torch >= 2.4: also the safe loader (2.6+: the default)
        buf.seek(0)
        z = torch.load(buf, weights_only=True)
        assert linger.is_iqtensor(z) and z.scale_data == x.scale_data and z.running_data == x.running_data


def test_op_returning_its_input_unchanged_keeps_the_input_quantized():
    """Dropout keeps the quantization (docs/activations.md): in eval it returns its input itself, in training the
    kept values rescaled by 1/(1-p) at the input's exponent; the input stays an IQTensor for other users."""
    x = iq()
    y = F.dropout(x, 0.5, training=False)
    assert y is x and linger.is_iqtensor(x)
    z = F.dropout(x, 0.5, training=True)
    assert isinstance(z, linger.IQTensor) and z.scale_data == x.scale_data and linger.is_iqtensor(x)
    zp, xp = z.as_subclass(torch.Tensor), x.as_subclass(torch.Tensor)
    kept = zp != 0
    assert torch.equal(zp[kept], torch.clamp(torch.floor(xp[kept] * 2 * x.scale_data + 0.5), -128, 127) / x.scale_data)
