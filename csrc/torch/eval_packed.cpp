// linger PyTorch extension: the fast eval path of the modules with weights.
//
// The module quantizes its weights once per eval session and keeps them in a
// PackedConv2d / PackedLinear object (a TorchScript custom class, held by the
// module as a plain attribute, never a buffer); each forward is then one call that
// quantizes the float input at Qx, runs the runtime's optimised kernel (through
// kernel_adapter.h) and returns the output dequantized at Qo: the integers of
// the reference ops conv2d_int / linear_int / batchnorm2d_int (eval_ops.cpp),
// without their per-call weight quantization and intermediate tensors.
#include <torch/custom_class.h>
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>  // at::get_num_threads

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "kernel_adapter.h"

namespace {

namespace te = linger::torch_ext;
namespace ln = linger::numerics;

struct PackedConv2dHolder : torch::CustomClassHolder {
  explicit PackedConv2dHolder(te::PackedConv2d p) : impl(std::move(p)) {}
  te::PackedConv2d impl;
};

struct PackedLinearHolder : torch::CustomClassHolder {
  explicit PackedLinearHolder(te::PackedLinear p) : impl(std::move(p)) {}
  te::PackedLinear impl;
};

// Per-thread scratch buffers (grown, never shrunk): the int8 input codes and the integer outputs.
int8_t* scratch(std::vector<int8_t>& buf, int64_t bytes) {
  if (static_cast<int64_t>(buf.size()) < bytes) buf.resize(static_cast<size_t>(bytes));
  return buf.data();
}

int elem_bytes(int64_t out_bits) {
  TORCH_CHECK(out_bits == 8 || out_bits == 16 || out_bits == 32, "linger: out_bits must be 8, 16 or 32, got ",
              out_bits);
  return static_cast<int>(out_bits / 8);
}

// Quantizes n floats at Qx to int8 codes (data_bits 8), with the reference op's NaN error.
void quantize_input(const float* x, int64_t n, int64_t qx, int8_t* xq, const char* op, int threads) {
  const int64_t bad = te::quantize_f32(x, n, static_cast<int>(qx), 8, xq, threads);
  TORCH_CHECK(bad < 0, "linger: NaN in a tensor being quantized (input of ", op, ")");
}

at::Tensor float_cpu(const at::Tensor& x) { return x.detach().to(at::kCPU, at::kFloat).contiguous(); }

c10::intrusive_ptr<PackedConv2dHolder> pack_conv2d(const at::Tensor& w, at::IntArrayRef stride,
                                                   at::IntArrayRef padding, at::IntArrayRef dilation,
                                                   int64_t groups) {
  TORCH_CHECK(w.dim() == 4 && w.scalar_type() == at::kChar, "linger pack_conv2d: w must be int8 [O, C/g, kh, kw]");
  TORCH_CHECK(stride.size() == 2 && dilation.size() == 2 && padding.size() == 4,
              "linger pack_conv2d: stride/dilation need 2 values, padding 4 (top, left, bottom, right)");
  TORCH_CHECK(groups >= 1 && w.size(0) % groups == 0, "linger pack_conv2d: ", w.size(0),
              " output channels are not divisible by groups ", groups);
  auto wc = w.to(at::kCPU).contiguous();
  te::ConvGeometry g;
  g.o = static_cast<int>(wc.size(0)); g.cpg = static_cast<int>(wc.size(1));
  g.kh = static_cast<int>(wc.size(2)); g.kw = static_cast<int>(wc.size(3));
  g.stride_h = static_cast<int>(stride[0]); g.stride_w = static_cast<int>(stride[1]);
  g.pad_top = static_cast<int>(padding[0]); g.pad_left = static_cast<int>(padding[1]);
  g.pad_bottom = static_cast<int>(padding[2]); g.pad_right = static_cast<int>(padding[3]);
  g.dil_h = static_cast<int>(dilation[0]); g.dil_w = static_cast<int>(dilation[1]);
  g.groups = static_cast<int>(groups);
  return c10::make_intrusive<PackedConv2dHolder>(te::PackedConv2d(wc.data_ptr<int8_t>(), g));
}

// PackedConv2d.run: x float [N, C, H, W] -> dequantize(conv2d_int(quantize(x, qx, 8), w, bias, shift, out_bits), qo).
at::Tensor conv2d_eval(const at::Tensor& x, const c10::intrusive_ptr<PackedConv2dHolder>& packed,
                       const c10::optional<at::Tensor>& bias, int64_t qx, int64_t shift, int64_t out_bits, int64_t qo) {
  TORCH_CHECK(x.dim() == 4, "linger conv2d_eval: x must be 4-D");
  const te::PackedConv2d& p = packed->impl;
  const auto xc = float_cpu(x);
  for (int64_t d = 0; d < 4; ++d)
    TORCH_CHECK(xc.size(d) <= std::numeric_limits<int>::max(), "linger conv2d_eval: input ", xc.sizes(), " too large");
  const ln::Conv2dShape s = p.shape(static_cast<int>(xc.size(0)), static_cast<int>(xc.size(1)),
                                    static_cast<int>(xc.size(2)), static_cast<int>(xc.size(3)));
  TORCH_CHECK(s.valid() && s.c == p.geometry().cpg * p.geometry().groups, "linger conv2d_eval: input ", xc.sizes(),
              " does not fit the weights [", s.o, ", ", p.geometry().cpg, ", ", s.kh, ", ", s.kw, "] with groups ",
              s.groups);
  const int32_t* bp = nullptr;
  at::Tensor bc;
  if (bias.has_value() && bias->defined()) {
    TORCH_CHECK(bias->scalar_type() == at::kInt && bias->numel() == s.o, "linger conv2d_eval: bias must be int32 [",
                s.o, "]");
    bc = bias->to(at::kCPU).contiguous();
    bp = bc.data_ptr<int32_t>();
  }
  const int eb = elem_bytes(out_bits);
  const int64_t in_img = int64_t{s.c} * s.h * s.w, out_img = int64_t{s.o} * s.out_h() * s.out_w();
  auto y = at::empty({s.n, s.o, s.out_h(), s.out_w()}, xc.options());
  const float* xp = xc.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int threads = at::get_num_threads();  // the kernels' own pool, as many threads as torch uses
  thread_local std::vector<int8_t> xbuf, ybuf;
  int8_t* xq = scratch(xbuf, s.n * in_img);
  int8_t* yq = scratch(ybuf, s.n * out_img * eb);
  quantize_input(xp, s.n * in_img, qx, xq, "Conv2dInt", threads);
  p.run(xq, s, bp, yq, static_cast<int>(shift), static_cast<int>(out_bits), threads);
  te::dequantize_f32(yq, eb, s.n * out_img, static_cast<int>(qo), yp, threads);
  return y.to(x.device());
}

c10::intrusive_ptr<PackedLinearHolder> pack_linear(const at::Tensor& w) {
  TORCH_CHECK(w.dim() == 2 && w.scalar_type() == at::kChar, "linger pack_linear: w must be int8 [out, in]");
  auto wc = w.to(at::kCPU).contiguous();
  return c10::make_intrusive<PackedLinearHolder>(te::PackedLinear(wc.data_ptr<int8_t>(), wc.size(0), wc.size(1)));
}

// PackedLinear.run: x float [..., K] -> linear_int(quantize(x, qx, 8), w, bias): float at 2^-shift for
// out_bits 0, else dequantized at qo.
at::Tensor linear_eval(const at::Tensor& x, const c10::intrusive_ptr<PackedLinearHolder>& packed,
                       const c10::optional<at::Tensor>& bias, int64_t qx, int64_t shift, int64_t out_bits, int64_t qo) {
  const te::PackedLinear& p = packed->impl;
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == p.k(), "linger linear_eval: x [..., ", p.k(), "] expected, got ",
              x.sizes());
  const auto xc = float_cpu(x);
  const int32_t* bp = nullptr;
  at::Tensor bc;
  if (bias.has_value() && bias->defined()) {
    TORCH_CHECK(bias->scalar_type() == at::kInt && bias->numel() == p.n(), "linger linear_eval: bias must be int32 [",
                p.n(), "]");
    bc = bias->to(at::kCPU).contiguous();
    bp = bc.data_ptr<int32_t>();
  }
  const int64_t k = p.k(), n = p.n(), m = xc.numel() / k;
  auto sizes = xc.sizes().vec();
  sizes.back() = n;
  auto y = at::empty(sizes, xc.options());
  const float* xp = xc.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int eb = out_bits == 0 ? 4 : elem_bytes(out_bits);
  const int threads = at::get_num_threads();
  thread_local std::vector<int8_t> xbuf, ybuf;
  int8_t* xq = scratch(xbuf, m * k);
  quantize_input(xp, m * k, qx, xq, "LinearInt", threads);
  if (out_bits == 0) {
    p.run(xq, m, bp, yp, static_cast<int>(shift), 0, threads);
  } else {
    int8_t* yq = scratch(ybuf, m * n * eb);
    p.run(xq, m, bp, yq, static_cast<int>(shift), static_cast<int>(out_bits), threads);
    te::dequantize_f32(yq, eb, m * n, static_cast<int>(qo), yp, threads);
  }
  return y.to(x.device());
}

