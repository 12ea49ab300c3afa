"""Fused conv-bn through the two stages on a real network (torchvision MobileNetV2, random init).

The float stage (after `normalize_layers`) must reproduce the float model in train mode (batch statistics),
while after `init` the BN is folded with its running statistics, frozen (linger 1.x): the QAT model then
computes the float model's *eval-mode* function. With the initial statistics (mean 0, var 1) that function
collapses towards 0 in a random MobileNetV2 (its linear bottlenecks have no normalisation left), which is
what the float model shows too; `init` warns and the range error says why. After the float stage has seen
training batches the QAT model tracks the float model and exports bit-exact.

References are the float torchvision model itself (train / eval mode), never linger code."""
import copy
import io
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession, isa_supported

torchvision = pytest.importorskip("torchvision")

SHAPE = (2, 3, 64, 64)


def mean_abs_per_block(model: nn.Module, x: torch.Tensor, partial: bool = False):
    """Mean |activation| after each `features[i]` block. With `partial`, returns (the blocks that ran, the
    error that stopped the forward or None)."""
    out = {}
    hooks = [block.register_forward_hook(
        lambda _m, _i, o, k=i: out.__setitem__(k, float(o.detach().as_subclass(torch.Tensor).abs().mean())))
        for i, block in enumerate(model.features)]
    error = None
    try:
        with torch.no_grad():
            model(x)
    except ValueError as e:
        if not partial:
            raise
        error = e
    finally:
        for h in hooks:
            h.remove()
    return (out, error) if partial else out


def traced(model: nn.Module, x: torch.Tensor) -> nn.Module:
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    return model


def feed(model: nn.Module, batches) -> None:
    model.train()
    with torch.no_grad():
        for b in batches:
            model(b)


@pytest.fixture
def mbv2():
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v2(num_classes=10), torch.randn(*SHAPE)


def test_float_stage_in_train_mode_is_the_float_model_in_train_mode(mbv2):
    model, x = mbv2
    ref = mean_abs_per_block(copy.deepcopy(model).train(), x)
    got = mean_abs_per_block(traced(copy.deepcopy(model), x).train(), x)
    assert ref.keys() == got.keys() and len(ref) == 19
    for k in ref:
        assert got[k] == pytest.approx(ref[k], rel=1e-4), k
    assert 0.1 < ref[18] < 10  # batch statistics keep the float model O(1)


def test_init_with_initial_bn_statistics_is_the_eval_mode_model_and_says_so(mbv2):
    model, x = mbv2
    ref_eval = mean_abs_per_block(copy.deepcopy(model).eval(), x)
    assert ref_eval[17] < 1e-6  # the float model collapses just the same in eval mode (running mean 0, var 1)
    q = traced(copy.deepcopy(model), x)
    with pytest.warns(UserWarning, match=r"52 fused conv-bn layer\(s\) \('features\.0\.0'.*initial ones "
                                         r"\(mean 0, var 1\).*eval-mode output"):
        linger.init(q)
    got, error = mean_abs_per_block(q.train(), x, partial=True)
    assert error is not None and re.search(
        r"'features\.1[67]\.[^']*' \(ConvBN2dInt\).*outside \[-32, 40\].*initial running statistics "
        r"\(mean 0, var 1\)", str(error)), str(error)
    # every block that ran is the eval-mode float model (8-bit rounding: within 5 %), not the train-mode one
    assert len(got) >= 14
    for k in got:
        assert got[k] == pytest.approx(ref_eval[k], rel=0.05), k


def test_after_the_float_stage_sees_batches_qat_tracks_the_float_model_and_exports_bit_exact(mbv2):
    model, x = mbv2
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.momentum = 0.5  # a few batches are enough to replace the initial statistics
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(4, *SHAPE[1:], generator=g) for _ in range(8)]
    flt = copy.deepcopy(model)
    feed(flt, batches)  # the float model trained on the same batches (statistics only)
    q = traced(copy.deepcopy(model), x)
    feed(q, batches)  # the float stage in train mode updates the running statistics, as the float model does
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no initial statistics left to warn about
        linger.init(q)
    feed(q, batches[:2])  # QAT calibration in train mode
    got = mean_abs_per_block(q.train(), x)
    ref_eval = mean_abs_per_block(flt.eval(), x)
    ref_train = mean_abs_per_block(flt.train(), x)
    assert len(got) == 19
    for k in got:  # folded running statistics: the float model's eval-mode function, up to 8-bit rounding
        assert got[k] == pytest.approx(ref_eval[k], rel=0.1), k
    # and within a small factor of the float model in train mode (batch vs running statistics)
    assert ref_train[18] / 3 < got[18] < ref_train[18] * 3

    q.eval()
    with torch.no_grad():
        ref = q(x).as_subclass(torch.Tensor).numpy()
    buf = io.BytesIO()
    linger.onnx.export(q, (x,), buf)
    for isa in [i for i in ("scalar", "avx2", "avx512vnni") if isa_supported(i)]:
        sess = InferenceSession(buf.getvalue(), isa=isa)
        out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        assert out.dtype == ref.dtype and out.shape == ref.shape
        assert np.array_equal(out, ref), f"{isa}: {int((out != ref).sum())} elements differ"
