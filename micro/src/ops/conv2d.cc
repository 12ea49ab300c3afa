// CONV2D (Conv2dInt, optionally with a fused ReLU): see lpk_format.h for the params.
#include "conv_common.h"

namespace lm {

namespace {

bool shape_of(const Tensor& x, const Tensor& w, const int32_t* p, linger::numerics::Conv2dShape* s) {
  s->n = static_cast<int>(x.dims[0]);
  s->c = static_cast<int>(x.dims[1]);
  s->h = static_cast<int>(x.dims[2]);
  s->w = static_cast<int>(x.dims[3]);
  s->o = static_cast<int>(w.dims[0]);
  s->kh = static_cast<int>(w.dims[2]);
  s->kw = static_cast<int>(w.dims[3]);
  s->stride_h = p[0];
  s->stride_w = p[1];
  s->pad_top = p[2];
  s->pad_left = p[3];
  s->pad_bottom = p[4];
  s->pad_right = p[5];
  s->dil_h = p[6];
  s->dil_w = p[7];
  s->groups = p[8];
  return true;
}

}  // namespace

lm_status validate_conv2d(const OpCheck& c) {
  const int32_t* p = c.op->p;
  if (!c.is(0, LPK_INT8, 4) || !c.is(1, LPK_INT8, 4)) return c.fail("Conv2dInt: x and w must be int8 rank 4");
  if (!conv_params_ok(p[0], p[1], p + 2, p[6], p[7], p[8]) || !c.param_in(9, -kMaxShift, kMaxShift) ||
      !c.param_in(10, 0, 1) || !params_zero_from(c, 12))
    return c.fail("Conv2dInt: params out of range");
  if (c.in[1].dims[2] > static_cast<uint32_t>(kMaxKernel) || c.in[1].dims[3] > static_cast<uint32_t>(kMaxKernel))
    return c.fail("Conv2dInt: kernel larger than 4096");
  linger::numerics::Conv2dShape s;
  shape_of(c.in[0], c.in[1], p, &s);
  if (static_cast<int64_t>(s.c) != static_cast<int64_t>(c.in[1].dims[1]) * s.groups || !s.valid())
    return c.fail("Conv2dInt: channels / groups / geometry do not fit");
  const uint32_t od[4] = {c.in[0].dims[0], c.in[1].dims[0], static_cast<uint32_t>(s.out_h()),
                          static_cast<uint32_t>(s.out_w())};
  return check_conv_records(c, s, p[11], od, 4, "Conv2dInt");
}

lm_status run_conv2d(const OpRun& r) {
  linger::numerics::Conv2dShape s;
  shape_of(*r.in[0], *r.in[1], r.op->p, &s);
  run_conv(r, s, r.op->p[9], r.op->p[10] != 0, r.op->p[11]);
  return LM_OK;
}

}  // namespace lm
