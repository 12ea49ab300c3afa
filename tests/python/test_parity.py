"""PyTorch eval vs the C++ runtime, op by op and for whole models: tolerance 0.

Every op listed in include/linger/ops.inc must have a parity case here (coverage check)."""
import io
import os
import re

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession, isa_supported
from linger.tools.compare import compare

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Wrap(nn.Module):
    def __init__(self, body, pre=None):
        super().__init__()
        self.body = body
        self.pre = pre

    def forward(self, x):
        if self.pre is not None:
            x = self.pre(x)
        return self.body(x)


class Add(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.a(x) + self.b(x)


class Two(nn.Module):
    """Two convolutions with different output scales, combined by `fn(a, b)` (the op under test)."""

    def __init__(self, fn, cin=3, cout=4):
        super().__init__()
        self.a = nn.Conv2d(cin, cout, 3, padding=1)
        self.b = nn.Conv2d(cin, cout, 1)
        self.fn = fn

    def forward(self, x):
        a = self.a(x)
        b = self.b(x)
        return self.fn(a, b)


def _two(fn):
    return lambda: Two(fn)


# the op family cases: (covered ops, fn(a, b) on two conv outputs [N, 4, H, W] at different scales)
PRELU_W = torch.tensor([0.25, -0.5, 1.5, 0.0])
FAMILY_CASES = {
    "iqmul": ({"iqMul"}, lambda a, b: a * b),
    "iqmul_scalar_broadcast": ({"iqMul"}, lambda a, b: (a * 0.7) * b[:, :, :1, :1]),
    "iqmul_inplace": ({"iqMul"}, lambda a, b: a.__imul__(b)),
    "iqdiv": ({"iqDiv"}, lambda a, b: a / b),
    "iqdiv_scalar": ({"iqDiv"}, lambda a, b: a / 3.0 + b),
    "iqsum": ({"iqSum"}, lambda a, b: a.sum(-1) + b.sum(3)),
    "iqsum_keepdim_all": ({"iqSum"}, lambda a, b: torch.sum(a, (2, 3), keepdim=True) + b.sum()),
    "iqvar": ({"iqVar"}, lambda a, b: torch.var(a, 2) + torch.var(b, (2, 3), unbiased=False, keepdim=True)[..., 0]),
    "iqcat": ({"iqCat"}, lambda a, b: torch.cat([a, b, a], 1)),
    "iqcat_stack": ({"iqCat"}, lambda a, b: torch.stack([a, b], 2)),
    "iqclamp": ({"iqClamp"}, lambda a, b: torch.clamp(a, -0.3, 0.55) + b.clamp(min=0.0)),
    "iqsigmoid": ({"iqSigmoid"}, lambda a, b: torch.sigmoid(a) + nn.functional.sigmoid(b)),
    "iqtanh": ({"iqTanh"}, lambda a, b: torch.tanh(a) * b.tanh()),
    "softmax": ({"SoftmaxInt"}, lambda a, b: torch.softmax(a, 1) + nn.functional.softmax(b, dim=-1)),
    "log_softmax": ({"LogSoftmaxInt"}, lambda a, b: torch.log_softmax(a, -1) + b.log_softmax(1)),
    "bmm": ({"BmmInt"}, lambda a, b: torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2))),
    "matmul_4d": ({"BmmInt"}, lambda a, b: a @ b.transpose(2, 3)),
    "shuffle_channel": ({"ShuffleChannel"}, lambda a, b: linger.channel_shuffle(a, 2) + b),
    "relu6_hardtanh": ({"iqClamp"}, lambda a, b: nn.functional.relu6(a) + nn.functional.hardtanh(b, -0.5, 0.25)),
    "hardswish_hardsigmoid": ({"TableInt"}, lambda a, b: nn.functional.hardswish(a) * nn.functional.hardsigmoid(b)),
    "silu_gelu": ({"TableInt"}, lambda a, b: nn.functional.silu(a) + nn.functional.gelu(b)
                  + nn.functional.gelu(a, approximate="tanh")),
    "leaky_prelu": ({"TableInt"}, lambda a, b: nn.functional.leaky_relu(a, 0.1)
                    + nn.functional.prelu(b, PRELU_W)),
    "float_operand_mul_add": ({"iqMul", "iqAdd"}, lambda a, b: a * torch.full(a.shape, 0.8)
                              + torch.full(b.shape, -0.3) + b),
    "resize_nearest": ({"ResizeInt"}, lambda a, b: nn.functional.interpolate(a, scale_factor=2)
                       + nn.functional.interpolate(b, size=(12, 10))),
    "resize_bilinear": ({"ResizeInt"}, lambda a, b: nn.functional.interpolate(a, size=(9, 7), mode="bilinear",
                                                                              align_corners=False)
                        + nn.functional.interpolate(b, size=(9, 7), mode="bilinear", align_corners=True)),
    "iqmean": ({"iqMean"}, lambda a, b: a.mean(-1) + torch.mean(b, (2, 3), keepdim=True)[..., 0]),
    "functional_pools": ({"AvgPool2dInt", "MaxPool"},
                         lambda a, b: (nn.functional.avg_pool2d(a, 3, 2, 1, ceil_mode=True)[..., :3, :]
                                       * nn.functional.adaptive_avg_pool2d(b, (3, None))[..., :3])
                         * nn.functional.adaptive_max_pool2d(a, (3, 1))),
}
# cases whose outputs do not show saturated codes under narrowed statistics (bounded functions, averages)
NO_SATURATION_CHECK = {"avgpool", "avgpool_ceil", "iqsigmoid", "iqtanh", "softmax", "log_softmax", "iqclamp", "iqvar", "iqsum",
                       "iqsum_keepdim_all", "iqmean", "adaptive_avgpool_global", "adaptive_avgpool_general", "pool1d",
                       "gru", "gru_bidir_2layers_batch_first", "gru_h0_bidir_2layers", "gru_h0_final_state",
                       "lstm", "lstm_bidir_2layers_batch_first", "lstm_hx_bidir_2layers", "lstm_hx_final_h",
                       "lstm_hx_final_c", "gru_packed_bidir_2layers", "lstm_packed_batch_first"}


