// lm_model_init: validates a packed model completely before anything runs.
// Order: arguments and alignment, header, CRC, sections, strings, arena size,
// tensor records, io table, op records (generic rules, then each op's own
// validate()), and the memory plan (plan.cc).
#include "internal.h"
#include "plan.h"

namespace lm {

namespace {

const char kEmpty[] = "";

lm_status report(lm_error* err, lm_status s, const char* detail, int32_t op = -1, int32_t tensor = -1,
                 const char* op_name = kEmpty, const char* op_type = kEmpty) {
  if (err) {
    err->status = s;
    err->op_index = op;
    err->tensor_index = tensor;
    err->op_name = op_name;
    err->op_type = op_type;
    err->detail = detail;
  }
  return s;
}

struct Section {
  uint32_t offset;
  uint64_t size;
};

lm_status check_header(lm_model* m, const uint8_t* p, size_t size, size_t arena_size, lm_error* err) {
  if (size < LPK_HEADER_SIZE) return report(err, LM_ERR_TRUNCATED, "fewer bytes than the 80-byte header");
  if (memcmp(p + LPK_H_MAGIC, LPK_MAGIC, 8) != 0) return report(err, LM_ERR_MAGIC, "not a packed linger model (magic)");
  if (rd16(p + LPK_H_VERSION_MAJOR) != LPK_VERSION_MAJOR)
    return report(err, LM_ERR_VERSION, "format major version differs from this runtime's (1)");
  if (rd32(p + LPK_H_HEADER_SIZE) != LPK_HEADER_SIZE) return report(err, LM_ERR_HEADER, "header_size is not 80");
  const uint32_t file_size = rd32(p + LPK_H_FILE_SIZE);
  if (file_size < LPK_HEADER_SIZE) return report(err, LM_ERR_HEADER, "file_size is smaller than the header");
  if (file_size > size) return report(err, LM_ERR_TRUNCATED, "fewer bytes than file_size");
  if (lm_crc32(p + LPK_HEADER_SIZE, file_size - LPK_HEADER_SIZE) != rd32(p + LPK_H_CRC32))
    return report(err, LM_ERR_CRC, "CRC-32 mismatch: the file is corrupted");
  if (rd32(p + LPK_H_FLAGS) != 0 || rd32(p + LPK_H_RESERVED) != 0 || rd32(p + LPK_H_RESERVED + 4) != 0)
    return report(err, LM_ERR_HEADER, "flags / reserved header fields must be 0");
  m->file = p;
  m->file_size = file_size;
  m->arena_size = rd32(p + LPK_H_ARENA_SIZE);
  m->strings_offset = rd32(p + LPK_H_STRINGS_OFFSET);
  m->strings_size = rd32(p + LPK_H_STRINGS_SIZE);
  m->tensors_offset = rd32(p + LPK_H_TENSORS_OFFSET);
  m->tensor_count = rd32(p + LPK_H_TENSOR_COUNT);
  m->ops_offset = rd32(p + LPK_H_OPS_OFFSET);
  m->op_count = rd32(p + LPK_H_OP_COUNT);
  m->weights_offset = rd32(p + LPK_H_WEIGHTS_OFFSET);
  m->weights_size = rd32(p + LPK_H_WEIGHTS_SIZE);
  m->io_offset = rd32(p + LPK_H_IO_OFFSET);
  m->input_count = rd16(p + LPK_H_INPUT_COUNT);
  m->output_count = rd16(p + LPK_H_OUTPUT_COUNT);
  if (m->input_count == 0 || m->output_count == 0) return report(err, LM_ERR_HEADER, "no inputs or no outputs");
  if (m->op_count == 0) return report(err, LM_ERR_HEADER, "no ops");
  // Section sizes in 64 bits: counts up to 2^32 times record sizes cannot wrap.
  const Section s[5] = {{m->strings_offset, m->strings_size},
                        {m->tensors_offset, static_cast<uint64_t>(m->tensor_count) * LPK_TENSOR_SIZE},
                        {m->ops_offset, static_cast<uint64_t>(m->op_count) * LPK_OP_SIZE},
                        {m->io_offset, (static_cast<uint64_t>(m->input_count) + m->output_count) * 4u},
                        {m->weights_offset, m->weights_size}};
  for (int i = 0; i < 5; ++i) {
    if (s[i].offset % LPK_ALIGN != 0 || s[i].offset < LPK_HEADER_SIZE ||
        static_cast<uint64_t>(s[i].offset) + s[i].size > file_size)
      return report(err, LM_ERR_HEADER, "a section is misaligned or outside the file");
    for (int j = 0; j < i; ++j)
      if (s[i].size && s[j].size && s[i].offset < s[j].offset + s[j].size && s[j].offset < s[i].offset + s[i].size)
        return report(err, LM_ERR_HEADER, "two sections overlap");
  }
  if (m->strings_size == 0 || p[m->strings_offset + m->strings_size - 1] != 0)
    return report(err, LM_ERR_HEADER, "the string table is empty or not NUL-terminated");
  if (m->tensor_count > 0x7fffffffu || m->op_count > 0x7fffffffu)
    return report(err, LM_ERR_HEADER, "too many records");
  if (arena_size < m->arena_size)
    return report(err, LM_ERR_ARENA_TOO_SMALL, "the arena is smaller than the model's arena_size (see linger-pack)");
  return LM_OK;
}

lm_status check_tensor(const lm_model& m, uint32_t i, lm_error* err) {
  const Tensor t = tensor_at(m, i);
  const int32_t ti = static_cast<int32_t>(i);
  const size_t es = dtype_size(t.dtype);
  if (es == 0) return report(err, LM_ERR_TENSOR, "unknown dtype", -1, ti);
  if (t.rank > LPK_MAX_RANK) return report(err, LM_ERR_TENSOR, "rank above 6", -1, ti);
  uint64_t n = es;
  for (int d = 0; d < LPK_MAX_RANK; ++d) {
    if (d >= t.rank) {
      if (t.dims[d] != 0) return report(err, LM_ERR_TENSOR, "dims past the rank must be 0", -1, ti);
      continue;
    }
    if (t.dims[d] == 0 || t.dims[d] > kMaxDim) return report(err, LM_ERR_TENSOR, "a dimension is 0 or above 2^24", -1, ti);
    n *= t.dims[d];
    if (n > 0x7fffffffu) return report(err, LM_ERR_TENSOR, "tensor larger than 2^31-1 bytes", -1, ti);
  }
  if (n != t.nbytes) return report(err, LM_ERR_TENSOR, "nbytes does not match dtype and dims", -1, ti);
  if (t.storage != LPK_ARENA && t.storage != LPK_WEIGHTS) return report(err, LM_ERR_TENSOR, "unknown storage", -1, ti);
  if ((t.flags & ~LPK_TF_HAS_EXPONENT) != 0 || t.layout != 0 || t.reserved != 0)
    return report(err, LM_ERR_TENSOR, "unknown flags, layout or reserved bits", -1, ti);
  if (t.name >= m.strings_size) return report(err, LM_ERR_TENSOR, "name outside the string table", -1, ti);
  if (t.offset % es != 0) return report(err, LM_ERR_TENSOR, "offset not aligned to the element size", -1, ti);
  const uint64_t limit = t.storage == LPK_ARENA ? m.arena_size : m.weights_size;
  if (static_cast<uint64_t>(t.offset) + t.nbytes > limit)
    return report(err, LM_ERR_TENSOR,
                  t.storage == LPK_ARENA ? "tensor outside the arena_size" : "tensor outside the weights section", -1, ti);
  if (t.alias_of != -1) {
    if (t.alias_of < 0 || static_cast<uint32_t>(t.alias_of) >= m.tensor_count || t.alias_of == ti)
      return report(err, LM_ERR_TENSOR, "alias_of out of range", -1, ti);
    const Tensor b = tensor_at(m, static_cast<uint32_t>(t.alias_of));
    if (b.alias_of != -1 || b.storage != LPK_ARENA || t.storage != LPK_ARENA || b.offset != t.offset ||
        b.nbytes != t.nbytes || b.dtype != t.dtype)
      return report(err, LM_ERR_TENSOR, "an alias must view a non-alias arena tensor's exact bytes", -1, ti);
  }
  return LM_OK;
}

lm_status check_op(const lm_model& m, uint32_t i, lm_error* err) {
  const Op op = op_at(m, i);
  const int32_t oi = static_cast<int32_t>(i);
  const char* name = op.name < m.strings_size ? string_at(m, op.name) : kEmpty;
  const OpInfo* info = op_info(op.code);
  if (op.name >= m.strings_size) return report(err, LM_ERR_OP, "op name outside the string table", oi);
  if (!info) return report(err, LM_ERR_OP_CODE, "unknown op code", oi, -1, name);
  const char* type = info->name;
  if (op.num_inputs < info->min_inputs || op.num_inputs > info->max_inputs || op.num_outputs != 1 || op.reserved != 0)
    return report(err, LM_ERR_OP, "wrong number of inputs or outputs", oi, -1, name, type);
  OpCheck c;
  c.model = &m;
  c.op = &op;
  c.index = i;
  c.err = err;
  for (int k = 0; k < LPK_MAX_OP_INPUTS; ++k) {
    c.has_in[k] = false;
    const int32_t t = op.in[k];
    if (k >= op.num_inputs || t == -1) {
      if (t != -1) return report(err, LM_ERR_OP, "an input slot past num_inputs must be -1", oi, -1, name, type);
      if (k < info->min_inputs) return report(err, LM_ERR_OP, "a required input is absent", oi, -1, name, type);
      continue;
    }
    if (t < 0 || static_cast<uint32_t>(t) >= m.tensor_count)
      return report(err, LM_ERR_OP, "input tensor index out of range", oi, t, name, type);
    c.in[k] = tensor_at(m, static_cast<uint32_t>(t));
    c.has_in[k] = true;
  }
  if (op.out < 0 || static_cast<uint32_t>(op.out) >= m.tensor_count)
    return report(err, LM_ERR_OP, "output tensor index out of range", oi, op.out, name, type);
  c.out = tensor_at(m, static_cast<uint32_t>(op.out));
  if (c.out.storage != LPK_ARENA || c.out.alias_of != -1)
    return report(err, LM_ERR_OP, "the output must be a non-alias arena tensor", oi, op.out, name, type);
  c.has_scratch = op.scratch != -1;
  if (c.has_scratch) {
    if (op.scratch < 0 || static_cast<uint32_t>(op.scratch) >= m.tensor_count)
      return report(err, LM_ERR_OP, "scratch tensor index out of range", oi, op.scratch, name, type);
    c.scratch = tensor_at(m, static_cast<uint32_t>(op.scratch));
    if (c.scratch.storage != LPK_ARENA || c.scratch.alias_of != -1 || c.scratch.dtype != LPK_INT16)
      return report(err, LM_ERR_OP, "the scratch must be a non-alias int16 arena tensor", oi, op.scratch, name, type);
  }
  return info->validate(c);
}

}  // namespace

lm_status OpCheck::fail(const char* detail) const {
  const char* name = string_at(*model, op->name);
  const OpInfo* info = op_info(op->code);
  return report(err, LM_ERR_OP, detail, static_cast<int32_t>(index), -1, name, info ? info->name : kEmpty);
}

lm_status report_plan(lm_error* err, const lm_model& m, const char* detail, int32_t op, int32_t tensor) {
  const char* name = kEmpty;
  const char* type = kEmpty;
  if (op >= 0) {
    const Op o = op_at(m, static_cast<uint32_t>(op));
    name = string_at(m, o.name);
    const OpInfo* info = op_info(o.code);
    type = info ? info->name : kEmpty;
  }
  return report(err, LM_ERR_PLAN, detail, op, tensor, name, type);
}

}  // namespace lm

