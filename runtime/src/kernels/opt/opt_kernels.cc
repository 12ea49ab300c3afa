// Optimised int8 kernels: ISA detection and dispatch, the scalar paths, and the
// ISA-neutral drivers (im2col, blocking, requantisation) around the per-ISA GEMM
// building blocks of opt_avx2.cc / opt_avx512vnni.cc (opt_internal.h).
//
// This unit is compiled for the baseline architecture only; every SIMD
// instruction lives in the ISA units, reached after a run-time cpuid check.
//
// Conv2dInt as a GEMM per (image, group, block of output pixels):
//   C[oc][p] = sum_k W[oc][k] * col[k][p],  k = (ic, ky, kx), p = oy * out_w + ox
// W (the broadcast operand "A") is packed once per call, each block of columns
// (the vector operand "B": im2col rows, the input planes of a 1x1 conv, or the
// taps of a zero-padded input plane for stride 1; see BSource) is packed once
// and swept by all output channels of its group; C is then requantised into the
// NCHW output. Depthwise convs (one input channel per group) accumulate
// directly instead. The int32 sums wrap modulo 2^32 exactly as the reference's
// accumulator does, whatever the order of the additions.
//
// Requantisation: numerics::conv_requant (the shared formula) per output; on
// SIMD paths its AVX2 form detail::avx2::requant_row_* (tested equal to it on
// the int32 edges, every shift 0..63) does whole vectors of a row first.
//
// LinearInt: int32 GEMM (exact: |sum| <= k * 2^14 < 2^31) + int64 bias, then
// numerics::linear_requant / linear_float_out; the int64 reference beyond that k.
#include "opt_kernels.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "opt_internal.h"
#include "../../size_math.h"

