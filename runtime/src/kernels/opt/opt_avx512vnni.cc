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

#include <climits>
#include <cstdint>
#include <cstring>

#include "opt_internal.h"

namespace linger {
namespace runtime {
namespace opt {
namespace detail {
namespace LINGER_OPT_VNNI_NS {
#if defined(LINGER_OPT_VNNI_EMULATE)
using avx512vnni::kDepthwiseMaxGathers;
using avx512vnni::kDepthwiseRows;
using avx512vnni::kKu;
using avx512vnni::kMr;
using avx512vnni::kMvRows;
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

// The u8-offset sums of one kMr x kNr (8 x 32) tile over kquads k-quads of
// packed A (a) and B (b): declares c00 .. c71 (row r, columns 0-15 in cr0 and
// 16-31 in cr1) in the enclosing function; 16 accumulators, 2 B vectors, 1
// broadcast per step. A macro, so that the accumulators stay named registers.
#define LINGER_VNNI_TILE_SUMS(a, b, kquads)                                           \
  __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();                 \
  __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();                 \
  __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();                 \
  __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();                 \
  __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();                 \
  __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();                 \
  __m512i c60 = _mm512_setzero_si512(), c61 = _mm512_setzero_si512();                 \
  __m512i c70 = _mm512_setzero_si512(), c71 = _mm512_setzero_si512();                 \
  for (int64_t q = 0; q < (kquads); ++q) {                                            \
    const __m512i b0 = _mm512_loadu_si512(b);                                         \
    const __m512i b1 = _mm512_loadu_si512((b) + 64);                                  \
    __m512i av;                                                                       \
    LINGER_VNNI_ROW(a, 0) LINGER_VNNI_ROW(a, 1) LINGER_VNNI_ROW(a, 2) LINGER_VNNI_ROW(a, 3) \
    LINGER_VNNI_ROW(a, 4) LINGER_VNNI_ROW(a, 5) LINGER_VNNI_ROW(a, 6) LINGER_VNNI_ROW(a, 7) \
    (a) += 4 * kMr;                                                                   \
    (b) += 4 * kNr;                                                                   \
  }
#define LINGER_VNNI_ROW(a, r)                       \
  av = bcast_quad((a) + 4 * (r));                   \
  c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, av); \
  c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, av);

// One kMr x kNr (8 x 32) tile (LINGER_VNNI_TILE_SUMS), stored as int32 minus comp.
void kernel_8x32(const int8_t* a, const int32_t* comp, const uint8_t* b, int64_t kquads, int32_t* c, int64_t ldc,
                 int64_t mv, int64_t nv) {
  LINGER_VNNI_TILE_SUMS(a, b, kquads)
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
  LINGER_VNNI_TILE_SUMS(a, b, kquads)
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
#undef LINGER_VNNI_ROW
#undef LINGER_VNNI_TILE_SUMS

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

namespace {

// NB consecutive blocks of kMvRows rows: NB independent accumulator chains over the k-quads.
template <int NB>
void matvec_blocks(const int8_t* wp, const int32_t* comp, const uint8_t* vu, int64_t kquads, int64_t rows_left,
                   int32_t* acc) {
  __m512i s[NB];
  for (int i = 0; i < NB; ++i) s[i] = _mm512_setzero_si512();
  const int64_t block = kquads * 4 * kMvRows;  // bytes per block
  for (int64_t q = 0; q < kquads; ++q) {
    const __m512i vv = bcast_quad(reinterpret_cast<const int8_t*>(vu + 4 * q));
    const int8_t* w = wp + q * 4 * kMvRows;
    for (int i = 0; i < NB; ++i) s[i] = _mm512_dpbusd_epi32(s[i], vv, _mm512_loadu_si512(w + i * block));
  }
  for (int i = 0; i < NB; ++i) {
    const __m512i r = _mm512_sub_epi32(s[i], _mm512_loadu_si512(comp + i * kMvRows));
    _mm512_mask_storeu_epi32(acc + i * kMvRows, lanes16(rows_left - int64_t{i} * kMvRows), r);
  }
}

}  // namespace

void matvec_packed(const int8_t* wp, const int32_t* comp, const uint8_t* vu, int64_t rows, int64_t kquads,
                   int32_t* acc) {
  const int64_t blocks = (rows + kMvRows - 1) / kMvRows, block = kquads * 4 * kMvRows;
  int64_t b = 0;
  for (; b + 12 <= blocks; b += 12)  // 12 accumulator chains (GRU(64): 3 * 64 rows = 12 blocks)
    matvec_blocks<12>(wp + b * block, comp + b * kMvRows, vu, kquads, rows - b * kMvRows, acc + b * kMvRows);
  for (; b + 8 <= blocks; b += 8)
    matvec_blocks<8>(wp + b * block, comp + b * kMvRows, vu, kquads, rows - b * kMvRows, acc + b * kMvRows);
  for (; b + 4 <= blocks; b += 4)
    matvec_blocks<4>(wp + b * block, comp + b * kMvRows, vu, kquads, rows - b * kMvRows, acc + b * kMvRows);
  for (; b < blocks; ++b)
    matvec_blocks<1>(wp + b * block, comp + b * kMvRows, vu, kquads, rows - b * kMvRows, acc + b * kMvRows);
}

#if !defined(LINGER_OPT_VNNI_EMULATE)
namespace {

// The zero-masked forms throughout: the plain ones expand to _mm512_undefined_epi32(), which GCC 12 reports
// as -Wmaybe-uninitialized.
constexpr __mmask16 kAll = 0xFFFF;

__m512i clamp32(__m512i v, int32_t lo, int32_t hi) {
  return _mm512_maskz_min_epi32(kAll, _mm512_maskz_max_epi32(kAll, v, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}

// clamp(rhu_shift(v, s), lo, hi) on int32 lanes, any s, |lo|, |hi| <= 2^15 (see avx2::shift_sat).
__m512i shift_sat(__m512i v, int s, int32_t lo, int32_t hi) {
  if (s > 0) {
    const __m512i t = _mm512_maskz_sra_epi32(kAll, v, _mm_cvtsi32_si128(s - 1 < 31 ? s - 1 : 31));
    return clamp32(_mm512_add_epi32(_mm512_maskz_srai_epi32(kAll, t, 1), _mm512_and_si512(t, _mm512_set1_epi32(1))), lo, hi);
  }
  const __m512i c = clamp32(v, lo, hi);
  if (s == 0) return c;
  return clamp32(_mm512_maskz_sll_epi32(kAll, c, _mm_cvtsi32_si128(-s < 16 ? -s : 16)), lo, hi);
}

__m512i acc16(const int32_t* a, const int32_t* b) {
  const __m512i v = _mm512_loadu_si512(a);
  return b ? _mm512_add_epi32(v, _mm512_loadu_si512(b)) : v;
}

// The table entry of each lane x (table points at the entry of x = 0; x inside its range), sign-extended.
__m512i table16(const int8_t* table, __m512i x) {
  const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), kAll, x, table, 1);
  return _mm512_maskz_srai_epi32(kAll, _mm512_maskz_slli_epi32(kAll, g, 24), 24);
}

}  // namespace

int64_t gru_cell_s32(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int64_t hidden,
                     int64_t n, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out, const int8_t* sig,
                     int32_t sig_lo, int32_t sig_hi, const int8_t* tanh, int32_t tanh_lo, int32_t tanh_hi) {
  const int64_t H = hidden, n16 = n / 16 * 16;
  const int si = qi - 11, sh = qhh - 11;
  const __m512i c128 = _mm512_set1_epi32(128);
  for (int64_t u = 0; u < n16; u += 16) {  // numerics::gru_cell, as avx2::gru_cell_s32
    const __m512i ri = shift_sat(acc16(gi32 + u, b_ih ? b_ih + u : nullptr), si, -32768, 32767);
    const __m512i rh = shift_sat(acc16(gh32 + u, b_hh ? b_hh + u : nullptr), sh, -32768, 32767);
    const __m512i r = table16(sig, clamp32(_mm512_add_epi32(ri, rh), sig_lo, sig_hi));
    const __m512i zi = shift_sat(acc16(gi32 + H + u, b_ih ? b_ih + H + u : nullptr), si, -32768, 32767);
    const __m512i zh = shift_sat(acc16(gh32 + H + u, b_hh ? b_hh + H + u : nullptr), sh, -32768, 32767);
    const __m512i z = table16(sig, clamp32(_mm512_add_epi32(zi, zh), sig_lo, sig_hi));
    const __m512i nh = shift_sat(acc16(gh32 + 2 * H + u, b_hh ? b_hh + 2 * H + u : nullptr), sh, -32768, 32767);
    const __m512i rhn = shift_sat(_mm512_mullo_epi32(r, nh), 7, -32768, 32767);  // |r * nh| < 2^22
    const __m512i ni = shift_sat(acc16(gi32 + 2 * H + u, b_ih ? b_ih + 2 * H + u : nullptr), si, -32768, 32767);
    const __m512i nn = table16(tanh, clamp32(_mm512_add_epi32(ni, rhn), tanh_lo, tanh_hi));
    const __m512i hp = _mm512_maskz_cvtepi8_epi32(kAll, _mm_loadu_si128(reinterpret_cast<const __m128i*>(h_prev + u)));
    const __m512i h7 = shift_sat(hp, qh - 7, -32768, 32767);
    // |z * h7| <= 127 * 2^15, |(128 - z) * n| <= 2^14: the sum fits int32
    const __m512i blend =
        _mm512_add_epi32(_mm512_mullo_epi32(z, h7), _mm512_mullo_epi32(_mm512_sub_epi32(c128, z), nn));
    const __m512i h = shift_sat(blend, 14 - qh, -128, 127);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h_out + u), _mm512_maskz_cvtepi32_epi8(kAll, h));
  }
  return n16;
}
#endif  // !LINGER_OPT_VNNI_EMULATE
bool requant_row_s8(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int8_t* y,
                    int64_t acc_max) {
  // Only where no step saturates: |c| <= acc_max, c + bias inside int32 and
  // b = bias + 2^(shift-1) (0 for shift 0) with c + b inside int32. Then
  // rhu_shift(c + bias, shift) = (c + b) >> shift (arithmetic), and the clamp
  // to [lo, hi] (inside int8) is also the int8 saturation: the 16 results
  // narrow exactly (vpmovdb truncates).
  if (shift < 0 || shift > 31 || acc_max < 0 || acc_max > INT32_MAX) return false;
  const int64_t half = shift > 0 ? int64_t{1} << (shift - 1) : 0;
  const int64_t b = int64_t{bias} + half;
  if ((bias < 0 ? -int64_t{bias} : int64_t{bias}) + acc_max > INT32_MAX || b + acc_max > INT32_MAX) return false;
  const __m512i vb = _mm512_set1_epi32(static_cast<int32_t>(b));
  const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
  const __m128i count = _mm_cvtsi32_si128(shift);
  // (maskz forms, all lanes: GCC 12 warns -Wmaybe-uninitialized inside the plain ones)
  const __mmask16 all = 0xFFFF;
  auto requant16 = [&](__m512i v) {
    v = _mm512_maskz_sra_epi32(all, _mm512_add_epi32(v, vb), count);
    return _mm512_maskz_min_epi32(all, _mm512_maskz_max_epi32(all, v, vlo), vhi);
  };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + j),
                     _mm512_maskz_cvtepi32_epi8(all, requant16(_mm512_loadu_si512(c + j))));
  if (j < n) {
    const __mmask16 m = lanes16(n - j);
    _mm512_mask_cvtepi32_storeu_epi8(y + j, m, requant16(_mm512_maskz_loadu_epi32(m, c + j)));
  }
  return true;
}

