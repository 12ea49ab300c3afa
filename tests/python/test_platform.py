"""Platforms (linger/platform.py, docs/platforms.md): limits at init and export, platform/quant_mode in the file,
the per-layer report."""
import io
import os
import subprocess
import sys

import onnx
import pytest
import torch
import torch.nn as nn

import linger
from linger.runtime import InferenceSession

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from examples.fashion_mnist_demo import ConvBNCNN  # noqa: E402


@pytest.fixture(autouse=True)
def _default_platform():
    linger.SetPlatform(None)
    yield
    linger.SetPlatform(None)


def _trained(model, shape, platform=None, **kw):
    torch.manual_seed(0)
    model = linger.init(model, platform=platform, **kw) if platform or kw else linger.init(model)
    model.train()
    for _ in range(3):
        model(torch.randn(shape))
    return model.eval()


def _export(model, shape, **kw):
    buf = io.BytesIO()
    linger.onnx.export(model, torch.randn(shape), buf, **kw)
    return buf.getvalue()


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


BAD = {
    "kernel 7x7": (lambda: nn.Sequential(nn.Conv2d(3, 4, 7)), "'0' (Conv2dInt): kernel size 7x7 exceeds the venus "
                   "limit kernel <= 5"),
    "dilation": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, dilation=2)),
                 "'1' (Conv2dInt): dilation (2, 2) is not supported on venus (limit: dilation 1)"),
    "ceil_mode": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, ceil_mode=True)),
                  "'1' (MaxPool2d): ceil_mode=True is not supported"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_limit_fails_at_init_naming_the_module_and_the_limit(case):
    factory, msg = BAD[case]
    with pytest.raises(ValueError) as e:
        linger.init(factory(), platform="venus")
    assert msg in str(e.value)
    linger.SetPlatform("venus")  # the global choice checks too
    with pytest.raises(ValueError, match="limit"):
        linger.init(factory())


@pytest.mark.parametrize("case", sorted(BAD))
def test_limits_as_warnings_and_default_platform_unchecked(case):
    factory, msg = BAD[case]
    with pytest.warns(UserWarning, match="limit"):
        linger.init(factory(), platform="venus", limits="warn")
    linger.init(factory())  # default: no platform chosen, today's behaviour (our runtime runs a 7x7 kernel)


def test_dilation_is_allowed_off_venus_and_kernel_limit_applies_everywhere():
    linger.init(BAD["dilation"][0](), platform="venusA")
    with pytest.raises(ValueError, match="kernel size 7x7 exceeds the arcs limit"):
        linger.init(BAD["kernel 7x7"][0](), platform="arcs")
    with pytest.raises(ValueError, match="input length 20000 exceeds the venus LinearInt limit"):
        linger.init(nn.Sequential(nn.Linear(20000, 2)), platform="venus")


def test_export_checks_again_including_functional_maxpool_and_memory():
    class F(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return nn.functional.max_pool2d(self.c(x), 2, ceil_mode=True)
    m = _trained(F(), (1, 3, 9, 9))
    _export(m, (1, 3, 9, 9))  # no platform: written as before
    with pytest.raises(ValueError, match="MaxPool.*ceil_mode=1 is not supported"):
        _export(m, (1, 3, 9, 9), platform="venus")
    big = _trained(nn.Sequential(nn.Conv2d(8, 16, 3, padding=1)), (1, 8, 128, 128))
    with pytest.raises(ValueError, match=r"'0' \(Conv2dInt\): share-mem estimate \d+ B .* exceeds the venusA limit "
                       "384 KB"):
        _export(big, (1, 8, 128, 128), platform="venusA")


@pytest.mark.parametrize("platform", [None, "venus", "venusA", "arcs", "mars"])
@pytest.mark.parametrize("opset", [12, 14])
def test_demo_export_has_no_cast_and_platform_on_every_thinker_node(platform, opset):
    m = _trained(ConvBNCNN(), (4, 1, 28, 28), platform)
    data = _export(m, (1, 1, 28, 28), opset_version=opset)
    nodes = onnx.load_from_string(data).graph.node
    assert "Cast" not in [n.op_type for n in nodes]
    needs_mode = platform in ("venusA", "arcs")
    for n in nodes:
        a = _attrs(n)
        if n.domain == "thinker" and platform is not None:
            assert a["platform"] == platform.encode(), n.name
        else:
            assert "platform" not in a, n.name
        if n.op_type in ("Conv2dInt", "Conv1dInt", "ConvTranspose2dInt", "LinearInt") and needs_mode:
            assert a["quant_mode"] == b"floor_add", n.name
        else:
            assert "quant_mode" not in a, n.name
    assert sum(n.op_type in ("Conv2dInt", "LinearInt") for n in nodes) == 3
    sess = InferenceSession(data)  # the runtime reads the attributes
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        ref = m(x).as_subclass(torch.Tensor).numpy()
    assert (sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0] == ref).all()


