// CONV1D (Conv1dInt): x [N,C,L], w [O,C/g,K]; run as the Conv2d with H = KH = 1
// (numerics::Conv1dShape::to_conv2d, the reference's own mapping).
#include "conv_common.h"
#include "linger/numerics/conv1d.h"

namespace lm {

namespace {

linger::numerics::Conv2dShape shape_of(const Tensor& x, const Tensor& w, const int32_t* p) {
  linger::numerics::Conv1dShape s;
  s.n = static_cast<int>(x.dims[0]);
  s.c = static_cast<int>(x.dims[1]);
  s.l = static_cast<int>(x.dims[2]);
  s.o = static_cast<int>(w.dims[0]);
  s.k = static_cast<int>(w.dims[2]);
  s.stride = p[0];
  s.pad_left = p[1];
  s.pad_right = p[2];
  s.dil = p[3];
  s.groups = p[4];
  return s.to_conv2d();
}

}  // namespace

lm_status validate_conv1d(const OpCheck& c) {
  const int32_t* p = c.op->p;
  const int32_t pads[4] = {0, p[1], 0, p[2]};
  if (!c.is(0, LPK_INT8, 3) || !c.is(1, LPK_INT8, 3)) return c.fail("Conv1dInt: x and w must be int8 rank 3");
  if (!conv_params_ok(1, p[0], pads, 1, p[3], p[4]) || !c.param_in(5, -kMaxShift, kMaxShift) || !c.param_in(6, 0, 1) ||
      !params_zero_from(c, 8))
    return c.fail("Conv1dInt: params out of range");
  if (c.in[1].dims[2] > static_cast<uint32_t>(kMaxKernel)) return c.fail("Conv1dInt: kernel larger than 4096");
  const linger::numerics::Conv2dShape s = shape_of(c.in[0], c.in[1], p);
  if (static_cast<int64_t>(s.c) != static_cast<int64_t>(c.in[1].dims[1]) * s.groups || !s.valid())
    return c.fail("Conv1dInt: channels / groups / geometry do not fit");
  const uint32_t od[3] = {c.in[0].dims[0], c.in[1].dims[0], static_cast<uint32_t>(s.out_w())};
  return check_conv_records(c, s, p[7], od, 3, "Conv1dInt");
}

lm_status run_conv1d(const OpRun& r) {
  run_conv(r, shape_of(*r.in[0], *r.in[1], r.op->p), r.op->p[5], r.op->p[6] != 0, r.op->p[7]);
  return LM_OK;
}

}  // namespace lm
