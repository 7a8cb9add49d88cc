"""Evaluation metrics: multilabel F1 (example-based and micro, ×100) and Hamming loss; label-ranking
Kendall τ (×100, mean over instances). Inputs are torch tensors or array-likes; rows are instances.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import torch

# a tensor, an array or nested sequences of numbers (anything torch.as_tensor takes)
ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[Any]]

__all__ = ["f1_example", "f1_micro", "hamming_loss", "kendall_tau"]


def _as_tensor(fn: str, name: str, x) -> torch.Tensor:
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"pyalgo.energy.{fn}: {name} must be a tensor or an array-like of numbers, "
                        f"got {type(x).__name__}") from e
    if t.is_complex():
        raise TypeError(f"pyalgo.energy.{fn}: {name} must be real, got {t.dtype}")
    return t.detach().cpu()


def _as_pair(fn: str, y_true, y_pred, binary: bool):
    t = _as_tensor(fn, "y_true", y_true)
    p = _as_tensor(fn, "y_pred", y_pred)
    if t.dim() != 2:
        raise ValueError(f"pyalgo.energy.{fn}: y_true must be 2-D (B, k), got shape {tuple(t.shape)}")
    if p.shape != t.shape:
        raise ValueError(f"pyalgo.energy.{fn}: y_pred must have the shape of y_true {tuple(t.shape)}, "
                         f"got {tuple(p.shape)}")
    if binary:
        for name, x in (("y_true", t), ("y_pred", p)):
            if not bool(((x == 0) | (x == 1)).all()):
                raise ValueError(f"pyalgo.energy.{fn}: {name} must hold only 0/1 labels, got values "
                                 f"{torch.unique(x)[:6].tolist()}")
        t, p = t.to(torch.bool), p.to(torch.bool)
    return t, p


def f1_example(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Example-based F1 ×100: mean_i 2|t_i ∧ p_i| / (|t_i| + |p_i|).

    A row with no true and no predicted label scores 1 (= sklearn f1_score(average='samples',
    zero_division=1)).

    Args:
        y_true: (B, k) 0/1 labels.
        y_pred: (B, k) 0/1 predictions.

    Returns:
        The score in [0, 100].

    Raises:
        ValueError: not 2-D, different shapes, or values other than 0/1.

    Example:
        f1_example([[1, 0, 1]], [[1, 1, 1]])   # 80.0
    """
    t, p = _as_pair("f1_example", y_true, y_pred, binary=True)
    if t.shape[0] == 0:
        raise ValueError("pyalgo.energy.f1_example: y_true must have at least one row, got 0")
    tp = (t & p).sum(1).double()
    denom = t.sum(1).double() + p.sum(1).double()
    per_row = torch.where(denom > 0, 2.0 * tp / torch.clamp(denom, min=1.0), torch.ones_like(denom))
    return 100.0 * float(per_row.mean())


def f1_micro(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Micro-averaged F1 ×100: 2TP / (2TP + FP + FN) over all entries (100 if there are no labels at all).

    Args:
        y_true: (B, k) 0/1 labels.
        y_pred: (B, k) 0/1 predictions.

    Returns:
        The score in [0, 100].

    Example:
        f1_micro([[1, 0, 1]], [[1, 1, 1]])     # 80.0
    """
    t, p = _as_pair("f1_micro", y_true, y_pred, binary=True)
    tp = float((t & p).sum())
    denom = float(t.sum()) + float(p.sum())
    return 100.0 if denom == 0 else 100.0 * 2.0 * tp / denom


def hamming_loss(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of label entries that differ (not ×100).

    Args:
        y_true: (B, k) 0/1 labels.
        y_pred: (B, k) 0/1 predictions.

    Returns:
        The loss in [0, 1].

    Raises:
        ValueError: not 2-D, different shapes, or values other than 0/1.

    Example:
        hamming_loss([[1, 0, 1]], [[1, 1, 1]])  # 0.333...
    """
    t, p = _as_pair("hamming_loss", y_true, y_pred, binary=True)
    if t.numel() == 0:
        raise ValueError(f"pyalgo.energy.hamming_loss: y_true must be non-empty, got shape {tuple(t.shape)}")
    return float((t != p).double().mean())


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall rank correlation ×100, averaged over rows (vectorised τ-b, = scipy.stats.kendalltau per row).

    τ_b = (C − D) / sqrt((P − T_t)(P − T_p)) over the P = n(n−1)/2 item pairs. A row that is constant
    in either argument (scipy returns NaN) counts 0. Only the order within a row matters.

    Args:
        y_true: (B, n) permutations (score positions) or any scores (±inf allowed).
        y_pred: (B, n), the same.

    Returns:
        The mean τ_b ×100, in [−100, 100].

    Raises:
        ValueError: not 2-D, different shapes, or NaN.

    Example:
        kendall_tau([[0, 1, 2]], [[0, 2, 1]])   # 33.3...
    """
    fn = "kendall_tau"
    t, p = _as_pair(fn, y_true, y_pred, binary=False)
    B, n = t.shape
    if B == 0 or n < 2:
        raise ValueError(f"pyalgo.energy.{fn}: y_true must have shape (B, n) with B >= 1 and n >= 2, "
                         f"got {tuple(t.shape)}")
    for name, x in (("y_true", t), ("y_pred", p)):
        if x.dtype.is_floating_point and bool(torch.isnan(x).any()):
            raise ValueError(f"pyalgo.energy.{fn}: {name} must not contain NaN (a NaN score has no rank)")
    if t.dtype == torch.bool or p.dtype == torch.bool:
        t, p = t.to(torch.int64), p.to(torch.int64)
    i, j = torch.triu_indices(n, n, offset=1)

    def order_sign(x):  # sign(x_i − x_j) by comparisons: exact for ±inf and huge values (no inf − inf)
        a, b = x[:, i], x[:, j]
        return (a > b).double() - (a < b).double()

    st = order_sign(t)
    sp = order_sign(p)
    concordance = (st * sp).sum(1)
    denom = torch.sqrt((st != 0).sum(1).double() * (sp != 0).sum(1).double())
    tau = torch.where(denom > 0, concordance / torch.clamp(denom, min=1.0), torch.zeros_like(denom))
    return 100.0 * float(tau.mean())
