// The AVX-512 VNNI building blocks (opt_avx512vnni.cc) built against scalar
// models of the intrinsics (vnni_emulation.h), against the contract's wrapping
// int32 dot products. Runs on every CPU: it checks the u8-offset correction,
// the packed layouts and every tail (rows, columns, k not a multiple of 4) of
// the VNNI path even where the real instructions are missing. The real
// instructions are tested by test_opt_kernels.cpp where the CPU has them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "linger/numerics/conv.h"
#include "opt_internal.h"

namespace linger {
namespace runtime {
namespace opt {
namespace detail {
namespace avx512vnni_emulated {
void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int8_t* out, int32_t* comp);
void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, uint8_t* out);
void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, uint8_t* out);
void gemm_packed(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                 int32_t* c, int64_t ldc);
void gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
              int64_t n, int64_t k);
bool requant_row_s8(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int8_t* y,
                    int64_t acc_max);
bool depthwise_plane_supported(int kh, int kw, int stride_h, int stride_w, int dil_h, int dil_w);
void depthwise_plane(const int8_t* x, int64_t h, int64_t w, const int8_t* wk, int kh, int kw, int stride_h,
                     int stride_w, int dil_h, int dil_w, int pad_top, int pad_left, int64_t oh, int64_t ow,
                     int32_t* acc);
void gemm_packed_s8(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                    const int32_t* bias, int32_t round, int shift, int32_t lo, int32_t hi, int8_t* y, int64_t ldy,
                    int64_t v0, int64_t vw, int64_t ow);
}  // namespace avx512vnni_emulated
}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger

namespace {

namespace emu = linger::runtime::opt::detail::avx512vnni_emulated;
namespace vnni = linger::runtime::opt::detail::avx512vnni;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct Rng {
  explicit Rng(uint32_t seed) : r(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); }
  int8_t i8() {
    const int p = uniform(0, 99);
    if (p < 12) return -128;
    if (p < 24) return 127;
    return static_cast<int8_t>(uniform(-128, 127));
  }
  std::mt19937 r;
};

// A: m x k (lda), B given as element (kk, j); C = A . B, wrapping.
template <typename BAt>
std::vector<int32_t> ref(const std::vector<int8_t>& a, int64_t lda, BAt b_at, int64_t m, int64_t n, int64_t k) {
  std::vector<int32_t> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint32_t acc = 0;
      for (int64_t t = 0; t < k; ++t)
        acc += static_cast<uint32_t>(int32_t{a[static_cast<size_t>(i * lda + t)]} * int32_t{b_at(t, j)});
      c[static_cast<size_t>(i * n + j)] = static_cast<int32_t>(acc);
    }
  return c;
}

// Packed GEMM with B in n-major (pack_b_t) or k-major (pack_b) layout; C has
// a leading dimension larger than n, whose gap must stay untouched.
void run_packed(Rng& rng, int64_t m, int64_t n, int64_t k, bool kmajor, int fill) {
  const int64_t lda = k + rng.uniform(0, 3);
  const int64_t ldb = kmajor ? n + rng.uniform(0, 5) : k + rng.uniform(0, 3);
  std::vector<int8_t> a(static_cast<size_t>(m * lda + 1)), b(static_cast<size_t>((kmajor ? k : n) * ldb + 1));
  for (auto& v : a) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  for (auto& v : b) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  // k-major rows at shuffled offsets (pack_b takes one offset per k row).
  std::vector<int64_t> koff(static_cast<size_t>(kmajor ? k : 0));
  for (size_t t = 0; t < koff.size(); ++t) koff[t] = static_cast<int64_t>(t) * ldb;
  std::shuffle(koff.begin(), koff.end(), rng.r);
  auto b_at = [&](int64_t t, int64_t j) {
    return kmajor ? b[static_cast<size_t>(koff[static_cast<size_t>(t)] + j)] : b[static_cast<size_t>(j * ldb + t)];
  };
  const int64_t kpad = round_up(k, vnni::kKu);
  std::vector<int8_t> ap(static_cast<size_t>(round_up(m, vnni::kMr) * kpad));
  std::vector<int32_t> comp(static_cast<size_t>(round_up(m, vnni::kMr)));
  std::vector<uint8_t> bp(static_cast<size_t>(round_up(n, vnni::kNr) * kpad));
  emu::pack_a(a.data(), lda, m, k, ap.data(), comp.data());
  if (kmajor)
    emu::pack_b(b.data(), koff.data(), k, n, bp.data());
  else
    emu::pack_b_t(b.data(), ldb, k, n, bp.data());
  const int64_t ldc = n + 3;
  std::vector<int32_t> c(static_cast<size_t>(m * ldc), 0x0BADF00D);
  emu::gemm_packed(ap.data(), comp.data(), bp.data(), m, n, kpad, c.data(), ldc);
  const auto want = ref(a, lda, b_at, m, n, k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(c[static_cast<size_t>(i * ldc + j)], want[static_cast<size_t>(i * n + j)])
          << "m" << m << " n" << n << " k" << k << (kmajor ? " k-major" : " n-major") << " at " << i << "," << j;
    for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(c[static_cast<size_t>(i * ldc + j)], 0x0BADF00D) << "wrote past n";
  }
}

