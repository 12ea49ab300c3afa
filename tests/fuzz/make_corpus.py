"""Regenerates the fuzz seed corpus (tests/fuzz/corpus/): small models exported with linger's Python API (QAT
modules after a few training steps), hand-written models for the standard shape ops, and .npy files of every
supported dtype. Run from the checkout: /usr/bin/python3 tests/fuzz/make_corpus.py"""
import io
import os
import sys

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import linger  # noqa: E402

MODELS = os.path.join(HERE, "corpus", "model")
NPY = os.path.join(HERE, "corpus", "npy")


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.pool = torch.nn.AvgPool2d(2)
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(self.pool(x).flatten(1))


class Conv1dNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 3, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(12, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


class TConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tconv = torch.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1)
        self.bn = torch.nn.BatchNorm2d(2)

    def forward(self, x):
        return self.bn(self.tconv(x))


class DepthwiseNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = torch.nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4)
        self.pw = torch.nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.pw(torch.relu(self.dw(x)))


def export(name, net, shape, **kwargs):
    torch.manual_seed(0)
    model = linger.init(net)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(*shape)
    for _ in range(3):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    buf = io.BytesIO()
    linger.onnx.export(model, (x[:1],), buf, **kwargs)
    write(os.path.join(MODELS, name), buf.getvalue())


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def model(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("thinker", 1)],
                          producer_name="linger-fuzz-corpus")
    write(os.path.join(MODELS, name + ".onnx"), m.SerializeToString())


def std_ops():
    vi = helper.make_tensor_value_info
    ints = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)  # noqa: E731
    model("shape_ops", [
        helper.make_node("Unsqueeze", ["x", "ax1"], ["u"], name="un"),
        helper.make_node("AvgPool2dInt", ["u"], ["a"], name="avg", domain="thinker", kernel_shape=[2, 2],
                         strides=[2, 2], scale_x=4.0, scale_o=4.0),
        helper.make_node("Squeeze", ["a", "ax1"], ["s"], name="sq"),
        helper.make_node("Transpose", ["s"], ["t"], name="tr", perm=[0, 2, 1]),
        helper.make_node("Slice", ["t", "st", "en", "ax1", "sp"], ["sl"], name="sl"),
        helper.make_node("Concat", ["sl", "sl"], ["c"], name="cat", axis=2),
        helper.make_node("Gather", ["c", "idx"], ["g"], name="ga", axis=2),
        helper.make_node("iqAdd", ["g", "b"], ["sum"], name="add", domain="thinker", scale_x=4.0, scale_y=8.0,
                         scale_o=2.0),
        helper.make_node("Flatten", ["sum"], ["y"], name="fl", axis=1),
    ], [vi("x", TensorProto.INT8, ["N", 4, 6]), vi("b", TensorProto.INT8, [4])],
        [vi("y", TensorProto.INT8, ["N", 8])],
        [ints("ax1", [1]), ints("st", [0]), ints("en", [3]), ints("sp", [2]), ints("idx", [3, -4, 1, 0])])
    model("shape_reshape_cast", [
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["minus1"], name="const",
                         value=numpy_helper.from_array(np.array([-1], dtype=np.int64))),
        helper.make_node("Gather", ["shp", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Concat", ["n", "minus1"], ["newshape"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["r"], name="reshape"),
        helper.make_node("Cast", ["r"], ["f"], name="to_float", to=TensorProto.FLOAT),
        helper.make_node("Relu", ["f"], ["rf"], name="relu"),
        helper.make_node("Cast", ["rf"], ["q"], name="to_int8", to=TensorProto.INT8),
        helper.make_node("Identity", ["q"], ["y"], name="id"),
    ], [vi("x", TensorProto.INT8, ["N", 2, 3])], [vi("y", TensorProto.INT8, ["N", 6])],
        [numpy_helper.from_array(np.array([0], dtype=np.int64), "zero")])
    w = ((np.arange(24).reshape(4, 6) * 37) % 255 - 127).astype(np.int8)
    model("linear_16bit", [
        helper.make_node("Quant", ["x"], ["xq"], name="quant", domain="thinker", data_bits=8, scale_x=16.0),
        helper.make_node("LinearInt", ["xq", "w"], ["y16"], name="fc", domain="thinker", scale_x=16.0, scale_w=64.0,
                         scale_o=32.0, o_bits=16),
        helper.make_node("MaxPool", ["x4"], ["mp"], name="pool", kernel_shape=[2, 2], strides=[1, 1],
                         pads=[1, 1, 0, 0]),
    ], [vi("x", TensorProto.FLOAT, [3, 6]), vi("x4", TensorProto.INT8, [1, 1, 3, 3])],
        [vi("y16", TensorProto.INT16, [3, 4]), vi("mp", TensorProto.INT8, [1, 1, 3, 3])],
        [numpy_helper.from_array(w, "w")])


def npys():
    rng = np.random.default_rng(0)
    arrays = {
        "f4_2x3": rng.normal(size=(2, 3)).astype(np.float32),
        "i1_scalar": np.array(-7, dtype=np.int8),
        "i2_4": np.array([1, -2, 300, -32768], dtype=np.int16),
        "i4_2x1x2": np.arange(4, dtype=np.int32).reshape(2, 1, 2),
        "i8_empty": np.zeros((0, 3), dtype=np.int64),
    }
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a)
        write(os.path.join(NPY, name + ".npy"), buf.getvalue())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(3, dtype=np.float32), version=(2, 0))
    write(os.path.join(NPY, "f4_v2.npy"), buf.getvalue())


if __name__ == "__main__":
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(NPY, exist_ok=True)
    export("cnn.onnx", Cnn(), (4, 1, 8, 8))
    export("cnn_dynamic_batch.onnx", Cnn(), (4, 1, 8, 8), input_names=["x"], dynamic_axes={"x": {0: "N"}})
    export("conv1d.onnx", Conv1dNet(), (4, 2, 8))
    export("convtranspose.onnx", TConvNet(), (2, 2, 4, 4))
    export("depthwise.onnx", DepthwiseNet(), (2, 4, 6, 6))
    std_ops()
    npys()
