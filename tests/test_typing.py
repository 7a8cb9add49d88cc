"""pyalgo is a typed package: py.typed ships, every public function and method is annotated, the public
functions document Args/Returns/Raises/Example, and mypy understands the README examples and the
overloads (`reveal_type` checks).

Public = `pyalgo.__all__` and, for each library package (`pyalgo.discrete`, `.wireless`, `.energy`,
`.multitask`, `.edge`), the package and every non-underscore module under it: its `__all__` (or its
non-underscore names defined there), with the public methods (and `__init__` / `__call__`) of the public
classes. The lab and the CLI are checked for annotations too.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import pkgutil
import re
import subprocess
import sys
import time
import types
from typing import Any, Callable, Iterator, List, Tuple

import pytest

import pyalgo

ROOT = pathlib.Path(pyalgo.__file__).resolve().parent.parent
LIBRARY = ("pyalgo.discrete", "pyalgo.wireless", "pyalgo.energy", "pyalgo.multitask", "pyalgo.edge")
LAB = ("pyalgo.lab", "pyalgo.cli")

# Owned by other work in progress (issue 15): each entry names the change that removes it.
PENDING_ANNOTATIONS: set[str] = set()  # names whose annotations another change owns (none left)
PENDING_DOCSTRINGS: set[str] = set()   # the same for docstrings (none left)


# ---- the public API ---------------------------------------------------------------------------------

def _modules(packages: Tuple[str, ...]) -> List[types.ModuleType]:
    out = []
    for name in packages:
        module = importlib.import_module(name)
        out.append(module)
        if hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, name + "."):
                if any(part.startswith("_") for part in info.name.split(".")):
                    continue
                out.append(importlib.import_module(info.name))
    return out


def _public_names(module: types.ModuleType) -> List[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [n for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]


def _methods(cls: type) -> Iterator[Tuple[str, Callable[..., Any]]]:
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value) and value.__module__.startswith("pyalgo"):
            yield name, value


def _api(modules: List[types.ModuleType]) -> Iterator[Tuple[str, Any]]:
    """(qualified name, function or class), each once; methods as 'module.Class.method'."""
    seen = set()
    for module in modules:
        for name in _public_names(module):
            value = getattr(module, name)
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if not getattr(value, "__module__", "").startswith("pyalgo"):
                continue
            qual = f"{value.__module__}.{value.__qualname__}"
            if qual in seen:
                continue
            seen.add(qual)
            yield qual, value
            if inspect.isclass(value):
                for method_name, method in _methods(value):
                    yield f"{qual}.{method_name}", method


def _top_level() -> List[Tuple[str, Any]]:
    out = []
    for name in pyalgo.__all__:
        value = getattr(pyalgo, name)
        if inspect.isfunction(value):
            out.append((f"{value.__module__}.{value.__qualname__}", value))
    return out


def _missing_annotations(fn: Callable[..., Any]) -> List[str]:
    sig = inspect.signature(fn)
    missing = []
    for i, p in enumerate(sig.parameters.values()):
        if i == 0 and p.name in ("self", "cls"):
            continue
        if p.annotation is inspect.Parameter.empty:
            missing.append(p.name)
    if sig.return_annotation is inspect.Signature.empty and fn.__name__ != "__init__":
        missing.append("return")
    return missing


def _unannotated(packages: Tuple[str, ...]) -> Tuple[List[str], int]:
    bad, total = [], 0
    for qual, value in _api(_modules(packages)) if packages != ("pyalgo",) else _top_level():
        if inspect.isclass(value):
            continue
        total += 1
        missing = _missing_annotations(value)
        if missing and qual not in PENDING_ANNOTATIONS:
            bad.append(f"{qual}: {', '.join(missing)}")
    return bad, total


@pytest.mark.parametrize("packages", [("pyalgo",), LIBRARY, LAB], ids=["top-level", "library", "lab+cli"])
def test_public_functions_and_methods_are_fully_annotated(packages):
    bad, total = _unannotated(packages)
    assert total > (5 if packages == ("pyalgo",) else 100)   # the walk found the API
    assert not bad, "unannotated parameters / returns:\n" + "\n".join(bad)


def test_the_walk_sees_an_unannotated_function():
    def f(x, y: int):  # noqa: ANN
        return x
    assert _missing_annotations(f) == ["x", "return"]


# ---- docstrings -------------------------------------------------------------------------------------

def _documented_functions() -> List[Tuple[str, Callable[..., Any]]]:
    """The public module-level functions: `pyalgo.__all__` and the library's (methods are only annotated)."""
    out = dict(_top_level())
    for qual, value in _api(_modules(LIBRARY)):
        if inspect.isfunction(value) and qual == f"{value.__module__}.{value.__name__}":
            out[qual] = value
    return sorted(out.items())


