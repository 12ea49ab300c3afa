// Activation fusion at load (docs/runtime.md, "Activation fusion").
//
// A node with an integer output whose kernel takes an output clamp
// (Kernel::fuse_output_clamp: Conv2dInt, Conv1dInt, ConvTranspose2dInt,
// LinearInt with o_bits, and iqAdd / iqMul / iqDiv) followed by activations that
// are integer clamps of that output -- Relu, an int8 Clip with constant
// bounds, iqClamp, or torch's Cast(int -> float) -> Relu / Clip ->
// Cast(float -> the same int) that stands for an int8 ReLU below opset 14 --
// runs them as a clamp at the end of its own requantisation, and their nodes
// are dropped from the plan. Each intermediate must have that one consumer and
// not be a graph output. The integers are the unfused ones:
//   - clamp(requant(acc)) is what the separate node computes on the same
//     requantised value, and a kernel's ReLU inside the requantisation
//     (before the rounding shift) gives the same integers, since
//     rhu_shift(v, s) >= 0 for v >= 0 and <= 0 for v <= 0;
//   - an int8 / int16 value converts to float exactly, a float Relu / Clip
//     with integer-valued bounds keeps it an integer, and Cast back (which
//     truncates and saturates) is then an exact clamp to the type's range;
//   - successive clamps [a, b] then [c, d] are one clamp [max(a, c), min(b, d)]
//     when that interval is not empty (otherwise the chain stops there).
// Int32 outputs never go through the float chain (not exact above 2^24).
#include <algorithm>
#include <limits>

#include "graph/plan.h"

namespace linger {
namespace runtime {

namespace {

bool integer_range(DType dtype, int64_t* lo, int64_t* hi) {
  switch (dtype) {
    case DType::kInt8: *lo = std::numeric_limits<int8_t>::lowest(); *hi = std::numeric_limits<int8_t>::max(); return true;
    case DType::kInt16: *lo = std::numeric_limits<int16_t>::lowest(); *hi = std::numeric_limits<int16_t>::max(); return true;
    case DType::kInt32: *lo = std::numeric_limits<int32_t>::lowest(); *hi = std::numeric_limits<int32_t>::max(); return true;
    default: return false;
  }
}

}  // namespace

void Plan::fuse_activations() {
  std::vector<bool> is_output(values_.size(), false);
  for (int id : graph_.outputs) is_output[static_cast<size_t>(id)] = true;
  // Consumer steps of each value, once per input slot.
  std::vector<std::vector<size_t>> consumers(values_.size());
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int id : steps_[i].node->inputs)
      if (id >= 0) consumers[static_cast<size_t>(id)].push_back(i);
  std::vector<bool> dead(steps_.size(), false);

  // The step that is `id`'s only consumer, reading it as input 0; -1 otherwise.
  auto sole_consumer = [&](int id) -> int {
    const size_t u = static_cast<size_t>(id);
    if (is_output[u] || consumers[u].size() != 1) return -1;
    const size_t c = consumers[u][0];
    if (dead[c] || steps_[c].node->inputs.empty() || steps_[c].node->inputs[0] != id || steps_[c].outputs.size() != 1)
      return -1;
    return static_cast<int>(c);
  };
  auto dtype_of = [&](int id) { return values_[static_cast<size_t>(id)].dtype; };
  auto dims_of = [&](int id) -> const Dims& { return values_[static_cast<size_t>(id)].dims; };

  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& producer = steps_[i];
    // Any kernel may take the clamp (it says so in fuse_output_clamp); activations themselves do not.
    if (dead[i] || producer.outputs.size() != 1) continue;
    {
      int64_t a = 0, b = 0;
      if (producer.kernel->integer_clamp(&a, &b)) continue;
    }
    const int first = producer.outputs[0];
    const DType type = dtype_of(first);
    int64_t lo = 0, hi = 0;
    if (!integer_range(type, &lo, &hi)) continue;  // a float output (no o_bits)
    std::vector<size_t> chain;
    int cur = first;
    while (true) {
      // One activation after `cur`: its steps, its output and its bounds.
      std::vector<size_t> steps;
      int end = -1;
      int64_t a = 0, b = 0;
      const int c = sole_consumer(cur);
      if (c < 0) break;
      const Step& s = steps_[static_cast<size_t>(c)];
      const int out = s.outputs[0];
      if (dtype_of(out) == type && dims_of(out) == dims_of(cur) && s.kernel->integer_clamp(&a, &b)) {
        steps = {static_cast<size_t>(c)};
        end = out;
      } else if (s.node->kind == OpKind::Cast && dtype_of(out) == DType::kFloat32 &&
                 (type == DType::kInt8 || type == DType::kInt16)) {
        const int c2 = sole_consumer(out);
        if (c2 < 0) break;
        const Step& act = steps_[static_cast<size_t>(c2)];
        const int fout = act.outputs[0];
        if (dtype_of(fout) != DType::kFloat32 || !act.kernel->integer_clamp(&a, &b)) break;
        const int c3 = sole_consumer(fout);
        if (c3 < 0) break;
        const Step& back = steps_[static_cast<size_t>(c3)];
        if (back.node->kind != OpKind::Cast || dtype_of(back.outputs[0]) != type) break;
        steps = {static_cast<size_t>(c), static_cast<size_t>(c2), static_cast<size_t>(c3)};
        end = back.outputs[0];
      } else {
        break;
      }
      if (dims_of(end) != dims_of(cur)) break;
      const int64_t nlo = std::max(lo, a), nhi = std::min(hi, b);
      if (nlo > nhi) break;  // the clamps do not compose into one
      lo = nlo;
      hi = nhi;
      chain.insert(chain.end(), steps.begin(), steps.end());
      cur = end;
    }
    if (chain.empty() || !producer.kernel->fuse_output_clamp(lo, hi)) continue;
    std::string& names = fused_ops_[static_cast<size_t>(producer.node->index)];
    for (size_t d : chain) {
      dead[d] = true;
      if (!names.empty()) names += ",";
      names += steps_[d].node->op_type;
    }
    producer.outputs[0] = cur;
    fused_nodes_ += static_cast<int>(chain.size());
  }
  if (!fused_nodes_) return;
  std::vector<Step> kept;
  kept.reserve(steps_.size());
  for (size_t i = 0; i < steps_.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(steps_[i]));
  steps_ = std::move(kept);
}

}  // namespace runtime
}  // namespace linger
