// The element-wise and pooling kernels of the runtime's optimised path:
// MaxPool, AvgPool2dInt, BatchNorm2dInt, iqClamp, iqAdd, Quant and Dequant
// (opt_kernels.h), each equal to its numerics reference, AVX2 where the CPU has
// it, and split over the intra-op threads (planes or chunks of elements).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "linger/numerics/batchnorm.h"
#include "linger/numerics/binary.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "opt_common.h"
#include "opt_internal.h"
#include "opt_kernels.h"

namespace linger {
namespace runtime {
namespace opt {

namespace nm = numerics;
using detail::at;
using detail::Carver;
using detail::grain_tasks;
using detail::kPlaneSlack;
using detail::WorkerSplit;

// ------------------------------------------------------------------ pooling

namespace {
// MaxPool row buffer: the window columns of one output row, -128 outside the input.
int64_t maxpool_row_bytes(const nm::Pool2dShape& s) {
  return sat_add(sat_add(sat_mul(int64_t{s.out_w()} - 1, s.stride_w), s.kw), kPlaneSlack);
}
}  // namespace

int64_t maxpool2d_workspace_bytes(const numerics::Pool2dShape& s, int threads) {
  if (!s.valid()) return 0;
  Carver one;
  one.add(maxpool_row_bytes(s));
  WorkerSplit ws;
  ws.finish(0, one, std::max(1, threads));
  return ws.cv.bytes();
}

void maxpool2d_int8(const int8_t* x, int8_t* y, const numerics::Pool2dShape& s, Isa isa, std::vector<int8_t>* ws,
                    ThreadPool* pool) {
  if (!s.valid()) return;
  const int oh = s.out_h(), ow = s.out_w();
  const int64_t planes = int64_t{s.n} * s.c, hw = int64_t{s.h} * s.w, ohw = int64_t{oh} * ow;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar && (s.stride_w == 1 || s.stride_w == 2);
#else
  const bool simd = false;
  (void)isa;
#endif
  if (!simd) {
    parallel_for(pool, planes, [&](int64_t p0, int64_t p1, int) {
      nm::Pool2dShape one = s;
      one.n = 1;
      one.c = 1;
      for (int64_t p = p0; p < p1; ++p) nm::maxpool2d_int(x + p * hw, y + p * ohw, one);
    });
    return;
  }
#if defined(LINGER_OPT_HAVE_AVX2)
  if (s.kh == 2 && s.kw == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_top == 0 && s.pad_left == 0 &&
      s.pad_bottom == 0 && s.pad_right == 0 && 2 * int64_t{oh} <= s.h && 2 * int64_t{ow} <= s.w) {
    // The common 2x2 pool, every window inside the plane: no row buffer.
    parallel_for(pool, planes, [&](int64_t p0, int64_t p1, int) {
      for (int64_t p = p0; p < p1; ++p)
        detail::avx2::maxpool2x2_s2_plane(x + p * hw, s.w, oh, ow, y + p * ohw, x + planes * hw, y + p1 * ohw);
    });
    return;
  }
  std::vector<int8_t> local;
  if (!ws) ws = &local;
  Carver one;
  one.add(maxpool_row_bytes(s));
  WorkerSplit split;
  split.finish(0, one, pool_threads(pool));
  uint8_t* base = split.cv.base(ws);
  const int64_t span = maxpool_row_bytes(s);
  // Row r[j] = max over the window rows of input column j - pad_left (-128 outside).
  parallel_for(pool, planes, [&](int64_t p0, int64_t p1, int worker) {
    int8_t* r = at<int8_t>(split.region(base, worker), 0);
    std::memset(r, nm::kMaxPoolPad, static_cast<size_t>(span));  // the slack past the windows stays -128
    for (int64_t p = p0; p < p1; ++p) {
      const int8_t* plane = x + p * hw;
      for (int oy = 0; oy < oh; ++oy) {
        std::memset(r, nm::kMaxPoolPad, static_cast<size_t>(span - kPlaneSlack));
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.stride_h - s.pad_top + ky;
          if (iy < 0 || iy >= s.h) continue;
          // Columns past the row buffer's window part are never read for an output.
          const int64_t cols = std::min<int64_t>(s.w, span - kPlaneSlack - s.pad_left);
          if (cols > 0) detail::avx2::max_row(r + s.pad_left, plane + int64_t{iy} * s.w, cols);
        }
        detail::avx2::max_window_row(r, ow, s.kw, s.stride_w, y + p * ohw + int64_t{oy} * ow);
      }
    }
  });
#endif
}

void avgpool2d_int8(const int8_t* x, int8_t* y, const numerics::Pool2dShape& s, ThreadPool* pool) {
  if (!s.valid()) return;
  const int64_t planes = int64_t{s.n} * s.c, hw = int64_t{s.h} * s.w, ohw = int64_t{s.out_h()} * s.out_w();
  if (s.kh == s.h && s.kw == s.w && s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 &&
      ohw == 1 && hw < (int64_t{1} << 23)) {
    // Global average pool (a classifier head): the window is the plane, the
    // same sum in one int32 loop the compiler vectorises (|sum| < 2^30), no
    // per-tap bounds checks.
    parallel_for(pool, planes, [&](int64_t p0, int64_t p1, int) {
      for (int64_t p = p0; p < p1; ++p) {
        const int8_t* plane = x + p * hw;
        int32_t sum = 0;
        for (int64_t j = 0; j < hw; ++j) sum += plane[j];
        y[p] = nm::avgpool_from_sum(sum, hw);
      }
    });
    return;
  }
  parallel_for(pool, planes, [&](int64_t p0, int64_t p1, int) {
    nm::Pool2dShape one = s;
    one.n = 1;
    one.c = 1;
    for (int64_t p = p0; p < p1; ++p) nm::avgpool2d_int(x + p * hw, y + p * ohw, one);
  });
}

// ------------------------------------------------------------------ BatchNorm2dInt, iqClamp

// The int8-output BatchNorm2dInt through the conv requantisation: acc = x * w
// (|acc| <= 2^14) and sat32(acc + b) in place of the exact int64 sum. They
// differ only where |acc + b| >= 2^31, and there both give the same int8 after
// rhu_shift and saturation: for shift >= 15 the two sums are within 2^14 of
// +-2^31 and round to the same +-2^(31 - shift) (|d / 2^shift| < 1/2); for
// shift < 15 both exceed 2^16 in magnitude and saturate alike.
void batchnorm_int8(const int8_t* x, const int8_t* w, const int32_t* b, void* y, int64_t n, int64_t c, int64_t spatial,
                    int shift, int out_bits, Isa isa, ThreadPool* pool) {
  if (n <= 0 || c <= 0 || spatial <= 0) return;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar && out_bits == 8 && shift >= 0 && shift <= 63;
#else
  const bool simd = false;
  (void)isa;
#endif
  parallel_for(pool, n * c, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t ch = p % c, off = p * spatial;
      const int32_t bc = b ? b[ch] : 0;
      if (simd) {
#if defined(LINGER_OPT_HAVE_AVX2)
        detail::avx2::batchnorm_row_s8(x + off, spatial, w[ch], bc, shift, static_cast<int8_t*>(y) + off);
#endif
      } else if (out_bits == 16) {
        nm::batchnorm_int_plane(x + off, w[ch], bc, static_cast<int16_t*>(y) + off, spatial, shift, 16);
      } else if (out_bits == 32) {
        nm::batchnorm_int_plane(x + off, w[ch], bc, static_cast<int32_t*>(y) + off, spatial, shift, 32);
      } else {
        nm::batchnorm_int_plane(x + off, w[ch], bc, static_cast<int8_t*>(y) + off, spatial, shift, 8);
      }
    }
  });
}

