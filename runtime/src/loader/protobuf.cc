#include "loader/protobuf.h"

#include <cstring>
#include <limits>

#include "linger/runtime/errors.h"

namespace linger {
namespace runtime {
namespace pb {

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kFixed32: return "fixed32";
  }
  return "?";
}

Reader::Reader(const uint8_t* data, size_t size, size_t offset, std::string context)
    : data_(data), size_(size), offset_(offset), context_(std::move(context)) {}

void Reader::fail(const std::string& what) const {
  throw ParseError("malformed ONNX protobuf at byte " + std::to_string(offset_ + pos_) + " (in " + context_ +
                   "): " + what);
}

size_t Reader::need(size_t n, const char* what) {
  if (n > size_ - pos_)
    fail(std::string("truncated ") + what + ": needs " + std::to_string(n) + " bytes, " +
         std::to_string(size_ - pos_) + " left");
  const size_t at = pos_;
  pos_ += n;
  return at;
}

uint64_t Reader::read_varint() {
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= size_) fail("truncated varint");
    const uint8_t byte = data_[pos_++];
    if (i == 9 && byte > 1) fail("varint longer than 64 bits");
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) return value;
  }
  fail("varint longer than 10 bytes");
}

int32_t Reader::read_int32() {
  const int64_t v = read_int64();
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    fail("int32 field value " + std::to_string(v) + " out of range");
  return static_cast<int32_t>(v);
}

Tag Reader::read_tag() {
  const uint64_t key = read_varint();
  if (key > std::numeric_limits<uint32_t>::max()) fail("field key out of range");
  Tag tag;
  tag.field = static_cast<uint32_t>(key >> 3);
  if (tag.field == 0) fail("field number 0");
  const uint32_t wt = static_cast<uint32_t>(key & 7);
  if (wt == 3 || wt == 4) fail("group fields (wire type " + std::to_string(wt) + ") are not supported");
  if (wt != 0 && wt != 1 && wt != 2 && wt != 5) fail("invalid wire type " + std::to_string(wt));
  tag.type = static_cast<WireType>(wt);
  return tag;
}

uint32_t Reader::read_fixed32() {
  const size_t at = need(4, "fixed32");
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | data_[at + static_cast<size_t>(i)];
  return v;
}

uint64_t Reader::read_fixed64() {
  const size_t at = need(8, "fixed64");
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | data_[at + static_cast<size_t>(i)];
  return v;
}

float Reader::read_float() {
  const uint32_t bits = read_fixed32();
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

size_t Reader::read_length(const char* what) {
  const uint64_t len = read_varint();
  if (len > size_ - pos_)
    fail(std::string("length of ") + what + " (" + std::to_string(len) + ") beyond the end of the buffer (" +
         std::to_string(size_ - pos_) + " bytes left)");
  return static_cast<size_t>(len);
}

std::string Reader::read_bytes() {
  const size_t len = read_length("length-delimited field");
  const size_t at = need(len, "bytes");
  return std::string(reinterpret_cast<const char*>(data_ + at), len);
}

Reader Reader::read_message(const std::string& context) {
  const size_t len = read_length("embedded message");
  const size_t at = need(len, "embedded message");
  return Reader(data_ + at, len, offset_ + at, context);
}

void Reader::skip(WireType type) {
  switch (type) {
    case WireType::kVarint: read_varint(); return;
    case WireType::kFixed64: need(8, "fixed64"); return;
    case WireType::kFixed32: need(4, "fixed32"); return;
    case WireType::kLengthDelimited: need(read_length("length-delimited field"), "bytes"); return;
  }
}

void Reader::expect(const Tag& tag, WireType type, const char* field_name) const {
  if (tag.type != type)
    fail(std::string("field '") + field_name + "' (number " + std::to_string(tag.field) + ") has wire type " +
         wire_type_name(tag.type) + ", expected " + wire_type_name(type));
}

void Reader::read_repeated_int64(const Tag& tag, std::vector<int64_t>* out, const char* field_name) {
  if (tag.type == WireType::kLengthDelimited) {
    Reader packed = read_message(context_ + "." + field_name);
    while (!packed.at_end()) out->push_back(packed.read_int64());
    return;
  }
  expect(tag, WireType::kVarint, field_name);
  out->push_back(read_int64());
}

void Reader::read_repeated_int32(const Tag& tag, std::vector<int32_t>* out, const char* field_name) {
  if (tag.type == WireType::kLengthDelimited) {
    Reader packed = read_message(context_ + "." + field_name);
    while (!packed.at_end()) out->push_back(packed.read_int32());
    return;
  }
  expect(tag, WireType::kVarint, field_name);
  out->push_back(read_int32());
}

void Reader::read_repeated_float(const Tag& tag, std::vector<float>* out, const char* field_name) {
  if (tag.type == WireType::kLengthDelimited) {
    Reader packed = read_message(context_ + "." + field_name);
    if (packed.size_ % 4 != 0) fail(std::string("packed float field '") + field_name + "' size not a multiple of 4");
    out->reserve(out->size() + packed.size_ / 4);
    while (!packed.at_end()) out->push_back(packed.read_float());
    return;
  }
  expect(tag, WireType::kFixed32, field_name);
  out->push_back(read_float());
}

}  // namespace pb
}  // namespace runtime
}  // namespace linger
