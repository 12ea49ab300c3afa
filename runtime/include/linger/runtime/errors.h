// Errors thrown by the linger runtime. Every failure is one of these (all derive
// from linger::runtime::Error, a std::runtime_error); the library never exits.
#pragma once

#include <stdexcept>
#include <string>

namespace linger {
namespace runtime {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The model cannot be used: the file is malformed or breaks the dialect.
class ModelError : public Error {
 public:
  using Error::Error;
};

// The bytes are not a well-formed ONNX protobuf (truncated, bad varint,
// length beyond the buffer, wrong wire type, unsupported tensor encoding).
class ParseError : public ModelError {
 public:
  using ModelError::ModelError;
};

// The model parses but breaks a rule of docs/onnx-dialect.md. The message is
// "<where>: rule '<rule>': <detail>", where <where> names the node
// ("node 'conv1' (Conv2dInt)") or the graph value ("graph input 'x'").
class ValidationError : public ModelError {
 public:
  ValidationError(std::string where, std::string node_name, std::string op_type, std::string rule,
                  const std::string& detail);
  const std::string& where() const { return where_; }
  const std::string& node_name() const { return node_name_; }  // empty for graph-level errors
  const std::string& op_type() const { return op_type_; }      // empty for graph-level errors
  const std::string& rule() const { return rule_; }

 private:
  std::string where_, node_name_, op_type_, rule_;
};

// A caller error: wrong input names, dtypes or shapes given to run(), an
// unknown output name, an ISA the CPU lacks.
class InputError : public Error {
 public:
  using Error::Error;
};

// A data-dependent failure while running (NaN reaching Quant, Gather index out
// of range). The message names the node.
class ExecutionError : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written (model, .npy, raw data).
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace runtime
}  // namespace linger
