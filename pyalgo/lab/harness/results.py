"""results.json, the only artefact a reproduction computes, and the Markdown it is rendered into.

The document: `{"experiment", "preset", "config", "environment", "seconds", "results"}`. Reports
and plots are rendered from it alone, so every number a report shows comes from the results (the
papers' published numbers too: `run` copies them in). Re-render a report from the JSON with
`pyalgo render DIR`.
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import torch

RESULTS = "results.json"
REPORT = "report.md"


# -- JSON -------------------------------------------------------------------------------------------

def to_json(x: Any, where: str = "results") -> Any:
    """x as JSON data: dicts (string keys only), lists, str, bool, int, float (NaN/inf kept), None.
    Tuples and numpy/torch arrays become lists."""
    if isinstance(x, Mapping):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r} ({type(k).__name__})")
            out[k] = to_json(v, f"{where}.{k}")
        return out
    if isinstance(x, (list, tuple)):
        return [to_json(v, f"{where}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return to_json(x.tolist(), where)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if x is None or isinstance(x, (str, bool, int, float)):
        return x
    raise TypeError(f"{where}: cannot store a {type(x).__name__} in results.json")


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Writes atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_json(doc), indent=1, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# -- the machine and versions -------------------------------------------------------------------

def git_sha(root: Optional[Path] = None) -> str:
    """Short sha of the checkout the package runs from (+dirty), or "unknown" (e.g. a wheel)."""
    root = root or Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return "unknown"
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()  # noqa: E731
        sha = run("rev-parse", "--short", "HEAD") or "unknown"
        return sha + ("+dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> str:
    """CPU model and the number of CPUs this process may use."""
    from .jobs import available_cpus

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {available_cpus()} cores"


def environment(**extra: Any) -> Dict[str, Any]:
    from ... import __version__

    return {"pyalgo": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "machine": machine(), "git_sha": git_sha(), **extra}


# -- numbers as text --------------------------------------------------------------------------------

def num(x: Optional[float], digits: int = 2) -> str:
    """A number with `digits` decimals; "—" for None."""
    if x is None:
        return "—"
    x = float(x)
    return f"{x:.{digits}f}" if math.isfinite(x) else str(x)


def pm(mean: Optional[float], std: Optional[float], digits: int = 2) -> str:
    """"mean ± std"."""
    if mean is None:
        return "—"
    return f"{num(mean, digits)} ± {num(std, digits)}"


def mean_std(values: Iterable[float]) -> tuple:
    """(mean, sample std) over seeds; std 0 for a single value."""
    a = np.asarray(list(values), dtype=np.float64)
    return float(a.mean()), (float(a.std(ddof=1)) if a.size > 1 else 0.0)


def bold_best(cells: Sequence[str], values: Sequence[Optional[float]], lowest: bool = True) -> List[str]:
    """The cells with the best value (lowest or highest) in bold."""
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not finite:
        return list(cells)
    best = (min if lowest else max)(finite)[1]
    return [f"**{c}**" if i == best else c for i, c in enumerate(cells)]


# -- Markdown -----------------------------------------------------------------------------------

class Markdown:
    """A report under construction: headings, paragraphs, bullet lists, tables."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def h(self, level: int, text: str) -> "Markdown":
        self.lines += ["#" * level + " " + text, ""]
        return self

    def p(self, *parts: str) -> "Markdown":
        """One paragraph from the parts, joined by spaces."""
        self.lines += [" ".join(p for p in parts if p), ""]
        return self

    def note(self, text: str) -> "Markdown":
        self.lines += ["> " + text, ""]
        return self

    def bullets(self, items: Iterable[str]) -> "Markdown":
        self.lines += [f"- {item}" for item in items] + [""]
        return self

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> "Markdown":
        self.lines += [md_table(header, rows), ""]
        return self

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
