// The `axes` parameter of Squeeze / Unsqueeze: an attribute before opset 13,
// an optional int64 input from opset 13 on.
#pragma once

#include <optional>
#include <vector>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

// Returns the raw axes, nullopt when absent (or, before complete(), not yet
// known: *known is then false). Fails on the wrong form for the opset.
std::optional<std::vector<int64_t>> squeeze_axes(InferContext& ctx, bool* known);

// Normalises axes into [0, rank), rejecting out-of-range and repeated axes.
std::vector<int64_t> normalize_axes(InferContext& ctx, const std::vector<int64_t>& axes, int64_t rank);

}  // namespace runtime
}  // namespace linger
