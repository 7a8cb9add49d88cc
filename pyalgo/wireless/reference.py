"""Pure-torch (and NumPy) references of the wireless ops (docs/wireless.md).

Written for clarity, not speed. Tests check the fused ops of `pyalgo.wireless.ops` against these
iterate by iterate, and benchmarks time them as the baselines users run today.

Conventions (as the ops):
- SISO: G (B, K, K) real power gains, G[b, i, j] = |h|^2 from transmitter j to receiver i
  (row = receiver); powers p (B, K); rates in bits/s/Hz.
- MISO: H (B, K, N) complex, row H[b, i] is user i's channel, y_i = sum_j (H_i @ V_j) x_j + n_i
  (plain product, no conjugation); beamformers V (B, K, N); sum_j ||V_j||^2 <= p_max per instance.
- p_max, noise, weights α (None = ones): a number, (B,) per instance, or any shape broadcastable
  to (B, K), e.g. (K,) per user (a 1-D tensor of length B is per instance). MISO p_max: float or (B,).

Notation: v = √p (tx amplitude), u (rx gain), w (MSE weight), S/I/T = signal / interference plus
noise / total received power.
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple, Optional, Tuple, Union, overload

import numpy as np
import torch

Scalar = Union[float, torch.Tensor]


# ---- broadcasting helpers ----------------------------------------------------------------------

def _per_user(x: Scalar, B: int, K: int, like: torch.Tensor) -> torch.Tensor:
    """A number, (B,) or a shape broadcastable to (B, K) -> (B, K), in like's real dtype and device."""
    x = torch.as_tensor(x, dtype=like.real.dtype, device=like.device)
    if x.dim() == 1 and x.shape[0] == B:
        x = x.unsqueeze(-1)
    return x.expand(B, K)


def _weights(weights: Optional[Scalar], B: int, K: int, like: torch.Tensor) -> torch.Tensor:
    """None (ones) or as `_per_user` -> (B, K)."""
    return _per_user(1.0 if weights is None else weights, B, K, like)


def _per_instance(x: Scalar, B: int, like: torch.Tensor) -> torch.Tensor:
    """float or (B,) -> (B,)."""
    return torch.as_tensor(x, dtype=like.real.dtype, device=like.device).expand(B)


def _off_diagonal(M: torch.Tensor) -> torch.Tensor:
    """M (..., K, K) with its diagonal set to 0 (the interference terms j != i)."""
    eye = torch.eye(M.shape[-1], dtype=torch.bool, device=M.device)
    return M.masked_fill(eye, 0)


def _pad_history(history: list, length: int) -> torch.Tensor:
    """Stacks per-iteration tensors along dim 1, repeating the last one up to `length` entries."""
    history = history + [history[-1]] * (length - len(history))
    return torch.stack(history, dim=1)


# ---- SISO sum rate ------------------------------------------------------------------------------

def sum_rate_ref(G: torch.Tensor, p: torch.Tensor, noise: Scalar = 1.0, weights: Optional[Scalar] = None,
                 per_user: bool = False) -> torch.Tensor:
    """Weighted sum rate of SISO power control (Sun et al. `obj_IA_sum_rate`).

        rate_k = α_k log2(1 + G_kk p_k / (Σ_{j≠k} G_kj p_j + σ²_k)).
    Differentiable by autograd in G, p, noise and weights.

    Args:
        G: (B, K, K) gains.
        p: (B, K) powers.
        noise: σ², a number or broadcastable tensor.
        weights: α (None: all 1).
        per_user: return the per-user rates.

    Returns:
        (B,) or, with per_user, (B, K).

    Example:
        r = sum_rate_ref(G, p)
    """
    B, K = p.shape
    noise = _per_user(noise, B, K, G)
    alpha = _weights(weights, B, K, G)
    signal = G.diagonal(dim1=-2, dim2=-1) * p
    interference = (_off_diagonal(G) @ p.unsqueeze(-1)).squeeze(-1) + noise
    rates = alpha * torch.log2(1 + signal / interference)
    return rates if per_user else rates.sum(-1)


# ---- SISO WMMSE ---------------------------------------------------------------------------------

