// MAXPOOL: numerics::maxpool2d_int (padding value -128; Q passes through); on the DSP path a
// 2x2 / stride-2 / unpadded window runs maxpool2x2_dsp (same integers, four lanes at a time).
#include "../dsp_kernels.h"
#include "pool_common.h"

namespace lm {

lm_status validate_maxpool(const OpCheck& c) {
  return check_pool(c, "MaxPool: params out of range", "MaxPool: x int8 [N,C,H,W] -> int8 of the pooled shape");
}

lm_status run_maxpool(const OpRun& r) {
  const linger::numerics::Pool2dShape s = pool_shape(*r.in[0], r.op->p);
  const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
  int8_t* y = static_cast<int8_t*>(r.out_data);
  if (r.kernels != LM_KERNELS_PORTABLE && pool_2x2_fits(s))
    maxpool2x2_dsp(x, y, s);
  else
    linger::numerics::maxpool2d_int(x, y, s);
  return LM_OK;
}

}  // namespace lm
