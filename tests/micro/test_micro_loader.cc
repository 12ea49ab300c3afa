// The packed-file loader validates everything and fails with a status naming
// the op / tensor -- never a fault (these tests also run under ASan/UBSan).
#include "micro_test_util.h"
#include "plan.h"
#include "test_models.h"

namespace {

mt::Aligned packed_cnn() { return mt::pack(tmodels::small_cnn().bytes()); }

lm_status init(const mt::Aligned& f, size_t size, size_t arena_size, lm_error* e, lm_model* m = nullptr) {
  std::vector<uint64_t> arena(arena_size / 8 + 1);
  lm_model local;
  return lm_model_init(m ? m : &local, f.data(), size, arena.data(), arena_size, e);
}

uint32_t arena_of(const mt::Aligned& f) { return lm_required_arena_size(f.data(), f.size); }

TEST(MicroLoader, AcceptsWhatLingerPackWrites) {
  const mt::Aligned f = packed_cnn();
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_OK) << e.detail;
}

TEST(MicroLoader, ArenaOneByteSmallerIsRefused) {
  const mt::Aligned f = packed_cnn();
  lm_error e;
  ASSERT_GT(arena_of(f), 0u);
  EXPECT_EQ(init(f, f.size, arena_of(f) - 1, &e), LM_ERR_ARENA_TOO_SMALL);
  EXPECT_EQ(e.status, LM_ERR_ARENA_TOO_SMALL);
  EXPECT_NE(std::string(e.detail).find("arena"), std::string::npos);
  EXPECT_EQ(init(f, f.size, 0, &e), LM_ERR_ARENA_TOO_SMALL);
}

TEST(MicroLoader, EveryTruncationFails) {
  const mt::Aligned f = packed_cnn();
  for (size_t n = 0; n < f.size; ++n) {
    lm_error e;
    const lm_status s = init(f, n, arena_of(f), &e);
    ASSERT_NE(s, LM_OK) << "truncated to " << n << " bytes";
    EXPECT_EQ(s, n < LPK_HEADER_SIZE || n < f.size ? LM_ERR_TRUNCATED : s) << n;
  }
}

TEST(MicroLoader, CorruptionIsCaughtByTheCrc) {
  mt::Aligned f = packed_cnn();
  f.data()[f.size - 3] ^= 0x40;
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_CRC);
}

TEST(MicroLoader, HeaderChecks) {
  lm_error e;
  {
    mt::Aligned f = packed_cnn();
    f.data()[0] = 'X';
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_MAGIC);
  }
  {
    mt::Aligned f = packed_cnn();
    f.data()[LPK_H_VERSION_MAJOR] = 2;
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_VERSION);
  }
  {
    mt::Aligned f = packed_cnn();
    mt::wr32(f.data() + LPK_H_OPS_OFFSET, mt::rd32(f.data() + LPK_H_TENSORS_OFFSET));  // sections overlap
    mt::fix_crc(f);
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_HEADER);
  }
  {
    mt::Aligned f = packed_cnn();
    mt::wr32(f.data() + LPK_H_OP_COUNT, 0x7fffffff);  // op table beyond the file (no size overflow)
    mt::fix_crc(f);
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_HEADER);
  }
  {  // misaligned packed bytes
    const mt::Aligned f = packed_cnn();
    std::vector<uint64_t> shifted(f.words.size() + 1);
    uint8_t* p = reinterpret_cast<uint8_t*>(shifted.data()) + 4;
    std::memcpy(p, f.data(), f.size);
    std::vector<uint64_t> arena(arena_of(f) / 8 + 1);
    lm_model m;
    EXPECT_EQ(lm_model_init(&m, p, f.size, arena.data(), arena_of(f), &e), LM_ERR_ALIGNMENT);
  }
  {
    lm_model m;
    EXPECT_EQ(lm_model_init(&m, nullptr, 100, nullptr, 0, &e), LM_ERR_ARGUMENT);
    EXPECT_EQ(lm_invoke(&m, LM_KERNELS_AUTO, &e), LM_ERR_NOT_READY);
  }
}

TEST(MicroLoader, UnknownOpCodeNamesTheOp) {
  mt::Aligned f = packed_cnn();
  uint8_t* op = mt::op_rec(f, 1);
  op[LPK_O_CODE] = 0x77;
  mt::fix_crc(f);
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_OP_CODE);
  EXPECT_EQ(e.op_index, 1);
  EXPECT_STREQ(e.op_name, "conv");
}

TEST(MicroLoader, BadOpParamsNameTheOp) {
  mt::Aligned f = packed_cnn();
  uint8_t* op = mt::op_rec(f, 1);  // the conv
  mt::wr32(op + LPK_O_PARAMS + 4 * 8, 0);  // groups 0
  mt::fix_crc(f);
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_OP);
  EXPECT_EQ(e.op_index, 1);
  EXPECT_STREQ(e.op_name, "conv");
  EXPECT_STREQ(e.op_type, "Conv2dInt");
}

TEST(MicroLoader, ScratchTooSmallIsRefused) {
  mt::Aligned f = packed_cnn();
  const int32_t s = static_cast<int32_t>(mt::rd32(mt::op_rec(f, 1) + LPK_O_SCRATCH));
  ASSERT_GE(s, 0);
  uint8_t* t = mt::tensor_rec(f, static_cast<uint32_t>(s));
  mt::wr32(t + LPK_T_DIMS, mt::rd32(t + LPK_T_DIMS) - 4);
  mt::wr32(t + LPK_T_NBYTES, mt::rd32(t + LPK_T_NBYTES) - 8);
  mt::fix_crc(f);
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_OP);
  EXPECT_EQ(e.op_index, 1);
}