class WMMSERefResult(NamedTuple):
    p: torch.Tensor                    # (B, K) final powers
    u: torch.Tensor                    # (B, K) receiver gains at p
    w: torch.Tensor                    # (B, K) MSE weights at p
    iterations: torch.Tensor           # (B,) int32, v-updates done (1..max_iter)
    objective: Optional[torch.Tensor]  # (B, max_iter + 1) Σ α log2 w at p^(0), p^(1), ...
    trajectory: Optional[torch.Tensor]  # (B, max_iter + 1, K) p^(0), p^(1), ...


def _siso_state(G: torch.Tensor, v: torch.Tensor, noise: torch.Tensor,
                alpha: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """u, w (B, K) and obj (B,) at the amplitudes v (stable form of w):
        I_k = Σ_{j≠k} G_kj v_j² + σ²_k,  S_k = G_kk v_k²,  u_k = h_kk v_k / (I_k + S_k),
        w_k = 1 + S_k / I_k,  obj = Σ_k α_k log2 w_k (= the weighted sum rate at p = v²)."""
    g_diag = G.diagonal(dim1=-2, dim2=-1)
    q = v * v
    interference = (_off_diagonal(G) @ q.unsqueeze(-1)).squeeze(-1) + noise
    signal = g_diag * q
    u = g_diag.sqrt() * v / (interference + signal)
    w = 1 + signal / interference
    return u, w, (alpha * torch.log2(w)).sum(-1)


def _siso_v_update(G: torch.Tensor, u: torch.Tensor, w: torch.Tensor, alpha: torch.Tensor,
                   v_max: torch.Tensor) -> torch.Tensor:
    """Jacobi v-update: v_k = min(α_k w_k u_k h_kk / Σ_j G_jk α_j w_j u_j², √p_max_k), or 0 when
    the numerator is 0 (a user with v_k = 0 or α_k = 0 stays off; avoids 0/0)."""
    c = alpha * w * u * u
    denominator = (G.transpose(-1, -2) @ c.unsqueeze(-1)).squeeze(-1)  # column sums, j = k included
    numerator = alpha * w * u * G.diagonal(dim1=-2, dim2=-1).sqrt()
    return torch.where(numerator > 0, torch.minimum(numerator / denominator, v_max),
                       torch.zeros_like(numerator))


@torch.no_grad()
def wmmse_ref(G: torch.Tensor, p_max: Scalar = 1.0, noise: Scalar = 1.0, weights: Optional[Scalar] = None,
              max_iter: int = 100, tol: float = 1e-3, p_init: Optional[torch.Tensor] = None,
              record: bool = False) -> WMMSERefResult:
    """Jacobi WMMSE power control (Shi et al. 2011; Sun et al. 2018 `WMMSE_sum_rate`).

    repeat t = 1..max_iter: v-update (`_siso_v_update`), then u, w, obj_new at the new v; an
    instance stops when tol > 0 and obj_new − obj <= tol (the update is kept); stopped instances
    are frozen while the others go on. p = min(v², p_max) (the min only removes the rounding of
    (√p_max)², so the box holds exactly); objective and trajectory (record=True) repeat the final
    value after an instance's stop.

    Args:
        G: (B, K, K) gains.
        p_max: the power budget.
        noise: σ².
        weights: α (None: all 1).
        max_iter: at most this many updates.
        tol: per-instance stopping threshold (<= 0: run max_iter updates).
        p_init: (B, K) in [0, p_max] (None: p_max, full power).
        record: also return the objective and trajectory.

    Returns:
        A `WMMSERefResult`.

    Example:
        p = wmmse_ref(G).p
    """
    B, K = G.shape[0], G.shape[-1]
    p_max = _per_user(p_max, B, K, G)
    noise = _per_user(noise, B, K, G)
    alpha = _weights(weights, B, K, G)
    v_max = p_max.sqrt()
    v = v_max.clone() if p_init is None else p_init.to(G.dtype).sqrt()

    u, w, obj = _siso_state(G, v, noise, alpha)
    objectives, powers = [obj], [torch.minimum(v * v, p_max)]
    active = torch.ones(B, dtype=torch.bool, device=G.device)
    iterations = torch.zeros(B, dtype=torch.int32, device=G.device)
    for _ in range(max_iter):
        v_new = _siso_v_update(G, u, w, alpha, v_max)
        u_new, w_new, obj_new = _siso_state(G, v_new, noise, alpha)
        keep = active.unsqueeze(-1)
        v, u, w = torch.where(keep, v_new, v), torch.where(keep, u_new, u), torch.where(keep, w_new, w)
        iterations += active.to(torch.int32)
        converged = obj_new - obj <= tol if tol > 0 else torch.zeros_like(active)
        obj = torch.where(active, obj_new, obj)
        active = active & ~converged
        if record:
            objectives.append(obj)
            powers.append(torch.minimum(v * v, p_max))
        if not active.any():
            break

    objective = _pad_history(objectives, max_iter + 1) if record else None
    trajectory = _pad_history(powers, max_iter + 1) if record else None
    return WMMSERefResult(torch.minimum(v * v, p_max), u, w, iterations, objective, trajectory)


@overload
def fplinq_ref(G: torch.Tensor, p_max: Scalar = ..., noise: Scalar = ..., weights: Optional[Scalar] = ...,
               iters: int = ..., p_init: Optional[torch.Tensor] = ...,
               return_iterates: Literal[False] = ...) -> torch.Tensor: ...
@overload
def fplinq_ref(G: torch.Tensor, p_max: Scalar = ..., noise: Scalar = ..., weights: Optional[Scalar] = ...,
               iters: int = ..., p_init: Optional[torch.Tensor] = ..., *,
               return_iterates: Literal[True]) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def fplinq_ref(G: torch.Tensor, p_max: Scalar = ..., noise: Scalar = ..., weights: Optional[Scalar] = ...,
               iters: int = ..., p_init: Optional[torch.Tensor] = ...,
               return_iterates: bool = ...) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]: ...
