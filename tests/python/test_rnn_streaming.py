"""Streaming LSTMInt / GRUInt through the runtime: a model whose forward takes (x, state) and returns
(y, new_state) exports with the states as graph inputs and outputs (float, exactly on their grids: h at the
node's output exponent, c at Q7), so running an utterance chunk by chunk through linger.runtime.InferenceSession
(chunks of any size, 1 frame included, uneven splits) gives the integers of the whole utterance and of the
PyTorch eval forward. docs/rnn.md, "Streaming"."""
import io

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession

I, H, T, B = 5, 4, 11, 2
SPLITS = [[1] * T, [3, 5, 3], [4, 7], [10, 1], [T]]


class StreamNet(nn.Module):
    """x -> RNN -> Linear per frame; forward(x, state) -> (logits, new_state)."""

    def __init__(self, kind, bidirectional=False, batch_first=False, num_layers=1):
        super().__init__()
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = cls(I, H, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional)
        self.fc = nn.Linear(H * (2 if bidirectional else 1), 3)

    def forward(self, x, state):
        y, state = self.rnn(x, state)
        return self.fc(y), state


def _zero_state(net):
    r = net.rnn
    h = torch.zeros(r.num_layers * (2 if r.bidirectional else 1), B, H)
    return (h, h.clone()) if isinstance(r, nn.LSTM) else h


def _flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def _plain(t):
    return t.as_subclass(torch.Tensor) if isinstance(t, linger.IQTensor) else t


def _trained(kind, **cfg):
    torch.manual_seed(3)
    net = linger.init(StreamNet(kind, **cfg))
    net.train()
    for _ in range(3):
        net(_utterance(net, 8, seed=None), _zero_state(net))
    net.eval()
    return net


def _utterance(net, steps, seed=0):
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    x = torch.randn(steps, B, I, generator=g) * 2
    return x.transpose(0, 1).contiguous() if net.rnn.batch_first else x


def _export(net, kind):
    names_in = ["x", "h0"] + (["c0"] if kind == "lstm" else [])
    names_out = ["y", "h_n"] + (["c_n"] if kind == "lstm" else [])
    t_axis = 1 if net.rnn.batch_first else 0
    buf = io.BytesIO()
    linger.onnx.export(net, (_utterance(net, 6, seed=9), _zero_state(net)), buf, input_names=names_in,
                       output_names=names_out, dynamic_axes={"x": {t_axis: "T"}, "y": {t_axis: "T"}})
    return buf.getvalue(), names_in


def _run_chunks(sess, names_in, net, x, sizes):
    t_axis = 1 if net.rnn.batch_first else 0
    state = [s.numpy() for s in _flat(_zero_state(net))]
    ys, t = [], 0
    for n in sizes:
        chunk = x.narrow(t_axis, t, n).contiguous().numpy()
        outs = sess.run(None, dict(zip(names_in, [chunk] + state)))
        ys.append(outs[0])
        state = outs[1:]
        t += n
    return np.concatenate(ys, axis=t_axis), state


def _torch_chunks(net, x, sizes):
    t_axis = 1 if net.rnn.batch_first else 0
    state, ys, t = _zero_state(net), [], 0
    with torch.no_grad():
        for n in sizes:
            y, state = net(x.narrow(t_axis, t, n), state)
            ys.append(_plain(y))
            t += n
    return torch.cat(ys, t_axis).numpy(), [s.numpy() for s in _flat(state)]


CFGS = [dict(bidirectional=False, batch_first=False, num_layers=1),
        dict(bidirectional=False, batch_first=True, num_layers=2),
        dict(bidirectional=True, batch_first=False, num_layers=2),
        dict(bidirectional=True, batch_first=True, num_layers=1)]
