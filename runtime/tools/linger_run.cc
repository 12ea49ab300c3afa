// linger-run: run a linger ONNX model on .npy or raw binary inputs.
//
//   linger-run MODEL.onnx --input NAME=in.npy [--input ...] --output out.npy
//   linger-run MODEL.onnx --input x=in.bin --output y=out.bin     (raw little-endian data)
//   linger-run MODEL.onnx --info
//   options: --isa scalar|avx2|avx512vnni|auto, --threads N, --repeat N (time N runs), --profile
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "linger/runtime/runtime.h"

namespace lr = linger::runtime;

namespace {

const char kUsage[] =
    "usage: linger-run MODEL.onnx [--info] [--isa auto|scalar|avx2|avx512vnni] [--threads N]\n"
    "                  [--repeat N] [--profile]\n"
    "                  [--max-memory-bytes N] [--max-tensor-bytes N]\n"
    "                  [--no-fuse-activations] [--no-reuse-memory]\n"
    "                  [--input [NAME=]FILE]... [--output [NAME=]FILE]...\n"
    "  FILE ending in .npy is a NumPy array; .bin or .raw is raw little-endian data of the\n"
    "  model's declared dtype and shape. NAME may be omitted when the model has one input\n"
    "  (one output). Without --output, a summary of every output is printed.\n"
    "  --repeat N runs the model N more times and prints the mean time per run.\n"
    "  --threads N: threads inside each op (SessionOptions.intra_op_num_threads; same outputs).\n"
    "  --profile prints each node's kernel time per run, slowest first (over the --repeat runs\n"
    "  after the first one, or the one run; SessionOptions.enable_profiling).\n"
    "  --info also prints the planned memory (weights, peak per run and where it occurs);\n"
    "  --max-memory-bytes N and --max-tensor-bytes N set the session's limits (SessionOptions).\n"
    "  --no-fuse-activations / --no-reuse-memory switch off the load-time optimisations\n"
    "  (SessionOptions.fuse_activations / reuse_memory; the outputs are the same).\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_raw(const std::string& path) { return ends_with(path, ".bin") || ends_with(path, ".raw"); }

std::string shape_text(const lr::TensorInfo& info) {
  std::string s = "[";
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (i) s += ", ";
    if (info.shape[i] >= 0) s += std::to_string(info.shape[i]);
    else s += info.dim_params[i].empty() ? "?" : info.dim_params[i];
  }
  return s + "]";
}

// Splits "NAME=FILE" when NAME is one of `names`; otherwise the whole argument
// is a file for the model's only input/output.
std::pair<std::string, std::string> split_binding(const std::string& arg, const std::vector<lr::TensorInfo>& infos,
                                                  const char* kind) {
  const size_t eq = arg.find('=');
  if (eq != std::string::npos) {
    const std::string name = arg.substr(0, eq);
    for (const lr::TensorInfo& info : infos)
      if (info.name == name) return {name, arg.substr(eq + 1)};
  }
  if (infos.size() != 1) {
    std::string names;
    for (const lr::TensorInfo& info : infos) names += (names.empty() ? "" : ", ") + info.name;
    throw UsageError(std::string("--") + kind + " '" + arg + "': give NAME=FILE with NAME one of: " + names);
  }
  return {infos[0].name, arg};
}

const lr::TensorInfo& info_of(const std::vector<lr::TensorInfo>& infos, const std::string& name) {
  for (const lr::TensorInfo& info : infos)
    if (info.name == name) return info;
  throw UsageError("no tensor named '" + name + "'");
}

