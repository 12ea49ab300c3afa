"""Seed items G5, G6, Q5, Q11, Q12, Q18, Q25 (shared/reference/seed-faq-en.md): each works, or fails early
with a linger error naming the module, the cause and the fix."""
import copy
import warnings

import onnx
import onnx.numpy_helper
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import linger


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))


def qat(steps: int = 2) -> nn.Module:
    m = net()
    linger.init(m)
    opt = torch.optim.SGD(m.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = F.cross_entropy(m(torch.randn(8, 1, 8, 8)), torch.randint(0, 3, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m


def test_seed_g5_training_forward_under_no_grad_collects_the_same_statistics():
    a = qat()
    b = copy.deepcopy(a)
    x = torch.randn(8, 1, 8, 8) * 3
    with torch.no_grad():
        ya = a(x)
    yb = b(x)
    assert not ya.requires_grad and yb.requires_grad
    assert torch.equal(ya.detach(), yb.detach())
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    assert float(a[0].running_x) != float(qat()[0].running_x)  # the no_grad forward did update the statistic


def test_seed_g6_autocast_and_half_precision_are_refused_with_the_fix():
    m = qat()
    with pytest.raises(RuntimeError, match=r"'0' \(Conv2dInt\) runs under torch.autocast.*remove torch.autocast"):
        with torch.autocast("cpu"):
            m(torch.randn(2, 1, 8, 8))
    for convert, dtype in ((lambda: m.half(), "float16"), (lambda: m.double(), "float64"),
                           (lambda: m.to(torch.bfloat16), "bfloat16")):
        with pytest.raises(TypeError, match=rf"'0' \(Conv2dInt\) to torch.{dtype}.*Keep it float32 \(model.float\(\)"):
            convert()
    m.float()
    assert m(torch.randn(2, 1, 8, 8)).dtype == torch.float32
    m.to("cpu")  # device moves pass


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_seed_q5_nan_or_inf_input_names_the_module_and_cause(bad):
    m = qat()
    x = torch.randn(2, 1, 8, 8)
    x[0, 0, 0, 0] = bad
    with pytest.raises(RuntimeError, match=r"the input of module '0' \(Conv2dInt\) contains NaN/Inf.*learning rate"):
        m(x)


def test_seed_q5_nan_gradient_after_a_quantized_zero_names_the_module():
    m = qat()
    y = m(torch.randn(2, 1, 8, 8))
    with pytest.raises(RuntimeError, match=r"gradient reaching the output of module '3' \(LinearInt\) is NaN/Inf"
                                           r".*sqrt.*epsilon"):
        torch.sqrt(y - y).sum().backward()  # exactly 0 into sqrt: infinite derivative
    y = m(torch.randn(2, 1, 8, 8))
    torch.sqrt(y - y + 1e-6).sum().backward()  # the fix the message gives


def test_seed_q5_nan_parameter_names_the_parameter():
    m = qat()
    with torch.no_grad():
        m[3].weight[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match=r"the weight of module '3' \(LinearInt\) contains NaN/Inf.*earlier backward"):
        m(torch.randn(2, 1, 8, 8))


def test_seed_q5_all_zero_output_warns_once_naming_the_module():
    m = qat()
    with torch.no_grad():
        m[0].weight.zero_()
        m[0].bias.zero_()
    with pytest.warns(RuntimeWarning, match=r"module '0' \(Conv2dInt\) output is all zeros.*sqrt/log/atan2"):
        m(torch.randn(2, 1, 8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(torch.randn(2, 1, 8, 8))  # once per module


def test_seed_q11_backward_in_eval_mode_says_call_model_train():
    m = qat()
    m.eval()
    out = m(torch.randn(4, 1, 8, 8))
    loss = F.cross_entropy(out, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(RuntimeError, match=r"backward\(\) through module '3' \(LinearInt\).*eval mode.*model.train\(\)"):
        loss.backward()
    with torch.no_grad():  # evaluation as usual builds no graph
        assert not m(torch.randn(4, 1, 8, 8)).requires_grad
    m.train()
    F.cross_entropy(m(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 0])).backward()


def _ops(path):
    g = onnx.load(path).graph
    return [(n.domain, n.op_type) for n in g.node if n.op_type != "Constant"]


def test_seed_q12_exported_ops_do_not_depend_on_opset_or_export_entry(tmp_path):
    m = qat()
    m.eval()
    x = torch.randn(1, 1, 8, 8)
    seen = []
    for i, (fn, opset) in enumerate([(linger.onnx.export, 11), (linger.onnx.export, 13),
                                     (torch.onnx.export, 12)]):
        p = str(tmp_path / f"m{i}.onnx")
        extra = linger.onnx.torchscript_kwargs() if fn is torch.onnx.export else {}  # torch 2.x: dynamo=False
        fn(m, (x,), p, opset_version=opset, **extra)
        seen.append(_ops(p))
    assert seen[0] == seen[1] == seen[2]
    assert [op for _, op in seen[0]] == ["Quant", "Conv2dInt", "Relu", "Flatten", "LinearInt", "Dequant"]


def test_seed_q18_frozen_layers_train_without_error():
    m = qat(1)
    for p in m[0].parameters():
        p.requires_grad_(False)
    frozen = m[0].weight.detach().clone()
    head = m[3].weight.detach().clone()
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1e-1)
    for _ in range(2):
        loss = F.cross_entropy(m(torch.randn(8, 1, 8, 8)), torch.randint(0, 3, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(m[0].weight, frozen)
    assert not torch.equal(m[3].weight, head)


def test_seed_q25_forward_only_statistics_on_field_data_show_the_range_gap():
    m = qat(4)
    lab = copy.deepcopy(m)
    weights = {k: v.clone() for k, v in m.state_dict().items() if not k.split(".")[-1].startswith(("running_", "scale_"))}
    with torch.no_grad():
        for _ in range(20):
            m(torch.randn(8, 1, 8, 8) * 8)  # "field" data: 8x the range, forward only, training mode
    for k, v in weights.items():
        assert torch.equal(m.state_dict()[k], v), k  # nothing learned
    assert float(m[0].running_x) > 4 * float(lab[0].running_x)
    assert float(m[0].scale_x) < float(lab[0].scale_x)  # field data need a coarser input scale


@pytest.mark.parametrize("export_type", ["ONNX", "ONNX_ATEN_FALLBACK"])
@pytest.mark.parametrize("opset", [9, 12])
def test_seed_g4_constraint_stage_exports_clip_with_plain_torch_export(tmp_path, export_type, opset):
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 8 * 8, 3))
    linger.trace_layers(m, m, torch.randn(2, 1, 8, 8))
    linger.normalize_layers(m, normalize_weight_value=0.25, normalize_bias_value=2, normalize_output_value=4)
    m.eval()
    p = str(tmp_path / "c.onnx")
    torch.onnx.export(m, (torch.randn(1, 1, 8, 8),), p, **linger.onnx.torchscript_kwargs(), opset_version=opset,
                      operator_export_type=getattr(torch.onnx.OperatorExportTypes, export_type))
    g = onnx.load(p).graph
    ops = [n.op_type for n in g.node if n.op_type != "Constant"]
    assert ops == ["Clip", "Clip", "Conv", "Clip", "Relu", "Flatten", "Clip", "Clip", "Gemm", "Clip"]
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}
    bounds = []
    for n in g.node:
        if n.op_type == "Clip":
            attrs = {a.name: a.f for a in n.attribute}
            bounds.append(float(attrs["max"]) if "max" in attrs else float(consts[n.input[2]]))
    assert bounds == [0.25, 2.0, 4.0, 0.25, 2.0, 4.0]


def test_plain_torch_export_prints_no_shape_inference_warning_for_linger_nodes(tmp_path):
    """Custom-domain nodes carry their output types; torch's 'shape inference ... missing' warning for them is
    moot and not shown (fresh interpreter: no warning registry from earlier tests)."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = (
        "import torch, torch.nn as nn, linger, onnx\n"
        "m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),\n"
        "                  nn.Linear(4 * 8 * 8, 3), nn.Sigmoid())\n"
        "linger.init(m); m(torch.randn(4, 1, 8, 8)); m.eval()\n"
        "torch.onnx.export(m, (torch.randn(1, 1, 8, 8),), 'q.onnx', opset_version=12, **linger.onnx.torchscript_kwargs())\n"
        "g = onnx.load('q.onnx').graph\n"
        "typed = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.output)}\n"
        "custom = [n for n in g.node if n.domain == 'thinker']\n"
        "assert [n.op_type for n in custom] == ['Quant', 'Conv2dInt', 'BatchNorm2dInt', 'LinearInt', 'iqSigmoid',\n"
        "                                      'Dequant'], custom\n"
        "assert all(typed.get(n.output[0], 0) != 0 for n in custom)\n"
        "print('OK')\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "python"), PYTHONWARNINGS="default")
    p = subprocess.run([sys.executable, "-c", src], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stdout + p.stderr
    assert "shape inference of thinker" not in p.stderr, p.stderr