namespace linger {
namespace runtime {
namespace opt {
namespace {

namespace nm = numerics;

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
  if (isa_supported(isa)) return isa;
  if (isa == Isa::kAvx512Vnni && isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

// ------------------------------------------------------------------ helpers

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Carves 64-byte aligned regions out of one byte buffer (the caller's
// workspace). Sizes are overflow-checked (saturating, size_math.h): bytes() is
// what base() allocates, and what *_workspace_bytes() report to the planner,
// which refuses a saturated or too large value before any run.
class Carver {
 public:
  size_t add(int64_t bytes) {
    const size_t off = static_cast<size_t>(total_);
    total_ = sat_add(total_, sat_mul(ceil_div(bytes > 0 ? bytes : 0, 64), 64));
    return off;
  }
  int64_t bytes() const { return sat_add(total_, 64); }
  // Grows `buf` as needed and returns the aligned base of the regions.
  uint8_t* base(std::vector<int8_t>* buf) const {
    const size_t need = static_cast<size_t>(bytes());
    if (buf->size() < need) buf->resize(need);
    const uintptr_t p = reinterpret_cast<uintptr_t>(buf->data());
    return reinterpret_cast<uint8_t*>((p + 63) & ~uintptr_t{63});
  }

 private:
  int64_t total_ = 0;
};

template <typename T>
T* at(uint8_t* base, size_t off) {
  return reinterpret_cast<T*>(base + off);
}

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
  }
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
void im2col_block(const int8_t* x, const nm::Conv2dShape& s, const ConvGeom& g, int64_t n, int64_t grp, int64_t p0,
                  int64_t nv, int8_t* dst, int64_t ldd) {
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

// Vector requantisation of the start of a row (AVX2; also on VNNI CPUs, which
// have AVX2): returns how many outputs it wrote, the caller does the rest.
#if defined(LINGER_OPT_HAVE_AVX2)
int64_t requant_row_simd(const int32_t* c, int64_t n, int32_t b, bool relu, int shift, int8_t* y) {
  return detail::avx2::requant_row_s8(c, n, b, relu, shift, y);
}
int64_t requant_row_simd(const int32_t* c, int64_t n, int32_t b, bool relu, int shift, int16_t* y) {
  return detail::avx2::requant_row_s16(c, n, b, relu, shift, y);
}
int64_t requant_row_simd(const int32_t* c, int64_t n, int32_t b, bool relu, int shift, int32_t* y) {
  return detail::avx2::requant_row_s32(c, n, b, relu, shift, y);
}
#else
template <typename OutT>
int64_t requant_row_simd(const int32_t*, int64_t, int32_t, bool, int, OutT*) {
  return 0;
}
#endif

// y[r * ldy + j] = conv_requant(c[r * ldc + j], bias[oc0 + r], ...) for r < rows, j < nv.
// `simd`: the AVX2 form (tested equal to conv_requant) does what it can of
// each row; the shared formula does the rest, instantiated with out_bits and
// relu as constants so that the compiler drops most of its branches.
template <typename OutT, int kOutBits, bool kRelu>
void requant_rows(const int32_t* c, int64_t ldc, int64_t rows, int64_t nv, const int32_t* bias, int64_t oc0, OutT* y,
                  int64_t ldy, int shift, bool simd) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t b = bias ? bias[oc0 + r] : 0;
    const int32_t* cr = c + r * ldc;
    OutT* yr = y + r * ldy;
    const int64_t j0 = simd ? requant_row_simd(cr, nv, b, kRelu, shift, yr) : 0;
    for (int64_t j = j0; j < nv; ++j) yr[j] = static_cast<OutT>(nm::conv_requant(cr[j], b, kRelu, shift, kOutBits));
  }
}

template <typename OutT>
void requant_block(const int32_t* c, int64_t ldc, int64_t rows, int64_t nv, const int32_t* bias, int64_t oc0,
                   OutT* y, int64_t ldy, int shift, bool relu, int out_bits, bool simd) {
  constexpr int kBits = sizeof(OutT) == 1 ? 8 : (sizeof(OutT) == 2 ? 16 : 32);
  if (out_bits == kBits) {
    if (relu)
      requant_rows<OutT, kBits, true>(c, ldc, rows, nv, bias, oc0, y, ldy, shift, simd);
    else
      requant_rows<OutT, kBits, false>(c, ldc, rows, nv, bias, oc0, y, ldy, shift, simd);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {  // any other out_bits (int32 storage)
    const int32_t b = bias ? bias[oc0 + r] : 0;
    const int32_t* cr = c + r * ldc;
    OutT* yr = y + r * ldy;
    for (int64_t j = 0; j < nv; ++j) yr[j] = static_cast<OutT>(nm::conv_requant(cr[j], b, relu, shift, out_bits));
  }
}

struct ScalarConvLayout {
  int64_t nc;
  size_t off_col, off_c;
  Carver cv;
};

ScalarConvLayout scalar_conv_layout(const ConvGeom& g) {
  ScalarConvLayout L;
  L.nc = pick_block_cols(g.kdim, 16, g.pixels);
  L.off_col = L.cv.add(g.direct ? 0 : sat_mul(g.kdim, L.nc));
  L.off_c = L.cv.add(sat_mul(sat_mul(g.opg, L.nc), 4));
  return L;
}

template <typename OutT>
void conv_scalar(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s,
                 int shift, bool relu, int out_bits, std::vector<int8_t>* ws) {
  const ConvGeom g = conv_geom(s);
  const ScalarConvLayout L = scalar_conv_layout(g);
  const int64_t nc = L.nc;
  uint8_t* base = L.cv.base(ws);
  int8_t* col = at<int8_t>(base, L.off_col);
  int32_t* cblk = at<int32_t>(base, L.off_c);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      for (int64_t p0 = 0; p0 < g.pixels; p0 += nc) {
        const int64_t nv = std::min(nc, g.pixels - p0);
        const int8_t* src = col;
        int64_t ldk = nc;
        if (g.direct) {
          src = x + (n * s.c + grp * g.cpg) * g.hw + p0;
          ldk = g.hw;
        } else {
          im2col_block(x, s, g, n, grp, p0, nv, col, nc);
        }
        scalar_gemm_kmajor(w + grp * g.opg * g.kdim, g.kdim, src, ldk, cblk, nc, g.opg, nv, g.kdim);
        requant_block(cblk, nc, g.opg, nv, bias, grp * g.opg, y + (n * s.o + grp * g.opg) * g.pixels + p0, g.pixels,
                      shift, relu, out_bits, false);
      }
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

struct SimdConvLayout {
  int64_t hp, wp, vw, vpixels, kpad, a_rows, nc;
  BSource src;
  size_t off_a, off_comp, off_koff, off_src, off_b, off_c;
  Carver cv;
};

template <class BK>
SimdConvLayout simd_conv_layout(const nm::Conv2dShape& s, const ConvGeom& g) {
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
  L.off_a = L.cv.add(sat_mul(sat_mul(sat_mul(g.groups, L.a_rows), L.kpad), sizeof(typename BK::AElem)));
  L.off_comp = L.cv.add(sat_mul(sat_mul(g.groups, L.a_rows), 4));
  L.off_koff = L.cv.add(sat_mul(g.kdim, 8));
  L.off_src = L.cv.add(L.src == BSource::kIm2col   ? sat_mul(g.kdim, L.nc)
                       : L.src == BSource::kPadded ? sat_mul(sat_mul(g.cpg, L.hp), L.wp)
                                                   : 0);
  L.off_b = L.cv.add(sat_mul(sat_mul(round_up(L.nc, BK::kNr), L.kpad), b_size));
  L.off_c = L.cv.add(sat_mul(sat_mul(g.opg, L.nc), 4));
  return L;
}

template <class BK, typename OutT>
void conv_simd(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s, int shift,
               bool relu, int out_bits, std::vector<int8_t>* ws) {
  using AElem = typename BK::AElem;
  using BElem = typename BK::BElem;
  const ConvGeom g = conv_geom(s);
  const SimdConvLayout L = simd_conv_layout<BK>(s, g);
  const int64_t hp = L.hp, wp = L.wp, vw = L.vw, vpixels = L.vpixels, kpad = L.kpad, a_rows = L.a_rows, nc = L.nc;
  const BSource src = L.src;
  uint8_t* base = L.cv.base(ws);
  AElem* ap = at<AElem>(base, L.off_a);
  int32_t* comp = at<int32_t>(base, L.off_comp);
  int64_t* koff = at<int64_t>(base, L.off_koff);
  int8_t* buf = at<int8_t>(base, L.off_src);
  BElem* bp = at<BElem>(base, L.off_b);
  int32_t* cblk = at<int32_t>(base, L.off_c);

  for (int64_t grp = 0; grp < g.groups; ++grp)
    BK::pack_a(w + grp * g.opg * g.kdim, g.kdim, g.opg, g.kdim, ap + grp * a_rows * kpad, comp + grp * a_rows);
  for (int64_t kk = 0; kk < g.kdim; ++kk) {
    const int64_t ic = kk / (int64_t{s.kh} * s.kw), ky = kk / s.kw % s.kh, kx = kk % s.kw;
    koff[kk] = src == BSource::kIm2col ? kk * nc
               : src == BSource::kDirect ? kk * g.hw
                                         : ic * hp * wp + ky * s.dil_h * wp + kx * s.dil_w;
  }
  if (src == BSource::kPadded) std::memset(buf, 0, static_cast<size_t>(g.cpg * hp * wp));  // borders stay zero

  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const int8_t* xg = x + (n * s.c + grp * g.cpg) * g.hw;  // the group's input planes
      if (src == BSource::kPadded)
        for (int64_t ic = 0; ic < g.cpg; ++ic)
          for (int64_t iy = 0; iy < s.h; ++iy)
            std::memcpy(buf + (ic * hp + iy + s.pad_top) * wp + s.pad_left, xg + ic * g.hw + iy * s.w,
                        static_cast<size_t>(s.w));
      OutT* yg = y + (n * s.o + grp * g.opg) * g.pixels;
      for (int64_t p0 = 0; p0 < vpixels; p0 += nc) {
        const int64_t nv = std::min(nc, vpixels - p0);
        if (src == BSource::kDirect) {
          BK::pack_b(xg + p0, koff, g.kdim, nv, bp);
        } else if (src == BSource::kPadded) {
          BK::pack_b(buf + p0, koff, g.kdim, nv, bp);
        } else {
          im2col_block(x, s, g, n, grp, p0, nv, buf, nc);
          BK::pack_b(buf, koff, g.kdim, nv, bp);
        }
        BK::gemm(ap + grp * a_rows * kpad, comp + grp * a_rows, bp, g.opg, nv, kpad, cblk, nc);
        if (vw == g.ow) {
          requant_block(cblk, nc, g.opg, nv, bias, grp * g.opg, yg + p0, g.pixels, shift, relu, out_bits, true);
        } else {
          // Row by row, dropping the virtual columns ox >= out_w.
          for (int64_t oy = p0 / vw; oy * vw < p0 + nv; ++oy) {
            const int64_t lo = std::max(p0, oy * vw), hi = std::min(p0 + nv, oy * vw + g.ow);
            if (lo < hi)
              requant_block(cblk + (lo - p0), nc, g.opg, hi - lo, bias, grp * g.opg, yg + oy * g.ow + (lo - oy * vw),
                            g.pixels, shift, relu, out_bits, true);
          }
        }
      }
    }
}

// Depthwise-style convs (one input channel per group, few outputs per group):
// direct accumulation over a zero-padded copy of each input plane. AVX2 (and
// VNNI CPUs) run detail::avx2::depthwise_plane_s1 for horizontal stride 1 and
// up to 64 taps; otherwise a row-update loop that the compiler vectorises for
// the baseline instruction set.
constexpr int64_t kDirectMaxOpg = 4;

// acc[j] += w * src[j * stride], wrapping (restrict: no aliasing between rows).
void axpy_row(uint32_t* __restrict acc, const int8_t* __restrict src, int32_t w, int64_t n, int64_t stride) {
  if (stride == 1) {
    for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<uint32_t>(w * int32_t{src[j]});
  } else {
    for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<uint32_t>(w * int32_t{src[j * stride]});
  }
}

struct DepthwiseLayout {
  int64_t hp, wp;
  size_t off_x, off_acc;
  Carver cv;
};

DepthwiseLayout depthwise_layout(const nm::Conv2dShape& s, const ConvGeom& g) {
  DepthwiseLayout L;
  L.hp = int64_t{s.h} + s.pad_top + s.pad_bottom;
  L.wp = int64_t{s.w} + s.pad_left + s.pad_right;
  L.off_x = L.cv.add(sat_add(sat_mul(L.hp, L.wp), 64));  // + slack for the vector loads past the last row
  L.off_acc = L.cv.add(sat_mul(g.pixels, 4));
  return L;
}

bool use_depthwise(const nm::Conv2dShape& s) { return s.c / s.groups == 1 && s.o / s.groups <= kDirectMaxOpg; }

template <typename OutT>
void conv_depthwise(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s,
                    int shift, bool relu, int out_bits, bool simd, std::vector<int8_t>* ws) {
  const ConvGeom g = conv_geom(s);
  const DepthwiseLayout L = depthwise_layout(s, g);
  const int64_t hp = L.hp, wp = L.wp;
  const int64_t taps = int64_t{s.kh} * s.kw;
  uint8_t* base = L.cv.base(ws);
  int8_t* xp = at<int8_t>(base, L.off_x);
  int32_t* acc = at<int32_t>(base, L.off_acc);
  std::memset(xp, 0, static_cast<size_t>(hp * wp + 64));  // the border and the slack stay zero
#if defined(LINGER_OPT_HAVE_AVX2)
  const bool vec_plane = simd && s.stride_w == 1 && taps <= 64;
#else
  const bool vec_plane = false;
#endif
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const int8_t* plane = x + (n * s.c + grp) * g.hw;
      for (int64_t iy = 0; iy < s.h; ++iy)  // interior only
        std::memcpy(xp + (iy + s.pad_top) * wp + s.pad_left, plane + iy * s.w, static_cast<size_t>(s.w));
      for (int64_t m = 0; m < g.opg; ++m) {
        const int64_t oc = grp * g.opg + m;
        const int8_t* wk = w + oc * taps;
        if (vec_plane) {
#if defined(LINGER_OPT_HAVE_AVX2)
          detail::avx2::depthwise_plane_s1(xp, wp, wk, s.kh, s.kw, s.stride_h, s.dil_h, s.dil_w, g.oh, g.ow, acc);
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
        requant_block(acc, g.pixels, 1, g.pixels, bias, oc, y + (n * s.o + oc) * g.pixels, g.pixels, shift, relu,
                      out_bits, simd);
      }
    }
}

template <typename OutT>
void conv_dispatch(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, const nm::Conv2dShape& s,
                   int shift, bool relu, int out_bits, Isa isa, std::vector<int8_t>* ws) {
  if (use_depthwise(s)) {
    conv_depthwise(x, w, bias, y, s, shift, relu, out_bits, isa != Isa::kScalar, ws);
    return;
  }
  switch (isa) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni:
      conv_simd<VnniBackend>(x, w, bias, y, s, shift, relu, out_bits, ws);
      return;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2:
      conv_simd<Avx2Backend>(x, w, bias, y, s, shift, relu, out_bits, ws);
      return;
#endif
    default:
      conv_scalar(x, w, bias, y, s, shift, relu, out_bits, ws);
      return;
  }
}

// ------------------------------------------------------------------ linear

// |sum_k x*w| <= k * 2^14: the int32 GEMM is exact (no wrap) iff that stays below 2^31.
bool linear_uses_gemm(int64_t k) { return k < (int64_t{1} << 17); }
constexpr int64_t kLinearBlockRows = 256;

// Writes one output of LinearInt from its exact int64 accumulator.
template <typename OutT>
OutT linear_out(int64_t acc, int shift, int out_bits) {
  return static_cast<OutT>(nm::linear_requant(acc, shift, out_bits));
}
template <>
float linear_out<float>(int64_t acc, int shift, int /*out_bits*/) {
  return nm::linear_float_out(acc, shift);
}

// Scalar reference (int64 accumulation), for k too large for the int32 GEMM.
template <typename OutT>
void linear_reference(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, int64_t m, int64_t k, int64_t n,
                      int shift, int out_bits) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c)
      y[r * n + c] = linear_out<OutT>(nm::linear_acc_at(x, w, bias, k, r, c), shift, out_bits);
}

template <typename OutT>
void linear_emit(const int32_t* c, int64_t rows, int64_t n, const int32_t* bias, OutT* y, int shift, int out_bits) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t acc = int64_t{c[r * n + j]} + (bias ? int64_t{bias[j]} : 0);
      y[r * n + j] = linear_out<OutT>(acc, shift, out_bits);
    }
}

