// Decoder of the ONNX protobuf subset described in onnx_proto.h. Unknown
// fields are skipped by wire type; known fields must have their wire type.
#include <string>

#include "loader/onnx_proto.h"
#include "loader/protobuf.h"

namespace linger {
namespace runtime {
namespace onnx {

using pb::Reader;
using pb::Tag;
using pb::WireType;

const char* data_type_name(int32_t data_type) {
  switch (data_type) {
    case kUndefined: return "UNDEFINED";
    case kFloat: return "FLOAT";
    case kUint8: return "UINT8";
    case kInt8: return "INT8";
    case kUint16: return "UINT16";
    case kInt16: return "INT16";
    case kInt32: return "INT32";
    case kInt64: return "INT64";
    case kString: return "STRING";
    case kBool: return "BOOL";
    case kFloat16: return "FLOAT16";
    case kDouble: return "DOUBLE";
    case kUint32: return "UINT32";
    case kUint64: return "UINT64";
    case kBfloat16: return "BFLOAT16";
    default: return "unknown data type";
  }
}

const char* attr_type_name(AttrType type) {
  switch (type) {
    case AttrType::kUndefined: return "UNDEFINED";
    case AttrType::kFloat: return "FLOAT";
    case AttrType::kInt: return "INT";
    case AttrType::kString: return "STRING";
    case AttrType::kTensor: return "TENSOR";
    case AttrType::kGraph: return "GRAPH";
    case AttrType::kFloats: return "FLOATS";
    case AttrType::kInts: return "INTS";
    case AttrType::kStrings: return "STRINGS";
    case AttrType::kTensors: return "TENSORS";
    case AttrType::kGraphs: return "GRAPHS";
    case AttrType::kSparseTensor: return "SPARSE_TENSOR";
    case AttrType::kSparseTensors: return "SPARSE_TENSORS";
    case AttrType::kTypeProto: return "TYPE_PROTO";
    case AttrType::kTypeProtos: return "TYPE_PROTOS";
  }
  return "?";
}

namespace {

std::string indexed(const std::string& base, const char* field, size_t i) {
  return base + "." + field + "[" + std::to_string(i) + "]";
}

std::string read_string(Reader& r, const Tag& tag, const char* name) {
  r.expect(tag, WireType::kLengthDelimited, name);
  return r.read_bytes();
}

TensorProto decode_tensor(Reader r) {
  TensorProto t;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: r.read_repeated_int64(tag, &t.dims, "dims"); break;
      case 2: r.expect(tag, WireType::kVarint, "data_type"); t.data_type = r.read_int32(); break;
      case 4: r.read_repeated_float(tag, &t.float_data, "float_data"); break;
      case 5: r.read_repeated_int32(tag, &t.int32_data, "int32_data"); break;
      case 7: r.read_repeated_int64(tag, &t.int64_data, "int64_data"); break;
      case 8: t.name = read_string(r, tag, "name"); break;
      case 9:
        t.raw_data = read_string(r, tag, "raw_data");
        t.has_raw_data = true;
        break;
      case 3: case 6: case 10: case 11:  // segment, string_data, double_data, uint64_data
        t.has_unsupported_data = true;
        r.skip(tag.type);
        break;
      case 13: t.has_external_data = true; r.skip(tag.type); break;
      case 14: {
        r.expect(tag, WireType::kVarint, "data_location");
        if (r.read_int32() != 0) t.has_external_data = true;
        break;
      }
      default: r.skip(tag.type);
    }
  }
  return t;
}

void seen(uint32_t* mask, AttrType type) { *mask |= 1u << static_cast<uint32_t>(type); }

AttributeProto decode_attribute(Reader r) {
  AttributeProto a;
  uint32_t kinds = 0;  // bit per AttrType whose value field is present
  int32_t declared = 0;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: a.name = read_string(r, tag, "name"); break;
      case 20: r.expect(tag, WireType::kVarint, "type"); declared = r.read_int32(); break;
      case 2: r.expect(tag, WireType::kFixed32, "f"); a.f = r.read_float(); seen(&kinds, AttrType::kFloat); break;
      case 3: r.expect(tag, WireType::kVarint, "i"); a.i = r.read_int64(); seen(&kinds, AttrType::kInt); break;
      case 4: a.s = read_string(r, tag, "s"); seen(&kinds, AttrType::kString); break;
      case 5: {
        r.expect(tag, WireType::kLengthDelimited, "t");
        if (a.t) r.fail("attribute field 't' appears twice");
        a.t = std::make_shared<TensorProto>(decode_tensor(r.read_message(r.context() + ".t")));
        seen(&kinds, AttrType::kTensor);
        break;
      }
      case 7: r.read_repeated_float(tag, &a.floats, "floats"); seen(&kinds, AttrType::kFloats); break;
      case 8: r.read_repeated_int64(tag, &a.ints, "ints"); seen(&kinds, AttrType::kInts); break;
      case 9: a.strings.push_back(read_string(r, tag, "strings")); seen(&kinds, AttrType::kStrings); break;
      case 6: r.skip(tag.type); seen(&kinds, AttrType::kGraph); break;
      case 10: r.skip(tag.type); seen(&kinds, AttrType::kTensors); break;
      case 11: r.skip(tag.type); seen(&kinds, AttrType::kGraphs); break;
      case 14: r.skip(tag.type); seen(&kinds, AttrType::kTypeProto); break;
      case 15: r.skip(tag.type); seen(&kinds, AttrType::kTypeProtos); break;
      case 22: r.skip(tag.type); seen(&kinds, AttrType::kSparseTensor); break;
      case 23: r.skip(tag.type); seen(&kinds, AttrType::kSparseTensors); break;
      case 21: {
        const std::string ref = read_string(r, tag, "ref_attr_name");
        r.fail("attribute '" + a.name + "' refers to '" + ref + "' (ref_attr_name is only valid inside functions)");
      }
      default: r.skip(tag.type);
    }
  }
  if (declared != 0) {
    if (declared < 1 || declared > static_cast<int32_t>(AttrType::kTypeProtos))
      r.fail("attribute '" + a.name + "' has unknown type " + std::to_string(declared));
    a.type = static_cast<AttrType>(declared);
    if ((kinds & ~(1u << static_cast<uint32_t>(declared))) != 0)
      r.fail("attribute '" + a.name + "' declares type " + attr_type_name(a.type) +
             " but carries a value of another type");
  } else {
    int count = 0;
    for (uint32_t k = 1; k <= static_cast<uint32_t>(AttrType::kTypeProtos); ++k)
      if (kinds & (1u << k)) {
        a.type = static_cast<AttrType>(k);
        ++count;
      }
    if (count != 1)
      r.fail("attribute '" + a.name + "' has no type field and " +
             (count == 0 ? std::string("no value") : std::string("values of several types")));
  }
  return a;
}

