"""A small CNN trained on real Fashion-MNIST: float, then int8 QAT. The loss falls and the int8 eval
accuracy stays within 1 point of the float accuracy."""
import copy
import os

import pytest
import torch
import torch.nn as nn

import linger
from linger.tools.datasets import FASHION_MNIST_DIR, load_fashion_mnist

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.environ.get("LINGER_FASHION_MNIST", FASHION_MNIST_DIR)),
    reason="dataset-fashion-mnist is not installed (scripts/setup.sh installs it)")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


def run_epoch(model, opt, x, y, bs=64):
    model.train()
    losses = []
    perm = torch.randperm(len(x))
    for i in range(0, len(x), bs):
        idx = perm[i:i + bs]
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model, x, y, bs=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), bs):
        correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return 100.0 * correct / len(x)


def test_qat_on_fashion_mnist_keeps_float_accuracy():
    torch.manual_seed(0)
    xtr, ytr = load_fashion_mnist("train", limit=12000)
    xte, yte = load_fashion_mnist("test", limit=5000)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    losses = run_epoch(model, opt, xtr, ytr) + run_epoch(model, opt, xtr, ytr)
    assert sum(losses[-20:]) / 20 < 0.6 * sum(losses[:20]) / 20, "float loss did not fall"
    # the float reference gets the same fine-tuning epoch as the QAT model
    float_model = copy.deepcopy(model)
    torch.manual_seed(1)
    run_epoch(float_model, torch.optim.SGD(float_model.parameters(), lr=0.005, momentum=0.9), xtr, ytr)
    float_acc = accuracy(float_model, xte, yte)
    assert float_acc > 80.0

    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)  # ~10x lower for QAT (seed Q15)
    torch.manual_seed(1)
    qat_losses = run_epoch(model, opt, xtr, ytr)
    assert sum(qat_losses[-20:]) / 20 < sum(losses[:20]) / 20
    int8_acc = accuracy(model, xte, yte)
    print(f"float {float_acc:.2f}%  int8 eval {int8_acc:.2f}%")
    assert abs(int8_acc - float_acc) <= 1.0
