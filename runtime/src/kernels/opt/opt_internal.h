// Internal interface between the ISA-neutral drivers (opt_kernels.cc) and the
// per-ISA GEMM building blocks (opt_avx2.cc, opt_avx512vnni.cc).
//
// The ISA translation units are compiled with their own target flags
// (-mavx2, -mavx512f -mavx512bw -mavx512vnni). To keep the library runnable on
// any x86-64, those units must not instantiate or emit any inline function or
// template shared with other units (an out-of-line copy compiled for AVX2 could
// be chosen by the linker for a caller on a CPU without AVX2). So this header
// holds declarations and integer constants only, and the ISA units include
// nothing but <cstdint>, <cstring> and <immintrin.h>.
//
// GEMM model used by both SIMD paths: C[i][j] = sum_k A(i, k) * B(k, j), int32
// two's-complement wrapping, C row-major with leading dimension ldc.
//   A, the "broadcast" operand (rows i; conv: output channels, linear: input
//   rows), is packed in panels of kMr rows: panel p holds, for each k-group
//   q = 0 .. kpad/kKu - 1, kMr groups of kKu consecutive k values.
//   B, the "vector" operand (columns j; conv: output pixels, linear: output
//   features), is packed in panels of kNr columns: for each k-group q, kNr
//   groups of kKu consecutive k values.
// kpad = k rounded up to kKu; rows, columns and k values past the real sizes
// are zero-filled (for the u8-offset VNNI B operand: the offset value of 0).
#pragma once

#include <cstdint>

namespace linger {
namespace runtime {
namespace opt {
namespace detail {

// AVX2: int16 pairs, _mm256_madd_epi16 (each pair sum |(-128)(-128) * 2| = 2^15
// fits int32), _mm256_add_epi32 (wraps). A and B packed as sign-extended int16.
namespace avx2 {
constexpr int kMr = 6;
constexpr int kNr = 16;
constexpr int kKu = 2;
// a: m x k, element (i, kk) at a[i * lda + kk]. out: ceil(m / kMr) * kMr * kpad int16.
void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int16_t* out);
// k-major source: element (kk, j) at b[koff[kk] + j] (im2col rows, 1x1 conv
// planes, taps of a padded input plane). out: ceil(n / kNr) * kNr * kpad int16.
void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, int16_t* out);
// n-major source: element (kk, j) at b[j * ldn + kk] (linear weights, GEMM B rows).
void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, int16_t* out);
// C (m x n, ldc) = packed A (m rows) x packed B (n columns).
void gemm_packed(const int16_t* ap, const int16_t* bp, int64_t m, int64_t n, int64_t kpad, int32_t* c,
                 int64_t ldc);
// Unpacked C[i][j] = sum_k a[i*lda+k] * b[j*ldb+k] (row dot products; for few rows).
void gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
              int64_t n, int64_t k);
// Depthwise plane, horizontal stride 1 (s1) or 2 (s2): acc[oy * ow + ox] = sum
// over taps of wk[ky * kw + kx] * xp[(oy * stride_h + ky * dil_h) * wp +
// ox * stride_w + kx * dil_w], wrapping int32. xp is the zero-padded input plane
// (wp columns) and must stay readable 64 bytes past its end (vector loads over
// the row ends). acc must have room for 16 int32 past oh * ow: each row is stored
// in whole vectors of 16, the part past the row landing on the next row (written
// after it) or in that slack. At most 64 taps (kh * kw); more: nothing done.
void depthwise_plane_s1(const int8_t* xp, int64_t wp, const int8_t* wk, int kh, int kw, int stride_h, int dil_h,
                        int dil_w, int64_t oh, int64_t ow, int32_t* acc);
void depthwise_plane_s2(const int8_t* xp, int64_t wp, const int8_t* wk, int kh, int kw, int stride_h, int dil_h,
                        int dil_w, int64_t oh, int64_t ow, int32_t* acc);
// Conv requantisation of one row, the vector form of numerics::conv_requant
// followed by the clamp of OutputStage:
//   y[j] = clamp(sat_ob(rhu_shift(sat32(c[j] + bias), shift)), lo, hi)
// in int32 lanes, with ob = 8 / 16 / 32 for the int8 / int16 / int32 output.
// Preconditions: 0 <= shift <= 63; lo <= hi, both inside the ob range;
// |c[j]| <= acc_max (the caller's bound: kdim * 2^14 for a conv that cannot
// wrap; INT32_MAX when unknown): where |bias| + acc_max fits int32 the sum
// cannot overflow and the saturation step is skipped. Does all n outputs (a
// tail shorter than a vector: the last whole vector again, overlapping, when
// n is at least one vector; else through a small buffer). y and c must not
// overlap (for the int32 output, y == c is allowed).
void requant_row_s8(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int8_t* y,
                    int64_t acc_max);
void requant_row_s16(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int16_t* y,
                     int64_t acc_max);
void requant_row_s32(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int32_t* y,
                     int64_t acc_max);
// BatchNorm2dInt of one plane, int8 output: y[j] = sat8(rhu_shift(x[j] * w + bias, shift)),
// 0 <= shift <= 63 (the sum saturated to int32 first, which for an int8 output
// is the same integer as the int64 sum: see opt_kernels.cc).
void batchnorm_row_s8(const int8_t* x, int64_t n, int32_t w, int32_t bias, int shift, int8_t* y);
// iqClamp: y[j] = min(max(x[j], lo), hi).
void clamp_row_s8(const int8_t* x, int64_t n, int8_t lo, int8_t hi, int8_t* y);
// dst[i] = src[2 * i] for i < n (the im2col row of a stride-2 conv); reads src[0 .. 2n - 2] only.
void copy_stride2(const int8_t* src, int64_t n, int8_t* dst);
// iqAdd of same-shape operands: y[j] = sat8(sat8(rhu_shift(a[j], sa)) + sat8(rhu_shift(b[j], sb)))
// (numerics::iqadd) for the first n rounded down to 32; returns how many it did.
int64_t iqadd_row_s8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y);
// dst[j] = max(dst[j], src[j]) for j < n (signed int8).
void max_row(int8_t* dst, const int8_t* src, int64_t n);
// y[ox] = max over kx < kw of r[ox * stride + kx], for ox < ow (any stride;
// 1 and 2 vectorised); r must stay readable 64 bytes past r[(ow - 1) * stride + kw - 1].
void max_window_row(const int8_t* r, int64_t ow, int kw, int stride, int8_t* y);
// MaxPool 2x2, stride 2, no padding, of one plane (w columns, oh x ow outputs,
// oh <= h / 2, ow <= w / 2): y[oy * ow + ox] = max of x[(2 oy + dy) * w + 2 ox + dx].
// Whole vectors are read up to x_end and written up to y_end (the part of a
// vector past a row lands on the rows after it, written later; y_end bounds
// what the caller owns); the rest goes one output at a time.
void maxpool2x2_s2_plane(const int8_t* x, int64_t w, int64_t oh, int64_t ow, int8_t* y, const int8_t* x_end,
                         const int8_t* y_end);
