"""CUDA fake-quant throughput on one GPU: linger's kernels vs torch.fake_quantize_per_tensor_affine (same GPU,
same run), and vs linger's own formula written with ATen ops (what CUDA tensors ran before the kernels).

    python bench/bench_fake_quant_cuda.py          (scripts/gpu_check.sh runs it)

float32, 8 bits, exponent 5 (scale 1/32). Times are medians of CUDA-event-timed repetitions after warm-up;
ratios > 1 mean linger is faster. torch's op rounds half to even, linger's half up (docs/numerics.md): the
values differ at ties, the work is the same.
"""
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import linger  # noqa: E402

ops = linger._ext.ops


def gpu_time_ms(fn, reps=50, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def aten_fake_quant(x, q=5, bits=8):
    """The ATen-op form of linger's fake_quant (training_ops.cpp, fake_quant_generic)."""
    scale = 2.0 ** q
    v = x * scale
    fl = torch.floor(v)
    return torch.where((v - fl) >= 0.5, fl + 1, fl).clamp(-(1 << (bits - 1)), (1 << (bits - 1)) - 1) / scale


def main():
    if not torch.cuda.is_available():
        print("bench_fake_quant_cuda: skipped: no GPU (torch.cuda.is_available() is False)")
        return 0
    archs = ops.cuda_archs()
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), {torch.cuda.get_device_name()}, linger CUDA "
          f"kernels: {archs or 'NOT BUILT (ATen-op forms)'}; float32, 8-bit, exponent 5")
    print(f"{'elements':>10} | {'forward: linger':>15} {'torch fq':>9} {'ATen ops':>9} {'vs torch':>9} "
          f"{'vs ATen':>8} {'GB/s':>6} | {'fwd+bwd: linger':>15} {'torch fq':>9} {'vs torch':>9}")
    rows = []
    for n in (1 << 16, 1 << 20, 1 << 24, 1 << 26):
        x = torch.randn(n, device="cuda") * 3
        g = torch.randn(n, device="cuda")
        t_l = gpu_time_ms(lambda: ops.fake_quant(x, 5, 8))
        t_t = gpu_time_ms(lambda: torch.fake_quantize_per_tensor_affine(x, 1.0 / 32, 0, -128, 127))
        t_a = gpu_time_ms(lambda: aten_fake_quant(x))
        xl = x.clone().requires_grad_()
        xt = x.clone().requires_grad_()

        def lin_fb():
            linger.fake_quant(xl, 5, 8).backward(g)

        def torch_fb():
            torch.fake_quantize_per_tensor_affine(xt, 1.0 / 32, 0, -128, 127).backward(g)

        b_l = gpu_time_ms(lin_fb, reps=30)
        b_t = gpu_time_ms(torch_fb, reps=30)
        gbs = 2 * 4 * n / (t_l * 1e-3) / 1e9  # read + write
        rows.append((n, t_t / t_l, b_t / b_l))
        print(f"{n:>10} | {t_l:>12.4f} ms {t_t:>6.4f} ms {t_a:>6.4f} ms {t_t / t_l:>8.2f}x {t_a / t_l:>7.2f}x "
              f"{gbs:>6.0f} | {b_l:>12.4f} ms {b_t:>6.4f} ms {b_t / b_l:>8.2f}x")
    big = [r for r in rows if r[0] >= 1 << 24]
    print(f"ratio torch/linger at >= 16M elements: forward {min(r[1] for r in big):.2f}-{max(r[1] for r in big):.2f}x, "
          f"forward+backward {min(r[2] for r in big):.2f}-{max(r[2] for r in big):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
