"""Smoke test of the GO4Align reproduction (pyalgo.multitask.reproduce) at a tiny size, and the
independence of its results from the number of worker processes."""
import json
import math

import numpy as np
import pytest

from pyalgo.multitask import reproduce as rp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("multitask_reproduce")
    return out, rp.run(quick=True, out_dir=str(out), settings=rp.Settings.tiny(), progress=False)


def test_files_and_tables(tiny_run):
    out, res = tiny_run
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json", "toy_trajectories.png"]
    assert (out / "toy_trajectories.png").read_bytes()[:8] == PNG
    md = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## 1. Summary", "## 2. Toy (B1)", "## 3. B2 synthetic grouped regression", "## 4. B3 digits",
                    "## 5. Hyper-parameters"):
        assert heading in md
    for label in rp.LABELS.values():
        assert f"| {label} |" in md
    assert "-6.08" in md and "| STL |" in md and "Scale invariance" in md
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf", "nan ± nan") for c in cells), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data["benchmarks"]) == {"regression", "digits"}
    assert set(data["toy"]) == {f"{m}@0.1" for m in rp.METHOD_ORDER} | {"ls@1", "go4align@1"}


def test_numbers_sane(tiny_run):
    _, res = tiny_run
    for name, bench in res["benchmarks"].items():
        assert set(bench["methods"]) == set(rp.METHOD_ORDER)
        for method, row in bench["methods"].items():
            assert len(row["delta_m_per_seed"]) == len(rp.Settings.tiny().seeds)
            assert math.isfinite(row["delta_m"]) and row["delta_m_std"] >= 0 and row["ms_per_step"] > 0, (name, method)
            assert row["delta_m"] == pytest.approx(np.mean(row["delta_m_per_seed"]))
    for key, toy in res["toy"].items():
        assert np.asarray(toy["trajectory"]).shape[:2] == (5, 1 + rp.Settings.tiny().toy_steps // 25)
        assert len(toy["delta_m_per_init"]) == 5 and all(d > 0 for d in toy["delta_m_per_init"]), key
    assert res["hparams"]["regression"] == rp.HPARAMS["regression"] and res["selection"] is None


def test_results_do_not_depend_on_the_number_of_processes():
    jobs = {("mtl", seed): ("mtl", ("regression", seed, 20, False, "go4align", dict(num_groups=3, beta=1e-3, eps=1e-8)))
            for seed in (0, 1)}
    jobs[("toy",)] = ("toy", ("pcgrad", 0.1, 20, 5e-3, {}))
    serial = rp._run_jobs(jobs, workers=1, progress=False, desc="")
    parallel = rp._run_jobs(jobs, workers=2, progress=False, desc="")
    for key in jobs:
        a, b = serial[key], parallel[key]
        if "metrics" in a:
            assert a["metrics"] == b["metrics"] and a["final_weights"] == b["final_weights"]
        else:
            assert a["final"] == b["final"] and a["trajectory"] == b["trajectory"]
