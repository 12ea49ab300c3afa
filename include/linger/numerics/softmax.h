// linger integer numerics: SoftmaxInt / LogSoftmaxInt (numerics.md §3).
//
// The chip computes these in a closed DSP routine, so linger defines them here as pure integer
// algorithms in the engine's formats (input aligned to Q25, probabilities at Q15, log-softmax at
// Q25). Deterministic, no float, no heap, no scratch, no __int128; every product below fits int64.
// Rounding: rhu_shift(v, s) = floor(v / 2^s + 1/2) (s < 0: exact left shift, saturated to int64),
// rhu_div(a, b) = floor(a / b + 1/2), ">>" = arithmetic (flooring) shift (fixedpoint.h).
//
// One row: n int8 codes x_i = x[i*stride] at exponent qx (real value x_i * 2^-qx).
// Preconditions: 1 <= n <= 2^24, -32 <= qx <= 32 (qo: any int with |qo| < 2^30).
//
// 1. Difference to the row max, exact: M = max_i x_i, d_i = x_i - M in [-255, 0].
//    (Aligning x to Q25 first, x * 2^(25-qx), and then subtracting the aligned max gives the same
//    values for qx <= 25; for qx > 25 the difference is kept exact instead of rounded to Q25.)
// 2. Base-2 exponent at Q30: T_i = max(rhu_shift(d_i * L, qx + 1), -2^36),
//    L = round(log2(e) * 2^31) = 3098164009 (so T_i = round(d_i * 2^-qx * log2(e) * 2^30)).
//    The clamp (t >= -64) changes nothing downstream: every t < -41 gives E = 0 in step 3.
// 3. E_i = 2^(T_i / 2^30) at Q38 (exp2_q38):
//      k = T >> 30 (in [-64, 0]), f = T - k * 2^30 (in [0, 2^30)),
//      j = f >> 25 (in [0, 31]), g = f - j * 2^25 (in [0, 2^25)),
//      h = C4; h = C3 + rhu_shift(h*g, 30); h = C2 + rhu_shift(h*g, 30);
//              h = C1 + rhu_shift(h*g, 30); h = C0 + rhu_shift(h*g, 30)
//        with Ck = round(ln(2)^k / k! * 2^30) = 1073741824, 744261118, 257941248, 59597083, 10327387
//        (h = 2^(g / 2^30) at Q30: degree-4 Taylor series on [0, 1/32), truncation < 2^-34),
//      m = min(rhu_shift(P[j] * h, 30), P[j+1]),  P[i] = round(2^(i/32) * 2^30), i = 0..32
//        (the min keeps m monotone across the table points),
//      E = rhu_shift(m, -k - 8)            (m * 2^k at Q38; the row max gives exactly 2^38).
// 4. S = sum_i E_i in int64: 2^38 <= S <= n * 2^38 <= 2^62.
// 5. Softmax: p15_i = min(rhu_div(E_i * 2^15, S), 32767) (E_i * 2^15 <= 2^53), in [0, 32767];
//    y_i = sat8(rhu_shift(p15_i, 15 - qo)).
// 6. ln(S / 2^38) at Q40 (ln_sum_q40):
//      b = floor(log2 S) (in [38, 62]), m = S >> (b - 30) (in [2^30, 2^31), i.e. 1 + y at Q30),
//      j = (m - 2^30) >> 25 (in [0, 31]), r = m - 2^30 - j * 2^25 (in [0, 2^25)),
//      v = rhu_div(32 * r, 32 + j)   (ln(1 + v/2^30) = ln(m/2^30) - ln(1 + j/32), v < 2^25),
//      q = K5; q = K4 - rhu_shift(v*q, 30); q = K3 - rhu_shift(v*q, 30); q = K2 - rhu_shift(v*q, 30)
//        with K2 = 2^29, K3 = 357913941, K4 = 2^28, K5 = 214748365 (1/2, 1/3, 1/4, 1/5 at Q30),
//      w = rhu_shift(v*q, 30), u = v - rhu_shift(v*w, 30)
//        (u = ln(1 + v/2^30) at Q30: v - v^2 (1/2 - v/3 + v^2/4 - v^3/5), truncation < 2^-32),
//      F = min(G[j] + u * 2^10, G[j+1]),  G[i] = round(ln(1 + i/32) * 2^40), i = 0..32,
//      lnS = (b - 38) * G[32] + F        (G[32] = round(ln(2) * 2^40) = 762123384786).
// 7. Log-softmax: X_i = max(rhu_shift(d_i, qx - 40), -2^46) (d_i * 2^-qx at Q40; the clamp at -64
//    changes nothing: such a value saturates below anyway),
//    l25_i = sat32(rhu_shift(X_i - lnS, 15)) (<= 0; -2^31 = -64.0 is the saturated floor);
//    y_i = sat8(rhu_shift(l25_i, 25 - qo)).
// The rows run in passes over x (max; sum of E; per element E again or X), so they need no scratch.
//
// Properties (proved by the construction above, checked by the tests):
// - E is a non-decreasing function of d (every step is monotone, the table joins are clamped),
//   lnS is a non-decreasing function of S; so p15 and l25 preserve the order of the inputs, p15_i
//   and l25_i are non-decreasing in x_i, and p15_j / l25_j (j != i) are non-increasing in x_i
//   while x_i is not the strict row max (when the max itself moves, every E is renormalised and
//   the cross-monotonicity holds only up to the approximation error).
// - Adding a constant to every code (without saturating int8) changes nothing (only d is used).
// - The row max always gets E = 2^38 exactly; n = 1 gives p15 = 32767 and l25 = 0.
// Accuracy against exact softmax / log-softmax (E has relative error < 2^-28 -- measured 2^-29.0
// over every reachable (d, qx) -- plus a rounding of <= 2^-39 per element, so S is within
// n * 2^-39 + 2^-28 * S of the exact sum):
// - |p15 - min(32768 * softmax, 32767)| <= 0.5 + 2^-12 + n * 2^-24, so |p15 - round(32768 * softmax)|
//   <= 1 for n <= 2^20 (<= 2 up to 2^24; the 1 includes the clamp 32768 -> 32767).
//   Measured (tests: ~8000 random rows n <= 1000, extremes, n = 100000): p15 is always the correctly
//   rounded clamped value (|p15 - min(32768 * softmax, 32767)| <= 0.499999).
// - |l25 - 2^25 * log_softmax| <= 0.5 + 2^-2 + n * 2^-14 LSB of Q25 (the last term is the sum's
//   worst-case rounding), far inside 2^25 * 2^-12. Measured: <= 0.54 LSB (n <= 1000 and n = 100000).
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

