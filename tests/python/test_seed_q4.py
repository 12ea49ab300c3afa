"""Seed Q4: the layers that functional ops create lazily (torch.cat -> iqCat, ...) load from a checkpoint before
any forward of a freshly built model, so eval and export match the trained model bit for bit."""
import io

import numpy as np
import onnx
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession


class Block(nn.Module):
    """A child container with its own functional ops (its layers live on the child)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        s = torch.stack([a, b], 2).sum(2)        # iqcat_0, iqsum__default_index_1
        return torch.cat([s, a * b], 1)           # iqmul__default_index_2, iqcat_3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.side = nn.Conv2d(3, 4, 1)
        self.block = Block()
        self.fc = nn.Linear(8 * 4 * 8 + 8 * 8, 5)

    def forward(self, x):
        a, b = self.stem(x), self.side(x)
        c = torch.cat([a, b], 1)                   # iqcat_0
        g = torch.sigmoid(c)                       # iqsigmoid_1
        p = c * g                                  # iqmul__default_index_2
        q = torch.clamp(p, -1.0, 1.0)              # iqclamp_3
        r = self.block(a)
        t = torch.softmax(torch.cat([q, r], 3), 3)  # iqcat_4, SoftmaxInt_5
        u = torch.bmm(t.flatten(2), t.flatten(2).transpose(1, 2))  # function_bmm_0
        return self.fc(torch.cat([t.flatten(1), u.flatten(1)], 1))  # iqcat_6


def _trained(seed):
    torch.manual_seed(seed)
    m = linger.init(Net())
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    for _ in range(4):
        x = torch.randn(4, 3, 4, 4)
        y = m(x).as_subclass(torch.Tensor)
        opt.zero_grad()
        y.pow(2).mean().backward()
        opt.step()
    return m


def test_seed_q4_iqcat_layers_load_from_checkpoint_before_any_forward():
    trained = _trained(0)
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    assert any(".iqcat" in k or k.startswith("_linger_round_tensor_iqcat_") for k in state)
    assert "block._linger_round_tensor_iqcat_3.running_o" in state
    assert "_linger_round_tensor_function_bmm_0.running_o" in state

    x = torch.randn(2, 3, 4, 4)
    trained.eval()
    with torch.no_grad():
        ref = trained(x).as_subclass(torch.Tensor)

    torch.manual_seed(123)  # different initial weights: everything must come from the checkpoint
    fresh = linger.init(Net())
    fresh.load_state_dict(state, strict=True)  # before any forward
    assert isinstance(getattr(fresh, "_linger_round_tensor_iqcat_0"), linger.iqCatLayer)
    assert isinstance(getattr(fresh.block, "_linger_round_tensor_iqcat_3"), linger.iqCatLayer)
    assert isinstance(getattr(fresh, "_linger_round_tensor_function_bmm_0"), linger.BmmInt)
    fresh.eval()
    with torch.no_grad():
        out = fresh(x).as_subclass(torch.Tensor)
    assert torch.equal(out, ref)
    for k, v in fresh.state_dict().items():  # the eval forward created nothing new and changed no statistic
        assert k in state and torch.equal(v, state[k]), k

    buf = io.BytesIO()
    linger.onnx.export(fresh, (x,), buf)
    nodes = onnx.load_from_string(buf.getvalue()).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("iqCat") == 5, ops
    # no float Concat of data: a Concat may only build a Reshape's target shape (from flatten's shape arithmetic)
    shape_inputs = {n.input[1] for n in nodes if n.op_type == "Reshape"}
    data_inputs = {i for n in nodes for k, i in enumerate(n.input) if not (n.op_type == "Reshape" and k == 1)}
    for n in nodes:
        if n.op_type == "Concat":
            assert n.output[0] in shape_inputs and n.output[0] not in data_inputs, n
    assert {"iqSigmoid", "iqMul", "iqClamp", "iqSum", "SoftmaxInt", "BmmInt", "LinearInt"} <= set(ops), ops
    sess = InferenceSession(buf.getvalue())
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == tuple(ref.shape) and np.array_equal(got, ref.numpy())


def test_whole_model_save_load_and_deepcopy_keep_the_functional_layers():
    import copy
    trained = _trained(1)
    trained.eval()
    x = torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        ref = trained(x).as_subclass(torch.Tensor)
    buf = io.BytesIO()
    torch.save(trained, buf)
    buf.seek(0)
    # a whole pickled model is code, not weights: torch >= 2.6 loads it with weights_only=False only (torch 1.13 too)
    for other in (torch.load(buf, weights_only=False), copy.deepcopy(trained)):
        with torch.no_grad():
            assert torch.equal(other(x).as_subclass(torch.Tensor), ref)
