"""Lloyd's 1-D K-means, GO4Align's `clustering="lloyd"` option, and helpers.

The default clustering is the exact one, `pyalgo.multitask.kmeans_1d` (C++ dynamic programme,
csrc/multitask/go4align.h). Lloyd's algorithm is what the official code runs (PyPI `kmeans-pytorch`
0.3: random initial points, reseeding of empty clusters, stop when the squared centre shift < tol);
it is kept for fidelity, with a seeded generator instead of NumPy's global RNG.

Labels number the clusters by increasing centre (0 = smallest).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

__all__ = ["kmeans_1d_lloyd", "cluster_means"]

MAX_DISTANCES = 1 << 26   # Lloyd's (M, K) distance matrix: 512 MiB of float64


def _check(values, num_clusters: int, fn: str) -> np.ndarray:
    where = f"pyalgo.multitask.{fn}"
    try:
        x = np.asarray(values)
        if x.dtype.kind not in "iuf":
            raise TypeError(f"dtype {x.dtype}")
        x = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: values must be a 1-D array of real numbers ({exc})") from None
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{where}: values must be a non-empty 1-D array, got shape {tuple(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: values must be finite, got {x.tolist()[:20]}")
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)) or num_clusters < 1:
        raise ValueError(f"{where}: num_clusters must be an integer >= 1, got {num_clusters!r}")
    if min(int(num_clusters), x.size) * x.size > MAX_DISTANCES:
        raise ValueError(f"{where}: min(num_clusters, M) x M must be at most {MAX_DISTANCES} (the distance matrix), "
                         f"got num_clusters={num_clusters} with M={x.size}")
    return x


def _relabel_by_centre(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Renumbers non-empty clusters 0..C-1 by increasing mean."""
    used = np.unique(labels)
    means = np.array([x[labels == c].mean() for c in used])
    rank = np.empty(labels.max() + 1, dtype=np.int64)
    rank[used[np.argsort(means, kind="stable")]] = np.arange(used.size)
    return rank[labels]


def kmeans_1d_lloyd(values: Union[torch.Tensor, np.ndarray, Sequence[float]], num_clusters: int,
                    generator: Optional[torch.Generator] = None,
                    tol: float = 1e-4, max_iter: int = 1000) -> torch.Tensor:
    """Lloyd's algorithm as in `kmeans-pytorch` 0.3 (the official GO4Align code), labels (M,) int64.

    Initial centres are `num_clusters` distinct points drawn from `generator`; an emptied cluster is
    reseeded with a random point. A local optimum only.

    Args:
        values: (M,) finite reals (tensor, array or sequence).
        num_clusters: K >= 1; min(K, M)·M ≤ 2^26 (the distance matrix).
        generator: draws the initial centres and reseeds (None: torch's default generator).
        tol: stop when Σ squared centre shift < tol.
        max_iter: at most this many iterations (≤ 10^7).

    Returns:
        The labels (M,) int64, numbered by increasing centre.

    Raises:
        TypeError: bad `values` or `generator` type.
        ValueError: bad `num_clusters`, `tol` or `max_iter`, or non-finite values.

    Example:
        labels = pyalgo.multitask.kmeans_1d_lloyd([0.1, 0.2, 5.0], 2, generator=torch.Generator().manual_seed(0))
    """
    x = _check(values, num_clusters, "kmeans_1d_lloyd")
    where = "pyalgo.multitask.kmeans_1d_lloyd"
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{where}: generator must be a torch.Generator or None, got {type(generator).__name__}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) or not tol >= 0 \
            or not np.isfinite(tol):
        raise ValueError(f"{where}: tol must be a finite number >= 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or not 1 <= max_iter <= 10**7:
        raise ValueError(f"{where}: max_iter must be an integer in [1, 10**7], got {max_iter!r}")
    k = min(int(num_clusters), x.size)
    # a power-of-two scale (exact) so that no square overflows or underflows: same iterations as on x
    exponent = int(np.frexp(np.max(np.abs(x)))[1])
    x = np.ldexp(x, -exponent)
    with np.errstate(over="ignore"):
        tol = float(np.ldexp(float(tol), -2 * exponent))
    pick = torch.randperm(x.size, generator=generator)[:k].numpy()
    centres = x[pick].copy()
    labels = np.zeros(x.size, dtype=np.int64)
    for _ in range(max_iter):
        labels = np.argmin((x[:, None] - centres[None, :]) ** 2, axis=1)
        previous = centres.copy()
        for c in range(k):
            members = x[labels == c]
            if members.size == 0:
                centres[c] = x[int(torch.randint(x.size, (1,), generator=generator))]
            else:
                centres[c] = members.mean()
        if np.sum((centres - previous) ** 2) < tol:
            break
    return torch.from_numpy(_relabel_by_centre(x, labels))


def cluster_means(values: Union[np.ndarray, Sequence[float]],
                  labels: Union[np.ndarray, Sequence[int]]) -> np.ndarray:
    """Each point replaced by its cluster's mean (the GO4Align weights ω^{k(m)}).

    Args:
        values: (M,) reals.
        labels: (M,) non-negative int cluster labels.

    Returns:
        (M,) float64, the mean of each point's cluster.

    Example:
        cluster_means([1.0, 3.0, 10.0], [0, 0, 1])   # array([ 2.,  2., 10.])
    """
    x = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    return (np.bincount(labels, weights=x) / np.bincount(labels))[labels]