constexpr int kSoftmaxOutExponent = 15;     // p15
constexpr int kLogSoftmaxOutExponent = 25;  // l25
constexpr int64_t kSoftmaxMaxRow = int64_t{1} << 24;

namespace softmax_detail {

constexpr int64_t kLog2eQ31 = 3098164009;        // round(log2(e) * 2^31)
constexpr int64_t kTMin = -(int64_t{64} << 30);  // t >= -64 (Q30)
constexpr int64_t kXMinQ40 = -(int64_t{64} << 40);
constexpr int kSumBits = 38;                     // E and S at Q38

// round(ln(2)^k / k! * 2^30), k = 0..4.
constexpr int64_t kExp2Poly[5] = {1073741824, 744261118, 257941248, 59597083, 10327387};
// round(2^(i/32) * 2^30), i = 0..32.
constexpr int64_t kExp2Tab[33] = {
    1073741824, 1097253708, 1121280436, 1145833280, 1170923762, 1196563654, 1222764986,
    1249540052, 1276901417, 1304861917, 1333434672, 1362633090, 1392470869, 1422962010,
    1454120821, 1485961921, 1518500250, 1551751076, 1585730000, 1620452965, 1655936265,
    1692196547, 1729250827, 1767116489, 1805811301, 1845353420, 1885761398, 1927054196,
    1969251188, 2012372174, 2056437387, 2101467502, 2147483648};
// round(ln(1 + i/32) * 2^40), i = 0..32; the last entry is round(ln(2) * 2^40).
constexpr int64_t kLnTabQ40[33] = {
    0,            33833796510,  66657476617,  98529610469,  129503817259, 159629307968,
    188951355727, 217511705065, 245348929333, 272498743996, 298994282159, 324866337668,
    350143580273, 374852746592, 399018810095, 422665132805, 445813601022, 468484747058,
    490697858666, 512471077639, 533821488828, 554765200687, 575317418281, 595492509607,
    615304065922, 634764956750, 653887380089, 672682908337, 691162530356, 709336690050,
    727215321822, 744807883181, 762123384786};
// 1/2, 1/3, 1/4, 1/5 at Q30 (rounded).
constexpr int64_t kLnK2 = int64_t{1} << 29;
constexpr int64_t kLnK3 = 357913941;
constexpr int64_t kLnK4 = int64_t{1} << 28;
constexpr int64_t kLnK5 = 214748365;

inline int32_t row_max(const int8_t* x, int64_t n, int64_t stride) {
  int32_t m = x[0];
  for (int64_t i = 1; i < n; ++i) {
    const int32_t v = x[i * stride];
    if (v > m) m = v;
  }
  return m;
}

// Step 2: T = max(rhu_shift(d * L, qx + 1), -2^36), d in [-255, 0]; |d * L| < 2^40.
inline int64_t exp2_arg_q30(int32_t d, int qx) {
  const int64_t t = rhu_shift(static_cast<int64_t>(d) * kLog2eQ31, qx + 1);
  return t < kTMin ? kTMin : t;
}

// Step 3: 2^(t / 2^30) at Q38 for t in [-2^36, 0]. All products < 2^62.
inline int64_t exp2_q38(int64_t t) {
  const int64_t k = t >> 30;                    // [-64, 0]
  const int64_t f = t - k * (int64_t{1} << 30);  // [0, 2^30)
  const int j = static_cast<int>(f >> 25);      // [0, 31]
  const int64_t g = f - static_cast<int64_t>(j) * (int64_t{1} << 25);  // [0, 2^25)
  int64_t h = kExp2Poly[4];
  h = kExp2Poly[3] + rhu_shift(h * g, 30);
  h = kExp2Poly[2] + rhu_shift(h * g, 30);
  h = kExp2Poly[1] + rhu_shift(h * g, 30);
  h = kExp2Poly[0] + rhu_shift(h * g, 30);
  int64_t m = rhu_shift(kExp2Tab[j] * h, 30);
  if (m > kExp2Tab[j + 1]) m = kExp2Tab[j + 1];
  return rhu_shift(m, static_cast<int>(-k) - (kSumBits - 30));
}

inline int64_t exp_q38(int32_t d, int qx) { return exp2_q38(exp2_arg_q30(d, qx)); }

// Step 4: S = sum of E over the row (M = row max).
inline int64_t row_sum_q38(const int8_t* x, int64_t n, int64_t stride, int qx, int32_t mx) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += exp_q38(static_cast<int32_t>(x[i * stride]) - mx, qx);
  return s;
}

