"""Activations on quantized tensors (ReLU6/Hardtanh -> iqClamp; Hardswish, Hardsigmoid, SiLU, GELU, LeakyReLU,
PReLU -> linger::TableInt), dropout, float operands of + and *, and ResizeInt: exact integers against the
independent references of int_reference_act.py, train-vs-eval, gradients, export attributes."""
import io
import random
import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger
from linger.tools.compare import compare
from linger._ext import ops
from linger.nn.iqops import TABLE_FNS

import int_reference_act as ref


@pytest.mark.parametrize("fn", sorted(TABLE_FNS))
def test_table_entries_match_the_independent_reference(fn):
    rng = random.Random(fn)
    pairs = [(0, 0), (7, 7), (-16, 24), (24, -16), (24, 24), (-16, -16), (3, 5)] + \
        [(rng.randint(-16, 24), rng.randint(-16, 24)) for _ in range(12)]
    for qx, qo in pairs:
        alpha = [0.0, 0.01, 0.25, -0.5, 1.75, 3.0][rng.randint(0, 5)] if fn in ("leaky_relu", "prelu") else 0.0
        got = ops.table_build(TABLE_FNS[fn], qx, qo, torch.tensor([alpha]))[0].numpy().astype(np.int64)
        want = ref.table(fn, qx, qo, alpha)
        assert np.array_equal(got, want), f"{fn} qx={qx} qo={qo} alpha={alpha}: {np.nonzero(got != want)[0][:5] - 128}"


def test_table_saturates_and_rejects_exponents_outside_the_window():
    t = ops.table_build(TABLE_FNS["hardswish"], 0, 7, torch.zeros(1))[0]
    assert int(t[255]) == 127 and int(t[0]) == 0  # 127 * 130 / 6 saturates; hardswish(-128) = 0
    with pytest.raises(RuntimeError, match="outside"):
        ops.table_build(TABLE_FNS["silu"], 25, 0, torch.zeros(1))


