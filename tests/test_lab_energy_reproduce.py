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
        return {k: _no_seconds(v) for k, v in x.items() if k not in ("seconds", "search_seconds")}
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


# -- issue 17: decodings shared by every method, published baselines, target verdicts, user split -----------------

def _all_sets(k):
    import itertools
    import torch
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=k)), dtype=torch.float64)


def test_nonempty_decodings_are_the_mode_over_nonempty_sets():
    import torch
    from pyalgo.energy import predict as P
    g = torch.Generator().manual_seed(0)
    k = 5
    Y = _all_sets(k)[1:]                                           # the non-empty sets
    u = torch.randn(400, k, generator=g, dtype=torch.float64) - 1.5   # many rows whose plain mode is empty
    U = 0.5 * torch.randn(400, k, k, generator=g, dtype=torch.float64)
    assert bool((P.predict_unary(u).sum(1) == 0).any())          # the case the option is for
    best_unary = Y[(u @ Y.T).argmax(1)]
    assert P.predict_unary(u, nonempty=True).equal(best_unary)  # exact for the unary model
    gp = u @ Y.T + 0.5 * torch.einsum("si,bij,sj->bs", Y, U, Y)
    pred = P.predict_pairwise(u, U, nonempty=True)
    assert bool((pred.sum(1) >= 1).all())
    assert (pred == Y[gp.argmax(1)]).all(1).double().mean() > 0.95   # the local search finds the mode nearly always
    plain = P.predict_pairwise(u, U)
    keep = plain.sum(1) > 0                                      # where the plain mode is non-empty, nothing changes
    assert pred[keep].equal(plain[keep])
    assert P.predict_pairwise(u, None, nonempty=True).equal(best_unary)


def test_predict_expected_f1_maximises_the_expected_f1_by_enumeration():
    import torch
    from pyalgo.energy import predict as P
    g = torch.Generator().manual_seed(1)
    k = 5
    Y = _all_sets(k)
    u = 2.0 * torch.randn(300, k, generator=g, dtype=torch.float64)
    p = torch.sigmoid(u)
    prob = (Y[None] * p[:, None].log() + (1 - Y[None]) * (1 - p[:, None]).log()).sum(-1).exp()   # (B, 2^k)
    tp = Y @ Y.T
    size = Y.sum(1)
    denom = size[:, None] + size[None, :]
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones_like(denom))               # (pred, true)
    expected = prob @ f1.T                                                                            # (B, pred)
    for nonempty in (False, True):
        e = expected.clone()
        if nonempty:
            e[:, 0] = -1.0
        pred = P.predict_expected_f1(u, nonempty=nonempty)
        got = (e * (pred[:, None, :] == Y[None]).all(-1)).sum(1)
        torch.testing.assert_close(got, e.max(1).values)
        assert not nonempty or bool((pred.sum(1) >= 1).all())


def test_evaluate_multilabel_decodings():
    import torch
    from pyalgo.energy.evaluate import evaluate_multilabel
    from pyalgo.energy.models import PairwiseEnergy, UnaryEnergy
    torch.manual_seed(0)
    energy = UnaryEnergy(4, 3, 0)
    with torch.no_grad():                      # u = (-1, -2, -2) for every x: the plain mode is the empty set
        energy.net.weight.zero_()
        energy.net.bias.copy_(torch.tensor([-1.0, -2.0, -2.0]))
    x = torch.randn(50, 4)
    y = torch.zeros(50, 3)
    y[:, 0] = 1
    out = {d: evaluate_multilabel(energy, x, y, decode=d) for d in ("mode", "nonempty", "expected_f1")}
    assert out["mode"]["f1_example"] == 0.0 and out["nonempty"]["f1_example"] == 100.0
    assert out["expected_f1"]["f1_example"] > 0.0     # a non-empty set too
    assert out["mode"]["nll"] == out["nonempty"]["nll"]
    with pytest.raises(ValueError, match="decode must be one of"):
        evaluate_multilabel(energy, x, y, decode="best")
    with pytest.raises(ValueError, match="needs a UnaryEnergy"):
        evaluate_multilabel(PairwiseEnergy(4, 3, 0), x, y, decode="expected_f1")


