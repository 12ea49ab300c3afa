// Session: load (decode -> build_graph -> validating Plan) and run.
#include "linger/runtime/session.h"

#include <mutex>
#include <new>

#include "graph/graph.h"
#include "graph/plan.h"
#include "kernels/opt/opt_kernels.h"
#include "linger/runtime/npy.h"
#include "loader/onnx_proto.h"
#include "size_math.h"

namespace linger {
namespace runtime {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAuto: return "auto";
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::kAuto, Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni})
    if (name == isa_name(isa)) return isa;
  throw InputError("unknown ISA '" + name + "' (expected auto, scalar, avx2 or avx512vnni)");
}

namespace {

opt::Isa to_opt(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return opt::Isa::kAvx2;
    case Isa::kAvx512Vnni: return opt::Isa::kAvx512Vnni;
    default: return opt::Isa::kScalar;
  }
}

Isa from_opt(opt::Isa isa) {
  switch (isa) {
    case opt::Isa::kAvx2: return Isa::kAvx2;
    case opt::Isa::kAvx512Vnni: return Isa::kAvx512Vnni;
    default: return Isa::kScalar;
  }
}

}  // namespace

bool isa_supported(Isa isa) { return isa == Isa::kAuto || opt::isa_supported(to_opt(isa)); }

struct Session::Impl {
  Graph graph;
  SessionOptions options;
  Isa isa = Isa::kScalar;
  opt::Isa plan_isa = opt::Isa::kAuto;  // what the plans get: kAuto (per layer) or a forced ISA
  std::unique_ptr<opt::ThreadPool> pool;  // intra-op threads (null: one)
  std::vector<TensorInfo> outputs;
  MemoryLimits limits;
  PlanOptions plan_options;
  std::shared_ptr<const Plan> static_plan;  // when every declared input dim is fixed
  // The plan of the last symbolic-shape run; runs in flight keep theirs alive.
  std::shared_ptr<const Plan> dynamic_plan;
  std::vector<Dims> dynamic_dims;
  std::mutex mutex;  // guards dynamic_plan / dynamic_dims only: runs themselves go in parallel
  std::unique_ptr<NodeTimes> times;  // SessionOptions.enable_profiling
  std::vector<std::string> fused_ops;  // per node: what the fusion folded into it (latest plan; under mutex)
};

