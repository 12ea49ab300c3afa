// Type / shape / exponent inference over the whole graph, with constant
// folding, and (when every dimension is concrete) the execution plan.
//
// Rules checked here, each naming the node: every op's dtype and shape
// contract (its kernel's infer()), scale consistency (a consumer's scale_x /
// scale_y / Dequant scale_o equals the exponent its input carries, which
// flows from the producer's scale through pass-through ops), the tensor size
// limit, and the declared types of graph outputs and value_info entries.
//
// Memory (docs/runtime.md, "Memory"): every size is overflow-checked
// (size_math.h); a tensor's extent counts a zero dimension as 1. Nothing is
// allocated for intermediates when the plan is built: run() allocates each
// when its producer runs and frees it after its last consumer, so one run
// needs at most memory().peak_bytes besides the weights and its inputs.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "kernels/kernel.h"
#include "size_math.h"

namespace linger {
namespace runtime {

// The memory bounds of a plan (SessionOptions).
struct MemoryLimits {
  int64_t max_tensor_bytes = int64_t{1} << 31;  // any one tensor or kernel workspace
  int64_t max_memory_bytes = int64_t{1} << 32;  // weights + the peak of one run
};

// What one run of an executable plan allocates, known before the first run.
// A run's scratch buffer is reused from node to node (and from run to run),
// so it holds the largest workspace throughout: the peak is the largest set of
// live intermediate tensors plus the largest workspace (an upper bound).
struct MemoryPlan {
  int64_t weights_bytes = 0;    // initializers and constants (folded at load), held by the session
  int64_t tensors_bytes = 0;    // largest set of live intermediate tensors ...
  std::string tensors_node;     // ... while this node runs ("node 'conv1' (Conv2dInt)")
  int64_t workspace_bytes = 0;  // largest kernel workspace ...
  std::string workspace_node;   // ... of this node
  int64_t peak_bytes() const { return sat_add(tensors_bytes, workspace_bytes); }
  int64_t total_bytes() const { return sat_add(weights_bytes, peak_bytes()); }
};

class Plan {
 public:
  // input_dims: one entry per graph input (graph.inputs order); -1 for an
  // unknown dimension. When all are known the plan is executable. Throws
  // ValidationError naming the node when a tensor or workspace exceeds
  // limits.max_tensor_bytes or weights + peak exceed limits.max_memory_bytes.
  // isa: kAuto lets each kernel choose for its shapes. pool (may be null):
  // the session's intra-op threads, which kernels size their workspace for.
  Plan(const Graph& graph, const std::vector<Dims>& input_dims, opt::Isa isa, const MemoryLimits& limits,
       opt::ThreadPool* pool = nullptr);

  bool executable() const { return executable_; }
  const std::vector<ValueState>& values() const { return values_; }
  const MemoryPlan& memory() const { return memory_; }

  // Runs the plan on the graph inputs (graph.inputs order, shapes as given to
  // the constructor) and returns the values `wanted` (value ids). Thread-safe:
  // each call allocates its own intermediate tensors when their producer runs
  // and frees each after its last consumer, and takes a scratch buffer of its
  // own from a mutex-protected pool (peak: memory().peak_bytes()); the kernels
  // are not changed by running.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted) const;

 private:
  struct Step {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> release;  // value ids whose last use is this step (freed after it)
  };

  void infer_node(const Node& node);
  void propagate_exponent(const Node& node);
  void fold(const Node& node, Kernel* kernel);
  void check_declared();
  void plan_memory();
  int64_t value_bytes(int id) const;
  // The kernel's workspace for the inferred shapes; rule 'workspace-size' above max_tensor_bytes.
  int64_t workspace_of(const Node& node, const Kernel& kernel) const;

  const Graph& graph_;
  opt::Isa isa_;
  MemoryLimits limits_;
  opt::ThreadPool* pool_;
  bool executable_;
  std::vector<ValueState> values_;
  std::vector<Step> steps_;
  std::vector<const Tensor*> constant_slots_;  // per value id: its constant tensor, if any
  // Scratch buffers of finished runs, handed to the next ones (one per run in flight).
  mutable std::mutex scratch_mutex_;
  mutable std::vector<std::unique_ptr<std::vector<int8_t>>> scratch_;
  int64_t folded_bytes_ = 0;
  MemoryPlan memory_;
};

}  // namespace runtime
}  // namespace linger
