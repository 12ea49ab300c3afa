// linger PyTorch extension: the eval integer ops of the op families of
// include/linger/ops.inc (binary elementwise, reductions, concatenation,
// clamp, lookup tables, softmax, bmm). One torch op per family; the op within
// the family is its linger::OpId. Each calls the shared numerics headers, so
// the PyTorch eval forward produces exactly the runtime's integers.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "linger/numerics/binary.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/lut.h"
#include "linger/numerics/reduce.h"
#include "linger/numerics/softmax.h"
#include "linger/op_ids.h"

namespace {

namespace ln = linger::numerics;
using linger::OpId;

OpId op_id(int64_t code, const char* family) {
  TORCH_CHECK(code >= 0 && code < linger::kOpCount, "linger ", family, ": unknown op code ", code);
  return static_cast<OpId>(code);
}

at::Tensor int8_cpu(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kChar, "linger: ", what, " must be int8, got ", at::toString(t.scalar_type()));
  return t.to(at::kCPU).contiguous();
}

std::vector<std::string> op_table() {
  std::vector<std::string> rows;
  for (const auto& info : linger::kOpInfos)
    rows.push_back(std::string(info.name) + "|" + info.domain + "|" + info.op_type + "|" + info.family);
  return rows;
}

at::Tensor binary_int(const at::Tensor& a, const at::Tensor& b, int64_t op, int64_t qa, int64_t qb, int64_t qo) {
  const OpId id = op_id(op, "binary_int");
  TORCH_CHECK(ln::is_binary_op(id), "linger binary_int: ", linger::op_info(id).name, " is not a binary op");
  auto ab = at::broadcast_tensors({int8_cpu(a, "operand a"), int8_cpu(b, "operand b")});
  auto ac = ab[0].contiguous(), bc = ab[1].contiguous();
  auto y = at::empty(ac.sizes(), ac.options());
  const auto p = ln::BinaryParams::make(id, static_cast<int>(qa), static_cast<int>(qb), static_cast<int>(qo));
  const int8_t* ap = ac.data_ptr<int8_t>();
  const int8_t* bp = bc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, y.numel(), 16384, [&](int64_t s, int64_t e) { ln::binary_int8(p, ap + s, 1, bp + s, 1, yp + s, e - s); });
  return y.to(a.device());
}

// Moves the reduced dims last; returns the rows view [outer, n] and the kept output shape.
at::Tensor rows_last(const at::Tensor& x, at::IntArrayRef dims, bool keepdim, std::vector<int64_t>* out_shape) {
  const int64_t r = x.dim();
  std::vector<bool> red(static_cast<size_t>(std::max<int64_t>(r, 1)), dims.empty());
  for (int64_t d : dims) {
    const int64_t k = d < 0 ? d + r : d;
    TORCH_CHECK(k >= 0 && k < std::max<int64_t>(r, 1), "linger reduce: dim ", d, " out of range for rank ", r);
    red[static_cast<size_t>(k)] = true;
  }
  std::vector<int64_t> perm, kept;
  int64_t n = 1;
  for (int64_t d = 0; d < r; ++d)
    if (!red[static_cast<size_t>(d)]) {
      perm.push_back(d);
      out_shape->push_back(x.size(d));
      kept.push_back(x.size(d));
    } else if (keepdim) {
      out_shape->push_back(1);
    }
  for (int64_t d = 0; d < r; ++d)
    if (red[static_cast<size_t>(d)]) {
      perm.push_back(d);
      n *= x.size(d);
    }
  auto t = r == 0 ? x.reshape({1, 1}) : x.permute(perm).contiguous();
  int64_t outer = 1;
  for (int64_t k : kept) outer *= k;
  return t.reshape({outer, n});
}

at::Tensor reduce_int(const at::Tensor& x, int64_t op, at::IntArrayRef dims, bool keepdim, int64_t qx, int64_t qo,
                      bool unbiased) {
  const OpId id = op_id(op, "reduce_int");
  TORCH_CHECK(ln::is_reduce_op(id), "linger reduce_int: ", linger::op_info(id).name, " is not a reduction");
  std::vector<int64_t> out_shape;
  auto rows = rows_last(int8_cpu(x, "input"), dims, keepdim, &out_shape);
  const int64_t outer = rows.size(0), n = rows.size(1);
  TORCH_CHECK(n >= 1 && n <= ln::kMaxReduceCount, "linger ", linger::op_info(id).name, ": reduces ", n,
              " elements; supported: 1 to ", ln::kMaxReduceCount);
  ln::ReduceParams p;
  p.op = id;
  p.qx = static_cast<int>(qx);
  p.qo = static_cast<int>(qo);
  p.unbiased = unbiased;
  auto y = at::empty({outer}, rows.options());
  const int8_t* xp = rows.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, outer, 64, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) yp[i] = ln::reduce_row_int8(p, xp + i * n, n, 1);
  });
  return y.reshape(out_shape).to(x.device());
}

at::Tensor concat_int(at::TensorList xs, int64_t dim, at::IntArrayRef qs, int64_t qo) {
  TORCH_CHECK(!xs.empty() && xs.size() == qs.size(), "linger concat_int: one exponent per input");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto xc = int8_cpu(xs[i], "input");
    auto y = at::empty(xc.sizes(), xc.options());
    const int shift = static_cast<int>(qs[i] - qo);
    const int8_t* xp = xc.data_ptr<int8_t>();
    int8_t* yp = y.data_ptr<int8_t>();
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqcat_rescale(xp[k], shift);
    parts.push_back(y);
  }
  return at::cat(parts, dim).to(xs[0].device());
}

