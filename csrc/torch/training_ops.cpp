// linger PyTorch extension, training side: fake quantization with a
// straight-through gradient and activation statistics.
//
// The CPU float32 kernels are hand-written loops over the formulas of
// include/linger/numerics/fake_quant.h that the compiler vectorises (SSE2
// baseline, AVX2 clone chosen at load time); the CUDA kernels
// (cuda/training_kernels.cu, built with LINGER_CUDA) apply the same formulas;
// every other device/dtype uses the same formula written with ATen ops.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "linger/numerics/fake_quant.h"
#include "linger/numerics/quantize.h"
#include "training_common.h"

#ifndef LINGER_CUDA_ARCHS
#define LINGER_CUDA_ARCHS ""
#endif

namespace linger_torch {

using linger::numerics::bound;
using linger::numerics::lowest;

void check_bits(int64_t bits) {
  TORCH_CHECK(bits >= 2 && bits <= 32, "linger: bit width must be in [2, 32], got ", bits);
}

void check_exponent(int64_t q) {
  TORCH_CHECK(q >= linger::numerics::kMinExponent && q <= linger::numerics::kMaxExponent,
              "linger: exponent ", q, " outside [", linger::numerics::kMinExponent, ", ",
              linger::numerics::kMaxExponent, "]");
}

// Same formulas for every other dtype and backend, with ATen ops.
at::Tensor fake_quant_generic(const at::Tensor& x, int64_t exponent, int64_t bits) {
  check_bits(bits);
  check_exponent(exponent);
  const double scale = std::ldexp(1.0, static_cast<int>(exponent));
  auto v = x * scale;
  auto fl = at::floor(v);
  auto q = at::where((v - fl) >= 0.5, fl + 1, fl).clamp(static_cast<double>(lowest(bits)), static_cast<double>(bound(bits)));
  return q / scale;
}

at::Tensor fake_quant_backward_generic(const at::Tensor& grad, const at::Tensor& x, int64_t exponent, int64_t bits) {
  check_bits(bits);
  check_exponent(exponent);
  const double scale = std::ldexp(1.0, static_cast<int>(exponent));
  auto v = x * scale;
  auto fl = at::floor(v);
  auto q = at::where((v - fl) >= 0.5, fl + 1, fl);
  auto keep = (q >= static_cast<double>(lowest(bits))) & (q <= static_cast<double>(bound(bits)));
  return grad * keep.to(grad.scalar_type());
}

double absmax_generic(const at::Tensor& x, bool positive_only) {
  if (x.numel() == 0) return 0.0;
  auto d = x.detach();
  auto m = positive_only ? at::clamp_min(d.max(), 0.0) : d.abs().max();
  const double v = m.item<double>();
  TORCH_CHECK(!std::isnan(v), kNanMessage);
  return v;
}

}  // namespace linger_torch

namespace {

using linger::numerics::FakeQuantParams;
using linger_torch::check_bits;
using linger_torch::check_exponent;

constexpr int64_t kGrain = 32768;

// The float32 loops apply include/linger/numerics/fake_quant.h element by element.
// This file is compiled with -fno-trapping-math so these loops vectorise.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LINGER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LINGER_CLONES
#endif

using linger::numerics::fq_max;

LINGER_CLONES
void fake_quant_kernel(const float* __restrict x, float* __restrict y, int64_t n, const FakeQuantParams p) {
  using linger::numerics::fake_quant_value;
  if (p.wide)
    for (int64_t i = 0; i < n; ++i) y[i] = fake_quant_value<true>(x[i], p);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = fake_quant_value<false>(x[i], p);
}

LINGER_CLONES
void fake_quant_backward_kernel(const float* __restrict g, const float* __restrict x, float* __restrict out, int64_t n,
                                const FakeQuantParams p) {
  using linger::numerics::fake_quant_grad;
  if (p.wide)
    for (int64_t i = 0; i < n; ++i) out[i] = fake_quant_grad<true>(g[i], x[i], p);
  else
    for (int64_t i = 0; i < n; ++i) out[i] = fake_quant_grad<false>(g[i], x[i], p);
}

// max |x| (or max x, floored at 0) with 16 independent lanes so the
// reduction vectorises; a NaN anywhere sets *has_nan.
LINGER_CLONES
float absmax_kernel(const float* __restrict x, int64_t n, bool positive_only, bool* has_nan) {
  constexpr int kLanes = 16;
  float m[kLanes] = {0};
  int nan[kLanes] = {0};
  int64_t i = 0;
  if (positive_only) {
    for (; i + kLanes <= n; i += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float v = x[i + l];
        nan[l] |= (v != v);
        m[l] = fq_max(v, m[l]);
      }
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float v = std::fabs(x[i + l]);
        nan[l] |= (v != v);
        m[l] = fq_max(v, m[l]);
      }
  }
  float r = 0.0f;
  int any_nan = 0;
  for (; i < n; ++i) {
    const float v = positive_only ? x[i] : std::fabs(x[i]);
    any_nan |= (v != v);
    r = fq_max(v, r);
  }
  for (int l = 0; l < kLanes; ++l) {
    r = fq_max(m[l], r);
    any_nan |= nan[l];
  }
  *has_nan = any_nan != 0;
  return r;
}