lr::Tensor load_input(const lr::TensorInfo& info, const std::string& path) {
  if (!is_raw(path)) return lr::read_npy(path);
  for (int64_t d : info.shape)
    if (d < 0)
      throw UsageError("input '" + info.name + "' has a symbolic shape " + shape_text(info) +
                       "; raw data needs a static shape, use a .npy file");
  const std::string bytes = lr::read_file(path);
  try {
    return lr::Tensor::from_bytes(info.dtype, info.shape, bytes.data(), bytes.size());
  } catch (const lr::InputError&) {
    throw lr::IoError("'" + path + "' has " + std::to_string(bytes.size()) + " bytes, input '" + info.name + "' (" +
                      lr::dtype_name(info.dtype) + " " + shape_text(info) + ") needs " +
                      std::to_string(lr::shape_numel(info.shape) * static_cast<int64_t>(lr::dtype_size(info.dtype))));
  }
}

void print_info(const lr::Session& s) {
  const lr::ModelInfo& m = s.model_info();
  std::cout << "model: producer " << (m.producer_name.empty() ? "?" : m.producer_name) << " " << m.producer_version
            << ", ir_version " << m.ir_version << ", opset " << m.opset << ", isa " << lr::isa_name(s.isa()) << "\n";
  for (const lr::TensorInfo& i : s.inputs())
    std::cout << "input  " << i.name << " " << lr::dtype_name(i.dtype) << " " << shape_text(i) << "\n";
  for (const lr::TensorInfo& o : s.outputs())
    std::cout << "output " << o.name << " " << lr::dtype_name(o.dtype) << " " << shape_text(o) << "\n";
  const lr::MemoryInfo mem = s.memory_info();
  if (mem.known) {
    std::cout << "memory: weights " << mem.weights_bytes << " bytes, peak per run " << mem.peak_bytes << " bytes (";
    const std::string at = mem.peak_node.empty() ? "no node" : mem.peak_node;
    if (mem.arena_bytes > 0)
      std::cout << mem.tensors_bytes << " of tensors: an arena of " << mem.arena_bytes << " + "
                << mem.tensors_bytes - mem.arena_bytes << " of outputs, most live at " << at;
    else
      std::cout << mem.tensors_bytes << " of live tensors at " << at;
    std::cout << " + a workspace of " << mem.workspace_bytes
              << (mem.workspace_node.empty() ? std::string() : " for " + mem.workspace_node) << "), total "
              << mem.weights_bytes + mem.peak_bytes << " bytes";
    if (mem.fused_nodes) std::cout << "; " << mem.fused_nodes << " activation node(s) fused";
    std::cout << "\n";
  }
  else
    std::cout << "memory: planned at the first run (the inputs have symbolic dimensions)\n";
  std::cout << "limits: max_tensor_bytes " << mem.max_tensor_bytes << ", max_memory_bytes " << mem.max_memory_bytes
            << "\n";
}

int64_t parse_bytes(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n <= 0) throw UsageError(opt + " needs a positive byte count, got '" + v + "'");
  return n;
}

// Per node: time per run, share of the total, slowest first.
void print_profile(std::vector<lr::NodeProfile> prof) {
  int64_t total = 0;
  for (const lr::NodeProfile& p : prof) total += p.total_ns;
  std::stable_sort(prof.begin(), prof.end(),
                   [](const lr::NodeProfile& a, const lr::NodeProfile& b) { return a.total_ns > b.total_ns; });
  const int64_t runs = prof.empty() ? 0 : prof.front().runs;
  std::printf("profile: %zu nodes, %.4f ms of kernel time per run (%lld run(s))\n", prof.size(),
              runs ? static_cast<double>(total) / 1e6 / static_cast<double>(runs) : 0.0, static_cast<long long>(runs));
  std::printf("  %10s %6s  %-28s %s\n", "ms/run", "share", "op", "node");
  for (const lr::NodeProfile& p : prof) {
    const std::string op = p.fused.empty() ? p.op_type : p.op_type + "+" + p.fused;
    std::printf("  %10.4f %5.1f%%  %-28s %s\n", static_cast<double>(p.total_ns) / 1e6 / static_cast<double>(p.runs),
                total ? 100.0 * static_cast<double>(p.total_ns) / static_cast<double>(total) : 0.0, op.c_str(),
                p.name.c_str());
  }
}

