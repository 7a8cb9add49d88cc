"""The paper's baselines, in pure torch: the generalized Fenchel–Young loss and the min-max (logistic) loss
with a learned sampler (docs/energy.md, "Baselines").

**Generalized Fenchel–Young (GFY)** (Blondel, Llinares-López, Dadashi, Hussenot, Geist, NeurIPS 2022). With the
regulariser Ω(μ) = ½‖μ − c‖² + ι_C(μ) on C = conv(φ(Y)) and the energy g(x, μ) (extended from Y to C),

    L(x, y) = max_{μ∈C} [g(x, μ) − Ω(μ)] − [g(x, y) − Ω(y)]  ≥ 0,

= 0 iff φ(y) is the regularised argmax μ*. Its gradient in the energy's parameters is ∇g(x, μ*) − ∇g(x, y)
(envelope / Danskin theorem: no differentiation through the argmax), which is what autograd gives when μ* is
computed without gradient and plugged into g. c is the centre of C (½·1 for bits, (n+1)/2·1 for the
permutahedron, 11ᵀ/n for Birkhoff), so Ω is constant on Y. For the permutahedron and Birkhoff ⟨c, μ⟩ is
constant on C and this is exactly the Ω = ½‖μ‖² loss; for bits it is the Ω = ½‖μ‖² loss with u shifted by ½,
so that rounding μ* at ½ is the model's mode (u ≥ 0), the prediction `evaluate` uses.

- unary bits (g = ⟨u, μ⟩, C = [0,1]^k): μ* = clip(u + ½, 0, 1) (closed form);
- Ising (g = ⟨u, μ⟩ + ½μᵀUμ): projected gradient ascent on [0,1]^k from φ(y) and from the unary solution
  (global when ½(U+Uᵀ) ≼ I, where the inner problem is concave; otherwise a local maximum, never worse than y,
  so the loss stays ≥ 0);
- permutahedron (g = ⟨θ, μ⟩, C = conv{perms of (1..n)}): μ* = the Euclidean projection of θ onto the
  permutahedron = θ − (isotonic regression), exact and batched (`project_permutahedron`);
- Birkhoff (g = ⟨Θ, M⟩, C = doubly-stochastic matrices): M* = the projection of Θ onto the Birkhoff polytope,
  by Dykstra's alternating projections (`project_birkhoff`; iterative, to a tolerance).

**Min-max (logistic)** (the paper's baseline). The log-partition has the variational form
LSE_g(x) = max_p E_p[g] − KL(p, q); with a sampler p_φ(y|x) (factorised Bernoulli(σ(a)) for bits, Plackett–Luce
with scores s for permutations) the energy minimises E_{p_φ}[g] − g(y) (samples detached) while φ maximises
J(φ) = E_{p_φ}[g − log p_φ + log q] ≤ LSE_g (= LSE_g iff p_φ = p_g) by REINFORCE with a leave-one-out baseline:

    ∇_φ J ≈ (1/m) Σ_j (f_j − b_j) ∇_φ log p_φ(y'_j),   f_j = g(y'_j) − log p_φ(y'_j) + log q(y'_j),
    b_j = mean_{i≠j} f_i   (unbiased: b_j does not depend on y'_j).

Conventions as `reference`: bits y ∈ {0,1}^k; permutations in the position convention y_i = score position of
item i (n−1 = most preferred).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch

from .reference import (_check_bits_args, _check_tensor, _check_theta, _err, bernoulli_log_prob, energy_bits,
                        energy_perms, plackett_luce_log_prob)

__all__ = ["gfy_argmax_bits", "gfy_loss_bits", "gfy_argmax_perms", "gfy_loss_perms", "isotonic_decreasing",
           "project_permutahedron", "project_birkhoff", "sample_bernoulli", "sample_plackett_luce", "MinMax",
           "minmax_loss_bits", "minmax_loss_perms", "GFY_STEPS", "BIRKHOFF_ITERS"]

GFY_STEPS = 100          # projected-gradient steps of the Ising inner problem
BIRKHOFF_ITERS = 1000    # Dykstra iterations (cap) of the Birkhoff projection


def _steps(fn: str, name: str, value, maximum: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise _err(fn, f"{name} must be an int in [0, {maximum}], got {value!r}")
    return value


def _finite(fn: str, **tensors) -> None:
    for name, x in tensors.items():
        if x is not None and not bool(torch.isfinite(x.detach()).all()):
            raise _err(fn, f"{name} must be finite")


# ---------------------------------------------------------------------------------------------------------------
# generalized Fenchel–Young: multilabel
# ---------------------------------------------------------------------------------------------------------------

def _bits_inner(u, S, mu):
    """h(μ) = ⟨u, μ⟩ + ½μᵀSμ − ½‖μ − ½‖² (B, ·) for μ (B, k)."""
    h = (u * mu).sum(-1) - 0.5 * ((mu - 0.5) ** 2).sum(-1)
    if S is not None:
        h = h + 0.5 * torch.einsum("bi,bij,bj->b", mu, S, mu)
    return h


@torch.no_grad()
def gfy_argmax_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor] = None, y: Optional[torch.Tensor] = None,
                    steps: int = GFY_STEPS) -> torch.Tensor:
    """The regularised argmax μ* = argmax_{μ∈[0,1]^k} ⟨u, μ⟩ + ½μᵀUμ − ½‖μ − ½‖².

    Unary (pairwise None): clip(u + ½, 0, 1), exact. Ising: `steps` projected-gradient steps of size
    1/‖S − I‖₂ (S = ½(U + Uᵀ); each step ascends) from clip(u + ½) and, when given, from y; the better end point.

    Args:
        unary: u (B, k).
        pairwise: U (B, k, k) or None.
        y: (B, k) 0/1 labels (an extra start: then h(μ*) ≥ h(y)), or None.
        steps: gradient steps (Ising only).

    Returns:
        μ* (B, k), unary's dtype, no gradient.

    Example:
        mu = gfy_argmax_bits(torch.randn(4, 6), 0.1 * torch.randn(4, 6, 6))
    """
    fn = "gfy_argmax_bits"
    _check_bits_args(fn, unary, pairwise)
    _steps(fn, "steps", steps)
    u = unary.detach()
    start = torch.clamp(u + 0.5, 0.0, 1.0)
    if pairwise is None:
        return start
    _finite(fn, unary=u, pairwise=pairwise)
    S = 0.5 * (pairwise.detach() + pairwise.detach().transpose(1, 2))
    k = u.shape[1]
    eye = torch.eye(k, dtype=u.dtype, device=u.device)
    lip = torch.linalg.matrix_norm(S - eye, ord=2) if k > 0 else torch.ones(u.shape[0], dtype=u.dtype)
    step = (1.0 / torch.clamp(lip, min=1e-6))[:, None]
    starts = [start] if y is None else [start, y.detach().to(u.dtype)]
    best, best_h = None, None
    for mu in starts:
        for _ in range(steps):
            grad = u + torch.einsum("bij,bj->bi", S, mu) - (mu - 0.5)
            mu = torch.clamp(mu + step * grad, 0.0, 1.0)
        h = _bits_inner(u, S, mu)
        if best is None:
            best, best_h = mu, h
        else:
            better = (h > best_h)[:, None]
            best, best_h = torch.where(better, mu, best), torch.maximum(h, best_h)
    return best


def gfy_loss_bits(unary: torch.Tensor, y: torch.Tensor, pairwise: Optional[torch.Tensor] = None,
                  steps: int = GFY_STEPS) -> torch.Tensor:
    """Generalized Fenchel–Young loss of the multilabel energy g = ⟨u, μ⟩ + ½μᵀUμ on C = [0,1]^k:

        L = max_{μ∈C} [g(μ) − ½‖μ − ½‖²] − [g(y) − ½‖y − ½‖²]   (≥ 0; Blondel et al. 2022, eq. (GFY)).

    Gradient (autograd) = ∇g(μ*) − ∇g(y) by the envelope theorem (μ* from `gfy_argmax_bits`, no gradient).
    Unary closed form: μ* = clip(u + ½, 0, 1).

    Args:
        unary: u (B, k).
        y: (B, k) 0/1 labels.
        pairwise: U (B, k, k) or None.
        steps: projected-gradient steps of the Ising inner problem.

    Returns:
        loss (B,).

    Raises:
        TypeError: unary, pairwise or y not a tensor, or unary / pairwise not floating-point.
        ValueError: wrong shapes, steps not an int in [0, 10⁶], or non-finite energies (Ising).

    Example:
        u, y = torch.randn(4, 6, requires_grad=True), torch.randint(0, 2, (4, 6))
        gfy_loss_bits(u, y).mean().backward()
    """
    fn = "gfy_loss_bits"
    _check_bits_args(fn, unary, pairwise)
    _check_tensor(fn, "y", y, 2)
    if tuple(y.shape) != tuple(unary.shape):
        raise _err(fn, f"y must have shape {tuple(unary.shape)}, got {tuple(y.shape)}")
    yf = y.to(unary.dtype)
    mu = gfy_argmax_bits(unary, pairwise, yf, steps)
    reg = lambda m: 0.5 * ((m - 0.5) ** 2).sum(-1)  # noqa: E731
    return (energy_bits(unary, mu, pairwise) - reg(mu)) - (energy_bits(unary, yf, pairwise) - reg(yf))


# ---------------------------------------------------------------------------------------------------------------
# generalized Fenchel–Young: permutations
# ---------------------------------------------------------------------------------------------------------------

def isotonic_decreasing(x: torch.Tensor) -> torch.Tensor:
    """Batched isotonic regression argmin_{v_1 ≥ … ≥ v_n} ‖v − x‖² (rows of x), exact, by the min-max formula
    v_i = min_{j≤i} max_{l≥i} mean(x_j..x_l) (O(n²) per row, vectorised; meant for n ≲ 100).

    Args:
        x: (B, n).

    Returns:
        v (B, n), non-increasing rows.

    Example:
        isotonic_decreasing(torch.tensor([[1., 3., 2.]]))   # [[2., 2., 2.]]
    """
    _check_tensor("isotonic_decreasing", "x", x, 2, floating=True)
    B, n = x.shape
    if n == 0:
        return x.clone()
    cs = torch.cat([torch.zeros(B, 1, dtype=x.dtype, device=x.device), x.cumsum(1)], 1)   # (B, n+1)
    j = torch.arange(n, device=x.device)
    length = (j[None, :] - j[:, None] + 1).to(x.dtype)                                  # [j, l] = l − j + 1
    valid = length > 0
    avg = (cs[:, None, 1:] - cs[:, :n, None]) / torch.where(valid, length, torch.ones_like(length))  # (B, j, l)
    avg = torch.where(valid, avg, torch.full_like(avg, -math.inf))
    # M[j, i] = max_{l ≥ i} avg[j, l]  (reverse cumulative max over l)
    M = torch.flip(torch.cummax(torch.flip(avg, [2]), 2).values, [2])
    M = torch.where(valid, M, torch.full_like(M, math.inf))                            # only j ≤ i
    return M.min(1).values


def project_permutahedron(z: torch.Tensor, w: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Euclidean projection of z onto the permutahedron conv{permutations of w} (w default (1, …, n)):

        P(z) = z − v_{σ⁻¹},  v = isotonic_decreasing(z_σ − w_↓),  σ sorts z decreasingly
    (Blondel, Teboul, Berthet, Djolonga, ICML 2020, Prop. 3). Exact; no gradient.

    Args:
        z: (B, n).
        w: (n,) or None.

    Returns:
        (B, n).

    Raises:
        TypeError: z or w not a floating-point tensor.
        ValueError: z not 2-D, or w not of shape (n,).

    Example:
        project_permutahedron(torch.tensor([[0.0, 10.0, 5.0]]))   # [[1., 3., 2.]]
    """
    fn = "project_permutahedron"
    _check_tensor(fn, "z", z, 2, floating=True)
    B, n = z.shape
    with torch.no_grad():
        zd = z.detach()
        if w is None:
            w = torch.arange(1, n + 1, dtype=z.dtype, device=z.device)
        _check_tensor(fn, "w", w, 1, floating=True)
        if w.shape[0] != n:
            raise _err(fn, f"w must have shape ({n},), got {tuple(w.shape)}")
        w_desc = torch.sort(w.to(z.dtype), descending=True).values
        zs, sigma = torch.sort(zd, dim=1, descending=True)
        v = isotonic_decreasing(zs - w_desc[None])
        out = torch.empty_like(zd)
        out.scatter_(1, sigma, zs - v)
    return out