template <typename OutT>
void linear_dispatch(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, int64_t m, int64_t k, int64_t n,
                     int shift, int out_bits, Isa isa) {
  if (!linear_uses_gemm(k)) {
    linear_reference(x, w, bias, y, m, k, n, shift, out_bits);
    return;
  }
  const int64_t rows_per_block = std::max<int64_t>(1, std::min<int64_t>(m, kLinearBlockRows));
  std::vector<int32_t> cbuf(static_cast<size_t>(rows_per_block * n));
  for (int64_t r0 = 0; r0 < m; r0 += rows_per_block) {
    const int64_t rows = std::min(rows_per_block, m - r0);
    const int8_t* xb = x + r0 * k;
    switch (isa) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
      case Isa::kAvx512Vnni:
        gemm_simd<VnniBackend>(xb, w, cbuf.data(), n, rows, n, k);
        break;
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
      case Isa::kAvx2:
        gemm_simd<Avx2Backend>(xb, w, cbuf.data(), n, rows, n, k);
        break;
#endif
      default:
        scalar_gemm_dot(xb, k, w, k, cbuf.data(), n, rows, n, k);
        break;
    }
    linear_emit(cbuf.data(), rows, n, bias, y + r0 * n, shift, out_bits);
  }
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

Isa best_isa() {
  const Isa best = best_cpu_isa();
  const char* env = std::getenv("LINGER_ISA");
  if (env == nullptr || *env == '\0') return best;
  bool ok = false;
  const Isa want = parse_isa(env, &ok);
  if (!ok || !isa_supported(want)) return best;
  return want;
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
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
  }
  return "unknown";
}

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

