#include "graph/plan.h"

#include <algorithm>

#include <limits>
#include <new>
#include <set>

#include "graph/op_schema.h"
#include "linger/runtime/errors.h"
#include "size_math.h"

namespace linger {
namespace runtime {

namespace {

std::string exponent_str(int q) { return "2^" + std::to_string(q) + " (Q=" + std::to_string(q) + ")"; }

}  // namespace

Plan::Plan(const Graph& graph, const std::vector<Dims>& input_dims, opt::Isa isa, const MemoryLimits& limits,
           opt::ThreadPool* pool)
    : graph_(graph), isa_(isa), limits_(limits), pool_(pool), executable_(true), values_(graph.values.size()) {
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    ValueState& v = values_[static_cast<size_t>(graph.inputs[k])];
    v.defined = true;
    v.dtype = graph.input_infos[k].dtype;
    v.dims = input_dims[k];
    if (!dims_known(v.dims)) executable_ = false;
  }
  for (size_t id = 0; id < graph.values.size(); ++id) {
    const Value& gv = graph.values[id];
    if (!gv.initializer) continue;
    ValueState& v = values_[id];
    v.defined = true;
    v.dtype = gv.initializer->dtype();
    v.dims = gv.initializer->shape();
    v.constant = gv.initializer;
  }
  for (const Node& node : graph.nodes) infer_node(node);
  check_declared();
  if (!executable_) {
    steps_.clear();
    return;
  }
  constant_slots_.assign(values_.size(), nullptr);
  for (size_t id = 0; id < values_.size(); ++id)
    if (values_[id].constant) constant_slots_[id] = values_[id].constant.get();
  plan_memory();
}

int64_t Plan::workspace_of(const Node& node, const Kernel& kernel) const {
  const int64_t ws = kernel.workspace_bytes(isa_);
  if (ws > limits_.max_tensor_bytes)
    node.fail("workspace-size", "the kernel needs a workspace of " + std::to_string(ws) +
                                    " bytes for these shapes, above the limit of " +
                                    std::to_string(limits_.max_tensor_bytes) +
                                    " bytes (SessionOptions.max_tensor_bytes); check the node's padding, strides and "
                                    "input shape, or raise the limit");
  return ws;
}

int64_t Plan::value_bytes(int id) const {
  const ValueState& v = values_[static_cast<size_t>(id)];
  return sat_mul(dims_numel(v.dims), static_cast<int64_t>(dtype_size(v.dtype)));
}

// Liveness over the step order: a value produced by a step lives from that
// step to its last consumer (graph outputs to the end). The peak is the
// largest sum of live values during one step, plus that step's workspace.
void Plan::plan_memory() {
  constexpr int kNever = std::numeric_limits<int>::max();
  std::vector<int> last_use(values_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int id : steps_[i].node->inputs)
      if (id >= 0) last_use[static_cast<size_t>(id)] = static_cast<int>(i);
  for (int id : graph_.outputs) last_use[static_cast<size_t>(id)] = kNever;

  std::set<const Tensor*> weights;
  for (const ValueState& v : values_)
    if (v.constant && weights.insert(v.constant.get()).second)
      memory_.weights_bytes = sat_add(memory_.weights_bytes, static_cast<int64_t>(v.constant->nbytes()));

  int64_t live = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    const int64_t ws = workspace_of(*step.node, *step.kernel);
    if (ws > memory_.workspace_bytes) {
      memory_.workspace_bytes = ws;
      memory_.workspace_node = step.node->label();
    }
    for (int id : step.node->outputs) live = sat_add(live, value_bytes(id));
    if (live > memory_.tensors_bytes || memory_.tensors_node.empty()) {
      memory_.tensors_bytes = live;
      memory_.tensors_node = step.node->label();
    }
    step.release.clear();
    auto release = [&](int id) {
      if (id < 0 || values_[static_cast<size_t>(id)].constant || last_use[static_cast<size_t>(id)] > static_cast<int>(i))
        return;
      if (graph_.values[static_cast<size_t>(id)].producer < 0) return;  // a graph input: the caller's tensor
      for (int r : step.release)
        if (r == id) return;
      step.release.push_back(id);
      live -= value_bytes(id);
    };
    for (int id : step.node->inputs) release(id);
    for (int id : step.node->outputs) release(id);  // never consumed and not a graph output
  }
  if (memory_.total_bytes() > limits_.max_memory_bytes) {
    std::string detail = "one run needs " + std::to_string(memory_.total_bytes()) + " bytes (" +
                         std::to_string(memory_.weights_bytes) + " of weights and constants, " +
                         std::to_string(memory_.tensors_bytes) + " of live tensors while this node runs";
    if (memory_.workspace_bytes)
      detail += ", a kernel workspace of " + std::to_string(memory_.workspace_bytes) + " for " + memory_.workspace_node;
    detail += "), above the limit of " + std::to_string(limits_.max_memory_bytes) +
              " bytes (SessionOptions.max_memory_bytes); raise the limit or use smaller input shapes";
    for (const Step& step : steps_)
      if (step.node->label() == memory_.tensors_node) step.node->fail("memory-limit", detail);
    throw ValidationError("model", "", "", "memory-limit", detail);
  }
}

