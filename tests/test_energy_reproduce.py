"""Smoke test of the min-min EBM reproduction (pyalgo.energy.reproduce) at a tiny size."""
import json
import math
import os
import shutil

import pytest

from pyalgo.energy import reproduce as rp
from pyalgo.energy.data import DATASETS_DIR

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("energy_reproduce")
    return out, rp.run(quick=True, out_dir=str(out), settings=rp.Settings.tiny(), progress=False)


def _table_cells(md: str):
    for line in md.splitlines():
        if line.startswith("|"):
            yield line, [c.strip().lower() for c in line.split("|")]


def test_files_and_tables(tiny_run):
    out, res = tiny_run
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
    for line, cells in _table_cells(md):
        assert not any(c in ("nan", "inf", "-inf") for c in cells), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data["multilabel"]["emotions"]) == {"minmin", "exact_mle", "minmin_pairwise"}
    assert set(data["m_sweep"]["rows"]) == {"1", "10", "exact_mle"}
    assert set(data["toy"]["runs"]) == {"exact_mle", "minmin"}


def test_numbers_sane(tiny_run):
    _, res = tiny_run
    for method, r in res["multilabel"]["emotions"].items():
        assert 0 <= r["f1_example"] <= 100 and 0 <= r["hamming"] <= 1, method
        assert math.isfinite(r["nll"])
    rk = res["ranking"]["iris"]["minmin"]
    assert -100 <= rk["kendall_tau"] <= 100 and len(rk["folds"]) == 1
    t = res["multilabel"]["emotions"]["minmin"]["tau_vs_lse"]
    assert len(t["tau"]) == len(t["lse"]) == 20
    for row in res["m_sweep"]["rows"].values():
        assert len(row["train_nll_curve"]) == rp.Settings.tiny().m_epochs
    toy = res["toy"]
    assert math.isfinite(toy["runs"]["minmin"]["test_nll"]) and toy["std_true_lse"] > 0


def test_user_dataset_paths(tmp_path):
    src = DATASETS_DIR / "multilabel"
    for name in ("emotions-train.arff", "emotions-test.arff", "emotions.xml"):
        shutil.copy(src / name, tmp_path / name)
    settings = rp.Settings.tiny()
    out = tmp_path / "out_ml"
    res = rp.run(quick=True, out_dir=str(out), dataset=str(tmp_path / "emotions-train.arff"), settings=settings,
                 progress=False)
    assert list(res["multilabel"]) == ["emotions"] and not res["ranking"] and "m_sweep" not in res
    assert (out / "report.md").is_file() and (out / "tau_vs_lse.png").is_file()
    shutil.copy(DATASETS_DIR / "label_ranking" / "iris.csv", tmp_path / "mine.csv")
    res = rp.run(quick=True, out_dir=str(tmp_path / "out_rk"), dataset=str(tmp_path / "mine.csv"), settings=settings,
                 progress=False)
    assert list(res["ranking"]) == ["mine"] and not res["multilabel"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="pyalgo.energy.reproduce.run: dataset"):
        rp.run(out_dir=str(tmp_path), dataset=str(tmp_path / "missing.arff"), progress=False)
    lonely = tmp_path / "lonely.arff"
    shutil.copy(DATASETS_DIR / "multilabel" / "emotions-train.arff", lonely)
    with pytest.raises(ValueError, match="needs a test file"):
        rp.run(out_dir=str(tmp_path), dataset=str(lonely), progress=False)
    with pytest.raises(TypeError, match="pyalgo.energy.reproduce.run: settings"):
        rp.run(out_dir=str(tmp_path), settings={"folds": 2}, progress=False)
    with pytest.raises(ValueError, match="pyalgo.energy.reproduce.run: threads"):
        rp.run(out_dir=str(tmp_path), threads=0, progress=False)


@pytest.mark.slow
def test_quick_run_budget(tmp_path):
    res = rp.run(quick=True, out_dir=str(tmp_path), progress=False)
    assert res["seconds"] < 240
    assert res["multilabel"]["yeast"]["minmin"]["f1_example"] > 55
    assert res["ranking"]["iris"]["minmin"]["kendall_tau"] > 85


def test_cli_dataset_flag_only_for_energy(capsys):
    from pyalgo.cli import METHODS, TAKES_DATASET, main

    assert "energy" in METHODS and TAKES_DATASET == {"energy"}
    assert main(["reproduce", "wireless", "--dataset", "my.csv"]) == 2
    assert "--dataset works with energy" in capsys.readouterr().err
