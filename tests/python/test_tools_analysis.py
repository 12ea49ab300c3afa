"""linger.tools.wb_analyse and linger.tools.layer_report, from Python and from the command line."""
import os
import subprocess
import sys

import pytest
import torch

from linger.tools.layer_report import demo_models, layer_report
from linger.tools.wb_analyse import wb_analyse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(args, cwd):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m"] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def test_wb_analyse_statistics_by_hand_and_outlier_warning(tmp_path):
    w = torch.arange(1.0, 101.0)                       # |v| = 1..100
    spike = torch.ones(200)
    spike[0] = 50.0                                    # one value 50x the rest
    sd = {"a.weight": -w, "a.running_x": torch.tensor([9e9]), "b.scale_o": torch.tensor([64.0]),
          "b.weight": spike, "b.num_batches_tracked": torch.tensor(3)}
    with pytest.warns(RuntimeWarning, match=r"outliers .* in b\.weight \(50\.0x\)"):
        rows = wb_analyse(sd, str(tmp_path / "wb.log"))
    assert [r["name"] for r in rows] == ["a.weight", "b.weight"]
    a = rows[0]
    assert a["mean"] == pytest.approx(50.5) and a["max"] == 100.0
    assert a["dynamic_099"] == 99.0 and a["versu"] == pytest.approx(100 / 99)   # element int(0.99*100)-1
    assert a["multiple"] == pytest.approx(100 / 50.5)
    log = (tmp_path / "wb.log").read_text().splitlines()
    assert log[0].startswith("Layer | Mean") and log[-1].startswith("!!!") and log[-2].startswith("b.weight")


def test_wb_analyse_cli_on_a_checkpoint(tmp_path):
    torch.save({"fc.weight": torch.randn(8, 8), "fc.bias": torch.randn(8)}, tmp_path / "ck.pt")
    out = _cli(["linger.tools.wb_analyse", "ck.pt", "--log", "wb.log"], tmp_path)
    assert "fc.weight" in out and "fc.bias" in out
    assert (tmp_path / "wb.log").read_text().count("\n") == 3


