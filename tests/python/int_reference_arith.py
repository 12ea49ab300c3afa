"""Independent exact references of linger's tensor arithmetic (numerics.md §3, the headers' comments and
shared/reference/luna-sigmoid-tanh-tables.md), in Python integers / fractions, for tests only.

Every function takes and returns integer codes (numpy int64 arrays); exponents are plain ints."""
import math
from fractions import Fraction

import numpy as np


def _i(v):
    return np.asarray(v, dtype=np.int64)


def sat(v, bits=8):
    """Saturate (Python ints of any size, so an exact left shift never wraps) -> int64."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = np.asarray(v, dtype=object)
    return np.vectorize(lambda a: min(max(int(a), lo), hi), otypes=[np.int64])(v).reshape(v.shape)


def rhu(fr):
    """floor(fr + 1/2) for a Fraction / int (round half up)."""
    return math.floor(Fraction(fr) + Fraction(1, 2))


def rhu_shift_int(v, s):
    """floor(v / 2^s + 1/2) for s > 0, v for s == 0, v * 2^-s for s < 0 (Python ints, exact)."""
    return rhu(Fraction(int(v), 1) / Fraction(2) ** s) if s > 0 else int(v) * (1 << (-s))


def rhu_shift(v, s):
    """Elementwise rhu_shift_int; an object array of Python ints (exact for any shift)."""
    v = np.asarray(v, dtype=object)
    return np.vectorize(lambda a: rhu_shift_int(int(a), s), otypes=[object])(v).reshape(v.shape)


def quantize_value(x, q, bits=8):
    """sat(floor(x * 2^q + 1/2)) of one float, exactly (x as its exact binary value)."""
    if math.isinf(x):
        return (1 << (bits - 1)) - 1 if x > 0 else -(1 << (bits - 1))
    v = rhu(Fraction(x) * Fraction(2) ** q)
    return int(min(max(v, -(1 << (bits - 1))), (1 << (bits - 1)) - 1))


def scalar_exponent(c, bits=8):
    """The largest Q with |c| * 2^Q <= 2^(bits-1) - 1 (c != 0), searched exactly."""
    c = Fraction(abs(float(c)))
    bound = (1 << (bits - 1)) - 1
    q = 0
    while c * Fraction(2) ** q > bound:
        q -= 1
    while c * Fraction(2) ** (q + 1) <= bound:
        q += 1
    return q


def iqmul(a, b, qa, qb, qo):
    a, b = np.broadcast_arrays(_i(a), _i(b))
    return sat(rhu_shift(a * b, qa + qb - qo))  # |a*b| <= 2^14: exact in int64


def iqadd(a, b, qa, qb, qo):
    a, b = np.broadcast_arrays(_i(a), _i(b))
    return sat(sat(rhu_shift(a, qa - qo)) + sat(rhu_shift(b, qb - qo)))


def _div1(a, b, s):
    a, b = int(a), int(b)
    if b == 0:
        return 127 if a > 0 else (-128 if a < 0 else 0)
    v = rhu(Fraction(a, b) * Fraction(2) ** s)
    return min(max(v, -128), 127)


def iqdiv(a, b, qa, qb, qo):
    """sat8(floor(a / b * 2^(Qo - Qa + Qb) + 1/2)), exact; b == 0 saturates by the sign of a, 0/0 = 0."""
    a, b = np.broadcast_arrays(_i(a), _i(b))
    s = qo - qa + qb
    out = np.array([_div1(x, y, s) for x, y in zip(a.reshape(-1), b.reshape(-1))], dtype=np.int64)
    return out.reshape(a.shape)


def _rows(x, dims):
    """x with the reduced dims moved last and flattened: (kept shape, [rows, n])."""
    x = _i(x)
    dims = sorted(d % max(x.ndim, 1) for d in dims) if x.ndim else []
    keep = [d for d in range(x.ndim) if d not in dims]
    xt = np.transpose(x, keep + dims) if x.ndim else x
    kshape = [x.shape[d] for d in keep]
    n = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    return kshape, xt.reshape(-1, n), dims


def _keepdim_shape(shape, dims, keepdim):
    if not keepdim:
        return [s for d, s in enumerate(shape) if d not in dims]
    return [1 if d in dims else s for d, s in enumerate(shape)]


def iqsum(x, dims, keepdim, qx, qo):
    x = _i(x)
    dims = list(range(x.ndim)) if dims is None else list(dims)
    _, rows, dd = _rows(x, dims)
    out = [min(max(rhu_shift_int(int(r.sum()), qx - qo), -128), 127) for r in rows]
    return np.array(out, dtype=np.int64).reshape(_keepdim_shape(x.shape, dd, keepdim))


def iqvar(x, dims, keepdim, unbiased, qx, qo):
    """floor(var(x * 2^-qx) * 2^qo + 1/2) exactly (a Fraction), saturated; one element unbiased gives 0."""
    x = _i(x)
    dims = list(range(x.ndim)) if dims is None else list(dims)
    _, rows, dd = _rows(x, dims)
    out = []
    for r in rows:
        n = len(r)
        m = n - (1 if unbiased else 0)
        if m <= 0:
            out.append(0)
            continue
        mean = Fraction(int(r.sum()), n)
        ss = sum((Fraction(int(v)) - mean) ** 2 for v in r)
        var = ss / m * Fraction(2) ** (qo - 2 * qx)
        out.append(min(max(rhu(var), -128), 127))
    return np.array(out, dtype=np.int64).reshape(_keepdim_shape(x.shape, dd, keepdim))


def iqcat(xs, qs, qo, dim):
    return np.concatenate([sat(rhu_shift(_i(x), q - qo)) for x, q in zip(xs, qs)], axis=dim)


def iqclamp(x, qx, lo=None, hi=None):
    lo_i = -128 if lo is None else quantize_value(float(lo), qx)
    hi_i = 127 if hi is None else quantize_value(float(hi), qx)
    return np.clip(_i(x), lo_i, hi_i), lo_i, hi_i


def bmm(a, b, qa, qb, qo):
    acc = np.matmul(_i(a), _i(b))  # |a*b| <= 2^14: exact in int64 for any practical inner size
    return sat(rhu_shift(acc, qa + qb - qo))


# --- the NPU tables (luna-sigmoid-tanh-tables.md), written out again independently -----------------------

SIG_BANDS = [0, 971, 1699, 2347, 2974, 3614, 4291, 5026, 5861, 6831, 7864, 8987, 10375, 11594, 13168, 14730, 32768]
SIG_SLOPES = [32316, 29471, 25891, 22068, 18225, 29057, 22206, 16113, 10881, 27353, 16611, 9242, 4618, 20670, 8610, 693]
SIG_BIAS_POS = [16384, 16721, 17464, 18559, 19954, 21585, 23380, 25249, 27121, 28807, 30096, 31107, 31839, 32199,
                32502, 32724]
SIG_BIAS_NEG = [16384, 16047, 15304, 14209, 12814, 11183, 9388, 7519, 5647, 3961, 2672, 1661, 929, 569, 266, 44]
TANH_BANDS = [0, 512, 888, 1226, 1558, 1899, 2264, 2670, 3146, 3734, 4297, 4761, 5466, 6151, 7193, 8093, 32768]
TANH_SLOPES = [32266, 29154, 25374, 21309, 17272, 26886, 19904, 13765, 8599, 19497, 12047, 7324, 3373, 26820, 5531, 337]
TANH_BIAS = [0, 778, 2417, 4851, 7922, 11474, 15334, 19335, 23303, 26699, 28653, 30026, 31344, 31981, 32565, 32725]


def _segment(bands, a):
    for j in range(1, 17):
        if a <= bands[j]:
            return j
    raise AssertionError(a)


def _shift(j, shifts):
    return shifts[0] if j <= 5 else shifts[1] if j <= 9 else shifts[2] if j <= 13 else shifts[3]


def sigmoid_q11(x):
    x = int(x)
    j = _segment(SIG_BANDS, abs(x))
    y15 = (SIG_SLOPES[j - 1] * x) // (1 << _shift(j, (13, 14, 16, 19)))
    y15 += SIG_BIAS_POS[j - 1] if x >= 0 else SIG_BIAS_NEG[j - 1]
    return min(max((y15 + 128) // 256, 0), 127)


def tanh_q11(x):
    x = int(x)
    a = 32767 if x == -32768 else abs(x)
    j = _segment(TANH_BANDS, a)
    sh = 1 << _shift(j, (11, 12, 14, 18))
    if x >= 0:
        y15 = (TANH_SLOPES[j - 1] * a) // sh + TANH_BIAS[j - 1]
    else:
        y15 = (-TANH_SLOPES[j - 1] * a) // sh - TANH_BIAS[j - 1]
    return min(max((y15 + 128) // 256, -128), 127)


def to_q11(x, qx):
    return min(max(rhu_shift_int(int(x), qx - 11), -32768), 32767)


def iqsigmoid(x, qx):
    x = _i(x)
    return np.vectorize(lambda v: sigmoid_q11(to_q11(v, qx)), otypes=[np.int64])(x).reshape(x.shape)


def iqtanh(x, qx):
    x = _i(x)
    return np.vectorize(lambda v: tanh_q11(to_q11(v, qx)), otypes=[np.int64])(x).reshape(x.shape)


def iqmean(x, dims, keepdim, qx, qo):
    """floor(mean(x) * 2^(qo - qx) + 1/2) exactly (a Fraction), saturated."""
    x = _i(x)
    dims = list(range(x.ndim)) if dims is None else list(dims)
    _, rows, dd = _rows(x, dims)
    out = [min(max(rhu(Fraction(int(r.sum()), len(r)) * Fraction(2) ** (qo - qx)), -128), 127) for r in rows]
    return np.array(out, dtype=np.int64).reshape(_keepdim_shape(x.shape, dd, keepdim))


def layernorm_eps_q(eps, qx, count):
    return min(rhu(Fraction(eps) * Fraction(2) ** (2 * qx) * count * count), 1 << 52)


def layernorm_rows(rows, gamma, beta, inner, eps_q, shift):
    """LayerNormInt on rows [R, T] (include/linger/numerics/layernorm.h): gamma/beta [R, T/inner] per row.
    sqrt by math.isqrt; every step in Python integers."""
    out = np.zeros(rows.shape, dtype=np.int64)
    for k, r in enumerate(_i(rows)):
        t = len(r)
        s1 = sum(int(v) for v in r)
        s2 = sum(int(v) * int(v) for v in r)
        d = t * s2 - s1 * s1 + int(eps_q)
        f = min(24, (62 - d.bit_length()) // 2)
        root = math.isqrt(d << (2 * f))
        for i, v in enumerate(r):
            num = t * int(v) - s1
            n = 0 if root == 0 else min(max(rhu(Fraction(num * (1 << (10 + f)), root)), -32768), 32767)
            c = i // inner
            acc = min(max(n * int(gamma[k][c]) + int(beta[k][c]), -(1 << 31)), (1 << 31) - 1)
            out[k, i] = min(max(rhu_shift_int(acc, shift), -128), 127)
    return out


def layernorm(x, gamma, beta, eps, qx, qw, qo):
    """LayerNormInt over the trailing dims that gamma covers."""
    x = _i(x)
    count = int(np.prod(gamma.shape))
    rows = x.reshape(-1, count)
    g = np.broadcast_to(_i(gamma).reshape(1, -1), rows.shape)
    b = np.broadcast_to(_i(beta).reshape(1, -1), rows.shape)
    return layernorm_rows(rows, g, b, 1, layernorm_eps_q(eps, qx, count), 10 + qw - qo).reshape(x.shape)


def groupnorm(x, groups, gamma, beta, eps, qx, qw, qo):
    """GroupNormInt: x [N, C, ...], rows of C/groups channels."""
    x = _i(x)
    n, c = x.shape[0], x.shape[1]
    inner = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
    rows = x.reshape(n * groups, (c // groups) * inner)
    g = np.tile(_i(gamma).reshape(groups, c // groups), (n, 1))
    b = np.tile(_i(beta).reshape(groups, c // groups), (n, 1))
    eq = layernorm_eps_q(eps, qx, rows.shape[1])
    return layernorm_rows(rows, g, b, inner, eq, 10 + qw - qo).reshape(x.shape)


def adaptive_avgpool2d(x, oh, ow):
    """PyTorch's adaptive windows [floor(i*h/oh), ceil((i+1)*h/oh)); each floor(S/k + 1/2) exactly, saturated."""
    x = _i(x)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        y0, y1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            x0, x1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            win = x[:, :, y0:y1, x0:x1]
            k = (y1 - y0) * (x1 - x0)
            for a in range(n):
                for b in range(c):
                    out[a, b, i, j] = min(max(rhu(Fraction(int(win[a, b].sum()), k)), -128), 127)
    return out
