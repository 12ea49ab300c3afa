// DEQUANT: int8/16/32 -> float32, x = q * 2^-Q (numerics::dequantize, exact).
#include "common.h"
#include "linger/numerics/quantize.h"

namespace lm {

lm_status validate_dequant(const OpCheck& c) {
  const uint8_t d = c.in[0].dtype;
  if (d != LPK_INT8 && d != LPK_INT16 && d != LPK_INT32) return c.fail("Dequant: input must be int8/16/32");
  if (c.out.dtype != LPK_FLOAT32 || !same_dims(c.in[0], c.out))
    return c.fail("Dequant: output must be float32 of the input's shape");
  if (!exponent_ok(c.op->p[0]) || !params_zero_from(c, 1)) return c.fail("Dequant: bad params (Q in -32..40)");
  if (c.has_scratch) return c.fail("Dequant: no scratch expected");
  return LM_OK;
}

template <typename T>
static void dequant_all(const void* in, float* y, uint64_t n, int q) {
  const T* x = static_cast<const T*>(in);
  for (uint64_t i = 0; i < n; ++i) y[i] = linger::numerics::dequantize(x[i], q);
}

lm_status run_dequant(const OpRun& r) {
  float* y = static_cast<float*>(r.out_data);
  const uint64_t n = numel(*r.out);
  switch (r.in[0]->dtype) {
    case LPK_INT8: dequant_all<int8_t>(r.in_data[0], y, n, r.op->p[0]); break;
    case LPK_INT16: dequant_all<int16_t>(r.in_data[0], y, n, r.op->p[0]); break;
    default: dequant_all<int32_t>(r.in_data[0], y, n, r.op->p[0]); break;
  }
  return LM_OK;
}

}  // namespace lm