using namespace lm;

extern "C" lm_status lm_model_init(lm_model* model, const void* packed, size_t size, void* arena, size_t arena_size,
                                   lm_error* err) {
  report(err, LM_OK, "", -1, -1);
  if (!model) return report(err, LM_ERR_ARGUMENT, "model is null");
  memset(model, 0, sizeof(*model));
  if (!packed) return report(err, LM_ERR_ARGUMENT, "packed bytes pointer is null");
  if (!arena && arena_size > 0) return report(err, LM_ERR_ARGUMENT, "arena pointer is null");
  if (reinterpret_cast<uintptr_t>(packed) % LPK_ALIGN != 0 || reinterpret_cast<uintptr_t>(arena) % LPK_ALIGN != 0)
    return report(err, LM_ERR_ALIGNMENT, "packed bytes and arena must be 8-byte aligned");
  lm_model m;
  memset(&m, 0, sizeof(m));
  lm_status s = check_header(&m, static_cast<const uint8_t*>(packed), size, arena_size, err);
  if (s != LM_OK) return s;
  m.arena = static_cast<uint8_t*>(arena);
  for (uint32_t i = 0; i < m.tensor_count; ++i)
    if ((s = check_tensor(m, i, err)) != LM_OK) return s;
  const uint8_t* io = m.file + m.io_offset;
  for (uint32_t i = 0; i < m.input_count + m.output_count; ++i) {
    const uint32_t t = rd32(io + 4 * i);
    if (t >= m.tensor_count) return report(err, LM_ERR_HEADER, "io table: tensor index out of range", -1, static_cast<int32_t>(t));
    const Tensor ts = tensor_at(m, t);
    if (ts.storage != LPK_ARENA || (i < m.input_count && ts.alias_of != -1))
      return report(err, LM_ERR_HEADER, "io table: inputs must be non-alias arena tensors, outputs arena tensors", -1,
                    static_cast<int32_t>(t));
  }
  for (uint32_t i = 0; i < m.op_count; ++i)
    if ((s = check_op(m, i, err)) != LM_OK) return s;
  // The plan check may use the arena as memo space (it is free until the first invoke).
  if ((s = check_plan(m, err)) != LM_OK) return s;
  m.ready = 1;
  *model = m;
  return LM_OK;
}