namespace {

// The tensor-size rule for graph inputs (declared, or given to run()).
std::string input_size_problem(const std::vector<int64_t>& shape, DType dtype, int64_t max_tensor_bytes) {
  if (extent_bytes(shape, static_cast<int64_t>(dtype_size(dtype))) <= max_tensor_bytes) return "";
  return "shape " + shape_str(shape) + " of " + dtype_name(dtype) + " exceeds the tensor size limit of " +
         std::to_string(max_tensor_bytes) + " bytes (SessionOptions.max_tensor_bytes; a zero dimension counts as 1)";
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Session Session::from_file(const std::string& path, const SessionOptions& options) {
  const std::string bytes = read_file(path);
  if (bytes.empty()) throw ParseError("'" + path + "' is an empty file (0 bytes), not an ONNX model");
  return from_bytes(bytes.data(), bytes.size(), options);
}

Session Session::from_bytes(const void* data, size_t size, const SessionOptions& options) {
  try {
    return load(data, size, options);
  } catch (const std::bad_alloc&) {
    throw ModelError("out of memory while loading the model (" + std::to_string(size) +
                     " bytes); lower SessionOptions.max_tensor_bytes / max_memory_bytes to refuse such a model "
                     "with an error naming the node");
  }
}

Session Session::load(const void* data, size_t size, const SessionOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.max_tensor_bytes <= 0) throw InputError("SessionOptions.max_tensor_bytes must be positive");
  if (options.max_memory_bytes <= 0) throw InputError("SessionOptions.max_memory_bytes must be positive");
  impl->limits.max_tensor_bytes = options.max_tensor_bytes;
  impl->limits.max_memory_bytes = options.max_memory_bytes;
  if (options.intra_op_num_threads < 1 || options.intra_op_num_threads > 256)
    throw InputError("SessionOptions.intra_op_num_threads must be in 1..256, got " +
                     std::to_string(options.intra_op_num_threads));
  if (options.intra_op_num_threads > 1) impl->pool = std::make_unique<opt::ThreadPool>(options.intra_op_num_threads);
  if (options.isa == Isa::kAuto) {
    impl->isa = from_opt(opt::best_isa());
    impl->plan_isa = opt::env_isa();  // kAuto unless LINGER_ISA forces one
  } else {
    if (!isa_supported(options.isa))
      throw InputError(std::string("ISA '") + isa_name(options.isa) + "' is not supported by this CPU");
    impl->isa = options.isa;
    impl->plan_isa = to_opt(options.isa);
  }
  if (size > 0 && !data) throw InputError("model bytes pointer is null");
  if (size == 0) throw ParseError("the model is empty (0 bytes), not an ONNX model");
  const onnx::ModelProto model = onnx::decode_model(static_cast<const uint8_t*>(data), size);
  impl->graph = build_graph(model, options.max_tensor_bytes);
  const Graph& g = impl->graph;

  std::vector<Dims> declared;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const TensorInfo& info = g.input_infos[k];
    const std::string problem = input_size_problem(info.shape, info.dtype, options.max_tensor_bytes);
    if (!problem.empty()) throw ValidationError("graph input '" + info.name + "'", "", "", "tensor-size", problem);
    declared.push_back(info.shape);
  }
  impl->plan_options.fuse_activations = options.fuse_activations;
  impl->plan_options.reuse_memory = options.reuse_memory;
  auto plan = std::make_shared<const Plan>(g, declared, impl->plan_isa, impl->limits, impl->plan_options,
                                           impl->pool.get());

  // Output descriptions: inferred types, symbolic names from the declarations.
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const ValueState& v = plan->values()[static_cast<size_t>(g.outputs[k])];
    const TensorInfo& decl = g.output_infos[k];
    TensorInfo info;
    info.name = decl.name;
    info.dtype = v.dtype;
    info.shape = v.dims;
    info.dim_params.assign(v.dims.size(), std::string());
    if (decl.has_shape && decl.shape.size() == v.dims.size())
      for (size_t i = 0; i < v.dims.size(); ++i) {
        if (info.shape[i] < 0) info.shape[i] = decl.shape[i];
        if (info.shape[i] < 0) info.dim_params[i] = decl.dim_params[i];
      }
    impl->outputs.push_back(std::move(info));
  }
  if (options.enable_profiling) impl->times = std::make_unique<NodeTimes>(g.nodes.size());
  impl->fused_ops = plan->fused_ops();
  if (plan->executable()) impl->static_plan = std::move(plan);
  return Session(std::move(impl));
}

const std::vector<TensorInfo>& Session::inputs() const { return impl_->graph.input_infos; }
const std::vector<TensorInfo>& Session::outputs() const { return impl_->outputs; }
const ModelInfo& Session::model_info() const { return impl_->graph.info; }

