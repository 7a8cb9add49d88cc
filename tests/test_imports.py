"""The library needs torch and numpy only: importing pyalgo or any of its method packages loads none
of the lab's dependencies (beyond what `import torch` loads itself), and the library never imports
the lab."""
import ast
import pathlib
import subprocess
import sys

import pytest

import pyalgo

LAB_ONLY = ("gymnasium", "matplotlib", "sklearn", "tqdm")
LIBRARY = ("pyalgo", "pyalgo.discrete", "pyalgo.wireless", "pyalgo.energy", "pyalgo.multitask", "pyalgo.edge")
PACKAGE = pathlib.Path(pyalgo.__file__).parent


@pytest.mark.parametrize("module", LIBRARY)
def test_library_imports_no_lab_dependency(module):
    # torch itself imports tqdm (torch.hub) when it is installed: count what pyalgo adds to torch's own.
    code = (f"import sys, torch, numpy\nbefore = set(sys.modules)\nimport {module}\n"
            f"print(sorted(m for m in {LAB_ONLY!r} if m in set(sys.modules) - before), 'pyalgo.lab' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"], out.stdout


def test_library_source_never_imports_the_lab():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if "lab" in rel.parts or str(rel) in ("cli.py", "__init__.py"):  # the front doors load the lab on demand
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] if node.level == 0 else [f"{'.' * node.level}{base}"]
                names += [f"{base}.{a.name}" for a in node.names]
            for name in names:
                assert "lab" not in name.replace("..", ".").split("."), f"{path}: imports {name}"
