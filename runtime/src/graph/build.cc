// ModelProto -> Graph, with the structural rules of docs/onnx-dialect.md
// ("Validation the runtime does at load"): opsets, unique names, every input
// defined, topological order, op known, input/output counts, attributes,
// scales exact powers of two. Dtype, shape and scale-consistency rules need
// type inference and are checked by the planner (graph/plan.cc).
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "graph/graph.h"
#include "graph/op_schema.h"
#include "linger/numerics/quantize.h"
#include "linger/runtime/errors.h"

namespace linger {
namespace runtime {

namespace {

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;

[[noreturn]] void fail_graph(const std::string& where, const std::string& rule, const std::string& detail) {
  throw ValidationError(where, "", "", rule, detail);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string float_str(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(f));
  return buf;
}

const char* type_name(AttrType t) { return onnx::attr_type_name(t); }

// Converts the declared type of a graph input/output/value_info.
DeclaredType declared_type(const onnx::ValueInfoProto& v, const std::string& what, bool need_full) {
  DeclaredType d;
  d.what = what;
  if (v.has_other_type) fail_graph(what, "value-type", "only tensor types are supported");
  if (!v.has_tensor_type || v.elem_type == 0) {
    if (need_full) fail_graph(what, "value-type", "must declare a tensor element type");
    return d;
  }
  if (!dtype_from_onnx(v.elem_type, &d.dtype))
    fail_graph(what, "value-type",
               std::string("unsupported element type ") + onnx::data_type_name(v.elem_type) +
                   " (supported: float32, int8, int16, int32, int64)");
  d.has_dtype = true;
  if (!v.has_shape) {
    if (need_full) fail_graph(what, "value-type", "must declare a shape");
    return d;
  }
  d.has_shape = true;
  if (v.dims.size() > kMaxRank)
    fail_graph(what, "value-type", "rank " + std::to_string(v.dims.size()) + " exceeds " + std::to_string(kMaxRank));
  for (const onnx::Dimension& dim : v.dims) {
    if (dim.has_value && dim.value < 0)
      fail_graph(what, "value-type", "negative dimension " + std::to_string(dim.value));
    d.dims.push_back(dim.has_value ? dim.value : -1);
  }
  return d;
}

TensorInfo tensor_info(const onnx::ValueInfoProto& v, const DeclaredType& d) {
  TensorInfo info;
  info.name = v.name;
  info.dtype = d.dtype;
  info.has_shape = d.has_shape;
  info.shape = d.dims;
  for (const onnx::Dimension& dim : v.dims) info.dim_params.push_back(dim.has_value ? std::string() : dim.param);
  return info;
}

void check_opsets(const onnx::ModelProto& m, Graph* g) {
  if (m.ir_version == 0 && !m.has_graph && m.opset_imports.empty())
    fail_graph("model", "ir-version", "no ir_version, opset_import or graph: these bytes are not an ONNX model");
  if (m.ir_version < 3)
    fail_graph("model", "ir-version", "ir_version " + std::to_string(m.ir_version) + " is not supported (need >= 3)");
  std::unordered_set<std::string> seen;
  bool have_default = false;
  for (const onnx::OperatorSetId& o : m.opset_imports) {
    const std::string domain = o.domain == "ai.onnx" ? std::string() : o.domain;
    if (!seen.insert(domain).second) fail_graph("model", "opset", "domain '" + o.domain + "' imported twice");
    if (domain.empty()) {
      if (o.version < kMinOpset || o.version > kMaxOpset)
        fail_graph("model", "opset",
                   "default-domain opset " + std::to_string(o.version) + " is not supported (need " +
                       std::to_string(kMinOpset) + ".." + std::to_string(kMaxOpset) + ")");
      g->info.opset = o.version;
      have_default = true;
    } else if ((domain == "thinker" || domain == "linger") && o.version != 1) {
      fail_graph("model", "opset",
                 "domain '" + domain + "' opset " + std::to_string(o.version) + " is not supported (need 1)");
    }
  }
  if (!have_default) fail_graph("model", "opset", "no opset_import for the default ONNX domain");
}

class Builder {
 public:
  Builder(const onnx::ModelProto& m, int64_t max_bytes) : m_(m), max_bytes_(max_bytes) {}

