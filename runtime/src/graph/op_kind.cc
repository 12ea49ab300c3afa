#include "graph/op_kind.h"

#include "graph/op_schema.h"
#include "linger/runtime/session.h"

namespace linger {
namespace runtime {

namespace {

struct OpName {
  const char* domain;
  const char* op_type;
};

constexpr OpName kOpNames[] = {
#define LINGER_OP(name, domain, op, family) {domain, op},
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) {"", #name},
#include "graph/std_ops.inc"
#undef LINGER_STD_OP
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == kOpKindCount, "op table out of sync");

}  // namespace

const char* op_domain(OpKind kind) { return kOpNames[static_cast<int>(kind)].domain; }
const char* op_type_name(OpKind kind) { return kOpNames[static_cast<int>(kind)].op_type; }

bool find_op(const std::string& domain, const std::string& op_type, OpKind* kind) {
  const std::string d = domain == "ai.onnx" ? std::string() : domain;
  for (int i = 0; i < kOpKindCount; ++i)
    if (d == kOpNames[i].domain && op_type == kOpNames[i].op_type) {
      *kind = static_cast<OpKind>(i);
      return true;
    }
  return false;
}

bool find_op_any_domain(const std::string& op_type, OpKind* kind) {
  for (int i = 0; i < kOpKindCount; ++i)
    if (op_type == kOpNames[i].op_type) {
      *kind = static_cast<OpKind>(i);
      return true;
    }
  return false;
}

std::vector<SupportedOp> supported_ops() {
  std::vector<SupportedOp> out;
  for (int i = 0; i < kOpKindCount; ++i)
    if (op_schema(static_cast<OpKind>(i))) out.push_back({kOpNames[i].domain, kOpNames[i].op_type});
  return out;
}

}  // namespace runtime
}  // namespace linger
