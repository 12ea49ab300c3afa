// Optimised int8 kernels: ISA detection and dispatch, the scalar paths, and the
// ISA-neutral drivers (im2col, blocking, requantisation) around the per-ISA GEMM
// building blocks of opt_avx2.cc / opt_avx512vnni.cc (opt_internal.h).
//
// This unit is compiled for the baseline architecture only; every SIMD
// instruction lives in the ISA units, reached after a run-time cpuid check.
//
// Conv2dInt as a GEMM per (image, group, block of output pixels):
//   C[oc][p] = sum_k W[oc][k] * col[k][p],  k = (ic, ky, kx), p = oy * out_w + ox
// W (the broadcast operand "A") is packed once, when the Conv2dInt8 is built;
// each block of columns (the vector operand "B": im2col rows, the input planes
// of a 1x1 conv, or the taps of a zero-padded input plane for stride 1; see
// BSource) is packed once and swept by the output channels of its task; C is
// then requantised into the NCHW output. Depthwise convs (one input channel
// per group) accumulate directly instead. The int32 sums wrap modulo 2^32
// exactly as the reference's accumulator does, whatever the order of the
// additions, so neither the blocking nor the split over threads changes a bit.
//
// Threads: the (pixel block x output-channel chunk) tasks of each (image,
// group), the planes of depthwise convs and pools, the row blocks x column
// chunks of LinearInt and chunks of elements of Quant / Dequant go to the
// workers of a ThreadPool; each task writes its own outputs, with scratch
// memory of its worker (WorkerSplit).
//
// Requantisation: numerics::conv_requant (the shared formula) then the clamp
// of OutputStage per output; on SIMD paths its AVX2 form
// detail::avx2::requant_row_* (tested equal to it on the int32 edges, every
// shift 0..63) does whole rows.
//
// LinearInt: int32 GEMM (exact: |sum| <= k * 2^14 < 2^31) + int64 bias, then
// numerics::linear_requant / linear_float_out; the int64 reference beyond that k.
#include "opt_kernels.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "linger/numerics/batchnorm.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "opt_common.h"
#include "opt_internal.h"
#include "../../size_math.h"

namespace linger {
namespace runtime {
namespace opt {
namespace {

namespace nm = numerics;
using detail::at;
using detail::Carver;
using detail::ceil_div;
using detail::kPlaneSlack;
using detail::round_up;
using detail::WorkerSplit;

// ------------------------------------------------------------------ ISA detection

struct CpuIsas {
  bool avx2 = false;
  bool avx512vnni = false;
};

CpuIsas detect_cpu() {
  CpuIsas r;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
#if defined(LINGER_OPT_HAVE_AVX2)
  r.avx2 = __builtin_cpu_supports("avx2");
#endif
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
  // The VNNI path is ordered above AVX2 (fallbacks step down one level).
  r.avx512vnni = r.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vnni");
#endif
#endif
  return r;
}

const CpuIsas& cpu() {
  static const CpuIsas c = detect_cpu();
  return c;
}

Isa best_cpu_isa() {
  if (cpu().avx512vnni) return Isa::kAvx512Vnni;
  if (cpu().avx2) return Isa::kAvx2;
  return Isa::kScalar;
}

// An ISA the CPU lacks steps down to the best supported one below it.
Isa resolve(Isa isa) {
  if (isa == Isa::kAuto) return best_cpu_isa();
  if (isa_supported(isa)) return isa;
  if (isa == Isa::kAvx512Vnni && isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

// ------------------------------------------------------------------ helpers

// Bytes of packed B (vector operand) per GEMM block: keeps the block in L2.
constexpr int64_t kBlockBytes = 128 * 1024;

// Number of columns per block: a multiple of nr, about kBlockBytes of packed
// data, blocks of even size over `total` columns.
int64_t pick_block_cols(int64_t bytes_per_col, int64_t nr, int64_t total) {
  int64_t nc = std::max<int64_t>(nr, kBlockBytes / std::max<int64_t>(bytes_per_col, 1) / nr * nr);
  const int64_t blocks = ceil_div(total, nc);
  return std::min(nc, round_up(ceil_div(total, blocks), nr));
}

// ------------------------------------------------------------------ scalar GEMMs

// C[i][j] = sum_k a[i*lda+k] * b[j*ldb+k], wrapping (row dot products).
void scalar_gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc,
                     int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ar = a + i * lda;
    for (int64_t j = 0; j < n; ++j) {
      const int8_t* br = b + j * ldb;
      uint32_t acc = 0;
      for (int64_t t = 0; t < k; ++t) acc += static_cast<uint32_t>(int32_t{ar[t]} * int32_t{br[t]});
      c[i * ldc + j] = static_cast<int32_t>(acc);
    }
  }
}

// C[i][j] = sum_k a[i*lda+k] * b[k*ldk+j], wrapping; b k-major (im2col rows).
// Row-update form: the inner loop runs over contiguous j and vectorises with
// the baseline instruction set.
void scalar_gemm_kmajor(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldk, int32_t* c, int64_t ldc,
                        int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    // int32_t and uint32_t may alias; unsigned arithmetic wraps without UB.
    uint32_t* cr = reinterpret_cast<uint32_t*>(c + i * ldc);
    for (int64_t j = 0; j < n; ++j) cr[j] = 0;
    const int8_t* ar = a + i * lda;
    for (int64_t t = 0; t < k; ++t) {
      const int32_t av = ar[t];
      if (av == 0) continue;
      const int8_t* br = b + t * ldk;
      for (int64_t j = 0; j < n; ++j) cr[j] += static_cast<uint32_t>(av * int32_t{br[j]});
    }
  }
}

// ------------------------------------------------------------------ SIMD backends

#if defined(LINGER_OPT_HAVE_AVX2)
struct Avx2Backend {
  using AElem = int16_t;
  using BElem = int16_t;
  static constexpr int kMr = detail::avx2::kMr;
  static constexpr int kNr = detail::avx2::kNr;
  static constexpr int kKu = detail::avx2::kKu;
  static void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, AElem* out, int32_t* /*comp*/) {
    detail::avx2::pack_a(a, lda, m, k, out);
  }
  static void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, BElem* out) {
    detail::avx2::pack_b(b, koff, k, n, out);
  }
  static void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, BElem* out) {
    detail::avx2::pack_b_t(b, ldn, k, n, out);
  }
  static void gemm(const AElem* ap, const int32_t* /*comp*/, const BElem* bp, int64_t m, int64_t n, int64_t kpad,
                   int32_t* c, int64_t ldc) {
    detail::avx2::gemm_packed(ap, bp, m, n, kpad, c, ldc);
  }
  static void dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                  int64_t n, int64_t k) {
    detail::avx2::gemm_dot(a, lda, b, ldb, c, ldc, m, n, k);
  }  // No int8 requantisation inside the tile on this ISA (conv_simd requantises the int32 block).
  static constexpr bool kFusedS8 = false;
  static void gemm_s8(const AElem*, const int32_t*, const BElem*, int64_t, int64_t, int64_t, const int32_t*, int32_t,
                      int, int32_t, int32_t, int8_t*, int64_t, int64_t, int64_t, int64_t) {}
};
#endif

