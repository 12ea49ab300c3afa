// Streaming a recurrent model through the C++ runtime (docs/rnn.md, "Streaming"): a model exported from a
// forward(x, state) -> (y, new_state) takes its states as graph inputs and returns them as graph outputs;
// feeding the returned states back with the next chunk gives, for a unidirectional RNN, the integers of the
// whole utterance, whatever the chunk sizes.
//
//   linger-stream-example model.onnx x.npy chunk [out.npy]
//
// x.npy: the utterance, float32, time on axis `t_axis` (the axis the model's input "x" declares as symbolic);
// chunk: frames per run (the last run takes the rest). Inputs: "x" then the states (any names, the order of
// the declaration), zeros at the start; outputs: "y" then the new states in the same order. Writes the
// concatenated y to out.npy.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "linger/runtime/npy.h"
#include "linger/runtime/session.h"

using linger::runtime::Session;
using linger::runtime::Tensor;

// Frames [t0, t0 + n) of x along axis `axis` (a copy: the runtime takes contiguous tensors).
static Tensor take(const Tensor& x, size_t axis, int64_t t0, int64_t n) {
  std::vector<int64_t> shape = x.shape();
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t T = shape[axis];
  shape[axis] = n;
  Tensor out(x.dtype(), shape);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * n * inner, src + (o * T + t0) * inner, static_cast<size_t>(n * inner) * sizeof(float));
  return out;
}

// [docs/rnn.md: C++ streaming loop]
// Runs `x` through `session` in chunks of `chunk` frames along `t_axis`, carrying the states; returns the
// outputs y of every chunk in order.
static std::vector<Tensor> stream(Session& session, const Tensor& x, size_t t_axis, int64_t chunk) {
  const auto& inputs = session.inputs();  // "x", then the states
  std::map<std::string, Tensor> feeds;
  for (size_t i = 1; i < inputs.size(); ++i)  // the initial states: zeros of the declared shape
    feeds[inputs[i].name] = Tensor(inputs[i].dtype, inputs[i].shape);
  std::vector<Tensor> ys;
  for (int64_t t = 0; t < x.shape()[t_axis]; t += chunk) {
    const int64_t n = std::min(chunk, x.shape()[t_axis] - t);
    feeds[inputs[0].name] = take(x, t_axis, t, n);
    std::vector<Tensor> outs = session.run(feeds);  // y, then the new states
    for (size_t i = 1; i < inputs.size(); ++i) feeds[inputs[i].name] = std::move(outs[i]);
    ys.push_back(std::move(outs[0]));
  }
  return ys;
}
// [end]

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s model.onnx x.npy chunk [out.npy]\n", argv[0]);
    return 2;
  }
  try {
    Session session = Session::from_file(argv[1]);
    const Tensor x = linger::runtime::read_npy(argv[2]);
    const int64_t chunk = std::stoll(argv[3]);
    size_t t_axis = 0;  // the symbolic axis of the input x
    for (size_t i = 0; i < session.inputs()[0].shape.size(); ++i)
      if (session.inputs()[0].shape[i] < 0 && !session.inputs()[0].dim_params[i].empty()) t_axis = i;
    if (chunk < 1 || x.rank() <= t_axis) {
      std::fprintf(stderr, "chunk must be >= 1 and x must have the model's rank\n");
      return 2;
    }
    std::vector<Tensor> ys = stream(session, x, t_axis, chunk);
    std::vector<int64_t> shape = ys[0].shape();
    shape[t_axis] = 0;
    for (const Tensor& y : ys) shape[t_axis] += y.shape()[t_axis];
    Tensor all(ys[0].dtype(), shape);
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < t_axis; ++i) outer *= shape[i];
    for (size_t i = t_axis + 1; i < shape.size(); ++i) inner *= shape[i];
    float* dst = all.data<float>();
    int64_t t0 = 0;
    for (const Tensor& y : ys) {
      const int64_t n = y.shape()[t_axis];
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + (o * shape[t_axis] + t0) * inner, y.data<float>() + o * n * inner,
                    static_cast<size_t>(n * inner) * sizeof(float));
      t0 += n;
    }
    if (argc > 4) linger::runtime::write_npy(argv[4], all);
    std::printf("%zu chunks, y %s\n", ys.size(), linger::runtime::shape_str(all.shape()).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
