// Exact reference arithmetic for the numerics tests, written from the contract
// (numerics.md) with __int128, independent of the headers under test.
#pragma once

#include <cstdint>
#include <limits>

namespace linger_test {

using i128 = __int128;
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

inline i128 pow2(int e) { return static_cast<i128>(1) << e; }

inline i128 floor_div(i128 a, i128 b) {  // b > 0
  i128 q = a / b;
  while (q * b > a) --q;
  while ((q + 1) * b <= a) ++q;
  return q;
}

inline i128 clamp_bits(i128 v, int bits) {
  const i128 hi = pow2(bits - 1) - 1, lo = -pow2(bits - 1);
  return v > hi ? hi : (v < lo ? lo : v);
}

// floor(v / 2^s + 1/2) for s > 0, v * 2^-s for s <= 0 (exact; |v| < 2^64, -60 <= s <= 120).
inline i128 ref_rhu(i128 v, int s) {
  if (s > 0) return floor_div(2 * v + pow2(s), pow2(s + 1));
  return v * pow2(-s);
}

// v mod 2^32 in [-2^31, 2^31).
inline i128 ref_wrap32(i128 v) {
  i128 r = v % pow2(32);
  if (r < 0) r += pow2(32);
  return r >= pow2(31) ? r - pow2(32) : r;
}

}  // namespace linger_test
