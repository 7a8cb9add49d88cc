"""Pure-torch references of the categorical gradient estimators (docs/discrete.md).

Written for clarity, not speed: each function is the paper's (or the paper code's) equation
transcribed with autograd doing the differentiation. The categorical dimension is the LAST one.
Tests and benchmarks compare the fused ops of `pyalgo.discrete.ops` against these; each entry of
`pyalgo.discrete.ESTIMATORS` names its reference.

Every reference can be given its randomness explicitly (`index=` for the sample, `gumbels=` /
`exp_noise=` for the Gumbel noise) so that it can be fed exactly what a fused op drew;
`philox_gumbels` and `philox_exp_noise` rebuild that noise from the op's seed.

Notation: θ = logits (..., C), π₀ = softmax(θ), π_τ = softmax(θ/τ), D = one-hot sample,
sg = stop-gradient (`detach`), J(p) = diag(p) − ppᵀ.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch


def _sg(x: torch.Tensor) -> torch.Tensor:
    return x.detach()


def sample_index(logits: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """k ~ Cat(softmax(logits)) along the last dim, with torch.multinomial. tau never enters the sample.

    Args:
        logits: (..., C).
        generator: the random source.

    Returns:
        LongTensor (...).

    Example:
        k = sample_index(torch.randn(8, 5))
    """
    C = logits.shape[-1]
    probs = _sg(logits).softmax(-1).reshape(-1, C)
    if probs.shape[0] == 0:
        return torch.zeros(logits.shape[:-1], dtype=torch.long, device=logits.device)
    k = torch.multinomial(probs, 1, replacement=True, generator=generator)
    return k.reshape(logits.shape[:-1])


def _one_hot(index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Float one-hot D of shape like.shape for an index of shape like.shape[:-1]."""
    index = index.to(device=like.device, dtype=torch.long)
    if index.shape != like.shape[:-1]:
        raise ValueError(f"index must have shape {tuple(like.shape[:-1])} (logits without the last "
                         f"dim), got {tuple(index.shape)}")
    return torch.zeros_like(like).scatter_(-1, index.unsqueeze(-1), 1.0)


