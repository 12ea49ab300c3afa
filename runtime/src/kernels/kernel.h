// The interface every op kernel implements (one file per op in this folder).
//
// infer() is the op's dtype and shape contract: it checks its inputs' element
// types, shapes and (for shape parameters) constant values, and sets its
// outputs' types. It runs once while validating the model at load, where a
// symbolic input dimension is -1, and again on concrete shapes when an
// execution plan is built. It keeps whatever run() needs (shift amounts,
// geometry), so run() does no checking on the hot path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "kernels/opt/opt_kernels.h"
#include "linger/runtime/tensor.h"

namespace linger {
namespace runtime {

using Dims = std::vector<int64_t>;  // -1: unknown (symbolic) dimension
constexpr int64_t kUnknownDim = -1;

bool dims_known(const Dims& dims);
// Product of the dims, or -1 when one is unknown; saturates at
// kSaturatedNumel (far above any tensor size limit) instead of overflowing.
constexpr int64_t kSaturatedNumel = int64_t{1} << 62;
int64_t dims_numel(const Dims& dims);

// What the planner knows about one value.
struct ValueState {
  bool defined = false;
  DType dtype = DType::kFloat32;
  Dims dims;
  std::optional<int> exponent;  // Q of an integer tensor, when it carries one
  std::string exponent_origin;  // who set it, for messages
  std::shared_ptr<const Tensor> constant;  // the value, when known at load
};

class InferContext {
 public:
  InferContext(const Graph& graph, const Node& node, std::vector<ValueState>* values, bool complete,
               opt::Isa isa = opt::Isa::kAuto, int threads = 1)
      : graph_(graph), node_(node), values_(*values), complete_(complete), isa_(isa), threads_(threads) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return graph_.info.opset; }
  // True when every dimension is concrete (an execution plan is being built).
  bool complete() const { return complete_; }
  // The session's ISA (kAuto: each kernel chooses for its shapes) and its
  // intra-op thread count: kernels pack their weights for them when complete().
  opt::Isa isa() const { return isa_; }
  int threads() const { return threads_; }

  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  bool has_input(int i) const { return i < num_inputs() && node_.inputs[static_cast<size_t>(i)] >= 0; }
  const ValueState& input(int i) const { return values_[static_cast<size_t>(node_.inputs[static_cast<size_t>(i)])]; }
  const std::string& input_name(int i) const;
  DType dtype(int i) const { return input(i).dtype; }
  const Dims& dims(int i) const { return input(i).dims; }
  const Tensor* constant(int i) const { return input(i).constant.get(); }

  void set_output(int i, DType dtype, Dims dims);
  void set_output_constant(int i, Tensor value);

  [[noreturn]] void fail(const std::string& rule, const std::string& detail) const { node_.fail(rule, detail); }
  // Rule 'dtype': input i's element type must be one of `allowed`.
  void expect_dtype(int i, std::initializer_list<DType> allowed, const char* role) const;
  // Rule 'shape': input i must have this rank.
  void expect_rank(int i, size_t rank, const char* role) const;
  // Rule 'constant-input': input i is a 1-D (or scalar) int32/int64 tensor whose
  // values are known at load (an initializer, a Constant, or folded from
  // static shapes). Returns nullopt when not known yet and !complete().
  std::optional<std::vector<int64_t>> const_ints(int i, const char* role) const;
  // An INTS attribute with exactly `count` values in [lo, hi] (rule
  // 'attribute-value'); `fallback` when absent.
  std::vector<int64_t> attr_ints(const char* name, size_t count, std::vector<int64_t> fallback, int64_t lo,
                                 int64_t hi) const;
  // Normalises an axis in [-rank, rank) (rule 'attribute-value').
  int64_t axis(int64_t axis, int64_t rank, const char* what) const;

 private:
  const Graph& graph_;
  const Node& node_;
  std::vector<ValueState>& values_;
  bool complete_;
  opt::Isa isa_;
  int threads_;
};

struct RunContext {
  const Node* node = nullptr;
  const Tensor* const* inputs = nullptr;  // nullptr entries for omitted optional inputs
  Tensor* const* outputs = nullptr;
  opt::Isa isa = opt::Isa::kScalar;
  // Scratch bytes owned by the current run (reused from run to run, never
  // shared by two runs at once); null when folding constants. A kernel may
  // grow it up to its workspace_bytes().
  std::vector<int8_t>* workspace = nullptr;
  // The session's intra-op threads (null: run on the calling thread). A kernel
  // that uses it sizes workspace_bytes() for the thread count infer() saw.
  opt::ThreadPool* pool = nullptr;

  const Tensor& in(int i) const { return *inputs[i]; }
  const Tensor* in_opt(int i) const { return inputs[i]; }
  Tensor& out(int i) const { return *outputs[i]; }
  // Throws ExecutionError naming the node.
  [[noreturn]] void fail(const std::string& detail) const;
};

// run() must not change the kernel: one plan may run on several threads at
// once, so per-run scratch memory is local to run() and declared (for the
// memory plan and its bounds) by workspace_bytes().
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void infer(InferContext& ctx) = 0;
  virtual void run(const RunContext& ctx) = 0;
  // Bytes of scratch memory one run() allocates besides its outputs, for the
  // shapes of the last complete infer() (overflow-checked, saturating at 2^62).
  virtual int64_t workspace_bytes(opt::Isa /*isa*/) const { return 0; }
};

// The kernel of node.kind (kernels/registry.cc).
std::unique_ptr<Kernel> create_kernel(const Node& node);

}  // namespace runtime
}  // namespace linger
