"""The networks a conditional EBM is built from: energies x → parameters of g(x, y), and τ(x).

Each energy maps x (B, d) to the parameters of a bilinear energy g(x, y) (docs/energy.md, "Energies"):

- `UnaryEnergy`          u (B, k)                  g = ⟨u, y⟩,              y ∈ {0,1}^k
- `PairwiseEnergy`       (u (B, k), U (B, k, k))   g = ⟨u, y⟩ + ½ yᵀUy      (Ising)
- `PermutahedronEnergy`  θ (B, n)                  g = Σ_i θ_i (y_i + 1),   y a permutation of 0..n-1
- `BirkhoffEnergy`       Θ (B, n, n)               g = Σ_i Θ[i, y_i]

and the log-partition estimates of the min-min loss:

- `TauNet`               τ(x) (B,)                 amortised: generalises to unseen x
- `FreeTau`              τ[idx] (B,)               one free scalar per training example (finite-sum variant)

`hidden = 0` makes a network linear; otherwise it is Linear → ReLU → (Dropout) → Linear.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn

__all__ = ["UnaryEnergy", "PairwiseEnergy", "PermutahedronEnergy", "BirkhoffEnergy", "TauNet", "FreeTau"]


def _mlp(d_in: int, hidden: int, d_out: int, dropout: float = 0.0) -> nn.Module:
    """Linear map when hidden == 0, else Linear → ReLU → (Dropout) → Linear."""
    if hidden == 0:
        return nn.Linear(d_in, d_out)
    layers: List[nn.Module] = [nn.Linear(d_in, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, d_out))
    return nn.Sequential(*layers)


MAX_PARAMETERS = 1 << 31   # parameters of one network: a larger request is refused before allocating


def _check_sizes(cls: str, dropout: float = 0.0, outputs: int = 0, **sizes: int) -> None:
    for name, value in sizes.items():
        lo = 0 if name in ("hidden", "num_train") else 1
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"pyalgo.energy.{cls}: {name} must be an int, got {type(value).__name__}")
        if value < lo:
            raise ValueError(f"pyalgo.energy.{cls}: {name} must be >= {lo}, got {value}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"pyalgo.energy.{cls}: dropout must be a number in [0, 1), got {dropout!r}")
    d, hidden = sizes.get("d", 0), sizes.get("hidden", 0)
    params = (d + 1) * outputs if hidden == 0 else (d + 1) * hidden + (hidden + 1) * outputs
    params = max(params, sizes.get("num_train", 0))
    if params > MAX_PARAMETERS:
        names = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise ValueError(f"pyalgo.energy.{cls}: {names} would need {params} parameters (limit {MAX_PARAMETERS})")


class UnaryEnergy(nn.Module):
    """x (B, d) → u (B, k); g(x, y) = ⟨u, y⟩ for y ∈ {0,1}^k."""

    def __init__(self, d: int, k: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("UnaryEnergy", dropout, k if isinstance(k, int) else 0, d=d, k=k, hidden=hidden)
        self.d, self.k = d, k
        self.net = _mlp(d, hidden, k, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PairwiseEnergy(nn.Module):
    """x (B, d) → (u (B, k), U (B, k, k)); g = ⟨u, y⟩ + ½ yᵀUy (Ising).

    U is symmetric with a zero diagonal: y_i² = y_i, so a diagonal would only duplicate u, and the
    antisymmetric part of U cancels in yᵀUy. The U head starts at zero (the model starts unary)."""

    def __init__(self, d: int, k: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("PairwiseEnergy", dropout, k + k * k if isinstance(k, int) else 0, d=d, k=k, hidden=hidden)
        self.d, self.k = d, k
        self.net = _mlp(d, hidden, k + k * k, dropout)
        last = self.net if hidden == 0 else self.net[-1]
        with torch.no_grad():
            last.weight[k:].zero_()
            last.bias[k:].zero_()
        self.register_buffer("off_diagonal", 1.0 - torch.eye(k), persistent=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        u = out[:, : self.k]
        A = out[:, self.k:].reshape(-1, self.k, self.k)
        U = 0.5 * (A + A.transpose(1, 2)) * self.off_diagonal
        return u, U


class PermutahedronEnergy(nn.Module):
    """x (B, d) → θ (B, n); g = Σ_i θ_i (y_i + 1) (the permutahedron)."""

    def __init__(self, d: int, n: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("PermutahedronEnergy", dropout, n if isinstance(n, int) else 0, d=d, n=n, hidden=hidden)
        self.d, self.n = d, n
        self.net = _mlp(d, hidden, n, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BirkhoffEnergy(nn.Module):
    """x (B, d) → Θ (B, n, n); g = Σ_i Θ[i, y_i] = ⟨Θ, P_y⟩ (the Birkhoff polytope)."""

    def __init__(self, d: int, n: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        _check_sizes("BirkhoffEnergy", dropout, n * n if isinstance(n, int) else 0, d=d, n=n, hidden=hidden)
        self.d, self.n = d, n
        self.net = _mlp(d, hidden, n * n, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(-1, self.n, self.n)


class TauNet(nn.Module):
    """x (B, d) → τ(x) (B,): the amortised log-partition; generalises to unseen x."""

    def __init__(self, d: int, hidden: int = 128):
        super().__init__()
        _check_sizes("TauNet", 0.0, 1, d=d, hidden=hidden)
        self.net = _mlp(d, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class FreeTau(nn.Module):
    """idx (B,) int64 → τ[idx] (B,): one free scalar per training example (the finite-sum variant).
    Cannot predict the log-partition of a new x."""

    def __init__(self, num_train: int):
        super().__init__()
        _check_sizes("FreeTau", num_train=num_train)
        self.tau = nn.Parameter(torch.zeros(num_train))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.tau[idx]
