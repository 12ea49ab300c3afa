// Type / shape / exponent inference over the whole graph, with constant
// folding, and (when every dimension is concrete) the execution plan.
//
// Rules checked here, each naming the node: every op's dtype and shape
// contract (its kernel's infer()), scale consistency (a consumer's scale_x /
// scale_y / Dequant scale_o equals the exponent its input carries, which
// flows from the producer's scale through pass-through ops), the tensor size
// limit, and the declared types of graph outputs and value_info entries.
#pragma once

#include <memory>
#include <vector>

#include "graph/graph.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

class Plan {
 public:
  // input_dims: one entry per graph input (graph.inputs order); -1 for an
  // unknown dimension. When all are known the plan is executable.
  Plan(const Graph& graph, const std::vector<Dims>& input_dims, opt::Isa isa, int64_t max_tensor_bytes);

  bool executable() const { return executable_; }
  const std::vector<ValueState>& values() const { return values_; }

  // Runs the plan on the graph inputs (graph.inputs order, shapes as given to
  // the constructor). Afterwards result(id) is the value of any graph output.
  void run(const std::vector<const Tensor*>& inputs);
  const Tensor& result(int value_id) const { return *slots_[static_cast<size_t>(value_id)]; }

 private:
  struct Step {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<const Tensor*> in;
    std::vector<Tensor*> out;
  };

  void infer_node(const Node& node, int64_t max_tensor_bytes);
  void propagate_exponent(const Node& node);
  void fold(const Node& node, Kernel* kernel);
  void check_declared();

  const Graph& graph_;
  opt::Isa isa_;
  bool executable_;
  std::vector<ValueState> values_;
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<Tensor>> buffers_;  // per value id: outputs of executed nodes
  std::vector<const Tensor*> slots_;              // per value id: where its tensor is during run()
};

}  // namespace runtime
}  // namespace linger
