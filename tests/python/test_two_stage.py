"""The two-stage workflow (seed G1): constraint stage, trace_layers fusion, QAT, checkpoints across stages.
Each seed item has a test named after it."""
import copy
import io
import pickle
import warnings

import onnx
import pytest
import torch
import torch.nn as nn

import linger


class ConvBNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def batches(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(n)]


def train(model, data, lr=0.05, epochs=1):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    model.train()
    for _ in range(epochs):
        for x, y in data:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def stage1(model, x):
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model, normalize_weight_value=8, normalize_bias_value=8, normalize_output_value=8)
    return model


def float_checkpoint(seed=0):
    torch.manual_seed(seed)
    m = ConvBNNet()
    train(m, batches())
    return m, m.state_dict()


def plain(t):
    return t.as_subclass(torch.Tensor) if isinstance(t, linger.IQTensor) else t


def test_seed_g1_two_stage_training():
    """Float constraint stage, then int8 QAT at a ~10x lower learning rate: the QAT loss starts near the
    float loss and falls."""
    torch.manual_seed(0)
    data = batches(8)
    model = stage1(ConvBNNet(), data[0][0])
    float_losses = train(model, data, lr=0.05, epochs=3)
    assert float_losses[-1] < float_losses[0]
    with torch.no_grad():
        model.eval()
        float_eval = sum(nn.functional.cross_entropy(model(x), y).item() for x, y in data) / len(data)
    linger.init(model)
    # stage 2 is int8 QAT: the constraint-stage modules became their quantized versions
    assert isinstance(model.features[0], linger.ConvBN2dInt) and isinstance(model.features[4], linger.ConvBN2dInt)
    assert isinstance(model.fc, linger.LinearInt)
    qat_losses = train(model, data, lr=0.005, epochs=2)
    assert abs(qat_losses[0] - float_eval) < 0.25 * float_eval + 0.05
    assert min(qat_losses[-4:]) < qat_losses[0]
    # the QAT forward was quantized: statistics were gathered and the eval output is int8 codes at scale_o
    assert float(model.fc.running_o) > 0 and float(model.features[0].running_x) > 0
    model.eval()
    with torch.no_grad():
        y = model(data[0][0])
    assert linger.is_iqtensor(y) and 2.0 ** y.exponent == float(model.fc.scale_o)
    codes = plain(y).double() * 2.0 ** y.exponent
    assert torch.equal(codes, torch.round(codes)) and codes.abs().max() <= 128


def test_seed_g2_trace_layers_twice_is_harmless():
    x = batches(1)[0][0]
    _, sd = float_checkpoint()
    once = ConvBNNet()
    linger.trace_layers(once, once, (x,))
    twice = ConvBNNet()
    linger.trace_layers(twice, twice, (x,))
    linger.trace_layers(twice, twice, (x,))
    assert [type(m).__name__ for m in twice.modules()] == [type(m).__name__ for m in once.modules()]
    assert twice._linger_fused == once._linger_fused
    for m in (once, twice):
        m.load_state_dict(sd, strict=True)
        m.load_state_dict(sd, strict=True)  # a second raw-float load works too
    once.eval()
    twice.eval()
    assert torch.equal(once(x), twice(x))
    # two models traced in one process do not interfere
    other = ConvBNNet()
    linger.trace_layers(other, other, (x,))
    once.load_state_dict(sd, strict=True)
    assert isinstance(once.features[0], linger.NormalizeConvBN2d)
    # ... and the second model runs: same weights give the same outputs as the first
    other.load_state_dict(sd, strict=True)
    other.eval()
    assert isinstance(other.features[0], linger.NormalizeConvBN2d)
    assert torch.equal(other(x), once(x))
    with torch.no_grad():
        other.features[0].conv.weight.mul_(2.0)
    assert not torch.equal(other(x), once(x))  # its own parameters, not shared with `once`


def test_seed_g3_mismatched_stage_module_sets_name_the_modules():
    x = batches(1)[0][0]
    model = stage1(ConvBNNet(), x)
    with pytest.raises(ValueError, match=r"'fc' \(NormalizeLinear\).*nn\.Linear"):
        linger.init(model, quant_modules=(nn.Conv2d,))
    # the pair rule is handled: a layer kept out of stage 1 stays float in stage 2
    model = ConvBNNet()
    linger.trace_layers(model, model, (x,))
    linger.disable_normalize(model.fc)
    linger.normalize_layers(model)
    linger.init(model)
    assert type(model.fc) is nn.Linear
    assert isinstance(model.features[0], linger.ConvBN2dInt)
    # ... unless asked explicitly
    model = ConvBNNet()
    linger.disable_normalize(model.fc)
    linger.normalize_layers(model)
    linger.quant_module(model.fc, (nn.Linear,))
    linger.init(model)
    assert isinstance(model.fc, linger.LinearInt)


