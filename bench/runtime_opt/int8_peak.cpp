// The int8 multiply-accumulate peak of this CPU, for bench/bench_models.py's
// "% of peak" column: a loop of independent multiply-accumulate instructions
// on registers (no memory traffic), one or more threads, best of a few
// trials. Prints one line per ISA the CPU has:
//   avx512vnni threads=1 gmacs=539.2 wall_gmacs=530.0  (vpdpbusd zmm: 64 u8 x s8 MACs each)
//   avx2 threads=1 gmacs=... wall_gmacs=...             (vpmaddwd ymm: 16 s16 x s16 MACs each,
//                                                        the runtime's AVX2 GEMM building block)
// gmacs counts each thread's own CPU time (the core's peak, even on a shared
// machine); wall_gmacs the wall-clock time.
// Usage: bench_int8_peak [threads]   (default 1)
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kIters = 20000000;

#if defined(LINGER_PEAK_HAVE_VNNI)
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int64_t vnni_loop(int64_t iters, int seed) {
  const __m512i a = _mm512_set1_epi8(static_cast<char>(seed | 1));
  const __m512i b = _mm512_set1_epi8(3);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,
          c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    c0 = _mm512_dpbusd_epi32(c0, a, b);
    c1 = _mm512_dpbusd_epi32(c1, a, b);
    c2 = _mm512_dpbusd_epi32(c2, a, b);
    c3 = _mm512_dpbusd_epi32(c3, a, b);
    c4 = _mm512_dpbusd_epi32(c4, a, b);
    c5 = _mm512_dpbusd_epi32(c5, a, b);
    c6 = _mm512_dpbusd_epi32(c6, a, b);
    c7 = _mm512_dpbusd_epi32(c7, a, b);
    c8 = _mm512_dpbusd_epi32(c8, a, b);
    c9 = _mm512_dpbusd_epi32(c9, a, b);
    c10 = _mm512_dpbusd_epi32(c10, a, b);
    c11 = _mm512_dpbusd_epi32(c11, a, b);
    // Every accumulator opaque to the compiler: no merging of identical chains.
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7), "+v"(c8),
                     "+v"(c9), "+v"(c10), "+v"(c11));
  }
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                               _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, s);
  int64_t t = 0;
  for (int32_t v : out) t += v;
  return t;
}
constexpr int64_t kVnniMacsPerIter = 12 * 64;
#endif

#if defined(LINGER_PEAK_HAVE_AVX2)
__attribute__((target("avx2"))) int64_t avx2_loop(int64_t iters, int seed) {
  const __m256i a = _mm256_set1_epi16(static_cast<short>(seed | 1));
  const __m256i b = _mm256_set1_epi16(3);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a, b));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(a, b));
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(a, b));
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(a, b));
    c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(a, b));
    c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(a, b));
    c6 = _mm256_add_epi32(c6, _mm256_madd_epi16(a, b));
    c7 = _mm256_add_epi32(c7, _mm256_madd_epi16(a, b));
    __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7));
  }
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                               _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  alignas(32) int32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
  int64_t t = 0;
  for (int32_t v : out) t += v;
  return t;
}
constexpr int64_t kAvx2MacsPerIter = 8 * 16;
#endif

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Rate {
  double cpu = 0.0;   // GMAC per second of each thread's own CPU time, summed over the threads
  double wall = 0.0;  // GMAC per second of wall-clock time (lower on a loaded machine)
};

// Best of `trials` runs of `threads` threads each doing kIters iterations.
// The CPU-time rate is the core's peak even while other processes share the
// cores (time slices do not count); the wall-clock rate is what a run sees.
template <typename Loop>
Rate measure(Loop loop, int64_t macs_per_iter, int threads, int trials) {
  Rate best;
  volatile int64_t sink = 0;
  const double macs = static_cast<double>(kIters) * static_cast<double>(macs_per_iter);
  for (int t = 0; t < trials; ++t) {
    std::vector<std::thread> pool;
    std::vector<int64_t> results(static_cast<size_t>(threads));
    std::vector<double> cpu(static_cast<size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < threads; ++k)
      pool.emplace_back([&, k] {
        const double c0 = thread_cpu_seconds();
        results[static_cast<size_t>(k)] = loop(kIters, k + t);
        cpu[static_cast<size_t>(k)] = thread_cpu_seconds() - c0;
      });
    for (std::thread& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu_rate = 0.0;
    for (int k = 0; k < threads; ++k) {
      sink = sink + results[static_cast<size_t>(k)];
      cpu_rate += macs / cpu[static_cast<size_t>(k)] / 1e9;
    }
    if (cpu_rate > best.cpu) best.cpu = cpu_rate;
    if (macs * threads / s / 1e9 > best.wall) best.wall = macs * threads / s / 1e9;
  }
  (void)sink;
  return best;
}

void report(const char* isa, int threads, const Rate& r) {
  std::printf("%s threads=%d gmacs=%.1f wall_gmacs=%.1f\n", isa, threads, r.cpu, r.wall);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  if (threads < 1 || threads > 256) {
    std::fprintf(stderr, "usage: bench_int8_peak [threads 1..256]\n");
    return 2;
  }
  __builtin_cpu_init();
  bool any = false;
#if defined(LINGER_PEAK_HAVE_VNNI)
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
    report("avx512vnni", threads, measure(vnni_loop, kVnniMacsPerIter, threads, 5));
    any = true;
  }
#endif
#if defined(LINGER_PEAK_HAVE_AVX2)
  if (__builtin_cpu_supports("avx2")) {
    report("avx2", threads, measure(avx2_loop, kAvx2MacsPerIter, threads, 5));
    any = true;
  }
#endif
  if (!any) std::printf("none threads=%d gmacs=0 wall_gmacs=0\n", threads);
  return 0;
}
