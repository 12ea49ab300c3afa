"""Scripts written against linger 1.x (its import paths, names and keyword names) run unchanged.

Each script runs in a fresh interpreter (1.x scripts rely on `import linger` side effects only) and prints
`OK` at the end; the assertions inside them check behaviour, not just that a name exists."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_script(src: str, tmp_path) -> str:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(src)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().endswith("OK"), p.stdout + p.stderr
    return p.stdout + p.stderr


# group 1: imports and configuration (linger.utils, linger.config, linger.ops, linger.ops.iqtensor)
IMPORTS = """
import torch, linger
from linger.utils import QuantMode, PlatFormQuant, QuantInfo, ClampInfo, LINGER_AHEAD_RELU, get_max_value
from linger.config import SetIQTensorAdd, SetPlatFormQuant
from linger.ops.iqtensor import IQTensor, from_torch_tensor, Quant2IQTensor, iqAddLayer
from linger.ops import Conv2dInt, LinearInt, ConvTranspose2dInt, iqMulLayer
from linger import DefaultQuantIntXOP, SupportQuantTorchModules, LINGER_AHEAD_RELU as R2
assert R2 == LINGER_AHEAD_RELU == "_linger_ahead_relu"
linger.SetPlatFormQuant(platform_quant=PlatFormQuant.luna_quant)
SetIQTensorAdd(True)
assert torch.nn.Conv2d in DefaultQuantIntXOP and torch.nn.Conv2d in SupportQuantTorchModules
q = QuantInfo(); q.set_output_bits(8); assert (q.data_bits, q.parameter_bits, q.output_bits) == (8, 8, 8)
c = ClampInfo(); assert (c.clamp_weight_value, c.clamp_bias_value, c.clamp_output_value) == (8, 8, None)
assert get_max_value(8) == 127
t = from_torch_tensor(torch.tensor([0.5, -0.25]), 64, 8)
assert isinstance(t, IQTensor) and t.scale_data == 64 and t.bits == 8
x = torch.tensor([1.0, -3.0, 0.3])
qx = Quant2IQTensor.apply(x, 8)
assert qx.scale_data == 32.0 and torch.equal(qx, torch.floor(x * 32 + 0.5) / 32)
try:
    from_torch_tensor(torch.ones(2), 100.0, 8)
except ValueError as e:
    assert "power of two" in str(e) and "128" in str(e), e
else:
    raise AssertionError("a non-power-of-two scale must be refused")
m = Conv2dInt(3, 4, 3, padding=1)                # 1.x defaults: data/parameter/o bits 8
assert (m.data_bits, m.parameter_bits, m.o_bits) == (8, 8, 8)
assert LinearInt(4, 2).o_bits is None and ConvTranspose2dInt(2, 2, 2, stride=2).o_bits is None
assert callable(linger.runtime.InferenceSession) and callable(linger.onnx.export)
assert callable(linger.tools.compare.compare)
print("OK")
"""

# group 2: the two-stage workflow with 1.x entry points, QAT steps, export, runtime
WORKFLOW = """
import torch, torch.nn as nn, linger
from linger.utils import QuantMode
torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 8 * 8, 10)
    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        return self.fc(x.view(x.size(0), -1))

model = Net()
x = torch.randn(4, 1, 8, 8)
pairs = linger.FuseConvBNAheadRelu(model, x, fused_bn=True)   # pattern detection only
assert pairs == [("conv", "bn")] and getattr(model.conv, linger.LINGER_AHEAD_RELU) is True, pairs
assert isinstance(model.conv, nn.Conv2d)                   # nothing replaced
linger.trace_layers(model, model, x, fuse_bn=True)
assert type(model.conv).__name__ == "NormalizeConvBN2d" and model.conv.ahead_relu
linger.disable_normalize(model.fc)
linger.normalize_layers(model, normalize_modules=linger.DefaultNormalizeIntXModule, normalize_weight_value=8,
                        normalize_bias_value=8, normalize_output_value=8)
linger.quant_module_by_type(model, type_modules=(nn.Linear,), mode=QuantMode.QValue, data_bits=8,
                            parameter_bits=8, out_bits=8)
linger.SetIQTensorAdd(True)
model = linger.init(model, quant_modules=linger.DefaultQuantIntXOP, parameter_bits=8, mode=QuantMode.QValue)
assert type(model.conv).__name__ == "ConvBN2dInt" and model.conv.ahead_relu and model.fc.o_bits == 8
opt = torch.optim.SGD(model.parameters(), lr=1e-2)
for _ in range(4):
    loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.randint(0, 10, (8,)))
    opt.zero_grad(); loss.backward(); opt.step()
model.eval()
with torch.no_grad():
    y = model(x[:1])
