"""The constraint stage for recurrent layers: normalize_layers replaces nn.LSTM / nn.GRU by NormalizeFastLSTM /
NormalizeFastGRU (1.x names), which clamp weights, biases and the output sequence; checkpoints load across the
stages float -> normalize -> init (as for conv-bn, tests/python/test_two_stage.py)."""
import copy

import pytest
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import linger

KINDS = {"lstm": (nn.LSTM, linger.NormalizeFastLSTM, linger.LSTMInt),
         "gru": (nn.GRU, linger.NormalizeFastGRU, linger.GRUInt)}
CFGS = [dict(num_layers=1, bidirectional=False, batch_first=False),
        dict(num_layers=2, bidirectional=True, batch_first=True)]


class Net(nn.Module):
    def __init__(self, kind, **cfg):
        super().__init__()
        self.rnn = KINDS[kind][0](5, 4, **cfg)
        self.fc = nn.Linear(4 * (2 if cfg.get("bidirectional") else 1), 3)

    def forward(self, x, hx=None):
        y, state = self.rnn(x, hx)
        return self.fc(y), state


def _state(kind, cfg, B=3, scale=0.5):
    D = 2 if cfg["bidirectional"] else 1
    h = (torch.rand(cfg["num_layers"] * D, B, 4) - 0.5) * 2 * scale
    return (h, (torch.rand_like(h) - 0.5) * 4) if kind == "lstm" else h


def _x(cfg, T=6, B=3):
    x = torch.randn(T, B, 5) * 2
    return x.transpose(0, 1).contiguous() if cfg["batch_first"] else x


def _eq_state(a, b):
    if isinstance(a, tuple):
        return all(torch.equal(u, v) for u, v in zip(a, b))
    return torch.equal(a, b)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("cfg", CFGS, ids=["uni", "bi-2l-bf"])
