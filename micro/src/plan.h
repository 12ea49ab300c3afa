// The memory-plan check of lm_model_init (see plan.cc).
#pragma once

#include "internal.h"

namespace lm {

// Every arena tensor is written by one op (or is a graph input) before any op
// reads it, and no two arena buffers whose lifetimes overlap share a byte.
lm_status check_plan(const lm_model& m, lm_error* err);
// Same check; memo (2 int32 per tensor) may be null (then lifetimes are
// recomputed on demand: O(T^2 * ops) instead of O(T^2 + T * ops)).
lm_status check_plan_with(const lm_model& m, lm_error* err, int32_t* memo);

lm_status report_plan(lm_error* err, const lm_model& m, const char* detail, int32_t op, int32_t tensor);

}  // namespace lm
