"""MCMC samplers for p(y) ∝ e^{g(y)} (uniform base q): the contrastive-divergence baseline of the
min-min loss draws its model samples from these. Both take a `generator` and draw nothing else.

- `gibbs_bits`: systematic-scan Gibbs on {0,1}^k (unary or Ising energies);
- `metropolis_perms`: Metropolis with random transpositions on permutations (permutahedron or Birkhoff).
"""
from __future__ import annotations

import numbers
from typing import Optional

import torch

from .reference import _check_bits_args, _check_theta, _err, energy_bits, energy_perms

__all__ = ["MAX_SWEEPS", "gibbs_bits", "metropolis_perms"]

MAX_SWEEPS = 1_000_000   # iteration cap of both samplers (a sweep is k Gibbs updates or n Metropolis proposals)


def _check_common(fn: str, sweeps, generator, **energies) -> int:
    if isinstance(sweeps, bool) or not isinstance(sweeps, numbers.Integral) or not 0 <= sweeps <= MAX_SWEEPS:
        raise _err(fn, f"sweeps must be an int in [0, {MAX_SWEEPS}], got {sweeps!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"pyalgo.energy.{fn}: generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
    for name, x in energies.items():
        if x is not None and not bool(torch.isfinite(x).all()):
            raise _err(fn, f"{name} must be finite (no NaN or inf energies)")
    return int(sweeps)


def _check_init(fn: str, init, B: int, size: int, what: str) -> None:
    if not isinstance(init, torch.Tensor):
        raise TypeError(f"pyalgo.energy.{fn}: init must be a torch.Tensor, got {type(init).__name__}")
    if init.dim() != 3 or init.shape[0] != B or init.shape[2] != size:
        raise _err(fn, f"init must have shape (B, m, {what}) = ({B}, m, {size}), got {tuple(init.shape)}")
    if init.is_complex():
        raise TypeError(f"pyalgo.energy.{fn}: init must be real, got {init.dtype}")


@torch.no_grad()
def gibbs_bits(unary: torch.Tensor, pairwise: Optional[torch.Tensor], init: torch.Tensor, sweeps: int,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Systematic-scan Gibbs sampler for p(y) ∝ e^{g(y)} on {0,1}^k.

    Each bit is resampled from sigmoid(g(y_i=1) − g(y_i=0)) (energies from reference.energy_bits).

    Args:
        unary: (B, k), finite.
        pairwise: (B, k, k) finite, or None.
        init: (B, m, k) binary chains (float 0/1).
        sweeps: 0 ≤ sweeps ≤ MAX_SWEEPS.
        generator: the random source.

    Returns:
        (B, m, k) chains after `sweeps` sweeps.

    Raises:
        ValueError: invalid shapes or values.

    Example:
        y = gibbs_bits(torch.randn(4, 6), None, torch.zeros(4, 10, 6), sweeps=5)
    """
    fn = "gibbs_bits"
    _check_bits_args(fn, unary, pairwise)
    B, k = unary.shape
    _check_init(fn, init, B, k, "k")
    sweeps = _check_common(fn, sweeps, generator, unary=unary, pairwise=pairwise)
    if not bool(((init == 0) | (init == 1)).all()):
        raise _err(fn, "init must hold 0/1 labels")
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

    One sweep = n proposals y_i ↔ y_j (i ≠ j uniform, a symmetric proposal) accepted with probability
    min(1, e^{Δg}).

    Args:
        theta: (B, n) or (B, n, n), finite.
        init: (B, m, n) int64, every row a permutation of 0..n−1.
        sweeps: 0 ≤ sweeps ≤ MAX_SWEEPS.
        generator: the random source.

    Returns:
        (B, m, n) chains after `sweeps` sweeps.

    Raises:
        TypeError: `init` is not an integer tensor.
        ValueError: invalid shapes or values.

    Example:
        y = metropolis_perms(torch.randn(4, 5), torch.arange(5).expand(4, 10, 5), sweeps=3)
    """
    fn = "metropolis_perms"
    _check_theta(fn, theta)
    _check_init(fn, init, theta.shape[0], theta.shape[1], "n")
    sweeps = _check_common(fn, sweeps, generator, theta=theta)
    if init.dtype.is_floating_point or init.dtype == torch.bool:
        raise TypeError(f"pyalgo.energy.{fn}: init must be an integer tensor of permutations, got {init.dtype}")
    n_items = init.shape[2]
    if init.numel() and not bool((init.sort(dim=-1).values == torch.arange(n_items, device=init.device)).all()):
        raise _err(fn, f"init must hold a permutation of 0..{n_items - 1} in every chain")
    y = init.to(torch.int64).clone()
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