extern "C" uint32_t lm_required_arena_size(const void* packed, size_t size) {
  if (!packed || size < LPK_HEADER_SIZE) return 0;
  const uint8_t* p = static_cast<const uint8_t*>(packed);
  if (memcmp(p, LPK_MAGIC, 8) != 0 || rd16(p + LPK_H_VERSION_MAJOR) != LPK_VERSION_MAJOR) return 0;
  return rd32(p + LPK_H_ARENA_SIZE);
}

static lm_status describe(const lm_model* m, uint32_t t, lm_tensor* out) {
  const Tensor ts = tensor_at(*m, t);
  out->data = data_ptr(*m, ts);
  out->dtype = static_cast<lm_dtype>(ts.dtype);
  out->rank = ts.rank;
  for (int i = 0; i < 6; ++i) out->dims[i] = ts.dims[i];
  out->nbytes = ts.nbytes;
  out->has_exponent = (ts.flags & LPK_TF_HAS_EXPONENT) ? 1 : 0;
  out->exponent = ts.exponent;
  out->name = string_at(*m, ts.name);
  return LM_OK;
}

extern "C" lm_status lm_input(const lm_model* m, uint32_t index, lm_tensor* out) {
  if (!m || !out || !m->ready || index >= m->input_count) return LM_ERR_ARGUMENT;
  return describe(m, rd32(m->file + m->io_offset + 4 * index), out);
}

