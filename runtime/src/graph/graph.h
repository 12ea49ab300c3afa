// The validated graph the loader builds from a ModelProto: values (graph
// inputs, initializers, node outputs) numbered densely, nodes in topological
// order with their op kind, schema and typed attributes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/op_kind.h"
#include "linger/runtime/session.h"
#include "linger/runtime/tensor.h"
#include "loader/onnx_proto.h"

namespace linger {
namespace runtime {

struct OpSchema;
using onnx::AttrType;

// Highest tensor rank the runtime accepts (numpy's limit).
constexpr size_t kMaxRank = 32;

struct Attribute {
  std::string name;
  AttrType type = AttrType::kUndefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const Tensor> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  int exponent = 0;  // for scale_* attributes: Q with f == 2^Q (validated at load)
};

struct Node {
  int index = 0;
  std::string name, op_type, domain;
  OpKind kind = OpKind::kCount;
  const OpSchema* schema = nullptr;
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input ("")
  std::vector<int> outputs;  // value ids
  std::vector<Attribute> attrs;
  // An activation fused into this node's requantisation at load (ReLU, ReLU6,
  // Clip after a Conv2dInt / Conv1dInt / LinearInt with an integer output):
  // the output is clamped to [lo, hi], integers at the output exponent
  // (opt::OutputStage). Unset: nothing fused.
  struct FusedClamp {
    int32_t lo, hi;
  };
  std::optional<FusedClamp> fused_clamp;

  // "node 'conv1' (Conv2dInt)", or "node #3 (Conv2dInt)" when unnamed.
  std::string label() const;
  // Throws ValidationError naming this node and the rule.
  [[noreturn]] void fail(const std::string& rule, const std::string& detail) const;

  const Attribute* attr(const std::string& attr_name) const;  // nullptr when absent
  bool has_attr(const std::string& attr_name) const { return attr(attr_name) != nullptr; }
  int64_t attr_int(const std::string& attr_name, int64_t fallback) const;
  std::vector<int64_t> attr_ints(const std::string& attr_name, std::vector<int64_t> fallback) const;
  // The exponent Q of a scale_* attribute (must be present).
  int scale_exponent(const std::string& attr_name) const;
};

struct Value {
  std::string name;
  int producer = -1;  // node index, -1 for graph inputs and initializers
  bool is_graph_input = false;
  std::shared_ptr<const Tensor> initializer;  // set for initializers
};

// A declared type (graph input/output, value_info): dtype plus dims (-1 unknown).
struct DeclaredType {
  int value = -1;
  bool has_dtype = false;
  DType dtype = DType::kFloat32;
  bool has_shape = false;
  std::vector<int64_t> dims;
  std::string what;  // "graph output 'y'"
};

struct Graph {
  ModelInfo info;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, outputs;                // value ids
  std::vector<TensorInfo> input_infos, output_infos;
  std::vector<DeclaredType> declared;              // outputs and value_info entries, checked after inference
  std::unordered_map<std::string, int> index;      // value name -> id
  int find_value(const std::string& name) const;   // -1 when absent
};

// Builds and structurally validates the graph (opsets, names, topological
// order, op known, input/output counts, attributes, scales): every failure is
// a ValidationError (or ParseError for unusable tensor data).
Graph build_graph(const onnx::ModelProto& model, int64_t max_tensor_bytes);

// TensorProto -> Tensor; `what` names it in errors ("initializer 'w'").
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what, int64_t max_tensor_bytes);
// ONNX TensorProto.DataType -> DType; false when the runtime does not support it.
bool dtype_from_onnx(int32_t data_type, DType* dtype);
int32_t dtype_to_onnx(DType dtype);

}  // namespace runtime
}  // namespace linger
