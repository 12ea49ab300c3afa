"""Whole-model latency, batch 1: linger's int8 runtime (each kernel ISA this CPU has) against ONNX Runtime fp32
and PyTorch float eval on the same architectures, with whole-model GMAC/s and % of the CPU's measured int8 peak.

    /usr/bin/python3 bench/bench_models.py                     # every model, 1 and 2 threads
    /usr/bin/python3 bench/bench_models.py --quick             # demo CNN + resnet18 64x64, 1 thread, few repeats
    /usr/bin/python3 bench/bench_models.py --models resnet18_224,mobilenet_v2_224 --threads 1 --repeats 30
    /usr/bin/python3 bench/bench_models.py --rounds 3                # ranges over 3 separate timings (README)

Models (random weights; latency does not depend on them): the demo CNN of examples/fashion_mnist_demo.py
(1x28x28), torchvision resnet18 at 64x64 and 224x224, torchvision mobilenet_v2 at 224x224 (unmodified), and a
keyword spotter "kws_gru" (40 log-mel bands x 98 frames = 1 s of audio: examples/kws_demo.py's KwsNet from its
`bench_model()`, conv1d k4 s4 + conv1d 1x1 + GRU(64) + linear; a similar bench-defined conv + GRU if that is
absent). Each float model gets its batch-norm statistics from two random batches (so the random network
does not collapse to zero), then a copy is quantized with linger (trace_layers, normalize_layers, init, three
calibration batches in train mode) and exported with linger.onnx.export; the float model is exported with
torch.onnx.export (opset 13) for ONNX Runtime.

Timing: the engines run interleaved (one run of each in turn, `--repeats` times after a warm-up), and the table
shows each one's minimum (with `--rounds R`, R such timings with fresh sessions, and each figure as its range
over them, low-high), in milliseconds of wall-clock time ("ms") and, for one thread, of the calling thread's
CPU time ("cpu ms": the same on a quiet machine, and robust to other processes sharing the cores). Threads: our
runtime's `intra_op_num_threads` session option (rows are skipped with a note when this build has none),
ONNX Runtime's SessionOptions.intra_op_num_threads, torch.set_num_threads.

Columns: speedup = ONNX Runtime fp32 ms / this row's ms (same thread count; `--clock cpu`: CPU ms for 1 thread);
vs 1 thread = the same engine's 1-thread wall ms / this row's (when 1 is among --threads); GMAC/s = the model's multiply-
accumulates (Conv / Gemm / MatMul / GRU / LSTM of the float ONNX graph, shapes inferred) / ms; % peak = GMAC/s /
(the int8 peak of bench_int8_peak, per-thread CPU time, best ISA, times the threads), for our rows.
"""
import argparse
import copy
import importlib
import inspect
import io
import os
import subprocess
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import onnx
import onnx.shape_inference
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import linger  # noqa: E402
from linger.runtime import InferenceSession, isa_supported  # noqa: E402
from linger.tools import recalibrate_batch_norms  # noqa: E402

ALL_MODELS = ["demo_cnn", "resnet18_64", "resnet18_224", "mobilenet_v2_224", "kws_gru"]
ALIASES = {"kws_convgru": "kws_gru"}  # the row's earlier name


