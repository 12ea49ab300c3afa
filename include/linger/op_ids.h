// linger::OpId and linger::OpFamily: include/linger/ops.inc expanded once for
// every consumer that is not the runtime (which adds the standard ONNX ops to
// its own enum). Header-only, no dependencies.
#pragma once

namespace linger {

enum class OpId : int {
#define LINGER_OP(name, domain, op_type, family) name,
#include "linger/ops.inc"
#undef LINGER_OP
  kCount
};


struct OpInfo {
  const char* name;
  const char* domain;
  const char* op_type;
  const char* family;
};

constexpr OpInfo kOpInfos[] = {
#define LINGER_OP(name, domain, op_type, family) {#name, domain, op_type, #family},
#include "linger/ops.inc"
#undef LINGER_OP
};

constexpr int kOpCount = static_cast<int>(OpId::kCount);
static_assert(sizeof(kOpInfos) / sizeof(kOpInfos[0]) == kOpCount, "ops.inc expanded inconsistently");

constexpr const OpInfo& op_info(OpId id) { return kOpInfos[static_cast<int>(id)]; }

}  // namespace linger