@torch.no_grad()
def fplinq_ref(G: torch.Tensor, p_max: Scalar = 1.0, noise: Scalar = 1.0, weights: Optional[Scalar] = None,
               iters: int = 100, p_init: Optional[torch.Tensor] = None,
               return_iterates: bool = False) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """FPLinQ power control (Shen & Yu 2018; yshenaw `FPLinQ.py`).

        z_i = G_ii p_i / (Σ_{j≠i} G_ij p_j + σ²_i)
        y_i = √(α_i (1 + z_i) G_ii p_i) / (Σ_j G_ij p_j + σ²_i)
        p_i ← min(p_max_i, α_i (1 + z_i) G_ii y_i² / (Σ_j G_ji y_j²)²), or 0 when y_i = 0.
    Equals Jacobi WMMSE from the same start (y_i² = α_i w_i u_i²).

    Args:
        G: (B, K, K) gains.
        p_max: the power budget.
        noise: σ².
        weights: α (None: all 1).
        iters: the fixed number of iterations.
        p_init: (B, K) (None: p_max).
        return_iterates: also return the iterates.

    Returns:
        p (B, K), or (p, iterates (B, iters + 1, K): p^(0), p^(1), ...) with return_iterates.

    Example:
        p, its = fplinq_ref(G, iters=20, return_iterates=True)
    """
    B, K = G.shape[0], G.shape[-1]
    p_max = _per_user(p_max, B, K, G)
    noise = _per_user(noise, B, K, G)
    alpha = _weights(weights, B, K, G)
    g_diag = G.diagonal(dim1=-2, dim2=-1)
    p = p_max.clone() if p_init is None else p_init.to(G.dtype)
    iterates = [p]
    for _ in range(iters):
        signal = g_diag * p
        interference = (_off_diagonal(G) @ p.unsqueeze(-1)).squeeze(-1) + noise
        z = signal / interference
        y = torch.sqrt(alpha * (1 + z) * signal) / (interference + signal)
        numerator = alpha * (1 + z) * g_diag * y * y
        denominator = (G.transpose(-1, -2) @ (y * y).unsqueeze(-1)).squeeze(-1)
        p = torch.where(numerator > 0, torch.minimum(numerator / denominator ** 2, p_max),
                        torch.zeros_like(p))
        iterates.append(p)
    return (p, torch.stack(iterates, dim=1)) if return_iterates else p


