"""One QAT training step of a small CNN vs the float step of the same CNN (same process, same data).

    /usr/bin/python3 bench/bench_qat_step.py [--threads N]
"""
import argparse
import copy
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import linger  # noqa: E402


class BenchCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc2(self.relu(self.fc1(x.flatten(1))))


def step_time(model, x, y, reps=20):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    float_model = BenchCNN()
    qat_model = linger.init(copy.deepcopy(float_model))
    # interleave to share machine noise
    tf, tq = [], []
    for _ in range(3):
        tf.append(step_time(float_model, x, y))
        tq.append(step_time(qat_model, x, y))
    f, q = statistics.median(tf), statistics.median(tq)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, 28x28 CNN (conv32-conv64-fc128-fc10)")
    print(f"float step {f * 1e3:.2f} ms   QAT step {q * 1e3:.2f} ms   QAT/float = {q / f:.2f}x")


if __name__ == "__main__":
    main()
