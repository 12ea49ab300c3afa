// Internal view of a packed model: records decoded field by field from the
// little-endian bytes (docs/packed-format.md), the op table, and the helpers
// the loader and the per-op files share.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "linger/micro/lpk_format.h"
#include "linger/micro/micro.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the micro runtime reads weights in place: it needs a little-endian target (as Cortex-M is)"
#endif

namespace lm {

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
inline int32_t rdi32(const uint8_t* p) { return static_cast<int32_t>(rd32(p)); }

struct Tensor {
  uint8_t dtype, rank, storage, flags, layout;
  int8_t exponent;
  uint16_t reserved;
  int32_t alias_of;
  uint32_t name, offset, nbytes;
  uint32_t dims[LPK_MAX_RANK];
};

struct Op {
  uint16_t code;
  uint8_t num_inputs, num_outputs;
  uint32_t name;
  int32_t in[LPK_MAX_OP_INPUTS];
  int32_t out;
  int32_t scratch;
  int32_t p[LPK_NUM_PARAMS];
  uint32_t reserved;
};

Tensor tensor_at(const lm_model& m, uint32_t index);  // index < tensor_count
Op op_at(const lm_model& m, uint32_t index);          // index < op_count
const char* string_at(const lm_model& m, uint32_t offset);  // validated: offset < strings_size

size_t dtype_size(uint8_t dtype);  // 0 for an unknown code

inline uint64_t numel(const Tensor& t) {
  uint64_t n = 1;
  for (uint8_t i = 0; i < t.rank; ++i) n *= t.dims[i];  // bounded at load: product < 2^31
  return n;
}

inline void* data_ptr(const lm_model& m, const Tensor& t) {
  if (t.storage == LPK_WEIGHTS) return const_cast<uint8_t*>(m.file + m.weights_offset + t.offset);
  return m.arena + t.offset;
}

// What an op's validation sees: the decoded op, its tensors, and where to report.
struct OpCheck {
  const lm_model* model;
  const Op* op;
  uint32_t index;
  lm_error* err;
  Tensor in[LPK_MAX_OP_INPUTS];
  bool has_in[LPK_MAX_OP_INPUTS];
  Tensor out;
  bool has_scratch;
  Tensor scratch;

  // Records an LM_ERR_OP naming this op; returns it.
  lm_status fail(const char* detail) const;
  bool is(int i, uint8_t dtype, uint8_t rank) const { return has_in[i] && in[i].dtype == dtype && in[i].rank == rank; }
  bool param_in(int i, int32_t lo, int32_t hi) const { return op->p[i] >= lo && op->p[i] <= hi; }
  // The scratch tensor exists and holds at least `bytes` bytes.
  bool scratch_fits(uint64_t bytes) const { return has_scratch && scratch.nbytes >= bytes; }
};

// What a kernel sees at run time (everything validated at load).
struct OpRun {
  const Op* op;
  const Tensor* in[LPK_MAX_OP_INPUTS];  // null when absent
  const void* in_data[LPK_MAX_OP_INPUTS];
  const Tensor* out;
  void* out_data;
  void* scratch;  // null when absent
  lm_kernels kernels;
};

typedef lm_status (*ValidateFn)(const OpCheck& c);
typedef lm_status (*RunFn)(const OpRun& r);

struct OpInfo {
  uint16_t code;
  const char* name;
  uint8_t min_inputs, max_inputs;
  ValidateFn validate;
  RunFn run;
};

// The op table (ops.cc); null for an unknown code.
const OpInfo* op_info(uint32_t code);

// Out dtype for an "out bits" param: 8/16/32 -> int8/16/32, 0 -> float32; 0 when invalid.
uint8_t dtype_for_out_bits(int32_t bits);

// Geometry limits (same as the desktop runtime's kernels/limits.h): they keep
// every index computation of include/linger/numerics (done in int) far from overflow.
constexpr uint32_t kMaxDim = 1u << 24;
constexpr int32_t kMaxKernel = 4096;
constexpr int32_t kMaxStride = 65536;
constexpr int32_t kMaxDilation = 1024;
constexpr int32_t kMaxPad = 65536;
constexpr int32_t kMaxShift = 128;

inline uint32_t round_up4(uint32_t v) { return (v + 3u) & ~3u; }

// The per-op validate / run functions (one file per op family in ops/).
lm_status validate_quant(const OpCheck& c);
lm_status run_quant(const OpRun& r);
lm_status validate_dequant(const OpCheck& c);
lm_status run_dequant(const OpRun& r);
lm_status validate_conv2d(const OpCheck& c);
lm_status run_conv2d(const OpRun& r);
lm_status validate_conv1d(const OpCheck& c);
lm_status run_conv1d(const OpRun& r);
lm_status validate_convt2d(const OpCheck& c);
lm_status run_convt2d(const OpRun& r);
lm_status validate_linear(const OpCheck& c);
lm_status run_linear(const OpRun& r);
lm_status validate_batchnorm(const OpCheck& c);
lm_status run_batchnorm(const OpRun& r);
lm_status validate_maxpool(const OpCheck& c);
lm_status run_maxpool(const OpRun& r);
lm_status validate_avgpool(const OpCheck& c);
lm_status run_avgpool(const OpRun& r);
lm_status validate_relu(const OpCheck& c);
lm_status run_relu(const OpRun& r);
lm_status validate_iqadd(const OpCheck& c);
lm_status run_iqadd(const OpRun& r);

}  // namespace lm
