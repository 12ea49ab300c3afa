"""Export refuses a node the linger runtime cannot run, naming the module, the torch construct and the fix."""
import io
import os
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger


class ExcludedPadPool(nn.Module):
    """An average pool that divides by the valid elements only: no integer form (the NPU divides by the area)."""

    def forward(self, x):
        return F.avg_pool2d(x, 4, count_include_pad=False)


class GapNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.avgpool = ExcludedPadPool()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.avgpool(self.conv(x)).flatten(1))


def trained():
    torch.manual_seed(0)
    m = linger.init(GapNet())
    for _ in range(2):
        m(torch.randn(2, 3, 6, 6))
    m.eval()
    return m, torch.randn(1, 3, 6, 6)


def test_unsupported_node_is_an_error_naming_module_construct_and_fix(tmp_path):
    m, x = trained()
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError) as e:
        linger.onnx.export(m, (x,), str(path))
    msg = str(e.value)
    assert "AveragePool" in msg and "module 'avgpool'" in msg and "count_include_pad=False" in msg
    assert "use count_include_pad=True" in msg  # what to use instead
    assert not path.exists() and not any(p.name.startswith("m.onnx") for p in tmp_path.iterdir())


def test_check_warn_writes_the_file_and_warns(tmp_path):
    m, x = trained()
    path = tmp_path / "m.onnx"
    with pytest.warns(UserWarning, match="AveragePool"):
        linger.onnx.export(m, (x,), str(path), check="warn")
    assert path.stat().st_size > 0


def test_check_false_skips(tmp_path):
    m, x = trained()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        buf = io.BytesIO()
        linger.onnx.export(m, (x,), buf, check=False)
    assert buf.getvalue()


def test_check_rejects_bad_values():
    m, x = trained()
    with pytest.raises(ValueError, match="check must be"):
        linger.onnx.export(m, (x,), io.BytesIO(), check="maybe")


def test_supported_model_passes_the_check():
    torch.manual_seed(0)
    m = linger.init(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AvgPool2d(4), nn.Flatten(), nn.Linear(4, 2)))
    for _ in range(2):
        m(torch.randn(2, 3, 6, 6))
    m.eval()
    buf = io.BytesIO()
    linger.onnx.export(m, (torch.randn(1, 3, 6, 6),), buf)
    assert buf.getvalue()
