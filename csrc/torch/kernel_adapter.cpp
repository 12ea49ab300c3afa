// The adapter between the PyTorch eval ops and the runtime's optimised kernels
// (see kernel_adapter.h), on the kernels' packed-weights API: opt::Conv2dInt8 /
// opt::LinearInt8 (weights packed when constructed), opt::batchnorm_int8, opt::iqadd_int8,
// opt::quantize_f32 / dequantize_f32, opt::ThreadPool.
#include "kernel_adapter.h"

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "linger/numerics/quantize.h"
#include "opt_kernels.h"

namespace linger {
namespace torch_ext {

namespace opt = runtime::opt;

namespace {

// One pool of the kernels per thread count (the torch thread setting may change between calls); shared_ptr: a
// run in flight keeps its pool alive when another thread replaces it.
std::shared_ptr<opt::ThreadPool> pool_for(int threads) {
  if (threads <= 1) return nullptr;
  static std::mutex mu;
  static std::shared_ptr<opt::ThreadPool> pool;
  std::lock_guard<std::mutex> lock(mu);
  if (!pool || pool->size() != threads) pool = std::make_shared<opt::ThreadPool>(threads);
  return pool;
}

// Scratch memory of the kernels, per calling thread (reused across calls and layers).
std::vector<int8_t>* workspace() {
  thread_local std::vector<int8_t> ws;
  return &ws;
}

opt::OutputStage stage(int shift, int out_bits) {
  opt::OutputStage st;  // no fused clamp: the torch modules apply activations separately
  st.out_bits = out_bits;
  st.shift = shift;
  return st;
}

// A module's kernels cached per (n, h, w, forced ISA); more than this many shapes start the map afresh.
constexpr size_t kMaxShapes = 8;

}  // namespace

struct PackedConv2d::Impl {
  std::vector<int8_t> w;
  std::mutex mu;
  std::map<std::tuple<int, int, int, int>, std::shared_ptr<const opt::Conv2dInt8>> convs;
};

PackedConv2d::PackedConv2d(const int8_t* w, const ConvGeometry& g) : g_(g), impl_(std::make_unique<Impl>()) {
  impl_->w.assign(w, w + static_cast<int64_t>(g.o) * g.cpg * g.kh * g.kw);
}
PackedConv2d::~PackedConv2d() = default;
PackedConv2d::PackedConv2d(PackedConv2d&&) noexcept = default;

numerics::Conv2dShape PackedConv2d::shape(int n, int c, int h, int w) const {
  numerics::Conv2dShape s;
  s.n = n; s.c = c; s.h = h; s.w = w;
  s.o = g_.o; s.kh = g_.kh; s.kw = g_.kw;
  s.stride_h = g_.stride_h; s.stride_w = g_.stride_w;
  s.pad_top = g_.pad_top; s.pad_left = g_.pad_left; s.pad_bottom = g_.pad_bottom; s.pad_right = g_.pad_right;
  s.dil_h = g_.dil_h; s.dil_w = g_.dil_w;
  s.groups = g_.groups;
  return s;
}

void PackedConv2d::run(const int8_t* x, const numerics::Conv2dShape& s, const int32_t* bias, void* y, int shift,
                       int out_bits, int threads) const {
  const opt::Isa isa = opt::env_isa();  // kAuto unless LINGER_ISA forces one
  std::shared_ptr<const opt::Conv2dInt8> conv;  // a run in flight keeps its kernel when the map is cleared
  {
    const std::tuple<int, int, int, int> key{s.n, s.h, s.w, static_cast<int>(isa)};
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->convs.find(key);
    if (it == impl_->convs.end()) {
      if (impl_->convs.size() >= kMaxShapes) impl_->convs.clear();
      it = impl_->convs.emplace(key, std::make_shared<const opt::Conv2dInt8>(s, impl_->w.data(), isa)).first;
    }
    conv = it->second;
  }
  const auto pool = pool_for(threads);
  conv->run(x, bias, y, stage(shift, out_bits), workspace(), pool.get());
}

struct PackedLinear::Impl {
  std::vector<int8_t> w;
  std::mutex mu;
  std::map<int, std::unique_ptr<opt::LinearInt8>> by_isa;
};

PackedLinear::PackedLinear(const int8_t* w, int64_t n, int64_t k) : n_(n), k_(k), impl_(std::make_unique<Impl>()) {
  impl_->w.assign(w, w + n * k);
}
PackedLinear::~PackedLinear() = default;
PackedLinear::PackedLinear(PackedLinear&&) noexcept = default;

void PackedLinear::run(const int8_t* x, int64_t m, const int32_t* bias, void* y, int shift, int out_bits,
                       int threads) const {
  const opt::Isa isa = opt::env_isa();
  const opt::LinearInt8* lin;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& slot = impl_->by_isa[static_cast<int>(isa)];
    if (!slot) slot = std::make_unique<opt::LinearInt8>(impl_->w.data(), k_, n_, isa);
    lin = slot.get();
  }
  const auto pool = pool_for(threads);
  lin->run(x, bias, y, m, stage(shift, out_bits), workspace(), pool.get());
}

std::string kernel_isa_name() {
  const opt::Isa isa = opt::env_isa();
  if (isa != opt::Isa::kAuto) return opt::isa_name(isa);
  return std::string("auto (up to ") + opt::isa_name(opt::best_isa()) + ")";
}

void batchnorm_int8(const int8_t* x, const int8_t* w, const int32_t* b, void* y, int64_t n, int64_t c,
                    int64_t spatial, int shift, int out_bits, int threads) {
  const auto pool = pool_for(threads);
  opt::batchnorm_int8(x, w, b, y, n, c, spatial, shift, out_bits, opt::env_isa(), pool.get());
}

void iqadd_int8(const int8_t* a, const int8_t* b, int64_t n, int sa, int sb, int8_t* y, int threads) {
  const auto pool = pool_for(threads);
  opt::iqadd_int8(a, b, n, sa, sb, y, opt::env_isa(), pool.get());
}

int64_t quantize_f32(const float* x, int64_t n, int q, int bits, void* y, int threads) {
  if (bits == 8 || bits == 16) {
    const auto pool = pool_for(threads);
    return opt::quantize_f32(x, n, q, bits, y, opt::env_isa(), pool.get());
  }
  // other widths (4-bit weights, int32 biases): the reference formula
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] != x[i]) return i;
    const int64_t v = numerics::quantize(x[i], q, bits);
    if (bits < 8) static_cast<int8_t*>(y)[i] = static_cast<int8_t>(v);
    else if (bits < 16) static_cast<int16_t*>(y)[i] = static_cast<int16_t>(v);
    else static_cast<int32_t*>(y)[i] = static_cast<int32_t>(v);
  }
  return -1;
}

void dequantize_f32(const void* x, int elem_bytes, int64_t n, int q, float* y, int threads) {
  const auto pool = pool_for(threads);
  opt::dequantize_f32(x, elem_bytes * 8, n, q, y, opt::env_isa(), pool.get());
}

}  // namespace torch_ext
}  // namespace linger