void Plan::infer_node(const Node& node) {
  std::unique_ptr<Kernel> kernel = create_kernel(node);
  if (!kernel) node.fail("unknown-op", "no kernel for this op");
  InferContext ctx(graph_, node, &values_, executable_, isa_, opt::pool_threads(pool_));
  kernel->infer(ctx);
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const ValueState& v = values_[static_cast<size_t>(node.outputs[i])];
    if (!v.defined) node.fail("internal", "output #" + std::to_string(i) + " was not inferred");
    if (v.dims.size() > kMaxRank)
      node.fail("shape", "output rank " + std::to_string(v.dims.size()) + " exceeds " + std::to_string(kMaxRank));
    if (extent_bytes(v.dims, static_cast<int64_t>(dtype_size(v.dtype))) > limits_.max_tensor_bytes)
      node.fail("tensor-size", "output '" + graph_.values[static_cast<size_t>(node.outputs[i])].name + "' of shape " +
                                   shape_str(v.dims) + " exceeds the tensor size limit of " +
                                   std::to_string(limits_.max_tensor_bytes) +
                                   " bytes (SessionOptions.max_tensor_bytes; a zero dimension counts as 1)");
  }
  propagate_exponent(node);

  bool all_const = !node.inputs.empty();
  for (int id : node.inputs)
    if (id >= 0 && !values_[static_cast<size_t>(id)].constant) all_const = false;
  bool outputs_const = true;
  for (int id : node.outputs)
    if (!values_[static_cast<size_t>(id)].constant) outputs_const = false;
  if (outputs_const) return;  // Constant, or Shape of static dims
  if (all_const) {
    fold(node, kernel.get());
    return;
  }
  if (executable_) steps_.push_back(Step{&node, std::move(kernel), {}});
}

void Plan::fold(const Node& node, Kernel* kernel) {
  std::vector<const Tensor*> in;
  for (int id : node.inputs) in.push_back(id >= 0 ? values_[static_cast<size_t>(id)].constant.get() : nullptr);
  int64_t bytes = workspace_of(node, *kernel);
  for (int id : node.outputs) {
    if (!dims_known(values_[static_cast<size_t>(id)].dims))
      node.fail("internal", "constant inputs gave an output of unknown shape");
    bytes = sat_add(bytes, value_bytes(id));
  }
  folded_bytes_ = sat_add(folded_bytes_, bytes);
  if (folded_bytes_ > limits_.max_memory_bytes)
    node.fail("memory-limit", "folding the constants of the model needs " + std::to_string(folded_bytes_) +
                                  " bytes up to this node, above the limit of " +
                                  std::to_string(limits_.max_memory_bytes) + " bytes (SessionOptions.max_memory_bytes)");
  std::vector<std::unique_ptr<Tensor>> outs;
  std::vector<Tensor*> out_ptrs;
  for (int id : node.outputs) {
    const ValueState& v = values_[static_cast<size_t>(id)];
    outs.push_back(std::make_unique<Tensor>(v.dtype, v.dims));
    out_ptrs.push_back(outs.back().get());
  }
  RunContext rc;
  rc.node = &node;
  rc.inputs = in.data();
  rc.outputs = out_ptrs.data();
  rc.isa = isa_;
  try {
    kernel->run(rc);
  } catch (const ExecutionError& e) {
    node.fail("constant-folding", std::string("evaluating the node on its constant inputs failed: ") + e.what());
  }
  for (size_t i = 0; i < node.outputs.size(); ++i)
    values_[static_cast<size_t>(node.outputs[i])].constant = std::shared_ptr<const Tensor>(std::move(outs[i]));
}

