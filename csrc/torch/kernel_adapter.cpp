// The adapter between the PyTorch eval ops and the runtime's optimised kernels
// (see kernel_adapter.h). Current kernel API: opt::conv2d_int8 / linear_int8
// (raw int8 weights, packed inside each call).
#include "kernel_adapter.h"

#include <cmath>

#include "linger/numerics/fixedpoint.h"
#include "linger/numerics/quantize.h"
#include "opt_kernels.h"

namespace linger {
namespace torch_ext {

namespace opt = runtime::opt;

PackedConv2d::PackedConv2d(const int8_t* w, const ConvGeometry& g)
    : g_(g), w_(w, w + static_cast<int64_t>(g.o) * g.cpg * g.kh * g.kw) {}

numerics::Conv2dShape PackedConv2d::shape(int n, int c, int h, int w) const {
  numerics::Conv2dShape s;
  s.n = n; s.c = c; s.h = h; s.w = w;
  s.o = g_.o; s.kh = g_.kh; s.kw = g_.kw;
  s.stride_h = g_.stride_h; s.stride_w = g_.stride_w;
  s.pad_top = g_.pad_top; s.pad_left = g_.pad_left; s.pad_bottom = g_.pad_bottom; s.pad_right = g_.pad_right;
  s.dil_h = g_.dil_h; s.dil_w = g_.dil_w;
  s.groups = g_.groups;
  return s;
}

void PackedConv2d::run(const int8_t* x, const numerics::Conv2dShape& s, const int32_t* bias, void* y, int shift,
                       int out_bits) const {
  thread_local std::vector<int8_t> workspace;  // reused across calls and layers of this thread
  opt::conv2d_int8(x, w_.data(), bias, y, s, shift, /*relu=*/false, out_bits, opt::best_isa(), &workspace);
}

PackedLinear::PackedLinear(const int8_t* w, int64_t n, int64_t k) : n_(n), k_(k), w_(w, w + n * k) {}

void PackedLinear::run(const int8_t* x, int64_t m, const int32_t* bias, void* y, int shift, int out_bits) const {
  opt::linear_int8(x, w_.data(), bias, y, m, k_, n_, shift, out_bits, opt::best_isa());
}

const char* kernel_isa_name() { return opt::isa_name(opt::best_isa()); }

namespace {

// numerics::quantize(x, q, bits) = sat_b(floor(x * 2^q + 1/2)), in float32 arithmetic that the compiler
// vectorises for the baseline instruction set (bits <= 16, |q| <= 126), and exact:
// - v = x * 2^q is exact in float (a power-of-two scaling); overflow gives +-inf, which saturates as in the
//   reference, and a subnormal v (|v| < 2^-126) is rounded to 0 by both;
// - v is clamped to [lo - 1, hi + 1] (integers, exact in float for bits <= 16), which leaves the saturated
//   result unchanged, and NaN (comparisons false) lands on lo - 1 (NaN is reported separately);
// - floor(v + 1/2) = f + (v - f >= 1/2) with f = floor(v) (truncation corrected below zero); v - f is exact
//   (Sterbenz) except for -1/2 < v < 0, where the rounded difference is still >= 1/2 like the exact one.
template <typename T>
int64_t quantize_loop_f32(const float* __restrict x, int64_t n, int q, int bits, T* __restrict y) {
  const float p = std::ldexp(1.0f, q);
  const int32_t hi = static_cast<int32_t>(numerics::bound(bits));
  const int32_t lo = static_cast<int32_t>(numerics::lowest(bits));
  const float vhi = static_cast<float>(hi) + 1.0f, vlo = static_cast<float>(lo) - 1.0f;
  int nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float xv = x[i];
    nan |= xv != xv;
    float v = xv * p;
    v = v > vlo ? v : vlo;
    v = v < vhi ? v : vhi;
    int32_t r = static_cast<int32_t>(v);
    r -= static_cast<float>(r) > v ? 1 : 0;
    r += v - static_cast<float>(r) >= 0.5f ? 1 : 0;
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    y[i] = static_cast<T>(r);
  }
  return nan ? 0 : -1;
}

// Any width (bits <= 32) and exponent: numerics::quantize itself.
template <typename T>
int64_t quantize_loop_ref(const float* x, int64_t n, int q, int bits, T* y) {
  int nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    nan |= std::isnan(x[i]);
    y[i] = static_cast<T>(numerics::quantize(x[i], q, bits));
  }
  return nan ? 0 : -1;
}

int64_t first_nan(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(x[i])) return i;
  return -1;
}

template <typename T>
void dequantize_loop(const T* x, int64_t n, int q, float* y) {
  const double p = std::ldexp(1.0, -q);  // q * 2^-Q exact in double, then one rounding to float
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<double>(x[i]) * p);
}

}  // namespace

int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y) {
  int64_t nan;
  if (bits <= 16 && q >= -126 && q <= 126)
    nan = bits <= 8 ? quantize_loop_f32(x, n, q, bits, static_cast<int8_t*>(y))
                    : quantize_loop_f32(x, n, q, bits, static_cast<int16_t*>(y));
  else if (bits <= 8)
    nan = quantize_loop_ref(x, n, q, bits, static_cast<int8_t*>(y));
  else if (bits <= 16)
    nan = quantize_loop_ref(x, n, q, bits, static_cast<int16_t*>(y));
  else
    nan = quantize_loop_ref(x, n, q, bits, static_cast<int32_t*>(y));
  return nan < 0 ? -1 : first_nan(x, n);
}

void dequantize_f32(const void* x, int elem_bytes, int64_t n, int q, float* y) {
  if (elem_bytes == 1) dequantize_loop(static_cast<const int8_t*>(x), n, q, y);
  else if (elem_bytes == 2) dequantize_loop(static_cast<const int16_t*>(x), n, q, y);
  else dequantize_loop(static_cast<const int32_t*>(x), n, q, y);
}

}  // namespace torch_ext
}  // namespace linger