# ---- NumPy baselines ----------------------------------------------------------------------------

def wmmse_numpy_single(h_amp: np.ndarray, p_max: float = 1.0, noise: float = 1.0, max_iter: int = 100,
                       tol: float = 1e-3) -> np.ndarray:
    """Sun et al.'s per-instance `WMMSE_sum_rate` (Haoran-S/TSP-DNN), ported line by line.

    Two changes: max_iter / tol are arguments (Sun: 100, 1e-3; tol <= 0 runs all max_iter), and
    w = 1 + S/I replaces Sun's 1/(1 − f b h) (equal in exact arithmetic, stable in floating point).

    Args:
        h_amp: (K, K) amplitudes |h| (row = receiver).
        p_max: the power budget.
        noise: σ².
        max_iter: at most this many updates.
        tol: the stopping threshold.

    Returns:
        p (K,), from a full-power start.

    Example:
        p = wmmse_numpy_single(np.abs(np.random.randn(5, 5)))
    """
    K = h_amp.shape[0]
    H = h_amp
    b = np.sqrt(p_max * np.ones(K))
    f = np.zeros(K)
    w = np.zeros(K)

    def update_f_w():
        vnew = 0.0
        for i in range(K):
            received = np.square(H[i, :]) * np.square(b)
            interference = np.delete(received, i).sum() + noise
            f[i] = H[i, i] * b[i] / (interference + received[i])
            w[i] = 1 + received[i] / interference
            vnew = vnew + math.log2(w[i])
        return vnew

    vnew = update_f_w()
    for _ in range(max_iter):
        vold = vnew
        for i in range(K):
            btmp = w[i] * f[i] * H[i, i] / sum(w * np.square(f) * np.square(H[:, i]))
            b[i] = min(btmp, np.sqrt(p_max)) + max(btmp, 0) - btmp
        vnew = update_f_w()
        if tol > 0 and vnew - vold <= tol:
            break
    return np.square(b)


def wmmse_numpy_batch(h_amp: np.ndarray, p_max: Union[float, np.ndarray] = 1.0,
                      noise: Union[float, np.ndarray] = 1.0, weights: Optional[np.ndarray] = None,
                      max_iter: int = 100, tol: float = 1e-3, p_init: Optional[np.ndarray] = None) -> np.ndarray:
    """Vectorised NumPy WMMSE over a batch.

    Like yshenaw's `batch_WMMSE2`, with the per-instance stop rule of `wmmse_ref`: finished
    instances are frozen while the others go on.

    Args:
        h_amp: (B, K, K) amplitudes (row = receiver).
        p_max: as in `wmmse_ref`.
        noise: as in `wmmse_ref`.
        weights: (None: ones) as in `wmmse_ref`.
        max_iter: at most this many updates.
        tol: the stopping threshold.
        p_init: (B, K) (None: p_max).

    Returns:
        p (B, K).

    Example:
        p = wmmse_numpy_batch(np.abs(np.random.randn(16, 5, 5)))
    """
    B, K = h_amp.shape[0], h_amp.shape[-1]

    def per_user(x):
        x = np.asarray(x, dtype=np.float64)
        return np.broadcast_to(x[:, None] if x.ndim == 1 and x.shape[0] == B else x, (B, K))

    G = np.square(h_amp)
    g_diag = np.diagonal(G, axis1=1, axis2=2)
    G_cross = G * (1 - np.eye(K))
    v_max = np.sqrt(per_user(p_max))
    sigma2 = per_user(noise)
    alpha = per_user(1.0 if weights is None else weights)

    def state(v):
        q = v * v
        interference = np.einsum("bkj,bj->bk", G_cross, q) + sigma2
        signal = g_diag * q
        u = np.sqrt(g_diag) * v / (interference + signal)
        w = 1 + signal / interference
        return u, w, np.sum(alpha * np.log2(w), axis=1)

    v = v_max.copy() if p_init is None else np.sqrt(p_init)
    u, w, obj = state(v)
    active = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        numerator = alpha * w * u * np.sqrt(g_diag)
        denominator = np.einsum("bjk,bj->bk", G, alpha * w * u * u)
        with np.errstate(divide="ignore", invalid="ignore"):
            v_new = np.where(numerator > 0, np.minimum(numerator / denominator, v_max), 0.0)
        u_new, w_new, obj_new = state(v_new)
        keep = active[:, None]
        v, u, w = np.where(keep, v_new, v), np.where(keep, u_new, u), np.where(keep, w_new, w)
        converged = obj_new - obj <= tol if tol > 0 else np.zeros(B, dtype=bool)
        obj = np.where(active, obj_new, obj)
        active &= ~converged
        if not active.any():
            break
    return v * v


