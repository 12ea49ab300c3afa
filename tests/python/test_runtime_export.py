"""A model trained with linger and exported with linger.onnx.export runs on linger.runtime with the same
integers as the PyTorch eval forward (tolerance 0)."""
import io

import numpy as np
import onnx
import torch

import linger
import linger.runtime as rt


from test_export import Net  # noqa: E402  (the same small model as the export tests)


def _exported():
    torch.manual_seed(0)
    model = linger.init(Net())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(8, 1, 8, 8)
    for _ in range(3):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    model.eval()
    with torch.no_grad():
        ref = torch.as_tensor(model(x)).detach().float().numpy()
    return buf.getvalue(), x.numpy(), ref


def _collapse_relu_casts(data: bytes) -> bytes:
    """Cast(int8->float) -> Relu -> Cast(->int8), what torch writes for an int8 Relu below opset 14, as one int8 Relu."""
    proto = onnx.load_from_string(data)
    nodes, out, i = list(proto.graph.node), [], 0
    while i < len(nodes):
        n = nodes[i]
        if (n.op_type == "Cast" and i + 2 < len(nodes) and nodes[i + 1].op_type == "Relu"
                and nodes[i + 2].op_type == "Cast" and nodes[i + 1].input[0] == n.output[0]
                and nodes[i + 2].input[0] == nodes[i + 1].output[0]):
            out.append(onnx.helper.make_node("Relu", [n.input[0]], [nodes[i + 2].output[0]], name=nodes[i + 1].name))
            i += 3
        else:
            out.append(n)
            i += 1
    del proto.graph.node[:]
    proto.graph.node.extend(out)
    return proto.SerializeToString()


def _check(data, x, ref):
    sess = rt.InferenceSession(data)
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_array_equal(y, ref)


def test_exported_model_bit_exact_after_relu_cast_collapse():
    data, x, ref = _exported()
    _check(_collapse_relu_casts(data), x, ref)


def test_exported_model_bit_exact_as_written():
    """torch writes Cast(float) -> Relu -> Cast(int8) around an int8 ReLU at opset 12: the runtime runs it exactly."""
    data, x, ref = _exported()
    _check(data, x, ref)
