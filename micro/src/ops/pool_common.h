// MaxPool / AvgPool2dInt geometry from the params (p0..1 kernel, p2..3 stride, p4..7 pads, p8 ceil_mode).
#pragma once

#include "common.h"
#include "linger/numerics/pool.h"

namespace lm {

inline linger::numerics::Pool2dShape pool_shape(const Tensor& x, const int32_t* p) {
  linger::numerics::Pool2dShape s;
  s.n = static_cast<int>(x.dims[0]);
  s.c = static_cast<int>(x.dims[1]);
  s.h = static_cast<int>(x.dims[2]);
  s.w = static_cast<int>(x.dims[3]);
  s.kh = p[0];
  s.kw = p[1];
  s.stride_h = p[2];
  s.stride_w = p[3];
  s.pad_top = p[4];
  s.pad_left = p[5];
  s.pad_bottom = p[6];
  s.pad_right = p[7];
  s.ceil_mode = p[8] != 0;
  return s;
}

inline lm_status check_pool(const OpCheck& c, const char* bad_params, const char* bad_shape) {
  if (!c.is(0, LPK_INT8, 4)) return c.fail(bad_shape);
  if (!c.param_in(0, 1, kMaxKernel) || !c.param_in(1, 1, kMaxKernel) || !c.param_in(2, 1, kMaxStride) ||
      !c.param_in(3, 1, kMaxStride) || !c.param_in(4, 0, kMaxPad) || !c.param_in(5, 0, kMaxPad) ||
      !c.param_in(6, 0, kMaxPad) || !c.param_in(7, 0, kMaxPad) || !c.param_in(8, 0, 1) || !params_zero_from(c, 9) ||
      c.has_scratch)
    return c.fail(bad_params);
  const linger::numerics::Pool2dShape s = pool_shape(c.in[0], c.op->p);
  if (!s.valid()) return c.fail(bad_shape);
  const uint32_t od[4] = {c.in[0].dims[0], c.in[0].dims[1], static_cast<uint32_t>(s.out_h()),
                          static_cast<uint32_t>(s.out_w())};
  if (s.out_h() < 1 || s.out_w() < 1 || c.out.dtype != LPK_INT8 || !dims_are(c.out, 4, od)) return c.fail(bad_shape);
  return LM_OK;
}

}  // namespace lm
