// linger integer numerics: EmbeddingInt (linger 1.x §3.11; exported as thinker Gather).
//
// The int8 table W [rows, dim] at Qw; out[i, :] = W[idx[i], :] (a copy of codes: output Q = Qw).
// An index outside [0, rows) is an error the caller reports: embedding_int returns the position of
// the first bad index, or -1 when all are valid (nothing is written past a bad index).
#pragma once

#include <cstdint>

namespace linger {
namespace numerics {

template <typename IndexT>
inline int64_t embedding_int(const int8_t* table, int64_t rows, int64_t dim, const IndexT* idx, int64_t n,
                             int8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = static_cast<int64_t>(idx[i]);
    if (r < 0 || r >= rows) return i;
    const int8_t* src = table + r * dim;
    for (int64_t j = 0; j < dim; ++j) out[i * dim + j] = src[j];
  }
  return -1;
}

}  // namespace numerics
}  // namespace linger
