// linger integer numerics: LinearInt / BmmInt (numerics.md §3).
//
//   acc = sum x*w + bias               int64 (no wrap)
//   y   = sat_ob(rhu_shift(acc, Qx + Qw - Qo))      o_bits 8/16/32
//   no o_bits: float output acc * 2^-(Qx+Qw)
//
// x [m, k] int8 row-major, w [n, k] int8 (PyTorch Linear layout), bias int32 [n] or null.
#pragma once

#include <cmath>
#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

inline int64_t linear_acc_at(const int8_t* x, const int8_t* w, const int32_t* bias, int64_t k,
                             int64_t row, int64_t col) {
  int64_t acc = bias ? bias[col] : 0;
  const int8_t* xr = x + row * k;
  const int8_t* wr = w + col * k;
  for (int64_t i = 0; i < k; ++i) acc += static_cast<int32_t>(xr[i]) * static_cast<int32_t>(wr[i]);
  return acc;
}

inline int64_t linear_requant(int64_t acc, int shift, int out_bits) {
  return sat(rhu_shift(acc, shift), out_bits);
}

// Float output (no o_bits): acc * 2^-exp_sum, via double (exact for |acc| < 2^53), then float.
inline float linear_float_out(int64_t acc, int exp_sum) {
  return static_cast<float>(std::ldexp(static_cast<double>(acc), -exp_sum));
}

// One output row of the scalar reference (rows are independent).
template <typename OutT>
inline void linear_int_row(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y_row, int64_t row,
                           int64_t k, int64_t n, int shift, int out_bits) {
  for (int64_t c = 0; c < n; ++c)
    y_row[c] = static_cast<OutT>(linear_requant(linear_acc_at(x, w, bias, k, row, c), shift, out_bits));
}

inline void linear_int_float_row(const int8_t* x, const int8_t* w, const int32_t* bias, float* y_row, int64_t row,
                                 int64_t k, int64_t n, int exp_sum) {
  for (int64_t c = 0; c < n; ++c) y_row[c] = linear_float_out(linear_acc_at(x, w, bias, k, row, c), exp_sum);
}

template <typename OutT>
inline void linear_int(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y, int64_t m,
                       int64_t k, int64_t n, int shift, int out_bits) {
  for (int64_t r = 0; r < m; ++r) linear_int_row(x, w, bias, y + r * n, r, k, n, shift, out_bits);
}

inline void linear_int_float(const int8_t* x, const int8_t* w, const int32_t* bias, float* y, int64_t m,
                             int64_t k, int64_t n, int exp_sum) {
  for (int64_t r = 0; r < m; ++r) linear_int_float_row(x, w, bias, y + r * n, r, k, n, exp_sum);
}

}  // namespace numerics
}  // namespace linger
