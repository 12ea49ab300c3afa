// The prepacked kernels (opt::Conv2dInt8, opt::LinearInt8), the fused
// activation of OutputStage, the vectorised MaxPool / Quant / Dequant /
// BatchNorm2dInt / iqClamp and the
// intra-op thread pool, against the scalar reference of include/linger/numerics
// with tolerance 0, on every ISA the CPU supports and for 1, 2, 3 and 4
// threads (numerics.md §4 rule 2). An ISA the CPU lacks is skipped, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <chrono>
#include <thread>
#include <vector>

#include "linger/numerics/batchnorm.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "opt_kernels.h"
#include "opt_test_util.h"
#include "thread_pool.h"

namespace {

namespace nm = linger::numerics;
namespace opt = linger::runtime::opt;
using opt::Isa;

using opt_test::kSanitized;

struct Rng {
  explicit Rng(uint32_t seed) : r(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); }
  bool coin() { return uniform(0, 1) == 1; }
  std::vector<int8_t> i8s(size_t n) {
    std::vector<int8_t> v(n);
    for (auto& e : v) {
      const int p = uniform(0, 99);
      e = p < 10 ? int8_t{-128} : (p < 20 ? int8_t{127} : static_cast<int8_t>(uniform(-128, 127)));
    }
    return v;
  }
  std::vector<int32_t> biases(size_t n) {
    std::vector<int32_t> v(n);
    for (auto& e : v) e = uniform(0, 9) == 0 ? uniform(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())
                                              : uniform(-(1 << 18), 1 << 18);
    return v;
  }
  std::mt19937 r;
};

// One pool per thread count, shared by the tests (threads are started once).
opt::ThreadPool* pool_for(int threads) {
  static std::unique_ptr<opt::ThreadPool> pools[5];
  if (threads <= 1) return nullptr;
  if (!pools[threads]) pools[threads] = std::make_unique<opt::ThreadPool>(threads);
  return pools[threads].get();
}

// A random fused activation at the output: none, ReLU, ReLU6-like, a clip.
opt::OutputStage random_stage(Rng& rng, int out_bits, int shift) {
  opt::OutputStage st;
  st.out_bits = out_bits;
  st.shift = shift;
  switch (rng.uniform(0, 3)) {
    case 0: break;
    case 1: st.lo = 0; break;
    case 2: st.lo = 0; st.hi = rng.uniform(1, 127); break;
    default: st.lo = rng.uniform(-100, 0); st.hi = rng.uniform(0, 100); break;
  }
  return st;
}

int64_t stage_clamp(int64_t v, const opt::OutputStage& st) {
  const int64_t lo = std::max<int64_t>(st.lo, nm::lowest(st.out_bits));
  const int64_t hi = std::min<int64_t>(st.hi, nm::bound(st.out_bits));
  return std::min(std::max(v, lo), hi);
}

nm::Conv2dShape random_conv_shape(Rng& rng) {
  static const int kKernels[] = {1, 1, 3, 3, 5, 7};
  for (;;) {
    nm::Conv2dShape s;
    s.n = rng.uniform(1, 2);
    const int kind = rng.uniform(0, 4);
    if (kind == 0) {
      s.groups = rng.uniform(1, 24);
      s.c = s.groups;
      s.o = s.groups * rng.uniform(1, 2);
    } else if (kind == 1) {
      s.groups = rng.uniform(2, 3);
      s.c = s.groups * rng.uniform(1, 6);
      s.o = s.groups * rng.uniform(1, 12);
    } else {
      s.c = rng.uniform(1, 70);
      s.o = rng.uniform(1, 80);
    }
    s.kh = kKernels[rng.uniform(0, 5)];
    s.kw = rng.coin() ? s.kh : kKernels[rng.uniform(0, 5)];
    s.stride_h = rng.uniform(1, 3);
    s.stride_w = rng.coin() ? s.stride_h : rng.uniform(1, 3);
    s.dil_h = rng.uniform(0, 4) == 0 ? 2 : 1;
    s.dil_w = rng.uniform(0, 4) == 0 ? 2 : 1;
    s.pad_top = rng.uniform(0, 3);
    s.pad_bottom = rng.uniform(0, 3);
    s.pad_left = rng.uniform(0, 3);
    s.pad_right = rng.uniform(0, 3);
    s.h = rng.uniform(1, 20);
    s.w = rng.uniform(1, 40);
    if (s.valid()) return s;
  }
}

