"""Independent int64 numpy reference of the integer contract (numerics.md), for tests only."""
import numpy as np


def rhu_shift(v, s):
    v = np.asarray(v, dtype=object)
    if s > 0:
        return np.vectorize(lambda a: (2 * int(a) + (1 << s)) // (1 << (s + 1)), otypes=[object])(v)
    return np.vectorize(lambda a: int(a) * (1 << (-s)), otypes=[object])(v)


def sat(v, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.vectorize(lambda a: min(max(int(a), lo), hi), otypes=[object])(v)


def wrap32(v):
    return np.vectorize(lambda a: ((int(a) + (1 << 31)) % (1 << 32)) - (1 << 31), otypes=[object])(v)


def quantize(x, q, bits):
    import math
    x = np.asarray(x, dtype=np.float64)
    f = np.vectorize(lambda a: math.floor(a * (2.0 ** q) + 0.5), otypes=[object])(x)
    return sat(f, bits)


def conv2d(x, w, b, stride, pad, dil, groups):
    """Exact int64 conv accumulation, NCHW; pad = (top, left, bottom, right)."""
    x = np.asarray(x, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    n, c, h, wd = x.shape
    o, cpg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pad[0] + pad[2], wd + pad[1] + pad[3]), dtype=np.int64)
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    oh = (h + pad[0] + pad[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pad[1] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow), dtype=np.int64)
    opg = o // groups
    for oc in range(o):
        g = oc // opg
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[:, g * cpg:(g + 1) * cpg, ky * dil[0]:ky * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                           kx * dil[1]:kx * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, ky, kx])
    if b is not None:
        pass
    return out


def conv2d_int(x, w, b, stride, pad, dil, groups, shift, out_bits=8, relu=False):
    acc = wrap32(conv2d(x, w, None, stride, pad, dil, groups))
    if b is not None:
        acc = acc + np.asarray(b, dtype=object).reshape(1, -1, 1, 1)
    acc = sat(acc, 32)
    if relu:
        acc = np.vectorize(lambda a: max(int(a), 0), otypes=[object])(acc)
    return sat(rhu_shift(acc, shift), out_bits).astype(np.int64)


def linear_int(x, w, b, shift, out_bits):
    acc = np.asarray(x, dtype=np.int64) @ np.asarray(w, dtype=np.int64).T
    if b is not None:
        acc = acc + np.asarray(b, dtype=np.int64)
    if out_bits == 0:
        return acc
    return sat(rhu_shift(acc, shift), out_bits).astype(np.int64)


def avgpool2d_int(x, k, s, p, ceil_mode=False):
    x = np.asarray(x, dtype=np.int64)
    n, c, h, w = x.shape

    def osz(i, kk, ss, pp):
        span = i + 2 * pp - kk
        o = (-(-span // ss) if ceil_mode else span // ss) + 1
        if ceil_mode and (o - 1) * ss >= i + pp:
            o -= 1
        return o
    oh, ow = osz(h, k[0], s[0], p[0]), osz(w, k[1], s[1], p[1])
    out = np.zeros((n, c, oh, ow), dtype=np.int64)
    area = k[0] * k[1]
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * s[0] - p[0], ox * s[1] - p[1]
            win = x[:, :, max(y0, 0):min(y0 + k[0], h), max(x0, 0):min(x0 + k[1], w)]
            ssum = win.sum(axis=(2, 3))
            out[:, :, oy, ox] = np.floor_divide(2 * ssum + area, 2 * area)
    return np.clip(out, -128, 127)


def iqadd(a, b, sa, sb):
    a2 = sat(rhu_shift(np.asarray(a, dtype=np.int64), sa), 8)
    b2 = sat(rhu_shift(np.asarray(b, dtype=np.int64), sb), 8)
    return sat(a2 + b2, 8).astype(np.int64)


def convtranspose2d(x, w, stride, pad, out_pad, dil, groups):
    """Exact int64 transposed conv by scatter; w [C, O/g, kh, kw]; pad = (top, left, bottom, right)."""
    x = np.asarray(x, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    n, c, h, wd = x.shape
    _, opg, kh, kw = w.shape
    o = opg * groups
    fh = (h - 1) * stride[0] + dil[0] * (kh - 1) + 1 + out_pad[0]
    fw = (wd - 1) * stride[1] + dil[1] * (kw - 1) + 1 + out_pad[1]
    full = np.zeros((n, o, fh, fw), dtype=np.int64)
    cpg = c // groups
    for ci in range(c):
        g = ci // cpg
        for ky in range(kh):
            for kx in range(kw):
                contrib = np.einsum("nhw,o->nohw", x[:, ci], w[ci, :, ky, kx])
                full[:, g * opg:(g + 1) * opg, ky * dil[0]:ky * dil[0] + stride[0] * (h - 1) + 1:stride[0],
                     kx * dil[1]:kx * dil[1] + stride[1] * (wd - 1) + 1:stride[1]] += contrib
    oh = (h - 1) * stride[0] - pad[0] - pad[2] + dil[0] * (kh - 1) + out_pad[0] + 1
    ow = (wd - 1) * stride[1] - pad[1] - pad[3] + dil[1] * (kw - 1) + out_pad[1] + 1
    return full[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]


def convtranspose2d_int(x, w, b, stride, pad, out_pad, dil, groups, shift, out_bits=8):
    acc = wrap32(convtranspose2d(x, w, stride, pad, out_pad, dil, groups))
    if b is not None:
        acc = acc + np.asarray(b, dtype=object).reshape(1, -1, 1, 1)
    return sat(rhu_shift(sat(acc, 32), shift), out_bits).astype(np.int64)


def batchnorm_int(x, w, b, shift, out_bits=8):
    x = np.asarray(x, dtype=np.int64)
    shape = [1, -1] + [1] * (x.ndim - 2)
    acc = x * np.asarray(w, dtype=np.int64).reshape(shape) + np.asarray(b, dtype=np.int64).reshape(shape)
    return sat(rhu_shift(acc, shift), out_bits).astype(np.int64)
