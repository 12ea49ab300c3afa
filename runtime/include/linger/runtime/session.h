// The linger runtime: loads an ONNX model in the linger dialect
// (docs/onnx-dialect.md), validates it completely, and runs it with the
// integer kernels of include/linger/numerics.
//
//   auto s = linger::runtime::Session::from_file("model.onnx");
//   std::map<std::string, Tensor> feeds{{"x", Tensor(DType::kFloat32, {1, 3, 32, 32})}};
//   std::vector<Tensor> outs = s.run(feeds);   // in the order of s.outputs()
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "linger/runtime/errors.h"
#include "linger/runtime/tensor.h"

namespace linger {
namespace runtime {

// Instruction set of the conv / linear kernels. kAuto = the best one this CPU
// supports (the environment variable LINGER_ISA may lower it, see opt_kernels.h).
enum class Isa { kAuto = 0, kScalar = 1, kAvx2 = 2, kAvx512Vnni = 3 };

const char* isa_name(Isa isa);  // "auto", "scalar", "avx2", "avx512vnni"
// Parses one of the names above; throws InputError otherwise.
Isa parse_isa(const std::string& name);
bool isa_supported(Isa isa);  // kAuto is always supported

// Every (domain, op_type) this runtime runs ("" is the default ONNX domain):
// the ops of include/linger/ops.inc and the standard ops it accepts. The
// exporter checks a model against this list.
struct SupportedOp {
  std::string domain, op_type;
};
std::vector<SupportedOp> supported_ops();

struct SessionOptions {
  // kAuto: each conv / linear layer runs the ISA fastest for its shape (the
  // environment variable LINGER_ISA forces one); a specific ISA forces every
  // layer to it. One the CPU lacks is an InputError at session creation.
  Isa isa = Isa::kAuto;
  // Threads one run uses inside each op (ONNX Runtime's name): the calling
  // thread plus intra_op_num_threads - 1 pool threads owned by the session.
  // Results are identical for every value. 1..256; InputError otherwise.
  int intra_op_num_threads = 1;
  // Largest tensor (bytes) the session may create, input or intermediate, and
  // largest kernel workspace; a model or input needing more is rejected with an
  // error naming the node or input. A zero dimension counts as 1 here (so
  // [0, 2^40, 2^40] is refused: its strides would overflow).
  int64_t max_tensor_bytes = int64_t{1} << 31;
  // Bound on everything the session allocates for one run (ONNX Runtime has no
  // such option; its arena's max_mem is the nearest): the weights and
  // constants plus the plan's peak of live intermediate tensors and kernel
  // workspace. A model above it is rejected when the plan is built (at
  // creation for fixed input shapes, else at the first run with new shapes),
  // with a ValidationError naming the node running at the peak. Concurrent
  // runs each need their own peak.
  int64_t max_memory_bytes = int64_t{1} << 32;
  // Load-time optimisations, bit-exact (docs/runtime.md): fold a ReLU / Clip /
  // iqClamp (or torch's Cast -> Relu -> Cast) into the requantisation of the
  // conv / linear before it; share one arena among intermediates whose
  // lifetimes do not overlap and make Reshape / Flatten / Squeeze / Unsqueeze
  // / Identity views. Off: one node per kernel, one allocation per tensor.
  bool fuse_activations = true;
  bool reuse_memory = true;
  // Per-node timing (ONNX Runtime's name): every run adds each node's kernel
  // time (steady clock, nanoseconds) to the session's profile (profile()).
  // Costs two clock reads per node; off by default.
  bool enable_profiling = false;
};

// Where the time of the runs went, per node that runs a kernel (Session::profile):
// nodes folded into a producer (fused activations) and views (Reshape ...) are
// not listed; their work is in the producer's entry / there is none.
struct NodeProfile {
  std::string name;      // the node's name ("" when unnamed)
  std::string op_type;   // e.g. "Conv2dInt"
  std::string fused;     // op types folded into this node at load, e.g. "Relu" ("" when none)
  int64_t runs = 0;      // how many times it ran
  int64_t total_ns = 0;  // summed kernel time over those runs
};

// The memory plan of a session, known before the first run when every input
// dimension is fixed (`known`); see docs/runtime.md, "Memory".
struct MemoryInfo {
  bool known = false;
  int64_t weights_bytes = 0;  // initializers and constants, held for the session's life
  int64_t peak_bytes = 0;     // per run: tensors_bytes + workspace_bytes (an upper bound)
  std::string peak_node;      // where the live tensors peak, e.g. "node 'conv1' (Conv2dInt)"
  // The intermediate tensors of one run: with reuse_memory, the arena plus the
  // graph outputs (peak_node: where the most bytes are live); without it, the
  // largest set of live intermediate tensors (at peak_node).
  int64_t tensors_bytes = 0;
  int64_t arena_bytes = 0;  // the arena shared by the intermediates (0 without reuse_memory)
  int fused_nodes = 0;      // activation nodes folded into their producers
  int64_t workspace_bytes = 0;  // the largest kernel workspace (a run's scratch buffer is reused by every node)
  std::string workspace_node;   // whose workspace that is ("" when no node needs one)
  int64_t max_tensor_bytes = 0, max_memory_bytes = 0;  // the session's limits
};

// A graph input or output: name, element type and shape. A dimension that is
// not a fixed number is -1 in `shape`; `dim_params` then holds its symbolic
// name ("" for a fixed or unnamed dimension).
struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<std::string> dim_params;
  bool has_shape = true;  // false for an output whose declaration carries no shape
};

struct ModelInfo {
  int64_t ir_version = 0;
  int64_t opset = 0;  // version of the default ONNX domain
  std::string producer_name, producer_version, graph_name;
};

class Session {
 public:
  // Throw IoError (file) or ModelError (ParseError / ValidationError) when
  // the model cannot be used, InputError for bad options.
  static Session from_file(const std::string& path, const SessionOptions& options = {});
  static Session from_bytes(const void* data, size_t size, const SessionOptions& options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const ModelInfo& model_info() const;
  Isa isa() const;  // the best ISA used (never kAuto); with kAuto, some layers may choose a lower one
  int intra_op_num_threads() const;
  MemoryInfo memory_info() const;

  // With SessionOptions.enable_profiling: the nodes that ran, in graph order,
  // with their accumulated times since the session was created or
  // reset_profile() was last called (runs in flight may be partly counted).
  // Empty without the option.
  std::vector<NodeProfile> profile() const;
  void reset_profile();

  // Runs the model. `feeds` must hold exactly the graph inputs, with the
  // declared dtype and a shape matching the declared one (InputError
  // otherwise). Returns the requested outputs in the order asked for (all
  // graph outputs, in declaration order, when output_names is empty).
  // Thread-safe: concurrent calls on one session run in parallel, each with
  // its own intermediate tensors (allocated lazily, freed after last use);
  // the session is read-only while running. Moving or destroying the session
  // while a run is in flight is not allowed.
  std::vector<Tensor> run(const std::map<std::string, Tensor>& feeds,
                          const std::vector<std::string>& output_names = {});

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  static Session load(const void* data, size_t size, const SessionOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runtime
}  // namespace linger
