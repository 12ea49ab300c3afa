// AVX2 int8 GEMM building blocks (see opt_internal.h for the packed layouts).
// Compiled with -mavx2; called only after the run-time check that the CPU has
// AVX2. Self-contained on purpose: no inline functions or templates from other
// headers (see opt_internal.h).
//
// Exactness: every int8 is sign-extended to int16, _mm256_madd_epi16 forms
// a0*b0 + a1*b1 in int32 (at most 2 * 128 * 128 = 2^15 in magnitude, never
// saturates), and _mm256_add_epi32 accumulates modulo 2^32. Addition modulo
// 2^32 does not depend on the order, so the result equals the contract's
// wrapping int32 sum whatever the blocking.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "opt_internal.h"

namespace linger {
namespace runtime {
namespace opt {
namespace detail {
namespace avx2 {

namespace {

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Horizontal sum of 8 int32 lanes, modulo 2^32.
uint32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(s));
}

__m256i load_i8_as_i16(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__m256i bcast_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// One kMr x kNr (6 x 16) tile: 12 accumulators, 2 B vectors, 1 broadcast.
void kernel_6x16(const int16_t* a, const int16_t* b, int64_t kpairs, int32_t* c, int64_t ldc, int64_t mv,
                 int64_t nv) {
  __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
  __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
  __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
  __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
  __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
  __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
  for (int64_t q = 0; q < kpairs; ++q) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    __m256i av;
#define LINGER_AVX2_ROW(r)                                        \
  av = bcast_pair(a + 2 * (r));                                   \
  c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0)); \
  c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));
    LINGER_AVX2_ROW(0)
    LINGER_AVX2_ROW(1)
    LINGER_AVX2_ROW(2)
    LINGER_AVX2_ROW(3)
    LINGER_AVX2_ROW(4)
    LINGER_AVX2_ROW(5)
#undef LINGER_AVX2_ROW
    a += 2 * kMr;
    b += 2 * kNr;
  }
  if (mv == kMr && nv == kNr) {
#define LINGER_AVX2_STORE(r)                                                          \
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + (r) * ldc), c##r##0);     \
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + (r) * ldc + 8), c##r##1);
    LINGER_AVX2_STORE(0)
    LINGER_AVX2_STORE(1)
    LINGER_AVX2_STORE(2)
    LINGER_AVX2_STORE(3)
    LINGER_AVX2_STORE(4)
    LINGER_AVX2_STORE(5)
#undef LINGER_AVX2_STORE
    return;
  }
  alignas(32) int32_t t[kMr * kNr];
#define LINGER_AVX2_TMP(r)                                                     \
  _mm256_store_si256(reinterpret_cast<__m256i*>(t + (r) * kNr), c##r##0); \
  _mm256_store_si256(reinterpret_cast<__m256i*>(t + (r) * kNr + 8), c##r##1);
  LINGER_AVX2_TMP(0)
  LINGER_AVX2_TMP(1)
  LINGER_AVX2_TMP(2)
  LINGER_AVX2_TMP(3)
  LINGER_AVX2_TMP(4)
  LINGER_AVX2_TMP(5)
#undef LINGER_AVX2_TMP
  for (int64_t r = 0; r < mv; ++r)
    for (int64_t j = 0; j < nv; ++j) c[r * ldc + j] = t[r * kNr + j];
}

// The requantisation of 8 accumulators (see requant_row_s8 in opt_internal.h):
//   v = sat32(c + bias): the wrapped sum, replaced by INT32_MAX / INT32_MIN where
//       c and bias have the same sign and the sum's sign differs (overflow);
//   rhu_shift for 1 <= shift <= 63: t = v >> (shift - 1) (a count above 31 fills
//       with the sign, which is the int64 result for an int32 v), then
//       (t >> 1) + (t & 1), which cannot overflow; shift 0: v;
//   clamp to [lo, hi] (inside the out_bits range: the saturation and the
//       fused activation in one step).
struct Requant {
  __m256i bias, lo, hi, one, max32;
  __m128i count;  // shift - 1
  bool shifted;
  bool check;  // c + bias may leave the int32 range: saturate
  // c + bias + 2^(shift-1) stays inside int32: rhu_shift(c + bias, shift) =
  // floor((c + bias + 2^(shift-1)) / 2^shift) is one add (bias holds
  // bias + 2^(shift-1)) and one arithmetic shift (count holds shift).
  bool rounded;
};

Requant make_requant(int32_t bias, int32_t lo, int32_t hi, int shift, int64_t acc_max = INT32_MAX) {
  Requant q;
  q.bias = _mm256_set1_epi32(bias);
  q.lo = _mm256_set1_epi32(lo);
  q.hi = _mm256_set1_epi32(hi);
  q.one = _mm256_set1_epi32(1);
  q.max32 = _mm256_set1_epi32(INT32_MAX);
  q.count = _mm_cvtsi32_si128(shift > 0 ? shift - 1 : 0);
  q.shifted = shift > 0;
  q.check = (bias < 0 ? -int64_t{bias} : int64_t{bias}) + acc_max > INT32_MAX;
  q.rounded = false;
  if (shift > 0 && shift <= 31 && !q.check) {
    const int64_t b = int64_t{bias} + (int64_t{1} << (shift - 1));
    if (b + acc_max <= INT32_MAX && b - acc_max >= INT32_MIN) {
      q.rounded = true;
      q.bias = _mm256_set1_epi32(static_cast<int32_t>(b));
      q.count = _mm_cvtsi32_si128(shift);
    }
  }
  return q;
}

__m256i requant8(const Requant& q, __m256i acc) {
  if (q.rounded)
    return _mm256_min_epi32(_mm256_max_epi32(_mm256_sra_epi32(_mm256_add_epi32(acc, q.bias), q.count), q.lo), q.hi);
  const __m256i sum = _mm256_add_epi32(acc, q.bias);
  __m256i v = sum;
  if (q.check) {
    // Overflow where sign(acc) == sign(bias) != sign(sum): the sign bit of (sum ^ acc) & ~(acc ^ bias).
    const __m256i ovf =
        _mm256_srai_epi32(_mm256_andnot_si256(_mm256_xor_si256(acc, q.bias), _mm256_xor_si256(sum, acc)), 31);
    const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(acc, 31), q.max32);  // acc < 0 ? INT32_MIN : INT32_MAX
    v = _mm256_blendv_epi8(sum, sat, ovf);
  }
  if (q.shifted) {
    const __m256i t = _mm256_sra_epi32(v, q.count);
    v = _mm256_add_epi32(_mm256_srai_epi32(t, 1), _mm256_and_si256(t, q.one));
  }
  return _mm256_min_epi32(_mm256_max_epi32(v, q.lo), q.hi);
}

