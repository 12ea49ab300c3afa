// Regression tests of issue 13: zero-element tensors with huge dimensions, the
// conv workspace bound, memory allocated at session creation, bad model paths
// and the .npy size message. Each model is crafted with onnx_builder.h (a few
// hundred bytes).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "linger/runtime/runtime.h"
#include "kernels/opt/opt_kernels.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;

namespace {

constexpr int64_t kHuge = int64_t{1} << 40;

lr::Session load(const tb::Model& m, const lr::SessionOptions& o = {}) {
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), o);
}

template <typename E, typename Fn>
std::string message_of(Fn fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

// Resident set size of this process, bytes (Linux /proc/self/statm).
int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * 4096;
}

}  // namespace

// [0, 2^40, 2^40] has no element, but the strides of its other dimensions
// overflow int64: such a tensor is rejected at load, naming the node.
TEST(ZeroElementHugeDims, ConstantConcatIsRejectedAtLoad) {
  tb::Model m;
  m.output("y", tb::kInt8, {0, 2 * kHuge, kHuge});
  m.init(tb::tensor_raw("z", tb::kInt8, {0, kHuge, kHuge}, ""));
  m.add({"Concat", "", "cat", {"z", "z"}, {"y"}, {tb::attr_int("axis", 1)}});
  const std::string msg = message_of<lr::ModelError>([&] { load(m); });
  EXPECT_NE(msg.find("initializer 'z'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0,1099511627776,1099511627776]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor size limit"), std::string::npos) << msg;
}

TEST(ZeroElementHugeDims, RunTimeShapesAreRejectedNamingTheInput) {
  tb::Model m;
  m.input("x", tb::kInt8, {-1, -1, -1}).output("y", tb::kInt8, {-1, -1, -1});
  m.add({"Transpose", "", "tr", {"x"}, {"y"}, {tb::attr_ints("perm", {2, 1, 0})}});
  lr::Session s = load(m);
  const std::string msg =
      message_of<lr::InputError>([&] { s.run({{"x", lr::Tensor(lr::DType::kInt8, {0, kHuge, kHuge})}}); });
  EXPECT_NE(msg.find("input 'x'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor size limit"), std::string::npos) << msg;
  // A zero-element tensor with ordinary dimensions still runs.
  const std::vector<lr::Tensor> out = s.run({{"x", lr::Tensor(lr::DType::kInt8, {0, 3, 5})}});
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{5, 3, 0}));
}

TEST(ZeroElementHugeDims, BatchNormRunTimeShape) {
  tb::Model m;
  m.input("x", tb::kInt8, {-1, 2, -1, -1}).output("y", tb::kInt8, {-1, 2, -1, -1});
  m.init(tb::tensor<int8_t>("w", tb::kInt8, {2}, {3, -5}));
  m.init(tb::tensor<int32_t>("b", tb::kInt32, {2}, {7, 100}));
  m.add({"BatchNorm2dInt", "thinker", "bn", {"x", "w", "b"}, {"y"},
         {tb::attr_float("scale_x", 4.0f), tb::attr_float("scale_w", 4.0f), tb::attr_float("scale_o", 4.0f),
          tb::attr_int("o_bits", 8)}});
  lr::Session s = load(m);
  const std::string msg =
      message_of<lr::InputError>([&] { s.run({{"x", lr::Tensor(lr::DType::kInt8, {0, 2, kHuge, kHuge})}}); });
  EXPECT_NE(msg.find("input 'x'"), std::string::npos) << msg;
  const std::vector<lr::Tensor> out = s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 2, 1, 1}, {10, 10})}});
  // rhu_shift(10*3 + 7, 2) = 9, rhu_shift(10*-5 + 100, 2) = 13
  EXPECT_EQ(out[0].to_vector<int8_t>(), (std::vector<int8_t>{9, 13}));
}

// A 1x1 depthwise conv with 65536 padding and stride: a 3x3 output, but the
// zero-padded input plane would be 131073^2 bytes (17 GB).
tb::Model padded_conv(int64_t pad) {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 1, 1, 1});
  m.output("y", tb::kInt8, {1, 1, -1, -1});
  m.init(tb::tensor<int8_t>("w", tb::kInt8, {1, 1, 1, 1}, {2}));
  m.add({"Conv2dInt", "thinker", "conv", {"x", "w"}, {"y"},
         tb::conv_attrs(1.0f, 1.0f, 1.0f, 8, {1, 1}, {pad, pad, pad, pad}, {pad, pad})});
  return m;
}

