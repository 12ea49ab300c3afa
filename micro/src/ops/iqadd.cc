// IQADD: int8 a, b of one shape -> int8, sat8(sat8(rhu_shift(a, Qa-Qo)) + sat8(rhu_shift(b, Qb-Qo)))
// (numerics::iqadd). Broadcasting is not packed (linger-pack rejects it).
#include "common.h"
#include "linger/numerics/elementwise.h"

namespace lm {

lm_status validate_iqadd(const OpCheck& c) {
  if (!c.is(0, LPK_INT8, c.in[0].rank) || !c.is(1, LPK_INT8, c.in[0].rank) || !same_dims(c.in[0], c.in[1]))
    return c.fail("iqAdd: inputs must be int8 of one shape");
  if (c.out.dtype != LPK_INT8 || !same_dims(c.in[0], c.out)) return c.fail("iqAdd: output must be int8 of the input shape");
  if (!c.param_in(0, -kMaxShift, kMaxShift) || !c.param_in(1, -kMaxShift, kMaxShift) || !params_zero_from(c, 2) ||
      c.has_scratch)
    return c.fail("iqAdd: bad params");
  return LM_OK;
}

lm_status run_iqadd(const OpRun& r) {
  const int8_t* a = static_cast<const int8_t*>(r.in_data[0]);
  const int8_t* b = static_cast<const int8_t*>(r.in_data[1]);
  int8_t* y = static_cast<int8_t*>(r.out_data);
  const uint64_t n = numel(*r.out);
  for (uint64_t i = 0; i < n; ++i) y[i] = linger::numerics::iqadd(a[i], b[i], r.op->p[0], r.op->p[1]);
  return LM_OK;
}

}  // namespace lm
