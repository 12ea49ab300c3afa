// linger torch extension: CUDA kernels of the training ops. They apply the
// formulas of include/linger/numerics/fake_quant.h, the same inline functions
// as the CPU loops of training_ops.cpp, element by element, so the codes are
// the same bits on both devices (docs/cuda.md). Compiled with -fmad=false (no
// product feeds an addition there anyway) and without fast-math: IEEE float
// operations, denormals kept, as on the CPU.
// No torch headers here: this file compiles in seconds per GPU architecture.
#include <cuda_runtime.h>

#include <cstdint>

#include "training_kernels.h"

namespace linger_cuda {
namespace {

namespace ln = linger::numerics;

constexpr int kThreads = 256;

// Grid-stride launches: enough blocks to fill the GPU, no more than the work needs.
int blocks_for(int64_t items, int blocks_per_sm) {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
    sms = 16;
  const int64_t need = (items + kThreads - 1) / kThreads;
  const int64_t cap = static_cast<int64_t>(sms) * blocks_per_sm;
  return static_cast<int>(need < 1 ? 1 : (need < cap ? need : cap));
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <bool kWide>
__device__ __forceinline__ float4 value4(float4 v, const ln::FakeQuantParams& p) {
  v.x = ln::fake_quant_value<kWide>(v.x, p);
  v.y = ln::fake_quant_value<kWide>(v.y, p);
  v.z = ln::fake_quant_value<kWide>(v.z, p);
  v.w = ln::fake_quant_value<kWide>(v.w, p);
  return v;
}

// kVec: x and y are 16-byte aligned; the first n / 4 * 4 elements go as float4, the rest one by one.
template <bool kWide, bool kVec>
__global__ void fake_quant_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                  const ln::FakeQuantParams p) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = first; i < n4; i += stride) y4[i] = value4<kWide>(x4[i], p);
    done = n4 * 4;
  }
  for (int64_t i = done + first; i < n; i += stride) y[i] = ln::fake_quant_value<kWide>(x[i], p);
}

template <bool kWide, bool kVec>
__global__ void fake_quant_backward_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                           float* __restrict__ out, int64_t n, const ln::FakeQuantParams p) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* g4 = reinterpret_cast<const float4*>(g);
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* o4 = reinterpret_cast<float4*>(out);
    for (int64_t i = first; i < n4; i += stride) {
      const float4 gv = g4[i], xv = x4[i];
      float4 o;
      o.x = ln::fake_quant_grad<kWide>(gv.x, xv.x, p);
      o.y = ln::fake_quant_grad<kWide>(gv.y, xv.y, p);
      o.z = ln::fake_quant_grad<kWide>(gv.z, xv.z, p);
      o.w = ln::fake_quant_grad<kWide>(gv.w, xv.w, p);
      o4[i] = o;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + first; i < n; i += stride) out[i] = ln::fake_quant_grad<kWide>(g[i], x[i], p);
}

// One element into the running (max, NaN) pair. m starts at +0 and only grows, so it is never negative
// nor NaN: its bit pattern orders like its value, which lets blocks combine with an integer atomicMax.
template <bool kPositiveOnly>
__device__ __forceinline__ void absmax_step(float v, float& m, uint32_t& nan) {
  const float a = kPositiveOnly ? v : fabsf(v);
  nan |= (a != a) ? 1u : 0u;
  m = ln::fq_max(a, m);
}

template <bool kPositiveOnly, bool kVec>
__global__ void absmax_kernel(const float* __restrict__ x, int64_t n, uint32_t* __restrict__ result) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float m = 0.0f;
  uint32_t nan = 0;
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (int64_t i = first; i < n4; i += stride) {
      const float4 v = x4[i];
      absmax_step<kPositiveOnly>(v.x, m, nan);
      absmax_step<kPositiveOnly>(v.y, m, nan);
      absmax_step<kPositiveOnly>(v.z, m, nan);
      absmax_step<kPositiveOnly>(v.w, m, nan);
    }
    done = n4 * 4;
  }
  for (int64_t i = done + first; i < n; i += stride) absmax_step<kPositiveOnly>(x[i], m, nan);

  // Block reduction: warps by shuffles, then the warp maxima through shared memory.
  for (int off = 16; off > 0; off >>= 1) {
    m = ln::fq_max(__shfl_down_sync(0xffffffffu, m, off), m);
    nan |= __shfl_down_sync(0xffffffffu, nan, off);
  }
  __shared__ float warp_max[kThreads / 32];
  __shared__ uint32_t warp_nan[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    warp_max[warp] = m;
    warp_nan[warp] = nan;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) {
      m = ln::fq_max(warp_max[w], m);
      nan |= warp_nan[w];
    }
    // m >= +0 by construction; clearing the sign bit keeps the integer order even for a -0 (insurance).
    atomicMax(&result[0], __float_as_uint(m) & 0x7fffffffu);
    if (nan) atomicOr(&result[1], 1u);
  }
}

template <bool kWide>
cudaError_t launch_fake_quant(const float* x, float* y, int64_t n, const ln::FakeQuantParams& p, cudaStream_t s) {
  if (aligned16(x) && aligned16(y))
    fake_quant_kernel<kWide, true><<<blocks_for((n + 3) / 4, 8), kThreads, 0, s>>>(x, y, n, p);
  else
    fake_quant_kernel<kWide, false><<<blocks_for(n, 8), kThreads, 0, s>>>(x, y, n, p);
  return cudaGetLastError();
}

template <bool kWide>
cudaError_t launch_fake_quant_backward(const float* g, const float* x, float* out, int64_t n,
                                       const ln::FakeQuantParams& p, cudaStream_t s) {
  if (aligned16(g) && aligned16(x) && aligned16(out))
    fake_quant_backward_kernel<kWide, true><<<blocks_for((n + 3) / 4, 8), kThreads, 0, s>>>(g, x, out, n, p);
  else
    fake_quant_backward_kernel<kWide, false><<<blocks_for(n, 8), kThreads, 0, s>>>(g, x, out, n, p);
  return cudaGetLastError();
}

template <bool kPositiveOnly>
cudaError_t launch_absmax(const float* x, int64_t n, uint32_t* result, cudaStream_t s) {
  if (aligned16(x))
    absmax_kernel<kPositiveOnly, true><<<blocks_for((n + 3) / 4, 4), kThreads, 0, s>>>(x, n, result);
  else
    absmax_kernel<kPositiveOnly, false><<<blocks_for(n, 4), kThreads, 0, s>>>(x, n, result);
  return cudaGetLastError();
}

}  // namespace

cudaError_t fake_quant(const float* x, float* y, int64_t n, const ln::FakeQuantParams& p, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  return p.wide ? launch_fake_quant<true>(x, y, n, p, stream) : launch_fake_quant<false>(x, y, n, p, stream);
}

cudaError_t fake_quant_backward(const float* g, const float* x, float* out, int64_t n, const ln::FakeQuantParams& p,
                                cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  return p.wide ? launch_fake_quant_backward<true>(g, x, out, n, p, stream)
                : launch_fake_quant_backward<false>(g, x, out, n, p, stream);
}

cudaError_t absmax(const float* x, int64_t n, bool positive_only, uint32_t* result, cudaStream_t stream) {
  const cudaError_t e = cudaMemsetAsync(result, 0, 2 * sizeof(uint32_t), stream);
  if (e != cudaSuccess || n <= 0) return e;
  return positive_only ? launch_absmax<true>(x, n, result, stream) : launch_absmax<false>(x, n, result, stream);
}

}  // namespace linger_cuda
