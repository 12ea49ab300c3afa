// Constant (standard): exactly one of value (tensor), value_int, value_ints,
// value_float, value_floats.
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class ConstantKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if (n.attrs.size() != 1)
      ctx.fail("attribute-missing", "Constant needs exactly one of value, value_int, value_ints, value_float, value_floats");
    const Attribute& a = n.attrs[0];
    if (a.name == "value") {
      ctx.set_output_constant(0, *a.t);
    } else if (a.name == "value_int") {
      ctx.set_output_constant(0, Tensor::from_vector<int64_t>({}, {a.i}));
    } else if (a.name == "value_ints") {
      ctx.set_output_constant(0, Tensor::from_vector<int64_t>({static_cast<int64_t>(a.ints.size())}, a.ints));
    } else if (a.name == "value_float") {
      ctx.set_output_constant(0, Tensor::from_vector<float>({}, {a.f}));
    } else {
      ctx.set_output_constant(0, Tensor::from_vector<float>({static_cast<int64_t>(a.floats.size())}, a.floats));
    }
  }

  void run(const RunContext&) override {}  // always folded at load
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Constant(OpKind) { return std::make_unique<ConstantKernel>(); }

}  // namespace runtime
}  // namespace linger
