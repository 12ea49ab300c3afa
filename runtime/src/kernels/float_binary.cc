// Add, Sub, Mul, Div (standard) on float32 with numpy broadcasting: the float
// arithmetic torch writes for a switched-off iqAdd / iqMul / iqDiv (and inside
// the decomposition of a switched-off torch.var), docs/onnx-dialect.md "Float
// ops (switched-off arithmetic)". One IEEE-754 float32 operation per element,
// exactly as torch computes it on CPU, so the results are bit-identical.
// Add, Sub and Mul also accept int64 (shape arithmetic; wraps like two's
// complement), Div only float32. No exponent: the output is a plain float.
#include <cstdint>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

enum class BinOp { kAdd, kSub, kMul, kDiv };

BinOp bin_op(OpKind kind) {
  switch (kind) {
    case OpKind::Add: return BinOp::kAdd;
    case OpKind::Sub: return BinOp::kSub;
    case OpKind::Mul: return BinOp::kMul;
    default: return BinOp::kDiv;
  }
}

template <BinOp op>
inline float apply(float a, float b) {
  if constexpr (op == BinOp::kAdd) return a + b;
  if constexpr (op == BinOp::kSub) return a - b;
  if constexpr (op == BinOp::kMul) return a * b;
  return a / b;
}

template <BinOp op>
inline int64_t apply(int64_t a, int64_t b) {
  const uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
  if constexpr (op == BinOp::kAdd) return static_cast<int64_t>(x + y);
  if constexpr (op == BinOp::kSub) return static_cast<int64_t>(x - y);
  return static_cast<int64_t>(x * y);
}

template <typename T, BinOp op>
void run_rows(const T* a, const T* b, T* z, const Dims& out, const std::vector<int64_t>& sa,
              const std::vector<int64_t>& sb, bool same_shape, int64_t n) {
  if (same_shape) {
    for (int64_t i = 0; i < n; ++i) z[i] = apply<op>(a[i], b[i]);
    return;
  }
  const int64_t da = sa.empty() ? 0 : sa.back();
  const int64_t db = sb.empty() ? 0 : sb.back();
  for_each_broadcast_row(out, sa, sb, [&](int64_t oa, int64_t ob, int64_t o, int64_t count) {
    const T* pa = a + oa;
    const T* pb = b + ob;
    T* pz = z + o;
    for (int64_t i = 0; i < count; ++i) pz[i] = apply<op>(pa[i * da], pb[i * db]);
  });
}

class FloatBinaryKernel final : public Kernel {
 public:
  explicit FloatBinaryKernel(OpKind kind) : op_(bin_op(kind)) {}

  void infer(InferContext& ctx) override {
    if (op_ == BinOp::kDiv) ctx.expect_dtype(0, {DType::kFloat32}, "input A");
    else ctx.expect_dtype(0, {DType::kFloat32, DType::kInt64}, "input A");
    if (ctx.dtype(1) != ctx.dtype(0))
      ctx.fail("dtype", "input B '" + ctx.input_name(1) + "' is " + dtype_name(ctx.dtype(1)) + ", input A '" +
                            ctx.input_name(0) + "' is " + dtype_name(ctx.dtype(0)) + " (both must have one type)");
    Dims out;
    if (!broadcast_dims(ctx.dims(0), ctx.dims(1), &out))
      ctx.fail("shape", "inputs of shapes " + shape_str(ctx.dims(0)) + " and " + shape_str(ctx.dims(1)) +
                            " are not broadcastable");
    if (dims_known(ctx.dims(0)) && dims_known(ctx.dims(1))) {  // also when folding constants at load
      same_shape_ = ctx.dims(0) == ctx.dims(1);
      out_ = out;
      stride_a_ = broadcast_strides(ctx.dims(0), out);
      stride_b_ = broadcast_strides(ctx.dims(1), out);
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).dtype() == DType::kFloat32) {
      const float* a = ctx.in(0).data<float>();
      const float* b = ctx.in(1).data<float>();
      float* z = ctx.out(0).data<float>();
      switch (op_) {
        case BinOp::kAdd: go<float, BinOp::kAdd>(a, b, z, ctx); break;
        case BinOp::kSub: go<float, BinOp::kSub>(a, b, z, ctx); break;
        case BinOp::kMul: go<float, BinOp::kMul>(a, b, z, ctx); break;
        case BinOp::kDiv: go<float, BinOp::kDiv>(a, b, z, ctx); break;
      }
      return;
    }
    const int64_t* a = ctx.in(0).data<int64_t>();
    const int64_t* b = ctx.in(1).data<int64_t>();
    int64_t* z = ctx.out(0).data<int64_t>();
    switch (op_) {
      case BinOp::kAdd: go<int64_t, BinOp::kAdd>(a, b, z, ctx); break;
      case BinOp::kSub: go<int64_t, BinOp::kSub>(a, b, z, ctx); break;
      default: go<int64_t, BinOp::kMul>(a, b, z, ctx); break;  // Div is float-only (infer)
    }
  }

 private:
  template <typename T, BinOp op>
  void go(const T* a, const T* b, T* z, const RunContext& ctx) const {
    run_rows<T, op>(a, b, z, out_, stride_a_, stride_b_, same_shape_, ctx.out(0).numel());
  }

  BinOp op_;
  bool same_shape_ = true;
  Dims out_;
  std::vector<int64_t> stride_a_, stride_b_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Add(OpKind kind) { return std::make_unique<FloatBinaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Sub(OpKind kind) { return std::make_unique<FloatBinaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Mul(OpKind kind) { return std::make_unique<FloatBinaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Div(OpKind kind) { return std::make_unique<FloatBinaryKernel>(kind); }

}  // namespace runtime
}  // namespace linger
