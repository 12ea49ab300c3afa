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

// ---------------------------------------------------------------------------------------------
// Independent references for the op families (binary, reduce, iqClamp, iqCat, sigmoid/tanh
// tables, softmax). Kept in their own namespace so that files doing `using namespace
// linger_test` keep their local helpers unambiguous. Every result is computed from the
// contract's exact rational value: y = sat8(floor(num / den + 1/2)) is found by bisection over
// the 256 codes (the largest k in [-128, 127] with k - 1/2 <= num/den), never by a shift.
#include <algorithm>
#include <cmath>
#include <vector>

namespace linger_test {
namespace indep {

// sat8(floor(num / den + 1/2)) for den != 0 (|num|, |den| < 2^118).
inline int round_sat8(i128 num, i128 den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  auto at_most = [&](int k) { return (2 * static_cast<i128>(k) - 1) * den <= 2 * num; };  // k - 1/2 <= num/den
  if (!at_most(-128)) return -128;
  int lo = -128, hi = 127;
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (at_most(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// sat8(floor(num * 2^e / den + 1/2)).
inline int scaled8(i128 num, i128 den, int e) {
  if (e >= 0) num *= pow2(e);
  else den *= pow2(-e);
  return round_sat8(num, den);
}

// iqMul: a*b at Qa+Qb to Qo, shift = Qa + Qb - Qo.
inline int iqmul(int a, int b, int shift) { return scaled8(static_cast<i128>(a) * b, 1, -shift); }

// iqDiv: a / b * 2^s, s = Qo - Qa + Qb; b == 0 is the saturated limit (0/0 = 0).
inline int iqdiv(int a, int b, int s) {
  if (b == 0) return a > 0 ? 127 : (a < 0 ? -128 : 0);
  return scaled8(a, b, s);
}

// iqAdd: each operand rescaled (and saturated) on its own, then added and saturated.
inline int iqadd(int a, int b, int sa, int sb) {
  const int s = scaled8(a, 1, -sa) + scaled8(b, 1, -sb);
  return s > 127 ? 127 : (s < -128 ? -128 : s);
}

// iqCat: one input rescaled, shift = Qa - Qo.
inline int iqcat(int a, int shift) { return scaled8(a, 1, -shift); }

// iqClamp with integer thresholds lo <= hi.
inline int iqclamp(int x, int lo, int hi) { return std::min(hi, std::max(lo, x)); }

// quantize(x, Q, 8) of a float bound: sat8(floor(x * 2^Q + 1/2)), in long double (exact for float x).
inline int quantize8(float x, int q) {
  const long double v = std::floor(std::ldexp(static_cast<long double>(x), q) + 0.5L);
  return v > 127 ? 127 : (v < -128 ? -128 : static_cast<int>(v));
}

// iqSum of a row: the exact sum S at Qx, to Qo.
inline int iqsum(const std::vector<int8_t>& x, int qx, int qo) {
  i128 s = 0;
  for (int8_t v : x) s += v;
  return scaled8(s, 1, qo - qx);
}

// iqVar of a row, two-pass: sum (x_i - mean)^2 = sum (n x_i - S1)^2 / n^2, divided by m = n - unbiased,
// at 2Qx, to Qo. n == 1 unbiased (m == 0) gives 0.
inline int iqvar(const std::vector<int8_t>& x, int qx, int qo, bool unbiased) {
  const i128 n = static_cast<i128>(x.size());
  const i128 m = n - (unbiased ? 1 : 0);
  if (m <= 0) return 0;
  i128 s1 = 0;
  for (int8_t v : x) s1 += v;
  i128 num = 0;
  for (int8_t v : x) {
    const i128 d = n * v - s1;
    num += d * d;
  }
  return scaled8(num, n * n * m, qo - 2 * qx);
}

// ---- iqSigmoid / iqTanh: the engine tables (shared/reference/luna-sigmoid-tanh-tables.md), copied
// from test_lut_softmax.cpp's independent re-implementation (per-segment rows, downward scan,
// double arithmetic with std::floor on exact rationals).
struct LutSeg {
  int upper, slope, bias_pos, bias_neg, shift;
};
inline const LutSeg* sigmoid_segs() {
  static const LutSeg s[16] = {
      {971, 32316, 16384, 16384, 13},  {1699, 29471, 16721, 16047, 13}, {2347, 25891, 17464, 15304, 13},
      {2974, 22068, 18559, 14209, 13}, {3614, 18225, 19954, 12814, 13}, {4291, 29057, 21585, 11183, 14},
      {5026, 22206, 23380, 9388, 14},  {5861, 16113, 25249, 7519, 14},  {6831, 10881, 27121, 5647, 14},
      {7864, 27353, 28807, 3961, 16},  {8987, 16611, 30096, 2672, 16},  {10375, 9242, 31107, 1661, 16},
      {11594, 4618, 31839, 929, 16},   {13168, 20670, 32199, 569, 19},  {14730, 8610, 32502, 266, 19},
      {32768, 693, 32724, 44, 19}};
  return s;
}
inline const LutSeg* tanh_segs() {
  static const LutSeg s[16] = {
      {512, 32266, 0, 0, 11},          {888, 29154, 778, 778, 11},       {1226, 25374, 2417, 2417, 11},
      {1558, 21309, 4851, 4851, 11},   {1899, 17272, 7922, 7922, 11},    {2264, 26886, 11474, 11474, 12},
      {2670, 19904, 15334, 15334, 12}, {3146, 13765, 19335, 19335, 12},  {3734, 8599, 23303, 23303, 12},
      {4297, 19497, 26699, 26699, 14}, {4761, 12047, 28653, 28653, 14},  {5466, 7324, 30026, 30026, 14},
      {6151, 3373, 31344, 31344, 14},  {7193, 26820, 31981, 31981, 18},  {8093, 5531, 32565, 32565, 18},
      {32768, 337, 32725, 32725, 18}};
  return s;
}
inline const LutSeg& lut_seg(const LutSeg* segs, int a) {
  for (int j = 15; j >= 1; --j)
    if (a > segs[j - 1].upper) return segs[j];
  return segs[0];
}
inline int lut_q7(double y15, double lo, double hi) {
  return static_cast<int>(std::min(hi, std::max(lo, std::floor(y15 / 256.0 + 0.5))));
}
inline int sigmoid_q11(int x) {
  const LutSeg& s = lut_seg(sigmoid_segs(), std::abs(x));
  const double y15 = std::floor(static_cast<double>(s.slope) * x / std::ldexp(1.0, s.shift)) +
                     (x >= 0 ? s.bias_pos : s.bias_neg);
  return lut_q7(y15, 0, 127);
}
inline int tanh_q11(int x) {
  const int a = x == -32768 ? 32767 : std::abs(x);
  const LutSeg& s = lut_seg(tanh_segs(), a);
  const double prod = static_cast<double>(s.slope) * a / std::ldexp(1.0, s.shift);
  const double y15 = x >= 0 ? std::floor(prod) + s.bias_pos : std::floor(-prod) - s.bias_neg;
  return lut_q7(y15, -128, 127);
}
inline int to_q11(int64_t x, int qx) { return static_cast<int>(clamp_bits(ref_rhu(x, qx - 11), 16)); }
inline int iqsigmoid(int x, int qx) { return sigmoid_q11(to_q11(x, qx)); }
inline int iqtanh(int x, int qx) { return tanh_q11(to_q11(x, qx)); }

// ---- SoftmaxInt / LogSoftmaxInt: copied from test_lut_softmax.cpp's re-implementation of the
// softmax.h specification (__int128, tables computed in long double, not read from the header).
struct SoftmaxTables {
  i128 log2e_q31;
  i128 c[5];
  i128 p[33];
  i128 g[33];
  i128 k3, k5;
  SoftmaxTables() {
    const long double ln2 = std::log(2.0L);
    log2e_q31 = std::llround(std::ldexp(1.0L / ln2, 31));
    long double fact = 1, pw = 1;
    for (int k = 0; k < 5; ++k) {
      if (k > 0) fact *= k, pw *= ln2;
      c[k] = std::llround(std::ldexp(pw / fact, 30));
    }
    for (int i = 0; i <= 32; ++i) {
      p[i] = std::llround(std::ldexp(std::exp2(i / 32.0L), 30));
      g[i] = std::llround(std::ldexp(std::log1p(i / 32.0L), 40));
    }
    k3 = std::llround(std::ldexp(1.0L / 3, 30));
    k5 = std::llround(std::ldexp(1.0L / 5, 30));
  }
};
inline const SoftmaxTables& softmax_tables() {
  static const SoftmaxTables t;
  return t;
}
inline i128 imin(i128 a, i128 b) { return a < b ? a : b; }
inline i128 imax(i128 a, i128 b) { return a > b ? a : b; }

inline i128 softmax_e(int d, int qx) {
  const SoftmaxTables& tb = softmax_tables();
  const i128 t = imax(ref_rhu(d * tb.log2e_q31, qx + 1), -(pow2(36)));
  const i128 k = floor_div(t, pow2(30));
  const i128 f = t - k * pow2(30);
  const int j = static_cast<int>(f / pow2(25));
  const i128 g = f % pow2(25);
  i128 h = tb.c[4];
  for (int i = 3; i >= 0; --i) h = tb.c[i] + ref_rhu(h * g, 30);
  const i128 m = imin(ref_rhu(tb.p[j] * h, 30), tb.p[j + 1]);
  return ref_rhu(m, static_cast<int>(-k) - 8);
}

inline i128 softmax_ln_s(i128 s) {
  const SoftmaxTables& tb = softmax_tables();
  int b = 0;
  while (pow2(b + 1) <= s) ++b;
  const i128 m = floor_div(s, pow2(b - 30));
  const int j = static_cast<int>((m - pow2(30)) / pow2(25));
  const i128 r = m - pow2(30) - j * pow2(25);
  const i128 v = floor_div(2 * 32 * r + (32 + j), 2 * (32 + j));
  i128 q = tb.k5;
  q = pow2(28) - ref_rhu(v * q, 30);
  q = tb.k3 - ref_rhu(v * q, 30);
  q = pow2(29) - ref_rhu(v * q, 30);
  const i128 w = ref_rhu(v * q, 30);
  const i128 u = v - ref_rhu(v * w, 30);
  return (b - 38) * tb.g[32] + imin(tb.g[j] + u * 1024, tb.g[j + 1]);
}

// One row: p15 (softmax at Q15) and l25 (log-softmax at Q25).
inline void softmax_row(const std::vector<int8_t>& x, int qx, std::vector<int32_t>* p15, std::vector<int32_t>* l25) {
  const int mx = *std::max_element(x.begin(), x.end());
  std::vector<i128> e(x.size());
  i128 s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += e[i] = softmax_e(x[i] - mx, qx);
  const i128 ln_s = softmax_ln_s(s);
  p15->clear();
  l25->clear();
  for (size_t i = 0; i < x.size(); ++i) {
    p15->push_back(static_cast<int32_t>(imin(floor_div(2 * e[i] * 32768 + s, 2 * s), 32767)));
    const i128 xv = imax(ref_rhu(x[i] - mx, qx - 40), -pow2(46));
    l25->push_back(static_cast<int32_t>(clamp_bits(ref_rhu(xv - ln_s, 15), 32)));
  }
}

// SoftmaxInt / LogSoftmaxInt int8 outputs of one row at Qo.
inline std::vector<int> softmax_int8(const std::vector<int8_t>& x, int qx, int qo, bool log) {
  std::vector<int32_t> p, l;
  softmax_row(x, qx, &p, &l);
  std::vector<int> y;
  for (size_t i = 0; i < x.size(); ++i)
    y.push_back(log ? scaled8(l[i], 1, qo - 25) : scaled8(p[i], 1, qo - 15));
  return y;
}

}  // namespace indep
}  // namespace linger_test

namespace linger_test {
namespace indep {

// TableInt entries (include/linger/numerics/table.h) as exact rationals: x = c * 2^-qx = xn / xd.
inline void table_x(int c, int qx, i128* xn, i128* xd) {
  *xn = qx >= 0 ? static_cast<i128>(c) : static_cast<i128>(c) * pow2(-qx);
  *xd = qx >= 0 ? pow2(qx) : 1;
}
inline int hardsigmoid(int c, int qx, int qo) {  // clamp(x/6 + 1/2, 0, 1)
  i128 xn, xd;
  table_x(c, qx, &xn, &xd);
  const i128 n = std::min<i128>(std::max<i128>(xn + 3 * xd, 0), 6 * xd);
  return scaled8(n, 6 * xd, qo);
}
inline int hardswish(int c, int qx, int qo) {  // x * clamp(x + 3, 0, 6) / 6
  i128 xn, xd;
  table_x(c, qx, &xn, &xd);
  const i128 t = std::min<i128>(std::max<i128>(xn + 3 * xd, 0), 6 * xd);
  return scaled8(xn * t, 6 * xd * xd, qo);
}
inline int leaky(int c, int qx, int qo, int32_t alpha_q16) {  // x >= 0 ? x : alpha * x, alpha = alpha_q16 / 2^16
  i128 xn, xd;
  table_x(c, qx, &xn, &xd);
  return c >= 0 ? scaled8(xn, xd, qo) : scaled8(xn * alpha_q16, xd * 65536, qo);
}

}  // namespace indep
}  // namespace linger_test

// ---------------------------------------------------------------------------------------------
// Independent references for the single-op runtime kernel tests (tests/runtime): Dequant,
// AvgPool2dInt / MaxPool, ConvTranspose2dInt, BatchNorm2dInt. Written from the contract by
// naive loops in __int128 over explicitly padded planes / a scatter buffer; they never call
// linger::numerics (the code the kernels call), so a bug in a shared header fails the kernel tests.
namespace linger_test {
namespace kref {

// dequantize(q, Q) = q * 2^-Q as float (long double division by an exact power of two).
inline float dequant(int64_t q, int qexp) {
  long double v = static_cast<long double>(q);
  if (qexp >= 0) v /= static_cast<long double>(pow2(qexp));
  else v *= static_cast<long double>(pow2(-qexp));
  return static_cast<float>(v);
}

// sat_bits(floor(acc / 2^s + 1/2)) (s <= 0: exact left shift), by exact floor division.
inline int64_t requant(i128 acc, int shift, int bits) {
  i128 v;
  if (shift > 0) v = floor_div(2 * acc + pow2(shift), pow2(shift + 1));
  else v = acc * pow2(-shift);
  return static_cast<int64_t>(clamp_bits(v, bits));
}

// PyTorch's pooling output size (dilation 1), with floating division.
inline int pool_out(int in, int k, int s, int p0, int p1, bool ceil_mode) {
  const double q = static_cast<double>(in + p0 + p1 - k) / s;
  int out = static_cast<int>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p0) --out;  // the last window starts inside input or left padding
  return out;
}

struct Pool {
  int n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
  bool ceil_mode;
  int oh() const { return pool_out(h, kh, sh, pt, pb, ceil_mode); }
  int ow() const { return pool_out(w, kw, sw, pl, pr, ceil_mode); }
};

// avg: sat8(floor(S / (kh*kw) + 1/2)), padding (also beyond the bottom/right pads of ceil_mode
// windows) counts as 0 and toward the area; max: padding is -128.
inline std::vector<int8_t> pool2d(const std::vector<int8_t>& x, const Pool& s, bool avg) {
  const int oh = s.oh(), ow = s.ow();
  const int hp = (oh - 1) * s.sh + s.kh + s.h + s.pt, wp = (ow - 1) * s.sw + s.kw + s.w + s.pl;
  std::vector<int8_t> y;
  for (int p = 0; p < s.n * s.c; ++p) {
    std::vector<int> xp(static_cast<size_t>(hp) * wp, avg ? 0 : -128);
    for (int i = 0; i < s.h; ++i)
      for (int j = 0; j < s.w; ++j)
        xp[static_cast<size_t>(i + s.pt) * wp + j + s.pl] = x[(static_cast<size_t>(p) * s.h + i) * s.w + j];
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        i128 sum = 0;
        int mx = -1000;
        for (int ky = 0; ky < s.kh; ++ky)
          for (int kx = 0; kx < s.kw; ++kx) {
            const int v = xp[static_cast<size_t>(oy * s.sh + ky) * wp + ox * s.sw + kx];
            sum += v;
            mx = std::max(mx, v);
          }
        const i128 area = static_cast<i128>(s.kh) * s.kw;
        y.push_back(static_cast<int8_t>(avg ? clamp_bits(floor_div(2 * sum + area, 2 * area), 8) : mx));
      }
  }
  return y;
}

struct ConvT {
  int n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw, g;
  int oh() const { return (h - 1) * sh + dh * (kh - 1) + 1 - pt - pb + oph; }
  int ow() const { return (w - 1) * sw + dw * (kw - 1) + 1 - pl - pr + opw; }
};

// ConvTranspose2dInt by scatter into a full buffer (exact), then per output: wrap32, sat32(+bias),
// requantize by `shift` to `bits` (bits 32 with shift 0 is the float-output accumulator).
// w is [C, O/g, kh, kw].
inline std::vector<int64_t> convtranspose2d_int(const std::vector<int8_t>& x, const std::vector<int8_t>& w,
                                                const int32_t* bias, const ConvT& k, int shift, int bits) {
  const int full_h = (k.h - 1) * k.sh + k.dh * (k.kh - 1) + 1, full_w = (k.w - 1) * k.sw + k.dw * (k.kw - 1) + 1;
  const int oh = k.oh(), ow = k.ow();
  const int bh = std::max(full_h, k.pt + oh), bw = std::max(full_w, k.pl + ow);
  const int cpg = k.c / k.g, opg = k.o / k.g;
  std::vector<i128> buf(static_cast<size_t>(k.n) * k.o * bh * bw, 0);
  for (int n = 0; n < k.n; ++n)
    for (int c = 0; c < k.c; ++c)
      for (int iy = 0; iy < k.h; ++iy)
        for (int ix = 0; ix < k.w; ++ix) {
          const int xv = x[((static_cast<size_t>(n) * k.c + c) * k.h + iy) * k.w + ix];
          for (int og = 0; og < opg; ++og) {
            const int oc = (c / cpg) * opg + og;
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int wv = w[((static_cast<size_t>(c) * opg + og) * k.kh + ky) * k.kw + kx];
                buf[((static_cast<size_t>(n) * k.o + oc) * bh + iy * k.sh + ky * k.dh) * bw + ix * k.sw + kx * k.dw] +=
                    static_cast<i128>(xv) * wv;
              }
          }
        }
  std::vector<int64_t> y;
  for (int n = 0; n < k.n; ++n)
    for (int oc = 0; oc < k.o; ++oc)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          i128 acc = ref_wrap32(buf[((static_cast<size_t>(n) * k.o + oc) * bh + oy + k.pt) * bw + ox + k.pl]);
          acc = clamp_bits(acc + (bias ? bias[oc] : 0), 32);
          y.push_back(requant(acc, shift, bits));
        }
  return y;
}

// BatchNorm2dInt: y = sat_bits(rhu(x * w_c + b_c, shift)), exact (no intermediate wrap or saturation).
inline std::vector<int64_t> batchnorm_int(const std::vector<int8_t>& x, const std::vector<int8_t>& w,
                                          const std::vector<int32_t>& b, int n, int c, int hw, int shift, int bits) {
  std::vector<int64_t> y;
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch)
      for (int j = 0; j < hw; ++j) {
        const i128 v = static_cast<i128>(x[(static_cast<size_t>(i) * c + ch) * hw + j]) * w[ch] + b[ch];
        y.push_back(requant(v, shift, bits));
      }
  return y;
}

}  // namespace kref
}  // namespace linger_test

