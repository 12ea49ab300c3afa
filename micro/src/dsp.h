// The Cortex-M DSP-extension primitives the optimised kernels use, with a
// portable emulation for every other target (x86 tests, sanitizers, fuzzers).
// LM_DSP_NATIVE is 1 when they compile to the real instructions.
//
//   sxtb16(x)      = (sext(x[7:0]), sext(x[23:16]))            as two int16 lanes
//   sxtb16_ror8(x) = (sext(x[15:8]), sext(x[31:24]))
//   smlad(a,b,acc) = acc + a.lo*b.lo + a.hi*b.hi   mod 2^32  (SMLAD wraps; the Q flag is ignored)
//   smlald(a,b,acc)= acc + a.lo*b.lo + a.hi*b.hi   in int64  (SMLALD)
//   max_s8x4(a,b)  = per byte lane max of signed int8         (SSUB8 + SEL)
#pragma once

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(LM_FORCE_DSP_EMULATION)
#include <arm_acle.h>
#define LM_DSP_NATIVE 1
#else
#define LM_DSP_NATIVE 0
#endif

namespace lm {
namespace dsp {

inline uint32_t load32(const void* p) {  // unaligned-safe (one LDR on Cortex-M4)
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

#if LM_DSP_NATIVE
inline uint32_t sxtb16(uint32_t x) { return static_cast<uint32_t>(__sxtb16(static_cast<int8x4_t>(x))); }
inline uint32_t sxtb16_ror8(uint32_t x) {  // one instruction (GCC does not fold a C rotate into SXTB16)
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
inline int32_t smlad(uint32_t a, uint32_t b, int32_t acc) {
  return __smlad(static_cast<int16x2_t>(a), static_cast<int16x2_t>(b), acc);
}
inline int64_t smlald(uint32_t a, uint32_t b, int64_t acc) {
  return __smlald(static_cast<int16x2_t>(a), static_cast<int16x2_t>(b), acc);
}
inline uint32_t max_s8x4(uint32_t a, uint32_t b) {  // SSUB8 sets GE[i] where a[i] >= b[i]; SEL picks a there
  __ssub8(static_cast<int8x4_t>(a), static_cast<int8x4_t>(b));
  return __sel(a, b);
}
#else
inline int32_t lo16(uint32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(v & 0xffffu)); }
inline int32_t hi16(uint32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(v >> 16)); }
inline uint32_t sxtb16(uint32_t x) {
  const uint32_t lo = static_cast<uint16_t>(static_cast<int16_t>(static_cast<int8_t>(x & 0xffu)));
  const uint32_t hi = static_cast<uint16_t>(static_cast<int16_t>(static_cast<int8_t>((x >> 16) & 0xffu)));
  return lo | (hi << 16);
}
inline uint32_t sxtb16_ror8(uint32_t x) { return sxtb16((x >> 8) | (x << 24)); }
inline int32_t smlad(uint32_t a, uint32_t b, int32_t acc) {
  const uint32_t p = static_cast<uint32_t>(lo16(a) * lo16(b)) + static_cast<uint32_t>(hi16(a) * hi16(b));
  return static_cast<int32_t>(static_cast<uint32_t>(acc) + p);
}
inline int64_t smlald(uint32_t a, uint32_t b, int64_t acc) {
  return acc + static_cast<int64_t>(lo16(a) * lo16(b)) + static_cast<int64_t>(hi16(a) * hi16(b));
}
inline uint32_t max_s8x4(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i += 8) {
    const int8_t x = static_cast<int8_t>((a >> i) & 0xffu), y = static_cast<int8_t>((b >> i) & 0xffu);
    r |= static_cast<uint32_t>(static_cast<uint8_t>(x >= y ? x : y)) << i;
  }
  return r;
}
#endif

// Where natural index k of a row lands in a "reordered" int16 buffer: within each
// group of 4 the order is (0, 2, 1, 3), so that a 32-bit load of int8 weights
// (w0 w1 w2 w3) gives sxtb16 = (w0, w2), matching int16 pair (x0, x2), and
// sxtb16_ror8 = (w1, w3), matching (x1, x3).
inline uint32_t reordered_slot(uint32_t k) {
  const uint32_t r = k & 3u;
  return (k & ~3u) | (r == 1u ? 2u : (r == 2u ? 1u : r));
}

}  // namespace dsp
}  // namespace lm