void run_dot(Rng& rng, int64_t m, int64_t n, int64_t k, int fill) {
  const int64_t lda = k + rng.uniform(0, 3), ldb = k + rng.uniform(0, 3);
  std::vector<int8_t> a(static_cast<size_t>(m * lda + 1)), b(static_cast<size_t>(n * ldb + 1));
  for (auto& v : a) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  for (auto& v : b) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  const int64_t ldc = n + 2;
  std::vector<int32_t> c(static_cast<size_t>(m * ldc), 0x0BADF00D);
  emu::gemm_dot(a.data(), lda, b.data(), ldb, c.data(), ldc, m, n, k);
  const auto want = ref(a, lda, [&](int64_t t, int64_t j) { return b[static_cast<size_t>(j * ldb + t)]; }, m, n, k);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(c[static_cast<size_t>(i * ldc + j)], want[static_cast<size_t>(i * n + j)])
          << "dot m" << m << " n" << n << " k" << k << " at " << i << "," << j;
}

TEST(VnniEmulated, PackedRandomShapes) {
  Rng rng(606);
  for (int t = 0; t < 150; ++t) {
    const int64_t m = rng.uniform(1, 30), n = rng.uniform(1, 80), k = rng.uniform(1, 150);
    run_packed(rng, m, n, k, t % 2 == 0, 0);
    if (HasFatalFailure()) return;
  }
}

TEST(VnniEmulated, DotRandomShapes) {
  Rng rng(707);
  for (int t = 0; t < 100; ++t) {
    run_dot(rng, rng.uniform(1, 5), rng.uniform(1, 11), rng.uniform(0, 200), 0);
    if (HasFatalFailure()) return;
  }
}

TEST(VnniEmulated, ExtremesAndWrap) {
  Rng rng(808);
  for (const int fill : {-128, 127}) {
    run_packed(rng, 9, 33, 131, true, fill);
    run_packed(rng, 9, 33, 131, false, fill);
    run_dot(rng, 2, 5, 131, fill);
  }
  // k > 131072 with all -128: the sum 128*128*k wraps modulo 2^32, and so does
  // the correction 128 * sum_k a (= -2^14 * k).
  run_packed(rng, 3, 5, 140001, true, -128);
  run_dot(rng, 1, 2, 140001, -128);
}

