"""Pure-torch references of the min-min EBM losses and exact log-partitions (docs/energy.md).

This module is the single home of the min-min math in Python. Written for clarity, with autograd doing the
differentiation; the fused ops of `pyalgo.energy.ops` and the tests compare against it.

Notation: q is uniform on Y; g(y) is the affinity (higher = likelier);
LSE_g = log E_{y~q} e^{g(y)} = logsumexp_y g − log|Y|; the min-min loss with Tsallis generator α is

    loss_i = τ_i + E_q[f*_α(g(y') − τ_i)] − g(y_i),
    f*_1(s) = e^s − 1,                          (f*_1)'(s) = e^s,
    f*_α(s) = ([1 + (α−1)s]_+^{α/(α−1)} − 1)/α,  (f*_α)'(s) = [1 + (α−1)s]_+^{1/(α−1)}   (α > 1).

Multilabel: y ∈ {0,1}^k, g = ⟨u, y⟩ + ½ yᵀUy. Ranking: y (n,) int64 with y_i = score position of item i
(n−1 = most preferred); permutahedron g = Σ_i θ_i (y_i + 1), Birkhoff g = Σ_i Θ[i, y_i].
Bit configuration number c of `all_bits(k)` has bit j = (c >> j) & 1.

Proposal sampling (importance weights): with samples y'_j drawn from a proposal r instead of q and
w_j = q(y'_j)/r(y'_j), the loss τ + (1/m) Σ_j w_j f*(g_j − τ) − g(y) is unbiased for the uniform-q loss.
The references keep the constant part exact and weight only the sample term:

    α = 1:  loss = τ + (1/m) Σ_j w_j e^{g_j − τ} − 1 − g(y)            (log-sum-exp of g_j − τ + log w_j)
    α > 1:  loss = τ + (1/m) Σ_j w_j [f*(g_j − τ) + 1/α] − 1/α − g(y)   (f* + 1/α = [1 + (α−1)s]_+^{α/(α−1)}/α)

Proposals: bits y'_i ~ Bernoulli(σ(a_i)) independently (`bernoulli_log_prob`); permutations from
Plackett–Luce scores s (`plackett_luce_log_prob`), the most preferred item first.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterator, Optional, Union

import torch

__all__ = [
    "minmin_from_energies", "energy_bits", "energy_perms", "minmin_loss_ref", "minmin_loss_ranking_ref",
    "all_bits", "all_perms", "exact_lse_bits", "unary_lse", "exact_lse_perms", "log_permanent",
    "lse_perms_ryser", "exact_minmin_loss_bits", "exact_minmin_loss_perms", "optimal_tau_bits",
    "implied_distribution_bits", "unary_nll", "fstar", "fstar_prime", "overflow_threshold",
    "bernoulli_log_prob", "plackett_luce_log_prob", "proposal_log_weight_bits", "proposal_log_weight_perms",
]

MAX_ENUM_BITS = 20          # exact_lse_bits & co. enumerate 2^k configurations (chunked)
MAX_ENUM_PERMS = 8          # exact_lse_perms enumerates n! permutations
MAX_RYSER = 20              # log_permanent costs O(2^n n^2)
_CHUNK_ELEMENTS = 1 << 22   # rows × configurations × k materialised at once by the enumerations


# ---------------------------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------------------------

def _err(fn: str, msg: str) -> ValueError:
    return ValueError(f"pyalgo.energy.{fn}: {msg}")


def _check_tensor(fn: str, name: str, x, ndims, floating: bool = False) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"pyalgo.energy.{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.dim() not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise _err(fn, f"{name} must be {want}, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"pyalgo.energy.{fn}: {name} must be a floating-point tensor, got {x.dtype}")


def _check_alpha(fn: str, alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha < 1:
        raise _err(fn, f"alpha must be a finite number >= 1 (1 = logistic, 2 = sparsemax), got {alpha!r}")
    return float(alpha)


def _check_bits_args(fn: str, unary, pairwise) -> None:
    _check_tensor(fn, "unary", unary, 2, floating=True)
    if pairwise is not None:
        _check_tensor(fn, "pairwise", pairwise, 3, floating=True)
        B, k = unary.shape
        if tuple(pairwise.shape) != (B, k, k):
            raise _err(fn, f"pairwise must have shape (B, k, k) = {(B, k, k)}, got {tuple(pairwise.shape)}")


def _check_theta(fn: str, theta) -> None:
    _check_tensor(fn, "theta", theta, (2, 3), floating=True)
    if theta.dim() == 3 and theta.shape[1] != theta.shape[2]:
        raise _err(fn, f"theta must be (B, n) (permutahedron) or (B, n, n) (Birkhoff), got {tuple(theta.shape)}")


def _check_tau(fn: str, tau, B: int) -> None:
    _check_tensor(fn, "tau", tau, 1, floating=True)
    if tau.shape[0] != B:
        raise _err(fn, f"tau must have shape (B,) = ({B},), got {tuple(tau.shape)}")


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are accumulated in float32 (as the fused kernels do)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


# ---------------------------------------------------------------------------------------------------------------
# the loss from energies
# ---------------------------------------------------------------------------------------------------------------

def overflow_threshold(dtype: torch.dtype) -> float:
    """c of the α = 1 overflow guard: 700 for float64, 80 otherwise (float32/float16/bfloat16).

    Args:
        dtype: the compute dtype.

    Returns:
        c.

    Example:
        overflow_threshold(torch.float32)   # 80.0
    """
    return 700.0 if dtype == torch.float64 else 80.0


def _guarded_exp(L: torch.Tensor, c: float) -> torch.Tensor:
    """φ(L) = e^L if L ≤ c else e^c (1 + L − c): finite, convex, C¹; φ'(L) = e^{min(L, c)}.

    Both branches are evaluated on finite values (L clamped), so autograd never meets inf·0.
    """
    L_low = L.clamp(max=c)
    return torch.where(L <= c, torch.exp(L_low), math.exp(c) * (1.0 + (L - c)))


def fstar(s: torch.Tensor, alpha: float) -> torch.Tensor:
    """Elementwise f*_α(s): e^s − 1 (α = 1) or ([1 + (α−1)s]_+^{α/(α−1)} − 1)/α (α > 1).

    Args:
        s: any tensor.
        alpha: α >= 1.

    Returns:
        f*_α(s), shaped like `s`.

    Example:
        fstar(torch.linspace(-2, 2, 5), 2.0)
    """
    alpha = _check_alpha("fstar", alpha)
    if alpha == 1.0:
        return torch.expm1(s)
    z = 1.0 + (alpha - 1.0) * s
    positive = z > 0
    # where-trick: the pow never sees 0 or a negative base, so double backward has no 0·inf.
    z_safe = torch.where(positive, z, torch.ones_like(z))
    return (torch.where(positive, z_safe ** (alpha / (alpha - 1.0)), torch.zeros_like(z)) - 1.0) / alpha


def fstar_prime(s: torch.Tensor, alpha: float) -> torch.Tensor:
    """Elementwise (f*_α)'(s) = p/q: e^s (α = 1) or [1 + (α−1)s]_+^{1/(α−1)} (α > 1).

    Args:
        s: any tensor.
        alpha: α >= 1.

    Returns:
        (f*_α)'(s), shaped like `s`.

    Example:
        fstar_prime(torch.linspace(-2, 2, 5), 1.0)
    """
    alpha = _check_alpha("fstar_prime", alpha)
    if alpha == 1.0:
        return torch.exp(s)
    z = 1.0 + (alpha - 1.0) * s
    positive = z > 0
    z_safe = torch.where(positive, z, torch.ones_like(z))
    return torch.where(positive, z_safe ** (1.0 / (alpha - 1.0)), torch.zeros_like(z))


class _Saturate(torch.autograd.Function):
    """x clamped to the finite range of its dtype (NaN stays NaN), with the identity as its gradient: a loss
    whose value exceeds the largest finite number (τ very far from τ*) saturates, as the fused kernels do,
    and its gradient stays the exact one."""

    @staticmethod
    def forward(ctx, x):
        mx = torch.finfo(x.dtype).max
        return x.clamp(-mx, mx)

    @staticmethod
    def backward(ctx, g):
        return g


def saturate(loss: torch.Tensor) -> torch.Tensor:
    """The loss saturated at ±(largest finite value of its dtype), gradient unchanged (see `_Saturate`)."""
    return _Saturate.apply(loss)


def _loss_from_log_mean(tau, log_mean_exp, g_true, c):
    """α = 1 loss τ + φ(L) − 1 − g_true with L = log E[e^{g−τ}] already computed (in log space), saturated."""
    return saturate(tau + _guarded_exp(log_mean_exp, c) - 1.0 - g_true)


def minmin_from_energies(g_samples: torch.Tensor, g_true: torch.Tensor, tau: torch.Tensor,
                         alpha: float = 1.0, log_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Doubly-stochastic min-min loss from energies (notation of the module doc).

        loss_i = τ_i + (1/m) Σ_j f*_α(g_ij − τ_i) − g_true_i.
    α = 1 uses the overflow guard: L_i = logsumexp_j(g_ij − τ_i) − log m, E[e^{g−τ}] ← φ(L_i) with
    φ(L) = e^L (L ≤ c), e^c (1 + L − c) (L > c), c = overflow_threshold(dtype). So the sample weights
    are ∂loss/∂g_ij = e^{min(L_i,c)} softmax_j(g_i·) (= e^{g_ij−τ_i}/m when L ≤ c) and
    ∂loss/∂τ_i = 1 − e^{min(L_i,c)}. Differentiable twice. Half-precision inputs are computed in
    float32 and the loss is cast back.

    Args:
        g_samples: (B, m) energies of the m prior samples.
        g_true: (B,) energies of the observed labels.
        tau: (B,) log-partition estimates.
        alpha: the conjugate's α >= 1.
        log_weight: (B, m) log importance weights log w_j = log q(y'_j) − log r(y'_j) of samples drawn from a
            proposal r, or None (uniform samples, w = 1). With weights, the sample term is weighted and the
            constant part kept exact (module doc): α = 1 uses L_i = logsumexp_j(g_ij − τ_i + log w_ij) − log m
            with the same guard; α > 1 uses τ + mean_j w_j [f*(s_j) + 1/α] − 1/α − g_true.

    Returns:
        loss (B,).

    Raises:
        ValueError: mismatched shapes or an invalid alpha.

    Example:
        loss = minmin_from_energies(torch.randn(4, 16), torch.randn(4), torch.zeros(4))
    """
    fn = "minmin_from_energies"
    _check_tensor(fn, "g_samples", g_samples, 2, floating=True)
    B, m = g_samples.shape
    _check_tensor(fn, "g_true", g_true, 1, floating=True)
    if g_true.shape[0] != B:
        raise _err(fn, f"g_true must have shape (B,) = ({B},), got {tuple(g_true.shape)}")
    _check_tau(fn, tau, B)
    alpha = _check_alpha(fn, alpha)
    if m == 0:
        raise _err(fn, f"g_samples must hold at least one sample per row (m >= 1), got shape {tuple(g_samples.shape)}")
    out_dtype = torch.promote_types(torch.promote_types(g_samples.dtype, g_true.dtype), tau.dtype)
    dt = _compute_dtype(out_dtype)
    g, gy, t = g_samples.to(dt), g_true.to(dt), tau.to(dt)
    s = g - t[:, None]
    if log_weight is not None:
        _check_tensor(fn, "log_weight", log_weight, 2, floating=True)
        if tuple(log_weight.shape) != (B, m):
            raise _err(fn, f"log_weight must have shape (B, m) = ({B}, {m}) like g_samples, got {tuple(log_weight.shape)}")
        lw = log_weight.to(dt)
        if alpha == 1.0:
            L = torch.logsumexp(s + lw, dim=1) - math.log(m)
            loss = _loss_from_log_mean(t, L, gy, overflow_threshold(out_dtype))
        else:
            shifted = fstar_prime(s, alpha) * (1.0 + (alpha - 1.0) * s).clamp(min=0.0) / alpha  # f*(s) + 1/α
            loss = saturate(t + (torch.exp(lw) * shifted).mean(dim=1) - 1.0 / alpha - gy)
        return loss.to(out_dtype)
    if alpha == 1.0:
        L = torch.logsumexp(s, dim=1) - math.log(m)
        loss = _loss_from_log_mean(t, L, gy, overflow_threshold(out_dtype))
    else:
        loss = saturate(t + fstar(s, alpha).mean(dim=1) - gy)
    return loss.to(out_dtype)


