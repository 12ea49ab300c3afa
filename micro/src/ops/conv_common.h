// Conv family helpers: geometry from the records, the portable kernel, and the
// checks Conv2dInt / Conv1dInt share.
#pragma once

#include "../dsp_kernels.h"
#include "../out_store.h"
#include "common.h"
#include "linger/numerics/conv.h"

namespace lm {

// x, y: int8 NCHW-like; w: int8 [O, C/g, KH, KW]. Checks the weight / bias / output
// records against the geometry `s` (already filled and s.valid()).
inline lm_status check_conv_records(const OpCheck& c, const linger::numerics::Conv2dShape& s, int32_t out_bits,
                                    const uint32_t* out_dims, uint8_t rank, const char* what) {
  (void)what;
  if (c.has_in[2] && !(c.in[2].dtype == LPK_INT32 && c.in[2].rank == 1 && c.in[2].dims[0] == static_cast<uint32_t>(s.o)))
    return c.fail("conv: bias must be int32 [O]");
  const uint8_t od = dtype_for_out_bits(out_bits);
  if (od == 0 || c.out.dtype != od || !dims_are(c.out, rank, out_dims))
    return c.fail("conv: output dtype / shape does not match the geometry and out bits");
  const uint64_t k = static_cast<uint64_t>(s.c / s.groups) * s.kh * s.kw;
  if (!c.scratch_fits(4u * static_cast<uint64_t>(round_up4(static_cast<uint32_t>(k)))))
    return c.fail("conv: scratch must hold 2 * round_up(C/g*KH*KW, 4) int16");
  return LM_OK;
}

inline bool conv_params_ok(int32_t stride_h, int32_t stride_w, const int32_t* pads, int32_t dil_h, int32_t dil_w,
                           int32_t groups) {
  if (stride_h < 1 || stride_h > kMaxStride || stride_w < 1 || stride_w > kMaxStride) return false;
  for (int i = 0; i < 4; ++i)
    if (pads[i] < 0 || pads[i] > kMaxPad) return false;
  return dil_h >= 1 && dil_h <= kMaxDilation && dil_w >= 1 && dil_w <= kMaxDilation && groups >= 1 &&
         groups <= static_cast<int32_t>(kMaxDim);
}

// Runs a validated conv on either path. Portable: numerics::conv2d_int (the reference), or
// its per-element pieces for a float output; DSP: conv2d_dsp (same integers).
inline void run_conv(const OpRun& r, const linger::numerics::Conv2dShape& s, int shift, bool relu, int out_bits) {
  namespace nm = linger::numerics;
  const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
  const int8_t* w = static_cast<const int8_t*>(r.in_data[1]);
  const int32_t* b = r.in[2] ? static_cast<const int32_t*>(r.in_data[2]) : nullptr;
  if (r.kernels != LM_KERNELS_PORTABLE) {
    conv2d_dsp(x, w, b, r.out_data, s, shift, relu, out_bits, static_cast<int16_t*>(r.scratch));
    return;
  }
  switch (out_bits) {
    case 8: nm::conv2d_int(x, w, b, static_cast<int8_t*>(r.out_data), s, shift, relu, 8); return;
    case 16: nm::conv2d_int(x, w, b, static_cast<int16_t*>(r.out_data), s, shift, relu, 16); return;
    case 32: nm::conv2d_int(x, w, b, static_cast<int32_t*>(r.out_data), s, shift, relu, 32); return;
    default: break;
  }
  const int oh = s.out_h(), ow = s.out_w();
  for (int n = 0; n < s.n; ++n)
    for (int oc = 0; oc < s.o; ++oc)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          store_conv_out(r.out_data, ((static_cast<int64_t>(n) * s.o + oc) * oh + oy) * ow + ox,
                         nm::conv2d_acc_at(x, w, s, n, oc, oy, ox), b ? b[oc] : 0, relu, shift, 0);
}

}  // namespace lm