void Plan::propagate_exponent(const Node& node) {
  const OpSchema& s = *node.schema;
  for (const ScaleBinding& b : s.input_scales) {
    if (b.input >= static_cast<int>(node.inputs.size()) || node.inputs[static_cast<size_t>(b.input)] < 0) continue;
    const int id = node.inputs[static_cast<size_t>(b.input)];
    const ValueState& in = values_[static_cast<size_t>(id)];
    if (!in.exponent) continue;
    const int q = node.scale_exponent(b.attr);
    if (q != *in.exponent)
      node.fail("scale-consistency", std::string("attribute '") + b.attr + "' = " + exponent_str(q) + " but input '" +
                                         graph_.values[static_cast<size_t>(id)].name + "' carries " +
                                         exponent_str(*in.exponent) + " from " + in.exponent_origin);
  }
  if (s.per_input_scale_prefix)
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id < 0) continue;
      const ValueState& in = values_[static_cast<size_t>(id)];
      const std::string attr = per_input_scale_name(s, static_cast<int>(i));
      if (in.exponent && node.scale_exponent(attr) != *in.exponent)
        node.fail("scale-consistency", "attribute '" + attr + "' = " + exponent_str(node.scale_exponent(attr)) +
                                           " but input '" + graph_.values[static_cast<size_t>(id)].name +
                                           "' carries " + exponent_str(*in.exponent) + " from " + in.exponent_origin);
    }
  std::optional<int> q;
  std::string origin;
  switch (s.output_exponent) {
    case ExponentRule::kNone: break;
    case ExponentRule::kScaleAttr:
      if (node.has_attr(s.output_scale_attr)) {
        q = node.scale_exponent(s.output_scale_attr);
        origin = node.label() + " " + s.output_scale_attr;
      }
      break;
    case ExponentRule::kPassThrough:
      if (!node.inputs.empty() && node.inputs[0] >= 0) {
        const ValueState& in = values_[static_cast<size_t>(node.inputs[0])];
        q = in.exponent;
        origin = in.exponent_origin;
      }
      break;
    case ExponentRule::kAllInputs: {
      int first = -1;
      for (int id : node.inputs) {
        if (id < 0) continue;
        const ValueState& in = values_[static_cast<size_t>(id)];
        if (!in.exponent) continue;
        if (q && *q != *in.exponent)
          node.fail("scale-consistency", "inputs '" + graph_.values[static_cast<size_t>(first)].name + "' (" +
                                             exponent_str(*q) + ") and '" + graph_.values[static_cast<size_t>(id)].name +
                                             "' (" + exponent_str(*in.exponent) +
                                             ") carry different exponents; requantize them to one scale first");
        if (!q) {
          q = in.exponent;
          origin = in.exponent_origin;
          first = id;
        }
      }
      break;
    }
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] < 0) continue;
    ValueState& out = values_[static_cast<size_t>(node.outputs[i])];
    const auto fixed = std::find_if(s.fixed_output_exponents.begin(), s.fixed_output_exponents.end(),
                                    [i](const std::pair<int, int>& f) { return f.first == static_cast<int>(i); });
    if (fixed != s.fixed_output_exponents.end()) {
      if (!dtype_is_integer(out.dtype)) continue;
      out.exponent = fixed->second;
      out.exponent_origin = node.label() + " output " + std::to_string(i) + " (fixed exponent)";
      continue;
    }
    // A float tensor keeps the exponent only through pass-through ops (the float
    // side of torch's Cast(float) -> Relu -> Cast(int8) around an int8 ReLU).
    if (!q || (!dtype_is_integer(out.dtype) && s.output_exponent != ExponentRule::kPassThrough)) continue;
    out.exponent = q;
    out.exponent_origin = origin;
  }
}

