// linger torch extension: the CUDA registrations of the training ops
// (fake_quant, fake_quant_backward, absmax, which observe and weight_exponent
// call). float32 goes to the kernels of training_kernels.cu; other dtypes use
// the ATen-op forms shared with the CPU (training_common.h), as on the CPU.
// Built only with LINGER_CUDA (csrc/torch/cuda/cuda.cmake).
#include <torch/library.h>
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <cstring>

#include "../training_common.h"
#include "linger/numerics/fake_quant.h"
#include "training_kernels.h"

namespace {

using linger_torch::check_bits;
using linger_torch::check_exponent;

linger::numerics::FakeQuantParams params(int64_t exponent, int64_t bits) {
  check_bits(bits);
  check_exponent(exponent);
  return linger::numerics::fake_quant_params(static_cast<int>(exponent), static_cast<int>(bits));
}

at::Tensor fake_quant_cuda(const at::Tensor& x, int64_t exponent, int64_t bits) {
  const auto p = params(exponent, bits);
  if (x.scalar_type() != at::kFloat) return linger_torch::fake_quant_generic(x, exponent, bits);
  const c10::cuda::CUDAGuard guard(x.device());
  auto xc = x.contiguous();
  auto y = at::empty_like(xc);
  C10_CUDA_CHECK(linger_cuda::fake_quant(xc.data_ptr<float>(), y.data_ptr<float>(), xc.numel(), p,
                                         c10::cuda::getCurrentCUDAStream()));
  return y;
}

at::Tensor fake_quant_backward_cuda(const at::Tensor& grad, const at::Tensor& x, int64_t exponent, int64_t bits) {
  const auto p = params(exponent, bits);
  if (x.scalar_type() != at::kFloat || grad.scalar_type() != at::kFloat)
    return linger_torch::fake_quant_backward_generic(grad, x, exponent, bits);
  TORCH_CHECK(grad.device() == x.device(), "linger: fake_quant_backward: the gradient is on ", grad.device(),
              " but the input on ", x.device());
  const c10::cuda::CUDAGuard guard(x.device());
  auto xc = x.contiguous();
  auto gc = grad.expand_as(xc).contiguous();
  auto out = at::empty_like(xc);
  C10_CUDA_CHECK(linger_cuda::fake_quant_backward(gc.data_ptr<float>(), xc.data_ptr<float>(), out.data_ptr<float>(),
                                                  xc.numel(), p, c10::cuda::getCurrentCUDAStream()));
  return out;
}

// max |x| (max(x, 0) when positive_only) in one kernel and one 8-byte copy to the host. Errors on NaN.
double absmax_cuda(const at::Tensor& x, bool positive_only) {
  if (x.numel() == 0) return 0.0;
  if (x.scalar_type() != at::kFloat) return linger_torch::absmax_generic(x, positive_only);
  const c10::cuda::CUDAGuard guard(x.device());
  auto xc = x.contiguous();
  auto result = at::empty({2}, xc.options().dtype(at::kInt));
  C10_CUDA_CHECK(linger_cuda::absmax(xc.data_ptr<float>(), xc.numel(), positive_only,
                                     reinterpret_cast<uint32_t*>(result.data_ptr<int32_t>()),
                                     c10::cuda::getCurrentCUDAStream()));
  const auto host = result.cpu();  // waits for the kernel
  const int32_t* r = host.data_ptr<int32_t>();
  TORCH_CHECK(r[1] == 0, linger_torch::kNanMessage);
  float m = 0.0f;
  std::memcpy(&m, &r[0], sizeof m);
  return m;
}

}  // namespace

TORCH_LIBRARY_IMPL(linger, CUDA, m) {
  m.impl("fake_quant", fake_quant_cuda);
  m.impl("fake_quant_backward", fake_quant_backward_cuda);
  m.impl("absmax", absmax_cuda);
}
