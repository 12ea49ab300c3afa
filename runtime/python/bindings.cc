// Python bindings of the runtime: module `_linger_runtime`, wrapped by
// python/linger/runtime/__init__.py (ONNX Runtime conventions live there).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "linger/runtime/runtime.h"

namespace py = pybind11;
namespace lr = linger::runtime;

namespace {

py::dtype numpy_dtype(lr::DType t) {
  switch (t) {
    case lr::DType::kFloat32: return py::dtype::of<float>();
    case lr::DType::kInt8: return py::dtype::of<int8_t>();
    case lr::DType::kInt16: return py::dtype::of<int16_t>();
    case lr::DType::kInt32: return py::dtype::of<int32_t>();
    case lr::DType::kInt64: return py::dtype::of<int64_t>();
  }
  return py::dtype::of<float>();
}

// Whether the array's elements are `t` (numpy's PyArray_EquivTypes, no Python call).
bool has_dtype(const py::array& a, lr::DType t) {
  switch (t) {
    case lr::DType::kFloat32: return py::isinstance<py::array_t<float, 0>>(a);
    case lr::DType::kInt8: return py::isinstance<py::array_t<int8_t, 0>>(a);
    case lr::DType::kInt16: return py::isinstance<py::array_t<int16_t, 0>>(a);
    case lr::DType::kInt32: return py::isinstance<py::array_t<int32_t, 0>>(a);
    case lr::DType::kInt64: return py::isinstance<py::array_t<int64_t, 0>>(a);
  }
  return false;
}

constexpr int kNpyArrayAligned = 0x0100;  // NPY_ARRAY_ALIGNED

// The array must already have the runtime dtype (checked by the Python wrapper).
// An aligned array is read in place (a view: the caller keeps the array alive
// for the run), any other one copied.
lr::Tensor to_tensor(const std::string& name, const py::array& a, lr::DType expected) {
  if (!(a.flags() & py::array::c_style)) throw lr::InputError("input '" + name + "' must be C-contiguous");
  if (!has_dtype(a, expected)) throw lr::InputError("input '" + name + "' must be " + lr::dtype_name(expected));
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  const size_t nbytes = static_cast<size_t>(a.nbytes());
  if ((a.flags() & kNpyArrayAligned) && nbytes > 0)
    return lr::Tensor::view(expected, std::move(shape), const_cast<void*>(a.data()), nbytes);
  return lr::Tensor::from_bytes(expected, std::move(shape), a.data(), nbytes);
}

py::array to_array(const lr::Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array a(numpy_dtype(t.dtype()), shape);
  if (t.nbytes()) std::memcpy(a.mutable_data(), t.raw_data(), t.nbytes());
  return a;
}

py::list infos(const std::vector<lr::TensorInfo>& v) {
  py::list out;
  for (const lr::TensorInfo& i : v) {
    py::list shape;
    for (size_t k = 0; k < i.shape.size(); ++k) {
      if (i.shape[k] >= 0) shape.append(i.shape[k]);
      else if (!i.dim_params[k].empty()) shape.append(i.dim_params[k]);
      else shape.append(py::none());
    }
    out.append(py::make_tuple(i.name, lr::dtype_name(i.dtype), shape));
  }
  return out;
}

class PySession {
 public:
  PySession(lr::Session s) : s_(std::move(s)) {}

  static lr::SessionOptions options(const std::string& isa, int64_t max_tensor_bytes, int64_t max_memory_bytes,
                                    bool fuse_activations, bool reuse_memory, int intra_op_num_threads,
                                    bool enable_profiling) {
    lr::SessionOptions o;
    o.enable_profiling = enable_profiling;
    o.fuse_activations = fuse_activations;
    o.reuse_memory = reuse_memory;
    o.isa = lr::parse_isa(isa);
    o.intra_op_num_threads = intra_op_num_threads;
    if (max_tensor_bytes) o.max_tensor_bytes = max_tensor_bytes;  // 0: the default
    if (max_memory_bytes) o.max_memory_bytes = max_memory_bytes;
    return o;
  }
  static PySession from_file(const std::string& path, const std::string& isa, int64_t max_tensor_bytes,
                             int64_t max_memory_bytes, bool fuse_activations, bool reuse_memory,
                             int intra_op_num_threads, bool enable_profiling) {
    const lr::SessionOptions o = options(isa, max_tensor_bytes, max_memory_bytes, fuse_activations, reuse_memory,
                                         intra_op_num_threads, enable_profiling);
    py::gil_scoped_release release;
    return PySession(lr::Session::from_file(path, o));
  }
  static PySession from_bytes(const py::bytes& data, const std::string& isa, int64_t max_tensor_bytes,
                              int64_t max_memory_bytes, bool fuse_activations, bool reuse_memory,
                              int intra_op_num_threads, bool enable_profiling) {
    const lr::SessionOptions o = options(isa, max_tensor_bytes, max_memory_bytes, fuse_activations, reuse_memory,
                                         intra_op_num_threads, enable_profiling);
    const std::string bytes = data;
    py::gil_scoped_release release;
    return PySession(lr::Session::from_bytes(bytes.data(), bytes.size(), o));
  }

