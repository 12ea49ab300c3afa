#include "kernels/rnn_common.h"

#include <string>

namespace linger {
namespace runtime {

RnnGeometry infer_rnn(InferContext& ctx, int gates, int w_slot) {
  const Node& n = ctx.node();
  const std::string wi_slot = std::to_string(w_slot), wh_slot = std::to_string(w_slot + 1);
  if (!ctx.has_input(0) || !ctx.has_input(w_slot) || !ctx.has_input(w_slot + 1))
    ctx.fail("inputs", "x (slot 0), W_ih (slot " + wi_slot + ") and W_hh (slot " + wh_slot + ") are required");
  ctx.expect_dtype(0, {DType::kInt8}, "input x");
  ctx.expect_rank(0, 3, "input x");
  ctx.expect_dtype(w_slot, {DType::kInt8}, "weight W_ih");
  ctx.expect_rank(w_slot, 2, "weight W_ih");
  ctx.expect_dtype(w_slot + 1, {DType::kInt8}, "weight W_hh");
  ctx.expect_rank(w_slot + 1, 2, "weight W_hh");
  RnnGeometry g;
  g.batch_first = n.attr_int("batch_first", 0) != 0;
  g.forward = n.attr_int("go_forward", 1) != 0;
  g.H = n.attr_int("hidden_size", -1);
  g.I = n.attr_int("input_size", -1);
  if (g.H < 1 || g.I < 1) ctx.fail("attribute-value", "hidden_size and input_size must be >= 1");
  if (n.attr_int("num_layers", 1) != 1) ctx.fail("attribute-value", "num_layers must be 1 (one node per layer)");
  const Dims& x = ctx.dims(0);
  const Dims& wi = ctx.dims(w_slot);
  const Dims& wh = ctx.dims(w_slot + 1);
  auto bad = [](int64_t d, int64_t want) { return d >= 0 && d != want; };
  const std::string g_h = std::to_string(gates) + "*hidden_size";
  if (bad(x[2], g.I)) ctx.fail("shape", "input x's last dim must be input_size");
  if (bad(wi[0], gates * g.H) || bad(wi[1], g.I)) ctx.fail("shape", "W_ih must be [" + g_h + ", input_size]");
  if (bad(wh[0], gates * g.H) || bad(wh[1], g.H)) ctx.fail("shape", "W_hh must be [" + g_h + ", hidden_size]");
  g.T = g.batch_first ? x[1] : x[0];
  g.B = g.batch_first ? x[0] : x[1];
  if (ctx.has_input(1)) {
    ctx.expect_dtype(1, {DType::kInt8}, "initial state h0");
    ctx.expect_rank(1, 2, "initial state h0");
    if (bad(ctx.dims(1)[0], g.B) || bad(ctx.dims(1)[1], g.H)) ctx.fail("shape", "h0 must be [batch, hidden_size]");
  }
  for (int i = w_slot + 2; i < w_slot + 4; ++i) {
    if (!ctx.has_input(i)) continue;
    const char* what = i == w_slot + 2 ? "bias B_ih" : "bias B_hh";
    ctx.expect_dtype(i, {DType::kInt32}, what);
    ctx.expect_rank(i, 1, what);
    if (bad(ctx.dims(i)[0], gates * g.H)) ctx.fail("shape", "biases must be [" + g_h + "]");
  }
  g.qx = n.scale_exponent("scale_i");
  g.qiw = n.scale_exponent("scale_iw");
  g.qhw = n.scale_exponent("scale_hw");
  g.qh = n.scale_exponent("scale_h");
  if (n.scale_exponent("scale_o") != g.qh) ctx.fail("attribute-value", "scale_o must equal scale_h (h is int8 at Qo)");
  ctx.set_output(0, DType::kInt8, g.batch_first ? Dims{g.B, g.T, g.H} : Dims{g.T, g.B, g.H});
  if (n.outputs.size() > 1) ctx.set_output(1, DType::kInt8, Dims{g.B, g.H});
  return g;
}

}  // namespace runtime
}  // namespace linger
