"""Makes the demo model for scripts/mcu_check.sh: the Fashion-MNIST demo's conv-bn CNN
(examples/fashion_mnist_demo.py), through the normal API (trace_layers -> init -> a few QAT batches),
exported with linger.onnx.export; plus N test images and the desktop runtime's outputs for them.

    /usr/bin/python3 scripts/mcu_model.py OUTDIR [--n 8] [--batches 20] [--opset 12]

Writes OUTDIR/model.onnx, OUTDIR/inputs.bin (N float32 images, raw), OUTDIR/expected.bin (the
x86 runtime's float32 logits, raw) and OUTDIR/torch.bin (the PyTorch eval forward's logits).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import linger  # noqa: E402
from linger.runtime import InferenceSession  # noqa: E402


def demo_module():
    spec = importlib.util.spec_from_file_location("fashion_mnist_demo", os.path.join(ROOT, "examples", "fashion_mnist_demo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def data(n_train: int, n_test: int):
    try:
        from linger.tools.datasets import load_fashion_mnist
        xtr, ytr = load_fashion_mnist("train", limit=n_train)
        xte, _ = load_fashion_mnist("test", limit=n_test)
        return xtr, ytr, xte, "Fashion-MNIST"
    except Exception as e:  # no dataset package: random images, still exported through the normal API
        g = torch.Generator().manual_seed(0)
        print(f"mcu_model: Fashion-MNIST unavailable ({e}); using random images", flush=True)
        return (torch.rand(n_train, 1, 28, 28, generator=g), torch.randint(0, 10, (n_train,), generator=g),
                torch.rand(n_test, 1, 28, 28, generator=g), "random")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--opset", type=int, default=12)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    bs = 64
    xtr, ytr, xte, source = data(bs * args.batches, args.n)
    model = demo_module().ConvBNCNN()
    linger.trace_layers(model, model, (xtr[:2],))
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for i in range(args.batches):
        loss = torch.nn.functional.cross_entropy(model(xtr[i * bs:(i + 1) * bs]), ytr[i * bs:(i + 1) * bs])
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = os.path.join(args.out, "model.onnx")
    linger.onnx.export(model, (xte[:1],), path, input_names=["image"], output_names=["logits"], opset_version=args.opset)
    model.eval()
    with torch.no_grad():
        ref = torch.cat([torch.as_tensor(model(xte[i:i + 1])).as_subclass(torch.Tensor) for i in range(len(xte))])
    sess = InferenceSession(path)
    xs = xte.numpy().astype(np.float32)
    out = np.concatenate([sess.run(None, {"image": xs[i:i + 1]})[0] for i in range(len(xs))]).astype(np.float32)
    xs.tofile(os.path.join(args.out, "inputs.bin"))
    out.tofile(os.path.join(args.out, "expected.bin"))
    ref.numpy().astype(np.float32).tofile(os.path.join(args.out, "torch.bin"))
    same = int((out == ref.numpy()).all(axis=1).sum())
    print(f"mcu_model: {source} data, {args.batches} QAT batches, opset {args.opset}: {path}; "
          f"x86 runtime vs PyTorch eval bit-exact {same}/{len(xs)}", flush=True)


if __name__ == "__main__":
    main()
