"""Helper of test_checkpoint_cross_torch.py, run as a script by one interpreter or another (torch 1.13, torch 2.x):

    python ckpt_roundtrip.py save FILE     # stage-1 + QAT training here, checkpoints and eval outputs into FILE
    python ckpt_roundtrip.py check FILE    # rebuild the model here, load FILE's checkpoints (strict, weights_only),
                                           # compare the eval outputs with the ones FILE recorded

Prints one line `saved by torch X, loaded by torch Y: ...` on success; exits non-zero with the reason otherwise."""
import sys

import torch
import torch.nn as nn

import linger


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def plain(t: torch.Tensor) -> torch.Tensor:
    return t.as_subclass(torch.Tensor) if isinstance(t, linger.IQTensor) else t


def stage1(model: nn.Module, x: torch.Tensor) -> nn.Module:
    linger.trace_layers(model, model, (x,))
    linger.normalize_layers(model)
    return model


def train(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    model.train()
    for _ in range(3):
        x, y = torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)
        loss = nn.functional.cross_entropy(plain(model(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def evaluate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return plain(model(x)).clone()


def save(path: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    model = stage1(Net(), x)
    train(model, 1)
    sd1 = {k: v.clone() for k, v in model.state_dict().items()}
    y1 = evaluate(model, x)
    linger.init(model)
    train(model, 2)
    y2 = evaluate(model, x)
    torch.save({"torch": str(torch.__version__), "x": x, "stage1": sd1, "y_stage1": y1, "qat": model.state_dict(),
                "y_qat": y2}, path)
    print(f"saved by torch {torch.__version__}: {path}")


def check(path: str) -> None:
    kw = {"weights_only": True}  # tensors only: loads without unpickling code (torch >= 1.13)
    ck = torch.load(path, **kw)
    x = ck["x"]
    model = stage1(Net(), x)
    model.load_state_dict(ck["stage1"], strict=True)
    y1 = evaluate(model, x)
    # float (stage-1) arithmetic may round differently in another torch's kernels; integer QAT eval may not.
    if not torch.allclose(y1, ck["y_stage1"], rtol=1e-5, atol=1e-5):
        sys.exit(f"stage-1 eval differs: max |diff| {(y1 - ck['y_stage1']).abs().max().item()}")
    linger.init(model)
    model.load_state_dict(ck["qat"], strict=True)
    y2 = evaluate(model, x)
    if not torch.equal(y2, ck["y_qat"]):
        sys.exit(f"QAT eval differs from the saving torch's: {int((y2 != ck['y_qat']).sum())} of {y2.numel()} "
                 f"values, max |diff| {(y2 - ck['y_qat']).abs().max().item()}")
    print(f"saved by torch {ck['torch']}, loaded by torch {torch.__version__}: stage-1 and QAT checkpoints load "
          f"strictly, QAT eval outputs equal ({y2.numel()} values)")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "check"):
        sys.exit("usage: ckpt_roundtrip.py save|check FILE")
    (save if sys.argv[1] == "save" else check)(sys.argv[2])
