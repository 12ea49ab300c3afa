// MAXPOOL: numerics::maxpool2d_int (padding value -128; Q passes through).
#include "pool_common.h"

namespace lm {

lm_status validate_maxpool(const OpCheck& c) {
  return check_pool(c, "MaxPool: params out of range", "MaxPool: x int8 [N,C,H,W] -> int8 of the pooled shape");
}

lm_status run_maxpool(const OpRun& r) {
  linger::numerics::maxpool2d_int(static_cast<const int8_t*>(r.in_data[0]), static_cast<int8_t*>(r.out_data),
                                  pool_shape(*r.in[0], r.op->p));
  return LM_OK;
}

}  // namespace lm
