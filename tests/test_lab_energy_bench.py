"""The energy benchmark (pyalgo.lab.energy.bench) on the harness's runner: pyalgo is checked against the
reference on the same samples before timing, and the run writes sane CSV rows (one schema), peak
memory, and a Markdown report with the targets (timings are reported, never asserted)."""
import csv
import dataclasses
import types

import pytest
import torch

from pyalgo.lab.energy import bench as E
from pyalgo.lab.harness import bench as B

SMALL = {"unary": dict(B=8, k=5, m=20), "pairwise": dict(B=8, k=5, m=20), "permutahedron": dict(B=4, n=4, m=20),
         "birkhoff": dict(B=4, n=4, m=20), "unary-proposal": dict(B=8, k=5, m=20),
         "permutahedron-proposal": dict(B=4, n=4, m=20), "unary-large-m": dict(B=2, k=5, m=5000)}
PROVIDERS = {c.name: {p.name for p in c.providers} for c in E.CASES}


def _module(cases=None):
    cases = cases or [dataclasses.replace(c, shapes=[SMALL[c.name]]) for c in E.CASES]
    return types.SimpleNamespace(TITLE=E.TITLE, CASES=cases, TARGETS=E.targets(SMALL["unary"]), NOTES=E.NOTES)


def _extra(row, key):
    return float(dict(item.split("=") for item in row["extra"].split(";"))[key])


def test_tiny_run_writes_csv_and_markdown(tmp_path):
    opt = B.Options(threads=[1], min_run_time=0.01, log=lambda s: None)
    assert B.main("energy", _module(), opt, tmp_path, "pyalgo bench energy") == 0   # 1 = a check failed
    with open(tmp_path / "energy.csv", newline="") as f:
        assert next(csv.reader(f)) == B.COLUMNS
    rows = B.read_csv(tmp_path / "energy.csv")
    assert {(r["case"], r["provider"], r["mode"]) for r in rows} == \
        {(c, p, m) for c in SMALL for p in PROVIDERS[c] for m in E.MODES}
    assert PROVIDERS["unary-proposal"] == {"pyalgo", "reference", "uniform"}
    for r in rows:
        assert r["status"] == "ok", r
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert _extra(r, "peak_mb") >= 0 and _extra(r, "per_s") > 0 and r["git_sha"] and r["machine"]
    # the materialised reference holds (B, m, k) samples; the fused op does not
    by = {(r["case"], r["provider"], r["mode"]): _extra(r, "peak_mb") for r in rows}
    assert by[("unary", "torch", "forward+backward")] > by[("unary", "pyalgo", "forward+backward")]
    assert by[("unary-large-m", "reference", "forward+backward")] > by[("unary-large-m", "pyalgo", "forward+backward")]
    text = (tmp_path / "energy.md").read_text()
    for case in SMALL:
        params = "logistic, proposal r, weights q/r" if case in ("unary-proposal", "permutahedron-proposal",
                                                                   "unary-large-m") else "logistic, uniform q"
        assert f"## {case} ({params})" in text
    assert "## Targets" in text and "peak memory vs torch" in text and "vs torch | >= 5x |" in text
    assert text.count("| PASS |") + text.count("| MISS |") == len(E.TARGETS)


def test_check_catches_a_wrong_loss(tmp_path):
    wrong = B.Provider("pyalgo", lambda *args: E._bits_pyalgo(*args) * 1.01)
    case = dataclasses.replace(E.CASES[0], shapes=[SMALL["unary"]], providers=[wrong, *E.CASES[0].providers[1:]])
    opt = B.Options(threads=[1], min_run_time=0.01, modes=["forward"], log=lambda s: None)
    assert B.main("energy", _module([case]), opt, tmp_path, "x") == 1
    assert "differs from the reference on the same samples" in (tmp_path / "energy.md").read_text()


def test_check_catches_a_wrong_proposal_weight(tmp_path):
    """A pyalgo provider whose samples or weights are not the reference's (here: another proposal) fails the
    same-samples check."""
    case = next(c for c in E.CASES if c.name == "unary-proposal")
    wrong = B.Provider("pyalgo", lambda u, U, tau, y, m, a: E._bits_proposal_pyalgo(u, U, tau, y, m, 0.0 * a + 1.0))
    case = dataclasses.replace(case, shapes=[SMALL["unary-proposal"]], providers=[wrong, *case.providers[1:]])
    opt = B.Options(threads=[1], min_run_time=0.01, modes=["forward"], log=lambda s: None)
    assert B.main("energy", _module([case]), opt, tmp_path, "x") == 1
    assert "differs from the reference on the same samples" in (tmp_path / "energy.md").read_text()


def test_cli_runs_one_case(tmp_path):
    from pyalgo.cli import main

    assert main(["bench", "energy", "--preset", "tiny", "--case", "birkhoff", "--mode", "forward+backward",
                 "--quiet", "--out", str(tmp_path)]) == 0
    rows = B.read_csv(tmp_path / "energy.csv")
    assert {r["provider"] for r in rows} == {"pyalgo", "reference", "torch"} and all(r["status"] == "ok" for r in rows)


def test_peak_memory_counts_a_materialised_tensor():
    peak = B.peak_cpu_bytes(lambda: torch.ones(1 << 20).sum())
    assert 4 * (1 << 20) <= peak < 8 * (1 << 20)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_cuda_without_a_device_says_so(tmp_path, capsys):
    from pyalgo.cli import main

    assert main(["bench", "energy", "--device", "cuda", "--out", str(tmp_path)]) == 0
    assert "no CUDA device" in capsys.readouterr().out