class EmbedNet(nn.Module):
    """Token ids -> EmbeddingInt (thinker Gather) -> LayerNormInt -> LinearInt."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6, padding_idx=0)
        self.ln = nn.LayerNorm(6)
        self.fc = nn.Linear(6, 3)

    @staticmethod
    def make_input(shape):
        return torch.randint(0, 11, shape)

    def forward(self, idx):
        e = self.emb(idx)
        return self.fc(self.ln(e) + e)


class GruNet(nn.Module):
    """nn.GRU -> GRUInt nodes (one per layer and direction); returns y and h_n (h_n joined into y's last step
    through iqCat so that the single output checks both), optionally with a fixed initial state."""

    def __init__(self, num_layers=1, bidirectional=False, batch_first=False, h0=False, with_h=False):
        super().__init__()
        self.rnn = nn.GRU(5, 6, num_layers, batch_first=batch_first, bidirectional=bidirectional)
        D = 2 if bidirectional else 1
        self.h0 = nn.Parameter(torch.randn(num_layers * D, 3, 6) * 0.6, requires_grad=False) if h0 else None
        self.with_h = with_h

    def forward(self, x):
        y, h = self.rnn(x, self.h0)
        if self.with_h:
            return h
        return y


class LstmNet(nn.Module):
    """nn.LSTM -> LSTMInt nodes; returns y, or h_n / c_n (float after a Dequant per node), optionally with fixed
    initial states."""

    def __init__(self, num_layers=1, bidirectional=False, batch_first=False, hx=False, out=0):
        super().__init__()
        self.rnn = nn.LSTM(5, 6, num_layers, batch_first=batch_first, bidirectional=bidirectional)
        D = 2 if bidirectional else 1
        self.h0 = nn.Parameter(torch.randn(num_layers * D, 3, 6) * 0.6, requires_grad=False) if hx else None
        self.c0 = nn.Parameter(torch.randn(num_layers * D, 3, 6) * 2, requires_grad=False) if hx else None
        self.out = out

    def forward(self, x):
        y, (h, c) = self.rnn(x, None if self.h0 is None else (self.h0, self.c0))
        return (y, h, c)[self.out]


class PackedRnnNet(nn.Module):
    """pack_padded_sequence with fixed sorted lengths (a constant of the export: the lengths slot of every node)
    -> nn.GRU / nn.LSTM -> pad_packed_sequence: zeros past each row's length."""

    def __init__(self, kind, num_layers=1, bidirectional=False, batch_first=False):
        super().__init__()
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(5, 6, num_layers, batch_first=batch_first,
                                                           bidirectional=bidirectional)
        self.register_buffer("lengths", torch.tensor([7, 4, 2]))

    def forward(self, x):
        bf = self.rnn.batch_first
        y, _ = self.rnn(nn.utils.rnn.pack_padded_sequence(x, self.lengths, batch_first=bf))
        return nn.utils.rnn.pad_packed_sequence(y, batch_first=bf, total_length=7)[0]


