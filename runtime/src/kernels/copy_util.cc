#include "kernels/copy_util.h"

#include <cstring>

namespace linger {
namespace runtime {

std::vector<int64_t> contiguous_strides(const Dims& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

namespace {

template <size_t E>
void copy_rows(const unsigned char* src, unsigned char* dst, const Dims& out, int64_t offset,
               const std::vector<int64_t>& strides) {
  const size_t r = out.size();
  for (int64_t d : out)
    if (d == 0) return;
  if (r == 0) {
    std::memcpy(dst, src + offset * static_cast<int64_t>(E), E);
    return;
  }
  const int64_t inner = out[r - 1];
  const int64_t step = strides[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t src_at = offset;
  unsigned char* out_p = dst;
  while (true) {
    if (step == 1) {
      std::memcpy(out_p, src + src_at * static_cast<int64_t>(E), static_cast<size_t>(inner) * E);
    } else {
      const unsigned char* p = src + src_at * static_cast<int64_t>(E);
      for (int64_t i = 0; i < inner; ++i) std::memcpy(out_p + i * static_cast<int64_t>(E), p + i * step * static_cast<int64_t>(E), E);
    }
    out_p += inner * static_cast<int64_t>(E);
    size_t d = r - 1;
    while (true) {
      if (d == 0) return;
      --d;
      ++idx[d];
      src_at += strides[d];
      if (idx[d] < out[d]) break;
      src_at -= strides[d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

void strided_copy(const void* src, void* dst, size_t elem_size, const Dims& out_dims, int64_t src_offset,
                  const std::vector<int64_t>& src_strides) {
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  switch (elem_size) {
    case 1: copy_rows<1>(s, d, out_dims, src_offset, src_strides); break;
    case 2: copy_rows<2>(s, d, out_dims, src_offset, src_strides); break;
    case 4: copy_rows<4>(s, d, out_dims, src_offset, src_strides); break;
    default: copy_rows<8>(s, d, out_dims, src_offset, src_strides); break;
  }
}

bool broadcast_dims(const Dims& a, const Dims& b, Dims* out) {
  const size_t r = a.size() > b.size() ? a.size() : b.size();
  out->assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    int64_t v;
    if (x == y) v = x;
    else if (x == 1) v = y;
    else if (y == 1) v = x;
    else if (x < 0) v = y;  // unknown vs fixed (> 1): must be that size or 1
    else if (y < 0) v = x;
    else return false;
    (*out)[i] = v;
  }
  return true;
}

std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out) {
  const std::vector<int64_t> cs = contiguous_strides(in);
  std::vector<int64_t> s(out.size(), 0);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[lead + i] = in[i] == 1 && out[lead + i] != 1 ? 0 : cs[i];
  return s;
}

Dims concat_dims(const InferContext& ctx, int64_t axis, const char* axis_name) {
  const Dims& first = ctx.dims(0);
  Dims out = first;
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    const Dims& d = ctx.dims(i);
    if (d.size() != first.size())
      ctx.fail("shape", "input '" + ctx.input_name(i) + "' has shape " + shape_str(d) + ", input '" +
                            ctx.input_name(0) + "' has " + shape_str(first));
    for (size_t k = 0; k < d.size(); ++k) {
      if (static_cast<int64_t>(k) == axis) {
        out[k] = out[k] < 0 || d[k] < 0 ? kUnknownDim : out[k] + d[k];
      } else if (d[k] >= 0 && out[k] >= 0 && d[k] != out[k]) {
        ctx.fail("shape", "input '" + ctx.input_name(i) + "' has shape " + shape_str(d) + ", which differs from " +
                              shape_str(first) + " outside " + axis_name + " " + std::to_string(axis));
      } else if (out[k] < 0) {
        out[k] = d[k];
      }
    }
  }
  return out;
}

}  // namespace runtime
}  // namespace linger
