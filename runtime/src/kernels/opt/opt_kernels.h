// Optimised int8 kernels of the runtime (also usable from the PyTorch
// extension: plain pointers and shapes, no runtime-graph types). The ISA
// (scalar, AVX2, AVX-512 VNNI) is chosen at run time; every function here gives
// results identical (tolerance 0) to the scalar reference in
// include/linger/numerics (conv2d_int, linear_int, maxpool2d_int, quantize,
// dequantize), on every ISA and for every thread count.
//
// Conv2dInt8 / LinearInt8 pack their weights once, when constructed, for the
// ISA they will run; run() is const and thread-safe (scratch memory is the
// caller's workspace, sized by workspace_bytes()).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "linger/numerics/conv.h"
#include "linger/numerics/pool.h"
#include "thread_pool.h"

namespace linger {
namespace runtime {
namespace opt {

// kAuto: the best ISA for each layer's shape among those the CPU supports
// (choose_conv_isa); the others force one ISA.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512Vnni = 2, kAuto = 3 };

// The best ISA this CPU supports (cpuid at run time). Overridable for tests
// and benchmarks with the environment variable LINGER_ISA=scalar|avx2|avx512vnni
// (a value the CPU does not support falls back to the best supported one).
Isa best_isa();
// The ISA LINGER_ISA names when it is set to one the CPU supports (a forced
// choice: every layer runs it), else kAuto.
Isa env_isa();
bool isa_supported(Isa isa);  // kAuto: true
const char* isa_name(Isa isa);
// The kernels below run `isa` where the CPU supports it, else the best
// supported ISA below it (never an illegal instruction); results are the same
// integers on every ISA.
Isa resolve_isa(Isa isa);  // kAuto -> the best supported; an unsupported one -> the best below it

// The output stage shared by conv and linear (numerics.md §3):
//   out_bits 8 / 16 / 32: y = clamp(sat_ob(rhu_shift(acc, shift)), lo, hi)
//     with shift = Qx + Qw - Qo; [lo, hi] is a fused activation at Qo (ReLU:
//     lo = 0; ReLU6 / Clip: both bounds quantized at Qo); the bounds are
//     first clamped to the out_bits range and must then satisfy lo <= hi.
//     For conv, clamping at lo = 0 after the shift is the contract's ReLU on
//     the accumulator (rhu_shift is monotonic and keeps 0).
//   out_bits 0 (LinearInt only): float y = acc * 2^-shift, lo / hi unused.
struct OutputStage {
  int out_bits = 8;
  int shift = 0;
  int32_t lo = std::numeric_limits<int32_t>::min();
  int32_t hi = std::numeric_limits<int32_t>::max();
};

// C[i][j] = sum_k A[i][k] * B[j][k] with two's-complement wrapping int32
// accumulation (A: m x k, B: n x k, both int8 row-major; C: m x n int32).
void gemm_s8s8_s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t n, int64_t k, Isa isa);

// The ISA a conv of this shape runs fastest on, among those the CPU supports
// up to `max_isa` (kAuto: all). Decided from the shape alone (measured in
// bench/runtime_opt), so a model's choice is reproducible.
Isa choose_conv_isa(const numerics::Conv2dShape& s, Isa max_isa);

// Conv2dInt through im2col + GEMM (1x1 stride-1 convs read the input planes
// directly; stride-1 convs read a zero-padded copy; depthwise convs accumulate
// directly); same integers as numerics::conv2d_int followed by the clamp of
// OutputStage (out_bits 8 -> y is int8_t*, 16 -> int16_t*, 32 -> int32_t*).
class Conv2dInt8 {
 public:
  Conv2dInt8() = default;
  // s must be valid(); w: [o, c / groups, kh, kw], copied and packed for the
  // ISA: `isa` (resolved against the CPU) or, for kAuto, choose_conv_isa(s).
  Conv2dInt8(const numerics::Conv2dShape& s, const int8_t* w, Isa isa);

  Isa isa() const { return isa_; }
  const numerics::Conv2dShape& shape() const { return s_; }
  // Internal (opt_kernels.cc): where each row of the SIMD GEMM's B operand starts (conv_koff), made once here.
  const std::vector<int64_t>& koff() const { return koff_; }
  // Bytes of scratch memory run() uses with a pool of `threads` threads
  // (overflow-checked, saturating at 2^62).
  int64_t workspace_bytes(int threads) const;
  static int64_t workspace_bytes(const numerics::Conv2dShape& s, Isa isa, int threads);
  // `ws` is grown to workspace_bytes(pool threads) as needed (null: a
  // temporary one); pool may be null (one thread).
  void run(const int8_t* x, const int32_t* bias, void* y, const OutputStage& out, std::vector<int8_t>* ws,
           ThreadPool* pool) const;