void conv2d_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const numerics::Conv2dShape& s,
                 int shift, bool relu, int out_bits, Isa isa, std::vector<int8_t>* workspace) {
  if (!s.valid()) return;
  std::vector<int8_t> local;
  std::vector<int8_t>* ws = workspace ? workspace : &local;
  isa = resolve(isa);
  if (out_bits == 8)
    conv_dispatch(x, w, bias, static_cast<int8_t*>(y), s, shift, relu, out_bits, isa, ws);
  else if (out_bits == 16)
    conv_dispatch(x, w, bias, static_cast<int16_t*>(y), s, shift, relu, out_bits, isa, ws);
  else
    conv_dispatch(x, w, bias, static_cast<int32_t*>(y), s, shift, relu, out_bits, isa, ws);
}

int64_t conv2d_workspace_bytes(const numerics::Conv2dShape& s, Isa isa) {
  if (!s.valid()) return 0;
  const ConvGeom g = conv_geom(s);
  if (use_depthwise(s)) return depthwise_layout(s, g).cv.bytes();
  switch (resolve(isa)) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: return simd_conv_layout<VnniBackend>(s, g).cv.bytes();
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: return simd_conv_layout<Avx2Backend>(s, g).cv.bytes();
#endif
    default: return scalar_conv_layout(g).cv.bytes();
  }
}