  Graph build() {
    check_opsets(m_, &g_);
    if (!m_.has_graph) fail_graph("model", "graph", "the model has no graph");
    for (const onnx::OperatorSetId& o : m_.opset_imports) imported_.insert(o.domain == "ai.onnx" ? "" : o.domain);
    const onnx::GraphProto& gp = m_.graph;
    if (gp.has_sparse_initializer) fail_graph("graph", "initializer", "sparse initializers are not supported");
    g_.info.ir_version = m_.ir_version;
    g_.info.producer_name = m_.producer_name;
    g_.info.producer_version = m_.producer_version;
    g_.info.graph_name = gp.name;
    add_initializers(gp);
    add_inputs(gp);
    for (const onnx::NodeProto& n : gp.nodes)
      for (const std::string& out : n.outputs)
        if (!out.empty()) produced_.insert(out);
    for (size_t i = 0; i < gp.nodes.size(); ++i) add_node(gp.nodes[i], static_cast<int>(i));
    add_outputs(gp);
    for (size_t i = 0; i < gp.value_infos.size(); ++i) {
      const onnx::ValueInfoProto& v = gp.value_infos[i];
      const int id = g_.find_value(v.name);
      if (id < 0) continue;  // describes nothing in this graph
      DeclaredType d = declared_type(v, "value_info " + quoted(v.name), false);
      d.value = id;
      g_.declared.push_back(std::move(d));
    }
    return std::move(g_);
  }

 private:
  int add_value(const std::string& name, const std::string& what) {
    if (name.empty()) fail_graph(what, "value-name", "empty name");
    if (g_.find_value(name) >= 0) fail_graph(what, "ssa", "value " + quoted(name) + " is defined more than once");
    const int id = static_cast<int>(g_.values.size());
    Value v;
    v.name = name;
    g_.values.push_back(std::move(v));
    g_.index.emplace(name, id);
    return id;
  }

  void add_initializers(const onnx::GraphProto& gp) {
    for (const onnx::TensorProto& t : gp.initializers) {
      const std::string what = "initializer " + quoted(t.name);
      const int id = add_value(t.name, what);
      g_.values[static_cast<size_t>(id)].initializer =
          std::make_shared<const Tensor>(tensor_from_proto(t, what, max_bytes_));
    }
  }

  void add_inputs(const onnx::GraphProto& gp) {
    std::unordered_set<std::string> names;
    for (const onnx::ValueInfoProto& v : gp.inputs) {
      const std::string what = "graph input " + quoted(v.name);
      if (v.name.empty()) fail_graph(what, "value-name", "empty name");
      if (!names.insert(v.name).second) fail_graph(what, "ssa", "declared twice");
      const int existing = g_.find_value(v.name);
      if (existing >= 0) continue;  // an initializer listed as input: a constant (IR < 4 style)
      DeclaredType d = declared_type(v, what, true);
      const int id = add_value(v.name, what);
      g_.values[static_cast<size_t>(id)].is_graph_input = true;
      g_.inputs.push_back(id);
      g_.input_infos.push_back(tensor_info(v, d));
    }
  }

  void add_outputs(const onnx::GraphProto& gp) {
    if (gp.outputs.empty()) fail_graph("graph", "graph-output", "the graph has no outputs");
    std::unordered_set<std::string> names;
    for (const onnx::ValueInfoProto& v : gp.outputs) {
      const std::string what = "graph output " + quoted(v.name);
      if (v.name.empty()) fail_graph(what, "value-name", "empty name");
      if (!names.insert(v.name).second) fail_graph(what, "graph-output", "declared twice");
      const int id = g_.find_value(v.name);
      if (id < 0) fail_graph(what, "graph-output", "is not a graph input, an initializer or a node output");
      DeclaredType d = declared_type(v, what, false);
      d.value = id;
      g_.outputs.push_back(id);
      g_.output_infos.push_back(tensor_info(v, d));
      g_.declared.push_back(std::move(d));
    }
  }

  void resolve_op(const onnx::NodeProto& np, Node* n) {
    const std::string domain = np.domain == "ai.onnx" ? std::string() : np.domain;
    n->domain = domain;
    OpKind kind = OpKind::kCount;
    if (!find_op(domain, np.op_type, &kind)) {
      if (find_op_any_domain(np.op_type, &kind))
        n->fail("op-domain", "op " + quoted(np.op_type) + " belongs to domain " + quoted(op_domain(kind)) +
                                 ", not " + quoted(np.domain));
      n->fail("unknown-op", "op " + quoted(np.op_type) + " in domain " + quoted(np.domain) +
                                " is not part of the linger dialect");
    }
    if (!imported_.count(domain))
      n->fail("op-domain", "domain " + quoted(np.domain) + " is not in the model's opset_import");
    n->kind = kind;
    n->schema = op_schema(kind);
    if (!n->schema) n->fail("unknown-op", "op " + quoted(np.op_type) + " is not implemented by this runtime");
  }

