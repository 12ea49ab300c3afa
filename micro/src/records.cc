// Decoding of the packed records (little-endian, field by field) and the CRC.
#include "internal.h"

namespace lm {

namespace {

struct CrcTable {
  uint32_t v[256];
};

constexpr CrcTable make_crc_table() {
  CrcTable t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t.v[i] = c;
  }
  return t;
}

constexpr CrcTable kCrc = make_crc_table();  // constant-initialised: no static constructor

}  // namespace

Tensor tensor_at(const lm_model& m, uint32_t index) {
  const uint8_t* r = m.file + m.tensors_offset + static_cast<size_t>(index) * LPK_TENSOR_SIZE;
  Tensor t;
  t.dtype = r[LPK_T_DTYPE];
  t.rank = r[LPK_T_RANK];
  t.storage = r[LPK_T_STORAGE];
  t.exponent = static_cast<int8_t>(r[LPK_T_EXPONENT]);
  t.flags = r[LPK_T_FLAGS];
  t.layout = r[LPK_T_LAYOUT];
  t.reserved = rd16(r + LPK_T_RESERVED);
  t.alias_of = rdi32(r + LPK_T_ALIAS_OF);
  t.name = rd32(r + LPK_T_NAME);
  t.offset = rd32(r + LPK_T_OFFSET);
  t.nbytes = rd32(r + LPK_T_NBYTES);
  for (int i = 0; i < LPK_MAX_RANK; ++i) t.dims[i] = rd32(r + LPK_T_DIMS + 4 * i);
  return t;
}

Op op_at(const lm_model& m, uint32_t index) {
  const uint8_t* r = m.file + m.ops_offset + static_cast<size_t>(index) * LPK_OP_SIZE;
  Op op;
  op.code = rd16(r + LPK_O_CODE);
  op.num_inputs = r[LPK_O_NUM_INPUTS];
  op.num_outputs = r[LPK_O_NUM_OUTPUTS];
  op.name = rd32(r + LPK_O_NAME);
  for (int i = 0; i < LPK_MAX_OP_INPUTS; ++i) op.in[i] = rdi32(r + LPK_O_INPUTS + 4 * i);
  op.out = rdi32(r + LPK_O_OUTPUT);
  op.scratch = rdi32(r + LPK_O_SCRATCH);
  for (int i = 0; i < LPK_NUM_PARAMS; ++i) op.p[i] = rdi32(r + LPK_O_PARAMS + 4 * i);
  op.reserved = rd32(r + LPK_O_RESERVED);
  return op;
}

const char* string_at(const lm_model& m, uint32_t offset) {
  return reinterpret_cast<const char*>(m.file + m.strings_offset + offset);
}

size_t dtype_size(uint8_t dtype) {
  switch (dtype) {
    case LPK_INT8: return 1;
    case LPK_INT16: return 2;
    case LPK_INT32: return 4;
    case LPK_FLOAT32: return 4;
    default: return 0;
  }
}

uint8_t dtype_for_out_bits(int32_t bits) {
  switch (bits) {
    case 0: return LPK_FLOAT32;
    case 8: return LPK_INT8;
    case 16: return LPK_INT16;
    case 32: return LPK_INT32;
    default: return 0;
  }
}

}  // namespace lm

extern "C" uint32_t lm_crc32(const void* data, size_t size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = lm::kCrc.v[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}
