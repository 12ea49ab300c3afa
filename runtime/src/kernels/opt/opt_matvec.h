// A prepacked int8 matrix for repeated matrix-vector products (the RNN recurrence W_hh h_{t-1}: one small
// product per time step, the same matrix every step). Packed once, when constructed, for the ISA it runs
// (AVX-512 VNNI: blocks of 16 rows x 4-byte k groups, u8-offset vector; AVX2: blocks of 8 rows x int16 k
// pairs; scalar: the matrix as given). run() gives numerics::rnn_matvec's integers on every ISA:
//   acc[r] = bias[r] + sum_k W[r, k] v[k]   (int64; bias may be null)
// The SIMD paths accumulate in int32, exact while k * 2^14 < 2^31 (every product is at most 2^14 in
// magnitude); a wider k takes the scalar int64 reference.
#pragma once

#include <cstdint>
#include <vector>

#include "opt_kernels.h"

namespace linger {
namespace runtime {
namespace opt {

class MatVecInt8 {
 public:
  MatVecInt8() = default;
  // w: [rows, k] row-major int8, copied and packed for `isa` (resolved against the CPU; kAuto: the best).
  MatVecInt8(const int8_t* w, int64_t rows, int64_t k, Isa isa);

  Isa isa() const { return isa_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return k_; }
  // int32 words of the scratch memory run() needs (rows + k groups; 0 on the scalar path).
  int64_t scratch_words() const;
  // v: [k] int8; acc: [rows] int64; scratch: scratch_words() int32 (null when 0; run32 as well).
  void run(const int8_t* v, const int32_t* bias, int64_t* acc, int32_t* scratch) const;
  // The products alone, as int32 wrapping sums: acc[r] = sum_k W[r, k] v[k] mod 2^32 (exact for k <= 131071,
  // as every product is at most 2^14 in magnitude).
  void run32(const int8_t* v, int32_t* acc, int32_t* scratch) const;

 private:
  int64_t rows_ = 0, k_ = 0, kgroups_ = 0;  // kgroups_: k-pairs (AVX2) or k-quads (VNNI)
  Isa isa_ = Isa::kScalar;
  std::vector<int8_t> w_;         // scalar path: the matrix as given
  std::vector<int8_t> packed_;    // VNNI: int8 blocks
  std::vector<int16_t> packed16_; // AVX2: int16 blocks
  std::vector<int32_t> comp_;     // VNNI: 128 * row sums
};

// Conv1dInt whose kernel tiles its input (stride == kernel K, K a multiple of 4, no padding, dilation 1, one
// group: the speech front-end's "one frame group per step" conv), int8 output, on AVX-512 VNNI and AVX2.
// Each output column t reads x[c, t*K .. t*K + K - 1], so the GEMM's packed B operand (4 consecutive k per
// column for VNNI, 2 for AVX2) is read from the input rows directly: no im2col. Same integers as numerics::conv1d_int with the
// OutputStage clamp (the wrapped int32 sum, the same int8 GEMM and requantisation as Conv2dInt8).
class Conv1dFramesInt8 {
 public:
  Conv1dFramesInt8() = default;
  // w: [o, c, k]. ok() is false (use the general conv) unless `isa` resolves to a SIMD ISA and k % 4 == 0.
  Conv1dFramesInt8(const int8_t* w, int64_t o, int64_t c, int64_t k, Isa isa);
  bool ok() const { return ok_; }
  // Whether run() applies for this stage: int8 output, 0 <= shift <= 63, -128 <= lo <= hi <= 127.
  static bool stage_ok(const OutputStage& out);
  // int32 words of scratch for `t_out` output columns.
  int64_t scratch_words(int64_t t_out) const;
  // x: [c, l] (one batch item), y: [o, t_out] int8 with t_out = l / k.
  void run(const int8_t* x, int64_t l, const int32_t* bias, int8_t* y, const OutputStage& out, int32_t* scratch) const;

 private:
  bool ok_ = false;
  Isa isa_ = Isa::kScalar;
  int64_t o_ = 0, c_ = 0, k_ = 0, kquads_ = 0;
  std::vector<int8_t> packed_;     // VNNI A panels (pack_a)
  std::vector<int32_t> comp_;      // VNNI: 128 * row sums
  std::vector<int16_t> packed16_;  // AVX2 A panels
};

// Sigmoid / tanh tables for the vector GRU cell: sig[x] = luna_sigmoid_q11(x) for sig_lo <= x <= sig_hi
// (sig points at the entry of x = 0), the same for tanh; outside its range each function equals its value at
// the nearest bound (the ranges are where the tables saturate), and each table stays readable 3 bytes past
// its hi entry (4-byte gathers).
struct ActTables {
  const int8_t* sig = nullptr;
  int32_t sig_lo = 0, sig_hi = 0;
  const int8_t* tanh = nullptr;
  int32_t tanh_lo = 0, tanh_hi = 0;
};

// numerics::gru_cell for the first units of a GRU step on `isa`'s vector lanes (AVX-512 VNNI: 16 int32
// lanes, then AVX2: 8): units u < hidden rounded down to 8, from gi = gi32 + b_ih and gh = gh32 + b_hh ([3H]
// each; biases may be null). Returns how many units it did (0 on the scalar ISA or a build without AVX2):
// the caller does the rest. Precondition: every gi and gh fits int32.
int64_t gru_cell_vector(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh,
                        int64_t hidden, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out,
                        const ActTables& t, Isa isa);

}  // namespace opt
}  // namespace runtime
}  // namespace linger
