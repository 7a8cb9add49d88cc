"""The min-min EBM reproduction (pyalgo.lab.energy.reproduce) at the tiny preset: files, tables,
sane numbers, a report rendered from results.json alone, a user's dataset, bad configs."""
import dataclasses
import json
import math
import os
import shutil

import pytest

from pyalgo.energy.data import DATASETS_DIR
from pyalgo.lab import harness as H
from pyalgo.lab.harness.config import to_dict
from pyalgo.lab.energy import reproduce as rp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("energy_reproduce")
    return out, H.reproduce("energy", preset="tiny", out=out, progress=False, workers=1)


def _table_cells(md: str):
    for line in md.splitlines():
        if line.startswith("|"):
            yield line, [c.strip().lower() for c in line.split("|")]


def _floats(x, where="results"):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _floats(v, f"{where}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _floats(v, f"{where}[{i}]")
    elif isinstance(x, float):
        yield where, x


def test_files_and_tables(tiny_run):
    out, doc = tiny_run
    assert sorted(os.listdir(out)) == sorted(["report.md", "results.json", "tau_vs_lse.png", "num_samples.png"])
    for name in ("tau_vs_lse.png", "num_samples.png"):
        assert (out / name).read_bytes()[:8] == PNG
    md = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## 1. Multilabel F1", "## 2. Label ranking", "## 3. Model comparison", "## 4. Number of samples",
                    "## 5. Learned τ(x)", "## 6. Synthetic Ising toy", "## Hyper-parameters"):
        assert heading in md
    assert "| emotions | minmin |" in md and "| emotions | exact_mle |" in md
    assert "| 65.33 |" in md and "| 62.99 |" in md            # the paper's anchors next to ours
    assert "| iris | minmin |" in md and "97.78" in md
    assert "| iris | birkhoff (Kendall τ) |" in md and "| emotions | pairwise (F1 example) |" in md
    assert "Preset **tiny**" in md and "pyalgo reproduce energy --preset tiny" in md
    for line, cells in _table_cells(md):
        assert not any(c in ("nan", "inf", "-inf") for c in cells), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data == doc and data["preset"] == "tiny" and data["config"] == json.loads(json.dumps(to_dict(rp.Config.tiny())))
    r = data["results"]
    assert set(r["multilabel"]["emotions"]) == {"minmin", "exact_mle", "minmin_pairwise"}
    assert set(r["m_sweep"]["rows"]) == {"1", "10", "exact_mle"}
    assert set(r["toy"]["runs"]) == {"exact_mle", "minmin"}
    assert r["published"]["multilabel"]["emotions"]["minmin"] == 65.33   # published numbers travel with the results
    for where, value in _floats(r):
        assert math.isfinite(value) or where.endswith(".corr"), where   # corr is nan only for a constant τ or LSE


def test_report_comes_from_results_only(tiny_run):
    out, _ = tiny_run
    report = (out / "report.md").read_text(encoding="utf-8")
    (out / "report.md").unlink()
    (out / "tau_vs_lse.png").unlink()
    H.render(out)
    assert (out / "report.md").read_text(encoding="utf-8") == report
    assert (out / "tau_vs_lse.png").read_bytes()[:8] == PNG


def test_numbers_sane(tiny_run):
    r = tiny_run[1]["results"]
    for method, row in r["multilabel"]["emotions"].items():
        assert 0 <= row["f1_example"] <= 100 and 0 <= row["hamming"] <= 1, method
        assert math.isfinite(row["nll"])
    rk = r["ranking"]["iris"]["minmin"]
    assert -100 <= rk["kendall_tau"] <= 100 and len(rk["folds"]) == 1
    t = r["multilabel"]["emotions"]["minmin"]["tau_vs_lse"]
    assert len(t["tau"]) == len(t["lse"]) == 20
    for row in r["m_sweep"]["rows"].values():
        assert len(row["train_nll_curve"]) == rp.Config.tiny().m_epochs
        assert all(math.isfinite(v) for v in row["train_nll_curve"])
    toy = r["toy"]
    assert math.isfinite(toy["runs"]["minmin"]["test_nll"]) and toy["std_true_lse"] > 0
    assert all(math.isfinite(v) for v in toy["runs"]["minmin"]["curve"] + toy["runs"]["exact_mle"]["curve"])


