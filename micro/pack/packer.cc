// Lowering an ONNX graph (validated by the desktop runtime's own loader and
// planner) to the packed format: op records, weights, a static arena plan.
#include "packer.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "graph/graph.h"
#include "graph/plan.h"
#include "linger/micro/lpk_format.h"
#include "linger/micro/micro.h"
#include "linger/runtime/errors.h"
#include "loader/onnx_proto.h"

namespace linger {
namespace micro_pack {

namespace rt = linger::runtime;

namespace {

constexpr int64_t kMaxTensorBytes = 0x7fffffff;

struct TensorRec {
  std::string name;
  uint8_t dtype = 0;
  std::vector<uint32_t> dims;
  bool weights = false;
  bool has_exp = false;
  int exponent = 0;
  int alias_of = -1;
  uint32_t offset = 0, nbytes = 0;
  std::vector<uint8_t> data;  // weights
};

struct OpRec {
  uint16_t code = 0;
  std::string name, label;
  std::vector<int> in;
  int out = -1, scratch = -1;
  int32_t p[LPK_NUM_PARAMS] = {};
};

uint8_t lpk_dtype(rt::DType d) {
  switch (d) {
    case rt::DType::kInt8: return LPK_INT8;
    case rt::DType::kInt16: return LPK_INT16;
    case rt::DType::kInt32: return LPK_INT32;
    case rt::DType::kFloat32: return LPK_FLOAT32;
    default: return 0;
  }
}

uint32_t elem_size(uint8_t d) { return d == LPK_INT8 ? 1 : d == LPK_INT16 ? 2 : 4; }
uint32_t align8(uint64_t v) {
  const uint64_t a = (v + 7u) & ~uint64_t{7};
  if (a > 0x7fffffffu) throw rt::ValidationError("model", "", "", "micro-size", "the packed model exceeds 2 GiB");
  return static_cast<uint32_t>(a);
}

// Code bytes of the micro runtime on Cortex-M4 (arm-none-eabi-g++ 12.2 -O2, linked with
// --gc-sections, as scripts/mcu_check.sh builds it, which prints the measured figure next to this
// estimate). The op table references every kernel, so a firmware links all ops: the estimate does not
// depend on the model. Support = the libm / libgcc / libc helpers it pulls in (soft double for Quant
// and float outputs, 64-bit division, memcpy).
constexpr uint32_t kCodeMicroRuntime = 38740, kCodeSupport = 8250;

class Packer {
 public:
  Packer(const rt::Graph& g, const rt::Plan& plan) : g_(g), v_(plan.values()) {
    for (const rt::Node& n : g.nodes)
      for (int id : n.inputs)
        if (id >= 0) consumers_[id].push_back(n.index);
    for (int id : g.outputs) graph_outputs_.insert(id);
  }

  void lower() {
    for (size_t k = 0; k < g_.inputs.size(); ++k) tensor_of(g_.inputs[k], nullptr);
    for (const rt::Node& n : g_.nodes) {
      if (done_.count(n.index)) continue;
      bool all_const = true;
      for (int id : n.outputs) all_const = all_const && static_cast<bool>(v_[static_cast<size_t>(id)].constant);
      if (all_const) continue;  // folded at load (Constant, Shape, constant sub-graphs)
      lower_node(n);
    }
    for (int id : g_.outputs) {
      if (v_[static_cast<size_t>(id)].constant)
        throw rt::ValidationError("graph output '" + g_.values[static_cast<size_t>(id)].name + "'", "", "",
                                  "micro-unsupported", "a constant graph output cannot be packed");
      outputs_.push_back(tensor_of(id, nullptr));
    }
    for (int id : g_.inputs) inputs_.push_back(value_tensor_.at(id));
  }

  void plan();
  std::vector<uint8_t> write(PackReport* report);