// ---- Conv2dInt / Conv1dInt / LinearInt (kernel tests): naive loops over a zero-padded input, exact sums.
namespace linger_test {
namespace kref {

struct Conv {
  int n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, g;
  int oh() const { return (h + pt + pb - dh * (kh - 1) - 1) / sh + 1; }
  int ow() const { return (w + pl + pr - dw * (kw - 1) - 1) / sw + 1; }
};

// Conv2dInt (Conv1dInt: h = kh = 1): acc = wrap32(sum x*w), sat32(acc + bias), requantize by shift to bits
// (bits 32 with shift 0 is the float-output accumulator). w is [O, C/g, kh, kw].
inline std::vector<int64_t> conv2d_int(const std::vector<int8_t>& x, const std::vector<int8_t>& w,
                                       const int32_t* bias, const Conv& k, int shift, int bits) {
  const int oh = k.oh(), ow = k.ow(), cpg = k.c / k.g, opg = k.o / k.g;
  std::vector<int64_t> y;
  for (int n = 0; n < k.n; ++n)
    for (int oc = 0; oc < k.o; ++oc)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          i128 sum = 0;
          for (int ic = 0; ic < cpg; ++ic)
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int iy = oy * k.sh + ky * k.dh - k.pt, ix = ox * k.sw + kx * k.dw - k.pl;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;  // zero padding
                const int c = (oc / opg) * cpg + ic;
                sum += static_cast<i128>(x[((static_cast<size_t>(n) * k.c + c) * k.h + iy) * k.w + ix]) *
                       w[((static_cast<size_t>(oc) * cpg + ic) * k.kh + ky) * k.kw + kx];
              }
          const i128 acc = clamp_bits(ref_wrap32(sum) + (bias ? bias[oc] : 0), 32);
          y.push_back(requant(acc, shift, bits));
        }
  return y;
}

// LinearInt over rows x [m, k], w [n, k]: acc = sum x*w + bias exact (int64 contract), requantized to bits;
// bits 0 gives the raw accumulator.
inline std::vector<int64_t> linear_int(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                       int m, int k, int n, int shift, int bits) {
  std::vector<int64_t> y;
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) {
      i128 acc = bias ? bias[j] : 0;
      for (int i = 0; i < k; ++i)
        acc += static_cast<i128>(x[static_cast<size_t>(r) * k + i]) * w[static_cast<size_t>(j) * k + i];
      y.push_back(bits ? requant(acc, shift, bits) : static_cast<int64_t>(acc));
    }
  return y;
}

}  // namespace kref
}  // namespace linger_test