linger.onnx.export(model, (x[:1],), "m.onnx", input_names=["x"], output_names=["y"], opset_version=12)
sess = linger.runtime.InferenceSession("m.onnx")
out = sess.run(None, {"x": x[:1].numpy()})[0]
assert (abs(torch.from_numpy(out) - y.detach()) == 0).all(), (out, y)
print("OK")
"""

# group 3: the Normalize* modules built directly with their 1.x constructors and keyword names
NORMALIZE = """
import torch, torch.nn as nn, linger
from linger import (NormalizeConvBN2d, NormalizeConv2d, NormalizeLinear, NormalizeConvTranspose2d,
                    NormalizeBatchNorm2d, NormalizeConv1d, NormalizeConvBN1d)
torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = NormalizeConvBN2d(1, 4, 3, stride=1, padding=1, bias=True, normalize_data=4.0,
                                    normalize_weight=0.5, normalize_bias=1.0, ahead_relu=True)
        self.c2 = NormalizeConv2d(4, 4, 3, padding=1, normalize_data=8, normalize_weight=8, normalize_bias=8)
        self.bn = NormalizeBatchNorm2d(4, normalize_data=8, normalize_weight=8, normalize_bias=8)
        self.up = NormalizeConvTranspose2d(4, 2, 2, stride=2, normalize_data=8, normalize_weight=8,
                                           normalize_bias=8)
        self.fc = NormalizeLinear(2 * 16 * 16, 3, normalize_data=2.0, normalize_weight=8, normalize_bias=8)
    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = self.up(self.bn(self.c2(x)))
        return self.fc(x.flatten(1))

m = Net()
assert m.c1.ahead_relu and m.c1.normalize_data == 4.0 and m.c1.normalize_weight == 0.5
assert isinstance(m.c1.conv, nn.Conv2d) and isinstance(m.c1.bn, nn.BatchNorm2d)
assert NormalizeConv1d(2, 3, 3, normalize_data=8).normalize_data == 8
assert NormalizeConvBN1d(2, 3, 3, normalize_weight=8).normalize_weight == 8
m.eval()
w, _ = m.c1._clamped(*__import__("linger.bnutil", fromlist=["fold"]).fold(
    m.c1.conv.weight, m.c1.conv.bias, m.c1.bn, "out_first", 1))
assert float(w.abs().max()) <= 0.5
y = m(torch.randn(2, 1, 8, 8) * 100)
assert float(y.abs().max()) <= 2.0                           # normalize_data of the last layer
m.train()
opt = torch.optim.SGD(m.parameters(), lr=1e-2)
for _ in range(2):
    loss = m(torch.randn(4, 1, 8, 8)).square().mean(); opt.zero_grad(); loss.backward(); opt.step()
linger.init(m)
assert type(m.c1).__name__ == "ConvBN2dInt" and m.c1.ahead_relu and m.c1.clamp_weight == 0.5
for _ in range(2):
    loss = m(torch.randn(4, 1, 8, 8)).square().mean(); opt.zero_grad(); loss.backward(); opt.step()
m.eval()
linger.onnx.export(m, (torch.randn(1, 1, 8, 8),), "n.onnx", opset_version=12)
print("OK")
"""

# group 4: quant_tensor / ScaledRoundLayer, Requant, iqadd in a user module
FUNCTIONAL = """
import torch, torch.nn as nn, linger
from linger.ops.iqtensor import Requant, from_torch_tensor, IQTensor
torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
    def forward(self, x):
        x = linger.quant_tensor(self, x, name="inp")
        return linger.iqadd(self, self.fc(x), x, name="res")

m = Net()
linger.init(m)
opt = torch.optim.SGD(m.parameters(), lr=1e-2)
for _ in range(3):
    loss = m(torch.randn(8, 4)).square().mean(); opt.zero_grad(); loss.backward(); opt.step()
assert "_linger_round_tensor_iq_tensor_quant_inp.running_o" in m.state_dict()
m.eval()
x = torch.randn(1, 4)
y = m(x)
assert isinstance(y, IQTensor)
m2 = Net(); linger.init(m2); m2.load_state_dict(m.state_dict()); m2.eval()   # lazily created layers reload
assert torch.equal(m2(x), y)
linger.onnx.export(m, (x,), "f.onnx", input_names=["x"], opset_version=12)
import onnx
assert "Quant" in [n.op_type for n in onnx.load("f.onnx").graph.node]
t = from_torch_tensor(torch.tensor([0.3, -1.2, 0.51]), 64, 8)
r = Requant.apply(t, 16)
assert r.bits == 16 and r.scale_data == 64 * 256 and torch.equal(t, torch.tensor([0.3, -1.2, 0.51]))
print("OK")
"""


SCRIPTS = {"imports": IMPORTS, "workflow": WORKFLOW, "normalize": NORMALIZE, "functional": FUNCTIONAL}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_linger1x_script(name, tmp_path):
    run_script(SCRIPTS[name], tmp_path)