__m256i load8(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
__m256i loadu(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
void storeu(void* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// 32 int32 -> 32 int8 (values already in range: the saturating packs are exact;
// the lane-wise packs leave dwords in the order 0 4 1 5 2 6 3 7).
__m256i pack32_s8(__m256i a, __m256i b, __m256i d, __m256i e) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(d, e));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The int16 values of the even bytes of 32 bytes at p (sign-extended), in order.
__m256i even_bytes_i16(const int8_t* p) { return _mm256_srai_epi16(_mm256_slli_epi16(loadu(p), 8), 8); }

template <bool kStride2>
void depthwise_plane(const int8_t* xp, int64_t wp, const int8_t* wk, int kh, int kw, int stride_h, int dil_h,
                     int dil_w, int64_t oh, int64_t ow, int32_t* acc) {
  // Taps in pairs (t0, t1): _mm256_madd_epi16 of the interleaved int16 pixels
  // of both taps with the broadcast weight pair gives w0*x0 + w1*x1 per pixel
  // (at most 2^15 in magnitude). An odd last tap is paired with weight 0.
  const int taps = kh * kw;
  const int pairs = (taps + 1) / 2;
  int64_t off[64];  // pixel offset of each tap within the padded plane
  int32_t wpair[32];
  if (pairs > 32) return;  // the caller only sends taps <= 64
  for (int t = 0; t < 2 * pairs; ++t) {
    const int tt = t < taps ? t : taps - 1;
    off[t] = (tt / kw) * dil_h * wp + (tt % kw) * dil_w;
  }
  for (int p = 0; p < pairs; ++p) {
    const int16_t w0 = wk[2 * p];
    const int16_t w1 = 2 * p + 1 < taps ? wk[2 * p + 1] : int16_t{0};
    wpair[p] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(w0)) |
                                    (static_cast<uint32_t>(static_cast<uint16_t>(w1)) << 16));
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int8_t* row = xp + oy * stride_h * wp;
    int32_t* arow = acc + oy * ow;
    for (int64_t ox = 0; ox < ow; ox += 16) {
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
      const int8_t* base = row + (kStride2 ? 2 * ox : ox);
      for (int p = 0; p < pairs; ++p) {
        const __m256i x0 = kStride2 ? even_bytes_i16(base + off[2 * p]) : load_i8_as_i16(base + off[2 * p]);
        const __m256i x1 = kStride2 ? even_bytes_i16(base + off[2 * p + 1]) : load_i8_as_i16(base + off[2 * p + 1]);
        const __m256i wv = _mm256_set1_epi32(wpair[p]);
        // In-lane interleave: lo holds pixels 0-3 | 8-11, hi pixels 4-7 | 12-15.
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wv));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wv));
      }
      const __m256i p0 = _mm256_permute2x128_si256(lo, hi, 0x20);  // pixels 0-7
      const __m256i p1 = _mm256_permute2x128_si256(lo, hi, 0x31);  // pixels 8-15
      storeu(arow + ox, p0);  // past the row end: the next row or the slack (see opt_internal.h)
      storeu(arow + ox + 8, p1);
    }
  }
}

