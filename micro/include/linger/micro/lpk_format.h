/* The packed model file (.lpk), version 1: the one definition of its byte
 * layout, shared by the packer (linger-pack, host C++) and the micro runtime
 * (C++17 freestanding, also compiled for Cortex-M). docs/packed-format.md
 * describes it in prose. Every multi-byte field is little-endian; records are
 * read field by field (no struct casts), so the layout does not depend on the
 * compiler's struct packing.
 *
 *   [header 80 B] [strings] [tensor records] [op records] [io table] [weights]
 *   every section starts at a multiple of LPK_ALIGN; the CRC-32 covers bytes
 *   [LPK_HEADER_SIZE, file_size).
 */
#ifndef LINGER_MICRO_LPK_FORMAT_H_
#define LINGER_MICRO_LPK_FORMAT_H_

#include <stdint.h>

#define LPK_MAGIC "LGRLPK\x1a\n" /* 8 bytes */
#define LPK_VERSION_MAJOR 1      /* a loader accepts only its own major version */
#define LPK_VERSION_MINOR 0      /* minor versions only add optional data */
#define LPK_ALIGN 8u             /* section, weight blob and arena buffer alignment */

/* ---- header (80 bytes) ---- */
#define LPK_HEADER_SIZE 80u
#define LPK_H_MAGIC 0           /* char[8] */
#define LPK_H_VERSION_MAJOR 8   /* u16 */
#define LPK_H_VERSION_MINOR 10  /* u16 */
#define LPK_H_HEADER_SIZE 12    /* u32, == LPK_HEADER_SIZE */
#define LPK_H_FILE_SIZE 16      /* u32, the whole file */
#define LPK_H_CRC32 20          /* u32, CRC-32 (IEEE, reflected 0xEDB88320) of bytes [80, file_size) */
#define LPK_H_ARENA_SIZE 24     /* u32, bytes of arena the model needs */
#define LPK_H_STRINGS_OFFSET 28 /* u32 */
#define LPK_H_STRINGS_SIZE 32   /* u32, NUL-terminated names; offset 0 is "" */
#define LPK_H_TENSORS_OFFSET 36 /* u32 */
#define LPK_H_TENSOR_COUNT 40   /* u32 */
#define LPK_H_OPS_OFFSET 44     /* u32 */
#define LPK_H_OP_COUNT 48       /* u32 */
#define LPK_H_WEIGHTS_OFFSET 52 /* u32 */
#define LPK_H_WEIGHTS_SIZE 56   /* u32 */
#define LPK_H_IO_OFFSET 60      /* u32, u32 tensor indices: inputs, then outputs */
#define LPK_H_INPUT_COUNT 64    /* u16 */
#define LPK_H_OUTPUT_COUNT 66   /* u16 */
#define LPK_H_FLAGS 68          /* u32, must be 0 in version 1 */
#define LPK_H_RESERVED 72       /* u32[2], must be 0 */

/* ---- tensor record (48 bytes) ---- */
#define LPK_TENSOR_SIZE 48u
#define LPK_MAX_RANK 6
#define LPK_T_DTYPE 0     /* u8, LpkDType */
#define LPK_T_RANK 1      /* u8, 0..LPK_MAX_RANK */
#define LPK_T_STORAGE 2   /* u8, LpkStorage */
#define LPK_T_EXPONENT 3  /* i8, Q (value = q * 2^-Q) when LPK_TF_HAS_EXPONENT */
#define LPK_T_FLAGS 4     /* u8, LPK_TF_* */
#define LPK_T_LAYOUT 5    /* u8, 0 = the reference layout of include/linger/numerics (NCHW, OIHW, [N,K]) */
#define LPK_T_RESERVED 6  /* u16, 0 */
#define LPK_T_ALIAS_OF 8  /* i32, -1, or the tensor whose arena bytes this one views (reshape/flatten) */
#define LPK_T_NAME 12     /* u32, string offset */
#define LPK_T_OFFSET 16   /* u32, byte offset in the arena or in the weights section */
#define LPK_T_NBYTES 20   /* u32, == element size * product(dims) */
#define LPK_T_DIMS 24     /* u32[6]; entries past rank are 0 */
#define LPK_TF_HAS_EXPONENT 1u

