"""Reproduction of the ReinMax paper's experiments at laptop scale (shared/specs/reinmax.md §3.1, §3.2).

`run(quick=True)` trains, for ReinMax and the baselines ST, ST-GS, GST-1.0 and GR-MCK:

1. **Polynomial programming** (§3.1, `poly/poly_programming.py`): 128 binary latents, θ ∈ R^{128×2}
   initialised U(−0.01, 0.01), loss mean_l |z_l − 0.45|^p with z_l = D_l[0], batch 64, Adam lr 1e-3,
   p ∈ {1.5, 2, 3}. Reported: the exact expected loss E_{D~softmax θ}[loss] at the end of training
   (noise-free), mean ± std over seeds, and the official script's number (the average batch loss of
   the last epoch) for comparison.
2. **Categorical VAE** (§3.2, `mnist_vae/`) on binarised sklearn digits (8×8 = 64 pixels, MNIST is not
   shipped): encoder 64-512-256-(L·C), decoder (L·C)-256-512-64 with sigmoid + BCE, KL
   Σ q log q + L log C with q = softmax(logits), batch 100, the official ReinMax lr/τ/optimiser per
   C×L. Reported: train −ELBO averaged over the last epoch, mean ± std over seeds; and at 8×4 the
   paper's gradient-accuracy analysis (relative bias, relative std, cosine of 1024 estimator draws
   against the gradient enumerated over all 8^4 = 4096 codes, `pyalgo.discrete.diagnostics`).

Outputs in `out_dir`: `report.md` (Markdown tables and what was observed) and PNG plots. Every run
(estimator, setting, seed) is seeded on its own — `torch.manual_seed(seed)` for network
initialisation, a `torch.Generator` seeded with `seed` for θ, data order and every estimator draw —
so results do not depend on which other runs were done or in which order.

"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import ESTIMATORS
from . import diagnostics

__all__ = ["run", "run_poly", "run_vae", "run_gradient_analysis", "PolyConfig", "VAEConfig",
           "ESTIMATOR_LABELS", "OFFICIAL_VAE_SETTINGS"]

ESTIMATOR_LABELS = ("ReinMax", "ST", "ST-GS", "GST-1.0", "GR-MCK")

# Official ReinMax settings per VAE config C×L: (lr, tau, optimiser) from `mnist_vae/reinmax_C_L.sh`.
OFFICIAL_VAE_SETTINGS: Dict[Tuple[int, int], Tuple[float, float, str]] = {
    (8, 4): (5e-4, 1.3, "adam"),
    (4, 24): (5e-4, 1.5, "radam"),
    (8, 16): (7e-4, 1.5, "radam"),
    (16, 12): (7e-4, 1.5, "radam"),
}

# The released experiment code has scripts for ReinMax only. Its argparse default temperature is
# 1.0 (both poly_programming.py and gumbel_softmax_vae.py), which is what a baseline run without
# extra flags uses; the paper's searched baseline temperatures are not in the released code.
BASELINE_TAU = 1.0
GR_DRAWS = 100  # `rao_gumbel` default repeats in the paper code


def _estimator_call(label: str, logits: torch.Tensor, tau: float, generator: torch.Generator,
                    gr_draws: int = GR_DRAWS) -> Tuple[torch.Tensor, torch.Tensor]:
    """One draw D ~ Cat(softmax(logits)) along the last dim with `label`'s backward.

    Returns (y, q): y the one-hot sample carrying the estimator's gradient, q = softmax(logits)
    (ReinMax's y_soft output; the plain softmax for the others, as in the paper code), both in
    `logits.dtype`."""
    x = logits
    if label == "ReinMax":
        y, q = ESTIMATORS["reinmax"](x, tau, generator=generator)
    else:
        if label == "ST":
            y = ESTIMATORS["st"](x, tau, generator=generator)
        elif label == "ST-GS":
            y = ESTIMATORS["gumbel_softmax"](x, tau, hard=True, generator=generator)
        elif label == "GST-1.0":
            y = ESTIMATORS["gst"](x, tau, gap=1.0, generator=generator)
        elif label == "GR-MCK":
            y = ESTIMATORS["gumbel_rao"](x, tau, k=gr_draws, generator=generator)
        else:
            raise ValueError(f"unknown estimator {label!r}; expected one of {ESTIMATOR_LABELS}")
        q = x.softmax(-1)
    return y.to(logits.dtype), q.to(logits.dtype)


def _estimator_for_stats(label: str, tau: float, gr_draws: int = GR_DRAWS):
    """(callable, kwargs) in the form `diagnostics.gradient_stats` takes."""
    if label == "ReinMax":
        return ESTIMATORS["reinmax"], dict(tau=tau)
    if label == "ST":
        return ESTIMATORS["st"], dict(tau=tau)
    if label == "ST-GS":
        return ESTIMATORS["gumbel_softmax"], dict(tau=tau, hard=True)
    if label == "GST-1.0":
        return ESTIMATORS["gst"], dict(tau=tau, gap=1.0)
    if label == "GR-MCK":
        return ESTIMATORS["gumbel_rao"], dict(tau=tau, k=gr_draws)
    raise ValueError(f"unknown estimator {label!r}")


def _mean_std(values: Sequence[float]) -> Tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def _fmt(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _bar(total: int, desc: str, enabled: bool):
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True,
                mininterval=0.5)


# ============================================================================================
# 1. Polynomial programming (§3.1)
# ============================================================================================

@dataclass
class PolyConfig:
    """Settings of the polynomial-programming experiment; defaults are the official script's."""
    ps: Tuple[float, ...] = (1.5, 2.0, 3.0)
    latent: int = 128
    batch: int = 64
    lr: float = 1e-3
    steps_per_epoch: int = 200
    epochs: int = 40
    seeds: Tuple[int, ...] = tuple(range(10))
    estimators: Tuple[str, ...] = ESTIMATOR_LABELS
    taus: Dict[str, float] = field(default_factory=lambda: {"ReinMax": 1.0})
    gr_draws: int = GR_DRAWS
    target: float = 0.45

    @classmethod
    def full(cls) -> "PolyConfig":
        return cls()

    @classmethod
    def quick(cls) -> "PolyConfig":
        # Loss and Adam are separable over the latents, so each latent's trajectory does not
        # depend on how many there are: 16 latents only make the averaged loss noisier.
        # GR-MCK's cost is rows × K; K = 10 instead of 100 keeps quick mode within its budget and
        # changes only GR-MCK's variance (every draw has the same conditional expectation), not its
        # bias.
        return cls(latent=8, steps_per_epoch=100, epochs=4, seeds=(0, 1), gr_draws=10)

    def tau(self, label: str) -> float:
        return self.taus.get(label, BASELINE_TAU)

    @property
    def steps(self) -> int:
        return self.steps_per_epoch * self.epochs


def poly_expected_loss(theta: torch.Tensor, p: float, target: float = 0.45) -> torch.Tensor:
    """E_{D~Cat(softmax θ)} mean_l |D_l[0] − target|^p, exactly: θ (L, 2) -> scalar."""
    pi0 = theta.softmax(-1)[:, 0]
    return (pi0 * abs(1.0 - target) ** p + (1.0 - pi0) * abs(target) ** p).mean()


def _train_poly(label: str, p: float, seed: int, cfg: PolyConfig, bar=None) -> dict:
    gen = torch.Generator().manual_seed(seed)
    theta = torch.empty(cfg.latent, 2, dtype=torch.float64).uniform_(-0.01, 0.01, generator=gen)
    theta.requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=cfg.lr)
    tau = cfg.tau(label)
    curve = torch.empty(cfg.steps + 1, dtype=torch.float64)
    with torch.no_grad():
        curve[0] = poly_expected_loss(theta, p, cfg.target)
    last_epoch_sum = 0.0
    for step in range(cfg.steps):
        y, _ = _estimator_call(label, theta.expand(cfg.batch, cfg.latent, 2), tau, gen, cfg.gr_draws)
        z = y[..., 0]
        loss = (z - cfg.target).abs().pow(p).mean(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            curve[step + 1] = poly_expected_loss(theta, p, cfg.target)
        if step >= cfg.steps - cfg.steps_per_epoch:
            last_epoch_sum += loss.item()
        if bar is not None and (step + 1) % 50 == 0:
            bar.update(50)
    if bar is not None:
        bar.update(cfg.steps % 50)
    if not torch.isfinite(curve).all():
        raise FloatingPointError(f"poly {label} p={p} seed={seed}: non-finite loss")
    return {"curve": curve.numpy(), "final": float(curve[-1]),
            "last_epoch_batch_loss": last_epoch_sum / cfg.steps_per_epoch}


def run_poly(cfg: PolyConfig, progress: bool = True) -> dict:
    """Trains every (p, estimator, seed); returns {p: {label: summary}} plus reference values."""
    runs = len(cfg.ps) * len(cfg.estimators) * len(cfg.seeds)
    results: dict = {}
    with _bar(runs * cfg.steps, "poly programming", progress) as bar:
        for p in cfg.ps:
            results[p] = {}
            for label in cfg.estimators:
                rs = [_train_poly(label, p, s, cfg, bar) for s in cfg.seeds]
                finals = [r["final"] for r in rs]
                batch = [r["last_epoch_batch_loss"] for r in rs]
                results[p][label] = {
                    "tau": cfg.tau(label),
                    "finals": finals,
                    "final_mean": _mean_std(finals)[0], "final_std": _mean_std(finals)[1],
                    "batch_mean": _mean_std(batch)[0], "batch_std": _mean_std(batch)[1],
                    "curves": np.stack([r["curve"] for r in rs]),
                    "initial": float(np.mean([r["curve"][0] for r in rs])),
                }
    return results


def _plot_poly(results: dict, cfg: PolyConfig, out_dir: str) -> List[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for p, per in results.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        steps = np.arange(cfg.steps + 1)
        stride = max(1, cfg.steps // 400)
        for label, r in per.items():
            c = r["curves"][:, ::stride]
            m, s = c.mean(0), c.std(0)
            line, = ax.plot(steps[::stride], m, label=f"{label} (τ={r['tau']:g})")
            ax.fill_between(steps[::stride], m - s, m + s, color=line.get_color(), alpha=0.2)
        optimum = abs(cfg.target) ** p
        ax.axhline(optimum, color="k", ls=":", lw=1, label="optimum")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"exact E[mean |z − {cfg.target}|^{p:g}]")
        ax.set_title(f"Polynomial programming, p = {p:g} ({len(cfg.seeds)} seeds, mean ± std)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out_dir, f"poly_p{p:g}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


# ============================================================================================
# 2. Categorical VAE on binarised digits (§3.2)
# ============================================================================================

@dataclass
class VAEConfig:
    """Settings of the VAE experiment. Architecture, batch size, lr/τ/optimiser follow the official
    MNIST-VAE scripts; the data set is sklearn's 8×8 digits (1500 train / 297 test images)."""
    configs: Tuple[Tuple[int, int], ...] = ((8, 4), (4, 24), (8, 16), (16, 12))  # (C, L)
    epochs: int = 160
    seeds: Tuple[int, ...] = tuple(range(10))
    estimators: Tuple[str, ...] = ESTIMATOR_LABELS
    batch: int = 100
    train_size: int = 1500
    threshold: float = 8.0  # pixel values are 0..16; x >= 8 -> 1
    split_seed: int = 0
    gr_draws: int = GR_DRAWS
    baseline_tau: float = BASELINE_TAU
    # gradient-accuracy analysis at 8×4
    grad_images: int = 16
    grad_samples: int = 1024
    grad_seed: int = 0

    @classmethod
    def full(cls) -> "VAEConfig":
        return cls()

    @classmethod
    def quick(cls) -> "VAEConfig":
        return cls(epochs=5, seeds=(0, 1), gr_draws=10, grad_images=4, grad_samples=1024)

    def settings(self, C: int, L: int, label: str) -> Tuple[float, float, str]:
        """(lr, tau, optimiser): the official ReinMax values; baselines keep lr/optimiser and use
        `baseline_tau`."""
        lr, tau, opt = OFFICIAL_VAE_SETTINGS[(C, L)]
        return lr, (tau if label == "ReinMax" else self.baseline_tau), opt


def load_binarised_digits(cfg: VAEConfig) -> Tuple[torch.Tensor, torch.Tensor]:
    """sklearn's bundled 8×8 digits binarised at `threshold`, split with a fixed permutation:
    (train (train_size, 64), test (rest, 64)) float32."""
    from sklearn.datasets import load_digits

    X = load_digits().data  # (1797, 64), values 0..16
    X = (X >= cfg.threshold).astype(np.float32)
    perm = np.random.RandomState(cfg.split_seed).permutation(len(X))
    X = torch.from_numpy(X[perm])
    return X[:cfg.train_size].contiguous(), X[cfg.train_size:].contiguous()


class CategoricalVAE(nn.Module):
    """The paper's MNIST-VAE (model/vae.py) with 64 pixels instead of 784."""

    def __init__(self, C: int, L: int, pixels: int = 64):
        super().__init__()
        self.C, self.L = C, L
        self.encoder = nn.Sequential(nn.Linear(pixels, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                     nn.Linear(256, L * C))
        self.decoder = nn.Sequential(nn.Linear(L * C, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                                     nn.Linear(512, pixels))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).view(-1, self.L, self.C)

    def bce(self, codes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x | codes) summed over pixels: codes (..., L, C), x (..., pixels) -> (...)."""
        out = self.decoder(codes.flatten(-2))
        # = BCE(sigmoid(out), x), computed stably
        return F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)

    def neg_elbo(self, x: torch.Tensor, label: str, tau: float, gen: torch.Generator,
                 gr_draws: int = GR_DRAWS) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(−ELBO, BCE, KL), each averaged over the batch; KL = Σ q log q + L log C."""
        theta = self.logits(x)
        y, q = _estimator_call(label, theta, tau, gen, gr_draws)
        bce = self.bce(y, x).mean()
        kl = (q * theta.log_softmax(-1)).sum((-2, -1)).mean() + self.L * math.log(self.C)
        return bce + kl, bce, kl


def _train_vae(C: int, L: int, label: str, seed: int, cfg: VAEConfig, train: torch.Tensor,
               test: torch.Tensor, bar=None) -> dict:
    lr, tau, opt_name = cfg.settings(C, L, label)
    torch.manual_seed(seed)
    model = CategoricalVAE(C, L, train.shape[1])
    init_state = copy.deepcopy(model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    opt_class = torch.optim.Adam if opt_name == "adam" else torch.optim.RAdam
    opt = opt_class(model.parameters(), lr=lr)
    n = train.shape[0]
    epoch_loss = []
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, cfg.batch):
            xb = train[order[start:start + cfg.batch]]
            loss, _, _ = model.neg_elbo(xb, label, tau, gen, cfg.gr_draws)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
            if bar is not None:
                bar.update(1)
        epoch_loss.append(total / n)
        if not math.isfinite(epoch_loss[-1]):
            raise FloatingPointError(f"VAE {C}x{L} {label} seed={seed}: non-finite loss")
    # single-sample test −ELBO with the training estimator's sampler, as the paper code does
    with torch.no_grad():
        test_loss = 0.0
        for start in range(0, test.shape[0], cfg.batch):
            xb = test[start:start + cfg.batch]
            test_loss += model.neg_elbo(xb, label, tau, gen, cfg.gr_draws)[0].item() * xb.shape[0]
    return {"train_curve": np.asarray(epoch_loss), "train": epoch_loss[-1],
            "test": test_loss / test.shape[0], "model": model, "init_state": init_state}


def run_vae(cfg: VAEConfig, progress: bool = True) -> dict:
    """Trains every (config, estimator, seed); returns {(C, L): {label: summary}} and keeps the
    first seed's ReinMax 8×4 model (initial and trained) for the gradient analysis."""
    train, test = load_binarised_digits(cfg)
    steps = math.ceil(train.shape[0] / cfg.batch) * cfg.epochs
    runs = len(cfg.configs) * len(cfg.estimators) * len(cfg.seeds)
    results: dict = {"configs": {}, "models": {}}
    with _bar(runs * steps, "categorical VAE", progress) as bar:
        for C, L in cfg.configs:
            per = results["configs"][(C, L)] = {}
            for label in cfg.estimators:
                rs = []
                for seed in cfg.seeds:
                    r = _train_vae(C, L, label, seed, cfg, train, test, bar)
                    if (C, L) == (8, 4) and label == "ReinMax" and seed == cfg.seeds[0]:
                        results["models"] = {"trained": r["model"], "init_state": r["init_state"]}
                    rs.append(r)
                lr, tau, opt = cfg.settings(C, L, label)
                tr = [r["train"] for r in rs]
                te = [r["test"] for r in rs]
                per[label] = {
                    "lr": lr, "tau": tau, "optim": opt,
                    "train": tr, "train_mean": _mean_std(tr)[0], "train_std": _mean_std(tr)[1],
                    "test": te, "test_mean": _mean_std(te)[0], "test_std": _mean_std(te)[1],
                    "curves": np.stack([r["train_curve"] for r in rs]),
                }
    results["data"] = {"train": train, "test": test}
    return results


def run_gradient_analysis(model: CategoricalVAE, images: torch.Tensor, cfg: VAEConfig,
                          estimators: Sequence[Tuple[str, float]], progress: bool = True) -> dict:
    """The paper's `-s N` analysis (model/vae.py: analyze_gradient) for the encoder logits θ of a
    fixed minibatch `images` (B, 64) and a fixed `model`.

    For each image the exact ∇_θ E_D[BCE(decoder(D), x)] is enumerated over all C^L codes
    (`diagnostics.exact_gradient`) and `cfg.grad_samples` estimator draws are taken
    (`diagnostics.gradient_stats`). The per-image gradients are concatenated, as the paper does
    for its minibatch, and summarised as relative bias ‖ḡ − ∇‖/‖∇‖, relative std
    sqrt(Σ E‖ĝ − ḡ‖²)/‖∇‖, and cos(ḡ, ∇). For ReinMax, ST and GST the exact bias (no Monte Carlo
    error) is also computed with `diagnostics.expected_estimate`. The KL term is left out: its
    gradient is exact and the same for every estimator (as in the paper code). float64 throughout.
    """
    model64 = copy.deepcopy(model).double().eval()
    for prm in model64.parameters():
        prm.requires_grad_(False)
    imgs = images.double()
    with torch.no_grad():
        thetas = model64.logits(imgs)  # (B, L, C)
    exact, fs = [], []
    for x, theta in zip(imgs, thetas):
        f = (lambda x_: (lambda D: model64.bce(D, x_)))(x)
        fs.append(f)
        exact.append(diagnostics.exact_gradient(f, theta))
    exact_all = torch.stack(exact)
    out = {}
    with _bar(len(estimators) * len(imgs), "gradient analysis", progress) as bar:
        for e, (label, tau) in enumerate(estimators):
            fn, kw = _estimator_for_stats(label, tau, cfg.gr_draws)
            means, var_sum = [], 0.0
            cos_draw = []
            exact_means = []
            for i, (theta, f) in enumerate(zip(thetas, fs)):
                gen = torch.Generator().manual_seed(cfg.grad_seed * 1_000_003 + 1000 * e + i)
                st = diagnostics.gradient_stats(fn, f, theta, num_samples=cfg.grad_samples,
                                                generator=gen, exact=exact[i], **kw)
                means.append(st["mean"])
                var_sum += (st["rel_std"] * st["grad_norm"]) ** 2
                cos_draw.append(st["cos_draw"])
                name = {"ReinMax": "reinmax", "ST": "st", "GST-1.0": "gst"}.get(label)
                if name is not None:
                    extra = {"gap": 1.0} if name == "gst" else {}
                    exact_means.append(diagnostics.expected_estimate(name, f, theta, tau=tau, **extra))
                bar.update(1)
            mean_all = torch.stack(means)
            norm = exact_all.norm()
            res = {
                "tau": tau,
                "rel_bias": ((mean_all - exact_all).norm() / norm).item(),
                "rel_std": math.sqrt(var_sum) / norm.item(),
                "cosine": F.cosine_similarity(mean_all.flatten(), exact_all.flatten(), dim=0).item(),
                "cos_draw": float(np.mean(cos_draw)),
                "exact_bias": None,
            }
            if exact_means:
                res["exact_bias"] = ((torch.stack(exact_means) - exact_all).norm() / norm).item()
            out[f"{label} (τ={tau:g})"] = res
    return out


def _plot_vae(vres: dict, cfg: VAEConfig, out_dir: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = list(vres["configs"].keys())
    cols = min(4, len(configs))
    rows = math.ceil(len(configs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax, (C, L) in zip(axes.flat, configs):
        for label, r in vres["configs"][(C, L)].items():
            c = r["curves"]
            ep = np.arange(1, c.shape[1] + 1)
            m, s = c.mean(0), c.std(0)
            line, = ax.plot(ep, m, label=f"{label} (τ={r['tau']:g})")
            ax.fill_between(ep, m - s, m + s, color=line.get_color(), alpha=0.2)
        ax.set_title(f"C×L = {C}×{L}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("train −ELBO (epoch average)")
        if c.shape[1] > 3:
            # the first epochs dwarf the differences at the end
            tail = np.concatenate([r["curves"][:, c.shape[1] // 3:].ravel()
                                   for r in vres["configs"][(C, L)].values()])
            lo, hi = np.percentile(tail, 0.5), np.percentile(tail, 99.5)
            ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(configs):]:
        ax.axis("off")
    fig.tight_layout()
    path = os.path.join(out_dir, "vae_train_elbo.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_gradients(grad: dict, out_dir: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states = list(grad.keys())
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    width = 0.8 / max(1, len(states))
    for k, (key, title) in enumerate([("rel_bias", "relative bias ‖ḡ − ∇‖/‖∇‖"),
                                      ("rel_std", "relative std"),
                                      ("cosine", "cos(ḡ, ∇)")]):
        ax = axes[k]
        for j, state in enumerate(states):
            names = list(grad[state].keys())
            vals = [grad[state][n][key] for n in names]
            ax.bar(np.arange(len(names)) + j * width, vals, width, label=state)
        ax.set_xticks(np.arange(len(names)) + width * (len(states) - 1) / 2)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        if key != "cosine":
            ax.set_yscale("log")
        ax.legend(fontsize=7, loc="lower right" if key == "cosine" else "best")
    fig.tight_layout()
    path = os.path.join(out_dir, "vae_gradient_accuracy_8x4.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ============================================================================================
# Report
# ============================================================================================

def _lowest(values: Dict[str, float]) -> str:
    return min(values, key=values.get)


def _verdict(means: Dict[str, float], stds: Dict[str, float], what: str) -> str:
    """One honest sentence on whether ReinMax is lowest and by how much relative to the spread."""
    best = _lowest(means)
    if "ReinMax" not in means:
        return f"lowest {what}: {best}."
    others = {k: v for k, v in means.items() if k != "ReinMax"}
    if not others:
        return ""
    runner = _lowest(others)
    if best == "ReinMax":
        gap = others[runner] - means["ReinMax"]
        spread = max(stds["ReinMax"], stds[runner])
        if spread == 0:
            strength = "(single seed: no spread estimate)"
        else:
            strength = "clearly (gap > 2 std)" if gap > 2 * spread else "but within 2 std of the runner-up"
        return f"ReinMax has the lowest {what}, {strength}; runner-up {runner} (+{gap:.4g})."
    gap = means["ReinMax"] - means[best]
    return (f"ReinMax does **not** have the lowest {what}: {best} is lower by {gap:.4g} "
            f"(ReinMax std {stds['ReinMax']:.2g}, {best} std {stds[best]:.2g}).")


def _write_report(path: str, quick: bool, pcfg: Optional[PolyConfig], pres: Optional[dict],
                  vcfg: Optional[VAEConfig], vres: Optional[dict], gres: Optional[dict],
                  files: List[str], timings: Dict[str, float]) -> None:
    from .. import __version__

    gr_draws = sorted({c.gr_draws for c in (pcfg, vcfg) if c is not None})
    gr_draws = " / ".join(str(k) for k in gr_draws) + (" (poly / VAE)" if len(gr_draws) > 1 else "")
    lines: List[str] = []
    w = lines.append
    w("# ReinMax reproduction: polynomial programming and categorical VAE")
    w("")
    w(f"Mode: **{'quick' if quick else 'full'}**. pyalgo {__version__}, torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads, CPU. Wall time: "
      + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ".")
    w("")
    if quick:
        w("> **Quick mode** is a smoke-scale run (few steps, few seeds; see the settings below). "
          "Its numbers show that the pipeline works and give a first impression; they are not the "
          "paper's protocol and differences between estimators are mostly within noise. "
          "Use `run(quick=False)` for the full protocol.")
        w("")
    w("Spec: `shared/specs/reinmax.md` §3.1-3.2 (settings from the official scripts in "
      "`LiyuanLucasLiu/ReinMax`). Estimators are pyalgo's fused ops (`pyalgo.discrete`), "
      "called on the models' own logits.")
    w("")
    w("**Temperatures.** The released experiment code contains run scripts for ReinMax only; the "
      "paper's tuned baseline temperatures are not in it. Baselines therefore use the scripts' "
      f"argparse default τ = {BASELINE_TAU:g} (no baseline was tuned, up or down). "
      f"GR-MCK uses K = {gr_draws} draws (the code's default is {GR_DRAWS}), GST-1.0 gap 1.0.")
    w("")

    if pres is not None and pcfg is not None:
        w("## 1. Polynomial programming (§3.1)")
        w("")
        w(f"{pcfg.latent} binary latents, θ ~ U(−0.01, 0.01), loss mean_l |z_l − {pcfg.target}|^p, "
          f"batch {pcfg.batch}, Adam lr {pcfg.lr:g}, {pcfg.steps_per_epoch} steps × {pcfg.epochs} epochs "
          f"= {pcfg.steps} steps, seeds {list(pcfg.seeds)}. ReinMax τ = {pcfg.tau('ReinMax'):g} "
          f"(official); baselines τ = {BASELINE_TAU:g}.")
        if pcfg.latent != 128 or pcfg.steps != 8000 or len(pcfg.seeds) != 10:
            w("")
            w(f"*Deviation from the paper protocol (128 latents, 8000 steps, 10 seeds)*: "
              f"{pcfg.latent} latents, {pcfg.steps} steps, {len(pcfg.seeds)} seeds. The loss and "
              "Adam are separable over latents, so fewer latents change only the noise of the "
              "averaged loss, not each latent's dynamics.")
        w("")
        w("**Final loss** = the exact expected loss E_{D~softmax θ}[mean_l |z_l − 0.45|^p] at the "
          "end of training (computed in closed form, no sampling noise), mean ± std over seeds. "
          "Lower is better; the optimum (π_l[0] → 0) and the value at initialisation are given for scale.")
        w("")
        ps = list(pres.keys())
        w("| estimator | τ | " + " | ".join(f"p = {p:g}" for p in ps) + " |")
        w("|---|---|" + "---|" * len(ps))
        labels = list(pres[ps[0]].keys())
        for label in labels:
            cells = []
            for p in ps:
                r = pres[p][label]
                best = _lowest({k: v["final_mean"] for k, v in pres[p].items()}) == label
                c = _fmt(r["final_mean"], r["final_std"], 5)
                cells.append(f"**{c}**" if best else c)
            w(f"| {label} | {pres[ps[0]][label]['tau']:g} | " + " | ".join(cells) + " |")
        w("| *initial* | | " + " | ".join(f"{pres[p][labels[0]]['initial']:.5f}" for p in ps) + " |")
        w("| *optimum* | | " + " | ".join(f"{abs(pcfg.target) ** p:.5f}" for p in ps) + " |")
        w("")
        w("The official script's number (average minibatch loss over the last epoch; noisy):")
        w("")
        w("| estimator | " + " | ".join(f"p = {p:g}" for p in ps) + " |")
        w("|---|" + "---|" * len(ps))
        for label in labels:
            w(f"| {label} | " + " | ".join(_fmt(pres[p][label]["batch_mean"], pres[p][label]["batch_std"], 5)
                                          for p in ps) + " |")
        w("")
        w("Observed:")
        w("")
        for p in ps:
            means = {k: v["final_mean"] for k, v in pres[p].items()}
            stds = {k: v["final_std"] for k, v in pres[p].items()}
            w(f"- p = {p:g}: " + _verdict(means, stds, "final expected loss"))
        if "ST" in labels and "GST-1.0" in labels:
            w("- ST and GST-1.0 (nearly) coincide here, as they must: with C = 2 and |θ_l0 − θ_l1| < gap, "
              "every draw's GST-1.0 gradient is p(1 − p)·(g_0 − g_1) with p = σ(1) fixed, and ST's is "
              "π_0π_1·(g_0 − g_1) with π fixed within a step — the same direction per latent, and Adam "
              "is invariant to a per-parameter scale.")
        w("")
        w("Plots: " + ", ".join(f"`{os.path.basename(f)}`" for f in files if "poly_" in f) + ".")
        w("")

    if vres is not None and vcfg is not None:
        train, test = vres["data"]["train"], vres["data"]["test"]
        steps = math.ceil(train.shape[0] / vcfg.batch) * vcfg.epochs
        w("## 2. Categorical VAE on binarised digits (§3.2)")
        w("")
        w(f"Data: sklearn's bundled 8×8 digits (MNIST is not available offline), binarised at pixel ≥ "
          f"{vcfg.threshold:g} of 16, fixed split (permutation seed {vcfg.split_seed}): "
          f"{train.shape[0]} train / {test.shape[0]} test images of 64 pixels. Architecture as the "
          "paper's with 64 instead of 784 pixels: encoder 64-512-256-(L·C) ReLU, decoder "
          "(L·C)-256-512-64 sigmoid + BCE; KL = Σ q log q + L log C with q = softmax(logits). "
          f"Batch {vcfg.batch}, {vcfg.epochs} epochs = {steps} updates, seeds {list(vcfg.seeds)}.")
        w("")
        w("Scaling: the paper trains 160 epochs of MNIST (60k images, ≈96k updates). Here the full "
          "mode keeps the paper's **160 epochs and 10 seeds**, which on a 1500-image training set is "
          "2400 updates: the same number of passes over the data, 40× fewer updates (GR-MCK with "
          "K = 100 dominates the cost; matching 96k updates would take days on a CPU).")
        if quick:
            w("Quick mode: " + f"{vcfg.epochs} epochs, {len(vcfg.seeds)} seeds — the models are far "
              "from converged.")
        w("")
        w("Per-config settings (official ReinMax lr/τ/optimiser; baselines share lr and optimiser, "
          f"τ = {vcfg.baseline_tau:g}):")
        w("")
        w("| C×L | lr | optimiser | ReinMax τ | baseline τ |")
        w("|---|---|---|---|---|")
        for C, L in vres["configs"]:
            lr, tau, opt = OFFICIAL_VAE_SETTINGS[(C, L)]
            w(f"| {C}×{L} | {lr:g} | {'Adam' if opt == 'adam' else 'RAdam'} | {tau:g} | {vcfg.baseline_tau:g} |")
        w("")
        cfgs = list(vres["configs"].keys())
        labels = list(vres["configs"][cfgs[0]].keys())
        for key, title in (("train", "Train −ELBO (nats), average over the last epoch, mean ± std over seeds "
                                     "(the paper's metric; lower is better)"),
                           ("test", "Test −ELBO (single-sample estimate with the training sampler, "
                                    "end of training; for information)")):
            w(f"**{title}**")
            w("")
            w("| estimator | " + " | ".join(f"{C}×{L}" for C, L in cfgs) + " | average |")
            w("|---|" + "---|" * (len(cfgs) + 1))
            avg = {}
            for label in labels:
                avg[label] = float(np.mean([vres["configs"][c][label][f"{key}_mean"] for c in cfgs]))
            for label in labels:
                cells = []
                for c in cfgs:
                    r = vres["configs"][c][label]
                    best = _lowest({k: v[f"{key}_mean"] for k, v in vres["configs"][c].items()}) == label
                    s = _fmt(r[f"{key}_mean"], r[f"{key}_std"], 2)
                    cells.append(f"**{s}**" if best else s)
                a = f"{avg[label]:.2f}"
                cells.append(f"**{a}**" if _lowest(avg) == label else a)
                w(f"| {label} | " + " | ".join(cells) + " |")
            w("")
        w("Observed (train −ELBO):")
        w("")
        for c in cfgs:
            means = {k: v["train_mean"] for k, v in vres["configs"][c].items()}
            stds = {k: v["train_std"] for k, v in vres["configs"][c].items()}
            w(f"- {c[0]}×{c[1]}: " + _verdict(means, stds, "train −ELBO"))
        avg = {label: float(np.mean([vres["configs"][c][label]["train_mean"] for c in cfgs])) for label in labels}
        w(f"- average over configs: lowest is {_lowest(avg)}"
          + (" (the paper's claim: ReinMax best on average)." if _lowest(avg) == "ReinMax"
             else " — **not** ReinMax, unlike the paper's claim of ReinMax best on average."))
        w("")
        w("Plot: `vae_train_elbo.png`.")
        w("")

    if gres:
        w("### Gradient accuracy at 8×4 (the paper's `-s N` analysis)")
        w("")
        w(f"Encoder-logit gradient of E_D[BCE] for a fixed minibatch of {vcfg.grad_images} training "
          f"images; exact ∇ by enumerating all 8^4 = 4096 codes per image; {vcfg.grad_samples} draws "
          "per estimator (`diagnostics.gradient_stats`); the images' gradients are concatenated "
          "as in the paper. *rel. bias* = ‖ḡ − ∇‖/‖∇‖ from the draws (includes Monte Carlo error "
          "≈ rel. std/√draws); *exact bias* = the same with the exact expectation of the estimator "
          "(`diagnostics.expected_estimate`, only for estimators whose gradient is a function of "
          "the sample); *rel. std* = sqrt(Σ E‖ĝ − ḡ‖²)/‖∇‖; *cos* = cos(ḡ, ∇); *cos/draw* = mean "
          "cosine of single draws. Models: the 8×4 VAE at initialisation, and after training with "
          f"ReinMax (seed {vcfg.seeds[0]}, {vcfg.epochs} epochs).")
        w("")
        for state, res in gres.items():
            w(f"**Model: {state}**")
            w("")
            w("| estimator | rel. bias | exact bias | rel. std | cos | cos/draw |")
            w("|---|---|---|---|---|---|")
            for name, r in res.items():
                eb = "—" if r["exact_bias"] is None else f"{r['exact_bias']:.4f}"
                w(f"| {name} | {r['rel_bias']:.4f} | {eb} | {r['rel_std']:.3f} | {r['cosine']:.4f} | "
                  f"{r['cos_draw']:.3f} |")
            w("")
            bias = {k: v["rel_bias"] for k, v in res.items()}
            best = _lowest(bias)
            exact_b = {k: v["exact_bias"] for k, v in res.items() if v["exact_bias"] is not None}
            stds = {k: v["rel_std"] for k, v in res.items()}
            text = (f"Observed: lowest relative bias (sampled): {best}"
                    + ("." if best.startswith("ReinMax") else " — **not** ReinMax.")
                    + (f" Lowest exact bias: {_lowest(exact_b)}." if exact_b else "")
                    + f" Highest cosine: {max(res, key=lambda k: res[k]['cosine'])}."
                    + f" Lowest relative std: {_lowest(stds)}")
            rm = [k for k in res if k.startswith("ReinMax")]
            st = [k for k in res if k.startswith("ST (")]
            if rm and st:
                text += f"; ReinMax's relative std is {res[rm[0]]['rel_std'] / res[st[0]]['rel_std']:.1f}× ST's"
            w(text + ".")
            w("")
        w("Plot: `vae_gradient_accuracy_8x4.png`.")
        w("")

    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


# ============================================================================================
# Entry point
# ============================================================================================

def run(quick: bool = True, out_dir: str = "reproduce_out/discrete", seeds: Optional[Sequence[int]] = None,
        *, poly: Optional[PolyConfig] = None, vae: Optional[VAEConfig] = None, parts: Sequence[str] = ("poly", "vae"),
        progress: bool = True, threads: Optional[int] = 1) -> dict:
    """Runs the reproduction and writes `report.md` and PNG plots to `out_dir`.

    quick: smoke-scale sizes (about 2 minutes on 2 CPU cores) instead of the full protocol
    (hours). seeds: overrides the seeds of both experiments. poly / vae: explicit configurations
    (`PolyConfig`, `VAEConfig`) replacing the quick/full defaults, e.g. to shrink a test.
    parts: which of "poly", "vae" to run ("vae" includes the gradient analysis when 8×4 is among
    the configs and `vae.grad_images > 0`). threads: torch threads during the run (restored
    afterwards; None leaves the setting alone). One thread is the default: the networks are tiny,
    and with two threads on a machine where another process holds a core every small parallel op
    waits for the descheduled thread (measured: 40× slower VAE steps).

    Cost is dominated by GR-MCK, whose backward regenerates K conditional Gumbel draws per row
    (≈0.28 µs per row and draw at C = 2 on one core, vs ≈0.05 µs per row for ST; measured with
    `torch.utils.benchmark` on the 2-core CI machine): the full polynomial protocol is 8192 rows ×
    K = 100 per step for 240k GR-MCK steps, ≈ 15 h, plus a few hours for the rest (estimated from
    the per-step costs; the full run was not executed here). Quick takes ≈ 65 s. To shrink, pass
    e.g. `poly=PolyConfig(gr_draws=10)` (changes GR-MCK's variance, not its bias) or
    `poly=PolyConfig(estimators=(...))`.

    Returns {"poly": ..., "vae": ..., "gradients": ..., "files": [...], "seconds": {...}} with the
    numbers of the report (curves as numpy arrays).
    """
    unknown = set(parts) - {"poly", "vae"}
    if unknown:
        raise ValueError(f"parts must be a subset of ('poly', 'vae'), got {sorted(unknown)}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(quick, out_dir, seeds, poly, vae, parts, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _run(quick, out_dir, seeds, poly, vae, parts, progress) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    pcfg = poly if poly is not None else (PolyConfig.quick() if quick else PolyConfig.full())
    vcfg = vae if vae is not None else (VAEConfig.quick() if quick else VAEConfig.full())
    if seeds is not None:
        seeds = tuple(int(s) for s in seeds)
        pcfg, vcfg = replace(pcfg, seeds=seeds), replace(vcfg, seeds=seeds)

    files: List[str] = []
    timings: Dict[str, float] = {}
    pres = vres = gres = None
    if "poly" in parts:
        t0 = time.perf_counter()
        pres = run_poly(pcfg, progress)
        files += _plot_poly(pres, pcfg, out_dir)
        timings["poly"] = time.perf_counter() - t0
    if "vae" in parts:
        t0 = time.perf_counter()
        vres = run_vae(vcfg, progress)
        files.append(_plot_vae(vres, vcfg, out_dir))
        timings["vae"] = time.perf_counter() - t0
        if (8, 4) in vcfg.configs and vcfg.grad_images > 0 and "ReinMax" in vcfg.estimators:
            t0 = time.perf_counter()
            C, L = 8, 4
            lr, tau_rm, _ = vcfg.settings(C, L, "ReinMax")
            ests = [("ReinMax", tau_rm)]
            if tau_rm != 1.0:
                ests.append(("ReinMax", 1.0))  # τ = 1: the exact second-order (Heun) estimator
            ests += [(lab, vcfg.baseline_tau) for lab in vcfg.estimators if lab != "ReinMax"]
            train = vres["data"]["train"]
            images = train[:vcfg.grad_images]
            initial = CategoricalVAE(C, L, train.shape[1])
            initial.load_state_dict(vres["models"]["init_state"])
            gres = {
                "initialisation": run_gradient_analysis(initial, images, vcfg, ests, progress),
                f"trained (ReinMax, {vcfg.epochs} epochs)": run_gradient_analysis(
                    vres["models"]["trained"], images, vcfg, ests, progress),
            }
            files.append(_plot_gradients(gres, out_dir))
            timings["gradient analysis"] = time.perf_counter() - t0
    report = os.path.join(out_dir, "report.md")
    _write_report(report, quick, pcfg if pres is not None else None, pres,
                  vcfg if vres is not None else None, vres, gres, files, timings)
    files.insert(0, report)

    return {
        "quick": quick,
        "poly": pres,
        "vae": None if vres is None else vres["configs"],
        "gradients": gres,
        "files": files,
        "seconds": timings,
    }
