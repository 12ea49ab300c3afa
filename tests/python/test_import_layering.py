"""Import layering: the IQTensor core and the module context depend on (almost) nothing in linger, the training
path does not import the ONNX writer, and there is no import cycle between linger.iqtensor, linger.context and
linger.nn.*. Checked statically with `ast` (module-level and function-level imports), and one training step in a
fresh interpreter.

Note: linger/__init__.py imports linger.onnx eagerly (`from . import onnx, tools`), so `import linger.nn.iqops`
does put linger.onnx.export in sys.modules; the properties checked are the narrower ones (no module-level onnx
import in the training-path modules, lazy ones only on export paths, no new onnx module loaded by training)."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "python", "linger")


def _modname(path):
    rel = os.path.relpath(path, os.path.join(ROOT, "python"))[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _resolve(mod, node):
    """Absolute module names an ImportFrom / Import node brings in (linger.* only)."""
    out = []
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "linger" or a.name.startswith("linger.")]
    is_pkg = False
    base = mod.split(".")
    if node.level:
        path = os.path.join(ROOT, "python", *base)
        is_pkg = os.path.isdir(path)
        parts = base if is_pkg else base[:-1]
        parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
        target = ".".join(parts + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not (target == "linger" or target.startswith("linger.")):
        return out
    out.append(target)
    for a in node.names:  # `from . import onnx` imports the submodule linger.onnx
        sub = f"{target}.{a.name}"
        if os.path.exists(os.path.join(ROOT, "python", *sub.split("."))) or \
                os.path.exists(os.path.join(ROOT, "python", *sub.split(".")) + ".py"):
            out.append(sub)
    return out


def _imports(path):
    """(module-level linger imports, [(function-level linger import, enclosing If tests' source, function)])."""
    mod = _modname(path)
    src = open(path).read()
    tree = ast.parse(src)
    top, nested = [], []

    def early_exit(stmt):
        """`if <...not exporting()...>: return ...` (no else): what follows runs only while exporting."""
        return (isinstance(stmt, ast.If) and not stmt.orelse and stmt.body
                and isinstance(stmt.body[-1], (ast.Return, ast.Raise))
                and "not exporting()" in ast.get_source_segment(src, stmt.test))

    def walk(node, func, guards):
        guards = list(guards)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                names = _resolve(mod, child)
                if func:
                    nested.extend((n, tuple(guards), func) for n in names)
                else:
                    top.extend(names)
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            g = guards + [ast.get_source_segment(src, child.test)] if isinstance(child, ast.If) else guards
            walk(child, f, g)
            if func and early_exit(child):
                guards.append("early return unless " + ast.get_source_segment(src, child.test))

    walk(tree, None, [])
    return top, nested


# helpers that run only while exporting (called from an `if exporting():` branch or as a symbolic)
EXPORT_ONLY_FUNCS = {"_symbolic", "symbolic", "_dequant_args"}


def _export_only(guards, func):
    """A lazy onnx import is allowed inside an `if exporting()` branch or an export-only helper."""
    return any("export" in g for g in guards) or func in EXPORT_ONLY_FUNCS


def _py(*parts):
    return os.path.join(PKG, *parts)


def test_iqtensor_imports_only_tracing_at_module_level_and_onnx_only_for_export():
    top, nested = _imports(_py("iqtensor.py"))
    assert set(top) <= {"linger._tracing"}, top
    for name, guards, func in nested:
        assert name in ("linger.onnx.functions", "linger.onnx", "linger._tracing"), name
        if name.startswith("linger.onnx"):
            assert _export_only(guards, func), (name, guards, func)


def test_context_imports_nothing_from_linger_at_module_level():
    top, nested = _imports(_py("context.py"))
    assert top == [], top
    for name, guards, func in nested:
        assert name.startswith("linger.onnx"), name
        assert _export_only(guards, func), (name, guards, func)


TRAINING_PATH = [os.path.join("nn", f) for f in sorted(os.listdir(_py("nn"))) if f.endswith(".py")] + \
    ["quant.py", "iqfunctions.py", "_dispatch.py", "iqtensor.py", "context.py", "_tracing.py", "ops_table.py"]


@pytest.mark.parametrize("rel", TRAINING_PATH)
def test_training_path_has_no_module_level_onnx_import_and_guards_the_lazy_ones(rel):
    top, nested = _imports(_py(rel))
    assert not [n for n in top if n == "linger.onnx" or n.startswith("linger.onnx.")], (rel, top)
    for name, guards, func in nested:
        if name.startswith("linger.onnx"):
            assert _export_only(guards, func), (rel, name, guards, func)


def _module_graph():
    graph = {}
    for d, _, files in os.walk(PKG):
        if "_lib" in d:
            continue
        for f in files:
            if f.endswith(".py"):
                p = os.path.join(d, f)
                graph[_modname(p)] = set(_imports(p)[0])
    return graph


def test_no_module_level_import_cycle_through_iqtensor_context_or_nn():
    """Cycles through the package __init__ files are ignored (importing a submodule runs its parents first);
    between the modules themselves there is none that involves iqtensor, context or nn.*."""
    graph = _module_graph()
    mods = {m for m in graph if not os.path.basename(m).endswith("__init__") and m not in ("linger", "linger.nn",
                                                                                            "linger.onnx")}
    pkgs = {m for m in graph if os.path.isdir(os.path.join(ROOT, "python", *m.split(".")))}
    edges = {m: {t for t in graph[m] if t in graph and t not in pkgs} for m in graph if m not in pkgs}

    def reach(src):
        seen, stack = set(), [src]
        while stack:
            for t in edges.get(stack.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return seen

    for m in sorted(mods - pkgs):
        if m in ("linger.iqtensor", "linger.context") or m.startswith("linger.nn."):
            assert m not in reach(m), f"import cycle through {m}"


def test_training_step_imports_no_new_onnx_modules():
    """linger/__init__ imports linger.onnx eagerly (`from . import onnx, tools`), so the narrower property is
    checked: a QAT step with every functional op loads no further onnx module (and no torch.onnx exporter state)."""
    code = r"""
import sys
import torch, torch.nn as nn
import linger
before = {m for m in sys.modules if 'onnx' in m}

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
    def forward(self, x):
        a, b = self.a(x), self.b(x)
        c = torch.cat([a, b], 1) * torch.sigmoid(torch.cat([b, a], 1))
        d = torch.tanh(a) / (b.clamp(0.5, 1.0)) + a.sum(3, keepdim=True) + torch.var(b, 2, keepdim=True)
        e = torch.softmax(c, 1).sum() + torch.log_softmax(d, -1).sum()
        f = torch.bmm(a.flatten(2), b.flatten(2).transpose(1, 2))
        return e + f.sum() + linger.channel_shuffle(d, 2).sum()

m = linger.init(M())
for _ in range(2):
    m(torch.randn(2, 3, 5, 5)).as_subclass(torch.Tensor).backward()
m.eval()
with torch.no_grad():
    m(torch.randn(2, 3, 5, 5))
after = {m for m in sys.modules if 'onnx' in m}
print(sorted(after - before))
"""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout
