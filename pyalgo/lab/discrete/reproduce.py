"""Reproduction of the ReinMax paper's experiments at laptop scale: `pyalgo reproduce discrete`.

For ReinMax, the baselines ST, ST-GS, GST-1.0 and GR-MCK, and ReinMax's variance-reduced variants
ReinMax-Rao and ReinMax-CV (Wang & Bui 2026) (`pyalgo.discrete.ESTIMATORS`):

1. polynomial programming (§3.1, `poly`): the exact expected loss at the end of training, and the
   official script's number (the mean minibatch loss of the last epoch);
2. the categorical VAE (§3.2, `vae`) on binarised scikit-learn digits (MNIST is not shipped): the
   train −ELBO of the last epoch, and a single-sample test −ELBO;
3. at 8×4, the paper's gradient-accuracy analysis: relative bias, relative std and cosine of the
   estimators' draws against the gradient enumerated over every code, for the VAE at
   initialisation and after training with ReinMax;
4. bias and variance against the exact gradient on synthetic 8×4 problems (`bias`, quadratic and MLP
   objectives at τ = 1 and 1.5): the comparison of the "Beyond ReinMax" paper.

Every run (setting, estimator, seed) is an independent job seeded by its seed alone (network
initialisation, θ, data order and every estimator draw), so results do not depend on the workers.
GR-MCK dominates the cost (its backward regenerates K conditional Gumbel draws per row); the quick
preset uses fewer draws, which changes GR-MCK's variance but not its bias.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from pyalgo.discrete import ESTIMATORS

from ..harness import Preset, Runtime, mean_std
from ..harness.config import Validated
from . import gradients, poly, vae
from .report import STATES, render

__all__ = ["TITLE", "Config", "PolyConfig", "VAEConfig", "BiasConfig", "run", "render", "OFFICIAL_VAE"]

TITLE = "ReinMax reproduction: polynomial programming and categorical VAE"
WHERE = "pyalgo.lab.discrete.reproduce"
NAMES = tuple(ESTIMATORS)
# The official ReinMax (lr, τ, optimiser) per VAE setting C×L, from `mnist_vae/reinmax_C_L.sh`.
OFFICIAL_VAE = {"8x4": (5e-4, 1.3, "adam"), "4x24": (5e-4, 1.5, "radam"), "8x16": (7e-4, 1.5, "radam"),
                "16x12": (7e-4, 1.5, "radam")}
# The paper's protocols, for the report's comparison with this run's scale.
GRADIENT_SETTING = (8, 4)    # (C, L) of the gradient analysis
PARTS = ("poly", "vae", "bias")
REINMAX_TAU = ("reinmax", "reinmax_cv")   # the estimators run at ReinMax's official τ (VAE)
# Extra rows of the bias table: ReinMax-CV at the setting of its authors' gradient analysis (η = 1, τ₂ = 0.1).
BIAS_VARIANTS = tuple(v for v in (("reinmax_cv", (("eta", 1.0), ("tau2", 0.1))),) if v[0] in ESTIMATORS)
PAPER = {"poly": {"latent": 128, "steps": 8000, "seeds": 10},
         "vae": {"dataset": "MNIST", "train_images": 60000, "pixels": 784, "batch": 100, "epochs": 160, "seeds": 10},
         "gr_draws": ESTIMATORS["gumbel_rao"].defaults["k"]}


def _check(where: str, cfg: Any, counts: Tuple[str, ...], positive: Tuple[str, ...] = ()) -> None:
    for name in counts:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}.{name} must be an int >= 1, got {value!r}")
    for name in positive:
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{where}.{name} must be > 0, got {getattr(cfg, name)!r}")
    if not getattr(cfg, "seeds", True):
        raise ValueError(f"{where}.seeds must not be empty")
    unknown = [e for e in cfg.estimators if e not in ESTIMATORS]
    if not cfg.estimators or unknown:
        raise ValueError(f"{where}.estimators must be a non-empty subset of {NAMES}, got {cfg.estimators!r}")


@dataclass(frozen=True)
class PolyConfig(Preset, Validated):
    """Polynomial programming; the defaults are the official script's. θ ∈ R^{latent×2} starts
    U(−init, init); loss mean_l |z_l − target|^p per p in `ps`; Adam (lr) on minibatches of `batch`
    draws for steps_per_epoch × epochs steps. ReinMax uses reinmax_tau, the others baseline_tau (the
    released code's default: it has run scripts for ReinMax only); GR-MCK draws gr_draws. The
    stored curves keep about curve_points points."""
    ps: tuple = (1.5, 2.0, 3.0)
    latent: int = 128
    batch: int = 64
    lr: float = 1e-3
    steps_per_epoch: int = 200
    epochs: int = 40
    seeds: tuple = tuple(range(10))
    estimators: tuple = NAMES
    reinmax_tau: float = 1.0
    baseline_tau: float = 1.0
    gr_draws: int = PAPER["gr_draws"]
    target: float = 0.45
    init: float = 0.01
    curve_points: int = 400

    def __post_init__(self):
        _check(f"{WHERE}.PolyConfig", self, ("latent", "batch", "steps_per_epoch", "epochs", "gr_draws",
                                             "curve_points"), ("lr", "reinmax_tau", "baseline_tau", "init"))
        if not self.ps or any(not p > 0 for p in self.ps):
            raise ValueError(f"{WHERE}.PolyConfig.ps must be a non-empty tuple of numbers > 0, got {self.ps!r}")

    @classmethod
    def full(cls) -> "PolyConfig":
        return cls()

    @classmethod
    def quick(cls) -> "PolyConfig":
        # Loss and Adam are separable over the latents: fewer latents only make the averaged loss
        # noisier. Fewer GR-MCK draws change its variance, not its bias.
        return cls(latent=8, steps_per_epoch=100, epochs=4, seeds=(0, 1), gr_draws=10)

    @classmethod
    def tiny(cls) -> "PolyConfig":
        return cls(ps=(2.0,), latent=8, batch=16, lr=0.05, steps_per_epoch=50, epochs=2, seeds=(0,), gr_draws=4)

    def tau(self, name: str) -> float:
        return self.reinmax_tau if name == "reinmax" else self.baseline_tau


@dataclass(frozen=True)
class VAEConfig(Preset, Validated):
    """The categorical VAE; the architecture, batch and the per-setting lr / ReinMax τ / optimiser are
    the official MNIST-VAE scripts' (`OFFICIAL_VAE`), the baselines use baseline_tau. Data: the
    digits with pixel >= threshold, split by a permutation seeded with split_seed into train_size
    training images and the rest for test. The gradient analysis (8×4 only; needs ReinMax) uses the
    first grad_images training images and grad_samples draws per image."""
    configs: tuple = ((8, 4), (4, 24), (8, 16), (16, 12))   # (C, L)
    epochs: int = 160
    seeds: tuple = tuple(range(10))
    estimators: tuple = NAMES
    batch: int = 100
    train_size: int = 1500
    threshold: float = 8.0
    split_seed: int = 0
    gr_draws: int = PAPER["gr_draws"]
    baseline_tau: float = 1.0
    grad_images: int = 16
    grad_samples: int = 1024
    grad_seed: int = 0

    def __post_init__(self):
        _check(f"{WHERE}.VAEConfig", self, ("epochs", "batch", "train_size", "gr_draws", "grad_samples"),
               ("baseline_tau",))
        unknown = [c for c in self.configs if setting(*c) not in OFFICIAL_VAE]
        if not self.configs or unknown:
            raise ValueError(f"{WHERE}.VAEConfig.configs must be (C, L) pairs among "
                             f"{', '.join(OFFICIAL_VAE)}, got {self.configs!r}")
        if isinstance(self.grad_images, bool) or not isinstance(self.grad_images, int) or self.grad_images < 0:
            raise ValueError(f"{WHERE}.VAEConfig.grad_images must be an int >= 0, got {self.grad_images!r}")
        if not 0 < self.threshold <= vae.PIXEL_MAX:  # else every image binarises to all ones or all zeros
            raise ValueError(f"{WHERE}.VAEConfig.threshold must be in (0, {vae.PIXEL_MAX}], got {self.threshold!r}")

    @classmethod
    def full(cls) -> "VAEConfig":
        return cls()

    @classmethod
    def quick(cls) -> "VAEConfig":
        return cls(epochs=5, seeds=(0, 1), gr_draws=10, grad_images=4, grad_samples=1024)

    @classmethod
    def tiny(cls) -> "VAEConfig":
        return cls(configs=((8, 4),), epochs=2, seeds=(0,), gr_draws=4, grad_images=1, grad_samples=32)

    def settings(self, C: int, L: int, name: str) -> Tuple[float, float, str]:
        """(lr, τ, optimiser): the official ReinMax values; baselines keep lr and optimiser. ReinMax-CV is
        ReinMax plus a control variate and keeps ReinMax's τ too, as its authors do."""
        lr, tau, opt = OFFICIAL_VAE[setting(C, L)]
        return lr, (tau if name in REINMAX_TAU else self.baseline_tau), opt


@dataclass(frozen=True)
class BiasConfig(Preset, Validated):
    """Bias and variance against the exact gradient on synthetic 8×4 problems (`gradients`): `problems`
    problems per kind (seeds seed, seed + 1, ...), `draws` draws per estimator and problem, at each τ of
    `taus`. `variants` adds rows of an estimator with other options, as (name, ((option, value), ...))."""
    kinds: tuple = gradients.KINDS
    taus: tuple = (1.0, 1.5)
    problems: int = 3
    draws: int = 65536
    seed: int = 0
    estimators: tuple = NAMES
    gr_draws: int = PAPER["gr_draws"]
    variants: tuple = ()

    def __post_init__(self):
        _check(f"{WHERE}.BiasConfig", self, ("problems", "draws", "gr_draws"))
        unknown = sorted(set(self.kinds) - set(gradients.KINDS))
        if not self.kinds or unknown:
            raise ValueError(f"{WHERE}.BiasConfig.kinds must be a non-empty subset of {gradients.KINDS}, "
                             f"got {self.kinds!r}")
        if not self.taus or any(not (isinstance(t, (int, float)) and t > 0) for t in self.taus):
            raise ValueError(f"{WHERE}.BiasConfig.taus must be a non-empty tuple of numbers > 0, got {self.taus!r}")
        for variant in self.variants:
            if not (isinstance(variant, (tuple, list)) and len(variant) == 2 and variant[0] in ESTIMATORS):
                raise ValueError(f"{WHERE}.BiasConfig.variants must hold (estimator, ((option, value), ...)) "
                                 f"pairs with an estimator among {NAMES}, got {variant!r}")

    @classmethod
    def full(cls) -> "BiasConfig":
        return cls(variants=BIAS_VARIANTS)

    @classmethod
    def quick(cls) -> "BiasConfig":
        return cls(draws=4096, gr_draws=100, variants=BIAS_VARIANTS)

    @classmethod
    def tiny(cls) -> "BiasConfig":
        return cls(taus=(1.0,), problems=1, draws=64, gr_draws=4)

    def rows(self) -> List[Tuple[str, Dict[str, Any]]]:
        """(estimator, options) per row: every estimator with its defaults, then the variants."""
        rows = [(name, _options(name, self.gr_draws)) for name in self.estimators]
        return rows + [(name, {**_options(name, self.gr_draws), **dict(opts)}) for name, opts in self.variants
                       if name in self.estimators]


@dataclass(frozen=True)
class Config(Preset, Validated):
    """The experiments (`parts`: which of "poly", "vae", "bias" run; "vae" includes the gradient
    analysis of the VAE, "bias" is the synthetic bias/variance table)."""
    poly: PolyConfig = field(default_factory=PolyConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    bias: BiasConfig = field(default_factory=BiasConfig)
    parts: tuple = ("poly", "vae", "bias")

    def __post_init__(self):
        unknown = sorted(set(self.parts) - set(PARTS))
        if not self.parts or unknown:
            raise ValueError(f"{WHERE}.Config.parts must be a non-empty subset of {PARTS}, got {self.parts!r}")

    @classmethod
    def tiny(cls) -> "Config":
        return cls(PolyConfig.tiny(), VAEConfig.tiny(), BiasConfig.tiny())

    @classmethod
    def quick(cls) -> "Config":
        return cls(PolyConfig.quick(), VAEConfig.quick(), BiasConfig.quick())

    @classmethod
    def full(cls) -> "Config":
        return cls(PolyConfig.full(), VAEConfig.full(), BiasConfig.full())


def setting(C: int, L: int) -> str:
    """The key of a VAE setting: "8x4"."""
    return f"{C}x{L}"


def _options(name: str, draws: int) -> Dict[str, int]:
    """The estimator's number of Gumbel draws where it takes one (GR-MCK's K)."""
    return {"k": draws} if "k" in ESTIMATORS[name].defaults else {}


# -- jobs (module-level: they run in worker processes) -----------------------------------------------

def _poly_job(name: str, p: float, seed: int, cfg: PolyConfig) -> Dict[str, Any]:
    return poly.train(name, p, seed, latent=cfg.latent, batch=cfg.batch, lr=cfg.lr,
                      steps_per_epoch=cfg.steps_per_epoch, epochs=cfg.epochs, tau=cfg.tau(name), target=cfg.target,
                      init=cfg.init, curve_points=cfg.curve_points, **_options(name, cfg.gr_draws))


def _vae_job(C: int, L: int, name: str, seed: int, cfg: VAEConfig, data, keep_states: bool) -> Dict[str, Any]:
    lr, tau, opt = cfg.settings(C, L, name)
    return vae.train(C, L, name, seed, data, lr=lr, tau=tau, optimiser=opt, epochs=cfg.epochs, batch=cfg.batch,
                     keep_states=keep_states, **_options(name, cfg.gr_draws))


def _gradient_job(state: dict, images, name: str, tau: float, seeds: List[int], cfg: VAEConfig) -> Dict[str, Any]:
    model = vae.build(*GRADIENT_SETTING, images.shape[1], state=state)
    return vae.gradient_accuracy(model, images, name, tau, cfg.grad_samples, seeds, **_options(name, cfg.gr_draws))


# -- the experiments ----------------------------------------------------------------------------------

def _summary(runs: List[Dict[str, Any]], *keys: str) -> Dict[str, Any]:
    """Per key: the runs' values (one per seed), their mean and sample std."""
    out: Dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in runs]
        out[key], (out[f"{key}_mean"], out[f"{key}_std"]) = values, mean_std(values)
    return out


def run_poly(cfg: PolyConfig, runtime: Runtime) -> Dict[str, Any]:
    """Every (p, estimator, seed); per p and estimator the runs and their mean ± std."""
    jobs = {f"{p:g}/{name}/{s}": (name, p, s, cfg) for p in cfg.ps for name in cfg.estimators for s in cfg.seeds}
    res = runtime.map(_poly_job, jobs, "discrete: polynomial programming")
    out: Dict[str, Any] = {}
    for p in cfg.ps:
        out[f"{p:g}"] = per = {}
        for name in cfg.estimators:
            runs = [res[f"{p:g}/{name}/{s}"] for s in cfg.seeds]
            per[name] = {"tau": cfg.tau(name), **_summary(runs, "final", "batch_loss"),
                         "curves": [r["curve"] for r in runs], "initial": float(np.mean([r["curve"][0] for r in runs]))}
    steps = cfg.steps_per_epoch * cfg.epochs
    stride = poly.curve_stride(steps, cfg.curve_points)
    return {"p": out, "optimum": {f"{p:g}": abs(cfg.target) ** p for p in cfg.ps},
            "curve_steps": sorted(set(range(0, steps + 1, stride)) | {steps})}


def run_vae(cfg: VAEConfig, runtime: Runtime) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """Every (setting, estimator, seed): per setting and estimator the runs and their mean ± std. Also
    returns what the gradient analysis needs: the first training images and the initial and trained
    weights of ReinMax's 8×4 run on the first seed (None without such a run)."""
    data = vae.load_binarised_digits(cfg.threshold, cfg.train_size, cfg.split_seed)
    kept = f"{setting(*GRADIENT_SETTING)}/reinmax/{cfg.seeds[0]}"
    jobs = {f"{setting(C, L)}/{name}/{s}": (C, L, name, s, cfg, data, f"{setting(C, L)}/{name}/{s}" == kept)
            for C, L in cfg.configs for name in cfg.estimators for s in cfg.seeds}
    res = runtime.map(_vae_job, jobs, "discrete: categorical VAE")
    analysis = {"states": res[kept].pop("states"), "images": data[0][:cfg.grad_images]} if kept in res else None
    out: Dict[str, Any] = {}
    for C, L in cfg.configs:
        out[setting(C, L)] = per = {}
        for name in cfg.estimators:
            runs = [res[f"{setting(C, L)}/{name}/{s}"] for s in cfg.seeds]
            lr, tau, opt = cfg.settings(C, L, name)
            per[name] = {"lr": lr, "tau": tau, "optimiser": opt, **_summary(runs, "train", "test"),
                         "curves": [r["curve"] for r in runs]}
    train, test = data
    data_info = {"train": train.shape[0], "test": test.shape[0], "pixels": train.shape[1], "pixel_max": vae.PIXEL_MAX}
    return {"settings": out, "data": data_info, "hidden": list(vae.HIDDEN)}, analysis


def run_gradients(cfg: VAEConfig, analysis: Dict[str, Any], runtime: Runtime) -> Dict[str, Any]:
    """The gradient analysis at 8×4 for ReinMax (its official τ, and τ = 1: the exact second-order
    estimator) and the baselines, at initialisation and after ReinMax training."""
    tau_rm = cfg.settings(*GRADIENT_SETTING, "reinmax")[1]
    rows = [("reinmax", tau_rm)] + ([("reinmax", 1.0)] if tau_rm != 1.0 else [])
    rows += [(name, cfg.settings(*GRADIENT_SETTING, name)[1]) for name in cfg.estimators if name != "reinmax"]
    images = analysis["images"]
    jobs = {f"{state}/{e}": (analysis["states"][state], images, name, tau,
                             [cfg.grad_seed * 1_000_003 + 1000 * e + i for i in range(len(images))], cfg)
            for state in STATES for e, (name, tau) in enumerate(rows)}
    res = runtime.map(_gradient_job, jobs, "discrete: gradient analysis")
    return {"setting": list(GRADIENT_SETTING),
            "rows": {state: [dict(res[f"{state}/{e}"], name=name, tau=tau) for e, (name, tau) in enumerate(rows)]
                     for state in STATES}}


def _bias_job(name: str, options: Dict[str, Any], tau: float, kind: str, cfg: BiasConfig) -> Dict[str, Any]:
    return gradients.measure(name, options, tau, kind, cfg.problems, cfg.draws, cfg.seed)


def run_bias(cfg: BiasConfig, runtime: Runtime) -> Dict[str, Any]:
    """Every (kind, row, τ) of the synthetic bias/variance table."""
    rows = cfg.rows()
    jobs = {f"{kind}/{r}/{tau:g}": (name, options, tau, kind, cfg)
            for kind in cfg.kinds for r, (name, options) in enumerate(rows) for tau in cfg.taus}
    res = runtime.map(_bias_job, jobs, "discrete: bias and variance (synthetic)")
    return {"setting": [gradients.C, gradients.L],
            "rows": [{"name": name, "options": options} for name, options in rows],
            "kinds": {kind: [{f"{tau:g}": res[f"{kind}/{r}/{tau:g}"] for tau in cfg.taus} for r in range(len(rows))]
                      for kind in cfg.kinds}}


def run(cfg: Config, runtime: Runtime) -> Dict[str, Any]:
    """The parts of `cfg` in turn, each one batch of independent jobs; the paper's protocol and the
    registry's labels and defaults are copied in for the report."""
    results: Dict[str, Any] = {"paper": PAPER, "official_vae": {k: list(v) for k, v in OFFICIAL_VAE.items()},
                               "labels": {name: e.label for name, e in ESTIMATORS.items()},
                               "defaults": {name: dict(e.defaults) for name, e in ESTIMATORS.items()},
                               "poly": None, "vae": None, "gradients": None, "bias": None}
    if "poly" in cfg.parts:
        with runtime.timed("poly"):
            results["poly"] = run_poly(cfg.poly, runtime)
    if "bias" in cfg.parts:
        with runtime.timed("bias"):
            results["bias"] = run_bias(cfg.bias, runtime)
    if "vae" in cfg.parts:
        with runtime.timed("vae"):
            results["vae"], analysis = run_vae(cfg.vae, runtime)
        if analysis is not None and cfg.vae.grad_images > 0:
            with runtime.timed("gradient analysis"):
                results["gradients"] = run_gradients(cfg.vae, analysis, runtime)
    return results