def _cases():
    """name -> (covered ops, model factory, input shape)."""
    fam = {k: (ops, _two(fn), (2, 3, 6, 5)) for k, (ops, fn) in FAMILY_CASES.items()}
    return {**fam,
        "conv2d": ({"Quant", "Conv2dInt", "Dequant"}, lambda: nn.Sequential(nn.Conv2d(3, 5, 3, padding=1)),
                   (2, 3, 9, 9)),
        "conv2d_groups_stride_dil": ({"Conv2dInt"}, lambda: nn.Sequential(nn.Conv2d(4, 8, 3, 2, 2, 2, groups=2)),
                                     (1, 4, 13, 11)),
        "conv1d": ({"Conv1dInt"}, lambda: nn.Sequential(nn.Conv1d(3, 6, 5, 2, 2)), (2, 3, 21)),
        "convtranspose": ({"ConvTranspose2dInt"}, lambda: nn.Sequential(nn.ConvTranspose2d(4, 3, 3, 2, 1, 1)),
                          (2, 4, 6, 5)),
        "linear": ({"LinearInt"}, lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 7)), (3, 3, 4, 4)),
        "avgpool": ({"AvgPool2dInt"}, lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.AvgPool2d(3, 2, 1)),
                    (2, 3, 9, 8)),
        # ceil_mode: torch gives 5x5 here, floor mode 4x4 (the runtime must read ceil_mode from the export)
        "avgpool_ceil": ({"AvgPool2dInt"}, lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.AvgPool2d(2, 2, 0, True)),
                         (2, 3, 9, 9)),
        "maxpool_ceil": ({"MaxPool"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.MaxPool2d(2, 2, 0, ceil_mode=True)),
                         (2, 3, 9, 9)),
        "maxpool_relu": ({"MaxPool", "Relu"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2)),
                         (2, 3, 10, 10)),
        "iqadd": ({"iqAdd"}, Add, (2, 3, 6, 6)),
        "batchnorm": ({"BatchNorm2dInt"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)),
                      (4, 3, 7, 7)),
        # fused by trace_layers: exported as one conv / linear with the BN folded in
        "fused_conv2d_bn": ({"Conv2dInt"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
                            (4, 3, 7, 7)),
        "fused_conv1d_bn": ({"Conv1dInt"}, lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4)), (4, 3, 15)),
        "fused_convtranspose_bn": ({"ConvTranspose2dInt"},
                                   lambda: nn.Sequential(nn.ConvTranspose2d(3, 4, 2, 2), nn.BatchNorm2d(4)),
                                   (4, 3, 5, 5)),
        "fused_linear_bn": ({"LinearInt"}, lambda: nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5)), (8, 6)),
        "batchnorm1d": ({"BatchNorm2dInt"}, lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4), nn.Flatten(),
                                                                  nn.BatchNorm1d(4 * 13)), (4, 3, 15)),
        "adaptive_avgpool_global": ({"AvgPool2dInt"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3),
                                                                            nn.AdaptiveAvgPool2d(1)), (2, 3, 9, 8)),
        "adaptive_avgpool_general": ({"AdaptiveAvgPool2dInt"},
                                     lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d((4, 5)),
                                                           nn.Flatten(2), nn.AdaptiveAvgPool1d(3)), (2, 3, 9, 8)),
        "pool1d": ({"AvgPool2dInt", "MaxPool"}, lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.AvgPool1d(3, 2, 1),
                                                                     nn.AdaptiveAvgPool1d(5),
                                                                     nn.MaxPool1d(2, ceil_mode=True)),
                   (2, 3, 21)),
        "layernorm": ({"LayerNormInt"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LayerNorm(5),
                                                              nn.LayerNorm([6, 5], elementwise_affine=False)),
                      (2, 3, 6, 5)),
        "embedding": ({"EmbeddingInt"}, EmbedNet, (3, 7)),
        "gru": ({"GRUInt"}, lambda: GruNet(), (7, 3, 5)),
        "lstm": ({"LSTMInt"}, lambda: LstmNet(), (7, 3, 5)),
        "lstm_bidir_2layers_batch_first": ({"LSTMInt"}, lambda: LstmNet(2, True, True), (3, 7, 5)),
        "lstm_hx_bidir_2layers": ({"LSTMInt"}, lambda: LstmNet(2, True, False, hx=True), (7, 3, 5)),
        "lstm_hx_final_h": ({"LSTMInt"}, lambda: LstmNet(2, True, True, hx=True, out=1), (3, 7, 5)),
        "lstm_hx_final_c": ({"LSTMInt"}, lambda: LstmNet(2, True, False, hx=True, out=2), (7, 3, 5)),
        "gru_bidir_2layers_batch_first": ({"GRUInt"}, lambda: GruNet(2, True, True), (3, 7, 5)),
        "gru_h0_bidir_2layers": ({"GRUInt"}, lambda: GruNet(2, True, False, h0=True), (7, 3, 5)),
        "gru_h0_final_state": ({"GRUInt"}, lambda: GruNet(1, True, True, h0=True, with_h=True), (3, 7, 5)),
        "gru_packed_bidir_2layers": ({"GRUInt"}, lambda: PackedRnnNet("gru", 2, True), (7, 3, 5)),
        "lstm_packed_batch_first": ({"LSTMInt"}, lambda: PackedRnnNet("lstm", 1, False, True), (3, 7, 5)),
        "groupnorm": ({"GroupNormInt"}, lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.GroupNorm(2, 4)),
                      (2, 3, 6, 5)),
    }


