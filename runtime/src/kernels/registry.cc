// OpKind -> kernel, expanded from include/linger/ops.inc (one factory per
// family, make_kernel_<Family>(kind), defined in that family's kernel file)
// and graph/std_ops.inc (make_kernel_<Name>). An op listed without a kernel
// is a link error; tests/runtime/test_op_coverage.cc checks schemas and
// parity cases.
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

#define LINGER_OP(name, domain, op, family) std::unique_ptr<Kernel> make_kernel_##family(OpKind kind);
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) std::unique_ptr<Kernel> make_kernel_##name(OpKind kind);
#include "graph/std_ops.inc"
#undef LINGER_STD_OP

std::unique_ptr<Kernel> create_kernel(const Node& node) {
  switch (node.kind) {
#define LINGER_OP(name, domain, op, family) \
  case OpKind::name: return make_kernel_##family(node.kind);
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) \
  case OpKind::name: return make_kernel_##name(node.kind);
#include "graph/std_ops.inc"
#undef LINGER_STD_OP
    default: return nullptr;
  }
}

}  // namespace runtime
}  // namespace linger