class KwsConvGru(nn.Module):
    """A small keyword spotter: two conv1d + BN + ReLU over 40 MFCC features, a GRU, a linear classifier."""

    def __init__(self, n_mfcc: int = 40, channels: int = 64, hidden: int = 64, classes: int = 12) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mfcc, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.relu = nn.ReLU()
        self.gru = nn.GRU(channels, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [N, 40, T]
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        y, _ = self.gru(x.permute(0, 2, 1))
        return self.fc(y[:, -1])


def build_float(name: str) -> Tuple[nn.Module, Tuple[int, ...], str]:
    """(float model, input shape, description)."""
    import torchvision
    if name == "demo_cnn":
        from fashion_mnist_demo import ConvBNCNN
        return ConvBNCNN(), (1, 1, 28, 28), "examples/fashion_mnist_demo.py ConvBNCNN, 1x28x28"
    if name == "resnet18_64":
        return torchvision.models.resnet18(), (1, 3, 64, 64), "torchvision resnet18, 3x64x64"
    if name == "resnet18_224":
        return torchvision.models.resnet18(), (1, 3, 224, 224), "torchvision resnet18, 3x224x224"
    if name == "mobilenet_v2_224":
        return torchvision.models.mobilenet_v2(), (1, 3, 224, 224), "torchvision mobilenet_v2, 3x224x224"
    if name == "kws_gru":
        try:
            kws = importlib.import_module("kws_demo")
            if hasattr(kws, "bench_model"):
                model, shape = kws.bench_model()
                return model, tuple(shape), ("examples/kws_demo.py KwsNet (conv1d k4 s4 + conv1d 1x1, GRU(64), "
                                             "linear), 40x98")
        except ImportError:
            pass
        return KwsConvGru(), (1, 40, 98), "bench-defined conv1d x2 + GRU(64) + linear, 40x98 (kws_demo.py absent)"
    raise SystemExit(f"unknown model {name!r}; choose from {', '.join(ALL_MODELS)}")


def calibrate_batch_norms(model: nn.Module, shape: Tuple[int, ...], batch: int) -> None:
    """Running statistics = the statistics of two random batches (cumulative average)."""
    recalibrate_batch_norms(model, [torch.randn(batch, *shape[1:]) for _ in range(2)])
    model.eval()


def quantize_and_export(float_model: nn.Module, shape: Tuple[int, ...], batch: int) -> bytes:
    model = copy.deepcopy(float_model)
    x = torch.randn(*shape)
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    linger.init(model)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(batch, *shape[1:]))
    model.eval()
    buf = io.BytesIO()
    linger.onnx.export(model, (x,), buf)
    return buf.getvalue()