def _ops_inc():
    text = open(os.path.join(ROOT, "include", "linger", "ops.inc")).read()
    return set(re.findall(r"^LINGER_OP\((\w+),", text, re.M))


def test_every_op_in_ops_inc_has_a_parity_case():
    covered = set().union(*(c[0] for c in _cases().values()))
    missing = _ops_inc() - covered
    assert not missing, f"ops without a parity test: {sorted(missing)}"


def prepare(factory, shape, seed, narrow, fused=False):
    torch.manual_seed(seed)
    model = Wrap(factory())
    if fused:
        model.train()
        for _ in range(3):  # give the BNs non-trivial running statistics
            model(torch.randn(shape) * 2 + 0.5)
        linger.trace_layers(model, model, (torch.randn(shape),))
        assert any(isinstance(m, linger.EmptyBatchNorm) for m in model.modules())
    model = linger.init(model)
    make = getattr(model.body, "make_input", None)  # models whose input is not a float tensor (indices)
    data = [make(shape) if make else torch.randn(shape) * (1 + i % 3) for i in range(4)]
    for x in data:
        model(x)
    if narrow:  # squeeze the output statistics so that many values saturate
        for m in model.modules():
            if hasattr(m, "running_o") and not isinstance(m, (linger.AvgPool2dInt, linger.EmbeddingInt)):
                with torch.no_grad():
                    m.running_o.mul_(0.3)
    return model, (make(shape) if make else torch.randn(shape) * 2.5)


