// AVX-512 VNNI int8 GEMM building blocks (see opt_internal.h for the packed
// layouts). Compiled with -mavx512f -mavx512bw -mavx512vnni; called only after
// the run-time check that the CPU has them. Self-contained on purpose: no
// inline functions or templates from other headers (see opt_internal.h).
//
// Exactness: _mm512_dpbusd_epi32 adds four u8 x s8 products (each at most
// 255 * 128 in magnitude) to an int32 lane without saturation, i.e. modulo
// 2^32. B is stored as u8 = b + 128, so each lane holds
//   sum a*(b + 128) = sum a*b + 128 * sum a   (mod 2^32),
// and subtracting comp = 128 * sum a (computed mod 2^32 as well) leaves the
// contract's wrapping int32 sum exactly.
//
// LINGER_OPT_VNNI_EMULATE (tests only): the same source built against portable
// scalar models of the intrinsics (tests/runtime_opt/vnni_emulation.h), in the
// namespace avx512vnni_emulated, so that the packing, correction and tail
// logic is checked on CPUs without AVX-512.
#if defined(LINGER_OPT_VNNI_EMULATE)
#include "vnni_emulation.h"
#define LINGER_OPT_VNNI_NS avx512vnni_emulated
#else
#include <immintrin.h>
#define LINGER_OPT_VNNI_NS avx512vnni
#endif

#include <cstdint>
#include <cstring>

#include "opt_internal.h"