#if defined(LINGER_OPT_HAVE_AVX512VNNI)
struct VnniBackend {
  using AElem = int8_t;
  using BElem = uint8_t;
  static constexpr int kMr = detail::avx512vnni::kMr;
  static constexpr int kNr = detail::avx512vnni::kNr;
  static constexpr int kKu = detail::avx512vnni::kKu;
  static void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, AElem* out, int32_t* comp) {
    detail::avx512vnni::pack_a(a, lda, m, k, out, comp);
  }
  static void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, BElem* out) {
    detail::avx512vnni::pack_b(b, koff, k, n, out);
  }
  static void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, BElem* out) {
    detail::avx512vnni::pack_b_t(b, ldn, k, n, out);
  }
  static void gemm(const AElem* ap, const int32_t* comp, const BElem* bp, int64_t m, int64_t n, int64_t kpad,
                   int32_t* c, int64_t ldc) {
    detail::avx512vnni::gemm_packed(ap, comp, bp, m, n, kpad, c, ldc);
  }
  static void dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                  int64_t n, int64_t k) {
    detail::avx512vnni::gemm_dot(a, lda, b, ldb, c, ldc, m, n, k);
  }  // The int8 requantisation inside the tile (detail::avx512vnni::gemm_packed_s8).
  static constexpr bool kFusedS8 = true;
  static void gemm_s8(const AElem* ap, const int32_t* comp, const BElem* bp, int64_t m, int64_t n, int64_t kpad,
                      const int32_t* bias, int32_t round, int shift, int32_t lo, int32_t hi, int8_t* y, int64_t ldy,
                      int64_t v0, int64_t vw, int64_t ow) {
    detail::avx512vnni::gemm_packed_s8(ap, comp, bp, m, n, kpad, bias, round, shift, lo, hi, y, ldy, v0, vw, ow);
  }
};
#endif

// Rows up to which the unpacked dot-product kernel beats packing.
constexpr int64_t kDotRows = 4;

// The workspace of gemm_simd (m > kDotRows).
struct GemmLayout {
  int64_t kpad, mb;
  size_t off_b, off_a, off_comp;
  Carver cv;
};

template <class BK>
GemmLayout gemm_layout(int64_t m, int64_t n, int64_t k) {
  GemmLayout L;
  L.kpad = round_up(k, BK::kKu);
  L.mb = std::min<int64_t>(round_up(m, BK::kMr), BK::kMr * 16);
  L.off_b = L.cv.add(sat_mul(sat_mul(round_up(n, BK::kNr), L.kpad), sizeof(typename BK::BElem)));
  L.off_a = L.cv.add(sat_mul(sat_mul(L.mb, L.kpad), sizeof(typename BK::AElem)));
  L.off_comp = L.cv.add(sat_mul(L.mb, 4));
  return L;
}

// Row-major C (m x n, ldc) = A (m x k) . B (n x k)^T through packed panels, B
// packed once, A packed in blocks of rows.
template <class BK>
void gemm_simd(const int8_t* a, const int8_t* b, int32_t* c, int64_t ldc, int64_t m, int64_t n, int64_t k) {
  if (m <= kDotRows) {
    BK::dot(a, k, b, k, c, ldc, m, n, k);
    return;
  }
  using AElem = typename BK::AElem;
  using BElem = typename BK::BElem;
  const GemmLayout L = gemm_layout<BK>(m, n, k);
  const int64_t kpad = L.kpad, mb = L.mb;
  std::vector<int8_t> storage;
  uint8_t* base = L.cv.base(&storage);
  BElem* bp = at<BElem>(base, L.off_b);
  AElem* ap = at<AElem>(base, L.off_a);
  int32_t* comp = at<int32_t>(base, L.off_comp);
  BK::pack_b_t(b, k, k, n, bp);
  for (int64_t r0 = 0; r0 < m; r0 += mb) {
    const int64_t rows = std::min(mb, m - r0);
    BK::pack_a(a + r0 * k, k, rows, k, ap, comp);
    BK::gemm(ap, comp, bp, rows, n, kpad, c + r0 * ldc, ldc);
  }
}

// ------------------------------------------------------------------ conv

struct ConvGeom {
  int64_t groups, cpg, opg, kdim, oh, ow, pixels, hw;
  bool direct;  // 1x1, stride 1, no padding: the input planes are the im2col rows
};

ConvGeom conv_geom(const nm::Conv2dShape& s) {
  ConvGeom g;
  g.groups = s.groups;
  g.cpg = s.c / s.groups;
  g.opg = s.o / s.groups;
  g.kdim = g.cpg * s.kh * s.kw;
  g.oh = s.out_h();
  g.ow = s.out_w();
  g.pixels = g.oh * g.ow;
  g.hw = static_cast<int64_t>(s.h) * s.w;
  g.direct = s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
             s.pad_bottom == 0 && s.pad_right == 0;
  return g;
}

// im2col of output pixels [p0, p0 + nv) of image n, group grp: dst[kk * ldd + (p - p0)]
// for kk = (ic * kh + ky) * kw + kx, zeros where the tap falls in the padding.
// `simd`: the AVX2 copy of stride-2 rows may be used (the CPU has AVX2).
void im2col_block(const int8_t* x, const nm::Conv2dShape& s, const ConvGeom& g, int64_t n, int64_t grp, int64_t p0,
                  int64_t nv, int8_t* dst, int64_t ldd, bool simd) {
  (void)simd;  // used with AVX2 only
  const int64_t oy_first = p0 / g.ow;
  const int64_t ox_first = p0 - oy_first * g.ow;
  for (int64_t ic = 0; ic < g.cpg; ++ic) {
    const int8_t* plane = x + (n * s.c + grp * g.cpg + ic) * g.hw;
    for (int ky = 0; ky < s.kh; ++ky) {
      for (int kx = 0; kx < s.kw; ++kx) {
        int8_t* d = dst + ((ic * s.kh + ky) * s.kw + kx) * ldd;
        const int64_t ixb = static_cast<int64_t>(kx) * s.dil_w - s.pad_left;  // ix = ox * stride_w + ixb
        // Output columns whose tap lies inside the row: lo <= ox < hi.
        const int64_t lo = ixb >= 0 ? 0 : ceil_div(-ixb, s.stride_w);
        const int64_t hi = s.w - 1 - ixb < 0 ? 0 : (s.w - 1 - ixb) / s.stride_w + 1;
        int64_t done = 0;
        for (int64_t oy = oy_first, ox0 = ox_first; done < nv; ++oy, ox0 = 0) {
          const int64_t seg = std::min(nv - done, g.ow - ox0);
          const int64_t ox1 = ox0 + seg;
          int8_t* out = d + done - ox0;  // out[ox] for ox in [ox0, ox1)
          const int64_t iy = oy * s.stride_h - s.pad_top + static_cast<int64_t>(ky) * s.dil_h;
          if (iy < 0 || iy >= s.h) {
            std::memset(out + ox0, 0, static_cast<size_t>(seg));
          } else {
            const int8_t* row = plane + iy * s.w;
            const int64_t a = std::min(std::max(lo, ox0), ox1);
            const int64_t b = std::min(std::max(hi, a), ox1);
            std::memset(out + ox0, 0, static_cast<size_t>(a - ox0));
            if (s.stride_w == 1) {
              std::memcpy(out + a, row + a + ixb, static_cast<size_t>(b - a));
#if defined(LINGER_OPT_HAVE_AVX2)
            } else if (s.stride_w == 2 && simd) {
              detail::avx2::copy_stride2(row + 2 * a + ixb, b - a, out + a);
#endif
            } else {
              for (int64_t ox = a; ox < b; ++ox) out[ox] = row[ox * s.stride_w + ixb];
            }
            std::memset(out + b, 0, static_cast<size_t>(ox1 - b));
          }
          done += seg;
        }
      }
    }
  }
}

// ------------------------------------------------------------------ output stage

// OutputStage with the bounds clamped to the out_bits range.
struct Stage {
  int out_bits, shift;
  int32_t lo, hi;
  bool simd_ok;     // the vector requantisation applies (0 <= shift <= 63)
  int64_t acc_max;  // bound on |accumulator| (INT32_MAX: unknown; see with_acc_bound)
  bool vnni = false;  // the AVX-512 int8 requantisation may run (a VNNI layer)
};

// The stage for accumulators of k int8 x int8 products: |acc| <= k * 2^14 when
// that stays below 2^31 (no wrap), else unknown.
Stage with_acc_bound(Stage st, int64_t k) {
  st.acc_max = k < (int64_t{1} << 17) ? k * 16384 : int64_t{INT32_MAX};
  return st;
}

