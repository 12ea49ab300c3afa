// CONVT2D (ConvTranspose2dInt): numerics::convtranspose2d_int (portable on both
// kernel choices: no DSP variant yet). w [C, O/g, KH, KW].
#include "conv_common.h"
#include "linger/numerics/convtranspose.h"

namespace lm {

namespace {

linger::numerics::ConvTranspose2dShape shape_of(const Tensor& x, const Tensor& w, const int32_t* p) {
  linger::numerics::ConvTranspose2dShape s;
  s.n = static_cast<int>(x.dims[0]);
  s.c = static_cast<int>(x.dims[1]);
  s.h = static_cast<int>(x.dims[2]);
  s.w = static_cast<int>(x.dims[3]);
  s.groups = p[10];
  s.o = static_cast<int>(static_cast<int64_t>(w.dims[1]) * (p[10] > 0 ? p[10] : 1));
  s.kh = static_cast<int>(w.dims[2]);
  s.kw = static_cast<int>(w.dims[3]);
  s.stride_h = p[0];
  s.stride_w = p[1];
  s.pad_top = p[2];
  s.pad_left = p[3];
  s.pad_bottom = p[4];
  s.pad_right = p[5];
  s.out_pad_h = p[6];
  s.out_pad_w = p[7];
  s.dil_h = p[8];
  s.dil_w = p[9];
  return s;
}

}  // namespace

lm_status validate_convt2d(const OpCheck& c) {
  const int32_t* p = c.op->p;
  if (!c.is(0, LPK_INT8, 4) || !c.is(1, LPK_INT8, 4)) return c.fail("ConvTranspose2dInt: x and w must be int8 rank 4");
  if (!conv_params_ok(p[0], p[1], p + 2, p[8], p[9], p[10]) || !c.param_in(6, 0, kMaxStride) ||
      !c.param_in(7, 0, kMaxStride) || !c.param_in(11, -kMaxShift, kMaxShift) || !c.param_in(12, 0, 1) ||
      !params_zero_from(c, 14))
    return c.fail("ConvTranspose2dInt: params out of range");
  if (c.in[1].dims[2] > static_cast<uint32_t>(kMaxKernel) || c.in[1].dims[3] > static_cast<uint32_t>(kMaxKernel) ||
      static_cast<uint64_t>(c.in[1].dims[1]) * static_cast<uint32_t>(p[10]) > kMaxDim)
    return c.fail("ConvTranspose2dInt: kernel or output channels too large");
  const linger::numerics::ConvTranspose2dShape s = shape_of(c.in[0], c.in[1], p);
  if (c.in[1].dims[0] != c.in[0].dims[1] || !s.valid())
    return c.fail("ConvTranspose2dInt: channels / groups / geometry do not fit");
  if (c.has_in[2] && !(c.in[2].dtype == LPK_INT32 && c.in[2].rank == 1 && c.in[2].dims[0] == static_cast<uint32_t>(s.o)))
    return c.fail("ConvTranspose2dInt: bias must be int32 [O]");
  const uint32_t od[4] = {c.in[0].dims[0], static_cast<uint32_t>(s.o), static_cast<uint32_t>(s.out_h()),
                          static_cast<uint32_t>(s.out_w())};
  const uint8_t dt = dtype_for_out_bits(p[13]);
  if (dt == 0 || c.out.dtype != dt || !dims_are(c.out, 4, od))
    return c.fail("ConvTranspose2dInt: output dtype / shape does not match the geometry");
  if (c.has_scratch) return c.fail("ConvTranspose2dInt: no scratch expected");
  return LM_OK;
}

lm_status run_convt2d(const OpRun& r) {
  namespace nm = linger::numerics;
  const nm::ConvTranspose2dShape s = shape_of(*r.in[0], *r.in[1], r.op->p);
  const int8_t* x = static_cast<const int8_t*>(r.in_data[0]);
  const int8_t* w = static_cast<const int8_t*>(r.in_data[1]);
  const int32_t* b = r.in[2] ? static_cast<const int32_t*>(r.in_data[2]) : nullptr;
  const int shift = r.op->p[11];
  const bool relu = r.op->p[12] != 0;
  switch (r.op->p[13]) {
    case 8: nm::convtranspose2d_int(x, w, b, static_cast<int8_t*>(r.out_data), s, shift, relu, 8); return LM_OK;
    case 16: nm::convtranspose2d_int(x, w, b, static_cast<int16_t*>(r.out_data), s, shift, relu, 16); return LM_OK;
    case 32: nm::convtranspose2d_int(x, w, b, static_cast<int32_t*>(r.out_data), s, shift, relu, 32); return LM_OK;
    default: break;
  }
  const int oh = s.out_h(), ow = s.out_w();
  for (int n = 0; n < s.n; ++n)
    for (int oc = 0; oc < s.o; ++oc)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          store_conv_out(r.out_data, ((static_cast<int64_t>(n) * s.o + oc) * oh + oy) * ow + ox,
                         nm::convtranspose2d_acc_at(x, w, s, n, oc, oy, ox), b ? b[oc] : 0, relu, shift, 0);
  return LM_OK;
}

}  // namespace lm
