"""The CUDA kernels of the training ops (docs/cuda.md) against the CPU ones: the same bits for fake-quantized
values and their straight-through gradients, the same statistics and exponents; and against the independent
reference int_reference.quantize. Skipped with a reason where no GPU is present; scripts/gpu_check.sh runs them."""
import math
import os

import numpy as np
import pytest
import torch

import linger
from linger._ext import ops

import int_reference as ref

HAS_GPU = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="skipped: no GPU (torch.cuda.is_available() is False)")


def test_cuda_kernels_are_compiled_in_when_expected():
    """scripts/gpu_check.sh sets LINGER_EXPECT_CUDA_KERNELS=1: the extension it built must hold the CUDA kernels
    (a silent fallback to the ATen-op forms would still pass the equality tests, only slower)."""
    if os.environ.get("LINGER_EXPECT_CUDA_KERNELS") != "1":
        pytest.skip("LINGER_EXPECT_CUDA_KERNELS is not set (only scripts/gpu_check.sh builds with LINGER_CUDA=ON)")
    assert torch.version.cuda, f"torch {torch.__version__} has no CUDA"
    assert ops.cuda_archs() != "", "the extension was built without its CUDA kernels"
    for op in ("fake_quant", "fake_quant_backward", "absmax"):
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"linger::{op}", "CUDA"), op


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().contiguous().view(torch.int32)


def _assert_same_bits(cpu: torch.Tensor, gpu: torch.Tensor, what: str) -> None:
    assert gpu.is_cuda and not cpu.is_cuda
    assert cpu.shape == gpu.shape and cpu.dtype == gpu.dtype, what
    diff = (_bits(cpu) != _bits(gpu)).nonzero()
    if len(diff):
        i = tuple(diff[0].tolist())
        raise AssertionError(f"{what}: {len(diff)} elements differ, first at {i}: cpu {cpu[i].item()!r} "
                             f"cuda {gpu.cpu()[i].item()!r}")


def _samples(q: int, n_random: int = 20000, seed: int = 0) -> torch.Tensor:
    """Ties k + 1/2 of the grid at Q and their float neighbours, grid points, special values, and random
    values over many magnitudes around the grid."""
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(-300, 301, dtype=torch.float64)
    ties = ((k + 0.5) * 2.0 ** -q).float()
    special = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 3.4e38, -3.4e38, 1e-45, -1e-45, 3e9, -3e9,
                            2147483520.0, 8388608.0, 8388609.0, 16777217.0], dtype=torch.float32)
    rnd = (torch.rand(n_random, generator=g) * 2 - 1) * torch.pow(2.0, torch.randint(-40, 41, (n_random,),
                                                                                       generator=g).float() - q)
    return torch.cat([ties, torch.nextafter(ties, torch.full_like(ties, math.inf)),
                      torch.nextafter(ties, torch.full_like(ties, -math.inf)), (k * 2.0 ** -q).float(), special,
                      rnd.float()])


@needs_gpu
@pytest.mark.parametrize("bits", [2, 4, 8, 16, 24, 25, 31, 32])
def test_fake_quant_values_and_gradients_are_the_cpu_bits(bits):
    for q in (-32, -7, 0, 3, 7, 15, 40):
        x = _samples(q, seed=bits * 100 + q + 32)
        xg = x.cuda()
        _assert_same_bits(ops.fake_quant(x, q, bits), ops.fake_quant(xg, q, bits), f"fake_quant bits={bits} Q={q}")
        g = torch.randn(x.shape, generator=torch.Generator().manual_seed(q + 99))
        _assert_same_bits(ops.fake_quant_backward(g, x, q, bits), ops.fake_quant_backward(g.cuda(), xg, q, bits),
                          f"fake_quant_backward bits={bits} Q={q}")


@needs_gpu
def test_fake_quant_matches_the_independent_reference():
    for q in (-3, 0, 5, 12):
        x = _samples(q, n_random=4000)
        x = x[torch.isfinite(x) & (x.abs() < 1e6)]
        codes = (ops.fake_quant(x.cuda(), q, 8).cpu().double() * 2.0 ** q).round().long().numpy()
        want = np.array(ref.quantize(x.numpy(), q, 8), dtype=np.int64)
        assert np.array_equal(codes, want), f"Q={q}: {int((codes != want).sum())} codes differ from the reference"


