"""Gradient-accuracy diagnostics for categorical estimators on small problems (docs/discrete.md).

The ReinMax paper measures how well an estimator approximates the true gradient
∇ = ∂/∂θ E_{D~Cat(softmax θ)}[f(D)] by enumerating every configuration of a few categoricals
(the MNIST-VAE "-s" analysis: relative bias, relative std and cosine of the estimate against ∇).
These helpers do the same for any small f:

- `exact_gradient(f, logits)`: ∇ by enumeration.
- `expected_estimate(name, f, logits)`: the exact expectation of a sample-deterministic
  estimator's gradient (ReinMax, ST, GST), Σ_config P(config)·grad(config), i.e. its exact bias
  with no Monte Carlo error.
- `sample_gradients` / `gradient_stats`: per-draw gradients of any estimator and their summary.

Shapes: logits are (L, C), L independent categoricals with C categories each; f maps a batch of
one-hot configurations (N, L, C) to (N,) values and must treat the N rows independently. Use
float64 logits for bias measurements.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Union

import torch

from .estimators import ESTIMATORS, get_estimator
from .ops import _check_tau

MAX_CONFIGURATIONS = 2 ** 20
_CHUNK = 2 ** 14

Objective = Callable[[torch.Tensor], torch.Tensor]


def _check_problem(fn: str, f, logits: torch.Tensor):
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable, got {type(f).__name__}")
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"{fn}: logits must be a floating (L, C) tensor (L categoricals with C "
                         f"categories), got {getattr(logits, 'shape', type(logits).__name__)}")
    L, C = logits.shape
    if L == 0 or C == 0:
        raise ValueError(f"{fn}: logits must have L >= 1 and C >= 1, got shape {tuple(logits.shape)}")
    if L * math.log2(C) > math.log2(MAX_CONFIGURATIONS) + 1e-9:
        raise ValueError(f"{fn}: enumerating C**L = {C}**{L} configurations exceeds the limit of "
                         f"{MAX_CONFIGURATIONS} (2**20); use fewer or smaller categoricals")
    return L, C


def _configurations(L: int, C: int, start: int, stop: int, device) -> torch.Tensor:
    """Configurations start..stop-1 in mixed radix C (the last categorical varies fastest):
    index tensor (stop − start, L)."""
    n = torch.arange(start, stop, device=device, dtype=torch.long)
    radix = C ** torch.arange(L - 1, -1, -1, device=device, dtype=torch.long)
    return (n.unsqueeze(1) // radix) % C


def _chunks(L: int, C: int, device):
    total = C ** L
    for start in range(0, total, _CHUNK):
        yield _configurations(L, C, start, min(total, start + _CHUNK), device)


def _evaluate(fn: str, f: Objective, D: torch.Tensor) -> torch.Tensor:
    values = f(D)
    if not isinstance(values, torch.Tensor) or values.shape != D.shape[:1]:
        raise ValueError(f"{fn}: f must map configurations (N, L, C) to values of shape (N,) = "
                         f"({D.shape[0]},), got {getattr(values, 'shape', type(values).__name__)}")
    return values


def _log_prob(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """log P(config) = Σ_l log softmax(θ_l)[idx_l] for idx (N, L) -> (N,)."""
    logp = logits.log_softmax(-1)
    return logp.gather(1, idx.t()).t().sum(-1) if idx.numel() else logp.new_zeros(idx.shape[0])


def exact_gradient(f: Objective, logits: torch.Tensor) -> torch.Tensor:
    """∇ = ∂/∂θ E_{D~Cat(softmax θ)}[f(D)] = Σ_config f(config) ∂P(config)/∂θ, by enumeration.

    Args:
        f: maps one-hot configurations (N, L, C) to values (N,), rows independent.
        logits: (L, C) floating, at most 2**20 configurations C**L.

    Returns:
        ∇ (L, C).

    Example:
        f = lambda D: ((D @ torch.arange(8.).double()) ** 2).sum(-1)
        grad = diagnostics.exact_gradient(f, torch.randn(4, 8, dtype=torch.float64))
    """
    fn = "pyalgo.discrete.diagnostics.exact_gradient"
    L, C = _check_problem(fn, f, logits)
    theta = logits.detach().requires_grad_(True)
    grad = torch.zeros_like(theta)
    for idx in _chunks(L, C, logits.device):
        D = torch.nn.functional.one_hot(idx, C).to(logits.dtype)
        with torch.no_grad():
            values = _evaluate(fn, f, D).to(logits.dtype)
        expectation = (_log_prob(theta, idx).exp() * values).sum()
        grad += torch.autograd.grad(expectation, theta)[0]
    return grad


def _objective_gradient(fn: str, f: Objective, D: torch.Tensor) -> torch.Tensor:
    """g = ∂f/∂D evaluated at each configuration (N, L, C)."""
    D = D.detach().requires_grad_(True)
    with torch.enable_grad():
        values = _evaluate(fn, f, D)
        if not values.requires_grad:
            return torch.zeros_like(D)
        (g,) = torch.autograd.grad(values.sum(), D, allow_unused=True)
    return torch.zeros_like(D) if g is None else g.to(D.dtype)


def expected_estimate(name: str, f: Objective, logits: torch.Tensor, tau: float = 1.0, **kw: Any) -> torch.Tensor:
    """E_D[ĝ(D)] = Σ_config P(config) · ĝ(config), exactly, for an estimator whose gradient is a
    deterministic function of the sample.

    ĝ(config) is the estimator's backward (the fused `*_backward` ops with the sample forced to
    config) applied to g = ∂f/∂D at the one-hot config.
    `expected_estimate(...) − exact_gradient(...)` is the estimator's exact bias.

    Args:
        name: "reinmax", "st" or "gst" (the `ESTIMATORS` with a `given_sample` backward).
        f: maps one-hot configurations (N, L, C) to values (N,).
        logits: (L, C) floating.
        tau: the estimator's temperature.
        **kw: the estimator's own options (gst: gap=1.0 or "p").

    Returns:
        E[ĝ] (L, C).

    Raises:
        ValueError: `name` has no deterministic backward, or bad logits / tau.
        TypeError: an option the estimator does not take.

    Example:
        bias = diagnostics.expected_estimate("reinmax", f, theta) - diagnostics.exact_gradient(f, theta)
    """
    fn = "pyalgo.discrete.diagnostics.expected_estimate"
    given = [n for n, e in ESTIMATORS.items() if e.given_sample is not None]
    if name not in given:
        raise ValueError(f"{fn}: name must be one of {', '.join(map(repr, given))} (the estimators whose "
                         f"gradient is deterministic given the sample), got {name!r}")
    est = ESTIMATORS[name]
    assert est.given_sample is not None
    unknown = set(kw) - set(est.defaults)
    if unknown:
        raise TypeError(f"{fn}: unexpected keyword argument(s) for {name!r}: {sorted(unknown)}")
    L, C = _check_problem(fn, f, logits)
    tau = _check_tau(fn, tau, logits.dtype)
    theta = logits.detach()
    total = torch.zeros_like(theta)
    for idx in _chunks(L, C, logits.device):
        D = torch.nn.functional.one_hot(idx, C).to(theta.dtype)
        g = _objective_gradient(fn, f, D)
        x = theta.expand(idx.shape[0], L, C).contiguous()
        grads = est.given_sample(fn, x, idx.to(torch.int32), g, tau, **{**est.defaults, **kw})
        prob = _log_prob(theta, idx).exp()
        total += (prob[:, None, None] * grads).sum(0)
    return total


def _resolve(estimator: Union[str, Callable]) -> Callable:
    if isinstance(estimator, str):
        return get_estimator(estimator, "pyalgo.discrete.diagnostics.sample_gradients")
    if not callable(estimator):
        raise TypeError(f"pyalgo.discrete.diagnostics.sample_gradients: estimator must be a name or a callable, "
                        f"got {type(estimator).__name__}")
    return estimator


# sample_gradients materialises num_samples copies of the logits (and their gradients).
MAX_SAMPLE_ELEMENTS = 2**31


def sample_gradients(estimator: Union[str, Callable], f: Objective, logits: torch.Tensor,
                     num_samples: int, generator: Optional[torch.Generator] = None, **kw: Any) -> torch.Tensor:
    """Per-draw gradients ∂f(estimator(θ))/∂θ for `num_samples` independent draws, in one call.

    Args:
        estimator: a name in `ESTIMATORS` (the estimator with its defaults: "gumbel_softmax" is ST-GS,
            hard=True) or a callable like `pyalgo.reinmax` (a tuple output contributes its first
            element, y_hard).
        f: maps one-hot samples (N, L, C) to values (N,).
        logits: (L, C).
        num_samples: draws >= 1; num_samples x logits.numel() <= 2^31.
        generator: the random source of the draws.
        **kw: go to the estimator (tau, gap, k, hard, ...).

    Returns:
        (num_samples, L, C) gradients.

    Raises:
        ValueError: bad `num_samples` or logits shape.
        TypeError: `estimator` or `f` is not callable.

    Example:
        grads = diagnostics.sample_gradients("gst", f, theta, num_samples=256, tau=1.0)
    """
    fn = "pyalgo.discrete.diagnostics.sample_gradients"
    est = _resolve(estimator)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"{fn}: num_samples must be an int >= 1, got {num_samples!r}")
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable, got {type(f).__name__}")
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        raise ValueError(f"{fn}: logits must be an (L, C) tensor, got {getattr(logits, 'shape', type(logits).__name__)}")
    if num_samples * logits.numel() > MAX_SAMPLE_ELEMENTS:
        raise ValueError(f"{fn}: num_samples x logits.numel() must be at most 2^31 (the per-draw gradients are "
                         f"materialised), got {num_samples} x {logits.numel()}")
    theta = logits.detach().expand(num_samples, *logits.shape).clone().requires_grad_(True)
    if generator is not None:
        kw["generator"] = generator
    with torch.enable_grad():
        y = est(theta, **kw)
        if isinstance(y, (tuple, list)):
            y = y[0]
        values = _evaluate(fn, f, y)
        (grads,) = torch.autograd.grad(values.sum(), theta)
    return grads


def gradient_stats(estimator: Union[str, Callable], f: Objective, logits: torch.Tensor,
                   num_samples: int = 1024, generator: Optional[torch.Generator] = None,
                   exact: Optional[torch.Tensor] = None, **kw: Any) -> Dict[str, Any]:
    """The paper's gradient-accuracy summary (its MNIST-VAE analysis) of `num_samples` draws ĝ_i of
    an estimator against the enumerated ∇.

    - rel_bias = ‖mean ĝ − ∇‖ / ‖∇‖
    - rel_std  = sqrt(mean_i ‖ĝ_i − mean ĝ‖²) / ‖∇‖
    - cos_mean = cos(mean ĝ, ∇);  cos_draw = mean_i cos(ĝ_i, ∇)

    Args:
        estimator: a name in `ESTIMATORS` or a callable (see `sample_gradients`).
        f: maps one-hot samples (N, L, C) to values (N,).
        logits: (L, C), float64 for bias measurements.
        num_samples: the number of draws.
        generator: the random source of the draws.
        exact: ∇ when already computed (None: `exact_gradient(f, logits)`).
        **kw: go to the estimator (tau, gap, k, hard, ...).

    Returns:
        dict with the floats rel_bias, rel_std, cos_mean, cos_draw, grad_norm (‖∇‖), the int
        num_samples and the (L, C) tensors mean and exact.

    Example:
        stats = diagnostics.gradient_stats(pyalgo.reinmax, f, theta, num_samples=1024, tau=1.0)
    """
    if exact is None:
        exact = exact_gradient(f, logits)
    draws = sample_gradients(estimator, f, logits, num_samples, generator=generator, **kw)
    draws = draws.to(exact.dtype).flatten(1)
    ref = exact.flatten()
    mean = draws.mean(0)
    norm = ref.norm()
    cos = torch.nn.functional.cosine_similarity
    return {
        "rel_bias": ((mean - ref).norm() / norm).item(),
        "rel_std": ((draws - mean).pow(2).sum(1).mean().sqrt() / norm).item(),
        "cos_mean": cos(mean, ref, dim=0).item(),
        "cos_draw": cos(draws, ref.expand_as(draws), dim=1).mean().item(),
        "grad_norm": norm.item(),
        "num_samples": num_samples,
        "mean": mean.reshape(exact.shape),
        "exact": exact,
    }


__all__ = ["exact_gradient", "expected_estimate", "sample_gradients", "gradient_stats",
           "MAX_CONFIGURATIONS"]
