"""ONNX export in the thinker dialect: structure, attributes, determinism, and no side effects."""
import io
import os

import onnx
import pytest
import torch
import torch.nn as nn
from onnx import numpy_helper

import linger


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 2 * 2, 5)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = x + self.conv2(x)
        x = self.avg(self.pool(x))
        return self.fc(x.flatten(1))


def trained(model=None, steps=3):
    torch.manual_seed(0)
    model = linger.init(model or Net())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(8, 1, 8, 8)
    for _ in range(steps):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, x


def export_bytes(model, args, **kw):
    buf = io.BytesIO()
    linger.onnx.export(model, args, buf, **kw)
    return buf.getvalue()


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def test_export_writes_the_thinker_dialect():
    model, x = trained()
    proto = onnx.load_from_string(export_bytes(model, (x,)))
    # opset 12: ReLU on int8 is a plain Relu as in linger 1.x (standard ONNX types it from opset 14 on), so the
    # full type check runs on the opset-14 file; both files have the same nodes
    onnx.checker.check_model(proto)
    proto14 = onnx.load_from_string(export_bytes(model, (x,), opset_version=14))
    onnx.checker.check_model(proto14, full_check=True)
    ops = [(n.domain, n.op_type) for n in proto.graph.node]
    assert ops == [(n.domain, n.op_type) for n in proto14.graph.node]
    assert ("", "Cast") not in ops  # no Cast(float) -> Relu -> Cast(int8) round trip (the packer rejects Cast)
    assert ops[0] == ("thinker", "Quant")
    assert ops[-1] == ("thinker", "Dequant")
    for op in ("Conv2dInt", "iqAdd", "AvgPool2dInt", "LinearInt"):
        assert ("thinker", op) in ops
    assert ("", "MaxPool") in ops and ("", "Relu") in ops
    assert {(o.domain, o.version) for o in proto.opset_import} >= {("", 12), ("thinker", 1)}
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    conv = next(n for n in proto.graph.node if n.op_type == "Conv2dInt")
    a = attrs(conv)
    assert a["pads"] == [1, 1, 1, 1] and a["kernel_shape"] == [3, 3] and a["group"] == 1
    assert a["data_bits"] == 8 and a["parameter_bits"] == 8 and a["o_bits"] == 8
    assert a["platform_quant"] == b"luna_quant"
    for key in ("scale_x", "scale_w", "scale_o"):
        q = torch.log2(torch.tensor(a[key])).item()
        assert q == int(q), f"{key} is not a power of two"
    assert inits[conv.input[1]].dtype.name == "int8" and inits[conv.input[2]].dtype.name == "int32"
    # the exported scales are the module's eval scales (seed Q8)
    assert a["scale_x"] == float(model.conv1.scale_x) and a["scale_o"] == float(model.conv1.scale_o)


def test_plain_torch_onnx_export_works_without_no_grad_in_train_mode():
    """seed G4/Q3: no opset/ATen-fallback/no_grad incantations needed. On torch 2.x the plain call names the
    TorchScript exporter (its default became the dynamo exporter, which cannot write thinker nodes)."""
    model, x = trained()
    model.train()
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, **linger.onnx.torchscript_kwargs())
    proto = onnx.load_from_string(buf.getvalue())
    assert any(n.op_type == "Conv2dInt" for n in proto.graph.node)
    assert model.training


def test_torchscript_kwargs_name_the_torchscript_exporter_where_torch_has_a_choice():
    import inspect
    has_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters
    assert linger.onnx.torchscript_kwargs() == ({"dynamo": False} if has_dynamo else {})
    if int(torch.__version__.split(".")[0]) >= 2 and int(torch.__version__.split(".")[1]) >= 5:
        assert has_dynamo


def test_torch_export_of_a_linger_model_is_a_clear_error():
    """torch 2.x: torch.export (what torch.onnx.export's default dynamo exporter runs) cannot write thinker nodes;
    the first quantized module says so and names the two calls that work."""
    if getattr(getattr(torch, "compiler", None), "is_exporting", None) is None or not hasattr(torch, "export"):
        pytest.skip(f"torch {torch.__version__} has no torch.export")
    model, x = trained()
    model.eval()
    with pytest.raises(RuntimeError, match=r"traced by torch\.export.*linger\.onnx\.export.*torchscript_kwargs"):
        torch.export.export(model, (x[:1],))


def test_export_is_deterministic_and_leaves_the_model_unchanged():
    """seed Q6/Q8: exporting changes no parameter, statistic or mode; training continues."""
    model, x = trained()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = export_bytes(model, (x,))
    b = export_bytes(model, (x,))
    assert a == b
    assert model.training and all(m.training for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert model.conv1.weight.dtype == torch.float32 and isinstance(model.conv1.weight, nn.Parameter)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = model(x).square().mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)


def test_export_before_training_fails_cleanly_without_a_file(tmp_path):
    """seed Q1: clear error naming the module; no partial file; model intact."""
    model = linger.init(Net())
    path = tmp_path / "m.onnx"
    with pytest.raises(RuntimeError, match="'conv1'.*never ran a training-mode forward"):
        linger.onnx.export(model, (torch.randn(1, 1, 8, 8),), str(path))
    assert not path.exists()
    assert not [p for p in os.listdir(tmp_path)]
    assert model.training


class DictNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x, meta):
        return self.fc(x * meta["gain"])


def test_dict_as_last_positional_input():
    """seed Q9: a dict as the last positional input is an input, not kwargs."""
    model = linger.init(DictNet())
    x, meta = torch.randn(2, 6), {"gain": torch.full((2, 6), 0.5)}
    model(x, meta)
    proto = onnx.load_from_string(export_bytes(model, (x, meta)))
    assert len(proto.graph.input) == 2


def test_export_to_path_writes_the_same_bytes(tmp_path):
    model, x = trained()
    path = tmp_path / "m.onnx"
    linger.onnx.export(model, (x,), str(path))
    assert path.read_bytes() == export_bytes(model, (x,))