def export_float(float_model: nn.Module, shape: Tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(float_model, (torch.randn(*shape),), buf, opset_version=13, input_names=["x"],
                          output_names=["y"])
    return buf.getvalue()


def count_macs(onnx_bytes: bytes) -> int:
    """Multiply-accumulates of Conv / ConvTranspose / Gemm / MatMul / GRU / LSTM in a float ONNX graph."""
    model = onnx.shape_inference.infer_shapes(onnx.load_from_string(onnx_bytes))
    g = model.graph
    shapes: Dict[str, List[int]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for n in g.node:
        if n.op_type == "Conv":  # every output element: C/g * kh * kw MACs (W [O, C/g, kh, kw])
            total += int(np.prod(shapes[n.output[0]])) * int(np.prod(shapes[n.input[1]][1:]))
        elif n.op_type == "ConvTranspose":  # every input element: O/g * kh * kw MACs (W [C, O/g, kh, kw])
            total += int(np.prod(shapes[n.input[0]])) * int(np.prod(shapes[n.input[1]][1:]))
        elif n.op_type == "Gemm":
            a, y = shapes[n.input[0]], shapes[n.output[0]]
            trans_a = next((at.i for at in n.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            total += int(np.prod(y)) * k
        elif n.op_type == "MatMul":
            a, y = shapes[n.input[0]], shapes[n.output[0]]
            total += int(np.prod(y)) * a[-1]
        elif n.op_type in ("GRU", "LSTM"):
            x, w, r = shapes[n.input[0]], shapes[n.input[1]], shapes[n.input[2]]
            t, b = x[0], x[1]  # time-major [T, N, I]
            gates_h = w[1]  # num_directions x gates*H x I
            total += t * b * w[0] * gates_h * (w[2] + r[2])
    return total


def int8_peaks(threads: List[int]) -> Dict[int, Tuple[str, float]]:
    """threads -> (isa, GMAC/s over that many threads), from bench_int8_peak (best ISA)."""
    exe = None
    for build in ("build", "build-release", "build-asan"):
        p = os.path.join(ROOT, build, "bench", "runtime_opt", "bench_int8_peak")
        if os.path.exists(p):
            exe = p
            break
    out: Dict[int, Tuple[str, float]] = {}
    if exe is None:
        print("note: bench_int8_peak not built (cmake --build build --target bench_int8_peak): no % peak column")
        return out
    for t in threads:
        lines = subprocess.run([exe, str(t)], check=True, capture_output=True, text=True).stdout.split("\n")
        best = ("none", 0.0)
        for line in lines:
            if not line.strip():
                continue
            fields = dict(f.split("=") for f in line.split()[1:])
            print(f"int8 peak: {line.strip()}")
            if float(fields["gmacs"]) > best[1]:
                best = (line.split()[0], float(fields["gmacs"]))
        out[t] = best
    return out


def span(values: List[float], fmt: str, unit: str = "") -> str:
    """One value, or the range low-high of several (the rounds of a run). fmt "ms": 3 significant decimals below
    1 ms, else 2."""
    if fmt == "ms":
        fmt = "{:.3f}" if max(values) < 1 else "{:.2f}"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo + unit if lo == hi else f"{lo}-{hi}{unit}"


def our_threads_option() -> bool:
    return "intra_op_num_threads" in inspect.signature(InferenceSession.__init__).parameters


class Engine:
    def __init__(self, label: str, run: Callable[[], object], ours: bool) -> None:
        self.label, self.run, self.ours = label, run, ours
        self.wall: List[float] = []
        self.cpu: List[float] = []


def make_engines(name: str, threads: int, isas: List[str], lin_bytes: bytes, float_bytes: bytes,
                 float_model: nn.Module, x: np.ndarray, notes: List[str]) -> List[Engine]:
    import onnxruntime as ort
    engines: List[Engine] = []
    for isa in isas:
        kwargs = {}
        if threads != 1:
            if not our_threads_option():
                notes.append(f"{name}, {threads} threads: linger runtime rows skipped (this build has no "
                             "intra_op_num_threads session option)")
                continue
            kwargs["intra_op_num_threads"] = threads
        sess = InferenceSession(lin_bytes, isa=isa, **kwargs)
        feed = {sess.get_inputs()[0].name: x}
        engines.append(Engine(f"linger int8 {isa}", lambda s=sess, f=feed: s.run(None, f), True))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    osess = ort.InferenceSession(float_bytes, so, providers=["CPUExecutionProvider"])
    engines.append(Engine(f"ONNX Runtime {ort.__version__} fp32", lambda: osess.run(None, {"x": x}), False))
    xt = torch.from_numpy(x)

    def torch_run() -> object:
        with torch.inference_mode():
            return float_model(xt)
    engines.append(Engine(f"PyTorch {torch.__version__.split('+')[0]} fp32 eval", torch_run, False))
    return engines


def time_engines(engines: List[Engine], repeats: int, warmup: int, settle_s: float) -> None:
    for e in engines:
        for _ in range(warmup):
            e.run()
    for _ in range(repeats):
        for e in engines:  # interleaved: a slow phase of the machine hits every engine alike
            if settle_s > 0:
                # The previous engine's worker threads (ONNX Runtime's, OpenMP's, ours) spin for a
                # while after a run before they sleep; they would take the cores from this one. A busy
                # wait, not a sleep: an idle core would come back cold (lower clock, cooler caches).
                end = time.perf_counter() + settle_s
                while time.perf_counter() < end:
                    pass
            c0, t0 = time.thread_time(), time.perf_counter()
            e.run()
            t1, c1 = time.perf_counter(), time.thread_time()
            e.wall.append((t1 - t0) * 1e3)
            e.cpu.append((c1 - c0) * 1e3)


def check_isas_agree(name: str, lin_bytes: bytes, isas: List[str], x: np.ndarray) -> None:
    outs = []
    for isa in isas:
        s = InferenceSession(lin_bytes, isa=isa)
        outs.append(s.run(None, {s.get_inputs()[0].name: x}))
    for isa, o in zip(isas[1:], outs[1:]):
        for a, b in zip(outs[0], o):
            if a.tobytes() != b.tobytes():
                raise SystemExit(f"{name}: the {isa} outputs differ from {isas[0]}'s (the ISAs must agree exactly)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="demo_cnn and resnet18_64, 1 thread, 5 repeats")
    ap.add_argument("--models", default=None, help="comma-separated subset of " + ",".join(ALL_MODELS))
    ap.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds per engine (default 20; quick 5)")
    ap.add_argument("--scalar", action="store_true", help="also time the scalar reference kernels (slow)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="what speedup and GMAC/s are computed from: wall-clock ms (default) or, on a machine "
                         "shared with other processes, the calling thread's CPU ms (one-thread rows only; rows "
                         "with more threads use wall-clock ms)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="separate timing rounds (fresh sessions, each the minimum of --repeats runs); with more "
                         "than one the table gives each figure's range over the rounds, low-high (default 1)")
    ap.add_argument("--settle-ms", type=float, default=20.0,
                    help="with several thread counts (e.g. --threads 1,2): pause before every timed run, so that "
                         "the worker threads of the engine timed before (which spin for a while after a run) are "
                         "asleep (a busy wait of the calling thread); all rows get it alike (default 20)")
    args = ap.parse_args()
    if args.models:
        models = [ALIASES.get(m, m) for m in args.models.split(",")]
    else:
        models = ["demo_cnn", "resnet18_64"] if args.quick else ALL_MODELS
    threads = [int(t) for t in args.threads.split(",")] if args.threads else ([1] if args.quick else [1, 2])
    repeats = args.repeats or (5 if args.quick else 20)
    warmup = 2 if args.quick else 3
    isas = [i for i in ("avx512vnni", "avx2") if isa_supported(i)]
    if args.scalar or not isas:
        isas.append("scalar")
    torch.manual_seed(0)
    peaks = int8_peaks(threads)
    notes: List[str] = []
    rows: List[Tuple[str, ...]] = []
    for name in models:
        float_model, shape, desc = build_float(name)
        torch.set_num_threads(1)
        calibrate_batch_norms(float_model, shape, batch=8)
        lin_bytes = quantize_and_export(float_model, shape, batch=8)
        float_bytes = export_float(float_model, shape)
        macs = count_macs(float_bytes)
        x = torch.randn(*shape).numpy()
        check_isas_agree(name, lin_bytes, isas, x)
        print(f"{name}: {desc}; {macs / 1e6:.1f} MMAC; int8 outputs identical on {', '.join(isas)}", flush=True)
        one_thread: Dict[str, List[float]] = {}  # engine -> its 1-thread wall ms per round
        # the same pause before every timed run of a table with several thread counts, so that the
        # "vs 1 thread" column compares like with like (a pause also cools the caches: slower runs)
        settle_s = args.settle_ms / 1e3 if max(threads) > 1 else 0.0
        for t in threads:
            torch.set_num_threads(t)
            use_cpu = args.clock == "cpu" and t == 1
            # engine label -> per round: (wall ms, cpu ms, speedup vs ORT); rounds are separate timing runs
            per: Dict[str, List[Tuple[float, float, float]]] = {}
            ours: Dict[str, bool] = {}
            for _ in range(args.rounds):
                engines = make_engines(name, t, isas, lin_bytes, float_bytes, float_model, x, notes)
                time_engines(engines, repeats, warmup, settle_s)

                def best_ms(e: Engine) -> float:
                    return min(e.cpu) if use_cpu else min(e.wall)
                ort_ms = next(best_ms(e) for e in engines if e.label.startswith("ONNX Runtime"))
                for e in engines:
                    per.setdefault(e.label, []).append((min(e.wall), min(e.cpu), ort_ms / best_ms(e)))
                    ours[e.label] = e.ours
            for label, vals in per.items():
                walls = [v[0] for v in vals]
                clock = [v[1] if use_cpu else v[0] for v in vals]
                gmacs = [macs / (ms * 1e-3) / 1e9 for ms in clock]
                peak = peaks.get(t, ("", 0.0))[1]
                pct = span([100 * g / peak for g in gmacs], "{:.0f}", "%") if ours[label] and peak > 0 else "-"
                cpu = span([v[1] for v in vals], "ms") if t == 1 else "-"
                if t == 1:
                    one_thread[label] = walls
                scale = "-"
                if t > 1 and label in one_thread:
                    scale = span([a / b for a, b in zip(one_thread[label], walls)], "{:.2f}", "x")
                rows.append((name, str(t), label, span(walls, "ms"), cpu, span([v[2] for v in vals], "{:.2f}", "x"),
                             scale, span(gmacs, "{:.1f}"), pct))
            print(f"  {t} thread(s) done", flush=True)
    print()
    header = ("model", "threads", "engine", "ms", "cpu ms", "speedup vs ORT fp32", "vs 1 thread", "GMAC/s",
              "% int8 peak")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if peaks:
        print("\nint8 peak (bench_int8_peak, per-thread CPU time): "
              + ", ".join(f"{t} thread(s) {isa} {g:.0f} GMAC/s" for t, (isa, g) in sorted(peaks.items())))
    for n in dict.fromkeys(notes):  # once each, in order
        print("note: " + n)
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}; "
          + (f"ranges over {args.rounds} rounds, each the " if args.rounds > 1 else "")
          + f"min of {repeats} interleaved runs "
          f"after {warmup} warm-up runs"
          + (f" ({args.settle_ms:g} ms pause before each run)" if max(threads) > 1 else "")
          + "; batch 1; speedup and GMAC/s from "
          + ("the calling thread's CPU ms (1 thread), wall-clock ms (more)" if args.clock == "cpu" else "wall-clock ms"))


if __name__ == "__main__":
    main()
