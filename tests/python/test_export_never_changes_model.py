"""Exporting never changes the model (issue 13, numerics.md §4.4): a train-step / export loop with random batch
shapes and learning rates keeps every state_dict entry bit-identical across each export, and training continues
exactly as in the same run without exports."""
import io

import numpy as np
import torch

import linger

STEPS = 240


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = torch.nn.functional.max_pool2d(x, 2)
        return self.fc(x.flatten(1))


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_bit_identical(a, b, when):
    assert a.keys() == b.keys(), when
    for k in a:
        same = a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k])
        assert same, f"{when}: {k} changed from {a[k].flatten()[:4].tolist()} to {b[k].flatten()[:4].tolist()}"


def _train(export: bool):
    torch.manual_seed(0)
    model = Net()
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(13)
    export_rng = np.random.default_rng(7)  # its own stream: the training data must not depend on `export`
    gen = torch.Generator().manual_seed(1)
    trajectory = []
    exports = 0
    for step in range(STEPS):
        batch = int(rng.integers(1, 9))
        lr = float(10 ** rng.uniform(-3, 0))  # up to 1.0: large steps move weights across power-of-two ranges
        x = torch.randn(batch, 1, 8, 8, generator=gen) * float(rng.uniform(0.2, 5))
        target = torch.randint(0, 5, (batch,), generator=gen)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        loss = torch.nn.functional.cross_entropy(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if export:
            before = _snapshot(model)
            shape = (int(export_rng.integers(1, 4)), 1, 8, 8)  # the export's own batch size varies too
            linger.onnx.export(model, (torch.randn(*shape, generator=torch.Generator().manual_seed(step)),),
                               io.BytesIO())
            _assert_bit_identical(before, _snapshot(model), f"export after step {step}")
            exports += 1
        trajectory.append(_snapshot(model))
    return trajectory, exports


def test_export_loop_never_changes_state_dict_and_training_continues_identically():
    with_exports, exports = _train(export=True)
    assert exports == STEPS
    without_exports, _ = _train(export=False)
    for step, (a, b) in enumerate(zip(with_exports, without_exports)):
        _assert_bit_identical(b, a, f"training step {step} (with exports vs without)")


def test_eval_forward_never_changes_state_dict():
    torch.manual_seed(0)
    model = Net()
    linger.init(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(4, 1, 8, 8)
    for _ in range(3):
        model.train()
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    before = _snapshot(model)
    with torch.no_grad():
        model(x)
        model(x[:1] * 7)
    _assert_bit_identical(before, _snapshot(model), "eval forward")
