// RELU: max(0, x) on int8 (numerics::relu8), int16, int32 and float32; Q passes through.
#include "common.h"
#include "linger/numerics/elementwise.h"

namespace lm {

lm_status validate_relu(const OpCheck& c) {
  if (c.out.dtype != c.in[0].dtype || !same_dims(c.in[0], c.out)) return c.fail("Relu: output must match the input");
  if (!params_zero_from(c, 0) || c.has_scratch) return c.fail("Relu: takes no params");
  return LM_OK;
}

template <typename T>
static void relu_all(const void* in, void* out, uint64_t n) {
  const T* x = static_cast<const T*>(in);
  T* y = static_cast<T*>(out);
  for (uint64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? T{0} : x[i];
}

lm_status run_relu(const OpRun& r) {
  const uint64_t n = numel(*r.out);
  switch (r.out->dtype) {
    case LPK_INT8: {
      const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
      int8_t* y = static_cast<int8_t*>(r.out_data);
      for (uint64_t i = 0; i < n; ++i) y[i] = linger::numerics::relu8(x[i]);
      break;
    }
    case LPK_INT16: relu_all<int16_t>(r.in_data[0], r.out_data, n); break;
    case LPK_INT32: relu_all<int32_t>(r.in_data[0], r.out_data, n); break;
    default: relu_all<float>(r.in_data[0], r.out_data, n); break;
  }
  return LM_OK;
}

}  // namespace lm
