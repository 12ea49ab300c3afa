// linger PyTorch extension, eval side: the integer ops. Each one calls the
// shared definition in include/linger/numerics, so the PyTorch eval forward
// produces exactly the integers the C++ runtime produces.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_adapter.h"
#include "linger/numerics/batchnorm.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/embedding.h"
#include "linger/numerics/layernorm.h"
#include "linger/numerics/convtranspose.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"

namespace {

namespace ln = linger::numerics;

at::ScalarType int_type_for_bits(int64_t bits) {
  TORCH_CHECK(bits >= 2 && bits <= 32, "linger: bit width must be in [2, 32], got ", bits);
  return bits <= 8 ? at::kChar : (bits <= 16 ? at::kShort : at::kInt);
}

// Results are computed on the CPU; the output goes back to the input's device.
at::Tensor cpu_contig(const at::Tensor& t, at::ScalarType type, const char* what) {
  TORCH_CHECK(t.scalar_type() == type, "linger: ", what, " must be ", at::toString(type), ", got ",
              at::toString(t.scalar_type()));
  return t.to(at::kCPU).contiguous();
}

at::Tensor quantize(const at::Tensor& x, int64_t exponent, int64_t bits) {
  const auto otype = int_type_for_bits(bits);
  auto xf = x.detach().to(at::kCPU, at::kFloat).contiguous();
  auto out = at::empty(xf.sizes(), xf.options().dtype(otype));
  const float* xp = xf.data_ptr<float>();
  // numerics::quantize element by element (the runtime's vectorised kernel, through kernel_adapter)
  const int64_t bad = linger::torch_ext::quantize_f32(xp, xf.numel(), static_cast<int>(exponent),
                                                      static_cast<int>(bits), out.data_ptr(), at::get_num_threads());
  TORCH_CHECK(bad < 0, "linger: NaN in a tensor being quantized");
  return out.to(x.device());
}

at::Tensor dequantize(const at::Tensor& q, int64_t exponent) {
  auto qc = q.to(at::kCPU).contiguous();
  auto out = at::empty(qc.sizes(), qc.options().dtype(at::kFloat));
  float* op = out.data_ptr<float>();
  const auto t = qc.scalar_type();
  if (t == at::kChar || t == at::kShort || t == at::kInt) {  // the codes of the integer ops
    linger::torch_ext::dequantize_f32(qc.data_ptr(), static_cast<int>(qc.element_size()), qc.numel(),
                                      static_cast<int>(exponent), op, at::get_num_threads());
  } else {
    const int e = static_cast<int>(exponent);
    AT_DISPATCH_INTEGRAL_TYPES(t, "linger_dequantize", [&] {
      const scalar_t* qp = qc.data_ptr<scalar_t>();
      for (int64_t i = 0; i < qc.numel(); ++i) op[i] = ln::dequantize(qp[i], e);
    });
  }
  return out.to(q.device());
}

at::Tensor conv2d_int(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias,
                      at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                      int64_t shift, bool relu, int64_t out_bits) {
  TORCH_CHECK(x.dim() == 4 && w.dim() == 4, "linger conv2d_int: x and w must be 4-D");
  TORCH_CHECK(stride.size() == 2 && dilation.size() == 2 && padding.size() == 4,
              "linger conv2d_int: stride/dilation need 2 values, padding 4 (top, left, bottom, right)");
  auto xc = cpu_contig(x, at::kChar, "conv input");
  auto wc = cpu_contig(w, at::kChar, "conv weight");
  at::Tensor bc;
  if (bias.has_value() && bias->defined()) bc = cpu_contig(*bias, at::kInt, "conv bias");
  ln::Conv2dShape s;
  s.n = xc.size(0); s.c = xc.size(1); s.h = xc.size(2); s.w = xc.size(3);
  s.o = wc.size(0); s.kh = wc.size(2); s.kw = wc.size(3);
  s.stride_h = stride[0]; s.stride_w = stride[1];
  s.pad_top = padding[0]; s.pad_left = padding[1]; s.pad_bottom = padding[2]; s.pad_right = padding[3];
  s.dil_h = dilation[0]; s.dil_w = dilation[1];
  s.groups = groups;
  TORCH_CHECK(s.valid() && wc.size(1) * groups == s.c, "linger conv2d_int: inconsistent geometry");
  TORCH_CHECK(!bc.defined() || bc.numel() == s.o, "linger conv2d_int: bias must have ", s.o, " elements");
  const auto otype = int_type_for_bits(out_bits);
  const int oh = s.out_h(), ow = s.out_w();
  auto y = at::empty({s.n, s.o, oh, ow}, xc.options().dtype(otype));
  const int8_t* xp = xc.data_ptr<int8_t>();
  const int8_t* wp = wc.data_ptr<int8_t>();
  const int32_t* bp = bc.defined() ? bc.data_ptr<int32_t>() : nullptr;
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_conv2d_int", [&] {
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, static_cast<int64_t>(s.n) * s.o, 1, [&](int64_t b, int64_t e) {
      for (int64_t no = b; no < e; ++no) {
        ln::conv2d_int_plane(xp, wp, bp, yp + no * oh * ow, s, static_cast<int>(no / s.o), static_cast<int>(no % s.o),
                             static_cast<int>(shift), relu, static_cast<int>(out_bits));
      }
    });
  });
  return y.to(x.device());
}

