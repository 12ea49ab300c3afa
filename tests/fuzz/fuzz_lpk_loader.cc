// libFuzzer harness for the micro runtime's packed-file loader (lm_model_init)
// and, for files it accepts, lm_invoke on both kernel paths. The CRC is fixed up
// before loading so that mutations reach the structural checks behind it.
// Built and run by tests/fuzz/lpk/run.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "linger/micro/lpk_format.h"
#include "linger/micro/micro.h"

namespace {

uint32_t rd32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint64_t> words(size / 8 + 1);
  uint8_t* p = reinterpret_cast<uint8_t*>(words.data());
  memcpy(p, data, size);
  if (size >= LPK_HEADER_SIZE) {
    const uint32_t fs = rd32(p + LPK_H_FILE_SIZE);
    if (fs >= LPK_HEADER_SIZE && fs <= size) {
      const uint32_t crc = lm_crc32(p + LPK_HEADER_SIZE, fs - LPK_HEADER_SIZE);
      for (int i = 0; i < 4; ++i) p[LPK_H_CRC32 + i] = static_cast<uint8_t>(crc >> (8 * i));
    }
  }
  uint32_t need = lm_required_arena_size(p, size);
  if (need > (1u << 20)) need = 1u << 20;  // a smaller arena must be refused cleanly too
  std::vector<uint64_t> arena(need / 8 + 1);
  lm_model m;
  lm_error e;
  if (lm_model_init(&m, p, size, arena.data(), need, &e) != LM_OK) return 0;
  if (need > (64u << 10)) return 0;  // keep each run short
  for (uint32_t i = 0; i < m.input_count; ++i) {
    lm_tensor t;
    if (lm_input(&m, i, &t) == LM_OK) memset(t.data, 0, t.nbytes);
  }
  lm_invoke(&m, LM_KERNELS_PORTABLE, &e);
  for (uint32_t i = 0; i < m.input_count; ++i) {
    lm_tensor t;
    if (lm_input(&m, i, &t) == LM_OK) memset(t.data, 0x41, t.nbytes);
  }
  lm_invoke(&m, LM_KERNELS_DSP, &e);
  return 0;
}
