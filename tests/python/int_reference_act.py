"""Independent references of the TableInt activations and ResizeInt (include/linger/numerics/table.h, resize.h),
in Python Fractions / math, for tests only. Codes are Python ints; exponents plain ints."""
import math
from fractions import Fraction

import numpy as np


def _rhu(fr):
    return math.floor(Fraction(fr) + Fraction(1, 2))


def _sat8(v):
    return min(max(int(v), -128), 127)


def _x(c, qx):
    return Fraction(c) / Fraction(2) ** qx


def table_entry(fn, c, qx, qo, alpha=0.0):
    """The int8 code at Qo of f(c * 2^-qx), round half up, saturated."""
    x, s = _x(c, qx), Fraction(2) ** qo
    if fn == "hardsigmoid":
        return _sat8(_rhu(min(max(x / 6 + Fraction(1, 2), 0), 1) * s))
    if fn == "hardswish":
        return _sat8(_rhu(x * min(max(x + 3, 0), 6) / 6 * s))
    if fn in ("leaky_relu", "prelu"):
        a = Fraction(math.floor(alpha * 65536 + 0.5), 65536)  # the slope at Q16, round half up
        return _sat8(_rhu((x if c >= 0 else a * x) * s))
    xf = float(x)
    if fn == "silu":
        y = 0.0 if -xf > 700 else xf / (1 + math.exp(-xf))  # exp overflows: x / inf = -0
    elif fn == "gelu":
        y = 0.5 * xf * (1 + math.erf(xf / math.sqrt(2)))
    else:  # gelu_tanh
        y = 0.5 * xf * (1 + math.tanh(math.sqrt(2 / math.pi) * (xf + 0.044715 * xf * xf * xf)))
    return _sat8(math.floor(y * 2.0 ** qo + 0.5))


def table(fn, qx, qo, alpha=0.0):
    return np.array([table_entry(fn, c, qx, qo, alpha) for c in range(-128, 128)], dtype=np.int64)


def _nearest(d, n_in, n_out):
    return min(d * n_in // n_out, n_in - 1)


def _linear(d, n_in, n_out, ac):
    """(i0, i1, weight of i1 as an exact Fraction rounded to Q8 half up)."""
    if ac:
        p = Fraction(d * (n_in - 1), n_out - 1) if n_out > 1 else Fraction(0)
    else:
        p = max(Fraction(2 * d + 1, 2) * Fraction(n_in, n_out) - Fraction(1, 2), Fraction(0))
    i0 = min(math.floor(p), n_in - 1)
    i1 = min(i0 + 1, n_in - 1)
    return i0, i1, min(_rhu((p - i0) * 256), 256)


def resize(x, out_h, out_w, mode, ac=False):
    """x: int codes [N, C, H, W] -> [N, C, out_h, out_w]."""
    x = np.asarray(x, dtype=np.int64)
    n, c, h, w = x.shape
    y = np.zeros((n, c, out_h, out_w), dtype=np.int64)
    for oy in range(out_h):
        for ox in range(out_w):
            if mode == "nearest":
                y[:, :, oy, ox] = x[:, :, _nearest(oy, h, out_h), _nearest(ox, w, out_w)]
                continue
            y0, y1, ly = _linear(oy, h, out_h, ac)
            x0, x1, lx = _linear(ox, w, out_w, ac)
            acc = ((256 - ly) * ((256 - lx) * x[:, :, y0, x0] + lx * x[:, :, y0, x1])
                   + ly * ((256 - lx) * x[:, :, y1, x0] + lx * x[:, :, y1, x1]))
            y[:, :, oy, ox] = np.clip(np.floor_divide(acc + (1 << 15), 1 << 16), -128, 127)
    return y
