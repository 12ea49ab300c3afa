// Shared helpers of the data-movement kernels: strided N-D copies and numpy
// broadcasting. Pure index arithmetic; the integers are never changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

// The output dims of joining every input of the node along `axis` (Concat, iqCat): the ranks agree and
// every other dimension agrees (rule 'shape', naming the inputs); unknown dims stay unknown.
Dims concat_dims(const InferContext& ctx, int64_t axis, const char* axis_name);

// Row-major strides (in elements) of a contiguous tensor of these dims.
std::vector<int64_t> contiguous_strides(const Dims& dims);

// dst[i_0, ..., i_{r-1}] (contiguous, shape out_dims) =
//   src[src_offset + sum_d i_d * src_strides[d]], elements of elem_size bytes.
void strided_copy(const void* src, void* dst, size_t elem_size, const Dims& out_dims, int64_t src_offset,
                  const std::vector<int64_t>& src_strides);

// Numpy broadcast of two shapes (ranks right-aligned). Unknown dims (-1) give
// -1 unless the other side fixes the size. Returns false when incompatible.
bool broadcast_dims(const Dims& a, const Dims& b, Dims* out);

// Strides of `in` viewed as a tensor of shape `out` (right-aligned; 0 on
// broadcast dimensions).
std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out);

// Calls fn(offset_a, offset_b, out_index, count) for each innermost run of
// the broadcast iteration over out dims, where along the run a advances by
// stride_a[last] and b by stride_b[last].
template <typename Fn>
void for_each_broadcast_row(const Dims& out, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, Fn fn) {
  const size_t r = out.size();
  if (r == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1});
    return;
  }
  for (int64_t d : out)
    if (d == 0) return;
  const int64_t inner = out[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0, o = 0;
  while (true) {
    fn(oa, ob, o, inner);
    o += inner;
    // advance the outer index (dims r-2 .. 0)
    size_t d = r - 1;
    while (true) {
      if (d == 0) return;
      --d;
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace runtime
}  // namespace linger