 private:
  const rt::ValueState& val(int id) const { return v_[static_cast<size_t>(id)]; }
  const std::string& vname(int id) const { return g_.values[static_cast<size_t>(id)].name; }
  bool single_consumer(int id, const rt::Node** next) const {
    const auto it = consumers_.find(id);
    if (it == consumers_.end() || it->second.size() != 1 || graph_outputs_.count(id)) return false;
    *next = &g_.nodes[static_cast<size_t>(it->second[0])];
    return true;
  }

  std::vector<uint32_t> dims_of(int id, const rt::Node* user) const {
    std::vector<uint32_t> d;
    for (int64_t x : val(id).dims) {
      if (x <= 0 || x > (int64_t{1} << 24)) {
        const std::string what = "value '" + vname(id) + "' has dimension " + std::to_string(x) +
                                 " (the micro runtime needs static shapes with dimensions 1..2^24)";
        if (user) user->fail("micro-shape", what);
        throw rt::ValidationError("value '" + vname(id) + "'", "", "", "micro-shape", what);
      }
      d.push_back(static_cast<uint32_t>(x));
    }
    if (d.size() > LPK_MAX_RANK) {
      if (user) user->fail("micro-shape", "rank above 6 for value '" + vname(id) + "'");
      throw rt::ValidationError("value '" + vname(id) + "'", "", "", "micro-shape", "rank above 6");
    }
    return d;
  }

  // The tensor holding value id (created on first use: weights for constants, arena otherwise).
  int tensor_of(int id, const rt::Node* user) {
    const auto it = value_tensor_.find(id);
    if (it != value_tensor_.end()) return it->second;
    const rt::ValueState& v = val(id);
    TensorRec t;
    t.name = vname(id);
    t.dtype = lpk_dtype(v.dtype);
    if (!t.dtype) {
      const std::string what = "value '" + t.name + "' has a dtype the micro runtime does not handle (int8/16/32, float32)";
      if (user) user->fail("micro-dtype", what);
      throw rt::ValidationError("value '" + t.name + "'", "", "", "micro-dtype", what);
    }
    t.dims = dims_of(id, user);
    t.has_exp = v.exponent.has_value();
    if (t.has_exp) t.exponent = *v.exponent;
    uint64_t nb = elem_size(t.dtype);
    for (uint32_t d : t.dims) nb *= d;
    if (nb > static_cast<uint64_t>(kMaxTensorBytes)) throw rt::ValidationError("value '" + t.name + "'", "", "", "micro-size", "tensor too large");
    t.nbytes = static_cast<uint32_t>(nb);
    if (v.constant) {
      t.weights = true;
      const auto* p = static_cast<const uint8_t*>(v.constant->raw_data());
      t.data.assign(p, p + v.constant->nbytes());
    }
    tensors_.push_back(std::move(t));
    const int idx = static_cast<int>(tensors_.size()) - 1;
    value_tensor_[id] = idx;
    return idx;
  }

  int new_scratch(const rt::Node& n, uint64_t elems) {
    if (elems > (uint64_t{1} << 29)) n.fail("micro-size", "the kernel's scratch row would exceed 1 GiB");
    TensorRec t;
    t.name = n.name + ":scratch";
    t.dtype = LPK_INT16;
    t.dims = {static_cast<uint32_t>(elems)};
    t.nbytes = 2 * t.dims[0];
    tensors_.push_back(std::move(t));
    return static_cast<int>(tensors_.size()) - 1;
  }
  static uint64_t round_up4(uint64_t v) { return (v + 3u) & ~uint64_t{3}; }

  // Conv-family output: fuses a following int8 Relu (or torch's Cast(float)->Relu->Cast(int8)
  // around it) when it is the only consumer. Returns the value the op writes; sets *relu.
  int fuse_relu(int out_value, bool* relu) {
    *relu = false;
    const rt::Node* r = nullptr;
    if (!single_consumer(out_value, &r)) return out_value;
    if (r->op_type == "Relu") {
      *relu = true;
      done_.insert(r->index);
      return r->outputs[0];
    }
    int folded = -1;
    const rt::Node* relu_node = cast_relu_cast(*r, &folded);
    if (relu_node) {
      *relu = true;
      return folded;
    }
    return out_value;
  }

