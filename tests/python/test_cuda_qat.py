"""QAT steps of the same model on the same data on the GPU and on the CPU (docs/cuda.md, "QAT on GPU vs CPU").

MLP (LinearInt only): every fake-quantized product x_code * w_code is an integer at 2^-(Qx+Qw) and every partial
sum stays far below 2^24 such units, so a float32 matrix product is exact in any summation order (TF32 off):
the first training step gives bit-identical outputs, statistics and exponents on both devices. The loss and the
gradients then differ by float rounding only (softmax, summation order); later steps may flip a weight code that
sits within an ulp of a tie, so they are compared within the tolerances below.
CNN (Conv2dInt + iqAdd residual + LinearInt): cuDNN may pick convolution algorithms (Winograd, FFT) that round,
so its codes are compared by share and distance.
Data: the first images of Fashion-MNIST's test split when installed (LINGER_FASHION_MNIST), else a seeded
synthetic set (said in the printed summary)."""
import copy
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger
from linger.tools.datasets import FASHION_MNIST_DIR, load_fashion_mnist

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="skipped: no GPU (torch.cuda.is_available() is False)")

STEPS = 8
BATCH = 64
# Tolerances (docs/cuda.md): float rounding of the loss and gradients, weight codes after STEPS steps.
LOSS_RTOL = 1e-4
GRAD_RTOL = 1e-3
MIN_EQUAL_CODES = 0.999


@pytest.fixture(autouse=True)
def _exact_fp32():
    """No TF32 (it rounds products to 10-bit mantissas), deterministic cuDNN algorithms."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    yield
    (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
     torch.backends.cudnn.deterministic) = saved


def _data(n: int = STEPS * BATCH):
    root = os.environ.get("LINGER_FASHION_MNIST", FASHION_MNIST_DIR)
    if os.path.exists(os.path.join(root, "t10k-images-idx3-ubyte.gz")):
        x, y = load_fashion_mnist("test", root=root, limit=n)
        return x, y, f"Fashion-MNIST test[:{n}]"
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(10, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    x = protos[y] + 0.7 * torch.randn(n, 1, 28, 28, generator=g)
    return x, y, f"synthetic ({n} images; Fashion-MNIST not found at {root})"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ResCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = x + F.relu(self.conv2(x))  # iqAdd
        x = self.pool(x)
        return self.fc(x.flatten(1))


def _buffers(model, prefix):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k.rsplit(".", 1)[-1].startswith(prefix)}


def _weight_codes(model):
    """Each quantized module's weight codes at the exponent its last training forward used (scale_w)."""
    out = {}
    for name, m in model.named_modules():
        if hasattr(m, "scale_w") and getattr(m, "weight", None) is not None:
            s = float(m.scale_w)
            out[name] = torch.floor(m.weight.detach().cpu().double() * s + 0.5).clamp(-128, 127).long()
    return out


def _train(model, x, y, device):
    model = copy.deepcopy(model).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    model.train()
    steps = []
    for s in range(STEPS):
        xb, yb = x[s * BATCH:(s + 1) * BATCH].to(device), y[s * BATCH:(s + 1) * BATCH].to(device)
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        steps.append(dict(out=out.detach().cpu().clone(), loss=loss.item(), scales=_buffers(model, "scale_"),
                          running=_buffers(model, "running_"),
                          grads={n: p.grad.detach().cpu().clone() for n, p in model.named_parameters()}))
        opt.step()
    return model, steps


def _codes(t, scale):
    return torch.floor(t.double() * scale + 0.5).long()


def _models(cls):
    torch.manual_seed(0)
    model = cls()
    linger.init(model)
    return model