// The depthwise plane kernel (masked loads at the plane's edges, the gather
// of tap quads, the u8-offset correction, the 3x3 register path and the
// general one) against the direct wrapping sum with zero padding. The plane
// sits in a buffer with guard bytes around it: a masked-off byte that was
// read anyway would not show here (the model reads only unmasked bytes, like
// the instruction), but any written int32 past oh * ow would.
TEST(VnniEmulated, DepthwisePlane) {
  Rng rng(909);
  int ran = 0;
  for (int t = 0; t < 400; ++t) {
    const int kh = rng.uniform(1, 7), kw = rng.uniform(0, 2) == 0 ? rng.uniform(1, 9) : kh;
    const int sh = rng.uniform(1, 3), sw = rng.uniform(1, 2), dh = rng.uniform(0, 3) == 0 ? rng.uniform(2, 4) : 1;
    const int dw = rng.uniform(0, 3) == 0 ? rng.uniform(2, 4) : 1;
    if (!emu::depthwise_plane_supported(kh, kw, sh, sw, dh, dw)) continue;
    const int h = rng.uniform(1, 30), w = rng.uniform(1, 70);
    const int pt = rng.uniform(0, 4), pb = rng.uniform(0, 4), pl = rng.uniform(0, 4), pr = rng.uniform(0, 4);
    const int64_t oh = (h + pt + pb - (int64_t{kh - 1} * dh + 1)) / sh + 1;
    const int64_t ow = (w + pl + pr - (int64_t{kw - 1} * dw + 1)) / sw + 1;
    if (oh < 1 || ow < 1) continue;
    const int fill = t % 10 == 0 ? -128 : (t % 10 == 1 ? 127 : 0);
    std::vector<int8_t> buf(static_cast<size_t>(h * w + 256)), wk(static_cast<size_t>(kh * kw));
    for (auto& v : buf) v = fill ? static_cast<int8_t>(fill) : rng.i8();
    for (auto& v : wk) v = fill ? int8_t{-128} : rng.i8();
    const int8_t* x = buf.data() + 128;
    std::vector<int32_t> acc(static_cast<size_t>(oh * ow + 16), 0x0BADF00D);
    emu::depthwise_plane(x, h, w, wk.data(), kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, acc.data());
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        uint32_t want = 0;
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx) {
            const int64_t iy = oy * sh - pt + int64_t{ky} * dh, ix = ox * sw - pl + int64_t{kx} * dw;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            want += static_cast<uint32_t>(int32_t{wk[static_cast<size_t>(ky * kw + kx)]} *
                                          int32_t{x[iy * w + ix]});
          }
        ASSERT_EQ(acc[static_cast<size_t>(oy * ow + ox)], static_cast<int32_t>(want))
            << "k" << kh << "x" << kw << " s" << sh << "," << sw << " d" << dh << "," << dw << " h" << h << " w" << w
            << " pad " << pt << "," << pl << "," << pb << "," << pr << " at " << oy << "," << ox;
      }
    for (size_t i = static_cast<size_t>(oh * ow); i < acc.size(); ++i)
      ASSERT_EQ(acc[i], 0x0BADF00D) << "wrote past oh * ow";
    ++ran;
  }
  EXPECT_GT(ran, 100);
}

// The 16-lane int8 requantisation on the emulated intrinsics: the formula
// (numerics::conv_requant, then the clamp) wherever it takes the row.
TEST(VnniEmulated, RequantRowS8) {
  Rng rng(111);
  const int64_t acc_max = int64_t{4608} << 14;
  std::vector<int32_t> accs = {static_cast<int32_t>(acc_max), static_cast<int32_t>(-acc_max), 0, 1, -1};
  while (accs.size() < 37) accs.push_back(rng.uniform(static_cast<int>(-acc_max), static_cast<int>(acc_max)));
  int took = 0;
  for (int shift = 0; shift <= 31; ++shift) {
    const int64_t half = shift > 0 ? int64_t{1} << (shift - 1) : 0;
    for (const int64_t b64 : {int64_t{2147483647} - acc_max - half, -(int64_t{2147483647} - acc_max), int64_t{3}})
      for (const int lo : {-128, 0})
        for (const int hi : {127, 20}) {
          const auto b = static_cast<int32_t>(b64);
          const int64_t n = static_cast<int64_t>(accs.size());
          std::vector<int8_t> y(accs.size() + 1, 0x5A);
          ASSERT_TRUE(emu::requant_row_s8(accs.data(), n, b, lo, hi, shift, y.data(), acc_max));
          ASSERT_EQ(y[accs.size()], 0x5A);
          for (size_t j = 0; j < accs.size(); ++j)
            ASSERT_EQ(y[j], std::min<int64_t>(std::max<int64_t>(
                                linger::numerics::conv_requant(accs[j], b, false, shift, 8), lo), hi))
                << "acc " << accs[j] << " bias " << b << " shift " << shift;
          ++took;
        }
  }
  EXPECT_EQ(took, 32 * 3 * 4);
}

