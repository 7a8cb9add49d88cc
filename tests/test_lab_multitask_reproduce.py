"""The GO4Align reproduction (pyalgo.lab.multitask.reproduce) at the tiny preset through the harness:
files, tables, sane numbers, a report rendered from results.json alone, the independence of the
results from the number of worker processes, GO4Align's (K, β) selection, the presets and their
validation."""
import copy
import dataclasses
import json
import math

import numpy as np
import pytest

from pyalgo.lab import harness
from pyalgo.lab.harness.jobs import Runtime
from pyalgo.lab.multitask import protocol as proto
from pyalgo.lab.multitask import reproduce as rp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("multitask_reproduce")
    return out, harness.reproduce("multitask", preset="tiny", out=out, progress=False, workers=1)


def test_files_and_tables(tiny_run):
    out, doc = tiny_run
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json", "toy_trajectories.png"]
    assert (out / "toy_trajectories.png").read_bytes()[:8] == PNG
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith(f"# {rp.TITLE}") and "Preset **tiny**" in md
    for heading in ("## 1. Summary", "## 2. Toy (B1)", "## 3. B2 synthetic grouped regression", "## 4. B3 digits",
                    "## 5. Hyper-parameters"):
        assert heading in md
    for label in proto.LABELS.values():
        assert f"| {label} |" in md
    assert "-6.08" in md and "| STL |" in md and "Scale invariance" in md
    assert "spec" not in md and "run(quick" not in md and "DESIGN.md" not in md
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf", "nan ± nan") for c in cells), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    assert set(data["benchmarks"]) == {"regression", "digits"}
    assert set(data["toy"]) == {f"{m}@0.1" for m in proto.METHOD_ORDER} | {"ls@1", "go4align@1"}
    assert data["protocol"]["paper_nyuv2"] == proto.PAPER_NYUV2


def test_numbers_sane(tiny_run):
    _, doc = tiny_run
    res, cfg = doc["results"], rp.Config.tiny()
    for name, bench in res["benchmarks"].items():
        assert set(bench["methods"]) == set(proto.METHOD_ORDER)
        for method, row in bench["methods"].items():
            assert len(row["delta_m_per_seed"]) == len(cfg.seeds)
            assert math.isfinite(row["delta_m"]) and row["delta_m_std"] >= 0 and row["ms_per_step"] > 0, (name, method)
            assert row["delta_m"] == pytest.approx(np.mean(row["delta_m_per_seed"]))
    for key, toy in res["toy"].items():
        assert np.asarray(toy["trajectory"]).shape[:2] == (5, 1 + cfg.toy_steps // proto.RECORD_EVERY)
        assert len(toy["delta_m_per_init"]) == 5 and all(d > 0 for d in toy["delta_m_per_init"]), key
    assert res["hparams"]["regression"] == proto.HPARAMS["regression"] and res["selection"] is None


def test_report_is_rendered_from_results_only(tiny_run):
    out, _ = tiny_run
    before = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    (out / "toy_trajectories.png").unlink()
    harness.render(out)
    assert (out / "report.md").read_bytes() == before and (out / "toy_trajectories.png").is_file()


def test_results_do_not_depend_on_the_number_of_processes(tmp_path):
    jobs = {f"mtl/{seed}": ("mtl", ("regression", seed, 20, False, "go4align", dict(num_groups=3, beta=1e-3, eps=1e-8)))
            for seed in (0, 1)}
    jobs["toy"] = ("toy", ("pcgrad", 0.1, 20, 5e-3, {}))
    serial = Runtime(out=tmp_path, workers=1, progress=False).map(rp._job, jobs)
    parallel = Runtime(out=tmp_path, workers=2, progress=False).map(rp._job, jobs)
    for key in jobs:
        a, b = serial[key], parallel[key]
        if "metrics" in a:
            assert a["metrics"] == b["metrics"] and a["final_weights"] == b["final_weights"]
        else:
            assert a["final"] == b["final"] and a["trajectory"] == b["trajectory"]


def test_selection_picks_the_least_validation_delta_m(tiny_run, tmp_path):
    cfg = dataclasses.replace(rp.Config.tiny(), regression_steps=10, digits_steps=200, selection_seeds=(100,),
                              selection_betas=(0.0, 1e-3))
    selection = rp.select_go4align(cfg, Runtime(out=tmp_path, workers=1, progress=False))
    for name, sel in selection.items():
        n_tasks = len(tiny_run[1]["results"]["benchmarks"][name]["metric_names"])
        assert [(r["num_groups"], r["beta"]) for r in sel["table"]] == \
            [(k, b) for k in sorted({1, 2, 3, n_tasks // 2, n_tasks}) for b in (0.0, 1e-3)]
        best = min(sel["table"], key=lambda r: r["val_delta_m"])
        assert sel["best"] == {"num_groups": best["num_groups"], "beta": best["beta"]}
    # the report of a run that selected shows the grids
    out, doc = tiny_run
    doc = copy.deepcopy(doc)
    doc["results"]["selection"] = json.loads(json.dumps(selection))
    md = rp.render(doc, tmp_path)
    assert "selected in this run on validation" in md and "Validation Δm% for regression" in md


def test_presets_keep_the_old_settings():
    quick, full, tiny = rp.Config.quick(), rp.Config.full(), rp.Config.tiny()
    assert (quick.seeds, quick.toy_steps, quick.toy_lr, quick.regression_steps, quick.digits_steps, quick.select) == \
        ((0, 1, 2), 5000, 5e-3, 1500, 1000, False)
    assert (full.seeds, full.toy_steps, full.toy_lr, full.regression_steps, full.digits_steps, full.select) == \
        ((0, 1, 2, 3, 4), 35000, 1e-3, 3000, 1500, True)
    assert (tiny.seeds, tiny.toy_steps, tiny.regression_steps, tiny.digits_steps) == ((0, 1), 40, 30, 200)
    assert (full.selection_seeds, full.selection_betas, full.selection_steps_factor) == \
        ((100, 101, 102), (0.0, 1e-4, 1e-3), 1.0)
    assert quick.with_seed(5).seeds == (5, 6, 7) and quick.with_seed(5).selection_seeds == (100, 101, 102)


@pytest.mark.parametrize("change,match", [
    (dict(seeds=()), r"Config.seeds must not be empty"),
    (dict(toy_steps=0), r"Config.toy_steps must be an int >= 1"),
    (dict(digits_steps=2.5), r"Config.digits_steps must be an int >= 1"),
    (dict(toy_lr=0.0), r"Config.toy_lr must be > 0"),
    (dict(selection_steps_factor=-1.0), r"Config.selection_steps_factor must be > 0"),
    (dict(selection_betas=(0.0, -1e-3)), r"Config.selection_betas must be >= 0"),
])
def test_config_validation_names_the_field(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(rp.Config.quick(), **change)
