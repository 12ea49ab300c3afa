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

// numerics::quantize in a form the compiler vectorises: x * 2^q is exact in
// double (|q| <= 64 for every float32 x, as ldexp), the clamp to [lo, hi] before
// the floor does not change sat_b(floor(v)) because lo and hi are integers, and
// floor is truncation corrected by one below zero (every clamped value fits
// int32 for bits <= 32). NaN compares false and lands on lo; it is reported.
template <typename T>
int64_t quantize_loop(const float* x, int64_t n, int q, int bits, T* y) {
  const double p = std::ldexp(1.0, q);
  const double hi = static_cast<double>(numerics::bound(bits));
  const double lo = static_cast<double>(numerics::lowest(bits));
  int nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float xv = x[i];
    nan |= xv != xv;
    double t = static_cast<double>(xv) * p + 0.5;
    t = t > lo ? t : lo;
    t = t < hi ? t : hi;
    int32_t r = static_cast<int32_t>(t);
    r -= static_cast<double>(r) > t ? 1 : 0;
    y[i] = static_cast<T>(r);
  }
  if (!nan) return -1;
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
  if (bits <= 8) return quantize_loop(x, n, q, bits, static_cast<int8_t*>(y));
  if (bits <= 16) return quantize_loop(x, n, q, bits, static_cast<int16_t*>(y));
  return quantize_loop(x, n, q, bits, static_cast<int32_t*>(y));
}

void dequantize_f32(const void* x, int elem_bytes, int64_t n, int q, float* y) {
  if (elem_bytes == 1) dequantize_loop(static_cast<const int8_t*>(x), n, q, y);
  else if (elem_bytes == 2) dequantize_loop(static_cast<const int16_t*>(x), n, q, y);
  else dequantize_loop(static_cast<const int32_t*>(x), n, q, y);
}

}  // namespace torch_ext
}  // namespace linger