  // Cast(int -> float) -> Relu -> Cast(-> the same int type), intermediates used once:
  // marks the three nodes done and returns the Relu (and the final value in *out).
  const rt::Node* cast_relu_cast(const rt::Node& cast1, int* out) {
    if (cast1.op_type != "Cast" || !cast1.domain.empty()) return nullptr;
    const int in = cast1.inputs[0];
    if (!rt::dtype_is_integer(val(in).dtype) || val(cast1.outputs[0]).dtype != rt::DType::kFloat32) return nullptr;
    const rt::Node* relu = nullptr;
    const rt::Node* cast2 = nullptr;
    if (!single_consumer(cast1.outputs[0], &relu) || relu->op_type != "Relu") return nullptr;
    if (!single_consumer(relu->outputs[0], &cast2) || cast2->op_type != "Cast") return nullptr;
    if (val(cast2->outputs[0]).dtype != val(in).dtype) return nullptr;
    done_.insert(cast1.index);
    done_.insert(relu->index);
    done_.insert(cast2->index);
    *out = cast2->outputs[0];
    return relu;
  }

  void add_op(const rt::Node& n, uint16_t code, std::vector<int> in_values, int out_value, int64_t scratch_elems = -1) {
    OpRec op;
    op.code = code;
    op.name = n.name;
    op.label = n.label();
    for (int id : in_values) op.in.push_back(id >= 0 ? tensor_of(id, &n) : -1);
    op.out = tensor_of(out_value, &n);
    if (tensors_[static_cast<size_t>(op.out)].weights) n.fail("micro-unsupported", "the output is constant");
    if (scratch_elems >= 0) op.scratch = new_scratch(n, static_cast<uint64_t>(scratch_elems));
    ops_.push_back(op);
  }
  int32_t* params() { return ops_.back().p; }

  void alias(const rt::Node& n) {
    const int in = n.inputs[0], out = n.outputs[0];
    const int base_t = tensor_of(in, &n);
    const int base = tensors_[static_cast<size_t>(base_t)].alias_of >= 0 ? tensors_[static_cast<size_t>(base_t)].alias_of : base_t;
    const int t = tensor_of(out, &n);
    tensors_[static_cast<size_t>(t)].alias_of = base;
  }

  void lower_node(const rt::Node& n);

