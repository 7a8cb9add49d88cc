"""The wireless reproduction (pyalgo.lab.wireless.reproduce) at the tiny preset (seconds): files, the
report's tables, sane numbers, and a report rendered from results.json alone."""
import math
import os

import pytest

from pyalgo.lab import harness
from pyalgo.lab.wireless import reproduce as rp

TINY = rp.Config.tiny()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wireless_reproduce")
    doc = harness.reproduce("wireless", preset="tiny", out=out, progress=False, workers=1)
    return out, doc


def test_files_and_tables(tiny_run):
    out, _ = tiny_run
    names = sorted(os.listdir(out))
    assert names == sorted(["results.json", "report.md", "mlp_curves_K4.png", "gnn_curves.png",
                            "intermediate_curves.png", "unrolled_curves.png"])
    for name in names:
        assert os.path.getsize(out / name) > 0
        if name.endswith(".png"):
            with open(out / name, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text(encoding="utf-8")
    for mode in TINY.sun.modes:
        assert f"| 4 | {mode} |" in report
    for label, _, _ in TINY.sun.runs(4):                                  # the β-schedule axis at the first K
        assert f"| 4 | {label} |" in report
    assert "| 4 | unsupervised+assist, fixed β |" in report and "| 4 | unsupervised+assist, increasing β |" in report
    for label, _, _ in rp.GNN_RUNS:
        assert f"| {label} |" in report
    for assist in TINY.intermediate.assists:
        assert f"| {assist} |" in report
    assert "| Rayleigh K=4 |" in report and "| D2D K=6 |" in report
    assert "| UnrolledWMMSEStudent |" in report and "K = 4: unrolled WMMSE" in report and "converged WMMSE" in report
    assert "Paper's ordering" in report
    assert "| assist, fixed β | supervised | 2 |" in report              # the GNN's paired table, 2 seeds
    assert "| unsupervised+assist | unsupervised | 1 | " in report and "one seed" in report
    assert "Sun's DNN 98.2 %" not in report and "Sun's DNN" in report      # no published DNN at K = 4
    for line in report.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf") for c in cells), line


def test_numbers_sane(tiny_run):
    _, doc = tiny_run
    results = doc["results"]
    r = results["sun"]["4"]
    assert 0 < r["max_power"] <= 100.5 and 0 < r["random_power"] <= 100.5
    for mode, m in r["modes"].items():
        assert math.isfinite(m["continuous"]) and 0 < m["continuous"] < 150, mode
        assert len(m["curve"]) == TINY.sun.epochs
        assert m["seeds"] == [0] and m["runs"]["continuous"] == [m["continuous"]]
    for label, g in results["gnn"]["runs"].items():
        assert len(g["curve"]) == TINY.gnn.epochs and all(math.isfinite(x) for x in g["curve"]), label
        assert g["seeds"] == [0, 1] and len(g["runs"]["curves"]) == 2
        assert g["continuous"] == pytest.approx(sum(g["runs"]["continuous"]) / 2)
        assert g["runs"]["continuous"][0] != g["runs"]["continuous"][1]   # the seeds differ
    assert results["plan"] == rp.plan(TINY) and results["plan"]["jobs"] == 7 + 5 * 2 + 2 + 1
    u = results["unrolled"]["4"]
    assert 95 < u["converged"] < 105 and len(u["initial"]) == 1 and 0 < u["initial"][0] <= u["converged"] + 1e-9
    assert len(u["run"]["curve"]) == TINY.unrolled.epochs and u["run"]["seeds"] == [0]
    for assist, run in results["intermediate"]["runs"].items():
        assert len(run["curves"]) == len(TINY.intermediate.seeds) and all(map(math.isfinite, run["continuous"]))
    for row in results["timing"]:
        assert row["teacher_s"] > 0 and row["student_s"] > 0
    assert results["published"]["wmmse"]["10"] == rp.SUN_WMMSE[10]       # the report's anchors travel with it


def test_report_renders_from_results_alone(tiny_run):
    out, _ = tiny_run
    before = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    harness.render(out)
    assert (out / "report.md").read_bytes() == before


def test_intermediate_reuses_the_sun_run(tiny_run):
    _, doc = tiny_run
    results = doc["results"]
    final = results["intermediate"]["runs"]["final"]
    same = results["sun"]["4"]["modes"]["unsupervised+assist"]
    assert final["continuous"] == [same["continuous"]] and final["curves"] == [same["curve"]]


def test_bad_config():
    with pytest.raises(ValueError, match="parts"):
        rp.Config(parts=("sun", "miso"))
    with pytest.raises(ValueError, match="SunConfig: modes must be one of"):
        rp.SunConfig(modes=("supervised", "rl+critic"))
    with pytest.raises(ValueError, match="--set sun.epochs: .*epochs must be an int >= 1"):
        harness.override(rp.Config.tiny(), ["sun.epochs=0"])


def test_bad_sun_and_gnn_config():
    with pytest.raises(ValueError, match="SunConfig: n_seeds must hold one entry for every K"):
        rp.SunConfig(Ks=(10, 20, 30), n_seeds=(5, 3))
    with pytest.raises(ValueError, match="SunConfig: epochs_at must hold one entry for every K"):
        rp.SunConfig(Ks=(10, 20), epochs_at=(1, 2, 3))
    with pytest.raises(ValueError, match="SunConfig: assist_schedules must be one of"):
        rp.SunConfig(assist_schedules=("cyclic",))
    with pytest.raises(ValueError, match="SunConfig: norm must be one of"):
        rp.SunConfig(norm="group")
    with pytest.raises(ValueError, match="SunConfig: rl_lr"):
        rp.SunConfig(rl_lr=0.0)
    with pytest.raises(ValueError, match="SunConfig: critic_steps must be an int >= 1"):
        rp.SunConfig(critic_steps=0)
    with pytest.raises(ValueError, match="GNNConfig: student must name a student class"):
        rp.GNNConfig(student="Transformer")
    with pytest.raises(ValueError, match="GNNConfig: student_options must hold .* naming arguments of GNNStudent"):
        rp.GNNConfig(student_options=(("depth", 3),))
    g = rp.GNNConfig(hidden=8, layers=2, student_options=(("aggregation", "sum"),))
    assert g.build().hidden == 8                                          # the hook reaches the constructor
    cfg = harness.override(rp.Config.tiny(), ['gnn.student_options=[("aggregation", "sum")]', "gnn.n_train=0"])
    assert cfg.gnn.student_options == (("aggregation", "sum"),) and rp.plan(cfg)["gnn"] == 5 * 2 * 2 * 100
    with pytest.raises(ValueError, match="aggregation"):
        rp.GNNConfig(student_options=(("aggregation", "median"),)).build()


def test_plan_counts_the_full_preset():
    full = rp.Config.full()
    # K = 10: 5 modes + 2 extra β schedules, 5 seeds; K = 20/30: 5 modes × 3 seeds; GNN 5 runs × 5 seeds;
    # intermediate: state and trajectory × 3 seeds (final reuses the Sun runs of seeds 0-2)
    p = rp.plan(full)
    # unrolled: K = 10/20/30 × 3 seeds
    assert p["jobs"] == 7 * 5 + 5 * 3 + 5 * 3 + 5 * 5 + 2 * 3 + 3 * 3 == len(rp._jobs(full))
    assert p["sun/10"] == 35 * 16 * 1000 and p["sun/20"] == 15 * 8000 and p["sun/30"] == 15 * 6000
    assert p["gnn"] == 25 * 10 * 200 and p["intermediate"] == 6 * 16000 and p["unrolled"] == 9 * 1000
    assert p["steps"] == sum(v for k, v in p.items() if k not in ("jobs", "steps"))
    quick = rp.plan(rp.Config.quick())
    assert quick["jobs"] == 7 * 2 + 5 * 2 + 2 + 2 and quick["sun/10"] == 14 * 2000 and quick["unrolled"] == 2 * 500


def test_t_quantiles_and_ci_by_hand():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in range(1, 31):
        assert rp.t975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=6e-4)
    assert rp.t975(200) == 1.96
    with pytest.raises(ValueError, match="t975: df must be an int >= 1"):
        rp.t975(0)
    mean, half = rp.mean_ci([1.0, 2.0, 3.0, 4.0])                      # s = sqrt(5/3), t_{.975,3} = 3.182
    assert mean == 2.5 and half == pytest.approx(3.182 * math.sqrt(5 / 3) / 2)
    mean, half = rp.mean_ci([97.0])
    assert mean == 97.0 and math.isnan(half)


