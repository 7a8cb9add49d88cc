"""The discrete-estimator benchmark (pyalgo.lab.discrete.bench) on the harness's runner at a small shape:
every provider is checked before timing (one-hot rows, finite gradients, ReinMax against the reinmax
package, ST against OneHotCategoricalStraightThrough), and the run writes sane CSV rows (one schema,
appended) and a Markdown report with the targets (timings are reported, never asserted)."""
import dataclasses
import types

import pytest
import torch

from pyalgo.lab.discrete import bench as E
from pyalgo.lab.harness import bench as B

pytest.importorskip("reinmax")

SMALL = (64, 10)


def _module(cases=None):
    cases = cases or [dataclasses.replace(c, shapes=[SMALL]) for c in E.CASES]
    return types.SimpleNamespace(TITLE=E.TITLE, CASES=cases, TARGETS=E.TARGETS, NOTES=E.NOTES)


def _options(**kw):
    return B.Options(threads=[1], min_run_time=0.01, compile=False, log=lambda s: None, **kw)


def test_tiny_run_writes_csv_and_markdown(tmp_path):
    assert B.main("discrete", _module(), _options(), tmp_path, "pyalgo bench discrete") == 0  # 1 = a check failed
    with open(tmp_path / "discrete.csv", newline="") as f:
        assert f.readline().strip().split(",") == B.COLUMNS
    rows = B.read_csv(tmp_path / "discrete.csv")
    expected = {(c.name, p.name, m) for c in E.CASES for p in c.providers for m in c.modes}
    assert {(r["case"], r["provider"], r["mode"]) for r in rows} == expected and len(rows) == len(expected)
    for mode in B.MODES:
        assert ("reinmax", "pyalgo", mode) in expected and ("reinmax", E.PACKAGE, mode) in expected
    assert ("gumbel_softmax", "F.gumbel_softmax(hard=True)", "forward+backward") in expected
    assert ("st", E.ONE_HOT_ST, "forward+backward") in expected
    assert {p for c, p, _ in expected if c == "reinmax_bandwidth"} == {"pyalgo", "pyalgo backward", E.COPY}
    for r in rows:
        assert r["status"] == "ok", r
        assert r["shape"] == "64x10" and r["dtype"] == "float32" and r["device"] == "cpu" and r["threads"] == "1"
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert float(r["ratio"]) > 0 and r["git_sha"] and r["machine"] and r["torch"] and r["pyalgo"]
        if r["provider"] == "pyalgo":
            assert float(r["ratio"]) == 1.0
        if r["case"] == "reinmax_bandwidth" and r["provider"] == "pyalgo":
            assert r["extra"].startswith("gb_per_s=")
    text = (tmp_path / "discrete.md").read_text()
    assert "## Targets" in text and "pyalgo ms" in text and "## reinmax_bandwidth" in text
    assert text.count("| not measured |") == len(E.TARGETS)     # the targets' shapes were not run


def test_appends_to_existing_csv(tmp_path):
    module = _module([dataclasses.replace(E.CASES[0], shapes=[SMALL])])
    B.main("discrete", module, _options(), tmp_path, "x")
    first = (tmp_path / "discrete.csv").read_text().splitlines()
    B.main("discrete", module, _options(), tmp_path, "x")
    second = (tmp_path / "discrete.csv").read_text().splitlines()
    assert second[0] == first[0] and len(second) == 2 * len(first) - 1


@pytest.mark.parametrize("provider,problem", [
    (lambda x: x.softmax(-1), "pyalgo: rows are not one-hot"),
    (lambda x: torch.nn.functional.one_hot(x.argmax(-1), x.shape[-1]).to(x) + 0 * x, "pyalgo: gradient is all zero"),
])
def test_failed_check_returns_1(tmp_path, provider, problem):
    st = next(c for c in E.CASES if c.name == "st")
    case = dataclasses.replace(st, shapes=[SMALL], providers=[B.Provider("pyalgo", provider), *st.providers[1:]])
    assert B.main("discrete", _module([case]), _options(), tmp_path, "x") == 1
    status = {r["provider"]: r["status"] for r in B.read_csv(tmp_path / "discrete.csv")}
    assert status["pyalgo"].startswith("CHECK FAILED") and status["reference"] == "ok"
    assert problem in (tmp_path / "discrete.md").read_text()


def test_reinmax_check_catches_a_wrong_backward(tmp_path, monkeypatch):
    monkeypatch.setattr(E, "ReinMax_Auto", types.SimpleNamespace(backward=lambda ctx, g, g_soft: (g, None)))
    reinmax = next(c for c in E.CASES if c.name == "reinmax")
    case = dataclasses.replace(reinmax, shapes=[SMALL], providers=reinmax.providers[:1])
    assert B.main("discrete", _module([case]), _options(), tmp_path, "x") == 1
    assert "differs from the reinmax package's" in (tmp_path / "discrete.md").read_text()


def test_cli_runs_one_case(tmp_path):
    from pyalgo.cli import main

    assert main(["bench", "discrete", "--preset", "tiny", "--case", "st", "--threads", "1", "--quiet",
                 "--out", str(tmp_path)]) == 0
    rows = B.read_csv(tmp_path / "discrete.csv")
    assert {r["provider"] for r in rows} == {"pyalgo", "reference", E.ONE_HOT_ST}
    assert {r["shape"] for r in rows} == {"3000x10"} and all(r["status"] == "ok" for r in rows)
