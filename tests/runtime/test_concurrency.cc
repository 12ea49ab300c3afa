// One Session used from several threads at once gives the outputs of
// sequential runs (Session::run is thread-safe, docs/runtime.md).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;

namespace {

lr::Tensor input_for(int i) {
  std::vector<float> x(72);
  for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>((static_cast<int>(k) * 7 + i * 13) % 41 - 20) / 4.0f;
  return lr::Tensor::from_vector<float>({1, 2, 6, 6}, x);
}

}  // namespace

TEST(Concurrency, FourThreadsMatchSequentialRuns) {
  const std::string b = tmodels::small_cnn().bytes();
  lr::Session s = lr::Session::from_bytes(b.data(), b.size());
  constexpr int kInputs = 16, kThreads = 4, kRuns = 300;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < kInputs; ++i) expected.push_back(s.run({{"x", input_for(i)}})[0].to_vector<float>());
  EXPECT_NE(expected[0], expected[1]);  // the inputs give different outputs
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRuns; ++r) {
        const int i = (r * 5 + t * 3) % kInputs;
        try {
          if (s.run({{"x", input_for(i)}})[0].to_vector<float>() != expected[static_cast<size_t>(i)]) ++mismatches;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
}

// Symbolic shapes: threads asking for different shapes replace the cached plan
// while others run on the one they hold.
TEST(Concurrency, SymbolicShapesChangingBetweenThreads) {
  const std::string b = tmodels::shape_ops().bytes();
  lr::Session s = lr::Session::from_bytes(b.data(), b.size());
  auto feeds = [](int n) {
    std::vector<int8_t> x(static_cast<size_t>(n) * 24);
    for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<int8_t>(static_cast<int>(k * 11 % 200) - 100);
    return std::map<std::string, lr::Tensor>{{"x", lr::Tensor::from_vector<int8_t>({n, 4, 6}, x)},
                                             {"b", lr::Tensor::from_vector<int8_t>({4}, {1, -2, 3, -4})}};
  };
  std::vector<std::vector<int8_t>> expected;
  for (int n = 1; n <= 4; ++n) expected.push_back(s.run(feeds(n))[0].to_vector<int8_t>());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 200; ++r) {
        const int n = (r + t) % 4 + 1;
        try {
          if (s.run(feeds(n))[0].to_vector<int8_t>() != expected[static_cast<size_t>(n - 1)]) ++bad;
        } catch (const std::exception&) {
          ++bad;
        }
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}
