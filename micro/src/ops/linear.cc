// LINEAR (LinearInt): x int8 [..., K], w int8 [N, K], optional int32 b [N]; int64
// accumulation. Portable: numerics::linear_int / linear_int_float; DSP: linear_dsp (SMLALD).
#include "../dsp_kernels.h"
#include "common.h"
#include "linger/numerics/linear.h"

namespace lm {

lm_status validate_linear(const OpCheck& c) {
  const int32_t* p = c.op->p;
  if (!c.is(0, LPK_INT8, c.in[0].rank) || c.in[0].rank < 1 || !c.is(1, LPK_INT8, 2))
    return c.fail("LinearInt: x must be int8 rank >= 1, w int8 rank 2");
  const uint32_t k = c.in[1].dims[1], n = c.in[1].dims[0];
  if (c.in[0].dims[c.in[0].rank - 1] != k) return c.fail("LinearInt: x's last dimension differs from w's K");
  if (c.has_in[2] && !(c.in[2].dtype == LPK_INT32 && c.in[2].rank == 1 && c.in[2].dims[0] == n))
    return c.fail("LinearInt: bias must be int32 [N]");
  if (!c.param_in(0, -kMaxShift, kMaxShift) || !params_zero_from(c, 2)) return c.fail("LinearInt: params out of range");
  uint32_t od[LPK_MAX_RANK];
  for (int i = 0; i < c.in[0].rank; ++i) od[i] = c.in[0].dims[i];
  od[c.in[0].rank - 1] = n;
  const uint8_t dt = dtype_for_out_bits(p[1]);
  if (dt == 0 || c.out.dtype != dt || !dims_are(c.out, c.in[0].rank, od))
    return c.fail("LinearInt: output dtype / shape does not match");
  if (!c.scratch_fits(2u * static_cast<uint64_t>(round_up4(k)))) return c.fail("LinearInt: scratch must hold round_up(K, 4) int16");
  return LM_OK;
}

lm_status run_linear(const OpRun& r) {
  namespace nm = linger::numerics;
  const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
  const int8_t* w = static_cast<const int8_t*>(r.in_data[1]);
  const int32_t* b = r.in[2] ? static_cast<const int32_t*>(r.in_data[2]) : nullptr;
  const uint32_t k = r.in[1]->dims[1], n = r.in[1]->dims[0];
  const uint32_t m = static_cast<uint32_t>(numel(*r.in[0]) / k);
  const int shift = r.op->p[0], bits = r.op->p[1];
  if (r.kernels != LM_KERNELS_PORTABLE) {
    linear_dsp(x, w, b, r.out_data, m, k, n, shift, bits, static_cast<int16_t*>(r.scratch));
    return LM_OK;
  }
  switch (bits) {
    case 8: nm::linear_int(x, w, b, static_cast<int8_t*>(r.out_data), m, k, n, shift, 8); break;
    case 16: nm::linear_int(x, w, b, static_cast<int16_t*>(r.out_data), m, k, n, shift, 16); break;
    case 32: nm::linear_int(x, w, b, static_cast<int32_t*>(r.out_data), m, k, n, shift, 32); break;
    default: nm::linear_int_float(x, w, b, static_cast<float*>(r.out_data), m, k, n, shift); break;
  }
  return LM_OK;
}

}  // namespace lm