Stage make_stage(const OutputStage& o) {
  Stage st;
  st.out_bits = o.out_bits;
  st.shift = o.shift;
  const int b = o.out_bits >= 1 && o.out_bits <= 32 ? o.out_bits : 32;
  const int64_t tmin = nm::lowest(b), tmax = nm::bound(b);
  st.lo = static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(o.lo, tmin), tmax));
  st.hi = static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(o.hi, tmin), tmax));
  if (st.hi < st.lo) st.hi = st.lo;  // documented precondition lo <= hi; keep the kernels defined anyway
  st.simd_ok = o.shift >= 0 && o.shift <= 63;
  st.acc_max = INT32_MAX;
  return st;
}

int64_t clamp_stage(int64_t v, const Stage& st) { return v < st.lo ? st.lo : (v > st.hi ? st.hi : v); }

#if defined(LINGER_OPT_HAVE_AVX2)
void requant_row_simd(const int32_t* c, int64_t n, int32_t b, const Stage& st, int8_t* y) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
  if (st.vnni && detail::avx512vnni::requant_row_s8(c, n, b, st.lo, st.hi, st.shift, y, st.acc_max)) return;
#endif
  detail::avx2::requant_row_s8(c, n, b, st.lo, st.hi, st.shift, y, st.acc_max);
}
void requant_row_simd(const int32_t* c, int64_t n, int32_t b, const Stage& st, int16_t* y) {
  detail::avx2::requant_row_s16(c, n, b, st.lo, st.hi, st.shift, y, st.acc_max);
}
void requant_row_simd(const int32_t* c, int64_t n, int32_t b, const Stage& st, int32_t* y) {
  detail::avx2::requant_row_s32(c, n, b, st.lo, st.hi, st.shift, y, st.acc_max);
}
constexpr bool kHaveSimdRequant = true;
#else
template <typename OutT>
void requant_row_simd(const int32_t*, int64_t, int32_t, const Stage&, OutT*) {}
constexpr bool kHaveSimdRequant = false;
#endif

// y[r * ldy + j] = clamp(conv_requant(c[r * ldc + j], bias[oc0 + r], ...)) for r < rows, j < nv.
// `simd`: the AVX2 form (tested equal to the formula) does whole rows.
template <typename OutT>
void requant_block(const int32_t* c, int64_t ldc, int64_t rows, int64_t nv, const int32_t* bias, int64_t oc0,
                   OutT* y, int64_t ldy, const Stage& st, bool simd) {
  constexpr int kBits = sizeof(OutT) == 1 ? 8 : (sizeof(OutT) == 2 ? 16 : 32);
  const bool vec = kHaveSimdRequant && simd && st.simd_ok && st.out_bits == kBits;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t b = bias ? bias[oc0 + r] : 0;
    const int32_t* cr = c + r * ldc;
    OutT* yr = y + r * ldy;
    if (vec) {
      requant_row_simd(cr, nv, b, st, yr);
    } else {
      for (int64_t j = 0; j < nv; ++j)
        yr[j] = static_cast<OutT>(clamp_stage(nm::conv_requant(cr[j], b, false, st.shift, st.out_bits), st));
    }
  }
}

// ------------------------------------------------------------------ conv layouts

struct ScalarConvLayout {
  int64_t nc;
  size_t off_col, off_c;
  Carver wcv;
  WorkerSplit ws;
};

ScalarConvLayout scalar_conv_layout(const ConvGeom& g, int threads) {
  ScalarConvLayout L;
  L.nc = pick_block_cols(g.kdim, 16, g.pixels);
  L.off_col = L.wcv.add(g.direct ? 0 : sat_mul(g.kdim, L.nc));
  L.off_c = L.wcv.add(sat_mul(sat_mul(g.opg, L.nc), 4));
  L.ws.finish(0, L.wcv, threads);
  return L;
}

// Where the GEMM's B operand (column j of a block = one output pixel, row kk =
// one tap (ic, ky, kx)) is read from:
//   kIm2col  rows of an im2col block: element (kk, j) at col[kk * nc + j];
//   kDirect  1x1, stride 1, no padding: the input planes themselves;
//   kPadded  stride 1: a zero-padded copy of the group's input planes (width
//            wp). Pixels are numbered p' = oy * wp + ox over a "virtual" row
//            width wp, so that each tap is one contiguous run of the plane:
//            element (kk, p') at xpad[ic * hp * wp + ky * dil_h * wp + kx * dil_w + p'].
//            The wp - out_w virtual columns past each row are computed and dropped.
enum class BSource { kIm2col, kDirect, kPadded };

// int32 GEMM sums per requantisation pass of conv_simd (inside L1 / L2).
constexpr int64_t kSubRowsBytes = 32 * 1024;

struct SimdConvLayout {
  int64_t hp, wp, vw, vpixels, kpad, a_rows, nc, blocks, rows_chunk, oc_chunks, sub_rows;
  BSource src;
  size_t off_buf, off_b, off_c, off_y;  // in a worker region
  Carver wcv;
  WorkerSplit ws;  // shared: the padded planes (kPadded)
};

template <class BK>
SimdConvLayout simd_conv_layout(const nm::Conv2dShape& s, const ConvGeom& g, int threads) {
  SimdConvLayout L;
  L.hp = int64_t{s.h} + s.pad_top + s.pad_bottom;
  L.wp = int64_t{s.w} + s.pad_left + s.pad_right;
  L.src = BSource::kIm2col;
  if (g.direct)
    L.src = BSource::kDirect;
  else if (s.stride_h == 1 && s.stride_w == 1 && L.wp * 4 <= g.ow * 5)  // at most 25% dropped columns
    L.src = BSource::kPadded;
  L.vw = L.src == BSource::kPadded ? L.wp : g.ow;  // virtual row width
  L.vpixels = (g.oh - 1) * L.vw + g.ow;
  L.kpad = round_up(g.kdim, BK::kKu);
  L.a_rows = round_up(g.opg, BK::kMr);  // packed rows per group
  const int64_t b_size = sizeof(typename BK::BElem);
  L.nc = pick_block_cols(L.kpad * b_size, BK::kNr, L.vpixels);
  L.blocks = ceil_div(L.vpixels, L.nc);
  // With several threads and few pixel blocks, output channels are split too
  // (chunks of whole kMr panels), so that every thread gets work.
  L.oc_chunks = 1;
  if (threads > 1 && L.blocks < 4 * threads)
    L.oc_chunks = std::max<int64_t>(1, std::min(ceil_div(4 * threads, L.blocks), L.a_rows / (BK::kMr * 2)));
  L.rows_chunk = round_up(ceil_div(g.opg, L.oc_chunks), BK::kMr);
  L.oc_chunks = ceil_div(g.opg, L.rows_chunk);
  // A task's rows go through the GEMM and the requantisation kSubRowsBytes of
  // int32 sums at a time, so that the sums are read back from cache.
  L.sub_rows = std::min(L.rows_chunk, std::max<int64_t>(BK::kMr, kSubRowsBytes / (L.nc * 4) / BK::kMr * BK::kMr));
  L.off_buf = L.wcv.add(L.src == BSource::kIm2col ? sat_mul(g.kdim, L.nc) : 0);
  L.off_b = L.wcv.add(sat_mul(sat_mul(round_up(L.nc, BK::kNr), L.kpad), b_size));
  L.off_c = L.wcv.add(sat_mul(sat_mul(L.sub_rows, L.nc), 4));
  L.off_y = L.wcv.add(L.src == BSource::kPadded ? sat_mul(L.nc, 4) : 0);  // one requantised block row
  L.ws.finish(L.src == BSource::kPadded ? sat_mul(sat_mul(g.cpg, L.hp), L.wp) : 0, L.wcv, threads);
  return L;
}