int64_t linear_workspace_bytes(int64_t m, int64_t k, int64_t n, Isa isa) {
  if (m <= 0 || n <= 0 || !linear_uses_gemm(k)) return 0;
  const int64_t rows = std::min<int64_t>(m, kLinearBlockRows);
  const int64_t cbuf = sat_mul(sat_mul(rows, n), 4);
  if (rows <= kDotRows) return cbuf;
  switch (resolve(isa)) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: return sat_add(cbuf, gemm_layout<VnniBackend>(rows, n, k).cv.bytes());
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: return sat_add(cbuf, gemm_layout<Avx2Backend>(rows, n, k).cv.bytes());
#endif
    default: return cbuf;
  }
}

void linear_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, int64_t m, int64_t k, int64_t n,
                 int shift, int out_bits, Isa isa) {
  if (m <= 0 || n <= 0) return;
  isa = resolve(isa);
  if (out_bits == 0)
    linear_dispatch(x, w, bias, static_cast<float*>(y), m, k, n, shift, out_bits, isa);
  else if (out_bits == 8)
    linear_dispatch(x, w, bias, static_cast<int8_t*>(y), m, k, n, shift, out_bits, isa);
  else if (out_bits == 16)
    linear_dispatch(x, w, bias, static_cast<int16_t*>(y), m, k, n, shift, out_bits, isa);
  else
    linear_dispatch(x, w, bias, static_cast<int32_t*>(y), m, k, n, shift, out_bits, isa);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