  void add_node(const onnx::NodeProto& np, int index) {
    Node n;
    n.index = index;
    n.name = np.name;
    n.op_type = np.op_type;
    resolve_op(np, &n);
    const OpSchema& s = *n.schema;

    size_t n_in = np.inputs.size();
    while (n_in > 0 && np.inputs[n_in - 1].empty()) --n_in;  // trailing "" = omitted optional inputs
    if (static_cast<int64_t>(n_in) < s.min_inputs || static_cast<int64_t>(n_in) > s.max_inputs)
      n.fail("input-count", "has " + std::to_string(n_in) + " inputs, expected " + count_range(s.min_inputs, s.max_inputs));
    for (size_t i = 0; i < n_in; ++i) {
      const std::string& name = np.inputs[i];
      if (name.empty()) {
        if (static_cast<int>(i) < s.min_inputs) n.fail("input-count", "required input #" + std::to_string(i) + " is empty");
        n.inputs.push_back(-1);
        continue;
      }
      const int id = g_.find_value(name);
      if (id < 0) {
        if (produced_.count(name))
          n.fail("topological-order", "input " + quoted(name) + " is produced by a later node (nodes must be topologically sorted)");
        n.fail("undefined-input", "input " + quoted(name) + " is not a graph input, an initializer or an earlier node's output");
      }
      n.inputs.push_back(id);
    }

    size_t n_out = np.outputs.size();
    while (n_out > 0 && np.outputs[n_out - 1].empty()) --n_out;
    if (static_cast<int64_t>(n_out) < s.min_outputs || static_cast<int64_t>(n_out) > s.max_outputs)
      n.fail("output-count", "has " + std::to_string(n_out) + " outputs, expected " + count_range(s.min_outputs, s.max_outputs));

    add_attributes(np, &n);

    for (size_t i = 0; i < n_out; ++i) {
      const std::string& name = np.outputs[i];
      if (name.empty()) n.fail("output-count", "output #" + std::to_string(i) + " has an empty name");
      if (g_.find_value(name) >= 0) n.fail("ssa", "output " + quoted(name) + " is already defined");
      const int id = add_value(name, n.label());
      g_.values[static_cast<size_t>(id)].producer = index;
      n.outputs.push_back(id);
    }
    g_.nodes.push_back(std::move(n));
  }

  static std::string count_range(int lo, int hi) {
    if (lo == hi) return std::to_string(lo);
    if (hi == INT32_MAX) return "at least " + std::to_string(lo);
    return std::to_string(lo) + ".." + std::to_string(hi);
  }

  void add_attributes(const onnx::NodeProto& np, Node* n) {
    const OpSchema& s = *n->schema;
    std::unordered_set<std::string> names;
    for (const onnx::AttributeProto& a : np.attributes) {
      if (!names.insert(a.name).second) n->fail("attribute-duplicate", "attribute " + quoted(a.name) + " appears twice");
      const AttrSpec* spec = nullptr;
      for (const AttrSpec& sp : s.attrs)
        if (a.name == sp.name) spec = &sp;
      const AttrSpec indexed_scale(s.per_input_scale_prefix ? s.per_input_scale_prefix : "", AttrType::kFloat, true);
      if (!spec && s.per_input_scale_prefix) {
        for (size_t i = 0; i < np.inputs.size() && !spec; ++i)
          if (a.name == per_input_scale_name(s, static_cast<int>(i))) spec = &indexed_scale;
      }
      if (!spec) n->fail("attribute-unknown", "attribute " + quoted(a.name) + " is not defined for " + n->op_type + " in the dialect");
      if (a.type != spec->type)
        n->fail("attribute-type", "attribute " + quoted(a.name) + " must be " + type_name(spec->type) + ", got " +
                                      type_name(a.type));
      Attribute attr;
      attr.name = a.name;
      attr.type = a.type;
      attr.f = a.f;
      attr.i = a.i;
      attr.s = a.s;
      attr.floats = a.floats;
      attr.ints = a.ints;
      attr.strings = a.strings;
      if (a.type == AttrType::kTensor) {
        if (!a.t) n->fail("attribute-value", "attribute " + quoted(a.name) + " carries no tensor");
        try {
          attr.t = std::make_shared<const Tensor>(
              tensor_from_proto(*a.t, "attribute " + quoted(a.name), max_bytes_));
        } catch (const ParseError& e) {
          n->fail("tensor-data", e.what());
        }
      }
      check_value(*n, *spec, attr);
      if (a.name.rfind("scale_", 0) == 0) check_scale(*n, &attr);
      n->attrs.push_back(std::move(attr));
    }
    if (s.per_input_scale_prefix)
      for (size_t i = 0; i < np.inputs.size(); ++i) {
        const std::string nm = per_input_scale_name(s, static_cast<int>(i));
        if (!names.count(nm)) n->fail("attribute-missing", "required attribute '" + nm + "' (FLOAT) is missing");
      }
    for (const AttrSpec& sp : s.attrs)
      if (sp.required && !names.count(sp.name))
        n->fail("attribute-missing", std::string("required attribute '") + sp.name + "' (" + type_name(sp.type) + ") is missing");
    if (s.output_scale_attr && n->has_attr("o_bits") && !n->has_attr(s.output_scale_attr))
      n->fail("attribute-missing", std::string("attribute '") + s.output_scale_attr + "' is required with o_bits");
  }

