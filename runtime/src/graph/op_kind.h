// Every op the runtime knows: the quantized ops of include/linger/ops.inc
// followed by the standard data-movement ops of std_ops.inc.
#pragma once

#include <string>

namespace linger {
namespace runtime {

enum class OpKind : int {
#define LINGER_OP(name, domain, op) name,
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) name,
#include "graph/std_ops.inc"
#undef LINGER_STD_OP
  kCount
};

constexpr int kOpKindCount = static_cast<int>(OpKind::kCount);

const char* op_domain(OpKind kind);   // "thinker" or "" (the default ONNX domain)
const char* op_type_name(OpKind kind);
// Looks up (domain, op_type); "ai.onnx" is the default domain. Returns false when unknown.
bool find_op(const std::string& domain, const std::string& op_type, OpKind* kind);
// True when op_type is known in some domain (for "wrong domain" messages).
bool find_op_any_domain(const std::string& op_type, OpKind* kind);

}  // namespace runtime
}  // namespace linger
