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

}  // namespace

void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int16_t* out) {
  const int64_t kpad = (k + 1) / 2 * 2;
  const int64_t panels = (m + kMr - 1) / kMr;
  for (int64_t p = 0; p < panels; ++p) {
    int16_t* dst = out + p * kMr * kpad;
    for (int r = 0; r < kMr; ++r) {
      const int64_t i = p * kMr + r;
      int16_t* d = dst + 2 * r;
      if (i < m) {
        const int8_t* row = a + i * lda;
        for (int64_t kk = 0; kk < k; ++kk) d[(kk >> 1) * (2 * kMr) + (kk & 1)] = row[kk];
        if (k & 1) d[(k >> 1) * (2 * kMr) + 1] = 0;
      } else {
        for (int64_t kk = 0; kk < kpad; ++kk) d[(kk >> 1) * (2 * kMr) + (kk & 1)] = 0;
      }
    }
  }
}

void pack_b(const int8_t* b, int64_t ldk, int64_t k, int64_t n, int16_t* out) {
  const int64_t kpairs = (k + 1) / 2;
  const int64_t panels = (n + kNr - 1) / kNr;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * kNr;
    const int64_t nv = min64(kNr, n - j0);
    int16_t* dst = out + p * kNr * 2 * kpairs;
    for (int64_t q = 0; q < kpairs; ++q) {
      const int8_t* r0 = b + 2 * q * ldk + j0;
      const int8_t* r1 = 2 * q + 1 < k ? r0 + ldk : nullptr;
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

}  // namespace avx2
}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
