// linger PyTorch extension: the eval integer ops of the op families of
// include/linger/ops.inc (binary elementwise, reductions, concatenation,
// clamp, lookup tables, softmax, bmm). One torch op per family; the op within
// the family is its linger::OpId. Each calls the shared numerics headers, so
// the PyTorch eval forward produces exactly the runtime's integers.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_adapter.h"
#include "linger/numerics/binary.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/gru.h"
#include "linger/numerics/lstm.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/lut.h"
#include "linger/numerics/reduce.h"
#include "linger/numerics/resize.h"
#include "linger/numerics/softmax.h"
#include "linger/numerics/table.h"
#include "linger/op_ids.h"

namespace {

namespace ln = linger::numerics;
using linger::OpId;

OpId op_id(int64_t code, const char* family) {
  TORCH_CHECK(code >= 0 && code < linger::kOpCount, "linger ", family, ": unknown op code ", code);
  return static_cast<OpId>(code);
}

at::Tensor int8_cpu(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kChar, "linger: ", what, " must be int8, got ", at::toString(t.scalar_type()));
  return t.to(at::kCPU).contiguous();
}

std::vector<std::string> op_table() {
  std::vector<std::string> rows;
  for (const auto& info : linger::kOpInfos)
    rows.push_back(std::string(info.name) + "|" + info.domain + "|" + info.op_type + "|" + info.family);
  return rows;
}

at::Tensor binary_int(const at::Tensor& a, const at::Tensor& b, int64_t op, int64_t qa, int64_t qb, int64_t qo) {
  const OpId id = op_id(op, "binary_int");
  TORCH_CHECK(ln::is_binary_op(id), "linger binary_int: ", linger::op_info(id).name, " is not a binary op");
  auto ab = at::broadcast_tensors({int8_cpu(a, "operand a"), int8_cpu(b, "operand b")});
  auto ac = ab[0].contiguous(), bc = ab[1].contiguous();
  auto y = at::empty(ac.sizes(), ac.options());
  const auto p = ln::BinaryParams::make(id, static_cast<int>(qa), static_cast<int>(qb), static_cast<int>(qo));
  const int8_t* ap = ac.data_ptr<int8_t>();
  const int8_t* bp = bc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  if (id == OpId::iqAdd) {  // the runtime's vectorised iqAdd (kernel_adapter.h), same integers
    linger::torch_ext::iqadd_int8(ap, bp, y.numel(), p.s0, p.s1, yp, at::get_num_threads());
  } else {
    at::parallel_for(0, y.numel(), 16384, [&](int64_t s, int64_t e) { ln::binary_int8(p, ap + s, 1, bp + s, 1, yp + s, e - s); });
  }
  return y.to(a.device());
}

// Moves the reduced dims last; returns the rows view [outer, n] and the kept output shape.
at::Tensor rows_last(const at::Tensor& x, at::IntArrayRef dims, bool keepdim, std::vector<int64_t>* out_shape) {
  const int64_t r = x.dim();
  std::vector<bool> red(static_cast<size_t>(std::max<int64_t>(r, 1)), dims.empty());
  for (int64_t d : dims) {
    const int64_t k = d < 0 ? d + r : d;
    TORCH_CHECK(k >= 0 && k < std::max<int64_t>(r, 1), "linger reduce: dim ", d, " out of range for rank ", r);
    red[static_cast<size_t>(k)] = true;
  }
  std::vector<int64_t> perm, kept;
  int64_t n = 1;
  for (int64_t d = 0; d < r; ++d)
    if (!red[static_cast<size_t>(d)]) {
      perm.push_back(d);
      out_shape->push_back(x.size(d));
      kept.push_back(x.size(d));
    } else if (keepdim) {
      out_shape->push_back(1);
    }
  for (int64_t d = 0; d < r; ++d)
    if (red[static_cast<size_t>(d)]) {
      perm.push_back(d);
      n *= x.size(d);
    }
  auto t = r == 0 ? x.reshape({1, 1}) : x.permute(perm).contiguous();
  int64_t outer = 1;
  for (int64_t k : kept) outer *= k;
  return t.reshape({outer, n});
}

