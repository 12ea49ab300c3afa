#include "graph/plan.h"

#include "graph/op_schema.h"
#include "linger/runtime/errors.h"

namespace linger {
namespace runtime {

namespace {

std::string exponent_str(int q) { return "2^" + std::to_string(q) + " (Q=" + std::to_string(q) + ")"; }

}  // namespace

Plan::Plan(const Graph& graph, const std::vector<Dims>& input_dims, opt::Isa isa, int64_t max_tensor_bytes)
    : graph_(graph), isa_(isa), executable_(true), values_(graph.values.size()), slots_(graph.values.size(), nullptr) {
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
  for (const Node& node : graph.nodes) infer_node(node, max_tensor_bytes);
  check_declared();
  if (!executable_) {
    steps_.clear();
    return;
  }
  buffers_.resize(graph.values.size());
  for (size_t id = 0; id < values_.size(); ++id)
    if (values_[id].constant) slots_[id] = values_[id].constant.get();
  for (Step& step : steps_) {
    for (int id : step.node->outputs) {
      const ValueState& v = values_[static_cast<size_t>(id)];
      buffers_[static_cast<size_t>(id)] = std::make_unique<Tensor>(v.dtype, v.dims);
      slots_[static_cast<size_t>(id)] = buffers_[static_cast<size_t>(id)].get();
    }
    step.out.clear();
    for (int id : step.node->outputs) step.out.push_back(buffers_[static_cast<size_t>(id)].get());
    step.in.assign(step.node->inputs.size(), nullptr);
  }
}

void Plan::infer_node(const Node& node, int64_t max_tensor_bytes) {
  std::unique_ptr<Kernel> kernel = create_kernel(node);
  if (!kernel) node.fail("unknown-op", "no kernel for this op");
  InferContext ctx(graph_, node, &values_, executable_);
  kernel->infer(ctx);
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const ValueState& v = values_[static_cast<size_t>(node.outputs[i])];
    if (!v.defined) node.fail("internal", "output #" + std::to_string(i) + " was not inferred");
    if (v.dims.size() > kMaxRank)
      node.fail("shape", "output rank " + std::to_string(v.dims.size()) + " exceeds " + std::to_string(kMaxRank));
    int64_t bytes = static_cast<int64_t>(dtype_size(v.dtype));
    for (int64_t d : v.dims) {
      if (d < 0) continue;
      if (d != 0 && bytes > max_tensor_bytes / d) {
        bytes = max_tensor_bytes + 1;
        break;
      }
      bytes *= d;
    }
    if (bytes > max_tensor_bytes)
      node.fail("tensor-size", "output '" + graph_.values[static_cast<size_t>(node.outputs[i])].name + "' of shape " +
                                   shape_str(v.dims) + " exceeds the tensor size limit of " +
                                   std::to_string(max_tensor_bytes) + " bytes");
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
  if (executable_) steps_.push_back(Step{&node, std::move(kernel), {}, {}});
}

void Plan::fold(const Node& node, Kernel* kernel) {
  std::vector<const Tensor*> in;
  for (int id : node.inputs) in.push_back(id >= 0 ? values_[static_cast<size_t>(id)].constant.get() : nullptr);
  std::vector<std::unique_ptr<Tensor>> outs;
  std::vector<Tensor*> out_ptrs;
  for (int id : node.outputs) {
    const ValueState& v = values_[static_cast<size_t>(id)];
    if (!dims_known(v.dims)) node.fail("internal", "constant inputs gave an output of unknown shape");
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
  for (int id : node.outputs) {
    ValueState& out = values_[static_cast<size_t>(id)];
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

void Plan::run(const std::vector<const Tensor*>& inputs) {
  for (size_t k = 0; k < inputs.size(); ++k) slots_[static_cast<size_t>(graph_.inputs[k])] = inputs[k];
  RunContext rc;
  rc.isa = isa_;
  for (Step& step : steps_) {
    for (size_t j = 0; j < step.in.size(); ++j) {
      const int id = step.node->inputs[j];
      step.in[j] = id >= 0 ? slots_[static_cast<size_t>(id)] : nullptr;
    }
    rc.node = step.node;
    rc.inputs = step.in.data();
    rc.outputs = step.out.data();
    step.kernel->run(rc);
  }
}

}  // namespace runtime
}  // namespace linger