  static void check_value(const Node& n, const AttrSpec& spec, const Attribute& a) {
    if (a.type == AttrType::kInt) {
      bool ok = a.i >= spec.min_int && a.i <= spec.max_int;
      if (ok && !spec.allowed_ints.empty()) {
        ok = false;
        for (int64_t v : spec.allowed_ints) ok = ok || v == a.i;
      }
      if (!ok) {
        std::string allowed;
        for (int64_t v : spec.allowed_ints) allowed += (allowed.empty() ? "" : ", ") + std::to_string(v);
        if (allowed.empty()) allowed = std::to_string(spec.min_int) + ".." + std::to_string(spec.max_int);
        n.fail("attribute-value", "attribute " + quoted(a.name) + " = " + std::to_string(a.i) +
                                      " is not supported (allowed: " + allowed + ")");
      }
    }
    if (a.type == AttrType::kString && !spec.allowed_strings.empty()) {
      bool ok = false;
      std::string allowed;
      for (const std::string& v : spec.allowed_strings) {
        ok = ok || v == a.s;
        allowed += (allowed.empty() ? "'" : ", '") + v + "'";
      }
      if (!ok)
        n.fail("attribute-value", "attribute " + quoted(a.name) + " = '" + a.s + "' is not supported (allowed: " + allowed + ")");
    }
  }

  static void check_scale(const Node& n, Attribute* a) {
    int q = 0;
    if (!numerics::scale_to_exponent(static_cast<double>(a->f), &q))
      n.fail("scale-power-of-two", "attribute " + quoted(a->name) + " = " + float_str(a->f) +
                                       " is not an exact power of two 2^Q");
    if (q < numerics::kMinExponent || q > numerics::kMaxExponent)
      n.fail("scale-range", "attribute " + quoted(a->name) + " = 2^" + std::to_string(q) + " is outside 2^" +
                                std::to_string(numerics::kMinExponent) + "..2^" + std::to_string(numerics::kMaxExponent));
    a->exponent = q;
  }

  const onnx::ModelProto& m_;
  int64_t max_bytes_;
  Graph g_;
  std::unordered_set<std::string> produced_;
  std::unordered_set<std::string> imported_;
};

}  // namespace

std::string Node::label() const {
  return (name.empty() ? "node #" + std::to_string(index) : "node '" + name + "'") + " (" + op_type + ")";
}

void Node::fail(const std::string& rule, const std::string& detail) const {
  throw ValidationError(label(), name, op_type, rule, detail);
}

const Attribute* Node::attr(const std::string& attr_name) const {
  for (const Attribute& a : attrs)
    if (a.name == attr_name) return &a;
  return nullptr;
}

int64_t Node::attr_int(const std::string& attr_name, int64_t fallback) const {
  const Attribute* a = attr(attr_name);
  return a ? a->i : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& attr_name, std::vector<int64_t> fallback) const {
  const Attribute* a = attr(attr_name);
  return a ? a->ints : fallback;
}

int Node::scale_exponent(const std::string& attr_name) const {
  const Attribute* a = attr(attr_name);
  if (!a) fail("attribute-missing", "attribute '" + attr_name + "' is missing");
  return a->exponent;
}

int Graph::find_value(const std::string& name) const {
  const auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

Graph build_graph(const onnx::ModelProto& model, int64_t max_tensor_bytes) {
  return Builder(model, max_tensor_bytes).build();
}

}  // namespace runtime
}  // namespace linger
