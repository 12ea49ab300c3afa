// MatVecInt8 (opt_matvec.h): packing and the ISA dispatch of the repeated matrix-vector product.
#include "opt_matvec.h"

#include <cstring>

#include "../../size_math.h"
#include "linger/numerics/lstm.h"
#include "opt_internal.h"

namespace linger {
namespace runtime {
namespace opt {

namespace {
// Largest k for which the int32 accumulation of k products of two int8 (each at most 2^14) cannot wrap.
constexpr int64_t kMaxInt32K = (int64_t{1} << 31) / (128 * 128) - 1;
}  // namespace

MatVecInt8::MatVecInt8(const int8_t* w, int64_t rows, int64_t k, Isa isa) : rows_(rows), k_(k) {
  isa_ = resolve_isa(isa);
  if (rows <= 0 || k <= 0 || k > kMaxInt32K) isa_ = Isa::kScalar;
  switch (isa_) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: {
      constexpr int64_t R = detail::avx512vnni::kMvRows;
      const int64_t blocks = (rows + R - 1) / R;
      kgroups_ = (k + 3) / 4;
      packed_.assign(static_cast<size_t>(sat_mul(sat_mul(blocks, R), kgroups_ * 4)), 0);
      comp_.assign(static_cast<size_t>(blocks * R), 0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = r / R, lane = r % R;
        uint32_t sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          const int8_t v = w[r * k + kk];
          packed_[static_cast<size_t>(((b * kgroups_ + kk / 4) * R + lane) * 4 + kk % 4)] = v;
          sum += static_cast<uint32_t>(int32_t{v});
        }
        comp_[static_cast<size_t>(r)] = static_cast<int32_t>(sum * 128u);  // mod 2^32, as the lanes wrap
      }
      return;
    }
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: {
      constexpr int64_t R = detail::avx2::kMvRows;
      const int64_t blocks = (rows + R - 1) / R;
      kgroups_ = (k + 1) / 2;
      packed16_.assign(static_cast<size_t>(sat_mul(sat_mul(blocks, R), kgroups_ * 2)), 0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = r / R, lane = r % R;
        for (int64_t kk = 0; kk < k; ++kk)
          packed16_[static_cast<size_t>(((b * kgroups_ + kk / 2) * R + lane) * 2 + kk % 2)] = w[r * k + kk];
      }
      return;
    }
#endif
    default:
      isa_ = Isa::kScalar;
      w_.assign(w, w + sat_mul(rows, k));
      return;
  }
}

int64_t MatVecInt8::scratch_words() const { return isa_ == Isa::kScalar ? 0 : sat_add(rows_, kgroups_); }

void MatVecInt8::run32(const int8_t* v, int32_t* acc, int32_t* scratch) const {
  if (rows_ <= 0) return;
  switch (isa_) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: {
      uint8_t* vu = reinterpret_cast<uint8_t*>(scratch);  // kgroups_ quads of u8 = v + 128
      for (int64_t kk = 0; kk < k_; ++kk) vu[kk] = static_cast<uint8_t>(static_cast<uint8_t>(v[kk]) ^ 0x80u);
      for (int64_t kk = k_; kk < kgroups_ * 4; ++kk) vu[kk] = 0x80u;
      detail::avx512vnni::matvec_packed(packed_.data(), comp_.data(), vu, rows_, kgroups_, acc);
      return;
    }
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: {
      for (int64_t p = 0; p < kgroups_; ++p) {  // kgroups_ int16 pairs
        const int64_t k0 = 2 * p, k1 = 2 * p + 1;
        const uint32_t lo = static_cast<uint16_t>(static_cast<int16_t>(v[k0]));
        const uint32_t hi = k1 < k_ ? static_cast<uint16_t>(static_cast<int16_t>(v[k1])) : 0u;
        scratch[p] = static_cast<int32_t>(lo | (hi << 16));
      }
      detail::avx2::matvec_packed(packed16_.data(), scratch, rows_, kgroups_, acc);
      return;
    }
#endif
    default:
      for (int64_t r = 0; r < rows_; ++r) {
        uint32_t a = 0;
        for (int64_t kk = 0; kk < k_; ++kk)
          a += static_cast<uint32_t>(int32_t{w_[static_cast<size_t>(r * k_ + kk)]} * int32_t{v[kk]});
        acc[r] = static_cast<int32_t>(a);
      }
      return;
  }
}