namespace linger {
namespace runtime {
namespace opt {
namespace detail {
namespace LINGER_OPT_VNNI_NS {
#if defined(LINGER_OPT_VNNI_EMULATE)
using avx512vnni::kKu;
using avx512vnni::kMr;
using avx512vnni::kNr;
#endif

namespace {

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

__m512i bcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

__mmask16 lanes16(int64_t count) {  // mask of the first `count` lanes (count clamped to 0 .. 16)
  if (count <= 0) return 0;
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Sum of the 16 int32 lanes modulo 2^32 (not _mm512_reduce_add_epi32: GCC 12
// warns -Wmaybe-uninitialized inside it).
int32_t hsum_epi32(__m512i v) {
  alignas(64) int32_t t[16];
  _mm512_store_si512(t, v);
  uint32_t s = 0;
  for (int i = 0; i < 16; ++i) s += static_cast<uint32_t>(t[i]);
  return static_cast<int32_t>(s);
}

uint8_t offset_u8(int8_t v) { return static_cast<uint8_t>(static_cast<uint8_t>(v) ^ 0x80u); }

// One kMr x kNr (8 x 32) tile: 16 accumulators, 2 B vectors, 1 broadcast.
void kernel_8x32(const int8_t* a, const int32_t* comp, const uint8_t* b, int64_t kquads, int32_t* c, int64_t ldc,
                 int64_t mv, int64_t nv) {
  __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
  __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
  __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();
  __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();
  __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();
  __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();
  __m512i c60 = _mm512_setzero_si512(), c61 = _mm512_setzero_si512();
  __m512i c70 = _mm512_setzero_si512(), c71 = _mm512_setzero_si512();
  for (int64_t q = 0; q < kquads; ++q) {
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    __m512i av;
#define LINGER_VNNI_ROW(r)                             \
  av = bcast_quad(a + 4 * (r));                        \
  c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, av); \
  c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, av);
    LINGER_VNNI_ROW(0)
    LINGER_VNNI_ROW(1)
    LINGER_VNNI_ROW(2)
    LINGER_VNNI_ROW(3)
    LINGER_VNNI_ROW(4)
    LINGER_VNNI_ROW(5)
    LINGER_VNNI_ROW(6)
    LINGER_VNNI_ROW(7)
#undef LINGER_VNNI_ROW
    a += 4 * kMr;
    b += 4 * kNr;
  }
  const __mmask16 m0 = lanes16(nv);
  const __mmask16 m1 = lanes16(nv - 16);
#define LINGER_VNNI_STORE(r)                                                  \
  if ((r) < mv) {                                                             \
    const __m512i cv = _mm512_set1_epi32(comp[r]);                            \
    _mm512_mask_storeu_epi32(c + (r) * ldc, m0, _mm512_sub_epi32(c##r##0, cv)); \
    if (nv > 16) _mm512_mask_storeu_epi32(c + (r) * ldc + 16, m1, _mm512_sub_epi32(c##r##1, cv)); \
  }
  LINGER_VNNI_STORE(0)
  LINGER_VNNI_STORE(1)
  LINGER_VNNI_STORE(2)
  LINGER_VNNI_STORE(3)
  LINGER_VNNI_STORE(4)
  LINGER_VNNI_STORE(5)
  LINGER_VNNI_STORE(6)
  LINGER_VNNI_STORE(7)
#undef LINGER_VNNI_STORE
}

// Where a tile's 32 columns land in an int8 output plane: column j (virtual
// pixel v = v0 + j, row oy = v / vw, column ox = v % vw) goes to y[v - oy * (vw - ow)]
// when ox < ow, and nowhere (a virtual column past the row) otherwise. One
// segment per output row touched: lane mask and the address of lane 0.
struct Segments {
  int count = 0;
  uint32_t mask[kNr + 1];
  int64_t base[kNr + 1];  // offset (in bytes of y) of lane 0 of this segment's mapping
};

void tile_segments(int64_t v0, int64_t nv, int64_t vw, int64_t ow, Segments* sg) {
  sg->count = 0;
  if (vw == ow) {  // no virtual columns: one run
    sg->mask[0] = nv >= 32 ? 0xFFFFFFFFu : ((1u << nv) - 1u);
    sg->base[0] = v0;
    sg->count = 1;
    return;
  }
  int64_t j = 0;
  while (j < nv) {
    const int64_t v = v0 + j, oy = v / vw, ox = v - oy * vw;
    if (ox >= ow) {  // a virtual column: skip to the next row
      j += vw - ox;
      continue;
    }
    const int64_t len = min64(ow - ox, nv - j);
    const uint32_t hi = j + len >= 32 ? 0xFFFFFFFFu : ((1u << (j + len)) - 1u);
    sg->mask[sg->count] = hi & ~((1u << j) - 1u);
    sg->base[sg->count] = v0 - oy * (vw - ow);
    ++sg->count;
    j += len;
  }
}

// (acc + add) >> count per int32 lane (arithmetic). The maskz form with every
// lane selected: the plain intrinsic starts from _mm512_undefined_epi32(),
// which GCC 12 reports as maybe-uninitialized.
__m512i add_shift(__m512i acc, __m512i add, __m512i count) {
  return _mm512_maskz_srav_epi32(static_cast<__mmask16>(0xFFFF), _mm512_add_epi32(acc, add), count);
}

// One kMr x kNr tile as kernel_8x32, then the int8 requantisation in registers:
// y = min(max(sat8((acc + add[r]) >> shift), lo), hi), where acc is the tile's
// u8-offset sum and add[r] = bias + rounding term - comp[r] (modulo 2^32; exact
// only where the corrected sum plus bias and rounding cannot leave the int32
// range; lo8 / hi8: the bounds as bytes), stored through the segments (row r at
// y + r * ldy).
// Two rows at a time: the saturating packs int32 -> int16 -> int8 give sat8,
// a dword permutation puts row r's 32 bytes below row r + 1's.
void kernel_8x32_s8(const int8_t* a, const uint8_t* b, int64_t kquads, int64_t mv, const int32_t* add,
                    const __m512i& count, const __m512i& lo8, const __m512i& hi8, int8_t* y,
                    int64_t ldy, const Segments& sg) {
  __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
  __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
  __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();
  __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();
  __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();
  __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();
  __m512i c60 = _mm512_setzero_si512(), c61 = _mm512_setzero_si512();
  __m512i c70 = _mm512_setzero_si512(), c71 = _mm512_setzero_si512();
  for (int64_t q = 0; q < kquads; ++q) {
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    __m512i av;
#define LINGER_VNNI_ROW(r)                             \
  av = bcast_quad(a + 4 * (r));                        \
  c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, av); \
  c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, av);
    LINGER_VNNI_ROW(0)
    LINGER_VNNI_ROW(1)
    LINGER_VNNI_ROW(2)
    LINGER_VNNI_ROW(3)
    LINGER_VNNI_ROW(4)
    LINGER_VNNI_ROW(5)
    LINGER_VNNI_ROW(6)
    LINGER_VNNI_ROW(7)
#undef LINGER_VNNI_ROW
    a += 4 * kMr;
    b += 4 * kNr;
  }
  // Byte addresses through uintptr_t: lane 0 of a segment's mapping may lie
  // before y (its lanes are masked off there); nothing is formed as a pointer
  // outside the output but the masked stores' addresses.
  const uintptr_t y0 = reinterpret_cast<uintptr_t>(y);
  // packs_epi16(packs_epi32(r lanes 0-15, r lanes 16-31), the same of row s) holds, per 128-bit lane L,
  // the dwords (r cols 4L.., r cols 16+4L.., s cols 4L.., s cols 16+4L..): gather them in column order.
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __mmask16 all = static_cast<__mmask16>(0xFFFF);
#define LINGER_VNNI_PAIR(r, s)                                                                               \
  if ((r) < mv) {                                                                                            \
    const __m512i ar = _mm512_set1_epi32(add[r]), as = _mm512_set1_epi32(add[s]);                          \
    const __m512i pr = _mm512_packs_epi32(add_shift(c##r##0, ar, count), add_shift(c##r##1, ar, count));    \
    const __m512i ps = _mm512_packs_epi32(add_shift(c##s##0, as, count), add_shift(c##s##1, as, count));    \
    const __m512i q = _mm512_maskz_permutexvar_epi32(all, order, _mm512_packs_epi16(pr, ps));              \
    const __m512i v = _mm512_min_epi8(_mm512_max_epi8(q, lo8), hi8);                                        \
    const uintptr_t row_r = y0 + static_cast<uintptr_t>((r) * ldy);                                        \
    const uintptr_t row_s = row_r + static_cast<uintptr_t>(ldy) - 32; /* row s's bytes are lanes 32..63 */   \
    for (int g = 0; g < sg.count; ++g) {                                                                     \
      const uintptr_t off = static_cast<uintptr_t>(sg.base[g]);                                             \
      const __mmask64 m = sg.mask[g];                                                                        \
      _mm512_mask_storeu_epi8(reinterpret_cast<void*>(row_r + off), m, v);                                  \
      if ((s) < mv) _mm512_mask_storeu_epi8(reinterpret_cast<void*>(row_s + off), m << 32, v);              \
    }                                                                                                        \
  }
  LINGER_VNNI_PAIR(0, 1)
  LINGER_VNNI_PAIR(2, 3)
  LINGER_VNNI_PAIR(4, 5)
  LINGER_VNNI_PAIR(6, 7)
#undef LINGER_VNNI_PAIR
}

}  // namespace

void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int8_t* out, int32_t* comp) {
  const int64_t kpad = (k + 3) / 4 * 4;
  const int64_t panels = (m + kMr - 1) / kMr;
  for (int64_t p = 0; p < panels; ++p) {
    int8_t* dst = out + p * kMr * kpad;
    for (int r = 0; r < kMr; ++r) {
      const int64_t i = p * kMr + r;
      int8_t* d = dst + 4 * r;
      uint32_t sum = 0;
      const int8_t* row = i < m ? a + i * lda : nullptr;
      for (int64_t kk = 0; kk < kpad; ++kk) {
        const int8_t v = (row && kk < k) ? row[kk] : int8_t{0};
        d[(kk >> 2) * (4 * kMr) + (kk & 3)] = v;
        sum += static_cast<uint32_t>(int32_t{v});
      }
      comp[p * kMr + r] = static_cast<int32_t>(sum * 128u);  // 128 * sum_k a, mod 2^32
    }
  }
}

// Two panels (64 columns) per step: each k row's 64 bytes in one masked load
// (no byte past column n - 1 is read; zeros there), the byte / word unpacks
// interleave 4 rows per 128-bit lane, two rounds of qword permutations put the
// 16-byte groups in column order.
void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, uint8_t* out) {
  const int64_t kquads = (k + 3) / 4;
  const int64_t panels = (n + kNr - 1) / kNr;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  // After the unpacks, lane L of a / b / c / d holds columns 16L + 0..3 / 4..7 / 8..11 / 12..15.
  const __m512i lanes01 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);     // (a0 b0 a1 b1) of (a, b)
  const __m512i lanes23 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);   // (a2 b2 a3 b3)
  // (a0 b0 c0 d0) and (a1 b1 c1 d1) of (a0 b0 a1 b1), (c0 d0 c1 d1):
  const __m512i first = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
  const __m512i second = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
  for (int64_t p = 0; p < panels; p += 2) {
    const int64_t j0 = p * kNr;
    const int64_t cnt = min64(2 * kNr, n - j0);
    const __mmask64 mk = cnt >= 64 ? ~__mmask64{0} : (__mmask64{1} << cnt) - 1;
    const bool two = p + 1 < panels;
    uint8_t* dst0 = out + p * kNr * 4 * kquads;
    uint8_t* dst1 = dst0 + kNr * 4 * kquads;
    for (int64_t q = 0; q < kquads; ++q) {
      __m512i x[4];
      for (int t = 0; t < 4; ++t)
        x[t] = 4 * q + t < k ? _mm512_maskz_loadu_epi8(mk, b + koff[4 * q + t] + j0) : _mm512_setzero_si512();
      const __m512i lo01 = _mm512_unpacklo_epi8(x[0], x[1]), hi01 = _mm512_unpackhi_epi8(x[0], x[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(x[2], x[3]), hi23 = _mm512_unpackhi_epi8(x[2], x[3]);
      const __m512i va = _mm512_unpacklo_epi16(lo01, lo23), vb = _mm512_unpackhi_epi16(lo01, lo23);
      const __m512i vc = _mm512_unpacklo_epi16(hi01, hi23), vd = _mm512_unpackhi_epi16(hi01, hi23);
      const __m512i ab01 = _mm512_permutex2var_epi64(va, lanes01, vb);
      const __m512i cd01 = _mm512_permutex2var_epi64(vc, lanes01, vd);
      uint8_t* d0 = dst0 + q * 4 * kNr;
      _mm512_storeu_si512(d0, _mm512_xor_si512(_mm512_permutex2var_epi64(ab01, first, cd01), flip));
      _mm512_storeu_si512(d0 + 64, _mm512_xor_si512(_mm512_permutex2var_epi64(ab01, second, cd01), flip));
      if (two) {
        const __m512i ab23 = _mm512_permutex2var_epi64(va, lanes23, vb);
        const __m512i cd23 = _mm512_permutex2var_epi64(vc, lanes23, vd);
        uint8_t* d1 = dst1 + q * 4 * kNr;
        _mm512_storeu_si512(d1, _mm512_xor_si512(_mm512_permutex2var_epi64(ab23, first, cd23), flip));
        _mm512_storeu_si512(d1 + 64, _mm512_xor_si512(_mm512_permutex2var_epi64(ab23, second, cd23), flip));
      }
    }
  }
}

void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, uint8_t* out) {
  const int64_t kpad = (k + 3) / 4 * 4;
  const int64_t panels = (n + kNr - 1) / kNr;
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* dst = out + p * kNr * kpad;
    for (int64_t jj = 0; jj < kNr; ++jj) {
      const int64_t j = p * kNr + jj;
      const int8_t* row = j < n ? b + j * ldn : nullptr;
      uint8_t* d = dst + 4 * jj;
      for (int64_t kk = 0; kk < kpad; ++kk)
        d[(kk >> 2) * (4 * kNr) + (kk & 3)] = offset_u8((row && kk < k) ? row[kk] : int8_t{0});
    }
  }
}

void gemm_packed(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                 int32_t* c, int64_t ldc) {
  const int64_t kquads = kpad / 4;
  for (int64_t j0 = 0; j0 < n; j0 += kNr) {
    const uint8_t* bpanel = bp + (j0 / kNr) * kNr * kpad;
    const int64_t nv = min64(kNr, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += kMr) {
      kernel_8x32(ap + (i0 / kMr) * kMr * kpad, comp + i0, bpanel, kquads, c + i0 * ldc + j0, ldc,
                  min64(kMr, m - i0), nv);
    }
  }
}

void gemm_packed_s8(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                    const int32_t* bias, int32_t round, int shift, int32_t lo, int32_t hi, int8_t* y, int64_t ldy,
                    int64_t v0, int64_t vw, int64_t ow) {
  const int64_t kquads = kpad / 4;
  const __m512i count = _mm512_set1_epi32(shift);
  const __m512i vlo = _mm512_set1_epi8(static_cast<char>(lo)), vhi = _mm512_set1_epi8(static_cast<char>(hi));
  // The rows' additive terms: bias + rounding - the u8-offset correction, modulo 2^32.
  int32_t add[kMr];
  Segments sg;
  for (int64_t j0 = 0; j0 < n; j0 += kNr) {
    const uint8_t* bpanel = bp + (j0 / kNr) * kNr * kpad;
    tile_segments(v0 + j0, min64(kNr, n - j0), vw, ow, &sg);
    for (int64_t i0 = 0; i0 < m; i0 += kMr) {
      const int64_t mv = min64(kMr, m - i0);
      for (int64_t r = 0; r < kMr; ++r) {
        const uint32_t b = r < mv && bias ? static_cast<uint32_t>(bias[i0 + r]) : 0u;
        add[r] = static_cast<int32_t>(b + static_cast<uint32_t>(round) - static_cast<uint32_t>(comp[i0 + r]));
      }
      kernel_8x32_s8(ap + (i0 / kMr) * kMr * kpad, bpanel, kquads, mv, add, count, vlo, vhi, y + i0 * ldy, ldy, sg);
    }
  }
}

void gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
              int64_t n, int64_t k) {
  // a is made unsigned (a + 128, u8) and the correction 128 * sum_k b is
  // accumulated alongside as the dot product of b with the u8 vector of 128s
  // (the same bytes 0x80 that flip the sign bit).
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ar = a + i * lda;
    int32_t* cr = c + i * ldc;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const int8_t* bq[4] = {b + j * ldb, b + (j + 1) * ldb, b + (j + 2) * ldb, b + (j + 3) * ldb};
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      __m512i s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
      __m512i o0 = _mm512_setzero_si512(), o1 = _mm512_setzero_si512();
      __m512i o2 = _mm512_setzero_si512(), o3 = _mm512_setzero_si512();
      for (int64_t kk = 0; kk < k; kk += 64) {
        const int64_t rem = k - kk;
        const __mmask64 mk = rem >= 64 ? ~__mmask64{0} : ((__mmask64{1} << rem) - 1);
        const __m512i va = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, ar + kk), flip);
        const __m512i v0 = _mm512_maskz_loadu_epi8(mk, bq[0] + kk);
        const __m512i v1 = _mm512_maskz_loadu_epi8(mk, bq[1] + kk);
        const __m512i v2 = _mm512_maskz_loadu_epi8(mk, bq[2] + kk);
        const __m512i v3 = _mm512_maskz_loadu_epi8(mk, bq[3] + kk);
        s0 = _mm512_dpbusd_epi32(s0, va, v0);
        s1 = _mm512_dpbusd_epi32(s1, va, v1);
        s2 = _mm512_dpbusd_epi32(s2, va, v2);
        s3 = _mm512_dpbusd_epi32(s3, va, v3);
        o0 = _mm512_dpbusd_epi32(o0, flip, v0);
        o1 = _mm512_dpbusd_epi32(o1, flip, v1);
        o2 = _mm512_dpbusd_epi32(o2, flip, v2);
        o3 = _mm512_dpbusd_epi32(o3, flip, v3);
      }
      cr[j] = hsum_epi32(_mm512_sub_epi32(s0, o0));
      cr[j + 1] = hsum_epi32(_mm512_sub_epi32(s1, o1));
      cr[j + 2] = hsum_epi32(_mm512_sub_epi32(s2, o2));
      cr[j + 3] = hsum_epi32(_mm512_sub_epi32(s3, o3));
    }
    for (; j < n; ++j) {
      const int8_t* br = b + j * ldb;
      __m512i s = _mm512_setzero_si512(), o = _mm512_setzero_si512();
      for (int64_t kk = 0; kk < k; kk += 64) {
        const int64_t rem = k - kk;
        const __mmask64 mk = rem >= 64 ? ~__mmask64{0} : ((__mmask64{1} << rem) - 1);
        const __m512i va = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, ar + kk), flip);
        const __m512i vb = _mm512_maskz_loadu_epi8(mk, br + kk);
        s = _mm512_dpbusd_epi32(s, va, vb);
        o = _mm512_dpbusd_epi32(o, flip, vb);
      }
      cr[j] = hsum_epi32(_mm512_sub_epi32(s, o));
    }
  }
}

}  // namespace LINGER_OPT_VNNI_NS
}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