// y = clamp(round_half_up(x * 2^q), lo, hi) for 8 floats (no NaN; see quantize_s8).
__m256i quant8(__m256 x, __m256 scale, __m256 flo, __m256 fhi, __m256 half) {
  // x * 2^q in float is the exact product unless it overflows (then +-inf,
  // which saturates like the exact value) or falls below the normal range
  // (then |v| < 2^-126 and both round to 0). Clamping to [lo - 1, hi + 1]
  // keeps the saturation and makes the conversion safe. Then
  // floor(v + 1/2) = r + (v - r == 1/2) with r = round-to-nearest-even(v):
  // v - r is exact (|v| < 2^24, r the nearest integer), and a tie rounded down
  // to even is the one case where round-half-up differs.
  __m256 v = _mm256_mul_ps(x, scale);
  v = _mm256_min_ps(_mm256_max_ps(v, flo), fhi);
  const __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 tie = _mm256_cmp_ps(_mm256_sub_ps(v, r), half, _CMP_EQ_OQ);
  const __m256i ri = _mm256_cvtps_epi32(r);
  return _mm256_sub_epi32(ri, _mm256_castps_si256(tie));  // tie lanes are all ones (-1): + 1
}

}  // namespace

void depthwise_plane_s1(const int8_t* xp, int64_t wp, const int8_t* wk, int kh, int kw, int stride_h, int dil_h,
                        int dil_w, int64_t oh, int64_t ow, int32_t* acc) {
  depthwise_plane<false>(xp, wp, wk, kh, kw, stride_h, dil_h, dil_w, oh, ow, acc);
}

void depthwise_plane_s2(const int8_t* xp, int64_t wp, const int8_t* wk, int kh, int kw, int stride_h, int dil_h,
                        int dil_w, int64_t oh, int64_t ow, int32_t* acc) {
  depthwise_plane<true>(xp, wp, wk, kh, kw, stride_h, dil_h, dil_w, oh, ow, acc);
}

void requant_row_s8(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int8_t* y,
                     int64_t acc_max) {
  const Requant q = make_requant(bias, lo, hi, shift, acc_max);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32)
    storeu(y + j, pack32_s8(requant8(q, load8(c + j)), requant8(q, load8(c + j + 8)), requant8(q, load8(c + j + 16)),
                            requant8(q, load8(c + j + 24))));
  if (j < n && n >= 32) {  // the last 32 again, overlapping: the same values rewritten (no tail copy)
    j = n - 32;
    storeu(y + j, pack32_s8(requant8(q, load8(c + j)), requant8(q, load8(c + j + 8)), requant8(q, load8(c + j + 16)),
                            requant8(q, load8(c + j + 24))));
  } else if (j < n) {
    alignas(32) int32_t t[32] = {};
    alignas(32) int8_t o[32];
    std::memcpy(t, c + j, static_cast<size_t>(n - j) * 4);
    storeu(o, pack32_s8(requant8(q, load8(t)), requant8(q, load8(t + 8)), requant8(q, load8(t + 16)),
                        requant8(q, load8(t + 24))));
    std::memcpy(y + j, o, static_cast<size_t>(n - j));
  }
}

void requant_row_s16(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int16_t* y,
                     int64_t acc_max) {
  const Requant q = make_requant(bias, lo, hi, shift, acc_max);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256i p = _mm256_packs_epi32(requant8(q, load8(c + j)), requant8(q, load8(c + j + 8)));
    storeu(y + j, _mm256_permute4x64_epi64(p, 0xD8));  // qwords 0 2 1 3
  }
  if (j < n && n >= 16) {  // the last 16 again, overlapping
    j = n - 16;
    const __m256i p = _mm256_packs_epi32(requant8(q, load8(c + j)), requant8(q, load8(c + j + 8)));
    storeu(y + j, _mm256_permute4x64_epi64(p, 0xD8));
  } else if (j < n) {
    alignas(32) int32_t t[16] = {};
    alignas(32) int16_t o[16];
    std::memcpy(t, c + j, static_cast<size_t>(n - j) * 4);
    const __m256i p = _mm256_packs_epi32(requant8(q, load8(t)), requant8(q, load8(t + 8)));
    storeu(o, _mm256_permute4x64_epi64(p, 0xD8));
    std::memcpy(y + j, o, static_cast<size_t>(n - j) * 2);
  }
}

