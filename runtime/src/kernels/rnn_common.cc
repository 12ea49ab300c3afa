#include "kernels/rnn_common.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "linger/numerics/gru.h"
#include "linger/numerics/lstm.h"
#include "size_math.h"

namespace linger {
namespace runtime {

RnnGeometry infer_rnn(InferContext& ctx, int gates, int w_slot) {
  const Node& n = ctx.node();
  const std::string wi_slot = std::to_string(w_slot), wh_slot = std::to_string(w_slot + 1);
  if (!ctx.has_input(0) || !ctx.has_input(w_slot) || !ctx.has_input(w_slot + 1))
    ctx.fail("inputs", "x (slot 0), W_ih (slot " + wi_slot + ") and W_hh (slot " + wh_slot + ") are required");
  ctx.expect_dtype(0, {DType::kInt8}, "input x");
  ctx.expect_rank(0, 3, "input x");
  ctx.expect_dtype(w_slot, {DType::kInt8}, "weight W_ih");
  ctx.expect_rank(w_slot, 2, "weight W_ih");
  ctx.expect_dtype(w_slot + 1, {DType::kInt8}, "weight W_hh");
  ctx.expect_rank(w_slot + 1, 2, "weight W_hh");
  RnnGeometry g;
  g.gates = gates;
  g.w_slot = w_slot;
  g.batch_first = n.attr_int("batch_first", 0) != 0;
  g.forward = n.attr_int("go_forward", 1) != 0;
  g.H = n.attr_int("hidden_size", -1);
  g.I = n.attr_int("input_size", -1);
  if (g.H < 1 || g.I < 1) ctx.fail("attribute-value", "hidden_size and input_size must be >= 1");
  if (n.attr_int("num_layers", 1) != 1) ctx.fail("attribute-value", "num_layers must be 1 (one node per layer)");
  const Dims& x = ctx.dims(0);
  const Dims& wi = ctx.dims(w_slot);
  const Dims& wh = ctx.dims(w_slot + 1);
  auto bad = [](int64_t d, int64_t want) { return d >= 0 && d != want; };
  const std::string g_h = std::to_string(gates) + "*hidden_size";
  if (bad(x[2], g.I)) ctx.fail("shape", "input x's last dim must be input_size");
  if (bad(wi[0], gates * g.H) || bad(wi[1], g.I)) ctx.fail("shape", "W_ih must be [" + g_h + ", input_size]");
  if (bad(wh[0], gates * g.H) || bad(wh[1], g.H)) ctx.fail("shape", "W_hh must be [" + g_h + ", hidden_size]");
  g.T = g.batch_first ? x[1] : x[0];
  g.B = g.batch_first ? x[0] : x[1];
  if (ctx.has_input(1)) {
    ctx.expect_dtype(1, {DType::kInt8}, "initial state h0");
    ctx.expect_rank(1, 2, "initial state h0");
    if (bad(ctx.dims(1)[0], g.B) || bad(ctx.dims(1)[1], g.H)) ctx.fail("shape", "h0 must be [batch, hidden_size]");
  }
  if (gates == 4 && ctx.has_input(2)) {
    ctx.expect_dtype(2, {DType::kInt16}, "initial cell state c0 (int16 at Q7)");
    ctx.expect_rank(2, 2, "initial cell state c0");
    if (bad(ctx.dims(2)[0], g.B) || bad(ctx.dims(2)[1], g.H)) ctx.fail("shape", "c0 must be [batch, hidden_size]");
  }
  for (int i = w_slot + 2; i < w_slot + 4; ++i) {
    if (!ctx.has_input(i)) continue;
    const char* what = i == w_slot + 2 ? "bias B_ih" : "bias B_hh";
    ctx.expect_dtype(i, {DType::kInt32}, what);
    ctx.expect_rank(i, 1, what);
    if (bad(ctx.dims(i)[0], gates * g.H)) ctx.fail("shape", "biases must be [" + g_h + "]");
  }
  g.has_lengths = ctx.has_input(g.lengths_slot());
  if (g.has_lengths) {
    ctx.expect_dtype(g.lengths_slot(), {DType::kInt64}, "lengths (int64 [batch], the last slot)");
    ctx.expect_rank(g.lengths_slot(), 1, "lengths");
    if (bad(ctx.dims(g.lengths_slot())[0], g.B)) ctx.fail("shape", "lengths must be [batch]");
  }
  g.qx = n.scale_exponent("scale_i");
  g.qiw = n.scale_exponent("scale_iw");
  g.qhw = n.scale_exponent("scale_hw");
  g.qh = n.scale_exponent("scale_h");
  if (n.scale_exponent("scale_o") != g.qh) ctx.fail("attribute-value", "scale_o must equal scale_h (h is int8 at Qo)");
  ctx.set_output(0, DType::kInt8, g.batch_first ? Dims{g.B, g.T, g.H} : Dims{g.T, g.B, g.H});
  if (n.outputs.size() > 1) ctx.set_output(1, DType::kInt8, Dims{g.B, g.H});
  if (gates == 4 && n.outputs.size() > 2) ctx.set_output(2, DType::kInt16, Dims{g.B, g.H});
  return g;
}

namespace {

// Largest k for which an int32 sum of k products of two int8 (each at most 2^14 in magnitude) cannot wrap.
constexpr int64_t kMaxInt32K = (int64_t{1} << 31) / (128 * 128) - 1;

// numerics::luna_sigmoid_q11 / luna_tanh_q11 over the inputs where they are not yet saturated (found by
// scanning every int16: about 20K and 12K entries), 4 bytes of padding (the vector cell gathers 4 bytes per
// entry); an input outside a range has the value of its nearest bound, so lookups clamp to the range.
struct LutTable {
  std::vector<int8_t> v;
  int32_t lo = 0, hi = 0;
  const int8_t* at0() const { return v.data() - lo; }  // the entry of x = 0 (lo <= 0 <= hi)
  int32_t operator()(int16_t x) const { return at0()[std::min(std::max(int32_t{x}, lo), hi)]; }
};

LutTable make_table(int8_t (*f)(int16_t)) {
  LutTable t;
  t.lo = -32768;
  t.hi = 32767;
  while (t.lo < 0 && f(static_cast<int16_t>(t.lo + 1)) == f(-32768)) ++t.lo;
  while (t.hi > 0 && f(static_cast<int16_t>(t.hi - 1)) == f(32767)) --t.hi;
  t.v.assign(static_cast<size_t>(t.hi - t.lo + 1 + 4), 0);
  for (int32_t x = t.lo; x <= t.hi; ++x) t.v[static_cast<size_t>(x - t.lo)] = f(static_cast<int16_t>(x));
  return t;
}

struct LutTables {
  LutTable sigmoid = make_table(numerics::luna_sigmoid_q11);
  LutTable tanh = make_table(numerics::luna_tanh_q11);
  opt::ActTables act() const {
    opt::ActTables a;
    a.sig = sigmoid.at0(), a.sig_lo = sigmoid.lo, a.sig_hi = sigmoid.hi;
    a.tanh = tanh.at0(), a.tanh_lo = tanh.lo, a.tanh_hi = tanh.hi;
    return a;
  }
};

const LutTables& lut_tables() {
  static const LutTables t;
  return t;
}

inline int32_t lut(const LutTable& table, int16_t x) { return table(x); }

}  // namespace

bool rnn_sums_fit_int32(const int32_t* bias, int64_t n, int64_t k) {
  if (k > kMaxInt32K) return false;
  const int64_t room = int64_t{INT32_MAX} - k * 128 * 128;  // |acc + b| <= INT32_MAX keeps -acc - b in range too
  if (!bias) return true;
  for (int64_t j = 0; j < n; ++j)
    if (bias[j] > room || bias[j] < -room) return false;
  return true;
}

void gru_cell_lut(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int qi, int qhh,
                  const int8_t* h_prev, int64_t hidden, int qh, int8_t* h_out, opt::Isa vector_isa) {
  using numerics::rhu_shift;
  using numerics::sat16;
  using numerics::to_q11;
  const LutTables& L = lut_tables();
  const int64_t H = hidden;
  int64_t u = 0;
  if (vector_isa != opt::Isa::kScalar)
    u = opt::gru_cell_vector(gi32, b_ih, gh32, b_hh, H, qi, qhh, qh, h_prev, h_out, L.act(), vector_isa);
  auto gi = [&](int64_t j) { return int64_t{gi32[j]} + (b_ih ? b_ih[j] : 0); };
  auto gh = [&](int64_t j) { return int64_t{gh32[j]} + (b_hh ? b_hh[j] : 0); };
  for (; u < H; ++u) {  // numerics::gru_cell, the tables read directly
    const int32_t r = lut(L.sigmoid, numerics::rnn_gate_q11(gi(u), qi, gh(u), qhh));
    const int32_t z = lut(L.sigmoid, numerics::rnn_gate_q11(gi(H + u), qi, gh(H + u), qhh));
    const int16_t rh = sat16(rhu_shift(static_cast<int64_t>(r) * to_q11(gh(2 * H + u), qhh), 7));
    const int32_t n = lut(L.tanh, sat16(static_cast<int64_t>(to_q11(gi(2 * H + u), qi)) + rh));
    const int64_t h7 = sat16(rhu_shift(h_prev[u], qh - 7));
    h_out[u] = numerics::sat8(rhu_shift(static_cast<int64_t>(z) * h7 + static_cast<int64_t>(128 - z) * n, 14 - qh));
  }
}

void lstm_cell_lut(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int qi,
                   int qhh, const int16_t* c_prev, int64_t hidden, int qh, int8_t* h_out, int16_t* c_out) {
  using numerics::rhu_shift;
  using numerics::rnn_gate_q11;
  using numerics::sat16;
  const LutTables& L = lut_tables();
  const int64_t H = hidden;
  auto gi = [&](int64_t j) { return int64_t{gi32[j]} + (b_ih ? b_ih[j] : 0); };
  auto gh = [&](int64_t j) { return int64_t{gh32[j]} + (b_hh ? b_hh[j] : 0); };
  for (int64_t u = 0; u < H; ++u) {  // numerics::lstm_cell, the tables read directly
    const int32_t i = lut(L.sigmoid, rnn_gate_q11(gi(u), qi, gh(u), qhh));
    const int32_t f = lut(L.sigmoid, rnn_gate_q11(gi(H + u), qi, gh(H + u), qhh));
    const int32_t g = lut(L.tanh, rnn_gate_q11(gi(2 * H + u), qi, gh(2 * H + u), qhh));
    const int32_t o = lut(L.sigmoid, rnn_gate_q11(gi(3 * H + u), qi, gh(3 * H + u), qhh));
    const int64_t c14 = static_cast<int64_t>(f) * c_prev[u] + static_cast<int64_t>(i) * g;
    const int32_t tc = lut(L.tanh, sat16(rhu_shift(c14, 3)));
    c_out[u] = sat16(rhu_shift(c14, 7));
    h_out[u] = numerics::sat8(rhu_shift(static_cast<int64_t>(o) * tc, 14 - qh));
  }
}

opt::Isa rnn_isa(const RnnGeometry& g, opt::Isa isa) {
  const opt::Isa r = opt::resolve_isa(isa);
  if (r == opt::Isa::kScalar || g.I > kMaxInt32K || g.H > kMaxInt32K) return opt::Isa::kScalar;
  return r;
}

void prepare_rnn(InferContext& ctx, const RnnGeometry& g, RnnWeights* w) {
  *w = RnnWeights{};
  if (!ctx.complete()) return;
  w->isa = rnn_isa(g, ctx.isa());
  if (w->isa == opt::Isa::kScalar) return;
  const Tensor* wi = ctx.constant(g.w_slot);
  const Tensor* wh = ctx.constant(g.w_slot + 1);
  if (!wi || !wh) return;
  const int64_t GH = g.gates * g.H;
  w->w_ih = opt::MatVecInt8(wi->data<int8_t>(), GH, g.I, w->isa);
  w->w_hh = opt::MatVecInt8(wh->data<int8_t>(), GH, g.H, w->isa);
  const bool has_bi = ctx.has_input(g.w_slot + 2), has_bh = ctx.has_input(g.w_slot + 3);
  const Tensor* bi = has_bi ? ctx.constant(g.w_slot + 2) : nullptr;
  const Tensor* bh = has_bh ? ctx.constant(g.w_slot + 3) : nullptr;
  if ((!has_bi || bi) && (!has_bh || bh))  // constant (or absent) biases: the vector cell's check done once
    w->fits32 = rnn_sums_fit_int32(bi ? bi->data<int32_t>() : nullptr, GH, g.I) &&
                rnn_sums_fit_int32(bh ? bh->data<int32_t>() : nullptr, GH, g.H);
  w->packed = true;
}

int64_t rnn_workspace_bytes(const RnnGeometry& g, const RnnWeights& /*w*/) {
  const int64_t gh = sat_mul(g.gates, g.H), rows = sat_mul(g.T, g.B);
  int64_t bytes = sat_mul(sat_mul(rows, gh), 8);         // the input projections (int64; int32 on the fast path)
  bytes = sat_add(bytes, sat_mul(rows, sat_mul(gh, 4)));  // the reference GEMM's int32 result
  bytes = sat_add(bytes, sat_mul(gh, 8));                 // the recurrent accumulator
  bytes = sat_add(bytes, sat_mul(sat_add(gh, std::max(g.H, g.I)), 4));  // the matrix-vector products' scratch
  return sat_add(bytes, sat_mul(g.H, 6));                               // h, h', c, c'

}

void rnn_input_projections(const int8_t* x, const int8_t* w_ih, const int32_t* b_ih, int64_t rows, int64_t input,
                           int64_t gates_h, int64_t* acc, opt::Isa isa) {
  // The int32 GEMM is exact while input * 128 * 128 fits int32 (every product is at most 2^14 in magnitude);
  // wider inputs take the scalar int64 reference.
  if (input > INT32_MAX / (128 * 128)) {
    for (int64_t r = 0; r < rows; ++r)
      numerics::rnn_matvec(w_ih, b_ih, x + r * input, gates_h, input, acc + r * gates_h);
    return;
  }
  std::vector<int32_t> c(static_cast<size_t>(sat_mul(rows, gates_h)));
  opt::gemm_s8s8_s32(x, w_ih, c.data(), rows, gates_h, input, isa);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < gates_h; ++j)
      acc[r * gates_h + j] = static_cast<int64_t>(c[static_cast<size_t>(r * gates_h + j)]) + (b_ih ? b_ih[j] : 0);
}

namespace {

// The node's inputs and outputs, as the paths below read them.
struct RnnIo {
  const int8_t* x;
  const Tensor* h0;
  const Tensor* c0;           // LSTM only
  const int32_t *bi, *bh;     // null when absent
  const int64_t* lengths;     // null: every row runs T steps
  int8_t* y;
  size_t n_out;
};

RnnIo rnn_io(const RunContext& ctx, const RnnGeometry& g) {
  const int w = g.w_slot;
  RnnIo io;
  io.x = ctx.in(0).data<int8_t>();
  io.h0 = ctx.in_opt(1);
  io.c0 = g.gates == 4 ? ctx.in_opt(2) : nullptr;
  io.bi = ctx.in_opt(w + 2) ? ctx.in_opt(w + 2)->data<int32_t>() : nullptr;
  io.bh = ctx.in_opt(w + 3) ? ctx.in_opt(w + 3)->data<int32_t>() : nullptr;
  io.lengths = g.has_lengths ? ctx.in(g.lengths_slot()).data<int64_t>() : nullptr;
  io.y = ctx.out(0).data<int8_t>();
  io.n_out = ctx.node->outputs.size();
  return io;
}

// Every batch row b: its state from h0 / c0 (zeros when absent) into h / c, then
// step(row, h, c) for each of its lengths[b] steps (backwards for a reverse
// direction; `row` is the step's row of x, gates and y), which advances the
// state and may swap the buffers h / c point to; y gets h after each step and
// zeros past the row's length; the final states go to the optional outputs.
template <class Step>
void for_each_row(const RunContext& ctx, const RnnGeometry& g, const RnnIo& io, int8_t* h, int16_t* c, Step&& step) {
  const int64_t T = g.T, B = g.B, H = g.H;
  const bool lstm = g.gates == 4;
  for (int64_t b = 0; b < B; ++b) {
    if (io.h0) std::copy(io.h0->data<int8_t>() + b * H, io.h0->data<int8_t>() + (b + 1) * H, h);
    else std::fill(h, h + H, int8_t{0});
    if (lstm) {
      if (io.c0) std::copy(io.c0->data<int16_t>() + b * H, io.c0->data<int16_t>() + (b + 1) * H, c);
      else std::fill(c, c + H, int16_t{0});
    }
    const int64_t L = io.lengths ? io.lengths[b] : T;
    for (int64_t s = 0; s < L; ++s) {
      const int64_t t = g.forward ? s : L - 1 - s;
      const int64_t row = g.batch_first ? b * T + t : t * B + b;
      step(row, h, c);
      std::copy(h, h + H, io.y + row * H);
    }
    for (int64_t t = L; t < T; ++t) {
      const int64_t row = g.batch_first ? b * T + t : t * B + b;
      std::fill(io.y + row * H, io.y + (row + 1) * H, int8_t{0});
    }
    if (io.n_out > 1) std::copy(h, h + H, ctx.out(1).data<int8_t>() + b * H);
    if (lstm && io.n_out > 2) std::copy(c, c + H, ctx.out(2).data<int16_t>() + b * H);
  }
}

// The reference path: numerics::rnn_matvec and gru_cell / lstm_cell per row and step.
void run_reference(const RunContext& ctx, const RnnGeometry& g, const int8_t* wi, const int8_t* wh) {
  const int64_t T = g.T, B = g.B, I = g.I, H = g.H, GH = g.gates * g.H;
  const bool lstm = g.gates == 4;
  const RnnIo io = rnn_io(ctx, g);
  std::vector<int64_t> gi(static_cast<size_t>(sat_mul(sat_mul(T, B), GH)));
  rnn_input_projections(io.x, wi, io.bi, T * B, I, GH, gi.data(), opt::Isa::kScalar);
  const int qi = g.qx + g.qiw, qhh = g.qh + g.qhw;
  std::vector<int64_t> gh(static_cast<size_t>(GH));
  std::vector<int8_t> h(static_cast<size_t>(H)), hn(static_cast<size_t>(H));
  std::vector<int16_t> c(static_cast<size_t>(lstm ? H : 0)), cn(c.size());
  for_each_row(ctx, g, io, h.data(), c.data(), [&](int64_t row, int8_t*& hp, int16_t*& cp) {
    numerics::rnn_matvec(wh, io.bh, hp, GH, H, gh.data());
    if (lstm) {
      numerics::lstm_cell(gi.data() + row * GH, gh.data(), qi, qhh, cp, H, g.qh, hn.data(), cn.data());
      std::copy(cn.begin(), cn.end(), cp);
    } else {
      numerics::gru_cell(gi.data() + row * GH, gh.data(), qi, qhh, hp, H, g.qh, hn.data());
    }
    std::copy(hn.begin(), hn.end(), hp);
  });
}

// The fast path (RnnWeights): prepacked GEMM for the projections, prepacked matrix-vector product per step,
// table-driven cells. The projections stay int32 (exact: I <= kMaxInt32K) and b_ih is added in the cell.
void run_fast(const RunContext& ctx, const RnnGeometry& g, const opt::MatVecInt8& w_ih, const opt::MatVecInt8& w_hh,
              int fits32) {
  const int64_t T = g.T, B = g.B, H = g.H, GH = g.gates * g.H;
  const bool lstm = g.gates == 4;
  const RnnIo io = rnn_io(ctx, g);
  // gi32 [T*B, GH] int32, gh32 [GH] int32, then the matrix-vector products' scratch.
  const int64_t n_gi = sat_mul(sat_mul(T, B), GH);
  const int64_t n_mv = std::max(w_hh.scratch_words(), w_ih.scratch_words());
  std::vector<int32_t> buf32(static_cast<size_t>(sat_add(sat_add(n_gi, GH), sat_add(n_mv, (2 * H + 3) / 4))));
  int32_t* gi = buf32.data();
  int32_t* gh = gi + n_gi;
  int32_t* mv = gh + GH;
  int8_t* h = reinterpret_cast<int8_t*>(mv + n_mv);  // h and h' (2H bytes)
  int8_t* hn = h + H;
  for (int64_t r = 0; r < T * B; ++r) w_ih.run32(io.x + r * g.I, gi + r * GH, mv);
  // the vector GRU cell works in int32 lanes: every gi and gh must fit
  const bool fit =
      fits32 >= 0 ? fits32 == 1 : rnn_sums_fit_int32(io.bi, GH, g.I) && rnn_sums_fit_int32(io.bh, GH, H);
  const opt::Isa cell_isa = fit ? w_hh.isa() : opt::Isa::kScalar;
  const int qi = g.qx + g.qiw, qhh = g.qh + g.qhw;
  std::vector<int16_t> cbuf(static_cast<size_t>(lstm ? 2 * H : 0));
  int16_t* cn = lstm ? cbuf.data() + H : nullptr;
  for_each_row(ctx, g, io, h, cbuf.data(), [&](int64_t row, int8_t*& hp, int16_t*& cp) {
    w_hh.run32(hp, gh, mv);
    if (lstm) {
      lstm_cell_lut(gi + row * GH, io.bi, gh, io.bh, qi, qhh, cp, H, g.qh, hn, cn);
      std::swap(cp, cn);
    } else {
      gru_cell_lut(gi + row * GH, io.bi, gh, io.bh, qi, qhh, hp, H, g.qh, hn, cell_isa);
    }
    std::swap(hp, hn);
  });
}

}  // namespace

void run_rnn(const RunContext& ctx, const RnnGeometry& g, const RnnWeights& rw) {
  const int64_t T = g.T, B = g.B;
  const int64_t* lengths = g.has_lengths ? ctx.in(g.lengths_slot()).data<int64_t>() : nullptr;
  if (lengths) {
    for (int64_t b = 0; b < B; ++b)
      if (lengths[b] < 0 || lengths[b] > T)
        ctx.fail("lengths[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) + " is outside [0, " +
                 std::to_string(T) + "] (the number of time steps of x); give each row's number of valid steps");
  }
  const int8_t* wi = ctx.in(g.w_slot).data<int8_t>();
  const int8_t* wh = ctx.in(g.w_slot + 1).data<int8_t>();
  const opt::Isa isa = rw.packed ? rw.isa : rnn_isa(g, ctx.isa);
  if (isa == opt::Isa::kScalar) return run_reference(ctx, g, wi, wh);
  if (rw.packed) return run_fast(ctx, g, rw.w_ih, rw.w_hh, rw.fits32);
  const int64_t GH = g.gates * g.H;  // weights computed at run time: packed for this run
  run_fast(ctx, g, opt::MatVecInt8(wi, GH, g.I, isa), opt::MatVecInt8(wh, GH, g.H, isa), -1);
}

}  // namespace runtime
}  // namespace linger
