"""Training conditional EBMs with the min-min loss and its baselines (spec ebm_partition.md §1–§3).

Models map x (B, d) to the parameters of a bilinear energy g(x, y):

- `UnaryEnergy`          u (B, k)                  g = ⟨u, y⟩,              y ∈ {0,1}^k
- `PairwiseEnergy`       (u (B, k), U (B, k, k))   g = ⟨u, y⟩ + ½ yᵀUy      (Ising)
- `PermutahedronEnergy`  θ (B, n)                  g = Σ_i θ_i (y_i + 1),   y a permutation of 0..n-1
- `BirkhoffEnergy`       Θ (B, n, n)               g = Σ_i Θ[i, y_i]
- `TauNet`               τ(x) (B,)                 amortised log-partition
- `FreeTau`              τ[idx] (B,)               one free scalar per training example (finite-sum variant)

`train_multilabel` / `train_ranking` share one Adam loop (`_fit`) over the methods

- "minmin"     ℓ = τ + E_q[e^{g−τ}] − 1 − g(y)                 (spec §1, doubly stochastic, m uniform samples)
- "sparsemax"  the same with the Tsallis-2 generator             (spec §1, table)
- "exact_mle"  LSE(x) − g(y) with the exact LSE (closed form for unary, enumeration for small Ising / n ≤ 8)
- "bce"        Σ_i BCEWithLogits(u_i, y_i)  (unary only; same optimum as exact_mle, constant k log 2 apart)
- "mcmc"       contrastive divergence: mean_j g(y_model_j) − g(y_data), y_model from `chain_length` Gibbs
               sweeps (bits) or Metropolis random-swap sweeps (permutations) started at the data y (CD-k),
               samples detached — a biased short-run-chain gradient of the NLL (spec §7).

Everything is reproducible from `seed`: model initialisation runs under `torch.random.fork_rng` with
`torch.manual_seed(seed)` (the caller's global RNG state is left untouched), minibatch order and all
sampling use `torch.Generator`s seeded from `seed`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import reference as _ref
from .metrics import f1_example, f1_micro, hamming_loss, kendall_tau
from .ops import minmin_loss, minmin_loss_ranking
from .predict import predict_birkhoff, predict_pairwise, predict_permutahedron, predict_unary

__all__ = [
    "UnaryEnergy", "PairwiseEnergy", "PermutahedronEnergy", "BirkhoffEnergy", "TauNet", "FreeTau",
    "TrainResult", "RankingSplit", "train_multilabel", "train_ranking", "evaluate_multilabel",
    "evaluate_ranking", "exact_nll_multilabel", "tau_vs_lse", "gibbs_bits", "metropolis_perms",
    "MULTILABEL_METHODS", "RANKING_METHODS", "MULTILABEL_MODELS", "RANKING_MODELS",
]

MULTILABEL_METHODS = ("minmin", "sparsemax", "exact_mle", "bce", "mcmc")
RANKING_METHODS = ("minmin", "sparsemax", "exact_mle", "mcmc")
MULTILABEL_MODELS = ("unary", "pairwise")
RANKING_MODELS = ("permutahedron", "birkhoff")
_MAX_ENUM_BITS = 16     # exact LSE by enumeration of 2^k label vectors
_MAX_ENUM_PERMS = 8     # exact LSE by enumeration of n! permutations


def _err(fn: str, msg: str, exc=ValueError):
    return exc(f"pyalgo.energy.{fn}: {msg}")


# ============================================================================================
# models
# ============================================================================================

def _mlp(d_in: int, hidden: int, d_out: int, dropout: float = 0.0) -> nn.Module:
    """Linear map when hidden == 0, else Linear → ReLU → (Dropout) → Linear."""
    if hidden == 0:
        return nn.Linear(d_in, d_out)
    layers: List[nn.Module] = [nn.Linear(d_in, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, d_out))
    return nn.Sequential(*layers)


def _check_sizes(fn: str, **sizes: int) -> None:
    for name, value in sizes.items():
        lo = 0 if name in ("hidden", "num_train") else 1
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(fn, f"{name} must be an int, got {type(value).__name__}", TypeError)
        if value < lo:
            raise _err(fn, f"{name} must be >= {lo}, got {value}")


class UnaryEnergy(nn.Module):
    """x (B, d) → u (B, k); g(x, y) = ⟨u, y⟩ for y ∈ {0,1}^k."""

    def __init__(self, d: int, k: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("UnaryEnergy", d=d, k=k, hidden=hidden)
        self.d, self.k = d, k
        self.net = _mlp(d, hidden, k, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PairwiseEnergy(nn.Module):
    """x (B, d) → (u (B, k), U (B, k, k)); g = ⟨u, y⟩ + ½ yᵀUy (Ising).

    U is symmetric with a zero diagonal: y_i² = y_i, so a diagonal would only duplicate u, and the
    antisymmetric part of U cancels in yᵀUy. The U head starts at zero (the model starts unary)."""

    def __init__(self, d: int, k: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("PairwiseEnergy", d=d, k=k, hidden=hidden)
        self.d, self.k = d, k
        self.net = _mlp(d, hidden, k + k * k, dropout)
        last = self.net if hidden == 0 else self.net[-1]
        with torch.no_grad():
            last.weight[k:].zero_()
            last.bias[k:].zero_()
        self.register_buffer("off_diagonal", 1.0 - torch.eye(k), persistent=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        u = out[:, : self.k]
        A = out[:, self.k:].reshape(-1, self.k, self.k)
        U = 0.5 * (A + A.transpose(1, 2)) * self.off_diagonal
        return u, U


class PermutahedronEnergy(nn.Module):
    """x (B, d) → θ (B, n); g = Σ_i θ_i (y_i + 1) (spec §2, permutahedron P)."""

    def __init__(self, d: int, n: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("PermutahedronEnergy", d=d, n=n, hidden=hidden)
        self.d, self.n = d, n
        self.net = _mlp(d, hidden, n, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BirkhoffEnergy(nn.Module):
    """x (B, d) → Θ (B, n, n); g = Σ_i Θ[i, y_i] = ⟨Θ, P_y⟩ (spec §2, Birkhoff polytope B)."""

    def __init__(self, d: int, n: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("BirkhoffEnergy", d=d, n=n, hidden=hidden)
        self.d, self.n = d, n
        self.net = _mlp(d, hidden, n * n, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(-1, self.n, self.n)


class TauNet(nn.Module):
    """x (B, d) → τ(x) (B,): amortised log-partition, generalises to unseen x (spec §1)."""

    def __init__(self, d: int, hidden: int = 128):
        super().__init__()
        _check_sizes("TauNet", d=d, hidden=hidden)
        self.net = _mlp(d, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class FreeTau(nn.Module):
    """idx (B,) int64 → τ[idx] (B,): one free scalar per training example (finite-sum variant, spec §1).
    Cannot predict the log-partition of a new x."""

    def __init__(self, num_train: int):
        super().__init__()
        _check_sizes("FreeTau", num_train=num_train)
        self.tau = nn.Parameter(torch.zeros(num_train))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.tau[idx]


# ============================================================================================
# results and data views
# ============================================================================================

@dataclass
class TrainResult:
    """metrics: test metrics (F1 ×100, Hamming fraction, Kendall τ ×100, NLL where exact);
    curve: mean training loss per epoch; train_nll: exact training NLL per epoch (when `track_nll`)."""
    method: str
    model: str
    metrics: Dict[str, float]
    curve: List[float]
    seconds: float
    energy: nn.Module
    tau: Optional[nn.Module]
    train_nll: List[float] = field(default_factory=list)
    config: Dict[str, object] = field(default_factory=dict)


@dataclass
class RankingSplit:
    """One train/test split of a label-ranking data set; y are permutations (Conventions' y = k − rank)."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str = ""


def _ranking_split(fn: str, data, train_idx, test_idx) -> RankingSplit:
    if hasattr(data, "x_train"):
        return data
    if not hasattr(data, "perms"):
        raise _err(fn, f"data must be a RankingData or have x_train/y_train/x_test/y_test, got {type(data).__name__}",
                   TypeError)
    if train_idx is None or test_idx is None:
        raise _err(fn, "train_idx and test_idx must be given for a RankingData (use data.kfold_indices)")
    tr = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
    te = torch.as_tensor(np.asarray(test_idx), dtype=torch.long)
    y = data.perms
    return RankingSplit(data.x[tr], y[tr], data.x[te], y[te], getattr(data, "name", ""))


# ============================================================================================
# samplers for the MCMC baseline
# ============================================================================================

@torch.no_grad()
def gibbs_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor], init: torch.Tensor, sweeps: int,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Systematic-scan Gibbs sampler for p(y) ∝ e^{g(y)} on {0,1}^k.

    unary (B, k), pairwise (B, k, k) or None, init (B, m, k) chains (float 0/1) → (B, m, k) after `sweeps`
    sweeps. Each bit is resampled from sigmoid(g(y_i=1) − g(y_i=0)) (energies from reference.energy_bits)."""
    y = init.to(unary.dtype).clone()
    k = y.shape[-1]
    for _ in range(sweeps):
        for i in range(k):
            y[..., i] = 1.0
            g1 = _ref.energy_bits(unary, y, pairwise)
            y[..., i] = 0.0
            g0 = _ref.energy_bits(unary, y, pairwise)
            r = torch.rand(g1.shape, generator=generator, device=g1.device, dtype=g1.dtype)
            y[..., i] = (r < torch.sigmoid(g1 - g0)).to(y.dtype)
    return y


@torch.no_grad()
def metropolis_perms(theta: torch.Tensor, init: torch.Tensor, sweeps: int,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Metropolis sampler for p(y) ∝ e^{g(y)} on permutations with random-transposition proposals.

    theta (B, n) or (B, n, n), init (B, m, n) int64 → (B, m, n); one sweep = n proposals y_i ↔ y_j
    (i ≠ j uniform, a symmetric proposal) accepted with probability min(1, e^{Δg})."""
    y = init.clone()
    B, m, n = y.shape
    if n < 2:
        return y
    g = _ref.energy_perms(theta, y)
    dev = y.device
    for _ in range(sweeps * n):
        i = torch.randint(0, n, (B, m, 1), generator=generator, device=dev)
        j = (i + torch.randint(1, n, (B, m, 1), generator=generator, device=dev)) % n
        prop = y.clone()
        prop.scatter_(-1, i, y.gather(-1, j))
        prop.scatter_(-1, j, y.gather(-1, i))
        gp = _ref.energy_perms(theta, prop)
        r = torch.rand(g.shape, generator=generator, device=dev, dtype=g.dtype)
        accept = torch.log(r) < gp - g
        y = torch.where(accept[..., None], prop, y)
        g = torch.where(accept, gp, g)
    return y


