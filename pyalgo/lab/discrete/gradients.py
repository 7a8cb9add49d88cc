"""Gradient bias and variance of every estimator against the exact gradient, on small synthetic problems
where every configuration can be enumerated (the "Beyond ReinMax" analysis, Wang & Bui 2026).

Problems: L = 4 categoricals of C = 8 categories, θ ~ N(0, 1)^{L×C}, and f of the flattened one-hot
sample z ∈ {0, 1}^{LC}:
- `quadratic`: f(z) = zᵀAz + bᵀz, A = (M + Mᵀ)/2 with M ~ N(0, 1/(LC)), b ~ N(0, 1);
- `mlp`: f(z) = BCE(sigmoid(W₂ relu(W₁z + b₁) + b₂), x) with 16 hidden units, 20 binary targets x,
  weights N(0, 1/fan_in).

Per estimator, τ and problem: ∇ by enumerating the C^L codes; E ĝ exactly (the estimator's backward at
every code, weighted by its probability) where the gradient is a function of the sample, else the mean
of the draws; the std of single draws. Metrics, relative to ‖∇‖ and averaged over the problems:
bias ‖E ĝ − ∇‖, std (E‖ĝ − E ĝ‖²)^{1/2}, rmse (bias² + std²)^{1/2}, cos(E ĝ, ∇).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Tuple

import torch

from pyalgo.discrete import ESTIMATORS, diagnostics

L, C = 4, 8          # categoricals, categories
HIDDEN, TARGETS = 16, 20
KINDS = ("quadratic", "mlp")

Objective = Callable[[torch.Tensor], torch.Tensor]


def problem(kind: str, seed: int) -> Tuple[torch.Tensor, Objective]:
    """(θ (L, C) float64, f: one-hot samples (N, L, C) -> values (N,)) of problem `seed` of `kind`."""
    g = torch.Generator().manual_seed(seed)

    def normal(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    theta = normal(L, C)
    n = L * C
    if kind == "quadratic":
        M = normal(n, n, scale=1 / math.sqrt(n))
        A, b = (M + M.T) / 2, normal(n)
        return theta, lambda D: ((D.flatten(1) @ A) * D.flatten(1)).sum(-1) + D.flatten(1) @ b
    if kind == "mlp":
        W1, b1 = normal(HIDDEN, n, scale=1 / math.sqrt(n)), normal(HIDDEN)
        W2, b2 = normal(TARGETS, HIDDEN, scale=1 / math.sqrt(HIDDEN)), normal(TARGETS)
        x = (torch.rand(TARGETS, generator=g, dtype=torch.float64) < 0.5).to(torch.float64)

        def f(D: torch.Tensor) -> torch.Tensor:
            logits = torch.relu(D.flatten(1) @ W1.T + b1) @ W2.T + b2
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, x.expand_as(logits), reduction="none").sum(-1)
        return theta, f
    raise ValueError(f"pyalgo.lab.discrete.gradients.problem: kind must be one of {KINDS}, got {kind!r}")


def measure(name: str, options: Dict[str, Any], tau: float, kind: str, problems: int, draws: int,
            seed: int) -> Dict[str, Any]:
    """The metrics of estimator `name` (with `options`) at `tau`, averaged over `problems` problems of
    `kind` (problem seeds seed, seed + 1, ...; draw generator seeded from the problem seed)."""
    est = ESTIMATORS[name]
    exact_mean = est.given_sample is not None
    per: Dict[str, List[float]] = {"bias": [], "std": [], "rmse": [], "cos": [], "mc_error": []}
    for p in range(problems):
        theta, f = problem(kind, seed + p)
        exact = diagnostics.exact_gradient(f, theta)
        stats = diagnostics.gradient_stats(name, f, theta, num_samples=draws, exact=exact, tau=tau,
                                           generator=torch.Generator().manual_seed(1_000_003 * (seed + p) + 7),
                                           **options)
        mean = diagnostics.expected_estimate(name, f, theta, tau=tau, **options) if exact_mean else stats["mean"]
        norm = exact.norm().item()
        bias = (mean - exact).norm().item() / norm
        std = stats["rel_std"]
        per["bias"].append(bias)
        per["std"].append(std)
        per["rmse"].append(math.hypot(bias, std))
        per["cos"].append(torch.nn.functional.cosine_similarity(mean.flatten(), exact.flatten(), dim=0).item())
        per["mc_error"].append(0.0 if exact_mean else std / math.sqrt(draws))
    out: Dict[str, Any] = {k: sum(v) / len(v) for k, v in per.items()}
    out["exact_mean"] = exact_mean
    return out


__all__ = ["KINDS", "L", "C", "problem", "measure"]