MemoryInfo Session::memory_info() const {
  MemoryInfo m;
  m.max_tensor_bytes = impl_->limits.max_tensor_bytes;
  m.max_memory_bytes = impl_->limits.max_memory_bytes;
  if (!impl_->static_plan) return m;
  const MemoryPlan& p = impl_->static_plan->memory();
  m.known = true;
  m.weights_bytes = p.weights_bytes;
  m.peak_bytes = p.peak_bytes();
  m.peak_node = p.tensors_node;
  m.tensors_bytes = p.tensors_bytes;
  m.workspace_bytes = p.workspace_bytes;
  m.workspace_node = p.workspace_node;
  m.arena_bytes = p.arena_bytes;
  m.fused_nodes = impl_->static_plan->fused_nodes();
  return m;
}
std::vector<NodeProfile> Session::profile() const {
  std::vector<NodeProfile> out;
  if (!impl_->times) return out;
  const Graph& g = impl_->graph;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const int64_t runs = impl_->times->runs[k].load(std::memory_order_relaxed);
    if (runs == 0) continue;
    NodeProfile p;
    p.name = g.nodes[k].name;
    p.op_type = g.nodes[k].op_type;
    p.fused = impl_->fused_ops[k];
    p.runs = runs;
    p.total_ns = impl_->times->ns[k].load(std::memory_order_relaxed);
    out.push_back(std::move(p));
  }
  return out;
}

void Session::reset_profile() {
  if (!impl_->times) return;
  for (auto& v : impl_->times->ns) v.store(0, std::memory_order_relaxed);
  for (auto& v : impl_->times->runs) v.store(0, std::memory_order_relaxed);
}

Isa Session::isa() const { return impl_->isa; }
int Session::intra_op_num_threads() const { return impl_->options.intra_op_num_threads; }

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& feeds, const std::vector<std::string>& output_names) {
  Impl& s = *impl_;
  const Graph& g = s.graph;
  std::vector<int> named;
  for (const std::string& name : output_names) {
    int id = -1;
    for (size_t k = 0; k < g.outputs.size(); ++k)
      if (g.output_infos[k].name == name) id = g.outputs[k];
    if (id < 0) throw InputError("'" + name + "' is not an output of the model");
    named.push_back(id);
  }
  const std::vector<int>& wanted = output_names.empty() ? g.outputs : named;
  for (const auto& kv : feeds) {
    bool known = false;
    for (const TensorInfo& info : g.input_infos) known = known || info.name == kv.first;
    if (!known) throw InputError("'" + kv.first + "' is not an input of the model");
  }
  std::vector<const Tensor*> inputs;
  inputs.reserve(g.input_infos.size());
  std::vector<Dims> dims;  // for a plan of the given shapes (symbolic input dims) only
  for (const TensorInfo& info : g.input_infos) {
    const auto it = feeds.find(info.name);
    if (it == feeds.end()) throw InputError("missing input '" + info.name + "'");
    const Tensor& t = it->second;
    if (t.dtype() != info.dtype)
      throw InputError("input '" + info.name + "' must be " + dtype_name(info.dtype) + ", got " + dtype_name(t.dtype()));
    bool ok = t.rank() == info.shape.size();
    for (size_t i = 0; ok && i < info.shape.size(); ++i) ok = info.shape[i] < 0 || info.shape[i] == t.shape()[i];
    if (!ok)
      throw InputError("input '" + info.name + "' has shape " + shape_str(t.shape()) + ", the model expects " +
                       shape_str(info.shape));
    const std::string problem = input_size_problem(t.shape(), t.dtype(), s.limits.max_tensor_bytes);
    if (!problem.empty()) throw InputError("input '" + info.name + "': " + problem);
    inputs.push_back(&t);
    if (!s.static_plan) dims.push_back(t.shape());
  }

  std::shared_ptr<const Plan> plan = s.static_plan;
  if (!plan) {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.dynamic_plan || s.dynamic_dims != dims) {
      s.dynamic_plan.reset();  // a run in flight keeps its own reference
      try {
        s.dynamic_plan = std::make_shared<const Plan>(g, dims, s.plan_isa, s.limits, s.plan_options, s.pool.get());
      } catch (const std::bad_alloc&) {
        throw ExecutionError("out of memory while planning the model for the input shapes given");
      }
      s.dynamic_dims = dims;
      s.fused_ops = s.dynamic_plan->fused_ops();
    }
    plan = s.dynamic_plan;
  }
  return plan->run(inputs, wanted, s.times.get());
}

}  // namespace runtime
}  // namespace linger
