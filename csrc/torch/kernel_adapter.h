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
#include <vector>

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

// Conv2dInt weights, quantized once by the caller, kept in the form the kernels
// run from. run() is const and thread-safe (scratch memory is per thread).
class PackedConv2d {
 public:
  PackedConv2d(const int8_t* w, const ConvGeometry& g);
  const ConvGeometry& geometry() const { return g_; }
  // The full shape for an input [n, c, h, w] (check valid() and c == cpg * groups).
  numerics::Conv2dShape shape(int n, int c, int h, int w) const;
  // x: int8 [s.n, s.c, s.h, s.w]; bias: int32 [o] at Qx+Qw or null; y: [s.n, o, oh, ow] of
  // int8_t / int16_t / int32_t for out_bits 8 / 16 / 32, = numerics::conv2d_int(..., relu=false).
  void run(const int8_t* x, const numerics::Conv2dShape& s, const int32_t* bias, void* y, int shift,
           int out_bits) const;

 private:
  ConvGeometry g_;
  std::vector<int8_t> w_;
};

// LinearInt weights [n, k], quantized once by the caller.
class PackedLinear {
 public:
  PackedLinear(const int8_t* w, int64_t n, int64_t k);
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // x: int8 [m, k]; y: [m, n] of float (out_bits 0, shift = Qx+Qw) or int8/int16/int32
  // (out_bits 8/16/32, shift = Qx+Qw-Qo), = numerics::linear_int / linear_int_float.
  void run(const int8_t* x, int64_t m, const int32_t* bias, void* y, int shift, int out_bits) const;

 private:
  int64_t n_, k_;
  std::vector<int8_t> w_;
};

// The ISA the kernels run on this CPU (LINGER_ISA=scalar|avx2|avx512vnni overrides it).
const char* kernel_isa_name();

// y[i] = numerics::quantize(x[i], q, bits) into int8_t / int16_t / int32_t (bits <= 8 / 16 / 32).
// Returns -1, or the index of the first NaN (y is then partly written; the caller reports it).
int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y);
// y[i] = numerics::dequantize(x[i], q) for int8_t / int16_t / int32_t x (elem_bytes 1 / 2 / 4).
void dequantize_f32(const void* x, int elem_bytes, int64_t n, int q, float* y);

}  // namespace torch_ext
}  // namespace linger