at::Tensor reduce_int(const at::Tensor& x, int64_t op, at::IntArrayRef dims, bool keepdim, int64_t qx, int64_t qo,
                      bool unbiased) {
  const OpId id = op_id(op, "reduce_int");
  TORCH_CHECK(ln::is_reduce_op(id), "linger reduce_int: ", linger::op_info(id).name, " is not a reduction");
  std::vector<int64_t> out_shape;
  auto rows = rows_last(int8_cpu(x, "input"), dims, keepdim, &out_shape);
  const int64_t outer = rows.size(0), n = rows.size(1);
  TORCH_CHECK(n >= 1 && n <= ln::kMaxReduceCount, "linger ", linger::op_info(id).name, ": reduces ", n,
              " elements; supported: 1 to ", ln::kMaxReduceCount);
  ln::ReduceParams p;
  p.op = id;
  p.qx = static_cast<int>(qx);
  p.qo = static_cast<int>(qo);
  p.unbiased = unbiased;
  auto y = at::empty({outer}, rows.options());
  const int8_t* xp = rows.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, outer, 64, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) yp[i] = ln::reduce_row_int8(p, xp + i * n, n, 1);
  });
  return y.reshape(out_shape).to(x.device());
}

at::Tensor concat_int(at::TensorList xs, int64_t dim, at::IntArrayRef qs, int64_t qo) {
  TORCH_CHECK(!xs.empty() && xs.size() == qs.size(), "linger concat_int: one exponent per input");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto xc = int8_cpu(xs[i], "input");
    auto y = at::empty(xc.sizes(), xc.options());
    const int shift = static_cast<int>(qs[i] - qo);
    const int8_t* xp = xc.data_ptr<int8_t>();
    int8_t* yp = y.data_ptr<int8_t>();
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqcat_rescale(xp[k], shift);
    parts.push_back(y);
  }
  return at::cat(parts, dim).to(xs[0].device());
}

at::Tensor clamp_int(const at::Tensor& x, int64_t lo, int64_t hi) {
  TORCH_CHECK(lo <= hi && lo >= -128 && hi <= 127, "linger clamp_int: need -128 <= lo <= hi <= 127");
  auto xc = int8_cpu(x, "input");
  auto y = at::empty(xc.sizes(), xc.options());
  const int8_t* xp = xc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqclamp(xp[k], static_cast<int>(lo), static_cast<int>(hi));
  return y.to(x.device());
}

at::Tensor lut_int(const at::Tensor& x, int64_t op, int64_t qx) {
  const OpId id = op_id(op, "lut_int");
  TORCH_CHECK(id == OpId::iqSigmoid || id == OpId::iqTanh, "linger lut_int: ", linger::op_info(id).name,
              " is not a lookup-table op");
  auto xc = int8_cpu(x, "input");
  auto y = at::empty(xc.sizes(), xc.options());
  const int8_t* xp = xc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  const int q = static_cast<int>(qx);
  if (id == OpId::iqSigmoid)
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqsigmoid(xp[k], q);
  else
    for (int64_t k = 0; k < xc.numel(); ++k) yp[k] = ln::iqtanh(xp[k], q);
  return y.to(x.device());
}

at::Tensor softmax_int(const at::Tensor& x, int64_t op, int64_t dim, int64_t qx, int64_t qo) {
  const OpId id = op_id(op, "softmax_int");
  TORCH_CHECK(id == OpId::SoftmaxInt || id == OpId::LogSoftmaxInt, "linger softmax_int: ", linger::op_info(id).name,
              " is not a softmax op");
  auto xc = int8_cpu(x, "input");
  TORCH_CHECK(xc.dim() >= 1, "linger softmax_int: input must have rank >= 1");
  const int64_t d = dim < 0 ? dim + xc.dim() : dim;
  TORCH_CHECK(d >= 0 && d < xc.dim(), "linger softmax_int: dim ", dim, " out of range");
  auto t = xc.transpose(d, -1).contiguous();
  const int64_t n = t.size(-1), outer = n ? t.numel() / n : 0;
  auto y = at::empty(t.sizes(), t.options());
  const int8_t* xp = t.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, outer, 16, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      if (id == OpId::SoftmaxInt)
        ln::softmax_int_row(xp + i * n, n, 1, static_cast<int>(qx), static_cast<int>(qo), yp + i * n, 1);
      else
        ln::log_softmax_int_row(xp + i * n, n, 1, static_cast<int>(qx), static_cast<int>(qo), yp + i * n, 1);
    }
  });
  return y.transpose(d, -1).contiguous().to(x.device());
}