// Few output pixels (deep layers on small feature maps): the GEMM is turned
// around, C^T[p][oc] = sum_k patch[p][k] * W[oc][k], so that the pixels are the
// broadcast operand (tiles of kMr rows) and the output channels the vector
// operand (panels of kNr, the weights packed once at construction). Chosen
// when it wastes fewer tile lanes than the normal form, up to 16 pixels.
template <class BK>
bool use_transposed(const nm::Conv2dShape& s, const ConvGeom& g) {
  if (g.pixels > 16) return false;  // measured: from 7x7 up the normal form is faster
  const int64_t hp = int64_t{s.h} + s.pad_top + s.pad_bottom, wp = int64_t{s.w} + s.pad_left + s.pad_right;
  const bool padded = !g.direct && s.stride_h == 1 && s.stride_w == 1 && wp * 4 <= g.ow * 5;
  (void)hp;
  const int64_t vpixels = padded ? (g.oh - 1) * wp + g.ow : g.pixels;
  // lanes computed per useful output: normal round_up(vpixels, kNr) / pixels, turned round_up(pixels, kMr) / pixels
  return round_up(g.pixels, BK::kMr) < round_up(vpixels, BK::kNr);
}

struct TransposedLayout {
  int64_t kpad, prow, n_panels, cols_chunk, col_chunks;
  size_t off_patch, off_a, off_comp;  // shared
  size_t off_c, off_ct;               // per worker
  Carver scv, wcv;
  WorkerSplit ws;
};

template <class BK>
TransposedLayout transposed_layout(const ConvGeom& g, int threads) {
  TransposedLayout L;
  L.kpad = round_up(g.kdim, BK::kKu);
  L.prow = round_up(g.pixels, BK::kMr);
  L.n_panels = ceil_div(g.opg, BK::kNr);
  L.col_chunks = std::max<int64_t>(1, std::min<int64_t>(L.n_panels, threads > 1 ? 4 * threads : 1));
  L.cols_chunk = ceil_div(L.n_panels, L.col_chunks) * BK::kNr;
  L.col_chunks = ceil_div(g.opg, L.cols_chunk);
  L.off_patch = L.scv.add(sat_mul(g.pixels, g.kdim));
  L.off_a = L.scv.add(sat_mul(sat_mul(L.prow, L.kpad), static_cast<int64_t>(sizeof(typename BK::AElem))));
  L.off_comp = L.scv.add(sat_mul(L.prow, 4));
  L.off_c = L.wcv.add(sat_mul(sat_mul(g.pixels, L.cols_chunk), 4));
  L.off_ct = L.wcv.add(sat_mul(sat_mul(g.pixels, L.cols_chunk), 4));
  L.ws.finish(L.scv.total(), L.wcv, threads);
  return L;
}

// The patch matrix of image n, group grp: dst[p * kdim + kk], kk = (ic * kh + ky) * kw + kx (0 in the padding).
void im2row(const int8_t* x, const nm::Conv2dShape& s, const ConvGeom& g, int64_t n, int64_t grp, int8_t* dst) {
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      int8_t* d = dst + (oy * g.ow + ox) * g.kdim;
      for (int64_t ic = 0; ic < g.cpg; ++ic) {
        const int8_t* plane = x + (n * s.c + grp * g.cpg + ic) * g.hw;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.stride_h - s.pad_top + int64_t{ky} * s.dil_h;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ox * s.stride_w - s.pad_left + int64_t{kx} * s.dil_w;
            *d++ = (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) ? int8_t{0} : plane[iy * s.w + ix];
          }
        }
      }
    }
}

template <class BK, typename OutT>
void conv_transposed(const int8_t* x, const typename BK::BElem* wp, const int32_t* bias, OutT* y,
                     const nm::Conv2dShape& s, const Stage& st, std::vector<int8_t>* ws, ThreadPool* pool) {
  using AElem = typename BK::AElem;
  const ConvGeom g = conv_geom(s);
  const TransposedLayout L = transposed_layout<BK>(g, pool_threads(pool));
  uint8_t* base = L.ws.cv.base(ws);
  uint8_t* shared = base + L.ws.off_shared;
  int8_t* patch = at<int8_t>(shared, L.off_patch);
  AElem* ap = at<AElem>(shared, L.off_a);
  int32_t* comp = at<int32_t>(shared, L.off_comp);
  const int64_t wstride = round_up(g.opg, BK::kNr) * L.kpad;  // packed weights per group
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      im2row(x, s, g, n, grp, patch);
      BK::pack_a(patch, g.kdim, g.pixels, g.kdim, ap, comp);
      OutT* yg = y + (n * s.o + grp * g.opg) * g.pixels;
      parallel_for(pool, L.col_chunks, [&](int64_t t0, int64_t t1, int worker) {
        uint8_t* wb = L.ws.region(base, worker);
        int32_t* c = at<int32_t>(wb, L.off_c);
        int32_t* ct = at<int32_t>(wb, L.off_ct);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t j0 = t * L.cols_chunk, cols = std::min(L.cols_chunk, g.opg - j0);
          BK::gemm(ap, comp, wp + grp * wstride + j0 * L.kpad, g.pixels, cols, L.kpad, c, cols);
          for (int64_t p = 0; p < g.pixels; ++p)
            for (int64_t j = 0; j < cols; ++j) ct[j * g.pixels + p] = c[p * cols + j];
          requant_block(ct, g.pixels, cols, g.pixels, bias, grp * g.opg + j0, yg + j0 * g.pixels, g.pixels, st, true);
        }
      });
    }
}

// Depthwise-style convs (one input channel per group, few outputs per group):
// direct accumulation over a zero-padded copy of each input plane.
constexpr int64_t kDirectMaxOpg = 4;
// int32 slots past a depthwise plane's accumulators (see detail::avx2::depthwise_plane_s1).
constexpr int64_t kDepthwiseAccSlack = 16;

bool use_depthwise(const nm::Conv2dShape& s) { return s.c / s.groups == 1 && s.o / s.groups <= kDirectMaxOpg; }

struct DepthwiseLayout {
  int64_t hp, wp;
  size_t off_x, off_acc;
  Carver wcv;
  WorkerSplit ws;
};

// padded_copy: the path reads a zero-padded copy of each plane (all but the
// VNNI plane kernel, which reads the input plane itself).
DepthwiseLayout depthwise_layout(const nm::Conv2dShape& s, const ConvGeom& g, int threads, bool padded_copy) {
  DepthwiseLayout L;
  L.hp = int64_t{s.h} + s.pad_top + s.pad_bottom;
  L.wp = int64_t{s.w} + s.pad_left + s.pad_right;
  L.off_x = L.wcv.add(padded_copy ? sat_add(sat_mul(L.hp, L.wp), kPlaneSlack) : 0);
  L.off_acc = L.wcv.add(sat_mul(sat_add(g.pixels, kDepthwiseAccSlack), 4));
  L.ws.finish(0, L.wcv, threads);
  return L;
}

// dst[0 .. n) = src[0 .. n) in fixed-size moves, the last one overlapping the
// one before (no library call: the rows of small feature maps are short, and
// one memcpy call per row cost more than the copy).
template <int kBytes>
void move_bytes(int8_t* dst, const int8_t* src) {
  unsigned char v[kBytes];
  std::memcpy(v, src, kBytes);
  std::memcpy(dst, v, kBytes);
}

void copy_row(int8_t* dst, const int8_t* src, int64_t n) {
  if (n >= 16) {
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) move_bytes<16>(dst + j, src + j);
    if (j < n) move_bytes<16>(dst + n - 16, src + n - 16);
  } else if (n >= 8) {
    move_bytes<8>(dst, src);
    move_bytes<8>(dst + n - 8, src + n - 8);
  } else if (n >= 4) {
    move_bytes<4>(dst, src);
    move_bytes<4>(dst + n - 4, src + n - 4);
  } else {
    if (n > 0) dst[0] = src[0];
    if (n > 1) dst[1] = src[1];
    if (n > 2) dst[2] = src[2];
  }
}

