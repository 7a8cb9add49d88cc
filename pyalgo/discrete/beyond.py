"""ReinMax-Rao and ReinMax-CV (Wang & Bui, "Beyond ReinMax", arXiv 2603.08257, 2026) as fused ops.

Both keep ReinMax's forward — a one-hot sample D = one_hot(k), k ~ Cat(softmax θ), and
y_soft = softmax(θ) — and change only the backward (docs/discrete.md):

- ReinMax-Rao replaces ReinMax's 2·J(π₁)g by a Gumbel-Rao Jacobian at π₁ = (π₀ + D)/2: K Gumbel
  draws conditioned on the sample k, averaged (Rao-Blackwellised).
- ReinMax-CV adds η·(GR − GS) to ReinMax's gradient: GS a one-sample Gumbel-softmax Jacobian at π₁,
  GR its K-draw conditional mean given k.

The backward is random given the sample: its K·C Exp(1) draws per row are fresh noise from Philox
streams 1..K of the forward's seed, so a repeated backward (retain_graph) gives the same gradient,
independent of the thread count. ReinMax-CV's forward Gumbels (stream 0) are regenerated in
backward, never stored: each op saves the logits, the int32 index and the 2-element seed.

Caveat (measured by enumeration, docs/discrete.md): neither is unbiased with respect to ReinMax.
Whatever variance they remove, they remove by changing the gradient's mean given the sample.
ReinMax-CV with a large η/τ₂ (e.g. η = 1, τ₂ = 0.1) reverses the expected gradient.

NaN policy as the other discrete ops (pyalgo/discrete/ops.py).
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Tuple

import torch

from .. import _ext  # noqa: F401  (registers torch.ops.pyalgo)
from .._autograd import double_backward_wanted, reference_grads
from .ops import _check_draws, _check_logits, _check_tau, _Lean

_ops = torch.ops.pyalgo
CV_NOISES = ("soft", "gumbel")


def _check_eta(fn: str, eta) -> float:
    if isinstance(eta, torch.Tensor) and eta.numel() == 1:
        eta = eta.item()
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"{fn}: eta must be a real number, got {type(eta).__name__}")
    eta = float(eta)
    if not (math.isfinite(eta) and eta >= 0):
        raise ValueError(f"{fn}: eta must be a finite number >= 0, got {eta}")
    return eta


def _check_cv_noise(fn: str, cv_noise) -> bool:
    """True for "gumbel", False for "soft"."""
    if not isinstance(cv_noise, str) or cv_noise not in CV_NOISES:
        raise ValueError(f'{fn}: cv_noise must be "soft" or "gumbel", got {cv_noise!r}')
    return cv_noise == "gumbel"


def _check_tau2(fn: str, tau2, dtype: torch.dtype) -> float:
    try:
        return _check_tau(fn, tau2, dtype)
    except (TypeError, ValueError) as exc:  # the same rules as tau, named tau2
        raise type(exc)(str(exc).replace(f"{fn}: tau ", f"{fn}: tau2 ").replace("1/tau ", "1/tau2 ")) from None


# ---- public API -------------------------------------------------------------------------------

def reinmax_rao(logits: torch.Tensor, tau: float = 1.0, k: int = 100, dim: int = -1,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax-Rao (Wang & Bui 2026): ReinMax whose first backward term is Rao-Blackwellised.

    Same calling convention as `pyalgo.reinmax`: ``y_hard`` is exactly one-hot along `dim` with
    k ~ Cat(softmax(logits)) (the same sampler as ReinMax; tau plays no role in it), and
    ``y_soft = softmax(logits)``. Backward, with π₀ = softmax(θ), D = y_hard, π₁ = (π₀ + D)/2 and
    ψ⁽ʳ⁾, r = 1..K, draws of log π₁ + G (G ~ Gumbel) conditioned on argmax = k:

        ∂L/∂θ = (2/(Kτ)) Σ_r J(softmax(ψ⁽ʳ⁾/τ)) g − ½ J(π₀) g + J(π₀) g_soft,   row-centred.

    Cost: K·C Exp(1) draws and ~3 transcendentals per draw and category in backward (about one
    GR-MCK pass); no K×C buffer. Lower variance than ReinMax at τ >= 1, at the price of a bias
    (larger than ST's on small enumerated problems); large τ is harmful (the Rao term decays like
    1/τ, leaving −½J(π₀)g). K = 100 is the authors' setting.

    Args:
        logits: float32/float64/float16/bfloat16 tensor, categories along `dim`.
        tau: temperature of the draws' softmax, finite and > 0.
        k: the number of conditional Gumbel draws K, in [1, 2^20].
        dim: the categories' dimension.
        generator: the random source of the sample and of the backward's draws (None: the
            device's default generator).

    Returns:
        ``(y_hard, y_soft)``, both shaped like `logits`.

    Raises:
        TypeError: `logits`, `tau`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau` or `k`, or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        logits = torch.randn(32, 10, requires_grad=True)
        y_hard, y_soft = pyalgo.reinmax_rao(logits, tau=1.0, k=100)
        (y_hard * torch.randn(32, 10)).sum().backward()
    """
    fn = "pyalgo.reinmax_rao"
    _check_logits(fn, logits, dim)
    tau = _check_tau(fn, tau, logits.dtype)
    k = _check_draws(fn, k)
    return _RAO(fn, (logits, tau, k, dim), generator)


