"""Unmodified torchvision architectures with ReLU6 / Hardswish / Hardsigmoid / SiLU / squeeze-excitation /
StochasticDepth, and a small U-Net with F.interpolate and cat skips: linger.init -> 3 QAT batches -> eval ->
linger.onnx.export (the runtime check passes) -> compare(model, onnx, x).ok (every intermediate, tolerance 0)."""
import io

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger
from linger.tools.compare import compare

torchvision = pytest.importorskip("torchvision")


def _qat_export_compare(model: nn.Module, x: torch.Tensor, batches: int = 3):
    torch.manual_seed(0)
    linger.init(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    for i in range(batches):
        xb = torch.randn_like(x)
        out = model(xb)
        loss = out.float().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # batch statistics of 1x1 maps at 32x32
        opt.step()
    model.eval()
    with torch.no_grad():
        model(x)
    buf = io.BytesIO()
    linger.onnx.export(model, x, buf)
    rep = compare(model, buf.getvalue(), x)
    return rep, buf.getvalue()


def _tv(name: str, size: int, **kw):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=10, **kw)
    return model, torch.randn(4, 3, size, size)


@pytest.mark.parametrize("name,size", [("mobilenet_v2", 32), ("mobilenet_v3_small", 64), ("efficientnet_b0", 32)])
def test_torchvision_activation_models_bit_exact(name, size):
    model, x = _tv(name, size)
    rep, data = _qat_export_compare(model, x)
    assert rep.ok, str(rep)
    import onnx
    ops = {(n.domain, n.op_type) for n in onnx.load_from_string(data).graph.node}
    if name == "mobilenet_v2":
        assert ("thinker", "iqClamp") in ops
    if name == "mobilenet_v3_small":
        assert ("linger", "TableInt") in ops
    if name == "efficientnet_b0":
        assert ("linger", "TableInt") in ops and ("thinker", "iqSigmoid") in ops
        # StochasticDepth's `input * noise` trained as iqMul with a quantized float operand (eval: identity)
        noise = [m for n, m in model.named_modules() if n.endswith("_linger_round_tensor_iqmul_float__default_index_0")]
        assert noise and all(float(m.scale_y) > 0 for m in noise)


class UNet(nn.Module):
    def __init__(self, mode: str, align_corners=None):
        super().__init__()
        self.mode, self.ac = mode, align_corners
        self.e1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.e2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.LeakyReLU(0.1))
        self.e3 = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.GELU())
        self.up = nn.Upsample(scale_factor=2, mode=mode, **({} if align_corners is None else
                                                            {"align_corners": align_corners}))
        self.d2 = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1), nn.PReLU(8))
        self.d1 = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        u = self.up(c)
        d = self.d2(torch.cat([u, b], 1))
        kw = {} if self.mode == "nearest" else {"align_corners": bool(self.ac)}
        d = F.interpolate(d, size=a.shape[2:], mode=self.mode, **kw)
        return self.d1(torch.cat([d, a], 1))


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_unet_interpolate_cat_skips_bit_exact(mode, ac):
    torch.manual_seed(0)
    model = UNet(mode, ac)
    rep, data = _qat_export_compare(model, torch.randn(2, 3, 16, 16))
    assert rep.ok, str(rep)
    import onnx
    nodes = onnx.load_from_string(data).graph.node
    assert sum(n.op_type == "ResizeInt" for n in nodes) == 2
    assert {a.s.decode() for n in nodes if n.op_type == "TableInt" for a in n.attribute if a.name == "function"} \
        == {"leaky_relu", "gelu", "prelu"}
