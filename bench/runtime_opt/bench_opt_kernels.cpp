// Micro-benchmark of the optimised int8 kernels, per layer: whole-layer time
// (im2col / B packing, GEMM and requantisation; weights prepacked as the
// runtime does at load) on every ISA this CPU supports, 1 and 2 threads,
// against the machine's measured int8 peak (the VNNI / AVX2 GEMM tile on data
// in L1). Variants are run interleaved (round robin) and the minimum of the
// repeats is kept, so that a loaded machine disturbs them alike. The outputs
// are compared with the scalar reference (tolerance 0) once per layer.
//
//   bench_runtime_opt [repeats] [filter]     (default 15; filter: substring of the layer names)
//
// Built with the tests (tests/runtime_opt/CMakeLists.txt adds this folder).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "opt_internal.h"
#include "opt_kernels.h"
#include "thread_pool.h"

namespace {

namespace nm = linger::numerics;
namespace opt = linger::runtime::opt;
using opt::Isa;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Minimum time of each function over `repeats` interleaved rounds. Each
// timed call directly follows an untimed one of the same function: a 2-thread
// variant then finds the pool's worker still spinning, as between the layers
// of a model (after another variant's run it would sleep, and waking it costs
// tens of microseconds: more than half of a small layer's time).
std::vector<double> min_ms_interleaved(int repeats, const std::vector<std::function<void()>>& fns) {
  std::vector<double> best(fns.size(), 1e300);
  for (int r = 0; r < repeats; ++r)
    for (size_t i = 0; i < fns.size(); ++i) {
      fns[i]();
      const double t0 = now_ms();
      fns[i]();
      best[i] = std::min(best[i], now_ms() - t0);
    }
  return best;
}

std::vector<int8_t> random_i8(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& e : v) e = static_cast<int8_t>(d(rng));
  return v;
}

// GMAC/s of the GEMM tile alone on L1-resident packed operands.
double peak_gmacs(Isa isa) {
  // One tile of each ISA (8 x 32 VNNI, 6 x 16 AVX2 rows/columns) with a long k,
  // operands in L1 (about 20 KB): the tile's inner loop alone.
  const int64_t m = isa == Isa::kAvx512Vnni ? 8 : 6, n = isa == Isa::kAvx512Vnni ? 32 : 16, k = 512;
  std::vector<int32_t> c(static_cast<size_t>(m * n));
  std::function<void()> fn;
  std::vector<int8_t> a8(static_cast<size_t>(m * k), 3), b8(static_cast<size_t>(n * k), 5);
  std::vector<int16_t> a16(static_cast<size_t>(m * k), 3), b16(static_cast<size_t>(n * k), 5);
  std::vector<int32_t> comp(static_cast<size_t>(m), 0);
  const int reps = 100;  // short runs (about 0.1 ms), many of them: the minimum is an uninterrupted one
#if defined(LINGER_BENCH_VNNI)
  if (isa == Isa::kAvx512Vnni) {
    fn = [&] {
      for (int r = 0; r < reps; ++r)
        opt::detail::avx512vnni::gemm_packed(a8.data(), comp.data(), reinterpret_cast<const uint8_t*>(b8.data()), m, n,
                                             k, c.data(), n);
    };
  }
#endif
#if defined(LINGER_BENCH_AVX2)
  if (isa == Isa::kAvx2) {
    fn = [&] {
      for (int r = 0; r < reps; ++r) opt::detail::avx2::gemm_packed(a16.data(), b16.data(), m, n, k, c.data(), n);
    };
  }
#endif
  if (!fn) return 0.0;
  const double t = min_ms_interleaved(500, {fn})[0];
  return static_cast<double>(m) * n * k * reps / t * 1e-6;
}

nm::Conv2dShape conv(int c, int hw, int o, int k, int stride, int groups = 1) {
  nm::Conv2dShape s;
  s.c = c; s.h = s.w = hw; s.o = o; s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = k / 2;
  s.groups = groups;
  return s;
}

struct Layer {
  const char* name;
  nm::Conv2dShape s;
};

std::unique_ptr<opt::ThreadPool> g_pool2;

