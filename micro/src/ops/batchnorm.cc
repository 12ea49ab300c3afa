// BATCHNORM (BatchNorm2dInt): per channel sat_ob(rhu_shift(x*w_c + b_c, shift)) (numerics::batchnorm_int).
#include "common.h"
#include "linger/numerics/batchnorm.h"

namespace lm {

lm_status validate_batchnorm(const OpCheck& c) {
  if (!c.is(0, LPK_INT8, 4) || !c.is(1, LPK_INT8, 1) || !c.is(2, LPK_INT32, 1) || c.in[1].dims[0] != c.in[0].dims[1] ||
      c.in[2].dims[0] != c.in[0].dims[1])
    return c.fail("BatchNorm2dInt: x int8 [N,C,H,W], w int8 [C], b int32 [C]");
  if (!c.param_in(0, -kMaxShift, kMaxShift) || !params_zero_from(c, 2) || c.has_scratch)
    return c.fail("BatchNorm2dInt: params out of range");
  const uint8_t dt = dtype_for_out_bits(c.op->p[1]);
  if (dt == 0 || dt == LPK_FLOAT32 || c.out.dtype != dt || !same_dims(c.in[0], c.out))
    return c.fail("BatchNorm2dInt: output must be int8/16/32 of the input's shape");
  return LM_OK;
}

lm_status run_batchnorm(const OpRun& r) {
  namespace nm = linger::numerics;
  const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
  const int8_t* w = static_cast<const int8_t*>(r.in_data[1]);
  const int32_t* b = static_cast<const int32_t*>(r.in_data[2]);
  const uint32_t* d = r.in[0]->dims;
  const int64_t sp = static_cast<int64_t>(d[2]) * d[3];
  const int shift = r.op->p[0];
  switch (r.op->p[1]) {
    case 16: nm::batchnorm_int(x, w, b, static_cast<int16_t*>(r.out_data), d[0], d[1], sp, shift, 16); break;
    case 32: nm::batchnorm_int(x, w, b, static_cast<int32_t*>(r.out_data), d[0], d[1], sp, shift, 32); break;
    default: nm::batchnorm_int(x, w, b, static_cast<int8_t*>(r.out_data), d[0], d[1], sp, shift, 8); break;
  }
  return LM_OK;
}

}  // namespace lm