def test_mlp_first_step_is_bit_identical_and_later_steps_agree():
    x, y, source = _data()
    model = _models(MLP)
    mc, cpu = _train(model, x, y, "cpu")
    mg, gpu = _train(model, x, y, "cuda")

    c0, g0 = cpu[0], gpu[0]
    for k in c0["scales"]:
        assert torch.equal(c0["scales"][k], g0["scales"][k]), f"step-0 exponent {k} differs"
    for k in c0["running"]:
        assert torch.equal(c0["running"][k], g0["running"][k]), f"step-0 statistic {k} differs"
    assert torch.equal(c0["out"], g0["out"]), "step-0 outputs (fake-quantized logits) differ"

    worst_loss = worst_grad = 0.0
    for s, (c, g) in enumerate(zip(cpu, gpu)):
        for k in c["scales"]:
            assert torch.equal(c["scales"][k], g["scales"][k]), f"step {s}: exponent {k} differs"
        rel = abs(c["loss"] - g["loss"]) / abs(c["loss"])
        worst_loss = max(worst_loss, rel)
        assert rel <= LOSS_RTOL, f"step {s}: loss {c['loss']} (cpu) vs {g['loss']} (cuda)"
        for n in c["grads"]:
            gc, gg = c["grads"][n], g["grads"][n]
            err = float((gc - gg).abs().max()) / max(float(gc.abs().max()), 1e-30)
            worst_grad = max(worst_grad, err)
            assert err <= GRAD_RTOL, f"step {s}: gradient of {n} differs by {err:.2e} of its largest element"

    wc, wg = _weight_codes(mc), _weight_codes(mg)
    total = sum(v.numel() for v in wc.values())
    equal = sum(int((wc[k] == wg[k]).sum()) for k in wc)
    assert max(int((wc[k] - wg[k]).abs().max()) for k in wc) <= 1
    assert equal / total >= MIN_EQUAL_CODES
    print(f"\n[QAT GPU vs CPU] MLP, {source}, {STEPS} steps of {BATCH}: step-0 outputs/statistics/exponents "
          f"bit-identical; exponents equal at every step; losses within {worst_loss:.1e} (rel); gradients within "
          f"{worst_grad:.1e} of their largest element; weight codes after the last step equal: "
          f"{equal}/{total} ({100.0 * equal / total:.3f}%)")


def test_residual_cnn_agrees_within_tolerance():
    x, y, source = _data()
    model = _models(ResCNN)
    mc, cpu = _train(model, x, y, "cpu")
    mg, gpu = _train(model, x, y, "cuda")
    assert any("iqadd" in k for k in mg.state_dict()), "the residual '+' should have become an iqAdd layer"

    equal_out = total_out = 0
    worst_code = 0
    worst_loss = 0.0
    for s, (c, g) in enumerate(zip(cpu, gpu)):
        rel = abs(c["loss"] - g["loss"]) / abs(c["loss"])
        worst_loss = max(worst_loss, rel)
        assert rel <= 10 * LOSS_RTOL, f"step {s}: loss {c['loss']} (cpu) vs {g['loss']} (cuda)"
        if torch.equal(c["scales"]["fc.scale_o"], g["scales"]["fc.scale_o"]):
            scale = float(c["scales"]["fc.scale_o"])
            d = (_codes(c["out"], scale) - _codes(g["out"], scale)).abs()
            equal_out += int((d == 0).sum())
            total_out += d.numel()
            worst_code = max(worst_code, int(d.max()))
    for k in cpu[0]["scales"]:
        assert torch.equal(cpu[0]["scales"][k], gpu[0]["scales"][k]), f"step-0 exponent {k} differs"
    assert total_out >= (STEPS - 1) * BATCH * 10, "the output exponent should agree on (nearly) every step"
    assert worst_code <= 1 and equal_out / total_out >= 0.99
    print(f"\n[QAT GPU vs CPU] residual CNN (cuDNN convolutions), {source}, {STEPS} steps: step-0 exponents "
          f"equal; output codes equal {equal_out}/{total_out} ({100.0 * equal_out / total_out:.2f}%), at most "
          f"{worst_code} apart; losses within {worst_loss:.1e} (rel)")
