// NumPy .npy files (format 1.0 / 2.0 / 3.0 read, 1.0 or 2.0 written): little-endian,
// C order, dtypes <f4 |i1 <i2 <i4 <i8 (the runtime's DTypes). Anything else
// (big-endian, Fortran order, other dtypes, trailing or missing bytes) is an
// IoError naming the file.
#pragma once

#include <string>

#include "linger/runtime/tensor.h"

namespace linger {
namespace runtime {

Tensor npy_decode(const std::string& bytes, const std::string& what = "npy data");
std::string npy_encode(const Tensor& tensor);

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

// Whole-file helpers (IoError naming the path on failure).
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace runtime
}  // namespace linger
