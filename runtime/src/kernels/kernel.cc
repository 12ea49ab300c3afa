#include "kernels/kernel.h"

#include <algorithm>
#include <limits>

#include "linger/runtime/errors.h"

namespace linger {
namespace runtime {

bool dims_known(const Dims& dims) {
  for (int64_t d : dims)
    if (d < 0) return false;
  return true;
}

int64_t dims_numel(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (d < 0) return -1;
  for (int64_t d : dims) {
    if (d == 0) return 0;
    n = n > kSaturatedNumel / d ? kSaturatedNumel : n * d;
  }
  return n;
}

namespace {

template <typename T>
void clamp_all(Tensor* t, int64_t lo, int64_t hi) {
  const T l = static_cast<T>(std::max<int64_t>(lo, std::numeric_limits<T>::lowest()));
  const T h = static_cast<T>(std::min<int64_t>(hi, std::numeric_limits<T>::max()));
  T* y = t->data<T>();
  const int64_t n = t->numel();
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] < l ? l : (y[i] > h ? h : y[i]);
}

}  // namespace

bool OutputClamp::is_relu(DType dtype) const {
  if (!active || lo != 0) return false;
  switch (dtype) {
    case DType::kInt8: return hi >= std::numeric_limits<int8_t>::max();
    case DType::kInt16: return hi >= std::numeric_limits<int16_t>::max();
    case DType::kInt32: return hi >= std::numeric_limits<int32_t>::max();
    default: return false;
  }
}

void OutputClamp::apply(Tensor* t) const {
  if (!active) return;
  switch (t->dtype()) {
    case DType::kInt8: clamp_all<int8_t>(t, lo, hi); break;
    case DType::kInt16: clamp_all<int16_t>(t, lo, hi); break;
    case DType::kInt32: clamp_all<int32_t>(t, lo, hi); break;
    default: throw ExecutionError("internal: a fused output clamp on a " + std::string(dtype_name(t->dtype())) + " tensor");
  }
}

const std::string& InferContext::input_name(int i) const {
  static const std::string kOmitted;
  const int id = node_.inputs[static_cast<size_t>(i)];
  return id >= 0 ? graph_.values[static_cast<size_t>(id)].name : kOmitted;
}

void InferContext::set_output(int i, DType dtype, Dims dims) {
  ValueState& v = values_[static_cast<size_t>(node_.outputs[static_cast<size_t>(i)])];
  v.defined = true;
  v.dtype = dtype;
  v.dims = std::move(dims);
}

void InferContext::set_output_constant(int i, Tensor value) {
  ValueState& v = values_[static_cast<size_t>(node_.outputs[static_cast<size_t>(i)])];
  v.defined = true;
  v.dtype = value.dtype();
  v.dims = value.shape();
  v.constant = std::make_shared<const Tensor>(std::move(value));
}

void InferContext::expect_dtype(int i, std::initializer_list<DType> allowed, const char* role) const {
  const DType t = dtype(i);
  std::string names;
  for (DType a : allowed) {
    if (a == t) return;
    names += (names.empty() ? "" : " or ") + std::string(dtype_name(a));
  }
  fail("dtype", std::string(role) + " '" + input_name(i) + "' is " + dtype_name(t) + ", expected " + names);
}

void InferContext::expect_rank(int i, size_t rank, const char* role) const {
  if (dims(i).size() != rank)
    fail("shape", std::string(role) + " '" + input_name(i) + "' has shape " + shape_str(dims(i)) + ", expected rank " +
                      std::to_string(rank));
}

std::optional<std::vector<int64_t>> InferContext::const_ints(int i, const char* role) const {
  expect_dtype(i, {DType::kInt64, DType::kInt32}, role);
  if (dims(i).size() > 1)
    fail("shape", std::string(role) + " '" + input_name(i) + "' must be 1-D, has shape " + shape_str(dims(i)));
  const Tensor* t = constant(i);
  if (!t) {
    if (!complete()) return std::nullopt;
    fail("constant-input", std::string(role) + " '" + input_name(i) +
                               "' must be known at load (an initializer, a Constant or computed from static shapes)");
  }
  if (t->dtype() == DType::kInt64) return t->to_vector<int64_t>();
  const int32_t* p = t->data<int32_t>();
  return std::vector<int64_t>(p, p + t->numel());
}

std::vector<int64_t> InferContext::attr_ints(const char* name, size_t count, std::vector<int64_t> fallback,
                                             int64_t lo, int64_t hi) const {
  const Attribute* a = node_.attr(name);
  if (!a) return fallback;
  if (a->ints.size() != count)
    fail("attribute-value", std::string("attribute '") + name + "' must have " + std::to_string(count) + " values, has " +
                                std::to_string(a->ints.size()));
  for (int64_t v : a->ints)
    if (v < lo || v > hi)
      fail("attribute-value", std::string("attribute '") + name + "' value " + std::to_string(v) + " is outside " +
                                  std::to_string(lo) + ".." + std::to_string(hi));
  return a->ints;
}

int64_t InferContext::axis(int64_t a, int64_t rank, const char* what) const {
  if (a < -rank || a >= rank)
    fail("attribute-value", std::string(what) + " " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
  return a < 0 ? a + rank : a;
}

void RunContext::fail(const std::string& detail) const { throw ExecutionError(node->label() + ": " + detail); }

}  // namespace runtime
}  // namespace linger