TEST(MicroLoader, TensorChecks) {
  lm_error e;
  {
    mt::Aligned f = packed_cnn();
    mt::wr32(mt::tensor_rec(f, 0) + LPK_T_OFFSET, arena_of(f));  // past the arena
    mt::fix_crc(f);
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_TENSOR);
    EXPECT_EQ(e.tensor_index, 0);
  }
  {
    mt::Aligned f = packed_cnn();
    mt::wr32(mt::tensor_rec(f, 0) + LPK_T_DIMS, 0x10000000);  // nbytes no longer matches (and > 2^24)
    mt::fix_crc(f);
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_TENSOR);
  }
  {
    mt::Aligned f = packed_cnn();
    mt::tensor_rec(f, 0)[LPK_T_DTYPE] = 9;
    mt::fix_crc(f);
    EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_TENSOR);
  }
}

// Moves the conv's scratch onto its output's bytes (the larger of the two): both are live during the conv.
mt::Aligned overlapping_plan() {
  mt::Aligned f = packed_cnn();
  const uint32_t conv_out = mt::rd32(mt::op_rec(f, 1) + LPK_O_OUTPUT);
  const uint32_t scratch = mt::rd32(mt::op_rec(f, 1) + LPK_O_SCRATCH);
  EXPECT_GE(mt::rd32(mt::tensor_rec(f, conv_out) + LPK_T_NBYTES), mt::rd32(mt::tensor_rec(f, scratch) + LPK_T_NBYTES));
  mt::wr32(mt::tensor_rec(f, scratch) + LPK_T_OFFSET, mt::rd32(mt::tensor_rec(f, conv_out) + LPK_T_OFFSET));
  mt::fix_crc(f);
  return f;
}

TEST(MicroLoader, OverlappingLiveBuffersAreRefused) {
  const mt::Aligned f = overlapping_plan();
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_PLAN);
  EXPECT_EQ(e.op_index, 1);
  EXPECT_STREQ(e.op_name, "conv");
}

TEST(MicroLoader, PlanCheckWithoutMemoAgrees) {
  const mt::Aligned good = packed_cnn();
  std::vector<uint64_t> arena(arena_of(good) / 8 + 1);
  lm_model m;
  lm_error e;
  ASSERT_EQ(lm_model_init(&m, good.data(), good.size, arena.data(), arena_of(good), &e), LM_OK);
  EXPECT_EQ(lm::check_plan_with(m, &e, nullptr), LM_OK);
  const mt::Aligned bad = overlapping_plan();
  m.file = bad.data();  // same layout, one offset changed
  EXPECT_EQ(lm::check_plan_with(m, &e, nullptr), LM_ERR_PLAN);
  EXPECT_EQ(e.op_index, 1);
}

TEST(MicroLoader, ReadBeforeWriteIsRefused) {
  mt::Aligned f = packed_cnn();
  // Swap ops 1 (conv) and 2 (pool): the pool would read the conv's output before it exists.
  uint8_t tmp[LPK_OP_SIZE];
  std::memcpy(tmp, mt::op_rec(f, 1), LPK_OP_SIZE);
  std::memcpy(mt::op_rec(f, 1), mt::op_rec(f, 2), LPK_OP_SIZE);
  std::memcpy(mt::op_rec(f, 2), tmp, LPK_OP_SIZE);
  mt::fix_crc(f);
  lm_error e;
  EXPECT_EQ(init(f, f.size, arena_of(f), &e), LM_ERR_PLAN);
}

TEST(MicroLoader, NanReachingQuantNamesTheOp) {
  const mt::Aligned f = packed_cnn();
  mt::Micro micro(f);
  lm_tensor in;
  ASSERT_EQ(lm_input(&micro.m, 0, &in), LM_OK);
  std::vector<float> x(in.nbytes / 4, 0.5f);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(in.data, x.data(), in.nbytes);
  lm_error e;
  EXPECT_EQ(lm_invoke(&micro.m, LM_KERNELS_AUTO, &e), LM_ERR_NAN);
  EXPECT_EQ(e.op_index, 0);
  EXPECT_STREQ(e.op_type, "Quant");
}

// Random single-byte mutations with the CRC fixed up: every result is a status;
// a file that still loads runs without touching memory outside its buffers
// (ASan/UBSan would report it).
TEST(MicroLoader, RandomMutationsNeverFault) {
  const mt::Aligned good = packed_cnn();
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    mt::Aligned f = good;
    const size_t at = LPK_HEADER_SIZE + rng() % (good.size - LPK_HEADER_SIZE);
    f.data()[at] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) f.data()[LPK_HEADER_SIZE + rng() % 200] = static_cast<uint8_t>(rng() % 8);
    mt::fix_crc(f);
    const uint32_t need = arena_of(f);
    std::vector<uint64_t> arena(need / 8 + 1);
    lm_model m;
    lm_error e;
    if (lm_model_init(&m, f.data(), f.size, arena.data(), need, &e) != LM_OK) continue;
    ++accepted;
    lm_tensor in;
    ASSERT_EQ(lm_input(&m, 0, &in), LM_OK);
    std::memset(in.data, 0, in.nbytes);
    lm_invoke(&m, LM_KERNELS_PORTABLE, &e);
    lm_invoke(&m, LM_KERNELS_DSP, &e);
  }
  EXPECT_GT(accepted, 0) << "some mutations (weights, names) leave a valid file";
}

}  // namespace
