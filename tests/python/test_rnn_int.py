"""LSTMInt / GRUInt: the integer recurrence against the independent reference (tests/python/int_reference_rnn.py),
per time step with tolerance 0; eval vs reference for the module in every configuration; train vs eval; gradients;
linger.init replacement and error messages."""
import itertools
import os
import zlib

import numpy as np
import pytest
import torch
import torch.nn as nn

import linger
from linger._ext import ops

import int_reference as R
from int_reference_arith import scalar_exponent
from int_reference_rnn import rnn_direction


SEED = int(os.environ.get("LINGER_RNN_TEST_SEED", "0"))  # fixed; other values explore more cases


def _rand_int(shape, lo, hi, g):
    return torch.randint(lo, hi + 1, shape, generator=g)


# ---- the torch op (the shared header) against the reference ---------------------------------------------------

@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("exps", [(5, 6, 7, 6), (3, 4, 8, 3), (7, 7, 6, 8), (2, 2, 9, 10), (6, 9, 7, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_op_matches_reference_per_step(kind, reverse, exps, bias):
    """qx+qiw and qh+qhw below 11 (exact left shift), equal to and above 11 (rounded shift); biases wide enough to
    saturate the int16 gate sum; the cell state near the int16 limits."""
    g = torch.Generator().manual_seed(zlib.crc32(repr((kind, reverse, exps, bias, SEED)).encode()))
    qx, qiw, qh, qhw = exps
    T, B, I, H = 6, 3, 5, 4
    G = 4 if kind == "lstm" else 3
    # amplitudes that put typical gate sums near 1 (so the tables see their whole range), a few values at
    # the int8 limits, and biases up to 4x the full scale (saturating the int16 gate sum)
    ai = max(1, min(127, int((2.0 ** (qx + qiw) / I) ** 0.5)))
    ah = max(1, min(127, int(2.0 ** (qh + qhw) / (H * 64))))
    x = _rand_int((T, B, I), -ai, ai, g).to(torch.int8)
    x[0, 0, 0], x[-1, -1, -1] = 127, -128
    w_ih = _rand_int((G * H, I), -ai, ai, g).to(torch.int8)
    w_hh = _rand_int((G * H, H), -ah, ah, g).to(torch.int8)
    w_hh[0, 0], w_ih[-1, -1] = -128, 127
    bi_hi, bh_hi = 1 << min(30, qx + qiw + 2), 1 << min(30, qh + qhw + 2)
    b_ih = _rand_int((G * H,), -bi_hi, bi_hi, g).to(torch.int32) if bias else None
    b_hh = _rand_int((G * H,), -bh_hi, bh_hi, g).to(torch.int32) if bias else None
    h0 = _rand_int((B, H), -128, 127, g).to(torch.int8)
    c0 = _rand_int((B, H), -32768, 32767, g).to(torch.int16)
    if kind == "lstm":
        y, hT, cT = ops.lstm_int(x, h0, c0, w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw, reverse)
    else:
        y, hT = ops.gru_int(x, h0, w_ih, w_hh, b_ih, b_hh, qx, qiw, qh, qhw, reverse)
        cT = None
    ry, rh, rc = rnn_direction(kind, x.numpy(), h0.numpy(), c0.numpy() if kind == "lstm" else None, w_ih.numpy(),
                               w_hh.numpy(), None if b_ih is None else b_ih.numpy(),
                               None if b_hh is None else b_hh.numpy(), qx, qiw, qh, qhw, reverse)
    for t in range(T):  # per time step, tolerance 0
        np.testing.assert_array_equal(y[t].numpy().astype(np.int64), ry[t], err_msg=f"step {t}")
    np.testing.assert_array_equal(hT.numpy().astype(np.int64), rh)
    if kind == "lstm":
        np.testing.assert_array_equal(cT.numpy().astype(np.int64), rc)
    assert len(np.unique(ry)) > 3  # the case exercises the tables, not a saturated constant


def test_lstm_cell_extremes_saturate_like_the_reference():
    """All-max inputs and weights: every gate sum saturates at int16, the cell state at int16."""
    T, B, I, H = 4, 1, 3, 2
    x = torch.full((T, B, I), 127, dtype=torch.int8)
    w = torch.full((4 * H, I), 127, dtype=torch.int8)
    wh = torch.full((4 * H, H), -128, dtype=torch.int8)
    h0 = torch.full((B, H), -128, dtype=torch.int8)
    c0 = torch.full((B, H), 32767, dtype=torch.int16)
    y, hT, cT = ops.lstm_int(x, h0, c0, w, wh, None, None, 0, 0, 7, 0, False)
    ry, rh, rc = rnn_direction("lstm", x.numpy(), h0.numpy(), c0.numpy(), w.numpy(), wh.numpy(), None, None, 0, 0, 7,
                               0)
    np.testing.assert_array_equal(y.numpy(), ry)
    np.testing.assert_array_equal(cT.numpy(), rc)


# ---- the module: eval forward against the reference ----------------------------------------------------------

CONFIGS = [dict(bidirectional=bd, batch_first=bf, num_layers=nl, hx=hx)
           for bd, bf, nl, hx in itertools.product([False, True], [False, True], [1, 2], [False, True])]


def _make(kind, cfg, I=5, H=4):
    cls = linger.LSTMInt if kind == "lstm" else linger.GRUInt
    return cls(I, H, num_layers=cfg["num_layers"], batch_first=cfg["batch_first"],
               bidirectional=cfg["bidirectional"], o_bits=8)


def _inputs(kind, cfg, T=5, B=3, I=5, H=4):
    x = torch.randn(T, B, I) * 2
    if cfg["batch_first"]:
        x = x.transpose(0, 1).contiguous()
    D = 2 if cfg["bidirectional"] else 1
    hx = None
    if cfg["hx"]:
        h0 = torch.rand(cfg["num_layers"] * D, B, H) - 0.5
        c0 = (torch.rand(cfg["num_layers"] * D, B, H) - 0.5) * 3
        hx = (h0, c0) if kind == "lstm" else h0
    return x, hx


def _reference_module(m, kind, x, hx):
    """The module's eval integers, computed by the reference from its parameters and statistics with the
    exponent rule applied here (largest Q with max|v| * 2^Q <= 127)."""
    xs = x.transpose(0, 1) if m.batch_first else x
    D = 2 if m.bidirectional else 1
    G = 4 if kind == "lstm" else 3
    feats = xs.numpy().astype(np.float64)
    hs, cs = [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(D):
            sfx = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d and not m.unified else "")
            psfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih = getattr(m, "weight_ih" + psfx).detach().numpy().astype(np.float64)
            w_hh = getattr(m, "weight_hh" + psfx).detach().numpy().astype(np.float64)
            b_ih = getattr(m, "bias_ih" + psfx).detach().numpy().astype(np.float64)
            b_hh = getattr(m, "bias_hh" + psfx).detach().numpy().astype(np.float64)
            qx = scalar_exponent(float(getattr(m, "running_i" + sfx)))
            qo = scalar_exponent(float(getattr(m, "running_o" + sfx)))
            qiw = scalar_exponent(np.abs(w_ih).max())
            qhw = scalar_exponent(np.abs(w_hh).max())
            xi = R.quantize(feats, qx, 8).astype(np.int64)
            k = layer * D + d
            B = xi.shape[1]
            H = m.hidden_size
            if hx is None:
                h0 = np.zeros((B, H), np.int64)
                c0 = np.zeros((B, H), np.int64)
            else:
                h0f = (hx[0] if kind == "lstm" else hx)[k].numpy()
                h0 = R.quantize(h0f, qo, 8).astype(np.int64)
                c0 = R.quantize(hx[1][k].numpy(), 7, 16).astype(np.int64) if kind == "lstm" else None
            y, h, c = rnn_direction(kind, xi, h0, c0 if kind == "lstm" else None, R.quantize(w_ih, qiw, 8),
                                    R.quantize(w_hh, qhw, 8), R.quantize(b_ih, qx + qiw, 32),
                                    R.quantize(b_hh, qo + qhw, 32), qx, qiw, qo, qhw, reverse=bool(d))
            outs.append(y * 2.0 ** -qo)
            hs.append(h * 2.0 ** -qo)
            cs.append(None if c is None else c * 2.0 ** -7)
        feats = np.concatenate(outs, axis=2)
    if m.batch_first:
        feats = feats.transpose(1, 0, 2)
    return feats, np.stack(hs), (np.stack(cs) if kind == "lstm" else None)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{int(v)}" for k, v in c.items()))
def test_eval_matches_reference(kind, cfg):
    m = _make(kind, cfg)
    x, hx = _inputs(kind, cfg)
    m.train()
    for _ in range(3):
        m(x, hx)
    m.eval()
    with torch.no_grad():
        out, state = m(x, hx)
    ry, rh, rc = _reference_module(m, kind, x, hx)
    ry_t = ry if not cfg["batch_first"] else ry.transpose(1, 0, 2)
    out_t = out if not cfg["batch_first"] else out.transpose(0, 1)
    for t in range(ry_t.shape[0]):  # per time step, tolerance 0
        np.testing.assert_array_equal(out_t[t].numpy().astype(np.float64), ry_t[t], err_msg=f"step {t}")
    assert isinstance(out, linger.IQTensor)
    h_n = state[0] if kind == "lstm" else state
    np.testing.assert_array_equal(h_n.numpy().astype(np.float64), rh)
    if kind == "lstm":
        np.testing.assert_array_equal(state[1].numpy().astype(np.float64), rc)
    # shapes as nn.LSTM / nn.GRU return them
    ref = (nn.LSTM if kind == "lstm" else nn.GRU)(5, 4, num_layers=cfg["num_layers"], batch_first=cfg["batch_first"],
                                                  bidirectional=cfg["bidirectional"])
    fout, fstate = ref(x, hx)
    assert out.shape == fout.shape
    if kind == "lstm":
        assert state[0].shape == fstate[0].shape and state[1].shape == fstate[1].shape
    else:
        assert state.shape == fstate.shape


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[-1], dict(bidirectional=True, batch_first=False, num_layers=2,
                                                                hx=False)],
                         ids=["uni", "bi-bf-2l-hx", "bi-2l"])
def test_train_forward_equals_eval_forward(kind, cfg):
    m = _make(kind, cfg)
    x, hx = _inputs(kind, cfg)
    m.train()
    m(x, hx)
    out_t, st_t = m(x, hx)  # the statistics this forward used are the ones eval reads
    m.eval()
    with torch.no_grad():
        out_e, st_e = m(x, hx)
    assert torch.equal(out_t.detach(), out_e)
    if kind == "lstm":
        assert torch.equal(st_t[0].detach(), st_e[0]) and torch.equal(st_t[1].detach(), st_e[1])
    else:
        assert torch.equal(st_t.detach(), st_e)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", CONFIGS + [dict(bidirectional=bd, batch_first=bf, num_layers=2, hx=hx, packed=True)
                                           for bd, bf, hx in [(False, False, False), (True, True, True)]],
                         ids=lambda c: "-".join(f"{k}{int(v)}" for k, v in c.items()))
