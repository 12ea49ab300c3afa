// linger-pack's library: validates an ONNX model exactly as the desktop runtime
// does (its decoder, graph builder and planner), lowers it to the micro
// runtime's ops, plans the arena, and writes the packed file (lpk_format.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace linger {
namespace micro_pack {

struct PackedTensorInfo {
  std::string name;
  int dtype = 0;          // LpkDType
  bool in_weights = false;
  int alias_of = -1;
  uint32_t offset = 0, nbytes = 0;
  int def = -1, last = -1;  // lifetime in op indices (arena buffers)
};

struct PackReport {
  uint32_t file_size = 0;
  uint32_t arena_size = 0;
  uint32_t weights_size = 0;
  uint32_t code_estimate = 0;   // Cortex-M4 -Os bytes of the micro runtime code these ops need
  uint64_t peak_live = 0;       // most arena bytes live during one op
  int peak_op = -1;
  std::string peak_op_label;    // "op 3 'conv2' (Conv2dInt)"
  std::vector<std::string> op_labels;
  std::vector<PackedTensorInfo> tensors;
  uint32_t flash_size() const { return file_size + code_estimate; }
};

// Throws linger::runtime::Error (ValidationError naming the node for a model the
// micro runtime cannot run, e.g. an unsupported op or a symbolic input shape).
std::vector<uint8_t> pack_model(const void* onnx_bytes, size_t size, PackReport* report);

// Human-readable summary (what linger-pack prints); `plan` adds the tensor table.
std::string describe(const PackReport& r, bool plan);

}  // namespace micro_pack
}  // namespace linger
