// Small helpers shared by the per-op files.
#pragma once

#include "../internal.h"

namespace lm {

inline bool same_dims(const Tensor& a, const Tensor& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i)
    if (a.dims[i] != b.dims[i]) return false;
  return true;
}

// params p[from..15] are 0 (unused params must be zero: a stricter file is easier to trust).
inline bool params_zero_from(const OpCheck& c, int from) {
  for (int i = from; i < LPK_NUM_PARAMS; ++i)
    if (c.op->p[i] != 0) return false;
  return true;
}

inline bool dims_are(const Tensor& t, uint8_t rank, const uint32_t* dims) {
  if (t.rank != rank) return false;
  for (int i = 0; i < rank; ++i)
    if (t.dims[i] != dims[i]) return false;
  return true;
}

inline bool exponent_ok(int32_t q) { return q >= -32 && q <= 40; }  // numerics kMinExponent..kMaxExponent

}  // namespace lm