// a [..., m, k] @ b [..., k, n] with equal batch dims: acc = sum a*b in int64, y = sat_ob(rhu_shift(acc, shift)).
at::Tensor bmm_int(const at::Tensor& a, const at::Tensor& b, int64_t shift, int64_t out_bits) {
  TORCH_CHECK(out_bits == 8 || out_bits == 16 || out_bits == 32, "linger bmm_int: out_bits must be 8, 16 or 32");
  auto ac = int8_cpu(a, "operand a"), bc = int8_cpu(b, "operand b");
  TORCH_CHECK(ac.dim() >= 2 && ac.dim() == bc.dim() && ac.size(-1) == bc.size(-2) &&
                  ac.sizes().slice(0, ac.dim() - 2) == bc.sizes().slice(0, bc.dim() - 2),
              "linger bmm_int: shapes ", ac.sizes(), " and ", bc.sizes(), " do not multiply");
  const int64_t m = ac.size(-2), k = ac.size(-1), n = bc.size(-1);
  int64_t batch = 1;
  for (int64_t d = 0; d + 2 < ac.dim(); ++d) batch *= ac.size(d);
  auto bt = bc.transpose(-1, -2).contiguous();  // [..., n, k]: the LinearInt weight layout
  auto sizes = ac.sizes().vec();
  sizes.back() = n;
  const auto otype = out_bits == 8 ? at::kChar : (out_bits == 16 ? at::kShort : at::kInt);
  auto y = at::empty(sizes, ac.options().dtype(otype));
  const int8_t* ap = ac.data_ptr<int8_t>();
  const int8_t* bp = bt.data_ptr<int8_t>();
  AT_DISPATCH_INTEGRAL_TYPES(otype, "linger_bmm_int", [&] {
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, batch * m, 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        const int64_t bi = i / m, r = i % m;
        ln::linear_int_row(ap + bi * m * k, bp + bi * n * k, nullptr, yp + bi * m * n + r * n, r, k, n,
                           static_cast<int>(shift), static_cast<int>(out_bits));
      }
    });
  });
  return y.to(a.device());
}

// TableInt: the tables of one activation, [C, 256] int8 (C = alpha.numel() for leaky_relu/prelu, else 1).
at::Tensor table_build(int64_t fn, int64_t qx, int64_t qo, const at::Tensor& alpha) {
  TORCH_CHECK(fn >= 0 && fn < ln::kTableFnCount, "linger table_build: unknown function ", fn);
  TORCH_CHECK(ln::table_exponents_ok(static_cast<int>(qx), static_cast<int>(qo)), "linger table_build: exponents qx=", qx,
              " qo=", qo, " outside [", ln::kTableMinExponent, ", ", ln::kTableMaxExponent, "]");
  const auto f = static_cast<ln::TableFn>(fn);
  const bool sloped = f == ln::TableFn::kLeakyRelu || f == ln::TableFn::kPrelu;
  auto a = alpha.detach().to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  const int64_t c = sloped ? a.numel() : 1;
  TORCH_CHECK(c >= 1, "linger table_build: ", ln::table_fn_name(f), " needs at least one slope");
  auto t = at::empty({c, ln::kTableSize}, at::TensorOptions().dtype(at::kChar));
  for (int64_t i = 0; i < c; ++i) {
    int32_t aq = 0;
    if (sloped) {
      const double v = std::floor(a.data_ptr<double>()[i] * 65536.0 + 0.5);
      TORCH_CHECK(std::isfinite(v), "linger table_build: slope is not finite");
      aq = static_cast<int32_t>(std::min(std::max(v, -2147483648.0), 2147483647.0));
    }
    ln::table_fill(f, static_cast<int>(qx), static_cast<int>(qo), aq, t.data_ptr<int8_t>() + i * ln::kTableSize);
  }
  return t;
}

