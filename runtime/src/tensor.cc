#include "linger/runtime/tensor.h"

#include <cstddef>
#include <cstring>
#include <limits>

#include "linger/runtime/errors.h"

namespace linger {
namespace runtime {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
  }
  return 1;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt8: return "int8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
  }
  return "?";
}

bool dtype_is_integer(DType dtype) { return dtype != DType::kFloat32; }

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InputError("invalid shape " + shape_str(shape) + ": negative dimension");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw InputError("invalid shape " + shape_str(shape) + ": element count overflows int64");
    n *= d;
  }
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor() : dtype_(DType::kFloat32), shape_{0}, numel_(0) {}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape, NoFill)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  const size_t size = dtype_size(dtype_);
  if (static_cast<uint64_t>(numel_) > static_cast<uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / size)
    throw InputError("tensor of shape " + shape_str(shape_) + " is too large");
  bytes_.resize(static_cast<size_t>(numel_) * size);  // default-initialised: not zeroed
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : Tensor(dtype, std::move(shape), NoFill{}) {
  if (!bytes_.empty()) std::memset(bytes_.data(), 0, bytes_.size());
}

Tensor Tensor::uninitialized(DType dtype, std::vector<int64_t> shape) { return Tensor(dtype, std::move(shape), NoFill{}); }

Tensor Tensor::from_bytes(DType dtype, std::vector<int64_t> shape, const void* data, size_t nbytes) {
  const int64_t n = shape_numel(shape);
  if (nbytes % dtype_size(dtype) != 0 || nbytes / dtype_size(dtype) != static_cast<uint64_t>(n))
    throw InputError("tensor data of " + std::to_string(nbytes) + " bytes does not match " + dtype_name(dtype) +
                     " shape " + shape_str(shape));
  Tensor t(dtype, std::move(shape));
  if (nbytes) std::memcpy(t.bytes_.data(), data, nbytes);
  return t;
}

Tensor Tensor::view(DType dtype, std::vector<int64_t> shape, void* data, size_t nbytes) {
  const int64_t n = shape_numel(shape);
  if (nbytes % dtype_size(dtype) != 0 || nbytes / dtype_size(dtype) != static_cast<uint64_t>(n))
    throw InputError("view of " + std::to_string(nbytes) + " bytes does not match " + dtype_name(dtype) + " shape " +
                     shape_str(shape));
  if (nbytes && !data) throw InputError("view of " + std::to_string(nbytes) + " bytes at a null pointer");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  t.view_ = nbytes ? data : nullptr;
  t.view_bytes_ = nbytes;
  if (!nbytes) t.bytes_.clear();  // an empty view owns its (zero) bytes: nothing to borrow
  return t;
}

Tensor::Tensor(const Tensor& other) : dtype_(other.dtype_), shape_(other.shape_), numel_(other.numel_) {
  const unsigned char* src = static_cast<const unsigned char*>(other.raw_data());
  bytes_.assign(src, src + other.nbytes());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) {
    Tensor copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Tensor::Tensor(Tensor&& other) noexcept
    : dtype_(other.dtype_),
      shape_(std::move(other.shape_)),
      numel_(other.numel_),
      bytes_(std::move(other.bytes_)),
      view_(other.view_),
      view_bytes_(other.view_bytes_) {
  other.view_ = nullptr;
  other.view_bytes_ = 0;
  other.bytes_.clear();
  other.numel_ = 0;  // shape_ left empty: a moved-from tensor is only assigned to or destroyed
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    dtype_ = other.dtype_;
    shape_ = std::move(other.shape_);
    numel_ = other.numel_;
    bytes_ = std::move(other.bytes_);
    view_ = other.view_;
    view_bytes_ = other.view_bytes_;
    other.view_ = nullptr;
    other.view_bytes_ = 0;
    other.bytes_.clear();
    other.numel_ = 0;
  }
  return *this;
}

void Tensor::reshape(std::vector<int64_t> shape) {
  if (shape_numel(shape) != numel_)
    throw InputError("cannot reshape a tensor of shape " + shape_str(shape_) + " to " + shape_str(shape));
  shape_ = std::move(shape);
}

void Tensor::check_type(DType expected) const {
  if (expected != dtype_)
    throw InputError(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " + dtype_name(expected));
}

ValidationError::ValidationError(std::string where, std::string node_name, std::string op_type, std::string rule,
                                 const std::string& detail)
    : ModelError(where + ": rule '" + rule + "': " + detail),
      where_(std::move(where)),
      node_name_(std::move(node_name)),
      op_type_(std::move(op_type)),
      rule_(std::move(rule)) {}

}  // namespace runtime
}  // namespace linger
