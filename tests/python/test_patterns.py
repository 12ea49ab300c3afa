"""Patterns real networks use (found by running torchvision models as a new user would): each trains, exports
and runs bit-exact in the runtime."""
import io
import warnings

import onnx
import pytest
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

import linger
from linger.tools.compare import compare


def train_export(model, shape, steps=3, **export_kw):
    torch.manual_seed(0)
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(steps):
        out = model(torch.randn(shape))
        loss = sum(o.float().sum() for o in out) if isinstance(out, tuple) else out.float().sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    x = torch.randn(shape)
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf, **export_kw)
    return x, buf.getvalue(), [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]


class ResidualNet(nn.Module):
    """torchvision's BasicBlock, unmodified: `out += identity` and ReLU(inplace=True)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.block = BasicBlock(8, 8)
        self.fc = nn.Linear(8 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(self.block(self.stem(x)).flatten(1))


def test_residual_iadd_trains_exports_as_iqadd_and_is_bit_exact():
    model = ResidualNet()
    x, data, ops = train_export(model, (2, 3, 6, 6))
    assert ops.count("iqAdd") == 1 and "Add" not in ops
    report = compare(model, data, x)
    assert report.ok, str(report)


class InplaceActs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.a(x)
        self.act(y)          # return value unused: the in-place ReLU must still be in the export
        z = self.b(y)
        z.relu_()            # the same with the method form
        return self.b(z)


def test_inplace_relu_with_unused_result_is_exported_and_compare_has_no_false_mismatch():
    model = InplaceActs()
    x, data, ops = train_export(model, (2, 3, 5, 5))
    assert ops.count("Relu") == 2
    report = compare(model, data, x)  # records copies: the later in-place ReLU must not alter the record
    assert report.ok, str(report)
    assert len(report.compared) == 3


@pytest.mark.parametrize("act,op", [(lambda: nn.LeakyReLU(0.1, inplace=True), "TableInt"),  # quantized (int8 table)
                                    (lambda: nn.ELU(inplace=True), "Elu")])  # a float op between Dequant and Quant
def test_inplace_activation_is_in_the_export(act, op):
    class Leaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3)
            self.act = act()
            self.b = nn.Conv2d(4, 2, 1)

        def forward(self, x):
            y = self.a(x)
            self.act(y)
            return self.b(y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, ops = train_export(Leaky(), (2, 3, 6, 6), check=False)
    assert op in ops  # the in-place activation is not dropped


class CatThenPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], 1)
        y = self.pool(torch.relu(y))
        assert linger.is_iqtensor(y), "ReLU/MaxPool after cat must keep the quantization"
        return y


def test_relu_and_maxpool_after_cat_stay_quantized():
    model = CatThenPool()
    x, data, ops = train_export(model, (2, 3, 6, 6))
    assert ops.index("iqCat") < ops.index("MaxPool") and ops.count("Dequant") == 1 and ops[-1] == "Dequant"
    assert compare(model, data, x).ok


class Pieces(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.a(x)
        p, q = y.chunk(2, dim=1)
        r = torch.split(y, [3, 5], 1)[0][:, :1]
        s = torch.unbind(y, 1)[2]
        t = y[:, 1:2].squeeze(1).unsqueeze(1)
        v = y.swapaxes(2, 3).movedim(1, 3)
        assert all(linger.is_iqtensor(o) for o in (p, q, r, s, t, v))
        return self.b(p) + self.b(q), r, s, t, v


def test_chunk_split_unbind_squeeze_export_plain_slices_and_keep_quantization():
    model = Pieces()
    x, data, ops = train_export(model, (1, 3, 5, 5))
    assert not {"Shape", "Gather", "Div", "Mul", "Add", "Equal", "If", "Split"} & set(ops), ops
    assert "Slice" in ops and "Squeeze" in ops and "Unsqueeze" in ops and "Transpose" in ops
    assert ops.count("Dequant") == 5  # one per output: no float detour inside
    report = compare(model, data, x)
    assert report.ok, str(report)


def test_densenet_blocks_iterating_a_moduledict_keep_their_layers():
    """torchvision's _DenseBlock is an nn.ModuleDict whose forward loops over `self.items()` and calls torch.cat:
    the iqCat layers must not become its children (they would be called as dense layers in the next forward)."""
    from torchvision.models.densenet import DenseNet

    torch.manual_seed(0)
    model = DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16, bn_size=2, num_classes=5)
    x, data, ops = train_export(model, (4, 3, 32, 32))
    assert ops.count("iqCat") == 6 and "Concat" not in ops  # per block: each dense layer + the block output
    for block in (model.features.denseblock1, model.features.denseblock2):
        assert all(name.startswith("denselayer") for name, _ in block.items())
    report = compare(model, data, x)
    assert report.ok, str(report)
