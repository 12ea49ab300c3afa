// The optimised conv / linear kernels for Cortex-M's DSP extension (dual
// 16-bit multiply-accumulate). They produce the same integers as the scalar
// references of include/linger/numerics (checked with tolerance 0 in
// tests/micro) and finish every output with the same requantisation function.
//
// out_bits 8/16/32 give int8/int16/int32 outputs; 0 gives float32 (acc * 2^-shift).
#pragma once

#include <stdint.h>

#include "linger/numerics/conv.h"
#include "linger/numerics/pool.h"

namespace lm {

// Conv2dInt: int32 wrapping accumulation with SMLAD (SMLAD wraps like the
// reference's int32 accumulator). `col` holds 2 * round_up(C/g*KH*KW, 4) int16 (two output positions).
void conv2d_dsp(const int8_t* x, const int8_t* w, const int32_t* bias, void* y,
                const linger::numerics::Conv2dShape& s, int shift, bool relu, int out_bits, int16_t* col);

// LinearInt: int64 accumulation with SMLALD. x [m, k], w [n, k]; `row` holds round_up(k, 4) int16.
void linear_dsp(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, uint32_t m, uint32_t k, uint32_t n,
                int shift, int out_bits, int16_t* row);

// MaxPool with a 2x2 window, stride 2, no padding (every window inside the input), the
// common case: four int8 lanes at a time with SSUB8 + SEL. Same integers as
// numerics::maxpool2d_int for such shapes (pool_2x2_fits).
bool pool_2x2_fits(const linger::numerics::Pool2dShape& s);
void maxpool2x2_dsp(const int8_t* x, int8_t* y, const linger::numerics::Pool2dShape& s);

}  // namespace lm
