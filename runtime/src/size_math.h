// Overflow-checked size arithmetic for every allocation the runtime plans.
//
// Sizes are non-negative int64 byte or element counts. sat_mul / sat_add
// saturate at kSizeSaturated (2^62, far above any allowed bound) instead of
// overflowing, so a chain of them followed by one comparison with a limit is
// exact below the limit and safe above it.
//
// extent_bytes(): the size rule of the tensor limits. A dimension of 0 counts
// as 1 (and an unknown dimension, -1, as 1): [0, 2^40, 2^40] has no element but
// its strides would still overflow, so its "extent" is 2^80 and it is refused.
// Any product of a subset of a shape's dimensions (a stride, an outer or inner
// count) is then at most the extent, which is at most the tensor limit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace linger {
namespace runtime {

constexpr int64_t kSizeSaturated = int64_t{1} << 62;

inline int64_t sat_mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kSizeSaturated) return kSizeSaturated;
  return r;
}

inline int64_t sat_add(int64_t a, int64_t b) {
  if (a < 0) a = 0;
  if (b < 0) b = 0;
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r) || r > kSizeSaturated) return kSizeSaturated;
  return r;
}

// elem_size * prod(max(d, 1)), saturating.
inline int64_t extent_bytes(const std::vector<int64_t>& dims, int64_t elem_size) {
  int64_t n = elem_size;
  for (int64_t d : dims) n = sat_mul(n, d > 1 ? d : 1);
  return n;
}

// Decimal text of a * b for any non-negative a, b (exact, 128-bit), for messages.
inline std::string product_str(uint64_t a, uint64_t b) {
  unsigned __int128 v = static_cast<unsigned __int128>(a) * b;
  if (v == 0) return "0";
  std::string s;
  while (v) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

}  // namespace runtime
}  // namespace linger
