// Helpers for the micro runtime tests: pack an ONNX model, run it on the micro
// runtime (both kernel paths) and on the desktop runtime, compare bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "linger/micro/lpk_format.h"
#include "linger/micro/micro.h"
#include "linger/runtime/runtime.h"
#include "onnx_builder.h"
#include "packer.h"

namespace mt {

namespace lr = linger::runtime;

// 8-byte aligned bytes (the micro runtime requires it).
struct Aligned {
  std::vector<uint64_t> words;
  size_t size = 0;
  Aligned() = default;
  explicit Aligned(const std::vector<uint8_t>& b) : words((b.size() + 7) / 8 + 1), size(b.size()) {
    std::memcpy(words.data(), b.data(), b.size());
  }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words.data()); }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(words.data()); }
};

inline Aligned pack(const std::string& onnx, linger::micro_pack::PackReport* report = nullptr) {
  linger::micro_pack::PackReport r;
  const std::vector<uint8_t> b = linger::micro_pack::pack_model(onnx.data(), onnx.size(), report ? report : &r);
  return Aligned(b);
}

inline uint32_t rd32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
inline void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void fix_crc(Aligned& a) {
  const uint32_t fs = rd32(a.data() + LPK_H_FILE_SIZE);
  wr32(a.data() + LPK_H_CRC32, lm_crc32(a.data() + LPK_HEADER_SIZE, fs - LPK_HEADER_SIZE));
}
inline uint8_t* tensor_rec(Aligned& a, uint32_t i) { return a.data() + rd32(a.data() + LPK_H_TENSORS_OFFSET) + i * LPK_TENSOR_SIZE; }
inline uint8_t* op_rec(Aligned& a, uint32_t i) { return a.data() + rd32(a.data() + LPK_H_OPS_OFFSET) + i * LPK_OP_SIZE; }

struct Micro {
  Aligned file;
  std::vector<uint64_t> arena;
  lm_model m{};
  lm_error e{};
  explicit Micro(const Aligned& f) : file(f) {
    const uint32_t need = lm_required_arena_size(file.data(), file.size);
    arena.assign(need / 8 + 1, 0xA5A5A5A5A5A5A5A5ull);  // garbage: every op must write what it reads later
    const lm_status s = lm_model_init(&m, file.data(), file.size, arena.data(), need, &e);
    EXPECT_EQ(s, LM_OK) << lm_status_name(s) << ": " << e.detail << " op " << e.op_index << " tensor " << e.tensor_index;
  }
  // Inputs as raw bytes (graph input order); returns output 0..n-1 raw bytes.
  std::vector<std::vector<uint8_t>> run(const std::vector<std::vector<uint8_t>>& inputs, lm_kernels k) {
    for (uint32_t i = 0; i < m.input_count; ++i) {
      lm_tensor t;
      EXPECT_EQ(lm_input(&m, i, &t), LM_OK);
      EXPECT_EQ(t.nbytes, inputs[i].size());
      std::memcpy(t.data, inputs[i].data(), t.nbytes);
    }
    const lm_status s = lm_invoke(&m, k, &e);
    EXPECT_EQ(s, LM_OK) << lm_status_name(s) << ": " << e.detail << " op " << e.op_index << " '" << e.op_name << "'";
    std::vector<std::vector<uint8_t>> outs;
    for (uint32_t i = 0; i < m.output_count; ++i) {
      lm_tensor t;
      EXPECT_EQ(lm_output(&m, i, &t), LM_OK);
      const uint8_t* p = static_cast<const uint8_t*>(t.data);
      outs.emplace_back(p, p + t.nbytes);
    }
    return outs;
  }
};

// The desktop runtime (scalar ISA) on the same raw inputs.
inline std::vector<std::vector<uint8_t>> run_desktop(const std::string& onnx, const std::vector<std::vector<uint8_t>>& inputs) {
  lr::SessionOptions o;
  o.isa = lr::Isa::kScalar;
  lr::Session s = lr::Session::from_bytes(onnx.data(), onnx.size(), o);
  std::map<std::string, lr::Tensor> feeds;
  for (size_t i = 0; i < s.inputs().size(); ++i) {
    const lr::TensorInfo& info = s.inputs()[i];
    feeds.emplace(info.name, lr::Tensor::from_bytes(info.dtype, info.shape, inputs[i].data(), inputs[i].size()));
  }
  std::vector<std::vector<uint8_t>> outs;
  for (const lr::Tensor& t : s.run(feeds)) {
    const uint8_t* p = static_cast<const uint8_t*>(t.raw_data());
    outs.emplace_back(p, p + t.nbytes());
  }
  return outs;
}

// Random raw input bytes for every graph input of the packed model: float32 in
// [-lo, hi] with some exact ties, or integers over the full range.
inline std::vector<std::vector<uint8_t>> random_inputs(const Aligned& packed, uint32_t seed, float range = 8.0f) {
  Micro mm(packed);
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> ins;
  for (uint32_t i = 0; i < mm.m.input_count; ++i) {
    lm_tensor t;
    lm_input(&mm.m, i, &t);
    std::vector<uint8_t> b(t.nbytes);
    if (t.dtype == LM_FLOAT32) {
      std::uniform_real_distribution<float> d(-range, range);
      for (size_t k = 0; k < b.size() / 4; ++k) {
        float v = d(rng);
        if (k % 7 == 0) v = static_cast<float>(static_cast<int>(v * 32)) / 32.0f + 1.0f / 64.0f;  // ties at Q5/Q6
        std::memcpy(b.data() + 4 * k, &v, 4);
      }
    } else {
      for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    }
    ins.push_back(b);
  }
  return ins;
}

// Packs `model`, runs it on both micro kernel paths and on the desktop runtime
// for several random inputs: every output byte must agree (tolerance 0).
inline void expect_bit_exact(const tb::Model& model, int trials = 4, float range = 8.0f) {
  const std::string onnx = model.bytes();
  const Aligned packed = pack(onnx);
  Micro micro(packed);
  for (int t = 0; t < trials; ++t) {
    const auto ins = random_inputs(packed, static_cast<uint32_t>(100 + t), range);
    const auto want = run_desktop(onnx, ins);
    const auto portable = micro.run(ins, LM_KERNELS_PORTABLE);
    const auto dsp = micro.run(ins, LM_KERNELS_DSP);
    ASSERT_EQ(want.size(), portable.size());
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_EQ(portable[o], want[o]) << "portable kernels, output " << o << ", trial " << t;
      EXPECT_EQ(dsp[o], want[o]) << "DSP kernels, output " << o << ", trial " << t;
    }
  }
}

}  // namespace mt