def test_quant_mode_choices():
    with pytest.raises(NotImplementedError, match="quant_mode='round'.*not implemented.*floor_add"):
        linger.SetPlatform("venusA", quant_mode="round")
    with pytest.raises(ValueError, match="quant_mode='half'.*floor, floor_add, round, ceil|unknown"):
        linger.SetPlatform("arcs", quant_mode="half")
    with pytest.raises(ValueError, match="only written for platforms venusA, arcs"):
        linger.SetPlatform("venus", quant_mode="floor_add")
    with pytest.raises(ValueError, match="platform='luna' is unknown"):
        linger.init(nn.Sequential(nn.Conv2d(1, 1, 1)), platform="luna")


def test_runtime_refuses_unimplemented_quant_mode_and_unknown_platform():
    m = _trained(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 3, 6, 6), "venusA")
    proto = onnx.load_from_string(_export(m, (1, 3, 6, 6)))
    conv = [n for n in proto.graph.node if n.op_type == "Conv2dInt"][0]
    for name, value, msg in (("quant_mode", "round", "'quant_mode' = 'round' is not supported"),
                             ("platform", "luna", "'platform' = 'luna' is not supported")):
        bad = onnx.ModelProto()
        bad.CopyFrom(proto)
        node = [n for n in bad.graph.node if n.op_type == "Conv2dInt"][0]
        for a in node.attribute:
            if a.name == name:
                a.s = value.encode()
        with pytest.raises(Exception, match=msg):
            InferenceSession(bad.SerializeToString())
    assert conv is not None


def test_platform_report_function_and_cli():
    m = _trained(nn.Sequential(nn.Conv2d(8, 16, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(16 * 32 * 32, 4)), (1, 8, 64, 64), "venusA", limits="off")
    rows = linger.tools.platform_report(m, torch.randn(1, 8, 64, 64))
    by = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["0", "1", "3"]
    # independent arithmetic: int8 input 8x64x64 (channels already aligned to 8), output 16x64x64,
    # weights 16*8*5*5 int8 + 16 int32
    assert by["0"]["input_bytes"] == 8 * 64 * 64 and by["0"]["output_bytes"] == 16 * 64 * 64
    assert by["0"]["weight_bytes"] == 16 * 8 * 25 + 4 * 16
    assert by["0"]["total_bytes"] == 32768 + 65536 + 3264
    assert any("kernel 5 = limit 5" in s for s in by["0"]["near"])
    assert by["3"]["violations"] == []
    assert any("in_features 16384 of limit 16384" in s for s in by["3"]["near"])
    assert by["3"]["weight_bytes"] == 4 * 16384 + 16
    out = subprocess.run([sys.executable, "-m", "linger.tools.platform_report", "--model",
                          "examples.fashion_mnist_demo:ConvBNCNN", "--input", "1,1,28,28", "--platform", "venusA"],
                         cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), ROOT])})
    assert out.returncode == 0, out.stderr
    assert "platform venusA (384 KB share-mem)" in out.stdout and "conv1" in out.stdout and "fc" in out.stdout
    bad = subprocess.run([sys.executable, "-c", "import sys; from linger.tools.platform_report import main; "
                          "sys.exit(main(['--model', 'tests.python.test_platform:Big7', '--input', '1,3,9,9', "
                          "'--platform', 'venus']))"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), ROOT])})
    assert bad.returncode == 1 and "LIMIT: kernel size 7x7" in bad.stdout, bad.stdout + bad.stderr


def Big7():
    return nn.Sequential(nn.Conv2d(3, 4, 7))
