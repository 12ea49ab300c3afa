"""Independent exact reference of LSTMInt / GRUInt (numerics.md "LSTMInt / GRUInt", written from the contract
and shared/reference/thinker-integer-runtime.md §2.2, not from linger's code), in Python integers, for tests only.

Codes are Python ints (nested lists / numpy int64 arrays in, numpy int64 arrays out); exponents plain ints.
"""
import numpy as np

from int_reference_arith import rhu_shift_int, sigmoid_q11, tanh_q11, to_q11


def _sat(v, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return min(max(int(v), lo), hi)


def _matvec(w, b, v):
    """[sum_k w[r][k] * v[k] + b[r]] in Python ints."""
    out = []
    for r in range(len(w)):
        acc = int(b[r]) if b is not None else 0
        for k in range(len(v)):
            acc += int(w[r][k]) * int(v[k])
        out.append(acc)
    return out


def _gate(gi, qi, gh, qhh):
    return _sat(to_q11(gi, qi) + to_q11(gh, qhh), 16)


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw):
    """One step of one row: returns (h_t int8 codes at qh, c_t int16 codes at Q7)."""
    H = len(h)
    gi = _matvec(w_ih, b_ih, x)
    gh = _matvec(w_hh, b_hh, h)
    qi, qhh = qx + qiw, qh + qhw
    h_new, c_new = [], []
    for u in range(H):
        i = sigmoid_q11(_gate(gi[u], qi, gh[u], qhh))
        f = sigmoid_q11(_gate(gi[H + u], qi, gh[H + u], qhh))
        g = tanh_q11(_gate(gi[2 * H + u], qi, gh[2 * H + u], qhh))
        o = sigmoid_q11(_gate(gi[3 * H + u], qi, gh[3 * H + u], qhh))
        c14 = f * int(c[u]) + i * g                      # Q7 * Q7 = Q14
        c_new.append(_sat(rhu_shift_int(c14, 7), 16))     # int16 at Q7
        tc = tanh_q11(_sat(rhu_shift_int(c14, 3), 16))    # Q14 -> Q11 -> table
        h_new.append(_sat(rhu_shift_int(o * tc, 14 - qh), 8))
    return h_new, c_new


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw):
    """One step of one row: returns h_t int8 codes at qh (h_{t-1} brought to Q7 by round half up)."""
    H = len(h)
    gi = _matvec(w_ih, b_ih, x)
    gh = _matvec(w_hh, b_hh, h)
    qi, qhh = qx + qiw, qh + qhw
    out = []
    for u in range(H):
        r = sigmoid_q11(_gate(gi[u], qi, gh[u], qhh))
        z = sigmoid_q11(_gate(gi[H + u], qi, gh[H + u], qhh))
        rh = _sat(rhu_shift_int(r * to_q11(gh[2 * H + u], qhh), 7), 16)   # Q7 * Q11 -> Q11
        n = tanh_q11(_sat(to_q11(gi[2 * H + u], qi) + rh, 16))
        h7 = _sat(rhu_shift_int(int(h[u]), qh - 7), 16)
        out.append(_sat(rhu_shift_int(z * h7 + (128 - z) * n, 14 - qh), 8))
    return out


def rnn_direction(kind, x, h0, c0, w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw, reverse=False):
    """x [T, B, I] codes; returns (y [T, B, H], h_T [B, H], c_T [B, H] or None) as int64 arrays.
    y[t] is the state after the step that reads x[t] (the reverse direction reads t = T-1 first)."""
    x = np.asarray(x, dtype=np.int64).tolist()
    w_ih = np.asarray(w_ih, dtype=np.int64).tolist()
    w_hh = np.asarray(w_hh, dtype=np.int64).tolist()
    b_ih = None if b_ih is None else np.asarray(b_ih, dtype=np.int64).tolist()
    b_hh = None if b_hh is None else np.asarray(b_hh, dtype=np.int64).tolist()
    T, B = len(x), len(x[0])
    H = len(w_hh[0])
    h = np.asarray(h0, dtype=np.int64).tolist()
    c = None if c0 is None else np.asarray(c0, dtype=np.int64).tolist()
    y = [[None] * B for _ in range(T)]
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        for b in range(B):
            if kind == "lstm":
                h[b], c[b] = lstm_step(x[t][b], h[b], c[b], w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw)
            else:
                h[b] = gru_step(x[t][b], h[b], w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw)
            y[t][b] = list(h[b])
    return (np.array(y, dtype=np.int64).reshape(T, B, H), np.array(h, dtype=np.int64).reshape(B, H),
            None if c is None else np.array(c, dtype=np.int64).reshape(B, H))