// ------------------------------------------------------------------ depthwise

namespace {
// Mask of the bytes b < 64 with 0 <= start + b < w (the in-plane columns of a
// 64-byte load starting at column `start`).
__mmask64 column_mask(int64_t start, int64_t w) {
  const int64_t lo = start < 0 ? -start : 0;
  const int64_t hi = min64(64, w - start);
  if (hi <= lo) return 0;
  const int64_t n = hi - lo;
  const uint64_t bits = n >= 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1);
  return static_cast<__mmask64>(bits << lo);
}

// The permute / shuffle controls of dw_gather for stride_w 1 or 2 and dil_w
// 1 .. 4 (index (stride_w - 1) * 4 + dil_w - 1), built once (stored tables:
// vector loads of freshly written scalars would stall on every call).
struct DwGatherTables {
  alignas(64) int32_t perm[16];
  alignas(64) int8_t shuf[64];
};

const DwGatherTables* dw_gather_tables() {
  static const struct All {
    DwGatherTables t[8];
    All() : t() {
      for (int sw = 1; sw <= 2; ++sw)
        for (int dw = 1; dw <= 4; ++dw) {
          DwGatherTables& e = t[(sw - 1) * 4 + dw - 1];
          for (int g = 0; g < 4; ++g)
            for (int d = 0; d < 4; ++d) {
              e.perm[4 * g + d] = g * sw + d;
              for (int i = 0; i < 4; ++i) e.shuf[16 * g + 4 * d + i] = static_cast<int8_t>(d * sw + i * dw);
            }
        }
    }
  } all;
  return all.t;
}