std::string shape_str(const nm::Conv2dShape& s) {
  return "n" + std::to_string(s.n) + " c" + std::to_string(s.c) + " h" + std::to_string(s.h) + " w" +
         std::to_string(s.w) + " o" + std::to_string(s.o) + " k" + std::to_string(s.kh) + "x" + std::to_string(s.kw) +
         " s" + std::to_string(s.stride_h) + "," + std::to_string(s.stride_w) + " p" + std::to_string(s.pad_top) + "," +
         std::to_string(s.pad_left) + "," + std::to_string(s.pad_bottom) + "," + std::to_string(s.pad_right) + " d" +
         std::to_string(s.dil_h) + "," + std::to_string(s.dil_w) + " g" + std::to_string(s.groups);
}

// The reference: numerics::conv2d_int (no relu), then the clamp.
template <typename OutT>
std::vector<int64_t> conv_reference(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                    const nm::Conv2dShape& s, const opt::OutputStage& st) {
  const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  std::vector<OutT> y(count);
  nm::conv2d_int(x.data(), w.data(), bias, y.data(), s, st.shift, false, st.out_bits);
  std::vector<int64_t> r(count);
  for (size_t i = 0; i < count; ++i) r[i] = stage_clamp(y[i], st);
  return r;
}

template <typename OutT>
std::vector<int64_t> conv_opt(const opt::Conv2dInt8& conv, const std::vector<int8_t>& x, const int32_t* bias,
                              const opt::OutputStage& st, int threads) {
  const nm::Conv2dShape& s = conv.shape();
  const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  std::vector<OutT> y(count, OutT{0x55});
  std::vector<int8_t> ws;
  conv.run(x.data(), bias, y.data(), st, &ws, pool_for(threads));
  EXPECT_LE(static_cast<int64_t>(ws.size()), conv.workspace_bytes(threads)) << "workspace larger than declared";
  return std::vector<int64_t>(y.begin(), y.end());
}

std::vector<int64_t> conv_opt_bits(const opt::Conv2dInt8& conv, const std::vector<int8_t>& x, const int32_t* bias,
                                   const opt::OutputStage& st, int threads) {
  if (st.out_bits == 8) return conv_opt<int8_t>(conv, x, bias, st, threads);
  if (st.out_bits == 16) return conv_opt<int16_t>(conv, x, bias, st, threads);
  return conv_opt<int32_t>(conv, x, bias, st, threads);
}

std::vector<int64_t> conv_reference_bits(const std::vector<int8_t>& x, const std::vector<int8_t>& w,
                                         const int32_t* bias, const nm::Conv2dShape& s, const opt::OutputStage& st) {
  if (st.out_bits == 8) return conv_reference<int8_t>(x, w, bias, s, st);
  if (st.out_bits == 16) return conv_reference<int16_t>(x, w, bias, s, st);
  return conv_reference<int32_t>(x, w, bias, s, st);
}

size_t first_mismatch(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return i;
  return a.size();
}

class Prepacked : public opt_test::IsaTest {};
LINGER_INSTANTIATE_ISAS(Prepacked);

// Random geometries, output widths, shifts and fused activations; every
// thread count gives the reference's integers.
TEST_P(Prepacked, ConvFusedClampAndThreads) {
  Rng rng(777);
  const int cases = kSanitized ? 80 : 300;
  for (int t = 0; t < cases; ++t) {
    const nm::Conv2dShape s = random_conv_shape(rng);
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    static const int kBits[] = {8, 8, 16, 32};
    const int out_bits = kBits[rng.uniform(0, 3)];
    const int shift = rng.uniform(0, 9) == 0 ? rng.uniform(-3, 0) : rng.uniform(4, 16);
    const opt::OutputStage st = random_stage(rng, out_bits, shift);
    const int32_t* b = rng.uniform(0, 3) ? bias.data() : nullptr;
    const opt::Conv2dInt8 conv(s, w.data(), isa());
    ASSERT_EQ(conv.isa(), isa());  // forced: the ISA asked for (supported here)
    const auto want = conv_reference_bits(x, w, b, s, st);
    for (int threads = 1; threads <= 4; ++threads) {
      const auto got = conv_opt_bits(conv, x, b, st, threads);
      const size_t i = first_mismatch(want, got);
      ASSERT_EQ(i, want.size()) << "case " << t << " " << shape_str(s) << " bits " << out_bits << " shift " << shift
                                << " clamp [" << st.lo << ", " << st.hi << "] threads " << threads << ": at " << i
                                << " want " << want[std::min(i, want.size() - 1)] << " got "
                                << got[std::min(i, got.size() - 1)];
    }
  }
}

