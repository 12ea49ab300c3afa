// Test-only portable scalar models of the AVX-512 intrinsics that
// runtime/src/kernels/opt/opt_avx512vnni.cc uses, following the Intel
// Intrinsics Guide definitions. With LINGER_OPT_VNNI_EMULATE that source is
// built against this header (namespace avx512vnni_emulated) so its packing,
// u8-offset correction and tail handling are tested on CPUs without AVX-512.
// The real-instruction path is tested where the CPU has it.
#pragma once

#include <cstdint>
#include <cstring>

namespace linger_vnni_emu {

struct V512 {
  uint8_t b[64];
};
struct V128 {
  uint8_t b[16];
};

inline int32_t lane32(const V512& v, int i) {
  uint32_t u;
  std::memcpy(&u, v.b + 4 * i, 4);
  return static_cast<int32_t>(u);
}
inline void set_lane32(V512& v, int i, int32_t x) {
  const uint32_t u = static_cast<uint32_t>(x);
  std::memcpy(v.b + 4 * i, &u, 4);
}

}  // namespace linger_vnni_emu

using __m512i = linger_vnni_emu::V512;
using __m128i = linger_vnni_emu::V128;
using __mmask16 = uint16_t;
using __mmask64 = uint64_t;

inline __m512i _mm512_setzero_si512() { return __m512i{}; }
inline __m512i _mm512_loadu_si512(const void* p) {
  __m512i v;
  std::memcpy(v.b, p, 64);
  return v;
}
inline __m512i _mm512_load_si512(const void* p) { return _mm512_loadu_si512(p); }
inline void _mm512_store_si512(void* p, __m512i v) { std::memcpy(p, v.b, 64); }
inline __m512i _mm512_set1_epi32(int x) {
  __m512i v;
  for (int i = 0; i < 16; ++i) linger_vnni_emu::set_lane32(v, i, x);
  return v;
}
inline __m512i _mm512_set1_epi8(char x) {
  __m512i v;
  std::memset(v.b, static_cast<unsigned char>(x), 64);
  return v;
}
inline __m512i _mm512_xor_si512(__m512i a, __m512i b) {
  for (int i = 0; i < 64; ++i) a.b[i] ^= b.b[i];
  return a;
}
inline __m512i _mm512_sub_epi32(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 16; ++i)
    linger_vnni_emu::set_lane32(r, i,
                                static_cast<int32_t>(static_cast<uint32_t>(linger_vnni_emu::lane32(a, i)) -
                                                     static_cast<uint32_t>(linger_vnni_emu::lane32(b, i))));
  return r;
}
// VPDPBUSD: src.dword[i] + sum_t u8(a.byte[4i+t]) * s8(b.byte[4i+t]), no saturation.
inline __m512i _mm512_dpbusd_epi32(__m512i src, __m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 16; ++i) {
    uint32_t acc = static_cast<uint32_t>(linger_vnni_emu::lane32(src, i));
    for (int t = 0; t < 4; ++t)
      acc += static_cast<uint32_t>(int32_t{a.b[4 * i + t]} * int32_t{static_cast<int8_t>(b.b[4 * i + t])});
    linger_vnni_emu::set_lane32(r, i, static_cast<int32_t>(acc));
  }
  return r;
}
inline void _mm512_mask_storeu_epi32(void* p, __mmask16 m, __m512i v) {
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) std::memcpy(static_cast<uint8_t*>(p) + 4 * i, v.b + 4 * i, 4);
}
// Lane-wise int32 add (wrapping) and arithmetic right shift by each lane's count (>= 32: the sign).
inline __m512i linger_emu_lanes(__m512i a, __m512i b, int op) {
  __m512i r;
  for (int i = 0; i < 16; ++i) {
    const int32_t x = linger_vnni_emu::lane32(a, i), y = linger_vnni_emu::lane32(b, i);
    int32_t v = 0;
    if (op == 0) v = static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
    if (op == 1) v = (y < 0 || y > 31) ? (x < 0 ? -1 : 0) : (x >> y);
    linger_vnni_emu::set_lane32(r, i, v);
  }
  return r;
}
inline __m512i _mm512_add_epi32(__m512i a, __m512i b) { return linger_emu_lanes(a, b, 0); }
// The maskz forms (lanes whose mask bit is clear are 0).
inline __m512i _mm512_maskz_srav_epi32(__mmask16 m, __m512i a, __m512i count) {
  __m512i r = linger_emu_lanes(a, count, 1);
  for (int i = 0; i < 16; ++i)
    if (!((m >> i) & 1u)) linger_vnni_emu::set_lane32(r, i, 0);
  return r;
}
// e15 .. e0, as the Intrinsics Guide orders the arguments.
inline __m512i _mm512_set_epi32(int e15, int e14, int e13, int e12, int e11, int e10, int e9, int e8, int e7, int e6,
                                int e5, int e4, int e3, int e2, int e1, int e0) {
  const int e[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  __m512i r;
  for (int i = 0; i < 16; ++i) linger_vnni_emu::set_lane32(r, i, e[i]);
  return r;
}
// VPERMD with a zeroing mask: dword i = a.dword[idx.dword[i] & 15].
inline __m512i _mm512_maskz_permutexvar_epi32(__mmask16 m, __m512i idx, __m512i a) {
  __m512i r{};
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) {
      const int src = linger_vnni_emu::lane32(idx, i) & 15;
      linger_vnni_emu::set_lane32(r, i, linger_vnni_emu::lane32(a, src));
    }
  return r;
}
// VPACKSSDW / VPACKSSWB: per 128-bit lane, a's elements then b's, each saturated to the narrower type.
inline __m512i _mm512_packs_epi32(__m512i a, __m512i b) {
  __m512i r;
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 8; ++i) {
      const int32_t v = linger_vnni_emu::lane32(i < 4 ? a : b, 4 * l + (i & 3));
      const int16_t h = static_cast<int16_t>(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
      std::memcpy(r.b + 16 * l + 2 * i, &h, 2);
    }
  return r;
}
inline __m512i _mm512_packs_epi16(__m512i a, __m512i b) {
  __m512i r;
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 16; ++i) {
      int16_t v;
      std::memcpy(&v, (i < 8 ? a : b).b + 16 * l + 2 * (i & 7), 2);
      r.b[16 * l + i] = static_cast<uint8_t>(static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v)));
    }
  return r;
}
inline __m512i _mm512_max_epi8(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 64; ++i)
    r.b[i] = static_cast<int8_t>(a.b[i]) > static_cast<int8_t>(b.b[i]) ? a.b[i] : b.b[i];
  return r;
}
inline __m512i _mm512_min_epi8(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 64; ++i)
    r.b[i] = static_cast<int8_t>(a.b[i]) < static_cast<int8_t>(b.b[i]) ? a.b[i] : b.b[i];
  return r;
}
inline void _mm512_mask_storeu_epi8(void* p, __mmask64 m, __m512i v) {
  for (int i = 0; i < 64; ++i)
    if ((m >> i) & 1u) static_cast<uint8_t*>(p)[i] = v.b[i];
}
inline __m512i _mm512_maskz_loadu_epi8(__mmask64 m, const void* p) {
  __m512i v{};
  for (int i = 0; i < 64; ++i)
    if ((m >> i) & 1u) v.b[i] = static_cast<const uint8_t*>(p)[i];
  return v;
}
// VPSHUFB (per 128-bit lane): byte i = 0 if b.byte[i] has bit 7, else a.byte[lane base + (b.byte[i] & 15)].
inline __m512i _mm512_shuffle_epi8(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 64; ++i)
    r.b[i] = (b.b[i] & 0x80u) ? uint8_t{0} : a.b[(i & ~15) + (b.b[i] & 15)];
  return r;
}

