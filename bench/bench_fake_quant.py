"""Fake-quant kernel throughput, one thread: linger vs torch.fake_quantize_per_tensor_affine vs a plain copy.

    /usr/bin/python3 bench/bench_fake_quant.py

Prints median times and the ratios measured in this same run.
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import linger  # noqa: E402

ops = linger._ext.ops


def median_time(fn, reps=30, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, float32, 8-bit, exponent 5")
    print(f"{'elements':>10} {'linger ms':>10} {'torch fq ms':>12} {'copy ms':>9} {'vs torch':>9} {'%copy bw':>9}")
    for n in (1 << 16, 1 << 18, 1 << 20, 1 << 22):
        x = torch.randn(n)
        out = torch.empty_like(x)
        t_l = median_time(lambda: ops.fake_quant(x, 5, 8))
        t_t = median_time(lambda: torch.fake_quantize_per_tensor_affine(x, 1 / 32, 0, -128, 127))
        t_c = median_time(lambda: x.clone())
        _ = out
        print(f"{n:>10} {t_l * 1e3:>10.3f} {t_t * 1e3:>12.3f} {t_c * 1e3:>9.3f} {t_t / t_l:>8.1f}x {100 * t_c / t_l:>8.0f}%")


if __name__ == "__main__":
    main()