 private:
  numerics::Conv2dShape s_;
  Isa isa_ = Isa::kScalar;
  std::vector<int8_t> w_;       // the weights as given (depthwise and scalar paths)
  std::vector<int8_t> packed_;  // SIMD paths: A panels of every group (int8 or int16 elements)
  std::vector<int32_t> comp_;   // VNNI: 128 * row sums
  std::vector<int64_t> koff_;   // SIMD paths: the B operand's row offsets (conv_koff)
};

// One-call form (packs the weights on every call; for tests and one-off use).
void conv2d_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const numerics::Conv2dShape& s,
                 int shift, bool relu, int out_bits, Isa isa, std::vector<int8_t>* workspace);
// Bytes of scratch memory conv2d_int8 allocates for shape `s` on `isa` (one thread).
int64_t conv2d_workspace_bytes(const numerics::Conv2dShape& s, Isa isa);

// LinearInt (int64 accumulation semantics): x [m, k], w [n, k]; same integers
// as numerics::linear_int (then the clamp of OutputStage). Uses the int32 GEMM
// only where it cannot overflow (k * 2^14 < 2^31), the scalar reference
// otherwise. out_bits 0 = float output (y is float*, shift = Qx + Qw).
class LinearInt8 {
 public:
  LinearInt8() = default;
  LinearInt8(const int8_t* w, int64_t k, int64_t n, Isa isa);
  Isa isa() const { return isa_; }
  int64_t workspace_bytes(int64_t m, int threads) const;
  void run(const int8_t* x, const int32_t* bias, void* y, int64_t m, const OutputStage& out, std::vector<int8_t>* ws,
           ThreadPool* pool) const;

 private:
  int64_t k_ = 0, n_ = 0;
  Isa isa_ = Isa::kScalar;
  std::vector<int8_t> w_;
  std::vector<int8_t> packed_;  // SIMD: the weights as the B operand (panels of columns)
};

int64_t linear_workspace_bytes(int64_t m, int64_t k, int64_t n, Isa isa);
void linear_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, int64_t m, int64_t k, int64_t n,
                 int shift, int out_bits, Isa isa);

// MaxPool on int8 NCHW (padding value -128): numerics::maxpool2d_int.
int64_t maxpool2d_workspace_bytes(const numerics::Pool2dShape& s, int threads);
void maxpool2d_int8(const int8_t* x, int8_t* y, const numerics::Pool2dShape& s, Isa isa, std::vector<int8_t>* ws,
                    ThreadPool* pool);
// AvgPool2dInt on int8 NCHW: numerics::avgpool2d_int.
void avgpool2d_int8(const int8_t* x, int8_t* y, const numerics::Pool2dShape& s, ThreadPool* pool);

// BatchNorm2dInt over x [n, c, spatial]: numerics::batchnorm_int (out_bits 8 / 16 / 32).
void batchnorm_int8(const int8_t* x, const int8_t* w, const int32_t* b, void* y, int64_t n, int64_t c, int64_t spatial,
                    int shift, int out_bits, Isa isa, ThreadPool* pool);
// iqClamp: y[i] = numerics::iqclamp(x[i], lo, hi), -128 <= lo <= hi <= 127.
void clamp_int8(const int8_t* x, int64_t n, int lo, int hi, int8_t* y, Isa isa, ThreadPool* pool);

// iqAdd of same-shape int8 operands: y[i] = numerics::iqadd(a[i], b[i], sa, sb).
void iqadd_int8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y, Isa isa, ThreadPool* pool);

// Quant: y[i] = numerics::quantize(x[i], q, bits) for bits 8 (int8_t* y) or 16
// (int16_t* y). Returns -1, or the index of the first NaN (then y is partly
// written: the caller reports the error).
int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y, Isa isa, ThreadPool* pool);
// Dequant: y[i] = numerics::dequantize(x[i], q) for int8 / int16 / int32 x (bits 8 / 16 / 32).
void dequantize_f32(const void* x, int bits, int64_t n, int q, float* y, Isa isa, ThreadPool* pool);

}  // namespace opt
}  // namespace runtime
}  // namespace linger
