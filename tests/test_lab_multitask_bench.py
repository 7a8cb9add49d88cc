"""The multi-task weighting benchmark (pyalgo.lab.multitask.bench) on the harness's runner, on a shrunk
network: every method is checked (one finite step, GO4Align's worked example) and the host ops against
their reference before timing, and the run writes sane CSV rows (one schema) and a Markdown report
with the targets (timings are reported, never asserted)."""
import dataclasses
import types

import torch

from pyalgo.lab.harness import bench as B
from pyalgo.lab.multitask import bench as E

SMALL = {"step": dict(M=3, B=16, h=16), "weights": dict(M=3), "kmeans_1d": dict(M=3, K=2),
         "go4align_weights": dict(M=3, K=2)}


def _module(cases=None):
    cases = cases or [dataclasses.replace(c, shapes=[SMALL[c.name]]) for c in E.CASES]
    return types.SimpleNamespace(TITLE=E.TITLE, CASES=cases, TARGETS=E.targets((3,), batch=16, hidden=16),
                                 NOTES=E.NOTES)


def _options(**kw):
    return B.Options(threads=[1], min_run_time=0.01, log=lambda s: None, **kw)


def test_tiny_run_writes_csv_and_markdown(tmp_path):
    assert B.main("multitask", _module(), _options(), tmp_path, "pyalgo bench multitask") == 0  # 1 = a check failed
    with open(tmp_path / "multitask.csv", newline="") as f:
        assert f.readline().strip().split(",") == B.COLUMNS
    rows = B.read_csv(tmp_path / "multitask.csv")
    expected = {(c.name, p.name, "call") for c in E.CASES for p in c.providers}
    assert {(r["case"], r["provider"], r["mode"]) for r in rows} == expected and len(rows) == len(expected)
    assert {p for c, p, _ in expected if c == "step"} == set(E.STEP_PROVIDERS)
    for r in rows:
        assert r["status"] == "ok", r
        assert r["shape"] == B.shape_str(SMALL[r["case"]]) and r["threads"] == "1" and r["device"] == "cpu"
        assert r["dtype"] == ("float32" if r["case"] in ("step", "weights") else "float64")
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert int(r["runs"]) >= 1 and float(r["ratio"]) > 0
        assert r["git_sha"] and r["machine"] and r["torch"] and r["pyalgo"]
        if r["provider"] == "pyalgo":          # the ratio column is provider time / pyalgo time
            assert float(r["ratio"]) == 1.0
    text = (tmp_path / "multitask.md").read_text()
    assert "## step (pyalgo = GO4Align K=2" in text and "## weights" in text
    for p in E.STEP_PROVIDERS[1:]:
        assert f" {p} |" in text
    assert "<= 1.03x LS" in text and "weighting overhead / LS step" in text
    assert text.count("| PASS |") + text.count("| MISS |") == len(E.targets((3,)))
    assert "scikit-learn KMeans" in text and "reference (Algorithm 1)" in text and "Lloyd (official code)" in text


def test_failed_check_returns_1(tmp_path, monkeypatch):
    losses, K, beta, _ = E.EXAMPLE
    monkeypatch.setattr(E, "EXAMPLE", (losses, K, beta, [0.5, 0.5, 0.5]))    # not GO4Align's weights
    step = next(c for c in E.CASES if c.name == "step")
    case = dataclasses.replace(step, shapes=[SMALL["step"]], providers=step.providers[:2])
    assert B.main("multitask", _module([case]), _options(), tmp_path, "x") == 1
    status = {r["provider"]: r["status"] for r in B.read_csv(tmp_path / "multitask.csv")}
    assert status["ls"] == "ok" and status["pyalgo"].startswith("CHECK FAILED")
    text = (tmp_path / "multitask.md").read_text()
    assert "Check failures" in text and "worked example" in text


def test_kmeans_check_catches_a_worse_clustering(tmp_path):
    kmeans = next(c for c in E.CASES if c.name == "kmeans_1d")
    worse = B.Provider("pyalgo", lambda gamma, K, *_: torch.zeros(len(gamma), dtype=torch.int64).numpy())
    case = dataclasses.replace(kmeans, shapes=[dict(M=11, K=5)], providers=[worse, *kmeans.providers[1:]])
    assert B.main("multitask", _module([case]), _options(), tmp_path, "x") == 1
    assert "differs from the reference" in (tmp_path / "multitask.md").read_text()


def test_cli_runs_one_case(tmp_path):
    from pyalgo.cli import main

    assert main(["bench", "multitask", "--preset", "tiny", "--case", "go4align_weights", "--threads", "1",
                 "--quiet", "--out", str(tmp_path)]) == 0
    rows = B.read_csv(tmp_path / "multitask.csv")
    assert {r["provider"] for r in rows} == {"pyalgo", "reference (Algorithm 1)", "official config (sum, Lloyd)"}
    assert all(r["status"] == "ok" for r in rows)