def test_results_do_not_depend_on_workers(tmp_path):
    cfg = dataclasses.replace(rp.Config.tiny(), ml_methods=("minmin",), m_values=(1,), model_ml=(), model_rk=())
    one = H.reproduce("energy", config=cfg, out=tmp_path / "one", progress=False, workers=1)["results"]
    two = H.reproduce("energy", config=cfg, out=tmp_path / "two", progress=False, workers=2)["results"]
    assert _no_seconds(one) == _no_seconds(two)


def _no_seconds(x):
    if isinstance(x, dict):
        return {k: _no_seconds(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [_no_seconds(v) for v in x]
    return x


def test_user_dataset_paths(tmp_path):
    src = DATASETS_DIR / "multilabel"
    for name in ("emotions-train.arff", "emotions-test.arff", "emotions.xml"):
        shutil.copy(src / name, tmp_path / name)
    out = tmp_path / "out_ml"
    doc = H.reproduce("energy", preset="tiny", overrides=[f"dataset={tmp_path / 'emotions-train.arff'}"], out=out,
                      progress=False, workers=1)
    r = doc["results"]
    assert list(r["multilabel"]) == ["emotions"] and not r["ranking"] and "m_sweep" not in r
    assert r["dataset"] == {"kind": "multilabel", "name": "emotions"}
    assert (out / "report.md").is_file() and (out / "tau_vs_lse.png").is_file()
    shutil.copy(DATASETS_DIR / "label_ranking" / "iris.csv", tmp_path / "mine.csv")
    r = H.reproduce("energy", preset="tiny", overrides=[f"dataset={tmp_path / 'mine.csv'}"], out=tmp_path / "out_rk",
                    progress=False, workers=1)["results"]
    assert list(r["ranking"]) == ["mine"] and not r["multilabel"]


def test_bad_config(tmp_path):
    where = "pyalgo.lab.energy.reproduce.Config"
    with pytest.raises(ValueError, match=f"--set dataset: {where}: dataset must be an existing"):
        H.reproduce("energy", overrides=[f"dataset={tmp_path / 'missing.arff'}"], out=tmp_path, progress=False)
    lonely = tmp_path / "lonely.arff"
    shutil.copy(DATASETS_DIR / "multilabel" / "emotions-train.arff", lonely)
    with pytest.raises(ValueError, match="needs a test file"):
        rp.Config(dataset=str(lonely))
    for field, value in (("folds", 1), ("max_folds", 11), ("seeds", ()), ("ml_methods", ("nope",)),
                         ("m_dataset", "iris"), ("epoch_scale", 0.0), ("tau_points", -1)):
        with pytest.raises(ValueError, match=f"{where}: {field}"):
            rp.Config(**{field: value})
    with pytest.raises(ValueError, match=f"{where}: toy.k"):
        rp.Toy(k=13)


@pytest.mark.slow
def test_quick_run_budget(tmp_path):
    doc = H.reproduce("energy", preset="quick", out=tmp_path, progress=False)
    assert doc["seconds"]["total"] < 240
    assert doc["results"]["multilabel"]["yeast"]["minmin"]["f1_example"] > 55
    assert doc["results"]["ranking"]["iris"]["minmin"]["kendall_tau"] > 85


def test_cli_dataset_flag_only_for_energy(capsys):
    from pyalgo.cli import EXPERIMENTS, main

    assert "energy" in EXPERIMENTS
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "wireless", "--dataset", "my.csv"])
    assert exc.value.code == 2
    assert "--dataset works with energy" in capsys.readouterr().err