@torch.no_grad()
def project_birkhoff(Z: torch.Tensor, iters: int = BIRKHOFF_ITERS, tol: Optional[float] = None) -> torch.Tensor:
    """Euclidean projection of Z onto the Birkhoff polytope {M ≥ 0, M1 = 1, Mᵀ1 = 1} by Dykstra's alternating
    projections between the affine set (closed form) and the non-negative orthant; stops when an iteration
    changes M by less than `tol` and the row/column sums are within `tol` of 1 (max-abs; default 1e-10 for
    float64, 1e-6 otherwise), or after `iters` iterations. No gradient.

    Args:
        Z: (B, n, n).
        iters: iteration cap.
        tol: stopping tolerance.

    Returns:
        M (B, n, n) (≥ 0 exactly; row/column sums 1 up to the tolerance).

    Raises:
        TypeError: Z not a floating-point tensor.
        ValueError: Z not (B, n, n), or iters not an int in [0, 10⁶].

    Example:
        M = project_birkhoff(torch.randn(2, 4, 4))
    """
    fn = "project_birkhoff"
    _check_tensor(fn, "Z", Z, 3, floating=True)
    if Z.shape[1] != Z.shape[2]:
        raise _err(fn, f"Z must be square (B, n, n), got {tuple(Z.shape)}")
    _steps(fn, "iters", iters)
    n = Z.shape[1]
    if n == 0:
        return Z.detach().clone()

    def affine(X):
        r = X.sum(2, keepdim=True) - 1.0
        c = X.sum(1, keepdim=True) - 1.0
        s = X.sum((1, 2), keepdim=True) - n
        return X - r / n - c / n + s / (n * n)

    if tol is None:
        tol = 1e-10 if Z.dtype == torch.float64 else 1e-6
    X = Z.detach()
    P = torch.zeros_like(X)
    Q = torch.zeros_like(X)
    M = X
    for _ in range(iters):
        A = affine(X + P)
        P = X + P - A
        M_new = torch.clamp(A + Q, min=0.0)
        Q = A + Q - M_new
        done = M_new.numel() == 0 or max(float((M_new - M).abs().max()), float((M_new.sum(1) - 1).abs().max()),
                                         float((M_new.sum(2) - 1).abs().max())) < tol
        X = M = M_new
        if done:
            break
    return M