void requant_row_s32(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int32_t* y,
                     int64_t acc_max) {
  const Requant q = make_requant(bias, lo, hi, shift, acc_max);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) storeu(y + j, requant8(q, load8(c + j)));
  if (j < n && n >= 8 && static_cast<const void*>(y) != static_cast<const void*>(c)) {  // the last 8 again
    j = n - 8;
    storeu(y + j, requant8(q, load8(c + j)));
  } else if (j < n) {
    alignas(32) int32_t t[8] = {};
    alignas(32) int32_t o[8];
    std::memcpy(t, c + j, static_cast<size_t>(n - j) * 4);
    storeu(o, requant8(q, load8(t)));
    std::memcpy(y + j, o, static_cast<size_t>(n - j) * 4);
  }
}

void batchnorm_row_s8(const int8_t* x, int64_t n, int32_t w, int32_t bias, int shift, int8_t* y) {
  const Requant q = make_requant(bias, -128, 127, shift, 16384);  // |x * w| <= 2^14
  const __m256i wv = _mm256_set1_epi32(w);
  auto prod = [&](const int8_t* p) {  // 8 products x * w (|x * w| <= 2^14, exact in int32)
    int64_t v;
    std::memcpy(&v, p, 8);
    return _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v)), wv);
  };
  int64_t j = 0;
  for (; j + 32 <= n; j += 32)
    storeu(y + j, pack32_s8(requant8(q, prod(x + j)), requant8(q, prod(x + j + 8)), requant8(q, prod(x + j + 16)),
                            requant8(q, prod(x + j + 24))));
  if (j < n) {
    alignas(32) int8_t t[32] = {};
    alignas(32) int8_t o[32];
    std::memcpy(t, x + j, static_cast<size_t>(n - j));
    storeu(o, pack32_s8(requant8(q, prod(t)), requant8(q, prod(t + 8)), requant8(q, prod(t + 16)),
                        requant8(q, prod(t + 24))));
    std::memcpy(y + j, o, static_cast<size_t>(n - j));
  }
}

void clamp_row_s8(const int8_t* x, int64_t n, int8_t lo, int8_t hi, int8_t* y) {
  const __m256i l = _mm256_set1_epi8(lo), h = _mm256_set1_epi8(hi);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) storeu(y + j, _mm256_min_epi8(_mm256_max_epi8(loadu(x + j), l), h));
  for (; j < n; ++j) y[j] = x[j] < lo ? lo : (x[j] > hi ? hi : x[j]);
}

void copy_stride2(const int8_t* src, int64_t n, int8_t* dst) {
  int64_t i = 0;
  for (; i + 32 < n; i += 32)  // reads src[2i .. 2i + 63], not past src[2n - 2] (the last one needed)
    storeu(dst + i, _mm256_permute4x64_epi64(
                        _mm256_packs_epi16(even_bytes_i16(src + 2 * i), even_bytes_i16(src + 2 * i + 32)), 0xD8));
  for (; i < n; ++i) dst[i] = src[2 * i];
}

namespace {
// sat8(rhu_shift(v, s)) in int16 lanes holding int8 values (see iqadd_row_s8).
__m256i rescale_i16(__m256i v, int s) {
  if (s == 0) return v;
  if (s > 0) {
    const __m256i t = _mm256_sra_epi16(v, _mm_cvtsi32_si128(s - 1 < 15 ? s - 1 : 15));
    return _mm256_add_epi16(_mm256_srai_epi16(t, 1), _mm256_and_si256(t, _mm256_set1_epi16(1)));
  }
  // Left shift, exact in int16 up to 8 places (|v| <= 128); from 8 places on,
  // every nonzero value saturates, as it does with the exact product.
  const __m256i u = _mm256_sll_epi16(v, _mm_cvtsi32_si128(-s < 8 ? -s : 8));
  return _mm256_min_epi16(_mm256_max_epi16(u, _mm256_set1_epi16(-128)), _mm256_set1_epi16(127));
}
__m256i load16_i8(const int8_t* p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
}  // namespace

int64_t iqadd_row_s8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m256i s0 = _mm256_add_epi16(rescale_i16(load16_i8(a + j), sa), rescale_i16(load16_i8(b + j), sb));
    const __m256i s1 =
        _mm256_add_epi16(rescale_i16(load16_i8(a + j + 16), sa), rescale_i16(load16_i8(b + j + 16), sb));
    storeu(y + j, _mm256_permute4x64_epi64(_mm256_packs_epi16(s0, s1), 0xD8));  // sat8 of the sum
  }
  return j;
}

