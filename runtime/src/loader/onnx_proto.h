// The subset of the ONNX protobuf schema (onnx/onnx.proto) the runtime reads,
// as plain structs, and its decoder. Field numbers are those of onnx.proto.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace linger {
namespace runtime {
namespace onnx {

// TensorProto.DataType values used here.
enum TensorDataType : int32_t {
  kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kBfloat16 = 16,
};
const char* data_type_name(int32_t data_type);

struct TensorProto {
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  std::string name;
  bool has_raw_data = false;
  std::string raw_data;
  std::vector<float> float_data;
  std::vector<int32_t> int32_data;
  std::vector<int64_t> int64_data;
  bool has_unsupported_data = false;  // string/double/uint64 data or segment
  bool has_external_data = false;     // external_data entries or data_location == EXTERNAL
};

// AttributeProto.AttributeType.
enum class AttrType : int32_t {
  kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kFloats = 6, kInts = 7,
  kStrings = 8, kTensors = 9, kGraphs = 10, kSparseTensor = 11, kSparseTensors = 12, kTypeProto = 13,
  kTypeProtos = 14,
};
const char* attr_type_name(AttrType type);

struct AttributeProto {
  std::string name;
  AttrType type = AttrType::kUndefined;  // the declared type, or inferred from the field present
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<TensorProto> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct NodeProto {
  std::vector<std::string> inputs, outputs;
  std::string name, op_type, domain;
  std::vector<AttributeProto> attributes;
};

struct Dimension {
  bool has_value = false;
  int64_t value = 0;
  std::string param;
};

struct ValueInfoProto {
  std::string name;
  bool has_tensor_type = false;  // false: no type, or a non-tensor type
  bool has_other_type = false;   // a sequence / map / optional / sparse type
  int32_t elem_type = 0;
  bool has_shape = false;
  std::vector<Dimension> dims;
};

struct GraphProto {
  std::string name;
  std::vector<NodeProto> nodes;
  std::vector<TensorProto> initializers;
  bool has_sparse_initializer = false;
  std::vector<ValueInfoProto> inputs, outputs, value_infos;
};

struct OperatorSetId {
  std::string domain;
  int64_t version = 0;
};

struct ModelProto {
  int64_t ir_version = 0;
  std::vector<OperatorSetId> opset_imports;
  std::string producer_name, producer_version, domain;
  bool has_graph = false;
  GraphProto graph;
  bool has_functions = false;
};

// Decodes a serialized ModelProto; throws ParseError on malformed bytes.
ModelProto decode_model(const uint8_t* data, size_t size);

}  // namespace onnx
}  // namespace runtime
}  // namespace linger
