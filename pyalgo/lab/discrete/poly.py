"""Polynomial programming (the ReinMax paper, §3.1 and the official `poly/poly_programming.py`):
L binary latents θ ∈ R^{L×2}, loss mean_l |z_l − target|^p with z_l = D_l[0], D_l ~ Cat(softmax θ_l),
trained with Adam through a categorical gradient estimator."""
from __future__ import annotations

import math
from typing import Any, Dict

import torch

from pyalgo.discrete import ESTIMATORS


def expected_loss(theta: torch.Tensor, p: float, target: float) -> torch.Tensor:
    """E_{D~Cat(softmax θ)} mean_l |D_l[0] − target|^p, exactly: θ (L, 2) -> scalar."""
    pi0 = theta.softmax(-1)[:, 0]
    return (pi0 * abs(1.0 - target) ** p + (1.0 - pi0) * abs(target) ** p).mean()


def curve_stride(steps: int, points: int) -> int:
    """Every how many steps the stored curve keeps a point (at most about `points` of them)."""
    return max(1, steps // max(1, points))


def train(name: str, p: float, seed: int, *, latent: int, batch: int, lr: float, steps_per_epoch: int,
          epochs: int, tau: float, target: float, init: float, curve_points: int, **kw: Any) -> Dict[str, Any]:
    """One run of estimator `name` (kw: its options, e.g. k=10), seeded by `seed` alone (θ, every draw).

    Returns the exact expected loss every `curve_stride` steps ("curve", from step 0), at the end
    ("final"), and the official script's number: the mean minibatch loss over the last epoch."""
    est = ESTIMATORS[name]
    steps = steps_per_epoch * epochs
    stride = curve_stride(steps, curve_points)
    gen = torch.Generator().manual_seed(seed)
    theta = torch.empty(latent, 2, dtype=torch.float64).uniform_(-init, init, generator=gen).requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=lr)
    curve = [expected_loss(theta.detach(), p, target).item()]
    last_epoch = 0.0
    for step in range(1, steps + 1):
        z = est.sample(est(theta.expand(batch, latent, 2), tau, generator=gen, **kw))[..., 0]
        loss = (z - target).abs().pow(p).mean(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % stride == 0 or step == steps:
            curve.append(expected_loss(theta.detach(), p, target).item())
        if step > steps - steps_per_epoch:
            last_epoch += loss.item()
    if not all(map(math.isfinite, curve)):
        raise FloatingPointError(f"pyalgo.lab.discrete.poly.train: {name} p={p} seed={seed}: non-finite loss")
    return {"curve": curve, "final": curve[-1], "batch_loss": last_epoch / steps_per_epoch}
