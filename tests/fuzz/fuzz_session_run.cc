// libFuzzer harness: load a model and run it. The input is the model; the
// feeds are derived from its bytes (deterministic): every symbolic dimension
// is 1 or 2, element values cycle through the model's own bytes (floats also
// through 0, +-0.5, +-1e30, +-inf and NaN). Runs twice on 2 threads at once
// and checks that both give the same outputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_limits.h"

namespace lr = linger::runtime;

namespace {

uint32_t mix(const uint8_t* data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
  return h;
}

lr::Tensor make_feed(const lr::TensorInfo& info, uint32_t seed, const uint8_t* data, size_t size) {
  std::vector<int64_t> shape = info.shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) shape[i] = 1 + ((seed >> (i % 16)) & 1);
  lr::Tensor t(info.dtype, shape);
  auto byte = [&](int64_t i) -> uint8_t { return size ? data[static_cast<size_t>(i + seed) % size] : 0; };
  const int64_t n = t.numel();
  switch (info.dtype) {
    case lr::DType::kFloat32: {
      static const float kSpecial[] = {0.0f, 0.5f, -0.5f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(), std::nanf("")};
      float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t b = byte(i);
        p[i] = b < 8 ? kSpecial[b] : static_cast<float>(static_cast<int8_t>(b)) / 16.0f;
      }
      break;
    }
    case lr::DType::kInt8: {
      int8_t* p = t.data<int8_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int8_t>(byte(i));
      break;
    }
    case lr::DType::kInt16: {
      int16_t* p = t.data<int16_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int16_t>(byte(i) * 257);
      break;
    }
    case lr::DType::kInt32: {
      int32_t* p = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(static_cast<int8_t>(byte(i)));
      break;
    }
    case lr::DType::kInt64: {
      int64_t* p = t.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int8_t>(byte(i));
      break;
    }
  }
  return t;
}

bool same(const std::vector<lr::Tensor>& a, const std::vector<lr::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || a[i].dtype() != b[i].dtype() ||
        (a[i].nbytes() && std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()) != 0))
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, lr::Tensor> feeds;
  std::unique_ptr<lr::Session> session;
  try {
    session = std::make_unique<lr::Session>(lr::Session::from_bytes(data, size, fuzz::options()));
    const uint32_t seed = mix(data, size);
    int64_t fed = 0;
    for (const lr::TensorInfo& info : session->inputs()) {
      lr::Tensor t = make_feed(info, seed, data, size);
      fed += static_cast<int64_t>(t.nbytes());
      feeds.emplace(info.name, std::move(t));
    }
    if (fed > fuzz::options().max_tensor_bytes) return 0;
  } catch (const lr::Error&) {
    return 0;
  }
  std::vector<lr::Tensor> first, second;
  bool first_ok = true, second_ok = true;
  std::thread other([&] {
    try {
      second = session->run(feeds);
    } catch (const lr::Error&) {
      second_ok = false;
    }
  });
  try {
    first = session->run(feeds);
  } catch (const lr::Error&) {
    first_ok = false;
  }
  other.join();
  // Same feeds, same session: the same outcome on both threads.
  if (first_ok != second_ok || (first_ok && !same(first, second))) std::abort();
  return 0;
}