IDS = ["uni", "uni-bf-2l", "bi-2l", "bi-bf"]


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_runtime_streams_chunks_of_any_size_exactly(kind, cfg):
    """Unidirectional: every split equals the whole utterance, in the runtime and in PyTorch eval. Bidirectional:
    the reverse direction of a chunk only sees that chunk, so a split is not the whole utterance; the runtime's
    chunked run equals PyTorch's chunked eval run, split by split."""
    net = _trained(kind, **cfg)
    data, names_in = _export(net, kind)
    sess = InferenceSession(data)
    assert [i.name for i in sess.get_inputs()] == names_in
    x = _utterance(net, T, seed=1)
    y_whole, st_whole = _torch_chunks(net, x, [T])
    for sizes in SPLITS:
        y_rt, st_rt = _run_chunks(sess, names_in, net, x, sizes)
        y_pt, st_pt = _torch_chunks(net, x, sizes)
        np.testing.assert_array_equal(y_rt, y_pt, err_msg=str(sizes))
        for a, b in zip(st_rt, st_pt):
            np.testing.assert_array_equal(a, b, err_msg=str(sizes))
        if not cfg["bidirectional"]:
            np.testing.assert_array_equal(y_rt, y_whole, err_msg=str(sizes))
            for a, b in zip(st_rt, st_whole):
                np.testing.assert_array_equal(a, b, err_msg=str(sizes))


def _node_attrs(n):
    return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_state_interface_round_trips_exactly(kind):
    """Each node's state input is quantized at the exponent its state output is dequantized with (h at the node's
    Qo, c int16 at Q7), so a returned state fed back is the node's own integer state: the float values are exact
    multiples of 2^-Q within the integer range."""
    net = _trained(kind, bidirectional=True, num_layers=2)
    data, names_in = _export(net, kind)
    proto = onnx.load_from_string(data)
    producers = {o: n for n in proto.graph.node for o in n.output}
    consumers = {}
    for n in proto.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    op = "LSTMInt" if kind == "lstm" else "GRUInt"
    nodes = [n for n in proto.graph.node if n.op_type == op]
    assert len(nodes) == 4
    for n in nodes:
        qo = _node_attrs(n)["scale_o"]
        q_in = producers[n.input[1]]
        assert q_in.op_type == "Quant" and _node_attrs(q_in)["scale_x"] == qo and _node_attrs(q_in)["data_bits"] == 8
        deq = [c for c in consumers[n.output[1]] if c.op_type == "Dequant"]
        assert len(deq) == 1 and _node_attrs(deq[0])["scale_o"] == qo
        if kind == "lstm":
            c_in = producers[n.input[2]]
            assert c_in.op_type == "Quant" and _node_attrs(c_in)["scale_x"] == 2.0 ** 7
            assert _node_attrs(c_in)["data_bits"] == 16
            deq = [c for c in consumers[n.output[2]] if c.op_type == "Dequant"]
            assert len(deq) == 1 and _node_attrs(deq[0])["scale_o"] == 2.0 ** 7
    # the values: on the grids, and fed back they give the same codes
    sess = InferenceSession(data)
    x = _utterance(net, T, seed=2)
    _, state = _run_chunks(sess, names_in, net, x, [T])
    scales = [_node_attrs(n)["scale_o"] for n in nodes]
    h = state[0]
    for k, s in enumerate(scales):
        codes = h[k].astype(np.float64) * s
        assert np.array_equal(codes, np.round(codes)) and codes.min() >= -128 and codes.max() <= 127
        assert np.array_equal(np.floor(h[k].astype(np.float64) * s + 0.5), codes)  # Quant's rounding: the code
    if kind == "lstm":
        c = state[1].astype(np.float64) * 128
        assert np.array_equal(c, np.round(c)) and c.min() >= -32768 and c.max() <= 32767
        assert len(np.unique(c)) > 4


class KwsLike(nn.Module):
    """The keyword-spotting shape: a per-frame front-end (1x1 conv over features), a GRU, per-frame logits;
    forward(x, h=None) -> (logits, h_n) with x [B, F, T]."""

    def __init__(self, feats=6, hidden=8, classes=4):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(feats, 8, 1), nn.BatchNorm1d(8), nn.ReLU())
        self.gru = nn.GRU(8, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x, h=None):
        f = self.front(x).transpose(1, 2)  # [B, T, C]
        y, h = self.gru(f, h)
        return self.fc(y), h