def test_paired_comparison_by_hand():
    # differences 1.0, 1.4, 0.6: mean 1.0, s = 0.4, half = 4.303 · 0.4 / √3 = 0.9937 → CI (0.006, 1.994)
    d = rp.paired([98.0, 99.0, 97.5], [97.0, 97.6, 96.9])
    assert d["mean"] == pytest.approx(1.0) and d["half"] == pytest.approx(4.303 * 0.4 / math.sqrt(3))
    assert d["n"] == 3 and d["verdict"] == "better beyond noise"
    # the same spread around 0.9: CI (−0.094, 1.894) holds 0
    assert rp.paired([97.9, 98.9, 97.4], [97.0, 97.6, 96.9])["verdict"] == "within noise"
    assert rp.paired([97.0, 97.6, 96.9], [98.0, 99.0, 97.5])["verdict"] == "worse beyond noise"
    assert rp.paired([98.0], [97.0]) == dict(mean=1.0, half=pytest.approx(float("nan"), nan_ok=True), n=1,
                                             verdict="one seed")
    with pytest.raises(ValueError, match="paired: a and b must hold one value per seed"):
        rp.paired([1.0, 2.0], [1.0])


def _row(values, max_power=50.2, seeds=(0, 1, 2)):
    """A hand-made results row: label -> binarised values per seed (continuous 1 point lower)."""
    return dict(max_power=max_power, modes={
        label: dict(continuous=sum(v) / len(v) - 1, binarised=sum(v) / len(v), seeds=list(seeds),
                    runs=dict(continuous=[x - 1 for x in v], binarised=list(v))) for label, v in values.items()})