// x float [N, C, ...] -> dequantize(batchnorm2d_int(quantize(x, qx, 8), w, b, shift, out_bits), qo).
at::Tensor batchnorm2d_eval(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t qx, int64_t shift,
                            int64_t out_bits, int64_t qo) {
  TORCH_CHECK(x.dim() >= 2, "linger batchnorm2d_eval: x must be [N, C, ...]");
  TORCH_CHECK(w.scalar_type() == at::kChar && b.scalar_type() == at::kInt, "linger batchnorm2d_eval: weight int8, "
              "bias int32 expected");
  const auto xc = float_cpu(x);
  const auto wc = w.to(at::kCPU).contiguous();
  const auto bc = b.to(at::kCPU).contiguous();
  const int64_t n = xc.size(0), c = xc.size(1), spatial = c ? xc.numel() / (n * c) : 0;
  TORCH_CHECK(wc.numel() == c && bc.numel() == c, "linger batchnorm2d_eval: weight and bias need ", c, " elements");
  const int eb = elem_bytes(out_bits);
  auto y = at::empty(xc.sizes(), xc.options());
  const int64_t img = c * spatial;
  const float* xp = xc.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int threads = at::get_num_threads();
  thread_local std::vector<int8_t> xbuf, ybuf;
  int8_t* xq = scratch(xbuf, n * img);
  int8_t* yq = scratch(ybuf, n * img * eb);
  quantize_input(xp, n * img, qx, xq, "BatchNorm2dInt", threads);
  te::batchnorm_int8(xq, wc.data_ptr<int8_t>(), bc.data_ptr<int32_t>(), yq, n, c, spatial, static_cast<int>(shift),
                     static_cast<int>(out_bits), threads);
  te::dequantize_f32(yq, eb, n * img, static_cast<int>(qo), yp, threads);
  return y.to(x.device());
}

