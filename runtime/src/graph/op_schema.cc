// The op table of docs/onnx-dialect.md. Keep it in the order of that page.
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

using Table = std::array<std::unique_ptr<OpSchema>, kOpKindCount>;

void add(Table& t, OpKind kind, OpSchema s) { t[static_cast<size_t>(kind)] = std::make_unique<OpSchema>(std::move(s)); }

Table make_table() {
  Table t;
  // --- custom ops, domain "thinker" ---
  add(t, OpKind::Quant,
      {1, 1, 1, 1, {data_bits(true), req("scale_x", T::kFloat), platform_quant()}, {}, ExponentRule::kScaleAttr, "scale_x"});
  add(t, OpKind::Dequant, {1, 1, 1, 1, {req("scale_o", T::kFloat)}, {{0, "scale_o"}}, ExponentRule::kNone, nullptr});
  add(t, OpKind::Conv2dInt,
      {2, 3, 1, 1,
       {req("scale_x", T::kFloat), req("scale_w", T::kFloat), opt("scale_o", T::kFloat), opt("dilations", T::kInts),
        range(opt("group", T::kInt), 1, INT32_MAX), opt("kernel_shape", T::kInts), opt("pads", T::kInts),
        opt("strides", T::kInts), data_bits(false), parameter_bits(), o_bits(), platform_quant(),
        strings_of(opt("castor_mode", T::kString), {"luna"})},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"});
  add(t, OpKind::Conv1dInt,
      {2, 3, 1, 1,
       {req("scale_x", T::kFloat), req("scale_w", T::kFloat), opt("scale_o", T::kFloat), opt("dilations", T::kInts),
        range(opt("group", T::kInt), 1, INT32_MAX), opt("kernel_shape", T::kInts), opt("pads", T::kInts),
        opt("strides", T::kInts), data_bits(false), parameter_bits(), o_bits(), platform_quant(),
        strings_of(opt("castor_mode", T::kString), {"luna"})},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"});
  add(t, OpKind::ConvTranspose2dInt,
      {2, 3, 1, 1,
       {req("scale_x", T::kFloat), req("scale_w", T::kFloat), opt("scale_o", T::kFloat), opt("dilations", T::kInts),
        range(opt("group", T::kInt), 1, INT32_MAX), opt("kernel_shape", T::kInts), opt("pads", T::kInts),
        opt("output_padding", T::kInts), opt("strides", T::kInts), data_bits(false), parameter_bits(), o_bits(),
        platform_quant()},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"});
  add(t, OpKind::BatchNorm2dInt,
      {3, 3, 1, 1,
       {req("scale_x", T::kFloat), req("scale_w", T::kFloat), req("scale_o", T::kFloat), data_bits(false),
        parameter_bits(), o_bits(), platform_quant()},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"});
  add(t, OpKind::LinearInt,
      {2, 3, 1, 1,
       {req("scale_x", T::kFloat), req("scale_w", T::kFloat), opt("scale_o", T::kFloat), data_bits(false),
        parameter_bits(), o_bits(), platform_quant()},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_o"});
  add(t, OpKind::AvgPool2dInt,
      {1, 1, 1, 1,
       {req("kernel_shape", T::kInts), opt("strides", T::kInts), opt("pads", T::kInts),
        ints_of(opt("ceil_mode", T::kInt), {0, 1}), data_bits(false), req("scale_x", T::kFloat),
        opt("scale_o", T::kFloat), ints_of(opt("o_bits", T::kInt), {8}), platform_quant()},
       {{0, "scale_x"}}, ExponentRule::kScaleAttr, "scale_x"});
  add(t, OpKind::iqAdd,
      {2, 2, 1, 1,
       {req("scale_x", T::kFloat), req("scale_y", T::kFloat), req("scale_o", T::kFloat), platform_quant(),
        strings_of(opt("mode", T::kString), {"Non_t710_mode"})},
       {{0, "scale_x"}, {1, "scale_y"}}, ExponentRule::kScaleAttr, "scale_o"});
  // --- standard ops ---
  add(t, OpKind::MaxPool,
      {1, 1, 1, 1,
       {req("kernel_shape", T::kInts), opt("strides", T::kInts), opt("pads", T::kInts),
        ints_of(opt("ceil_mode", T::kInt), {0, 1}), opt("dilations", T::kInts),
        strings_of(opt("auto_pad", T::kString), {"NOTSET"}), ints_of(opt("storage_order", T::kInt), {0})},
       {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Relu, {1, 1, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Reshape, {2, 2, 1, 1, {ints_of(opt("allowzero", T::kInt), {0, 1})}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Flatten, {1, 1, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Transpose, {1, 1, 1, 1, {opt("perm", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Squeeze, {1, 2, 1, 1, {opt("axes", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Unsqueeze, {1, 2, 1, 1, {opt("axes", T::kInts)}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Slice, {3, 5, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Gather, {2, 2, 1, 1, {opt("axis", T::kInt)}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Concat, {1, INT32_MAX, 1, 1, {req("axis", T::kInt)}, {}, ExponentRule::kAllInputs, nullptr});
  add(t, OpKind::Identity, {1, 1, 1, 1, {}, {}, ExponentRule::kPassThrough, nullptr});
  add(t, OpKind::Constant,
      {0, 0, 1, 1,
       {opt("value", T::kTensor), opt("value_int", T::kInt), opt("value_ints", T::kInts), opt("value_float", T::kFloat),
        opt("value_floats", T::kFloats)},
       {}, ExponentRule::kNone, nullptr});
  add(t, OpKind::Shape, {1, 1, 1, 1, {opt("start", T::kInt), opt("end", T::kInt)}, {}, ExponentRule::kNone, nullptr});
  add(t, OpKind::Cast,
      {1, 1, 1, 1,
       {ints_of(req("to", T::kInt), {onnx::kFloat, onnx::kInt8, onnx::kInt16, onnx::kInt32, onnx::kInt64})},
       {}, ExponentRule::kPassThrough, nullptr});
  return t;
}

}  // namespace

const OpSchema* op_schema(OpKind kind) {
  static const Table table = make_table();
  const int i = static_cast<int>(kind);
  if (i < 0 || i >= kOpKindCount) return nullptr;
  return table[static_cast<size_t>(i)].get();
}

}  // namespace runtime
}  // namespace linger
