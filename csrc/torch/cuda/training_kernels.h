// linger torch extension: launchers of the CUDA training kernels
// (training_kernels.cu). Plain pointers and the current stream; the torch glue
// (training_ops_cuda.cpp) checks arguments and owns the tensors. Each returns
// the launch status (cudaGetLastError()).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "linger/numerics/fake_quant.h"

namespace linger_cuda {

// y[i] = fake_quant_value(x[i]) for i < n.
cudaError_t fake_quant(const float* x, float* y, int64_t n, const linger::numerics::FakeQuantParams& p,
                       cudaStream_t stream);

// out[i] = fake_quant_grad(g[i], x[i]) for i < n.
cudaError_t fake_quant_backward(const float* g, const float* x, float* out, int64_t n,
                                const linger::numerics::FakeQuantParams& p, cudaStream_t stream);

// result[0] = the bits of max |x| (max(x, 0) when positive_only) as a float, result[1] = 1 when x holds a NaN
// (0 otherwise). result points to 2 words of device memory; n >= 1.
cudaError_t absmax(const float* x, int64_t n, bool positive_only, uint32_t* result, cudaStream_t stream);

}  // namespace linger_cuda