def _raises_directly(fn: Callable[..., Any]) -> bool:
    return re.search(r"^\s+raise \w", inspect.getsource(fn), re.M) is not None


def _docstring_problems(qual: str, fn: Callable[..., Any]) -> List[str]:
    doc = inspect.getdoc(fn) or ""
    sig = inspect.signature(fn)
    wanted = ["Example:"]
    if [p for p in sig.parameters if p not in ("self", "cls")]:
        wanted.append("Args:")
    if sig.return_annotation not in (None, "None"):
        wanted.append("Returns:")
    if _raises_directly(fn):
        wanted.append("Raises:")
    problems = [f"{qual}: no {section}" for section in wanted if not re.search(rf"^{section}$", doc, re.M)]
    if "Args:" in wanted and "Args:" in doc:   # every parameter is described
        args = doc.split("Args:", 1)[1].split("\n\n", 1)[0]
        for p in sig.parameters.values():
            name = ("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name
            if p.name not in ("self", "cls") and not re.search(rf"^\s+{re.escape(name)}:", args, re.M):
                problems.append(f"{qual}: Args does not describe {name}")
    return problems


def test_public_functions_have_google_style_docstrings():
    functions = _documented_functions()
    assert len(functions) > 100
    problems = [p for qual, fn in functions if qual not in PENDING_DOCSTRINGS for p in _docstring_problems(qual, fn)]
    assert not problems, "\n".join(problems)


def test_the_docstring_check_sees_a_missing_section():
    def f(x: int) -> int:
        """Doubles.

        Args:
            x: a number.
        """
        if x < 0:
            raise ValueError("x")
        return 2 * x
    assert _docstring_problems("f", f) == ["f: no Example:", "f: no Returns:", "f: no Raises:"]


# ---- py.typed ---------------------------------------------------------------------------------------

def test_py_typed_marker_is_package_data():
    assert (ROOT / "pyalgo" / "py.typed").is_file()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib   # Python >= 3.11
    except ModuleNotFoundError:
        table = re.search(r"^\[tool\.setuptools\.package-data\]\npyalgo = \[(.*?)\]", text, re.M | re.S)
        assert table and '"py.typed"' in table.group(1)
    else:
        assert "py.typed" in tomllib.loads(text)["tool"]["setuptools"]["package-data"]["pyalgo"]


# ---- mypy -------------------------------------------------------------------------------------------

# mypy on these must print exactly these revealed types (the overloads resolve by the flags' values).
REVEAL = '''\
import numpy as np
import torch
import pyalgo
import pyalgo.multitask as mt
import pyalgo.wireless as W
from pyalgo.edge import EdgeConfig, runtime
from pyalgo.edge.agents import make_agent
from pyalgo.energy import minmin_loss
from pyalgo.energy.data import standardize
from pyalgo.wireless.reference import fplinq_ref

x = torch.randn(4, 5)
flag: bool = bool(x.sum() > 0)
reveal_type(pyalgo.reinmax(x))  # R: tuple[torch._tensor.Tensor, torch._tensor.Tensor]
reveal_type(pyalgo.straight_through(x))  # R: torch._tensor.Tensor
reveal_type(pyalgo.gst(x, gap="p"))  # R: torch._tensor.Tensor
reveal_type(pyalgo.gumbel_rao(x, k=10))  # R: torch._tensor.Tensor
reveal_type(pyalgo.philox_uniform(torch.zeros(2, dtype=torch.int64), 2, 3))  # R: torch._tensor.Tensor
H = W.rayleigh(8, 3)
reveal_type(H)  # R: torch._tensor.Tensor
reveal_type(W.wmmse(H))  # R: torch._tensor.Tensor
reveal_type(W.wmmse(H, max_iter=5, return_state=False))  # R: torch._tensor.Tensor
reveal_type(W.wmmse(H, return_state=True))  # R: tuple[torch._tensor.Tensor, torch._tensor.Tensor | None, torch._tensor.Tensor | None, torch._tensor.Tensor, torch._tensor.Tensor | None, torch._tensor.Tensor | None, fallback=pyalgo.wireless.ops.WMMSEResult]
reveal_type(W.wmmse(H, return_trajectory=True).trajectory)  # R: torch._tensor.Tensor | None
reveal_type(W.wmmse(H, return_state=True, return_trajectory=True).p)  # R: torch._tensor.Tensor
reveal_type(W.wmmse(H, return_state=flag))  # R: torch._tensor.Tensor | tuple[torch._tensor.Tensor, torch._tensor.Tensor | None, torch._tensor.Tensor | None, torch._tensor.Tensor, torch._tensor.Tensor | None, torch._tensor.Tensor | None, fallback=pyalgo.wireless.ops.WMMSEResult]
Hm = W.rayleigh_miso(8, 2, 3)
reveal_type(W.wmmse_miso(Hm))  # R: torch._tensor.Tensor
reveal_type(W.wmmse_miso(Hm, return_trajectory=True).V)  # R: torch._tensor.Tensor
reveal_type(W.d2d(2, 3).adjacency)  # R: torch._tensor.Tensor
reveal_type(fplinq_ref(H))  # R: torch._tensor.Tensor
reveal_type(fplinq_ref(H, return_iterates=True))  # R: tuple[torch._tensor.Tensor, torch._tensor.Tensor]
reveal_type(W.MLPStudent(3).forward(H))  # R: torch._tensor.Tensor
reveal_type(W.MLPStudent(3).forward(H, return_aux=True).state)  # R: torch._tensor.Tensor | None
reveal_type(W.GNNStudent().forward(H, None, None, True).p)  # R: torch._tensor.Tensor
reveal_type(minmin_loss(x, x[:, 0], x > 0, 8, kind="sparsemax"))  # R: torch._tensor.Tensor
reveal_type(mt.create("go4align", 3).get_weighted_loss(x[0, :3]))  # R: tuple[torch._tensor.Tensor, dict[str, Any]]
reveal_type(mt.delta_m([1.0], [2.0], True))  # R: float | numpy.ndarray
reveal_type(mt.kmeans_1d([0.1, 0.2, 3.0], 2))  # R: torch._tensor.Tensor
reveal_type(standardize(np.zeros((3, 2)), np.ones((1, 2))))  # R: tuple[numpy.ndarray, ...]
reveal_type(standardize(x, x))  # R: tuple[torch._tensor.Tensor, ...]
cfg = EdgeConfig.preset("small")
reveal_type(runtime(3.0, cfg.runtime_coefs))  # R: float
reveal_type(cfg.runtime(np.arange(3)))  # R: numpy.ndarray
reveal_type(make_agent("dqn", cfg))  # R: pyalgo.edge.agents.DQNAgent
reveal_type(make_agent("adsac", cfg))  # R: pyalgo.edge.agents.SACAgent
'''

# ... and must reject each of these lines (the package is typed, not Any).
REJECT = '''\
import torch
import pyalgo
import pyalgo.wireless as W
from pyalgo.energy import minmin_loss

x = torch.randn(4, 5)
pyalgo.gst(x, gap="q")  # E
pyalgo.reinmax(x).shape  # E
W.wmmse(W.rayleigh(2, 3)).iterations  # E
minmin_loss(x, x[:, 0], x, 8, kind="softmax")  # E
pyalgo.wireless.rayleigh(2, 3, device=0.5)  # E
pyalgo.multitask.create("ls", n_tasks="3")  # E
'''


def _readme_blocks() -> List[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


# Names the README leaves to the reader ("your model"), declared for mypy when a block uses them undefined.
README_PLACEHOLDERS = {
    "decoder": "decoder: Callable[[torch.Tensor], torch.Tensor]",
    "kl": "kl: Callable[[torch.Tensor], torch.Tensor]",
}


def _as_module(block: str) -> str:
    """A README block as a module: `torch` and `pyalgo` imported (a block may continue the one before) and
    the placeholders it uses declared, all on the first line so that line numbers shift by one."""
    declared = [decl for name, decl in README_PLACEHOLDERS.items()
                if re.search(rf"\b{name}\(", block) and not re.search(rf"^{name}\s*=|def {name}\b", block, re.M)]
    prelude = "from typing import Callable; import torch; import pyalgo; " + "; ".join(declared)
    return prelude.rstrip("; ") + "\n" + block


def _mypy(tmp_path: pathlib.Path, files: List[pathlib.Path]) -> Tuple[int, str, float]:
    # pyalgo found on PYTHONPATH is an installed package to mypy (PEP 561): typed only through pyalgo/py.typed
    # (without the marker every pyalgo name is Any and the REJECT lines pass). MYPYPATH would bypass the marker.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MYPYPATH", None)
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--python-version", "3.10",
           "--cache-dir", str(tmp_path / "mypy-cache"), "--no-color-output", "--show-error-codes",
           "--hide-error-context", *map(str, files)]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    return out.returncode, out.stdout + out.stderr, time.perf_counter() - start


def test_mypy_readme_examples_and_revealed_types(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]' installs it)")
    blocks = _readme_blocks()
    assert len(blocks) >= 6
    files = []
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme_block_{i}.py"
        path.write_text(_as_module(block), encoding="utf-8")
        files.append(path)
    reveal = tmp_path / "reveal_checks.py"
    reveal.write_text(REVEAL, encoding="utf-8")
    reject = tmp_path / "reject_checks.py"
    reject.write_text(REJECT, encoding="utf-8")
    code, output, seconds = _mypy(tmp_path, [*files, reveal, reject])
    print(f"mypy: {seconds:.1f} s")
    lines = output.splitlines()

    # the README examples: no error at all
    assert not [l for l in lines if "import-untyped" in l or "import-not-found" in l], output
    readme_errors = [l for l in lines if l.startswith("readme_block_") and ": error:" in l]
    assert not readme_errors, "\n".join(readme_errors)

    # the revealed types, line by line
    revealed = {}
    for line in lines:
        m = re.match(r'reveal_checks\.py:(\d+): note: Revealed type is "(.*)"$', line)
        if m:   # numpy's array type parameters and mypy's "builtins." prefix vary between versions
            text = re.sub(r"numpy\.ndarray\[(?:[^\[\]]|\[[^\[\]]*\])*\]", "numpy.ndarray", m.group(2))
            revealed[int(m.group(1))] = text.replace("builtins.", "")
    expected = {i + 1: line.split("# R: ", 1)[1] for i, line in enumerate(REVEAL.splitlines()) if "# R: " in line}
    wrong = [f"line {n}: {REVEAL.splitlines()[n - 1].split('  #')[0]}\n    expected {t}\n    got      "
             f"{revealed.get(n)}" for n, t in expected.items() if revealed.get(n) != t]
    assert not wrong, "\n".join(wrong)
    reveal_errors = [l for l in lines if l.startswith("reveal_checks.py") and ": error:" in l]
    assert not reveal_errors, "\n".join(reveal_errors)

    # the rejected lines: each one an error, nothing else
    must_fail = {i + 1 for i, line in enumerate(REJECT.splitlines()) if line.endswith("# E")}
    failed = {int(m.group(1)) for m in (re.match(r"reject_checks\.py:(\d+): error:", l) for l in lines) if m}
    assert failed == must_fail, output
    assert code == 1   # errors only where expected