template <typename T>
void copy_elems(T* dst, const T* src, int64_t n) {
  if (sizeof(T) == 1)
    copy_row(reinterpret_cast<int8_t*>(dst), reinterpret_cast<const int8_t*>(src), n);
  else
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
}

// The h x w plane into rows 0 .. h-1 of dst (row stride wp, at column `left`).
void copy_into_padded(const int8_t* plane, int64_t h, int64_t w, int8_t* dst, int64_t wp, int64_t left) {
  for (int64_t iy = 0; iy < h; ++iy) copy_row(dst + iy * wp + left, plane + iy * w, w);
}

// ------------------------------------------------------------------ conv paths

template <typename OutT>
void conv_scalar(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s,
                 const Stage& st, std::vector<int8_t>* ws, ThreadPool* pool) {
  const ConvGeom g = conv_geom(s);
  const ScalarConvLayout L = scalar_conv_layout(g, pool_threads(pool));
  const int64_t nc = L.nc;
  uint8_t* base = L.ws.cv.base(ws);
  const int64_t blocks = ceil_div(g.pixels, nc);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      parallel_for(pool, blocks, [&](int64_t b0, int64_t b1, int worker) {
        uint8_t* wb = L.ws.region(base, worker);
        int8_t* col = at<int8_t>(wb, L.off_col);
        int32_t* cblk = at<int32_t>(wb, L.off_c);
        for (int64_t blk = b0; blk < b1; ++blk) {
          const int64_t p0 = blk * nc;
          const int64_t nv = std::min(nc, g.pixels - p0);
          const int8_t* src = col;
          int64_t ldk = nc;
          if (g.direct) {
            src = x + (n * s.c + grp * g.cpg) * g.hw + p0;
            ldk = g.hw;
          } else {
            im2col_block(x, s, g, n, grp, p0, nv, col, nc, false);
          }
          scalar_gemm_kmajor(w + grp * g.opg * g.kdim, g.kdim, src, ldk, cblk, nc, g.opg, nv, g.kdim);
          requant_block(cblk, nc, g.opg, nv, bias, grp * g.opg, y + (n * s.o + grp * g.opg) * g.pixels + p0,
                        g.pixels, st, false);
        }
      });
}

// The tap offsets of the B source (koff[kk]: where row kk of the B operand starts).
std::vector<int64_t> conv_koff(const nm::Conv2dShape& s, const ConvGeom& g, const SimdConvLayout& L) {
  std::vector<int64_t> koff(static_cast<size_t>(g.kdim));
  if (L.src != BSource::kPadded) {
    const int64_t step = L.src == BSource::kIm2col ? L.nc : g.hw;
    for (int64_t kk = 0; kk < g.kdim; ++kk) koff[static_cast<size_t>(kk)] = kk * step;
    return koff;
  }
  size_t kk = 0;
  for (int64_t ic = 0; ic < g.cpg; ++ic)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) koff[kk++] = ic * L.hp * L.wp + ky * s.dil_h * L.wp + kx * s.dil_w;
  return koff;
}

// Whether an int8 conv may requantise inside the GEMM tile (BK::kFusedS8):
// out_bits 8, 0 <= shift <= 31 and, for every output channel, no sum
// acc + bias (+ the rounding term 2^(shift-1), returned in *round) can leave
// the int32 range (|acc| <= st.acc_max): then sat32 is the identity and
// rhu_shift one add and one arithmetic shift, as in the AVX2 requant_row_s8.
bool fused_s8_ok(const Stage& st, const int32_t* bias, int64_t o, int32_t* round) {
  if (st.out_bits != 8 || st.shift < 0 || st.shift > 31 || st.acc_max >= INT32_MAX) return false;
  *round = st.shift > 0 ? static_cast<int32_t>(int64_t{1} << (st.shift - 1)) : 0;
  for (int64_t oc = 0; oc < o; ++oc) {
    const int64_t b = bias ? int64_t{bias[oc]} : 0, b2 = b + *round;
    if (b + st.acc_max > INT32_MAX || b - st.acc_max < INT32_MIN || b2 + st.acc_max > INT32_MAX ||
        b2 - st.acc_max < INT32_MIN)
      return false;
  }
  return true;
}

template <class BK, typename OutT>
void conv_simd(const int8_t* x, const typename BK::AElem* ap, const int32_t* comp, const int64_t* koff,
               const int32_t* bias, OutT* y, const nm::Conv2dShape& s, const Stage& st, std::vector<int8_t>* ws,
               ThreadPool* pool) {
  using BElem = typename BK::BElem;
  const ConvGeom g = conv_geom(s);
  const SimdConvLayout L = simd_conv_layout<BK>(s, g, pool_threads(pool));
  const int64_t wp = L.wp, vw = L.vw, vpixels = L.vpixels, kpad = L.kpad, a_rows = L.a_rows, nc = L.nc;
  const BSource src = L.src;
  uint8_t* base = L.ws.cv.base(ws);
  int8_t* padded = at<int8_t>(base, L.ws.off_shared);
  int32_t round = 0;
  const bool fused = BK::kFusedS8 && std::is_same<OutT, int8_t>::value && fused_s8_ok(st, bias, s.o, &round);

  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const int8_t* xg = x + (n * s.c + grp * g.cpg) * g.hw;  // the group's input planes
      if (src == BSource::kPadded)  // the zero-padded planes, channels split over the threads
        parallel_for(pool, g.cpg, [&](int64_t c0, int64_t c1, int) {
          for (int64_t ic = c0; ic < c1; ++ic) {
            int8_t* plane = padded + ic * L.hp * wp;
            std::memset(plane, 0, static_cast<size_t>(L.hp * wp));
            copy_into_padded(xg + ic * g.hw, s.h, s.w, plane + int64_t{s.pad_top} * wp, wp, s.pad_left);
          }
        });
      OutT* yg = y + (n * s.o + grp * g.opg) * g.pixels;
      const typename BK::AElem* ag = ap + grp * a_rows * kpad;
      const int32_t* cg = comp + grp * a_rows;
      parallel_for(pool, L.blocks * L.oc_chunks, [&](int64_t t0, int64_t t1, int worker) {
        uint8_t* wb = L.ws.region(base, worker);
        int8_t* buf = at<int8_t>(wb, L.off_buf);
        BElem* bp = at<BElem>(wb, L.off_b);
        int32_t* cblk = at<int32_t>(wb, L.off_c);
        int64_t packed_block = -1;
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t blk = t / L.oc_chunks, chunk = t % L.oc_chunks;
          const int64_t p0 = blk * nc;
          const int64_t nv = std::min(nc, vpixels - p0);
          if (blk != packed_block) {  // consecutive tasks of one block share its packed B
            if (src == BSource::kDirect) {
              BK::pack_b(xg + p0, koff, g.kdim, nv, bp);
            } else if (src == BSource::kPadded) {
              BK::pack_b(padded + p0, koff, g.kdim, nv, bp);
            } else {
              im2col_block(x, s, g, n, grp, p0, nv, buf, nc, true);
              BK::pack_b(buf, koff, g.kdim, nv, bp);
            }
            packed_block = blk;
          }
          const int64_t chunk_end = std::min(L.rows_chunk * (chunk + 1), g.opg);
          for (int64_t r0 = chunk * L.rows_chunk; r0 < chunk_end; r0 += L.sub_rows) {
            const int64_t rows = std::min(L.sub_rows, chunk_end - r0);
            const int64_t oc0 = grp * g.opg + r0;
            if (fused) {  // OutT is int8_t here
              BK::gemm_s8(ag + r0 * kpad, cg + r0, bp, rows, nv, kpad, bias ? bias + oc0 : nullptr, round, st.shift,
                          st.lo, st.hi, reinterpret_cast<int8_t*>(yg + r0 * g.pixels), g.pixels, p0, vw, g.ow);
              continue;
            }
            BK::gemm(ag + r0 * kpad, cg + r0, bp, rows, nv, kpad, cblk, nc);
            if (vw == g.ow) {
              requant_block(cblk, nc, rows, nv, bias, oc0, yg + r0 * g.pixels + p0, g.pixels, st, true);
            } else {
              // Each channel's whole block at once (one vector pass), then its
              // output rows copied out, dropping the virtual columns ox >= out_w.
              OutT* yrow = at<OutT>(wb, L.off_y);
              for (int64_t r = 0; r < rows; ++r) {
                requant_block(cblk + r * nc, nc, 1, nv, bias, oc0 + r, yrow, nc, st, true);
                OutT* yc = yg + (r0 + r) * g.pixels;
                for (int64_t oy = p0 / vw; oy * vw < p0 + nv; ++oy) {
                  const int64_t lo = std::max(p0, oy * vw), hi = std::min(p0 + nv, oy * vw + g.ow);
                  if (lo < hi)
                    copy_elems(yc + oy * g.ow + (lo - oy * vw), yrow + (lo - p0), hi - lo);
                }
              }
            }
          }
        }
      });
    }
}

