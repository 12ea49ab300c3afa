"""The thinker dialect rewritten as standard ONNX QDQ (docs/qdq.md): `linger.onnx.export(..., dialect="qdq")`.

Every int8 tensor of the thinker graph (codes `q` at exponent `Q`) stays an int8 tensor of the same name, written
by a `QuantizeLinear` with scale `2^-Q` and zero point 0; every op that reads it reads it through its own
`DequantizeLinear`, computes in float with the standard ONNX op, and its int8 output is a `QuantizeLinear` again
(the "DQ -> op -> Q" form that ONNX Runtime, TensorRT and other engines fuse into integer kernels). Weights are
int8 initializers and biases int32 initializers (scale `2^-(Qx+Qw)`), each behind a `DequantizeLinear`.
Float parts of the graph are copied unchanged. A thinker op without a standard form is an error naming the node.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MIN_OPSET = 13

# Standard ops that move codes without changing them (numerics: Q passes through). Value: which inputs carry data.
_PASS_DATA = {
    "Relu": (0,), "MaxPool": (0,), "Reshape": (0,), "Flatten": (0,), "Transpose": (0,), "Squeeze": (0,),
    "Unsqueeze": (0,), "Slice": (0,), "Gather": (0,), "Identity": (0,), "Split": (0,), "Concat": None,
    "Clip": (0,), "Expand": (0,), "Tile": (0,),
}

_NO_FORM = {
    "LSTMInt": "the integer LSTM cell (Q11 gates, the NPU's sigmoid/tanh tables, an int16 cell state at Q7) has no "
               "QDQ equivalent; ONNX's LSTM would run the whole recurrence in float",
    "GRUInt": "the integer GRU cell has no QDQ equivalent; ONNX's GRU would run the whole recurrence in float",
    "LayerNormInt": "no standard integer layer norm (ONNX LayerNormalization runs in float)",
    "GroupNormInt": "no standard integer group norm",
    "TableInt": "the 256-entry table is linger's own op",
    "ResizeInt": "linger's integer resize (Q8 weights) has no QDQ form",
    "AdaptiveAvgPool2dInt": "adaptive windows whose sizes do not divide have no standard op",
    "ShuffleChannel": "write it with reshape/transpose (linger.SetFunctionChannelShuffleQuant(False))",
    "iqVar": "no standard variance op",
}


class QDQError(ValueError):
    pass


def _attrs(node: onnx.NodeProto) -> Dict[str, object]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _exponent(scale: float, node: onnx.NodeProto, what: str) -> int:
    m, e = np.frexp(float(scale))
    if m != 0.5:
        raise QDQError(f"node '{node.name}': {what}={scale} is not a power of two")
    return int(e) - 1


def _module_of(node: onnx.NodeProto) -> str:
    parts = [p for p in node.name.split("/") if p]
    return parts[-2] if len(parts) >= 2 else "<model forward>"


class _Builder:
    def __init__(self, src: onnx.ModelProto, opset: int) -> None:
        self.src = src
        self.opset = opset
        self.nodes: List[onnx.NodeProto] = []
        self.inits: Dict[str, TensorProto] = {t.name: t for t in src.graph.initializer}
        self.exp: Dict[str, int] = {}  # int8 tensors of the new graph -> exponent Q (value = code * 2^-Q)
        self.count = 0
        self.names = {n.name for n in src.graph.node if n.name}
        inferred = onnx.shape_inference.infer_shapes(src)
        self.rank: Dict[str, int] = {}
        for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            if v.type.tensor_type.HasField("shape"):
                self.rank[v.name] = len(v.type.tensor_type.shape.dim)

    # ---- helpers ---------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}__qdq{self.count}"

    def init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(arr, name)
        return name

    def scale(self, q: int) -> str:
        return self.init(f"qdq_scale_2^{-q}", np.array(2.0 ** -q, dtype=np.float32))

    def zero(self, dtype) -> str:
        return self.init(f"qdq_zero_{np.dtype(dtype).name}", np.array(0, dtype=dtype))

    def unique(self, name: str) -> str:
        out, k = name, 1
        while out in self.names:
            k += 1
            out = f"{name}_{k}"
        self.names.add(out)
        return out

    def add(self, op: str, inputs: List[str], outputs: List[str], name: str, **attrs) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.unique(name), **attrs))

    def rank_of(self, name: str) -> Optional[int]:
        """The rank of a tensor: from the source file's shapes, else inferred on the QDQ graph built so far."""
        if name not in self.rank:
            g = helper.make_graph(self.nodes, "partial", list(self.src.graph.input), [],
                                  list(self.inits.values()))
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
            for v in onnx.shape_inference.infer_shapes(m).graph.value_info:
                if v.type.tensor_type.HasField("shape"):
                    self.rank.setdefault(v.name, len(v.type.tensor_type.shape.dim))
        return self.rank.get(name)

    def dq(self, name: str, node: onnx.NodeProto, q: Optional[int] = None) -> str:
        """The float value of int tensor `name` (a new DequantizeLinear for this consumer); a float tensor as is.
        An integer initializer (a number operand) needs its exponent `q` from the node's attributes."""
        if name in self.exp:
            q = self.exp[name]
            dtype = np.int8
        elif name in self.inits and self.inits[name].data_type in (TensorProto.INT8, TensorProto.INT32):
            if q is None:
                raise QDQError(f"node '{node.name}': integer constant '{name}' without a scale")
            dtype = np.int8 if self.inits[name].data_type == TensorProto.INT8 else np.int32
        else:
            return name
        out = self.fresh(f"{name}_dq")
        self.add("DequantizeLinear", [name, self.scale(q), self.zero(dtype)], [out], f"{node.name}/DequantizeLinear_"
                 f"{self.count}")
        return out

    def quant(self, value: str, q: int, out: str, node: onnx.NodeProto) -> None:
        self.add("QuantizeLinear", [value, self.scale(q), self.zero(np.int8)], [out], f"{node.name}/QuantizeLinear")
        self.exp[out] = q

    def output(self, value: str, node: onnx.NodeProto, a: Dict[str, object], key: str = "scale_o") -> None:
        """The node's float result `value` becomes its output: int8 at scale_o (o_bits 8), or float (no o_bits)."""
        bits = a.get("o_bits", 8 if key in a else None)
        if bits is None:
            self.add("Identity", [value], [node.output[0]], f"{node.name}/Identity")
            return
        if bits != 8:
            raise QDQError(self.why(node, f"o_bits={bits}: QuantizeLinear writes int8 here (int16 needs opset 21)"))
        self.quant(value, _exponent(a[key], node, key), node.output[0], node)

    def why(self, node: onnx.NodeProto, reason: str) -> str:
        dom = f"{node.domain}::" if node.domain else ""
        return (f"linger.onnx.export(dialect='qdq'): node '{node.name or node.output[0]}' ({dom}{node.op_type}) "
                f"from module '{_module_of(node)}' has no "
                f"standard QDQ form: {reason}. Export with dialect='thinker' (linger's runtime runs it) or keep this "
                "part out of the model")

    def reshaped_const(self, name: str, shape: List[int], node: onnx.NodeProto) -> str:
        arr = numpy_helper.to_array(self.inits[name]).reshape(shape)
        return self.init(f"{name}__r{len(shape)}", arr)

    # ---- conversion --------------------------------------------------------------------------------
    def convert(self, node: onnx.NodeProto) -> None:
        if node.domain in ("thinker", "linger"):
            fn = getattr(self, f"op_{node.op_type}", None)
            if fn is None:
                raise QDQError(self.why(node, _NO_FORM.get(node.op_type, "no mapping")))
            fn(node, _attrs(node))
            return
        quantized = [i for i in node.input if i in self.exp]
        if not quantized:
            self.nodes.append(node)
            return
        if node.op_type == "Shape":
            self.add("Shape", [self.dq(node.input[0], node)], list(node.output), node.name)
            return
        if node.op_type not in _PASS_DATA:
            raise QDQError(self.why(node, f"a standard {node.op_type} applied to int8 codes"))
        data = range(len(node.input)) if _PASS_DATA[node.op_type] is None else _PASS_DATA[node.op_type]
        if any(node.input[i] not in self.exp for i in data):
            raise QDQError(self.why(node, "it mixes int8 codes with float values"))
        q = self.exp[node.input[data[0]]]
        if any(self.exp.get(node.input[i], q) != q for i in data):
            raise QDQError(self.why(node, "inputs at different exponents"))
        ins = list(node.input)
        for i in data:
            ins[i] = self.dq(ins[i], node)
        if node.op_type == "Clip":  # linger 1.x's int8 Clip: the bounds are codes at the input's exponent
            for i in (1, 2):
                if i < len(ins) and ins[i]:
                    codes = numpy_helper.to_array(self.inits[ins[i]]).astype(np.float32)
                    ins[i] = self.init(f"{ins[i]}__f", (codes * np.float32(2.0 ** -q)).astype(np.float32))
        outs = [self.fresh(o) for o in node.output]
        self.nodes.append(self._copy(node, ins, outs))
        for o, f in zip(node.output, outs):
            self.quant(f, q, o, node)

    @staticmethod
    def _copy(node: onnx.NodeProto, ins: List[str], outs: List[str]) -> onnx.NodeProto:
        n = onnx.NodeProto()
        n.CopyFrom(node)
        del n.input[:]
        n.input.extend(ins)
        del n.output[:]
        n.output.extend(outs)
        return n

    # thinker ops ---------------------------------------------------------------------------------------
    def op_Quant(self, node, a):
        if a.get("data_bits", 8) != 8:
            raise QDQError(self.why(node, f"data_bits={a['data_bits']} (QuantizeLinear writes int8 here)"))
        self.quant(node.input[0], _exponent(a["scale_x"], node, "scale_x"), node.output[0], node)

    def op_Dequant(self, node, a):
        src = node.input[0]
        if src not in self.exp:
            raise QDQError(self.why(node, "its input is not an int8 tensor of the graph"))
        self.add("DequantizeLinear", [src, self.scale(self.exp[src]), self.zero(np.int8)], [node.output[0]],
                 node.name)

    def _weighted(self, node, a) -> List[str]:
        qx = _exponent(a["scale_x"], node, "scale_x")
        qw = _exponent(a["scale_w"], node, "scale_w")
        ins = [self.dq(node.input[0], node), self.dq(node.input[1], node, qw)]
        if len(node.input) > 2 and node.input[2]:
            ins.append(self.dq(node.input[2], node, qx + qw))
        return ins

    def _conv(self, node, a, op: str, keys) -> None:
        ins = self._weighted(node, a)
        out = self.fresh(node.output[0])
        self.add(op, ins, [out], f"{node.name}/{op}", **{k: a[k] for k in keys if k in a})
        self.output(out, node, a)

    def op_Conv2dInt(self, node, a):
        self._conv(node, a, "Conv", ("dilations", "group", "kernel_shape", "pads", "strides"))

    op_Conv1dInt = op_Conv2dInt

    def op_ConvTranspose2dInt(self, node, a):
        self._conv(node, a, "ConvTranspose", ("dilations", "group", "kernel_shape", "pads", "strides",
                                              "output_padding"))

    def op_LinearInt(self, node, a):
        qx = _exponent(a["scale_x"], node, "scale_x")
        qw = _exponent(a["scale_w"], node, "scale_w")
        has_b = len(node.input) > 2 and bool(node.input[2])
        out = self.fresh(node.output[0])
        x = self.dq(node.input[0], node)
        if self.rank_of(node.input[0]) == 2:  # Gemm: ORT fuses DQ -> Gemm -> Q into an integer QGemm
            ins = [x, self.dq(node.input[1], node, qw)] + ([self.dq(node.input[2], node, qx + qw)] if has_b else [])
            self.add("Gemm", ins, [out], f"{node.name}/Gemm", transB=1)
        else:  # [..., K] @ W^T [K, N] (+ B)
            w = numpy_helper.to_array(self.inits[node.input[1]])
            wt = self.init(f"{node.input[1]}__T", np.ascontiguousarray(w.T))
            mm = out if not has_b else self.fresh(node.output[0] + "_mm")
            self.add("MatMul", [x, self.dq(wt, node, qw)], [mm], f"{node.name}/MatMul")
            if has_b:
                self.add("Add", [mm, self.dq(node.input[2], node, qx + qw)], [out], f"{node.name}/Add")
        self.output(out, node, a)

    def op_BatchNorm2dInt(self, node, a):
        """Per channel x·W_c + B_c: a depthwise 1x1 Conv on [N, C, H, W] / [N, C, L] (an integer QLinearConv for
        engines that fuse), Mul + Add on [N, C]."""
        qx = _exponent(a["scale_x"], node, "scale_x")
        qw = _exponent(a["scale_w"], node, "scale_w")
        r = self.rank_of(node.input[0])
        if r is None:
            raise QDQError(self.why(node, "the rank of its input is unknown"))
        c = int(np.prod(self.inits[node.input[1]].dims))
        out = self.fresh(node.output[0])
        x = self.dq(node.input[0], node)
        if r in (3, 4):
            w = self.reshaped_const(node.input[1], [c] + [1] * (r - 1), node)
            b = self.reshaped_const(node.input[2], [c], node)
            self.add("Conv", [x, self.dq(w, node, qw), self.dq(b, node, qx + qw)], [out], f"{node.name}/Conv",
                     group=c, kernel_shape=[1] * (r - 2))
        else:
            shape = [c] + [1] * (r - 2)
            mul = self.fresh(node.output[0] + "_mul")
            w = self.reshaped_const(node.input[1], shape, node)
            self.add("Mul", [x, self.dq(w, node, qw)], [mul], f"{node.name}/Mul")
            b = self.reshaped_const(node.input[2], shape, node)
            self.add("Add", [mul, self.dq(b, node, qx + qw)], [out], f"{node.name}/Add")
        self.output(out, node, a)

    def op_AvgPool2dInt(self, node, a):
        out = self.fresh(node.output[0])
        self.add("AveragePool", [self.dq(node.input[0], node)], [out], f"{node.name}/AveragePool",
                 kernel_shape=a["kernel_shape"], strides=a.get("strides", [1, 1]), pads=a.get("pads", [0, 0, 0, 0]),
                 ceil_mode=a.get("ceil_mode", 0), count_include_pad=1)
        self.output(out, node, a)

    def _binary(self, node, a, op: str) -> None:
        qs = [_exponent(a[k], node, k) if k in a else None for k in ("scale_x", "scale_y")]
        ins = [self.dq(n, node, q) for n, q in zip(node.input, qs)]
        out = self.fresh(node.output[0])
        self.add(op, ins, [out], f"{node.name}/{op}")
        self.output(out, node, a)

    def op_iqAdd(self, node, a):
        self._binary(node, a, "Add")

    def op_iqMul(self, node, a):
        self._binary(node, a, "Mul")

    def op_iqDiv(self, node, a):
        self._binary(node, a, "Div")

    def op_BmmInt(self, node, a):
        self._binary(node, a, "MatMul")

    def op_iqCat(self, node, a):
        ins = [self.dq(n, node, _exponent(a[f"scale_x_{i}"], node, f"scale_x_{i}")) for i, n in enumerate(node.input)]
        out = self.fresh(node.output[0])
        self.add("Concat", ins, [out], f"{node.name}/Concat", axis=a["dim"])
        self.output(out, node, a)

    def op_iqClamp(self, node, a):
        qx = _exponent(a["scale_x"], node, "scale_x")

        def bound(v: float) -> str:  # numerics: the bound quantized at the input exponent (round half up, sat8)
            code = min(max(np.floor(np.float64(v) * 2.0 ** qx + 0.5), -128), 127)
            return self.init(self.fresh(f"{node.name}_bound"), np.array(code * 2.0 ** -qx, dtype=np.float32))

        out = self.fresh(node.output[0])
        self.add("Clip", [self.dq(node.input[0], node), bound(a["min"]), bound(a["max"])], [out], f"{node.name}/Clip")
        self.output(out, node, a)

    def _unary(self, node, a, op: str, **attrs) -> None:
        out = self.fresh(node.output[0])
        self.add(op, [self.dq(node.input[0], node)], [out], f"{node.name}/{op}", **attrs)
        self.output(out, node, a)

    def op_iqSigmoid(self, node, a):
        self._unary(node, a, "Sigmoid")

    def op_iqTanh(self, node, a):
        self._unary(node, a, "Tanh")

    def op_SoftmaxInt(self, node, a):
        self._unary(node, a, "Softmax", axis=a["dim"])

    def op_LogSoftmaxInt(self, node, a):
        self._unary(node, a, "LogSoftmax", axis=a["dim"])

    def _reduce(self, node, a, op: str) -> None:
        x = self.dq(node.input[0], node)
        out = self.fresh(node.output[0])
        keep = int(a.get("keepdim", 0))
        dims = a.get("dims")
        axes_as_input = op == "ReduceSum" or self.opset >= 18
        if dims is None:
            self.add(op, [x], [out], f"{node.name}/{op}", keepdims=keep)
        elif axes_as_input:
            axes = self.init(self.fresh(f"{node.name}_axes"), np.array(list(dims), dtype=np.int64))
            self.add(op, [x, axes], [out], f"{node.name}/{op}", keepdims=keep)
        else:
            self.add(op, [x], [out], f"{node.name}/{op}", keepdims=keep, axes=list(dims))
        self.output(out, node, a)

    def op_iqSum(self, node, a):
        self._reduce(node, a, "ReduceSum")

    def op_iqMean(self, node, a):
        self._reduce(node, a, "ReduceMean")

    def op_Gather(self, node, a):  # EmbeddingInt: rows of the int8 table (codes copied)
        qw = _exponent(a["scale_w"], node, "scale_w")
        out = self.fresh(node.output[0])
        self.add("Gather", [self.dq(node.input[0], node, qw), node.input[1]], [out], f"{node.name}/Gather", axis=0)
        self.output(out, node, a)