extern "C" lm_status lm_output(const lm_model* m, uint32_t index, lm_tensor* out) {
  if (!m || !out || !m->ready || index >= m->output_count) return LM_ERR_ARGUMENT;
  return describe(m, rd32(m->file + m->io_offset + 4 * (m->input_count + index)), out);
}

extern "C" lm_status lm_invoke(lm_model* m, lm_kernels kernels, lm_error* err) {
  return lm_invoke_ops(m, 0, m ? m->op_count : 0, kernels, err);
}

extern "C" lm_status lm_invoke_ops(lm_model* m, uint32_t begin, uint32_t end, lm_kernels kernels, lm_error* err) {
  report(err, LM_OK, "", -1, -1);
  if (!m) return report(err, LM_ERR_ARGUMENT, "model is null");
  if (!m->ready) return report(err, LM_ERR_NOT_READY, "lm_model_init did not succeed");
  if (kernels != LM_KERNELS_AUTO && kernels != LM_KERNELS_PORTABLE && kernels != LM_KERNELS_DSP)
    return report(err, LM_ERR_ARGUMENT, "unknown kernel choice");
  if (begin > end || end > m->op_count) return report(err, LM_ERR_ARGUMENT, "op range outside the model");
  Tensor ts[LPK_MAX_OP_INPUTS + 1];
  for (uint32_t i = begin; i < end; ++i) {
    const Op op = op_at(*m, i);
    const OpInfo* info = op_info(op.code);
    OpRun r;
    r.op = &op;
    for (int k = 0; k < LPK_MAX_OP_INPUTS; ++k) {
      r.in[k] = nullptr;
      r.in_data[k] = nullptr;
      if (k < op.num_inputs && op.in[k] >= 0) {
        ts[k] = tensor_at(*m, static_cast<uint32_t>(op.in[k]));
        r.in[k] = &ts[k];
        r.in_data[k] = data_ptr(*m, ts[k]);
      }
    }
    ts[LPK_MAX_OP_INPUTS] = tensor_at(*m, static_cast<uint32_t>(op.out));
    r.out = &ts[LPK_MAX_OP_INPUTS];
    r.out_data = data_ptr(*m, *r.out);
    r.scratch = op.scratch >= 0 ? m->arena + tensor_at(*m, static_cast<uint32_t>(op.scratch)).offset : nullptr;
    r.kernels = kernels;
    const lm_status s = info->run(r);
    if (s != LM_OK)
      return report(err, s, s == LM_ERR_NAN ? "NaN in the input of Quant" : "kernel failed", static_cast<int32_t>(i), -1,
                    string_at(*m, op.name), info->name);
  }
  return LM_OK;
}

