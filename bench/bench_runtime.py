"""Latency of the demo CNN (conv-bn x2, maxpool, linear; Fashion-MNIST 28x28), batch 1, one thread:
linger's C++ runtime with the optimised int8 kernels vs the scalar reference kernels vs PyTorch float eval.

    /usr/bin/python3 bench/bench_runtime.py

The model is trained for a few batches on random data (latency does not depend on the weights).
"""
import io
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import linger  # noqa: E402
from fashion_mnist_demo import ConvBNCNN  # noqa: E402
from linger.runtime import InferenceSession  # noqa: E402


def median_ms(fn, reps=300, warmup=30):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    float_model = ConvBNCNN().eval()
    model = ConvBNCNN()
    model.load_state_dict(float_model.state_dict())
    x = torch.randn(1, 1, 28, 28)
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    linger.init(model)
    for _ in range(3):
        model(torch.randn(16, 1, 28, 28))
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    xn = x.numpy()
    sessions = {isa: InferenceSession(buf.getvalue(), isa=isa) for isa in ("scalar", "auto")}
    name = sessions["auto"].get_inputs()[0].name
    outs = [s.run(None, {name: xn})[0] for s in sessions.values()]
    assert np.array_equal(outs[0], outs[1]), "optimised and scalar runtime differ"
    with torch.no_grad():
        t_torch = median_ms(lambda: float_model(x))
    t_opt = median_ms(lambda: sessions["auto"].run(None, {name: xn}))
    t_scalar = median_ms(lambda: sessions["scalar"].run(None, {name: xn}))
    print(f"torch {torch.__version__}, batch 1, 1 thread, demo CNN (Fashion-MNIST 28x28), median of 300 runs")
    print(f"  linger runtime, optimised ({sessions['auto'].isa}): {t_opt:.3f} ms")
    print(f"  linger runtime, scalar ISA (no SIMD):    {t_scalar:.3f} ms   ({t_scalar / t_opt:.1f}x the optimised)")
    print(f"  PyTorch float eval:                      {t_torch:.3f} ms   ({t_torch / t_opt:.1f}x the optimised)")


if __name__ == "__main__":
    main()