# ============================================================================================
# evaluation
# ============================================================================================

def _batched(fn: Callable, x: torch.Tensor, batch: int = 2048):
    outs = [fn(x[s:s + batch]) for s in range(0, x.shape[0], batch)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)


def _bits_params(energy: nn.Module, x: torch.Tensor):
    out = energy(x)
    return (out, None) if isinstance(out, torch.Tensor) else out


@torch.no_grad()
def exact_nll_multilabel(energy: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Optional[float]:
    """Mean exact −log p(y|x) = LSE(x) − g(x, y) (q-normalised; the +k log 2 term dropped, spec §6.6),
    or None when the LSE is not tractable (pairwise with k > 16)."""
    was = energy.training
    energy.eval()
    try:
        def one(xb, yb):
            u, U = _bits_params(energy, xb)
            if U is None:
                return _ref.unary_nll(u, yb)
            return _ref.exact_lse_bits(u, U) - _ref.energy_bits(u, yb, U)
        if not isinstance(energy, UnaryEnergy) and y.shape[1] > _MAX_ENUM_BITS:
            return None
        bs = 2048 if isinstance(energy, UnaryEnergy) else max(1, 2 ** 20 // 2 ** y.shape[1])
        vals = [one(x[s:s + bs], y[s:s + bs]) for s in range(0, x.shape[0], bs)]
        return float(torch.cat(vals).mean())
    finally:
        energy.train(was)


@torch.no_grad()
def evaluate_multilabel(energy: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        predict_steps: int = 100) -> Dict[str, float]:
    """Test metrics: F1 example/micro (×100), Hamming loss, and the exact NLL where tractable."""
    was = energy.training
    energy.eval()
    try:
        if isinstance(energy, UnaryEnergy):
            pred = predict_unary(_batched(energy, x))
        else:
            u, U = _batched(energy, x)
            pred = predict_pairwise(u, U, steps=predict_steps)
    finally:
        energy.train(was)
    out = dict(f1_example=float(f1_example(y, pred)), f1_micro=float(f1_micro(y, pred)),
               hamming=float(hamming_loss(y, pred)))
    nll = exact_nll_multilabel(energy, x, y)
    if nll is not None:
        out["nll"] = nll
    return out


@torch.no_grad()
def evaluate_ranking(energy: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Dict[str, float]:
    """Test metrics: Kendall τ (×100), mean over rows; argsort (P) or Hungarian (B) prediction."""
    was = energy.training
    energy.eval()
    try:
        theta = _batched(energy, x)
    finally:
        energy.train(was)
    pred = predict_permutahedron(theta) if theta.dim() == 2 else predict_birkhoff(theta)
    return dict(kendall_tau=float(kendall_tau(y, pred)))


@torch.no_grad()
def tau_vs_lse(energy: nn.Module, tau: nn.Module, x: torch.Tensor) -> Dict[str, object]:
    """The learned τ(x) against the exact log-partition LSE(x) on inputs x (B, d) (spec §1, §6.6).

    Exact LSE: closed form (unary), enumeration (Ising k ≤ 16, permutations n ≤ 8), else Ryser (n ≤ 20).
    Returns dict(tau (B,) np, lse (B,) np, mean_abs_err, bias = mean(τ − LSE), std_lse, corr)."""
    if not isinstance(tau, TauNet):
        raise _err("tau_vs_lse", f"tau must be a TauNet (a FreeTau cannot predict unseen x), got {type(tau).__name__}",
                   TypeError)
    was = energy.training, tau.training
    energy.eval(), tau.eval()
    try:
        params = energy(x)
        t = tau(x)
    finally:
        energy.train(was[0]), tau.train(was[1])
    if isinstance(energy, UnaryEnergy):
        lse = _ref.unary_lse(params)
    elif isinstance(energy, PairwiseEnergy):
        if energy.k > _MAX_ENUM_BITS:
            raise _err("tau_vs_lse", f"pairwise exact LSE needs k <= {_MAX_ENUM_BITS}, got {energy.k}")
        bs = max(1, 2 ** 20 // 2 ** energy.k)
        lse = torch.cat([_ref.exact_lse_bits(params[0][s:s + bs], params[1][s:s + bs])
                         for s in range(0, x.shape[0], bs)])
    else:
        n = params.shape[1]
        lse = _ref.exact_lse_perms(params) if n <= _MAX_ENUM_PERMS else _ref.lse_perms_ryser(params)
    t_np, l_np = t.double().cpu().numpy(), lse.double().cpu().numpy()
    corr = float(np.corrcoef(t_np, l_np)[0, 1]) if len(t_np) > 1 and l_np.std() > 0 and t_np.std() > 0 else float("nan")
    return dict(tau=t_np, lse=l_np, mean_abs_err=float(np.abs(t_np - l_np).mean()), bias=float((t_np - l_np).mean()),
                std_lse=float(l_np.std()), corr=corr)


# ============================================================================================
# the shared training loop
# ============================================================================================

def _check_common(fn: str, method, methods, model, models, tau, num_samples, epochs, batch_size, lr, weight_decay,
                  hidden, tau_hidden, chain_length, seed, grad_clip=None, dropout=0.0, tau_lr=None) -> None:
    if not isinstance(method, str) or method not in methods:
        raise _err(fn, f"method must be one of {methods}, got {method!r}")
    if not isinstance(model, str) or model not in models:
        raise _err(fn, f"model must be one of {models}, got {model!r}")
    if tau not in ("net", "free"):
        raise _err(fn, f"tau must be 'net' or 'free', got {tau!r}")
    for name, value, lo in (("num_samples", num_samples, 1), ("epochs", epochs, 0), ("batch_size", batch_size, 1),
                            ("hidden", hidden, 0), ("tau_hidden", tau_hidden, 0), ("chain_length", chain_length, 1),
                            ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(fn, f"{name} must be an int, got {type(value).__name__}", TypeError)
        if value < lo:
            raise _err(fn, f"{name} must be >= {lo}, got {value}")
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0 \
                or (name == "lr" and value == 0):
            raise _err(fn, f"{name} must be a finite {'positive' if name == 'lr' else 'non-negative'} float, got {value!r}")
    if tau_lr is not None and (not isinstance(tau_lr, (int, float)) or isinstance(tau_lr, bool)
                               or not math.isfinite(tau_lr) or tau_lr <= 0):
        raise _err(fn, f"tau_lr must be None or a finite positive float, got {tau_lr!r}")
    if grad_clip is not None and (not isinstance(grad_clip, (int, float)) or isinstance(grad_clip, bool)
                                  or not math.isfinite(grad_clip) or grad_clip <= 0):
        raise _err(fn, f"grad_clip must be None or a finite positive float, got {grad_clip!r}")
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise _err(fn, f"dropout must be a float in [0, 1), got {dropout!r}")


def _fit(fn: str, energy: nn.Module, tau_mod: Optional[nn.Module], batch_loss: Callable, x: torch.Tensor,
         y: torch.Tensor, *, epochs: int, batch_size: int, lr: float, weight_decay: float, seed: int,
         progress: bool, grad_clip: Optional[float] = None, tau_lr: Optional[float] = None,
         on_epoch: Optional[Callable[[], None]] = None) -> List[float]:
    """Adam on energy and τ parameters jointly (weight decay on the energy only: τ must be free to reach
    the LSE; τ's learning rate tau_lr defaults to lr; optional global grad-norm clipping).
    batch_loss(xb, yb, idx, generator) → scalar. Returns the mean training loss per epoch."""
    groups = [dict(params=list(energy.parameters()), weight_decay=weight_decay)]
    if tau_mod is not None:
        groups.append(dict(params=list(tau_mod.parameters()), weight_decay=0.0, lr=lr if tau_lr is None else tau_lr))
    opt = torch.optim.Adam(groups, lr=lr)
    params = [p for g in groups for p in g["params"]]
    shuffle = torch.Generator().manual_seed(seed)
    sampler = torch.Generator(device=x.device).manual_seed(seed + 1)
    n = x.shape[0]
    curve: List[float] = []
    energy.train()
    bar = tqdm(total=epochs, desc=fn, disable=not progress, leave=False, dynamic_ncols=True, mininterval=0.5)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=shuffle).to(x.device)
        total, count = 0.0, 0
        for s in range(0, n, batch_size):
            idx = perm[s:s + batch_size]
            loss = batch_loss(x[idx], y[idx], idx, sampler)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        curve.append(total / max(count, 1))
        if not math.isfinite(curve[-1]):
            raise FloatingPointError(f"pyalgo.energy.{fn}: training loss became {curve[-1]} (lower lr?)")
        if on_epoch is not None:
            on_epoch()
        bar.update(1)
        bar.set_postfix(loss=f"{curve[-1]:.4f}")
    bar.close()
    return curve


def _build(fn, model_cls, tau, d, out_dim, hidden, tau_hidden, num_train, seed, device, dropout):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        energy = model_cls(d, out_dim, hidden, dropout).to(device)
        tau_mod = TauNet(d, tau_hidden).to(device) if tau == "net" else FreeTau(num_train).to(device)
    return energy, tau_mod


def _minmin_kind(method: str) -> str:
    return "logistic" if method == "minmin" else "sparsemax"


def train_multilabel(data, method: str = "minmin", *, model: str = "unary", tau: str = "net", num_samples: int = 32,
                     epochs: int = 50, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0,
                     hidden: int = 128, tau_hidden: Optional[int] = None, dropout: float = 0.0, chain_length: int = 1,
                     grad_clip: Optional[float] = None, tau_lr: Optional[float] = None, seed: int = 0,
                     device: str | torch.device = "cpu", track_nll: bool = False, predict_steps: int = 100,
                     progress: bool = False) -> TrainResult:
    """Trains a multilabel EBM on data.x_train (N, d), data.y_train (N, k) ∈ {0,1}; evaluates on x_test/y_test.

    method ∈ MULTILABEL_METHODS (module doc); model "unary" | "pairwise"; tau "net" (TauNet) | "free" (FreeTau,
    finite sum). num_samples: m uniform samples per example (minmin/sparsemax) or MCMC chains per example (mcmc).
    exact_mle needs the unary model or k ≤ 16 (enumeration); bce needs the unary model.
    track_nll records the exact training NLL after every epoch (spec §3c)."""
    fn = "train_multilabel"
    tau_hidden = hidden if tau_hidden is None else tau_hidden
    _check_common(fn, method, MULTILABEL_METHODS, model, MULTILABEL_MODELS, tau, num_samples, epochs, batch_size, lr,
                  weight_decay, hidden, tau_hidden, chain_length, seed, grad_clip, dropout, tau_lr)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise _err(fn, f"data must have tensor attributes x_train, y_train, x_test, y_test; {name} is missing",
                       TypeError)
    if method == "bce" and model != "unary":
        raise _err(fn, f"method 'bce' needs model='unary', got model={model!r}")
    k = data.y_train.shape[1]
    if method == "exact_mle" and model == "pairwise" and k > _MAX_ENUM_BITS:
        raise _err(fn, f"method 'exact_mle' with model='pairwise' enumerates 2^k labels and needs k <= "
                       f"{_MAX_ENUM_BITS}, got k={k}")
    device = torch.device(device)
    x = data.x_train.to(device, torch.float32)
    y = data.y_train.to(device, torch.float32)
    if x.shape[0] != y.shape[0]:
        raise _err(fn, f"data.x_train and data.y_train must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise _err(fn, "data.y_train must be in {0, 1}")
    needs_tau = method in ("minmin", "sparsemax")
    energy, tau_mod = _build(fn, UnaryEnergy if model == "unary" else PairwiseEnergy, tau, x.shape[1], k, hidden,
                             tau_hidden, x.shape[0], seed, device, dropout)
    if not needs_tau:
        tau_mod = None

    def batch_loss(xb, yb, idx, gen):
        u, U = _bits_params(energy, xb)
        if needs_tau:
            t = tau_mod(xb) if isinstance(tau_mod, TauNet) else tau_mod(idx)
            return minmin_loss(u, t, yb, num_samples, pairwise=U, kind=_minmin_kind(method), generator=gen).mean()
        if method == "bce":
            return nn.functional.binary_cross_entropy_with_logits(u, yb, reduction="none").sum(1).mean()
        if method == "exact_mle":
            nll = _ref.unary_nll(u, yb) if U is None else _ref.exact_lse_bits(u, U) - _ref.energy_bits(u, yb, U)
            return nll.mean()
        # mcmc: CD-k from the data, chains detached
        init = yb[:, None, :].expand(-1, num_samples, -1)
        ys = gibbs_bits(u.detach(), None if U is None else U.detach(), init, chain_length, gen)
        return (_ref.energy_bits(u, ys, U).mean(1) - _ref.energy_bits(u, yb, U)).mean()

    nll_curve: List[float] = []
    on_epoch = (lambda: nll_curve.append(exact_nll_multilabel(energy, x, y))) if track_nll else None
    t0 = time.perf_counter()
    curve = _fit(fn, energy, tau_mod, batch_loss, x, y, epochs=epochs, batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, seed=seed, progress=progress, grad_clip=grad_clip, tau_lr=tau_lr,
                 on_epoch=on_epoch)
    seconds = time.perf_counter() - t0
    metrics = evaluate_multilabel(energy, data.x_test.to(device, torch.float32), data.y_test.to(device, torch.float32),
                                  predict_steps=predict_steps)
    config = dict(method=method, model=model, tau=tau, num_samples=num_samples, epochs=epochs, batch_size=batch_size,
                  lr=lr, weight_decay=weight_decay, hidden=hidden, tau_hidden=tau_hidden, dropout=dropout,
                  chain_length=chain_length, grad_clip=grad_clip, tau_lr=tau_lr, seed=seed)
    return TrainResult(method, model, metrics, curve, seconds, energy, tau_mod, nll_curve, config)


def train_ranking(data, method: str = "minmin", *, model: str = "permutahedron", train_idx=None, test_idx=None,
                  tau: str = "net", num_samples: int = 32, epochs: int = 100, batch_size: int = 32, lr: float = 1e-3,
                  weight_decay: float = 0.0, hidden: int = 64, tau_hidden: Optional[int] = None, dropout: float = 0.0,
                  chain_length: int = 1, grad_clip: Optional[float] = None, tau_lr: Optional[float] = None,
                  seed: int = 0,
                  device: str | torch.device = "cpu", progress: bool = False) -> TrainResult:
    """Trains a label-ranking EBM; y are permutations (B, n) int64 (Conventions: y = n − rank).

    data: a `RankingSplit` (x_train, y_train, x_test, y_test) or a `RankingData` with train_idx/test_idx
    (e.g. from data.kfold_indices). method ∈ RANKING_METHODS ("exact_mle" enumerates n! ≤ 8! permutations);
    model "permutahedron" (argsort prediction) | "birkhoff" (Hungarian); other arguments as train_multilabel
    (mcmc: Metropolis random-swap chains started at the data permutation)."""
    fn = "train_ranking"
    tau_hidden = hidden if tau_hidden is None else tau_hidden
    _check_common(fn, method, RANKING_METHODS, model, RANKING_MODELS, tau, num_samples, epochs, batch_size, lr,
                  weight_decay, hidden, tau_hidden, chain_length, seed, grad_clip, dropout, tau_lr)
    split = _ranking_split(fn, data, train_idx, test_idx)
    device = torch.device(device)
    x = split.x_train.to(device, torch.float32)
    y = split.y_train.to(device, torch.long)
    if x.shape[0] != y.shape[0]:
        raise _err(fn, f"x_train and y_train must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    n = y.shape[1]
    if not bool((y.sort(1).values == torch.arange(n, device=device)).all()):
        raise _err(fn, "y_train rows must be permutations of 0..n-1")
    if method == "exact_mle" and n > _MAX_ENUM_PERMS:
        raise _err(fn, f"method 'exact_mle' enumerates n! permutations and needs n <= {_MAX_ENUM_PERMS}, got n={n}")
    needs_tau = method in ("minmin", "sparsemax")
    energy, tau_mod = _build(fn, PermutahedronEnergy if model == "permutahedron" else BirkhoffEnergy, tau, x.shape[1],
                             n, hidden, tau_hidden, x.shape[0], seed, device, dropout)
    if not needs_tau:
        tau_mod = None

    def batch_loss(xb, yb, idx, gen):
        theta = energy(xb)
        if needs_tau:
            t = tau_mod(xb) if isinstance(tau_mod, TauNet) else tau_mod(idx)
            return minmin_loss_ranking(theta, t, yb, num_samples, kind=_minmin_kind(method), generator=gen).mean()
        if method == "exact_mle":
            return (_ref.exact_lse_perms(theta) - _ref.energy_perms(theta, yb)).mean()
        init = yb[:, None, :].expand(-1, num_samples, -1)
        ys = metropolis_perms(theta.detach(), init, chain_length, gen)
        return (_ref.energy_perms(theta, ys).mean(1) - _ref.energy_perms(theta, yb)).mean()

    t0 = time.perf_counter()
    curve = _fit(fn, energy, tau_mod, batch_loss, x, y, epochs=epochs, batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, seed=seed, progress=progress, grad_clip=grad_clip, tau_lr=tau_lr)
    seconds = time.perf_counter() - t0
    metrics = evaluate_ranking(energy, split.x_test.to(device, torch.float32), split.y_test.to(device, torch.long))
    config = dict(method=method, model=model, tau=tau, num_samples=num_samples, epochs=epochs, batch_size=batch_size,
                  lr=lr, weight_decay=weight_decay, hidden=hidden, tau_hidden=tau_hidden, dropout=dropout,
                  chain_length=chain_length, grad_clip=grad_clip, tau_lr=tau_lr, seed=seed)
    return TrainResult(method, model, metrics, curve, seconds, energy, tau_mod, [], config)
