// libFuzzer harness: the model loader (protobuf decoding, graph building,
// validation, shape inference, constant folding, memory planning). Any
// linger::runtime::Error is an accepted outcome; a crash, a sanitizer report,
// another exception type or a timeout is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    linger::runtime::Session s = linger::runtime::Session::from_bytes(data, size, fuzz::options());
    (void)s.memory_info();
  } catch (const linger::runtime::Error&) {
  }
  return 0;
}
