// Temporary scalar-only implementation of opt_kernels.h (replaced by the
// optimised kernels).
#include "opt_kernels.h"

#include "linger/numerics/linear.h"

namespace linger {
namespace runtime {
namespace opt {

Isa best_isa() { return Isa::kScalar; }
bool isa_supported(Isa isa) { return isa == Isa::kScalar; }
const char* isa_name(Isa isa) { return isa == Isa::kScalar ? "scalar" : (isa == Isa::kAvx2 ? "avx2" : "avx512vnni"); }

void gemm_s8s8_s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t n, int64_t k, Isa) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint32_t acc = 0;
      for (int64_t t = 0; t < k; ++t) acc += static_cast<uint32_t>(int32_t{a[i * k + t]} * int32_t{b[j * k + t]});
      c[i * n + j] = static_cast<int32_t>(acc);
    }
}

void conv2d_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const numerics::Conv2dShape& s,
                 int shift, bool relu, int out_bits, Isa, std::vector<int8_t>*) {
  if (out_bits == 8) numerics::conv2d_int(x, w, bias, static_cast<int8_t*>(y), s, shift, relu, out_bits);
  else if (out_bits == 16) numerics::conv2d_int(x, w, bias, static_cast<int16_t*>(y), s, shift, relu, out_bits);
  else numerics::conv2d_int(x, w, bias, static_cast<int32_t*>(y), s, shift, relu, out_bits);
}

void linear_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, int64_t m, int64_t k, int64_t n,
                 int shift, int out_bits, Isa) {
  if (out_bits == 0) numerics::linear_int_float(x, w, bias, static_cast<float*>(y), m, k, n, shift);
  else if (out_bits == 8) numerics::linear_int(x, w, bias, static_cast<int8_t*>(y), m, k, n, shift, out_bits);
  else if (out_bits == 16) numerics::linear_int(x, w, bias, static_cast<int16_t*>(y), m, k, n, shift, out_bits);
  else numerics::linear_int(x, w, bias, static_cast<int32_t*>(y), m, k, n, shift, out_bits);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