void clamp_int8(const int8_t* x, int64_t n, int lo, int hi, int8_t* y, Isa isa, ThreadPool* pool) {
  if (n <= 0) return;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar;
#else
  (void)isa;
#endif
  parallel_for(pool, grain_tasks(n, 1 << 16), [&](int64_t t0, int64_t t1, int) {
    const int64_t i0 = t0 << 16, i1 = std::min(n, t1 << 16);
#if defined(LINGER_OPT_HAVE_AVX2)
    if (simd) {
      detail::avx2::clamp_row_s8(x + i0, i1 - i0, static_cast<int8_t>(lo), static_cast<int8_t>(hi), y + i0);
      return;
    }
#endif
    for (int64_t i = i0; i < i1; ++i) y[i] = nm::iqclamp(x[i], lo, hi);
  });
}

void iqadd_int8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y, Isa isa, ThreadPool* pool) {
  if (n <= 0) return;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar;
#else
  (void)isa;
#endif
  parallel_for(pool, grain_tasks(n, 1 << 15), [&](int64_t t0, int64_t t1, int) {
    const int64_t i0 = t0 << 15, i1 = std::min(n, t1 << 15);
    int64_t i = i0;
#if defined(LINGER_OPT_HAVE_AVX2)
    if (simd) i += detail::avx2::iqadd_row_s8(a + i0, b + i0, i1 - i0, sa, sb, y + i0);
#endif
    for (; i < i1; ++i) y[i] = nm::iqadd(a[i], b[i], sa, sb);
  });
}