// acc[j] += w * src[j * stride], wrapping (restrict: no aliasing between rows).
void axpy_row(uint32_t* __restrict acc, const int8_t* __restrict src, int32_t w, int64_t n, int64_t stride) {
  if (stride == 1) {
    for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<uint32_t>(w * int32_t{src[j]});
  } else {
    for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<uint32_t>(w * int32_t{src[j * stride]});
  }
}

// Depthwise: on VNNI CPUs detail::avx512vnni::depthwise_plane reads the input
// plane directly (the shapes of depthwise_plane_supported); AVX2 runs
// detail::avx2::depthwise_plane_s1/s2 on a zero-padded copy of the plane for
// horizontal stride 1 or 2 and up to 64 taps; otherwise a row-update loop
// that the compiler vectorises for the baseline instruction set.
bool use_vnni_depthwise(const nm::Conv2dShape& s) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
  return detail::avx512vnni::depthwise_plane_supported(s.kh, s.kw, s.stride_h, s.stride_w, s.dil_h, s.dil_w);
#else
  (void)s;
  return false;
#endif
}

template <typename OutT>
void conv_depthwise(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s,
                    const Stage& st, Isa isa, std::vector<int8_t>* ws, ThreadPool* pool) {
  const ConvGeom g = conv_geom(s);
  const bool vnni_plane = isa == Isa::kAvx512Vnni && use_vnni_depthwise(s);
  const DepthwiseLayout L = depthwise_layout(s, g, pool_threads(pool), !vnni_plane);
  const int64_t hp = L.hp, wp = L.wp;
  const int64_t taps = int64_t{s.kh} * s.kw;
  const bool simd = isa != Isa::kScalar;
  uint8_t* base = L.ws.cv.base(ws);
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool vec_plane = simd && !vnni_plane && (s.stride_w == 1 || s.stride_w == 2) && taps <= 64;
#else
  const bool vec_plane = false;
#endif
  parallel_for(pool, int64_t{s.n} * g.groups, [&](int64_t p0, int64_t p1, int worker) {
    uint8_t* wb = L.ws.region(base, worker);
    int8_t* xp = at<int8_t>(wb, L.off_x);
    int32_t* acc = at<int32_t>(wb, L.off_acc);
    if (!vnni_plane)  // the border and the slack stay zero
      std::memset(xp, 0, static_cast<size_t>(hp * wp + kPlaneSlack));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / g.groups, grp = p % g.groups;
      const int8_t* plane = x + (n * s.c + grp) * g.hw;
      if (!vnni_plane)
        copy_into_padded(plane, s.h, s.w, xp + int64_t{s.pad_top} * wp, wp, s.pad_left);  // interior only
      for (int64_t m = 0; m < g.opg; ++m) {
        const int64_t oc = grp * g.opg + m;
        const int8_t* wk = w + oc * taps;
        if (vnni_plane) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
          detail::avx512vnni::depthwise_plane(plane, s.h, s.w, wk, s.kh, s.kw, s.stride_h, s.stride_w, s.dil_h,
                                              s.dil_w, s.pad_top, s.pad_left, g.oh, g.ow, acc);
#endif
        } else if (vec_plane) {
#if defined(LINGER_OPT_HAVE_AVX2)
          if (s.stride_w == 1)
            detail::avx2::depthwise_plane_s1(xp, wp, wk, s.kh, s.kw, s.stride_h, s.dil_h, s.dil_w, g.oh, g.ow, acc);
          else
            detail::avx2::depthwise_plane_s2(xp, wp, wk, s.kh, s.kw, s.stride_h, s.dil_h, s.dil_w, g.oh, g.ow, acc);
#endif
        } else {
          // int32_t and uint32_t may alias: wrapped sums in uint32, read back as int32.
          uint32_t* accu = reinterpret_cast<uint32_t*>(acc);
          for (int64_t oy = 0; oy < g.oh; ++oy) {
            uint32_t* arow = accu + oy * g.ow;
            for (int64_t ox = 0; ox < g.ow; ++ox) arow[ox] = 0;
            for (int ky = 0; ky < s.kh; ++ky) {
              const int8_t* xr = xp + (oy * s.stride_h + int64_t{ky} * s.dil_h) * wp;
              for (int kx = 0; kx < s.kw; ++kx) {
                const int32_t wv = wk[ky * s.kw + kx];
                if (wv != 0) axpy_row(arow, xr + int64_t{kx} * s.dil_w, wv, g.ow, s.stride_w);
              }
            }
          }
        }
        requant_block(acc, g.pixels, 1, g.pixels, bias, oc, y + (n * s.o + oc) * g.pixels, g.pixels, st, simd);
      }
    }
  });
}

// Packs the weights of every group as the A operand of backend BK, or as its
// B operand (column panels) for the turned-around GEMM of few-pixel convs.
template <class BK>
void pack_conv_weights(const int8_t* w, const nm::Conv2dShape& s, const ConvGeom& g, std::vector<int8_t>* packed,
                       std::vector<int32_t>* comp, std::vector<int64_t>* koff) {
  if (use_transposed<BK>(s, g)) {
    const int64_t kpad = round_up(g.kdim, BK::kKu), cols = round_up(g.opg, BK::kNr);
    packed->assign(static_cast<size_t>(g.groups * cols * kpad) * sizeof(typename BK::BElem), 0);
    auto* bp = reinterpret_cast<typename BK::BElem*>(packed->data());
    for (int64_t grp = 0; grp < g.groups; ++grp)
      BK::pack_b_t(w + grp * g.opg * g.kdim, g.kdim, g.kdim, g.opg, bp + grp * cols * kpad);
    return;
  }
  const int64_t kpad = round_up(g.kdim, BK::kKu), a_rows = round_up(g.opg, BK::kMr);
  packed->assign(static_cast<size_t>(g.groups * a_rows * kpad) * sizeof(typename BK::AElem), 0);
  comp->assign(static_cast<size_t>(g.groups * a_rows), 0);
  *koff = conv_koff(s, g, simd_conv_layout<BK>(s, g, 1));  // the same for every thread count
  auto* ap = reinterpret_cast<typename BK::AElem*>(packed->data());
  for (int64_t grp = 0; grp < g.groups; ++grp)
    BK::pack_a(w + grp * g.opg * g.kdim, g.kdim, g.opg, g.kdim, ap + grp * a_rows * kpad, comp->data() + grp * a_rows);
}

