"""The main job: the two-stage linger workflow on Fashion-MNIST with a conv-bn CNN.

  0. float training (and, as the reference, the same further schedule in float)
  1. stage 1: trace_layers (conv-bn fusion) + normalize_layers (weight/bias/output constraints),
     the float checkpoint loaded with strict=True, fine-tuned in float
  2. stage 2: linger.init (int8 QAT) at a 10x lower learning rate
  3. export to ONNX (thinker dialect), run by linger's C++ integer runtime on the 10,000 test images,
     compared bit for bit with the PyTorch eval forward

    /usr/bin/python3 examples/fashion_mnist_demo.py [--epochs 3] [--stage1-epochs 1] [--qat-epochs 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import linger  # noqa: E402
from linger.runtime import InferenceSession  # noqa: E402
from linger.tools.datasets import load_fashion_mnist  # noqa: E402


class ConvBNCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        return self.fc(x.flatten(1))


def log(msg: str) -> None:
    print(msg, flush=True)


def train(model, x, y, epochs, lr, tag, bs=64):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x))
        total, n, t0 = 0.0, 0, time.time()
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
            if (i // bs) % 200 == 0:
                log(f"  [{tag}] epoch {ep + 1}/{epochs}  {n:>5}/{len(x)}  loss {total / n:.4f}")
        log(f"  [{tag}] epoch {ep + 1} done: mean loss {total / n:.4f} ({time.time() - t0:.1f}s)")


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item() * 100


@torch.no_grad()
def predict(model, x, bs=500):
    model.eval()
    outs = [model(x[i:i + bs]).as_subclass(torch.Tensor) for i in range(0, len(x), bs)]
    return torch.cat(outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stage1-epochs", type=int, default=1)
    ap.add_argument("--qat-epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--out", default="demo_out")
    args = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)

    log("== data: Fashion-MNIST")
    xtr, ytr = load_fashion_mnist("train", limit=args.train_limit)
    xte, yte = load_fashion_mnist("test")
    log(f"  train {tuple(xtr.shape)}, test {tuple(xte.shape)}")

    log("== float training")
    float_model = ConvBNCNN()
    train(float_model, xtr, ytr, args.epochs, 0.02, "float")
    float_ckpt = {k: v.clone() for k, v in float_model.state_dict().items()}
    # the float reference gets the same further schedule as the two stages (lr 0.01, then 0.001)
    train(float_model, xtr, ytr, args.stage1_epochs, 0.01, "float")
    train(float_model, xtr, ytr, args.qat_epochs, 0.001, "float")
    float_acc = accuracy(predict(float_model, xte), yte)
    log(f"  float test accuracy {float_acc:.2f}%")

    log("== stage 1: trace_layers (conv-bn fusion) + normalize_layers (constraints), float fine-tuning")
    model = ConvBNCNN()
    linger.trace_layers(model, model, (xtr[:2],))
    linger.normalize_layers(model, normalize_weight_value=8, normalize_bias_value=8, normalize_output_value=8)
    model.load_state_dict(float_ckpt, strict=True)  # the float checkpoint; key mapping by linger
    train(model, xtr, ytr, args.stage1_epochs, 0.01, "stage1")
    stage1_acc = accuracy(predict(model, xte), yte)
    log(f"  stage-1 test accuracy {stage1_acc:.2f}%")

    log("== stage 2: int8 QAT (linger.init, learning rate / 10)")
    linger.init(model)
    train(model, xtr, ytr, args.qat_epochs, 0.001, "qat")
    qat_logits = predict(model, xte)
    qat_acc = accuracy(qat_logits, yte)
    log(f"  QAT int8 eval accuracy {qat_acc:.2f}%")

    log("== export")
    path = os.path.join(args.out, "fashion_cnn_int8.onnx")
    linger.onnx.export(model, (xte[:1],), path, input_names=["image"], output_names=["logits"])
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")

    log("== C++ integer runtime on the 10,000 test images")
    sess = InferenceSession(path)
    rt_logits = np.empty((len(xte), 10), dtype=np.float32)
    xs = xte.numpy()
    t0 = time.perf_counter()
    for i in range(len(xte)):
        rt_logits[i] = sess.run(None, {"image": xs[i:i + 1]})[0][0]
        if i % 2500 == 0:
            log(f"  runtime {i}/{len(xte)}")
    rt_time = (time.perf_counter() - t0) / len(xte)
    rt_acc = float((rt_logits.argmax(1) == yte.numpy()).mean() * 100)
    exact = float((rt_logits == qat_logits.numpy()).all(axis=1).mean() * 100)

    torch.set_num_threads(1)
    float_model.eval()
    with torch.no_grad():
        for i in range(50):
            float_model(xte[i:i + 1])
        t0 = time.perf_counter()
        for i in range(2000):
            float_model(xte[i:i + 1])
    torch_time = (time.perf_counter() - t0) / 2000

    rows = [
        ("float accuracy (PyTorch, same schedule)", f"{float_acc:.2f}%"),
        ("stage-1 (constrained float) accuracy", f"{stage1_acc:.2f}%"),
        ("QAT int8 eval accuracy (PyTorch)", f"{qat_acc:.2f}%"),
        ("runtime int8 accuracy (C++)", f"{rt_acc:.2f}%"),
        ("images bit-exact runtime vs PyTorch eval", f"{exact:.2f}%"),
        (f"runtime time / image (batch 1, 1 thread, {sess.isa})", f"{rt_time * 1e3:.3f} ms"),
        ("PyTorch float time / image (batch 1, 1 thread)", f"{torch_time * 1e3:.3f} ms"),
    ]
    w = max(len(r[0]) for r in rows)
    log("\n" + "-" * (w + 14))
    for k, v in rows:
        log(f"{k:<{w}}  {v:>11}")
    log("-" * (w + 14))
    log(f"runtime int8 vs float: {rt_acc - float_acc:+.2f} points")
    if exact != 100.0:
        raise SystemExit("runtime and PyTorch eval differ: run linger.tools.compare to find the first mismatch")


if __name__ == "__main__":
    main()
