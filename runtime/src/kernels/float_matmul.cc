// MatMul (standard) on float32 with numpy semantics: what torch writes for a
// switched-off BmmInt (torch.bmm / torch.matmul / `@`), docs/onnx-dialect.md
// "Float ops (switched-off arithmetic)". No exponent.
//
// A [..., M, K] x B [..., K, N] -> [..., M, N]; the batch dims broadcast; a
// 1-D A is [1, K] and a 1-D B is [K, 1], the added dim then dropped.
// Each dot product is accumulated in double (k ascending) and rounded once.
// For the dequantized int8 codes this op sees, every product is exact and the
// sum is exact in float32 too as long as it stays below 2^24 units of
// 2^-(Qa+Qb) (K up to about 1000), so the result is bit-identical to torch's
// (which sums in float32 in its BLAS's order).
#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class FloatMatMulKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32}, "input A");
    ctx.expect_dtype(1, {DType::kFloat32}, "input B");
    Dims a = ctx.dims(0), b = ctx.dims(1);
    if (a.empty() || b.empty())
      ctx.fail("shape", "inputs must have rank >= 1, have shapes " + shape_str(a) + " and " + shape_str(b));
    const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
    if (a_vec) a.insert(a.begin(), 1);
    if (b_vec) b.push_back(1);
    const int64_t m = a[a.size() - 2], k = a.back(), kb = b[b.size() - 2], n = b.back();
    if (k >= 0 && kb >= 0 && k != kb)
      ctx.fail("shape", "A '" + ctx.input_name(0) + "' " + shape_str(ctx.dims(0)) + " and B '" + ctx.input_name(1) +
                            "' " + shape_str(ctx.dims(1)) + " do not agree on K (" + std::to_string(k) + " vs " +
                            std::to_string(kb) + ")");
    const Dims batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
    Dims batch;
    if (!broadcast_dims(batch_a, batch_b, &batch))
      ctx.fail("shape", "batch dimensions of " + shape_str(ctx.dims(0)) + " and " + shape_str(ctx.dims(1)) +
                            " are not broadcastable");
    Dims out = batch;
    if (!a_vec) out.push_back(m);
    if (!b_vec) out.push_back(n);
    if (dims_known(a) && dims_known(b)) {
      m_ = m;
      k_ = k;
      n_ = n;
      batch_ = batch;
      // strides in whole matrices
      stride_a_ = broadcast_strides(batch_a, batch);
      stride_b_ = broadcast_strides(batch_b, batch);
    }
    ctx.set_output(0, DType::kFloat32, out);
  }

  void run(const RunContext& ctx) override {
    const float* a = ctx.in(0).data<float>();
    const float* b = ctx.in(1).data<float>();
    float* y = ctx.out(0).data<float>();
    const int64_t mat_a = m_ * k_, mat_b = k_ * n_, mat_y = m_ * n_;
    const int64_t da = stride_a_.empty() ? 0 : stride_a_.back();
    const int64_t db = stride_b_.empty() ? 0 : stride_b_.back();
    for_each_broadcast_row(batch_, stride_a_, stride_b_, [&](int64_t oa, int64_t ob, int64_t o, int64_t count) {
      for (int64_t t = 0; t < count; ++t)
        one(a + (oa + t * da) * mat_a, b + (ob + t * db) * mat_b, y + (o + t) * mat_y);
    });
  }

 private:
  void one(const float* a, const float* b, float* y) const {
    for (int64_t i = 0; i < m_; ++i)
      for (int64_t j = 0; j < n_; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < k_; ++p)
          s += static_cast<double>(a[i * k_ + p]) * static_cast<double>(b[p * n_ + j]);
        y[i * n_ + j] = static_cast<float>(s);
      }
  }

  int64_t m_ = 0, k_ = 0, n_ = 0;
  Dims batch_;
  std::vector<int64_t> stride_a_, stride_b_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_MatMul(OpKind) { return std::make_unique<FloatMatMulKernel>(); }

}  // namespace runtime
}  // namespace linger