void MatVecInt8::run(const int8_t* v, const int32_t* bias, int64_t* acc, int32_t* scratch) const {
  if (rows_ <= 0) return;
  if (isa_ == Isa::kScalar) {
    numerics::rnn_matvec(w_.data(), bias, v, rows_, k_, acc);
    return;
  }
  int32_t* c = scratch;  // rows_ int32, then run32's own kgroups_ words
  run32(v, c, scratch + rows_);
  for (int64_t r = 0; r < rows_; ++r) acc[r] = int64_t{c[r]} + (bias ? bias[r] : 0);
}

Conv1dFramesInt8::Conv1dFramesInt8(const int8_t* w, int64_t o, int64_t c, int64_t k, Isa isa)
    : o_(o), c_(c), k_(k) {
  isa_ = resolve_isa(isa);
  if (o <= 0 || c <= 0 || k <= 0 || k % 4 != 0) return;
  const int64_t kdim = sat_mul(c, k);
  kquads_ = kdim / 4;
  switch (isa_) {
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    case Isa::kAvx512Vnni: {
      namespace vn = detail::avx512vnni;
      const int64_t rows = (o + vn::kMr - 1) / vn::kMr * vn::kMr;
      packed_.assign(static_cast<size_t>(sat_mul(rows, kdim)), 0);
      comp_.assign(static_cast<size_t>(rows), 0);
      vn::pack_a(w, kdim, o, kdim, packed_.data(), comp_.data());
      ok_ = true;
      return;
    }
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
    case Isa::kAvx2: {
      namespace av = detail::avx2;
      const int64_t rows = (o + av::kMr - 1) / av::kMr * av::kMr;
      packed16_.assign(static_cast<size_t>(sat_mul(rows, kdim)), 0);
      av::pack_a(w, kdim, o, kdim, packed16_.data());
      ok_ = true;
      return;
    }
#endif
    default:
      (void)w;
      return;
  }
}

bool Conv1dFramesInt8::stage_ok(const OutputStage& out) {
  return out.out_bits == 8 && out.shift >= 0 && out.shift <= 63 && out.lo <= out.hi && out.hi >= -128 &&
         out.lo <= 127;
}

int64_t Conv1dFramesInt8::scratch_words(int64_t t_out) const {
  const int64_t cols = t_out < 32 ? t_out : 32;  // one panel of columns at a time (VNNI 32, AVX2 16)
  // B panel: kquads * 32 words (VNNI u8 quads; AVX2: 2 * kquads pairs x 16 columns of int16 = the same bytes)
  return sat_add(sat_mul(kquads_, 32), sat_mul(o_, cols));
}

