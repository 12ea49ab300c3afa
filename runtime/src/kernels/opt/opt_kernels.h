// Optimised int8 kernels of the runtime: im2col + int8 GEMM, with the ISA
// (scalar, AVX2, AVX-512 VNNI) chosen at run time. Every function here gives
// results identical (tolerance 0) to the scalar reference in
// include/linger/numerics (conv2d_int, linear_int).
#pragma once

#include <cstdint>
#include <vector>

#include "linger/numerics/conv.h"

namespace linger {
namespace runtime {
namespace opt {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512Vnni = 2 };

// The best ISA this CPU supports (cpuid at run time). Overridable for tests
// and benchmarks with the environment variable LINGER_ISA=scalar|avx2|avx512vnni
// (a value the CPU does not support falls back to the best supported one).
Isa best_isa();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);
// The kernels below run `isa` where the CPU supports it, else the best
// supported ISA below it (never an illegal instruction); results are the same
// integers on every ISA.

// C[i][j] = sum_k A[i][k] * B[j][k] with two's-complement wrapping int32
// accumulation (A: m x k, B: n x k, both int8 row-major; C: m x n int32).
void gemm_s8s8_s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t n, int64_t k, Isa isa);

// Conv2dInt through im2col + GEMM; same integers as numerics::conv2d_int.
// out_bits 8 -> y is int8_t*, 16 -> int16_t*, 32 -> int32_t*. `workspace` is
// grown as needed and can be reused across calls (null: a temporary one). A
// shape that is not valid() writes nothing.
void conv2d_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const numerics::Conv2dShape& s,
                 int shift, bool relu, int out_bits, Isa isa, std::vector<int8_t>* workspace);

// Bytes of scratch memory conv2d_int8 allocates for shape `s` on `isa` (its
// workspace vector's size), overflow-checked: saturates at 2^62.
int64_t conv2d_workspace_bytes(const numerics::Conv2dShape& s, Isa isa);

// Bytes of scratch memory linear_int8 allocates (saturating at 2^62).
int64_t linear_workspace_bytes(int64_t m, int64_t k, int64_t n, Isa isa);

// LinearInt (int64 accumulation semantics): x [m, k], w [n, k]; same integers
// as numerics::linear_int. Uses the int32 GEMM only where it cannot overflow
// (k * 2^14 < 2^31), the scalar reference otherwise. out_bits 0 = float output
// (y is float*, shift = Qx + Qw).
void linear_int8(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, int64_t m, int64_t k, int64_t n,
                 int shift, int out_bits, Isa isa);

}  // namespace opt
}  // namespace runtime
}  // namespace linger
