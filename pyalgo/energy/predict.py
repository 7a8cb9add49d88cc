"""Prediction oracles: the mode argmax_y g(y) of each output space. With q uniform the mode of p_g is
argmax_y g.

- unary multilabel: threshold, y_i = 1[u_i ≥ 0] (exact);
- `nonempty=True` (unary and Ising): the mode over the non-empty label sets, for data in which every row has a
  label (the bundled mulan sets): unary = the threshold, or the single largest u_i where no u_i ≥ 0 (exact);
  Ising = the same local search kept away from the empty set;
- `predict_expected_f1` (unary): the label set of the largest expected example-based F1 under the model's
  own distribution, independent Bernoulli(σ(u_i)) (exact: under independence the optimum is the top-j
  labels by σ(u) for some j, and the expected F1 of each j is summed over two Poisson-binomial laws);
- Ising multilabel: projected gradient ascent on the relaxation over [0,1]^k, rounding, then greedy
  single-bit flips on the exact energy (a local optimum; never worse than the rounded point);
- permutahedron: argmax_y ⟨θ, y + 1⟩ = the ranks of θ (exact, rearrangement inequality);
- Birkhoff: Hungarian algorithm (scipy `linear_sum_assignment`, maximise; exact; scipy loads on the first call).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from .reference import _bit_energy_chunks, _check_bits_args, _check_tensor, _enum_bits_check, _err

__all__ = ["MAX_STEPS", "predict_unary", "predict_expected_f1", "predict_pairwise", "predict_permutahedron",
           "predict_birkhoff", "mode_bits_exact"]

MAX_STEPS = 1_000_000   # iteration cap of predict_pairwise's projected gradient ascent


def _no_nan(fn: str, **tensors) -> None:
    for name, x in tensors.items():
        if x is not None and bool(torch.isnan(x).any()):
            raise _err(fn, f"{name} must not contain NaN")


def _finite(fn: str, **tensors) -> None:
    for name, x in tensors.items():
        if x is not None and not bool(torch.isfinite(x).all()):
            raise _err(fn, f"{name} must be finite (no NaN or inf energies)")


def predict_unary(unary: torch.Tensor, nonempty: bool = False) -> torch.Tensor:
    """Mode of g = ⟨u, y⟩: y_i = 1[u_i ≥ 0].

    Args:
        unary: (B, k).
        nonempty: the mode over the non-empty sets instead: a row with no u_i ≥ 0 gets its largest u_i
            (exact: the best non-empty set of such a row is a singleton).

    Returns:
        (B, k) in {0, 1}, unary's dtype.

    Example:
        y = predict_unary(torch.randn(4, 6))
    """
    _check_tensor("predict_unary", "unary", unary, 2, floating=True)
    _no_nan("predict_unary", unary=unary.detach())
    y = (unary >= 0).to(unary.dtype)
    if nonempty and unary.shape[1] > 0:
        _fill_empty(y, unary.detach())
    return y


def _fill_empty(y: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """In place: every all-zero row of y gets a 1 at its largest score."""
    empty = y.sum(1) == 0
    if bool(empty.any()):
        rows = empty.nonzero().squeeze(1)
        y[rows, score[rows].argmax(1)] = 1
    return y


def _poisson_binomial_prefixes(p: torch.Tensor) -> torch.Tensor:
    """(B, k) probabilities -> (B, k + 1, k + 1): [:, j] = the law of the number of successes among the first j."""
    B, k = p.shape
    out = p.new_zeros(B, k + 1, k + 1)
    out[:, 0, 0] = 1.0
    for j in range(k):
        prev = out[:, j]
        out[:, j + 1] = prev * (1.0 - p[:, j:j + 1])
        out[:, j + 1, 1:] += prev[:, :-1] * p[:, j:j + 1]
    return out


def predict_expected_f1(unary: torch.Tensor, nonempty: bool = False) -> torch.Tensor:
    """The label set of the largest expected example-based F1 under independent y_i ~ Bernoulli(σ(u_i))
    (the distribution of the unary model), the F1 of `metrics.f1_example` (empty vs empty scores 1).

    Under independence the optimum is the top-j labels by u for some j (Ye, Chai, Lee, Chieu, ICML 2012);
    E F1(top-j) = Σ_{a,c} P(A = a) P(C = c) 2a / (j + a + c), A = true labels among the top j, C = the others,
    both Poisson-binomial: O(k³) per row.

    Args:
        unary: (B, k).
        nonempty: only non-empty sets (j ≥ 1).

    Returns:
        (B, k) in {0, 1}, unary's dtype.

    Example:
        y = predict_expected_f1(torch.randn(4, 6))
    """
    fn = "predict_expected_f1"
    _check_tensor(fn, "unary", unary, 2, floating=True)
    _no_nan(fn, unary=unary.detach())
    B, k = unary.shape
    with torch.no_grad():
        p, order = torch.sigmoid(unary.detach().double()).sort(1, descending=True)
        head, tail = _poisson_binomial_prefixes(p), _poisson_binomial_prefixes(p.flip(1))
        counts = torch.arange(k + 1, dtype=p.dtype, device=p.device)
        scores = []
        for j in range(k + 1):
            if j == 0:
                e = tail[:, k, 0] if not nonempty else torch.full((B,), -math.inf, dtype=p.dtype, device=p.device)
            else:
                w = 2.0 * counts[:, None] / (j + counts[:, None] + counts[None, :])
                e = torch.einsum("ba,ac,bc->b", head[:, j], w, tail[:, k - j])
            scores.append(e)
        best = torch.stack(scores, 1).argmax(1)
        chosen = (torch.arange(k, device=p.device)[None, :] < best[:, None]).to(unary.dtype)
        y = torch.zeros_like(unary, dtype=unary.dtype).detach()
        y.scatter_(1, order, chosen)
    return y


def _flip_gains(unary, pairwise, y):
    """Exact change of g = ⟨u,y⟩ + ½yᵀUy when flipping bit i alone, for every i -> (B, k).

    g(y ± e_i) − g(y) = d_i (u_i + ½((U + Uᵀ)y)_i) + ½U_ii with d_i = 1 − 2y_i.
    """
    d = 1.0 - 2.0 * y
    sym_y = torch.einsum("bij,bj->bi", pairwise + pairwise.transpose(1, 2), y)
    return d * (unary + 0.5 * sym_y) + 0.5 * torch.diagonal(pairwise, dim1=1, dim2=2)


def predict_pairwise(unary: torch.Tensor, pairwise: Optional[torch.Tensor], steps: int = 100,
                     lr: Optional[float] = None, nonempty: bool = False) -> torch.Tensor:
    """Approximate mode of the Ising energy g = ⟨u, y⟩ + ½ yᵀUy.

    1. projected gradient ascent on ⟨u, μ⟩ + ½ μᵀUμ over μ ∈ [0,1]^k from μ = sigmoid(u), `steps`
       steps of size `lr` (default 1/‖½(U + Uᵀ)‖₂ per example, the Lipschitz constant of the
       gradient, so each step ascends);
    2. rounding μ ≥ ½;
    3. greedy single-bit flips (largest exact gain first) until no flip increases g.

    Args:
        unary: (B, k).
        pairwise: (B, k, k), or None (then `predict_unary`).
        steps: gradient steps (<= MAX_STEPS).
        lr: the step size (None: per-example 1/Lipschitz).
        nonempty: the mode over the non-empty sets: a rounded point that is empty is replaced by the best
            singleton (largest u_i + ½U_ii), and no flip may empty a set.

    Returns:
        float (B, k) in {0, 1}.

    Raises:
        ValueError: invalid shapes, steps or lr.

    Example:
        y = predict_pairwise(torch.randn(4, 6), torch.randn(4, 6, 6))
    """
    fn = "predict_pairwise"
    if pairwise is None:
        return predict_unary(unary, nonempty=nonempty)
    _check_bits_args(fn, unary, pairwise)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise _err(fn, f"steps must be an int in [0, {MAX_STEPS}], got {steps!r}")
    _finite(fn, unary=unary.detach(), pairwise=pairwise.detach())
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0):
        raise _err(fn, f"lr must be None or a finite number > 0, got {lr!r}")
    B, k = unary.shape
    with torch.no_grad():
        u = unary.detach().double()
        U = pairwise.detach().double()
        sym = 0.5 * (U + U.transpose(1, 2))
        if lr is None:
            lipschitz = torch.linalg.matrix_norm(sym, ord=2) if k > 0 else torch.zeros(B, dtype=u.dtype)
            step = 1.0 / torch.clamp(lipschitz, min=1e-6)
        else:
            step = torch.full((B,), float(lr), dtype=u.dtype, device=u.device)
        mu = torch.sigmoid(u)
        for _ in range(steps):
            grad = u + torch.einsum("bij,bj->bi", sym, mu)
            mu = torch.clamp(mu + step[:, None] * grad, 0.0, 1.0)
        y = (mu >= 0.5).to(u.dtype)
        if nonempty and k > 0:
            _fill_empty(y, u + 0.5 * torch.diagonal(U, dim1=1, dim2=2))
        rows = torch.arange(B, device=u.device)
        for _ in range(10 * k + 10):     # each accepted flip strictly increases g, so this terminates early
            if k == 0:
                break
            gains = _flip_gains(u, U, y)
            if nonempty:                 # the last label of a row may not be dropped
                gains = gains.masked_fill((y == 1) & (y.sum(1, keepdim=True) == 1), -math.inf)
            best_gain, best = gains.max(dim=1)
            improve = best_gain > 1e-12 * (1.0 + u.abs().sum(1) + U.abs().sum((1, 2)))
            if not bool(improve.any()):
                break
            flipped = y[rows, best]
            y[rows, best] = torch.where(improve, 1.0 - flipped, flipped)
    return y.to(unary.dtype)


def predict_permutahedron(theta: torch.Tensor) -> torch.Tensor:
    """argmax_y ⟨θ, y + 1⟩ over permutations: y_i = rank of θ_i (0 = smallest θ, n−1 = largest).

    Ties are broken by item index (stable sort).

    Args:
        theta: (B, n).

    Returns:
        int64 (B, n).

    Example:
        y = predict_permutahedron(torch.tensor([[0.3, -1.0, 2.0]]))   # [[1, 0, 2]]
    """
    _check_tensor("predict_permutahedron", "theta", theta, 2, floating=True)
    _no_nan("predict_permutahedron", theta=theta.detach())
    order = torch.sort(theta.detach(), dim=1, stable=True).indices
    return torch.argsort(order, dim=1)


def predict_birkhoff(theta: torch.Tensor) -> torch.Tensor:
    """argmax_σ Σ_i Θ[i, σ_i] by the Hungarian algorithm (scipy, maximize=True).

    Args:
        theta: Θ (B, n, n), finite.

    Returns:
        int64 (B, n).

    Raises:
        ValueError: not (B, n, n) or not finite.

    Example:
        y = predict_birkhoff(torch.randn(4, 5, 5))
    """
    from scipy.optimize import linear_sum_assignment  # lazily: `import pyalgo.energy` needs torch and numpy only

    fn = "predict_birkhoff"
    _check_tensor(fn, "theta", theta, 3, floating=True)
    if theta.shape[1] != theta.shape[2]:
        raise _err(fn, f"theta must be square (B, n, n), got {tuple(theta.shape)}")
    B, n = theta.shape[0], theta.shape[1]
    scores = theta.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(scores).all():
        raise _err(fn, "theta must be finite")
    out = np.empty((B, n), dtype=np.int64)
    for b in range(B):
        rows, cols = linear_sum_assignment(scores[b], maximize=True)
        out[b, rows] = cols
    return torch.from_numpy(out).to(theta.device)


def mode_bits_exact(unary: torch.Tensor, pairwise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """argmax_y g(y) by enumeration of all 2^k configurations (k ≤ 20; for tests).

    Args:
        unary: (B, k).
        pairwise: (B, k, k) or None.

    Returns:
        float (B, k) in {0, 1}.

    Example:
        y = mode_bits_exact(torch.randn(4, 6), torch.randn(4, 6, 6))
    """
    fn = "mode_bits_exact"
    _enum_bits_check(fn, unary, pairwise)
    _no_nan(fn, unary=unary.detach(), pairwise=None if pairwise is None else pairwise.detach())
    B, k = unary.shape
    with torch.no_grad():
        best_val = torch.full((B,), -math.inf, dtype=unary.dtype, device=unary.device)
        best_idx = torch.zeros(B, dtype=torch.int64, device=unary.device)
        offset = 0
        for g in _bit_energy_chunks(unary.detach(), None if pairwise is None else pairwise.detach()):
            val, idx = g.max(dim=1)
            better = val > best_val
            best_val = torch.where(better, val, best_val)
            best_idx = torch.where(better, idx + offset, best_idx)
            offset += g.shape[1]
        shifts = torch.arange(k, device=unary.device)
        return ((best_idx[:, None] >> shifts) & 1).to(unary.dtype)