extern "C" const char* lm_status_name(lm_status s) {
  switch (s) {
    case LM_OK: return "LM_OK";
    case LM_ERR_ARGUMENT: return "LM_ERR_ARGUMENT";
    case LM_ERR_ALIGNMENT: return "LM_ERR_ALIGNMENT";
    case LM_ERR_TRUNCATED: return "LM_ERR_TRUNCATED";
    case LM_ERR_MAGIC: return "LM_ERR_MAGIC";
    case LM_ERR_VERSION: return "LM_ERR_VERSION";
    case LM_ERR_CRC: return "LM_ERR_CRC";
    case LM_ERR_HEADER: return "LM_ERR_HEADER";
    case LM_ERR_TENSOR: return "LM_ERR_TENSOR";
    case LM_ERR_OP_CODE: return "LM_ERR_OP_CODE";
    case LM_ERR_OP: return "LM_ERR_OP";
    case LM_ERR_PLAN: return "LM_ERR_PLAN";
    case LM_ERR_ARENA_TOO_SMALL: return "LM_ERR_ARENA_TOO_SMALL";
    case LM_ERR_NAN: return "LM_ERR_NAN";
    case LM_ERR_NOT_READY: return "LM_ERR_NOT_READY";
  }
  return "LM_ERR_?";
}

extern "C" uint32_t lm_op_count(const lm_model* m) { return m && m->ready ? m->op_count : 0; }

extern "C" lm_status lm_op_describe(const lm_model* m, uint32_t index, const char** name, const char** type) {
  if (!m || !m->ready || index >= m->op_count) return LM_ERR_ARGUMENT;
  const Op op = op_at(*m, index);
  if (name) *name = string_at(*m, op.name);
  if (type) *type = op_info(op.code)->name;
  return LM_OK;
}

extern "C" const char* lm_op_type_name(uint32_t code) {
  const OpInfo* info = op_info(code);
  return info ? info->name : "?";
}