def test_protocol_publishes_gfy_and_minmax_and_picks_up_new_trainer_methods():
    from pyalgo.lab.energy import protocol as P
    from pyalgo.lab.energy import train as T
    assert P.PAPER_MULTILABEL["yeast"]["gfy"] == 61.31 and P.PAPER_MULTILABEL["scene"]["minmax"] == 52.54
    assert P.PAPER_MULTILABEL["emotions"]["gfy"] == 61.85 and P.PAPER_RANKING["iris"]["minmax"] == 55.56
    assert all("gfy" not in row for row in P.PAPER_RANKING.values())   # the ranking figure has no GFY bar
    assert P.ML_METHODS == tuple(m for m in ("minmin", "sparsemax", "exact_mle", "gfy", "mcmc", "minmax", "bce")
                                 if m in T.MULTILABEL_METHODS)
    # once the trainer knows a published method, it is run and reported, in the published column order
    more = P._methods((P.PAPER_MULTILABEL,), P.EXTRA_ML_METHODS, T.MULTILABEL_METHODS + ("minmax", "gfy"))
    assert more == ("minmin", "sparsemax", "exact_mle", "gfy", "mcmc", "minmax", "bce")
    assert P._methods((P.PAPER_RANKING,), (), T.RANKING_METHODS + ("minmax",)) == ("minmin", "sparsemax", "mcmc",
                                                                                     "minmax")
    assert P.published()["targets"] == P.TARGETS
    assert P.hparams("yeast", "minmin", False, model="pairwise") == dict(
        P._ML_DEFAULT, **P.HPARAMS["yeast"]["minmin_pairwise"])           # a model's own entry
    assert P.hparams("scene", "minmin", False, model="pairwise") == P.hparams("scene", "minmin", False)
    hp = P.hparams("yeast", "gfy", False)                       # no entry of its own: the method's validated settings
    assert hp == dict(P._ML_DEFAULT, **P.METHOD_HPARAMS_ML["gfy"])
    assert P.hparams("glass", "minmax", True) == dict(P._RK_DEFAULT, **P.METHOD_HPARAMS_RK["minmax"])
    hp = P.hparams("yeast", "entmax", False)                            # neither: minmin's settings
    mm = P.hparams("yeast", "minmin", False)
    assert {k: v for k, v in hp.items() if k != "epochs"} == {k: v for k, v in mm.items() if k != "epochs"}


def test_tuning_configs_follow_the_recorded_grid():
    from pyalgo.lab.energy import protocol as P
    stage1 = P._configs(P.GRID_ML, None, {})
    n = 1
    for name, values in P.GRID_ML.items():
        n *= 1 if name == "epochs" else len(values)
    with_hidden = [c for c in stage1 if c["hidden"] > 0]
    assert len(stage1) == n - n // len(P.GRID_ML["hidden"]) // len(P.GRID_ML["dropout"])   # no dropout without hidden
    assert all(c["dropout"] == 0.0 for c in stage1 if c["hidden"] == 0) and with_hidden
    for method, knob in P.KNOBS_ML.items():                           # the same stage-2 budget for every method
        assert len(P._configs(None, knob, {"hidden": 64})) == 4, method
    assert P.published()["tuning"]["grid_multilabel"] == P.GRID_ML


def _doc_with(tiny_doc, ml=None, rk=None, dataset=None):
    import copy
    doc = copy.deepcopy(tiny_doc)
    if ml is not None:
        doc["results"]["multilabel"] = ml
    if rk is not None:
        doc["results"]["ranking"] = rk
    doc["results"]["dataset"] = dataset
    return doc


def _ml_row(f1s: dict, decoding="nonempty"):
    by = {d: dict(f1_example=v, f1_micro=v, hamming=0.1) for d, v in f1s.items()}
    return dict(by[decoding], nll=-1.0, seconds=1.0, seeds=[0], f1_example_std=0.0, f1_example_seeds=[f1s[decoding]],
                curve=[1.0], by_decoding=by, decoding=decoding, hp=dict(hidden=0, lr=1e-3, epochs=1, num_samples=1))