// y = table[channel][x + 128]; the channel is dim 1 when the table has C > 1 rows.
at::Tensor table_int(const at::Tensor& x, const at::Tensor& table) {
  auto xc = int8_cpu(x, "input");
  auto tc = int8_cpu(table, "table");
  TORCH_CHECK(tc.dim() == 2 && tc.size(1) == ln::kTableSize, "linger table_int: table must be [C, 256]");
  const int64_t c = tc.size(0);
  TORCH_CHECK(c == 1 || (xc.dim() >= 2 && xc.size(1) == c), "linger table_int: ", c,
              " tables need an input with that many channels in dim 1, got ", xc.sizes());
  const int64_t inner = c == 1 ? xc.numel() : xc.numel() / xc.size(0) / c;
  auto y = at::empty(xc.sizes(), xc.options());
  const int8_t* xp = xc.data_ptr<int8_t>();
  const int8_t* tp = tc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  for (int64_t k = 0; k < xc.numel(); ++k) {
    const int64_t ch = c == 1 ? 0 : (k / inner) % c;
    yp[k] = ln::table_lookup(xp[k], tp + ch * ln::kTableSize);
  }
  return y.to(x.device());
}

// ResizeInt of int8 [N, C, H, W] to [N, C, out_h, out_w]; mode 0 nearest, 1 bilinear.
at::Tensor resize_int(const at::Tensor& x, int64_t out_h, int64_t out_w, int64_t mode, bool align_corners) {
  auto xc = int8_cpu(x, "input");
  TORCH_CHECK(xc.dim() == 4, "linger resize_int: input must be [N, C, H, W], got ", xc.sizes());
  TORCH_CHECK(mode == 0 || mode == 1, "linger resize_int: mode must be 0 (nearest) or 1 (bilinear)");
  TORCH_CHECK(out_h >= 1 && out_w >= 1 && xc.size(2) >= 1 && xc.size(3) >= 1, "linger resize_int: empty sizes");
  auto y = at::empty({xc.size(0), xc.size(1), out_h, out_w}, xc.options());
  const int64_t planes = xc.size(0) * xc.size(1), ih = xc.size(2), iw = xc.size(3);
  const int8_t* xp = xc.data_ptr<int8_t>();
  int8_t* yp = y.data_ptr<int8_t>();
  at::parallel_for(0, planes, 1, [&](int64_t s, int64_t e) {
    for (int64_t p = s; p < e; ++p)
      ln::resize_plane(static_cast<ln::ResizeMode>(mode), align_corners, xp + p * ih * iw, ih, iw, yp + p * out_h * out_w,
                       out_h, out_w);
  });
  return y.to(x.device());
}

// LSTMInt / GRUInt over a whole sequence, one direction: x int8 [T, B, I] at qx, h0 int8 [B, H] at qh,
// (LSTM) c0 int16 [B, H] at Q7, weights int8 [G*H, I] / [G*H, H], biases int32 [G*H] or none.
// reverse: steps run from t = T-1 down to 0 (y[t] is the state after step t either way).
struct RnnArgs {
  at::Tensor x, h0, w_ih, w_hh, b_ih, b_hh;
  int64_t T, B, I, H;
};

RnnArgs rnn_args(const char* name, int64_t gates, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih,
                 const at::Tensor& w_hh, const c10::optional<at::Tensor>& b_ih, const c10::optional<at::Tensor>& b_hh) {
  RnnArgs a;
  a.x = int8_cpu(x, "rnn input");
  a.h0 = int8_cpu(h0, "rnn initial hidden state");
  a.w_ih = int8_cpu(w_ih, "rnn weight_ih");
  a.w_hh = int8_cpu(w_hh, "rnn weight_hh");
  TORCH_CHECK(a.x.dim() == 3, "linger ", name, ": input must be [T, B, I], got ", a.x.sizes());
  a.T = a.x.size(0); a.B = a.x.size(1); a.I = a.x.size(2);
  a.H = a.w_hh.size(1);
  TORCH_CHECK(a.w_ih.dim() == 2 && a.w_ih.size(0) == gates * a.H && a.w_ih.size(1) == a.I, "linger ", name,
              ": weight_ih must be [", gates, "*H, I], got ", a.w_ih.sizes());
  TORCH_CHECK(a.w_hh.dim() == 2 && a.w_hh.size(0) == gates * a.H, "linger ", name, ": weight_hh must be [", gates,
              "*H, H], got ", a.w_hh.sizes());
  TORCH_CHECK(a.h0.dim() == 2 && a.h0.size(0) == a.B && a.h0.size(1) == a.H, "linger ", name,
              ": h0 must be [B, H], got ", a.h0.sizes());
  TORCH_CHECK(b_ih.has_value() == b_hh.has_value(), "linger ", name, ": give both biases or neither");
  if (b_ih.has_value() && b_ih->defined()) {
    TORCH_CHECK(b_ih->scalar_type() == at::kInt && b_hh->scalar_type() == at::kInt, "linger ", name,
                ": biases must be int32");
    a.b_ih = b_ih->to(at::kCPU).contiguous();
    a.b_hh = b_hh->to(at::kCPU).contiguous();
    TORCH_CHECK(a.b_ih.numel() == gates * a.H && a.b_hh.numel() == gates * a.H, "linger ", name,
                ": biases must have ", gates, "*H values");
  }
  return a;
}

