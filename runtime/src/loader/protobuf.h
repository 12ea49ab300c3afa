// A strict reader of the protobuf wire format (the subset ONNX needs).
// Every read is bounds-checked; any malformed input throws ParseError with the
// byte offset and the message path being decoded ("ModelProto.graph.node[2]").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace linger {
namespace runtime {
namespace pb {

enum class WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

const char* wire_type_name(WireType type);

struct Tag {
  uint32_t field = 0;
  WireType type = WireType::kVarint;
};

class Reader {
 public:
  // data[0, size) is the message; `offset` is its position in the file (for
  // messages) and `context` its path, both only used in error messages.
  Reader(const uint8_t* data, size_t size, size_t offset, std::string context);

  bool at_end() const { return pos_ == size_; }
  const std::string& context() const { return context_; }

  Tag read_tag();
  uint64_t read_varint();
  int64_t read_int64() { return static_cast<int64_t>(read_varint()); }
  int32_t read_int32();  // a varint that must fit int32 (negative ones are 10-byte sign extended)
  uint32_t read_fixed32();
  uint64_t read_fixed64();
  float read_float();
  std::string read_bytes();  // a length-delimited field's payload
  // A length-delimited field as a nested message reader with context `context`.
  Reader read_message(const std::string& context);
  // Skips the value of a field of this wire type.
  void skip(WireType type);

  // Reads a field's value into `out` checking the wire type first.
  void expect(const Tag& tag, WireType type, const char* field_name) const;
  // Repeated scalar fields, packed (length-delimited) or one value per tag.
  void read_repeated_int64(const Tag& tag, std::vector<int64_t>* out, const char* field_name);
  void read_repeated_int32(const Tag& tag, std::vector<int32_t>* out, const char* field_name);
  void read_repeated_float(const Tag& tag, std::vector<float>* out, const char* field_name);

  [[noreturn]] void fail(const std::string& what) const;

 private:
  size_t need(size_t n, const char* what);  // returns the current position, advances by n
  size_t read_length(const char* what);     // a length prefix that fits the remaining bytes

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t offset_;
  std::string context_;
};

}  // namespace pb
}  // namespace runtime
}  // namespace linger