def test_report_states_the_target_verdicts(tiny_run, tmp_path):
    from pyalgo.lab.energy import report
    ml = dict(yeast=dict(minmin=_ml_row(dict(nonempty=65.5, mode=60.0, expected_f1=66.0)),
                         exact_mle=_ml_row(dict(nonempty=62.0, mode=61.0, expected_f1=66.5))),
              scene=dict(minmin=_ml_row(dict(nonempty=70.0, mode=70.0, expected_f1=70.0)),
                         exact_mle=_ml_row(dict(nonempty=71.0, mode=69.0, expected_f1=70.0))))
    rk = {n: dict(minmin=dict(kendall_tau=t, std=0.0, folds=[t], seconds=1.0, hp=dict(hidden=0)))
          for n, t in dict(iris=97.0, wine=95.0, glass=85.0, vehicle=87.0, authorship=90.0, stock=80.0).items()}
    md = report.render(_doc_with(tiny_run[1], ml, rk), tmp_path)
    assert "## Targets (bundled sets)" in md
    assert "| target | nonempty | mode | expected_f1 |" in md
    assert ("| yeast: min-min F1 ≥ exact MLE F1 | **met** (65.50 vs 62.00) | missed (60.00 vs 61.00) | "
            "missed (66.00 vs 66.50) |") in md
    assert "| scene: min-min F1 ≥ exact MLE F1 | missed (70.00 vs 71.00) | **met** (70.00 vs 69.00) |" in md
    assert "| yeast: min-min F1 ≥ 65 | **met** (65.50) | missed (60.00) | **met** (66.00) |" in md
    assert "on 4 of 5 sets with a published number (target ≥ 5): missed; iris 97.00 vs 97.78" in md
    rk["iris"]["minmin"]["kendall_tau"] = 100 * 88 / 90        # 97.777…: the paper's 97.78 at its precision
    md = report.render(_doc_with(tiny_run[1], ml, rk), tmp_path)
    assert "on 5 of 5 sets with a published number (target ≥ 5): **met**" in md


def test_report_prints_a_user_datasets_split(tiny_run, tmp_path):
    from pyalgo.lab.energy import report
    doc = _doc_with(tiny_run[1], dataset=dict(kind="multilabel", name="birds"))
    doc["config"]["dataset"] = "/data/birds.arff"
    assert "Split protocol" not in report.render(doc, tmp_path)      # results without one (before the loaders' field)
    doc["results"]["protocol"] = "seeded hold-out (seed 0): 0.3 of the 645 rows of birds.arff to test (194 rows)"
    md = report.render(doc, tmp_path)
    assert "Split protocol: seeded hold-out (seed 0): 0.3 of the 645 rows of birds.arff to test (194 rows)." in md
    assert "## Targets" not in md                                    # the targets are about the bundled sets


def test_nonempty_decoding_only_where_every_training_row_has_a_label(monkeypatch):
    import torch
    from types import SimpleNamespace
    assert rp._decoding("emotions", None, "nonempty") == "nonempty"
    assert rp._decoding("emotions", None, "mode") == "mode"
    with_empty = SimpleNamespace(y_train=torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    monkeypatch.setattr(rp, "_multilabel", lambda source, max_rows: with_empty)
    assert rp._decoding("mine.arff", None, "nonempty") == "mode"
    with pytest.raises(ValueError, match="decoding must be 'mode' or 'nonempty'"):
        rp.Config(decoding="expected_f1")


def test_tiny_run_records_every_decoding(tiny_run):
    r = tiny_run[1]["results"]
    row = r["multilabel"]["emotions"]["minmin"]
    assert row["decoding"] == "nonempty" and set(row["by_decoding"]) == {"mode", "nonempty", "expected_f1"}
    assert row["f1_example"] == row["by_decoding"]["nonempty"]["f1_example"]
    assert set(r["multilabel"]["emotions"]["minmin_pairwise"]["by_decoding"]) == {"mode", "nonempty"}
    assert r["m_sweep"]["decoding"] == "nonempty" and "by_decoding" in r["m_sweep"]["rows"]["1"]
