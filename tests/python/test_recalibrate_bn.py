"""linger.tools.recalibrate_batch_norms: running statistics = the average batch statistics of the batches given,
computed here independently from the layers' outputs; on torch batch norms and on linger's fused conv-bn layers of
the float stage alike; modes, momenta and linger.SetBnMomentumUpdate restored."""
import copy

import pytest
import torch
import torch.nn as nn

import linger
from linger.tools import recalibrate_batch_norms


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8, momentum=0.3)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        return self.fc(self.drop(torch.relu(self.bn(self.conv(x)))).flatten(1))


def batches(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 3, 6, 6, generator=g) * (1 + k) + k for k in range(n)]


def expected_stats(model: Net, xs):
    """Mean over the batches of the conv output's per-channel batch mean and unbiased variance."""
    with torch.no_grad():
        ys = [model.conv(x) for x in xs]
    means = torch.stack([y.mean((0, 2, 3)) for y in ys])
    vars_ = torch.stack([y.transpose(0, 1).reshape(8, -1).var(1, unbiased=True) for y in ys])
    return means.mean(0), vars_.mean(0)


def test_float_model_statistics_modes_and_momentum():
    torch.manual_seed(0)
    m = Net()
    m.eval()
    xs = batches()
    assert recalibrate_batch_norms(m, xs) == 1
    mean, var = expected_stats(m, xs)
    torch.testing.assert_close(m.bn.running_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(m.bn.running_var, var, rtol=1e-5, atol=1e-5)
    assert int(m.bn.num_batches_tracked) == 3
    assert m.bn.momentum == 0.3 and not m.training and not m.bn.training and not m.drop.training
    m.train()
    recalibrate_batch_norms(m, [(x,) for x in xs])  # tuples of forward arguments; modes restored to train
    assert m.training and m.drop.training
    torch.testing.assert_close(m.bn.running_mean, mean, rtol=1e-5, atol=1e-5)


def test_dropout_is_off_during_calibration():
    torch.manual_seed(0)
    m = Net()
    seen = []
    m.drop.register_forward_hook(lambda mod, i, o: seen.append(mod.training))
    recalibrate_batch_norms(m, batches(2))
    assert seen == [False, False]


def test_fused_conv_bn_of_the_float_stage_gets_the_same_statistics():
    torch.manual_seed(0)
    float_model = Net()
    staged = copy.deepcopy(float_model)
    x = torch.randn(1, 3, 6, 6)
    linger.trace_layers(staged, staged, (x,))
    linger.normalize_layers(staged)
    bns = [mod for mod in staged.modules() if isinstance(mod, nn.BatchNorm2d)]
    assert len(bns) == 1 and type(staged.conv).__name__ != "Conv2d", "the conv-bn pair is fused"
    xs = batches(4, seed=1)
    linger.SetBnMomentumUpdate(True)  # a frozen setting does not stop an explicit recalibration ...
    try:
        assert recalibrate_batch_norms(staged, xs) == 1
        from linger.config import config
        assert config.bn_momentum_update_disabled  # ... and is restored
    finally:
        linger.SetBnMomentumUpdate(False)
    mean, var = expected_stats(float_model, xs)
    torch.testing.assert_close(bns[0].running_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bns[0].running_var, var, rtol=1e-5, atol=1e-5)


def test_no_batches_is_an_error_and_leaves_the_statistics():
    m = Net()
    recalibrate_batch_norms(m, batches(2))
    before = m.bn.running_mean.clone()
    with pytest.raises(ValueError, match="no batch"):
        recalibrate_batch_norms(m, [])
    torch.testing.assert_close(m.bn.running_mean, before, rtol=0, atol=0)
    assert recalibrate_batch_norms(nn.Linear(2, 2), []) == 0  # nothing to calibrate: no error