// gemm_packed_s8: the tile's int8 requantisation and its scatter over output
// rows (virtual columns v % vw >= ow dropped), against the int64 formula
// clamp(sat8(floor((acc + bias + 2^(shift-1)) / 2^shift)), lo, hi) on the
// wrapping dot products; every byte not written must keep its sentinel.
void run_packed_s8(Rng& rng, int64_t m, int64_t n, int64_t k, int fill) {
  std::vector<int8_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
  for (auto& v : a) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  for (auto& v : b) v = fill ? static_cast<int8_t>(fill) : rng.i8();
  std::vector<int64_t> koff(static_cast<size_t>(k));
  for (size_t t = 0; t < koff.size(); ++t) koff[t] = static_cast<int64_t>(t) * n;
  const int64_t kpad = round_up(k, vnni::kKu);
  std::vector<int8_t> ap(static_cast<size_t>(round_up(m, vnni::kMr) * kpad));
  std::vector<int32_t> comp(static_cast<size_t>(round_up(m, vnni::kMr)));
  std::vector<uint8_t> bp(static_cast<size_t>(round_up(n, vnni::kNr) * kpad));
  emu::pack_a(a.data(), k, m, k, ap.data(), comp.data());
  emu::pack_b(b.data(), koff.data(), k, n, bp.data());
  const auto acc = ref(a, k, [&](int64_t t, int64_t j) { return b[static_cast<size_t>(t * n + j)]; }, m, n, k);
  // Columns = virtual pixels v0 .. v0 + n - 1 of rows vw wide, ow of them real.
  const int64_t ow = rng.uniform(1, 12), vw = ow + (rng.uniform(0, 2) == 0 ? 0 : rng.uniform(1, 4));
  const int64_t v0 = rng.uniform(0, 40);
  const int64_t ldy = (v0 + n) + rng.uniform(0, 5);  // past the last real pixel of a row of y
  const int shift = rng.uniform(0, 3) == 0 ? 0 : rng.uniform(1, 20);
  const int32_t round = shift > 0 ? int32_t{1} << (shift - 1) : 0;
  const int32_t lo = rng.uniform(0, 1) ? -128 : static_cast<int32_t>(rng.uniform(-128, 0));
  const int32_t hi = rng.uniform(0, 1) ? 127 : static_cast<int32_t>(rng.uniform(lo, 127));
  std::vector<int32_t> bias(static_cast<size_t>(m));
  for (auto& v : bias) v = rng.uniform(-(1 << 24), 1 << 24);
  const bool with_bias = rng.uniform(0, 3) != 0;
  const int8_t sentinel = 0x5A;
  std::vector<int8_t> y(static_cast<size_t>(m * ldy), sentinel);
  emu::gemm_packed_s8(ap.data(), comp.data(), bp.data(), m, n, kpad, with_bias ? bias.data() : nullptr, round, shift,
                      lo, hi, y.data(), ldy, v0, vw, ow);
  std::vector<int8_t> want(y.size(), sentinel);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t v = v0 + j;
      if (v % vw >= ow) continue;
      int64_t t = int64_t{acc[static_cast<size_t>(i * n + j)]} + (with_bias ? bias[static_cast<size_t>(i)] : 0);
      if (shift > 0) t = (t + (int64_t{1} << (shift - 1))) >> shift;  // floor: arithmetic shift of int64
      t = std::min<int64_t>(std::max<int64_t>(t, -128), 127);
      t = std::min<int64_t>(std::max<int64_t>(t, lo), hi);
      want[static_cast<size_t>(i * ldy + v - (v / vw) * (vw - ow))] = static_cast<int8_t>(t);
    }
  for (size_t e = 0; e < y.size(); ++e)
    ASSERT_EQ(int{y[e]}, int{want[e]}) << "m" << m << " n" << n << " k" << k << " v0 " << v0 << " vw " << vw
                                       << " ow " << ow << " shift " << shift << " at " << e;
}

TEST(VnniEmulated, PackedRequantS8RandomShapes) {
  Rng rng(909);
  for (int t = 0; t < 200; ++t) {
    run_packed_s8(rng, rng.uniform(1, 20), rng.uniform(1, 75), rng.uniform(1, 100), 0);
    if (HasFatalFailure()) return;
  }
  for (const int fill : {-128, 127}) run_packed_s8(rng, 9, 70, 37, fill);
}

}  // namespace
