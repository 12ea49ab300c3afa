// EmbeddingInt (thinker Gather): int8 table W [rows, dim] at scale_w, int64 /
// int32 indices of any shape -> int8 [*indices.shape, dim] at scale_o = scale_w
// (numerics::embedding_int). An index out of range fails the run, naming the node.
#include "kernels/kernel.h"
#include "linger/numerics/embedding.h"

namespace linger {
namespace runtime {

namespace {

class EmbeddingKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "table W");
    ctx.expect_rank(0, 2, "table W");
    ctx.expect_dtype(1, {DType::kInt64, DType::kInt32}, "indices");
    if (n.scale_exponent("scale_o") != n.scale_exponent("scale_w"))
      ctx.fail("scale-consistency", "scale_o must equal scale_w (EmbeddingInt copies table codes)");
    const Dims& w = ctx.dims(0);
    Dims out = ctx.dims(1);
    out.push_back(w[1]);
    rows_ = w[0];
    dim_ = w[1];
    ctx.set_output(0, DType::kInt8, out);
  }

  void run(const RunContext& ctx) override {
    const Tensor& idx = ctx.in(1);
    const int8_t* table = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    const int64_t bad = idx.dtype() == DType::kInt64
                            ? numerics::embedding_int(table, rows_, dim_, idx.data<int64_t>(), idx.numel(), y)
                            : numerics::embedding_int(table, rows_, dim_, idx.data<int32_t>(), idx.numel(), y);
    if (bad >= 0)
      ctx.fail("index " + std::to_string(idx.dtype() == DType::kInt64 ? idx.data<int64_t>()[bad]
                                                                       : idx.data<int32_t>()[bad]) +
               " is out of range for an embedding table of " + std::to_string(rows_) + " rows");
  }

 private:
  int64_t rows_ = 0, dim_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Embedding(OpKind) { return std::make_unique<EmbeddingKernel>(); }

}  // namespace runtime
}  // namespace linger
