"""Argument checks shared by the students (`pyalgo.wireless.students`) and the distillation lab
(`pyalgo.lab.wireless`). Each raises ValueError / TypeError naming `fn`, the public path of the
caller, and the argument."""
from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence

import torch

Weights = Optional[torch.Tensor]


def check_choice(fn: str, name: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_positive(fn: str, name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{fn}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


MAX_SIZE = 2**20  # model sizes (K, hidden widths, layers): above, the weights cannot be allocated


def check_int(fn: str, name: str, value, minimum: int = 1, maximum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{fn}: {name} must be an int <= {maximum}, got {value!r}")
    return int(value)


class allocating:
    """Turns an allocation failure inside the block into a RuntimeError naming fn and `what`."""

    def __init__(self, fn: str, what: str):
        self.fn, self.what = fn, what

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if typ is RuntimeError and any(w in str(exc) for w in ("allocate", "out of memory", "overflow")):
            raise RuntimeError(f"{self.fn}: cannot allocate {self.what} "
                               f"({str(exc).splitlines()[0][:200]})") from None
        return False


def check_finite(fn: str, name: str, x: torch.Tensor) -> None:
    """NaN/inf inputs would give NaN powers silently (skipped under torch.compile)."""
    if not torch.compiler.is_compiling() and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{fn}: {name} must be finite (found NaN or inf)")


def check_powers(fn: str, p, B: int, K: int) -> torch.Tensor:
    if not isinstance(p, torch.Tensor) or not p.is_floating_point():
        raise TypeError(f"{fn}: p must be a real floating-point tensor (B, K), got "
                        f"{type(p).__name__ if not isinstance(p, torch.Tensor) else p.dtype}")
    if p.shape != (B, K):
        raise ValueError(f"{fn}: p must have shape (B, K) = ({B}, {K}), got {tuple(p.shape)}")
    check_finite(fn, "p", p)
    return p


def check_gains(fn: str, name: str, G, K: Optional[int] = None) -> torch.Tensor:
    """G must be a real floating (B, K, K) tensor (with the student's K when given)."""
    if not isinstance(G, torch.Tensor) or not G.is_floating_point():
        raise TypeError(f"{fn}: {name} must be a real floating-point tensor (B, K, K), got "
                        f"{type(G).__name__ if not isinstance(G, torch.Tensor) else G.dtype}")
    if G.dim() != 3 or G.shape[-1] != G.shape[-2] or G.shape[-1] == 0:
        raise ValueError(f"{fn}: {name} must have shape (B, K, K) with K >= 1, got {tuple(G.shape)}")
    if K is not None and G.shape[-1] != K:
        raise ValueError(f"{fn}: {name} must have K = {K} users (the student's), got {tuple(G.shape)}")
    check_finite(fn, name, G)
    return G


def check_gain_values(fn: str, name: str, G: torch.Tensor) -> None:
    if not bool(torch.isfinite(G).all()) or bool((G < 0).any()):
        raise ValueError(f"{fn}: {name} must hold finite gains >= 0")


def check_dataset_weights(fn: str, weights: Weights, N: int, K: int) -> None:
    """User weights of a dataset of N instances: None, shared (K,) or per instance (N, K)."""
    if weights is None:
        return
    if not isinstance(weights, torch.Tensor) or weights.shape not in ((K,), (N, K)):
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"{fn}: weights must be None, (K,) = ({K},) or (N, K) = ({N}, {K}), got {shape}")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError(f"{fn}: weights must be finite and >= 0")


def expand_weights(fn: str, weights: Weights, B: int, K: int, like: torch.Tensor) -> torch.Tensor:
    """None (ones) or a tensor broadcastable to (B, K) -> (B, K) in like's dtype/device."""
    if weights is None:
        return torch.ones(B, K, dtype=like.dtype, device=like.device)
    if not isinstance(weights, torch.Tensor):
        raise TypeError(f"{fn}: weights must be None or a tensor broadcastable to (B, K) = ({B}, {K}), "
                        f"got {type(weights).__name__}")
    if weights.is_complex() or not (weights.is_floating_point() or weights.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{fn}: weights must be a real tensor, got {weights.dtype}")
    try:
        out = weights.to(device=like.device, dtype=like.dtype).expand(B, K)
    except RuntimeError:
        raise ValueError(f"{fn}: weights must be broadcastable to (B, K) = ({B}, {K}), "
                         f"got {tuple(weights.shape)}") from None
    if not torch.compiler.is_compiling() and out.numel() and not bool((torch.isfinite(out) & (out >= 0)).all()):
        raise ValueError(f"{fn}: weights must be finite and >= 0")
    return out