at::Tensor linear_int(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, int64_t shift,
                      int64_t out_bits) {
  TORCH_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1),
              "linger linear_int: x [..., in] and w [out, in] do not match");
  auto xc = cpu_contig(x, at::kChar, "linear input");
  auto wc = cpu_contig(w, at::kChar, "linear weight");
  at::Tensor bc;
  if (bias.has_value() && bias->defined()) bc = cpu_contig(*bias, at::kInt, "linear bias");
  const int64_t k = wc.size(1), n = wc.size(0), m = xc.numel() / k;
  TORCH_CHECK(!bc.defined() || bc.numel() == n, "linger linear_int: bias must have ", n, " elements");
  auto sizes = xc.sizes().vec();
  sizes.back() = n;
  const int8_t* xp = xc.data_ptr<int8_t>();
  const int8_t* wp = wc.data_ptr<int8_t>();
  const int32_t* bp = bc.defined() ? bc.data_ptr<int32_t>() : nullptr;
  at::Tensor y;
  if (out_bits == 0) {  // float output: acc * 2^-shift, shift being Qx+Qw
    y = at::empty(sizes, xc.options().dtype(at::kFloat));
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, m, 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) ln::linear_int_float_row(xp, wp, bp, yp + r * n, r, k, n, static_cast<int>(shift));
    });
  } else {
    const auto otype = int_type_for_bits(out_bits);
    y = at::empty(sizes, xc.options().dtype(otype));
    AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_linear_int", [&] {
      scalar_t* yp = y.data_ptr<scalar_t>();
      at::parallel_for(0, m, 1, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r)
          ln::linear_int_row(xp, wp, bp, yp + r * n, r, k, n, static_cast<int>(shift), static_cast<int>(out_bits));
      });
    });
  }
  return y.to(x.device());
}

at::Tensor convtranspose2d_int(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias,
                              at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef output_padding,
                              at::IntArrayRef dilation, int64_t groups, int64_t shift, bool relu, int64_t out_bits) {
  TORCH_CHECK(x.dim() == 4 && w.dim() == 4, "linger convtranspose2d_int: x and w must be 4-D");
  TORCH_CHECK(stride.size() == 2 && dilation.size() == 2 && padding.size() == 4 && output_padding.size() == 2,
              "linger convtranspose2d_int: stride/output_padding/dilation need 2 values, padding 4");
  auto xc = cpu_contig(x, at::kChar, "conv-transpose input");
  auto wc = cpu_contig(w, at::kChar, "conv-transpose weight");
  at::Tensor bc;
  if (bias.has_value() && bias->defined()) bc = cpu_contig(*bias, at::kInt, "conv-transpose bias");
  ln::ConvTranspose2dShape s;
  s.n = xc.size(0); s.c = xc.size(1); s.h = xc.size(2); s.w = xc.size(3);
  s.o = wc.size(1) * groups; s.kh = wc.size(2); s.kw = wc.size(3);
  s.stride_h = stride[0]; s.stride_w = stride[1];
  s.pad_top = padding[0]; s.pad_left = padding[1]; s.pad_bottom = padding[2]; s.pad_right = padding[3];
  s.out_pad_h = output_padding[0]; s.out_pad_w = output_padding[1];
  s.dil_h = dilation[0]; s.dil_w = dilation[1];
  s.groups = groups;
  TORCH_CHECK(s.valid() && wc.size(0) == s.c, "linger convtranspose2d_int: inconsistent geometry");
  TORCH_CHECK(!bc.defined() || bc.numel() == s.o, "linger convtranspose2d_int: bias must have ", s.o, " elements");
  const auto otype = int_type_for_bits(out_bits);
  const int oh = s.out_h(), ow = s.out_w();
  auto y = at::empty({s.n, s.o, oh, ow}, xc.options().dtype(otype));
  const int8_t* xp = xc.data_ptr<int8_t>();
  const int8_t* wp = wc.data_ptr<int8_t>();
  const int32_t* bp = bc.defined() ? bc.data_ptr<int32_t>() : nullptr;
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_convtranspose2d_int", [&] {
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, static_cast<int64_t>(s.n) * s.o, 1, [&](int64_t b, int64_t e) {
      for (int64_t no = b; no < e; ++no)
        ln::convtranspose2d_int_plane(xp, wp, bp, yp + no * oh * ow, s, static_cast<int>(no / s.o),
                                      static_cast<int>(no % s.o), static_cast<int>(shift), relu,
                                      static_cast<int>(out_bits));
    });
  });
  return y.to(x.device());
}