NodeProto decode_node(Reader r) {
  NodeProto n;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: n.inputs.push_back(read_string(r, tag, "input")); break;
      case 2: n.outputs.push_back(read_string(r, tag, "output")); break;
      case 3: n.name = read_string(r, tag, "name"); break;
      case 4: n.op_type = read_string(r, tag, "op_type"); break;
      case 7: n.domain = read_string(r, tag, "domain"); break;
      case 5: {
        r.expect(tag, WireType::kLengthDelimited, "attribute");
        const std::string ctx = indexed(r.context(), "attribute", n.attributes.size());
        n.attributes.push_back(decode_attribute(r.read_message(ctx)));
        break;
      }
      default: r.skip(tag.type);
    }
  }
  return n;
}

Dimension decode_dimension(Reader r) {
  Dimension d;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType::kVarint, "dim_value");
        d.value = r.read_int64();
        d.has_value = true;
        d.param.clear();
        break;
      case 2:
        d.param = read_string(r, tag, "dim_param");
        d.has_value = false;
        break;
      default: r.skip(tag.type);
    }
  }
  return d;
}

void decode_shape(Reader r, std::vector<Dimension>* dims) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    if (tag.field == 1) {
      r.expect(tag, WireType::kLengthDelimited, "dim");
      dims->push_back(decode_dimension(r.read_message(indexed(r.context(), "dim", dims->size()))));
    } else {
      r.skip(tag.type);
    }
  }
}