def test_verdicts_from_hand_made_results():
    pub = rp._published()
    assert rp.claim_pairs(["supervised", "unsupervised", "unsupervised+assist", "rl", "rl+assist",
                           "unsupervised+assist, fixed β"]) == [
        ("unsupervised+assist", "supervised"), ("unsupervised+assist", "unsupervised"),
        ("unsupervised+assist, fixed β", "supervised"), ("unsupervised+assist, fixed β", "unsupervised"),
        ("rl+assist", "rl")]
    row = _row({"supervised": [97.0, 97.6, 96.9], "unsupervised+assist": [98.0, 99.0, 97.5],
                "rl": [49.5, 88.0, 88.5]})
    lines = rp.sun_verdicts("10", row, pub)
    # best binarised mean 98.17 < 98.2: not reached; rl seed 0 is 0.7 (binarised 49.5) and 1.7 (continuous
    # 48.5) points from 50.2: not within 0.5 on either metric, so not stuck
    assert "best unsupervised+assist 98.2 ± 1.9 % over 3 seed(s) — **not reached**" in lines[0]
    assert "≥ 100 % of WMMSE" in lines[1] and "**not reached**" in lines[1]
    assert lines[2].startswith("K = 10: no run is stuck")
    row = _row({"unsupervised": [99.0, 99.1, 99.2], "rl": [51.0, 88.0, 88.5]})
    lines = rp.sun_verdicts("10", row, pub)
    assert "best unsupervised 99.1 ± 0.2 % over 3 seed(s) — **reached** (beyond noise: unsupervised)" in lines[0]
    assert "STUCK" in lines[2] and "rl (seed 0)" in lines[2] and "rl (seed 1)" not in lines[2]
    assert "**reached** (by the mean, not beyond noise)" in rp.sun_verdicts(
        "10", _row({"unsupervised": [97.5, 99.5, 98.0]}), pub)[0]
    # the best mean is not sure, another mode is: CI (98.25, 98.75) lies above 98.2
    line = rp.sun_verdicts("10", _row({"unsupervised+assist": [97.5, 99.9, 98.2],
                                       "unsupervised": [98.4, 98.5, 98.6]}), pub)[0]
    assert "best unsupervised+assist 98.5" in line and "**reached** (beyond noise: unsupervised)" in line
    assert "**reached**" in rp.sun_verdicts("10", _row({"unsupervised": [100.5, 101.5, 101.0]}), pub)[1]
    table = rp.claim(row["modes"] | _row({"rl+assist": [52.0, 89.0, 89.5]})["modes"], "binarised")
    assert table == [dict(a="rl+assist", b="rl", mean=pytest.approx(1.0), half=0.0, n=3,
                          verdict="better beyond noise")]
    gnn = _row({"unsupervised": [100.0, 101.0, 102.0], "supervised": [95.0, 96.0, 94.0]})["modes"]
    assert rp.gnn_verdict(gnn, 100.0).endswith("best unsupervised 101.0 ± 2.5 % over 3 seed(s) — **reached**.")


