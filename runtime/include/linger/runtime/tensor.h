// The runtime's tensor: an element type, a shape and a contiguous, row-major
// (C order) buffer, owned -- or borrowed, for a view (Tensor::view: the
// runtime's memory arena and reshape-like ops). Copies are deep and own their
// buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace linger {
namespace runtime {

enum class DType : int { kFloat32 = 0, kInt8 = 1, kInt16 = 2, kInt32 = 3, kInt64 = 4 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "int8", "int16", "int32", "int64"
bool dtype_is_integer(DType dtype);

template <typename T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kInt8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kInt16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kInt64; };

// Number of elements of a shape; throws InputError on a negative dimension or
// when the count overflows int64.
int64_t shape_numel(const std::vector<int64_t>& shape);
std::string shape_str(const std::vector<int64_t>& shape);  // "[1,3,8,8]"; -1 prints as "?"

class Tensor {
 public:
  Tensor();  // an empty float32 tensor of shape [0]
  // Zero-filled tensor. Throws InputError on a negative dimension.
  Tensor(DType dtype, std::vector<int64_t> shape);
  // A tensor whose contents are unspecified (not zero-filled): for outputs
  // that are written in full before they are read (the runtime's intermediates).
  static Tensor uninitialized(DType dtype, std::vector<int64_t> shape);
  // A tensor over `nbytes` bytes at `data` that it does not own (nbytes must
  // equal numel * dtype_size, InputError otherwise; data aligned for the
  // element type). The memory must outlive the view; a copy of a view owns a
  // copy of the bytes.
  static Tensor view(DType dtype, std::vector<int64_t> shape, void* data, size_t nbytes);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor() = default;

  // Copies nbytes of data; nbytes must equal numel * dtype_size (InputError otherwise).
  static Tensor from_bytes(DType dtype, std::vector<int64_t> shape, const void* data, size_t nbytes);
  template <typename T>
  static Tensor from_vector(std::vector<int64_t> shape, const std::vector<T>& values) {
    return from_bytes(DTypeOf<T>::value, std::move(shape), values.data(), values.size() * sizeof(T));
  }

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return view_ ? view_bytes_ : bytes_.size(); }
  bool is_view() const { return view_ != nullptr; }

  void* raw_data() { return view_ ? view_ : bytes_.data(); }
  const void* raw_data() const { return view_ ? view_ : bytes_.data(); }

  // Typed access; throws InputError when T does not match dtype().
  template <typename T>
  T* data() {
    check_type(DTypeOf<T>::value);
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    check_type(DTypeOf<T>::value);
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel_);
  }

  // Same data, new shape with the same number of elements (InputError otherwise).
  void reshape(std::vector<int64_t> shape);

 private:
  void check_type(DType expected) const;

  DType dtype_;
  std::vector<int64_t> shape_;
  int64_t numel_;
  // Value-initialises only when asked to (resize() leaves bytes as they are).
  template <typename T>
  struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
      using other = DefaultInitAllocator<U>;
    };
    using std::allocator<T>::allocator;
    template <typename U>
    void construct(U* p) noexcept {
      ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  };
  struct NoFill {};
  Tensor(DType dtype, std::vector<int64_t> shape, NoFill);

  // operator new storage: aligned for every element type above.
  std::vector<unsigned char, DefaultInitAllocator<unsigned char>> bytes_;
  void* view_ = nullptr;  // a view's borrowed bytes (bytes_ is then empty)
  size_t view_bytes_ = 0;
};

}  // namespace runtime
}  // namespace linger
