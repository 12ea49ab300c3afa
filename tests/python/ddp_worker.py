"""One rank of the 2-process DDP test (tests/python/test_ddp.py); run as
`python ddp_worker.py RANK WORLD INIT_FILE OUTDIR`.

Phases, in one process group:
- `sync` / `nosync`: linger.init on a small CNN (conv, BatchNorm2d, ReLU, max pool, a residual iqAdd, linear),
  DistributedDataParallel(broadcast_buffers=False) with gloo, 3 SGD steps on this rank's own data (rank r draws
  from seed 100 + r and scales its images by 1 + r, so the ranks' statistics and exponents differ), then export.
  Writes `<phase>_rank<r>.onnx`, `<phase>_rank<r>.json` (every buffer) and, for `sync`, the statistics of the first
  conv and the batch norm after the first forward (`first_rank<r>.json`).
- `nan`: rank 1's batch holds a NaN; every rank must raise linger's NaN error (none is left waiting).
"""
import io
import json
import os
import sys
import traceback

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

import linger  # noqa: E402

BATCH, STEPS = 8, 3


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        a = self.pool(F.relu(self.bn1(self.conv1(x))))
        b = F.relu(self.conv2(a))
        return self.fc((a + b).flatten(1))


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = Net()
    linger.init(model)
    return model


def batches(rank: int):
    g = torch.Generator().manual_seed(100 + rank)
    for _ in range(STEPS):
        x = torch.randn(BATCH, 1, 16, 16, generator=g) * (1 + rank)
        y = torch.randint(0, 10, (BATCH,), generator=g)
        yield x, y


def buffers(model: nn.Module) -> dict:
    return {n: b.detach().double().reshape(-1).tolist() for n, b in model.named_buffers()}


def train_and_export(rank: int, phase: str, out: str) -> None:
    linger.SetDistributedStatsSync(phase == "sync")
    model = make_model()
    ddp = nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01)
    for step, (x, y) in enumerate(batches(rank)):
        loss = F.cross_entropy(ddp(x), y)
        if step == 0 and phase == "sync":
            first = {k: v for k, v in buffers(model).items() if k.startswith(("conv1.", "bn1."))}
            with open(os.path.join(out, f"first_rank{rank}.json"), "w") as fh:
                json.dump(first, fh)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    buf = io.BytesIO()
    linger.onnx.export(model, (x[:1],), buf)
    with open(os.path.join(out, f"{phase}_rank{rank}.onnx"), "wb") as fh:
        fh.write(buf.getvalue())
    with open(os.path.join(out, f"{phase}_rank{rank}.json"), "w") as fh:
        json.dump(buffers(model), fh)


def nan_phase(rank: int, out: str) -> None:
    linger.SetDistributedStatsSync(True)
    model = make_model()
    x = torch.randn(BATCH, 1, 16, 16)
    if rank == 1:
        x[0, 0, 0, 0] = float("nan")
    try:
        model(x)
        msg = "no error"
    except RuntimeError as e:
        msg = str(e)
    with open(os.path.join(out, f"nan_rank{rank}.txt"), "w") as fh:
        fh.write(msg)


def main() -> None:
    rank, world, init_file, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        for phase in ("sync", "nosync"):
            train_and_export(rank, phase, out)
        nan_phase(rank, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        with open(os.path.join(sys.argv[4], f"rank{sys.argv[1]}.err"), "w") as fh:
            fh.write(traceback.format_exc())
        raise
