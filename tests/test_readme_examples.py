"""README.md's Python examples run as written.

Every ```python block of README.md is executed. The blocks of one `## ` section run in order in one
fresh interpreter (a later block may use an earlier one's names, as a reader running the section
would), with this tree first on PYTHONPATH and a temporary working directory. A block is skipped
only when it carries a visible marker line ``# readme-test: skip (<reason>)``, e.g. one that needs
CUDA; the reason is shown in the skip.

The interpreters run with OMP_NUM_THREADS=1 (torch's thread count; the examples' sizes stay as
written): on a shared 2-core machine under load the default count oversubscribes the cores (the
wireless section took 120 s with 2 threads, 8 s with one). All sections take about 30 s in all."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"^\s*#\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)", re.M)
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")


def python_blocks(text):
    """[(section heading, first line number, code)] of the ```python blocks, in order."""
    blocks, section, lang, start, buf = [], "(top)", None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if lang is None:
            if fence:
                lang, start, buf = fence.group("lang"), number, []
            elif line.startswith("## "):
                section = line[3:].strip()
        elif fence and not fence.group("lang"):
            if lang == "python":
                blocks.append((section, start, "\n".join(buf) + "\n"))
            lang = None
        else:
            buf.append(line)
    assert lang is None, f"README.md: unclosed ``` fence opened on line {start}"
    return blocks


def sections():
    grouped = {}
    for section, start, code in python_blocks(README.read_text(encoding="utf-8")):
        grouped.setdefault(section, []).append((start, code))
    return grouped


SECTIONS = sections()


def test_every_python_block_is_collected():
    text = README.read_text(encoding="utf-8")
    opened = len(re.findall(r"^```python\s*$", text, re.M))
    assert opened == sum(len(b) for b in SECTIONS.values()) >= 6
    # no Python example hides behind another fence tag
    assert not re.search(r"^```(py|python3|pycon|ipython)\s*$", text, re.M)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_readme_section_runs(section, tmp_path):
    blocks = SECTIONS[section]
    skipped = [(start, m.group("reason")) for start, code in blocks for m in [SKIP.search(code)] if m]
    code = "".join(f"# README.md line {start}\n{code}" for start, code in blocks
                   if not SKIP.search(code))
    if not code:
        pytest.skip("; ".join(f"README.md line {s}: {r}" for s, r in skipped))
    path = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path),
               MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"{section}: README example failed\n{out.stderr[-4000:]}"
    if skipped:
        pytest.skip("ran the rest; skipped " + "; ".join(f"README.md line {s}: {r}" for s, r in skipped))