# ---------------------------------------------------------------------------------------------------------------
# energies
# ---------------------------------------------------------------------------------------------------------------

def energy_bits(unary: torch.Tensor, samples: torch.Tensor, pairwise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Ising affinity g(y) = ⟨u, y⟩ + ½ yᵀUy (U used as given).

    Args:
        unary: (B, k).
        samples: (B, m, k) or (B, k), any dtype (cast to unary's).
        pairwise: (B, k, k) or None.

    Returns:
        g (B, m) or (B,).

    Raises:
        ValueError: mismatched shapes.

    Example:
        g = energy_bits(torch.randn(4, 6), torch.randint(0, 2, (4, 10, 6)))
    """
    fn = "energy_bits"
    _check_bits_args(fn, unary, pairwise)
    _check_tensor(fn, "samples", samples, (2, 3))
    B, k = unary.shape
    squeeze = samples.dim() == 2
    y = samples[:, None] if squeeze else samples
    if y.shape[0] != B or y.shape[2] != k:
        raise _err(fn, f"samples must have shape (B, m, k) or (B, k) with B = {B}, k = {k}, got {tuple(samples.shape)}")
    y = y.to(unary.dtype)
    g = torch.einsum("bmk,bk->bm", y, unary)
    if pairwise is not None:
        g = g + 0.5 * torch.einsum("bmi,bij,bmj->bm", y, pairwise, y)
    return g[:, 0] if squeeze else g


def energy_perms(theta: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """Ranking affinity: permutahedron Σ_i θ_i (y_i + 1) (θ (B, n)) or Birkhoff Σ_i Θ[i, y_i] (Θ (B, n, n)).

    Args:
        theta: (B, n) or (B, n, n).
        perms: (B, m, n) or (B, n), y_i ∈ {0..n−1} = score position of item i.

    Returns:
        g (B, m) or (B,).

    Raises:
        ValueError: mismatched shapes.

    Example:
        g = energy_perms(torch.randn(4, 5), torch.arange(5).expand(4, 5))
    """
    fn = "energy_perms"
    _check_theta(fn, theta)
    _check_tensor(fn, "perms", perms, (2, 3))
    B, n = theta.shape[0], theta.shape[1]
    squeeze = perms.dim() == 2
    y = perms[:, None] if squeeze else perms
    if y.shape[0] != B or y.shape[2] != n:
        raise _err(fn, f"perms must have shape (B, m, n) or (B, n) with B = {B}, n = {n}, got {tuple(perms.shape)}")
    if theta.dim() == 2:
        g = torch.einsum("bmn,bn->bm", (y + 1).to(theta.dtype), theta)
    else:
        m = y.shape[1]
        index = y.long()[..., None]                                  # (B, m, n, 1)
        g = torch.gather(theta[:, None].expand(B, m, n, n), 3, index)[..., 0].sum(-1)
    return g[:, 0] if squeeze else g


def minmin_loss_ref(unary: torch.Tensor, tau: torch.Tensor, y: torch.Tensor, samples: torch.Tensor,
                    pairwise: Optional[torch.Tensor] = None, alpha: float = 1.0,
                    log_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Materialised multilabel min-min loss.

    Args:
        unary: (B, k).
        tau: (B,).
        y: (B, k) 0/1 labels.
        samples: (B, m, k) prior samples.
        pairwise: (B, k, k) or None.
        alpha: the conjugate's α.
        log_weight: (B, m) log importance weights of proposal samples (see `minmin_from_energies`), or None.

    Returns:
        loss (B,).

    Example:
        loss = minmin_loss_ref(u, tau, y, sample_bits(4, 16, 6).float())
    """
    fn = "minmin_loss_ref"
    _check_tensor(fn, "samples", samples, 3)
    _check_tensor(fn, "y", y, 2)
    return minmin_from_energies(energy_bits(unary, samples, pairwise), energy_bits(unary, y, pairwise), tau, alpha,
                                log_weight)


def minmin_loss_ranking_ref(theta: torch.Tensor, tau: torch.Tensor, y: torch.Tensor, perms: torch.Tensor,
                            alpha: float = 1.0, log_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Materialised ranking min-min loss.

    Args:
        theta: (B, n) or (B, n, n).
        tau: (B,).
        y: (B, n) permutations.
        perms: (B, m, n) prior samples.
        alpha: the conjugate's α.
        log_weight: (B, m) log importance weights of proposal samples (see `minmin_from_energies`), or None.

    Returns:
        loss (B,).

    Example:
        loss = minmin_loss_ranking_ref(theta, tau, y, sample_perms(4, 16, 5))
    """
    fn = "minmin_loss_ranking_ref"
    _check_tensor(fn, "perms", perms, 3)
    _check_tensor(fn, "y", y, 2)
    return minmin_from_energies(energy_perms(theta, perms), energy_perms(theta, y), tau, alpha, log_weight)


# ---------------------------------------------------------------------------------------------------------------
# proposals: log-probabilities and importance weights
# ---------------------------------------------------------------------------------------------------------------

def bernoulli_log_prob(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log r(y) = Σ_i [y_i a_i − softplus(a_i)] of independent bits y_i ~ Bernoulli(σ(a_i)).

    Differentiable w.r.t. `a`; `a` and `y` broadcast (e.g. a[:, None] against (B, m, k) samples).

    Args:
        a: (..., k) logits.
        y: (..., k) 0/1 bits (any dtype; cast to a's).

    Returns:
        (...) log-probabilities (the broadcast shape without the last axis).

    Raises:
        TypeError: a or y not a tensor, or a not floating-point.
        ValueError: a and y without a shared last axis.

    Example:
        lp = bernoulli_log_prob(torch.randn(4, 1, 6), torch.randint(0, 2, (4, 10, 6)))   # (4, 10)
    """
    fn = "bernoulli_log_prob"
    if not isinstance(a, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"pyalgo.energy.{fn}: a and y must be torch.Tensors")
    if not a.is_floating_point():
        raise TypeError(f"pyalgo.energy.{fn}: a must be a floating-point tensor, got {a.dtype}")
    if a.dim() == 0 or y.dim() == 0 or a.shape[-1] != y.shape[-1]:
        raise _err(fn, f"a and y must share their last (label) axis, got {tuple(a.shape)} and {tuple(y.shape)}")
    return (y.to(a.dtype) * a - torch.nn.functional.softplus(a)).sum(-1)


def plackett_luce_log_prob(s: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """log r(σ) of a Plackett–Luce ranking with scores s, σ in the position convention.

    perms[..., i] = score position of item i (n − 1 = most preferred), so the order o (most preferred first)
    has perms[o_t] = n − 1 − t and log r = Σ_t (s_{o_t} − logsumexp_{l ≥ t} s_{o_l}). Differentiable w.r.t. `s`;
    `s` and `perms` broadcast.

    Args:
        s: (..., n) scores.
        perms: (..., n) integer permutations of 0..n−1 (position convention).

    Returns:
        (...) log-probabilities.

    Raises:
        TypeError: s or perms not a tensor, s not floating-point, or perms not integer.
        ValueError: s and perms without a shared last axis.

    Example:
        lp = plackett_luce_log_prob(torch.randn(4, 1, 5), torch.rand(4, 10, 5).argsort(-1))   # (4, 10)
    """
    fn = "plackett_luce_log_prob"
    if not isinstance(s, torch.Tensor) or not isinstance(perms, torch.Tensor):
        raise TypeError(f"pyalgo.energy.{fn}: s and perms must be torch.Tensors")
    if not s.is_floating_point():
        raise TypeError(f"pyalgo.energy.{fn}: s must be a floating-point tensor, got {s.dtype}")
    if perms.is_floating_point() or perms.is_complex() or perms.dtype == torch.bool:
        raise TypeError(f"pyalgo.energy.{fn}: perms must be an integer tensor, got {perms.dtype}")
    if s.dim() == 0 or perms.dim() == 0 or s.shape[-1] != perms.shape[-1]:
        raise _err(fn, f"s and perms must share their last (item) axis, got {tuple(s.shape)} and {tuple(perms.shape)}")
    shape = torch.broadcast_shapes(s.shape, perms.shape)
    s_b, p_b = s.expand(shape), perms.long().expand(shape)
    item_at = p_b.argsort(dim=-1)                  # item_at[p] = the item in position p (ascending preference)
    by_pos = torch.gather(s_b, -1, item_at)        # scores by position; the order o is this read backwards
    # suffix l ≥ t of the descending order = positions ≤ p: a cumulative logsumexp over positions
    return (by_pos - torch.logcumsumexp(by_pos, dim=-1)).sum(-1)


def proposal_log_weight_bits(a: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """log w = log q(y') − log r(y') = −k log 2 − bernoulli_log_prob(a, y'): the importance weight of a
    Bernoulli(σ(a)) proposal sample against uniform q (docs/energy.md, "Proposal sampling").

    Args:
        a: (B, k) proposal logits.
        samples: (B, m, k) 0/1 samples y'.

    Returns:
        log w (B, m), a's dtype.

    Raises:
        TypeError: samples not a tensor, or a not floating-point.
        ValueError: a and samples without a shared last axis.

    Example:
        a = torch.randn(4, 6)
        log_w = proposal_log_weight_bits(a, torch.randint(0, 2, (4, 10, 6)))   # (4, 10)
    """
    return -a.shape[-1] * math.log(2.0) - bernoulli_log_prob(a[:, None], samples)


def proposal_log_weight_perms(s: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """log w = log q(σ) − log r(σ) = −log n! − plackett_luce_log_prob(s, σ): the importance weight of a
    Plackett–Luce proposal sample against uniform q (docs/energy.md, "Proposal sampling").

    Args:
        s: (B, n) Plackett–Luce proposal scores.
        perms: (B, m, n) integer permutations σ (position convention).

    Returns:
        log w (B, m), s's dtype.

    Raises:
        TypeError: perms not an integer tensor, or s not floating-point.
        ValueError: s and perms without a shared last axis.

    Example:
        log_w = proposal_log_weight_perms(torch.randn(4, 5), torch.rand(4, 10, 5).argsort(-1))   # (4, 10)
    """
    return -math.lgamma(s.shape[-1] + 1) - plackett_luce_log_prob(s[:, None], perms)


# ---------------------------------------------------------------------------------------------------------------
# enumeration
# ---------------------------------------------------------------------------------------------------------------

def _check_size(fn: str, name: str, value, maximum: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (minimum <= value <= maximum):
        raise _err(fn, f"{name} must be an int in [{minimum}, {maximum}] (enumeration), got {value!r}")
    return value


def _bits_range(start: int, stop: int, k: int, dtype, device) -> torch.Tensor:
    codes = torch.arange(start, stop, device=device, dtype=torch.int64)
    shifts = torch.arange(k, device=device, dtype=torch.int64)
    return ((codes[:, None] >> shifts) & 1).to(dtype)


def all_bits(k: int, dtype: torch.dtype = torch.float32, device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """All 2^k configurations of {0,1}^k; row c has bit j = (c >> j) & 1.

    Args:
        k: bits (at most MAX_ENUM_BITS).
        dtype: the result's dtype.
        device: the result's device.

    Returns:
        (2^k, k).

    Example:
        Y = all_bits(3)   # (8, 3)
    """
    _check_size("all_bits", "k", k, MAX_ENUM_BITS)
    return _bits_range(0, 1 << k, k, dtype, device)


def all_perms(n: int, device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """All n! permutations of 0..n−1 in lexicographic order.

    Args:
        n: items (at most MAX_ENUM_PERMS).
        device: the result's device.

    Returns:
        int64 (n!, n).

    Example:
        P = all_perms(3)  # (6, 3)
    """
    _check_size("all_perms", "n", n, MAX_ENUM_PERMS)
    if n == 0:
        return torch.zeros(1, 0, dtype=torch.int64, device=device)
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.int64, device=device).reshape(-1, n)


def _bit_energy_chunks(unary, pairwise) -> Iterator[torch.Tensor]:
    """Energies of all 2^k configurations (all_bits order), yielded as (B, chunk) blocks (with autograd)."""
    B, k = unary.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(1, B * max(k, 1)))
    for start in range(0, 1 << k, chunk):
        stop = min(1 << k, start + chunk)
        bits = _bits_range(start, stop, k, unary.dtype, unary.device)
        yield energy_bits(unary, bits.expand(B, stop - start, k), pairwise)


def _perm_energies(theta) -> torch.Tensor:
    """Energies of all n! permutations (all_perms order) -> (B, n!)."""
    B, n = theta.shape[0], theta.shape[1]
    perms = all_perms(n, device=theta.device)
    return energy_perms(theta, perms.expand(B, perms.shape[0], n))


def _enum_bits_check(fn, unary, pairwise):
    _check_bits_args(fn, unary, pairwise)
    if unary.shape[1] > MAX_ENUM_BITS:
        raise _err(fn, f"unary must have k <= {MAX_ENUM_BITS} labels for exact enumeration, got k = {unary.shape[1]}")


def _enum_perms_check(fn, theta):
    _check_theta(fn, theta)
    if theta.shape[1] > MAX_ENUM_PERMS:
        raise _err(fn, f"theta must have n <= {MAX_ENUM_PERMS} items for enumeration of n! permutations "
                       f"(use lse_perms_ryser up to n = {MAX_RYSER}), got n = {theta.shape[1]}")


def exact_lse_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """LSE_g = log E_{y~q} e^{g(y)} = logsumexp over {0,1}^k − k log 2, by chunked enumeration (k ≤ 20).

    Args:
        unary: (B, k).
        pairwise: (B, k, k) or None.

    Returns:
        (B,).

    Example:
        lse = exact_lse_bits(torch.randn(4, 6), torch.randn(4, 6, 6))
    """
    fn = "exact_lse_bits"
    _enum_bits_check(fn, unary, pairwise)
    k = unary.shape[1]
    parts = [torch.logsumexp(g, dim=1) for g in _bit_energy_chunks(unary, pairwise)]
    return torch.logsumexp(torch.stack(parts, dim=1), dim=1) - k * math.log(2.0)


def unary_lse(unary: torch.Tensor) -> torch.Tensor:
    """Closed form for g = ⟨u, y⟩: LSE = Σ_i softplus(u_i) − k log 2.

    Args:
        unary: (B, k).

    Returns:
        (B,).

    Example:
        lse = unary_lse(torch.randn(4, 6))
    """
    _check_tensor("unary_lse", "unary", unary, 2, floating=True)
    return torch.nn.functional.softplus(unary).sum(-1) - unary.shape[1] * math.log(2.0)


def unary_nll(unary: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact MLE loss of the unary model, −log p(y|x) − k log 2 = unary_lse(u) − ⟨u, y⟩.

    Equals Σ_i BCE-with-logits(u_i, y_i) − k log 2.

    Args:
        unary: (B, k).
        y: (B, k) 0/1 labels.

    Returns:
        (B,).

    Raises:
        ValueError: mismatched shapes.

    Example:
        nll = unary_nll(torch.randn(4, 6), torch.randint(0, 2, (4, 6)).float())
    """
    fn = "unary_nll"
    _check_tensor(fn, "unary", unary, 2, floating=True)
    _check_tensor(fn, "y", y, 2)
    if y.shape != unary.shape:
        raise _err(fn, f"y must have the shape of unary {tuple(unary.shape)}, got {tuple(y.shape)}")
    return unary_lse(unary) - (unary * y.to(unary.dtype)).sum(-1)


def exact_lse_perms(theta: torch.Tensor) -> torch.Tensor:
    """LSE over uniform permutations by enumeration of all n! (n ≤ 8): logsumexp_σ g(σ) − log n!.

    Args:
        theta: (B, n) or (B, n, n).

    Returns:
        (B,).

    Example:
        lse = exact_lse_perms(torch.randn(4, 5))
    """
    _enum_perms_check("exact_lse_perms", theta)
    n = theta.shape[1]
    return torch.logsumexp(_perm_energies(theta), dim=1) - math.lgamma(n + 1)


def _log_permanent_from_log(logA: torch.Tensor, fn: str) -> torch.Tensor:
    """log perm(exp(logA)) by Ryser's formula on a Sinkhorn-balanced matrix, float64.

    perm(D_r A D_c) = Π r · Π c · perm(A) for any positive scalings, so the (detached) scalings only improve
    conditioning: the balanced matrix is ≈ doubly stochastic, every Ryser term is ≤ 1 and perm ≥ n!/nⁿ.
    perm(A) = (−1)ⁿ Σ_{S ⊆ [n]} (−1)^{|S|} Π_i Σ_{j∈S} A_ij, subsets enumerated in chunks.
    """
    B, n = logA.shape[0], logA.shape[1]
    out_dtype = logA.dtype
    la = logA.to(torch.float64)
    if n == 0 or B == 0:
        return torch.zeros(B, dtype=out_dtype, device=logA.device)
    with torch.no_grad():
        row = torch.zeros(B, n, 1, dtype=torch.float64, device=la.device)
        col = torch.zeros(B, 1, n, dtype=torch.float64, device=la.device)
        for _ in range(200):
            row = torch.logsumexp(la - col, dim=2, keepdim=True)
            col_new = torch.logsumexp(la - row, dim=1, keepdim=True)
            done = (col_new - col).abs().max() < 1e-10 if col.numel() else True
            col = col_new
            if done:
                break
    balanced = torch.exp(la - row - col)                       # (B, n, n), entries in (0, 1]
    total = torch.zeros(B, dtype=torch.float64, device=la.device)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, B * n))
    num_subsets = 1 << n
    for start in range(1, num_subsets, chunk):                   # S = ∅ contributes 0
        stop = min(num_subsets, start + chunk)
        masks = _bits_range(start, stop, n, torch.float64, la.device)          # (c, n): S as 0/1 columns
        sizes = masks.sum(1)
        signs = torch.where((n - sizes) % 2 == 0, 1.0, -1.0).to(torch.float64)
        row_sums = torch.einsum("bij,cj->bci", balanced, masks)                 # (B, c, n)
        total = total + (row_sums.prod(dim=2) * signs).sum(dim=1)
    if bool((total <= 0).any()):
        raise _err(fn, "A must be entrywise positive (the permanent came out <= 0)")
    return (torch.log(total) + row.sum((1, 2)) + col.sum((1, 2))).to(out_dtype)


def log_permanent(A: torch.Tensor) -> torch.Tensor:
    """log perm(A) for entrywise-positive A, n ≤ 20, by Ryser's formula (float64, balanced).

    Args:
        A: (B, n, n), entrywise positive.

    Returns:
        (B,).

    Raises:
        ValueError: not square, n > 20, or a non-positive entry.

    Example:
        lp = log_permanent(torch.rand(2, 4, 4) + 0.1)
    """
    fn = "log_permanent"
    _check_tensor(fn, "A", A, 3, floating=True)
    if A.shape[1] != A.shape[2]:
        raise _err(fn, f"A must be square (B, n, n), got {tuple(A.shape)}")
    if A.shape[1] > MAX_RYSER:
        raise _err(fn, f"A must have n <= {MAX_RYSER} (Ryser costs 2^n n^2), got n = {A.shape[1]}")
    if bool((A <= 0).any()) or not bool(torch.isfinite(A).all()):
        raise _err(fn, "A must be entrywise positive and finite")
    return _log_permanent_from_log(torch.log(A), fn)


def lse_perms_ryser(theta: torch.Tensor) -> torch.Tensor:
    """LSE over uniform permutations via the permanent, n ≤ 20.

    Permutahedron: Σ_σ e^{Σ_i θ_i(σ_i+1)} = perm[e^{θ_i (j+1)}]_{ij}; Birkhoff: perm(e^Θ). Minus log n!.
    Built in log space, so large θ never overflows.

    Args:
        theta: (B, n) or (B, n, n).

    Returns:
        (B,).

    Raises:
        ValueError: invalid shape or n > 20.

    Example:
        lse = lse_perms_ryser(torch.randn(4, 12))
    """
    fn = "lse_perms_ryser"
    _check_theta(fn, theta)
    n = theta.shape[1]
    if n > MAX_RYSER:
        raise _err(fn, f"theta must have n <= {MAX_RYSER} (Ryser costs 2^n n^2), got n = {n}")
    if theta.dim() == 2:
        positions = torch.arange(1, n + 1, dtype=theta.dtype, device=theta.device)
        logA = theta[:, :, None] * positions[None, None, :]
    else:
        logA = theta
    return _log_permanent_from_log(logA, fn) - math.lgamma(n + 1)


# ---------------------------------------------------------------------------------------------------------------
# exact min-min losses, optimal τ, implied distribution
# ---------------------------------------------------------------------------------------------------------------

def exact_minmin_loss_bits(unary: torch.Tensor, tau: torch.Tensor, y: torch.Tensor,
                           pairwise: Optional[torch.Tensor] = None, alpha: float = 1.0) -> torch.Tensor:
    """Min-min loss with E_q computed exactly over all 2^k configurations (chunked).

    Same formula (and, for α = 1, the same overflow guard) as `minmin_from_energies` with all of Y
    as samples.

    Args:
        unary: (B, k).
        tau: (B,).
        y: (B, k) 0/1 labels.
        pairwise: (B, k, k) or None.
        alpha: the conjugate's α.

    Returns:
        loss (B,).

    Example:
        loss = exact_minmin_loss_bits(u, tau, y)
    """
    fn = "exact_minmin_loss_bits"
    _enum_bits_check(fn, unary, pairwise)
    _check_tau(fn, tau, unary.shape[0])
    alpha = _check_alpha(fn, alpha)
    _check_tensor(fn, "y", y, 2)
    g_true = energy_bits(unary, y, pairwise)
    k = unary.shape[1]
    if alpha == 1.0:
        lse = exact_lse_bits(unary, pairwise)
        dt = _compute_dtype(unary.dtype)
        return _loss_from_log_mean(tau.to(dt), lse.to(dt) - tau.to(dt), g_true.to(dt),
                                   overflow_threshold(unary.dtype)).to(unary.dtype)
    total = sum(fstar(g - tau[:, None], alpha).sum(dim=1) for g in _bit_energy_chunks(unary, pairwise))
    return tau + total / float(1 << k) - g_true


def exact_minmin_loss_perms(theta: torch.Tensor, tau: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Min-min ranking loss with E_q over all n! permutations (n ≤ 8).

    Args:
        theta: (B, n) or (B, n, n).
        tau: (B,).
        y: (B, n) permutations.
        alpha: the conjugate's α.

    Returns:
        loss (B,).

    Example:
        loss = exact_minmin_loss_perms(theta, tau, y)
    """
    fn = "exact_minmin_loss_perms"
    _enum_perms_check(fn, theta)
    _check_tensor(fn, "y", y, 2)
    return minmin_from_energies(_perm_energies(theta), energy_perms(theta, y), tau, alpha)


def optimal_tau_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor] = None, alpha: float = 1.0) -> torch.Tensor:
    """τ* = argmin_τ of the exact min-min loss (detached for α > 1).

    α = 1: τ* = LSE exactly. α > 1: the root of the decreasing function
    h(τ) = E_q[(f*_α)'(g − τ)] − 1, bracketed by [min g, max g] (h ≥ 0 at min g, ≤ 0 at max g) and
    found by bisection in float64 to 1e-12.

    Args:
        unary: (B, k).
        pairwise: (B, k, k) or None.
        alpha: the conjugate's α.

    Returns:
        τ* (B,).

    Example:
        tau = optimal_tau_bits(torch.randn(4, 6), alpha=2.0)
    """
    fn = "optimal_tau_bits"
    _enum_bits_check(fn, unary, pairwise)
    alpha = _check_alpha(fn, alpha)
    if alpha == 1.0:
        return exact_lse_bits(unary, pairwise)
    with torch.no_grad():
        g = torch.cat(list(_bit_energy_chunks(unary.detach().double(),
                                              None if pairwise is None else pairwise.detach().double())), dim=1)
        lo, hi = g.min(dim=1).values, g.max(dim=1).values
        for _ in range(200):
            if bool(((hi - lo) <= 1e-13 * torch.clamp(hi.abs(), min=1.0)).all()):
                break
            mid = 0.5 * (lo + hi)
            above = fstar_prime(g - mid[:, None], alpha).mean(dim=1) > 1.0   # h(mid) > 0: root is right of mid
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return (0.5 * (lo + hi)).to(unary.dtype)


def implied_distribution_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor], tau: torch.Tensor,
                              alpha: float = 1.0) -> torch.Tensor:
    """p(y) = q(y)·(f*_α)'(g(y) − τ) over all 2^k configurations (all_bits order).

    With τ = optimal_tau_bits this sums to 1 (α = 1: Gibbs; α = 2: p = q[1 + g − τ]_+ =
    sparsemax(g/2^k)).

    Args:
        unary: (B, k).
        pairwise: (B, k, k) or None.
        tau: (B,).
        alpha: the conjugate's α.

    Returns:
        (B, 2^k).

    Example:
        p = implied_distribution_bits(u, None, optimal_tau_bits(u, alpha=2.0), alpha=2.0)
    """
    fn = "implied_distribution_bits"
    _enum_bits_check(fn, unary, pairwise)
    _check_tau(fn, tau, unary.shape[0])
    alpha = _check_alpha(fn, alpha)
    k = unary.shape[1]
    g = torch.cat(list(_bit_energy_chunks(unary, pairwise)), dim=1)
    s = g - tau[:, None]
    if alpha == 1.0:
        return torch.exp(s - k * math.log(2.0))
    return fstar_prime(s, alpha) / float(1 << k)