def test_kws_pattern_forward_x_h_none_streams_through_the_runtime():
    torch.manual_seed(5)
    net = linger.init(KwsLike())
    net.train()
    for _ in range(4):
        net(torch.randn(3, 6, 20))
    net.eval()
    x = torch.randn(1, 6, 13)
    with torch.no_grad():
        logits, h_n = net(x)  # h=None: zeros
        logits0, h_n0 = net(x, torch.zeros(1, 1, 8))
    assert torch.equal(_plain(logits), _plain(logits0)) and torch.equal(h_n, h_n0)
    buf = io.BytesIO()
    linger.onnx.export(net, (x[:, :, :4], torch.zeros(1, 1, 8)), buf, input_names=["x", "h"],
                       output_names=["logits", "h_n"], dynamic_axes={"x": {2: "T"}, "logits": {1: "T"}})
    sess = InferenceSession(buf.getvalue())
    for sizes in ([1] * 13, [5, 8], [13]):
        h, outs, t = np.zeros((1, 1, 8), np.float32), [], 0
        for n in sizes:
            y, h = sess.run(None, {"x": x[:, :, t:t + n].contiguous().numpy(), "h": h})
            outs.append(y)
            t += n
        np.testing.assert_array_equal(np.concatenate(outs, 1), _plain(logits).numpy(), err_msg=str(sizes))
        np.testing.assert_array_equal(h, h_n.numpy())


def _docs_block(lang, marker):
    import os
    import re
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    text = open(os.path.join(root, "docs", "rnn.md"), encoding="utf-8").read()
    section = text[text.index(marker):]
    return root, re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_docs_python_streaming_loop_runs_verbatim(tmp_path):
    """docs/rnn.md's Python loop, as written, on an exported model: the same integers as the whole utterance."""
    net = _trained("lstm", batch_first=True, num_layers=2)
    data, names_in = _export(net, "lstm")
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    _, code = _docs_block("python", "### Python: InferenceSession")
    x = _utterance(net, T, seed=4)
    stream = [c.numpy() for c in torch.split(x, [1, 4, 6], dim=1)]
    scope = dict(np=np, stream=stream, model_path=str(path))
    exec(compile(code, "docs/rnn.md", "exec"), scope)
    y_whole, st_whole = _torch_chunks(net, x, [T])
    np.testing.assert_array_equal(np.concatenate(scope["ys"], axis=1), y_whole)
    for a, b in zip(scope["state"], st_whole):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("chunk", [1, 4, T])
def test_cpp_streaming_example_matches_the_whole_utterance(tmp_path, chunk):
    """runtime/examples/stream_rnn.cc (built as linger-stream-example; its stream() is the C++ loop of docs/rnn.md)
    on an exported GRU model: the chunked y equals PyTorch's eval of the whole utterance."""
    import os
    import subprocess
    import linger.runtime as rt
    root, code = _docs_block("cpp", "### C++: Session")
    src = open(os.path.join(root, "runtime", "examples", "stream_rnn.cc"), encoding="utf-8").read()
    assert code.strip() in src, "docs/rnn.md's C++ loop must be the example's stream() verbatim"
    exe = os.path.join(os.path.dirname(rt.CLI_PATH), "linger-stream-example")
    net = _trained("gru", batch_first=True, num_layers=2)
    data, _ = _export(net, "gru")
    (tmp_path / "model.onnx").write_bytes(data)
    x = _utterance(net, T, seed=6)
    np.save(tmp_path / "x.npy", x.numpy())
    r = subprocess.run([exe, str(tmp_path / "model.onnx"), str(tmp_path / "x.npy"), str(chunk),
                        str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    y_whole, _ = _torch_chunks(net, x, [T])
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), y_whole)
