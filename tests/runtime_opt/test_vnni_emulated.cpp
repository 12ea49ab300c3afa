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