void max_row(int8_t* dst, const int8_t* src, int64_t n) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) storeu(dst + j, _mm256_max_epi8(loadu(dst + j), loadu(src + j)));
  for (; j + 16 <= n; j += 16) {
    __m128i* d = reinterpret_cast<__m128i*>(dst + j);
    _mm_storeu_si128(d, _mm_max_epi8(_mm_loadu_si128(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j))));
  }
  for (; j < n; ++j) dst[j] = dst[j] < src[j] ? src[j] : dst[j];
}

void max_window_row(const int8_t* r, int64_t ow, int kw, int stride, int8_t* y) {
  // Whole vectors also for the last, partial block: r stays readable past the
  // windows (see opt_internal.h); the extra outputs go to a buffer and are dropped.
  alignas(32) int8_t tmp[32];
  if (stride == 1) {
    for (int64_t ox = 0; ox < ow; ox += 32) {
      __m256i m = loadu(r + ox);
      for (int kx = 1; kx < kw; ++kx) m = _mm256_max_epi8(m, loadu(r + ox + kx));
      if (ox + 32 <= ow) {
        storeu(y + ox, m);
      } else {
        storeu(tmp, m);
        std::memcpy(y + ox, tmp, static_cast<size_t>(ow - ox));
      }
    }
    return;
  }
  if (stride == 2) {
    for (int64_t ox = 0; ox < ow; ox += 16) {
      __m256i m = even_bytes_i16(r + 2 * ox);
      for (int kx = 1; kx < kw; ++kx) m = _mm256_max_epi16(m, even_bytes_i16(r + 2 * ox + kx));
      // 16 int16 in order -> 16 int8 (values in range: the pack is exact).
      const __m128i p = _mm_packs_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
      if (ox + 16 <= ow) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ox), p);
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), p);
        std::memcpy(y + ox, tmp, static_cast<size_t>(ow - ox));
      }
    }
    return;
  }
  for (int64_t ox = 0; ox < ow; ++ox) {
    int8_t m = r[ox * stride];
    for (int kx = 1; kx < kw; ++kx) m = m < r[ox * stride + kx] ? r[ox * stride + kx] : m;
    y[ox] = m;
  }
}

void maxpool2x2_s2_plane(const int8_t* x, int64_t w, int64_t oh, int64_t ow, int8_t* y, const int8_t* x_end,
                         const int8_t* y_end) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int8_t* r0 = x + 2 * oy * w;
    const int8_t* r1 = r0 + w;
    int8_t* yr = y + oy * ow;
    for (int64_t ox = 0; ox < ow; ox += 16) {
      if (x_end - (r1 + 2 * ox) >= 32 && y_end - (yr + ox) >= 16) {
        const __m256i v = _mm256_max_epi8(loadu(r0 + 2 * ox), loadu(r1 + 2 * ox));  // 16 column pairs
        // int16 lanes: even bytes (sign-extended) against odd bytes, in order.
        const __m256i m = _mm256_max_epi16(_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), _mm256_srai_epi16(v, 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(yr + ox),
                         _mm_packs_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1)));
      } else {
        for (int64_t j = ox; j < ow && j < ox + 16; ++j) {
          int8_t m = r0[2 * j];
          m = m < r0[2 * j + 1] ? r0[2 * j + 1] : m;
          m = m < r1[2 * j] ? r1[2 * j] : m;
          yr[j] = m < r1[2 * j + 1] ? r1[2 * j + 1] : m;
        }
      }
    }
  }
}

int64_t quantize_s8(const float* x, int64_t n, float scale_q, int8_t* y) {
  const __m256 scale = _mm256_set1_ps(scale_q);
  const __m256 flo = _mm256_set1_ps(-129.0f), fhi = _mm256_set1_ps(128.0f), half = _mm256_set1_ps(0.5f);
  const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 v[4];
    __m256 nan = _mm256_setzero_ps();
    for (int t = 0; t < 4; ++t) {
      v[t] = _mm256_loadu_ps(x + j + 8 * t);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[t], v[t], _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) break;
    __m256i r[4];
    for (int t = 0; t < 4; ++t) r[t] = _mm256_min_epi32(_mm256_max_epi32(quant8(v[t], scale, flo, fhi, half), lo), hi);
    storeu(y + j, pack32_s8(r[0], r[1], r[2], r[3]));
  }
  return j;
}