def reinmax_cv(logits: torch.Tensor, tau: float = 1.0, eta: float = 0.5, tau2: float = 1.0, k: int = 100,
               cv_noise: str = "soft", dim: int = -1,
               generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax-CV (Wang & Bui 2026): ReinMax plus a Gumbel-Rao control variate η·(GR − GS).

    Same calling convention as `pyalgo.reinmax`. Forward: G ~ Gumbel(0, 1), k = argmax(θ + G)
    (Gumbel-max, k ~ Cat(softmax θ)), ``y_hard = one_hot(k)``, ``y_soft = softmax(θ)``. Backward,
    with ℓ₁ = log((π₀ + D)/2), ψ⁽ʳ⁾ K draws of ℓ₁ + G' conditioned on argmax = k:

        ∂L/∂θ = ReinMax(τ) + η [(1/(Kτ₂)) Σ_r J(softmax(ψ⁽ʳ⁾/τ₂)) g − (1/τ₂) J(s) g],   row-centred,

    ReinMax(τ) = 2J(π₁^τ)g − ½J(π₀)g + J(π₀)g_soft as `pyalgo.reinmax`, and s the control variate's
    sample: softmax(ℓ₁ + ξ), ξ = softmax((θ + G)/τ) the forward's soft sample (``cv_noise="soft"``,
    the authors' released code), or softmax((ℓ₁ + G)/τ₂) (``cv_noise="gumbel"``). G is regenerated
    in backward from the seed, never stored.

    Defaults η = 0.5, τ₂ = 1: a setting measured not to reverse the gradient (η/τ₂ = 0.5; bias 0.04,
    std 3 % below ReinMax's on an enumerated quadratic). GS is not exactly zero-mean given the sample
    in either form, so ReinMax-CV is biased with respect to ReinMax; with η/τ₂ large (η = 1,
    τ₂ = 0.1, the authors' gradient-analysis setting) the −(η/τ₂)J(s)g term dominates and the expected
    gradient points the wrong way. Cost: ReinMax plus about one GR-MCK pass.

    Args:
        logits: float32/float64/float16/bfloat16 tensor, categories along `dim`.
        tau: ReinMax's temperature (and the soft sample's), finite and > 0.
        eta: the control variate's weight η, finite and >= 0 (0 gives ReinMax's gradient).
        tau2: the temperature τ₂ of the GR and GS terms, finite and > 0.
        k: the number of conditional Gumbel draws K, in [1, 2^20].
        cv_noise: "soft" or "gumbel" (see above).
        dim: the categories' dimension.
        generator: the random source (None: the device's default generator).

    Returns:
        ``(y_hard, y_soft)``, both shaped like `logits`.

    Raises:
        TypeError: `logits`, `tau`, `eta`, `tau2`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau`, `eta`, `tau2`, `k` or `cv_noise`, or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        logits = torch.randn(32, 10, requires_grad=True)
        y_hard, y_soft = pyalgo.reinmax_cv(logits, tau=1.0, eta=0.5, tau2=1.0)
        (y_hard * torch.randn(32, 10)).sum().backward()
    """
    fn = "pyalgo.reinmax_cv"
    _check_logits(fn, logits, dim)
    tau = _check_tau(fn, tau, logits.dtype)
    eta = _check_eta(fn, eta)
    tau2 = _check_tau2(fn, tau2, logits.dtype)
    k = _check_draws(fn, k)
    gumbel = _check_cv_noise(fn, cv_noise)
    return _CV(fn, (logits, tau, eta, tau2, k, gumbel, dim), generator)


# ---- the backward for a given sample and seed ----------------------------------------------------

def _check_backward_args(fn, logits, index, grad_hard, grad_soft, dim, seed):
    shape = _check_logits(fn, logits, dim)
    if not isinstance(index, torch.Tensor) or index.dtype != torch.int32 or list(index.shape) != shape:
        raise ValueError(f"{fn}: index must be an int32 tensor of shape {tuple(shape)} (logits without dim), got "
                         f"{getattr(index, 'dtype', type(index).__name__)} {tuple(getattr(index, 'shape', ()))}")
    for name, t in (("grad_hard", grad_hard), ("grad_soft", grad_soft)):
        if t is None and name == "grad_soft":
            continue
        if not isinstance(t, torch.Tensor) or t.shape != logits.shape:
            raise ValueError(f"{fn}: {name} must be a tensor of the logits' shape {tuple(logits.shape)}, got "
                             f"{tuple(getattr(t, 'shape', ())) if isinstance(t, torch.Tensor) else type(t).__name__}")
    if not isinstance(seed, torch.Tensor) or seed.dtype != torch.int64 or seed.shape != (2,):
        raise ValueError(f"{fn}: seed must be an int64 tensor of shape (2,) (the forward's (seed, offset)), got "
                         f"{getattr(seed, 'dtype', type(seed).__name__)} {tuple(getattr(seed, 'shape', ()))}")


def reinmax_rao_backward(logits: torch.Tensor, index: torch.Tensor, grad_hard: torch.Tensor,
                         grad_soft: Optional[torch.Tensor], seed: torch.Tensor, tau: float = 1.0, k: int = 100,
                         dim: int = -1) -> torch.Tensor:
    """ReinMax-Rao's backward for a given sample and seed (so for given noise).

    The K conditional draws come from Philox streams 1..K of `seed`, so
    ``reference.philox_exp_noise(seed, logits, k)`` rebuilds them (categories last) for
    `reference.reinmax_rao_ref`.

    Args:
        logits: float tensor, categories along `dim`.
        index: int32, the sample (logits' shape without `dim`).
        grad_hard: dL/dy_hard, the logits' shape.
        grad_soft: dL/dy_soft, or None (zero).
        seed: int64 (2,), e.g. `pyalgo._rng.draw_seed(generator, device)`.
        tau: the temperature.
        k: the number of draws K.
        dim: the categories' dimension.

    Returns:
        dL/dlogits, shaped like `logits`.

    Raises:
        TypeError / ValueError: as `reinmax_rao`, or a mismatched index, grad or seed.

    Example:
        g = reinmax_rao_backward(x, index, g_hard, None, torch.tensor([1, 0]), tau=1.0, k=100)
    """
    fn = "pyalgo.reinmax_rao_backward"
    _check_backward_args(fn, logits, index, grad_hard, grad_soft, dim, seed)
    tau = _check_tau(fn, tau, logits.dtype)
    k = _check_draws(fn, k)
    return _ops.reinmax_rao_backward(logits, index, grad_hard, grad_soft, tau, k, dim, seed)


def reinmax_cv_backward(logits: torch.Tensor, index: torch.Tensor, grad_hard: torch.Tensor,
                        grad_soft: Optional[torch.Tensor], seed: torch.Tensor, tau: float = 1.0, eta: float = 0.5,
                        tau2: float = 1.0, k: int = 100, cv_noise: str = "soft", dim: int = -1) -> torch.Tensor:
    """ReinMax-CV's backward for a given sample and seed (so for given noise).

    The forward Gumbels (stream 0) and the K conditional draws (streams 1..K) come from `seed`:
    ``reference.philox_cv_noise(seed, logits, k)`` rebuilds them for `reference.reinmax_cv_ref`.
    The sample `index` need not be the Gumbel-max of those Gumbels (e.g. enumerated samples).

    Args:
        logits: float tensor, categories along `dim`.
        index: int32, the sample (logits' shape without `dim`).
        grad_hard: dL/dy_hard, the logits' shape.
        grad_soft: dL/dy_soft, or None (zero).
        seed: int64 (2,).
        tau: ReinMax's temperature (and the soft sample's).
        eta: the control variate's weight η.
        tau2: the temperature τ₂ of the GR and GS terms.
        k: the number of draws K.
        cv_noise: "soft" or "gumbel".
        dim: the categories' dimension.

    Returns:
        dL/dlogits, shaped like `logits`.

    Raises:
        TypeError / ValueError: as `reinmax_cv`, or a mismatched index, grad or seed.

    Example:
        g = reinmax_cv_backward(x, index, g_hard, None, torch.tensor([1, 0]), eta=0.5, tau2=1.0)
    """
    fn = "pyalgo.reinmax_cv_backward"
    _check_backward_args(fn, logits, index, grad_hard, grad_soft, dim, seed)
    tau = _check_tau(fn, tau, logits.dtype)
    eta = _check_eta(fn, eta)
    tau2 = _check_tau2(fn, tau2, logits.dtype)
    k = _check_draws(fn, k)
    gumbel = _check_cv_noise(fn, cv_noise)
    return _ops.reinmax_cv_backward(logits, index, grad_hard, grad_soft, tau, eta, tau2, k, gumbel, dim, seed)


# ---- fake (meta) kernels ---------------------------------------------------------------------

def _empty(logits: torch.Tensor) -> torch.Tensor:
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


@torch.library.register_fake("pyalgo::reinmax_rao")
def _reinmax_rao_fake(logits, tau, k, dim, seed):
    shape = _check_logits("pyalgo.reinmax_rao", logits, dim)
    return _empty(logits), _empty(logits), torch.empty(shape, dtype=torch.int32, device=logits.device)


@torch.library.register_fake("pyalgo::reinmax_cv")
def _reinmax_cv_fake(logits, tau, eta, tau2, k, cv_gumbel, dim, seed):
    shape = _check_logits("pyalgo.reinmax_cv", logits, dim)
    return _empty(logits), _empty(logits), torch.empty(shape, dtype=torch.int32, device=logits.device)


@torch.library.register_fake("pyalgo::reinmax_rao_backward")
def _reinmax_rao_backward_fake(logits, index, grad_hard, grad_soft, tau, k, dim, seed):
    return _empty(logits)


@torch.library.register_fake("pyalgo::reinmax_cv_backward")
def _reinmax_cv_backward_fake(logits, index, grad_hard, grad_soft, tau, eta, tau2, k, cv_gumbel, dim, seed):
    return _empty(logits)


# ---- autograd ------------------------------------------------------------------------------------
# Saved: the logits, the int32 index and the seed (the backward's noise is regenerated from it).
# Under create_graph=True the gradient is recomputed through the pure-torch reference fed the same
# sample and the same noise, and differentiated by autograd (as the other discrete ops).

def _rao_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output[2], inputs[4])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.k, ctx.dim = inputs[1:4]


def _cv_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output[2], inputs[7])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.eta, ctx.tau2, ctx.k, ctx.cv_gumbel, ctx.dim = inputs[1:7]


def _reference_backward(logits, dim, grads, forward):
    def outputs(x):
        return tuple(o.movedim(-1, dim) for o in forward(x.movedim(dim, -1)))

    (grad,) = reference_grads([logits], grads, outputs)
    return grad if grad is not None else torch.zeros_like(logits)


def _reinmax_rao_autograd(ctx, grad_hard, grad_soft, _grad_index):
    none = (None,) * 4
    if grad_hard is None and grad_soft is None:
        return (None,) + none
    logits, index, seed = ctx.saved_tensors
    if double_backward_wanted(logits, grad_hard, grad_soft):
        from .reference import philox_exp_noise, reinmax_rao_ref
        grad = _reference_backward(logits, ctx.dim, (grad_hard, grad_soft), lambda x: reinmax_rao_ref(
            x, ctx.tau, ctx.k, index=index, exp_noise=philox_exp_noise(seed, x.detach(), ctx.k)))
        return (grad,) + none
    if grad_hard is None:
        grad_hard = torch.zeros_like(logits)
    grad = _ops.reinmax_rao_backward(logits, index, grad_hard, grad_soft, ctx.tau, ctx.k, ctx.dim, seed)
    return (grad,) + none


def _reinmax_cv_autograd(ctx, grad_hard, grad_soft, _grad_index):
    none = (None,) * 7
    if grad_hard is None and grad_soft is None:
        return (None,) + none
    logits, index, seed = ctx.saved_tensors
    if double_backward_wanted(logits, grad_hard, grad_soft):
        from .reference import philox_cv_noise, reinmax_cv_ref
        noise = "gumbel" if ctx.cv_gumbel else "soft"

        def forward(x):
            gumbels, exp_noise = philox_cv_noise(seed, x.detach(), ctx.k)
            return reinmax_cv_ref(x, ctx.tau, ctx.eta, ctx.tau2, ctx.k, noise, index=index, gumbels=gumbels,
                                  exp_noise=exp_noise)

        return (_reference_backward(logits, ctx.dim, (grad_hard, grad_soft), forward),) + none
    if grad_hard is None:
        grad_hard = torch.zeros_like(logits)
    grad = _ops.reinmax_cv_backward(logits, index, grad_hard, grad_soft, ctx.tau, ctx.eta, ctx.tau2, ctx.k,
                                    ctx.cv_gumbel, ctx.dim, seed)
    return (grad,) + none


# The call paths (eager autograd.Function / the op under compile, export and torch.func), as the other
# discrete estimators; the seed is kept: the backward regenerates its noise from it.
_RAO = _Lean("reinmax_rao", _rao_setup, _reinmax_rao_autograd, outputs=2, keeps_seed=True)
_CV = _Lean("reinmax_cv", _cv_setup, _reinmax_cv_autograd, outputs=2, keeps_seed=True)


__all__ = ["reinmax_rao", "reinmax_cv", "reinmax_rao_backward", "reinmax_cv_backward", "CV_NOISES"]
