"""The categorical VAE (the ReinMax paper, §3.2 and the official `mnist_vae/`) on binarised scikit-learn
digits, its training run, and the paper's gradient-accuracy analysis (its `-s N` option)."""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pyalgo.discrete import ESTIMATORS, diagnostics

HIDDEN = (512, 256)     # the paper's encoder widths (the decoder mirrors them)
PIXEL_MAX = 16          # scikit-learn's digits take the values 0..16


def load_binarised_digits(threshold: float, train_size: int, split_seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8×8 digits, pixel >= `threshold` -> 1, split by a fixed permutation:
    (train (train_size, 64), test (rest, 64)) float32."""
    from sklearn.datasets import load_digits

    X = (load_digits().data >= threshold).astype(np.float32)
    X = torch.from_numpy(X[np.random.RandomState(split_seed).permutation(len(X))])
    return X[:train_size].contiguous(), X[train_size:].contiguous()


class CategoricalVAE(nn.Module):
    """The paper's MNIST-VAE (its model/vae.py) with `pixels` inputs: encoder pixels-512-256-(L·C) and
    decoder (L·C)-256-512-pixels, ReLU, Bernoulli likelihood."""

    def __init__(self, C: int, L: int, pixels: int = 64):
        super().__init__()
        self.C, self.L = C, L
        h1, h2 = HIDDEN
        self.encoder = nn.Sequential(nn.Linear(pixels, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
                                     nn.Linear(h2, L * C))
        self.decoder = nn.Sequential(nn.Linear(L * C, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
                                     nn.Linear(h1, pixels))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, pixels) -> θ (B, L, C)."""
        return self.encoder(x).view(-1, self.L, self.C)

    def bce(self, codes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x | codes) summed over pixels: codes (..., L, C), x (..., pixels) -> (...)."""
        out = self.decoder(codes.flatten(-2))
        return F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)

    def neg_elbo(self, x: torch.Tensor, name: str, tau: float, gen: torch.Generator, **kw: Any) -> torch.Tensor:
        """−ELBO averaged over the batch, one draw of estimator `name`: BCE + KL with
        KL = Σ q log q + L log C, q = softmax(θ) (ReinMax's y_soft, which carries its own gradient)."""
        est = ESTIMATORS[name]
        theta = self.logits(x)
        out = est(theta, tau, generator=gen, **kw)
        q = out[1] if est.pair else theta.softmax(-1)
        kl = (q * theta.log_softmax(-1)).sum((-2, -1)).mean() + self.L * math.log(self.C)
        return self.bce(est.sample(out), x).mean() + kl


def build(C: int, L: int, pixels: int, state: Optional[Dict[str, torch.Tensor]] = None,
          seed: Optional[int] = None) -> CategoricalVAE:
    """A VAE initialised from torch.manual_seed(seed) (the global RNG is restored), or with `state`."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = CategoricalVAE(C, L, pixels)
    if state is not None:
        model.load_state_dict(state)
    return model


def train(C: int, L: int, name: str, seed: int, data: Tuple[torch.Tensor, torch.Tensor], *, lr: float, tau: float,
          optimiser: str, epochs: int, batch: int, keep_states: bool = False, **kw: Any) -> Dict[str, Any]:
    """One run: network from seed, data order and every draw from a generator seeded with `seed`.

    Returns the train −ELBO per epoch (the mean over its minibatches, weighted by size), the last
    epoch's ("train"), and a single-sample test −ELBO with the training sampler (as the paper code);
    with keep_states, the initial and final weights ("states")."""
    train_x, test_x = data
    model = build(C, L, train_x.shape[1], seed=seed)
    initial = {k: v.clone() for k, v in model.state_dict().items()} if keep_states else None
    gen = torch.Generator().manual_seed(seed)
    opt = (torch.optim.Adam if optimiser == "adam" else torch.optim.RAdam)(model.parameters(), lr=lr)
    curve = []
    for _ in range(epochs):
        order = torch.randperm(train_x.shape[0], generator=gen)
        total = 0.0
        for start in range(0, train_x.shape[0], batch):
            xb = train_x[order[start:start + batch]]
            loss = model.neg_elbo(xb, name, tau, gen, **kw)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        curve.append(total / train_x.shape[0])
        if not math.isfinite(curve[-1]):
            raise FloatingPointError(f"pyalgo.lab.discrete.vae.train: {C}x{L} {name} seed={seed}: non-finite loss")
    with torch.no_grad():
        test = sum(model.neg_elbo(test_x[s:s + batch], name, tau, gen, **kw).item() * len(test_x[s:s + batch])
                   for s in range(0, test_x.shape[0], batch)) / test_x.shape[0]
    out = {"curve": curve, "train": curve[-1], "test": test}
    if keep_states:
        out["states"] = {"initial": initial, "trained": model.state_dict()}
    return out


def gradient_accuracy(model: CategoricalVAE, images: torch.Tensor, name: str, tau: float, samples: int,
                      seeds: Sequence[int], **kw: Any) -> Dict[str, Optional[float]]:
    """The paper's analysis (its model/vae.py: analyze_gradient) of estimator `name` for the encoder
    logits θ of a fixed minibatch `images` (B, pixels), in float64.

    Per image: the exact ∇_θ E_D[BCE(decoder(D), x)] enumerated over all C^L codes, and `samples`
    draws (generator seeded with seeds[i]). The images' gradients are concatenated, as the paper does
    for its minibatch: rel_bias ‖ḡ − ∇‖/‖∇‖, rel_std sqrt(Σ E‖ĝ − ḡ‖²)/‖∇‖, cosine cos(ḡ, ∇),
    cos_draw the mean cosine of single draws, and exact_bias ‖E ĝ − ∇‖/‖∇‖ for estimators whose
    gradient is a function of the sample (None for the others). The KL term is left out: its
    gradient is exact and the same for every estimator (as in the paper code)."""
    model = model.double().eval().requires_grad_(False)
    imgs = images.double()
    with torch.no_grad():
        thetas = model.logits(imgs)
    objectives = [(lambda x_: (lambda D: model.bce(D, x_)))(x) for x in imgs]
    exact = [diagnostics.exact_gradient(f, theta) for f, theta in zip(objectives, thetas)]
    est = ESTIMATORS[name]
    means, exact_means, cos_draw, var_sum = [], [], [], 0.0
    for f, theta, grad, seed in zip(objectives, thetas, exact, seeds):
        gen = torch.Generator().manual_seed(seed)
        st = diagnostics.gradient_stats(est, f, theta, num_samples=samples, generator=gen, exact=grad, tau=tau, **kw)
        means.append(st["mean"])
        var_sum += (st["rel_std"] * st["grad_norm"]) ** 2
        cos_draw.append(st["cos_draw"])
        if est.given_sample is not None:
            exact_means.append(diagnostics.expected_estimate(name, f, theta, tau=tau))
    exact_all, mean_all = torch.stack(exact), torch.stack(means)
    norm = exact_all.norm()
    return {"rel_bias": ((mean_all - exact_all).norm() / norm).item(),
            "rel_std": math.sqrt(var_sum) / norm.item(),
            "cosine": F.cosine_similarity(mean_all.flatten(), exact_all.flatten(), dim=0).item(),
            "cos_draw": float(np.mean(cos_draw)),
            "exact_bias": ((torch.stack(exact_means) - exact_all).norm() / norm).item() if exact_means else None}