def to_qdq(src: onnx.ModelProto) -> onnx.ModelProto:
    """The thinker-dialect model `src` as standard QDQ ONNX (raises QDQError naming the first node without a form)."""
    opset = next((o.version for o in src.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise QDQError(f"dialect='qdq' needs opset_version >= {MIN_OPSET}, got {opset}")
    b = _Builder(src, opset)
    for node in src.graph.node:
        b.convert(node)
    used = {i for n in b.nodes for i in n.input}
    g = helper.make_graph(b.nodes, src.graph.name, list(src.graph.input), list(src.graph.output),
                          [t for n, t in b.inits.items() if n in used])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=src.producer_name, producer_version=src.producer_version)
    model.ir_version = src.ir_version
    for p in src.metadata_props:
        model.metadata_props.add().CopyFrom(p)
    return model


def check_qdq(model: onnx.ModelProto, mode) -> None:
    """`check` for dialect='qdq': onnx.checker with shape inference (True/'error' raises, 'warn' warns)."""
    if mode is False or mode is None:
        return
    if mode not in (True, "error", "warn"):
        raise ValueError(f"linger.onnx.export: check must be True/'error', 'warn' or False, got {mode!r}")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # onnx raises ValidationError / InferenceError
        msg = f"linger.onnx.export(dialect='qdq'): the QDQ model fails onnx.checker: {e}"
        if mode == "warn":
            import warnings
            warnings.warn(msg, stacklevel=3)
        else:
            raise ValueError(msg) from e