// Quant: y[i] = numerics::quantize(x[i], q, 8 or 16) with scale_q = 2^q, for
// -100 <= q <= 100. Stops before the first vector holding a NaN; returns how
// many it wrote (a multiple of the vector width; the caller does the rest).
int64_t quantize_s8(const float* x, int64_t n, float scale_q, int8_t* y);
int64_t quantize_s16(const float* x, int64_t n, float scale_q, int16_t* y);
// Dequant: y[i] = x[i] * scale (scale = 2^-Q, -100 <= Q <= 100; exact, see opt_kernels.cc).
void dequantize_s8(const int8_t* x, int64_t n, float scale, float* y);
void dequantize_s16(const int16_t* x, int64_t n, float scale, float* y);
void dequantize_s32(const int32_t* x, int64_t n, float scale, float* y);
// Matrix-vector product for a matrix used many times (the RNN recurrence W_hh h), opt_matvec.h:
// acc[r] = sum_k W[r, k] v[k] (int32, wrapping) for r < rows. wp: W packed in blocks of kMvRows rows,
// block-major; block b holds, for each k-pair p < kpairs, kMvRows pairs (W[r, 2p], W[r, 2p + 1]) as int16
// (zero past the real rows and k). vpairs[p]: the int16 pair (v[2p], v[2p + 1]) in one int32 (low half
// first; any value past k).
constexpr int kMvRows = 8;
void matvec_packed(const int16_t* wp, const int32_t* vpairs, int64_t rows, int64_t kpairs, int32_t* acc);
// numerics::gru_cell in int32 lanes for the units u < n rounded down to 8 (returns how many it did), from
// gi = gi32 + b_ih and gh = gh32 + b_hh ([3H] each, gates r, z, n; the biases may be null). Precondition (the
// caller's check): every gi and gh fits int32. sig / tanh point at the entry of x = 0 of luna_sigmoid_q11 /
// luna_tanh_q11 tables covering [lo, hi] (the values outside equal the nearest bound's: the gate sums are
// clamped to it), readable 3 bytes past hi (4-byte gathers).
int64_t gru_cell_s32(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int64_t hidden,
                     int64_t n, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out, const int8_t* sig,
                     int32_t sig_lo, int32_t sig_hi, const int8_t* tanh, int32_t tanh_lo, int32_t tanh_hi);
}  // namespace avx2

