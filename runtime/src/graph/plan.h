// Type / shape / exponent inference over the whole graph, with constant
// folding, and (when every dimension is concrete) the execution plan.
//
// Rules checked here, each naming the node: every op's dtype and shape
// contract (its kernel's infer()), scale consistency (a consumer's scale_x /
// scale_y / Dequant scale_o equals the exponent its input carries, which
// flows from the producer's scale through pass-through ops), the tensor size
// limit, and the declared types of graph outputs and value_info entries.
//
// Optimisations of an executable plan (docs/runtime.md, "Activation fusion"
// and "Memory"), each bit-exact and each with a switch (PlanOptions):
// - activation fusion (graph/fuse.cc): a ReLU / Clip / iqClamp (or torch's
//   Cast -> Relu/Clip -> Cast around an int8 ReLU) after a conv / linear
//   becomes a clamp inside the producer's requantisation;
// - a memory arena: intermediates whose lifetimes do not overlap share bytes
//   of one per-run buffer at offsets fixed here, and reshape-like ops
//   (Reshape, Flatten, Squeeze, Unsqueeze, Identity) are views of their input.
//   Without it, run() allocates each intermediate when its producer runs and
//   frees it after its last consumer.
// Every size is overflow-checked (size_math.h); a tensor's extent counts a
// zero dimension as 1. One run needs at most memory().peak_bytes besides the
// weights and its inputs.
#pragma once

#include <atomic>
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

// Load-time optimisations (SessionOptions); both on by default.
struct PlanOptions {
  bool fuse_activations = true;
  bool reuse_memory = true;  // the arena and the views
};

// What one run of an executable plan allocates, known before the first run.
// A run's scratch buffer is reused from node to node (and from run to run),
// so it holds the largest workspace throughout: the peak is the tensors' bytes
// plus the largest workspace. With the arena, the tensors' bytes are the
// arena's size plus the graph outputs the run produces (owned by the caller
// afterwards); without it, the largest set of live intermediate tensors.
struct MemoryPlan {
  int64_t weights_bytes = 0;    // initializers and constants (folded at load), held by the session
  int64_t tensors_bytes = 0;    // the tensors' bytes of one run (see above) ...
  std::string tensors_node;     // ... where the most are live ("node 'conv1' (Conv2dInt)")
  int64_t arena_bytes = 0;      // the arena's size (0 without reuse)
  int64_t live_bytes = 0;       // the largest set of live intermediates (the arena's lower bound)
  int64_t workspace_bytes = 0;  // largest kernel workspace ...
  std::string workspace_node;   // ... of this node
  int64_t peak_bytes() const { return sat_add(tensors_bytes, workspace_bytes); }
  int64_t total_bytes() const { return sat_add(weights_bytes, peak_bytes()); }
};

// Per-node kernel time of the runs of a session (SessionOptions.enable_profiling),
// indexed by graph node index; shared by every plan of the session.
struct NodeTimes {
  explicit NodeTimes(size_t nodes) : ns(nodes), runs(nodes) {}
  std::vector<std::atomic<int64_t>> ns, runs;
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
       const PlanOptions& options = {}, opt::ThreadPool* pool = nullptr);

  bool executable() const { return executable_; }
  const std::vector<ValueState>& values() const { return values_; }
  const MemoryPlan& memory() const { return memory_; }

  // How many nodes the fusion folded into their producers.
  int fused_nodes() const { return fused_nodes_; }

  // Runs the plan on the graph inputs (graph.inputs order, shapes as given to
  // the constructor) and returns the values `wanted` (value ids). Thread-safe:
  // each call takes an arena and a scratch buffer of its own from a
  // mutex-protected pool (or, without reuse, allocates each intermediate when
  // its producer runs and frees it after its last consumer); peak:
  // memory().peak_bytes(). The kernels are not changed by running.
  // times (may be null): each step's kernel time is added to its node's entry.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted,
                          NodeTimes* times = nullptr) const;

  // The op types folded into each node (by graph node index), e.g. "Relu"; "" when none.
  const std::vector<std::string>& fused_ops() const { return fused_ops_; }

 private:
  struct Step {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> release;  // value ids whose last use is this step (freed after it)
    // The values the step writes: node->outputs, or, after fusion, the last
    // fused node's output in place of the producer's.
    std::vector<int> outputs;
    bool view = false;  // output 0 is a view of input 0 (the kernel does not run)
  };
  // Where a run keeps a value it produces.
  enum class Storage { kOwned, kArena, kView };

  void infer_node(const Node& node);
  // graph/fuse.cc: folds activations into their producers' requantisation.
  void fuse_activations();
  // The arena offsets (greedy by size over the lifetimes) and the views.
  void plan_arena(const std::vector<int>& first_def, const std::vector<int>& last_use);
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
  PlanOptions options_;
  int fused_nodes_ = 0;
  std::vector<std::string> fused_ops_;  // per graph node index
  std::vector<Storage> storage_;   // per value id, for values the steps produce
  // Per value id: its tensor is a view whose bytes do not change from run to
  // run for one RunBuffers (an arena block, or a view of one or of a
  // constant): made at the first run of those buffers and kept.
  std::vector<bool> fixed_;
  std::vector<int64_t> offset_;    // per value id: arena offset (kArena)
  opt::ThreadPool* pool_;
  bool executable_;
  std::vector<ValueState> values_;
  std::vector<Step> steps_;
  std::vector<const Tensor*> constant_slots_;  // per value id: its constant tensor, if any
  // Arenas and scratch buffers of finished runs, handed to the next ones (one per run in flight).
  struct RunBuffers {
    std::unique_ptr<unsigned char[]> arena;  // arena_bytes + alignment slack
    std::vector<int8_t> scratch;
    // The run's state, kept (with its capacity) from run to run: no heap
    // allocation per run but the graph outputs' (and, without the arena, the
    // intermediates').
    std::vector<const Tensor*> slots;              // per value id: its tensor in this run
    std::vector<std::unique_ptr<Tensor>> tensors;  // per value id: fixed_ views (kept), else this run's
    std::vector<const Tensor*> in;
    std::vector<Tensor*> out;
  };
  // Resets the tensors of `b` that are not fixed_ (after a run, or a run that failed).
  void drop_run_tensors(RunBuffers* b) const;
  mutable std::mutex scratch_mutex_;
  mutable std::vector<std::unique_ptr<RunBuffers>> scratch_;
  int64_t folded_bytes_ = 0;
  MemoryPlan memory_;
};

}  // namespace runtime
}  // namespace linger
