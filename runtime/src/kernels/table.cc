// TableInt (domain linger): int8 x at scale_x; input 1 the int8 tables [C, 256]
// (C == 1, or C == the channels in dim 1 of x: PReLU); y = table[ch][x + 128]
// (numerics::table_lookup), int8 at scale_o. The tables are the integers of the
// activation named by `function` (include/linger/numerics/table.h), written by
// the exporter; the runtime only gathers.
#include "kernels/kernel.h"
#include "linger/numerics/table.h"

namespace linger {
namespace runtime {

namespace {

class TableKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    ctx.expect_dtype(1, {DType::kInt8}, "table");
    ctx.expect_rank(1, 2, "table");
    const Dims& t = ctx.dims(1);
    const Dims& in = ctx.dims(0);
    if (t[1] >= 0 && t[1] != numerics::kTableSize) ctx.fail("shape", "table must be [C, 256], got " + shape_str(t));
    if (t[0] >= 0 && t[0] != 1) {
      if (in.size() < 2) ctx.fail("shape", "per-channel tables need an input of rank >= 2, got " + shape_str(in));
      if (in[1] >= 0 && in[1] != t[0])
        ctx.fail("shape", "table rows " + std::to_string(t[0]) + " != input channels " + std::to_string(in[1]));
    }
    if (ctx.complete()) {
      c_ = t[0];
      inner_ = c_ == 1 ? 1 : dims_numel(Dims(in.begin() + 2, in.end()));
    }
    ctx.set_output(0, DType::kInt8, in);
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int8_t* table = ctx.in(1).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    const int64_t count = ctx.out(0).numel();
    if (c_ == 1) {
      for (int64_t i = 0; i < count; ++i) y[i] = numerics::table_lookup(x[i], table);
      return;
    }
    for (int64_t i = 0; i < count; ++i) y[i] = numerics::table_lookup(x[i], table + ((i / inner_) % c_) * numerics::kTableSize);
  }

 private:
  int64_t c_ = 1, inner_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Table(OpKind) { return std::make_unique<TableKernel>(); }

}  // namespace runtime
}  // namespace linger