// Network layers (resnet / mobilenet shapes, incl. few pixels with many
// channels, where output channels are split over the threads).
TEST_P(Prepacked, ConvNetworkLayersThreads) {
  auto make = [](int c, int h, int o, int k, int stride, int groups) {
    nm::Conv2dShape s;
    s.c = c; s.h = s.w = h; s.o = o; s.kh = s.kw = k;
    s.stride_h = s.stride_w = stride;
    s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = k / 2;
    s.groups = groups;
    return s;
  };
  const nm::Conv2dShape shapes[] = {make(3, 64, 64, 7, 2, 1),    make(64, 16, 64, 3, 1, 1),  make(128, 8, 256, 3, 2, 1),
                                    make(256, 4, 512, 3, 1, 1),  make(512, 2, 512, 3, 1, 1), make(64, 16, 128, 1, 2, 1),
                                    make(96, 28, 96, 3, 2, 96),  make(144, 14, 144, 3, 1, 144), make(32, 28, 192, 1, 1, 1)};
  Rng rng(4711);
  for (const auto& s : shapes) {
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    opt::OutputStage st;
    st.out_bits = 8;
    st.shift = 12;
    st.lo = 0;
    st.hi = 96;
    const opt::Conv2dInt8 conv(s, w.data(), isa());
    const auto want = conv_reference_bits(x, w, bias.data(), s, st);
    for (int threads = 1; threads <= 4; ++threads)
      ASSERT_EQ(first_mismatch(want, conv_opt_bits(conv, x, bias.data(), st, threads)), want.size())
          << shape_str(s) << " threads " << threads;
  }
}

// Depthwise convs on planes wider and taller than one vector block (16
// outputs x 4 rows of the VNNI plane kernel) and smaller: strides, dilations,
// asymmetric and large padding, kernels of 1 .. 8 columns (one or two tap
// quads), channel multipliers, fused clamps, every output width, 1 .. 3
// threads. On VNNI CPUs the shapes that kernel takes run it (stride_w 1 / 2,
// small dil_w); the rest run the AVX2 plane kernels or the baseline loop.
TEST_P(Prepacked, DepthwisePlanesThreads) {
  Rng rng(90210);
  const int cases = kSanitized ? 60 : 220;
  for (int t = 0; t < cases; ++t) {
    nm::Conv2dShape s;
    s.n = rng.uniform(1, 2);
    s.groups = rng.uniform(1, 9);
    s.c = s.groups;
    s.o = s.groups * (rng.uniform(0, 4) == 0 ? rng.uniform(2, 4) : 1);
    static const int kKernels[] = {1, 2, 3, 3, 3, 4, 5, 7};
    s.kh = kKernels[rng.uniform(0, 7)];
    s.kw = rng.uniform(0, 3) == 0 ? rng.uniform(1, 8) : s.kh;
    s.stride_h = rng.uniform(0, 5) == 0 ? rng.uniform(3, 4) : rng.uniform(1, 2);
    s.stride_w = rng.uniform(0, 5) == 0 ? 3 : (rng.coin() ? s.stride_h : rng.uniform(1, 2));
    s.dil_h = rng.uniform(0, 3) == 0 ? rng.uniform(2, 4) : 1;
    s.dil_w = rng.uniform(0, 3) == 0 ? rng.uniform(2, 4) : 1;
    s.pad_top = rng.uniform(0, 4);
    s.pad_bottom = rng.coin() ? s.pad_top : rng.uniform(0, 4);
    s.pad_left = rng.uniform(0, 4);
    s.pad_right = rng.coin() ? s.pad_left : rng.uniform(0, 4);
    s.h = rng.uniform(1, 40);
    s.w = rng.uniform(0, 2) == 0 ? rng.uniform(1, 17) : rng.uniform(18, 80);
    if (!s.valid()) {
      --t;
      continue;
    }
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    static const int kBits[] = {8, 8, 16, 32};
    const int out_bits = kBits[rng.uniform(0, 3)];
    const opt::OutputStage st = random_stage(rng, out_bits, rng.uniform(0, 9) == 0 ? rng.uniform(-3, 0) : rng.uniform(4, 14));
    const int32_t* b = rng.uniform(0, 3) ? bias.data() : nullptr;
    const opt::Conv2dInt8 conv(s, w.data(), isa());
    const auto want = conv_reference_bits(x, w, b, s, st);
    for (int threads = 1; threads <= 3; ++threads) {
      const auto got = conv_opt_bits(conv, x, b, st, threads);
      const size_t i = first_mismatch(want, got);
      ASSERT_EQ(i, want.size()) << "case " << t << " " << shape_str(s) << " bits " << out_bits << " clamp ["
                                << st.lo << ", " << st.hi << "] threads " << threads << ": at " << i << " want "
                                << want[std::min(i, want.size() - 1)] << " got "
                                << got[std::min(i, got.size() - 1)];
    }
  }
}

