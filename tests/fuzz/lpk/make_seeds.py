"""Small ONNX models (every micro op at least once) for the packed-file fuzzer's seed corpus:
    /usr/bin/python3 tests/fuzz/lpk/make_seeds.py OUTDIR    -> OUTDIR/seed_*.onnx (linger-pack them)"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def i8(*shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def i32(*shape):
    return rng.integers(-2000, 2000, size=shape).astype(np.int32)


def q(inp, out, s):
    return helper.make_node("Quant", [inp], [out], name="q", domain="thinker", data_bits=8, scale_x=s)


def dq(inp, out, s):
    return helper.make_node("Dequant", [inp], [out], name="dq_" + out, domain="thinker", scale_o=s)


def save(path, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, "seed", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("thinker", 1)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def main(out):
    os.makedirs(out, exist_ok=True)
    f = TensorProto.FLOAT
    save(os.path.join(out, "seed_cnn.onnx"), [
        q("x", "xq", 16.0),
        helper.make_node("Conv2dInt", ["xq", "w", "b"], ["c"], name="conv", domain="thinker", scale_x=16.0, scale_w=64.0,
                         scale_o=8.0, o_bits=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=1),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["fl"], name="flat", axis=1),
        helper.make_node("LinearInt", ["fl", "fw", "fb"], ["l"], name="fc", domain="thinker", scale_x=8.0,
                         scale_w=32.0, scale_o=4.0, o_bits=8),
        dq("l", "y", 4.0),
    ], [helper.make_tensor_value_info("x", f, [1, 2, 6, 6])], [helper.make_tensor_value_info("y", f, [1, 4])],
        {"w": i8(3, 2, 3, 3), "b": i32(3), "fw": i8(4, 27), "fb": i32(4)})
    save(os.path.join(out, "seed_mixed.onnx"), [
        q("x", "xq", 8.0),
        helper.make_node("Conv1dInt", ["xq", "w1"], ["c1"], name="conv1d", domain="thinker", scale_x=8.0, scale_w=64.0,
                         scale_o=8.0, o_bits=8, kernel_shape=[3], pads=[1, 1], strides=[1]),
        helper.make_node("Unsqueeze", ["c1"], ["u"], name="unsq", axes=[2]),
        helper.make_node("BatchNorm2dInt", ["u", "bw", "bb"], ["bn"], name="bn", domain="thinker", scale_x=8.0,
                         scale_w=16.0, scale_o=4.0),
        helper.make_node("AvgPool2dInt", ["bn"], ["ap"], name="avg", domain="thinker", kernel_shape=[1, 2],
                         strides=[1, 2], scale_x=4.0, scale_o=4.0),
        helper.make_node("iqAdd", ["ap", "ap"], ["s"], name="add", domain="thinker", scale_x=4.0, scale_y=4.0,
                         scale_o=2.0),
        helper.make_node("ConvTranspose2dInt", ["s", "tw"], ["t"], name="deconv", domain="thinker", scale_x=2.0,
                         scale_w=32.0, scale_o=2.0, o_bits=16, kernel_shape=[1, 2], strides=[1, 2]),
        dq("t", "y", 2.0),
    ], [helper.make_tensor_value_info("x", f, [1, 3, 8])], [helper.make_tensor_value_info("y", f, [1, 2, 1, 8])],
        {"w1": i8(4, 3, 3), "bw": i8(4), "bb": i32(4), "tw": i8(4, 2, 1, 2)})


if __name__ == "__main__":
    main(sys.argv[1])