bool bench_layer(const Layer& L, int repeats, std::mt19937& rng, const double* peak) {
  const nm::Conv2dShape& s = L.s;
  const auto x = random_i8(static_cast<size_t>(s.n) * s.c * s.h * s.w, rng);
  const auto w = random_i8(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw, rng);
  std::vector<int32_t> bias(static_cast<size_t>(s.o), 1234);
  const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  const double macs = static_cast<double>(count) * (s.c / s.groups) * s.kh * s.kw;
  opt::OutputStage st;
  st.shift = 10;
  st.lo = 0;
  std::vector<int8_t> want(count);
  nm::conv2d_int(x.data(), w.data(), bias.data(), want.data(), s, st.shift, true, 8);

  struct Variant {
    Isa isa;
    int threads;
    opt::Conv2dInt8 conv;
    std::vector<int8_t> y, ws;
  };
  std::vector<std::unique_ptr<Variant>> vs;
  for (const Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni})
    for (const int threads : {1, 2}) {
      if (!opt::isa_supported(isa)) continue;
      auto v = std::make_unique<Variant>();
      v->isa = isa;
      v->threads = threads;
      v->conv = opt::Conv2dInt8(s, w.data(), isa);
      v->y.resize(count);
      vs.push_back(std::move(v));
    }
  std::vector<std::function<void()>> fns;
  for (auto& v : vs) {
    Variant* p = v.get();
    fns.push_back([p, &x, &bias, st] {
      p->conv.run(x.data(), bias.data(), p->y.data(), st, &p->ws, p->threads > 1 ? g_pool2.get() : nullptr);
    });
  }
  const std::vector<double> t = min_ms_interleaved(repeats, fns);
  const Isa chosen = opt::choose_conv_isa(s, Isa::kAuto);
  bool ok = true;
  for (size_t i = 0; i < vs.size(); ++i) {
    const bool same = vs[i]->y == want;
    ok = ok && same;
    const double g = macs / t[i] * 1e-6;
    const double pk = peak[static_cast<int>(vs[i]->isa)];
    std::printf("%-34s %-10s %dT %9.3f ms %7.1f GMAC/s %5.0f%% of %s peak%s%s\n", L.name, opt::isa_name(vs[i]->isa),
                vs[i]->threads, t[i], g, pk > 0 ? 100.0 * g / pk : 0.0, opt::isa_name(vs[i]->isa),
                vs[i]->isa == chosen && vs[i]->threads == 1 ? "  <- auto" : "", same ? "" : "  MISMATCH");
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const std::string filter = argc > 2 ? argv[2] : "";
  g_pool2 = std::make_unique<opt::ThreadPool>(2);
  double peak[3] = {0, 0, 0};
  for (const Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni})
    if (opt::isa_supported(isa)) peak[static_cast<int>(isa)] = peak_gmacs(isa);
  std::printf("int8 peak (GEMM tile, L1 data, 1 thread): avx2 %.1f GMAC/s, avx512vnni %.1f GMAC/s\n", peak[1], peak[2]);
  std::printf("whole layers (B packing / im2col + GEMM + requant + ReLU), weights prepacked; min of %d interleaved runs\n",
              repeats);
  std::mt19937 rng(12345);
  const Layer layers[] = {
      {"r18-224 conv1 3->64 7x7 s2 @224", conv(3, 224, 64, 7, 2)},
      {"r18-224 l1 64->64 3x3 @56", conv(64, 56, 64, 3, 1)},
      {"r18-224 l2 64->128 3x3 s2 @56", conv(64, 56, 128, 3, 2)},
      {"r18-224 l2 128->128 3x3 @28", conv(128, 28, 128, 3, 1)},
      {"r18-224 l2 ds 64->128 1x1 s2 @56", conv(64, 56, 128, 1, 2)},
      {"r18-224 l3 256->256 3x3 @14", conv(256, 14, 256, 3, 1)},
      {"r18-224 l4 512->512 3x3 @7", conv(512, 7, 512, 3, 1)},
      {"r18-64 l1 64->64 3x3 @16", conv(64, 16, 64, 3, 1)},
      {"r18-64 l3 256->256 3x3 @4", conv(256, 4, 256, 3, 1)},
      {"r18-64 l4 512->512 3x3 @2", conv(512, 2, 512, 3, 1)},
      {"mv2 expand 24->144 1x1 @56", conv(24, 56, 144, 1, 1)},
      {"mv2 dw 144 3x3 s2 @56", conv(144, 56, 144, 3, 2, 144)},
      {"mv2 dw 144 3x3 @56", conv(144, 56, 144, 3, 1, 144)},
      {"mv2 dw 32 3x3 @112", conv(32, 112, 32, 3, 1, 32)},
      {"mv2 dw 96 3x3 s2 @112", conv(96, 112, 96, 3, 2, 96)},
      {"mv2 dw 192 3x3 @28", conv(192, 28, 192, 3, 1, 192)},
      {"mv2 dw 384 3x3 @14", conv(384, 14, 384, 3, 1, 384)},
      {"mv2 dw 960 3x3 @7", conv(960, 7, 960, 3, 1, 960)},
      {"mv2 project 144->24 1x1 @56", conv(144, 56, 24, 1, 1)},
      {"mv2 expand 160->960 1x1 @7", conv(160, 7, 960, 1, 1)},
      {"mv2 last 320->1280 1x1 @7", conv(320, 7, 1280, 1, 1)},
  };
  bool ok = true;
  for (const auto& L : layers)
    if (filter.empty() || std::string(L.name).find(filter) != std::string::npos) ok = bench_layer(L, repeats, rng, peak) && ok;
  if (!ok) std::printf("MISMATCH against the reference\n");
  return ok ? 0 : 1;
}