def test_layer_report_finds_the_saturating_layer_first(tmp_path):
    fm, qm, batches = demo_models(steps=3)
    base = layer_report(fm, qm, batches)
    assert {r["layer"] for r in base} == {"conv1", "bn1", "conv2", "bn2", "fc"}
    assert [r["sqnr_db"] for r in base] == sorted(r["sqnr_db"] for r in base)
    assert all(r["sqnr_db"] > 10 for r in base)
    was = qm.training
    with torch.no_grad():
        qm.conv2.running_o.mul_(1 / 16)                # a range 16x too small: conv2 saturates
    rows = layer_report(fm, qm, batches, out_dir=str(tmp_path / "rep"))
    assert qm.training == was
    conv2 = next(r for r in rows if r["layer"] == "conv2")
    assert conv2["saturation"] > 0.3 and max(r["saturation"] for r in rows) == conv2["saturation"]
    assert conv2["exponent"] == next(r for r in base if r["layer"] == "conv2")["exponent"] + 4
    in_order = sorted(rows, key=lambda r: r["order"])
    assert [r["layer"] for r in in_order] == ["conv1", "bn1", "conv2", "bn2", "fc"]
    assert next(r for r in in_order if r["sqnr_db"] < 10)["layer"] == "conv2"   # the culprit: first drop
    assert [r["sqnr_db"] for r in rows] == sorted(r["sqnr_db"] for r in rows)
    files = sorted(os.listdir(tmp_path / "rep"))
    assert files == ["layer_report.txt", "layer_report_saturation.png", "layer_report_sqnr.png"]
    assert (tmp_path / "rep" / "layer_report_sqnr.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "rep" / "layer_report.txt").read_text().splitlines()[2].startswith(rows[0]["layer"])


def test_layer_report_cli_demo(tmp_path):
    pytest.importorskip("matplotlib")
    out = _cli(["linger.tools.layer_report", "--demo", "--out", "rep"], tmp_path)
    assert "SQNR dB" in out and "conv1" in out
    assert (tmp_path / "rep" / "layer_report_sqnr.png").exists()


def test_dumper_writes_float_and_integer_tensors_and_clears_its_hooks(tmp_path):
    import numpy as np
    import linger
    _, qm, batches = demo_models(steps=2)
    x = batches[0][:1]
    with pytest.raises(RuntimeError, match=r"training mode; call model.eval\(\)"):
        linger.Dumper().enable_dump_quanted(qm, str(tmp_path / "d0"))
    qm.eval()
    with torch.no_grad():
        y = qm(x)
        with linger.Dumper() as d:
            d.enable_dump_quanted(qm, str(tmp_path / "d"), match_pattern="conv|fc")
            d.enable_dump_model(qm, str(tmp_path / "d"))
            d.analyse_layer_output(qm)
            assert torch.equal(qm(x), y)  # dumping changes nothing
            d.save_out_analyse_log(str(tmp_path / "a.log"))
        hooks = sum(len(m._forward_hooks) for m in qm.modules())
        qm(x)
    assert sum(len(m._forward_hooks) for m in qm.modules()) == hooks
    files = set(os.listdir(tmp_path / "d"))
    assert {"fc.LinearInt.output_int", "conv1.Conv2dInt.input", "fc_output_float", "relu_input_float"} <= files
    assert not any(f.startswith("bn1.") for f in files)          # match_pattern
    out = np.loadtxt(tmp_path / "d" / "fc.LinearInt.output")
    codes = np.loadtxt(tmp_path / "d" / "fc.LinearInt.output_int")
    assert np.allclose(out, y.detach().as_subclass(torch.Tensor).flatten().numpy(), atol=1e-6)
    assert np.array_equal(codes, out * 2.0 ** y.exponent) and np.abs(codes).max() <= 128
    log = (tmp_path / "a.log").read_text().splitlines()
    assert log[0].startswith("Layer") and [line.split(" | ")[0] for line in log[1:6]] == \
        ["conv1", "bn1", "relu", "pool", "conv2"]


def test_dumper_cli_demo(tmp_path):
    out = _cli(["linger.tools.dumper", "--demo", "--out", "dump"], tmp_path)
    assert "files written" in out
    assert (tmp_path / "dump" / "conv1.Conv2dInt.output_int").exists()
    assert (tmp_path / "dump" / "Analyse_layer_output.log").exists()
    assert (tmp_path / "dump" / "runtime" / "conv1.Conv2dInt.output_int").read_text() == \
        (tmp_path / "dump" / "conv1.Conv2dInt.output_int").read_text()


def test_dump_runtime_matches_the_pytorch_dump_file_by_file(tmp_path):
    import linger
    from linger.tools.dumper import dump_runtime
    _, qm, batches = demo_models(steps=2)
    x = batches[0][:1]
    qm.eval()
    linger.onnx.export(qm, (x,), str(tmp_path / "m.onnx"))
    with torch.no_grad(), linger.Dumper() as d:
        d.enable_dump_quanted(qm, str(tmp_path / "torch"))
        qm(x)
    files = dump_runtime(qm, str(tmp_path / "m.onnx"), x, str(tmp_path / "rt"))
    names = sorted(os.path.basename(f) for f in files)
    assert names == sorted(f for f in os.listdir(tmp_path / "torch") if f.endswith(".output_int"))
    assert "fc.LinearInt.output_int" in names and len(names) == 5
    for n in names:
        assert (tmp_path / "rt" / n).read_text() == (tmp_path / "torch" / n).read_text(), n


def test_compare_cli_demo(tmp_path):
    out = _cli(["linger.tools.compare", "--demo"], tmp_path)
    assert out.strip().splitlines()[-1] == "bit-exact: 5 quantized ops and all outputs equal"


def test_tools_cli_on_a_user_model_and_checkpoints(tmp_path):
    import numpy as np
    import linger
    (tmp_path / "nets.py").write_text(
        "import torch.nn as nn\n"
        "def make_net():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import nets
        torch.manual_seed(0)
        fm = nets.make_net()
        torch.save(fm.state_dict(), tmp_path / "f.pt")
        qm = linger.init(nets.make_net())
        qm.load_state_dict(fm.state_dict())
        for _ in range(3):
            qm(torch.randn(8, 1, 6, 6)).sum().backward()
        torch.save(qm.state_dict(), tmp_path / "q.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nets", None)
    np.save(tmp_path / "x.npy", np.random.RandomState(0).randn(2, 1, 6, 6).astype(np.float32))
    common = ["--model", "nets:make_net", "--qat-checkpoint", "q.pt", "--input", "x.npy"]
    out = _cli(["linger.tools.layer_report"] + common + ["--float-checkpoint", "f.pt", "--out", "rep"], tmp_path)
    rows = (tmp_path / "rep" / "layer_report.txt").read_text().splitlines()[2:]
    assert sorted(r.split()[0] for r in rows) == ["0", "3"] and "written to rep/" in out
    out = _cli(["linger.tools.compare"] + common, tmp_path)
    assert "bit-exact: 2 quantized ops" in out
    out = _cli(["linger.tools.dumper"] + common + ["--out", "d"], tmp_path)
    assert (tmp_path / "d" / "3.LinearInt.output_int").read_text() == \
        (tmp_path / "d" / "runtime" / "3.LinearInt.output_int").read_text()
