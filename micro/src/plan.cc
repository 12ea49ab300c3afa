// Memory-plan validation. A buffer is a non-alias arena tensor; its lifetime is
// [def, last] in op indices: def = the op writing it (-1 for a graph input; the
// op using it for a scratch), last = the last op reading it or one of its
// aliases (op_count for a graph output). Buffers whose lifetimes intersect must
// not share a byte; an op must not read a buffer before it is written.
#include "plan.h"

namespace lm {

namespace {

constexpr int32_t kNever = 0x7fffffff;

struct Life {
  int32_t def;
  int32_t last;
};

uint32_t base_of(const lm_model& m, uint32_t t) {
  const Tensor ts = tensor_at(m, t);
  return ts.alias_of >= 0 ? static_cast<uint32_t>(ts.alias_of) : t;
}

uint32_t io_at(const lm_model& m, uint32_t i) { return rd32(m.file + m.io_offset + 4 * i); }

// Lifetime of buffer t (a non-alias arena tensor).
lm_status compute_life(const lm_model& m, uint32_t t, Life* life, lm_error* err) {
  int32_t def = kNever, last = -1;
  for (uint32_t i = 0; i < m.input_count; ++i)
    if (io_at(m, i) == t) def = -1;
  for (uint32_t i = 0; i < m.op_count; ++i) {
    const Op op = op_at(m, i);
    const int32_t oi = static_cast<int32_t>(i);
    if (op.out == static_cast<int32_t>(t) || op.scratch == static_cast<int32_t>(t)) {
      if (def != kNever)
        return report_plan(err, m, "a buffer is written by two ops, or is a graph input and written", oi,
                           static_cast<int32_t>(t));
      def = oi;
      if (op.scratch == static_cast<int32_t>(t)) {
        if (op.out == op.scratch) return report_plan(err, m, "scratch is also the output", oi, op.scratch);
        last = oi;
      }
    }
    for (int k = 0; k < op.num_inputs; ++k)
      if (op.in[k] >= 0 && base_of(m, static_cast<uint32_t>(op.in[k])) == t) {
        if (op.scratch == static_cast<int32_t>(t)) return report_plan(err, m, "scratch is also an input", oi, op.scratch);
        if (oi > last) last = oi;
      }
  }
  for (uint32_t i = 0; i < m.output_count; ++i)
    if (base_of(m, io_at(m, m.input_count + i)) == t) last = static_cast<int32_t>(m.op_count);
  life->def = def;
  life->last = last;
  return LM_OK;
}

bool is_buffer(const lm_model& m, uint32_t t) {
  const Tensor ts = tensor_at(m, t);
  return ts.storage == LPK_ARENA && ts.alias_of == -1;
}

struct Lives {
  const lm_model& m;
  int32_t* memo;
  lm_status get(uint32_t t, Life* life, lm_error* err) const {
    if (memo) {
      life->def = memo[2 * t];
      life->last = memo[2 * t + 1];
      return LM_OK;
    }
    return compute_life(m, t, life, err);
  }
};

}  // namespace

lm_status check_plan_with(const lm_model& m, lm_error* err, int32_t* memo) {
  lm_status s;
  if (memo)
    for (uint32_t t = 0; t < m.tensor_count; ++t) {
      Life l{kNever, -1};
      if (is_buffer(m, t) && (s = compute_life(m, t, &l, err)) != LM_OK) return s;
      memo[2 * t] = l.def;
      memo[2 * t + 1] = l.last;
    }
  const Lives lives{m, memo};
  // Reads after writes.
  for (uint32_t i = 0; i < m.op_count; ++i) {
    const Op op = op_at(m, i);
    for (int k = 0; k < op.num_inputs; ++k) {
      if (op.in[k] < 0 || tensor_at(m, static_cast<uint32_t>(op.in[k])).storage != LPK_ARENA) continue;
      Life l;
      if ((s = lives.get(base_of(m, static_cast<uint32_t>(op.in[k])), &l, err)) != LM_OK) return s;
      if (l.def >= static_cast<int32_t>(i))
        return report_plan(err, m, "an op reads a tensor before any op writes it", static_cast<int32_t>(i), op.in[k]);
    }
  }
  for (uint32_t i = 0; i < m.output_count; ++i) {
    const uint32_t t = io_at(m, m.input_count + i);
    Life l;
    if ((s = lives.get(base_of(m, t), &l, err)) != LM_OK) return s;
    if (l.def == kNever) return report_plan(err, m, "a graph output is never written", -1, static_cast<int32_t>(t));
  }
  // Live buffers never share bytes.
  for (uint32_t a = 0; a < m.tensor_count; ++a) {
    if (!is_buffer(m, a)) continue;
    Life la;
    if ((s = lives.get(a, &la, err)) != LM_OK) return s;
    if (la.def == kNever) continue;
    const int32_t a_end = la.last > la.def ? la.last : la.def;
    const Tensor ta = tensor_at(m, a);
    for (uint32_t b = a + 1; b < m.tensor_count; ++b) {
      if (!is_buffer(m, b)) continue;
      const Tensor tb = tensor_at(m, b);
      if (!(ta.offset < tb.offset + tb.nbytes && tb.offset < ta.offset + ta.nbytes)) continue;
      Life lb;
      if ((s = lives.get(b, &lb, err)) != LM_OK) return s;
      if (lb.def == kNever) continue;
      const int32_t b_end = lb.last > lb.def ? lb.last : lb.def;
      if (la.def <= b_end && lb.def <= a_end) {
        const int32_t op = la.def > lb.def ? la.def : lb.def;
        return report_plan(err, m, "two live buffers overlap in the arena", op >= 0 ? op : -1, static_cast<int32_t>(b));
      }
    }
  }
  return LM_OK;
}

lm_status check_plan(const lm_model& m, lm_error* err) {
  // Memo in the arena when it fits: it is unused until the first invoke.
  const uint64_t need = static_cast<uint64_t>(m.tensor_count) * 2u * sizeof(int32_t);
  int32_t* memo = (m.arena && need <= m.arena_size) ? reinterpret_cast<int32_t*>(m.arena) : nullptr;
  return check_plan_with(m, err, memo);
}

}  // namespace lm