// The gather of depthwise_plane: lanes p of the result = the four bytes
// (v ^ 0x80)[p * stride_w + i * dil_w], i < 4 (vperm / vshuf built there).
__m512i dw_gather(__m512i v, __m512i flip, __m512i vperm, __m512i vshuf) {
  // (maskz form, all lanes: GCC 12 warns -Wmaybe-uninitialized inside the plain one)
  return _mm512_shuffle_epi8(_mm512_maskz_permutexvar_epi32(0xFFFF, vperm, _mm512_xor_si512(v, flip)), vshuf);
}

// depthwise_plane for a 3-row kernel of at most 4 columns, dil_h 1 and
// stride_h SH, with the 3 * SH + 3 gathered input rows of a block of 4
// output rows in registers (the general loop keeps them in memory: loads and
// stores of whole vectors were its cost). The last block's rows past oh are
// computed from masked (all zero) loads and not stored.
template <int SH>
void dw_k3_blocks(const int8_t* x, int64_t h, int64_t w, const int32_t* wq, __m512i init, int stride_w,
                  int pad_top, int pad_left, int64_t oh, int64_t ow, __m512i vperm, __m512i vshuf, int32_t* acc) {
  constexpr int NR = 3 * SH + 3;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i w0 = _mm512_set1_epi32(wq[0]), w1 = _mm512_set1_epi32(wq[1]), w2 = _mm512_set1_epi32(wq[2]);
  for (int64_t oy0 = 0; oy0 < oh; oy0 += 4) {
    const int64_t rows = min64(4, oh - oy0);
    const int64_t iyb = oy0 * SH - pad_top;
    for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
      const int64_t start = ox0 * stride_w - pad_left;
      const __mmask64 cm = column_mask(start, w);
      const uintptr_t p0 = reinterpret_cast<uintptr_t>(x) + static_cast<uintptr_t>(iyb * w + start);
      __m512i g[NR];
#pragma GCC unroll 16
      for (int r = 0; r < NR; ++r) {
        const int64_t iy = iyb + r;
        const __mmask64 m = iy >= 0 && iy < h ? cm : __mmask64{0};
        // Masked off bytes are not read: the address may lie outside the plane.
        const void* p = reinterpret_cast<const void*>(p0 + static_cast<uintptr_t>(r * w));
        g[r] = dw_gather(_mm512_maskz_loadu_epi8(m, p), flip, vperm, vshuf);
      }
      const __mmask16 smask = lanes16(ow - ox0);
      int32_t* out = acc + oy0 * ow + ox0;
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m512i sj = _mm512_dpbusd_epi32(init, g[j * SH], w0);
        sj = _mm512_dpbusd_epi32(sj, g[j * SH + 1], w1);
        sj = _mm512_dpbusd_epi32(sj, g[j * SH + 2], w2);
        if (j < rows) _mm512_mask_storeu_epi32(out + j * ow, smask, sj);
      }
    }
  }
}
}  // namespace

