// BmmInt (thinker): int8 x [..., m, k] at scale_x times int8 y [..., k, n] at
// scale_y (equal batch dims) -> int8 [..., m, n] at scale_o:
// acc = sum x*y in int64, out = sat8(rhu_shift(acc, Qx + Qy - Qo))
// (numerics::linear_int_row with y transposed into the LinearInt weight layout).
#include <vector>

#include "kernels/kernel.h"
#include "linger/numerics/linear.h"

namespace linger {
namespace runtime {

namespace {

class BmmKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_dtype(1, {DType::kInt8}, "input y");
    const Dims& a = ctx.dims(0);
    const Dims& b = ctx.dims(1);
    if (a.size() < 2 || a.size() != b.size())
      ctx.fail("shape", "inputs of shapes " + shape_str(a) + " and " + shape_str(b) + " are not a batched matmul");
    Dims out = a;
    const size_t r = a.size();
    for (size_t i = 0; i + 2 < r; ++i) {
      if (a[i] >= 0 && b[i] >= 0 && a[i] != b[i])
        ctx.fail("shape", "batch dims of " + shape_str(a) + " and " + shape_str(b) + " differ");
      if (out[i] < 0) out[i] = b[i];
    }
    if (a[r - 1] >= 0 && b[r - 2] >= 0 && a[r - 1] != b[r - 2])
      ctx.fail("shape", "inner dims of " + shape_str(a) + " and " + shape_str(b) + " differ");
    out[r - 1] = b[r - 1];
    shift_ = n.scale_exponent("scale_x") + n.scale_exponent("scale_y") - n.scale_exponent("scale_o");
    if (ctx.complete()) {
      m_ = a[r - 2];
      k_ = a[r - 1];
      n_ = b[r - 1];
      batch_ = dims_numel(Dims(a.begin(), a.end() - 2));
    }
    ctx.set_output(0, DType::kInt8, out);
  }

  int64_t workspace_bytes(opt::Isa) const override { return k_ * n_; }  // one batch of y transposed

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int8_t* y = ctx.in(1).data<int8_t>();
    int8_t* z = ctx.out(0).data<int8_t>();
    std::vector<int8_t> yt(static_cast<size_t>(k_ * n_));  // one batch of y as [n, k]
    for (int64_t b = 0; b < batch_; ++b) {
      const int8_t* yb = y + b * k_ * n_;
      for (int64_t i = 0; i < k_; ++i)
        for (int64_t j = 0; j < n_; ++j) yt[static_cast<size_t>(j * k_ + i)] = yb[i * n_ + j];
      for (int64_t r = 0; r < m_; ++r)
        numerics::linear_int_row(x + b * m_ * k_, yt.data(), nullptr, z + b * m_ * n_ + r * n_, r, k_, n_, shift_, 8);
    }
  }

 private:
  int shift_ = 0;
  int64_t m_ = 0, k_ = 0, n_ = 0, batch_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Bmm(OpKind) { return std::make_unique<BmmKernel>(); }

}  // namespace runtime
}  // namespace linger