// The depthwise layers of torchvision mobilenet_v2 (224 input), random and
// extreme data (all -128 / all 127 inputs and weights: the largest sums of
// the u8-offset correction), int32 outputs (the raw sums) and int8 + ReLU6.
TEST_P(Prepacked, DepthwiseMobileNetV2Layers) {
  struct L {
    int c, hw, stride;
  };
  const L layers[] = {{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {144, 56, 2}, {192, 28, 1},
                      {192, 28, 2}, {384, 14, 1}, {576, 14, 2}, {960, 7, 1}};
  Rng rng(2718);
  for (const L& l : layers) {
    nm::Conv2dShape s;
    s.c = s.o = s.groups = kSanitized ? 4 : l.c;
    s.h = s.w = l.hw;
    s.kh = s.kw = 3;
    s.stride_h = s.stride_w = l.stride;
    s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<int8_t> x = rng.i8s(static_cast<size_t>(s.c) * s.h * s.w);
      std::vector<int8_t> w = rng.i8s(static_cast<size_t>(s.o) * 9);
      if (pattern > 0) {
        std::fill(x.begin(), x.end(), pattern == 1 ? int8_t{-128} : int8_t{127});
        std::fill(w.begin(), w.end(), int8_t{-128});
      }
      const auto bias = rng.biases(static_cast<size_t>(s.o));
      const opt::Conv2dInt8 conv(s, w.data(), isa());
      for (const int out_bits : {32, 8}) {
        opt::OutputStage st;
        st.out_bits = out_bits;
        st.shift = out_bits == 32 ? 0 : 9;
        if (out_bits == 8) {
          st.lo = 0;
          st.hi = 96;
        }
        const auto want = conv_reference_bits(x, w, bias.data(), s, st);
        for (int threads = 1; threads <= 2; ++threads)
          ASSERT_EQ(first_mismatch(want, conv_opt_bits(conv, x, bias.data(), st, threads)), want.size())
              << shape_str(s) << " pattern " << pattern << " bits " << out_bits << " threads " << threads;
      }
    }
  }
}

// The one-call API with relu equals the contract's relu-on-accumulator form.
TEST_P(Prepacked, ReluFlagEqualsClampAtZero) {
  Rng rng(31);
  for (int t = 0; t < 40; ++t) {
    const nm::Conv2dShape s = random_conv_shape(rng);
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    const int shift = rng.uniform(-2, 14);
    const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
    std::vector<int8_t> want(count), got(count);
    nm::conv2d_int(x.data(), w.data(), bias.data(), want.data(), s, shift, true, 8);
    opt::conv2d_int8(x.data(), w.data(), bias.data(), got.data(), s, shift, true, 8, isa(), nullptr);
    ASSERT_EQ(want, got) << shape_str(s) << " shift " << shift;
  }
}

TEST_P(Prepacked, LinearFusedClampAndThreads) {
  Rng rng(99);
  const int cases = kSanitized ? 60 : 200;
  for (int t = 0; t < cases; ++t) {
    const int64_t m = t % 3 == 0 ? rng.uniform(1, 4) : rng.uniform(1, 300);
    const int64_t k = rng.uniform(1, 600), n = rng.uniform(1, 200);
    const auto x = rng.i8s(static_cast<size_t>(m * k)), w = rng.i8s(static_cast<size_t>(n * k));
    const auto bias = rng.biases(static_cast<size_t>(n));
    static const int kBits[] = {8, 16, 32};
    const int out_bits = kBits[rng.uniform(0, 2)];
    const opt::OutputStage st = random_stage(rng, out_bits, rng.uniform(0, 18));
    std::vector<int32_t> ref(static_cast<size_t>(m * n));
    nm::linear_int(x.data(), w.data(), bias.data(), ref.data(), m, k, n, st.shift, 32);
    std::vector<int64_t> want(ref.size());
    for (size_t i = 0; i < ref.size(); ++i)
      want[i] = stage_clamp(nm::linear_requant(nm::linear_acc_at(x.data(), w.data(), bias.data(), k,
                                                                  static_cast<int64_t>(i) / n, static_cast<int64_t>(i) % n),
                                               st.shift, out_bits),
                            st);
    const opt::LinearInt8 lin(w.data(), k, n, isa());
    for (int threads = 1; threads <= 4; ++threads) {
      std::vector<int32_t> y32(ref.size());
      std::vector<int16_t> y16(ref.size());
      std::vector<int8_t> y8(ref.size());
      std::vector<int8_t> ws;
      void* y = out_bits == 8 ? static_cast<void*>(y8.data())
                              : (out_bits == 16 ? static_cast<void*>(y16.data()) : static_cast<void*>(y32.data()));
      lin.run(x.data(), bias.data(), y, m, st, &ws, pool_for(threads));
      EXPECT_LE(static_cast<int64_t>(ws.size()), lin.workspace_bytes(m, threads));
      std::vector<int64_t> got(ref.size());
      for (size_t i = 0; i < got.size(); ++i) got[i] = out_bits == 8 ? y8[i] : (out_bits == 16 ? y16[i] : y32[i]);
      const size_t i = first_mismatch(want, got);
      ASSERT_EQ(i, want.size()) << "m" << m << " k" << k << " n" << n << " bits " << out_bits << " threads " << threads;
    }
  }
}