// AVX-512 VNNI: _mm512_dpbusd_epi32 multiplies u8 by s8. B is packed as
// u8 = b + 128 (b ^ 0x80), A stays s8; then
//   sum_k a*(b+128) = sum_k a*b + 128 * sum_k a,
// so each row i subtracts comp[i] = 128 * sum_k a(i, k), all mod 2^32 (exact).
namespace avx512vnni {
constexpr int kMr = 8;
constexpr int kNr = 32;
constexpr int kKu = 4;
// out: ceil(m / kMr) * kMr * kpad int8; comp: ceil(m / kMr) * kMr int32.
void pack_a(const int8_t* a, int64_t lda, int64_t m, int64_t k, int8_t* out, int32_t* comp);
// out: ceil(n / kNr) * kNr * kpad uint8 (b ^ 0x80).
void pack_b(const int8_t* b, const int64_t* koff, int64_t k, int64_t n, uint8_t* out);
void pack_b_t(const int8_t* b, int64_t ldn, int64_t k, int64_t n, uint8_t* out);
void gemm_packed(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                 int32_t* c, int64_t ldc);
// gemm_packed with the int8 requantisation of a conv fused in: row i's sums
// become y = min(max((acc + bias[i] + round) >> shift, lo), hi), exact only
// where acc + bias[i] + round cannot leave the int32 range (the caller checks;
// 0 <= shift <= 31, -128 <= lo <= hi <= 127). Column j is virtual pixel
// v = v0 + j of rows vw wide, of which the first ow are real: it is stored at
// y[i * ldy + v - (v / vw) * (vw - ow)] when v % vw < ow (vw == ow: y[i * ldy + v]).
// bias may be null (0).
void gemm_packed_s8(const int8_t* ap, const int32_t* comp, const uint8_t* bp, int64_t m, int64_t n, int64_t kpad,
                    const int32_t* bias, int32_t round, int shift, int32_t lo, int32_t hi, int8_t* y, int64_t ldy,
                    int64_t v0, int64_t vw, int64_t ow);
void gemm_dot(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
              int64_t n, int64_t k);
// Matrix-vector product (opt_matvec.h): acc[r] = sum_k W[r, k] v[k] (int32, wrapping) for r < rows.
// wp: W packed in blocks of kMvRows rows, block-major; block b holds, for each k-quad q < kquads, kMvRows
// groups of 4 int8 (W[r, 4q .. 4q + 3]; zero past the real rows and k). comp[r] = 128 * sum_k W[r, k]
// (mod 2^32), one per packed row. vu: v ^ 0x80 (u8 = v + 128), kquads * 4 values (any value past k).
constexpr int kMvRows = 16;
void matvec_packed(const int8_t* wp, const int32_t* comp, const uint8_t* vu, int64_t rows, int64_t kquads,
                   int32_t* acc);
// avx2::gru_cell_s32 on 16 int32 lanes: units u < n rounded down to 16 (returns how many it did). Not in the
// emulated build (the cell is checked against numerics on the real ISA).
int64_t gru_cell_s32(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int64_t hidden,
                     int64_t n, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out, const int8_t* sig,
                     int32_t sig_lo, int32_t sig_hi, const int8_t* tanh, int32_t tanh_lo, int32_t tanh_hi);
// Depthwise plane read straight from the unpadded h x w input plane x (no
// padded copy): acc[oy * ow + ox] = sum over the taps whose input lies inside
// the plane of wk[ky * kw + kx] * x[iy * w + ix], iy = oy * stride_h - pad_top +
// ky * dil_h, ix = ox * stride_w - pad_left + kx * dil_w, wrapping int32 (the
// padding counts as 0). Writes exactly oh * ow int32 and reads only bytes of
// the plane. For the shapes of depthwise_plane_supported only (stride_w 1 or
// 2, 3 * (stride_w + dil_w) <= 15, the input rows of kDepthwiseRows output
// rows times ceil(kw / 4) at most kDepthwiseMaxGathers); others: nothing done.
// requant_row_s8 of the AVX2 unit in 16 lanes, for the rows where no step
// saturates: 0 <= shift <= 31, |c[j]| <= acc_max, |bias| + acc_max and
// bias + 2^(shift-1) + acc_max inside int32 (so rhu_shift is one add and one
// arithmetic shift); lo <= hi inside int8. Returns false (nothing written)
// for other rows: the caller runs the AVX2 form.
bool requant_row_s8(const int32_t* c, int64_t n, int32_t bias, int32_t lo, int32_t hi, int shift, int8_t* y,
                    int64_t acc_max);
constexpr int kDepthwiseRows = 4;
constexpr int kDepthwiseMaxGathers = 64;
bool depthwise_plane_supported(int kh, int kw, int stride_h, int stride_w, int dil_h, int dil_w);
void depthwise_plane(const int8_t* x, int64_t h, int64_t w, const int8_t* wk, int kh, int kw, int stride_h,
                     int stride_w, int dil_h, int dil_w, int pad_top, int pad_left, int64_t oh, int64_t ow,
                     int32_t* acc);
}  // namespace avx512vnni

}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