def test_normalize_layers_replaces_rnns_sharing_parameters_and_computes_the_float_module(kind, cfg):
    """Where no clamp bites, the constraint stage computes the float module bit for bit (same torch kernel), with
    zero or given states, padded or packed (sorted and unsorted lengths)."""
    torch.manual_seed(0)
    net = Net(kind, **cfg)
    ref = copy.deepcopy(net)
    w = net.rnn.weight_ih_l0
    linger.normalize_layers(net)
    assert type(net.rnn) is KINDS[kind][1] and net.rnn.weight_ih_l0 is w
    assert (net.rnn.normalize_weight, net.rnn.normalize_bias, net.rnn.normalize_data) == (8.0, 8.0, 8.0)
    assert set(net.state_dict()) == set(ref.state_dict())
    for mode in ("train", "eval"):
        getattr(net, mode)()
        getattr(ref, mode)()
        x, hx = _x(cfg), _state(kind, cfg)
        for h in (None, hx):
            y, st = net(x, h)
            yr, sr = ref(x, h)
            assert torch.equal(y, yr) and _eq_state(st, sr)
        for lengths in ([6, 4, 2], [2, 6, 4]):
            p = pack_padded_sequence(x, lengths, batch_first=cfg["batch_first"], enforce_sorted=False)
            y, st = net.rnn(p, hx)
            yr, sr = ref.rnn(p, hx)
            assert torch.equal(y.data, yr.data) and _eq_state(st, sr)
            assert torch.equal(y.unsorted_indices, yr.unsorted_indices)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_weights_biases_and_outputs_are_clamped(kind):
    """Weights beyond +-normalize_weight and biases beyond +-normalize_bias run clamped (reference: the float module
    with clamped copies of its parameters); the output sequence is clamped to +-normalize_data, the final states are
    not (1.x)."""
    torch.manual_seed(1)
    cfg = dict(num_layers=2, bidirectional=True, batch_first=False)
    net = Net(kind, **cfg)
    with torch.no_grad():
        net.rnn.weight_hh_l0.mul_(10)       # some beyond 0.6
        net.rnn.bias_ih_l1_reverse.mul_(20)  # some beyond 0.3
    linger.normalize_module(net.rnn, (KINDS[kind][0],), normalize_weight_value=0.6, normalize_bias_value=0.3,
                            normalize_output_value=0.25)
    ref = copy.deepcopy(net.rnn)
    linger.normalize_layers(net)
    assert (net.rnn.normalize_weight, net.rnn.normalize_bias, net.rnn.normalize_data) == (0.6, 0.3, 0.25)
    assert net.rnn.weight_hh_l0.abs().max() > 0.6 and net.rnn.bias_ih_l1_reverse.abs().max() > 0.3
    with torch.no_grad():
        for n, p in ref.named_parameters():
            p.clamp_(-(0.6 if n.startswith("weight") else 0.3), 0.6 if n.startswith("weight") else 0.3)
    x, hx = _x(cfg), _state(kind, cfg)
    y, st = net.rnn(x, hx)
    yr, sr = ref(x, hx)
    assert torch.equal(y, yr.clamp(-0.25, 0.25)) and _eq_state(st, sr)
    assert (yr.abs() > 0.25).any()  # the output clamp did something
    # gradient: the float recurrence's through the clamps (inward policy for the clipped parameters)
    y.sum().backward()
    for n, p in net.rnn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, n


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_checkpoints_load_across_stages_float_normalize_init(kind):
    """A float checkpoint loads strict into the normalized and the quantized model; a normalized checkpoint loads
    strict into the quantized one; init carries the bounds over as clamp_weight / clamp_bias / clamp_data; a QAT
    checkpoint into the constraint stage says which order works."""
    torch.manual_seed(2)
    cfg = dict(num_layers=2, bidirectional=True, batch_first=True)
    float_net = Net(kind, **cfg)
    sd = float_net.state_dict()
    normalized = linger.normalize_layers(Net(kind, **cfg), normalize_weight_value=4, normalize_bias_value=2)
    normalized.load_state_dict(sd, strict=True)
    x = _x(cfg)
    float_net.eval()
    normalized.eval()
    assert torch.equal(normalized(x)[0], float_net(x)[0])
    quantized = linger.init(linger.normalize_layers(Net(kind, **cfg), normalize_weight_value=4,
                                                    normalize_bias_value=2))
    assert type(quantized.rnn) is KINDS[kind][2]
    assert (quantized.rnn.clamp_weight, quantized.rnn.clamp_bias, quantized.rnn.clamp_data) == (4.0, 2.0, 8.0)
    quantized.load_state_dict(sd, strict=True)
    quantized.load_state_dict(normalized.state_dict(), strict=True)
    for a, b in zip(quantized.rnn.parameters(), float_net.rnn.parameters()):
        assert torch.equal(a, b)
    quantized.train()
    for _ in range(3):
        quantized(x)
    quantized.eval()
    with torch.no_grad():
        yq = quantized(x)[0]
    yf = float_net(x)[0]
    assert (yq.as_subclass(torch.Tensor) - yf).abs().max() < 0.15 * yf.abs().max()
    qat_sd = quantized.state_dict()
    again = linger.init(linger.normalize_layers(Net(kind, **cfg)))
    again.load_state_dict(qat_sd, strict=True)
    again.eval()
    with torch.no_grad():
        assert torch.equal(again(x)[0], yq)
    with pytest.raises(RuntimeError, match="trace_layers -> normalize_layers -> init -> load_state_dict"):
        linger.normalize_layers(Net(kind, **cfg)).load_state_dict(qat_sd)


def test_stage_module_sets_must_match_for_rnns():
    """seed G3 for recurrent layers: a normalized GRU needs nn.GRU in init's quant_modules (or disable_quant);
    disable_normalize keeps it float in both stages."""
    net = linger.normalize_layers(Net("gru", **CFGS[0]))
    with pytest.raises(ValueError, match=r"'rnn' \(NormalizeFastGRU\).*nn\.GRU"):
        linger.init(net, quant_modules=(nn.Linear,))
    net = Net("lstm", **CFGS[0])
    linger.disable_normalize(net.rnn)
    linger.normalize_layers(net)
    linger.init(net)
    assert type(net.rnn) is nn.LSTM and isinstance(net.fc, linger.LinearInt)


def test_normalize_fast_constructors_take_the_1x_arguments():
    m = linger.NormalizeFastLSTM(3, 5, num_layers=1, bias=False, batch_first=True, normalize_data=2,
                                 normalize_weight=1, normalize_bias=None)
    y, (h, c) = m(torch.randn(2, 4, 3))
    assert y.shape == (2, 4, 5) and y.abs().max() <= 2 and h.shape == (1, 2, 5)
    g = linger.NormalizeFastGRU(3, 5, bidirectional=True)
    y, h = g(torch.randn(4, 2, 3))
    assert y.shape == (4, 2, 10) and h.shape == (2, 2, 5)
    with pytest.raises(ValueError, match="NormalizeFastGRU.*3-D input"):
        g(torch.randn(4, 3))
    with pytest.raises(ValueError, match="proj_size"):
        linger.normalize_layers(nn.Sequential(nn.LSTM(3, 5, proj_size=2)))