ALL_ISAS = ["scalar", "avx2", "avx512vnni", "auto"]


def supported_isas():
    """Every kernel ISA this machine runs (scalar and auto always)."""
    return [i for i in ALL_ISAS if isa_supported(i)]


def run_both(model, x):
    """Torch eval output, and the runtime's output on every ISA this machine has (they must all agree)."""
    model.eval()
    with torch.no_grad():
        ref = model(x)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    outs = {}
    for isa in supported_isas():
        sess = InferenceSession(buf.getvalue(), isa=isa)
        outs[isa] = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    out = outs["scalar"]
    for isa, o in outs.items():
        assert o.dtype == out.dtype and np.array_equal(o, out), f"ISA {isa} differs from scalar"
    return ref.as_subclass(torch.Tensor).numpy(), out, buf.getvalue()


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("narrow", [False, True])
def test_op_parity_torch_eval_vs_runtime(name, seed, narrow):
    ops, factory, shape = _cases()[name]
    model, x = prepare(factory, shape, seed, narrow, fused=name.startswith("fused"))
    ref, out, data = run_both(model, x)
    if name.startswith("fused"):

        assert not any("BatchNorm" in n.op_type for n in onnx.load_from_string(data).graph.node)
    assert ref.shape == out.shape and ref.dtype == out.dtype
    assert np.array_equal(ref, out), f"{name}: {int((ref != out).sum())} elements differ"
    if narrow and name not in NO_SATURATION_CHECK:
        # the saturated codes are there and equal
        assert np.isclose(np.abs(ref), np.abs(ref).max()).sum() > 1


@pytest.mark.parametrize("isa", ALL_ISAS)
def test_whole_model_parity_and_first_mismatch_report(isa):
    if not isa_supported(isa):
        pytest.skip(f"this CPU does not run the {isa} kernels")
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                          nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.skip = nn.Conv2d(8, 8, 1)
            self.pool = nn.AvgPool2d(2)
            self.fc = nn.Linear(8 * 3 * 3, 10)

        def forward(self, x):
            x = self.features(x)
            x = x + self.skip(x)
            return self.fc(self.pool(x).flatten(1))

    torch.manual_seed(0)
    x = torch.randn(4, 1, 12, 12)
    model = Net()
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    linger.init(model)
    for _ in range(3):
        model(torch.randn(8, 1, 12, 12))
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    report = compare(model, buf.getvalue(), x, isa=isa)
    assert report.ok, str(report)
    assert len(report.compared) == 6  # 3 convs, iqAdd, avgpool, linear
    # corrupt one weight in the file: the report names the first differing op

    proto = onnx.load_from_string(buf.getvalue())
    conv2 = [n for n in proto.graph.node if n.op_type == "Conv2dInt"][1]
    init = next(t for t in proto.graph.initializer if t.name == conv2.input[1])
    arr = onnx.numpy_helper.to_array(init).copy()
    arr.flat[0] = 127 if arr.flat[0] != 127 else -127
    init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    bad = compare(model, proto.SerializeToString(), x, isa=isa)
    assert not bad.ok
    assert bad.mismatch.op_type == "Conv2dInt" and bad.mismatch.index == 1
    assert "features.4" in str(bad.mismatch)