template <typename OutT>
void conv_run(const Conv2dInt8& conv, const int8_t* x, const int8_t* w, const int8_t* packed, const int32_t* comp,
              const int32_t* bias, OutT* y, const Stage& stage, std::vector<int8_t>* ws, ThreadPool* pool) {
  const nm::Conv2dShape& s = conv.shape();
  Stage st = with_acc_bound(stage, int64_t{s.c / s.groups} * s.kh * s.kw);
  st.vnni = conv.isa() == Isa::kAvx512Vnni;
  if (use_depthwise(s)) {
    conv_depthwise(x, w, bias, y, s, st, conv.isa(), ws, pool);
    return;
  }
  const ConvGeom g = conv_geom(s);
  switch (conv.isa()) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      if (use_transposed<VnniBackend>(s, g))
        conv_transposed<VnniBackend>(x, reinterpret_cast<const uint8_t*>(packed), bias, y, s, st, ws, pool);
      else
        conv_simd<VnniBackend>(x, packed, comp, conv.koff().data(), bias, y, s, st, ws, pool);
      return;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      if (use_transposed<Avx2Backend>(s, g))
        conv_transposed<Avx2Backend>(x, reinterpret_cast<const int16_t*>(packed), bias, y, s, st, ws, pool);
      else
        conv_simd<Avx2Backend>(x, reinterpret_cast<const int16_t*>(packed), comp, conv.koff().data(), bias, y, s,
                               st, ws, pool);
      return;
#endif
    default:
      conv_scalar(x, w, bias, y, s, st, ws, pool);
      return;
  }
}

// ------------------------------------------------------------------ linear

// |sum_k x*w| <= k * 2^14: the int32 GEMM is exact (no wrap) iff that stays below 2^31.
bool linear_uses_gemm(int64_t k) { return k < (int64_t{1} << 17); }

// Writes one output of LinearInt from its exact int64 accumulator.
template <typename OutT>
OutT linear_out(int64_t acc, const Stage& st) {
  return static_cast<OutT>(clamp_stage(nm::linear_requant(acc, st.shift, st.out_bits), st));
}
template <>
float linear_out<float>(int64_t acc, const Stage& st) {
  return nm::linear_float_out(acc, st.shift);
}

// The row blocks and column chunks of a linear layer's tasks.
struct LinearLayout {
  bool gemm, dot;
  int64_t kpad, mb, row_blocks, nchunk, col_chunks;
  size_t off_a, off_comp, off_c;
  Carver wcv;
  WorkerSplit ws;
};

constexpr int64_t kLinearDotRows = kDotRows;

template <int kMr, int kNr, int kKu, typename AElem>
LinearLayout linear_layout_for(int64_t m, int64_t k, int64_t n, int threads, bool simd) {
  LinearLayout L;
  L.gemm = linear_uses_gemm(k);
  L.dot = !simd || m <= kLinearDotRows;
  L.kpad = round_up(k, kKu);
  L.mb = L.dot ? std::min<int64_t>(m, 64) : std::min<int64_t>(round_up(m, kMr), kMr * 16);
  L.row_blocks = ceil_div(m, L.mb);
  // Column chunks (whole kNr panels) when there are fewer row blocks than threads.
  L.col_chunks = 1;
  if (threads > 1 && L.row_blocks < 4 * threads) L.col_chunks = std::min(ceil_div(4 * threads, L.row_blocks), ceil_div(n, kNr));
  const int64_t nr = L.dot ? 1 : kNr;  // the dot kernels need no whole column panels
  L.nchunk = round_up(ceil_div(n, L.col_chunks), nr);
  L.col_chunks = ceil_div(n, L.nchunk);
  L.off_a = L.wcv.add(L.dot ? 0 : sat_mul(sat_mul(round_up(L.mb, kMr), L.kpad), static_cast<int64_t>(sizeof(AElem))));
  L.off_comp = L.wcv.add(L.dot ? 0 : sat_mul(round_up(L.mb, kMr), 4));
  L.off_c = L.wcv.add(sat_mul(sat_mul(L.mb, L.nchunk), 4));
  L.ws.finish(0, L.wcv, threads);
  return L;
}

LinearLayout linear_layout(int64_t m, int64_t k, int64_t n, Isa isa, int threads) {
  switch (isa) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      return linear_layout_for<VnniBackend::kMr, VnniBackend::kNr, VnniBackend::kKu, int8_t>(m, k, n, threads, true);
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      return linear_layout_for<Avx2Backend::kMr, Avx2Backend::kNr, Avx2Backend::kKu, int16_t>(m, k, n, threads, true);
#endif
    default:
      return linear_layout_for<1, 1, 1, int8_t>(m, k, n, threads, false);
  }
}

template <class BK>
void linear_tile_simd(const LinearLayout& L, const int8_t* x, const int8_t* w, const int8_t* packed_w, int64_t k,
                      int64_t r0, int64_t rows, int64_t j0, int64_t cols, uint8_t* wb, int32_t* c, int64_t ldc) {
  if (L.dot) {
    BK::dot(x + r0 * k, k, w + j0 * k, k, c, ldc, rows, cols, k);
    return;
  }
  auto* ap = at<typename BK::AElem>(wb, L.off_a);
  int32_t* comp = at<int32_t>(wb, L.off_comp);
  BK::pack_a(x + r0 * k, k, rows, k, ap, comp);
  const auto* bp = reinterpret_cast<const typename BK::BElem*>(packed_w) + j0 * L.kpad;  // j0: a multiple of kNr
  BK::gemm(ap, comp, bp, rows, cols, L.kpad, c, ldc);
}

template <typename OutT>
void linear_run(const int8_t* x, const int8_t* w, const int8_t* packed_w, const int32_t* bias, OutT* y, int64_t m,
                int64_t k, int64_t n, const Stage& st, Isa isa, std::vector<int8_t>* ws, ThreadPool* pool) {
  if (!linear_uses_gemm(k)) {  // the int64 reference, rows split over the threads
    parallel_for(pool, m, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < n; ++c) y[r * n + c] = linear_out<OutT>(nm::linear_acc_at(x, w, bias, k, r, c), st);
    });
    return;
  }
  const LinearLayout L = linear_layout(m, k, n, isa, pool_threads(pool));
  uint8_t* base = L.ws.cv.base(ws);
  parallel_for(pool, L.row_blocks * L.col_chunks, [&](int64_t t0, int64_t t1, int worker) {
    uint8_t* wb = L.ws.region(base, worker);
    int32_t* c = at<int32_t>(wb, L.off_c);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t / L.col_chunks * L.mb, j0 = t % L.col_chunks * L.nchunk;
      const int64_t rows = std::min(L.mb, m - r0), cols = std::min(L.nchunk, n - j0);
      switch (isa) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
        case Isa::kAvx512Vnni:
          linear_tile_simd<VnniBackend>(L, x, w, packed_w, k, r0, rows, j0, cols, wb, c, L.nchunk);
          break;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
        case Isa::kAvx2:
          linear_tile_simd<Avx2Backend>(L, x, w, packed_w, k, r0, rows, j0, cols, wb, c, L.nchunk);
          break;
#endif
        default:
          scalar_gemm_dot(x + r0 * k, k, w + j0 * k, k, c, L.nchunk, rows, cols, k);
          break;
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t acc = int64_t{c[r * L.nchunk + j]} + (bias ? int64_t{bias[j0 + j]} : 0);
          y[(r0 + r) * n + j0 + j] = linear_out<OutT>(acc, st);
        }
    }
  });
}

Isa parse_isa(const char* v, bool* ok) {
  std::string s(v);
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  *ok = true;
  if (s == "scalar") return Isa::kScalar;
  if (s == "avx2") return Isa::kAvx2;
  if (s == "avx512vnni") return Isa::kAvx512Vnni;
  *ok = false;
  return Isa::kScalar;
}


}  // namespace

// ------------------------------------------------------------------ public API

Isa env_isa() {
  const char* env = std::getenv("LINGER_ISA");
  if (env == nullptr || *env == '\0') return Isa::kAuto;
  bool ok = false;
  const Isa want = parse_isa(env, &ok);
  if (!ok || !isa_supported(want)) return Isa::kAuto;
  return want;
}