  const rt::Graph& g_;
  const std::vector<rt::ValueState>& v_;
  std::map<int, std::vector<int>> consumers_;
  std::set<int> graph_outputs_, done_;
  std::map<int, int> value_tensor_;
  std::vector<TensorRec> tensors_;
  std::vector<OpRec> ops_;
  std::vector<int> inputs_, outputs_;
  uint32_t arena_size_ = 0;
  uint64_t peak_live_ = 0;
  int peak_op_ = -1;
  std::vector<int> def_, last_;
};

void Packer::lower_node(const rt::Node& n) {
  const std::string& t = n.op_type;
  auto ints = [&](const char* name, std::vector<int64_t> fb) { return n.attr_ints(name, std::move(fb)); };
  auto out_bits = [&]() { return static_cast<int32_t>(n.attr_int("o_bits", 0)); };
  auto conv_shift = [&](int bits) {
    const int q = n.scale_exponent("scale_x") + n.scale_exponent("scale_w");
    return bits ? q - n.scale_exponent("scale_o") : q;
  };
  if (t == "Quant") {
    add_op(n, LPK_OP_QUANT, {n.inputs[0]}, n.outputs[0]);
    params()[0] = n.scale_exponent("scale_x");
  } else if (t == "Dequant") {
    add_op(n, LPK_OP_DEQUANT, {n.inputs[0]}, n.outputs[0]);
    params()[0] = n.scale_exponent("scale_o");
  } else if (t == "Conv2dInt" || t == "Conv1dInt" || t == "ConvTranspose2dInt") {
    bool relu = false;
    const int out = fuse_relu(n.outputs[0], &relu);
    std::vector<int> in{n.inputs[0], n.inputs[1]};
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) in.push_back(n.inputs[2]);
    const int bits = out_bits();
    const std::vector<int64_t>& wd = val(n.inputs[1]).dims;
    if (t == "Conv2dInt") {
      add_op(n, LPK_OP_CONV2D, in, out, static_cast<int64_t>(2 * round_up4(static_cast<uint64_t>(wd[1] * wd[2] * wd[3]))));
      const auto s = ints("strides", {1, 1}), p = ints("pads", {0, 0, 0, 0}), d = ints("dilations", {1, 1});
      int32_t* q = params();
      const int64_t v[12] = {s[0], s[1], p[0], p[1], p[2], p[3], d[0], d[1], n.attr_int("group", 1), conv_shift(bits), relu, bits};
      for (int i = 0; i < 12; ++i) q[i] = static_cast<int32_t>(v[i]);
    } else if (t == "Conv1dInt") {
      add_op(n, LPK_OP_CONV1D, in, out, static_cast<int64_t>(2 * round_up4(static_cast<uint64_t>(wd[1] * wd[2]))));
      const auto s = ints("strides", {1}), p = ints("pads", {0, 0}), d = ints("dilations", {1});
      int32_t* q = params();
      const int64_t v[8] = {s[0], p[0], p[1], d[0], n.attr_int("group", 1), conv_shift(bits), relu, bits};
      for (int i = 0; i < 8; ++i) q[i] = static_cast<int32_t>(v[i]);
    } else {
      add_op(n, LPK_OP_CONVT2D, in, out);
      const auto s = ints("strides", {1, 1}), p = ints("pads", {0, 0, 0, 0}), d = ints("dilations", {1, 1}),
                 op = ints("output_padding", {0, 0});
      int32_t* q = params();
      const int64_t v[14] = {s[0], s[1], p[0], p[1], p[2], p[3], op[0], op[1], d[0], d[1], n.attr_int("group", 1),
                             conv_shift(bits), relu, bits};
      for (int i = 0; i < 14; ++i) q[i] = static_cast<int32_t>(v[i]);
    }
  } else if (t == "LinearInt") {
    std::vector<int> in{n.inputs[0], n.inputs[1]};
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) in.push_back(n.inputs[2]);
    const int bits = out_bits();
    add_op(n, LPK_OP_LINEAR, in, n.outputs[0], static_cast<int64_t>(round_up4(static_cast<uint64_t>(val(n.inputs[1]).dims[1]))));
    params()[0] = conv_shift(bits);
    params()[1] = bits;
  } else if (t == "BatchNorm2dInt") {
    const int bits = static_cast<int>(n.attr_int("o_bits", 8));
    add_op(n, LPK_OP_BATCHNORM, {n.inputs[0], n.inputs[1], n.inputs[2]}, n.outputs[0]);
    params()[0] = conv_shift(bits);
    params()[1] = bits;
  } else if (t == "MaxPool" || t == "AvgPool2dInt") {
    add_op(n, t == "MaxPool" ? LPK_OP_MAXPOOL : LPK_OP_AVGPOOL, {n.inputs[0]}, n.outputs[0]);
    const auto k = ints("kernel_shape", {}), s = ints("strides", {1, 1}), p = ints("pads", {0, 0, 0, 0});
    int32_t* q = params();
    const int64_t v[9] = {k[0], k[1], s[0], s[1], p[0], p[1], p[2], p[3], n.attr_int("ceil_mode", 0)};
    for (int i = 0; i < 9; ++i) q[i] = static_cast<int32_t>(v[i]);
  } else if (t == "Relu") {
    add_op(n, LPK_OP_RELU, {n.inputs[0]}, n.outputs[0]);
  } else if (t == "iqAdd") {
    if (val(n.inputs[0]).dims != val(n.inputs[1]).dims)
      n.fail("micro-unsupported", "iqAdd with broadcasting is not supported by the micro runtime (inputs " +
                                      rt::shape_str(val(n.inputs[0]).dims) + " and " + rt::shape_str(val(n.inputs[1]).dims) + ")");
    add_op(n, LPK_OP_IQADD, {n.inputs[0], n.inputs[1]}, n.outputs[0]);
    const int qo = n.scale_exponent("scale_o");
    params()[0] = n.scale_exponent("scale_x") - qo;
    params()[1] = n.scale_exponent("scale_y") - qo;
  } else if (t == "Reshape" || t == "Flatten" || t == "Squeeze" || t == "Unsqueeze" || t == "Identity") {
    alias(n);
  } else if (t == "Cast") {
    int out = -1;
    const rt::Node* relu = cast_relu_cast(n, &out);
    if (!relu)
      n.fail("micro-unsupported", "a Cast is supported only as torch's Cast(int->float) -> Relu -> Cast(back) around an "
                                  "integer ReLU, which linger-pack folds into one int8 Relu");
    add_op(*relu, LPK_OP_RELU, {n.inputs[0]}, out);
  } else {
    n.fail("micro-unsupported",
           "the micro runtime has no kernel for this op (it runs Quant, Dequant, Conv2dInt, Conv1dInt, "
           "ConvTranspose2dInt, LinearInt, BatchNorm2dInt, MaxPool, AvgPool2dInt, Relu, iqAdd, and "
           "Reshape/Flatten/Squeeze/Unsqueeze/Identity as views)");
  }
}

void Packer::plan() {
  const int nt = static_cast<int>(tensors_.size()), nops = static_cast<int>(ops_.size());
  constexpr int kNever = 1 << 30;
  def_.assign(static_cast<size_t>(nt), kNever);
  last_.assign(static_cast<size_t>(nt), -1);
  auto base = [&](int t) { return tensors_[static_cast<size_t>(t)].alias_of >= 0 ? tensors_[static_cast<size_t>(t)].alias_of : t; };
  for (int t : inputs_) def_[static_cast<size_t>(t)] = -1;
  for (int i = 0; i < nops; ++i) {
    const OpRec& op = ops_[static_cast<size_t>(i)];
    def_[static_cast<size_t>(op.out)] = i;
    last_[static_cast<size_t>(op.out)] = std::max(last_[static_cast<size_t>(op.out)], i);
    if (op.scratch >= 0) def_[static_cast<size_t>(op.scratch)] = last_[static_cast<size_t>(op.scratch)] = i;
    for (int t : op.in)
      if (t >= 0) last_[static_cast<size_t>(base(t))] = std::max(last_[static_cast<size_t>(base(t))], i);
  }
  for (int t : outputs_) last_[static_cast<size_t>(base(t))] = nops;
  std::vector<int> order;
  for (int t = 0; t < nt; ++t) {
    const TensorRec& r = tensors_[static_cast<size_t>(t)];
    if (!r.weights && r.alias_of < 0 && def_[static_cast<size_t>(t)] != kNever) order.push_back(t);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const uint32_t sa = tensors_[static_cast<size_t>(a)].nbytes, sb = tensors_[static_cast<size_t>(b)].nbytes;
    return sa != sb ? sa > sb : def_[static_cast<size_t>(a)] < def_[static_cast<size_t>(b)];
  });
  std::vector<int> placed;
  uint64_t end = 0;
  for (int t : order) {
    TensorRec& r = tensors_[static_cast<size_t>(t)];
    const int d = def_[static_cast<size_t>(t)], l = std::max(last_[static_cast<size_t>(t)], d);
    std::vector<std::pair<uint32_t, uint32_t>> busy;  // [offset, end) of lifetime-overlapping buffers
    for (int u : placed) {
      const int du = def_[static_cast<size_t>(u)], lu = std::max(last_[static_cast<size_t>(u)], du);
      if (du <= l && d <= lu) busy.push_back({tensors_[static_cast<size_t>(u)].offset, tensors_[static_cast<size_t>(u)].offset + tensors_[static_cast<size_t>(u)].nbytes});
    }
    std::sort(busy.begin(), busy.end());
    uint64_t at = 0;
    for (const auto& b : busy) {
      if (at + r.nbytes <= b.first) break;
      at = std::max<uint64_t>(at, align8(b.second));
    }
    r.offset = align8(at);
    end = std::max<uint64_t>(end, static_cast<uint64_t>(r.offset) + r.nbytes);
    placed.push_back(t);
  }
  arena_size_ = align8(end);
  for (TensorRec& r : tensors_)
    if (r.alias_of >= 0) r.offset = tensors_[static_cast<size_t>(r.alias_of)].offset;
  for (int i = 0; i < nops; ++i) {
    uint64_t live = 0;
    for (int t : order)
      if (def_[static_cast<size_t>(t)] <= i && i <= std::max(last_[static_cast<size_t>(t)], def_[static_cast<size_t>(t)]))
        live += tensors_[static_cast<size_t>(t)].nbytes;
    if (live > peak_live_) {
      peak_live_ = live;
      peak_op_ = i;
    }
  }
}

