// What the optimised-kernel test files share: readable ISA parameters, the
// per-ISA fixture that skips an ISA this CPU lacks (saying why), and whether
// the build is sanitized (the random tests then run fewer cases).
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "opt_kernels.h"

namespace linger {
namespace runtime {
namespace opt {
// Readable test parameter values in gtest messages.
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace opt
}  // namespace runtime
}  // namespace linger

namespace opt_test {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// A test run once per ISA (INSTANTIATE_ISAS below); skipped where the CPU lacks it.
class IsaTest : public ::testing::TestWithParam<linger::runtime::opt::Isa> {
 protected:
  void SetUp() override {
    if (!linger::runtime::opt::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU (or compiler) does not support " << linger::runtime::opt::isa_name(GetParam())
                   << " (run-time cpuid check); its path is not exercised here";
  }
  linger::runtime::opt::Isa isa() const { return GetParam(); }
};

inline std::string isa_param_name(const ::testing::TestParamInfo<linger::runtime::opt::Isa>& info) {
  return linger::runtime::opt::isa_name(info.param);
}

}  // namespace opt_test

// Instantiates the IsaTest-derived fixture `Fixture` for scalar, AVX2 and AVX-512 VNNI.
#define LINGER_INSTANTIATE_ISAS(Fixture)                                                                         \
  INSTANTIATE_TEST_SUITE_P(Isas, Fixture,                                                                        \
                           ::testing::Values(linger::runtime::opt::Isa::kScalar, linger::runtime::opt::Isa::kAvx2, \
                                             linger::runtime::opt::Isa::kAvx512Vnni),                            \
                           opt_test::isa_param_name)