@pytest.mark.parametrize("mode,ac", [("nearest", False), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("size", [(10, 12), (3, 7), (5, 5), (1, 1), (17, 4)])
def test_resize_matches_the_independent_reference(mode, ac, size):
    torch.manual_seed(1)
    x = torch.randint(-128, 128, (2, 3, 5, 6), dtype=torch.int8)
    got = ops.resize_int(x, size[0], size[1], 0 if mode == "nearest" else 1, ac).numpy().astype(np.int64)
    assert np.array_equal(got, ref.resize(x.numpy(), size[0], size[1], mode, ac))


class Act(nn.Module):
    def __init__(self, act, cin=3, cout=4):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = act

    def forward(self, x):
        return self.act(self.conv(x))


ACTS = {
    "relu6": lambda: nn.ReLU6(inplace=True), "hardtanh": lambda: nn.Hardtanh(-0.5, 0.75),
    "hardswish": lambda: nn.Hardswish(), "hardsigmoid": lambda: nn.Hardsigmoid(), "silu": lambda: nn.SiLU(),
    "gelu": lambda: nn.GELU(), "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "leaky_relu": lambda: nn.LeakyReLU(0.2), "prelu": lambda: nn.PReLU(4, 0.3),
    "upsample_nearest": lambda: nn.Upsample(scale_factor=2),
    "upsample_bilinear": lambda: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False),
}


def _trained(name, seed=0):
    torch.manual_seed(seed)
    model = linger.init(nn.Sequential(Act(ACTS[name]())))
    for _ in range(3):
        model(torch.randn(2, 3, 6, 6) * 2)
    return model


@pytest.mark.parametrize("name", sorted(ACTS))
def test_train_forward_gives_the_eval_integers_on_the_same_statistics(name):
    model = _trained(name)
    x = torch.randn(2, 3, 6, 6) * 2
    model.train()
    yt = model(x).as_subclass(torch.Tensor).detach()
    model.eval()
    ye = model(x).as_subclass(torch.Tensor)
    assert torch.equal(yt, ye)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_eval_equals_the_reference_on_the_codes_and_export_writes_the_op(name):
    model = _trained(name)
    model.eval()
    x = torch.randn(2, 3, 6, 6) * 2
    with torch.no_grad():
        conv_out = model[0].conv(x)
        y = model(x)
    qx, qo = conv_out.exponent, y.exponent
    c = ops.quantize(conv_out.as_subclass(torch.Tensor), qx, 8).numpy().astype(np.int64)
    codes = ops.quantize(y.as_subclass(torch.Tensor), qo, 8).numpy().astype(np.int64)
    act = model[0].act
    if name in ("relu6", "hardtanh"):
        lo, hi = (0.0, 6.0) if name == "relu6" else (-0.5, 0.75)
        want = np.clip(c, math_q(lo, qx), math_q(hi, qx))
        assert qo == qx
    elif name.startswith("upsample"):
        want = ref.resize(c, codes.shape[2], codes.shape[3], "nearest" if "nearest" in name else "bilinear")
        assert qo == qx
    else:
        alpha = float(act.weight[0]) if name == "prelu" else 0.2
        if name == "prelu":
            tabs = [ref.table("prelu", qx, qo, float(a)) for a in act.weight.detach()]
            want = np.stack([tabs[ch][c[:, ch] + 128] for ch in range(c.shape[1])], 1)
        else:
            want = ref.table(name, qx, qo, alpha)[c + 128]
        if name == "hardsigmoid":
            assert qo == 7
    assert np.array_equal(codes, want)
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    types = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    expect = "iqClamp" if name in ("relu6", "hardtanh") else ("ResizeInt" if name.startswith("up") else "TableInt")
    assert expect in types, types


def math_q(v, q):
    return int(np.clip(np.floor(v * 2.0 ** q + 0.5), -128, 127))


@pytest.mark.parametrize("name", ["hardswish", "silu", "gelu", "gelu_tanh", "leaky_relu", "prelu", "hardsigmoid", "relu6",
                                  "upsample_bilinear"])
def test_gradients_are_the_float_functions(name):
    model = _trained(name)
    model.train()
    x = torch.randn(2, 3, 6, 6) * 2
    conv = model[0].conv
    conv_out = conv(x)
    xin = conv_out.as_subclass(torch.Tensor).detach().requires_grad_(True)
    iq = linger.from_torch_tensor(xin * 1.0, conv_out.scale_data, 8, running=conv_out.running_data)  # not a leaf: ReLU6(inplace=True)
    from linger.context import hook_pre_forward, hook_forward
    act = model[0].act
    hook_pre_forward(act, (iq,))
    y = act(iq)
    hook_forward(act, (iq,), y)
    g = torch.randn_like(y.as_subclass(torch.Tensor))
    (y.as_subclass(torch.Tensor) * g).sum().backward()
    x8 = linger.quant.fake_quant(xin.detach(), conv_out.exponent, 8).requires_grad_(True)
    f = {"hardswish": F.hardswish, "silu": F.silu, "gelu": F.gelu, "hardsigmoid": F.hardsigmoid,
         "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
         "leaky_relu": lambda t: F.leaky_relu(t, 0.2), "prelu": lambda t: F.prelu(t, act.weight.detach()),
         "relu6": None, "upsample_bilinear": lambda t: F.interpolate(t, size=(7, 9), mode="bilinear",
                                                                   align_corners=False)}[name]
    if f is None:
        lo, hi = 0.0, math_q(6.0, conv_out.exponent) * 2.0 ** -conv_out.exponent
        want = g * ((x8 >= lo) & (x8 <= hi)).float()
    else:
        (f(x8) * g).sum().backward()
        want = x8.grad
    assert torch.allclose(xin.grad, want, atol=1e-6)
    if name == "prelu":
        assert act.weight.grad is not None and act.weight.grad.abs().sum() > 0


def test_dropout_is_identity_in_eval_and_absent_from_the_export():
    torch.manual_seed(0)
    model = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.3), nn.Conv2d(4, 2, 1)))
    for _ in range(3):
        model(torch.randn(2, 3, 6, 6))
    model.eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        a = model[0](x)
        assert model[1](a) is a
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    types = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert not any("ropout" in t or t in ("Dequant", "Quant") for t in types[1:-1]), types
    assert compare(model, buf.getvalue(), x).ok