int64_t quantize_s16(const float* x, int64_t n, float scale_q, int16_t* y) {
  const __m256 scale = _mm256_set1_ps(scale_q);
  const __m256 flo = _mm256_set1_ps(-32769.0f), fhi = _mm256_set1_ps(32768.0f), half = _mm256_set1_ps(0.5f);
  const __m256i lo = _mm256_set1_epi32(-32768), hi = _mm256_set1_epi32(32767);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + j), v1 = _mm256_loadu_ps(x + j + 8);
    if (_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q))))
      break;
    const __m256i r0 = _mm256_min_epi32(_mm256_max_epi32(quant8(v0, scale, flo, fhi, half), lo), hi);
    const __m256i r1 = _mm256_min_epi32(_mm256_max_epi32(quant8(v1, scale, flo, fhi, half), lo), hi);
    storeu(y + j, _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8));
  }
  return j;
}

void dequantize_s8(const int8_t* x, int64_t n, float scale, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    int64_t v;
    std::memcpy(&v, x + j, 8);
    const __m256i q = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
    _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), s));
  }
  for (; j < n; ++j) y[j] = static_cast<float>(x[j]) * scale;
}

void dequantize_s16(const int16_t* x, int64_t n, float scale, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i q = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + j)));
    _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), s));
  }
  for (; j < n; ++j) y[j] = static_cast<float>(x[j]) * scale;
}

void dequantize_s32(const int32_t* x, int64_t n, float scale, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(load8(x + j)), s));
  for (; j < n; ++j) y[j] = static_cast<float>(x[j]) * scale;
}

void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int16_t* out) {
  const int64_t kpairs = (k + 1) / 2;
  const int64_t panels = (m + kMr - 1) / kMr;
  for (int64_t p = 0; p < panels; ++p) {
    int16_t* dst = out + p * kMr * 2 * kpairs;
    for (int r = 0; r < kMr; ++r) {
      const int64_t i = p * kMr + r;
      int16_t* d = dst + 2 * r;
      if (i < m) {
        const int8_t* row = a + i * lda;
        for (int64_t q = 0; q < k / 2; ++q) {
          d[q * (2 * kMr)] = row[2 * q];
          d[q * (2 * kMr) + 1] = row[2 * q + 1];
        }
        if (k & 1) {
          d[(k / 2) * (2 * kMr)] = row[k - 1];
          d[(k / 2) * (2 * kMr) + 1] = 0;
        }
      } else {
        for (int64_t q = 0; q < kpairs; ++q) d[q * (2 * kMr)] = d[q * (2 * kMr) + 1] = 0;
      }
    }
  }
}

void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, int16_t* out) {
  const int64_t kpairs = (k + 1) / 2;
  const int64_t panels = (n + kNr - 1) / kNr;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * kNr;
    const int64_t nv = min64(kNr, n - j0);
    int16_t* dst = out + p * kNr * 2 * kpairs;
    for (int64_t q = 0; q < kpairs; ++q) {
      const int8_t* r0 = b + koff[2 * q] + j0;
      const int8_t* r1 = 2 * q + 1 < k ? b + koff[2 * q + 1] + j0 : nullptr;
      int16_t* d = dst + q * 2 * kNr;
      if (nv == kNr) {
        const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0));
        const __m128i x1 = r1 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1)) : _mm_setzero_si128();
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)));
      } else {
        for (int64_t j = 0; j < kNr; ++j) {
          d[2 * j] = j < nv ? r0[j] : 0;
          d[2 * j + 1] = (j < nv && r1) ? r1[j] : 0;
        }
      }
    }
  }
}

void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, int16_t* out) {
  const int64_t kpad = (k + 1) / 2 * 2;
  const int64_t panels = (n + kNr - 1) / kNr;
  for (int64_t p = 0; p < panels; ++p) {
    int16_t* dst = out + p * kNr * kpad;
    for (int64_t jj = 0; jj < kNr; ++jj) {
      const int64_t j = p * kNr + jj;
      int16_t* d = dst + 2 * jj;
      if (j < n) {
        const int8_t* row = b + j * ldn;
        for (int64_t kk = 0; kk < k; ++kk) d[(kk >> 1) * (2 * kNr) + (kk & 1)] = row[kk];
        if (k & 1) d[(k >> 1) * (2 * kNr) + 1] = 0;
      } else {
        for (int64_t kk = 0; kk < kpad; ++kk) d[(kk >> 1) * (2 * kNr) + (kk & 1)] = 0;
      }
    }
  }
}

void gemm_packed(const int16_t* ap, const int16_t* bp, int64_t m, int64_t n, int64_t kpad, int32_t* c,
                 int64_t ldc) {
  const int64_t kpairs = kpad / 2;
  // B panel outer (kept in L1 across the A panels), A panels inner.
  for (int64_t j0 = 0; j0 < n; j0 += kNr) {
    const int16_t* bpanel = bp + (j0 / kNr) * kNr * kpad;
    const int64_t nv = min64(kNr, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += kMr) {
      const int16_t* apanel = ap + (i0 / kMr) * kMr * kpad;
      kernel_6x16(apanel, bpanel, kpairs, c + i0 * ldc + j0, ldc, min64(kMr, m - i0), nv);
    }
  }
}

void gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
              int64_t n, int64_t k) {
  const int64_t k16 = k / 16 * 16;
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ar = a + i * lda;
    int32_t* cr = c + i * ldc;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const int8_t* b0 = b + j * ldb;
      const int8_t* b1 = b0 + ldb;
      const int8_t* b2 = b1 + ldb;
      const int8_t* b3 = b2 + ldb;
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
      __m256i s2 = _mm256_setzero_si256(), s3 = _mm256_setzero_si256();
      for (int64_t kk = 0; kk < k16; kk += 16) {
        const __m256i va = load_i8_as_i16(ar + kk);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(va, load_i8_as_i16(b0 + kk)));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(va, load_i8_as_i16(b1 + kk)));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(va, load_i8_as_i16(b2 + kk)));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(va, load_i8_as_i16(b3 + kk)));
      }
      uint32_t t0 = hsum_epi32(s0), t1 = hsum_epi32(s1), t2 = hsum_epi32(s2), t3 = hsum_epi32(s3);
      for (int64_t kk = k16; kk < k; ++kk) {
        const int32_t av = ar[kk];
        t0 += static_cast<uint32_t>(av * b0[kk]);
        t1 += static_cast<uint32_t>(av * b1[kk]);
        t2 += static_cast<uint32_t>(av * b2[kk]);
        t3 += static_cast<uint32_t>(av * b3[kk]);
      }
      cr[j] = static_cast<int32_t>(t0);
      cr[j + 1] = static_cast<int32_t>(t1);
      cr[j + 2] = static_cast<int32_t>(t2);
      cr[j + 3] = static_cast<int32_t>(t3);
    }
    for (; j < n; ++j) {
      const int8_t* br = b + j * ldb;
      __m256i s = _mm256_setzero_si256();
      for (int64_t kk = 0; kk < k16; kk += 16)
        s = _mm256_add_epi32(s, _mm256_madd_epi16(load_i8_as_i16(ar + kk), load_i8_as_i16(br + kk)));
      uint32_t t = hsum_epi32(s);
      for (int64_t kk = k16; kk < k; ++kk) t += static_cast<uint32_t>(int32_t{ar[kk]} * br[kk]);
      cr[j] = static_cast<int32_t>(t);
    }
  }
}

namespace {

// NB consecutive blocks of kMvRows rows: NB independent accumulator chains over the k-pairs.
template <int NB>
void matvec_blocks(const int16_t* wp, const int32_t* vpairs, int64_t kpairs, int64_t rows_left, int32_t* acc) {
  __m256i s[NB];
  for (int i = 0; i < NB; ++i) s[i] = _mm256_setzero_si256();
  const int64_t block = kpairs * 2 * kMvRows;  // int16 per block
  for (int64_t p = 0; p < kpairs; ++p) {
    const __m256i vv = _mm256_set1_epi32(vpairs[p]);
    const int16_t* w = wp + p * 2 * kMvRows;
    for (int i = 0; i < NB; ++i)
      s[i] = _mm256_add_epi32(
          s[i], _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * block)), vv));
  }
  for (int i = 0; i < NB; ++i) {
    const int64_t n = rows_left - int64_t{i} * kMvRows;
    if (n >= kMvRows) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * kMvRows), s[i]);
    } else if (n > 0) {
      alignas(32) int32_t t[kMvRows];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), s[i]);
      std::memcpy(acc + i * kMvRows, t, static_cast<size_t>(n) * sizeof(int32_t));
    }
  }
}

}  // namespace

void matvec_packed(const int16_t* wp, const int32_t* v, int64_t rows, int64_t kpairs, int32_t* acc) {
  const int64_t blocks = (rows + kMvRows - 1) / kMvRows, block = kpairs * 2 * kMvRows;
  int64_t b = 0;
  for (; b + 8 <= blocks; b += 8) matvec_blocks<8>(wp + b * block, v, kpairs, rows - b * kMvRows, acc + b * kMvRows);
  for (; b + 4 <= blocks; b += 4) matvec_blocks<4>(wp + b * block, v, kpairs, rows - b * kMvRows, acc + b * kMvRows);
  for (; b < blocks; ++b) matvec_blocks<1>(wp + b * block, v, kpairs, rows - b * kMvRows, acc + b * kMvRows);
}

