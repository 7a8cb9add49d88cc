"""The trainers of the energy experiments: min-min training of a conditional EBM and its baselines, on
the lab's training loop (`harness.fit`, optional checkpoint and exact resume).

`train_multilabel` / `train_ranking` fit an energy of `pyalgo.energy.models` with one Adam loop over
the methods

- "minmin"     ℓ = τ + E_q[e^{g−τ}] − 1 − g(y)                 (m uniform samples; doubly stochastic)
- "sparsemax"  the same with the Tsallis-2 generator
- "exact_mle"  LSE(x) − g(y) with the exact LSE (closed form for unary, enumeration for small Ising / n ≤ 8)
- "bce"        Σ_i BCEWithLogits(u_i, y_i)  (unary only; same optimum as exact_mle, constant k log 2 apart)
- "mcmc"       contrastive divergence: mean_j g(y_model_j) − g(y_data), y_model from `chain_length` Gibbs
               sweeps (bits) or Metropolis random-swap sweeps (permutations) started at the data y (CD-k),
               samples detached: a biased short-run-chain gradient of the NLL.
- "entmax"     min-min with the α-Tsallis (α-entmax) generator, α = `alpha` (default 1.5; 1 → minmin, 2 → sparsemax)
- "gfy"        generalized Fenchel–Young loss max_{μ∈conv(Y)} [g(μ) − ½‖μ − c‖²] − [g(y) − ½‖y − c‖²]
               (Blondel et al., NeurIPS 2022; `pyalgo.energy.baselines`): no τ, no sampling
- "minmax"     min-max logistic: E_{p_φ}[g] − g(y) with m samples of a learned sampler p_φ(y|x) (factorised
               Bernoulli for bits, Plackett–Luce for permutations; a network of `tau_hidden` hidden units trained at
               `tau_lr` (default 10 × lr) by REINFORCE to maximise E_{p_φ}[g − log p_φ + log q]); TrainResult.tau
               is the sampler

`proposal` (the min-min losses minmin / sparsemax / entmax only) picks the reference distribution r the m samples come from; the
loss weighs each sample by q/r (importance weights), so it stays an unbiased estimate of the uniform-q
loss, with far less variance when r is close to the model (many labels: k! or 2^k states):

- "uniform"  r = q (the paper's method);
- "model"    r from the current energy's own parameters, detached: Plackett–Luce(θ(x)) for the
             permutahedron model, Bernoulli(σ(u(x))) (the unary part) for multilabel models;
- "learned"  r from a separate head (a `PermutahedronEnergy` giving PL scores / a `UnaryEnergy` giving
             logits, `hidden` units) trained jointly by maximum likelihood of the observed y under r
             (its own gradient only; its NLL is added to the reported training loss).

Everything is reproducible from `seed`: the networks are initialised from `torch.manual_seed(seed)`,
minibatch order, sampling and dropout draw from generators seeded from `seed`, and the caller's global
RNG state is left untouched. With `checkpoint=PATH` every epoch is saved; `resume=True` continues a run
from its checkpoint exactly (the same numbers as an uninterrupted run).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Union

import numpy as np

import torch
from torch import nn

from pyalgo.energy import baselines as _base
from pyalgo.energy import reference as _ref
from pyalgo.energy.data import RankingData, RankingSplit
from pyalgo.energy.evaluate import (MAX_EXACT_BITS, MAX_EXACT_PERMS, evaluate_multilabel, evaluate_ranking,
                                    exact_nll_multilabel, unary_pairwise)
from pyalgo.energy.mcmc import gibbs_bits, metropolis_perms
from pyalgo.energy.models import (BirkhoffEnergy, FreeTau, PairwiseEnergy, PermutahedronEnergy, TauNet,
                                  UnaryEnergy)
from pyalgo.energy.ops import minmin_loss, minmin_loss_ranking

from ..harness import Checkpoint, TrainState, fit


class MultilabelSplit(Protocol):
    """What `train_multilabel` reads: a `MultilabelData`, a `SyntheticIsing` or any object with these."""

    @property
    def x_train(self) -> torch.Tensor: ...
    @property
    def y_train(self) -> torch.Tensor: ...
    @property
    def x_test(self) -> torch.Tensor: ...
    @property
    def y_test(self) -> torch.Tensor: ...


Indices = Union[np.ndarray, Sequence[int], torch.Tensor]

__all__ = ["TrainResult", "train_multilabel", "train_ranking", "MULTILABEL_METHODS", "RANKING_METHODS",
           "MULTILABEL_MODELS", "RANKING_MODELS", "PROPOSALS"]

MULTILABEL_METHODS = ("minmin", "sparsemax", "exact_mle", "bce", "mcmc", "gfy", "minmax", "entmax")
RANKING_METHODS = ("minmin", "sparsemax", "exact_mle", "mcmc", "gfy", "minmax", "entmax")
_TAU_METHODS = ("minmin", "sparsemax", "entmax")   # the min-min losses: a τ network
MINMAX_SAMPLER_LR_FACTOR = 10.0   # minmax with tau_lr=None: the sampler learns at 10 × lr (validation: yeast, glass)
PROPOSALS = ("uniform", "model", "learned")
MULTILABEL_MODELS = ("unary", "pairwise")
RANKING_MODELS = ("permutahedron", "birkhoff")
_ENERGIES = dict(unary=UnaryEnergy, pairwise=PairwiseEnergy, permutahedron=PermutahedronEnergy,
                 birkhoff=BirkhoffEnergy)
PathLike = Union[str, Path]


def _err(fn: str, msg: str, exc=ValueError):
    return exc(f"pyalgo.lab.energy.{fn}: {msg}")


@dataclass
class TrainResult:
    """metrics: test metrics (F1 ×100, Hamming fraction, Kendall τ ×100, NLL where exact);
    curve: mean training loss per epoch (proposal="learned": + the proposal head's NLL); train_nll: exact
    training NLL per epoch (when `track_nll`); seconds: wall time of the training epochs; config: the
    settings (plain data); proposal: the learned proposal's head (proposal="learned"), else None."""
    method: str
    model: str
    metrics: Dict[str, float]
    curve: List[float]
    seconds: float
    energy: nn.Module
    tau: Optional[nn.Module]
    train_nll: List[float] = field(default_factory=list)
    config: Dict[str, object] = field(default_factory=dict)
    proposal: Optional[nn.Module] = None


# -- settings -------------------------------------------------------------------------------------

def _settings(fn: str, methods, models, **s) -> Dict[str, object]:
    """The trainer's settings as one checked dict (errors name the trainer and the argument)."""
    if not isinstance(s["method"], str) or s["method"] not in methods:
        raise _err(fn, f"method must be one of {methods}, got {s['method']!r}")
    if not isinstance(s["model"], str) or s["model"] not in models:
        raise _err(fn, f"model must be one of {models}, got {s['model']!r}")
    if s["tau"] not in ("net", "free"):
        raise _err(fn, f"tau must be 'net' or 'free', got {s['tau']!r}")
    s["tau_hidden"] = s["hidden"] if s["tau_hidden"] is None else s["tau_hidden"]
    for name, lo in (("num_samples", 1), ("epochs", 0), ("batch_size", 1), ("hidden", 0), ("tau_hidden", 0),
                     ("chain_length", 1), ("seed", 0)):
        if isinstance(s[name], bool) or not isinstance(s[name], int):
            raise _err(fn, f"{name} must be an int, got {type(s[name]).__name__}", TypeError)
        if s[name] < lo:
            raise _err(fn, f"{name} must be >= {lo}, got {s[name]}")
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
    if not number(s["lr"]) or s["lr"] <= 0:
        raise _err(fn, f"lr must be a finite positive float, got {s['lr']!r}")
    if not number(s["weight_decay"]) or s["weight_decay"] < 0:
        raise _err(fn, f"weight_decay must be a finite non-negative float, got {s['weight_decay']!r}")
    for name in ("tau_lr", "grad_clip"):
        if s[name] is not None and (not number(s[name]) or s[name] <= 0):
            raise _err(fn, f"{name} must be None or a finite positive float, got {s[name]!r}")
    if not number(s["dropout"]) or not 0 <= s["dropout"] < 1:
        raise _err(fn, f"dropout must be a float in [0, 1), got {s['dropout']!r}")
    if not number(s["alpha"]) or s["alpha"] <= 1:
        raise _err(fn, f"alpha (the entmax α of method 'entmax') must be a finite float > 1, got {s['alpha']!r}")
    s.setdefault("proposal", "uniform")
    if not isinstance(s["proposal"], str) or s["proposal"] not in PROPOSALS:
        raise _err(fn, f"proposal must be one of {PROPOSALS}, got {s['proposal']!r}")
    if s["proposal"] != "uniform" and s["method"] not in _TAU_METHODS:
        raise _err(fn, f"proposal={s['proposal']!r} needs a min-min method {_TAU_METHODS}, got "
                       f"method={s['method']!r}")
    s.setdefault("proposal_scale", 1.0)
    if not number(s["proposal_scale"]) or s["proposal_scale"] <= 0:
        raise _err(fn, f"proposal_scale must be a finite positive float, got {s['proposal_scale']!r}")
    if s["proposal_scale"] != 1.0 and s["proposal"] != "model":
        raise _err(fn, f"proposal_scale applies to proposal='model' only, got proposal={s['proposal']!r}")
    s.setdefault("init_scale", 1.0)
    if not number(s["init_scale"]) or s["init_scale"] < 0:
        raise _err(fn, f"init_scale must be a finite float >= 0, got {s['init_scale']!r}")
    s.setdefault("center", False)
    if not isinstance(s["center"], bool):
        raise _err(fn, f"center must be a bool, got {type(s['center']).__name__}", TypeError)
    if s["center"] and (s["model"] != "permutahedron" or s["method"] not in _TAU_METHODS):
        raise _err(fn, f"center=True needs model='permutahedron' and a min-min method, got model={s['model']!r}, "
                       f"method={s['method']!r}")
    if s["proposal"] == "model" and s["model"] == "birkhoff":
        raise _err(fn, "proposal='model' needs model='permutahedron' (Plackett–Luce scores θ(x)); use "
                       "proposal='learned' with model='birkhoff'")
    return s


# -- the shared training loop -------------------------------------------------------------------------

def _build(s: dict, d: int, out_dim: int, num_train: int, device: torch.device):
    """(energy, τ module or None) initialised from torch.manual_seed(seed), the caller's RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s["seed"])
        energy = _ENERGIES[s["model"]](d, out_dim, s["hidden"], s["dropout"]).to(device)
        if s.get("init_scale", 1.0) != 1.0:   # a near-uniform initial p_g: output layer scaled, bias zeroed
            last = energy.net if s["hidden"] == 0 else energy.net[-1]
            with torch.no_grad():
                last.weight.mul_(s["init_scale"])
                last.bias.zero_()
        tau = TauNet(d, s["tau_hidden"]).to(device) if s["tau"] == "net" else FreeTau(num_train).to(device)
        if s["method"] == "minmax":   # the sampler p_φ(y|x), in τ's slot (own lr tau_lr, no weight decay)
            tau = (UnaryEnergy if s["model"] in MULTILABEL_MODELS else PermutahedronEnergy)(
                d, out_dim, s["tau_hidden"]).to(device)
            last = tau.net if s["tau_hidden"] == 0 else tau.net[-1]
            with torch.no_grad():   # starts at p_φ = q (uniform)
                last.weight.zero_()
                last.bias.zero_()
    return energy, (tau if s["method"] in _TAU_METHODS + ("minmax",) else None)


def _build_proposal(s: dict, d: int, out_dim: int, device: torch.device) -> Optional[nn.Module]:
    """The learned proposal's head (proposal="learned"), initialised from torch.manual_seed(seed + 3): PL
    scores (ranking) or Bernoulli logits (multilabel), `hidden` units, no dropout; None otherwise."""
    if s["proposal"] != "learned":
        return None
    cls = UnaryEnergy if s["model"] in MULTILABEL_MODELS else PermutahedronEnergy
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s["seed"] + 3)
        return cls(d, out_dim, s["hidden"]).to(device)


@contextlib.contextmanager
def _dropout_generator(device: torch.device, seed: int) -> Iterator[torch.Generator]:
    """The generator nn.Dropout draws from on `device` (modules take no generator: the device's default
    one), seeded from `seed` for the block; the caller's state is restored afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if device.type == "cuda":
            gen = torch.cuda.default_generators[torch.cuda.current_device() if device.index is None else device.index]
        else:
            gen = torch.default_generator
        gen.manual_seed(seed)
        yield gen


def _fit(fn: str, s: dict, energy: nn.Module, tau: Optional[nn.Module], batch_loss: Callable, x: torch.Tensor,
         y: torch.Tensor, *, progress: bool, extra: Optional[Callable[[], Dict[str, float]]] = None,
         checkpoint: Optional[PathLike] = None, resume: bool = False,
         proposal: Optional[nn.Module] = None) -> Dict[str, List[float]]:
    """Adam on the energy and τ jointly, through `harness.fit`: weight decay on the energy only (τ must
    be free to reach the LSE), τ's learning rate tau_lr (default lr), optional global grad-norm clipping
    (a learned proposal's head: its own Adam group, no weight decay, clipped on its own).
    batch_loss(xb, yb, idx, generator) → scalar. Returns the history ("loss" per epoch, `extra`'s keys)."""
    groups = [dict(params=list(energy.parameters()), weight_decay=s["weight_decay"])]
    if tau is not None:
        groups.append(dict(params=list(tau.parameters()), weight_decay=0.0,
                           lr=_tau_lr(s)))
    params = [p for g in groups for p in g["params"]]
    if proposal is not None:
        groups.append(dict(params=list(proposal.parameters()), weight_decay=0.0))
    opt = torch.optim.Adam(groups, lr=s["lr"])
    shuffle = torch.Generator().manual_seed(s["seed"])
    sampler = torch.Generator(device=x.device).manual_seed(s["seed"] + 1)
    n = x.shape[0]

    def run_epoch(epoch: int) -> Dict[str, float]:
        energy.train()
        perm = torch.randperm(n, generator=shuffle).to(x.device)
        total, count = 0.0, 0
        for start in range(0, n, s["batch_size"]):
            idx = perm[start:start + s["batch_size"]]
            loss = batch_loss(x[idx], y[idx], idx, sampler)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s["grad_clip"] is not None:
                nn.utils.clip_grad_norm_(params, s["grad_clip"])
                if proposal is not None:
                    nn.utils.clip_grad_norm_(list(proposal.parameters()), s["grad_clip"])
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        return dict(loss=total / max(count, 1), **(extra() if extra else {}))

    config = {k: v for k, v in s.items() if k != "epochs"}  # more epochs may continue a run
    config["data"] = [*x.shape, *y.shape[1:]]
    with _dropout_generator(x.device, s["seed"] + 2) as dropout:
        parts = dict(energy=energy, opt=opt, shuffle=shuffle, sampler=sampler, dropout=dropout)
        if tau is not None:
            parts["tau"] = tau
        if proposal is not None:
            parts["proposal"] = proposal
        return fit(s["epochs"], run_epoch, state=TrainState(**parts), resume=resume, progress=progress,
                   checkpoint=Checkpoint(checkpoint, config, owner=f"pyalgo.lab.energy.{fn}") if checkpoint else None,
                   desc=f"pyalgo.lab.energy.{fn}", map_location=x.device)


def _result(s: dict, history: Dict[str, List[float]], metrics: Dict[str, float], energy, tau) -> TrainResult:
    seconds = history["seconds"][-1] if history.get("seconds") else 0.0
    return TrainResult(s["method"], s["model"], metrics, history.get("loss", []), seconds, energy, tau,
                       history.get("train_nll", []), dict(s))


def _tau_of(tau: nn.Module, xb: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return tau(xb) if isinstance(tau, TauNet) else tau(idx)


def _tau_lr(s: dict) -> float:
    """τ's (or the minmax sampler's) learning rate: tau_lr, default lr (minmax: MINMAX_SAMPLER_LR_FACTOR × lr)."""
    if s["tau_lr"] is not None:
        return s["tau_lr"]
    return s["lr"] * (MINMAX_SAMPLER_LR_FACTOR if s["method"] == "minmax" else 1.0)


def _kind(method: str) -> str:
    return "logistic" if method == "minmin" else "sparsemax"


def _kind_alpha(s: dict) -> dict:
    """kind/alpha arguments of the fused min-min ops for method minmin | sparsemax | entmax."""
    return dict(kind="entmax", alpha=s["alpha"]) if s["method"] == "entmax" else dict(kind=_kind(s["method"]))


def _proposal_of(s: dict, head: Optional[nn.Module], params: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor,
                 ranking: bool):
    """(proposal tensor for the loss or None, the head's NLL term or 0): "model" uses the energy's own
    parameters (θ or the unary u), detached; "learned" the head's output, detached, plus the head's
    maximum-likelihood loss on the observed y (the only gradient the head gets)."""
    if s["proposal"] == "uniform":
        return None, 0.0
    if s["proposal"] == "model":
        return params.detach() * s["proposal_scale"], 0.0
    a = head(xb)
    if ranking:
        nll = -_ref.plackett_luce_log_prob(a, yb).mean()
    else:
        nll = nn.functional.binary_cross_entropy_with_logits(a, yb, reduction="none").sum(1).mean()
    return a.detach(), nll


# -- multilabel ---------------------------------------------------------------------------------------

def _multilabel_data(fn: str, data, s: dict, device: torch.device):
    for name in ("x_train", "y_train", "x_test", "y_test"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise _err(fn, f"data must have tensor attributes x_train, y_train, x_test, y_test; {name} is missing",
                       TypeError)
    if s["method"] == "bce" and s["model"] != "unary":
        raise _err(fn, f"method 'bce' needs model='unary', got model={s['model']!r}")
    k = data.y_train.shape[1]
    if s["method"] == "exact_mle" and s["model"] == "pairwise" and k > MAX_EXACT_BITS:
        raise _err(fn, f"method 'exact_mle' with model='pairwise' enumerates 2^k labels and needs k <= "
                       f"{MAX_EXACT_BITS}, got k={k}")
    x = data.x_train.to(device, torch.float32)
    y = data.y_train.to(device, torch.float32)
    if x.shape[0] != y.shape[0]:
        raise _err(fn, f"data.x_train and data.y_train must have the same number of rows, got {x.shape[0]} and "
                       f"{y.shape[0]}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise _err(fn, "data.y_train must be in {0, 1}")
    return x, y


def _multilabel_loss(s: dict, energy: nn.Module, tau: Optional[nn.Module],
                     head: Optional[nn.Module] = None) -> Callable:
    method, m = s["method"], s["num_samples"]

    def batch_loss(xb, yb, idx, gen):
        u, U = unary_pairwise(energy, xb)
        if method == "gfy":
            return _base.gfy_loss_bits(u, yb, U).mean()
        if method == "minmax":
            return _base.minmax_loss_bits(u, tau(xb), yb, m, U, gen).loss.mean()
        if tau is not None:
            prop, head_nll = _proposal_of(s, head, u, xb, yb, ranking=False)
            kw = {} if prop is None else dict(proposal=prop)
            loss = minmin_loss(u, _tau_of(tau, xb, idx), yb, m, pairwise=U, generator=gen, **kw,
                               **_kind_alpha(s))
            return loss.mean() + head_nll
        if method == "bce":
            return nn.functional.binary_cross_entropy_with_logits(u, yb, reduction="none").sum(1).mean()
        if method == "exact_mle":
            nll = _ref.unary_nll(u, yb) if U is None else _ref.exact_lse_bits(u, U) - _ref.energy_bits(u, yb, U)
            return nll.mean()
        init = yb[:, None, :].expand(-1, m, -1)  # mcmc: CD-k from the data, chains detached
        ys = gibbs_bits(u.detach(), None if U is None else U.detach(), init, s["chain_length"], gen)
        return (_ref.energy_bits(u, ys, U).mean(1) - _ref.energy_bits(u, yb, U)).mean()
    return batch_loss


def train_multilabel(data: MultilabelSplit, method: str = "minmin", *, model: str = "unary", tau: str = "net",
                     num_samples: int = 32,
                     epochs: int = 50, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0,
                     hidden: int = 128, tau_hidden: Optional[int] = None, dropout: float = 0.0, chain_length: int = 1,
                     grad_clip: Optional[float] = None, tau_lr: Optional[float] = None, seed: int = 0,
                     device: Union[str, torch.device] = "cpu", track_nll: bool = False, predict_steps: int = 100,
                     progress: bool = False, checkpoint: Optional[PathLike] = None,
                     resume: bool = False, alpha: float = 1.5, proposal: str = "uniform",
                     proposal_scale: float = 1.0) -> TrainResult:
    """Trains a multilabel EBM on data.x_train (N, d), data.y_train (N, k) ∈ {0,1}; evaluates on x_test/y_test.

    method ∈ MULTILABEL_METHODS (module doc); model "unary" | "pairwise"; tau "net" (TauNet) | "free" (FreeTau,
    finite sum). num_samples: m uniform samples per example (minmin/sparsemax) or MCMC chains per example (mcmc).
    exact_mle needs the unary model or k ≤ 16 (enumeration); bce needs the unary model. proposal (minmin /
    sparsemax): "uniform" | "model" (Bernoulli(σ(u(x))), u detached) | "learned" (a BCE-trained logit head;
    TrainResult.config and the checkpoint include it). track_nll records
    the exact training NLL after every epoch. checkpoint: a file saved after every epoch; resume=True
    continues from it (CheckpointMismatch if it was made with other settings or data).
    alpha: the α > 1 of method "entmax". Method "minmax": num_samples REINFORCE samples per example, the
    sampler network has tau_hidden hidden units and learning rate tau_lr (default 10 × lr); "gfy" ignores the
    sampling and τ settings."""
    fn = "train_multilabel"
    s = _settings(fn, MULTILABEL_METHODS, MULTILABEL_MODELS, method=method, model=model, tau=tau,
                  num_samples=num_samples, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                  hidden=hidden, tau_hidden=tau_hidden, dropout=dropout, chain_length=chain_length,
                  grad_clip=grad_clip, tau_lr=tau_lr, seed=seed, alpha=alpha, proposal=proposal,
                  proposal_scale=proposal_scale)
    device = torch.device(device)
    x, y = _multilabel_data(fn, data, s, device)
    energy, tau_mod = _build(s, x.shape[1], y.shape[1], x.shape[0], device)
    head = _build_proposal(s, x.shape[1], y.shape[1], device)
    extra = (lambda: dict(train_nll=exact_nll_multilabel(energy, x, y))) if track_nll else None
    history = _fit(fn, s, energy, tau_mod, _multilabel_loss(s, energy, tau_mod, head), x, y, progress=progress,
                   extra=extra, checkpoint=checkpoint, resume=resume, proposal=head)
    metrics = evaluate_multilabel(energy, data.x_test.to(device, torch.float32), data.y_test.to(device, torch.float32),
                                  predict_steps=predict_steps)
    return replace(_result(s, history, metrics, energy, tau_mod), proposal=head)


# -- label ranking ------------------------------------------------------------------------------------

def _ranking_split(fn: str, data, train_idx, test_idx) -> RankingSplit:
    if hasattr(data, "x_train"):
        return data
    if not isinstance(data, RankingData):
        raise _err(fn, f"data must be a RankingData or have x_train/y_train/x_test/y_test, got {type(data).__name__}",
                   TypeError)
    if train_idx is None or test_idx is None:
        raise _err(fn, "train_idx and test_idx must be given for a RankingData (use data.kfold_indices)")
    return data.split(train_idx, test_idx)


def _ranking_loss(s: dict, energy: nn.Module, tau: Optional[nn.Module],
                  head: Optional[nn.Module] = None) -> Callable:
    method, m = s["method"], s["num_samples"]

    def batch_loss(xb, yb, idx, gen):
        theta = energy(xb)
        if method == "gfy":
            return _base.gfy_loss_perms(theta, yb).mean()
        if method == "minmax":
            return _base.minmax_loss_perms(theta, tau(xb), yb, m, gen).loss.mean()
        if tau is not None:
            if s["center"]:
                theta = theta - theta.mean(1, keepdim=True)
            prop, head_nll = _proposal_of(s, head, theta, xb, yb, ranking=True)
            kw = {} if prop is None else dict(proposal=prop)
            loss = minmin_loss_ranking(theta, _tau_of(tau, xb, idx), yb, m, generator=gen, **kw,
                                       **_kind_alpha(s))
            return loss.mean() + head_nll
        if method == "exact_mle":
            return (_ref.exact_lse_perms(theta) - _ref.energy_perms(theta, yb)).mean()
        init = yb[:, None, :].expand(-1, m, -1)  # mcmc: Metropolis chains from the data permutation
        ys = metropolis_perms(theta.detach(), init, s["chain_length"], gen)
        return (_ref.energy_perms(theta, ys).mean(1) - _ref.energy_perms(theta, yb)).mean()
    return batch_loss


def train_ranking(data: Union[RankingSplit, RankingData], method: str = "minmin", *, model: str = "permutahedron",
                  train_idx: Optional[Indices] = None, test_idx: Optional[Indices] = None,
                  tau: str = "net", num_samples: int = 32, epochs: int = 100, batch_size: int = 32, lr: float = 1e-3,
                  weight_decay: float = 0.0, hidden: int = 64, tau_hidden: Optional[int] = None, dropout: float = 0.0,
                  chain_length: int = 1, grad_clip: Optional[float] = None, tau_lr: Optional[float] = None,
                  seed: int = 0, device: Union[str, torch.device] = "cpu", progress: bool = False,
                  checkpoint: Optional[PathLike] = None, resume: bool = False, alpha: float = 1.5,
                  proposal: str = "uniform", center: bool = False, proposal_scale: float = 1.0,
                  init_scale: float = 1.0) -> TrainResult:
    """Trains a label-ranking EBM; y are permutations (B, n) int64 (y = n − rank).

    data: a `RankingSplit` (x_train, y_train, x_test, y_test) or a `RankingData` with train_idx/test_idx
    (e.g. from data.kfold_indices). method ∈ RANKING_METHODS ("exact_mle" enumerates n! ≤ 8! permutations);
    model "permutahedron" (argsort prediction) | "birkhoff" (Hungarian); other arguments as train_multilabel
    (mcmc: Metropolis random-swap chains started at the data permutation; minmax: a Plackett–Luce sampler;
    gfy: the projection onto the permutahedron (exact) or the Birkhoff polytope (Dykstra)).
    proposal (minmin / sparsemax / entmax):
    "uniform" | "model" (Plackett–Luce(θ(x)), θ detached; permutahedron only) | "learned" (a PL-likelihood
    trained score head). center=True (permutahedron min-min): the loss sees θ − mean_i θ_i. The common part
    of θ only adds (n+1)/2·Σθ_i(x) to g for every permutation (p, the prediction and the MLE are unchanged),
    but τ must then track it and its noisy e^{g−τ} gradient swamps the per-item signal: with n ≥ 8 labels
    uncentred min-min barely learns. TrainResult.tau then estimates the log-partition of the centred energy.
    init_scale ≠ 1 multiplies the energy's initial output-layer weights and zeroes its bias (0: p_g starts
    uniform). With many labels a random initial θ makes p_g far from both q and PL(θ) (importance weights
    with χ² growing like e^{Var g}); a small init_scale (0.1) starts where every proposal is accurate.
    proposal_scale multiplies the model's scores for proposal="model" (r = PL(scale·θ)): PL(θ) is flatter than
    p_g ∝ e^{⟨θ, y⟩} far from the mode, and a scale of 1.5–2 gives lower-variance weights (many_labels.py)."""
    fn = "train_ranking"
    s = _settings(fn, RANKING_METHODS, RANKING_MODELS, method=method, model=model, tau=tau, num_samples=num_samples,
                  epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, hidden=hidden,
                  tau_hidden=tau_hidden, dropout=dropout, chain_length=chain_length, grad_clip=grad_clip,
                  tau_lr=tau_lr, seed=seed, alpha=alpha, proposal=proposal, center=center,
                  proposal_scale=proposal_scale, init_scale=init_scale)
    split = _ranking_split(fn, data, train_idx, test_idx)
    device = torch.device(device)
    x = split.x_train.to(device, torch.float32)
    y = split.y_train.to(device, torch.long)
    if x.shape[0] != y.shape[0]:
        raise _err(fn, f"x_train and y_train must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    n = y.shape[1]
    if not bool((y.sort(1).values == torch.arange(n, device=device)).all()):
        raise _err(fn, "y_train rows must be permutations of 0..n-1")
    if method == "exact_mle" and n > MAX_EXACT_PERMS:
        raise _err(fn, f"method 'exact_mle' enumerates n! permutations and needs n <= {MAX_EXACT_PERMS}, got n={n}")
    energy, tau_mod = _build(s, x.shape[1], n, x.shape[0], device)
    head = _build_proposal(s, x.shape[1], n, device)
    history = _fit(fn, s, energy, tau_mod, _ranking_loss(s, energy, tau_mod, head), x, y, progress=progress,
                   checkpoint=checkpoint, resume=resume, proposal=head)
    metrics = evaluate_ranking(energy, split.x_test.to(device, torch.float32), split.y_test.to(device, torch.long))
    return replace(_result(s, history, metrics, energy, tau_mod), proposal=head)
