// linger torch extension, internal: the argument checks and the ATen-op forms of
// the training kernels, shared by the CPU registrations (training_ops.cpp) and
// the CUDA ones (cuda/training_ops_cuda.cpp). Not installed, not an API.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace linger_torch {

constexpr const char* kNanMessage =
    "linger: NaN in a tensor being quantized (training diverged? lower the learning rate)";

void check_bits(int64_t bits);
void check_exponent(int64_t q);

// fake_quant / fake_quant_backward / absmax written with ATen ops: the kernels of
// every dtype other than float32 on every device (same formulas; docs/cuda.md).
at::Tensor fake_quant_generic(const at::Tensor& x, int64_t exponent, int64_t bits);
at::Tensor fake_quant_backward_generic(const at::Tensor& grad, const at::Tensor& x, int64_t exponent, int64_t bits);
double absmax_generic(const at::Tensor& x, bool positive_only);

}  // namespace linger_torch