bool depthwise_plane_supported(int kh, int kw, int stride_h, int stride_w, int dil_h, int dil_w) {
  if (kh < 1 || kw < 1 || stride_h < 1 || dil_h < 1 || dil_w < 1) return false;
  if (!(stride_w == 1 || stride_w == 2) || 3 * stride_w + 3 * dil_w > 15) return false;
  const int64_t span = int64_t{kDepthwiseRows - 1} * stride_h + int64_t{kh - 1} * dil_h + 1;
  return span * ((kw + 3) / 4) <= kDepthwiseMaxGathers;
}

void depthwise_plane(const int8_t* x, int64_t h, int64_t w, const int8_t* wk, int kh, int kw, int stride_h,
                     int stride_w, int dil_h, int dil_w, int pad_top, int pad_left, int64_t oh, int64_t ow,
                     int32_t* acc) {
  // 16 output pixels per vector, one int32 lane each, kDepthwiseRows (4)
  // output rows at once: the input rows of the block are gathered once into
  // G and shared by the output rows that use them (stride_h 1, 3x3 kernel:
  // 6 input rows for 4 outputs instead of 12); four independent accumulators.
  // The taps of a kernel row go in quads (kx = 4q .. 4q+3, the last quad
  // zero-padded): lane p gets the four input bytes x[p * stride_w + i * dil_w]
  // (i < 4) of a 64-byte load, by a dword permute (lane group L <- dwords
  // L * stride_w .. + 3) and an in-lane byte shuffle, then
  // _mm512_dpbusd_epi32 with the quad's weights. The bytes are flipped to
  // u8 = x + 128; bytes outside the plane (columns, and whole rows above or
  // below it) are masked off at the load, 0 -> 0x80 after the flip, i.e. the
  // value 0, like the padding. So every sum is corrected by the same
  // 128 * (sum of all weights), as in the GEMM, and no padded copy is made.
  if (!depthwise_plane_supported(kh, kw, stride_h, stride_w, dil_h, dil_w)) return;
  constexpr int R = kDepthwiseRows;
  const int quads = (kw + 3) / 4;
  int32_t wq[kDepthwiseMaxGathers];
  uint32_t wsum = 0;
  for (int ky = 0; ky < kh; ++ky)
    for (int q = 0; q < quads; ++q) {
      uint32_t packed = 0;
      for (int i = 0; i < 4; ++i) {
        const int kx = 4 * q + i;
        const int8_t v = kx < kw ? wk[ky * kw + kx] : int8_t{0};
        wsum += static_cast<uint32_t>(int32_t{v});
        packed |= static_cast<uint32_t>(static_cast<uint8_t>(v)) << (8 * i);
      }
      wq[ky * quads + q] = static_cast<int32_t>(packed);
    }
  const __m512i init = _mm512_set1_epi32(static_cast<int32_t>(0u - wsum * 128u));
  const DwGatherTables& tab = dw_gather_tables()[(stride_w - 1) * 4 + (dil_w - 1)];
  const __m512i vperm = _mm512_load_si512(tab.perm), vshuf = _mm512_load_si512(tab.shuf);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  if (kh == 3 && quads == 1 && dil_h == 1 && (stride_h == 1 || stride_h == 2)) {
    if (stride_h == 1)
      dw_k3_blocks<1>(x, h, w, wq, init, stride_w, pad_top, pad_left, oh, ow, vperm, vshuf, acc);
    else
      dw_k3_blocks<2>(x, h, w, wq, init, stride_w, pad_top, pad_left, oh, ow, vperm, vshuf, acc);
    return;
  }
  __m512i gath[kDepthwiseMaxGathers];  // [input row of the block][quad]
  const int64_t step_j = int64_t{stride_h} * quads, step_ky = int64_t{dil_h} * quads;
  for (int64_t oy0 = 0; oy0 < oh; oy0 += R) {
    const int64_t rows = min64(R, oh - oy0);
    const int64_t iyb = oy0 * stride_h - pad_top;
    const int64_t nr = (rows - 1) * stride_h + int64_t{kh - 1} * dil_h + 1;  // input rows used
    for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
      for (int q = 0; q < quads; ++q) {
        const int64_t start = ox0 * stride_w - pad_left + int64_t{4} * q * dil_w;
        const __mmask64 cm = column_mask(start, w);
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t iy = iyb + r;
          const __mmask64 m = iy >= 0 && iy < h ? cm : __mmask64{0};
          // Masked off bytes are not read: the address may lie outside the plane.
          const void* p = reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(x) +
                                                        static_cast<uintptr_t>(iy * w + start));
          gath[r * quads + q] = dw_gather(_mm512_maskz_loadu_epi8(m, p), flip, vperm, vshuf);
        }
      }
      const __mmask16 smask = lanes16(ow - ox0);
      int32_t* out = acc + oy0 * ow + ox0;
      if (rows == R) {
        __m512i s0 = init, s1 = init, s2 = init, s3 = init;
        for (int ky = 0; ky < kh; ++ky)
          for (int q = 0; q < quads; ++q) {
            const __m512i wv = _mm512_set1_epi32(wq[ky * quads + q]);
            const __m512i* g = gath + ky * step_ky + q;
            s0 = _mm512_dpbusd_epi32(s0, g[0], wv);
            s1 = _mm512_dpbusd_epi32(s1, g[step_j], wv);
            s2 = _mm512_dpbusd_epi32(s2, g[2 * step_j], wv);
            s3 = _mm512_dpbusd_epi32(s3, g[3 * step_j], wv);
          }
        _mm512_mask_storeu_epi32(out, smask, s0);
        _mm512_mask_storeu_epi32(out + ow, smask, s1);
        _mm512_mask_storeu_epi32(out + 2 * ow, smask, s2);
        _mm512_mask_storeu_epi32(out + 3 * ow, smask, s3);
      } else {
        for (int64_t j = 0; j < rows; ++j) {
          __m512i s = init;
          for (int ky = 0; ky < kh; ++ky)
            for (int q = 0; q < quads; ++q)
              s = _mm512_dpbusd_epi32(s, gath[j * step_j + ky * step_ky + q], _mm512_set1_epi32(wq[ky * quads + q]));
          _mm512_mask_storeu_epi32(out + j * ow, smask, s);
        }
      }
    }
  }
}

}  // namespace LINGER_OPT_VNNI_NS
}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
