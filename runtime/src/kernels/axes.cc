#include "kernels/axes.h"

#include <algorithm>

namespace linger {
namespace runtime {

std::optional<std::vector<int64_t>> squeeze_axes(InferContext& ctx, bool* known) {
  *known = true;
  const Node& n = ctx.node();
  if (ctx.opset() < 13) {
    if (ctx.num_inputs() > 1)
      ctx.fail("input-count", "axes is an attribute before opset 13, not an input (opset " + std::to_string(ctx.opset()) + ")");
    if (!n.has_attr("axes")) return std::nullopt;
    return n.attr_ints("axes", {});
  }
  if (n.has_attr("axes"))
    ctx.fail("attribute-unknown", "axes is an input from opset 13 on, not an attribute (opset " + std::to_string(ctx.opset()) + ")");
  if (!ctx.has_input(1)) return std::nullopt;
  std::optional<std::vector<int64_t>> axes = ctx.const_ints(1, "axes");
  if (!axes) *known = false;
  return axes;
}

std::vector<int64_t> normalize_axes(InferContext& ctx, const std::vector<int64_t>& axes, int64_t rank) {
  if (axes.size() > kMaxRank) ctx.fail("shape", "too many axes (" + std::to_string(axes.size()) + ")");
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    const int64_t v = ctx.axis(a, rank, "axis");
    if (std::find(out.begin(), out.end(), v) != out.end())
      ctx.fail("attribute-value", "axis " + std::to_string(a) + " is repeated");
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace runtime
}  // namespace linger