std::string kernel_isa() { return te::kernel_isa_name(); }

}  // namespace

// The eval calls are methods of the packed classes (`packed.run(x, ...)` from Python): a torch.ops call with a
// custom-class argument costs tens of microseconds more (torch's __torch_function__ probe of the argument).
TORCH_LIBRARY_FRAGMENT(linger, m) {
  m.class_<PackedConv2dHolder>("PackedConv2d")
      .def("run", [](const c10::intrusive_ptr<PackedConv2dHolder>& self, const at::Tensor& x,
                     const c10::optional<at::Tensor>& bias, int64_t qx, int64_t shift, int64_t out_bits,
                     int64_t qo) { return conv2d_eval(x, self, bias, qx, shift, out_bits, qo); });
  m.class_<PackedLinearHolder>("PackedLinear")
      .def("run", [](const c10::intrusive_ptr<PackedLinearHolder>& self, const at::Tensor& x,
                     const c10::optional<at::Tensor>& bias, int64_t qx, int64_t shift, int64_t out_bits,
                     int64_t qo) { return linear_eval(x, self, bias, qx, shift, out_bits, qo); });
  m.def("pack_conv2d(Tensor w, int[] stride, int[] padding, int[] dilation, int groups) -> "
        "__torch__.torch.classes.linger.PackedConv2d",
        pack_conv2d);
  m.def("pack_linear(Tensor w) -> __torch__.torch.classes.linger.PackedLinear", pack_linear);
  m.def("batchnorm2d_eval(Tensor x, Tensor w, Tensor b, int qx, int shift, int out_bits, int qo) -> Tensor",
        batchnorm2d_eval);
  m.def("kernel_isa() -> str", kernel_isa);
}