def test_seed_q17_float_checkpoint_loads_strict_into_every_stage():
    x = batches(1)[0][0]
    float_model, sd = float_checkpoint()
    float_model.eval()
    ref = float_model(x)
    traced = ConvBNNet()
    linger.trace_layers(traced, traced, (x,))
    traced.load_state_dict(sd, strict=True)
    normalized = stage1(ConvBNNet(), x)
    normalized.load_state_dict(sd, strict=True)
    quantized = linger.init(stage1(ConvBNNet(), x))
    quantized.load_state_dict(sd, strict=True)
    traced.eval()
    assert torch.allclose(traced(x), ref, atol=1e-5)
    # the normalized (constraint) stage computes the float model where its clamps (8) do not bite
    assert isinstance(normalized.features[0], linger.NormalizeConvBN2d)
    normalized.eval()
    with torch.no_grad():
        yn = normalized(x)
    assert max(p.abs().max() for p in float_model.parameters()) < 8 and ref.abs().max() < 8
    assert torch.allclose(yn, ref, atol=1e-4), (yn - ref).abs().max()
    # every weight arrived: the folded QAT model matches the float model closely
    quantized.train()
    for xb, _ in batches(3):
        quantized(xb)
    quantized.eval()
    assert (plain(quantized(x)) - ref).abs().max() < 0.1 * ref.abs().max()


def test_seed_q21_checkpoint_keys_after_trace_and_wrong_order_errors():
    x = batches(1)[0][0]
    _, sd = float_checkpoint()
    model = linger.init(stage1(ConvBNNet(), x))
    model.load_state_dict(sd, strict=True)
    keys = set(model.state_dict())
    assert {"features.0.conv.weight", "features.0.bn.running_mean", "features.0.running_x"} <= keys
    train(model, batches(3), lr=0.005)
    qat_sd = model.state_dict()
    # same stage: reloads exactly
    again = linger.init(stage1(ConvBNNet(), x))
    again.load_state_dict(qat_sd, strict=True)
    model.eval()
    again.eval()
    assert torch.equal(plain(model(x)), plain(again(x)))
    # a QAT checkpoint into the float stage: the error says which order works
    with pytest.raises(RuntimeError, match="trace_layers -> normalize_layers -> init -> load_state_dict"):
        stage1(ConvBNNet(), x).load_state_dict(qat_sd)
    # a traced checkpoint into a model that was not traced
    traced = ConvBNNet()
    linger.trace_layers(traced, traced, (x,))
    untraced = linger.init(ConvBNNet())
    with pytest.raises(RuntimeError, match="trace_layers"):
        untraced.load_state_dict(traced.state_dict())


def test_seed_q22_traced_normalized_quantized_models_pickle():
    x = batches(1)[0][0]
    model = stage1(ConvBNNet(), x)
    for m in (model, linger.init(model)):
        train(m, batches(2), lr=0.005)
        m.eval()
        ref = plain(m(x))
        for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
            clone.eval()
            assert torch.equal(plain(clone(x)), ref)
        buf = io.BytesIO()
        torch.save(m, buf)
        buf.seek(0)
        # a whole pickled model: weights_only=False (torch >= 2.6's default True loads weights only)
        assert torch.equal(plain(torch.load(buf, weights_only=False)(x)), ref)


def test_seed_q26_bn_folding_uses_the_bn_eps_and_warns_on_extreme_alpha():
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, eps=1e-3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25, 1.0]))
        bn.weight.copy_(torch.tensor([1.0, 2.0, -0.5]))
        bn.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    from linger.bnutil import fold
    w, b = fold(conv.weight, conv.bias, bn, "out_first")
    alpha = bn.weight / torch.sqrt(bn.running_var + 1e-3)
    assert torch.allclose(w, conv.weight * alpha.view(-1, 1, 1, 1))
    assert torch.allclose(b, (conv.bias - bn.running_mean) * alpha + bn.bias)
    model = nn.Sequential(conv, bn)
    x = torch.randn(2, 2, 5, 5)
    linger.trace_layers(model, model, (x,))
    with torch.no_grad():
        model[0].bn.weight.copy_(torch.tensor([1.0, 1e-3, 1.0]))
    with pytest.warns(UserWarning, match=r"batch norm of '0'.*seed Q26"):
        linger.init(model)


