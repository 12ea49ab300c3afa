"""linger.runtime: 0-d inputs, one session shared by threads, memory limits (issue 13)."""
import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import linger.runtime as rt


def _quant_dequant(shape):
    """x float `shape` -> Quant(Q4) -> Dequant(Q4) -> y float."""
    nodes = [helper.make_node("Quant", ["x"], ["q"], name="quant", domain="thinker", data_bits=8, scale_x=16.0),
             helper.make_node("Dequant", ["q"], ["y"], name="dequant", domain="thinker", scale_o=16.0)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)])
    return m.SerializeToString()


def _linear():
    """x float [2,8] -> Quant(Q4) -> LinearInt(8->4, Q4+Q6->Q3) -> Dequant -> y float [2,4]."""
    w = ((np.arange(32).reshape(4, 8) * 37) % 255 - 127).astype(np.int8)
    b = np.array([100, -200, 300, -400], dtype=np.int32)
    nodes = [helper.make_node("Quant", ["x"], ["xq"], name="quant", domain="thinker", data_bits=8, scale_x=16.0),
             helper.make_node("LinearInt", ["xq", "w", "b"], ["q"], name="fc", domain="thinker", scale_x=16.0,
                              scale_w=64.0, scale_o=8.0, o_bits=8),
             helper.make_node("Dequant", ["q"], ["y"], name="dequant", domain="thinker", scale_o=8.0)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)])
    return m.SerializeToString()


def test_zero_dim_input_keeps_its_shape():
    sess = rt.InferenceSession(_quant_dequant([]))
    assert sess.get_inputs()[0].shape == []
    y, = sess.run(None, {"x": np.array(1.3, dtype=np.float32)})
    assert y.shape == ()
    assert y == np.float32(21 / 16)  # floor(1.3 * 16 + 1/2) = 21
    y, = sess.run(None, {"x": np.float32(-0.5)})  # a NumPy scalar is a 0-d array too
    assert y.shape == () and y == np.float32(-0.5)


def test_zero_dim_array_is_not_taken_for_shape_1():
    sess = rt.InferenceSession(_quant_dequant([1]))
    with pytest.raises(rt.InvalidArgument, match=r"input 'x' has shape \[\], the model expects \[1\]"):
        sess.run(None, {"x": np.array(1.0, dtype=np.float32)})
    y, = sess.run(None, {"x": np.array([1.0], dtype=np.float32)})
    assert y.shape == (1,)


def test_non_contiguous_input_is_copied_not_reshaped():
    sess = rt.InferenceSession(_quant_dequant([2, 3]))
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:2, :3] / 8  # a strided view
    y, = sess.run(None, {"x": x})
    np.testing.assert_array_equal(y, np.floor(x * 16 + 0.5) / 16)


def test_one_session_from_four_threads_matches_sequential_runs():
    sess = rt.InferenceSession(_linear())
    rng = np.random.default_rng(0)
    inputs = [rng.normal(0, 2, size=(2, 8)).astype(np.float32) for _ in range(16)]
    expected = [sess.run(None, {"x": x})[0] for x in inputs]
    assert not np.array_equal(expected[0], expected[1])
    failures = []

    def worker(t):
        try:
            for r in range(500):
                i = (r * 5 + t * 3) % len(inputs)
                y, = sess.run(None, {"x": inputs[i]})
                if not np.array_equal(y, expected[i]):
                    failures.append((t, r, i))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append((t, repr(e)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads)
    assert failures == []


def test_memory_plan_and_limit():
    # One allocation per tensor (reuse_memory=False): weights w (32) + b (16); live tensors peak at dequant:
    # q (8) + y (32 float); workspace: the int32 block of LinearInt (2x4x4 = 32) in a 64-byte aligned region (64)
    # plus 64 bytes of alignment slack, a scratch buffer every node
    # of the run reuses.
    sess = rt.InferenceSession(_linear(), isa="scalar", reuse_memory=False)
    info = sess.get_memory_info()
    assert info["known"] and info["weights_bytes"] == 48 and info["peak_bytes"] == 168
    assert info["tensors_bytes"] == 40 and info["peak_node"] == "node 'dequant' (Dequant)"
    assert info["workspace_bytes"] == 128 and info["workspace_node"] == "node 'fc' (LinearInt)"
    rt.InferenceSession(_linear(), isa="scalar", reuse_memory=False, max_memory_bytes=216)
    with pytest.raises(rt.ModelValidationError, match=r"node 'dequant' \(Dequant\): rule 'memory-limit'"):
        rt.InferenceSession(_linear(), isa="scalar", reuse_memory=False, max_memory_bytes=215)
    # The arena (default): xq and q (8 bytes each, alive together at fc) in two 16-byte slots, plus the output y.
    info = rt.InferenceSession(_linear(), isa="scalar").get_memory_info()
    assert info["arena_bytes"] == 32 and info["tensors_bytes"] == 64 and info["peak_bytes"] == 192
    rt.InferenceSession(_linear(), isa="scalar", max_memory_bytes=240)
    with pytest.raises(rt.ModelValidationError, match=r"node '\w+' \(\w+\): rule 'memory-limit'"):
        rt.InferenceSession(_linear(), isa="scalar", max_memory_bytes=239)
    with pytest.raises(ValueError, match="max_memory_bytes must be a positive"):
        rt.InferenceSession(_linear(), max_memory_bytes=0)


def test_directory_and_empty_file_say_what_is_wrong(tmp_path):
    with pytest.raises(rt.FileError, match="is a directory"):
        rt.InferenceSession(str(tmp_path))
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(rt.InvalidModel, match="empty file"):
        rt.InferenceSession(str(empty))


def _conv_pool_linear():
    """x float [1,4,20,20] -> Quant(Q4) -> Conv2dInt 4->24 3x3 s2 p1 (Q4+Q7->Q4) -> MaxPool 3x3 s2 p1 -> Reshape
    -> LinearInt(600->10, Q4+Q7->Q3, o_bits 8) -> y int8 [1,10]."""
    rng = np.random.default_rng(7)
    cw = rng.integers(-128, 128, size=(24, 4, 3, 3), dtype=np.int8)
    cb = rng.integers(-4000, 4000, size=(24,), dtype=np.int32)
    fw = rng.integers(-128, 128, size=(10, 600), dtype=np.int8)
    fb = rng.integers(-4000, 4000, size=(10,), dtype=np.int32)
    conv = dict(scale_x=16.0, scale_w=128.0, scale_o=16.0, o_bits=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                strides=[2, 2], dilations=[1, 1], group=1)
    nodes = [helper.make_node("Quant", ["x"], ["xq"], name="quant", domain="thinker", data_bits=8, scale_x=16.0),
             helper.make_node("Conv2dInt", ["xq", "cw", "cb"], ["c"], name="conv", domain="thinker", **conv),
             helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
             helper.make_node("LinearInt", ["f", "fw", "fb"], ["y"], name="fc", domain="thinker", scale_x=16.0,
                              scale_w=128.0, scale_o=8.0, o_bits=8)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 20, 20])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 10])],
                          [numpy_helper.from_array(a, n) for a, n in ((cw, "cw"), (cb, "cb"), (fw, "fw"), (fb, "fb"))]
                          + [numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)])
    return m.SerializeToString()


