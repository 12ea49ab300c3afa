// ONNX TensorProto -> runtime Tensor, with every size checked.
#include <cstring>
#include <limits>

#include "graph/graph.h"
#include "linger/runtime/errors.h"
#include "size_math.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw tensor data is little-endian; big-endian hosts are not supported");

namespace linger {
namespace runtime {

bool dtype_from_onnx(int32_t data_type, DType* dtype) {
  switch (data_type) {
    case onnx::kFloat: *dtype = DType::kFloat32; return true;
    case onnx::kInt8: *dtype = DType::kInt8; return true;
    case onnx::kInt16: *dtype = DType::kInt16; return true;
    case onnx::kInt32: *dtype = DType::kInt32; return true;
    case onnx::kInt64: *dtype = DType::kInt64; return true;
    default: return false;
  }
}

int32_t dtype_to_onnx(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return onnx::kFloat;
    case DType::kInt8: return onnx::kInt8;
    case DType::kInt16: return onnx::kInt16;
    case DType::kInt32: return onnx::kInt32;
    case DType::kInt64: return onnx::kInt64;
  }
  return onnx::kUndefined;
}

namespace {

template <typename Dst, typename Src>
void copy_checked(const std::vector<Src>& src, Tensor* t, const std::string& what) {
  Dst* dst = t->data<Dst>();
  for (size_t i = 0; i < src.size(); ++i) {
    const Src v = src[i];
    if (v < std::numeric_limits<Dst>::lowest() || v > std::numeric_limits<Dst>::max())
      throw ParseError(what + ": value " + std::to_string(v) + " out of range of " + dtype_name(t->dtype()));
    dst[i] = static_cast<Dst>(v);
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& what, int64_t max_tensor_bytes) {
  DType dtype;
  if (!dtype_from_onnx(p.data_type, &dtype))
    throw ParseError(what + ": unsupported data type " + onnx::data_type_name(p.data_type) + " (" +
                     std::to_string(p.data_type) + "); supported: FLOAT, INT8, INT16, INT32, INT64");
  if (p.has_external_data) throw ParseError(what + ": external data is not supported (store the data in the file)");
  if (p.has_unsupported_data) throw ParseError(what + ": unsupported data encoding (segment/string/double/uint64 data)");
  const int64_t size = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : p.dims)
    if (d < 0) throw ParseError(what + ": negative dimension " + std::to_string(d));
  if (extent_bytes(p.dims, size) > max_tensor_bytes)
    throw ParseError(what + ": shape " + shape_str(p.dims) + " exceeds the tensor size limit of " +
                     std::to_string(max_tensor_bytes) +
                     " bytes (SessionOptions.max_tensor_bytes; a zero dimension counts as 1)");
  int64_t numel = 1;
  for (int64_t d : p.dims) numel *= d;  // no overflow: at most the extent checked above
  const size_t count = static_cast<size_t>(numel);
  int sources = (p.has_raw_data ? 1 : 0) + (!p.float_data.empty() ? 1 : 0) + (!p.int32_data.empty() ? 1 : 0) +
                (!p.int64_data.empty() ? 1 : 0);
  if (sources > 1) throw ParseError(what + ": data given in more than one field");
  Tensor t(dtype, p.dims);
  if (p.has_raw_data) {
    if (p.raw_data.size() != t.nbytes())
      throw ParseError(what + ": raw_data has " + std::to_string(p.raw_data.size()) + " bytes, shape " +
                       shape_str(p.dims) + " of " + dtype_name(dtype) + " needs " + std::to_string(t.nbytes()));
    if (t.nbytes()) std::memcpy(t.raw_data(), p.raw_data.data(), t.nbytes());
    return t;
  }
  size_t given = 0;
  const char* field = "";
  switch (dtype) {
    case DType::kFloat32: given = p.float_data.size(); field = "float_data"; break;
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32: given = p.int32_data.size(); field = "int32_data"; break;
    case DType::kInt64: given = p.int64_data.size(); field = "int64_data"; break;
  }
  if (sources == 1 && given == 0) throw ParseError(what + ": data stored in a field that does not match its data type");
  if (given != count)
    throw ParseError(what + ": " + field + " has " + std::to_string(given) + " values, shape " + shape_str(p.dims) +
                     " needs " + std::to_string(count));
  switch (dtype) {
    case DType::kFloat32:
      if (count) std::memcpy(t.raw_data(), p.float_data.data(), count * sizeof(float));
      break;
    case DType::kInt8: copy_checked<int8_t>(p.int32_data, &t, what); break;
    case DType::kInt16: copy_checked<int16_t>(p.int32_data, &t, what); break;
    case DType::kInt32: copy_checked<int32_t>(p.int32_data, &t, what); break;
    case DType::kInt64:
      if (count) std::memcpy(t.raw_data(), p.int64_data.data(), count * sizeof(int64_t));
      break;
  }
  return t;
}

}  // namespace runtime
}  // namespace linger
