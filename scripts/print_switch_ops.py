"""Prints the nodes torch's exporter writes for each linger switch turned off (config.SWITCHES).

    /usr/bin/python3 scripts/print_switch_ops.py [opset ...]      (default: 12 13 14)

Each case: a Two-conv model (as tests/python/test_parity.py) combined by the op, linger.init, three training
forwards with the switch off, eval, linger.onnx.export; prints the node list (standard-domain nodes with their
attributes and input count, scalar initializer inputs).
"""
import io
import sys

import onnx
import onnx.helper
import onnx.numpy_helper
import torch
import torch.nn as nn

import linger


class Two(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.a(x), self.b(x))


CASES = [
    ("SetIQTensorAdd", "a + b", lambda a, b: a + b),
    ("SetIQTensorAdd", "a + 0.25", lambda a, b: a + 0.25),
    ("SetIQTensorMul", "a * b", lambda a, b: a * b),
    ("SetIQTensorMul", "a * 0.7", lambda a, b: a * 0.7),
    ("SetIQTensorDiv", "a / b", lambda a, b: a / b),
    ("SetIQTensorDiv", "a / 3.0", lambda a, b: a / 3.0),
    ("SetIQTensorSum", "a.sum(-1)", lambda a, b: a.sum(-1)),
    ("SetIQTensorSum", "b.sum((2, 3), keepdim=True)", lambda a, b: b.sum((2, 3), keepdim=True)),
    ("SetIQTensorSum", "a.sum()", lambda a, b: a.sum()),
    ("SetIQTensorVar", "torch.var(a, 2)", lambda a, b: torch.var(a, 2)),
    ("SetIQTensorVar", "torch.var(b, (2, 3), unbiased=False, keepdim=True)",
     lambda a, b: torch.var(b, (2, 3), unbiased=False, keepdim=True)),
    ("SetIQTensorVar", "torch.var(b)", lambda a, b: torch.var(b)),
    ("SetIQTensorCat", "torch.cat([a, b], 1)", lambda a, b: torch.cat([a, b], 1)),
    ("SetIQTensorCat", "torch.stack([a, b], 2)", lambda a, b: torch.stack([a, b], 2)),
    ("SetIQTensorClamp", "torch.clamp(a, -0.3, 0.55)", lambda a, b: torch.clamp(a, -0.3, 0.55)),
    ("SetIQTensorClamp", "b.clamp(min=0.0)", lambda a, b: b.clamp(min=0.0)),
    ("SetIQTensorSigmoid", "torch.sigmoid(a)", lambda a, b: torch.sigmoid(a)),
    ("SetIQTensorTanh", "torch.tanh(a)", lambda a, b: torch.tanh(a)),
    ("SetIQTensorSoftmax", "torch.softmax(a, 1)", lambda a, b: torch.softmax(a, 1)),
    ("SetIQTensorSoftmax", "torch.softmax(a, -1)", lambda a, b: torch.softmax(a, -1)),
    ("SetIQTensorLogSoftmax", "torch.log_softmax(a, -1)", lambda a, b: torch.log_softmax(a, -1)),
    ("SetIQTensorLogSoftmax", "torch.log_softmax(a, 1)", lambda a, b: torch.log_softmax(a, 1)),
    ("SetFunctionBmmQuant", "torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2))",
     lambda a, b: torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2))),
    ("SetFunctionBmmQuant", "a @ b.transpose(2, 3)", lambda a, b: a @ b.transpose(2, 3)),
    ("SetFunctionChannelShuffleQuant", "linger.channel_shuffle(a, 2)", lambda a, b: linger.channel_shuffle(a, 2)),
]


def describe(proto):
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    out = []
    for n in proto.graph.node:
        if n.domain:
            out.append(n.op_type)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        consts = [inits[i].tolist() for i in n.input if i in inits and inits[i].size == 1]
        s = n.op_type + (str(attrs) if attrs else "") + f"/{len(n.input)}in"
        out.append(s + (f"{consts}" if consts else ""))
    return " -> ".join(out)


def main(opsets):
    for opset in opsets:
        for setter, text, fn in CASES:
            torch.manual_seed(0)
            model = linger.init(Two(fn))
            getattr(linger, setter)(False)
            try:
                for _ in range(3):
                    model(torch.randn(2, 3, 6, 5))
                model.eval()
                buf = io.BytesIO()
                linger.onnx.export(model, (torch.randn(2, 3, 6, 5),), buf, opset_version=opset, check="warn")
                print(f"opset {opset} {setter}(False) {text}:\n    {describe(onnx.load_from_string(buf.getvalue()))}")
            finally:
                getattr(linger, setter)(True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [12, 13, 14])
