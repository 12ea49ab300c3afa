// The protobuf wire decoder and the ONNX subset decoder on hand-built bytes.
#include <gtest/gtest.h>

#include <string>

#include "linger/runtime/errors.h"
#include "loader/onnx_proto.h"
#include "loader/protobuf.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;
using lr::pb::Reader;
using lr::pb::WireType;

namespace {

// The Reader does not own its bytes: keep `s` alive while it is used.
Reader reader(const std::string& s) {
  return Reader(reinterpret_cast<const uint8_t*>(s.data()), s.size(), 0, "Test");
}

std::string error_of(const std::string& bytes) {
  try {
    lr::onnx::decode_model(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const lr::ParseError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Protobuf, Varints) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, uint64_t{1} << 35,
                     ~uint64_t{0}}) {
    const std::string s = tb::varint(v);
    Reader r = reader(s);
    EXPECT_EQ(r.read_varint(), v);
    EXPECT_TRUE(r.at_end());
  }
  // -1 as int32/int64 is a 10-byte sign-extended varint.
  const std::string minus_one = tb::varint(static_cast<uint64_t>(int64_t{-1}));
  EXPECT_EQ(minus_one.size(), 10u);
  EXPECT_EQ(reader(minus_one).read_int64(), -1);
  EXPECT_EQ(reader(minus_one).read_int32(), -1);
}

TEST(Protobuf, BadVarints) {
  EXPECT_THROW(reader("").read_varint(), lr::ParseError);
  EXPECT_THROW(reader("\x80").read_varint(), lr::ParseError);          // truncated
  EXPECT_THROW(reader("\xff\xff").read_varint(), lr::ParseError);
  EXPECT_THROW(reader(std::string(10, '\xff') + "\x01").read_varint(), lr::ParseError);  // > 10 bytes
  EXPECT_THROW(reader(std::string(9, '\xff') + "\x02").read_varint(), lr::ParseError);   // > 64 bits
  EXPECT_THROW(reader(tb::varint(uint64_t{1} << 40)).read_int32(), lr::ParseError);      // int32 range
  try {
    reader("\xff\xff").read_varint();
    ADD_FAILURE() << "a truncated varint was accepted";
  } catch (const lr::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated varint"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Test"), std::string::npos) << e.what();
  }
}

TEST(Protobuf, TagsAndWireTypes) {
  const std::string r_bytes = tb::key(5, 2);
  Reader r = reader(r_bytes);
  const lr::pb::Tag t = r.read_tag();
  EXPECT_EQ(t.field, 5u);
  EXPECT_EQ(t.type, WireType::kLengthDelimited);
  EXPECT_THROW(reader(tb::key(0, 0)).read_tag(), lr::ParseError);  // field 0
  EXPECT_THROW(reader(tb::key(1, 3)).read_tag(), lr::ParseError);  // group start
  EXPECT_THROW(reader(tb::key(1, 4)).read_tag(), lr::ParseError);  // group end
  EXPECT_THROW(reader(tb::key(1, 6)).read_tag(), lr::ParseError);  // invalid
  EXPECT_THROW(reader(tb::key(1, 7)).read_tag(), lr::ParseError);
}

TEST(Protobuf, LengthDelimited) {
  const std::string ok_bytes = tb::varint(3) + "abc";
  Reader ok = reader(ok_bytes);
  EXPECT_EQ(ok.read_bytes(), "abc");
  EXPECT_TRUE(ok.at_end());
  EXPECT_THROW(reader(tb::varint(4) + "abc").read_bytes(), lr::ParseError);  // length beyond buffer
  EXPECT_THROW(reader(tb::varint(~uint64_t{0} >> 1) + "abc").read_bytes(), lr::ParseError);
  EXPECT_THROW(reader("\x01").read_fixed32(), lr::ParseError);
  EXPECT_THROW(reader("1234567").read_fixed64(), lr::ParseError);
}

TEST(Protobuf, SkipsUnknownFieldsOfEveryWireType) {
  const std::string r_bytes = tb::f_varint(1, 7) + tb::key(2, 1) + "12345678" + tb::f_bytes(3, "xyz") + tb::key(4, 5) + "1234";
  Reader r = reader(r_bytes);
  while (!r.at_end()) r.skip(r.read_tag().type);
  EXPECT_TRUE(r.at_end());
}

TEST(Protobuf, PackedAndUnpackedRepeated) {
  std::vector<int64_t> v;
  const std::string packed_bytes = tb::f_bytes(8, tb::packed_int64({1, -2, 300}));
  Reader packed = reader(packed_bytes);
  packed.read_repeated_int64(packed.read_tag(), &v, "ints");
  const std::string single_bytes = tb::f_varint(8, 4);
  Reader single = reader(single_bytes);
  single.read_repeated_int64(single.read_tag(), &v, "ints");
  EXPECT_EQ(v, (std::vector<int64_t>{1, -2, 300, 4}));
  std::vector<float> f;
  const std::string floats_bytes = tb::f_bytes(7, tb::fixed32(0x3f800000u) + tb::fixed32(0x40000000u)) + tb::f_float(7, 3.0f);
  Reader floats = reader(floats_bytes);
  while (!floats.at_end()) floats.read_repeated_float(floats.read_tag(), &f, "floats");
  EXPECT_EQ(f, (std::vector<float>{1.0f, 2.0f, 3.0f}));
  const std::string bad_bytes = tb::f_bytes(7, "abc");  // packed floats not a multiple of 4
  Reader bad = reader(bad_bytes);
  EXPECT_THROW(bad.read_repeated_float(bad.read_tag(), &f, "floats"), lr::ParseError);
  const std::string wrong_bytes = tb::key(8, 5) + "1234";  // ints as fixed32
  Reader wrong = reader(wrong_bytes);
  EXPECT_THROW(wrong.read_repeated_int64(wrong.read_tag(), &v, "ints"), lr::ParseError);
}

