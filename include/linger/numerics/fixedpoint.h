// linger integer numerics: fixed-point primitives.
//
// Every formula in this library is the single definition used by the PyTorch
// eval forward, by the C++ runtime kernels and by the tests. Header-only,
// C++17, no dependencies, no heap, no exceptions.
//
// Contract: shared/design/numerics.md §2 (rhu_shift, saturation).
#pragma once

#include <cstdint>
#include <limits>

namespace linger {
namespace numerics {

static_assert((-1 >> 1) == -1, "linger needs arithmetic right shift of signed integers");
static_assert((int64_t{-3} >> 1) == -2, "linger needs arithmetic right shift of signed integers");

// bound(b) = 2^(b-1) - 1. Valid for 1 <= b <= 64.
constexpr int64_t bound(int bits) {
  return bits >= 64 ? std::numeric_limits<int64_t>::max()
                    : static_cast<int64_t>((uint64_t{1} << (bits - 1)) - 1);
}

// Lowest value of a signed b-bit integer: -2^(b-1). Valid for 1 <= b <= 64.
constexpr int64_t lowest(int bits) {
  return bits >= 64 ? std::numeric_limits<int64_t>::min() : -bound(bits) - 1;
}

// sat_b(v) = clamp(v, -2^(b-1), 2^(b-1) - 1). Exact for every int64 v, 1 <= b <= 64.
constexpr int64_t sat(int64_t v, int bits) {
  const int64_t hi = bound(bits);
  const int64_t lo = lowest(bits);
  return v < lo ? lo : (v > hi ? hi : v);
}

constexpr int8_t sat8(int64_t v) { return static_cast<int8_t>(sat(v, 8)); }
constexpr int16_t sat16(int64_t v) { return static_cast<int16_t>(sat(v, 16)); }
constexpr int32_t sat32(int64_t v) { return static_cast<int32_t>(sat(v, 32)); }

// Saturating multiplication by 2^n (n >= 0) in int64: v * 2^n clamped to the
// int64 range. Exact whenever the true product fits.
constexpr int64_t shl_sat64(int64_t v, int n) {
  if (v == 0 || n <= 0) return v;
  if (n >= 63) return v > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  const int64_t limit = std::numeric_limits<int64_t>::max() >> n;  // largest |v| that fits
  if (v > limit) return std::numeric_limits<int64_t>::max();
  if (v < -limit - 1) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(static_cast<uint64_t>(v) << n);
}

// rhu_shift(v, s): "round half up" division by a power of two.
//   s > 0 : floor(v / 2^s + 1/2)  (ties go towards +inf: 2.5 -> 3, -2.5 -> -2)
//           computed as t = v >> (s-1); (t >> 1) + (t & 1), which never overflows;
//           s >= 64 gives 0 for every int64 v (|v / 2^s| <= 1/2, and -1/2 rounds up to 0).
//   s == 0: v
//   s < 0 : v * 2^-s exactly, saturated to the int64 range (callers saturate further).
constexpr int64_t rhu_shift(int64_t v, int s) {
  if (s == 0) return v;
  if (s < 0) return shl_sat64(v, -s);
  if (s >= 64) return 0;
  const int64_t t = v >> (s - 1);
  return (t >> 1) + (t & 1);
}

// floor(num / den + 1/2) for den > 0, exact for every int64 num and den > 0 (no
// intermediate can overflow: num = q*den + r with 0 <= r < den, then round r/den).
constexpr int64_t rhu_div(int64_t num, int64_t den) {
  int64_t q = num / den;  // truncates towards zero
  int64_t r = num % den;  // same sign as num, |r| < den
  if (r < 0) {            // floor: now num = q*den + r, 0 <= r < den (|q| <= 2^62 here)
    --q;
    r += den;
  }
  return r >= den - r ? q + 1 : q;  // r/den >= 1/2 rounds up (q + 1 cannot overflow: r > 0 needs den >= 2)
}

// Two's-complement wrapping int32 addition (what the NPU's conv accumulator does).
constexpr int32_t wrap_add32(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// Two's-complement wrapping of an int64 value to int32 (v mod 2^32).
constexpr int32_t wrap32(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

}  // namespace numerics
}  // namespace linger
