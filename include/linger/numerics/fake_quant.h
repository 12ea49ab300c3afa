// linger integer numerics: float32 fake quantization, the training-time
// formula of the torch extension's kernels. One definition for the CPU loops
// (csrc/torch/training_ops.cpp) and the CUDA kernels
// (csrc/torch/cuda/training_kernels.cu), so both give the same bits.
//
//   code(x)  = floor(clamp(x * 2^Q, lo - 1, hi + 1) + 1/2)      (round half up, exact)
//   value(x) = clamp(code(x), lo, hi) * 2^-Q
//   the straight-through gradient passes where lo <= code(x) <= hi
//
// with lo = -2^(b-1), hi = 2^(b-1) - 1 as float32. x * 2^Q and the final
// * 2^-Q are exact (powers of two; subnormal products round the same way on
// every IEEE device), every other step is an exact float operation, so there
// is nothing for a compiler or a device to round differently. No fused
// multiply-add can form: no product feeds an addition directly.
// For b <= 24 the codes equal quantize() of quantize.h for every finite x; for
// b > 24, lo, hi and the codes near them are the nearest float32 values (the
// 32-bit bias grid of a float model), and the gradient mask cannot see
// saturation. NaN gives code lo - 1 (value lo * 2^-Q, gradient 0); callers
// that must reject NaN check for it separately (the statistics do).
#pragma once

#include <cmath>
#include <cstdint>

#include "linger/numerics/fixedpoint.h"

#if defined(__CUDACC__)
#define LINGER_HOST_DEVICE __host__ __device__
#else
#define LINGER_HOST_DEVICE
#endif

namespace linger {
namespace numerics {

struct FakeQuantParams {
  float scale;      // 2^Q
  float inv_scale;  // 2^-Q
  float lo, hi;     // -2^(b-1), 2^(b-1) - 1 (as float32)
  float lo1, hi1;   // lo - 1, hi + 1: the limits before rounding (keep the int conversion in range)
  bool wide;        // bits == 32: hi + 1 is 2^31 (callers pick the kWide = true instances)
};

// Exponent q in [kMinExponent, kMaxExponent] and bits in [2, 32] (callers check).
inline FakeQuantParams fake_quant_params(int q, int bits) {
  FakeQuantParams p{};
  p.scale = std::ldexp(1.0f, q);  // exact powers of two
  p.inv_scale = std::ldexp(1.0f, -q);
  p.lo = static_cast<float>(lowest(bits));
  p.hi = static_cast<float>(bound(bits));
  p.lo1 = p.lo - 1.0f;
  p.hi1 = p.hi + 1.0f;
  p.wide = bits > 31;
  return p;
}

// min/max with the SSE MINSS/MAXSS semantics (the second operand when either is NaN), branch-free
// so that the CPU loops vectorise.
LINGER_HOST_DEVICE inline float fq_min(float a, float b) { return a < b ? a : b; }
LINGER_HOST_DEVICE inline float fq_max(float a, float b) { return a > b ? a : b; }

// floor(v + 1/2) of a v in [lo - 1, hi + 1], exactly: trunc -> floor -> +1 when the fraction is >= 1/2
// (adding 0.5 in float would round for some v). kWide (bits == 32, where hi + 1 = 2^31 in float) keeps
// the int32 conversion in range: trunc(v) = trunc(c) + (v - c) with c = min(v, 2^23), where v - c is 0 or
// an exact integer (v > 2^23 is an integer, v - c < 2^31 is representable), and so is the sum. Below 32
// bits |v| <= 2^30 + 1 and the plain conversion is exact. Branch-free, so the CPU loops vectorise.
template <bool kWide>
LINGER_HOST_DEVICE inline float round_half_up_f32(float v) {
  float t;
  if constexpr (kWide) {
    const float c = fq_min(v, 8388608.0f);
    t = static_cast<float>(static_cast<int32_t>(c)) + (v - c);
  } else {
    t = static_cast<float>(static_cast<int32_t>(v));
  }
  const float fl = t - (t > v ? 1.0f : 0.0f);
  return fl + ((v - fl) >= 0.5f ? 1.0f : 0.0f);
}

// The code before saturation, in [lo - 1, hi + 1]. kWide must equal p.wide.
template <bool kWide>
LINGER_HOST_DEVICE inline float fake_quant_code(float x, const FakeQuantParams& p) {
  return round_half_up_f32<kWide>(fq_min(fq_max(x * p.scale, p.lo1), p.hi1));
}

template <bool kWide>
LINGER_HOST_DEVICE inline float fake_quant_value(float x, const FakeQuantParams& p) {
  return fq_min(fq_max(fake_quant_code<kWide>(x, p), p.lo), p.hi) * p.inv_scale;
}

// The straight-through gradient: g where the code is not saturated, 0 where it is.
template <bool kWide>
LINGER_HOST_DEVICE inline float fake_quant_grad(float g, float x, const FakeQuantParams& p) {
  const float q = fake_quant_code<kWide>(x, p);
  return (q >= p.lo && q <= p.hi) ? g : 0.0f;
}

}  // namespace numerics
}  // namespace linger
