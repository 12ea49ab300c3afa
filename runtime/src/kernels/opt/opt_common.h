// Helpers shared by the ISA-neutral units of the optimised kernels
// (opt_kernels.cc, opt_elementwise.cc): workspace carving and task splitting.
// Baseline code only: the ISA units (opt_avx2.cc, opt_avx512vnni.cc) must not
// include this header (see opt_internal.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../../size_math.h"

namespace linger {
namespace runtime {
namespace opt {
namespace detail {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Carves 64-byte aligned regions out of one byte buffer (the caller's
// workspace). Sizes are overflow-checked (saturating, size_math.h): bytes() is
// what base() allocates, and what *_workspace_bytes() report to the planner,
// which refuses a saturated or too large value before any run.
class Carver {
 public:
  size_t add(int64_t bytes) {
    const size_t off = static_cast<size_t>(total_);
    total_ = sat_add(total_, sat_mul(ceil_div(bytes > 0 ? bytes : 0, 64), 64));
    return off;
  }
  int64_t bytes() const { return sat_add(total_, 64); }
  int64_t total() const { return total_; }
  // Grows `buf` as needed and returns the aligned base of the regions.
  uint8_t* base(std::vector<int8_t>* buf) const {
    const size_t need = static_cast<size_t>(bytes());
    if (buf->size() < need) buf->resize(need);
    const uintptr_t p = reinterpret_cast<uintptr_t>(buf->data());
    return reinterpret_cast<uint8_t*>((p + 63) & ~uintptr_t{63});
  }

 private:
  int64_t total_ = 0;
};

template <typename T>
inline T* at(uint8_t* base, size_t off) {
  return reinterpret_cast<T*>(base + off);
}


// Per-worker regions of a workspace: `shared` bytes first, then one region of
// `worker` bytes (a multiple of 64) per thread.
struct WorkerSplit {
  size_t off_shared = 0, off_workers = 0;
  int64_t worker = 0;
  Carver cv;
  void finish(int64_t shared_bytes, const Carver& per_worker, int threads) {
    worker = round_up(per_worker.total(), 64);
    off_shared = cv.add(shared_bytes);
    off_workers = cv.add(sat_mul(worker, threads));
  }
  uint8_t* region(uint8_t* base, int w) const { return base + off_workers + static_cast<size_t>(w * worker); }
};

constexpr int64_t kPlaneSlack = 128;  // readable bytes past a padded plane / row (vector loads over the row ends)

// Splits [0, count) into tasks of `grain` elements for parallel_for.
inline int64_t grain_tasks(int64_t count, int64_t grain) { return ceil_div(count, grain); }

}  // namespace detail
}  // namespace opt
}  // namespace runtime
}  // namespace linger
