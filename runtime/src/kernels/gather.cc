// Gather (standard): out = data[:axis] + indices.shape + data[axis+1:],
// negative indices count from the end. Constant indices are checked at load,
// others (data-dependent) when run.
#include <cstring>

#include "kernels/kernel.h"
#include "size_math.h"

namespace linger {
namespace runtime {

namespace {

class GatherKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(1, {DType::kInt64, DType::kInt32}, "indices");
    const Dims& data = ctx.dims(0);
    const Dims& idx = ctx.dims(1);
    if (data.empty()) ctx.fail("shape", "data '" + ctx.input_name(0) + "' must have rank >= 1");
    const int64_t rank = static_cast<int64_t>(data.size());
    const int64_t axis = ctx.axis(ctx.node().attr_int("axis", 0), rank, "axis");
    Dims out(data.begin(), data.begin() + axis);
    out.insert(out.end(), idx.begin(), idx.end());
    out.insert(out.end(), data.begin() + axis + 1, data.end());
    axis_dim_ = data[static_cast<size_t>(axis)];
    const Tensor* ct = ctx.constant(1);
    if (ct && axis_dim_ >= 0) {
      indices_checked_ = true;
      for (int64_t v : read_indices(*ct))
        if (v < -axis_dim_ || v >= axis_dim_)
          ctx.fail("shape", "index " + std::to_string(v) + " is out of range for axis " + std::to_string(axis) +
                                " of size " + std::to_string(axis_dim_));
    }
    if (ctx.complete()) {
      outer_ = dims_numel(Dims(data.begin(), data.begin() + axis));
      inner_ = dims_numel(Dims(data.begin() + axis + 1, data.end()));
      index_count_ = dims_numel(ctx.dims(1));
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  // run() copies the indices to int64.
  int64_t workspace_bytes(opt::Isa /*isa*/) const override { return sat_mul(index_count_, 8); }

  void run(const RunContext& ctx) override {
    const std::vector<int64_t> idx = read_indices(ctx.in(1));
    if (!indices_checked_)
      for (int64_t v : idx)
        if (v < -axis_dim_ || v >= axis_dim_)
          ctx.fail("index " + std::to_string(v) + " is out of range for a gather axis of size " + std::to_string(axis_dim_));
    const size_t elem = dtype_size(ctx.in(0).dtype());
    const size_t block = static_cast<size_t>(inner_) * elem;
    const auto* src = static_cast<const unsigned char*>(ctx.in(0).raw_data());
    auto* dst = static_cast<unsigned char*>(ctx.out(0).raw_data());
    if (block == 0) return;
    for (int64_t o = 0; o < outer_; ++o) {
      const unsigned char* plane = src + static_cast<size_t>(o * axis_dim_) * block;
      for (int64_t v : idx) {
        const int64_t j = v < 0 ? v + axis_dim_ : v;
        std::memcpy(dst, plane + static_cast<size_t>(j) * block, block);
        dst += block;
      }
    }
  }

 private:
  static std::vector<int64_t> read_indices(const Tensor& t) {
    if (t.dtype() == DType::kInt64) return t.to_vector<int64_t>();
    const int32_t* p = t.data<int32_t>();
    return std::vector<int64_t>(p, p + t.numel());
  }

  int64_t axis_dim_ = 0, outer_ = 0, inner_ = 0, index_count_ = 0;
  bool indices_checked_ = false;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Gather(OpKind) { return std::make_unique<GatherKernel>(); }

}  // namespace runtime
}  // namespace linger
