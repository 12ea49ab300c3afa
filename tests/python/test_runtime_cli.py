"""The linger-run command-line tool (python/linger/_lib/linger-run), driven through subprocess."""
import os
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import linger.runtime as rt

CLI = rt.CLI_PATH

pytestmark = pytest.mark.skipif(not os.path.exists(CLI), reason=f"{CLI} not built")


def _model(tmp_path, name="m.onnx"):
    """x float [2,3] -> Quant(Q4) -> LinearInt(3->2, Q4+Q5->Q3) -> {Dequant -> y, q (int8, second output)}."""
    w = np.array([[5, -7, 3], [-128, 127, 1]], dtype=np.int8)
    nodes = [
        helper.make_node("Quant", ["x"], ["xq"], name="quant", domain="thinker", data_bits=8, scale_x=16.0),
        helper.make_node("LinearInt", ["xq", "w"], ["q"], name="fc", domain="thinker", scale_x=16.0, scale_w=32.0,
                         scale_o=8.0, o_bits=8),
        helper.make_node("Dequant", ["q"], ["y"], name="dequant", domain="thinker", scale_o=8.0),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2]),
                           helper.make_tensor_value_info("q", TensorProto.INT8, [2, 2])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)],
                          producer_name="linger")
    path = tmp_path / name
    path.write_bytes(m.SerializeToString())
    return str(path)


def _run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=60)


X = np.array([[0.5, -1.25, 3.0], [7.9, -8.1, 0.03]], dtype=np.float32)


def test_npy_in_npy_out(tmp_path):
    model = _model(tmp_path)
    np.save(tmp_path / "x.npy", X)
    r = _run(model, "--input", f"x={tmp_path / 'x.npy'}", "--output", f"y={tmp_path / 'y.npy'}",
             "--output", f"q={tmp_path / 'q.npy'}", "--isa", "scalar")
    assert r.returncode == 0, r.stderr
    y, q = rt.InferenceSession(model).run(None, {"x": X})
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), y)
    out_q = np.load(tmp_path / "q.npy")
    assert out_q.dtype == np.int8
    np.testing.assert_array_equal(out_q, q)


def test_single_input_without_name_and_raw_io(tmp_path):
    model = _model(tmp_path)
    X.tofile(tmp_path / "x.bin")
    r = _run(model, "--input", tmp_path / "x.bin", "--output", f"q={tmp_path / 'q.raw'}")
    assert r.returncode == 0, r.stderr
    q_raw = np.fromfile(tmp_path / "q.raw", dtype=np.int8).reshape(2, 2)
    np.testing.assert_array_equal(q_raw, rt.InferenceSession(model).run(["q"], {"x": X})[0])


def test_repeat_prints_timing(tmp_path):
    np.save(tmp_path / "x.npy", X)
    r = _run(_model(tmp_path), "--input", f"x={tmp_path / 'x.npy'}", "--repeat", "3", "--isa", "scalar")
    assert r.returncode == 0, r.stderr
    assert "ms per run (mean of 3, isa scalar, 1 thread(s))" in r.stdout
    assert _run(_model(tmp_path), "--repeat", "x").returncode != 0


def test_info(tmp_path):
    r = _run(_model(tmp_path), "--info", "--no-reuse-memory")
    assert r.returncode == 0, r.stderr
    assert "input  x float32 [2, 3]" in r.stdout
    assert "output y float32 [2, 2]" in r.stdout
    assert "output q int8 [2, 2]" in r.stdout
    assert "producer linger" in r.stdout
    # weights: w (6 bytes); live tensors peak at dequant: q (4) + y (16); workspace: fc's int32 block (2x2x4) in a
    # 64-byte aligned region, plus 64 bytes of alignment slack (128)
    assert ("memory: weights 6 bytes, peak per run 148 bytes (20 of live tensors at node 'dequant' (Dequant) + a "
            "workspace of 128 for node 'fc' (LinearInt)), total 154 bytes") in r.stdout
    # With the arena (default): xq (6 bytes) in one 16-byte slot, the outputs q and y (20) are the caller's.
    r = _run(_model(tmp_path), "--info")
    assert ("memory: weights 6 bytes, peak per run 164 bytes (36 of tensors: an arena of 16 + 20 of outputs, most live "
            "at node 'dequant' (Dequant) + a workspace of 128 for node 'fc' (LinearInt)), total 170 bytes") in r.stdout