TEST(OnnxDecode, ModelFields) {
  tb::Model m;
  m.input("x", tb::kFloat, {1, -1, 4});
  m.output("y", tb::kInt8, {2});
  m.init(tb::tensor<int8_t>("w", tb::kInt8, {2}, {-3, 4}));
  m.add({"Quant", "thinker", "q", {"x"}, {"y"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 4.0f),
                                                  tb::attr_ints("pads", {1, 2}, false), tb::attr_floats("fl", {0.5f}),
                                                  tb::attr_string("s", "luna_quant")}});
  const std::string b = m.bytes() + tb::f_bytes(14, "metadata") + tb::f_varint(99, 5);  // unknown fields at the end
  const lr::onnx::ModelProto p = lr::onnx::decode_model(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  EXPECT_EQ(p.ir_version, 8);
  EXPECT_EQ(p.producer_name, "linger");
  ASSERT_EQ(p.opset_imports.size(), 2u);
  EXPECT_EQ(p.opset_imports[0].domain, "");
  EXPECT_EQ(p.opset_imports[0].version, 12);
  EXPECT_EQ(p.opset_imports[1].domain, "thinker");
  ASSERT_TRUE(p.has_graph);
  const lr::onnx::GraphProto& g = p.graph;
  EXPECT_EQ(g.name, "test_graph");
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].elem_type, tb::kFloat);
  ASSERT_EQ(g.inputs[0].dims.size(), 3u);
  EXPECT_TRUE(g.inputs[0].dims[0].has_value);
  EXPECT_FALSE(g.inputs[0].dims[1].has_value);
  EXPECT_EQ(g.inputs[0].dims[1].param, "N");
  EXPECT_EQ(g.inputs[0].dims[2].value, 4);
  ASSERT_EQ(g.initializers.size(), 1u);
  EXPECT_EQ(g.initializers[0].name, "w");
  EXPECT_EQ(g.initializers[0].raw_data, std::string("\xfd\x04", 2));
  ASSERT_EQ(g.nodes.size(), 1u);
  const lr::onnx::NodeProto& n = g.nodes[0];
  EXPECT_EQ(n.op_type, "Quant");
  EXPECT_EQ(n.domain, "thinker");
  EXPECT_EQ(n.name, "q");
  ASSERT_EQ(n.attributes.size(), 5u);
  EXPECT_EQ(n.attributes[0].type, lr::onnx::AttrType::kInt);
  EXPECT_EQ(n.attributes[0].i, 8);
  EXPECT_EQ(n.attributes[1].f, 4.0f);
  EXPECT_EQ(n.attributes[2].ints, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(n.attributes[3].floats, (std::vector<float>{0.5f}));
  EXPECT_EQ(n.attributes[4].s, "luna_quant");
}

TEST(OnnxDecode, AttributeTypeInferredWhenUndeclared) {
  tb::Model m;
  m.add({"Relu", "", "r", {"x"}, {"y"}, {tb::f_bytes(1, "alpha") + tb::f_float(2, 0.5f)}});
  const std::string b = m.bytes();
  const auto p = lr::onnx::decode_model(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  EXPECT_EQ(p.graph.nodes[0].attributes[0].type, lr::onnx::AttrType::kFloat);
}

TEST(OnnxDecode, MalformedFieldsAreErrors) {
  // graph field with a varint wire type
  EXPECT_NE(error_of(tb::f_varint(7, 1)).find("'graph'"), std::string::npos);
  // a declared INT attribute carrying a float
  tb::Model m;
  m.add({"Relu", "", "r", {"x"}, {"y"}, {tb::f_bytes(1, "a") + tb::f_varint(20, 2) + tb::f_float(2, 1.0f)}});
  EXPECT_NE(error_of(m.bytes()).find("declares type INT"), std::string::npos);
  // attribute with no value and no type
  tb::Model m2;
  m2.add({"Relu", "", "r", {"x"}, {"y"}, {tb::f_bytes(1, "a")}});
  EXPECT_NE(error_of(m2.bytes()).find("no type field"), std::string::npos);
  // unknown attribute type number
  tb::Model m3;
  m3.add({"Relu", "", "r", {"x"}, {"y"}, {tb::f_bytes(1, "a") + tb::f_varint(20, 99)}});
  EXPECT_NE(error_of(m3.bytes()).find("unknown type 99"), std::string::npos);
  // graph twice
  EXPECT_NE(error_of(tb::f_bytes(7, "") + tb::f_bytes(7, "")).find("appears twice"), std::string::npos);
  // length of a nested message beyond its parent
  EXPECT_NE(error_of(tb::f_bytes(7, tb::key(1, 2) + tb::varint(50) + "ab")).find("beyond the end"), std::string::npos);
  // error messages carry the path and byte offset
  const std::string e = error_of(tb::f_bytes(7, tb::f_bytes(1, tb::key(4, 2) + tb::varint(9))));
  EXPECT_NE(e.find("ModelProto.graph.node[0]"), std::string::npos) << e;
  EXPECT_NE(e.find("at byte"), std::string::npos) << e;
}