void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

std::vector<uint8_t> Packer::write(PackReport* report) {
  // Strings.
  std::string strings(1, '\0');
  std::map<std::string, uint32_t> str_at;
  auto intern = [&](const std::string& s) -> uint32_t {
    if (s.empty()) return 0;
    const auto it = str_at.find(s);
    if (it != str_at.end()) return it->second;
    const uint32_t at = static_cast<uint32_t>(strings.size());
    strings += s;
    strings.push_back('\0');
    str_at[s] = at;
    return at;
  };
  std::vector<uint32_t> tname, oname;
  for (const TensorRec& t : tensors_) tname.push_back(intern(t.name));
  for (const OpRec& o : ops_) oname.push_back(intern(o.name));
  // Weights.
  uint64_t wsize = 0;
  for (TensorRec& t : tensors_)
    if (t.weights) {
      t.offset = align8(wsize);
      wsize = static_cast<uint64_t>(t.offset) + t.nbytes;
    }
  const uint32_t strings_off = LPK_HEADER_SIZE;
  const uint32_t tensors_off = align8(uint64_t{strings_off} + strings.size());
  const uint32_t ops_off = align8(uint64_t{tensors_off} + uint64_t{LPK_TENSOR_SIZE} * tensors_.size());
  const uint32_t io_off = align8(uint64_t{ops_off} + uint64_t{LPK_OP_SIZE} * ops_.size());
  const uint32_t w_off = align8(uint64_t{io_off} + 4u * (inputs_.size() + outputs_.size()));
  const uint32_t file_size = align8(uint64_t{w_off} + wsize);
  std::vector<uint8_t> b(file_size, 0);
  std::memcpy(b.data(), LPK_MAGIC, 8);
  put16(b, LPK_H_VERSION_MAJOR, LPK_VERSION_MAJOR);
  put16(b, LPK_H_VERSION_MINOR, LPK_VERSION_MINOR);
  put32(b, LPK_H_HEADER_SIZE, LPK_HEADER_SIZE);
  put32(b, LPK_H_FILE_SIZE, file_size);
  put32(b, LPK_H_ARENA_SIZE, arena_size_);
  put32(b, LPK_H_STRINGS_OFFSET, strings_off);
  put32(b, LPK_H_STRINGS_SIZE, static_cast<uint32_t>(strings.size()));
  put32(b, LPK_H_TENSORS_OFFSET, tensors_off);
  put32(b, LPK_H_TENSOR_COUNT, static_cast<uint32_t>(tensors_.size()));
  put32(b, LPK_H_OPS_OFFSET, ops_off);
  put32(b, LPK_H_OP_COUNT, static_cast<uint32_t>(ops_.size()));
  put32(b, LPK_H_WEIGHTS_OFFSET, w_off);
  put32(b, LPK_H_WEIGHTS_SIZE, static_cast<uint32_t>(wsize));
  put32(b, LPK_H_IO_OFFSET, io_off);
  put16(b, LPK_H_INPUT_COUNT, static_cast<uint32_t>(inputs_.size()));
  put16(b, LPK_H_OUTPUT_COUNT, static_cast<uint32_t>(outputs_.size()));
  std::memcpy(b.data() + strings_off, strings.data(), strings.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorRec& t = tensors_[i];
    const size_t r = tensors_off + i * LPK_TENSOR_SIZE;
    b[r + LPK_T_DTYPE] = t.dtype;
    b[r + LPK_T_RANK] = static_cast<uint8_t>(t.dims.size());
    b[r + LPK_T_STORAGE] = t.weights ? LPK_WEIGHTS : LPK_ARENA;
    b[r + LPK_T_EXPONENT] = static_cast<uint8_t>(static_cast<int8_t>(t.has_exp ? t.exponent : 0));
    b[r + LPK_T_FLAGS] = t.has_exp ? LPK_TF_HAS_EXPONENT : 0;
    put32(b, r + LPK_T_ALIAS_OF, static_cast<uint32_t>(t.alias_of));
    put32(b, r + LPK_T_NAME, tname[i]);
    put32(b, r + LPK_T_OFFSET, t.offset);
    put32(b, r + LPK_T_NBYTES, t.nbytes);
    for (size_t d = 0; d < t.dims.size(); ++d) put32(b, r + LPK_T_DIMS + 4 * d, t.dims[d]);
    if (t.weights) std::memcpy(b.data() + w_off + t.offset, t.data.data(), t.data.size());
  }
  for (size_t i = 0; i < ops_.size(); ++i) {
    const OpRec& o = ops_[i];
    const size_t r = ops_off + i * LPK_OP_SIZE;
    put16(b, r + LPK_O_CODE, o.code);
    b[r + LPK_O_NUM_INPUTS] = static_cast<uint8_t>(o.in.size());
    b[r + LPK_O_NUM_OUTPUTS] = 1;
    put32(b, r + LPK_O_NAME, oname[i]);
    for (int k = 0; k < LPK_MAX_OP_INPUTS; ++k)
      put32(b, r + LPK_O_INPUTS + 4 * static_cast<size_t>(k), static_cast<uint32_t>(k < static_cast<int>(o.in.size()) ? o.in[static_cast<size_t>(k)] : -1));
    put32(b, r + LPK_O_OUTPUT, static_cast<uint32_t>(o.out));
    put32(b, r + LPK_O_SCRATCH, static_cast<uint32_t>(o.scratch));
    for (int k = 0; k < LPK_NUM_PARAMS; ++k) put32(b, r + LPK_O_PARAMS + 4 * static_cast<size_t>(k), static_cast<uint32_t>(o.p[k]));
  }
  size_t at = io_off;
  for (int t : inputs_) put32(b, (at += 4) - 4, static_cast<uint32_t>(t));
  for (int t : outputs_) put32(b, (at += 4) - 4, static_cast<uint32_t>(t));
  put32(b, LPK_H_CRC32, lm_crc32(b.data() + LPK_HEADER_SIZE, file_size - LPK_HEADER_SIZE));

  if (report) {
    *report = PackReport();
    report->file_size = file_size;
    report->arena_size = arena_size_;
    report->weights_size = static_cast<uint32_t>(wsize);
    for (const OpRec& o : ops_) report->op_labels.push_back(o.label);
    report->code_estimate = kCodeMicroRuntime + kCodeSupport;
    report->peak_live = peak_live_;
    report->peak_op = peak_op_;
    if (peak_op_ >= 0) report->peak_op_label = "op " + std::to_string(peak_op_) + " " + ops_[static_cast<size_t>(peak_op_)].label;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const TensorRec& t = tensors_[i];
      PackedTensorInfo p;
      p.name = t.name;
      p.dtype = t.dtype;
      p.in_weights = t.weights;
      p.alias_of = t.alias_of;
      p.offset = t.offset;
      p.nbytes = t.nbytes;
      p.def = def_[i];
      p.last = last_[i];
      report->tensors.push_back(p);
    }
  }
  return b;
}

}  // namespace

