// AVGPOOL (AvgPool2dInt): numerics::avgpool2d_int, y = sat8(floor(S/k + 1/2)); Q passes through.
#include "pool_common.h"

namespace lm {

lm_status validate_avgpool(const OpCheck& c) {
  return check_pool(c, "AvgPool2dInt: params out of range", "AvgPool2dInt: x int8 [N,C,H,W] -> int8 of the pooled shape");
}

lm_status run_avgpool(const OpRun& r) {
  linger::numerics::avgpool2d_int(static_cast<const int8_t*>(r.in_data[0]), static_cast<int8_t*>(r.out_data),
                                  pool_shape(*r.in[0], r.op->p));
  return LM_OK;
}

}  // namespace lm
