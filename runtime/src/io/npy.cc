// .npy reader/writer (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
#include "linger/runtime/npy.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "linger/runtime/errors.h"
#include "size_math.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, ".npy data is handled as little-endian");

namespace linger {
namespace runtime {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

const char* descr_of(DType t) {
  switch (t) {
    case DType::kFloat32: return "<f4";
    case DType::kInt8: return "|i1";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
  }
  return "";
}

bool dtype_of_descr(const std::string& d, DType* t) {
  if (d == "<f4") *t = DType::kFloat32;
  else if (d == "|i1" || d == "<i1" || d == "i1") *t = DType::kInt8;
  else if (d == "<i2") *t = DType::kInt16;
  else if (d == "<i4") *t = DType::kInt32;
  else if (d == "<i8") *t = DType::kInt64;
  else return false;
  return true;
}

// A parser for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  void parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    ws();
    expect('{');
    while (true) {
      ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = string_literal();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        *descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      ws();
      expect('}');
      break;
    }
    ws();
    if (pos_ != s_.size()) fail("trailing characters after the header dict");
    if (!have_descr || !have_fortran || !have_shape) fail("the header needs descr, fortran_order and shape");
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw IoError(what_ + ": bad .npy header: " + msg); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a string");
    ++pos_;
    const size_t end = s_.find(q, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> v;
    expect('(');
    while (true) {
      ws();
      if (peek() == ')') {
        ++pos_;
        return v;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      int64_t d = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = peek() - '0';
        if (d > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
        d = d * 10 + digit;
        ++pos_;
      }
      v.push_back(d);
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      ws();
      expect(')');
      return v;
    }
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

uint32_t read_le(const std::string& b, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

}  // namespace

Tensor npy_decode(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kMagicLen + 2 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0)
    throw IoError(what + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_at, header_len;
  if (major == 1) {
    if (bytes.size() < 10) throw IoError(what + ": truncated .npy header");
    header_len = read_le(bytes, 8, 2);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw IoError(what + ": truncated .npy header");
    header_len = read_le(bytes, 8, 4);
    header_at = 12;
  } else {
    throw IoError(what + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_at) throw IoError(what + ": truncated .npy header");
  const std::string header = bytes.substr(header_at, header_len);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  HeaderParser(header, what).parse(&descr, &fortran, &shape);
  DType dtype;
  if (!dtype_of_descr(descr, &dtype))
    throw IoError(what + ": unsupported .npy dtype '" + descr + "' (supported: <f4 |i1 <i2 <i4 <i8)");
  if (fortran) throw IoError(what + ": Fortran-order arrays are not supported (save a C-contiguous array)");
  const size_t data_at = header_at + header_len;
  const size_t data_len = bytes.size() - data_at;
  int64_t numel;
  try {
    numel = shape_numel(shape);
  } catch (const InputError& e) {
    throw IoError(what + ": " + e.what());
  }
  if (static_cast<uint64_t>(numel) > data_len / dtype_size(dtype) || data_len != static_cast<size_t>(numel) * dtype_size(dtype))
    throw IoError(what + ": data has " + std::to_string(data_len) + " bytes, shape " + shape_str(shape) + " of " +
                  dtype_name(dtype) + " needs " + product_str(static_cast<uint64_t>(numel), dtype_size(dtype)) +
                  " bytes");
  return Tensor::from_bytes(dtype, shape, bytes.data() + data_at, data_len);
}

std::string npy_encode(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + (t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
  shape += ")";
  std::string dict = std::string("{'descr': '") + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
  size_t prefix = kMagicLen + 2 + 2;
  size_t total = prefix + dict.size() + 1;
  int major = 1;
  if ((total + 63) / 64 * 64 - prefix > 0xffff) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
    total = prefix + dict.size() + 1;
  }
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const size_t hl = dict.size();
  const size_t nlen = major == 1 ? 2 : 4;
  for (size_t i = 0; i < nlen; ++i) out.push_back(static_cast<char>((hl >> (8 * i)) & 0xff));
  out += dict;
  out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

std::string read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw IoError("'" + path + "' is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open '" + path + "' for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw IoError("error reading '" + path + "'");
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError("cannot open '" + path + "' for writing");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) throw IoError("error writing '" + path + "'");
}

Tensor read_npy(const std::string& path) { return npy_decode(read_file(path), "'" + path + "'"); }

void write_npy(const std::string& path, const Tensor& tensor) { write_file(path, npy_encode(tensor)); }

}  // namespace runtime
}  // namespace linger
