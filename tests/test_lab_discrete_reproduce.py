"""The ReinMax reproduction (pyalgo.lab.discrete.reproduce) at the tiny preset through the harness: files,
tables, finite numbers, the paper's claims at a wide margin, a report rendered from results.json
alone, results independent of the worker count, the presets and their validation."""
import dataclasses
import json
import math

import numpy as np
import pytest

from pyalgo.discrete import ESTIMATORS
from pyalgo.lab import harness
from pyalgo.lab.discrete import reproduce as rp
from pyalgo.lab.harness.jobs import Runtime

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = ["poly.png", "vae_gradient_accuracy.png", "vae_train_elbo.png"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("discrete_reproduce")
    return out, harness.reproduce("discrete", preset="tiny", out=out, progress=False, workers=1)


def _finite(x):
    return all(math.isfinite(v) for v in np.ravel(np.asarray(x, dtype=np.float64)))


def test_files_and_finite_numbers(tiny_run):
    out, doc = tiny_run
    assert sorted(p.name for p in out.iterdir()) == sorted(["report.md", "results.json", *PLOTS])
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == PNG
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.startswith(f"# {rp.TITLE}") and "Preset **tiny**" in report
    assert "| ReinMax |" in report and "Gradient accuracy" in report
    assert "spec" not in report and "run(quick" not in report and "DESIGN.md" not in report
    for line in report.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf") or "nan ±" in c for c in cells), line

    res = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    assert res["paper"] == rp.PAPER and res["labels"] == {n: e.label for n, e in ESTIMATORS.items()}
    for name, r in res["poly"]["p"]["2"].items():
        assert _finite(r["curves"]) and _finite(r["final"]), name
        assert len(r["curves"][0]) == len(res["poly"]["curve_steps"])
    for name, r in res["vae"]["settings"]["8x4"].items():
        assert _finite(r["curves"]) and _finite(r["train"]) and _finite(r["test"]), name
    for state, rows in res["gradients"]["rows"].items():
        for r in rows:
            assert _finite([r["rel_bias"], r["rel_std"], r["cosine"]]), (state, r["name"])
            assert -1.0 <= r["cosine"] <= 1.0
            assert (r["exact_bias"] is None) == (ESTIMATORS[r["name"]].given_sample is None)
    bias = res["bias"]
    assert [r["name"] for r in bias["rows"]] == list(ESTIMATORS)
    for kind, per_row in bias["kinds"].items():
        for row, cells in zip(bias["rows"], per_row):
            for cell in cells.values():
                assert _finite([cell["bias"], cell["std"], cell["rmse"], cell["cos"]]), (kind, row)
                assert cell["exact_mean"] == (ESTIMATORS[row["name"]].given_sample is not None)
    assert "Bias and variance against the exact gradient" in (out / "report.md").read_text(encoding="utf-8")


def test_training_works(tiny_run):
    res = tiny_run[1]["results"]
    poly = res["poly"]["p"]["2"]
    # p = 2: the optimum is π[0] -> 0 (loss 0.45² = 0.2025) from 0.2525 at θ ≈ 0. ReinMax is exact for
    # this quadratic and must get well below the start; ST's expected gradient vanishes at
    # π[0] = 0.45 (loss 0.2475), so it must stay above ReinMax (the paper's claim, with a wide margin).
    assert poly["reinmax"]["initial"] == pytest.approx(0.2525, abs=1e-3)
    assert res["poly"]["optimum"]["2"] == pytest.approx(0.2025)
    assert poly["reinmax"]["final_mean"] < 0.22
    assert poly["st"]["final_mean"] > poly["reinmax"]["final_mean"] + 0.01
    # The VAE's −ELBO falls from the first epoch to the second for every estimator.
    for name, r in res["vae"]["settings"]["8x4"].items():
        assert r["curves"][0][-1] < r["curves"][0][0] - 1.0, name
    # Enumerated vs sampled gradients: the estimators point the right way on average.
    for r in res["gradients"]["rows"]["initial"]:
        assert r["cosine"] > 0.5, r["name"]
    # ReinMax at its official τ and at τ = 1, then every baseline
    assert [(r["name"], r["tau"]) for r in res["gradients"]["rows"]["trained"]] == \
        [("reinmax", 1.3), ("reinmax", 1.0)] + [(n, 1.3 if n == "reinmax_cv" else 1.0) for n in ESTIMATORS
                                                if n != "reinmax"]


def test_bias_table_against_exact_values():
    """The synthetic 8x4 table (three problems per objective): ReinMax at τ = 1 is exact for a quadratic f
    (its expectation is the trapezoid rule, exact for quadratics), so its exact bias is 0 up to
    rounding; at τ = 1.5 it is not. ST and GST-1.0 are biased. The values are regression values of
    exact expectations (no sampling noise): 0.121 for ST and 0.146 for ReinMax at τ = 1.5 are also
    what an independent implementation of the same problems gives."""
    from pyalgo.lab.discrete import gradients

    def bias(name, tau):
        return gradients.measure(name, {}, tau, "quadratic", 3, 256, 0)["bias"]

    assert bias("reinmax", 1.0) < 1e-12
    assert bias("reinmax", 1.5) == pytest.approx(0.146, abs=1e-3)
    assert bias("st", 1.0) == pytest.approx(0.121, abs=1e-3)
    assert bias("gst", 1.0) > 0.1
    mlp = gradients.measure("reinmax", {}, 1.0, "mlp", 1, 64, 0)
    assert 0 < mlp["bias"] < 0.2 and mlp["cos"] > 0.95 and mlp["exact_mean"]
    with pytest.raises(ValueError, match="kind must be one of"):
        gradients.problem("cubic", 0)


def test_report_is_rendered_from_results_only(tiny_run):
    out, _ = tiny_run
    before = (out / "report.md").read_bytes()
    for name in ["report.md", *PLOTS]:
        (out / name).unlink()
    harness.render(out)
    assert (out / "report.md").read_bytes() == before
    assert all((out / name).is_file() for name in PLOTS)


def test_reproducible_and_independent_of_the_workers(tmp_path):
    cfg = rp.PolyConfig(ps=(1.5,), latent=4, batch=8, steps_per_epoch=10, epochs=1, seeds=(3, 4),
                        estimators=("reinmax", "gumbel_softmax", "gumbel_rao"), gr_draws=2)
    a = rp.run_poly(cfg, Runtime(out=tmp_path, workers=1, progress=False))
    b = rp.run_poly(cfg, Runtime(out=tmp_path, workers=1, progress=False))
    parallel = Runtime(out=tmp_path, workers=2, progress=False)
    try:
        c = rp.run_poly(cfg, parallel)
        vae_cfg = dataclasses.replace(rp.VAEConfig.tiny(), epochs=1, seeds=(0, 1), estimators=("reinmax", "st"))
        v_parallel, _ = rp.run_vae(vae_cfg, parallel)
    finally:
        parallel.close()
    v_serial, _ = rp.run_vae(vae_cfg, Runtime(out=tmp_path, workers=1, progress=False))
    for name in cfg.estimators:
        assert a["p"]["1.5"][name]["curves"] == b["p"]["1.5"][name]["curves"] == c["p"]["1.5"][name]["curves"]
    assert v_parallel == v_serial


def test_presets_keep_the_old_settings():
    quick, full, tiny = rp.Config.quick(), rp.Config.full(), rp.Config.tiny()
    assert quick.poly == rp.PolyConfig(latent=8, steps_per_epoch=100, epochs=4, seeds=(0, 1), gr_draws=10)
    assert quick.vae == rp.VAEConfig(epochs=5, seeds=(0, 1), gr_draws=10, grad_images=4, grad_samples=1024)
    assert (full.poly.latent, full.poly.steps_per_epoch * full.poly.epochs, full.poly.seeds, full.poly.gr_draws) == \
        (128, 8000, tuple(range(10)), 100)
    assert (full.vae.epochs, full.vae.seeds, full.vae.configs, full.vae.grad_images) == \
        (160, tuple(range(10)), ((8, 4), (4, 24), (8, 16), (16, 12)), 16)
    assert tiny.poly == rp.PolyConfig(ps=(2.0,), latent=8, batch=16, lr=0.05, steps_per_epoch=50, epochs=2, seeds=(0,),
                                      gr_draws=4)
    assert tiny.vae == rp.VAEConfig(configs=((8, 4),), epochs=2, seeds=(0,), gr_draws=4, grad_images=1, grad_samples=32)
    assert quick.poly.estimators == quick.vae.estimators == quick.bias.estimators == tuple(ESTIMATORS)
    assert (full.bias.draws, full.bias.problems, full.bias.taus, tiny.bias.draws) == (65536, 3, (1.0, 1.5), 64)
    seeded = quick.with_seed(5)
    assert seeded.poly.seeds == seeded.vae.seeds == (5, 6) and seeded.vae.split_seed == 0
    assert harness.override(quick, ["vae.epochs=3", "poly.estimators=['reinmax']"]).vae.epochs == 3


@pytest.mark.parametrize("make,match", [
    (lambda: rp.Config(parts=("poly", "listops")), r"Config.parts must be a non-empty subset"),
    (lambda: rp.PolyConfig(estimators=("ReinMax",)), r"PolyConfig.estimators must be a non-empty subset"),
    (lambda: rp.PolyConfig(seeds=()), r"PolyConfig.seeds must not be empty"),
    (lambda: rp.PolyConfig(epochs=0), r"PolyConfig.epochs must be an int >= 1"),
    (lambda: rp.PolyConfig(lr=0.0), r"PolyConfig.lr must be > 0"),
    (lambda: rp.PolyConfig(ps=()), r"PolyConfig.ps must be a non-empty tuple"),
    (lambda: rp.VAEConfig(configs=((8, 5),)), r"VAEConfig.configs must be \(C, L\) pairs among 8x4"),
    (lambda: rp.VAEConfig(grad_images=-1), r"VAEConfig.grad_images must be an int >= 0"),
    (lambda: rp.BiasConfig(kinds=("cubic",)), r"BiasConfig.kinds must be a non-empty subset"),
    (lambda: rp.BiasConfig(taus=(0.0,)), r"BiasConfig.taus must be a non-empty tuple of numbers > 0"),
    (lambda: rp.BiasConfig(draws=0), r"BiasConfig.draws must be an int >= 1"),
    (lambda: rp.BiasConfig(variants=(("ReinMax", ()),)), r"BiasConfig.variants must hold"),
])
def test_config_validation_names_the_field(make, match):
    with pytest.raises(ValueError, match=match):
        make()