TEST_P(Prepacked, LinearFloatOutputThreads) {
  Rng rng(5);
  for (int t = 0; t < 30; ++t) {
    const int64_t m = rng.uniform(1, 70), k = rng.uniform(1, 300), n = rng.uniform(1, 90);
    const auto x = rng.i8s(static_cast<size_t>(m * k)), w = rng.i8s(static_cast<size_t>(n * k));
    const auto bias = rng.biases(static_cast<size_t>(n));
    const int shift = rng.uniform(0, 20);
    std::vector<float> want(static_cast<size_t>(m * n)), got(want.size());
    nm::linear_int_float(x.data(), w.data(), bias.data(), want.data(), m, k, n, shift);
    opt::OutputStage st;
    st.out_bits = 0;
    st.shift = shift;
    const opt::LinearInt8 lin(w.data(), k, n, isa());
    for (int threads = 1; threads <= 4; ++threads) {
      lin.run(x.data(), bias.data(), got.data(), m, st, nullptr, pool_for(threads));
      ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "threads " << threads;
    }
  }
}

TEST_P(Prepacked, MaxPoolAndAvgPool) {
  Rng rng(1234);
  const int cases = kSanitized ? 100 : 400;
  for (int t = 0; t < cases; ++t) {
    nm::Pool2dShape s;
    s.n = rng.uniform(1, 2);
    s.c = rng.uniform(1, 5);
    s.h = rng.uniform(1, 20);
    s.w = rng.uniform(1, 90);
    s.kh = rng.uniform(1, 4);
    s.kw = rng.uniform(1, 4);
    s.stride_h = rng.uniform(1, 3);
    s.stride_w = rng.uniform(1, 3);
    s.pad_top = rng.uniform(0, s.kh / 2);
    s.pad_bottom = rng.uniform(0, s.kh / 2);
    s.pad_left = rng.uniform(0, s.kw / 2);
    s.pad_right = rng.uniform(0, s.kw / 2);
    s.ceil_mode = rng.coin();
    if (t % 8 == 0) {  // a global pool (window = plane, the classifier head's fast path), extremes too
      s.kh = s.h;
      s.kw = s.w;
      s.stride_h = rng.uniform(1, 3);
      s.stride_w = rng.uniform(1, 3);
      s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 0;
    }
    if (!s.valid()) continue;
    auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    if (t % 16 == 0) std::fill(x.begin(), x.end(), t % 32 == 0 ? int8_t{-128} : int8_t{127});
    const size_t count = static_cast<size_t>(s.n) * s.c * s.out_h() * s.out_w();
    std::vector<int8_t> want(count), got(count), want_avg(count), got_avg(count);
    nm::maxpool2d_int(x.data(), want.data(), s);
    nm::avgpool2d_int(x.data(), want_avg.data(), s);
    for (int threads = 1; threads <= 4; ++threads) {
      std::fill(got.begin(), got.end(), int8_t{0x55});
      std::vector<int8_t> ws;
      opt::maxpool2d_int8(x.data(), got.data(), s, isa(), &ws, pool_for(threads));
      EXPECT_LE(static_cast<int64_t>(ws.size()), opt::maxpool2d_workspace_bytes(s, threads));
      ASSERT_EQ(want, got) << "case " << t << " " << s.h << "x" << s.w << " k" << s.kh << "x" << s.kw << " s"
                           << s.stride_h << "," << s.stride_w << " ceil " << s.ceil_mode << " threads " << threads;
      opt::avgpool2d_int8(x.data(), got_avg.data(), s, pool_for(threads));
      ASSERT_EQ(want_avg, got_avg) << "avg case " << t << " threads " << threads;
    }
  }
}

