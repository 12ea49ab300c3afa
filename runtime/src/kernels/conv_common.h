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

// The output stage of a conv / linear node: o_bits, the shift, and the
// activation fused into it at load (Node::fused_clamp; integer outputs only).
inline opt::OutputStage output_stage(const InferContext& ctx, int out_bits, int shift) {
  opt::OutputStage st;
  st.out_bits = out_bits;
  st.shift = shift;
  if (const auto& f = ctx.node().fused_clamp) {
    if (out_bits == 0)
      ctx.fail("internal", "an activation was fused into a node with a float output (no o_bits)");
    if (f->lo > f->hi) ctx.fail("internal", "fused activation bounds lo > hi");
    st.lo = f->lo;
    st.hi = f->hi;
  }
  return st;
}

// A (1-D or 2-D) integer convolution through opt::Conv2dInt8, its weights
// packed once at plan time (when they are a constant, the usual case; else on
// every run). Integer outputs directly; without o_bits, the saturated int32
// accumulator (shift 0) scaled by 2^-(Qx+Qw) into the float output.
class ConvRunner {
 public:
  // At infer() time, when ctx.complete() and s is the concrete geometry.
  void prepare(const InferContext& ctx, const numerics::Conv2dShape& s, bool has_bias, int out_bits, int shift) {
    s_ = s;
    has_bias_ = has_bias;
    out_bits_ = out_bits;
    float_shift_ = shift;
    stage_ = output_stage(ctx, out_bits, shift);
    if (!out_bits) stage_ = opt::OutputStage{32, 0};
    isa_ = ctx.isa();
    threads_ = ctx.threads();
    if (s.n == 0 || !s.valid()) return;
    if (const Tensor* w = ctx.constant(1)) {
      conv_ = opt::Conv2dInt8(s, w->data<int8_t>(), isa_);
      isa_ = conv_.isa();
      packed_ = true;
    } else {
      isa_ = isa_ == opt::Isa::kAuto ? opt::choose_conv_isa(s, opt::Isa::kAuto) : opt::resolve_isa(isa_);
    }
  }

  void run(const RunContext& ctx) const {
    if (s_.n == 0) return;
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int32_t* b = has_bias_ ? ctx.in(2).data<int32_t>() : nullptr;
    std::vector<int8_t> local;
    std::vector<int8_t>* workspace = ctx.workspace ? ctx.workspace : &local;
    opt::Conv2dInt8 unpacked;
    const opt::Conv2dInt8* conv = &conv_;
    if (!packed_) {
      unpacked = opt::Conv2dInt8(s_, ctx.in(1).data<int8_t>(), isa_);
      conv = &unpacked;
    }
    opt::ThreadPool* pool = opt::pool_threads(ctx.pool) <= threads_ ? ctx.pool : nullptr;
    if (out_bits_) {
      conv->run(x, b, ctx.out(0).raw_data(), stage_, workspace, pool);
      return;
    }
    std::vector<int32_t> acc(static_cast<size_t>(ctx.out(0).numel()));
    conv->run(x, b, acc.data(), stage_, workspace, pool);
    float* y = ctx.out(0).data<float>();
    for (size_t i = 0; i < acc.size(); ++i) y[i] = numerics::dequantize(acc[i], float_shift_);
  }

  // The conv's workspace, plus the int32 accumulators of a float output.
  int64_t workspace_bytes() const {
    if (s_.n == 0 || !s_.valid()) return 0;
    const int64_t ws = opt::Conv2dInt8::workspace_bytes(s_, isa_, threads_);
    if (out_bits_) return ws;
    int64_t acc = 4;
    for (int64_t d : {int64_t{s_.n}, int64_t{s_.o}, int64_t{s_.out_h()}, int64_t{s_.out_w()}}) acc = sat_mul(acc, d);
    return sat_add(ws, acc);
  }

 private:
  numerics::Conv2dShape s_;
  bool has_bias_ = false;
  int out_bits_ = 0;
  int float_shift_ = 0;
  opt::OutputStage stage_;
  opt::Isa isa_ = opt::Isa::kScalar;
  int threads_ = 1;
  bool packed_ = false;
  opt::Conv2dInt8 conv_;
};

}  // namespace runtime
}  // namespace linger
