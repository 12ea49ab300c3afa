// Geometry limits of the conv / pool kernels: they keep every index
// computation of include/linger/numerics (done in int) far from overflow.
#pragma once

#include <cstdint>

namespace linger {
namespace runtime {

constexpr int64_t kMaxSpatialDim = int64_t{1} << 24;  // N, C, H, W, O
constexpr int64_t kMaxKernelDim = 4096;
constexpr int64_t kMaxStride = 65536;
constexpr int64_t kMaxDilation = 1024;
constexpr int64_t kMaxPad = 65536;

}  // namespace runtime
}  // namespace linger
