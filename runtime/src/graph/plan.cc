#include "graph/plan.h"

#include <chrono>

#include <algorithm>
#include <cstdint>

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
           const PlanOptions& options, opt::ThreadPool* pool)
    : graph_(graph), isa_(isa), limits_(limits), options_(options), pool_(pool), executable_(true),
      values_(graph.values.size()) {
  fused_ops_.resize(graph.nodes.size());
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
  if (options_.fuse_activations) fuse_activations();
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
// step to its last consumer (graph outputs to the end); a view extends its
// root's life to its own last use. Without reuse, the peak is the largest sum
// of live values during one step; with it, the arena's size plus the graph
// outputs. Plus the largest workspace.
void Plan::plan_memory() {
  constexpr int kNever = std::numeric_limits<int>::max();
  std::vector<int> first_def(values_.size(), -1), last_use(values_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int id : steps_[i].outputs) first_def[static_cast<size_t>(id)] = static_cast<int>(i);
    for (int id : steps_[i].node->inputs)
      if (id >= 0) last_use[static_cast<size_t>(id)] = static_cast<int>(i);
  }
  for (int id : graph_.outputs) last_use[static_cast<size_t>(id)] = kNever;

  std::set<const Tensor*> weights;
  for (const ValueState& v : values_)
    if (v.constant && weights.insert(v.constant.get()).second)
      memory_.weights_bytes = sat_add(memory_.weights_bytes, static_cast<int64_t>(v.constant->nbytes()));

  storage_.assign(values_.size(), Storage::kOwned);
  offset_.assign(values_.size(), -1);
  fixed_.assign(values_.size(), false);
  if (options_.reuse_memory) plan_arena(first_def, last_use);

  int64_t live = 0, outputs_bytes = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& step = steps_[i];
    const int64_t ws = step.view ? 0 : workspace_of(*step.node, *step.kernel);
    if (ws > memory_.workspace_bytes) {
      memory_.workspace_bytes = ws;
      memory_.workspace_node = step.node->label();
    }
    for (int id : step.outputs) {
      if (storage_[static_cast<size_t>(id)] == Storage::kView) continue;
      live = sat_add(live, value_bytes(id));
      if (storage_[static_cast<size_t>(id)] == Storage::kOwned && last_use[static_cast<size_t>(id)] == kNever)
        outputs_bytes = sat_add(outputs_bytes, value_bytes(id));
    }
    if (live > memory_.live_bytes || memory_.tensors_node.empty()) {
      memory_.live_bytes = live;
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
      if (storage_[static_cast<size_t>(id)] != Storage::kView) live -= value_bytes(id);
    };
    for (int id : step.node->inputs) release(id);
    for (int id : step.outputs) release(id);  // never consumed and not a graph output
  }
  memory_.tensors_bytes =
      options_.reuse_memory ? sat_add(memory_.arena_bytes, outputs_bytes) : memory_.live_bytes;
  if (memory_.total_bytes() > limits_.max_memory_bytes) {
    std::string detail = "one run needs " + std::to_string(memory_.total_bytes()) + " bytes (" +
                         std::to_string(memory_.weights_bytes) + " of weights and constants, " +
                         std::to_string(memory_.tensors_bytes) +
                         (options_.reuse_memory ? " of intermediate tensors (arena and outputs; most live at this node)"
                                                : " of live tensors while this node runs");
    if (memory_.workspace_bytes)
      detail += ", a kernel workspace of " + std::to_string(memory_.workspace_bytes) + " for " + memory_.workspace_node;
    detail += "), above the limit of " + std::to_string(limits_.max_memory_bytes) +
              " bytes (SessionOptions.max_memory_bytes); raise the limit or use smaller input shapes";
    for (const Step& step : steps_)
      if (step.node->label() == memory_.tensors_node) step.node->fail("memory-limit", detail);
    throw ValidationError("model", "", "", "memory-limit", detail);
  }
}

namespace {

constexpr int64_t kArenaAlign = 64;
constexpr int64_t kSmallAlign = 16;

bool is_reshape_like(OpKind kind) {
  return kind == OpKind::Reshape || kind == OpKind::Flatten || kind == OpKind::Squeeze ||
         kind == OpKind::Unsqueeze || kind == OpKind::Identity;
}

}  // namespace

