"""linger.runtime: run linger's ONNX models (docs/onnx-dialect.md) on the C++ integer runtime.

The API follows ONNX Runtime::

    from linger.runtime import InferenceSession
    sess = InferenceSession("model.onnx")            # or the model's bytes; isa="scalar" to force scalar kernels
    sess = InferenceSession("model.onnx", intra_op_num_threads=2)   # threads inside each op (same results)
    y, = sess.run(None, {"x": x})                     # None: every output, in declaration order
    [(i.name, i.shape, i.type) for i in sess.get_inputs()]   # ("x", [1, 3, 32, 32], "tensor(float)")

Errors raise `InvalidModel` (a RuntimeError; `ModelParseError` / `ModelValidationError` say which),
`InvalidArgument` (a ValueError: wrong input names, dtypes or shapes) or `ExecutionError`
(a RuntimeError, e.g. NaN reaching Quant), each with the runtime's message naming the node and rule.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .._libdir import lib_dir

_LIB_DIR = lib_dir("linger-run")


def _load_extension():
    try:
        from .._lib import _linger_runtime  # built by CMake into linger/_lib
    except ImportError as e:  # pragma: no cover - depends on the build
        raise ImportError(
            f"linger.runtime: the C++ module _linger_runtime is missing from {_LIB_DIR} ({e}). Build it with "
            "`pip install .` or `cmake -S . -B build && cmake --build build` from the linger checkout (docs/install.md)."
        ) from e
    return _linger_runtime


_rt = _load_extension()

Error = _rt.Error
InvalidModel = _rt.InvalidModel
ModelParseError = _rt.ModelParseError
ModelValidationError = _rt.ModelValidationError
InvalidArgument = _rt.InvalidArgument
ExecutionError = _rt.ExecutionError
FileError = _rt.FileError

_ONNX_TYPE = {
    "float32": "tensor(float)",
    "int8": "tensor(int8)",
    "int16": "tensor(int16)",
    "int32": "tensor(int32)",
    "int64": "tensor(int64)",
}

#: Path of the command-line tool built next to the extension.
CLI_PATH = os.path.join(_LIB_DIR, "linger-run")


class NodeArg:
    """A graph input or output: `.name`, `.shape` (ints; a symbolic dim is its name or None), `.type`."""

    def __init__(self, name: str, dtype: str, shape: List[Union[int, str, None]]) -> None:
        self.name = name
        self.shape = shape
        self.type = _ONNX_TYPE[dtype]
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


def isa_supported(isa: str) -> bool:
    """Whether this CPU runs the given kernel ISA ("auto", "scalar", "avx2", "avx512vnni")."""
    return bool(_rt.isa_supported(isa))


class SessionOptions:
    """Options of an InferenceSession, named as in ONNX Runtime (only those linger's runtime has)."""

    def __init__(self) -> None:
        # Threads used inside each op: the calling thread plus a pool of the session's own (1..256).
        # Results are bit-identical for every value.
        self.intra_op_num_threads: int = 1
        # Per-node kernel times of every run, read with InferenceSession.get_profile().
        self.enable_profiling: bool = False


class InferenceSession:
    """A loaded, fully validated model. `path_or_bytes`: a file path (str / os.PathLike) or the model's bytes.

    `isa`: "auto" (each conv / linear layer runs the ISA fastest for its shape), or "scalar" / "avx2" /
    "avx512vnni" to force one. `intra_op_num_threads` (or `sess_options.intra_op_num_threads`, as in
    ONNX Runtime): threads inside each op, default 1; the outputs are the same bytes for every value.
    `fuse_activations` folds ReLU / Clip / iqClamp into the conv / linear before them and `reuse_memory` shares
    one arena among the intermediates (reshape-like ops become views); both are on by default and change no
    output bit (docs/runtime.md, "Load-time optimisations"). `enable_profiling` (or
    `sess_options.enable_profiling`) records each node's kernel time in every run: `get_profile()`.
    """

    def __init__(self, path_or_bytes: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview],
                 isa: str = "auto", *, max_tensor_bytes: Optional[int] = None,
                 max_memory_bytes: Optional[int] = None, fuse_activations: bool = True,
                 reuse_memory: bool = True, intra_op_num_threads: Optional[int] = None,
                 enable_profiling: Optional[bool] = None, sess_options: Optional[SessionOptions] = None) -> None:
        if not isinstance(isa, str):
            raise TypeError(f"isa must be a string (auto, scalar, avx2, avx512vnni), got {type(isa).__name__}")
        threads = intra_op_num_threads
        if threads is None:
            threads = sess_options.intra_op_num_threads if sess_options is not None else 1
        elif sess_options is not None and sess_options.intra_op_num_threads != threads:
            raise ValueError(f"intra_op_num_threads={threads} contradicts sess_options.intra_op_num_threads="
                             f"{sess_options.intra_op_num_threads}; give one of them")
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256:
            raise ValueError(f"intra_op_num_threads must be an integer in 1..256, got {threads!r}")
        limits = []
        for name, value in (("max_tensor_bytes", max_tensor_bytes), ("max_memory_bytes", max_memory_bytes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} must be a positive number of bytes or None (the default), got {value!r}")
            limits.append(value or 0)
        for name, flag in (("fuse_activations", fuse_activations), ("reuse_memory", reuse_memory)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        limits += [fuse_activations, reuse_memory]
        if enable_profiling is None:
            enable_profiling = sess_options.enable_profiling if sess_options is not None else False
        if not isinstance(enable_profiling, bool):
            raise TypeError(f"enable_profiling must be True or False, got {enable_profiling!r}")
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._sess = _rt.Session.from_bytes(bytes(path_or_bytes), isa, *limits, threads, enable_profiling)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            self._sess = _rt.Session.from_file(os.fspath(path_or_bytes), isa, *limits, threads, enable_profiling)
        else:
            raise TypeError(f"InferenceSession expects a path or bytes, got {type(path_or_bytes).__name__}")
        self._inputs = [NodeArg(*i) for i in self._sess.inputs()]
        self._outputs = [NodeArg(*o) for o in self._sess.outputs()]
        self._inputs_by_name = {i.name: i for i in self._inputs}

    @property
    def isa(self) -> str:
        """The best kernel ISA in use ("scalar", "avx2" or "avx512vnni"); with isa="auto" some layers may run
        a lower one where it is faster for their shape."""
        return self._sess.isa

    @property
    def intra_op_num_threads(self) -> int:
        """Threads used inside each op."""
        return int(self._sess.intra_op_num_threads)

    def get_profile(self) -> List[Dict[str, object]]:
        """With enable_profiling: one dict per node that ran a kernel, in graph order, accumulated since the
        session was created or reset_profile() was called: name, op_type, fused (op types folded into it at
        load, e.g. "Relu"), runs, total_ns (its kernel time summed over those runs). Empty without the option.
        Folded activations and views (Reshape, Flatten, ...) do not run a kernel and are not listed."""
        return [dict(d) for d in self._sess.profile()]

    def reset_profile(self) -> None:
        """Clears the accumulated profile (e.g. after warm-up runs)."""
        self._sess.reset_profile()

    def get_inputs(self) -> List[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> List[NodeArg]:
        return list(self._outputs)

    def get_modelmeta(self) -> Dict[str, object]:
        return dict(self._sess.model_info())

    def get_memory_info(self) -> Dict[str, object]:
        """The memory plan: weights_bytes, peak_bytes (per run) and peak_node, known (False until the first
        run for symbolic input shapes), and the limits max_tensor_bytes / max_memory_bytes."""
        return dict(self._sess.memory_info())

    def run(self, output_names: Optional[Sequence[str]], input_feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Runs the model; returns the outputs named in `output_names` (all when None), in that order.

        Thread-safe: several threads may call run() on one session at once (the GIL is released while the
        kernels run); each run has its own intermediate tensors. See docs/runtime.md, "Threads"."""
        if not isinstance(input_feed, dict):
            raise TypeError(f"input_feed must be a dict of name -> numpy array, got {type(input_feed).__name__}")
        if isinstance(output_names, str):
            raise TypeError("output_names must be a list of names or None, not a string")
        expected = self._inputs_by_name
        feeds = {}
        for name, value in input_feed.items():
            if name not in expected:
                raise InvalidArgument(f"'{name}' is not an input of the model; inputs: "
                                      + ", ".join(expected))
            arr = np.asarray(value)
            want = expected[name].dtype
            if arr.dtype != want:
                raise InvalidArgument(f"input '{name}' must be {want} ({expected[name].type}), got {arr.dtype}")
            # np.ascontiguousarray would turn a 0-d array into shape (1,); keep the shape as given.
            feeds[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        return self._sess.run(feeds, list(output_names) if output_names else [])