Isa best_isa() {
  const Isa env = env_isa();
  return env == Isa::kAuto ? best_cpu_isa() : env;
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
    case Isa::kAuto:
      return true;
    case Isa::kAvx2:
      return cpu().avx2;
    case Isa::kAvx512Vnni:
      return cpu().avx512vnni;
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
    case Isa::kAuto:
      return "auto";
  }
  return "unknown";
}

Isa resolve_isa(Isa isa) { return resolve(isa); }

void gemm_s8s8_s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t n, int64_t k, Isa isa) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    std::fill(c, c + m * n, 0);
    return;
  }
  switch (resolve(isa)) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      gemm_simd<VnniBackend>(a, b, c, n, m, n, k);
      return;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      gemm_simd<Avx2Backend>(a, b, c, n, m, n, k);
      return;
#endif
    default:
      scalar_gemm_dot(a, k, b, k, c, n, m, n, k);
      return;
  }
}

Isa choose_conv_isa(const numerics::Conv2dShape& s, Isa max_isa) {
  const Isa top = resolve(max_isa);
  if (top == Isa::kScalar || !s.valid()) return top;
  // Depthwise convs: the VNNI plane kernel where it takes the shape, else the
  // AVX2 plane kernels.
  if (use_depthwise(s)) {
    if (top == Isa::kAvx512Vnni && use_vnni_depthwise(s)) return top;
    return isa_supported(Isa::kAvx2) ? Isa::kAvx2 : top;
  }
  return top;
}

Conv2dInt8::Conv2dInt8(const numerics::Conv2dShape& s, const int8_t* w, Isa isa) : s_(s) {
  if (!s.valid()) return;
  isa_ = isa == Isa::kAuto ? choose_conv_isa(s, Isa::kAuto) : resolve(isa);
  const ConvGeom g = conv_geom(s);
  w_.assign(w, w + int64_t{s.o} * g.kdim);
  if (use_depthwise(s)) return;
  switch (isa_) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: pack_conv_weights<VnniBackend>(w, s, g, &packed_, &comp_, &koff_); break;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: pack_conv_weights<Avx2Backend>(w, s, g, &packed_, &comp_, &koff_); break;
#endif
    default: break;
  }
}

int64_t Conv2dInt8::workspace_bytes(const numerics::Conv2dShape& s, Isa isa, int threads) {
  if (!s.valid()) return 0;
  threads = std::max(1, threads);
  const ConvGeom g = conv_geom(s);
  const Isa chosen = isa == Isa::kAuto ? choose_conv_isa(s, Isa::kAuto) : resolve(isa);
  if (use_depthwise(s))
    return depthwise_layout(s, g, threads, !(chosen == Isa::kAvx512Vnni && use_vnni_depthwise(s))).ws.cv.bytes();
  switch (chosen) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      if (use_transposed<VnniBackend>(s, g)) return transposed_layout<VnniBackend>(g, threads).ws.cv.bytes();
      return simd_conv_layout<VnniBackend>(s, g, threads).ws.cv.bytes();
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      if (use_transposed<Avx2Backend>(s, g)) return transposed_layout<Avx2Backend>(g, threads).ws.cv.bytes();
      return simd_conv_layout<Avx2Backend>(s, g, threads).ws.cv.bytes();
#endif
    default: return scalar_conv_layout(g, threads).ws.cv.bytes();
  }
}

int64_t Conv2dInt8::workspace_bytes(int threads) const { return workspace_bytes(s_, isa_, threads); }

void Conv2dInt8::run(const int8_t* x, const int32_t* bias, void* y, const OutputStage& out, std::vector<int8_t>* ws,
                     ThreadPool* pool) const {
  if (!s_.valid()) return;
  std::vector<int8_t> local;
  if (!ws) ws = &local;
  const Stage st = make_stage(out);
  const int8_t* p = packed_.data();
  const int32_t* c = comp_.data();
  if (out.out_bits == 8)
    conv_run(*this, x, w_.data(), p, c, bias, static_cast<int8_t*>(y), st, ws, pool);
  else if (out.out_bits == 16)
    conv_run(*this, x, w_.data(), p, c, bias, static_cast<int16_t*>(y), st, ws, pool);
  else
    conv_run(*this, x, w_.data(), p, c, bias, static_cast<int32_t*>(y), st, ws, pool);
}

void conv2d_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const numerics::Conv2dShape& s,
                 int shift, bool relu, int out_bits, Isa isa, std::vector<int8_t>* workspace) {
  if (!s.valid()) return;
  OutputStage out;
  out.out_bits = out_bits;
  out.shift = shift;
  if (relu) out.lo = 0;
  Conv2dInt8(s, w, isa).run(x, bias, y, out, workspace, nullptr);
}

int64_t conv2d_workspace_bytes(const numerics::Conv2dShape& s, Isa isa) {
  return Conv2dInt8::workspace_bytes(s, isa, 1);
}

LinearInt8::LinearInt8(const int8_t* w, int64_t k, int64_t n, Isa isa) : k_(k), n_(n), isa_(resolve(isa)) {
  if (k <= 0 || n <= 0) return;
  w_.assign(w, w + k * n);
  if (!linear_uses_gemm(k)) return;
  switch (isa_) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      packed_.assign(static_cast<size_t>(round_up(n, VnniBackend::kNr) * round_up(k, VnniBackend::kKu)), 0);
      VnniBackend::pack_b_t(w, k, k, n, reinterpret_cast<uint8_t*>(packed_.data()));
      break;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      packed_.assign(static_cast<size_t>(round_up(n, Avx2Backend::kNr) * round_up(k, Avx2Backend::kKu)) * 2, 0);
      Avx2Backend::pack_b_t(w, k, k, n, reinterpret_cast<int16_t*>(packed_.data()));
      break;
#endif
    default: break;
  }
}

int64_t LinearInt8::workspace_bytes(int64_t m, int threads) const {
  if (m <= 0 || n_ <= 0 || k_ <= 0 || !linear_uses_gemm(k_)) return 0;
  return linear_layout(m, k_, n_, isa_, std::max(1, threads)).ws.cv.bytes();
}

void LinearInt8::run(const int8_t* x, const int32_t* bias, void* y, int64_t m, const OutputStage& out,
                     std::vector<int8_t>* ws, ThreadPool* pool) const {
  if (m <= 0 || n_ <= 0) return;
  std::vector<int8_t> local;
  if (!ws) ws = &local;
  const Stage st = make_stage(out);
  const int8_t* p = packed_.data();
  switch (out.out_bits) {
    case 0: linear_run(x, w_.data(), p, bias, static_cast<float*>(y), m, k_, n_, st, isa_, ws, pool); break;
    case 8: linear_run(x, w_.data(), p, bias, static_cast<int8_t*>(y), m, k_, n_, st, isa_, ws, pool); break;
    case 16: linear_run(x, w_.data(), p, bias, static_cast<int16_t*>(y), m, k_, n_, st, isa_, ws, pool); break;
    default: linear_run(x, w_.data(), p, bias, static_cast<int32_t*>(y), m, k_, n_, st, isa_, ws, pool); break;
  }
}

int64_t linear_workspace_bytes(int64_t m, int64_t k, int64_t n, Isa isa) {
  if (m <= 0 || n <= 0 || k <= 0 || !linear_uses_gemm(k)) return 0;
  return linear_layout(m, k, n, resolve(isa), 1).ws.cv.bytes();
}

void linear_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, int64_t m, int64_t k, int64_t n,
                 int shift, int out_bits, Isa isa) {
  if (m <= 0 || n <= 0) return;
  OutputStage out;
  out.out_bits = out_bits;
  out.shift = shift;
  LinearInt8(w, k, n, isa).run(x, bias, y, m, out, nullptr, nullptr);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
