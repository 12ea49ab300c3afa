// The one place where the PyTorch extension meets the runtime's optimised int8
// kernels (runtime/src/kernels/opt, linked in as the static library
// linger_kernels_opt: the same code the C++ runtime runs, not a copy). The eval
// ops of eval_packed.cpp use only this interface, so a change of the kernel API
// touches kernel_adapter.cpp alone. No torch headers here: this unit compiles
// in seconds.
//
// Every function gives the integers of the scalar reference in
// include/linger/numerics (conv2d_int, linear_int, quantize, dequantize),
// tolerance 0, on every ISA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "linger/numerics/conv.h"

namespace linger {
namespace torch_ext {

// Conv2dInt geometry without the input sizes (those come with each call).
struct ConvGeometry {
  int o = 1, cpg = 1, kh = 1, kw = 1;  // weights [o, cpg, kh, kw]
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dil_h = 1, dil_w = 1;
  int groups = 1;
};

// Conv2dInt weights, quantized once by the caller and packed by the kernels once per input shape and ISA (a
// module sees one or two shapes per eval session). run() is thread-safe.
class PackedConv2d {
 public:
  PackedConv2d(const int8_t* w, const ConvGeometry& g);
  ~PackedConv2d();
  PackedConv2d(PackedConv2d&&) noexcept;
  const ConvGeometry& geometry() const { return g_; }
  // The full shape for an input [n, c, h, w] (check valid() and c == cpg * groups).
  numerics::Conv2dShape shape(int n, int c, int h, int w) const;
  // x: int8 [s.n, s.c, s.h, s.w]; bias: int32 [o] at Qx+Qw or null; y: [s.n, o, oh, ow] of
  // int8_t / int16_t / int32_t for out_bits 8 / 16 / 32, = numerics::conv2d_int(..., relu=false).
  // `threads` (>= 1): the kernels' intra-op threads.
  void run(const int8_t* x, const numerics::Conv2dShape& s, const int32_t* bias, void* y, int shift, int out_bits,
           int threads) const;

 private:
  struct Impl;
  ConvGeometry g_;
  std::unique_ptr<Impl> impl_;
};

// LinearInt weights [n, k], quantized once by the caller, packed once per ISA.
class PackedLinear {
 public:
  PackedLinear(const int8_t* w, int64_t n, int64_t k);
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // x: int8 [m, k]; y: [m, n] of float (out_bits 0, shift = Qx+Qw) or int8/int16/int32
  // (out_bits 8/16/32, shift = Qx+Qw-Qo), = numerics::linear_int / linear_int_float.
  void run(const int8_t* x, int64_t m, const int32_t* bias, void* y, int shift, int out_bits, int threads) const;

 private:
  struct Impl;
  int64_t n_, k_;
  std::unique_ptr<Impl> impl_;
};

// The ISA the kernels run: "auto (up to <best ISA of this CPU>)", chosen per layer, or the one
// LINGER_ISA=scalar|avx2|avx512vnni forces.
std::string kernel_isa_name();

// BatchNorm2dInt over x int8 [n, c, spatial], w int8 [c], b int32 [c]: numerics::batchnorm_int into int8_t /
// int16_t / int32_t y (out_bits 8 / 16 / 32).
void batchnorm_int8(const int8_t* x, const int8_t* w, const int32_t* b, void* y, int64_t n, int64_t c,
                    int64_t spatial, int shift, int out_bits, int threads);

// iqAdd of same-shape int8 operands: y[i] = numerics::iqadd(a[i], b[i], sa, sb) (sa = Qa-Qo, sb = Qb-Qo).
void iqadd_int8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y, int threads);

// y[i] = numerics::quantize(x[i], q, bits) into int8_t / int16_t / int32_t (bits <= 8 / 16 / 32).
// Returns -1, or the index of the first NaN (y is then partly written; the caller reports it).
int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y, int threads);
// y[i] = numerics::dequantize(x[i], q) for int8_t / int16_t / int32_t x (elem_bytes 1 / 2 / 4).
void dequantize_f32(const void* x, int elem_bytes, int64_t n, int q, float* y, int threads);

}  // namespace torch_ext
}  // namespace linger