@torch.no_grad()
def gfy_argmax_perms(theta: torch.Tensor, iters: int = BIRKHOFF_ITERS) -> torch.Tensor:
    """The regularised argmax of the ranking energies: argmax_{μ∈C} ⟨θ, μ⟩ − ½‖μ − c‖² = projection of θ on C.

    Permutahedron (θ (B, n)): `project_permutahedron(θ)` in φ(y) = y + 1 coordinates (entries in [1, n]).
    Birkhoff (Θ (B, n, n)): `project_birkhoff(Θ, iters)`, a doubly-stochastic matrix.

    Args:
        theta: θ (B, n) (permutahedron) or Θ (B, n, n) (Birkhoff).
        iters: Dykstra iterations (Birkhoff).

    Returns:
        μ* (B, n) or M* (B, n, n), theta's dtype, no gradient.

    Raises:
        TypeError: theta not a floating-point tensor.
        ValueError: theta neither (B, n) nor (B, n, n), or iters not an int in [0, 10⁶] (Birkhoff).

    Example:
        mu = gfy_argmax_perms(torch.randn(4, 5))
    """
    _check_theta("gfy_argmax_perms", theta)
    return project_permutahedron(theta) if theta.dim() == 2 else project_birkhoff(theta, iters)


def gfy_loss_perms(theta: torch.Tensor, y: torch.Tensor, iters: int = BIRKHOFF_ITERS) -> torch.Tensor:
    """Generalized Fenchel–Young loss of the ranking energies (Ω = ½‖μ‖² on C = conv(φ(Y))):

        permutahedron: L = ⟨θ, μ*⟩ − ½‖μ*‖² − ⟨θ, y + 1⟩ + ½‖y + 1‖²,   μ* = P_perm(θ);
        Birkhoff:      L = ⟨Θ, M*⟩ − ½‖M*‖² − ⟨Θ, P_y⟩ + ½n,            M* = P_Birkhoff(Θ).

    ≥ 0, = 0 iff φ(y) = μ*; gradient ∇g(μ*) − ∇g(y) (envelope theorem; for Birkhoff up to the projection's
    tolerance).

    Args:
        theta: θ (B, n) or Θ (B, n, n).
        y: (B, n) int64 permutations (position convention).
        iters: Dykstra iterations (Birkhoff).

    Returns:
        loss (B,).

    Raises:
        TypeError: theta not a floating-point tensor, or y not a tensor.
        ValueError: wrong shapes, non-finite theta, or iters not an int in [0, 10⁶] (Birkhoff).

    Example:
        loss = gfy_loss_perms(torch.randn(4, 5), torch.stack([torch.randperm(5) for _ in range(4)]))
    """
    fn = "gfy_loss_perms"
    _check_theta(fn, theta)
    _check_tensor(fn, "y", y, 2)
    B, n = theta.shape[0], theta.shape[1]
    if tuple(y.shape) != (B, n):
        raise _err(fn, f"y must have shape {(B, n)}, got {tuple(y.shape)}")
    _finite(fn, theta=theta)
    mu = gfy_argmax_perms(theta, iters)
    gy = energy_perms(theta, y)
    if theta.dim() == 2:
        phi = (y + 1).to(theta.dtype)
        return (theta * mu).sum(1) - 0.5 * (mu * mu).sum(1) - gy + 0.5 * (phi * phi).sum(1)
    return (theta * mu).sum((1, 2)) - 0.5 * (mu * mu).sum((1, 2)) - gy + 0.5 * n


