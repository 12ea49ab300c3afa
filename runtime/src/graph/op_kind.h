// Every op the runtime knows: the quantized ops of include/linger/ops.inc
// followed by the standard data-movement ops of std_ops.inc.
#pragma once

#include <string>

#include "linger/op_ids.h"

namespace linger {
namespace runtime {

enum class OpKind : int {
#define LINGER_OP(name, domain, op, family) name,
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) name,
#include "graph/std_ops.inc"
#undef LINGER_STD_OP
  kCount
};

constexpr int kOpKindCount = static_cast<int>(OpKind::kCount);

// The ops of include/linger/ops.inc come first, in the same order as linger::OpId.
inline OpId to_op_id(OpKind kind) { return static_cast<OpId>(static_cast<int>(kind)); }
static_assert(static_cast<int>(OpKind::Quant) == static_cast<int>(OpId::Quant) &&
                  static_cast<int>(OpKind::ShuffleChannel) == static_cast<int>(OpId::ShuffleChannel),
              "OpKind must start with the ops of ops.inc in order");

const char* op_domain(OpKind kind);   // "thinker" or "" (the default ONNX domain)
const char* op_type_name(OpKind kind);
// Looks up (domain, op_type); "ai.onnx" is the default domain. Returns false when unknown.
bool find_op(const std::string& domain, const std::string& op_type, OpKind* kind);
// True when op_type is known in some domain (for "wrong domain" messages).
bool find_op_any_domain(const std::string& op_type, OpKind* kind);

}  // namespace runtime
}  // namespace linger
