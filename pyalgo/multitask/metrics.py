"""Δm%, the multi-task performance drop relative to single-task learning (Maninis et al., CVPR 2019),
the metric of the GO4Align paper."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["delta_m"]

ArrayLike = Union[Sequence[float], np.ndarray]


def delta_m(metrics: ArrayLike, baselines: ArrayLike, higher_is_better: Union[bool, Sequence[bool]]):
    """Δm% = (100/S) Σ_s (−1)^{δ_s} (M_s − B_s) / B_s, averaged over the S metrics (not the tasks);
    δ_s = 1 when higher is better. Lower is better; 0 = on par with the single-task baselines B.

    metrics: (..., S) — leading dimensions (e.g. seeds) give one Δm each; baselines: (S,), non-zero;
    higher_is_better: one bool for all metrics or (S,). Returns a float, or an array of shape (...).
    """
    m = np.asarray(metrics, dtype=np.float64)
    b = np.asarray(baselines, dtype=np.float64)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"pyalgo.multitask.delta_m: baselines must be a non-empty 1-D sequence, got shape {b.shape}")
    if m.ndim == 0 or m.shape[-1] != b.size:
        raise ValueError(f"pyalgo.multitask.delta_m: metrics must end in {b.size} values (one per baseline), "
                         f"got shape {m.shape}")
    if not (np.all(np.isfinite(b)) and np.all(b != 0)):
        raise ValueError(f"pyalgo.multitask.delta_m: baselines must be finite and non-zero, got {b.tolist()}")
    if not np.all(np.isfinite(m)):
        raise ValueError("pyalgo.multitask.delta_m: metrics must be finite")
    if np.ndim(higher_is_better) and np.shape(higher_is_better) != b.shape:
        raise ValueError(f"pyalgo.multitask.delta_m: higher_is_better must be one bool or {b.size} bools, "
                         f"got {np.shape(higher_is_better)}")
    hib = np.broadcast_to(np.asarray(higher_is_better, dtype=bool), b.shape)
    sign = np.where(hib, -1.0, 1.0)
    out = 100.0 * np.mean(sign * (m - b) / b, axis=-1)
    return float(out) if out.ndim == 0 else out