# ---------------------------------------------------------------------------------------------------------------
# min-max: samplers (their log-probabilities: reference.bernoulli_log_prob / plackett_luce_log_prob, re-exported)
# ---------------------------------------------------------------------------------------------------------------

def sample_bernoulli(a: torch.Tensor, num_samples: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """m samples of Bernoulli(σ(a)) per row: (B, k) logits → (B, m, k) in {0, 1} (a's dtype), no gradient.

    Args:
        a: (B, k) logits (σ(a_i) = P(y_i = 1)).
        num_samples: m.
        generator: the random source (None: the default generator).

    Returns:
        (B, m, k) 0/1 samples, a's dtype.

    Example:
        ys = sample_bernoulli(torch.randn(4, 6), 8, torch.Generator().manual_seed(0))   # (4, 8, 6)
    """
    with torch.no_grad():
        p = torch.sigmoid(a.detach())
        u = torch.rand((a.shape[0], num_samples, a.shape[1]), generator=generator, dtype=p.dtype, device=p.device)
        return (u < p[:, None]).to(a.dtype)


def sample_plackett_luce(s: torch.Tensor, num_samples: int,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """m Plackett–Luce samples per row by Gumbel-argsort: (B, n) scores → (B, m, n) int64 permutations in the
    position convention (the item with the largest s + Gumbel gets position n−1), no gradient.

    Args:
        s: (B, n) Plackett–Luce scores.
        num_samples: m.
        generator: the random source (None: the default generator).

    Returns:
        (B, m, n) int64, each row a permutation of 0..n−1 (position convention).

    Example:
        perms = sample_plackett_luce(torch.randn(4, 5), 8, torch.Generator().manual_seed(0))   # (4, 8, 5)
    """
    with torch.no_grad():
        sd = s.detach()
        u = torch.rand((s.shape[0], num_samples, s.shape[1]), generator=generator, dtype=sd.dtype, device=sd.device)
        gumbel = -torch.log(-torch.log(u.clamp(min=torch.finfo(sd.dtype).tiny)))
        return torch.argsort(torch.argsort(sd[:, None] + gumbel, -1), -1)


# ---------------------------------------------------------------------------------------------------------------
# min-max: the loss
# ---------------------------------------------------------------------------------------------------------------

class MinMax(NamedTuple):
    """loss (B,): value Ĵ − g(y) (an estimate of the variational NLL, Ĵ ≤ LSE_g in expectation); gradient in the
    energy: mean_j ∇g(y'_j) − ∇g(y); gradient in the sampler: −(REINFORCE estimate of ∇_φ J).
    lse (B,): Ĵ = mean_j [g − log p_φ + log q](y'_j), no gradient. samples: the y' drawn."""
    loss: torch.Tensor
    lse: torch.Tensor
    samples: torch.Tensor


def _minmax(g_samples, g_true, log_p, log_q) -> tuple:
    f = (g_samples - log_p + log_q).detach()                   # (B, m)
    m = f.shape[1]
    if m > 1:
        baseline = (f.sum(1, keepdim=True) - f) / (m - 1)   # leave-one-out
    else:
        baseline = torch.zeros_like(f)
    surrogate = -((f - baseline) * log_p).mean(1)            # its φ-gradient = −REINFORCE estimate of ∇J
    lse = f.mean(1)
    value = g_samples.mean(1) - (log_p.detach() - log_q).mean(1) - g_true
    return value + (surrogate - surrogate.detach()), lse


def _check_m(fn: str, num_samples) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise _err(fn, f"num_samples must be an int >= 1, got {num_samples!r}")
    return num_samples


def minmax_loss_bits(unary: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, num_samples: int,
                     pairwise: Optional[torch.Tensor] = None,
                     generator: Optional[torch.Generator] = None) -> MinMax:
    """Min-max logistic loss of the multilabel energy g = ⟨u, y⟩ + ½yᵀUy with the factorised Bernoulli sampler
    p_φ(y) = Π_i Bernoulli(y_i; σ(a_i)), a = `logits` (the sampler network's output), q uniform on {0,1}^k:

        min_g max_φ  E_{p_φ}[g] − KL(p_φ, q) − g(y),

    m samples y' ~ p_φ (detached); see the module doc for the REINFORCE gradient of φ. Minimising `loss`
    descends in g and ascends J in φ.

    Args:
        unary: u (B, k).
        logits: a (B, k) (gets the REINFORCE gradient).
        y: (B, k) 0/1 labels.
        num_samples: m ≥ 1 (m ≥ 2 uses the leave-one-out baseline).
        pairwise: U (B, k, k) or None.
        generator: the sampling generator.

    Returns:
        MinMax(loss (B,), lse (B,), samples (B, m, k)).

    Raises:
        TypeError: unary, pairwise or logits not a floating-point tensor.
        ValueError: wrong shapes, or num_samples not an int >= 1.

    Example:
        u, a = torch.randn(4, 6, requires_grad=True), torch.randn(4, 6, requires_grad=True)
        r = minmax_loss_bits(u, a, torch.randint(0, 2, (4, 6)), 8); r.loss.mean().backward()
    """
    fn = "minmax_loss_bits"
    _check_bits_args(fn, unary, pairwise)
    _check_tensor(fn, "logits", logits, 2, floating=True)
    if logits.shape != unary.shape:
        raise _err(fn, f"logits must have shape {tuple(unary.shape)}, got {tuple(logits.shape)}")
    _check_m(fn, num_samples)
    ys = sample_bernoulli(logits, num_samples, generator)
    log_p = bernoulli_log_prob(logits[:, None], ys)
    log_q = -unary.shape[1] * math.log(2.0)
    loss, lse = _minmax(energy_bits(unary, ys, pairwise), energy_bits(unary, y.to(unary.dtype), pairwise), log_p,
                        log_q)
    return MinMax(loss, lse, ys)


def minmax_loss_perms(theta: torch.Tensor, scores: torch.Tensor, y: torch.Tensor, num_samples: int,
                      generator: Optional[torch.Generator] = None) -> MinMax:
    """Min-max logistic loss of a ranking energy (permutahedron θ (B, n) or Birkhoff Θ (B, n, n)) with the
    Plackett–Luce sampler of scores s = `scores` (B, n), q uniform on the n! permutations (as
    `minmax_loss_bits`).

    Args:
        theta: θ (B, n) or Θ (B, n, n).
        scores: s (B, n) Plackett–Luce scores (gets the REINFORCE gradient).
        y: (B, n) int64 permutations (position convention).
        num_samples: m ≥ 1 (m ≥ 2 uses the leave-one-out baseline).
        generator: the sampling generator.

    Returns:
        MinMax(loss (B,), lse (B,), samples (B, m, n) int64).

    Raises:
        TypeError: theta or scores not a floating-point tensor.
        ValueError: wrong shapes, or num_samples not an int >= 1.

    Example:
        theta, s = torch.randn(4, 5, requires_grad=True), torch.randn(4, 5, requires_grad=True)
        r = minmax_loss_perms(theta, s, torch.rand(4, 5).argsort(1), 8); r.loss.mean().backward()
    """
    fn = "minmax_loss_perms"
    _check_theta(fn, theta)
    _check_tensor(fn, "scores", scores, 2, floating=True)
    B, n = theta.shape[0], theta.shape[1]
    if tuple(scores.shape) != (B, n):
        raise _err(fn, f"scores must have shape {(B, n)}, got {tuple(scores.shape)}")
    _check_m(fn, num_samples)
    ys = sample_plackett_luce(scores, num_samples, generator)
    log_p = plackett_luce_log_prob(scores[:, None], ys)
    log_q = -math.lgamma(n + 1)
    loss, lse = _minmax(energy_perms(theta, ys), energy_perms(theta, y), log_p, log_q)
    return MinMax(loss, lse, ys)