std::vector<uint8_t> pack_model(const void* onnx_bytes, size_t size, PackReport* report) {
  if (!onnx_bytes && size) throw rt::InputError("model bytes pointer is null");
  const rt::onnx::ModelProto model = rt::onnx::decode_model(static_cast<const uint8_t*>(onnx_bytes), size);
  const rt::Graph g = rt::build_graph(model, kMaxTensorBytes);
  std::vector<rt::Dims> dims;
  for (const rt::TensorInfo& info : g.input_infos) {
    for (int64_t d : info.shape)
      if (d <= 0)
        throw rt::ValidationError("graph input '" + info.name + "'", "", "", "micro-shape",
                                  "shape " + rt::shape_str(info.shape) +
                                      " is not static: the micro runtime's memory plan needs fixed input shapes "
                                      "(export with fixed sizes)");
    dims.push_back(info.shape);
  }
  rt::MemoryLimits limits;
  limits.max_tensor_bytes = kMaxTensorBytes;
  const rt::Plan plan(g, dims, rt::opt::Isa::kScalar, limits);  // the desktop runtime's validation
  Packer p(g, plan);
  p.lower();
  p.plan();
  std::vector<uint8_t> bytes = p.write(report);
  // Self-check: the micro runtime's loader must accept what was written, with exactly this arena.
  const uint32_t arena_size = lm_required_arena_size(bytes.data(), bytes.size());
  std::vector<uint64_t> arena((arena_size + 7) / 8 + 1);
  lm_model m;
  lm_error e;
  if (lm_model_init(&m, bytes.data(), bytes.size(), arena.data(), arena_size, &e) != LM_OK)
    throw rt::ModelError(std::string("linger-pack: internal error, the micro loader rejects the packed file: ") +
                         lm_status_name(e.status) + " (" + e.detail + ") at op " + std::to_string(e.op_index) +
                         " tensor " + std::to_string(e.tensor_index));
  return bytes;
}