TEST(ConvWorkspace, BoundedByMaxTensorBytes) {
  const std::string msg = message_of<lr::ValidationError>([&] { load(padded_conv(65536)); });
  EXPECT_NE(msg.find("node 'conv' (Conv2dInt)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("workspace"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_tensor_bytes"), std::string::npos) << msg;
  // The same geometry with a small padding runs, and gives the exact integers.
  lr::Session s = load(padded_conv(2));
  // Depthwise path: the 5x5 zero-padded plane + 128 bytes of slack -> 192 (not on VNNI CPUs, whose plane
  // kernel reads the input plane itself), 9 int32 sums + 16 of slack -> 128, + 64 for alignment.
  const char* forced = std::getenv("LINGER_ISA");
  const bool vnni_plane = lr::isa_supported(lr::Isa::kAvx512Vnni) &&
                          (forced == nullptr || std::string(forced) == "avx512vnni" || std::string(forced) == "auto");
  const int64_t ws = vnni_plane ? 192 : 384;
  const lr::MemoryInfo mem = s.memory_info();
  EXPECT_EQ(mem.workspace_bytes, ws);
  EXPECT_EQ(mem.workspace_node, "node 'conv' (Conv2dInt)");
  EXPECT_EQ(mem.tensors_bytes, 9);
  EXPECT_EQ(mem.peak_bytes, ws + 9);
  const std::vector<lr::Tensor> out = s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 1, 1, 1}, {5})}});
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{1, 1, 3, 3}));
  EXPECT_EQ(out[0].to_vector<int8_t>(), (std::vector<int8_t>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

// 16 chained Relus over a 16 MiB int8 input: creating the session must not
// allocate (and zero-fill) a buffer per intermediate.
tb::Model relu_chain(int64_t n, int count) {
  tb::Model m;
  m.input("x", tb::kInt8, {n}).output("r" + std::to_string(count - 1), tb::kInt8, {n});
  std::string prev = "x";
  for (int i = 0; i < count; ++i) {
    const std::string out = "r" + std::to_string(i);
    m.add({"Relu", "", "relu" + std::to_string(i), {prev}, {out}, {}});
    prev = out;
  }
  return m;
}

TEST(SessionMemory, CreationAllocatesNoIntermediates) {
  const tb::Model m = relu_chain(int64_t{16} << 20, 16);
  const int64_t before = rss_bytes();
  lr::Session s = load(m);
  const int64_t grown = rss_bytes() - before;
  EXPECT_LT(grown, int64_t{64} << 20) << "session creation grew the RSS by " << grown << " bytes";
}

TEST(ModelPath, DirectoryAndEmptyFileSayWhatIsWrong) {
  const std::string dir = testing::TempDir() + "linger_model_dir";
  ::mkdir(dir.c_str(), 0700);
  std::string msg = message_of<lr::IoError>([&] { lr::Session::from_file(dir); });
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
  const std::string empty = testing::TempDir() + "linger_empty.onnx";
  { std::ofstream f(empty, std::ios::binary | std::ios::trunc); }
  msg = message_of<lr::ModelError>([&] { lr::Session::from_file(empty); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("ir_version"), std::string::npos) << msg;
  msg = message_of<lr::ModelError>([&] { lr::Session::from_bytes("", 0); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  std::remove(empty.c_str());
  ::rmdir(dir.c_str());
}

// 2^61 int64 elements need 2^64 bytes: the message must not print the wrapped 0.
TEST(NpySizeMessage, ByteCountBeyondUint64) {
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2305843009213693952,), }";
  std::string h = std::string("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(dict.size() & 0xff));
  h.push_back(static_cast<char>(dict.size() >> 8));
  const std::string msg = message_of<lr::IoError>([&] { lr::npy_decode(h + dict + "12345678"); });
  EXPECT_NE(msg.find("needs 18446744073709551616 bytes"), std::string::npos) << msg;
}

TEST(SessionMemory, PeakIsKnownBeforeTheFirstRunAndBounded) {
  const tb::Model m = relu_chain(1000, 4);  // x -> r0 -> r1 -> r2 -> r3 (output), 1000 bytes each
  // One allocation per tensor (reuse_memory off): the largest live set.
  lr::SessionOptions o;
  o.reuse_memory = false;
  lr::Session s = load(m, o);
  const lr::MemoryInfo info = s.memory_info();
  EXPECT_TRUE(info.known);
  EXPECT_EQ(info.weights_bytes, 0);
  EXPECT_EQ(info.peak_bytes, 2000);  // a Relu's input and output; r0 is freed after relu1
  EXPECT_EQ(info.peak_node, "node 'relu1' (Relu)");
  EXPECT_EQ(info.arena_bytes, 0);
  o.max_memory_bytes = 2000;
  EXPECT_EQ(load(m, o).run({{"x", lr::Tensor(lr::DType::kInt8, {1000})}})[0].numel(), 1000);
  o.max_memory_bytes = 1999;
  std::string msg = message_of<lr::ValidationError>([&] { load(m, o); });
  EXPECT_NE(msg.find("node 'relu1' (Relu): rule 'memory-limit'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_memory_bytes"), std::string::npos) << msg;
  // The arena (default): r0 and r2 share 1024 bytes (1000 rounded up to 64), r1
  // has its own; the output r3 is the caller's: 2048 + 1000, held for the whole run.
  const lr::MemoryInfo arena = load(m).memory_info();
  EXPECT_EQ(arena.arena_bytes, 2048);
  EXPECT_EQ(arena.tensors_bytes, 3048);
  EXPECT_EQ(arena.peak_bytes, 3048);
  EXPECT_EQ(arena.peak_node, "node 'relu1' (Relu)");
  lr::SessionOptions a;
  a.max_memory_bytes = 3048;
  EXPECT_EQ(load(m, a).run({{"x", lr::Tensor(lr::DType::kInt8, {1000})}})[0].numel(), 1000);
  a.max_memory_bytes = 3047;
  msg = message_of<lr::ValidationError>([&] { load(m, a); });
  EXPECT_NE(msg.find("node 'relu1' (Relu): rule 'memory-limit'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3048 bytes"), std::string::npos) << msg;
  // Weights count: a 600-byte initializer added to the chain's input.
  tb::Model w = relu_chain(600, 2);
  w.init(tb::tensor("b", tb::kInt8, {600}, std::vector<int8_t>(600, 1)));
  w.nodes[0].in = {"b"};
  w.inputs.clear();
  const lr::MemoryInfo wi = load(w).memory_info();
  EXPECT_EQ(wi.weights_bytes, 3 * 600);  // the initializer, and both Relus folded at load
  EXPECT_EQ(wi.peak_bytes, 0);
}

TEST(SessionMemory, SymbolicShapesArePlannedAtTheFirstRun) {
  tb::Model m;
  m.input("x", tb::kInt8, {-1}).output("y", tb::kInt8, {-1});
  m.add({"Relu", "", "relu", {"x"}, {"y"}, {}});
  lr::SessionOptions o;
  o.max_memory_bytes = 100;
  lr::Session s = load(m, o);
  EXPECT_FALSE(s.memory_info().known);
  EXPECT_EQ(s.run({{"x", lr::Tensor(lr::DType::kInt8, {100})}})[0].numel(), 100);
  const std::string msg = message_of<lr::ValidationError>([&] { s.run({{"x", lr::Tensor(lr::DType::kInt8, {101})}}); });
  EXPECT_NE(msg.find("node 'relu' (Relu): rule 'memory-limit'"), std::string::npos) << msg;
}

// The same conv on constant inputs is folded at load: its workspace is bounded too.
TEST(ConvWorkspace, BoundedWhenFoldingConstants) {
  tb::Model m = padded_conv(65536);
  m.inputs.clear();
  m.init(tb::tensor<int8_t>("x", tb::kInt8, {1, 1, 1, 1}, {5}));
  const std::string msg = message_of<lr::ValidationError>([&] { load(m); });
  EXPECT_NE(msg.find("node 'conv' (Conv2dInt): rule 'workspace-size'"), std::string::npos) << msg;
  m = padded_conv(2);
  m.inputs.clear();
  m.init(tb::tensor<int8_t>("x", tb::kInt8, {1, 1, 1, 1}, {5}));
  EXPECT_EQ(load(m).run({})[0].to_vector<int8_t>(), (std::vector<int8_t>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

// The planner's workspace figure is what the kernel really allocates.
TEST(ConvWorkspace, PlannedBytesEqualTheKernelsAllocation) {
  namespace opt = linger::runtime::opt;
  struct Geo {
    int c, h, w, o, k, stride, pad, groups;
  };
  for (const Geo& g : {Geo{3, 9, 11, 8, 3, 1, 1, 1}, Geo{4, 8, 8, 4, 3, 2, 0, 4}, Geo{8, 5, 5, 16, 1, 1, 0, 2},
                       Geo{16, 12, 7, 24, 5, 2, 2, 1}, Geo{2, 3, 3, 2, 1, 3, 40, 2}})
    for (opt::Isa isa : {opt::Isa::kScalar, opt::Isa::kAvx2, opt::Isa::kAvx512Vnni}) {
      linger::numerics::Conv2dShape s;
      s.n = 2, s.c = g.c, s.h = g.h, s.w = g.w, s.o = g.o, s.kh = g.k, s.kw = g.k;
      s.stride_h = s.stride_w = g.stride;
      s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = g.pad;
      s.groups = g.groups;
      ASSERT_TRUE(s.valid());
      const std::vector<int8_t> x(static_cast<size_t>(2 * g.c * g.h * g.w), 3);
      const std::vector<int8_t> w(static_cast<size_t>(g.o * (g.c / g.groups) * g.k * g.k), -2);
      std::vector<int8_t> y(static_cast<size_t>(2 * g.o * s.out_h() * s.out_w()));
      std::vector<int8_t> ws;
      opt::conv2d_int8(x.data(), w.data(), nullptr, y.data(), s, 0, false, 8, isa, &ws);
      EXPECT_EQ(static_cast<int64_t>(ws.size()), opt::conv2d_workspace_bytes(s, isa))
          << "c" << g.c << " o" << g.o << " groups " << g.groups << " isa " << opt::isa_name(isa);
    }
}
