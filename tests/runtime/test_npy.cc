// .npy reader / writer.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "linger/runtime/npy.h"
#include "linger/runtime/errors.h"

namespace lr = linger::runtime;

namespace {

std::string header(const std::string& dict, int major = 1) {
  std::string d = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + d.size() + 1) % 64) d.push_back(' ');
  d.push_back('\n');
  std::string s("\x93NUMPY", 6);
  s.push_back(static_cast<char>(major));
  s.push_back(0);
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) s.push_back(static_cast<char>((d.size() >> (8 * i)) & 0xff));
  return s + d;
}

std::string what_of(const std::string& bytes) {
  try {
    lr::npy_decode(bytes, "t.npy");
  } catch (const lr::IoError& e) {
    return e.what();
  }
  return "ok";
}

}  // namespace

TEST(Npy, RoundTripEveryDtypeAndRank) {
  const std::vector<std::vector<int64_t>> shapes{{}, {5}, {2, 3}, {2, 0, 4}, {1, 2, 3, 4}};
  for (const auto& shape : shapes) {
    for (lr::DType t : {lr::DType::kFloat32, lr::DType::kInt8, lr::DType::kInt16, lr::DType::kInt32, lr::DType::kInt64}) {
      lr::Tensor a(t, shape);
      auto* p = static_cast<unsigned char*>(a.raw_data());
      for (size_t i = 0; i < a.nbytes(); ++i) p[i] = static_cast<unsigned char>(i * 37 + 11);
      const std::string enc = lr::npy_encode(a);
      EXPECT_EQ(enc.find(std::string("\x93NUMPY\x01\x00", 8)), 0u);
      EXPECT_EQ((enc.size() - a.nbytes()) % 64, 0u);  // header aligned like numpy's
      const lr::Tensor b = lr::npy_decode(enc);
      EXPECT_EQ(b.dtype(), t);
      EXPECT_EQ(b.shape(), shape);
      ASSERT_EQ(b.nbytes(), a.nbytes());
      EXPECT_EQ(std::string(static_cast<const char*>(b.raw_data()), b.nbytes()),
                std::string(static_cast<const char*>(a.raw_data()), a.nbytes()));
    }
  }
}

TEST(Npy, HeaderSpelling) {
  EXPECT_EQ(lr::npy_encode(lr::Tensor(lr::DType::kInt8, {3})).find("{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }"),
            10u);
  EXPECT_NE(lr::npy_encode(lr::Tensor(lr::DType::kInt16, {2, 3})).find("'shape': (2, 3), }"), std::string::npos);
  EXPECT_NE(lr::npy_encode(lr::Tensor(lr::DType::kInt16, {})).find("'shape': (), }"), std::string::npos);
  // key order, double quotes, no trailing comma, version 2.0
  const lr::Tensor t = lr::npy_decode(header("{\"shape\": (2,2), 'descr': '<i2', 'fortran_order': False}", 2) + std::string(8, '\x01'));
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.data<int16_t>()[3], 0x0101);
}

TEST(Npy, Errors) {
  EXPECT_NE(what_of("not numpy").find("bad magic"), std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }") + "1234").find("unsupported .npy dtype"),
            std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") + "12345678").find("'<f8'"),
            std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + "1234").find("Fortran"),
            std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + "1234").find("needs 8"),
            std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }") + "12345").find("needs 4"),
            std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f4', 'shape': (1,), }") + "1234").find("needs descr"), std::string::npos);
  EXPECT_NE(what_of(header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")).find("too large"),
            std::string::npos);
  EXPECT_NE(what_of(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)).find("truncated"), std::string::npos);
  EXPECT_NE(what_of(std::string("\x93NUMPY\x07\x00", 8)).find("version 7"), std::string::npos);
  EXPECT_THROW(lr::read_npy("/nonexistent/x.npy"), lr::IoError);
}

TEST(Npy, FileRoundTrip) {
  const std::string path = testing::TempDir() + "linger_npy_roundtrip.npy";
  const lr::Tensor a = lr::Tensor::from_vector<float>({2, 2}, {1.5f, -2.0f, 0.0f, 3.25f});
  lr::write_npy(path, a);
  EXPECT_EQ(lr::read_npy(path).to_vector<float>(), a.to_vector<float>());
  std::remove(path.c_str());
}