at::Tensor clamp_int(const at::Tensor& x, int64_t lo, int64_t hi) {
  TORCH_CHECK(lo <= hi && lo >= -128 && hi <= 127, "linger clamp_int: need -128 <= lo <= hi <= 127");
  auto xc = int8_cpu(x, "input");
  auto y = at::empty(xc.sizes(), xc.options());
  const int8_t* xp = xc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqclamp(xp[k], static_cast<int>(lo), static_cast<int>(hi));
  return y.to(x.device());
}

at::Tensor lut_int(const at::Tensor& x, int64_t op, int64_t qx) {
  const OpId id = op_id(op, "lut_int");
  TORCH_CHECK(id == OpId::iqSigmoid || id == OpId::iqTanh, "linger lut_int: ", linger::op_info(id).name,
              " is not a lookup-table op");
  auto xc = int8_cpu(x, "input");
  auto y = at::empty(xc.sizes(), xc.options());
  const int8_t* xp = xc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  const int q = static_cast<int>(qx);
  if (id == OpId::iqSigmoid)
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqsigmoid(xp[k], q);
  else
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqtanh(xp[k], q);
  return y.to(x.device());
}

at::Tensor softmax_int(const at::Tensor& x, int64_t op, int64_t dim, int64_t qx, int64_t qo) {
  const OpId id = op_id(op, "softmax_int");
  TORCH_CHECK(id == OpId::SoftmaxInt || id == OpId::LogSoftmaxInt, "linger softmax_int: ", linger::op_info(id).name,
              " is not a softmax op");
  auto xc = int8_cpu(x, "input");
  TORCH_CHECK(xc.dim() >= 1, "linger softmax_int: input must have rank >= 1");
  const int64_t d = dim < 0 ? dim + xc.dim() : dim;
  TORCH_CHECK(d >= 0 && d < xc.dim(), "linger softmax_int: dim ", dim, " out of range");
  auto t = xc.transpose(d, -1).contiguous();
  const int64_t n = t.size(-1), outer = n ? t.numel() / n : 0;
  auto y = at::empty(t.sizes(), t.options());
  const int8_t* xp = t.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, outer, 16, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      if (id == OpId::SoftmaxInt)
        ln::softmax_int_row(xp + i * n, n, 1, static_cast<int>(qx), static_cast<int>(qo), yp + i * n, 1);
      else
        ln::log_softmax_int_row(xp + i * n, n, 1, static_cast<int>(qx), static_cast<int>(qo), yp + i * n, 1);
    }
  });
  return y.transpose(d, -1).contiguous().to(x.device());
}

// a [..., m, k] @ b [..., k, n] with equal batch dims: acc = sum a*b in int64, y = sat_ob(rhu_shift(acc, shift)).
at::Tensor bmm_int(const at::Tensor& a, const at::Tensor& b, int64_t shift, int64_t out_bits) {
  TORCH_CHECK(out_bits == 8 || out_bits == 16 || out_bits == 32, "linger bmm_int: out_bits must be 8, 16 or 32");
  auto ac = int8_cpu(a, "operand a"), bc = int8_cpu(b, "operand b");
  TORCH_CHECK(ac.dim() >= 2 && ac.dim() == bc.dim() && ac.size(-1) == bc.size(-2) &&
                  ac.sizes().slice(0, ac.dim() - 2) == bc.sizes().slice(0, bc.dim() - 2),
              "linger bmm_int: shapes ", ac.sizes(), " and ", bc.sizes(), " do not multiply");
  const int64_t m = ac.size(-2), k = ac.size(-1), n = bc.size(-1);
  int64_t batch = 1;
  for (int64_t d = 0; d + 2 < ac.dim(); ++d) batch *= ac.size(d);
  auto bt = bc.transpose(-1, -2).contiguous();  // [..., n, k]: the LinearInt weight layout
  auto sizes = ac.sizes().vec();
  sizes.back() = n;
  const auto otype = out_bits == 8 ? at::kChar : (out_bits == 16 ? at::kShort : at::kInt);
  auto y = at::empty(sizes, ac.options().dtype(otype));
  const int8_t* ap = ac.data_ptr<int8_t>();
  const int8_t* bp = bt.data_ptr<int8_t>();
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_bmm_int", [&] {
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, batch * m, 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        const int64_t bi = i / m, r = i % m;
        ln::linear_int_row(ap + bi * m * k, bp + bi * n * k, nullptr, yp + bi * m * n + r * n, r, k, n,
                           static_cast<int>(shift), static_cast<int>(out_bits));
      }
    });
  });
  return y.to(a.device());
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(linger, m) {
  m.def("op_table() -> str[]", op_table);
  m.def("binary_int(Tensor a, Tensor b, int op, int qa, int qb, int qo) -> Tensor", binary_int);
  m.def("reduce_int(Tensor x, int op, int[] dims, bool keepdim, int qx, int qo, bool unbiased) -> Tensor", reduce_int);
  m.def("concat_int(Tensor[] xs, int dim, int[] qs, int qo) -> Tensor", concat_int);
  m.def("clamp_int(Tensor x, int lo, int hi) -> Tensor", clamp_int);
  m.def("lut_int(Tensor x, int op, int qx) -> Tensor", lut_int);
  m.def("softmax_int(Tensor x, int op, int dim, int qx, int qo) -> Tensor", softmax_int);
  m.def("bmm_int(Tensor a, Tensor b, int shift, int out_bits) -> Tensor", bmm_int);
}