void Conv1dFramesInt8::run(const int8_t* x, int64_t l, const int32_t* bias, int8_t* y, const OutputStage& out,
                           int32_t* scratch) const {
#if defined(LINGER_OPT_HAVE_AVX2)
  const int64_t t_out = l / k_, kdim = c_ * k_;
  const int64_t acc_max = kdim < (int64_t{1} << 17) ? kdim * 16384 : int64_t{INT32_MAX};
  const int32_t lo = out.lo < -128 ? -128 : out.lo, hi = out.hi > 127 ? 127 : out.hi;
  int32_t* cacc = scratch + kquads_ * 32;  // [o][nv]
  const int64_t panel = isa_ == Isa::kAvx512Vnni ? 32 : 16;
  for (int64_t j0 = 0; j0 < t_out; j0 += panel) {
    const int64_t nv = t_out - j0 < panel ? t_out - j0 : panel;
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
    if (isa_ == Isa::kAvx512Vnni) {
      // k-quad q = channel q / (k / 4), taps 4 (q % (k / 4)) .. + 3: 4 bytes of the input row per column
      const int64_t kq = k_ / 4;
      uint32_t* bp = reinterpret_cast<uint32_t*>(scratch);  // [kquads][32] words of 4 u8 (b + 128)
      for (int64_t q = 0; q < kquads_; ++q) {
        const int8_t* src = x + (q / kq) * l + j0 * k_ + 4 * (q % kq);
        uint32_t* d = bp + q * 32;
        for (int64_t j = 0; j < nv; ++j) {
          uint32_t v;
          std::memcpy(&v, src + j * k_, 4);
          d[j] = v ^ 0x80808080u;
        }
        for (int64_t j = nv; j < 32; ++j) d[j] = 0x80808080u;  // offset zero past the columns
      }
      detail::avx512vnni::gemm_packed(packed_.data(), comp_.data(), reinterpret_cast<const uint8_t*>(bp), o_, nv,
                                      kdim, cacc, nv);
    }
#endif
    if (isa_ == Isa::kAvx2) {
      // k-pair p = channel p / (k / 2), taps 2 (p % (k / 2)) and + 1, as int16, 16 columns
      const int64_t kp = k_ / 2;
      int16_t* bp = reinterpret_cast<int16_t*>(scratch);  // [2 * kquads][16][2] int16
      for (int64_t p = 0; p < 2 * kquads_; ++p) {
        const int8_t* src = x + (p / kp) * l + j0 * k_ + 2 * (p % kp);
        int16_t* d = bp + p * 32;
        for (int64_t j = 0; j < 16; ++j) {
          d[2 * j] = j < nv ? src[j * k_] : int16_t{0};
          d[2 * j + 1] = j < nv ? src[j * k_ + 1] : int16_t{0};
        }
      }
      detail::avx2::gemm_packed(packed16_.data(), bp, o_, nv, kdim, cacc, nv);
    }
    for (int64_t oc = 0; oc < o_; ++oc)
      detail::avx2::requant_row_s8(cacc + oc * nv, nv, bias ? bias[oc] : 0, lo, hi, out.shift, y + oc * t_out + j0,
                                   acc_max);
  }
#else
  (void)x, (void)l, (void)bias, (void)y, (void)out, (void)scratch;
#endif
}

int64_t gru_cell_vector(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh,
                        int64_t hidden, int qi, int qhh, int qh, const int8_t* h_prev, int8_t* h_out,
                        const ActTables& t, Isa isa) {
  int64_t done = 0;
#if defined(LINGER_OPT_HAVE_AVX512VNNI)
  if (resolve_isa(isa) == Isa::kAvx512Vnni)
    done = detail::avx512vnni::gru_cell_s32(gi32, b_ih, gh32, b_hh, hidden, hidden, qi, qhh, qh, h_prev, h_out, t.sig,
                                            t.sig_lo, t.sig_hi, t.tanh, t.tanh_lo, t.tanh_hi);
#endif
#if defined(LINGER_OPT_HAVE_AVX2)
  if (resolve_isa(isa) != Isa::kScalar && done < hidden) {  // the rest from unit `done` on, 8 at a time
    const auto off = [done](const int32_t* p) { return p ? p + done : nullptr; };
    done += detail::avx2::gru_cell_s32(off(gi32), off(b_ih), off(gh32), off(b_hh), hidden, hidden - done, qi, qhh, qh,
                                       h_prev + done, h_out + done, t.sig, t.sig_lo, t.sig_hi, t.tanh, t.tanh_lo,
                                       t.tanh_hi);
  }
  return done;
#else
  (void)gi32, (void)b_ih, (void)gh32, (void)b_hh, (void)hidden, (void)qi, (void)qhh, (void)qh, (void)h_prev,
      (void)h_out, (void)t, (void)isa;
  return done;
#endif
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
