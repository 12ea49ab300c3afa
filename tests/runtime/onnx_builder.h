// Test-only helpers: hand-encode ONNX protobuf bytes (no protobuf library), so
// the runtime's gtests need no Python. Field numbers follow onnx/onnx.proto.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tb {

enum Elem : int { kFloat = 1, kInt8 = 3, kInt16 = 5, kInt32 = 6, kInt64 = 7, kDouble = 11 };

inline std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}
inline std::string key(int field, int wire) { return varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire)); }
inline std::string f_varint(int field, int64_t v) { return key(field, 0) + varint(static_cast<uint64_t>(v)); }
inline std::string f_bytes(int field, const std::string& b) { return key(field, 2) + varint(b.size()) + b; }
inline std::string fixed32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
inline std::string f_float(int field, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return key(field, 5) + fixed32(bits);
}
inline std::string packed_int64(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += varint(static_cast<uint64_t>(x));
  return s;
}

// --- AttributeProto (name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20) ---
inline std::string attr_int(const std::string& name, int64_t v) { return f_bytes(1, name) + f_varint(20, 2) + f_varint(3, v); }
inline std::string attr_float(const std::string& name, float v) { return f_bytes(1, name) + f_varint(20, 1) + f_float(2, v); }
inline std::string attr_string(const std::string& name, const std::string& v) {
  return f_bytes(1, name) + f_varint(20, 3) + f_bytes(4, v);
}
inline std::string attr_ints(const std::string& name, const std::vector<int64_t>& v, bool packed = true) {
  std::string s = f_bytes(1, name) + f_varint(20, 7);
  if (packed) return s + f_bytes(8, packed_int64(v));
  for (int64_t x : v) s += f_varint(8, x);
  return s;
}
inline std::string attr_floats(const std::string& name, const std::vector<float>& v) {
  std::string p;
  for (float f : v) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    p += fixed32(bits);
  }
  return f_bytes(1, name) + f_varint(20, 6) + f_bytes(7, p);
}
inline std::string attr_tensor(const std::string& name, const std::string& tensor) {
  return f_bytes(1, name) + f_varint(20, 4) + f_bytes(5, tensor);
}

// --- TensorProto (dims 1, data_type 2, name 8, raw_data 9) ---
inline std::string tensor_raw(const std::string& name, int elem, const std::vector<int64_t>& dims, const std::string& raw) {
  return f_bytes(1, packed_int64(dims)) + f_varint(2, elem) + f_bytes(8, name) + f_bytes(9, raw);
}
template <typename T>
std::string raw_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
template <typename T>
std::string tensor(const std::string& name, int elem, const std::vector<int64_t>& dims, const std::vector<T>& v) {
  return tensor_raw(name, elem, dims, raw_of(v));
}

// --- ValueInfoProto: name 1, type 2 { tensor_type 1 { elem_type 1, shape 2 { dim 1 { dim_value 1 | dim_param 2 } } } }
// A dim of -1 is written as dim_param "N".
inline std::string value_info(const std::string& name, int elem, const std::vector<int64_t>& dims, bool with_shape = true) {
  std::string shape;
  for (int64_t d : dims) shape += f_bytes(1, d >= 0 ? f_varint(1, d) : f_bytes(2, "N"));
  std::string tt = f_varint(1, elem);
  if (with_shape) tt += f_bytes(2, shape);
  return f_bytes(1, name) + f_bytes(2, f_bytes(1, tt));
}

struct Node {
  std::string op, domain, name;
  std::vector<std::string> in, out;
  std::vector<std::string> attrs;
};

inline std::string node(const Node& n) {
  std::string s;
  for (const std::string& i : n.in) s += f_bytes(1, i);
  for (const std::string& o : n.out) s += f_bytes(2, o);
  if (!n.name.empty()) s += f_bytes(3, n.name);
  s += f_bytes(4, n.op);
  if (!n.domain.empty()) s += f_bytes(7, n.domain);
  for (const std::string& a : n.attrs) s += f_bytes(5, a);
  return s;
}

// Replaces (or adds) the attribute `name` of a node; an empty `encoded` removes it.
inline void set_attr(Node& n, const std::string& name, const std::string& encoded) {
  const std::string prefix = f_bytes(1, name);
  std::vector<std::string> kept;
  for (const std::string& a : n.attrs)
    if (a.compare(0, prefix.size(), prefix) != 0) kept.push_back(a);
  if (!encoded.empty()) kept.push_back(encoded);
  n.attrs = kept;
}

// A model under construction. bytes(): ModelProto with the graph written last
// (so that any truncation breaks the graph or drops it).
struct Model {
  std::vector<Node> nodes;
  std::vector<std::string> inits, inputs, outputs, value_infos;
  std::vector<std::pair<std::string, int64_t>> opsets{{"", 12}, {"thinker", 1}};
  int64_t ir_version = 8;

  Model& input(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    inputs.push_back(value_info(name, elem, dims));
    return *this;
  }
  Model& output(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    outputs.push_back(value_info(name, elem, dims));
    return *this;
  }
  Model& init(const std::string& tensor_bytes) {
    inits.push_back(tensor_bytes);
    return *this;
  }
  Model& add(const Node& n) {
    nodes.push_back(n);
    return *this;
  }
  Node& find(const std::string& name) {
    for (Node& n : nodes)
      if (n.name == name) return n;
    throw std::runtime_error("test model has no node " + name);
  }
  std::string graph() const {
    std::string g;
    for (const Node& n : nodes) g += f_bytes(1, node(n));
    g += f_bytes(2, "test_graph");
    for (const std::string& t : inits) g += f_bytes(5, t);
    for (const std::string& i : inputs) g += f_bytes(11, i);
    for (const std::string& o : outputs) g += f_bytes(12, o);
    for (const std::string& v : value_infos) g += f_bytes(13, v);
    return g;
  }
  std::string bytes() const {
    std::string m = f_varint(1, ir_version) + f_bytes(2, "linger") + f_bytes(3, "test");
    for (const auto& o : opsets) m += f_bytes(8, (o.first.empty() ? std::string() : f_bytes(1, o.first)) + f_varint(2, o.second));
    return m + f_bytes(7, graph());
  }
};

// Common thinker attributes.
inline std::vector<std::string> conv_attrs(float sx, float sw, float so, int o_bits, std::vector<int64_t> ks,
                                           std::vector<int64_t> pads = {0, 0, 0, 0}, std::vector<int64_t> strides = {1, 1},
                                           std::vector<int64_t> dil = {1, 1}, int64_t group = 1) {
  std::vector<std::string> a{attr_float("scale_x", sx), attr_float("scale_w", sw), attr_ints("kernel_shape", ks),
                             attr_ints("pads", pads), attr_ints("strides", strides), attr_ints("dilations", dil),
                             attr_int("group", group), attr_int("data_bits", 8), attr_int("parameter_bits", 8),
                             attr_string("platform_quant", "luna_quant"), attr_string("castor_mode", "luna")};
  if (o_bits) {
    a.push_back(attr_float("scale_o", so));
    a.push_back(attr_int("o_bits", o_bits));
  }
  return a;
}

}  // namespace tb
