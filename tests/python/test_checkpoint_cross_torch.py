"""Checkpoints saved under one torch load under the other (torch 1.13 <-> torch 2.x), both directions.

The other interpreter: LINGER_OTHER_PYTHON (scripts/test.sh sets it: the torch-2.x venv's python while the torch-1.13
tests run, /usr/bin/python3 while the torch-2.x tests run), with LINGER_OTHER_PYTHONPATH where its linger (built
for its torch) lives, empty when linger is pip-installed there. Without LINGER_OTHER_PYTHON the test is skipped,
saying why. Each side runs tests/python/ckpt_roundtrip.py: stage-1 (trace_layers + normalize_layers) and QAT
training, the two state_dicts saved with torch.save, loaded on the other side with weights_only=True and
strict=True, and the eval outputs compared (QAT integer eval: equal; stage-1 float eval: within 1e-5)."""
import os
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "ckpt_roundtrip.py")


def _run(python, pythonpath, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run([python, "-W", "ignore::FutureWarning", SCRIPT, *args], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{python} {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout.strip().splitlines()[-1]


def _other():
    python = os.environ.get("LINGER_OTHER_PYTHON")
    if not python:
        pytest.skip("LINGER_OTHER_PYTHON is not set (scripts/test.sh sets it to the interpreter of the other torch, "
                    "with LINGER_OTHER_PYTHONPATH for its linger build)")
    if not os.access(python, os.X_OK):
        pytest.skip(f"LINGER_OTHER_PYTHON={python} is not an executable")
    pythonpath = os.environ.get("LINGER_OTHER_PYTHONPATH", "")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    r = subprocess.run([python, "-c", "import torch, linger; print(torch.__version__)"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"LINGER_OTHER_PYTHON={python} cannot import torch and linger:\n{r.stderr}"
    other = r.stdout.strip().splitlines()[-1]
    if other.split(".")[0] == torch.__version__.split(".")[0]:
        pytest.skip(f"the other interpreter has torch {other}, the same major version as this one ({torch.__version__})")
    return python, pythonpath


def test_checkpoints_load_across_torch_versions(tmp_path):
    other, other_path = _other()
    mine = os.path.join(ROOT, "python")
    here_file, there_file = str(tmp_path / "here.pt"), str(tmp_path / "there.pt")
    _run(sys.executable, mine, "save", here_file)
    _run(other, other_path, "save", there_file)
    line = _run(other, other_path, "check", here_file)
    assert f"saved by torch {torch.__version__}" in line, line
    line = _run(sys.executable, mine, "check", there_file)
    assert f"loaded by torch {torch.__version__}" in line and f"saved by torch {torch.__version__}," not in line, line
