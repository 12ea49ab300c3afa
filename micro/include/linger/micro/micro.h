/* linger micro runtime: runs a packed model (.lpk, written by linger-pack) with
 * no heap, no exceptions, no RTTI, no static constructors and no file I/O.
 * The caller owns every byte: the packed model (e.g. in flash) and one arena
 * (RAM) of at least the size linger-pack printed.
 *
 *   lm_model m; lm_error e;
 *   if (lm_model_init(&m, lpk, lpk_size, arena, arena_size, &e) != LM_OK) { report(e); }
 *   lm_tensor in; lm_input(&m, 0, &in);   memcpy(in.data, image, in.nbytes);
 *   if (lm_invoke(&m, LM_KERNELS_AUTO, &e) != LM_OK) { report(e); }
 *   lm_tensor out; lm_output(&m, 0, &out);                 // points into the arena
 *
 * The loader validates the whole file before anything runs (header, CRC,
 * section bounds, every tensor and op record, the memory plan's overlaps and
 * the arena size); a rejected file or arena gives a status and, in lm_error,
 * the op (index and node name) or tensor concerned -- never a fault. The
 * kernels compute every integer with include/linger/numerics, the same code as
 * the desktop runtime and the PyTorch eval forward. C-compatible API. */
#ifndef LINGER_MICRO_MICRO_H_
#define LINGER_MICRO_MICRO_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lm_status {
  LM_OK = 0,
  LM_ERR_ARGUMENT,        /* a null pointer or an out-of-range index from the caller */
  LM_ERR_ALIGNMENT,       /* packed bytes or arena not aligned to 8 bytes */
  LM_ERR_TRUNCATED,       /* fewer bytes than the header or file_size says */
  LM_ERR_MAGIC,           /* not a packed linger model */
  LM_ERR_VERSION,         /* another major format version */
  LM_ERR_CRC,             /* the checksum does not match the bytes */
  LM_ERR_HEADER,          /* a header field out of range (sections, counts, flags) */
  LM_ERR_TENSOR,          /* a tensor record is invalid (dtype, rank, dims, size, offset, alias) */
  LM_ERR_OP_CODE,         /* an op code this runtime does not know */
  LM_ERR_OP,              /* an op record is invalid (tensor indices, dtypes, shapes, params) */
  LM_ERR_PLAN,            /* the memory plan is unsafe: live buffers overlap, a tensor read before written */
  LM_ERR_ARENA_TOO_SMALL, /* the arena is smaller than the model needs */
  LM_ERR_NAN,             /* a NaN reached Quant (data-dependent, at lm_invoke) */
  LM_ERR_NOT_READY        /* lm_invoke on a model whose init failed */
} lm_status;

/* Where a failure was found. op_index / tensor_index are -1 when not about an
 * op / tensor; op_name is the ONNX node name from the file ("" when unknown);
 * op_type the op's name ("Conv2dInt", ...); detail a short fixed sentence. */
typedef struct lm_error {
  lm_status status;
  int32_t op_index;
  int32_t tensor_index;
  const char* op_name;
  const char* op_type;
  const char* detail;
} lm_error;

typedef enum lm_kernels {
  LM_KERNELS_AUTO = 0,     /* DSP kernels where the build has them (always, see LM_HAVE_DSP) */
  LM_KERNELS_PORTABLE = 1, /* the scalar reference loops of include/linger/numerics */
  LM_KERNELS_DSP = 2       /* dual 16-bit MAC kernels: SMLAD/SMLALD (emulated off Cortex-M) */
} lm_kernels;

typedef enum lm_dtype { LM_INT8 = 1, LM_INT16 = 2, LM_INT32 = 3, LM_FLOAT32 = 4 } lm_dtype;

typedef struct lm_tensor {
  void* data; /* in the arena */
  lm_dtype dtype;
  int32_t rank;
  uint32_t dims[6];
  uint32_t nbytes;
  int32_t has_exponent;
  int32_t exponent; /* Q: real value = q * 2^-Q */
  const char* name;
} lm_tensor;

/* Filled by lm_model_init; treat as opaque. */
typedef struct lm_model {
  const uint8_t* file;
  uint32_t file_size;
  uint8_t* arena;
  uint32_t arena_size; /* what the model needs */
  uint32_t tensor_count, op_count;
  uint32_t strings_offset, strings_size, tensors_offset, ops_offset, io_offset;
  uint32_t weights_offset, weights_size;
  uint32_t input_count, output_count;
  int32_t ready;
} lm_model;

/* Validates `packed` (size bytes, 8-byte aligned, must stay valid and unchanged
 * while the model is used) and binds the arena (8-byte aligned, arena_size
 * bytes, >= the size the model needs). `err` may be null. */
lm_status lm_model_init(lm_model* model, const void* packed, size_t size, void* arena, size_t arena_size, lm_error* err);

/* The arena size a packed file asks for (0 when the header is unreadable). */
uint32_t lm_required_arena_size(const void* packed, size_t size);

lm_status lm_input(const lm_model* model, uint32_t index, lm_tensor* out);
lm_status lm_output(const lm_model* model, uint32_t index, lm_tensor* out);

/* Runs every op. The input tensors must have been written since the last
 * invoke: buffers are reused, so an invoke overwrites its inputs. */
lm_status lm_invoke(lm_model* model, lm_kernels kernels, lm_error* err);

/* Runs ops [begin, end) only (profiling, or yielding between ops); lm_invoke = [0, op_count). */
lm_status lm_invoke_ops(lm_model* model, uint32_t begin, uint32_t end, lm_kernels kernels, lm_error* err);
uint32_t lm_op_count(const lm_model* model);
/* The node name and op type of op `index`. */
lm_status lm_op_describe(const lm_model* model, uint32_t index, const char** name, const char** type);

const char* lm_status_name(lm_status status);
/* "Conv2dInt", ... or "?" */
const char* lm_op_type_name(uint32_t op_code);
/* The CRC-32 the header stores (exposed for tools and tests). */
uint32_t lm_crc32(const void* data, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* LINGER_MICRO_MICRO_H_ */
