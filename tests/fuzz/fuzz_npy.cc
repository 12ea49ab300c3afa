// libFuzzer harness: the .npy reader, and the writer on what it accepts
// (decode(encode(t)) must give t back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "linger/runtime/npy.h"
#include "linger/runtime/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const linger::runtime::Tensor t = linger::runtime::npy_decode(bytes, "fuzz input");
    const linger::runtime::Tensor back = linger::runtime::npy_decode(linger::runtime::npy_encode(t), "round trip");
    if (back.shape() != t.shape() || back.dtype() != t.dtype() || back.nbytes() != t.nbytes() ||
        (t.nbytes() && std::memcmp(back.raw_data(), t.raw_data(), t.nbytes()) != 0))
      std::abort();  // the writer and the reader disagree
  } catch (const linger::runtime::Error&) {
  }
  return 0;
}
