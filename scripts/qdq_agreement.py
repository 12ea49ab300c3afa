"""ONNX Runtime on linger's QDQ export vs linger's runtime on the thinker export (docs/qdq.md): per model, the
share of output codes that are equal and the largest difference.

    /usr/bin/python3 scripts/qdq_agreement.py [--images 1000] [--batches 100] [--models demo,resnet18,mobilenet_v2]

Models: the Fashion-MNIST demo's conv-bn CNN (examples/fashion_mnist_demo.py: trace_layers, init, `--batches` QAT
batches of 64 Fashion-MNIST images, evaluated on `--images` test images); torchvision resnet18 and mobilenet_v2
(num_classes=10, linger.init, 3 QAT batches of 4 random 64x64 images, then 20 training-mode forwards of 8 for the
statistics; evaluated on min(`--images`, 64) random images). tests/python/test_qdq.py runs the same code with fewer
images.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
from typing import Callable, Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import linger  # noqa: E402
from linger.tools.qdq_agreement import Agreement, agreement  # noqa: E402


def demo_module():
    spec = importlib.util.spec_from_file_location("fashion_mnist_demo",
                                                  os.path.join(ROOT, "examples", "fashion_mnist_demo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def exports(model: torch.nn.Module, x: torch.Tensor) -> Tuple[bytes, bytes]:
    """(thinker file, QDQ file) of `model` for the batch `x` (static shapes: the same on torch 1.13 and 2.x)."""
    kw = dict(input_names=["x"], output_names=["y"])
    t, q = io.BytesIO(), io.BytesIO()
    linger.onnx.export(model, (x,), t, opset_version=13, **kw)
    linger.onnx.export(model, (x,), q, dialect="qdq", **kw)
    return t.getvalue(), q.getvalue()


def demo(images: int, batches: int) -> Tuple[bytes, bytes, np.ndarray, str]:
    from linger.tools.datasets import load_fashion_mnist
    torch.manual_seed(0)
    xtr, ytr = load_fashion_mnist("train", limit=64 * batches)
    xte, _ = load_fashion_mnist("test", limit=images)
    model = demo_module().ConvBNCNN()
    linger.trace_layers(model, model, (xtr[:2],))
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for i in range(batches):
        loss = F.cross_entropy(model(xtr[i * 64:(i + 1) * 64]), ytr[i * 64:(i + 1) * 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    t, q = exports(model, xte)
    return t, q, xte.numpy(), f"demo CNN (Fashion-MNIST, {batches} QAT batches), {images} test images"


def torchvision_model(name: str, images: int) -> Tuple[bytes, bytes, np.ndarray, str]:
    import torchvision
    torch.manual_seed(0)
    model = linger.init(getattr(torchvision.models, name)(num_classes=10))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    shape = (4, 3, 64, 64)
    for _ in range(3):
        out = model(torch.randn(shape))
        loss = F.cross_entropy(out.as_subclass(torch.Tensor), torch.randint(0, 10, (shape[0],)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # calibration: the BN running statistics and linger's statistics settle (else the
        for _ in range(CALIBRATION):  # eval activations of a random network fade and every output is the same)
            model(torch.randn(8, 3, 64, 64))
    model.eval()
    x = torch.randn(min(images, 64), 3, 64, 64)
    t, q = exports(model, x)
    what = f"{name} (random init, 3 QAT + {CALIBRATION} calibration batches), {len(x)} random 64x64 images"
    return t, q, x.numpy(), what


CALIBRATION = 20

BUILDERS: Dict[str, Callable[[int, int], Tuple[bytes, bytes, np.ndarray, str]]] = {
    "demo": demo,
    "resnet18": lambda images, batches: torchvision_model("resnet18", images),
    "mobilenet_v2": lambda images, batches: torchvision_model("mobilenet_v2", images),
}


def measure(name: str, images: int, batches: int) -> Tuple[Agreement, Agreement, str]:
    """(ORT with its default optimisations, ORT with none) against linger's runtime."""
    t, q, x, what = BUILDERS[name](images, batches)
    return agreement(t, q, {"x": x}, optimize=True), agreement(t, q, {"x": x}, optimize=False), what


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--models", default="demo,resnet18,mobilenet_v2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{'model':<70} {'ORT (all optimisations)':<44} ORT (no optimisation)")
    for name in args.models.split(","):
        fused, plain, what = measure(name, args.images, args.batches)
        print(f"{what:<70} {str(fused):<44} {plain}", flush=True)


if __name__ == "__main__":
    main()
