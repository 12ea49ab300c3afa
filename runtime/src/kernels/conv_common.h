// Helpers shared by the conv-family kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/quantize.h"
#include "size_math.h"

namespace linger {
namespace runtime {

inline DType conv_out_dtype(int bits) {
  switch (bits) {
    case 8: return DType::kInt8;
    case 16: return DType::kInt16;
    case 32: return DType::kInt32;
    default: return DType::kFloat32;
  }
}

// The inputs of a conv-family node: int8 x and W of rank `rank`, optional int32
// bias B of rank 1. Returns whether B is present.
inline bool expect_conv_inputs(InferContext& ctx, size_t rank) {
  ctx.expect_dtype(0, {DType::kInt8}, "input x");
  ctx.expect_rank(0, rank, "input x");
  ctx.expect_dtype(1, {DType::kInt8}, "weight W");
  ctx.expect_rank(1, rank, "weight W");
  if (!ctx.has_input(2)) return false;
  ctx.expect_dtype(2, {DType::kInt32}, "bias B");
  ctx.expect_rank(2, 1, "bias B");
  return true;
}

// Output exponent shift: Qx+Qw-Qo with o_bits, Qx+Qw (float output) without.
inline int conv_shift(const Node& n, int out_bits) {
  const int q_sum = n.scale_exponent("scale_x") + n.scale_exponent("scale_w");
  return out_bits ? q_sum - n.scale_exponent("scale_o") : q_sum;
}

// Runs a (1-D or 2-D) integer convolution through opt::conv2d_int8: integer
// outputs directly; without o_bits, the saturated int32 accumulator (shift 0)
// scaled by 2^-(Qx+Qw) into the float output.
// Scratch memory: the run's own workspace (RunContext), else a local one.
// `clamp`: a fused activation (integer outputs only); a ReLU goes through the
// opt kernel's relu flag (inside the requantisation), other bounds clamp after it.
inline void run_conv2d(const RunContext& ctx, const numerics::Conv2dShape& s, bool has_bias, int out_bits, int shift,
                       const OutputClamp& clamp = {}) {
  if (s.n == 0) return;
  const int8_t* x = ctx.in(0).data<int8_t>();
  const int8_t* w = ctx.in(1).data<int8_t>();
  const int32_t* b = has_bias ? ctx.in(2).data<int32_t>() : nullptr;
  std::vector<int8_t> local;
  std::vector<int8_t>* workspace = ctx.workspace ? ctx.workspace : &local;
  if (out_bits) {
    const bool relu = clamp.active && clamp.lo >= 0;  // relu then clamp to [lo >= 0, hi] = clamp
    opt::conv2d_int8(x, w, b, ctx.out(0).raw_data(), s, shift, relu, out_bits, ctx.isa, workspace);
    if (!clamp.is_relu(ctx.out(0).dtype())) clamp.apply(&ctx.out(0));
    return;
  }
  std::vector<int32_t> acc(static_cast<size_t>(ctx.out(0).numel()));
  opt::conv2d_int8(x, w, b, acc.data(), s, 0, false, 32, ctx.isa, workspace);
  float* y = ctx.out(0).data<float>();
  for (size_t i = 0; i < acc.size(); ++i) y[i] = numerics::dequantize(acc[i], shift);
}

// Kernel::fuse_output_clamp of the conv family: integer outputs only.
inline bool fuse_conv_clamp(int out_bits, int64_t lo, int64_t hi, OutputClamp* clamp) {
  if (!out_bits || lo > hi) return false;
  clamp->active = true;
  clamp->lo = lo;
  clamp->hi = hi;
  return true;
}

// What run_conv2d allocates: the opt kernel's workspace, plus the int32
// accumulators of a float output.
inline int64_t conv2d_workspace_bytes(const numerics::Conv2dShape& s, int out_bits, opt::Isa isa) {
  if (s.n == 0 || !s.valid()) return 0;
  const int64_t ws = opt::conv2d_workspace_bytes(s, isa);
  if (out_bits) return ws;
  int64_t acc = 4;
  for (int64_t d : {int64_t{s.n}, int64_t{s.o}, int64_t{s.out_h()}, int64_t{s.out_w()}}) acc = sat_mul(acc, d);
  return sat_add(ws, acc);
}

}  // namespace runtime
}  // namespace linger
