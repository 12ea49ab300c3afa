"""The runtime's load-time optimisations on real models (docs/runtime.md, "Activation fusion" and "Memory"):
activation fusion and the memory arena (with reshape-like ops as views) give byte-identical outputs to the
plain plan on every kernel ISA of this CPU, on the demo CNN and on torchvision resnet18 / mobilenet_v2
(unmodified, random weights, quantized with linger and exported with linger.onnx.export)."""
import io
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import linger
import linger.runtime as rt
from linger.tools import recalibrate_batch_norms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))

torchvision = pytest.importorskip("torchvision")


def isas():
    return [i for i in ("scalar", "avx2", "avx512vnni") if rt.isa_supported(i)]


def calibrate_batch_norms(model: nn.Module, shape, batch: int = 8) -> None:
    """Running statistics from two random batches, so that a deep random network does not collapse to zero."""
    recalibrate_batch_norms(model, [torch.randn(batch, *shape[1:]) for _ in range(2)])
    model.eval()


def quantized_onnx(model: nn.Module, shape) -> bytes:
    calibrate_batch_norms(model, shape)
    x = torch.randn(*shape)
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    linger.init(model)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, *shape[1:]))
    model.eval()
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    return buf.getvalue()


def run_every_way(model_bytes: bytes, x: np.ndarray):
    """Outputs of the plain plan (scalar kernels), then checks every ISA x fusion x reuse against them."""
    def run(isa, fuse, reuse):
        s = rt.InferenceSession(model_bytes, isa, fuse_activations=fuse, reuse_memory=reuse)
        return s, s.run(None, {s.get_inputs()[0].name: x})
    _, plain = run("scalar", False, False)
    infos = {}
    for isa in isas():
        for fuse in (False, True):
            for reuse in (False, True):
                s, got = run(isa, fuse, reuse)
                assert len(got) == len(plain)
                for a, b in zip(got, plain):
                    assert a.dtype == b.dtype and a.shape == b.shape
                    assert a.tobytes() == b.tobytes(), (isa, fuse, reuse)
                infos[(fuse, reuse)] = s.get_memory_info()
    return plain, infos


def test_demo_cnn():
    from fashion_mnist_demo import ConvBNCNN
    data = quantized_onnx(ConvBNCNN(), (1, 1, 28, 28))
    _, infos = run_every_way(data, np.random.RandomState(0).randn(1, 1, 28, 28).astype(np.float32))
    assert infos[(True, True)]["fused_nodes"] == 2  # conv-bn + ReLU, twice
    assert infos[(False, False)]["fused_nodes"] == 0


def test_resnet18():
    data = quantized_onnx(torchvision.models.resnet18(num_classes=10), (1, 3, 32, 32))
    _, infos = run_every_way(data, np.random.RandomState(1).randn(1, 3, 32, 32).astype(np.float32))
    # Every ReLU fuses: 9 after a conv (stem + one per basic block), 8 after the residual iqAdd.
    assert infos[(True, True)]["fused_nodes"] == 17
    plain, arena = infos[(False, False)], infos[(True, True)]
    assert plain["arena_bytes"] == 0 and arena["arena_bytes"] > 0
    assert arena["tensors_bytes"] < plain["tensors_bytes"]
    assert arena["peak_bytes"] == arena["tensors_bytes"] + arena["workspace_bytes"]


def test_mobilenet_v2():
    data = quantized_onnx(torchvision.models.mobilenet_v2(num_classes=10), (1, 3, 32, 32))
    _, infos = run_every_way(data, np.random.RandomState(2).randn(1, 3, 32, 32).astype(np.float32))
    assert infos[(True, True)]["fused_nodes"] > 0
    assert infos[(True, True)]["tensors_bytes"] < infos[(False, False)]["tensors_bytes"]


def test_memory_limit_error_names_node_with_the_arena():
    from fashion_mnist_demo import ConvBNCNN
    data = quantized_onnx(ConvBNCNN(), (1, 1, 28, 28))
    info = rt.InferenceSession(data).get_memory_info()
    total = info["weights_bytes"] + info["peak_bytes"]
    rt.InferenceSession(data, max_memory_bytes=total)
    with pytest.raises(rt.InvalidModel, match=r"rule 'memory-limit'.*max_memory_bytes"):
        rt.InferenceSession(data, max_memory_bytes=total - 1)


def test_option_types():
    with pytest.raises(TypeError, match="fuse_activations"):
        rt.InferenceSession(b"x", fuse_activations=1)