def test_one_job_per_data_protocol():
    """A fixed Rayleigh training set (cached labels) and fresh D2D layouts (a sampler) both train."""
    cfg = rp.Config(sun=rp.SunConfig(Ks=(4,), n_train=256, n_test=64, n_seeds=(1,), epochs=2, batch_size=128),
                    gnn=rp.GNNConfig(K=5, n_train=0, steps_per_epoch=3, n_test=32, epochs=2, batch_size=16,
                                     hidden=8, layers=2))
    mlp = rp.train_job(cfg, "mlp", 4, "supervised", None, None, 0)
    gnn = rp.train_job(cfg, "gnn", "unsupervised+assist", "fixed", 1)
    assert len(mlp["curve"]) == 2 and len(gnn["curve"]) == 2
    assert rp.plan(cfg)["sun/4"] == 2 * 2 * 7 and rp.plan(cfg)["gnn"] == 5 * 2 * 2 * 3       # 5 runs × 2 seeds × 2 epochs × 3 steps
    again = rp.train_job(cfg, "gnn", "unsupervised+assist", "fixed", 1)   # seeded by the config alone
    assert again["curve"] == gnn["curve"]


def test_seed_restarts_every_seed():
    cfg = rp.Config.full().with_seed(5)
    assert cfg.seed == 5 and cfg.intermediate.seeds == (5, 6, 7)
    assert cfg.sun.test_seed == rp.Config.full().sun.test_seed           # the data's seeds stay


@pytest.mark.slow
def test_quick_run(tmp_path):
    doc = harness.reproduce("wireless", preset="quick", out=tmp_path, progress=False)
    assert os.path.exists(tmp_path / "report.md") and os.path.exists(tmp_path / "mlp_curves_K10.png")
    assert doc["results"]["sun"]["10"]["wmmse"] == pytest.approx(rp.SUN_WMMSE[10], rel=0.05)


def test_unrolled_verdicts_by_hand():
    run = dict(continuous=100.8, binarised=100.9, seeds=[0, 1, 2],
               runs=dict(continuous=[100.7, 100.8, 100.9], binarised=[100.8, 100.9, 101.0]))
    row = dict(converged=100.3, initial=[99.2, 99.2, 99.2], run=run)
    (line,) = rp.unrolled_verdicts("10", row, 100.0)
    # binarised is the higher mean: 100.9 ± t(2)·0.1/√3 = ± 0.25, lower end 100.65 ≥ 100
    assert "100.90 ± 0.25 % of WMMSE (binarised, 3 seed(s))" in line and "**reached (beyond noise)**" in line
    assert f"{100 * 100.9 / 100.3:.2f} % of converged WMMSE (**past**" in line and "untrained" in line
    row = dict(row, converged=101.5)
    assert "(**below** WMMSE's local optimum)" in rp.unrolled_verdicts("10", row, 100.0)[0]
    low = dict(row, run=dict(run, continuous=99.0, binarised=99.1, runs=dict(continuous=[99.0] * 3,
                                                                               binarised=[99.0, 99.1, 99.2])))
    assert "**not reached**" in rp.unrolled_verdicts("10", low, 100.0)[0]
    with pytest.raises(ValueError, match="UnrolledConfig: layers"):
        rp.UnrolledConfig(layers=0)


def test_stuck_flags_a_policy_held_inside_the_corner():
    # RL at K = 20 in the full run: the barrier keeps the continuous score 1.3 points below max power, the
    # binarised one is exactly max power — stuck; a learning run is not
    runs = dict(rl=dict(seeds=[0, 1], runs=dict(continuous=[38.1, 38.1], binarised=[39.4, 39.4])),
                unsupervised=dict(seeds=[0, 1], runs=dict(continuous=[88.7, 88.6], binarised=[89.0, 89.1])),
                half=dict(seeds=[0, 1], runs=dict(continuous=[39.5, 80.0], binarised=[45.0, 85.0])))
    assert rp.stuck(runs, 39.4) == ["rl (seed 0)", "rl (seed 1)", "half (seed 0)"]
    row = dict(modes=dict(rl=dict(runs["rl"], continuous=38.1, binarised=39.4)), max_power=39.4, converged=100.3)
    lines = rp.sun_verdicts("20", row, dict(sun_dnn={}, teacher_goal=100.0))
    assert any(line.startswith("K = 20: STUCK") and "rl (seed 0)" in line for line in lines)