def test_seed_q27_bn_momentum_update_can_be_frozen_at_any_time():
    x = batches(1)[0][0]
    model = stage1(ConvBNNet(), x)
    bn = model.features[0].bn
    try:
        linger.SetBnMomentumUpdate(disable=True)  # after normalize_layers: still effective
        before = bn.running_mean.clone()
        train(model, batches(2))
        assert torch.equal(bn.running_mean, before)
        standalone = linger.init(nn.Sequential(nn.BatchNorm2d(1)))
        rm = standalone[0].running_mean.clone()
        standalone(torch.randn(4, 1, 3, 3) + 5)
        assert torch.equal(standalone[0].running_mean, rm)
    finally:
        linger.SetBnMomentumUpdate(disable=False)
    train(model, batches(1))
    assert not torch.equal(bn.running_mean, before)


class LinearBNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def test_seed_r1_linear_followed_by_bn_is_fused():
    torch.manual_seed(0)
    float_model = LinearBNNet()
    data = [(torch.randn(32, 12), torch.randint(0, 4, (32,))) for _ in range(4)]
    train(float_model, data)
    float_model.eval()
    x = torch.randn(8, 12)
    model = LinearBNNet()
    linger.trace_layers(model, model, (x,))
    assert isinstance(model.fc1, linger.NormalizeLinearBN1d) and isinstance(model.bn, linger.EmptyBatchNorm)
    assert model.fc1._linger_ahead_relu
    model.load_state_dict(float_model.state_dict(), strict=True)
    model.eval()
    assert torch.allclose(model(x), float_model(x), atol=1e-5)
    linger.init(model)
    assert isinstance(model.fc1, linger.LinearBN1dInt) and model.fc1.ahead_relu
    # shift the BN so that fc1's outputs are mostly negative: only the positive part survives the relu
    with torch.no_grad():
        model.fc1.bn.bias.sub_(1.0)
    ref = copy.deepcopy(model)
    ref.fc1.ahead_relu = False
    seen = {}
    ref.fc1.register_forward_hook(lambda mod, inp, out: seen.setdefault("y", plain(out).detach()))
    model.train()
    ref.train()
    model(x)
    ref(x)
    y = seen["y"]  # fc1's output without the relu statistic: quantized at max |y|, no saturation
    lsb = 1.0 / float(ref.fc1.scale_o)
    assert float(ref.fc1.running_o) == pytest.approx(float(y.abs().max()), abs=lsb / 2)
    assert -float(y.min()) > 2 * float(y.max()) > 0
    # ahead_relu: fc1's output statistic is its positive max (the relu follows), so its scale is finer
    assert float(model.fc1.running_o) == pytest.approx(float(y.max()), abs=lsb / 2)
    assert float(model.fc1.scale_o) >= 2 * float(ref.fc1.scale_o)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    ops = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert ops.count("LinearInt") == 2 and not any("BatchNorm" in o for o in ops)


def test_seed_r2_conv_bn_pairs_are_exported_as_one_conv():
    x = batches(1)[0][0]
    _, sd = float_checkpoint()
    model = linger.init(stage1(ConvBNNet(), x))
    model.load_state_dict(sd, strict=True)
    train(model, batches(2), lr=0.005)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    ops = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert ops.count("Conv2dInt") == 2
    assert not any("BatchNorm" in o for o in ops)


def test_normalize_clamps_weights_biases_and_outputs():
    m = nn.Sequential(nn.Linear(4, 3))
    with torch.no_grad():
        m[0].weight.fill_(5.0)
        m[0].bias.fill_(-5.0)
    linger.normalize_layers(m, normalize_weight_value=1.0, normalize_bias_value=0.5, normalize_output_value=2.0)
    assert isinstance(m[0], linger.NormalizeLinear)
    y = m(torch.ones(2, 4))
    assert torch.all(y == 2.0 - 0.0) or torch.all(y <= 2.0)
    assert torch.allclose(y, torch.full((2, 3), 2.0))  # 4*1 - 0.5 = 3.5 -> clamped to 2


def test_normalize_weight_gradient_policy_lets_clipped_weights_return():
    from linger.normalize.functions import clamp_param
    w = torch.tensor([2.0, 2.0, -2.0, -2.0, 0.5], requires_grad=True)
    g = torch.tensor([1.0, -1.0, 1.0, -1.0, 3.0])
    clamp_param(w, 1.0).backward(g)
    # +2 clipped at +1: only a gradient that lowers it (g > 0) passes; -2 at -1: only g < 0 passes
    assert w.grad.tolist() == [1.0, 0.0, 0.0, -1.0, 3.0]


def test_qat_stage_keeps_the_constraint_clamps():
    x = batches(1)[0][0]
    model = linger.init(stage1(ConvBNNet(), x))
    assert model.features[0].clamp_weight == 8.0 and model.features[0].clamp_data == 8.0
    assert model.fc.clamp_bias == 8.0