void decode_tensor_type(Reader r, ValueInfoProto* v) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: r.expect(tag, WireType::kVarint, "elem_type"); v->elem_type = r.read_int32(); break;
      case 2:
        r.expect(tag, WireType::kLengthDelimited, "shape");
        if (v->has_shape) r.fail("field 'shape' appears twice");
        v->has_shape = true;
        decode_shape(r.read_message(r.context() + ".shape"), &v->dims);
        break;
      default: r.skip(tag.type);
    }
  }
}

void decode_type(Reader r, ValueInfoProto* v) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType::kLengthDelimited, "tensor_type");
        if (v->has_tensor_type) r.fail("field 'tensor_type' appears twice");
        v->has_tensor_type = true;
        decode_tensor_type(r.read_message(r.context() + ".tensor_type"), v);
        break;
      case 4: case 5: case 8: case 9:  // sequence, map, sparse tensor, optional
        v->has_other_type = true;
        r.skip(tag.type);
        break;
      default: r.skip(tag.type);
    }
  }
}

ValueInfoProto decode_value_info(Reader r) {
  ValueInfoProto v;
  bool has_type = false;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: v.name = read_string(r, tag, "name"); break;
      case 2:
        r.expect(tag, WireType::kLengthDelimited, "type");
        if (has_type) r.fail("field 'type' appears twice");
        has_type = true;
        decode_type(r.read_message(r.context() + ".type"), &v);
        break;
      default: r.skip(tag.type);
    }
  }
  return v;
}

GraphProto decode_graph(Reader r) {
  GraphProto g;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    const std::string& ctx = r.context();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType::kLengthDelimited, "node");
        g.nodes.push_back(decode_node(r.read_message(indexed(ctx, "node", g.nodes.size()))));
        break;
      case 2: g.name = read_string(r, tag, "name"); break;
      case 5:
        r.expect(tag, WireType::kLengthDelimited, "initializer");
        g.initializers.push_back(decode_tensor(r.read_message(indexed(ctx, "initializer", g.initializers.size()))));
        break;
      case 15: g.has_sparse_initializer = true; r.skip(tag.type); break;
      case 11:
        r.expect(tag, WireType::kLengthDelimited, "input");
        g.inputs.push_back(decode_value_info(r.read_message(indexed(ctx, "input", g.inputs.size()))));
        break;
      case 12:
        r.expect(tag, WireType::kLengthDelimited, "output");
        g.outputs.push_back(decode_value_info(r.read_message(indexed(ctx, "output", g.outputs.size()))));
        break;
      case 13:
        r.expect(tag, WireType::kLengthDelimited, "value_info");
        g.value_infos.push_back(decode_value_info(r.read_message(indexed(ctx, "value_info", g.value_infos.size()))));
        break;
      default: r.skip(tag.type);
    }
  }
  return g;
}

OperatorSetId decode_opset(Reader r) {
  OperatorSetId o;
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: o.domain = read_string(r, tag, "domain"); break;
      case 2: r.expect(tag, WireType::kVarint, "version"); o.version = r.read_int64(); break;
      default: r.skip(tag.type);
    }
  }
  return o;
}

}  // namespace

ModelProto decode_model(const uint8_t* data, size_t size) {
  ModelProto m;
  Reader r(data, size, 0, "ModelProto");
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: r.expect(tag, WireType::kVarint, "ir_version"); m.ir_version = r.read_int64(); break;
      case 8:
        r.expect(tag, WireType::kLengthDelimited, "opset_import");
        m.opset_imports.push_back(decode_opset(r.read_message(indexed("ModelProto", "opset_import", m.opset_imports.size()))));
        break;
      case 2: m.producer_name = read_string(r, tag, "producer_name"); break;
      case 3: m.producer_version = read_string(r, tag, "producer_version"); break;
      case 4: m.domain = read_string(r, tag, "domain"); break;
      case 7:
        r.expect(tag, WireType::kLengthDelimited, "graph");
        if (m.has_graph) r.fail("field 'graph' appears twice");
        m.has_graph = true;
        m.graph = decode_graph(r.read_message("ModelProto.graph"));
        break;
      case 25: m.has_functions = true; r.skip(tag.type); break;
      default: r.skip(tag.type);
    }
  }
  return m;
}

}  // namespace onnx
}  // namespace runtime
}  // namespace linger
