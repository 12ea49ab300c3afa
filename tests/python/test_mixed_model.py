"""Issue 7's acceptance model: residual `+=`, cat, mul, sigmoid, tanh, clamp, sum, softmax, bmm and div in one
network trains, exports and runs bit-exact in the runtime, on every ISA this machine has."""
import io

import onnx
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import isa_supported
from linger.tools.compare import compare


class Mix(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(6 * 16, 10)

    def forward(self, x):
        a = self.c1(x)
        b = self.c2(a)
        b += a                                              # residual, in place
        m = b * torch.sigmoid(self.c3(b))                   # gate
        t = torch.tanh(m)
        c = torch.cat([t, torch.clamp(b, 0, 2)], 1)         # [N, 16, H, W]
        s = c.sum(-1)                                       # [N, 16, H]
        att = torch.softmax(torch.bmm(s.transpose(1, 2), s), -1)   # [N, H, H]
        o = torch.bmm(att, s.transpose(1, 2)) / 2           # [N, H, 16]
        return self.fc(o.flatten(1))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = linger.init(Mix())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(6):
        x = torch.randn(8, 3, 6, 6)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, 10, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.randn(4, 3, 6, 6)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    return model, x, buf.getvalue()


def test_mixed_model_exports_every_op_as_an_integer_node(trained):
    _, _, data = trained
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    for op in ("iqAdd", "iqMul", "iqSigmoid", "iqTanh", "iqCat", "iqClamp", "iqSum", "BmmInt", "SoftmaxInt", "iqDiv"):
        assert op in ops, op
    assert ops.count("Quant") == 1 and ops.count("Dequant") == 1  # one integer graph, no float detour


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512vnni", "auto"])
def test_mixed_model_bit_exact_in_the_runtime(trained, isa):
    if not isa_supported(isa):
        pytest.skip(f"this CPU has no {isa}")
    model, x, data = trained
    report = compare(model, data, x, isa=isa)
    assert report.ok, str(report)
    assert len(report.compared) == 15  # 4 conv/linear + 11 functional-op layers