// ------------------------------------------------------------------ Quant / Dequant

namespace {
constexpr int64_t kElemGrain = 1 << 14;  // elements per task
}  // namespace

int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y, Isa isa, ThreadPool* pool) {
  if (n <= 0) return -1;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar && q >= -100 && q <= 100;
  const float scale = std::ldexp(1.0f, q);
#else
  (void)isa;
#endif
  std::atomic<int64_t> first_nan{-1};
  parallel_for(pool, grain_tasks(n, kElemGrain), [&](int64_t t0, int64_t t1, int) {
    const int64_t i0 = t0 * kElemGrain, i1 = std::min(n, t1 * kElemGrain);
    int64_t i = i0;
#if defined(LINGER_OPT_HAVE_AVX2)
    if (simd)
      i += bits == 16 ? detail::avx2::quantize_s16(x + i0, i1 - i0, scale, static_cast<int16_t*>(y) + i0)
                      : detail::avx2::quantize_s8(x + i0, i1 - i0, scale, static_cast<int8_t*>(y) + i0);
#endif
    for (; i < i1; ++i) {
      if (std::isnan(x[i])) {
        // The smallest index over all tasks (each task reports its first).
        int64_t cur = first_nan.load();
        while ((cur < 0 || i < cur) && !first_nan.compare_exchange_weak(cur, i)) {
        }
        return;
      }
      if (bits == 16)
        static_cast<int16_t*>(y)[i] = static_cast<int16_t>(nm::quantize(x[i], q, 16));
      else
        static_cast<int8_t*>(y)[i] = static_cast<int8_t>(nm::quantize(x[i], q, 8));
    }
  });
  return first_nan.load();
}

// dequantize(q, Q) = float(double(q) * 2^-Q) rounds the exact value once. Here
// float(q) * 2^-Q: for |q| < 2^24 float(q) is exact and the product by a power
// of two is exact (no overflow or underflow for |Q| <= 100 and 32-bit q); for
// larger int32 q, float(q) rounds once to nearest even and the scaling by 2^-Q
// commutes with that rounding. The same float either way.
void dequantize_f32(const void* x, int bits, int64_t n, int q, float* y, Isa isa, ThreadPool* pool) {
  if (n <= 0) return;
  const bool exact_scale = q >= -100 && q <= 100;
  const float scale = exact_scale ? std::ldexp(1.0f, -q) : 0.0f;
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool simd = resolve_isa(isa) != Isa::kScalar && exact_scale;
#else
  (void)isa;
#endif
  parallel_for(pool, grain_tasks(n, kElemGrain), [&](int64_t t0, int64_t t1, int) {
    const int64_t i0 = t0 * kElemGrain, i1 = std::min(n, t1 * kElemGrain);
#if defined(LINGER_OPT_HAVE_AVX2)
    if (simd) {
      if (bits == 8)
        detail::avx2::dequantize_s8(static_cast<const int8_t*>(x) + i0, i1 - i0, scale, y + i0);
      else if (bits == 16)
        detail::avx2::dequantize_s16(static_cast<const int16_t*>(x) + i0, i1 - i0, scale, y + i0);
      else
        detail::avx2::dequantize_s32(static_cast<const int32_t*>(x) + i0, i1 - i0, scale, y + i0);
      return;
    }
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t v = bits == 8    ? int64_t{static_cast<const int8_t*>(x)[i]}
                        : bits == 16 ? int64_t{static_cast<const int16_t*>(x)[i]}
                                     : int64_t{static_cast<const int32_t*>(x)[i]};
      y[i] = nm::dequantize(v, q);
    }
  });
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