# ---- brute force ---------------------------------------------------------------------------------

@torch.no_grad()
def brute_force_2user(G: torch.Tensor, p_max: float = 1.0, noise: Scalar = 1.0,
                      grid: int = 401) -> Tuple[torch.Tensor, torch.Tensor]:
    """Global optimum of 2-user power control over a grid × grid lattice of [0, p_max]².

    Args:
        G: (B, 2, 2) gains.
        p_max: the power budget.
        noise: σ².
        grid: points per axis.

    Returns:
        (p (B, 2), sum rate (B,)) at the best lattice point.

    Example:
        p, rate = brute_force_2user(pyalgo.wireless.rayleigh(4, 2))
    """
    B = G.shape[0]
    levels = torch.linspace(0, p_max, grid, dtype=G.dtype, device=G.device)
    pairs = torch.cartesian_prod(levels, levels)                        # (grid², 2)
    M = pairs.shape[0]
    noise = _per_user(noise, B, 2, G).repeat_interleave(M, dim=0)
    rates = sum_rate_ref(G.repeat_interleave(M, dim=0), pairs.repeat(B, 1), noise).view(B, M)
    best_rate, best = rates.max(dim=1)
    return pairs[best], best_rate


# ---- MISO -----------------------------------------------------------------------------------------

def _cross_gains(H: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """s (B, K, K), s[b, i, j] = H[b, i] @ V[b, j] (user i's receive amplitude of stream j)."""
    return torch.einsum("bin,bjn->bij", H, V)


def sum_rate_miso_ref(H: torch.Tensor, V: torch.Tensor, noise: Scalar = 1.0, weights: Optional[Scalar] = None,
                      per_user: bool = False) -> torch.Tensor:
    """Weighted sum rate of MISO downlink beamforming (Shi et al. 2011).

        rate_i = α_i log2(1 + |s_ii|² / (Σ_{j≠i} |s_ij|² + σ²_i)),  s_ij = H_i @ V_j.
    Differentiable by autograd in H, V, noise and weights.

    Args:
        H: (B, K, N) complex channels.
        V: (B, K, N) complex beamformers.
        noise: σ².
        weights: α (None: all 1).
        per_user: return the per-user rates.

    Returns:
        (B,) or (B, K).

    Example:
        r = sum_rate_miso_ref(H, V)
    """
    B, K = H.shape[0], H.shape[1]
    noise = _per_user(noise, B, K, H)
    alpha = _weights(weights, B, K, H)
    s = _cross_gains(H, V)
    power = s.real ** 2 + s.imag ** 2
    signal = power.diagonal(dim1=-2, dim2=-1)
    interference = _off_diagonal(power).sum(-1) + noise
    rates = alpha * torch.log2(1 + signal / interference)
    return rates if per_user else rates.sum(-1)


class WMMSEMISORefResult(NamedTuple):
    V: torch.Tensor                    # (B, K, N) complex final beamformers
    u: torch.Tensor                    # (B, K) complex receiver gains at V
    w: torch.Tensor                    # (B, K) MSE weights at V
    iterations: torch.Tensor           # (B,) int32
    objective: Optional[torch.Tensor]  # (B, max_iter + 1)
    trajectory: Optional[torch.Tensor]  # (B, max_iter + 1, K, N) V^(0), V^(1), ...


def mrt_init(H: torch.Tensor, p_max: Scalar = 1.0) -> torch.Tensor:
    """Maximum-ratio transmission V_i = conj(H_i) · c, c such that Σ_i ||V_i||² = p_max.

    Args:
        H: (B, K, N) complex channels.
        p_max: the power budget.

    Returns:
        V (B, K, N); an all-zero channel gives V = 0.

    Example:
        V = mrt_init(H, 10.0)
    """
    p_max = _per_instance(p_max, H.shape[0], H)
    total = (H.abs() ** 2).sum(dim=(-2, -1))
    scale = torch.where(total > 0, (p_max / total).sqrt(), torch.zeros_like(total))
    return H.conj() * scale[:, None, None]


def _miso_state(H: torch.Tensor, V: torch.Tensor, noise: torch.Tensor,
                alpha: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """u (complex), w (B, K) and obj (B,) at V:
        T_i = Σ_j |s_ij|² + σ²_i,  I_i = Σ_{j≠i} |s_ij|² + σ²_i,  u_i = s_ii / T_i,
        w_i = 1 + |s_ii|² / I_i,  obj = Σ_i α_i log2 w_i."""
    s = _cross_gains(H, V)
    power = s.real ** 2 + s.imag ** 2
    signal = power.diagonal(dim1=-2, dim2=-1)
    interference = _off_diagonal(power).sum(-1) + noise
    u = s.diagonal(dim1=-2, dim2=-1) / (interference + signal)
    w = 1 + signal / interference
    return u, w, (alpha * torch.log2(w)).sum(-1)


def _solve_shifted(A: torch.Tensor, mu: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """V (B, K, N) with V_i = (A + mu I)^{-1} b_i; A (B, N, N), mu (B,), b (B, K, N).
    solve_ex: instances whose shifted A is singular are discarded by the caller, never raise."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    X, _ = torch.linalg.solve_ex(A + mu[:, None, None] * eye, b.transpose(-1, -2))
    return X.transpose(-1, -2)


def _total_power(V: torch.Tensor) -> torch.Tensor:
    return (V.real ** 2 + V.imag ** 2).sum(dim=(-2, -1))


@torch.no_grad()
def miso_beamformer_update(H: torch.Tensor, u: torch.Tensor, w: torch.Tensor, p_max: Scalar = 1.0,
                           weights: Optional[Scalar] = None,
                           bisection_tol: float = 1e-4) -> Tuple[torch.Tensor, torch.Tensor]:
    """The MISO WMMSE V-update with its Lagrange multiplier (Shi et al. 2011, Table I).

        A = Σ_i α_i w_i |u_i|² conj(H_i)ᵀ H_i,  b_i = α_i w_i u_i conj(H_i),  V_i = (A + mu I)^{-1} b_i.
    mu = 0 when A is positive definite (Cholesky succeeds and every pivot L_kk² > 1e-10 tr(A)/N)
    and Σ||V_i(0)||² <= P. Otherwise bisection on [0, √(Σ||b_i||²/P)] (P(hi) <= P since A >= 0),
    stopping at the first mid with P(1 − bisection_tol) <= P(mid) <= P, or after 200 halvings
    with mu = hi. Σ||b_i||² = 0 gives V = 0, mu = 0.

    Args:
        H: (B, K, N) complex channels.
        u: (B, K) complex receivers.
        w: (B, K) weights.
        p_max: the power budget P.
        weights: α (None: all 1).
        bisection_tol: the relative power tolerance.

    Returns:
        (V (B, K, N), mu (B,)).

    Example:
        V, mu = miso_beamformer_update(H, u, w, p_max=10.0)
    """
    B, K, N = H.shape
    P = _per_instance(p_max, B, H)
    alpha = _weights(weights, B, K, H)
    c = alpha * w * (u.real ** 2 + u.imag ** 2)
    A = torch.einsum("bi,bim,bin->bmn", c.to(H.dtype), H.conj(), H)
    b = (alpha * w).to(H.dtype).unsqueeze(-1) * u.unsqueeze(-1) * H.conj()
    b_power = _total_power(b)

    L, info = torch.linalg.cholesky_ex(A)
    trace = A.diagonal(dim1=-2, dim2=-1).real.sum(-1)
    pivots = L.diagonal(dim1=-2, dim2=-1).real
    positive_definite = (info == 0) & (pivots.min(-1).values ** 2 > 1e-10 * trace / N)
    V0 = torch.cholesky_solve(b.transpose(-1, -2), L).transpose(-1, -2)
    unconstrained = positive_definite & (_total_power(V0) <= P)
    search = ~unconstrained & (b_power > 0)

    # Instances that do not use a shift are solved with mu = 1 (well-posed) and discarded.
    ones, zeros = torch.ones_like(P), torch.zeros_like(P)
    lo, hi = zeros.clone(), torch.where(search, (b_power / P).sqrt(), zeros)
    mu = hi.clone()
    for _ in range(200):
        if not search.any():
            break
        mid = (lo + hi) / 2
        power = _total_power(_solve_shifted(A, torch.where(search, mid, ones), b))
        in_band = (power <= P) & (power >= P * (1 - bisection_tol))
        mu = torch.where(search & in_band, mid, mu)
        search = search & ~in_band
        lo = torch.where(search & (power > P), mid, lo)
        hi = torch.where(search & (power < P), mid, hi)
    mu = torch.where(search, hi, mu)  # 200 halvings without landing in the band

    shifted = _solve_shifted(A, torch.where(mu > 0, mu, ones), b)
    V = torch.where(mu[:, None, None] > 0, shifted, torch.zeros_like(b))
    V = torch.where(unconstrained[:, None, None], V0, V)
    return V, mu


@torch.no_grad()
def wmmse_miso_ref(H: torch.Tensor, p_max: Scalar = 1.0, noise: Scalar = 1.0, weights: Optional[Scalar] = None,
                   max_iter: int = 100, tol: float = 1e-4, bisection_tol: float = 1e-4,
                   V_init: Optional[torch.Tensor] = None, record: bool = False) -> WMMSEMISORefResult:
    """Single-cell MISO WMMSE beamforming (Shi et al. 2011 §III; lpkg `run_WMMSE`).

    Per iteration: V-update (`miso_beamformer_update`), then u, w, obj_new at the new V; stop rule,
    per-instance freezing and the recorded objective / trajectory exactly as `wmmse_ref`.

    Args:
        H: (B, K, N) complex channels.
        p_max: the power budget.
        noise: σ².
        weights: α (None: all 1).
        max_iter: at most this many updates.
        tol: per-instance stopping threshold.
        bisection_tol: the μ bisection's relative power tolerance.
        V_init: (B, K, N) (None: `mrt_init`).
        record: also return the objective and trajectory.

    Returns:
        A `WMMSEMISORefResult`.

    Example:
        V = wmmse_miso_ref(H, p_max=10.0).V
    """
    B, K = H.shape[0], H.shape[1]
    noise = _per_user(noise, B, K, H)
    alpha = _weights(weights, B, K, H)
    V = mrt_init(H, p_max) if V_init is None else V_init.to(H.dtype)

    u, w, obj = _miso_state(H, V, noise, alpha)
    objectives, beamformers = [obj], [V]
    active = torch.ones(B, dtype=torch.bool, device=H.device)
    iterations = torch.zeros(B, dtype=torch.int32, device=H.device)
    for _ in range(max_iter):
        V_new, _ = miso_beamformer_update(H, u, w, p_max, alpha, bisection_tol)
        u_new, w_new, obj_new = _miso_state(H, V_new, noise, alpha)
        keep = active.unsqueeze(-1)
        V = torch.where(keep.unsqueeze(-1), V_new, V)
        u, w = torch.where(keep, u_new, u), torch.where(keep, w_new, w)
        iterations += active.to(torch.int32)
        converged = obj_new - obj <= tol if tol > 0 else torch.zeros_like(active)
        obj = torch.where(active, obj_new, obj)
        active = active & ~converged
        if record:
            objectives.append(obj)
            beamformers.append(V)
        if not active.any():
            break

    objective = _pad_history(objectives, max_iter + 1) if record else None
    trajectory = _pad_history(beamformers, max_iter + 1) if record else None
    return WMMSEMISORefResult(V, u, w, iterations, objective, trajectory)


__all__ = ["sum_rate_ref", "WMMSERefResult", "wmmse_ref", "fplinq_ref", "wmmse_numpy_single",
           "wmmse_numpy_batch", "brute_force_2user", "sum_rate_miso_ref", "WMMSEMISORefResult",
           "mrt_init", "miso_beamformer_update", "wmmse_miso_ref"]
