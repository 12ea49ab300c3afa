"""linger.runtime.InferenceSession on models built with onnx.helper in the thinker dialect, checked against an
independent numpy int64 implementation of numerics.md with tolerance 0, plus the error cases."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import linger.runtime as rt

# ---------------------------------------------------------------- numpy int64 reference (numerics.md §2, §3)


def sat(v, bits):
    return np.clip(v, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def rhu_shift(v, s):
    """floor(v / 2^s + 1/2) for s > 0, exact left shift for s < 0 (values here stay far from int64 limits)."""
    v = np.asarray(v, dtype=np.int64)
    if s > 0:
        return (v + (1 << (s - 1))) >> s
    return v << (-s)


def quantize(x, q, bits=8):
    return sat(np.floor(x.astype(np.float64) * 2.0 ** q + 0.5), bits).astype(np.int64)


def dequantize(v, q):
    return (v.astype(np.float64) * 2.0 ** -q).astype(np.float32)


def wrap32(v):
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def conv2d(x, w, b, stride, pads, dil, groups, shift, out_bits):
    """Conv2dInt: wrapped int32 accumulation, sat32(acc + b), rhu_shift, sat (out_bits None: float acc*2^-shift)."""
    n, c, h, wd = x.shape
    o, cpg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), dtype=np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    acc = np.zeros((n, o, oh, ow), dtype=np.int64)
    opg = o // groups
    for oc in range(o):
        g = oc // opg
        for ky in range(kh):
            for kx in range(kw):
                y0, x0 = ky * dil[0], kx * dil[1]
                patch = xp[:, g * cpg:(g + 1) * cpg, y0:y0 + stride[0] * (oh - 1) + 1:stride[0],
                           x0:x0 + stride[1] * (ow - 1) + 1:stride[1]]
                acc[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, ky, kx].astype(np.int64))
    acc = wrap32(acc)
    if b is not None:
        acc = sat(acc + b.astype(np.int64).reshape(1, -1, 1, 1), 32)
    if out_bits is None:
        return (acc.astype(np.float64) * 2.0 ** -shift).astype(np.float32)
    return sat(rhu_shift(acc, shift), out_bits)


def linear(x, w, b, shift, out_bits):
    acc = x.astype(np.int64) @ w.astype(np.int64).T
    if b is not None:
        acc = acc + b.astype(np.int64)
    if out_bits is None:
        return (acc.astype(np.float64) * 2.0 ** -shift).astype(np.float32)
    return sat(rhu_shift(acc, shift), out_bits)


def pool_out(size, k, s, p0, p1, ceil_mode):
    span = size + p0 + p1 - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p0:
        out -= 1
    return out


def pool2d(x, k, s, pads, ceil_mode, mode):
    n, c, h, w = x.shape
    oh = pool_out(h, k[0], s[0], pads[0], pads[2], ceil_mode)
    ow = pool_out(w, k[1], s[1], pads[1], pads[3], ceil_mode)
    fill = -128 if mode == "max" else 0
    # pad generously on the far side so that ceil-mode windows stay inside the array
    xp = np.full((n, c, h + pads[0] + pads[2] + k[0] + s[0], w + pads[1] + pads[3] + k[1] + s[1]), fill, np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    out = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            if mode == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                area = k[0] * k[1]
                out[:, :, i, j] = (2 * win.sum(axis=(2, 3)) + area) // (2 * area)  # floor(S/k + 1/2)
    return sat(out, 8)


def iqadd(a, b, sa, sb):
    return sat(sat(rhu_shift(a, sa), 8) + sat(rhu_shift(b, sb), 8), 8)


# ---------------------------------------------------------------- model building helpers

OPSETS = [helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)]


def thinker(op, inputs, outputs, name, **attrs):
    return helper.make_node(op, inputs, outputs, name=name, domain="thinker", **attrs)


def make_model(nodes, inputs, outputs, inits, opsets=OPSETS):
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="linger")
    model.ir_version = 8
    return model


class Pipeline:
    """Quant -> Conv2dInt -> Relu -> MaxPool -> AvgPool2dInt -> Flatten|Reshape -> LinearInt (two branches)
    -> iqAdd -> Dequant, with its numpy reference."""

    QX, QW, QC = 5, 7, 3        # input, conv weight, conv output (shifts chosen to saturate rarely)
    QW1, Q1, QW2, Q2, QO = 11, 2, 13, 4, 3

    def __init__(self, seed=0, flatten="Flatten", batch=2):
        r = np.random.RandomState(seed)
        self.batch = batch
        self.cw = r.randint(-128, 128, (8, 3, 3, 3)).astype(np.int8)
        self.cb = r.randint(-4000, 4000, (8,)).astype(np.int32)
        self.w1 = r.randint(-128, 128, (10, 8 * 6 * 6)).astype(np.int8)
        self.b1 = r.randint(-20000, 20000, (10,)).astype(np.int32)
        self.w2 = r.randint(-128, 128, (10, 8 * 6 * 6)).astype(np.int8)
        self.b2 = r.randint(-20000, 20000, (10,)).astype(np.int32)
        s = lambda q: float(2.0 ** q)  # noqa: E731
        common = dict(data_bits=8, platform_quant="luna_quant")
        nodes = [
            thinker("Quant", ["x"], ["xq"], "quant", scale_x=s(self.QX), **common),
            thinker("Conv2dInt", ["xq", "cw", "cb"], ["c"], "conv", scale_x=s(self.QX), scale_w=s(self.QW),
                    scale_o=s(self.QC), o_bits=8, dilations=[1, 1], group=1, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                    strides=[1, 1], parameter_bits=8, castor_mode="luna", **common),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("MaxPool", ["r"], ["m"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
            thinker("AvgPool2dInt", ["m"], ["a"], "avgpool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                    ceil_mode=0, scale_x=s(self.QC), scale_o=s(self.QC), o_bits=8, **common),
        ]
        inits = dict(cw=self.cw, cb=self.cb, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2)
        if flatten == "Flatten":
            nodes.append(helper.make_node("Flatten", ["a"], ["f"], name="flatten", axis=1))
        else:  # the torch `x.view(x.size(0), -1)` pattern: Shape -> Gather -> Unsqueeze -> Concat -> Reshape
            inits.update(zero=np.array(0, np.int64), minus1=np.array([-1], np.int64))
            nodes += [
                helper.make_node("Shape", ["a"], ["shp"], name="shape"),
                helper.make_node("Gather", ["shp", "zero"], ["n"], name="gather", axis=0),
                helper.make_node("Unsqueeze", ["n"], ["n1"], name="unsqueeze", axes=[0]),
                helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
                helper.make_node("Reshape", ["a", "target"], ["f"], name="reshape"),
            ]
        nodes += [
            thinker("LinearInt", ["f", "w1", "b1"], ["l1"], "fc1", scale_x=s(self.QC), scale_w=s(self.QW1),
                    scale_o=s(self.Q1), o_bits=8, parameter_bits=8, **common),
            thinker("LinearInt", ["f", "w2", "b2"], ["l2"], "fc2", scale_x=s(self.QC), scale_w=s(self.QW2),
                    scale_o=s(self.Q2), o_bits=8, parameter_bits=8, **common),
            thinker("iqAdd", ["l1", "l2"], ["sum"], "add", scale_x=s(self.Q1), scale_y=s(self.Q2), scale_o=s(self.QO),
                    platform_quant="luna_quant", mode="Non_t710_mode"),
            thinker("Dequant", ["sum"], ["y"], "dequant", scale_o=s(self.QO)),
        ]
        batch_dim = batch if batch is not None else "N"
        self.model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 3, 12, 12])],
                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 10])], inits)

    def reference(self, x):
        xq = quantize(x, self.QX)
        c = conv2d(xq, self.cw, self.cb, (1, 1), (1, 1, 1, 1), (1, 1), 1, self.QX + self.QW - self.QC, 8)
        r = np.maximum(c, 0)
        m = pool2d(r, (2, 2), (2, 2), (0, 0, 0, 0), False, "max")
        a = pool2d(m, (3, 3), (1, 1), (1, 1, 1, 1), False, "avg")
        f = a.reshape(a.shape[0], -1)
        l1 = linear(f, self.w1, self.b1, self.QC + self.QW1 - self.Q1, 8)
        l2 = linear(f, self.w2, self.b2, self.QC + self.QW2 - self.Q2, 8)
        return dequantize(iqadd(l1, l2, self.Q1 - self.QO, self.Q2 - self.QO), self.QO)


def isas():
    return [i for i in ("scalar", "avx2", "avx512vnni", "auto") if rt.isa_supported(i)]


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
@pytest.mark.parametrize("isa", isas())
def test_pipeline_bit_exact(flatten, isa):
    p = Pipeline(seed=1, flatten=flatten)
    onnx.checker.check_model(p.model)
    sess = rt.InferenceSession(p.model.SerializeToString(), isa=isa)
    assert sess.isa in ("scalar", "avx2", "avx512vnni")
    rng = np.random.RandomState(7)
    for scale in (0.5, 2.0, 8.0):  # small inputs, typical, and saturating ones
        x = (rng.randn(2, 3, 12, 12) * scale).astype(np.float32)
        (y,) = sess.run(None, {"x": x})
        assert y.dtype == np.float32 and y.shape == (2, 10)
        np.testing.assert_array_equal(y, p.reference(x))


def test_inputs_read_in_place_or_copied():
    # Aligned inputs are read in place (a view for the run), unaligned ones copied: same outputs, and the
    # caller's array is left as it was; a byte-swapped array is refused (the wrapper checks the dtype).
    p = Pipeline(seed=4, flatten="Flatten")
    sess = rt.InferenceSession(p.model.SerializeToString())
    x = (np.random.RandomState(11).randn(2, 3, 12, 12) * 2).astype(np.float32)
    want = p.reference(x)
    keep = x.copy()
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], want)
    np.testing.assert_array_equal(x, keep)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, np.float32, count=x.size, offset=1).reshape(x.shape)
    unaligned.setflags(write=True)
    unaligned[...] = x
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(sess.run(None, {"x": unaligned})[0], want)
    with pytest.raises(ValueError, match="must be float32"):
        sess.run(None, {"x": x.astype(">f4")})
    # Straight to the binding (no wrapper): its own dtype check names the input.
    with pytest.raises(ValueError, match="input 'x' must be float32"):
        sess._sess.run({"x": x.astype(np.float64)}, [])


def test_symbolic_batch(tmp_path):
    p = Pipeline(seed=2, flatten="Reshape", batch=None)
    path = tmp_path / "m.onnx"
    onnx.save(p.model, str(path))
    sess = rt.InferenceSession(path)
    assert sess.get_inputs()[0].shape == ["N", 3, 12, 12]
    assert sess.get_outputs()[0].shape == ["N", 10]
    rng = np.random.RandomState(3)
    for n in (1, 3, 1):
        x = (rng.randn(n, 3, 12, 12) * 2).astype(np.float32)
        np.testing.assert_array_equal(sess.run(["y"], {"x": x})[0], p.reference(x))


def test_node_args_and_meta():
    sess = rt.InferenceSession(Pipeline().model.SerializeToString())
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, i.shape, i.type) == ("x", [2, 3, 12, 12], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("y", [2, 10], "tensor(float)")
    assert sess.get_modelmeta()["producer_name"] == "linger"


def test_integer_outputs_and_types():
    w = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    nodes = [thinker("LinearInt", ["x", "w"], ["y16"], "fc", scale_x=8.0, scale_w=4.0, scale_o=1.0, o_bits=16),
             thinker("LinearInt", ["x", "w"], ["yf"], "fc_float", scale_x=8.0, scale_w=4.0)]
    m = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.INT8, [2, 4])],
                   [helper.make_tensor_value_info("y16", TensorProto.INT16, [2, 3]),
                    helper.make_tensor_value_info("yf", TensorProto.FLOAT, [2, 3])], dict(w=w))
    sess = rt.InferenceSession(m.SerializeToString())
    assert [o.type for o in sess.get_outputs()] == ["tensor(int16)", "tensor(float)"]
    x = np.array([[127, -128, 5, 3], [1, 2, 3, -4]], dtype=np.int8)
    y16, yf = sess.run(None, {"x": x})
    assert y16.dtype == np.int16
    np.testing.assert_array_equal(y16, linear(x, w, None, 5, 16))
    np.testing.assert_array_equal(yf, linear(x, w, None, 5, None))
    (only,) = sess.run(["yf"], {"x": x})
    np.testing.assert_array_equal(only, yf)


@pytest.mark.parametrize("o_bits", [8, 16, 32, None])
def test_conv_variants(o_bits):
    r = np.random.RandomState(o_bits or 0)
    w = r.randint(-128, 128, (6, 2, 3, 2)).astype(np.int8)
    b = r.randint(-30000, 30000, (6,)).astype(np.int32)
    attrs = dict(scale_x=16.0, scale_w=128.0, dilations=[2, 1], group=2, kernel_shape=[3, 2], pads=[2, 0, 1, 1],
                 strides=[2, 1])
    if o_bits:
        attrs.update(scale_o=4.0, o_bits=o_bits)
    out_type = {8: TensorProto.INT8, 16: TensorProto.INT16, 32: TensorProto.INT32, None: TensorProto.FLOAT}[o_bits]
    m = make_model([thinker("Conv2dInt", ["x", "w", "b"], ["y"], "conv", **attrs)],
                   [helper.make_tensor_value_info("x", TensorProto.INT8, [2, 4, 9, 7])],
                   [helper.make_tensor_value_info("y", out_type, None)], dict(w=w, b=b))
    x = r.randint(-128, 128, (2, 4, 9, 7)).astype(np.int8)
    ref = conv2d(x.astype(np.int64), w, b, (2, 1), (2, 0, 1, 1), (2, 1), 2, 4 + 7 - (2 if o_bits else 0), o_bits)
    for isa in isas():
        (y,) = rt.InferenceSession(m.SerializeToString(), isa=isa).run(None, {"x": x})
        np.testing.assert_array_equal(y, ref)


def test_avgpool_ceil_mode_and_maxpool_padding():
    x = np.random.RandomState(5).randint(-128, 128, (1, 2, 7, 8)).astype(np.int8)
    geo = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    m = make_model([thinker("AvgPool2dInt", ["x"], ["a"], "avg", scale_x=8.0, scale_o=8.0, o_bits=8, **geo),
                    helper.make_node("MaxPool", ["x"], ["m"], name="max", **geo)],
                   [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 2, 7, 8])],
                   [helper.make_tensor_value_info("a", TensorProto.INT8, None),
                    helper.make_tensor_value_info("m", TensorProto.INT8, None)], {})
    a, mx = rt.InferenceSession(m.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(a, pool2d(x.astype(np.int64), (3, 3), (2, 2), (1, 1, 1, 1), True, "avg"))
    np.testing.assert_array_equal(mx, pool2d(x.astype(np.int64), (3, 3), (2, 2), (1, 1, 1, 1), True, "max"))


def test_iqadd_broadcast_and_upscale():
    r = np.random.RandomState(9)
    a = r.randint(-128, 128, (2, 3, 4)).astype(np.int8)
    b = r.randint(-128, 128, (3, 1)).astype(np.int8)
    m = make_model([thinker("iqAdd", ["a", "b"], ["c"], "add", scale_x=64.0, scale_y=2.0, scale_o=8.0)],
                   [helper.make_tensor_value_info("a", TensorProto.INT8, [2, 3, 4]),
                    helper.make_tensor_value_info("b", TensorProto.INT8, [3, 1])],
                   [helper.make_tensor_value_info("c", TensorProto.INT8, [2, 3, 4])], {})
    (c,) = rt.InferenceSession(m.SerializeToString()).run(None, {"a": a, "b": b})
    np.testing.assert_array_equal(c, iqadd(a.astype(np.int64), np.broadcast_to(b, a.shape).astype(np.int64), 3, -2))


# ---------------------------------------------------------------- errors


def _set_attr(node, name, value):
    for a in node.attribute:
        if a.name == name:
            node.attribute.remove(a)
            break
    node.attribute.append(helper.make_attribute(name, value))


def test_non_power_of_two_scale_names_node_and_rule():
    p = Pipeline()
    _set_attr(p.model.graph.node[1], "scale_w", 0.3)
    with pytest.raises(rt.InvalidModel) as e:
        rt.InferenceSession(p.model.SerializeToString())
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, rt.ModelValidationError)
    assert "node 'conv' (Conv2dInt)" in str(e.value) and "rule 'scale-power-of-two'" in str(e.value)


def test_scale_consistency_error():
    p = Pipeline()
    _set_attr(p.model.graph.node[4], "scale_x", 16.0)  # avgpool reads conv's 2^3 through Relu and MaxPool
    _set_attr(p.model.graph.node[4], "scale_o", 16.0)
    with pytest.raises(rt.ModelValidationError, match=r"node 'avgpool' \(AvgPool2dInt\): rule 'scale-consistency'"):
        rt.InferenceSession(p.model.SerializeToString())


def test_type_and_shape_errors():
    p = Pipeline()
    p.model.graph.initializer[0].CopyFrom(numpy_helper.from_array(p.cw.astype(np.int32), "cw"))
    with pytest.raises(rt.ModelValidationError, match=r"node 'conv' \(Conv2dInt\): rule 'dtype'"):
        rt.InferenceSession(p.model.SerializeToString())
    p = Pipeline()
    p.model.graph.initializer[2].CopyFrom(numpy_helper.from_array(p.w1[:, :-1].copy(), "w1"))
    with pytest.raises(rt.ModelValidationError, match=r"node 'fc1' \(LinearInt\): rule 'shape'"):
        rt.InferenceSession(p.model.SerializeToString())


def test_unknown_op_and_missing_input():
    p = Pipeline()
    p.model.graph.node[2].op_type = "LeakyRelu"
    with pytest.raises(rt.ModelValidationError, match=r"node 'relu' \(LeakyRelu\): rule 'unknown-op'"):
        rt.InferenceSession(p.model.SerializeToString())
    p = Pipeline()
    p.model.graph.node[3].input[0] = "missing"
    with pytest.raises(rt.ModelValidationError, match=r"node 'maxpool' \(MaxPool\): rule 'undefined-input'"):
        rt.InferenceSession(p.model.SerializeToString())


def test_truncated_file():
    data = Pipeline().model.SerializeToString()
    for cut in (1, len(data) // 3, len(data) - 1):
        with pytest.raises(rt.InvalidModel):
            rt.InferenceSession(data[:cut])


def test_run_argument_errors():
    sess = rt.InferenceSession(Pipeline().model.SerializeToString())
    x = np.zeros((2, 3, 12, 12), np.float32)
    with pytest.raises(ValueError, match="must be float32"):
        sess.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(ValueError, match="has shape"):
        sess.run(None, {"x": x[:1]})
    with pytest.raises(ValueError, match="missing input 'x'"):
        sess.run(None, {})
    with pytest.raises(ValueError, match="not an input"):
        sess.run(None, {"x": x, "z": x})
    with pytest.raises(ValueError, match="not an output"):
        sess.run(["nope"], {"x": x})
    assert sess.run(None, {"x": np.asfortranarray(x)})[0].shape == (2, 10)  # made contiguous


def test_nan_input_names_quant_node():
    sess = rt.InferenceSession(Pipeline().model.SerializeToString())
    x = np.zeros((2, 3, 12, 12), np.float32)
    x[1, 2, 3, 4] = np.nan
    with pytest.raises(rt.ExecutionError, match=r"node 'quant' \(Quant\).*NaN") as e:
        sess.run(None, {"x": x})
    assert isinstance(e.value, RuntimeError)


def test_constructor_errors(tmp_path):
    with pytest.raises(rt.FileError):
        rt.InferenceSession(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="unknown ISA"):
        rt.InferenceSession(Pipeline().model.SerializeToString(), isa="sse9")
    with pytest.raises(TypeError):
        rt.InferenceSession(42)