// Lane-wise signed int32 max (op 1) / min (op 2), zero-masked (requant_row_s8).
inline __m512i linger_emu_minmax(__mmask16 m, __m512i a, __m512i b, int op) {
  __m512i r{};
  for (int i = 0; i < 16; ++i) {
    const int32_t x = linger_vnni_emu::lane32(a, i), y = linger_vnni_emu::lane32(b, i);
    if ((m >> i) & 1u) linger_vnni_emu::set_lane32(r, i, op == 1 ? (x > y ? x : y) : (x < y ? x : y));
  }
  return r;
}
inline __m512i _mm512_maskz_max_epi32(__mmask16 m, __m512i a, __m512i b) { return linger_emu_minmax(m, a, b, 1); }
inline __m512i _mm512_maskz_min_epi32(__mmask16 m, __m512i a, __m512i b) { return linger_emu_minmax(m, a, b, 2); }
inline __m512i _mm512_maskz_loadu_epi32(__mmask16 m, const void* p) {
  __m512i v{};
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) std::memcpy(v.b + 4 * i, static_cast<const uint8_t*>(p) + 4 * i, 4);
  return v;
}

// Interleave bytes (epi8) or 16-bit words (epi16) of the low / high halves of each 128-bit lane.
inline __m512i linger_emu_unpack(__m512i a, __m512i b, int elem, int half) {
  __m512i r;
  const int count = 8 / elem;  // elements taken from each source per lane
  for (int l = 0; l < 4; ++l)
    for (int e = 0; e < count; ++e) {
      const int src = 16 * l + (half * count + e) * elem;
      std::memcpy(r.b + 16 * l + (2 * e) * elem, a.b + src, static_cast<size_t>(elem));
      std::memcpy(r.b + 16 * l + (2 * e + 1) * elem, b.b + src, static_cast<size_t>(elem));
    }
  return r;
}
inline __m512i _mm512_unpacklo_epi8(__m512i a, __m512i b) { return linger_emu_unpack(a, b, 1, 0); }
inline __m512i _mm512_unpackhi_epi8(__m512i a, __m512i b) { return linger_emu_unpack(a, b, 1, 1); }
inline __m512i _mm512_unpacklo_epi16(__m512i a, __m512i b) { return linger_emu_unpack(a, b, 2, 0); }
inline __m512i _mm512_unpackhi_epi16(__m512i a, __m512i b) { return linger_emu_unpack(a, b, 2, 1); }
// e7 .. e0, as the Intrinsics Guide orders the arguments.
inline __m512i _mm512_set_epi64(int64_t e7, int64_t e6, int64_t e5, int64_t e4, int64_t e3, int64_t e2, int64_t e1,
                                int64_t e0) {
  const int64_t e[8] = {e0, e1, e2, e3, e4, e5, e6, e7};
  __m512i r;
  std::memcpy(r.b, e, 64);
  return r;
}
// VPERMT2Q: qword i = (idx.qword[i] & 8 ? b : a).qword[idx.qword[i] & 7].
inline __m512i _mm512_permutex2var_epi64(__m512i a, __m512i idx, __m512i b) {
  __m512i r;
  for (int i = 0; i < 8; ++i) {
    int64_t sel;
    std::memcpy(&sel, idx.b + 8 * i, 8);
    std::memcpy(r.b + 8 * i, ((sel & 8) ? b : a).b + 8 * (sel & 7), 8);
  }
  return r;
}
inline void _mm512_storeu_si512(void* p, __m512i v) { std::memcpy(p, v.b, 64); }