std::string describe(const PackReport& r, bool plan) {
  std::string s;
  s += "ops: " + std::to_string(r.op_labels.size()) + "\n";
  for (size_t i = 0; i < r.op_labels.size(); ++i) s += "  " + std::to_string(i) + ": " + r.op_labels[i] + "\n";
  s += "arena size: " + std::to_string(r.arena_size) + " bytes (peak live " + std::to_string(r.peak_live) +
       " bytes during " + r.peak_op_label + ")\n";
  s += "peak-memory layer: " + r.peak_op_label + "\n";
  s += "flash size: " + std::to_string(r.flash_size()) + " bytes (packed file " + std::to_string(r.file_size) +
       " incl. weights " + std::to_string(r.weights_size) + " + code estimate " + std::to_string(r.code_estimate) + ")\n";
  if (plan) {
    s += "memory plan (tensor: storage offset+bytes, lifetime [def, last]):\n";
    for (size_t i = 0; i < r.tensors.size(); ++i) {
      const PackedTensorInfo& t = r.tensors[i];
      s += "  t" + std::to_string(i) + " '" + t.name + "': " + (t.in_weights ? "weights " : "arena ") +
           std::to_string(t.offset) + "+" + std::to_string(t.nbytes);
      if (t.alias_of >= 0) s += " (view of t" + std::to_string(t.alias_of) + ")";
      else if (!t.in_weights) s += " [" + std::to_string(t.def) + ", " + std::to_string(t.last) + "]";
      s += "\n";
    }
  }
  return s;
}

}  // namespace micro_pack
}  // namespace linger