  py::list run(const py::dict& feeds, const std::vector<std::string>& output_names) {
    std::map<std::string, lr::Tensor> inputs;
    std::vector<py::array> arrays;  // the inputs' arrays, alive (and their bytes in place) until the run ends
    arrays.reserve(feeds.size());
    for (const auto& kv : feeds) {
      const std::string name = py::cast<std::string>(kv.first);
      lr::DType expected = lr::DType::kFloat32;
      bool known = false;
      for (const lr::TensorInfo& i : s_.inputs())
        if (i.name == name) {
          expected = i.dtype;
          known = true;
        }
      if (!known) throw lr::InputError("'" + name + "' is not an input of the model");
      arrays.push_back(py::cast<py::array>(kv.second));
      inputs.emplace(name, to_tensor(name, arrays.back(), expected));
    }
    std::vector<lr::Tensor> outs;
    {
      // Session::run is thread-safe: other Python threads (and other runs of
      // this session) go on while the kernels run.
      py::gil_scoped_release release;
      outs = s_.run(inputs, output_names);
    }
    py::list result;
    for (const lr::Tensor& t : outs) result.append(to_array(t));
    return result;
  }

  py::list inputs() const { return infos(s_.inputs()); }
  py::list outputs() const { return infos(s_.outputs()); }
  std::string isa() const { return lr::isa_name(s_.isa()); }
  int intra_op_num_threads() const { return s_.intra_op_num_threads(); }
  py::list profile() const {
    py::list out;
    for (const lr::NodeProfile& p : s_.profile()) {
      py::dict d;
      d["name"] = p.name;
      d["op_type"] = p.op_type;
      d["fused"] = p.fused;
      d["runs"] = p.runs;
      d["total_ns"] = p.total_ns;
      out.append(d);
    }
    return out;
  }
  void reset_profile() { s_.reset_profile(); }
  py::dict memory_info() const {
    const lr::MemoryInfo m = s_.memory_info();
    py::dict d;
    d["known"] = m.known;
    d["weights_bytes"] = m.weights_bytes;
    d["peak_bytes"] = m.peak_bytes;
    d["peak_node"] = m.peak_node;
    d["tensors_bytes"] = m.tensors_bytes;
    d["workspace_bytes"] = m.workspace_bytes;
    d["workspace_node"] = m.workspace_node;
    d["arena_bytes"] = m.arena_bytes;
    d["fused_nodes"] = m.fused_nodes;
    d["max_tensor_bytes"] = m.max_tensor_bytes;
    d["max_memory_bytes"] = m.max_memory_bytes;
    return d;
  }
  py::dict model_info() const {
    const lr::ModelInfo& m = s_.model_info();
    py::dict d;
    d["ir_version"] = m.ir_version;
    d["opset"] = m.opset;
    d["producer_name"] = m.producer_name;
    d["producer_version"] = m.producer_version;
    d["graph_name"] = m.graph_name;
    return d;
  }

 private:
  lr::Session s_;
};

}  // namespace

PYBIND11_MODULE(_linger_runtime, m) {
  m.doc() = "linger integer runtime (C++), see linger.runtime";

  // Translators are tried newest first: register base classes before derived ones.
  static py::exception<lr::Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<lr::ModelError> model_error(m, "InvalidModel", error.ptr());
  static py::exception<lr::ParseError> parse_error(m, "ModelParseError", model_error.ptr());
  static py::exception<lr::ValidationError> validation_error(m, "ModelValidationError", model_error.ptr());
  static py::exception<lr::InputError> input_error(m, "InvalidArgument", PyExc_ValueError);
  static py::exception<lr::ExecutionError> execution_error(m, "ExecutionError", error.ptr());
  static py::exception<lr::IoError> io_error(m, "FileError", error.ptr());
  // PyErr_SetString, not exception::operator() (deprecated in pybind11 3): the same on every pybind11 version.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lr::ValidationError& e) {
      PyErr_SetString(validation_error.ptr(), e.what());
    } catch (const lr::ParseError& e) {
      PyErr_SetString(parse_error.ptr(), e.what());
    } catch (const lr::ModelError& e) {
      PyErr_SetString(model_error.ptr(), e.what());
    } catch (const lr::InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const lr::ExecutionError& e) {
      PyErr_SetString(execution_error.ptr(), e.what());
    } catch (const lr::IoError& e) {
      PyErr_SetString(io_error.ptr(), e.what());
    } catch (const lr::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  py::class_<PySession>(m, "Session")
      .def_static("from_file", &PySession::from_file, py::arg("path"), py::arg("isa") = "auto",
                  py::arg("max_tensor_bytes") = 0, py::arg("max_memory_bytes") = 0,
                  py::arg("fuse_activations") = true, py::arg("reuse_memory") = true,
                  py::arg("intra_op_num_threads") = 1, py::arg("enable_profiling") = false)
      .def_static("from_bytes", &PySession::from_bytes, py::arg("data"), py::arg("isa") = "auto",
                  py::arg("max_tensor_bytes") = 0, py::arg("max_memory_bytes") = 0,
                  py::arg("fuse_activations") = true, py::arg("reuse_memory") = true,
                  py::arg("intra_op_num_threads") = 1, py::arg("enable_profiling") = false)
      .def("memory_info", &PySession::memory_info)
      .def("profile", &PySession::profile)
      .def("reset_profile", &PySession::reset_profile)
      .def("run", &PySession::run, py::arg("feeds"), py::arg("output_names"))
      .def("inputs", &PySession::inputs)
      .def("outputs", &PySession::outputs)
      .def_property_readonly("isa", &PySession::isa)
      .def_property_readonly("intra_op_num_threads", &PySession::intra_op_num_threads)
      .def("model_info", &PySession::model_info);

  m.def("supported_ops", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& o : lr::supported_ops()) out.emplace_back(o.domain, o.op_type);
    return out;
  });
  m.def("isa_supported", [](const std::string& isa) { return lr::isa_supported(lr::parse_isa(isa)); });
}
