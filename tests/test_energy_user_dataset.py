"""`pyalgo reproduce energy --dataset PATH [--labels N] [--split F | --folds K]` end to end (tiny preset) on
small files written here: a single-file ARFF (no test file) with a seeded hold-out and with k-fold CV, a
headerless label-ranking CSV, and the flag and config errors."""
import json

import numpy as np
import pytest

from pyalgo.cli import main
from pyalgo.energy import data as D
from pyalgo.lab.energy import reproduce as rp


def _single_arff(path, n=60, d=4, k=3, seed=0):
    """A dense ARFF with d numeric features then k {0,1} labels (y_j = [x_j > 0]), and a MEKA-less header."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).round(3)
    y = (x[:, :k] > 0).astype(int)
    head = ["@relation 'single file'"] + [f"@attribute 'feature {j}' numeric" for j in range(d)]
    head += [f"@attribute 'label \\'{j}\\'' {{0,1}}" for j in range(k)]
    rows = [",".join([*(f"{v:g}" for v in xr), *(str(v) for v in yr)]) for xr, yr in zip(x, y)]
    path.write_text("\n".join(head + ["@data"] + rows) + "\n")
    return path


def _run(tmp_path, out, *flags):
    argv = ["reproduce", "energy", "--preset", "tiny", "--quiet", "--workers", "1", "--out", str(tmp_path / out),
            *flags]
    assert main(argv) == 0
    doc = json.loads((tmp_path / out / "energy" / "results.json").read_text())
    return doc, (tmp_path / out / "energy" / "report.md").read_text()


def test_cli_single_arff_split_and_folds(tmp_path):
    path = _single_arff(tmp_path / "single.arff")
    doc, report = _run(tmp_path, "split", "--dataset", str(path), "--split", "0.3")
    r, c = doc["results"], doc["config"]
    assert c["split"] == 0.3 and c["dataset_folds"] is None and r["dataset"] == {"kind": "multilabel",
                                                                                 "name": "single"}
    assert r["protocol"].startswith("seeded hold-out (seed 0): 0.3 of the 60 rows of single.arff to test (18 rows)")
    rows = r["multilabel"]["single"]
    assert set(rows) == {"minmin", "exact_mle"} and not r["ranking"] and "m_sweep" not in r
    assert all(np.isfinite(rows[m]["f1_example"]) for m in rows)
    assert "single" in report and "--set split=0.3 --set dataset=" in report  # the rerun line keeps the order

    doc, _ = _run(tmp_path, "folds", "--dataset", str(path), "--folds", "3", "--labels", "3")
    r = doc["results"]
    assert doc["config"]["dataset_folds"] == 3 and doc["config"]["labels"] == 3
    assert r["protocol"].startswith("seeded 3-fold CV (seed 0) on the 60 rows of single.arff, mean ± std over the folds")
    row = r["multilabel"]["single"]["minmin"]
    assert row["n_folds"] == 3 and len(row["f1_example_folds"]) == 3
    assert row["f1_example"] == pytest.approx(np.mean(row["f1_example_folds"]))
    assert row["f1_example_std"] == pytest.approx(np.std(row["f1_example_folds"]))
    assert len(set(row["f1_example_folds"])) > 1   # three different test folds


def test_split_rows_are_the_seeded_holdout_standardised_on_train(tmp_path):
    path = str(_single_arff(tmp_path / "single.arff"))
    raw = D.load_multilabel(path, standardize=False)
    tr, te = D.holdout_indices(60, 0.3, seed=0)
    ds = rp._multilabel((path, None, ("split", 0.3, 0)), None)
    assert ds.x_train.shape == (42, 4) and ds.x_test.shape == (18, 4)
    mu, sd = raw.x_train[tr].double().mean(0), raw.x_train[tr].double().std(0, unbiased=False)
    assert np.allclose(ds.x_test.numpy(), ((raw.x_train[te].double() - mu) / sd).numpy(), atol=1e-5)
    assert (ds.y_test == raw.y_train[te]).all()
    folds = [rp._multilabel((path, None, ("fold", 3, 0, i)), None) for i in range(3)]
    assert sum(f.x_test.shape[0] for f in folds) == 60


def test_cli_headerless_ranking_csv(tmp_path):
    rows = (D.DATASETS_DIR / "label_ranking" / "iris.csv").read_text().splitlines()[1:]
    path = tmp_path / "flowers.csv"
    path.write_text("\n".join(rows) + "\n")
    doc, _ = _run(tmp_path, "rk", "--dataset", str(path), "--labels", "3", "--split", "0.2")
    r = doc["results"]
    assert r["dataset"] == {"kind": "ranking", "name": "flowers"} and list(r["ranking"]) == ["flowers"]
    assert r["protocol"].startswith("seeded hold-out (seed 0): 0.2 of the 150 rows of flowers.csv to test (30 rows)")
    assert len(r["ranking"]["flowers"]["minmin"]["folds"]) == 1


def test_cli_dataset_flag_errors(tmp_path, capsys):
    path = _single_arff(tmp_path / "single.arff")
    for argv, msg in [(["--split", "0.3"], "--split works with --dataset only"),
                      (["--labels", "2", "--folds", "3"], "--labels, --folds work with --dataset only"),
                      (["--dataset", str(path), "--split", "1.5"], "--split must be a fraction in (0, 1)"),
                      (["--dataset", str(path), "--folds", "1"], "--folds must be an integer >= 2"),
                      (["--dataset", str(path), "--labels", "0", "--split", "0.5"], "--labels must be an integer >= 1"),
                      (["--dataset", str(path), "--split", "0.3", "--folds", "3"], "not allowed with argument"),
                      (["--dataset", str(path)], "needs a test file next to it (single-test.arff), or a split of "
                                                 "the file itself: split=F (`--split 0.3`")]:
        with pytest.raises(SystemExit) as exc:
            main(["reproduce", "energy", "--preset", "tiny", "--quiet", "--out", str(tmp_path / "x"), *argv])
        assert exc.value.code == 2
        assert msg in capsys.readouterr().err


def test_config_validation(tmp_path):
    where = "pyalgo.lab.energy.reproduce.Config"
    for kw, field in [(dict(split=1.0), "split"), (dict(split=0.0), "split"), (dict(dataset_folds=1), "dataset_folds"),
                      (dict(labels=0), "labels"), (dict(split=0.3, dataset_folds=3), "split and dataset_folds")]:
        with pytest.raises(ValueError, match=f"{where}: {field}"):
            rp.Config(**kw)
    path = str(_single_arff(tmp_path / "single.arff"))
    assert rp.Config(dataset=path, split=0.3).split == 0.3   # no test file needed with a split
    with pytest.raises(ValueError, match="needs a test file"):
        rp.Config(dataset=path)
    with pytest.raises(ValueError, match=f"{where}: labels, split and dataset_folds apply to a user's dataset only"):
        rp._sources(rp.Config(split=0.3))
    with pytest.raises(ValueError, match=f"{where}: split and dataset_folds need .* the dataset has 60"):
        rp.multilabel_jobs(rp.Config(dataset=path, dataset_folds=61), {"single": path})