@needs_gpu
@pytest.mark.parametrize("n", [1, 3, 4, 5, 255, 1024 + 3, (1 << 22) + 7])
def test_every_size_alignment_and_layout(n):
    """The float4 path and the element tail, misaligned views (scalar path), non-contiguous input."""
    g = torch.Generator().manual_seed(n)
    base = torch.randn(n + 1, generator=g) * 3
    grad = torch.randn(n + 1, generator=g)
    for x, gr in ((base[:n], grad[:n]), (base[1:], grad[1:])):  # aligned, then offset by one float
        xg, grg = x.cuda(), gr.cuda()
        _assert_same_bits(ops.fake_quant(x, 5, 8), ops.fake_quant(xg, 5, 8), f"n={n}")
        _assert_same_bits(ops.fake_quant_backward(gr, x, 5, 8), ops.fake_quant_backward(grg, xg, 5, 8), f"n={n}")
        for positive_only in (False, True):
            assert ops.absmax(xg, positive_only) == ops.absmax(x, positive_only)
    m = torch.randn(64, 48, generator=g) * 2
    _assert_same_bits(ops.fake_quant(m.t(), 4, 8), ops.fake_quant(m.cuda().t(), 4, 8), "transposed")


@needs_gpu
def test_autograd_gives_the_cpu_gradient():
    x = (torch.randn(4096) * 8).requires_grad_()
    xg = x.detach().cuda().requires_grad_()
    w = torch.randn(4096)
    (linger.fake_quant(x, 3, 8) * w).sum().backward()
    (linger.fake_quant(xg, 3, 8) * w.cuda()).sum().backward()
    _assert_same_bits(x.grad, xg.grad, "x.grad")
    assert int((x.grad == 0).sum()) > 0, "the sample should reach saturation (zero gradient) somewhere"


@needs_gpu
def test_statistics_and_exponents_follow_the_cpu():
    from linger.quant import observe
    g = torch.Generator().manual_seed(5)
    run_c, run_g = torch.zeros(1), torch.zeros(1, device="cuda")
    for step in range(12):
        x = torch.randn(3, 257, generator=g) * (0.5 + step)
        x[0, step] = -40.0 * (step + 1) if step % 3 == 0 else x[0, step]
        for positive_only in (False, True):
            assert ops.absmax(x.cuda(), positive_only) == ops.absmax(x, positive_only)
        qc = observe(x, run_c, 8, positive_only=step % 2 == 1)
        qg = observe(x.cuda(), run_g, 8, positive_only=step % 2 == 1)
        assert qc == qg, f"step {step}"
        assert _bits(run_c).item() == _bits(run_g).item(), f"step {step}: {run_c.item()} vs {run_g.item()}"
        assert int(ops.weight_exponent(x.cuda(), 8)) == int(ops.weight_exponent(x, 8))
    assert ops.absmax(torch.empty(0, device="cuda"), False) == 0.0
    assert ops.absmax(torch.full((10,), -3.0, device="cuda"), True) == 0.0
    assert ops.absmax(torch.tensor([1.0, -math.inf], device="cuda"), False) == math.inf


@needs_gpu
def test_nan_in_the_statistics_is_an_error():
    x = torch.randn(1000, device="cuda")
    x[777] = math.nan
    for positive_only in (False, True):
        with pytest.raises(RuntimeError, match="NaN"):
            ops.absmax(x, positive_only)


@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_dtypes_take_the_aten_forms_on_both_devices(dtype):
    x = (torch.randn(5000) * 6).to(dtype)
    g = torch.randn(5000).to(dtype)
    try:
        cpu = ops.fake_quant(x, 4, 8)
    except RuntimeError as e:  # torch 1.13 has no CPU floor for float16
        pytest.skip(f"this torch's CPU cannot run the {dtype} form: {e}")
    assert torch.equal(cpu, ops.fake_quant(x.cuda(), 4, 8).cpu())
    assert torch.equal(ops.fake_quant_backward(g, x, 4, 8), ops.fake_quant_backward(g.cuda(), x.cuda(), 4, 8).cpu())
    assert ops.absmax(x.cuda(), False) == ops.absmax(x, False)


@needs_gpu
def test_bad_arguments_are_errors_on_cuda_too():
    x = torch.randn(10, device="cuda")
    with pytest.raises(RuntimeError, match="bit width"):
        ops.fake_quant(x, 0, 33)
    with pytest.raises(RuntimeError, match="exponent"):
        ops.fake_quant(x, 41, 8)


@pytest.mark.skipif(not HAS_GPU or torch.cuda.device_count() < 2, reason="skipped: needs two GPUs")
def test_second_gpu():
    x = torch.randn(100003) * 4
    with torch.cuda.device(0):
        xg = x.to("cuda:1")
        y = ops.fake_quant(xg, 5, 8)
        assert y.device == xg.device
        _assert_same_bits(ops.fake_quant(x, 5, 8), y, "cuda:1")
        assert ops.absmax(xg, False) == ops.absmax(x, False)
