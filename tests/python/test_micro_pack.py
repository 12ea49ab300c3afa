"""linger-pack (python/linger/_lib/linger-pack) on models exported by linger, and the packed file on the
micro runtime's host build (linger-micro-run): the same float32 bits as linger.runtime.InferenceSession."""
import io
import os
import subprocess

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper

import linger
import linger.runtime as rt

LIB = os.path.dirname(rt.CLI_PATH)
PACK = os.path.join(LIB, "linger-pack")
MICRO_RUN = os.path.join(LIB, "linger-micro-run")

pytestmark = pytest.mark.skipif(not (os.path.exists(PACK) and os.path.exists(MICRO_RUN)), reason="linger-pack not built")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1))


def _export(tmp_path, opset):
    model = Net()
    x = torch.randn(16, 1, 8, 8)
    linger.trace_layers(model, model, (x[:2],))
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path / f"net{opset}.onnx"
    linger.onnx.export(model, (x[:1],), str(path), opset_version=opset)
    return str(path), x.numpy()


@pytest.mark.parametrize("opset", [12, 14])
def test_packed_model_bit_exact_on_micro_runtime(tmp_path, opset):
    onnx_path, x = _export(tmp_path, opset)
    lpk = tmp_path / "net.lpk"
    r = subprocess.run([PACK, onnx_path, "-o", str(lpk)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "arena size:" in r.stdout and "flash size:" in r.stdout and "peak-memory layer:" in r.stdout
    arena = int(r.stdout.split("arena size: ")[1].split()[0])
    sess = rt.InferenceSession(onnx_path)
    name = sess.get_inputs()[0].name
    want = np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    x.tofile(tmp_path / "in.bin")
    r = subprocess.run([MICRO_RUN, str(lpk), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"arena {arena - 1} bytes (one short) -> LM_ERR_ARENA_TOO_SMALL" in r.stdout
    got = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(len(x), 2, -1)
    for path in (0, 1):  # portable, DSP kernels
        np.testing.assert_array_equal(got[:, path].view(np.uint32), want.view(np.uint32))


def test_unsupported_op_is_named(tmp_path):
    nodes = [helper.make_node("Transpose", ["x"], ["y"], name="the_transpose", perm=[1, 0])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT8, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [3, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])
    path = tmp_path / "t.onnx"
    path.write_bytes(m.SerializeToString())
    r = subprocess.run([PACK, str(path), "-o", str(tmp_path / "t.lpk")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "node 'the_transpose' (Transpose)" in r.stderr and "micro-unsupported" in r.stderr
    assert not (tmp_path / "t.lpk").exists()


def test_usage_errors_exit_2(tmp_path):
    assert subprocess.run([PACK], capture_output=True, timeout=60).returncode == 2
    assert subprocess.run([PACK, "a.onnx", "--bogus"], capture_output=True, timeout=60).returncode == 2