at::Tensor batchnorm2d_int(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t shift,
                           int64_t out_bits) {
  TORCH_CHECK(x.dim() >= 2, "linger batchnorm2d_int: x must be [N, C, ...]");
  auto xc = cpu_contig(x, at::kChar, "batchnorm input");
  auto wc = cpu_contig(w, at::kChar, "batchnorm weight");
  auto bc = cpu_contig(b, at::kInt, "batchnorm bias");
  const int64_t n = xc.size(0), c = xc.size(1), spatial = c ? xc.numel() / (n * c) : 0;
  TORCH_CHECK(wc.numel() == c && bc.numel() == c, "linger batchnorm2d_int: weight and bias need ", c, " elements");
  const auto otype = int_type_for_bits(out_bits);
  auto y = at::empty(xc.sizes(), xc.options().dtype(otype));
  const int8_t* xp = xc.data_ptr<int8_t>();
  const int8_t* wp = wc.data_ptr<int8_t>();
  const int32_t* bp = bc.data_ptr<int32_t>();
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_batchnorm2d_int", [&] {
    ln::batchnorm_int(xp, wp, bp, y.data_ptr<scalar_t>(), n, c, spatial, static_cast<int>(shift),
                      static_cast<int>(out_bits));
  });
  return y.to(x.device());
}

ln::Pool2dShape pool_shape(const at::Tensor& xc, at::IntArrayRef kernel, at::IntArrayRef stride,
                           at::IntArrayRef padding, bool ceil_mode) {
  TORCH_CHECK(xc.dim() == 4, "linger pool: input must be 4-D NCHW");
  TORCH_CHECK(kernel.size() == 2 && stride.size() == 2 && padding.size() == 4,
              "linger pool: kernel/stride need 2 values, padding 4 (top, left, bottom, right)");
  ln::Pool2dShape s;
  s.n = xc.size(0); s.c = xc.size(1); s.h = xc.size(2); s.w = xc.size(3);
  s.kh = kernel[0]; s.kw = kernel[1]; s.stride_h = stride[0]; s.stride_w = stride[1];
  s.pad_top = padding[0]; s.pad_left = padding[1]; s.pad_bottom = padding[2]; s.pad_right = padding[3];
  s.ceil_mode = ceil_mode;
  TORCH_CHECK(s.valid(), "linger pool: inconsistent geometry");
  return s;
}

at::Tensor avgpool2d_int(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                         bool ceil_mode) {
  auto xc = cpu_contig(x, at::kChar, "avgpool input");
  const auto s = pool_shape(xc, kernel, stride, padding, ceil_mode);
  auto y = at::empty({s.n, s.c, s.out_h(), s.out_w()}, xc.options());
  ln::avgpool2d_int(xc.data_ptr<int8_t>(), y.data_ptr<int8_t>(), s);
  return y.to(x.device());
}

at::Tensor adaptive_avgpool2d_int(const at::Tensor& x, int64_t oh, int64_t ow) {
  auto xc = cpu_contig(x, at::kChar, "adaptive avgpool input");
  TORCH_CHECK(xc.dim() == 4, "linger adaptive_avgpool2d_int: input must be 4-D NCHW");
  TORCH_CHECK(oh >= 1 && ow >= 1 && xc.size(2) >= 1 && xc.size(3) >= 1,
              "linger adaptive_avgpool2d_int: sizes must be >= 1");
  auto y = at::empty({xc.size(0), xc.size(1), oh, ow}, xc.options());
  ln::adaptive_avgpool2d_int(xc.data_ptr<int8_t>(), y.data_ptr<int8_t>(), xc.size(0) * xc.size(1),
                             static_cast<int>(xc.size(2)), static_cast<int>(xc.size(3)), static_cast<int>(oh),
                             static_cast<int>(ow));
  return y.to(x.device());
}

at::Tensor embedding_int(const at::Tensor& table, const at::Tensor& idx) {
  auto tc = cpu_contig(table, at::kChar, "embedding table");
  TORCH_CHECK(tc.dim() == 2, "linger embedding_int: the table must be 2-D [rows, dim]");
  auto ic = cpu_contig(idx, at::kLong, "embedding indices");
  std::vector<int64_t> shape(ic.sizes().begin(), ic.sizes().end());
  shape.push_back(tc.size(1));
  auto y = at::empty(shape, tc.options());
  const int64_t bad = ln::embedding_int(tc.data_ptr<int8_t>(), tc.size(0), tc.size(1), ic.data_ptr<int64_t>(),
                                        ic.numel(), y.data_ptr<int8_t>());
  TORCH_CHECK(bad < 0, "linger embedding_int: index ", bad >= 0 ? ic.data_ptr<int64_t>()[bad] : 0,
              " is out of range for a table of ", tc.size(0), " rows");
  return y.to(table.device());
}

