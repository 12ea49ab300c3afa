"""Keyword spotting with a conv + GRU model, from espeak-ng speech to linger's C++ int8 runtime, streaming.

  data  10 keywords + "_unknown_" (other words, noise, silence), synthesized by espeak-ng with 392 training
        and 80 test voices (the test voice variants never occur in training), random rates and pitches, time
        shifts, gains and background noise; 40 log-mel bands x 98 frames per 1 s clip (examples/kws_data.py)
  0. float training (and, as the reference, the same further schedule in float)
  1. stage 1: trace_layers (conv-bn fusion) + normalize_layers (constraints), the float checkpoint loaded
     with strict=True, fine-tuned in float
  2. stage 2: linger.init (int8 QAT: Conv1d/BN -> ConvBN1dInt, GRU -> GRUInt, Linear -> LinearInt)
  3. export with the GRU state as an input and an output and a symbolic number of frames, then the C++
     runtime on the whole test set: whole utterances (compared bit for bit with the PyTorch eval forward),
     and chunk by chunk carrying the state (compared with the whole-utterance run)

    /usr/bin/python3 examples/kws_demo.py            # docs/speech-demo.md
"""
from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import linger  # noqa: E402
from linger.runtime import InferenceSession  # noqa: E402
import kws_data as kd  # noqa: E402


class KwsNet(nn.Module):
    """Conv1d front-end over the mel bands (channels) x time, a unidirectional GRU, a Linear on its last output.

    The first conv has kernel = stride (4 frames: one GRU step per 40 ms) and the second kernel 1, so every GRU
    step sees its own frames only: a stream cut into chunks of a multiple of `stride` frames gives the integers
    of the whole utterance when the GRU state is carried from chunk to chunk (`forward(x, h) -> (logits, h_n)`)."""

    def __init__(self, n_mels: int = 40, channels: int = 64, hidden: int = 64, n_classes: int = 11,
                 stride: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, channels, kernel_size=stride, stride=stride)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=1)
        self.bn2 = nn.BatchNorm1d(channels)
        self.relu = nn.ReLU()
        self.gru = nn.GRU(channels, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor, h: Optional[torch.Tensor] = None):
        """x: [B, n_mels, T], h: [1, B, hidden] or None -> (logits [B, classes], h_n [1, B, hidden]).
        The last T % stride frames are dropped (the conv's rule), as they would be in a stream."""
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        out, h_n = self.gru(y.transpose(1, 2), h)
        return self.fc(out[:, -1]), h_n