def test_intra_op_num_threads_gives_the_same_bytes():
    model = _conv_pool_linear()
    x = np.random.default_rng(1).normal(0, 2, size=(1, 4, 20, 20)).astype(np.float32)
    want, = rt.InferenceSession(model, isa="scalar").run(None, {"x": x})
    for isa in ("auto", "scalar", "avx2", "avx512vnni"):
        if not rt.isa_supported(isa):
            continue
        for threads in (1, 2, 3, 4):
            sess = rt.InferenceSession(model, isa, intra_op_num_threads=threads)
            assert sess.intra_op_num_threads == threads
            y, = sess.run(None, {"x": x})
            np.testing.assert_array_equal(y, want, err_msg=f"{isa} {threads} threads")
    opts = rt.SessionOptions()
    opts.intra_op_num_threads = 2
    y, = rt.InferenceSession(model, sess_options=opts).run(None, {"x": x})
    np.testing.assert_array_equal(y, want)


def test_intra_op_num_threads_errors():
    model = _conv_pool_linear()
    for bad in (0, -2, 257, 1.5, True):
        with pytest.raises(ValueError, match="intra_op_num_threads"):
            rt.InferenceSession(model, intra_op_num_threads=bad)
    opts = rt.SessionOptions()
    opts.intra_op_num_threads = 3
    with pytest.raises(ValueError, match="contradicts"):
        rt.InferenceSession(model, intra_op_num_threads=2, sess_options=opts)


def test_enable_profiling_lists_the_nodes_that_ran():
    model = _conv_pool_linear()
    x = np.random.default_rng(2).normal(0, 2, size=(1, 4, 20, 20)).astype(np.float32)
    plain = rt.InferenceSession(model)
    assert plain.get_profile() == []
    opts = rt.SessionOptions()
    opts.enable_profiling = True
    for sess in (rt.InferenceSession(model, enable_profiling=True, intra_op_num_threads=2),
                 rt.InferenceSession(model, sess_options=opts)):
        for _ in range(2):
            np.testing.assert_array_equal(sess.run(None, {"x": x})[0], plain.run(None, {"x": x})[0])
        prof = sess.get_profile()
        # the Reshape is a view (no kernel): not listed
        assert [(p["name"], p["op_type"], p["runs"]) for p in prof] == [
            ("quant", "Quant", 2), ("conv", "Conv2dInt", 2), ("pool", "MaxPool", 2), ("fc", "LinearInt", 2)]
        assert all(isinstance(p["total_ns"], int) and p["total_ns"] >= 0 and p["fused"] == "" for p in prof)
        sess.reset_profile()
        assert sess.get_profile() == []
    with pytest.raises(TypeError, match="enable_profiling"):
        rt.InferenceSession(model, enable_profiling=1)
