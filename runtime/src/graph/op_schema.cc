// The op table of docs/onnx-dialect.md: one schema per family of
// include/linger/ops.inc (schema_<Family>) and per standard op (schema_<Name>).
#include "graph/op_schema.h"

#include <array>
#include <memory>

namespace linger {
namespace runtime {

namespace {

using T = onnx::AttrType;

AttrSpec req(const char* name, T type) { return AttrSpec(name, type, true); }
AttrSpec opt(const char* name, T type) { return AttrSpec(name, type); }
AttrSpec ints_of(AttrSpec a, std::vector<int64_t> allowed) {
  a.allowed_ints = std::move(allowed);
  return a;
}
AttrSpec range(AttrSpec a, int64_t lo, int64_t hi) {
  a.min_int = lo;
  a.max_int = hi;
  return a;
}
AttrSpec strings_of(AttrSpec a, std::vector<std::string> allowed) {
  a.allowed_strings = std::move(allowed);
  return a;
}

AttrSpec platform_quant() { return strings_of(opt("platform_quant", T::kString), {"luna_quant"}); }
AttrSpec data_bits(bool required) { return ints_of(required ? req("data_bits", T::kInt) : opt("data_bits", T::kInt), {8}); }
AttrSpec parameter_bits() { return range(opt("parameter_bits", T::kInt), 1, 8); }
AttrSpec o_bits() { return ints_of(opt("o_bits", T::kInt), {8, 16, 32}); }

AttrSpec scale(const char* name) { return req(name, T::kFloat); }
AttrSpec castor_mode() { return strings_of(opt("castor_mode", T::kString), {"luna"}); }
// Target platform (docs/platforms.md): on every thinker node; quant_mode on Conv*/LinearInt. Only floor_add
// (rhu_shift, numerics.md §2) is implemented: floor, round and ceil are refused at load.
AttrSpec platform() { return strings_of(opt("platform", T::kString), {"venus", "venusA", "arcs", "mars"}); }
AttrSpec quant_mode() { return strings_of(opt("quant_mode", T::kString), {"floor_add"}); }
OpSchema with_platform(const char* domain, OpSchema s) {
  if (std::string(domain) == "thinker") s.attrs.push_back(platform());
  return s;
}

std::vector<AttrSpec> conv_attrs(bool transpose) {
  std::vector<AttrSpec> a = {scale("scale_x"), scale("scale_w"), opt("scale_o", T::kFloat), opt("dilations", T::kInts),
                             range(opt("group", T::kInt), 1, INT32_MAX), opt("kernel_shape", T::kInts),
                             opt("pads", T::kInts), opt("strides", T::kInts), data_bits(false), parameter_bits(),
                             o_bits(), platform_quant(), quant_mode()};
  if (transpose) a.push_back(opt("output_padding", T::kInts));
  else a.push_back(castor_mode());
  return a;
}

// ---- one schema per family of include/linger/ops.inc (custom domain "thinker" unless noted) ----
// data_bits 8 (int8) or 16 (int16: LSTMInt's initial cell state at Q7)
OpSchema schema_Quant(OpKind) {
  return {1, 1, 1, 1, {ints_of(req("data_bits", T::kInt), {8, 16}), scale("scale_x"), platform_quant()}, {},
          ExponentRule::kScaleAttr, "scale_x"};
}
OpSchema schema_Dequant(OpKind) {
  return {1, 1, 1, 1, {scale("scale_o")}, {{0, "scale_o"}}, ExponentRule::kNone, nullptr};
}
OpSchema schema_Conv2d(OpKind) { return {2, 3, 1, 1, conv_attrs(false), {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"}; }
OpSchema schema_Conv1d(OpKind) { return {2, 3, 1, 1, conv_attrs(false), {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"}; }
OpSchema schema_ConvTranspose2d(OpKind) {
  return {2, 3, 1, 1, conv_attrs(true), {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
OpSchema schema_BatchNorm2d(OpKind) {
  return {3, 3, 1, 1,
          {scale("scale_x"), scale("scale_w"), scale("scale_o"), data_bits(false), parameter_bits(), o_bits(),
           platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
OpSchema schema_Linear(OpKind) {
  return {2, 3, 1, 1,
          {scale("scale_x"), scale("scale_w"), opt("scale_o", T::kFloat), data_bits(false), parameter_bits(), o_bits(),
           platform_quant(), quant_mode()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
OpSchema schema_AvgPool2d(OpKind) {
  return {1, 1, 1, 1,
          {req("kernel_shape", T::kInts), opt("strides", T::kInts), opt("pads", T::kInts),
           ints_of(opt("ceil_mode", T::kInt), {0, 1}), data_bits(false), scale("scale_x"), opt("scale_o", T::kFloat),
           ints_of(opt("o_bits", T::kInt), {8}), platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_x"};
}
// linger's adaptive average pool (windows of PyTorch's adaptive rule, each divided by its own area)
OpSchema schema_AdaptiveAvgPool2d(OpKind) {
  return {1, 1, 1, 1,
          {req("output_size", T::kInts), data_bits(false), scale("scale_x"), opt("scale_o", T::kFloat),
           ints_of(opt("o_bits", T::kInt), {8}), platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_x"};
}
// EmbeddingInt, written as thinker Gather(W, indices) (linger 1.x): scale_o = scale_w
OpSchema schema_Embedding(OpKind) {
  return {2, 2, 1, 1,
          {scale("scale_w"), scale("scale_o"), parameter_bits(), ints_of(opt("o_bits", T::kInt), {8}), platform_quant()},
          {}, ExponentRule::kScaleAttr, "scale_o"};
}
// iqAdd, iqMul, iqDiv: two int8 operands, each with its scale.
OpSchema schema_Binary(OpKind) {
  return {2, 2, 1, 1,
          {scale("scale_x"), scale("scale_y"), scale("scale_o"), platform_quant(),
           strings_of(opt("mode", T::kString), {"Non_t710_mode"})},
          {{0, "scale_x"}, {1, "scale_y"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// iqSum, iqVar: reduce `dims` (all when absent).
OpSchema schema_Reduce(OpKind) {
  return {1, 1, 1, 1,
          {scale("scale_x"), scale("scale_o"), opt("dims", T::kInts), ints_of(opt("keepdim", T::kInt), {0, 1}),
           ints_of(opt("unbiased", T::kInt), {0, 1}), platform_quant(), castor_mode()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// iqCat: scale_x_<i> per input.
OpSchema schema_IqCat(OpKind) {
  OpSchema s{1, INT32_MAX, 1, 1, {scale("scale_o"), req("dim", T::kInt), platform_quant()}, {},
             ExponentRule::kScaleAttr, "scale_o"};
  s.per_input_scale_prefix = "scale_x_";
  return s;
}
OpSchema schema_Clamp(OpKind) {
  return {1, 1, 1, 1, {req("min", T::kFloat), req("max", T::kFloat), scale("scale_x"), scale("scale_o"), platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// iqSigmoid, iqTanh: int8 at scale_x in, int8 at Q7 out (scale_o must be 128).
OpSchema schema_UnaryLut(OpKind) {
  return {1, 1, 1, 1, {scale("scale_x"), scale("scale_o"), platform_quant(), castor_mode()}, {{0, "scale_x"}},
          ExponentRule::kScaleAttr, "scale_o"};
}
// SoftmaxInt, LogSoftmaxInt (family IntSoftmax: the standard float Softmax below owns schema_Softmax)
OpSchema schema_IntSoftmax(OpKind) {
  return {1, 1, 1, 1,
          {scale("scale_x"), scale("scale_o"), req("dim", T::kInt), data_bits(false), ints_of(opt("o_bits", T::kInt), {8}),
           platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
OpSchema schema_Bmm(OpKind) {
  return {2, 2, 1, 1,
          {scale("scale_x"), scale("scale_y"), scale("scale_o"), data_bits(false), ints_of(opt("o_bits", T::kInt), {8}),
           platform_quant()},
          {{0, "scale_x"}, {1, "scale_y"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// LayerNormInt, GroupNormInt (+ num_groups): x int8, W int16, B int32; eps_q the integer epsilon term.
OpSchema schema_LayerNorm(OpKind kind) {
  std::vector<AttrSpec> a = {scale("scale_x"), scale("scale_w"), scale("scale_o"), req("eps_q", T::kInt),
                             data_bits(false), ints_of(opt("parameter_bits", T::kInt), {16}),
                             ints_of(opt("o_bits", T::kInt), {8}), platform_quant()};
  if (kind == OpKind::GroupNormInt) a.push_back(range(req("num_groups", T::kInt), 1, INT32_MAX));
  return {3, 3, 1, 1, a, {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
OpSchema schema_ShuffleChannel(OpKind) {
  return {1, 1, 1, 1, {range(req("groups", T::kInt), 1, INT32_MAX)}, {}, ExponentRule::kPassThrough, nullptr};
}
// TableInt (domain linger): int8 x at scale_x, the int8 table [C, 256] (an initializer), int8 at scale_o.
OpSchema schema_Table(OpKind) {
  return {2, 2, 1, 1,
          {scale("scale_x"), scale("scale_o"),
           strings_of(req("function", T::kString), {"hardswish", "hardsigmoid", "leaky_relu", "prelu", "silu", "gelu", "gelu_tanh"}),
           platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// ResizeInt (domain linger): int8 [N, C, H, W] -> [N, C, size[0], size[1]], Q passes through.
OpSchema schema_Resize(OpKind) {
  return {1, 1, 1, 1,
          {scale("scale_x"), scale("scale_o"), req("size", T::kInts), strings_of(req("mode", T::kString), {"nearest", "bilinear"}),
           ints_of(opt("align_corners", T::kInt), {0, 1}), platform_quant()},
          {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// GRUInt (thinker, 1.x attribute names): one layer and direction; inputs in fixed slots [x, h0, W_ih, W_hh,
// B_ih, B_hh, lengths] (an absent optional input has the empty name; the kernel requires x, W_ih, W_hh; lengths
// int64 [B], the last slot); outputs y, h_n, both int8 at scale_o (= scale_h).
OpSchema schema_Gru(OpKind) {
  return {1, 7, 1, 2,
          {range(req("input_size", T::kInt), 1, INT32_MAX), range(req("hidden_size", T::kInt), 1, INT32_MAX),
           ints_of(opt("num_layers", T::kInt), {1}), ints_of(opt("batch_first", T::kInt), {0, 1}),
           opt("dropout", T::kFloat), ints_of(opt("go_forward", T::kInt), {0, 1}), scale("scale_i"), scale("scale_h"),
           scale("scale_iw"), scale("scale_hw"), scale("scale_o"), data_bits(false), parameter_bits(),
           ints_of(opt("o_bits", T::kInt), {8}), platform_quant()},
          {{0, "scale_i"}, {1, "scale_h"}}, ExponentRule::kScaleAttr, "scale_o"};
}
// LSTMInt (thinker, 1.x attribute names): as GRUInt with fixed slots [x, h0, c0, W_ih, W_hh, B_ih, B_hh, lengths]
// (c0 int16 at Q7); outputs y, h_n int8 at scale_o and c_n int16 at Q7 (a fixed exponent).
OpSchema schema_Lstm(OpKind kind) {
  OpSchema s = schema_Gru(kind);
  s.max_inputs = 8;
  s.max_outputs = 3;
  s.fixed_output_exponents = {{2, 7}};
  return s;
}
// standard domain
OpSchema schema_MaxPool(OpKind) {
  return {1, 1, 1, 1,
          {req("kernel_shape", T::kInts), opt("strides", T::kInts), opt("pads", T::kInts),
           ints_of(opt("ceil_mode", T::kInt), {0, 1}), opt("dilations", T::kInts),
           strings_of(opt("auto_pad", T::kString), {"NOTSET"}), ints_of(opt("storage_order", T::kInt), {0})},
          {}, ExponentRule::kPassThrough, nullptr};
}
OpSchema schema_Relu(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr}; }

// ---- standard data-movement ops of graph/std_ops.inc ----
OpSchema schema_Reshape(OpKind) {
  return {2, 2, 1, 1, {ints_of(opt("allowzero", T::kInt), {0, 1})}, {}, ExponentRule::kPassThrough, nullptr};
}
OpSchema schema_Flatten(OpKind) { return {1, 1, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Transpose(OpKind) { return {1, 1, 1, 1, {opt("perm", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Squeeze(OpKind) { return {1, 2, 1, 1, {opt("axes", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Unsqueeze(OpKind) { return {1, 2, 1, 1, {opt("axes", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Slice(OpKind) { return {3, 5, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Gather(OpKind) { return {2, 2, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Concat(OpKind) { return {1, INT32_MAX, 1, 1, {req("axis", T::kInt)}, {}, ExponentRule::kAllInputs, nullptr}; }
OpSchema schema_Identity(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr}; }
OpSchema schema_Constant(OpKind) {
  return {0, 0, 1, 1,
          {opt("value", T::kTensor), opt("value_int", T::kInt), opt("value_ints", T::kInts), opt("value_float", T::kFloat),
           opt("value_floats", T::kFloats)},
          {}, ExponentRule::kNone, nullptr};
}
OpSchema schema_Shape(OpKind) {
  return {1, 1, 1, 1, {opt("start", T::kInt), opt("end", T::kInt)}, {}, ExponentRule::kNone, nullptr};
}
OpSchema schema_Cast(OpKind) {
  return {1, 1, 1, 1,
          {ints_of(req("to", T::kInt), {onnx::kFloat, onnx::kInt8, onnx::kInt16, onnx::kInt32, onnx::kInt64})},
          {}, ExponentRule::kPassThrough, nullptr};
}

// ---- float ops of graph/std_ops.inc (switched-off arithmetic; no exponent) ----
OpSchema schema_Add(OpKind) { return {2, 2, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Sub(OpKind) { return {2, 2, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Mul(OpKind) { return {2, 2, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Div(OpKind) { return {2, 2, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Sigmoid(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Tanh(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Exp(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Log(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Sqrt(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Neg(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Abs(OpKind) { return {1, 1, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_Softmax(OpKind) { return {1, 1, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kNone, nullptr}; }
OpSchema schema_LogSoftmax(OpKind) { return {1, 1, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kNone, nullptr}; }
// axes: an attribute before opset 13, an input from 13 on (the kernel checks the form against the opset)
OpSchema schema_ReduceSum(OpKind) {
  return {1, 2, 1, 1,
          {opt("axes", T::kInts), ints_of(opt("keepdims", T::kInt), {0, 1}),
           ints_of(opt("noop_with_empty_axes", T::kInt), {0, 1})},
          {}, ExponentRule::kNone, nullptr};
}
OpSchema schema_ReduceMean(OpKind) {
  return {1, 1, 1, 1, {opt("axes", T::kInts), ints_of(opt("keepdims", T::kInt), {0, 1})}, {}, ExponentRule::kNone, nullptr};
}
OpSchema schema_ReduceProd(OpKind) {
  return {1, 1, 1, 1, {opt("axes", T::kInts), ints_of(opt("keepdims", T::kInt), {0, 1})}, {}, ExponentRule::kNone, nullptr};
}
OpSchema schema_MatMul(OpKind) { return {2, 2, 1, 1, {}, {}, ExponentRule::kNone, nullptr}; }
// opset 11+: min and max are optional inputs
OpSchema schema_Clip(OpKind) { return {1, 3, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr}; }  // int8: 1.x ReLU6Int

using Table = std::array<std::unique_ptr<OpSchema>, kOpKindCount>;

Table make_table() {
  Table t;
  auto add = [&t](OpKind kind, OpSchema s) { t[static_cast<size_t>(kind)] = std::make_unique<OpSchema>(std::move(s)); };
#define LINGER_OP(name, domain, op, family) add(OpKind::name, with_platform(domain, schema_##family(OpKind::name)));
#include "linger/ops.inc"
#undef LINGER_OP
#define LINGER_STD_OP(name) add(OpKind::name, schema_##name(OpKind::name));
#include "graph/std_ops.inc"
#undef LINGER_STD_OP
  return t;
}

}  // namespace

const OpSchema* op_schema(OpKind kind) {
  static const Table table = make_table();
  const int i = static_cast<int>(kind);
  if (i < 0 || i >= kOpKindCount) return nullptr;
  return table[static_cast<size_t>(i)].get();
}

std::string per_input_scale_name(const OpSchema& s, int i) {
  return s.per_input_scale_prefix ? std::string(s.per_input_scale_prefix) + std::to_string(i) : std::string();
}

}  // namespace runtime
}  // namespace linger