namespace {

__m256i clamp32(__m256i v, int32_t lo, int32_t hi) {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// clamp(rhu_shift(v, s), lo, hi) for int32 lanes, any s, |lo|, |hi| <= 2^15 (numerics::rhu_shift then a
// saturation). s > 0: t = v >> (s - 1), (t >> 1) + (t & 1) (an arithmetic shift by 32 or more gives the
// sign, the same as 31: the result is then 0, as for rhu_shift). s <= 0: the exact v * 2^-s saturates
// exactly when clamp(v) * 2^-s does, and a shift by 16 already saturates every nonzero clamped value, so
// the shift is capped at 16 (no int32 overflow).
__m256i shift_sat(__m256i v, int s, int32_t lo, int32_t hi) {
  if (s > 0) {
    const __m256i t = _mm256_sra_epi32(v, _mm_cvtsi32_si128(s - 1 < 31 ? s - 1 : 31));
    const __m256i r = _mm256_add_epi32(_mm256_srai_epi32(t, 1), _mm256_and_si256(t, _mm256_set1_epi32(1)));
    return clamp32(r, lo, hi);
  }
  const __m256i c = clamp32(v, lo, hi);
  if (s == 0) return c;
  return clamp32(_mm256_sll_epi32(c, _mm_cvtsi32_si128(-s < 16 ? -s : 16)), lo, hi);
}

// gi + b (b may be null).
__m256i acc8(const int32_t* a, const int32_t* b) {
  return b ? _mm256_add_epi32(load8(a), load8(b)) : load8(a);
}

// The table entry of each lane x (table points at the entry of x = 0; x inside its range), sign-extended.
__m256i table8(const int8_t* table, __m256i x) {
  const __m256i g = _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), x, 1);
  return _mm256_srai_epi32(_mm256_slli_epi32(g, 24), 24);
}

}  // namespace

int64_t gru_cell_s32(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int64_t hidden,
                     int64_t n, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out, const int8_t* sig,
                     int32_t sig_lo, int32_t sig_hi, const int8_t* tanh, int32_t tanh_lo, int32_t tanh_hi) {
  const int64_t H = hidden, n8 = n / 8 * 8;
  const int si = qi - 11, sh = qhh - 11;
  const __m256i c128 = _mm256_set1_epi32(128);
  for (int64_t u = 0; u < n8; u += 8) {
    const __m256i ri = shift_sat(acc8(gi32 + u, b_ih ? b_ih + u : nullptr), si, -32768, 32767);
    const __m256i rh = shift_sat(acc8(gh32 + u, b_hh ? b_hh + u : nullptr), sh, -32768, 32767);
    const __m256i r = table8(sig, clamp32(_mm256_add_epi32(ri, rh), sig_lo, sig_hi));
    const __m256i zi = shift_sat(acc8(gi32 + H + u, b_ih ? b_ih + H + u : nullptr), si, -32768, 32767);
    const __m256i zh = shift_sat(acc8(gh32 + H + u, b_hh ? b_hh + H + u : nullptr), sh, -32768, 32767);
    const __m256i z = table8(sig, clamp32(_mm256_add_epi32(zi, zh), sig_lo, sig_hi));
    const __m256i nh = shift_sat(acc8(gh32 + 2 * H + u, b_hh ? b_hh + 2 * H + u : nullptr), sh, -32768, 32767);
    const __m256i rhn = shift_sat(_mm256_mullo_epi32(r, nh), 7, -32768, 32767);  // |r * nh| < 2^22
    const __m256i ni = shift_sat(acc8(gi32 + 2 * H + u, b_ih ? b_ih + 2 * H + u : nullptr), si, -32768, 32767);
    const __m256i nn = table8(tanh, clamp32(_mm256_add_epi32(ni, rhn), tanh_lo, tanh_hi));
    int64_t hp8;
    std::memcpy(&hp8, h_prev + u, sizeof hp8);
    const __m256i hp = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(hp8));
    const __m256i h7 = shift_sat(hp, qh - 7, -32768, 32767);
    // |z * h7| <= 127 * 2^15, |(128 - z) * n| <= 2^14: the sum fits int32
    const __m256i blend = _mm256_add_epi32(_mm256_mullo_epi32(z, h7), _mm256_mullo_epi32(_mm256_sub_epi32(c128, z), nn));
    const __m256i h = shift_sat(blend, 14 - qh, -128, 127);
    const __m256i p16 = _mm256_packs_epi32(h, h);     // per 128-bit half: 4 values, twice
    const __m256i p8 = _mm256_packs_epi16(p16, p16);  // per half: the 4 values as bytes at the bottom
    const int32_t lo4 = _mm_cvtsi128_si32(_mm256_castsi256_si128(p8));
    const int32_t hi4 = _mm_cvtsi128_si32(_mm256_extracti128_si256(p8, 1));
    std::memcpy(h_out + u, &lo4, 4);
    std::memcpy(h_out + u + 4, &hi4, 4);
  }
  return n8;
}

}  // namespace avx2
}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