at::Tensor maxpool2d_int(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                         bool ceil_mode) {
  auto xc = cpu_contig(x, at::kChar, "maxpool input");
  const auto s = pool_shape(xc, kernel, stride, padding, ceil_mode);
  auto y = at::empty({s.n, s.c, s.out_h(), s.out_w()}, xc.options());
  ln::maxpool2d_int(xc.data_ptr<int8_t>(), y.data_ptr<int8_t>(), s);
  return y.to(x.device());
}

// LayerNormInt (and GroupNorm): rows of `count` codes, gamma/beta of count/inner values per group.
at::Tensor layernorm_int(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, int64_t count,
                         int64_t inner, int64_t groups, int64_t eps_q, int64_t shift, int64_t out_bits) {
  auto xc = cpu_contig(x, at::kChar, "layernorm input");
  auto gc = cpu_contig(gamma, at::kShort, "layernorm weight");
  auto bc = cpu_contig(beta, at::kInt, "layernorm bias");
  TORCH_CHECK(count >= 1 && count <= ln::kMaxLayerNormCount, "linger layernorm_int: ", count,
              " elements per row; supported: 1 to ", ln::kMaxLayerNormCount);
  TORCH_CHECK(inner >= 1 && count % inner == 0 && groups >= 1 && xc.numel() % count == 0,
              "linger layernorm_int: inconsistent row geometry");
  TORCH_CHECK(gc.numel() == groups * (count / inner) && bc.numel() == gc.numel(),
              "linger layernorm_int: weight and bias need ", groups * (count / inner), " values");
  TORCH_CHECK(eps_q >= 0 && eps_q <= ln::kMaxLayerNormEpsQ, "linger layernorm_int: eps_q out of range");
  ln::LayerNormParams p;
  p.count = count;
  p.inner = inner;
  p.eps_q = eps_q;
  p.shift = static_cast<int>(shift);
  p.out_bits = static_cast<int>(out_bits);
  const auto otype = int_type_for_bits(out_bits);
  auto y = at::empty(xc.sizes(), xc.options().dtype(otype));
  const int64_t rows = xc.numel() / count;
  TORCH_CHECK(rows % groups == 0, "linger layernorm_int: rows not a multiple of the groups");
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_layernorm_int", [&] {
    ln::layernorm_int(xc.data_ptr<int8_t>(), gc.data_ptr<int16_t>(), bc.data_ptr<int32_t>(), y.data_ptr<scalar_t>(),
                      rows, groups, p);
  });
  return y.to(x.device());
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(linger, m) {
  m.def("quantize(Tensor x, int exponent, int bits) -> Tensor", quantize);
  m.def("dequantize(Tensor q, int exponent) -> Tensor", dequantize);
  m.def("conv2d_int(Tensor x, Tensor w, Tensor? bias, int[] stride, int[] padding, int[] dilation, int groups, "
        "int shift, bool relu, int out_bits) -> Tensor",
        conv2d_int);
  m.def("convtranspose2d_int(Tensor x, Tensor w, Tensor? bias, int[] stride, int[] padding, int[] output_padding, "
        "int[] dilation, int groups, int shift, bool relu, int out_bits) -> Tensor",
        convtranspose2d_int);
  m.def("batchnorm2d_int(Tensor x, Tensor w, Tensor b, int shift, int out_bits) -> Tensor", batchnorm2d_int);
  m.def("linear_int(Tensor x, Tensor w, Tensor? bias, int shift, int out_bits) -> Tensor", linear_int);
  m.def("avgpool2d_int(Tensor x, int[] kernel, int[] stride, int[] padding, bool ceil_mode) -> Tensor", avgpool2d_int);
  m.def("layernorm_int(Tensor x, Tensor gamma, Tensor beta, int count, int inner, int groups, int eps_q, int shift, "
        "int out_bits) -> Tensor",
        layernorm_int);
  m.def("adaptive_avgpool2d_int(Tensor x, int oh, int ow) -> Tensor", adaptive_avgpool2d_int);
  m.def("embedding_int(Tensor table, Tensor idx) -> Tensor", embedding_int);
  m.def("maxpool2d_int(Tensor x, int[] kernel, int[] stride, int[] padding, bool ceil_mode) -> Tensor", maxpool2d_int);
}