def _masked(value: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """`value` with 0 where the logit is −inf (a masked category, probability 0), so that
    inf − inf or 0·inf terms of the formulas do not turn into NaN (in any derivative order)."""
    masked = logits.detach() == -torch.inf
    return torch.where(masked, torch.zeros((), dtype=value.dtype, device=value.device), value) if bool(masked.any()) else value


def _sample(logits, index, generator):
    if index is None:
        index = sample_index(logits, generator)
    return index, _one_hot(index, logits)


def reinmax_ref(logits: torch.Tensor, tau: float = 1.0, index: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax, Algorithm 2 of Liu et al. (NeurIPS 2023), literally.

        π₀ = softmax(θ);  D = one_hot(k), k ~ Cat(π₀)  (or k = `index`, shape (...));
        π_τ = softmax(θ/τ);  π₁ = (D + π_τ)/2;  π₁ ← softmax(sg(ln π₁ − θ) + θ);
        π₂ = 2π₁ − ½π₀;  y_hard = π₂ − sg(π₂) + D  (value exactly D);  y_soft = π₀.
    Backward: ∂L/∂θ = 2 J(π₁) g − ½ J(π₀) g + J(π₀) g_soft (the package also row-centres it,
    which changes nothing analytically).

    Args:
        logits: (..., C), categories last.
        tau: the temperature.
        index: the sample k (...), or None to draw it.
        generator: the random source of the draw.

    Returns:
        (y_hard, y_soft), both (..., C).

    Example:
        y_hard, y_soft = reinmax_ref(torch.randn(8, 5, requires_grad=True), 1.0)
    """
    index, D = _sample(logits, index, generator)
    pi0 = logits.softmax(-1)
    pi_tau = (logits / tau).softmax(-1)
    pi1 = (D + pi_tau) / 2
    # ln π₁ − θ is −inf − (−inf) at masked (−inf) logits: 0 there keeps π₁ = 0 without a NaN.
    pi1 = (_sg(_masked(pi1.log() - logits, logits)) + logits).softmax(-1)
    pi2 = 2 * pi1 - 0.5 * pi0
    y_hard = pi2 - _sg(pi2) + D
    return y_hard, pi0


def straight_through_ref(logits: torch.Tensor, tau: float = 1.0, index: Optional[torch.Tensor] = None,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Straight-through (Bengio et al. 2013), as in the ReinMax paper code.

    y = D − sg(π_τ) + π_τ with D ~ Cat(softmax θ) (or `index`), so ∂L/∂θ = (1/τ) J(π_τ) g.

    Args:
        logits: (..., C), categories last.
        tau: the temperature.
        index: the sample k (...), or None to draw it.
        generator: the random source of the draw.

    Returns:
        y (..., C).

    Example:
        y = straight_through_ref(torch.randn(8, 5, requires_grad=True), 1.0)
    """
    index, D = _sample(logits, index, generator)
    pi_tau = (logits / tau).softmax(-1)
    return D - _sg(pi_tau) + pi_tau


def gumbel_softmax_ref(logits: torch.Tensor, tau: float = 1.0, hard: bool = False,
                       gumbels: Optional[torch.Tensor] = None,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gumbel-softmax / ST-GS (Jang et al. 2017), as `torch.nn.functional.gumbel_softmax`.

        y_soft = softmax((θ + G)/τ);  hard: y = one_hot(argmax y_soft) − sg(y_soft) + y_soft.
    ∂L/∂θ = (1/τ) J(y_soft) g in both cases.

    Args:
        logits: (..., C), categories last.
        tau: the temperature.
        hard: return the one-hot argmax (ST-GS).
        gumbels: G (..., C), or None to draw −log Exp(1).
        generator: the random source of the draw.

    Returns:
        y (..., C).

    Raises:
        ValueError: `gumbels` does not match `logits`.

    Example:
        y = gumbel_softmax_ref(torch.randn(8, 5), 0.5, hard=True)
    """
    if gumbels is None:
        E = torch.empty_like(logits, memory_format=torch.legacy_contiguous_format)
        gumbels = -E.exponential_(generator=generator).log()
    elif gumbels.shape != logits.shape:
        raise ValueError(f"gumbels must have the logits' shape {tuple(logits.shape)}, got {tuple(gumbels.shape)}")
    y_soft = ((logits + gumbels) / tau).softmax(-1)
    if not hard:
        return y_soft
    y_hard = _one_hot(y_soft.argmax(-1), y_soft)
    return y_hard - _sg(y_soft) + y_soft


def gst_ref(logits: torch.Tensor, tau: float = 1.0, gap: Union[float, str] = 1.0,
            index: Optional[torch.Tensor] = None,
            generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gapped straight-through GST-1.0 / GST-p (Fan et al., ICML 2022; `gst_mover`).

    With θ̄ = sg(θ), m = max θ̄, D = one_hot(k):
        move = (m − θ̄)⊙D;  move2_i = max(0, θ̄_i + gap − m) for i ≠ k, 0 at k;
        θ̃ = θ + move − move2, centred (here: minus its row max);  p = softmax(θ̃/τ);  y = D − sg(p) + p.
    gap="p" (GST-p) uses gap = −log(1 − π_k)/π_k, π = softmax(θ̄) (1 − π_k from the other
    categories, so it does not round to 0). ∂L/∂θ = (1/τ) J(p) g.

    Args:
        logits: (..., C), categories last.
        tau: the temperature.
        gap: a number >= 0, or "p".
        index: the sample k (...), or None to draw it.
        generator: the random source of the draw.

    Returns:
        y (..., C).

    Raises:
        ValueError: an invalid `gap`.

    Example:
        y = gst_ref(torch.randn(8, 5, requires_grad=True), 1.0, gap="p")
    """
    index, D = _sample(logits, index, generator)
    theta_bar = _sg(logits)
    m = theta_bar.max(-1, keepdim=True).values
    if isinstance(gap, str):
        if gap != "p":
            raise ValueError(f'gap must be a number >= 0 or "p", got {gap!r}')
        pi_k = theta_bar.softmax(-1).gather(-1, index.long().unsqueeze(-1))
        # log(1 − π_k) = logsumexp_{j≠k} θ̄_j − logsumexp θ̄: no cancellation when π_k is near 1
        log_rest = theta_bar.masked_fill(D.bool(), -torch.inf).logsumexp(-1, keepdim=True)
        gap = (theta_bar.logsumexp(-1, keepdim=True) - log_rest) / pi_k
    move = _masked((m - theta_bar) * D, logits)
    move2 = torch.where(D.bool(), 0.0, _masked((theta_bar + gap - m).clamp_min(0), logits))
    theta_tilde = logits + move - move2
    # The paper code centres θ̃ (θ̃ − mean θ̃); softmax and its gradient ignore any per-row shift
    # (J(p)·1 = 0), so θ̃ is taken relative to its (detached) row max instead, which cannot overflow
    # in θ̃/τ nor turn a masked −inf entry into NaN.
    theta_tilde = theta_tilde - _sg(theta_tilde.max(-1, keepdim=True).values)
    p = (theta_tilde / tau).softmax(-1)
    return D - _sg(p) + p


def gumbel_rao_ref(logits: torch.Tensor, tau: float = 1.0, k: int = 100,
                   index: Optional[torch.Tensor] = None, exp_noise: Optional[torch.Tensor] = None,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gumbel-Rao Monte Carlo, GR-MCK (Paulus et al., ICLR 2021; `rao_gumbel`).

    Given the sample s (D = one_hot(s)) and Z = Σ_j exp θ̄_j, the r-th conditional Gumbel draw is
        θ_s + G_s = −log(E_s / Z),   θ_j + G_j = −log(E_j e^{−θ̄_j} + E_s / Z)  (j ≠ s),
    G detached; p = (1/K) Σ_r softmax((θ + G^{(r)})/τ);  y = D − sg(p) + p.
    ∂L/∂θ = (1/(Kτ)) Σ_r J(p_r) g.

    Args:
        logits: (..., C), categories last.
        tau: the temperature.
        k: the number of draws K.
        index: the sample s (...), or None to draw it.
        exp_noise: E (..., K, C) Exp(1) draws, or None to draw them.
        generator: the random source of the draws.

    Returns:
        y (..., C).

    Raises:
        ValueError: `exp_noise` does not match `logits` and `k`.

    Example:
        y = gumbel_rao_ref(torch.randn(8, 5, requires_grad=True), 1.0, k=10)
    """
    index, D = _sample(logits, index, generator)
    if exp_noise is None:
        shape = (*logits.shape[:-1], k, logits.shape[-1])
        exp_noise = torch.empty(shape, dtype=logits.dtype, device=logits.device).exponential_(generator=generator)
    elif exp_noise.shape[:-2] != logits.shape[:-1] or exp_noise.shape[-1] != logits.shape[-1]:
        raise ValueError(f"exp_noise must have shape (*logits.shape[:-1], K, C) = "
                         f"{(*logits.shape[:-1], 'K', logits.shape[-1])}, got {tuple(exp_noise.shape)}")
    theta_bar = _sg(logits).unsqueeze(-2)                        # (..., 1, C)
    log_Z = theta_bar.logsumexp(-1, keepdim=True)                # (..., 1, 1)
    hot = D.unsqueeze(-2).bool()                                 # (..., 1, C)
    log_E = exp_noise.to(logits.dtype).log()                     # (..., K, C)
    log_Es = log_E.gather(-1, index.long()[..., None, None].expand(*log_E.shape[:-1], 1))
    # −log(E_j e^{−θ̄_j} + E_s/Z) as a logaddexp, which cannot overflow.
    perturbed = torch.where(hot, log_Z - log_Es, -torch.logaddexp(log_E - theta_bar, log_Es - log_Z))
    G = _masked(perturbed - theta_bar, theta_bar)  # −inf − (−inf) at masked logits: G = 0 there
    p = ((logits.unsqueeze(-2) + G) / tau).softmax(-1).mean(-2)
    return D - _sg(p) + p


# ---- ReinMax-Rao and ReinMax-CV (Wang & Bui, "Beyond ReinMax", arXiv 2603.08257, 2026) --------

def _log_pi1(logits: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """ℓ₁ = log π₁, π₁ = (π₀ + D)/2 (τ-free), from the detached logits."""
    return ((_sg(logits).softmax(-1) + D) / 2).log()


def conditional_gumbels(logits: torch.Tensor, index: torch.Tensor, exp_noise: torch.Tensor) -> torch.Tensor:
    """K draws of ψ = logits + G, G ~ Gumbel(0, 1)^C, conditioned on argmax ψ = index.

    With E = `exp_noise` (Exp(1) draws) and log Z = logsumexp(logits):
        ψ_k = log Z − log E_k,   ψ_j = ℓ_j − log(E_j + E_k·exp(ℓ_j − log Z))  (j ≠ k),
    the Gumbel-Rao formula −log(E_j e^{−ℓ_j} + E_k/Z) rearranged so that e^{−ℓ} never appears
    (a −inf logit gives ψ_j = −inf). Detached: the draws carry no gradient.

    Args:
        logits: (..., C), categories last (finite or −inf).
        index: (...) the conditioning argmax.
        exp_noise: (..., K, C) Exp(1) draws.

    Returns:
        ψ (..., K, C).

    Raises:
        ValueError: `exp_noise` does not match `logits`.

    Example:
        psi = conditional_gumbels(torch.randn(8, 5), torch.zeros(8, dtype=torch.long), torch.rand(8, 3, 5))
    """
    if exp_noise.shape[:-2] != logits.shape[:-1] or exp_noise.shape[-1] != logits.shape[-1]:
        raise ValueError(f"exp_noise must have shape (*logits.shape[:-1], K, C) = "
                         f"{(*logits.shape[:-1], 'K', logits.shape[-1])}, got {tuple(exp_noise.shape)}")
    ell = _sg(logits).unsqueeze(-2)                              # (..., 1, C)
    E = exp_noise.to(ell.dtype)
    lz = ell.logsumexp(-1, keepdim=True)                         # (..., 1, 1)
    kk = index.long()[..., None, None].expand(*E.shape[:-1], 1)  # (..., K, 1)
    Ek = E.gather(-1, kk)
    psi = ell - torch.log(E + Ek * torch.exp(ell - lz))
    return psi.scatter(-1, kk, lz - torch.log(Ek))


def _frozen_softmax(logits: torch.Tensor, value_logits: torch.Tensor, t: float) -> torch.Tensor:
    """softmax(value_logits) in value, with the Jacobian of softmax(θ/t) there: (1/t) J(p)."""
    u = logits + _sg(_masked(t * value_logits - _sg(logits), logits))
    return (u / t).softmax(-1)


def _draw_exp_noise(logits, k, exp_noise, generator):
    if exp_noise is None:
        shape = (*logits.shape[:-1], k, logits.shape[-1])
        return torch.empty(shape, dtype=logits.dtype, device=logits.device).exponential_(generator=generator)
    return exp_noise


def reinmax_rao_ref(logits: torch.Tensor, tau: float = 1.0, k: int = 100, index: Optional[torch.Tensor] = None,
                    exp_noise: Optional[torch.Tensor] = None,
                    generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax-Rao (Wang & Bui 2026): ReinMax with 2J(π₁)g replaced by a Gumbel-Rao Jacobian at π₁.

    Forward as ReinMax: D = one_hot(k), k ~ Cat(π₀) (or `index`), y_soft = π₀ = softmax(θ).
    With π₁ = (π₀ + D)/2, ℓ₁ = log π₁ (τ-free) and ψ⁽ʳ⁾ the K conditional draws of ℓ₁ + G given
    argmax = k (`conditional_gumbels`, Exp(1) draws `exp_noise`), p_r = softmax(ψ⁽ʳ⁾/τ):
        ∂L/∂θ = (2/(Kτ)) Σ_r J(p_r) g − ½ J(π₀) g + J(π₀) g_soft   (rows sum to 0).
    Written as y_hard = q − sg(q) + D, q = 2·mean_r p_r(θ) − ½π₀, with p_r(θ) = p_r in value and
    (1/τ)J(p_r) as Jacobian, so autograd differentiates it (twice, too).

    Args:
        logits: (..., C), categories last.
        tau: the temperature of the draws' softmax.
        k: the number of draws K.
        index: the sample k (...), or None to draw it.
        exp_noise: E (..., K, C) Exp(1) draws, or None to draw them.
        generator: the random source of the draws.

    Returns:
        (y_hard, y_soft), both (..., C).

    Example:
        y_hard, y_soft = reinmax_rao_ref(torch.randn(8, 5, requires_grad=True), 1.0, k=10)
    """
    index, D = _sample(logits, index, generator)
    exp_noise = _draw_exp_noise(logits, k, exp_noise, generator)
    pi0 = logits.softmax(-1)
    psi = conditional_gumbels(_log_pi1(logits, D), index, exp_noise)        # (..., K, C)
    p = _frozen_softmax(logits.unsqueeze(-2), psi / tau, tau).mean(-2)
    q = 2 * p - 0.5 * pi0
    return q - _sg(q) + D, pi0


CV_NOISES = ("soft", "gumbel")


def reinmax_cv_ref(logits: torch.Tensor, tau: float = 1.0, eta: float = 0.5, tau2: float = 1.0, k: int = 100,
                   cv_noise: str = "soft", index: Optional[torch.Tensor] = None,
                   gumbels: Optional[torch.Tensor] = None, exp_noise: Optional[torch.Tensor] = None,
                   generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax-CV (Wang & Bui 2026): ReinMax plus η·(GR − GS), a Gumbel-Rao / Gumbel-softmax pair at π₁.

    Forward: G ~ Gumbel(0, 1)^C (or `gumbels`), k = argmax(θ + G) (Gumbel-max; `index` overrides it),
    y_hard = D = one_hot(k), y_soft = π₀. With ℓ₁ = log((π₀ + D)/2), ψ⁽ʳ⁾ the K conditional draws
    of ℓ₁ + G' given argmax = k (Exp(1) draws `exp_noise`), p_r = softmax(ψ⁽ʳ⁾/τ₂) and
        s = softmax(ℓ₁ + ξ), ξ = softmax((θ + G)/τ)     (cv_noise="soft", the authors' released code)
        s = softmax((ℓ₁ + G)/τ₂)                         (cv_noise="gumbel"):
        ∂L/∂θ = ReinMax(τ) + η [(1/(Kτ₂)) Σ_r J(p_r) g − (1/τ₂) J(s) g],
    ReinMax(τ) = 2J(π₁^τ)g − ½J(π₀)g + J(π₀)g_soft, π₁^τ = (softmax(θ/τ) + D)/2 (rows sum to 0).
    Written as a surrogate y_hard = q − sg(q) + D that autograd differentiates (twice, too).

    Args:
        logits: (..., C), categories last.
        tau: ReinMax's temperature (and that of the soft sample ξ).
        eta: the control variate's weight η.
        tau2: the temperature τ₂ of the GR and GS terms.
        k: the number of draws K.
        cv_noise: "soft" or "gumbel".
        index: the sample k (...), or None for argmax(θ + G).
        gumbels: G (..., C), or None to draw −log Exp(1).
        exp_noise: E (..., K, C) Exp(1) draws, or None to draw them.
        generator: the random source of the draws.

    Returns:
        (y_hard, y_soft), both (..., C).

    Raises:
        ValueError: an unknown `cv_noise`, or noise of the wrong shape.

    Example:
        y_hard, y_soft = reinmax_cv_ref(torch.randn(8, 5, requires_grad=True), 1.0, eta=0.5, tau2=1.0, k=10)
    """
    if cv_noise not in CV_NOISES:
        raise ValueError(f'cv_noise must be "soft" or "gumbel", got {cv_noise!r}')
    theta_bar = _sg(logits)
    if gumbels is None:
        E = torch.empty_like(theta_bar, memory_format=torch.legacy_contiguous_format)
        gumbels = -E.exponential_(generator=generator).log()
    elif gumbels.shape != logits.shape:
        raise ValueError(f"gumbels must have the logits' shape {tuple(logits.shape)}, got {tuple(gumbels.shape)}")
    gumbels = gumbels.to(logits.dtype)
    if index is None:
        index = (theta_bar + gumbels).argmax(-1)
    index, D = _sample(logits, index, None)
    exp_noise = _draw_exp_noise(logits, k, exp_noise, generator)
    pi0 = logits.softmax(-1)
    # ReinMax(τ), as reinmax_ref: π₁^τ with the Jacobian J(π₁^τ)
    pi1t = (D + (logits / tau).softmax(-1)) / 2
    pi1t = (_sg(_masked(pi1t.log() - logits, logits)) + logits).softmax(-1)
    l1 = _log_pi1(logits, D)
    psi = conditional_gumbels(l1, index, exp_noise)
    gr = _frozen_softmax(logits.unsqueeze(-2), psi / tau2, tau2).mean(-2)
    if cv_noise == "soft":
        xi = ((theta_bar + gumbels) / tau).softmax(-1)
        gs = _frozen_softmax(logits, l1 + xi, tau2)
    else:
        gs = _frozen_softmax(logits, (l1 + gumbels) / tau2, tau2)
    q = 2 * pi1t - 0.5 * pi0 + eta * (gr - gs)
    return q - _sg(q) + D, pi0


# ---- the fused ops' noise, rebuilt from their seed ---------------------------------------------

def _noise_dtype(logits: torch.Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def philox_gumbels(seed: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The Gumbels G that `pyalgo.gumbel_softmax` draws for `seed`.

    `seed` = `pyalgo._rng.draw_seed(generator, device)` with the generator in the state the op saw;
    G = −log(−log U), U = philox_uniform(seed, rows, C, stream=0).

    Args:
        seed: int64 (2,).
        logits: (..., C), categories last (only its shape, dtype and device are used).

    Returns:
        G, shaped like `logits`.

    Example:
        G = philox_gumbels(torch.tensor([1, 0]), torch.zeros(8, 5))
    """
    from .._rng import philox_uniform

    C = logits.shape[-1]
    rows = logits.numel() // C if C else 0
    u = philox_uniform(seed, rows, C, 0, _noise_dtype(logits))
    return (-(-u.log()).log()).reshape(logits.shape)


def philox_exp_noise(seed: torch.Tensor, logits: torch.Tensor, k: int) -> torch.Tensor:
    """The Exp(1) draws E that `pyalgo.gumbel_rao` uses for `seed`.

    E[row, r, c] = −log U, U = philox_uniform(seed, rows, C, stream=1 + r).

    Args:
        seed: int64 (2,).
        logits: (..., C), categories last (only its shape, dtype and device are used).
        k: the number of draws K.

    Returns:
        E (*logits.shape[:-1], k, C).

    Example:
        E = philox_exp_noise(torch.tensor([1, 0]), torch.zeros(8, 5), 10)
    """
    from .._rng import philox_uniform

    C = logits.shape[-1]
    rows = logits.numel() // C if C else 0
    dtype = _noise_dtype(logits)
    E = torch.stack([-philox_uniform(seed, rows, C, 1 + r, dtype).log() for r in range(k)], dim=1)
    return E.reshape(*logits.shape[:-1], k, C)


def philox_cv_noise(seed: torch.Tensor, logits: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The noise `pyalgo.reinmax_cv` uses for `seed`: its forward Gumbels and its backward's Exp(1) draws.

    (`pyalgo.reinmax_rao` draws its sample as `pyalgo.reinmax` does and its backward's Exp(1) draws as
    `philox_exp_noise(seed, logits, k)`.)

    Args:
        seed: int64 (2,).
        logits: (..., C), categories last (only its shape, dtype and device are used).
        k: the number of draws K.

    Returns:
        (gumbels (..., C), exp_noise (..., k, C)): `philox_gumbels(seed, logits)` and
        `philox_exp_noise(seed, logits, k)`.

    Example:
        G, E = philox_cv_noise(torch.tensor([1, 0]), torch.zeros(8, 5), 10)
    """
    return philox_gumbels(seed, logits), philox_exp_noise(seed, logits, k)


__all__ = ["sample_index", "reinmax_ref", "straight_through_ref", "gumbel_softmax_ref", "gst_ref",
           "gumbel_rao_ref", "philox_gumbels", "philox_exp_noise", "conditional_gumbels", "reinmax_rao_ref",
           "reinmax_cv_ref", "philox_cv_noise", "CV_NOISES"]
