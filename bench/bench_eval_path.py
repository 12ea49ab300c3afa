"""The PyTorch eval forward of a quantized model vs the float model's eval forward (issue 10, point 2).

    /usr/bin/python3 bench/bench_eval_path.py [--threads 1] [--reps 15] [--reference]

Models: unmodified torchvision resnet18 (224x224 and 64x64) and mobilenet_v2 (224x224), batch 1 and 8. Each is
quantized as a user does it (linger.trace_layers + normalize_layers + init), calibrated with a few training-mode
batches, then put in eval mode; the float model is the same network with the same weights (its batch-norm
statistics set first by a few training-mode batches of random data). Timings: minimum over `--reps` runs, the float
and the quantized forward interleaved (the machine may be shared), under torch.no_grad(), `--threads` intra-op
threads for both. `--reference` also times the reference eval path (every
layer re-quantizes its weights and runs the scalar integer conv: the eval path before issue 10), once per case.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import linger  # noqa: E402
from linger.tools import recalibrate_batch_norms  # noqa: E402
from linger.nn.weighted import WeightedIntMixin  # noqa: E402

torchvision = None


def quantized_pair(name, size):
    torch.manual_seed(0)
    ctor = getattr(torchvision.models, name)
    fmodel = ctor()
    # batch-norm statistics of the data (random init leaves mean 0 / var 1, and activations that vanish in depth)
    recalibrate_batch_norms(fmodel, [torch.randn(8, 3, size, size) for _ in range(4)])
    fmodel.eval()
    qmodel = ctor()
    qmodel.load_state_dict(fmodel.state_dict())
    x = torch.randn(1, 3, size, size)
    linger.trace_layers(qmodel, qmodel, (x,))
    linger.normalize_layers(qmodel)
    linger.init(qmodel)
    qmodel.train()
    with torch.no_grad():
        for _ in range(3):
            qmodel(torch.randn(4, 3, size, size))
    qmodel.eval()
    return fmodel, qmodel


def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    global torchvision
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--reference", action="store_true", help="also time the reference eval path (slow)")
    args = ap.parse_args()
    import torchvision as tv
    torchvision = tv
    torch.set_num_threads(args.threads)
    cases = [("resnet18", 224), ("resnet18", 64), ("mobilenet_v2", 224)]
    print(f"torch {torch.__version__}, {args.threads} thread(s), kernels ISA {torch.ops.linger.kernel_isa()}, "
          f"min of {args.reps} interleaved runs (ms)")
    head = f"{'model':<14}{'input':>6}{'batch':>6}{'float':>10}{'quantized':>11}{'ratio':>7}"
    print(head + (f"{'reference':>11}" if args.reference else ""))
    for name, size in cases:
        fmodel, qmodel = quantized_pair(name, size)
        for batch in (1, 8):
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                fmodel(x), qmodel(x)  # warm-up (and the quantized model's first eval packs its weights)
                tf = tq = float("inf")
                for _ in range(args.reps):
                    tf = min(tf, seconds(lambda: fmodel(x)))
                    tq = min(tq, seconds(lambda: qmodel(x)))
                line = f"{name:<14}{size:>6}{batch:>6}{tf * 1e3:>10.1f}{tq * 1e3:>11.1f}{tq / tf:>7.2f}"
                if args.reference:
                    WeightedIntMixin._eval_fast = False
                    try:
                        tr = seconds(lambda: qmodel(x))
                    finally:
                        WeightedIntMixin._eval_fast = True
                    line += f"{tr * 1e3:>11.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