TEST_P(Prepacked, MaxPool2x2Stride2) {
  // The 2x2 stride-2 unpadded pool has its own vector path: odd and even sizes
  // (the last row / column dropped, or kept by ceil_mode, which leaves the
  // fast path), widths around the 16-output vector, channels split over
  // threads (no write past a worker's planes), extreme values.
  Rng rng(77);
  for (int t = 0; t < 300; ++t) {
    nm::Pool2dShape s;
    s.n = rng.uniform(1, 2);
    s.c = rng.uniform(1, 7);
    s.h = rng.uniform(2, 19);
    s.w = t < 70 ? t + 2 : rng.uniform(2, 140);
    s.kh = s.kw = 2;
    s.stride_h = s.stride_w = 2;
    s.ceil_mode = rng.uniform(0, 3) == 0;
    std::vector<int8_t> x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    if (t % 5 == 0)
      for (auto& v : x) v = rng.coin() ? int8_t{-128} : int8_t{127};
    const size_t count = static_cast<size_t>(s.n) * s.c * s.out_h() * s.out_w();
    std::vector<int8_t> want(count), got(count);
    nm::maxpool2d_int(x.data(), want.data(), s);
    for (int threads = 1; threads <= 3; ++threads) {
      std::fill(got.begin(), got.end(), int8_t{0x55});
      std::vector<int8_t> ws;
      opt::maxpool2d_int8(x.data(), got.data(), s, isa(), &ws, pool_for(threads));
      ASSERT_EQ(want, got) << "case " << t << " " << s.n << "x" << s.c << "x" << s.h << "x" << s.w << " ceil "
                           << s.ceil_mode << " threads " << threads;
    }
  }
}

// Floats at the rounding and saturation edges of every exponent.
std::vector<float> quant_edge_values(int q, Rng& rng) {
  std::vector<float> v = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(), 1e-30f, -1e-30f};
  const float unit = std::ldexp(1.0f, -q);
  for (int i = -140; i <= 140; ++i) {
    const float h = (static_cast<float>(i) + 0.5f) * unit;  // ties at the exponent
    v.push_back(h);
    v.push_back(std::nextafter(h, 1e30f));
    v.push_back(std::nextafter(h, -1e30f));
  }
  for (int i = -33000; i <= 33000; i += 997) v.push_back((static_cast<float>(i) + 0.5f) * unit);
  for (const float e : {32767.5f, -32768.5f, 127.5f, -128.5f, 0.49999997f, -0.49999997f, 0.5f, -0.5f})
    v.push_back(e * unit);
  for (int i = 0; i < 300; ++i) v.push_back(std::ldexp(static_cast<float>(rng.uniform(-(1 << 24), 1 << 24)), rng.uniform(-40, 10) - q));
  return v;
}

TEST_P(Prepacked, QuantizeMatchesReference) {
  Rng rng(8);
  for (const int q : {-32, -7, 0, 3, 7, 11, 15, 24, 40}) {
    const std::vector<float> x = quant_edge_values(q, rng);
    for (const int bits : {8, 16}) {
      for (int threads = 1; threads <= 4; threads += 3) {
        std::vector<int8_t> y8(x.size());
        std::vector<int16_t> y16(x.size());
        const int64_t nan_at = opt::quantize_f32(x.data(), static_cast<int64_t>(x.size()), q, bits,
                                                 bits == 8 ? static_cast<void*>(y8.data()) : y16.data(), isa(),
                                                 pool_for(threads));
        ASSERT_EQ(nan_at, -1);
        for (size_t i = 0; i < x.size(); ++i) {
          const int64_t want = nm::quantize(x[i], q, bits);
          ASSERT_EQ(bits == 8 ? int64_t{y8[i]} : int64_t{y16[i]}, want)
              << "x " << x[i] << " q " << q << " bits " << bits << " threads " << threads;
        }
      }
    }
  }
}

TEST_P(Prepacked, QuantizeReportsFirstNaN) {
  std::vector<float> x(100000, 1.0f);
  x[70001] = std::nanf("");
  x[90000] = std::nanf("");
  x[5] = 2.0f;
  std::vector<int8_t> y(x.size());
  for (int threads = 1; threads <= 4; ++threads)
    EXPECT_EQ(opt::quantize_f32(x.data(), static_cast<int64_t>(x.size()), 4, 8, y.data(), isa(), pool_for(threads)),
              70001)
        << "threads " << threads;
}