class Noisy(nn.Module):
    """StochasticDepth's pattern: `x * noise` (a plain float tensor) only in training, then `+`."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        a = self.a(x)
        if self.training:
            a = a * torch.empty(a.shape[0], 1, 1, 1).bernoulli_(0.8).div_(0.8)
        return a + self.b(x)


def test_float_operand_is_quantized_with_its_own_statistic_so_train_and_eval_run_the_same_ops():
    torch.manual_seed(0)
    model = linger.init(Noisy())
    for _ in range(3):
        model(torch.randn(2, 3, 5, 5))
    layers = {n for n, _ in model.named_modules() if "_linger_round_tensor_" in n}
    assert any("iqmul" in n for n in layers) and any("iqadd" in n for n in layers), layers
    mul = [m for n, m in model.named_modules() if "iqmul" in n][0]
    assert float(mul.running_y) > 0 and float(mul.scale_y) == 64.0  # 1.25 -> Q6 (1.25 * 64 = 80)
    model.eval()
    x = torch.randn(2, 3, 5, 5)
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    assert compare(model, buf.getvalue(), x).ok
    sd = model.state_dict()
    fresh = linger.init(Noisy())
    fresh.load_state_dict(sd)
    assert float([m for n, m in fresh.named_modules() if "iqmul" in n][0].running_y) == float(mul.running_y)


def test_seed_q10_sigmoid_module_and_function_quantized_from_the_first_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.sig = nn.Sigmoid()

        def forward(self, x):
            y = self.conv(x)
            return self.sig(y) + torch.sigmoid(y)

    torch.manual_seed(0)
    model = linger.init(Net())
    out = model(torch.randn(2, 3, 6, 6))  # the very first forward
    assert out.scale_data is not None and out.bits == 8
    names = [n for n, _ in model.named_modules()]
    assert any("iqsigmoid" in n for n in names) and sum("iqsigmoid" in n for n in names) == 2, names
    model.eval()
    x = torch.randn(2, 3, 6, 6)
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    types = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert types.count("iqSigmoid") == 2 and "Sigmoid" not in types
    assert compare(model, buf.getvalue(), x).ok


class FunctionalConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.w = nn.Parameter(torch.randn(4, 4, 1, 1))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = F.conv2d(self.conv(x), self.w)  # R4_CONV_LINE
        return F.linear(y.mean((2, 3)), self.fc.weight, self.fc.bias)  # R4_LINEAR_LINE


def _line_of(marker):
    import inspect
    src, start = inspect.getsourcelines(FunctionalConv.forward)
    return next(start + i for i, l in enumerate(src) if marker in l)


def test_seed_r4_functional_conv_linear_warn_naming_the_call_site():
    model = nn.Sequential(FunctionalConv())
    listed = linger.float_ops(model)
    with pytest.warns(UserWarning) as rec:
        linger.init(model)
    msgs = [str(w.message) for w in rec if "R4" in str(w.message)]
    for fn, marker in (("conv2d", "R4_CONV_LINE"), ("linear", "R4_LINEAR_LINE")):
        site = f"test_activations.py:{_line_of(marker)}"
        assert any(f"F.{fn}" in m and site in m and "'0'" not in m and m.startswith("linger.init: 0 (FunctionalConv)")
                   for m in msgs), msgs
        assert any(f"F.{fn}" in l and site in l for l in listed)
    # the modules linger quantizes are not listed; torch.nn's own forwards (nn.Conv2d calls F.conv2d) are not scanned
    assert not any("0.conv" in l or "0.fc" in l for l in linger.float_ops(nn.Sequential(FunctionalConv())))
    # and export refuses what float_ops listed: the float Conv the functional call writes
    model.train()
    for _ in range(2):
        model(torch.randn(2, 3, 6, 6))
    model.eval()
    with pytest.raises(ValueError, match="Conv"):
        linger.onnx.export(model, torch.randn(2, 3, 6, 6), io.BytesIO())


@pytest.mark.parametrize("act", [nn.ReLU6(inplace=True), nn.Hardswish(inplace=True), nn.LeakyReLU(0.1, inplace=True),
                                 nn.SiLU(inplace=True), nn.Hardsigmoid(inplace=True)])
def test_inplace_activation_writes_its_input_and_trains(act):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.act = act

        def forward(self, x):
            y = self.conv(x)
            self.act(y)  # result dropped: only the in-place write is used
            return y

    torch.manual_seed(0)
    model = linger.init(Net())
    x = torch.randn(2, 3, 6, 6)
    y = model(x)
    y.as_subclass(torch.Tensor).sum().backward()
    assert model.conv.weight.grad is not None
    act_layer = [m for n, m in model.named_modules() if "_linger_round_tensor_" in n][0]
    assert y.scale_data == float(act_layer.scale_o)
    model.eval()
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    assert compare(model, buf.getvalue(), x).ok


def test_1x_quant_modules_tuple_with_relu6_is_accepted():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6())
    linger.init(model, quant_modules=(nn.Conv2d, nn.ReLU6))  # 1.x's DefaultQuantIntXOP lists nn.ReLU6
    model(torch.randn(1, 3, 5, 5))
    assert any("iqclamp" in n for n, _ in model.named_modules())
    with pytest.raises(ValueError, match="RNN cannot be quantized"):
        linger.init(nn.Sequential(nn.Conv2d(3, 4, 3)), quant_modules=(nn.Conv2d, nn.RNN))


def test_linger_1x_relu6int_checkpoint_keys_load():
    """1.x replaced nn.ReLU6 by ReLU6Int with buffers running_x, scale_x, min_thresh, max_thresh; here ReLU6 is an
    iqClamp at its input's exponent, so a 1.x checkpoint loads (strict) with those keys dropped."""
    torch.manual_seed(0)
    model = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6()))
    model(torch.randn(2, 3, 5, 5))
    sd = model.state_dict()
    sd.update({"1.running_x": torch.tensor([3.0]), "1.scale_x": torch.tensor([32.0]),
               "1.min_thresh": torch.tensor(0, dtype=torch.int8), "1.max_thresh": torch.tensor(127, dtype=torch.int8)})
    fresh = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6()))
    fresh.load_state_dict(sd)
    assert torch.equal(fresh[0].weight, model[0].weight)
    with pytest.raises(RuntimeError, match="running_x"):  # other modules keep the strict check
        fresh.load_state_dict({**sd, "0.unknown.running_x": torch.tensor([1.0])})


