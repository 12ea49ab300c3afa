"""linger.init and friends: replacement, weights kept, selections, errors, checkpoints, pickling."""
import copy
import io
import pickle

import pytest
import torch
import torch.nn as nn

import linger


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.skip = nn.Conv2d(4, 4, 1)
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 2 * 2, 3))

    def forward(self, x):
        x = self.features(x)
        x = x + self.skip(x)
        return self.head(self.pool(x))


def trained(model, steps=3):
    x = torch.randn(8, 1, 8, 8)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(steps):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return x


def test_init_replaces_modules_and_keeps_parameters():
    m = Net()
    w = m.features[0].weight
    opt = torch.optim.SGD(m.parameters(), lr=0.1)  # built before init: must stay valid (seed Q23)
    linger.init(m)
    assert isinstance(m.features[0], linger.Conv2dInt)
    assert isinstance(m.head[1], linger.LinearInt)
    assert isinstance(m.pool, linger.AvgPool2dInt)
    assert isinstance(m.features[2], nn.MaxPool2d) and isinstance(m.features[1], nn.ReLU)
    assert m.features[0].weight is w
    assert m.head[1].o_bits == 8 and m.features[0].o_bits == 8
    before = w.detach().clone()
    m(torch.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    assert not torch.equal(before, w.detach())


def test_init_twice_is_harmless():
    m = Net()
    linger.init(m)
    x = trained(m)
    n_hooks = len(m._forward_pre_hooks)
    linger.init(m)
    assert len(m._forward_pre_hooks) == n_hooks
    m.eval()
    m(x)


def test_quant_modules_selects_types():
    m = linger.init(Net(), quant_modules=(nn.Conv2d,))
    assert isinstance(m.features[0], linger.Conv2dInt)
    assert type(m.head[1]) is nn.Linear and type(m.pool) is nn.AvgPool2d
    m(torch.randn(2, 1, 8, 8))


def test_disable_quant_keeps_float():
    m = Net()
    linger.disable_quant(m.head)
    linger.init(m)
    assert type(m.head[1]) is nn.Linear
    assert isinstance(m.features[0], linger.Conv2dInt)


def test_quant_module_sets_bits():
    m = Net()
    linger.quant_module(m.head, (nn.Linear,), parameter_bits=4, out_bits=16)
    linger.init(m)
    assert m.head[1].parameter_bits == 4 and m.head[1].o_bits == 16
    assert m.features[0].parameter_bits == 8
    y = m(torch.randn(2, 1, 8, 8))
    assert y.bits == 16


def test_parameter_bits_changes_weight_grid():
    m = linger.init(Net(), parameter_bits=4)
    trained(m, 1)
    conv = m.features[0]
    qw = int(torch.log2(conv.scale_w).item())
    wq = linger.fake_quant(conv.weight.detach(), qw, 4) * 2.0 ** qw
    assert wq.abs().max() <= 7


@pytest.mark.parametrize("bad", [nn.Sigmoid, nn.RNN, "conv"])
def test_unsupported_quant_module_type_is_a_clear_error(bad):
    with pytest.raises((ValueError, TypeError), match="cannot be quantized|tuple of module types"):
        linger.init(Net(), quant_modules=(bad,))


@pytest.mark.parametrize("bits", [0, 1, 9, 16, 8.0, True])
def test_bad_bit_width_is_a_clear_error(bits):
    with pytest.raises(ValueError, match="parameter_bits"):
        linger.init(Net(), parameter_bits=bits)


def test_eval_before_training_names_the_module_and_the_fix():
    """seed Q1: a module that never ran a training forward."""
    m = linger.init(Net())
    m.eval()
    with pytest.raises(RuntimeError, match=r"'features\.0'.*never ran a training-mode forward"):
        m(torch.randn(1, 1, 8, 8))


def test_unused_branch_is_reported():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 4)

        def forward(self, x, flag=False):
            return self.unused(x) if flag else self.used(x)

    m = linger.init(Branchy())
    m(torch.randn(2, 4))
    m.eval()
    m(torch.randn(2, 4))
    with pytest.raises(RuntimeError, match="'unused'"):
        m(torch.randn(2, 4), flag=True)


def test_state_dict_keys_follow_linger_1x():
    m = linger.init(Net())
    trained(m, 1)
    keys = set(m.state_dict())
    for k in ("weight", "bias", "running_x", "running_w", "running_o", "scale_x", "scale_w", "scale_o"):
        assert f"features.0.{k}" in keys
    assert {"pool.running_x", "pool.running_o", "pool.scale_x", "pool.scale_o"} <= keys
    assert "_linger_round_tensor_iqadd__default_index_0.running_o" in keys


def test_float_checkpoint_loads_strict():
    float_model = Net()
    sd = float_model.state_dict()
    m = linger.init(Net())
    m.load_state_dict(sd, strict=True)
    assert torch.equal(m.features[0].weight, float_model.features[0].weight)


def test_qat_checkpoint_roundtrip_reproduces_eval_exactly():
    torch.manual_seed(0)
    m = linger.init(Net())
    x = trained(m, 4)
    m.eval()
    ref = m(x)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    fresh = linger.init(Net())  # never ran forward: the iqAdd layer is recreated from the checkpoint keys
    fresh.load_state_dict(torch.load(buf), strict=True)
    fresh.eval()
    assert torch.equal(fresh(x).as_subclass(torch.Tensor), ref.as_subclass(torch.Tensor))


def test_model_pickles_and_deepcopies():
    """seed Q22: no closures on the model."""
    m = linger.init(Net())
    x = trained(m, 2)
    m.eval()
    ref = m(x).as_subclass(torch.Tensor)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        clone.eval()
        assert torch.equal(clone(x).as_subclass(torch.Tensor), ref)
        clone.train()
        clone(x)  # still trains


def test_eval_after_few_batches_is_calibrated():
    """seed Q16: the statistics' start-up correction makes eval right after a few batches usable."""
    torch.manual_seed(0)
    m = linger.init(Net())
    x = torch.randn(16, 1, 8, 8)
    with torch.no_grad():
        train_out = m(x).as_subclass(torch.Tensor)
    m.eval()
    eval_out = m(x).as_subclass(torch.Tensor)
    rel = (eval_out - train_out).abs().max() / train_out.abs().max()
    assert rel < 0.1


def test_importing_linger_does_not_patch_torch():
    """No global monkey-patching: a program that imports linger but never calls it is unchanged."""
    import os
    import subprocess
    import sys
    code = (
        "import torch, torch.nn.functional as F\n"
        "names = ['add', 'cat', 'sigmoid', 'tanh', 'relu', 'transpose', 'softmax', 'bmm', 'clamp', 'var', 'max']\n"
        "before = [getattr(torch, n) for n in names] + [F.relu, F.dropout, F.softmax, F.pad, torch.onnx.export]\n"
        "import linger\n"
        "m = linger.init(torch.nn.Sequential(torch.nn.Linear(2, 2)))\n"
        "m(torch.randn(1, 2))\n"
        "after = [getattr(torch, n) for n in names] + [F.relu, F.dropout, F.softmax, F.pad, torch.onnx.export]\n"
        "assert all(a is b for a, b in zip(before, after)), 'torch was patched'\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