int run_main(int argc, char** argv) {
  std::string model_path;
  bool info = false;
  lr::SessionOptions options;
  std::vector<std::string> input_args, output_args;
  long repeat = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* opt) -> std::string {
      if (i + 1 >= argc) throw UsageError(std::string(opt) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--info") {
      info = true;
    } else if (a == "--isa") {
      options.isa = lr::parse_isa(value("--isa"));
    } else if (a.rfind("--isa=", 0) == 0) {
      options.isa = lr::parse_isa(a.substr(6));
    } else if (a == "--no-fuse-activations") {
      options.fuse_activations = false;
    } else if (a == "--no-reuse-memory") {
      options.reuse_memory = false;
    } else if (a == "--max-memory-bytes") {
      options.max_memory_bytes = parse_bytes(a, value("--max-memory-bytes"));
    } else if (a == "--max-tensor-bytes") {
      options.max_tensor_bytes = parse_bytes(a, value("--max-tensor-bytes"));
    } else if (a == "--profile") {
      options.enable_profiling = true;
    } else if (a == "--threads") {
      const std::string v = value("--threads");
      char* end = nullptr;
      const long t = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || t < 1 || t > 256) throw UsageError("--threads needs a count in 1..256, got '" + v + "'");
      options.intra_op_num_threads = static_cast<int>(t);
    } else if (a == "--repeat") {
      const std::string v = value("--repeat");
      char* end = nullptr;
      repeat = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || repeat < 0 || repeat > 1000000) throw UsageError("--repeat needs a count, got '" + v + "'");
    } else if (a == "--input" || a == "-i") {
      input_args.push_back(value("--input"));
    } else if (a == "--output" || a == "-o") {
      output_args.push_back(value("--output"));
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (model_path.empty()) {
      model_path = a;
    } else {
      throw UsageError("unexpected argument '" + a + "'");
    }
  }
  if (model_path.empty()) throw UsageError("no model given");

  lr::Session session = lr::Session::from_file(model_path, options);
  if (info) print_info(session);
  if (info && input_args.empty()) return 0;

  std::map<std::string, lr::Tensor> feeds;
  for (const std::string& arg : input_args) {
    const auto b = split_binding(arg, session.inputs(), "input");
    if (feeds.count(b.first)) throw UsageError("input '" + b.first + "' given twice");
    feeds.emplace(b.first, load_input(info_of(session.inputs(), b.first), b.second));
  }
  std::vector<std::string> names;
  std::vector<std::string> files;
  for (const std::string& arg : output_args) {
    const auto b = split_binding(arg, session.outputs(), "output");
    names.push_back(b.first);
    files.push_back(b.second);
  }
  const std::vector<lr::Tensor> outs = session.run(feeds, names);
  if (repeat > 0) {
    session.reset_profile();  // the first run (warm-up) is not profiled
    const auto t0 = std::chrono::steady_clock::now();
    for (long r = 0; r < repeat; ++r) session.run(feeds, names);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "time: " << ms / static_cast<double>(repeat) << " ms per run (mean of " << repeat << ", isa "
              << lr::isa_name(session.isa()) << ", " << session.intra_op_num_threads() << " thread(s))\n";
  }
  if (options.enable_profiling) print_profile(session.profile());
  if (names.empty()) {
    for (size_t k = 0; k < outs.size(); ++k)
      std::cout << session.outputs()[k].name << ": " << lr::dtype_name(outs[k].dtype()) << " "
                << lr::shape_str(outs[k].shape()) << "\n";
    return 0;
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    if (is_raw(files[k])) {
      lr::write_file(files[k], std::string(static_cast<const char*>(outs[k].raw_data()), outs[k].nbytes()));
    } else {
      lr::write_npy(files[k], outs[k]);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "linger-run: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "linger-run: error: " << e.what() << "\n";
    return 1;
  }
}