def test_max_memory_bytes_caps_the_plan(tmp_path):
    r = _run(_model(tmp_path), "--info", "--max-memory-bytes", "170")
    assert r.returncode == 0, r.stderr
    r = _run(_model(tmp_path), "--info", "--max-memory-bytes", "169")
    assert r.returncode != 0
    assert "rule 'memory-limit': one run needs 170 bytes" in r.stderr
    r = _run(_model(tmp_path), "--info", "--no-reuse-memory", "--max-memory-bytes", "154")
    assert r.returncode == 0, r.stderr
    assert "max_memory_bytes 154" in r.stdout
    r = _run(_model(tmp_path), "--info", "--no-reuse-memory", "--max-memory-bytes", "153")
    assert r.returncode != 0
    assert "node 'dequant' (Dequant): rule 'memory-limit': one run needs 154 bytes" in r.stderr
    assert "max_memory_bytes" in r.stderr


def test_summary_without_output(tmp_path):
    np.save(tmp_path / "x.npy", X)
    r = _run(_model(tmp_path), "--input", f"x={tmp_path / 'x.npy'}")
    assert r.returncode == 0, r.stderr
    assert "y: float32 [2,2]" in r.stdout and "q: int8 [2,2]" in r.stdout


def test_errors_exit_nonzero_with_message(tmp_path):
    model = _model(tmp_path)
    np.save(tmp_path / "x64.npy", X.astype(np.float64))
    r = _run(model, "--input", f"x={tmp_path / 'x64.npy'}")
    assert r.returncode != 0 and "'<f8'" in r.stderr
    np.save(tmp_path / "x_int.npy", X.astype(np.int32))
    r = _run(model, "--input", f"x={tmp_path / 'x_int.npy'}")
    assert r.returncode != 0 and "input 'x' must be float32, got int32" in r.stderr
    (tmp_path / "short.bin").write_bytes(b"\0" * 7)
    r = _run(model, "--input", f"x={tmp_path / 'short.bin'}")
    assert r.returncode != 0 and "needs 24" in r.stderr
    nan = X.copy()
    nan[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    r = _run(model, "--input", f"x={tmp_path / 'nan.npy'}", "--output", f"y={tmp_path / 'y.npy'}")
    assert r.returncode != 0 and "node 'quant' (Quant)" in r.stderr and "NaN" in r.stderr
    np.save(tmp_path / "x.npy", X)
    r = _run(model, "--input", f"x={tmp_path / 'x.npy'}", "--output", tmp_path / "o.npy")  # two outputs: need NAME=
    assert r.returncode != 0 and "NAME=FILE" in r.stderr
    r = _run(model, "--isa", "sse9")
    assert r.returncode != 0 and "unknown ISA" in r.stderr
    r = _run(model, "--bogus")
    assert r.returncode != 0 and "unknown option" in r.stderr
    r = _run(tmp_path / "missing.onnx", "--info")
    assert r.returncode != 0 and "cannot open" in r.stderr
    r = _run()
    assert r.returncode != 0 and "usage" in r.stderr


def test_invalid_model_message(tmp_path):
    bad = tmp_path / "bad.onnx"
    data = open(_model(tmp_path), "rb").read()
    bad.write_bytes(data[: len(data) // 2])
    r = _run(bad, "--info")
    assert r.returncode != 0 and "malformed ONNX protobuf" in r.stderr


def test_threads_and_profile(tmp_path):
    np.save(tmp_path / "x.npy", X)
    r = _run(_model(tmp_path), "--input", f"x={tmp_path / 'x.npy'}", "--repeat", "4", "--threads", "2", "--profile")
    assert r.returncode == 0, r.stderr
    assert "2 thread(s))" in r.stdout
    assert "profile: 3 nodes" in r.stdout and "(4 run(s))" in r.stdout  # the first run is not counted
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  ") and "%" in line]
    assert sorted(row[-1] for row in rows) == ["dequant", "fc", "quant"]
    assert {row[2] for row in rows} == {"Quant", "LinearInt", "Dequant"}
    for bad in ("0", "x", "300"):
        r = _run(_model(tmp_path), "--threads", bad)
        assert r.returncode == 2 and "--threads" in r.stderr