def test_gradients_are_the_float_recurrence_gradients(kind, cfg):
    """The training forward's gradient is the float LSTM/GRU's over the fake-quantized operands: close to the float
    module's gradient with the same parameters (and the same initial states / packing), and nonzero for every
    parameter, the input and given initial states; in every configuration."""
    torch.manual_seed(1)
    m = _make(kind, cfg)
    f = (nn.LSTM if kind == "lstm" else nn.GRU)(5, 4, num_layers=cfg["num_layers"], batch_first=cfg["batch_first"],
                                                bidirectional=cfg["bidirectional"])
    f.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith(("running_", "scale_"))})
    x, hx = _inputs(kind, cfg, T=6, B=3)
    m.train()
    m(x, hx)  # statistics first

    def run(module):
        xg = x.clone().requires_grad_(True)
        states = [t.clone().requires_grad_(True) for t in (hx if kind == "lstm" else (hx,))] if hx is not None else []
        h = None if hx is None else (tuple(states) if kind == "lstm" else states[0])
        inp = xg
        if cfg.get("packed"):
            inp = torch.nn.utils.rnn.pack_padded_sequence(xg, [6, 2, 4], batch_first=cfg["batch_first"],
                                                          enforce_sorted=False)
        out, _ = module(inp, h)
        if cfg.get("packed"):
            out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=cfg["batch_first"])[0]
        (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
        return xg.grad, [s.grad for s in states]

    gx, gs = run(m)
    fx, fs = run(f)
    for (n, p), (_, q) in zip(m.named_parameters(), f.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, n
        cos = torch.nn.functional.cosine_similarity(p.grad.flatten(), q.grad.flatten(), dim=0)
        assert cos > 0.9, (n, float(cos))
    for a, b in [(gx, fx)] + list(zip(gs, fs)):
        assert a is not None and a.abs().sum() > 0
        assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.9
    if cfg.get("packed"):  # steps past a row's length get no gradient
        xs = gx.transpose(0, 1) if cfg["batch_first"] else gx
        assert (xs[2:, 1] == 0).all() and (xs[4:, 2] == 0).all()


# ---- linger.init and errors -------------------------------------------------------------------------------

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.gru = nn.GRU(6, 3, bidirectional=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y.transpose(0, 1))
        return self.fc(y[-1])


def test_init_replaces_lstm_and_gru_by_default_sharing_parameters():
    net = _Net()
    w = net.lstm.weight_ih_l0
    linger.init(net)
    assert type(net.lstm) is linger.LSTMInt and type(net.gru) is linger.GRUInt
    assert net.lstm.weight_ih_l0 is w
    assert net.gru.bidirectional and net.lstm.batch_first
    net.train()
    net(torch.randn(2, 5, 4)).sum().backward()
    net.eval()
    with torch.no_grad():
        net(torch.randn(2, 5, 4))
    keys = set(net.state_dict())
    assert {"lstm.running_i", "lstm.running_h", "lstm.running_o", "lstm.scale_iw", "lstm.weight_ih_l0",
            "gru.running_o_reverse", "gru.weight_hh_l0_reverse"} <= keys


def test_eval_without_statistics_names_the_module():
    m = linger.LSTMInt(3, 2)
    m.eval()
    with pytest.raises(RuntimeError, match="LSTMInt.*running_i"):
        m(torch.randn(4, 1, 3))


def test_a_tuple_input_names_the_module_and_the_fix():
    m = linger.GRUInt(3, 2)
    with pytest.raises(TypeError, match="GRUInt.*pack_padded_sequence"):
        m((torch.randn(4, 2, 3), torch.tensor([4, 2])))


# ---- packed sequences (seed Q14, Q20) -----------------------------------------------------------------------

import torch.nn.utils.rnn as rnn_utils  # noqa: E402  (the three import styles of seed Q14)
from torch.nn.utils.rnn import pack_padded_sequence as pack_alias  # noqa: E402
from torch.nn.utils.rnn import pad_packed_sequence  # noqa: E402

PACKERS = {
    "module_attribute": lambda x, l, s: torch.nn.utils.rnn.pack_padded_sequence(x, l, enforce_sorted=s),
    "from_import_alias": lambda x, l, s: pack_alias(x, l, enforce_sorted=s),
    "module_alias": lambda x, l, s: rnn_utils.pack_padded_sequence(x, l, enforce_sorted=s),
}


def _trained(kind, bidirectional, num_layers=1, I=5, H=4):
    cls = linger.LSTMInt if kind == "lstm" else linger.GRUInt
    m = cls(I, H, num_layers=num_layers, bidirectional=bidirectional, o_bits=8)
    m.train()
    for _ in range(2):
        m(torch.randn(6, 4, I) * 2)
    m.eval()
    return m


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("how", sorted(PACKERS))
@pytest.mark.parametrize("lengths", [[6, 4, 4, 1], [3, 6, 1, 5]], ids=["sorted", "unsorted"])
def test_seed_q14_packed_sequences_however_imported(kind, bidirectional, how, lengths):
    """seed Q14: pack_padded_sequence/pad_packed_sequence from torch itself, however imported, sorted or unsorted
    lengths: each row's outputs and final state are the reference integers of that row run alone for its
    length; padding steps are 0; the result is a real PackedSequence with the input's layout."""
    m = _trained(kind, bidirectional)
    x = torch.randn(6, 4, 5) * 2
    sorted_ok = lengths == sorted(lengths, reverse=True)
    packed = PACKERS[how](x, torch.tensor(lengths), sorted_ok)
    with torch.no_grad():
        out, state = m(packed)
    assert isinstance(out, rnn_utils.PackedSequence)
    assert torch.equal(out.batch_sizes, packed.batch_sizes)
    y, out_len = pad_packed_sequence(out)
    assert out_len.tolist() == lengths
    h_n = state[0] if kind == "lstm" else state
    for b, L in enumerate(lengths):
        ry, rh, rc = _reference_module(m, kind, x[:L, b:b + 1], None)
        np.testing.assert_array_equal(y[:L, b:b + 1].numpy().astype(np.float64), ry, err_msg=f"row {b}")
        assert (y[L:, b] == 0).all()
        np.testing.assert_array_equal(h_n[:, b:b + 1].numpy().astype(np.float64), rh, err_msg=f"row {b}")
        if kind == "lstm":
            np.testing.assert_array_equal(state[1][:, b:b + 1].numpy().astype(np.float64), rc)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_seed_q14_packed_train_forward_equals_eval_and_states_follow_rows(kind):
    """Training on a packed batch (unsorted lengths, initial states given per row in the caller's order) gives the
    eval integers; the gradient flows."""
    m = _trained(kind, True, num_layers=2)
    x = torch.randn(5, 3, 5) * 2
    lengths = [2, 5, 3]
    h0 = torch.rand(4, 3, 4) - 0.5
    hx = (h0, torch.rand(4, 3, 4) - 0.5) if kind == "lstm" else h0
    m.train()
    m(pack_alias(x, lengths, enforce_sorted=False), hx)
    xg = x.clone().requires_grad_(True)
    out_t, st_t = m(pack_alias(xg, lengths, enforce_sorted=False), hx)
    pad_packed_sequence(out_t)[0].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0
    assert (xg.grad[3:, 0] == 0).all()  # steps past a row's length get no gradient
    m.eval()
    with torch.no_grad():
        out_e, st_e = m(pack_alias(x, lengths, enforce_sorted=False), hx)
    assert torch.equal(out_t.data.detach(), out_e.data)
    sts_t = st_t if kind == "lstm" else (st_t,)
    sts_e = st_e if kind == "lstm" else (st_e,)
    for a, b in zip(sts_t, sts_e):
        assert torch.equal(a.detach(), b)
    # row 1 has the full length: the same integers as running it alone, unpacked, with its own initial state
    hx1 = (hx[0][:, 1:2], hx[1][:, 1:2]) if kind == "lstm" else hx[:, 1:2]
    with torch.no_grad():
        alone, _ = m(x[:, 1:2], hx1)
    assert torch.equal(pad_packed_sequence(out_e)[0][:, 1:2], alone)


def test_seed_q20_lengths_as_a_python_list_or_tensor_give_the_same_integers():
    """seed Q20: 1.x failed when the lengths were a Python list; a list and a tensor (CPU int64 or int32) are the
    same here."""
    m = _trained("lstm", False)
    x = torch.randn(6, 3, 5) * 2
    with torch.no_grad():
        a, sa = m(pack_alias(x, [6, 2, 4], enforce_sorted=False))
        b, sb = m(pack_alias(x, torch.tensor([6, 2, 4], dtype=torch.int32), enforce_sorted=False))
    assert torch.equal(a.data, b.data) and torch.equal(sa[0], sb[0]) and torch.equal(sa[1], sb[1])


def test_bad_state_shape_names_the_module():
    m = linger.LSTMInt(3, 2)
    with pytest.raises(ValueError, match="LSTMInt.*h_0 must have shape"):
        m(torch.randn(4, 1, 3), (torch.zeros(1, 2, 2), torch.zeros(1, 1, 2)))


def test_lstm_gru_linear_net_exports_and_the_runtime_matches_eval():
    import io
    from linger.runtime import InferenceSession
    net = _Net()
    linger.init(net)
    net.train()
    for _ in range(3):
        net(torch.randn(2, 5, 4))
    net.eval()
    x = torch.randn(2, 5, 4)
    with torch.no_grad():
        ref = net(x)
    buf = io.BytesIO()
    linger.onnx.export(net, x, buf)
    sess = InferenceSession(buf.getvalue())
    out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_array_equal(out, ref.as_subclass(torch.Tensor).numpy())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("attr, value, message", [("hidden_size", 5, "W_ih must be"),
                                                  ("scale_h", 2.0 ** 20, "scale_o must equal scale_h"),
                                                  ("num_layers", 2, "num_layers")])
def test_runtime_rejects_a_bad_rnn_node_naming_it(kind, attr, value, message):
    import io
    import onnx
    from linger.runtime import InferenceSession
    m = _make(kind, CONFIGS[0])
    x, _ = _inputs(kind, CONFIGS[0])
    m.train()
    m(x)
    m.eval()
    net = linger.init(_Fixed(m, None))
    buf = io.BytesIO()
    linger.onnx.export(net, (x,), buf)
    proto = onnx.load_from_string(buf.getvalue())
    op = "LSTMInt" if kind == "lstm" else "GRUInt"
    node = next(n for n in proto.graph.node if n.op_type == op)
    for a in node.attribute:
        if a.name == attr:
            a.CopyFrom(onnx.helper.make_attribute(attr, value))
    with pytest.raises(Exception, match=f"(?s){op}.*{message}"):
        InferenceSession(proto.SerializeToString())


class _PackedNet(nn.Module):
    """pack_padded_sequence -> RNN -> pad_packed_sequence -> Linear; forward(x, lengths, state) -> (logits, state).
    Packed with enforce_sorted=True while exporting (the exported node takes the rows' lengths in any order)."""

    def __init__(self, kind, bidirectional, num_layers=2, batch_first=True):
        super().__init__()
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = cls(5, 4, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
        self.fc = nn.Linear(4 * (2 if bidirectional else 1), 3)

    def forward(self, x, lengths, state=None):
        bf = self.rnn.batch_first
        p = rnn_utils.pack_padded_sequence(x, lengths, batch_first=bf,
                                           enforce_sorted=torch.onnx.is_in_onnx_export())
        y, state = self.rnn(p, state)
        y, _ = pad_packed_sequence(y, batch_first=bf, total_length=x.shape[1 if bf else 0])
        return self.fc(y), state


def _packed_net(kind, bidirectional, batch_first=True):
    torch.manual_seed(7)
    net = linger.init(_PackedNet(kind, bidirectional, batch_first=batch_first))
    net.train()
    for _ in range(3):
        x = torch.randn(3, 7, 5) * 2
        net(x if batch_first else x.transpose(0, 1), torch.tensor([7, 3, 5]))
    net.eval()
    return net


def _packed_state(kind, bidirectional, given):
    D = 2 if bidirectional else 1
    if not given:
        return None
    h = torch.rand(2 * D, 3, 4) - 0.5
    return (h, (torch.rand(2 * D, 3, 4) - 0.5) * 3) if kind == "lstm" else h


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tm"])
def test_packed_export_takes_lengths_and_matches_eval(kind, bidirectional, state, batch_first):
    """The lengths are a graph input (int64 [B], the last slot of every node); the runtime, on every ISA, gives the
    eval forward's integers for sorted and unsorted lengths (zeros past each row's length, the state of each row at
    its length; the reverse direction runs t = L_b-1 .. 0)."""
    import io
    import onnx
    from linger.runtime import InferenceSession, isa_supported
    net = _packed_net(kind, bidirectional, batch_first)
    hx = _packed_state(kind, bidirectional, state)
    x = torch.randn(3, 7, 5) * 2
    if not batch_first:
        x = x.transpose(0, 1).contiguous()
    buf = io.BytesIO()
    st_names = (["h0", "c0"] if kind == "lstm" else ["h0"]) if state else []
    out_names = ["y", "h_n"] + (["c_n"] if kind == "lstm" else [])
    linger.onnx.export(net, (x, torch.tensor([7, 5, 3]), hx) if state else (x, torch.tensor([7, 5, 3])), buf,
                       input_names=["x", "lengths"] + st_names, output_names=out_names)
    proto = onnx.load_from_string(buf.getvalue())
    op = "LSTMInt" if kind == "lstm" else "GRUInt"
    nodes = [n for n in proto.graph.node if n.op_type == op]
    assert len(nodes) == 2 * (2 if bidirectional else 1)
    for n in nodes:
        assert len(n.input) == (8 if kind == "lstm" else 7) and n.input[-1] != ""  # lengths in the last slot
    assert [i.name for i in proto.graph.input][:2] == ["x", "lengths"]
    assert proto.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    flat = [] if hx is None else [t.numpy() for t in (hx if kind == "lstm" else (hx,))]
    for lengths in ([7, 5, 3], [3, 7, 5], [1, 2, 7], [7, 7, 7]):
        with torch.no_grad():
            y, st = net(x, torch.tensor(lengths), hx)
        want = [y.as_subclass(torch.Tensor)] + (list(st) if kind == "lstm" else [st])
        feed = dict(zip(["x", "lengths"] + st_names, [x.numpy(), np.array(lengths, np.int64)] + flat))
        for isa in [i for i in ("scalar", "avx2", "avx512vnni") if isa_supported(i)]:
            outs = InferenceSession(buf.getvalue(), isa=isa).run(None, feed)
            for o, w, name in zip(outs, want, out_names):
                np.testing.assert_array_equal(o, w.numpy(), err_msg=f"{name} lengths={lengths} isa={isa}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_packed_export_bad_lengths_name_the_node(kind):
    import io
    from linger.runtime import InferenceSession, InvalidArgument
    net = _packed_net(kind, True)
    x = torch.randn(3, 7, 5) * 2
    buf = io.BytesIO()
    linger.onnx.export(net, (x, torch.tensor([7, 5, 3])), buf, input_names=["x", "lengths"])
    sess = InferenceSession(buf.getvalue())
    op = "LSTMInt" if kind == "lstm" else "GRUInt"
    for bad, value in (([7, 8, 3], "= 8"), ([7, -1, 3], "= -1")):
        with pytest.raises(RuntimeError, match=f"(?s){op}.*lengths\\[1\\] {value} is outside \\[0, 7\\]"):
            sess.run(None, {"x": x.numpy(), "lengths": np.array(bad, np.int64)})
    with pytest.raises(InvalidArgument, match="lengths"):
        sess.run(None, {"x": x.numpy(), "lengths": np.array([7, 5, 3], np.int32)})


def test_export_of_an_unsorted_packed_sequence_names_the_module_and_the_fix():
    import io

    class P(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(4, 3)

        def forward(self, x):
            p = nn.utils.rnn.pack_padded_sequence(x, [5, 3], enforce_sorted=False)
            return nn.utils.rnn.pad_packed_sequence(self.gru(p)[0])[0]

    net = linger.init(P())
    net.train()
    net(torch.randn(5, 2, 4))
    net.eval()
    with pytest.raises(NotImplementedError, match="'gru' \\(GRUInt\\).*enforce_sorted=False.*"
                                                  "enforce_sorted=torch.onnx.is_in_onnx_export\\(\\)"):
        linger.onnx.export(net, torch.randn(5, 2, 4), io.BytesIO())


class _Fixed(nn.Module):
    """The module with a fixed initial state (a constant of the export); returns y and h_n."""

    def __init__(self, m, hx):
        super().__init__()
        self.m = m
        self.hx = hx

    def forward(self, x):
        return self.m(x, self.hx)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{int(v)}" for k, v in c.items()))
def test_export_attributes_weights_and_runtime_match_eval(kind, cfg):
    import io
    import onnx
    import onnx.numpy_helper
    from linger.runtime import InferenceSession
    m = _make(kind, cfg)
    x, hx = _inputs(kind, cfg)
    m.train()
    for _ in range(3):
        m(x, hx)
    m.eval()
    net = linger.init(_Fixed(m, hx))  # the root: graph outputs leave through Dequant
    assert net.m is m
    with torch.no_grad():
        y_e, st_e = net(x)
    want = [y_e] + (list(st_e) if kind == "lstm" else [st_e])
    buf = io.BytesIO()
    linger.onnx.export(net, (x,), buf)
    proto = onnx.load_from_string(buf.getvalue())
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in proto.graph.node
              if n.op_type == "Constant"}
    inits.update(consts)
    op = "LSTMInt" if kind == "lstm" else "GRUInt"
    nodes = [n for n in proto.graph.node if n.op_type == op and n.domain == "thinker"]
    w0 = 3 if kind == "lstm" else 2  # slot of W_ih: [x, h0, (c0,) W_ih, W_hh, B_ih, B_hh]
    D = 2 if cfg["bidirectional"] else 1
    assert len(nodes) == cfg["num_layers"] * D
    for k, n in enumerate(nodes):
        layer, d = divmod(k, D)
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        sfx = "" if layer == 0 else f"_l{layer}"
        psfx = f"_l{layer}" + ("_reverse" if d else "")
        qx = scalar_exponent(float(getattr(m, "running_i" + sfx)))
        qo = scalar_exponent(float(getattr(m, "running_o" + sfx)))
        w_ih = getattr(m, "weight_ih" + psfx).detach().numpy().astype(np.float64)
        w_hh = getattr(m, "weight_hh" + psfx).detach().numpy().astype(np.float64)
        qiw, qhw = scalar_exponent(np.abs(w_ih).max()), scalar_exponent(np.abs(w_hh).max())
        assert (a["scale_i"], a["scale_o"], a["scale_h"], a["scale_iw"], a["scale_hw"]) == \
            (2.0 ** qx, 2.0 ** qo, 2.0 ** qo, 2.0 ** qiw, 2.0 ** qhw)
        assert (a["go_forward"], a["num_layers"], a["hidden_size"], a["input_size"]) == \
            (1 - d, 1, 4, 5 if layer == 0 else 4 * D)
        assert (n.input[1] != "") == cfg["hx"], "h0 in slot 1, empty when absent"
        if kind == "lstm":
            assert (n.input[2] != "") == cfg["hx"], "c0 in slot 2, empty when absent"
            assert len(n.output) == 3
        np.testing.assert_array_equal(inits[n.input[w0]], R.quantize(w_ih, qiw, 8))
        np.testing.assert_array_equal(inits[n.input[w0 + 1]], R.quantize(w_hh, qhw, 8))
        b_ih = getattr(m, "bias_ih" + psfx).detach().numpy().astype(np.float64)
        b_hh = getattr(m, "bias_hh" + psfx).detach().numpy().astype(np.float64)
        np.testing.assert_array_equal(inits[n.input[w0 + 2]], R.quantize(b_ih, qx + qiw, 32))
        np.testing.assert_array_equal(inits[n.input[w0 + 3]], R.quantize(b_hh, qo + qhw, 32))
    sess = InferenceSession(buf.getvalue())
    outs = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    assert len(outs) == len(want)
    for o, w in zip(outs, want):  # h_n (and c_n) as float: a Dequant per node, then stacked
        np.testing.assert_array_equal(o, w.numpy())


# ---- streaming at the module level: states carried across chunks ----------------------------------------------

@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("chunks", [[1] * 9, [4, 5], [2, 3, 4], [9]])
def test_chunked_run_equals_whole_run(kind, chunks):
    """Feeding the returned (dequantized) states back in is exact: h is on the Qo grid, c on the Q7 grid, so a
    stream cut into chunks of any size gives the integers of the whole utterance."""
    m = _trained(kind, False, num_layers=2)
    x = torch.randn(9, 2, 5) * 2
    with torch.no_grad():
        whole, whole_state = m(x)
        outs, state, t = [], None, 0
        for n in chunks:
            y, state = m(x[t:t + n], state)
            outs.append(y)
            t += n
    plain = [o.as_subclass(torch.Tensor) for o in outs]  # plain cat (no iqCat layer of whatever module ran last)
    assert torch.equal(torch.cat(plain), whole.as_subclass(torch.Tensor))
    for a, b in zip(state if kind == "lstm" else (state,), whole_state if kind == "lstm" else (whole_state,)):
        assert torch.equal(a, b)


def test_dropout_between_layers_in_training_only():
    m = linger.LSTMInt(5, 4, num_layers=2, dropout=0.5, o_bits=8)
    x = torch.randn(6, 3, 5)
    m.train()
    torch.manual_seed(0)
    a, _ = m(x)
    torch.manual_seed(1)
    b, _ = m(x)
    assert not torch.equal(a, b)  # a different dropout mask between the layers
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x)[0], m(x)[0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_not_unified_bidirectional_keeps_separate_statistics_and_matches_reference(kind):
    cls = linger.LSTMInt if kind == "lstm" else linger.GRUInt
    m = cls(5, 4, num_layers=2, bidirectional=True, unified=False, o_bits=8)
    x = torch.randn(5, 3, 5) * 2
    m.train()
    with torch.no_grad():  # a reverse direction with a different output range
        m.weight_ih_l1_reverse.mul_(0.05)
        m.bias_ih_l1_reverse.mul_(0.05)
        m.bias_hh_l1_reverse.mul_(0.05)
    for _ in range(3):
        m(x)
    assert float(m.scale_o_l1) != float(m.scale_o_l1_reverse)  # the two directions output at different Q
    m.eval()
    with torch.no_grad():
        out, state = m(x)
    ry, rh, rc = _reference_module(m, kind, x, None)
    np.testing.assert_array_equal(torch.as_tensor(out).numpy().astype(np.float64), ry)
    h_n = state[0] if kind == "lstm" else state
    np.testing.assert_array_equal(h_n.numpy().astype(np.float64), rh)