// Per-row lengths (int64 [B], each in [0, T]); absent: every row runs T steps. A row of length L runs
// t = 0..L-1 (reverse: L-1..0); its final state is the state after its last step, y[t >= L] = 0.
std::vector<int64_t> rnn_lengths(const char* name, const c10::optional<at::Tensor>& lengths, const RnnArgs& a) {
  std::vector<int64_t> lens(static_cast<size_t>(a.B), a.T);
  if (!lengths.has_value() || !lengths->defined()) return lens;
  auto l = lengths->to(at::kCPU, at::kLong).contiguous();
  TORCH_CHECK(l.dim() == 1 && l.size(0) == a.B, "linger ", name, ": lengths must be [B], got ", l.sizes());
  const int64_t* lp = l.data_ptr<int64_t>();
  for (int64_t b = 0; b < a.B; ++b) {
    TORCH_CHECK(lp[b] >= 0 && lp[b] <= a.T, "linger ", name, ": length ", lp[b], " of row ", b, " is outside [0, ",
                a.T, "]");
    lens[static_cast<size_t>(b)] = lp[b];
  }
  return lens;
}

// Every row b of [0, a.B) over its lens[b] steps (backwards from lens[b] - 1 with reverse), rows in parallel.
// make_step() gives each thread a step function (with its own scratch): step(b, t, h) computes step t of row b
// from the state in hp (and the cell it keeps itself) into h [H]; h then becomes row b's state and y[t, b].
template <class MakeStep>
void run_rows(const RnnArgs& a, const std::vector<int64_t>& lens, bool reverse, int8_t* yp, int8_t* hp,
              const MakeStep& make_step) {
  const int64_t B = a.B, H = a.H;
  at::parallel_for(0, B, 1, [&](int64_t s, int64_t e) {
    auto step = make_step();
    std::vector<int8_t> h(H);
    for (int64_t b = s; b < e; ++b)
      for (int64_t t0 = 0; t0 < lens[b]; ++t0) {
        const int64_t t = reverse ? lens[b] - 1 - t0 : t0;
        step(b, t, h.data());
        std::copy(h.begin(), h.end(), hp + b * H);
        std::copy(h.begin(), h.end(), yp + (t * B + b) * H);
      }
  });
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_int(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                                        const at::Tensor& w_ih, const at::Tensor& w_hh,
                                                        const c10::optional<at::Tensor>& b_ih,
                                                        const c10::optional<at::Tensor>& b_hh, int64_t qx, int64_t qiw,
                                                        int64_t qh, int64_t qhw, bool reverse,
                                                        const c10::optional<at::Tensor>& lengths) {
  RnnArgs a = rnn_args("lstm_int", 4, x, h0, w_ih, w_hh, b_ih, b_hh);
  const std::vector<int64_t> lens = rnn_lengths("lstm_int", lengths, a);
  TORCH_CHECK(c0.scalar_type() == at::kShort, "linger lstm_int: c0 must be int16 (Q7)");
  auto cc = c0.to(at::kCPU).contiguous();
  TORCH_CHECK(cc.dim() == 2 && cc.size(0) == a.B && cc.size(1) == a.H, "linger lstm_int: c0 must be [B, H]");
  auto y = at::zeros({a.T, a.B, a.H}, a.x.options());  // steps past a row's length stay 0
  auto hT = a.h0.clone();
  auto cT = cc.clone();
  const int8_t* xp = a.x.data_ptr<int8_t>();
  const int8_t* wi = a.w_ih.data_ptr<int8_t>();
  const int8_t* wh = a.w_hh.data_ptr<int8_t>();
  const int32_t* bi = a.b_ih.defined() ? a.b_ih.data_ptr<int32_t>() : nullptr;
  const int32_t* bh = a.b_hh.defined() ? a.b_hh.data_ptr<int32_t>() : nullptr;
  int8_t* hp = hT.data_ptr<int8_t>();
  int16_t* cp = cT.data_ptr<int16_t>();
  const int64_t B = a.B, I = a.I, H = a.H;
  run_rows(a, lens, reverse, y.data_ptr<int8_t>(), hp, [&] {
    return [&, acc = std::vector<int64_t>(8 * H), c = std::vector<int16_t>(H)](int64_t b, int64_t t,
                                                                                 int8_t* h) mutable {
      ln::lstm_step(xp + (t * B + b) * I, hp + b * H, cp + b * H, wi, wh, bi, bh, I, H, static_cast<int>(qx),
                    static_cast<int>(qiw), static_cast<int>(qh), static_cast<int>(qhw), h, c.data(), acc.data());
      std::copy(c.begin(), c.end(), cp + b * H);
    };
  });
  return {y.to(x.device()), hT.to(x.device()), cT.to(x.device())};
}

std::tuple<at::Tensor, at::Tensor> gru_int(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih,
                                           const at::Tensor& w_hh, const c10::optional<at::Tensor>& b_ih,
                                           const c10::optional<at::Tensor>& b_hh, int64_t qx, int64_t qiw, int64_t qh,
                                           int64_t qhw, bool reverse, const c10::optional<at::Tensor>& lengths) {
  RnnArgs a = rnn_args("gru_int", 3, x, h0, w_ih, w_hh, b_ih, b_hh);
  const std::vector<int64_t> lens = rnn_lengths("gru_int", lengths, a);
  auto y = at::zeros({a.T, a.B, a.H}, a.x.options());  // steps past a row's length stay 0
  auto hT = a.h0.clone();
  const int8_t* xp = a.x.data_ptr<int8_t>();
  const int8_t* wi = a.w_ih.data_ptr<int8_t>();
  const int8_t* wh = a.w_hh.data_ptr<int8_t>();
  const int32_t* bi = a.b_ih.defined() ? a.b_ih.data_ptr<int32_t>() : nullptr;
  const int32_t* bh = a.b_hh.defined() ? a.b_hh.data_ptr<int32_t>() : nullptr;
  int8_t* hp = hT.data_ptr<int8_t>();
  const int64_t B = a.B, I = a.I, H = a.H;
  run_rows(a, lens, reverse, y.data_ptr<int8_t>(), hp, [&] {
    return [&, acc = std::vector<int64_t>(6 * H)](int64_t b, int64_t t, int8_t* h) mutable {
      ln::gru_step(xp + (t * B + b) * I, hp + b * H, wi, wh, bi, bh, I, H, static_cast<int>(qx),
                   static_cast<int>(qiw), static_cast<int>(qh), static_cast<int>(qhw), h, acc.data());
    };
  });
  return {y.to(x.device()), hT.to(x.device())};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(linger, m) {
  m.def("op_table() -> str[]", op_table);
  m.def("binary_int(Tensor a, Tensor b, int op, int qa, int qb, int qo) -> Tensor", binary_int);
  m.def("reduce_int(Tensor x, int op, int[] dims, bool keepdim, int qx, int qo, bool unbiased) -> Tensor", reduce_int);
  m.def("concat_int(Tensor[] xs, int dim, int[] qs, int qo) -> Tensor", concat_int);
  m.def("clamp_int(Tensor x, int lo, int hi) -> Tensor", clamp_int);
  m.def("lut_int(Tensor x, int op, int qx) -> Tensor", lut_int);
  m.def("softmax_int(Tensor x, int op, int dim, int qx, int qo) -> Tensor", softmax_int);
  m.def("bmm_int(Tensor a, Tensor b, int shift, int out_bits) -> Tensor", bmm_int);
  m.def("table_build(int fn, int qx, int qo, Tensor alpha) -> Tensor", table_build);
  m.def("table_int(Tensor x, Tensor table) -> Tensor", table_int);
  m.def("lstm_int(Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh, int qx, int qiw, "
        "int qh, int qhw, bool reverse, Tensor? lengths=None) -> (Tensor, Tensor, Tensor)", lstm_int);
  m.def("gru_int(Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh, int qx, int qiw, int qh, "
        "int qhw, bool reverse, Tensor? lengths=None) -> (Tensor, Tensor)", gru_int);
  m.def("resize_int(Tensor x, int out_h, int out_w, int mode, bool align_corners) -> Tensor", resize_int);
}
