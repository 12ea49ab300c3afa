// Session options shared by the fuzz harnesses: small bounds so that every
// accepted model is cheap to plan and run (a harness must not time out on a
// model the runtime rightly accepts).
#pragma once

#include "linger/runtime/runtime.h"

namespace fuzz {

inline linger::runtime::SessionOptions options() {
  linger::runtime::SessionOptions o;
  o.isa = linger::runtime::Isa::kAuto;
  o.max_tensor_bytes = int64_t{1} << 18;  // 256 KiB per tensor or workspace
  o.max_memory_bytes = int64_t{1} << 22;  // 4 MiB in all
  return o;
}

}  // namespace fuzz