TEST_P(Prepacked, DequantizeMatchesReference) {
  Rng rng(3);
  std::vector<int32_t> v32 = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 0, 1, -1,
                              (1 << 24) + 1, -(1 << 24) - 1, (1 << 25) + 3, 2147483583};
  for (int i = 0; i < 500; ++i) v32.push_back(rng.uniform(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
  std::vector<int16_t> v16;
  std::vector<int8_t> v8;
  for (int i = 0; i < 509; ++i) {
    v16.push_back(static_cast<int16_t>(rng.uniform(-32768, 32767)));
    v8.push_back(static_cast<int8_t>(rng.uniform(-128, 127)));
  }
  for (const int q : {-32, -1, 0, 5, 17, 40}) {
    for (const int bits : {8, 16, 32}) {
      const size_t n = bits == 8 ? v8.size() : (bits == 16 ? v16.size() : v32.size());
      const void* x = bits == 8 ? static_cast<const void*>(v8.data())
                                : (bits == 16 ? static_cast<const void*>(v16.data()) : v32.data());
      std::vector<float> y(n);
      opt::dequantize_f32(x, bits, static_cast<int64_t>(n), q, y.data(), isa(), pool_for(2));
      for (size_t i = 0; i < n; ++i) {
        const int64_t qi = bits == 8 ? v8[i] : (bits == 16 ? v16[i] : v32[i]);
        const float want = nm::dequantize(qi, q);
        ASSERT_EQ(std::memcmp(&want, &y[i], sizeof(float)), 0) << qi << " q " << q;
      }
    }
  }
}

// BatchNorm2dInt: the int8 output's vector form (sat32 of the sum) must equal
// the exact int64 reference, also with biases at the int32 limits where the
// sum leaves the int32 range; every shift, odd plane sizes, 1-4 threads.
TEST_P(Prepacked, BatchNormMatchesReference) {
  Rng rng(61);
  const int32_t edge[] = {std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max() - 5000, std::numeric_limits<int32_t>::min() + 7000, 0, -1};
  for (int t = 0; t < 120; ++t) {
    const int64_t n = rng.uniform(1, 2), c = rng.uniform(1, 9), spatial = rng.uniform(1, 150);
    const auto x = rng.i8s(static_cast<size_t>(n * c * spatial));
    const auto w = rng.i8s(static_cast<size_t>(c));
    std::vector<int32_t> b = rng.biases(static_cast<size_t>(c));
    for (size_t i = 0; i < b.size(); ++i)
      if (rng.coin()) b[i] = edge[rng.uniform(0, 5)];
    const int shift = t < 64 ? t : rng.uniform(-3, 40);
    static const int kBits[] = {8, 8, 16, 32};
    const int bits = kBits[t % 4];
    const size_t count = x.size();
    std::vector<int32_t> want32(count), got32(count);
    std::vector<int16_t> want16(count), got16(count);
    std::vector<int8_t> want8(count), got8(count);
    void* got = bits == 8 ? static_cast<void*>(got8.data()) : (bits == 16 ? static_cast<void*>(got16.data()) : got32.data());
    if (bits == 8) nm::batchnorm_int(x.data(), w.data(), b.data(), want8.data(), n, c, spatial, shift, 8);
    if (bits == 16) nm::batchnorm_int(x.data(), w.data(), b.data(), want16.data(), n, c, spatial, shift, 16);
    if (bits == 32) nm::batchnorm_int(x.data(), w.data(), b.data(), want32.data(), n, c, spatial, shift, 32);
    for (int threads = 1; threads <= 4; threads += 3) {
      opt::batchnorm_int8(x.data(), w.data(), b.data(), got, n, c, spatial, shift, bits, isa(), pool_for(threads));
      ASSERT_EQ(want8, got8) << "shift " << shift << " bits " << bits;
      ASSERT_EQ(want16, got16) << "shift " << shift << " bits " << bits;
      ASSERT_EQ(want32, got32) << "shift " << shift << " bits " << bits;
    }
  }
}

TEST_P(Prepacked, ClampMatchesReference) {
  Rng rng(62);
  for (int t = 0; t < 50; ++t) {
    const auto x = rng.i8s(static_cast<size_t>(rng.uniform(1, 300)));
    int lo = rng.uniform(-128, 127), hi = rng.uniform(-128, 127);
    if (lo > hi) std::swap(lo, hi);
    std::vector<int8_t> want(x.size()), got(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = nm::iqclamp(x[i], lo, hi);
    opt::clamp_int8(x.data(), static_cast<int64_t>(x.size()), lo, hi, got.data(), isa(), pool_for(2));
    ASSERT_EQ(want, got) << lo << " " << hi;
  }
}

// iqAdd: every (a, b) int8 pair for shifts from far left to far right.
TEST_P(Prepacked, IqAddEveryPairMatchesReference) {
  std::vector<int8_t> a, b;
  for (int i = -128; i < 128; ++i)
    for (int j = -128; j < 128; ++j) {
      a.push_back(static_cast<int8_t>(i));
      b.push_back(static_cast<int8_t>(j));
    }
  a.push_back(5);  // a tail past the vector width
  b.push_back(-7);
  std::vector<int8_t> got(a.size());
  for (int sa = -10; sa <= 17; ++sa)
    for (const int sb : {-9, -8, -7, -1, 0, 1, 2, 7, 8, 9, 16, 40}) {
      opt::iqadd_int8(a.data(), b.data(), static_cast<int64_t>(a.size()), sa, sb, got.data(), isa(), pool_for(2));
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_EQ(got[i], nm::iqadd(a[i], b[i], sa, sb)) << int{a[i]} << " " << int{b[i]} << " sa " << sa << " sb " << sb;
    }
}

// ---------------------------------------------------------------- the pool itself

TEST(ThreadPool, RangesCoverEachIndexOnceWithDistinctWorkers) {
  for (int threads = 1; threads <= 4; ++threads) {
    opt::ThreadPool pool(threads);
    for (const int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{1000}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::vector<std::atomic<int>> worker_busy(static_cast<size_t>(threads));
      std::atomic<int> overlap{0};
      pool.parallel_for(n, [&](int64_t b, int64_t e, int worker) {
        if (worker_busy[static_cast<size_t>(worker)]++ != 0) ++overlap;
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
        --worker_busy[static_cast<size_t>(worker)];
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "threads " << threads << " n " << n;
      EXPECT_EQ(overlap.load(), 0);
    }
  }
}

// Range r runs as worker r (its scratch), whether pool thread r or the caller
// (when that thread had not claimed it yet) runs it: many short calls on more
// threads than cores take both paths.
TEST(ThreadPool, RangeRunsAsItsOwnWorkerWhoeverRunsIt) {
  const int threads = 4;
  opt::ThreadPool pool(threads);
  const std::thread::id caller = std::this_thread::get_id();
  int64_t stolen = 0, by_pool = 0;
  for (int call = 0; call < 5000; ++call) {
    const int64_t n = 1 + call % 9;
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> wrong_worker{0}, stolen_here{0}, pool_here{0};
    pool.parallel_for(n, [&](int64_t b, int64_t e, int worker) {
      int64_t rb = 0, re = 0;
      opt::ThreadPool::split(n, threads, worker, &rb, &re);
      if (rb != b || re != e) ++wrong_worker;
      if (worker != 0) ++(std::this_thread::get_id() == caller ? stolen_here : pool_here);
      for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "call " << call;
    ASSERT_EQ(wrong_worker.load(), 0) << "call " << call;
    stolen += stolen_here.load();
    by_pool += pool_here.load();
  }
  std::printf("ranges of pool threads run by them: %lld, by the caller: %lld\n", static_cast<long long>(by_pool),
              static_cast<long long>(stolen));
}

// prewake() between calls (sleeping or spinning workers, repeated, just before
// destruction) neither runs anything nor loses a later call.
TEST(ThreadPool, PrewakeBetweenCalls) {
  for (int round = 0; round < 20; ++round) {
    opt::ThreadPool pool(3);
    std::atomic<int64_t> sum{0};
    for (int call = 0; call < 3; ++call) {
      pool.prewake();
      if (round % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers back asleep
      pool.parallel_for(30, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) sum += i;
      });
      pool.prewake();
      pool.prewake();
    }
    EXPECT_EQ(sum.load(), 3 * 435);
  }
}

TEST(ThreadPool, ExceptionReachesTheCaller) {
  opt::ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(9, [](int64_t b, int64_t, int) {
    if (b >= 6) throw std::runtime_error("task failed");
  }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(IsaChoice, AutoPicksASupportedIsaAndForcedIsKept) {
  Rng rng(1);
  nm::Conv2dShape s;
  s.c = 16; s.h = s.w = 9; s.o = 32; s.kh = s.kw = 3;
  const auto w = rng.i8s(static_cast<size_t>(s.o) * s.c * 9);
  const opt::Conv2dInt8 conv(s, w.data(), Isa::kAuto);
  EXPECT_TRUE(opt::isa_supported(conv.isa()));
  EXPECT_NE(conv.isa(), Isa::kAuto);
  EXPECT_EQ(opt::Conv2dInt8(s, w.data(), Isa::kScalar).isa(), Isa::kScalar);
}

}  // namespace
