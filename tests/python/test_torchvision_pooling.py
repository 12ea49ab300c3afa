"""Real models, unmodified torchvision code: init -> QAT batches -> eval -> export (runtime check) -> the runtime
bit-exact with the PyTorch eval path (every quantized op's integers, linger.tools.compare). They need adaptive
average pooling, functional pools and MaxPool2d(ceil_mode=True) on quantized tensors (issue 8, seed Q13).

Batch 4 at 64x64 leaves every batch norm at least 16 values per channel: with 2 values (batch 2 at a 1x1 stage)
quantization can make the batch variance exactly 0 and gamma/sqrt(var + eps) explodes in training, which linger
reports as an error naming the module (test_norm_pool.py::test_diverged_values_are_an_error_naming_the_module)."""
import io

import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger
from linger.tools.compare import compare

torchvision = pytest.importorskip("torchvision")


def qat_export_compare(factory, shape, batches=3, seed=0):
    """factory() (seeded) -> linger.init -> `batches` QAT steps -> eval -> linger.onnx.export (runtime check on)
    -> compare."""
    torch.manual_seed(seed)
    model = linger.init(factory())
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    for _ in range(batches):
        out = model(torch.randn(shape))
        loss = F.cross_entropy(out.as_subclass(torch.Tensor), torch.randint(0, out.shape[-1], (shape[0],)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.randn(shape)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    data = buf.getvalue()
    report = compare(model, data, x)
    assert report.ok, str(report)
    return onnx.load_from_string(data)


def _op_types(m):
    return {n.op_type for n in m.graph.node}


def test_torchvision_resnet18_bit_exact():
    m = qat_export_compare(lambda: torchvision.models.resnet18(num_classes=10), (4, 3, 64, 64))
    ops = _op_types(m)
    assert "AvgPool2dInt" in ops and "GlobalAveragePool" not in ops and "iqAdd" in ops


def test_torchvision_googlenet_bit_exact():
    m = qat_export_compare(lambda: torchvision.models.googlenet(num_classes=10, aux_logits=False, init_weights=True),
                           (4, 3, 64, 64))
    ops = _op_types(m)
    assert {"AvgPool2dInt", "MaxPool", "iqCat"} <= ops


def test_torchvision_squeezenet1_0_bit_exact():
    m = qat_export_compare(lambda: torchvision.models.squeezenet1_0(num_classes=10), (2, 3, 64, 64))
    assert {"AvgPool2dInt", "MaxPool", "iqCat"} <= _op_types(m)


def test_torchvision_shufflenet_v2_bit_exact():
    # channel shuffle as torchvision writes it (view/transpose/flatten) and the global pool as x.mean([2, 3])
    m = qat_export_compare(lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10), (4, 3, 64, 64))
    ops = _op_types(m)
    assert {"iqMean", "iqCat", "MaxPool"} <= ops and "ReduceMean" not in ops


class Block(nn.Module):
    """A small pre-norm transformer block: LayerNorm, q/k/v Linear, softmax(q @ k^T), residual adds, MLP."""

    def __init__(self, d=16):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.d = d

    def forward(self, x):
        h = self.ln1(x)
        att = torch.softmax(self.q(h) @ self.k(h).transpose(1, 2) * (self.d ** -0.5), dim=-1)
        x = x + self.proj(att @ self.v(h))
        return x + self.fc2(torch.relu(self.fc1(self.ln2(x))))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.block = Block(16)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.block(self.embed(x)).mean(1))


def test_transformer_block_layernorm_bit_exact():
    m = qat_export_compare(Tiny, (3, 6, 8))
    ops = _op_types(m)
    assert {"LayerNormInt", "SoftmaxInt", "BmmInt", "iqAdd", "iqMean"} <= ops


class Q13(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.conv1d = nn.Conv1d(8, 8, 1)
        self.fc = nn.Linear(8 * 2, 4)

    def forward(self, x):
        y = self.conv(x)
        a = F.max_pool2d(y, 2)                      # functional max pool
        a = F.avg_pool2d(a, 2, ceil_mode=True)      # functional average pool
        b = F.adaptive_max_pool2d(y, 2)
        g = self.gap(a + F.adaptive_avg_pool2d(b, 2)).flatten(1)  # adaptive average pools
        s = self.conv1d(y.flatten(2))
        s = F.avg_pool1d(F.max_pool1d(s, 2), 2).mean(-1)          # 1-d pools and mean
        return self.fc(torch.cat([g, s], 1))


def test_seed_q13_adaptive_and_functional_pools_are_quantized():
    m = qat_export_compare(Q13, (2, 3, 8, 8))
    ops = [n.op_type for n in m.graph.node]
    float_pools = {"GlobalAveragePool", "AveragePool", "ReduceMean", "GlobalMaxPool"}
    assert not float_pools & set(ops), ops
    assert ops.count("AvgPool2dInt") == 4 and ops.count("MaxPool") == 3 and "iqMean" in ops
    # the only Dequant is the graph output
    assert ops.count("Dequant") == 1