// Views first: a reshape-like step whose output is not a graph output reads
// its input's bytes in place (no op writes into its input, so nothing can
// change them while the view lives); the input's storage (its root) then
// lives as long as the view. Then every other intermediate that is not a
// graph output gets an arena offset: greedy by size, largest first, each at
// the lowest offset free during its whole life (64-byte aligned; 16 for
// tensors under 64 bytes).
void Plan::plan_arena(const std::vector<int>& first_def, const std::vector<int>& last_use_in) {
  std::vector<int> last_use = last_use_in;
  std::vector<bool> is_output(values_.size(), false);
  for (int id : graph_.outputs) is_output[static_cast<size_t>(id)] = true;
  std::vector<int> root(values_.size());
  for (size_t id = 0; id < root.size(); ++id) root[id] = static_cast<int>(id);
  for (Step& step : steps_) {
    const Node& n = *step.node;
    if (!is_reshape_like(n.kind) || step.outputs.size() != 1 || n.inputs.empty() || n.inputs[0] < 0) continue;
    const int in = n.inputs[0], out = step.outputs[0];
    if (is_output[static_cast<size_t>(out)] || values_[static_cast<size_t>(in)].dtype != values_[static_cast<size_t>(out)].dtype ||
        value_bytes(in) != value_bytes(out))
      continue;
    step.view = true;
    storage_[static_cast<size_t>(out)] = Storage::kView;
    const int r = root[static_cast<size_t>(in)];
    root[static_cast<size_t>(out)] = r;
    last_use[static_cast<size_t>(r)] = std::max(last_use[static_cast<size_t>(r)], last_use[static_cast<size_t>(out)]);
  }

  struct Block {
    int id;
    int64_t size, align;
    int begin, end;  // steps, inclusive
  };
  std::vector<Block> blocks;
  for (const Step& step : steps_)
    for (int id : step.outputs) {
      const size_t u = static_cast<size_t>(id);
      if (storage_[u] == Storage::kView || is_output[u]) continue;
      storage_[u] = Storage::kArena;
      // 64-byte (cache line) alignment, 16 (what operator new gives) for tensors under 64 bytes; the size
      // rounded up to it (saturating: the limits refuse such sizes first).
      const int64_t bytes = value_bytes(id);
      const int64_t align = bytes >= kArenaAlign ? kArenaAlign : kSmallAlign;
      const int64_t size = sat_mul(sat_add(bytes, align - 1) / align, align);
      blocks.push_back(Block{id, size, align, first_def[u], std::max(first_def[u], last_use[u])});
    }
  std::vector<size_t> order(blocks.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return blocks[a].size > blocks[b].size; });
  std::vector<size_t> placed;
  std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of placed blocks alive at the same time
  for (size_t k : order) {
    const Block& b = blocks[k];
    busy.clear();
    for (size_t p : placed) {
      const Block& o = blocks[p];
      if (o.begin <= b.end && b.begin <= o.end)
        busy.emplace_back(offset_[static_cast<size_t>(o.id)], sat_add(offset_[static_cast<size_t>(o.id)], o.size));
    }
    std::sort(busy.begin(), busy.end());
    int64_t at = 0;
    for (const auto& r : busy) {
      if (sat_add(at, b.size) <= r.first) break;
      at = std::max(at, sat_mul(sat_add(r.second, b.align - 1) / b.align, b.align));
    }
    offset_[static_cast<size_t>(b.id)] = at;
    memory_.arena_bytes = std::max(memory_.arena_bytes, sat_add(at, b.size));
    placed.push_back(k);
  }
  // Views whose bytes stay put from run to run: arena blocks, views of them and of constants.
  for (const Step& step : steps_)
    for (int id : step.outputs) {
      const size_t u = static_cast<size_t>(id);
      if (storage_[u] == Storage::kArena) fixed_[u] = true;
      if (storage_[u] == Storage::kView) {
        const size_t in = static_cast<size_t>(step.node->inputs[0]);
        fixed_[u] = fixed_[in] || values_[in].constant != nullptr;
      }
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
  if (executable_) steps_.push_back(Step{&node, std::move(kernel), {}, node.outputs, false});
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

// Takes a run's buffers (arena and scratch) from the plan's pool (or new ones)
// for one run and gives them back when the run ends, normally or by an exception.
template <typename Buffers>
class BufferLease {
 public:
  using Pool = std::vector<std::unique_ptr<Buffers>>;
  BufferLease(std::mutex& mutex, Pool& pool) : mutex_(mutex), pool_(pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pool_.empty()) {
      buf_ = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  ~BufferLease() {
    if (!buf_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    pool_.push_back(std::move(buf_));
  }
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;
  Buffers* get() {
    if (!buf_) buf_ = std::make_unique<Buffers>();
    return buf_.get();
  }

 private:
  std::mutex& mutex_;
  Pool& pool_;
  std::unique_ptr<Buffers> buf_;
};

}  // namespace

void Plan::drop_run_tensors(RunBuffers* b) const {
  for (const Step& step : steps_)
    for (int id : step.outputs)
      if (!fixed_[static_cast<size_t>(id)]) b->tensors[static_cast<size_t>(id)].reset();
}

std::vector<Tensor> Plan::run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted,
                              NodeTimes* times) const {
  if (pool_) pool_->prewake();  // the pool threads get going while the first nodes run
  BufferLease<RunBuffers> lease(scratch_mutex_, scratch_);
  RunBuffers* b = nullptr;
  unsigned char* arena = nullptr;
  try {
    b = lease.get();
    if (memory_.arena_bytes > 0 && !b->arena)
      b->arena = std::make_unique<unsigned char[]>(static_cast<size_t>(memory_.arena_bytes + kArenaAlign));
    if (b->arena) {
      const uintptr_t p = reinterpret_cast<uintptr_t>(b->arena.get());
      arena = b->arena.get() + (kArenaAlign - static_cast<int64_t>(p % kArenaAlign)) % kArenaAlign;
    }
    b->slots = constant_slots_;  // the capacity stays: no allocation after the first run
    if (b->tensors.size() != values_.size()) b->tensors.resize(values_.size());
  } catch (const std::bad_alloc&) {
    throw ExecutionError("out of memory allocating the run's arena of " + std::to_string(memory_.arena_bytes) +
                         " bytes; lower SessionOptions.max_memory_bytes to refuse such a model at load");
  }
  std::vector<const Tensor*>& slots = b->slots;
  std::vector<std::unique_ptr<Tensor>>& tensors = b->tensors;
  for (size_t k = 0; k < inputs.size(); ++k) slots[static_cast<size_t>(graph_.inputs[k])] = inputs[k];
  RunContext rc;
  rc.isa = isa_;
  rc.pool = pool_;
  rc.workspace = &b->scratch;
  std::vector<Tensor> result;
  try {
    for (const Step& step : steps_) {
      b->in.clear();
      for (int id : step.node->inputs) b->in.push_back(id >= 0 ? slots[static_cast<size_t>(id)] : nullptr);
      b->out.clear();
      try {
        for (int id : step.outputs) {
          const size_t u = static_cast<size_t>(id);
          if (!fixed_[u] || !tensors[u]) {
            const ValueState& v = values_[u];
            switch (storage_[u]) {
              case Storage::kView: {
                const Tensor& src = *b->in[0];
                tensors[u] = std::make_unique<Tensor>(
                    Tensor::view(v.dtype, v.dims, const_cast<void*>(src.raw_data()), src.nbytes()));
                break;
              }
              case Storage::kArena:
                tensors[u] = std::make_unique<Tensor>(
                    Tensor::view(v.dtype, v.dims, arena + offset_[u], static_cast<size_t>(value_bytes(id))));
                break;
              case Storage::kOwned:
                // Not zero-filled: every kernel writes its outputs in full.
                tensors[u] = std::make_unique<Tensor>(Tensor::uninitialized(v.dtype, v.dims));
                break;
            }
          }
          slots[u] = tensors[u].get();
          b->out.push_back(tensors[u].get());
        }
        if (!step.view) {
          rc.node = step.node;
          rc.inputs = b->in.data();
          rc.outputs = b->out.data();
          if (times) {
            const auto t0 = std::chrono::steady_clock::now();
            step.kernel->run(rc);
            const auto t1 = std::chrono::steady_clock::now();
            const size_t k = static_cast<size_t>(step.node->index);
            times->ns[k].fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count(),
                                   std::memory_order_relaxed);
            times->runs[k].fetch_add(1, std::memory_order_relaxed);
          } else {
            step.kernel->run(rc);
          }
        }
      } catch (const std::bad_alloc&) {
        throw ExecutionError(step.node->label() + ": out of memory (the plan's peak is " +
                             std::to_string(memory_.peak_bytes()) +
                             " bytes besides the weights; lower SessionOptions.max_memory_bytes to refuse such a "
                             "model at load)");
      }
      for (int id : step.release) {
        const size_t u = static_cast<size_t>(id);
        if (!fixed_[u]) tensors[u].reset();
        slots[u] = nullptr;
      }
    }
    result.reserve(wanted.size());
    for (size_t j = 0; j < wanted.size(); ++j) {
      const size_t id = static_cast<size_t>(wanted[j]);
      bool again = false;
      for (size_t k = j + 1; k < wanted.size(); ++k) again = again || wanted[k] == wanted[j];
      if (!fixed_[id] && tensors[id] && !tensors[id]->is_view() && !again) {
        result.push_back(std::move(*tensors[id]));  // an output produced by this run: no copy
        tensors[id].reset();
        slots[id] = nullptr;
      } else {
        result.push_back(*slots[id]);  // a constant, a graph input or a repeated name: a copy
      }
    }
  } catch (...) {
    drop_run_tensors(b);  // the buffers go back to the pool without this run's tensors
    throw;
  }
  drop_run_tensors(b);
  return result;
}

}  // namespace runtime
}  // namespace linger
