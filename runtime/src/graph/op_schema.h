// The declarative part of each op's contract (docs/onnx-dialect.md): input and
// output counts, attributes (type, required, allowed values), which input's
// exponent each scale attribute must equal, and how the output exponent is
// derived. Checked generically by build_graph / the planner; the op-specific
// dtype and shape rules live in each kernel's infer().
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/op_kind.h"
#include "loader/onnx_proto.h"

namespace linger {
namespace runtime {

struct AttrSpec {
  AttrSpec(const char* n, onnx::AttrType t, bool req = false) : name(n), type(t), required(req) {}
  const char* name;
  onnx::AttrType type;
  bool required;
  std::vector<int64_t> allowed_ints;  // INT: allowed values (empty: any)
  int64_t min_int = INT64_MIN;        // INT: allowed range
  int64_t max_int = INT64_MAX;
  std::vector<std::string> allowed_strings;  // STRING: allowed values (empty: any)
};

// Output exponent rule.
enum class ExponentRule {
  kNone,         // float / shape outputs carry no exponent
  kScaleAttr,    // 2^Q given by output_scale_attr (integer outputs only)
  kPassThrough,  // the exponent of input 0
  kAllInputs,    // every input's exponent, which must agree (Concat)
};

struct ScaleBinding {
  int input;         // input index
  const char* attr;  // its scale attribute, which must equal the input's exponent
};

struct OpSchema {
  int min_inputs, max_inputs;
  int min_outputs, max_outputs;
  std::vector<AttrSpec> attrs;
  std::vector<ScaleBinding> input_scales;
  ExponentRule output_exponent = ExponentRule::kNone;
  const char* output_scale_attr = nullptr;
  // Variadic ops (iqCat): a required FLOAT attribute <prefix><i> per input i,
  // bound to input i like input_scales.
  const char* per_input_scale_prefix = nullptr;
  // Outputs whose exponent is fixed by the op, not by output_exponent (LSTMInt: the cell state c at Q7):
  // {output index, exponent}.
  std::vector<std::pair<int, int>> fixed_output_exponents;
};

// The name of input i's scale attribute on a node of this schema (nullptr: none).
std::string per_input_scale_name(const OpSchema& s, int i);

// nullptr when the runtime has no kernel for the op.
const OpSchema* op_schema(OpKind kind);

}  // namespace runtime
}  // namespace linger