class KwsLogits(KwsNet):
    """KwsNet with the logits as its only output (no state input): the form bench/bench_models.py times."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


def bench_model() -> Tuple[nn.Module, Tuple[int, ...]]:
    """The demo's model at its default size for bench/bench_models.py (row "kws_gru"): a fresh KwsLogits
    (40 mel bands, 64 channels, GRU(64), 11 classes, stride 4) and its input shape [1, 40, 98] (1 s of audio)."""
    defaults = build_parser().parse_args([])
    model = KwsLogits(40, defaults.channels, defaults.hidden, len(kd.KwsConfig().classes), defaults.stride)
    return model, (1, 40, 98)


def log(msg: str) -> None:
    print(msg, flush=True)


class TrainData:
    """The training clips plus noise-only "silence" examples, in `versions` seeded augmentations (shift, gain,
    noise) kept as float16 log-mel features: epoch e uses version e % versions in its own shuffled order. A
    version is made the first time an epoch needs it, in a background thread (numpy and torch release the
    GIL: mixing and features run on the second core while the model trains on the first)."""

    def __init__(self, clips: kd.Clips, feats: kd.LogMel, unknown: int, n_silence: int, seed: int,
                 versions: int) -> None:
        self.mixer = kd.Mixer(clips, test=False, unknown_label=unknown)
        idx = np.nonzero(~clips.is_test)[0]
        self.items = np.concatenate([idx, -np.ones(n_silence, dtype=np.int64)])
        self.labels = torch.from_numpy(
            np.concatenate([clips.labels[idx], np.full(n_silence, unknown, dtype=np.int64)]))
        self.feats = feats
        self.seed = seed
        self.versions = versions
        self.pool: Dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.items)

    def batches(self, epoch: int, bs: int):
        v = epoch % self.versions
        perm = np.random.default_rng((self.seed, 1, epoch)).permutation(len(self.items))
        if v in self.pool:
            store = self.pool[v]
            for i in range(0, len(perm), bs):
                sel = torch.from_numpy(perm[i:i + bs])
                yield store[sel].float(), self.labels[sel]
            return
        store = None

        def make():
            nonlocal store
            rng = np.random.default_rng((self.seed, 0, v))
            for i in range(0, len(perm), bs):
                sel = perm[i:i + bs]
                x = self.feats(self.mixer.batch(self.items[sel], rng)).half()
                if store is None:
                    store = torch.empty((len(perm),) + tuple(x.shape[1:]), dtype=torch.float16)
                store[torch.from_numpy(sel)] = x
                yield x.float(), self.labels[torch.from_numpy(sel)]

        yield from _prefetch(make())
        self.pool[v] = store


def _prefetch(gen, depth: int = 8):
    """Runs the generator in a background thread, `depth` items ahead."""
    q: "queue.Queue" = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for b in gen:
                q.put(b)
            q.put(done)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    th = threading.Thread(target=produce, daemon=True)
    th.start()
    while True:
        item = q.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    th.join()


def train(model: nn.Module, data: TrainData, epochs: int, lr: float, tag: str, first_epoch: int,
          bs: int = 64, quiet: bool = False) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for ep in range(epochs):
        total, n, correct, t0 = 0.0, 0, 0, time.time()
        for step, (x, y) in enumerate(data.batches(first_epoch + ep, bs)):
            logits = model(x)[0]
            loss = nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            n += len(y)
            if not quiet and step % 50 == 0:
                log(f"  [{tag}] epoch {ep + 1}/{epochs}  {n:>5}/{len(data)}  loss {total / n:.4f}")
        log(f"  [{tag}] epoch {ep + 1}/{epochs} done: loss {total / n:.4f}, train accuracy "
            f"{100.0 * correct / n:.2f}% ({time.time() - t0:.1f}s)")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, bs: int = 256) -> Tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    logits, states = [], []
    for i in range(0, len(x), bs):
        lo, h = model(x[i:i + bs])
        logits.append(lo.as_subclass(torch.Tensor))
        states.append(h.as_subclass(torch.Tensor))
    return torch.cat(logits), torch.cat(states, 1)


def accuracy(logits, labels) -> float:
    return float((np.asarray(logits).argmax(1) == np.asarray(labels)).mean() * 100)


def chunk_bounds(frames: int, chunk: int) -> List[Tuple[int, int]]:
    return [(s, min(s + chunk, frames)) for s in range(0, frames, chunk)]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10, help="float epochs")
    ap.add_argument("--stage1-epochs", type=int, default=2)
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3, help="float learning rate (Adam); stage 1: /3, QAT: /30")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--stride", type=int, default=4, help="frames per GRU step (the first conv's kernel and stride)")
    ap.add_argument("--chunk-frames", type=int, default=12,
                    help="streaming chunk, a multiple of --stride (12 frames = 120 ms)")
    ap.add_argument("--aug-versions", type=int, default=3,
                    help="augmented versions of the training set (epoch e uses version e %% N)")
    ap.add_argument("--silence", type=float, default=0.05, help="noise-only examples, share of each split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="espeak-ng processes at a time")
    ap.add_argument("--data-root", default=None, help="cache folder (default: data/kws in the checkout)")
    ap.add_argument("--out", default=os.path.join("demo_out", "kws"))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: the second core makes the augmented data meanwhile)")
    small = ap.add_argument_group("a smaller dataset (tests)")
    small.add_argument("--keywords", type=int, default=len(kd.KEYWORDS), help="first N keywords")
    small.add_argument("--accents", type=int, default=len(kd.ACCENTS), help="first N accents")
    small.add_argument("--train-variants", type=int, default=len(kd.TRAIN_VARIANTS), help="first N")
    small.add_argument("--test-variants", type=int, default=len(kd.TEST_VARIANTS), help="first N")
    small.add_argument("--keyword-takes", type=int, default=2)
    small.add_argument("--unknown-takes", type=int, default=4)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = build_parser().parse_args(argv)
    if args.stride <= 0 or args.chunk_frames <= 0 or args.chunk_frames % args.stride:
        raise SystemExit(f"--chunk-frames ({args.chunk_frames}) must be a positive multiple of --stride "
                         f"({args.stride}): a chunk must end where a GRU step ends")
    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    cfg = kd.KwsConfig(keywords=kd.KEYWORDS[:args.keywords], accents=kd.ACCENTS[:args.accents],
                       train_variants=kd.TRAIN_VARIANTS[:args.train_variants],
                       test_variants=kd.TEST_VARIANTS[:args.test_variants], keyword_takes=args.keyword_takes,
                       unknown_takes=args.unknown_takes, seed=args.seed)
    classes = cfg.classes
    unknown = len(classes) - 1
    log(f"== data: espeak-ng keyword spotting, {len(classes)} classes ({', '.join(classes)})")
    clips, info = kd.load_or_synthesize(cfg, args.data_root, workers=args.workers)
    t_data = info["seconds"]
    n_tr, n_te = int((~clips.is_test).sum()), int(clips.is_test.sum())
    log(f"  {'cached' if info['cached'] else 'synthesized'} {len(clips.lengths)} utterances in {t_data:.1f}s "
        f"(cache key {cfg.key()}): train {n_tr} from {len(cfg.accents) * len(cfg.train_variants)} voices, "
        f"test {n_te} from {len(cfg.accents) * len(cfg.test_variants)} voices")

    t_prep = time.perf_counter()
    feats = kd.LogMel()
    fit_mixer = kd.Mixer(clips, test=False, unknown_label=unknown)
    fit_rng = np.random.default_rng((args.seed, 99))
    fit_items = fit_rng.choice(np.nonzero(~clips.is_test)[0], size=min(n_tr, 1000), replace=False)
    feats.fit(fit_mixer.batch(fit_items, fit_rng))  # per-band mean/std of the training data
    data = TrainData(clips, feats, unknown, int(round(args.silence * n_tr)), args.seed, args.aug_versions)
    test_mixer = kd.Mixer(clips, test=True, unknown_label=unknown)
    test_idx = np.nonzero(clips.is_test)[0]
    n_sil_te = int(round(args.silence * n_te))
    test_items = np.concatenate([test_idx, -np.ones(n_sil_te, dtype=np.int64)])
    yte = np.concatenate([clips.labels[test_idx], np.full(n_sil_te, unknown, dtype=np.int64)])
    xte = feats(test_mixer.batch(test_items, np.random.default_rng((args.seed, 1234))))
    frames = xte.shape[2]
    log(f"  features: log-mel {tuple(xte.shape[1:])} per 1 s clip; train {len(data)} examples per epoch "
        f"({args.aug_versions} augmented versions), test {len(xte)} ({n_sil_te} noise/silence only) "
        f"({time.perf_counter() - t_prep:.1f}s)")

    def new_model() -> KwsNet:
        return KwsNet(xte.shape[1], args.channels, args.hidden, len(classes), args.stride)

    log("== float training")
    epoch = 0
    float_model = new_model()
    train(float_model, data, args.epochs, args.lr, "float", epoch, args.batch)
    float_ckpt = {k: v.clone() for k, v in float_model.state_dict().items()}
    # the float reference gets the same further schedule as the two stages
    s1_epoch, qat_epoch = args.epochs, args.epochs + args.stage1_epochs
    train(float_model, data, args.stage1_epochs, args.lr / 3, "float", s1_epoch, args.batch, quiet=True)
    train(float_model, data, args.qat_epochs, args.lr / 30, "float", qat_epoch, args.batch, quiet=True)
    float_acc = accuracy(predict(float_model, xte)[0], yte)
    log(f"  float test accuracy {float_acc:.2f}%")

    log("== stage 1: trace_layers (conv-bn fusion) + normalize_layers (constraints), float fine-tuning")
    model = new_model()
    with warnings.catch_warnings():  # torch.jit.trace of nn.GRU warns about its own hidden-size check
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        linger.trace_layers(model, model, (xte[:2],))
    linger.normalize_layers(model, normalize_weight_value=8, normalize_bias_value=8, normalize_output_value=8)
    model.load_state_dict(float_ckpt, strict=True)
    train(model, data, args.stage1_epochs, args.lr / 3, "stage1", s1_epoch, args.batch)
    stage1_acc = accuracy(predict(model, xte)[0], yte)
    log(f"  stage-1 test accuracy {stage1_acc:.2f}%")

    log("== stage 2: int8 QAT (linger.init, stage-1 learning rate / 10)")
    linger.init(model)
    train(model, data, args.qat_epochs, args.lr / 30, "qat", qat_epoch, args.batch)
    qat_logits, qat_h = predict(model, xte)
    qat_acc = accuracy(qat_logits, yte)
    log(f"  QAT int8 eval accuracy {qat_acc:.2f}%")

    log("== export (GRU state in and out, symbolic frame count)")
    path = os.path.join(args.out, "kws_int8.onnx")
    h_zero = np.zeros((1, 1, args.hidden), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        linger.onnx.export(model, (xte[:1], torch.from_numpy(h_zero)), path, input_names=["mel", "h0"],
                           output_names=["logits", "h_n"], dynamic_axes={"mel": {2: "frames"}})
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")

    log(f"== C++ integer runtime on the {len(xte)} test utterances: whole, then in {args.chunk_frames}-frame chunks")
    sess = InferenceSession(path)
    xs = xte.numpy()
    n = len(xs)
    rt_logits = np.empty((n, len(classes)), np.float32)
    rt_h = np.empty((n, args.hidden), np.float32)
    t0 = time.perf_counter()
    for i in range(n):
        lo, h = sess.run(None, {"mel": xs[i:i + 1], "h0": h_zero})
        rt_logits[i], rt_h[i] = lo[0], h[0, 0]
    rt_time = (time.perf_counter() - t0) / n
    bounds = chunk_bounds(frames - frames % args.stride, args.chunk_frames)  # the conv drops the rest anyway
    st_logits = np.empty_like(rt_logits)
    st_h = np.empty_like(rt_h)
    t0 = time.perf_counter()
    for i in range(n):
        h = h_zero
        for a, b in bounds:
            lo, h = sess.run(None, {"mel": xs[i:i + 1, :, a:b], "h0": h})
        st_logits[i], st_h[i] = lo[0], h[0, 0]
    chunk_time = (time.perf_counter() - t0) / (n * len(bounds))
    rt_acc = accuracy(rt_logits, yte)
    exact = float(((rt_logits == qat_logits.numpy()).all(1) & (rt_h == qat_h[0].numpy()).all(1)).mean() * 100)
    stream_same = float(((st_logits == rt_logits).all(1) & (st_h == rt_h).all(1)).mean() * 100)
    total = time.perf_counter() - t_start
    seconds_audio = frames * 0.01 + 0.015  # 98 hops of 10 ms + the last window's remaining 15 ms = 1 s

    rows = [
        ("float accuracy (PyTorch, same schedule)", f"{float_acc:.2f}%"),
        ("stage-1 (constrained float) accuracy", f"{stage1_acc:.2f}%"),
        ("QAT int8 eval accuracy (PyTorch)", f"{qat_acc:.2f}%"),
        ("runtime int8 accuracy (C++)", f"{rt_acc:.2f}%"),
        ("utterances bit-exact runtime vs PyTorch eval", f"{exact:.2f}%"),
        (f"streaming ({args.chunk_frames}-frame chunks) identical to whole", f"{stream_same:.2f}%"),
        (f"runtime time / s of audio (whole, 1 thread, {sess.isa})", f"{rt_time / seconds_audio * 1e3:.3f} ms"),
        (f"runtime time / {args.chunk_frames * 10} ms chunk (streaming)", f"{chunk_time * 1e3:.3f} ms"),
    ]
    w = max(len(r[0]) for r in rows)
    log("\n" + "-" * (w + 14))
    for k, v in rows:
        log(f"{k:<{w}}  {v:>11}")
    log("-" * (w + 14))
    log(f"runtime int8 vs float: {rt_acc - float_acc:+.2f} points; test set {n} utterances from "
        f"{len(cfg.accents) * len(cfg.test_variants)} unseen voices")
    log(f"data {'(cached) ' if info['cached'] else ''}{t_data:.1f}s; everything else {total - t_data:.1f}s; "
        f"total {total:.1f}s")
    if exact != 100.0:
        raise SystemExit("runtime and PyTorch eval differ: run linger.tools.compare to find the first mismatch")
    if stream_same != 100.0:
        raise SystemExit("the chunked runtime run differs from the whole-utterance run")
    return {"float": float_acc, "stage1": stage1_acc, "qat": qat_acc, "runtime": rt_acc, "exact": exact,
            "streaming_same": stream_same, "rt_ms_per_s": rt_time / seconds_audio * 1e3,
            "chunk_ms": chunk_time * 1e3, "data_s": t_data, "total_s": total, "n_test": float(n)}


if __name__ == "__main__":
    main()