// Step 5.
inline int32_t p15_of(int64_t e, int64_t s) {
  const int64_t p = rhu_div(e * 32768, s);
  return static_cast<int32_t>(p > 32767 ? 32767 : p);
}

// ln(1 + v / 2^30) at Q30 for v in [0, 2^25): v - v^2 (1/2 - v/3 + v^2/4 - v^3/5); non-decreasing in v.
inline int64_t ln1p_q30(int64_t v) {
  int64_t q = kLnK5;
  q = kLnK4 - rhu_shift(v * q, 30);
  q = kLnK3 - rhu_shift(v * q, 30);
  q = kLnK2 - rhu_shift(v * q, 30);
  const int64_t w = rhu_shift(v * q, 30);
  return v - rhu_shift(v * w, 30);
}

// Step 6: ln(S / 2^38) at Q40 for S in [2^38, 2^62].
inline int64_t ln_sum_q40(int64_t s) {
  int b = kSumBits;
  while (b < 62 && (s >> (b + 1)) != 0) ++b;  // floor(log2 s)
  const int64_t m = s >> (b - 30);            // [2^30, 2^31)
  const int j = static_cast<int>((m - (int64_t{1} << 30)) >> 25);
  const int64_t r = m - (int64_t{1} << 30) - static_cast<int64_t>(j) * (int64_t{1} << 25);
  const int64_t v = rhu_div(32 * r, 32 + j);
  int64_t frac = kLnTabQ40[j] + ln1p_q30(v) * 1024;
  if (frac > kLnTabQ40[j + 1]) frac = kLnTabQ40[j + 1];
  return static_cast<int64_t>(b - kSumBits) * kLnTabQ40[32] + frac;
}

// Step 7.
inline int32_t l25_of(int32_t d, int qx, int64_t ln_s) {
  int64_t xv = rhu_shift(d, qx - 40);
  if (xv < kXMinQ40) xv = kXMinQ40;
  return sat32(rhu_shift(xv - ln_s, 15));
}

}  // namespace softmax_detail

inline void softmax_q15_row(const int8_t* x, int64_t n, int64_t stride, int qx, int32_t* p15) {
  using namespace softmax_detail;
  const int32_t mx = row_max(x, n, stride);
  const int64_t s = row_sum_q38(x, n, stride, qx, mx);
  for (int64_t i = 0; i < n; ++i) p15[i] = p15_of(exp_q38(static_cast<int32_t>(x[i * stride]) - mx, qx), s);
}

inline void softmax_int_row(const int8_t* x, int64_t n, int64_t stride, int qx, int qo, int8_t* y,
                            int64_t ystride) {
  using namespace softmax_detail;
  const int32_t mx = row_max(x, n, stride);
  const int64_t s = row_sum_q38(x, n, stride, qx, mx);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t p = p15_of(exp_q38(static_cast<int32_t>(x[i * stride]) - mx, qx), s);
    y[i * ystride] = sat8(rhu_shift(p, kSoftmaxOutExponent - qo));
  }
}

inline void log_softmax_q25_row(const int8_t* x, int64_t n, int64_t stride, int qx, int32_t* l25) {
  using namespace softmax_detail;
  const int32_t mx = row_max(x, n, stride);
  const int64_t ln_s = ln_sum_q40(row_sum_q38(x, n, stride, qx, mx));
  for (int64_t i = 0; i < n; ++i) l25[i] = l25_of(static_cast<int32_t>(x[i * stride]) - mx, qx, ln_s);
}

inline void log_softmax_int_row(const int8_t* x, int64_t n, int64_t stride, int qx, int qo, int8_t* y,
                                int64_t ystride) {
  using namespace softmax_detail;
  const int32_t mx = row_max(x, n, stride);
  const int64_t ln_s = ln_sum_q40(row_sum_q38(x, n, stride, qx, mx));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t l = l25_of(static_cast<int32_t>(x[i * stride]) - mx, qx, ln_s);
    y[i * ystride] = sat8(rhu_shift(l, kLogSoftmaxOutExponent - qo));
  }
}

}  // namespace numerics
}  // namespace linger
