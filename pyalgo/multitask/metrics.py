"""Δm%, the multi-task performance drop relative to single-task learning (Maninis et al., CVPR 2019),
the metric of the GO4Align paper."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["delta_m"]

ArrayLike = Union[Sequence[float], np.ndarray]


def delta_m(metrics: ArrayLike, baselines: ArrayLike,
            higher_is_better: Union[bool, Sequence[bool]]) -> Union[float, np.ndarray]:
    """Δm% = (100/S) Σ_s (−1)^{δ_s} (M_s − B_s) / B_s, averaged over the S metrics (not the tasks).

    δ_s = 1 when higher is better. Lower is better; 0 = on par with the single-task baselines B.

    Args:
        metrics: (..., S); leading dimensions (e.g. seeds) give one Δm each.
        baselines: (S,), finite and non-zero.
        higher_is_better: one bool for all metrics or (S,) bools.

    Returns:
        A float, or an array of shape (...) when `metrics` has leading dimensions.

    Raises:
        TypeError: non-real values or non-bool flags.
        ValueError: mismatched shapes, empty or non-finite inputs, a zero baseline.
        OverflowError: metrics / baselines overflows float64.

    Example:
        pyalgo.multitask.delta_m([0.9, 0.5], [1.0, 0.4], [True, False])   # 17.5
    """
    fn = "pyalgo.multitask.delta_m"
    m = _real_array(metrics, "metrics", fn)
    b = _real_array(baselines, "baselines", fn)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"{fn}: baselines must be a non-empty 1-D sequence, got shape {b.shape}")
    if m.ndim == 0 or m.shape[-1] != b.size:
        raise ValueError(f"{fn}: metrics must end in {b.size} values (one per baseline), got shape {m.shape}")
    if m.size == 0:
        raise ValueError(f"{fn}: metrics must be non-empty, got shape {m.shape}")
    if not (np.all(np.isfinite(b)) and np.all(b != 0)):
        raise ValueError(f"{fn}: baselines must be finite and non-zero, got {b.tolist()}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{fn}: metrics must be finite")
    flags = higher_is_better if np.ndim(higher_is_better) else [higher_is_better]
    if isinstance(higher_is_better, (str, bytes)) or \
            not all(isinstance(f, (bool, np.bool_)) for f in np.asarray(flags, dtype=object).ravel()):
        raise TypeError(f"{fn}: higher_is_better must be one bool or a sequence of bools, got {higher_is_better!r}")
    if np.ndim(higher_is_better) and np.shape(higher_is_better) != b.shape:
        raise ValueError(f"{fn}: higher_is_better must be one bool or {b.size} bools, "
                         f"got {np.shape(higher_is_better)}")
    hib = np.broadcast_to(np.asarray(higher_is_better, dtype=bool), b.shape)
    sign = np.where(hib, -1.0, 1.0)
    with np.errstate(over="ignore"):
        out = 100.0 * np.mean(sign * (m - b) / b, axis=-1)
    if not np.all(np.isfinite(out)):  # (M − B)/B or the mean overflowed: per-metric ratios first
        with np.errstate(over="ignore"):
            out = np.sum(sign * (m / b - 1.0) / b.size, axis=-1) * 100.0
    if not np.all(np.isfinite(out)):
        raise OverflowError(f"{fn}: metrics / baselines overflows float64 (metrics {np.max(np.abs(m)):g}, "
                            f"smallest |baseline| {np.min(np.abs(b)):g})")
    return float(out) if out.ndim == 0 else out


def _real_array(values, name: str, fn: str) -> np.ndarray:
    try:
        a = np.asarray(values)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"dtype {a.dtype}")
        return np.array(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{fn}: {name} must be real numbers ({exc})") from None