at::Tensor fake_quant_cpu(const at::Tensor& x, int64_t exponent, int64_t bits) {
  check_bits(bits);
  check_exponent(exponent);
  if (x.scalar_type() != at::kFloat) return linger_torch::fake_quant_generic(x, exponent, bits);
  auto xc = x.contiguous();
  auto y = at::empty_like(xc);
  const FakeQuantParams p = linger::numerics::fake_quant_params(static_cast<int>(exponent), static_cast<int>(bits));
  const float* xp = xc.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, xc.numel(), kGrain, [&](int64_t b, int64_t e) {
    fake_quant_kernel(xp + b, yp + b, e - b, p);
  });
  return y;
}

at::Tensor fake_quant_backward_cpu(const at::Tensor& grad, const at::Tensor& x, int64_t exponent, int64_t bits) {
  check_bits(bits);
  check_exponent(exponent);
  if (x.scalar_type() != at::kFloat || grad.scalar_type() != at::kFloat)
    return linger_torch::fake_quant_backward_generic(grad, x, exponent, bits);
  auto xc = x.contiguous();
  auto gc = grad.expand_as(xc).contiguous();
  auto out = at::empty_like(xc);
  const FakeQuantParams p = linger::numerics::fake_quant_params(static_cast<int>(exponent), static_cast<int>(bits));
  const float* xp = xc.data_ptr<float>();
  const float* gp = gc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, xc.numel(), kGrain, [&](int64_t b, int64_t e) {
    fake_quant_backward_kernel(gp + b, xp + b, op + b, e - b, p);
  });
  return out;
}

// max |x| (or max(x, 0) when positive_only), as a double. Errors on NaN.
double absmax_cpu(const at::Tensor& x, bool positive_only) {
  if (x.numel() == 0) return 0.0;
  if (x.scalar_type() == at::kFloat) {
    auto xc = x.contiguous();
    const float* xp = xc.data_ptr<float>();
    const int64_t n = xc.numel();
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), (n + kGrain - 1) / kGrain));
    std::vector<float> part(chunks, 0.0f);
    std::vector<char> nan(chunks, 0);
    const int64_t per = (n + chunks - 1) / chunks;
    at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        const int64_t s = c * per, t = std::min(n, s + per);
        bool hn = false;
        part[c] = s < t ? absmax_kernel(xp + s, t - s, positive_only, &hn) : 0.0f;
        nan[c] = hn;
      }
    });
    float m = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      TORCH_CHECK(!nan[c], linger_torch::kNanMessage);
      m = std::max(m, part[c]);
    }
    return m;
  }
  return linger_torch::absmax_generic(x, positive_only);
}

// The statistics call linger::absmax through the dispatcher: the kernel of the
// tensor's device (CPU above, CUDA in cuda/, ATen ops elsewhere).
double absmax(const at::Tensor& x, bool positive_only) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("linger::absmax", "")
                       .typed<double(const at::Tensor&, bool)>();
  return op.call(x, positive_only);
}

// The GPU architectures the CUDA kernels were compiled for ("" when built without them).
std::string cuda_archs() { return LINGER_CUDA_ARCHS; }

// Observe a batch: update the [1]-shaped float32 statistic `running` in place
// with the max |x| of this batch (EMA, momentum, start-up correction) and return
// the exponent chosen from the updated statistic.
int64_t observe(const at::Tensor& x, at::Tensor running, double momentum, int64_t bits, bool positive_only) {
  check_bits(bits);
  TORCH_CHECK(running.numel() == 1 && running.scalar_type() == at::kFloat,
              "linger: running statistic must be a float32 tensor of one element");
  const double m = absmax(x, positive_only);
  const float old = running.item<float>();
  const float upd = linger::numerics::ema_update(old, static_cast<float>(m), static_cast<float>(momentum));
  {
    at::NoGradGuard guard;
    running.fill_(upd);
  }
  return linger::numerics::choose_exponent(upd, static_cast<int>(bits));
}

int64_t exponent_for_range(double r, int64_t bits) {
  check_bits(bits);
  return linger::numerics::choose_exponent(r, static_cast<int>(bits));
}

int64_t weight_exponent(const at::Tensor& w, int64_t bits) {
  check_bits(bits);
  return linger::numerics::choose_exponent(absmax(w, false), static_cast<int>(bits));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(linger, m) {
  m.def("fake_quant(Tensor x, int exponent, int bits) -> Tensor");
  m.def("fake_quant_backward(Tensor grad, Tensor x, int exponent, int bits) -> Tensor");
  m.def("observe(Tensor x, Tensor(a!) running, float momentum, int bits, bool positive_only) -> int", observe);
  m.def("exponent_for_range(float r, int bits) -> int", exponent_for_range);
  m.def("weight_exponent(Tensor w, int bits) -> int", weight_exponent);
  m.def("absmax(Tensor x, bool positive_only) -> float");
  m.def("cuda_archs() -> str", cuda_archs);
}

TORCH_LIBRARY_IMPL(linger, CPU, m) {
  m.impl("fake_quant", fake_quant_cpu);
  m.impl("fake_quant_backward", fake_quant_backward_cpu);
  m.impl("absmax", absmax_cpu);
}

TORCH_LIBRARY_IMPL(linger, CompositeExplicitAutograd, m) {
  m.impl("fake_quant", linger_torch::fake_quant_generic);
  m.impl("fake_quant_backward", linger_torch::fake_quant_backward_generic);
  m.impl("absmax", linger_torch::absmax_generic);
}
