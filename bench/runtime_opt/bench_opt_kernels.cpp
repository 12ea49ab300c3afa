// Micro-benchmark: optimised int8 conv / linear (every ISA this CPU supports)
// against the scalar reference of include/linger/numerics, measured in the same
// run. Prints the median time of each and the speed-up over the reference; the
// outputs are also compared (tolerance 0).
//
//   bench_runtime_opt [repeats]     (default 21)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "opt_kernels.h"

namespace {

namespace nm = linger::numerics;
namespace opt = linger::runtime::opt;
using opt::Isa;

double median_ms(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up (workspace growth, caches)
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<int8_t> random_i8(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& e : v) e = static_cast<int8_t>(d(rng));
  return v;
}

struct ConvCase {
  const char* name;
  nm::Conv2dShape s;
};

nm::Conv2dShape shape(int c, int hw, int o, int k, int stride, int pad, int groups) {
  nm::Conv2dShape s;
  s.n = 1; s.c = c; s.h = s.w = hw; s.o = o; s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.groups = groups;
  return s;
}

const Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni};

bool bench_conv(const ConvCase& cc, int repeats, std::mt19937& rng) {
  const nm::Conv2dShape& s = cc.s;
  const auto x = random_i8(static_cast<size_t>(s.n) * s.c * s.h * s.w, rng);
  const auto w = random_i8(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw, rng);
  std::vector<int32_t> bias(static_cast<size_t>(s.o), 1234);
  const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  std::vector<int8_t> want(count), got(count);
  const int shift = 10;
  const double ref = median_ms(repeats, [&] {
    nm::conv2d_int(x.data(), w.data(), bias.data(), want.data(), s, shift, true, 8);
  });
  const double macs = static_cast<double>(count) * (s.c / s.groups) * s.kh * s.kw;
  std::printf("conv %-34s %8.3f ms  reference (numerics::conv2d_int)\n", cc.name, ref);
  bool ok = true;
  std::vector<int8_t> ws;
  for (const Isa isa : kIsas) {
    if (!opt::isa_supported(isa)) continue;
    const double t = median_ms(repeats, [&] {
      opt::conv2d_int8(x.data(), w.data(), bias.data(), got.data(), s, shift, true, 8, isa, &ws);
    });
    const bool same = got == want;
    ok = ok && same;
    std::printf("conv %-34s %8.3f ms  %-10s x%6.1f vs reference  %6.2f GMAC/s%s\n", cc.name, t, opt::isa_name(isa),
                ref / t, macs / t * 1e-6, same ? "" : "  MISMATCH");
  }
  return ok;
}

bool bench_linear(int64_t m, int64_t k, int64_t n, int repeats, std::mt19937& rng) {
  const auto x = random_i8(static_cast<size_t>(m * k), rng);
  const auto w = random_i8(static_cast<size_t>(n * k), rng);
  std::vector<int32_t> bias(static_cast<size_t>(n), -77);
  std::vector<int8_t> want(static_cast<size_t>(m * n)), got(want.size());
  const double ref = median_ms(repeats, [&] {
    nm::linear_int(x.data(), w.data(), bias.data(), want.data(), m, k, n, 12, 8);
  });
  const std::string name = "m" + std::to_string(m) + " k" + std::to_string(k) + " n" + std::to_string(n);
  std::printf("linear %-32s %8.3f ms  reference (numerics::linear_int)\n", name.c_str(), ref);
  bool ok = true;
  for (const Isa isa : kIsas) {
    if (!opt::isa_supported(isa)) continue;
    const double t = median_ms(repeats, [&] {
      opt::linear_int8(x.data(), w.data(), bias.data(), got.data(), m, k, n, 12, 8, isa);
    });
    const bool same = got == want;
    ok = ok && same;
    std::printf("linear %-32s %8.3f ms  %-10s x%6.1f vs reference%s\n", name.c_str(), t, opt::isa_name(isa), ref / t,
                same ? "" : "  MISMATCH");
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 21;
  std::printf("best ISA: %s (avx2 %s, avx512vnni %s); median of %d runs, 1 thread\n", opt::isa_name(opt::best_isa()),
              opt::isa_supported(Isa::kAvx2) ? "yes" : "no", opt::isa_supported(Isa::kAvx512Vnni) ? "yes" : "no",
              repeats);
  std::mt19937 rng(12345);
  const ConvCase convs[] = {
      {"1x32x14x14 -> 64, 3x3 pad 1", shape(32, 14, 64, 3, 1, 1, 1)},
      {"1x64x28x28 -> 64, 3x3 pad 1", shape(64, 28, 64, 3, 1, 1, 1)},
      {"1x3x64x64 -> 16, 3x3 s2 pad 1", shape(3, 64, 16, 3, 2, 1, 1)},
      {"1x64x28x28 -> 128, 1x1", shape(64, 28, 128, 1, 1, 0, 1)},
      {"1x64x28x28 dw 3x3 pad 1", shape(64, 28, 64, 3, 1, 1, 64)},
      {"1x128x7x7 -> 256, 3x3 pad 1", shape(128, 7, 256, 3, 1, 1, 1)},
  };
  bool ok = true;
  for (const auto& cc : convs) ok = bench_conv(cc, repeats, rng) && ok;
  ok = bench_linear(1, 512, 1000, repeats, rng) && ok;
  ok = bench_linear(64, 256, 256, repeats, rng) && ok;
  if (!ok) std::printf("MISMATCH against the reference\n");
  return ok ? 0 : 1;
}
