"""Multi-process QAT (docs/ddp.md): two gloo processes under DistributedDataParallel, each on its own data.

With the statistics sync (the default) both ranks end with identical running statistics and exponents and export
byte-identical files; with it switched off the same run gives different statistics and files (so the check can
fail). After the first forward the synchronised statistics of the first conv equal those of one process on the
union of both ranks' batches (max |x| exactly; the BatchNorm running mean/var up to float rounding). A NaN on one
rank raises linger's NaN error on both (no rank is left waiting in a collective)."""
import json
import os
import subprocess
import sys

import pytest
import torch

import linger

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddp_worker  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ddp"))
    init = os.path.join(out, "init")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "ddp_worker.py"), str(r), "2", init, out],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(2)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=240)[0].decode(errors="replace"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for r, p in enumerate(procs):
        assert p.returncode == 0, f"rank {r} failed:\n{logs[r]}"
    return out


def _read(out, name):
    with open(os.path.join(out, name), "rb") as fh:
        return fh.read()


def _stats(out, name):
    return json.loads(_read(out, name))


def test_synced_ranks_hold_identical_statistics(run):
    s0, s1 = _stats(run, "sync_rank0.json"), _stats(run, "sync_rank1.json")
    assert s0.keys() == s1.keys()
    running = [k for k in s0 if k.rsplit(".", 1)[-1].startswith(("running_", "scale_"))]
    # every quantized module's statistics, the lazily created iqAdd layer's and the batch norm's running mean/var
    assert {"conv1.running_x", "bn1.running_mean", "bn1.running_var", "bn1.running_w", "fc.running_o"} <= set(s0)
    assert any("iqadd" in k and k.endswith("running_o") for k in s0), sorted(s0)
    for k in s0:
        assert s0[k] == s1[k], f"{k}: rank 0 {s0[k]} != rank 1 {s1[k]}"
    # the statistics are real (trained, non-zero), and the exponents are those of the running values
    assert all(v > 0 for k in running if k.rsplit(".", 1)[-1] in ("running_x", "running_o") for v in s0[k])
    for k in running:
        if k.endswith(("running_x", "running_o")):
            scale = s0[k[:-len("running_x")] + "scale_" + k[-1]]
            assert scale == [2.0 ** linger.exponent_for_range(s0[k][0], 8)], k


def test_synced_ranks_export_identical_bytes(run):
    a, b = _read(run, "sync_rank0.onnx"), _read(run, "sync_rank1.onnx")
    assert len(a) > 1000
    assert a == b


def test_without_sync_ranks_differ(run):
    s0, s1 = _stats(run, "nosync_rank0.json"), _stats(run, "nosync_rank1.json")
    differing = [k for k in s0 if s0[k] != s1[k] and "scale_" in k]
    assert differing, "the ranks' exponents should differ without the sync (rank 1's images are twice as large)"
    assert _read(run, "nosync_rank0.onnx") != _read(run, "nosync_rank1.onnx")


def test_first_step_statistics_equal_one_process_on_the_union(run):
    """After one forward: conv1's input statistic is the max over both ranks' batches (exact), its output
    statistic that of the union (same exponent), bn1's running mean/var those of the union (float rounding)."""
    xs = [next(iter(ddp_worker.batches(r)))[0] for r in range(2)]
    model = ddp_worker.make_model()
    model.train()
    with torch.no_grad():
        model(torch.cat(xs))
    ref = ddp_worker.buffers(model)
    for r in range(2):
        first = _stats(run, f"first_rank{r}.json")
        assert first["conv1.running_x"] == [max(float(x.abs().max()) for x in xs)]
        assert first["conv1.running_x"] == ref["conv1.running_x"]
        assert first["conv1.scale_x"] == ref["conv1.scale_x"] and first["conv1.scale_o"] == ref["conv1.scale_o"]
        assert first["conv1.running_o"] == pytest.approx(ref["conv1.running_o"], rel=1e-6)
        assert first["bn1.running_mean"] == pytest.approx(ref["bn1.running_mean"], rel=1e-5, abs=1e-7)
        assert first["bn1.running_var"] == pytest.approx(ref["bn1.running_var"], rel=1e-5)
        assert first["bn1.num_batches_tracked"] == ref["bn1.num_batches_tracked"]


def test_nan_on_one_rank_raises_on_every_rank(run):
    for r in range(2):
        msg = _read(run, f"nan_rank{r}.txt").decode()
        assert "NaN" in msg and "conv1" in msg, f"rank {r}: {msg}"


def test_switch_checks_its_argument():
    with pytest.raises(TypeError, match="SetDistributedStatsSync expects a bool"):
        linger.SetDistributedStatsSync("yes")
    linger.SetDistributedStatsSync(True)
    assert not linger.distributed.active()  # no process group in this process: nothing is reduced
