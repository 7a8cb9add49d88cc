"""The many-labels experiment (pyalgo.lab.energy.many_labels): its plan, one job end to end, the tables."""
import pickle

import pytest
import torch

from pyalgo.lab.energy import many_labels as ML

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_plan_same_search_budget_and_exact_only_where_enumerable():
    plan = ML.jobs("full")
    rk = {k for k in plan if k[0] == "ranking"}
    ml = {k for k in plan if k[0] == "multilabel"}
    assert {k[1] for k in rk} == {8, 11, 16} and {k[1] for k in ml} == {8, 11, 16}
    assert {k[2] for k in rk if k[1] == 8} == set(ML.METHODS)
    assert {k[2] for k in rk if k[1] == 16} == set(ML.METHODS) - {"exact_mle"}     # 16! is not enumerable
    assert {k[2] for k in ml if k[1] == 16} == set(ML.ML_METHODS) - {"exact_mle"}
    assert [k[1] for k in plan if k[0] == "ranking"][0] == 16  # the longest first
    # every method gets the same number of configurations on validation
    assert len({len(ML._configs(m)) for m in ML.METHODS}) == 1
    assert len({len(ML._configs(m, grids=ML.ML_GRIDS)) for m in ML.ML_METHODS}) == 1
    assert pickle.loads(pickle.dumps(plan)) == plan                                    # plain, picklable args
    full = ML.jobs("full", sections=("ranking",))
    assert {k[3] for k in full} == {0, 1, 2} and all(k[0] == "ranking" for k in full)
    # quick: k = 11 and 16, ranking only, no search: each method trains its CHOSEN configuration
    quick = ML.jobs("quick")
    assert {(k[0], k[1]) for k in quick} == {("ranking", 11), ("ranking", 16)}
    assert all(args[-1] == 0 for args in quick.values())
    assert all(ML._configs(m, 0) == [ML.CHOSEN[m]] for m in ML.METHODS)
    with pytest.raises(ValueError, match="pyalgo.lab.energy.many_labels.jobs: size"):
        ML.jobs("huge")


def test_one_job_each_section_and_the_tables():
    plan = ML.jobs("tiny")
    done = {key: ML.job(args) for key, args in plan.items()}
    r = done["ranking", 8, "minmin_model", 0]
    assert r["config"] == ML._configs("minmin_model", 1)[0] and len(r["val_scores"]) == 1
    assert -100 <= r["kendall_tau"] <= 100 and 50 < r["true_kendall_tau"] < 80
    assert r["ratio"] == pytest.approx(r["kendall_tau"] / r["true_kendall_tau"])
    m = done["multilabel", 6, "exact_mle", 0]
    assert m["true_nll"] < m["nll"]          # two epochs of a fresh model: far from the truth
    # rows: ranking and multilabel apart, seeds averaged
    fake = dict(done)
    extra = dict(r, seed=1, kendall_tau=r["kendall_tau"] + 2.0)
    fake["ranking", 8, "minmin_model", 1] = extra
    rows = ML.table(fake)
    row = next(x for x in rows if x["method"] == "minmin_model")
    assert row["seeds"] == [0, 1] and row["kendall_tau"] == pytest.approx(r["kendall_tau"] + 1.0)
    assert row["ratio"] == pytest.approx(row["kendall_tau"] / row["true_kendall_tau"])
    assert {x["method"] for x in rows} == {"minmin_model", "mcmc"}
    ml_rows = ML.multilabel_table(done)
    assert [x["method"] for x in ml_rows] == ["minmin_model", "exact_mle"] and ml_rows[0]["k"] == 6
    text = ML.markdown(rows) + ML.multilabel_markdown(ml_rows)
    assert "| 8 | minmin_model |" in text and "| 6 | exact_mle |" in text


def test_selection_uses_validation_not_test(monkeypatch):
    """The configuration is the best on the validation split; the test rows are used once, by the final run."""
    seen = []
    real = ML.train_ranking

    def spy(data, **kw):
        seen.append((data.x_test.shape[0], kw.get("lr")))
        return real(data, **kw)

    monkeypatch.setattr(ML, "train_ranking", spy)
    out = ML.job(("ranking", 6, "mcmc", 0, 200, 150, 1, 2))
    assert [n for n, _ in seen] == [40, 40, 150]          # two validation runs (20 % of 200), then the test run
    best = max(range(2), key=lambda i: out["val_scores"][i])
    assert seen[2][1] == ML._configs("mcmc", 2)[best]["lr"]


def test_no_search_size_trains_the_chosen_configuration_once(monkeypatch):
    """grid_limit 0 (the quick size): no validation runs, one final run with CHOSEN[method]."""
    seen = []
    real = ML.train_ranking

    def spy(data, **kw):
        seen.append((getattr(data, "name", "test"), kw))
        return real(data, **kw)

    monkeypatch.setattr(ML, "train_ranking", spy)
    r = ML.job(("ranking", 6, "mcmc", 0, 200, 100, 1, 0))
    assert len(seen) == 1 and not seen[0][0].endswith("_val")     # the full training rows, not validation
    assert {k: seen[0][1][k] for k in ML.CHOSEN["mcmc"]} == ML.CHOSEN["mcmc"]
    assert r["config"] == ML.CHOSEN["mcmc"] and r["val_scores"] == [] and r["search_seconds"] < 1.0
