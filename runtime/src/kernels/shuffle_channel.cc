// ShuffleChannel (thinker): x [N, C, ...] with C divisible by `groups`;
// out[:, j*groups + i] = x[:, i*(C/groups) + j] (view [N, g, C/g, ...],
// swap dims 1 and 2). Any element type; the exponent passes through.
#include <cstring>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class ShuffleChannelKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    if (in.size() < 2) ctx.fail("shape", "input must have rank >= 2, got " + shape_str(in));
    groups_ = ctx.node().attr("groups")->i;
    if (in[1] >= 0 && in[1] % groups_ != 0)
      ctx.fail("shape", "channels " + std::to_string(in[1]) + " are not divisible by groups " + std::to_string(groups_));
    if (ctx.complete()) {
      n_ = in[0];
      c_ = in[1];
      inner_ = dims_numel(Dims(in.begin() + 2, in.end())) * static_cast<int64_t>(dtype_size(ctx.dtype(0)));
    }
    ctx.set_output(0, ctx.dtype(0), in);
  }

  void run(const RunContext& ctx) override {
    const auto* x = static_cast<const unsigned char*>(ctx.in(0).raw_data());
    auto* y = static_cast<unsigned char*>(ctx.out(0).raw_data());
    const int64_t per = c_ / groups_;
    for (int64_t b = 0; b < n_; ++b)
      for (int64_t i = 0; i < groups_; ++i)
        for (int64_t j = 0; j < per; ++j)
          std::memcpy(y + (b * c_ + j * groups_ + i) * inner_, x + (b * c_ + i * per + j) * inner_,
                      static_cast<size_t>(inner_));
  }

 private:
  int64_t groups_ = 1, n_ = 0, c_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_ShuffleChannel(OpKind) { return std::make_unique<ShuffleChannelKernel>(); }

}  // namespace runtime
}  // namespace linger