def test_unsupported_interpolate_mode_stays_float_and_export_refuses_it():
    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return F.interpolate(self.conv(x), scale_factor=2, mode="bicubic", align_corners=False)

    torch.manual_seed(0)
    model = linger.init(Up())
    y = model(torch.randn(1, 3, 6, 6))
    assert not linger.is_iqtensor(y)  # float: no integer definition for bicubic
    model.eval()
    with pytest.raises(ValueError, match="Resize"):
        linger.onnx.export(model, torch.randn(1, 3, 6, 6), io.BytesIO())


class _ScaledByFloat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        return y * torch.full_like(y, 1.25)  # a float operand in eval too


def test_float_operand_eval_and_export_write_no_buffer():
    torch.manual_seed(0)
    model = linger.init(_ScaledByFloat())
    for _ in range(3):
        model(torch.randn(2, 3, 5, 5))
    model.eval()
    mul = [m for n, m in model.named_modules() if "iqmul" in n][0]
    mul.scale_y.fill_(-7.0)  # a value only a buffer write in eval would change
    versions = {k: v._version for k, v in model.state_dict(keep_vars=True).items()}
    x = torch.randn(2, 3, 5, 5)
    model(x)
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    assert compare(model, buf.getvalue(), x).ok
    assert float(mul.scale_y) == -7.0
    assert {k: v._version for k, v in model.state_dict(keep_vars=True).items()} == versions