enum LpkDType { LPK_INT8 = 1, LPK_INT16 = 2, LPK_INT32 = 3, LPK_FLOAT32 = 4 };
enum LpkStorage { LPK_ARENA = 0, LPK_WEIGHTS = 1 };

/* ---- op record (96 bytes) ---- */
#define LPK_OP_SIZE 96u
#define LPK_MAX_OP_INPUTS 3
#define LPK_NUM_PARAMS 16
#define LPK_O_CODE 0        /* u16, LpkOpCode */
#define LPK_O_NUM_INPUTS 2  /* u8 */
#define LPK_O_NUM_OUTPUTS 3 /* u8, 1 in version 1 */
#define LPK_O_NAME 4        /* u32, string offset (the ONNX node name) */
#define LPK_O_INPUTS 8      /* i32[3], tensor indices; -1 for an absent optional input */
#define LPK_O_OUTPUT 20     /* i32, tensor index */
#define LPK_O_SCRATCH 24    /* i32, arena tensor used only during this op, or -1 */
#define LPK_O_PARAMS 28     /* i32[16], meaning per op below; unused entries 0 */
#define LPK_O_RESERVED 92   /* u32, 0 */

/* Op codes and their params (p[i]). Shapes come from the tensor records.
 *   QUANT     in: x f32           out: int8    p0 Q (scale_x exponent)
 *   DEQUANT   in: x int8/16/32    out: f32     p0 Q (scale_o exponent)
 *   CONV2D    in: x int8 NCHW, w int8 OIHW (weights), [b int32 (weights)]; out int8/16/32, or f32
 *             p0..1 stride h,w  p2..5 pad top,left,bottom,right  p6..7 dilation h,w  p8 groups
 *             p9 shift (Qx+Qw-Qo; Qx+Qw for f32 out)  p10 fused relu (0/1)  p11 out bits (8/16/32, 0 = f32)
 *             scratch: two int16 im2col rows of round_up(C/g*KH*KW, 4) elements
 *   CONV1D    as CONV2D on rank-3 tensors (H = KH = 1): p0 stride, p1 pad left, p2 pad right, p3 dilation,
 *             p4 groups, p5 shift, p6 relu, p7 out bits
 *   CONVT2D   in: x, w [C,O/g,KH,KW], [b]; p0..1 stride, p2..5 pads, p6..7 output padding, p8..9 dilation,
 *             p10 groups, p11 shift, p12 relu, p13 out bits
 *   LINEAR    in: x int8 [..., K], w int8 [N,K], [b int32 [N]]; out [..., N] int8/16/32 or f32
 *             p0 shift  p1 out bits (0 = f32)   scratch: int16 row of round_up(K, 4) elements
 *   BATCHNORM in: x int8 [N,C,H,W], w int8 [C], b int32 [C]; p0 shift p1 out bits (8/16/32)
 *   MAXPOOL, AVGPOOL  in: x int8 NCHW  p0..1 kernel h,w  p2..3 stride  p4..7 pads  p8 ceil_mode
 *   RELU      in: x int8/16/32 (same dtype out)
 *   IQADD     in: a int8, b int8 (same shape); p0 Qa-Qo  p1 Qb-Qo
 */
enum LpkOpCode {
  LPK_OP_QUANT = 1,
  LPK_OP_DEQUANT = 2,
  LPK_OP_CONV2D = 3,
  LPK_OP_CONV1D = 4,
  LPK_OP_CONVT2D = 5,
  LPK_OP_LINEAR = 6,
  LPK_OP_BATCHNORM = 7,
  LPK_OP_MAXPOOL = 8,
  LPK_OP_AVGPOOL = 9,
  LPK_OP_RELU = 10,
  LPK_OP_IQADD = 11,
  LPK_OP_CODE_END = 12
};

#endif /* LINGER_MICRO_LPK_FORMAT_H_ */
