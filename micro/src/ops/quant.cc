// QUANT: float32 -> int8, q = sat8(floor(x * 2^Q + 1/2)) (numerics::quantize); NaN is LM_ERR_NAN.
#include <math.h>

#include "common.h"
#include "linger/numerics/quantize.h"

namespace lm {

lm_status validate_quant(const OpCheck& c) {
  if (!c.is(0, LPK_FLOAT32, c.in[0].rank)) return c.fail("Quant: input must be float32");
  if (c.out.dtype != LPK_INT8 || !same_dims(c.in[0], c.out)) return c.fail("Quant: output must be int8 of the input's shape");
  if (!exponent_ok(c.op->p[0]) || !params_zero_from(c, 1)) return c.fail("Quant: bad params (Q in -32..40)");
  if (c.has_scratch) return c.fail("Quant: no scratch expected");
  return LM_OK;
}

lm_status run_quant(const OpRun& r) {
  const float* x = static_cast<const float*>(r.in_data[0]);
  int8_t* y = static_cast<int8_t*>(r.out_data);
  const uint64_t n = numel(*r.out);
  const int q = r.op->p[0];
  for (uint64_t i = 0; i < n; ++i) {
    if (isnan(x[i])) return LM_ERR_NAN;
    y[i] = static_cast<int8_t>(linger::numerics::quantize(x[i], q, 8));
  }
  return LM_OK;
}

}  // namespace lm
