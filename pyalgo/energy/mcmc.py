"""MCMC samplers for p(y) ∝ e^{g(y)} (uniform base q): the contrastive-divergence baseline of the
min-min loss draws its model samples from these. Both take a `generator` and draw nothing else.

- `gibbs_bits`: systematic-scan Gibbs on {0,1}^k (unary or Ising energies);
- `metropolis_perms`: Metropolis with random transpositions on permutations (permutahedron or Birkhoff).
"""
from __future__ import annotations

from typing import Optional

import torch

from .reference import energy_bits, energy_perms

__all__ = ["gibbs_bits", "metropolis_perms"]


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
            g1 = energy_bits(unary, y, pairwise)
            y[..., i] = 0.0
            g0 = energy_bits(unary, y, pairwise)
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
    g = energy_perms(theta, y)
    dev = y.device
    for _ in range(sweeps * n):
        i = torch.randint(0, n, (B, m, 1), generator=generator, device=dev)
        j = (i + torch.randint(1, n, (B, m, 1), generator=generator, device=dev)) % n
        prop = y.clone()
        prop.scatter_(-1, i, y.gather(-1, j))
        prop.scatter_(-1, j, y.gather(-1, i))
        gp = energy_perms(theta, prop)
        r = torch.rand(g.shape, generator=generator, device=dev, dtype=g.dtype)
        accept = torch.log(r) < gp - g
        y = torch.where(accept[..., None], prop, y)
        g = torch.where(accept, gp, g)
    return y