// The 128-bit type of requant_row_s8's shift count and 16-byte stores.
inline __m128i _mm_cvtsi32_si128(int x) {
  __m128i v{};
  std::memcpy(v.b, &x, 4);
  return v;
}
inline void _mm_storeu_si128(__m128i* p, __m128i v) { std::memcpy(p, v.b, 16); }
// VPSRAD by the count in the low 64 bits of `count` (> 31: the sign in every bit), zero-masked.
inline __m512i _mm512_maskz_sra_epi32(__mmask16 m, __m512i a, __m128i count) {
  uint64_t n;
  std::memcpy(&n, count.b, 8);
  __m512i r{};
  for (int i = 0; i < 16; ++i) {
    const int32_t x = linger_vnni_emu::lane32(a, i);
    if ((m >> i) & 1u) linger_vnni_emu::set_lane32(r, i, n > 31 ? (x < 0 ? -1 : 0) : static_cast<int32_t>(x >> n));
  }
  return r;
}
// VPMOVDB: the low byte of each lane (truncation); zero where the mask bit is clear.
inline __m128i _mm512_maskz_cvtepi32_epi8(__mmask16 m, __m512i a) {
  __m128i r{};
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) r.b[i] = a.b[4 * i];
  return r;
}
inline void _mm512_mask_cvtepi32_storeu_epi8(void* p, __mmask16 m, __m512i a) {
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) static_cast<uint8_t*>(p)[i] = a.b[4 * i];
}