void Plan::check_declared() {
  for (const DeclaredType& d : graph_.declared) {
    const ValueState& v = values_[static_cast<size_t>(d.value)];
    const Value& gv = graph_.values[static_cast<size_t>(d.value)];
    const std::string producer =
        gv.producer >= 0 ? graph_.nodes[static_cast<size_t>(gv.producer)].label() : std::string("its definition");
    if (d.has_dtype && d.dtype != v.dtype)
      throw ValidationError(d.what, "", "", "declared-type",
                            std::string("declared ") + dtype_name(d.dtype) + " but " + producer + " produces " +
                                dtype_name(v.dtype));
    if (!d.has_shape) continue;
    bool ok = d.dims.size() == v.dims.size();
    for (size_t i = 0; ok && i < d.dims.size(); ++i)
      if (d.dims[i] >= 0 && v.dims[i] >= 0 && d.dims[i] != v.dims[i]) ok = false;
    if (!ok)
      throw ValidationError(d.what, "", "", "declared-shape",
                            "declared shape " + shape_str(d.dims) + " but " + producer + " produces " + shape_str(v.dims));
  }
}

namespace {

// Takes a scratch buffer from the plan's pool (or a new one) for one run and
// gives it back when the run ends, normally or by an exception.
class ScratchLease {
 public:
  using Pool = std::vector<std::unique_ptr<std::vector<int8_t>>>;
  ScratchLease(std::mutex& mutex, Pool& pool) : mutex_(mutex), pool_(pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pool_.empty()) {
      buf_ = std::move(pool_.back());
      pool_.pop_back();
    }
    if (!buf_) buf_ = std::make_unique<std::vector<int8_t>>();
  }
  ~ScratchLease() {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_.push_back(std::move(buf_));
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  std::vector<int8_t>* get() const { return buf_.get(); }

 private:
  std::mutex& mutex_;
  Pool& pool_;
  std::unique_ptr<std::vector<int8_t>> buf_;
};

}  // namespace

std::vector<Tensor> Plan::run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted) const {
  std::vector<const Tensor*> slots = constant_slots_;
  for (size_t k = 0; k < inputs.size(); ++k) slots[static_cast<size_t>(graph_.inputs[k])] = inputs[k];
  std::vector<std::unique_ptr<Tensor>> buffers(values_.size());
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  RunContext rc;
  rc.isa = isa_;
  rc.pool = pool_;
  ScratchLease scratch(scratch_mutex_, scratch_);
  rc.workspace = scratch.get();
  for (const Step& step : steps_) {
    in.clear();
    for (int id : step.node->inputs) in.push_back(id >= 0 ? slots[static_cast<size_t>(id)] : nullptr);
    out.clear();
    try {
      for (int id : step.node->outputs) {
        const ValueState& v = values_[static_cast<size_t>(id)];
        // Not zero-filled: every kernel writes its outputs in full.
        buffers[static_cast<size_t>(id)] = std::make_unique<Tensor>(Tensor::uninitialized(v.dtype, v.dims));
        slots[static_cast<size_t>(id)] = buffers[static_cast<size_t>(id)].get();
        out.push_back(buffers[static_cast<size_t>(id)].get());
      }
      rc.node = step.node;
      rc.inputs = in.data();
      rc.outputs = out.data();
      step.kernel->run(rc);
    } catch (const std::bad_alloc&) {
      throw ExecutionError(step.node->label() + ": out of memory (the plan's peak is " +
                           std::to_string(memory_.peak_bytes()) +
                           " bytes besides the weights; lower SessionOptions.max_memory_bytes to refuse such a model "
                           "at load)");
    }
    for (int id : step.release) {
      buffers[static_cast<size_t>(id)].reset();
      slots[static_cast<size_t>(id)] = nullptr;
    }
  }
  std::vector<Tensor> result;
  result.reserve(wanted.size());
  for (size_t j = 0; j < wanted.size(); ++j) {
    const size_t id = static_cast<size_t>(wanted[j]);
    bool again = false;
    for (size_t k = j + 1; k < wanted.size(); ++k) again = again || wanted[k] == wanted[j];
    if (buffers[id] && !again) {
      result.push_back(std::move(*buffers[id]));  // an output produced by this run: no copy
      buffers[id].reset();
      slots[id] = nullptr;
    } else {
      result.push_back(*slots[id]);  // a constant, a graph input or a repeated name: a copy
    }
  }
  return result;
}

}  // namespace runtime
}  // namespace linger
