"""Host ops of the multi-task package (csrc/multitask/go4align.h; schemas in csrc/ops.cpp).

`kmeans_1d` is the exact 1-D K-means GO4Align clusters with; `go4align_weights` is one whole GO4Align
step (Eq. 5–7, 3–4), used by `pyalgo.multitask.GO4Align`. Both take CPU float64 vectors (the M task
values of one step) and are not differentiable.
"""
from __future__ import annotations

from typing import Sequence, Tuple, Union

import numpy as np
import torch

from .. import _ext  # registers torch.ops.pyalgo; _ext.call re-raises value errors as ValueError

__all__ = ["kmeans_1d", "go4align_weights"]

_ops = torch.ops.pyalgo


def kmeans_1d(values: Union[torch.Tensor, np.ndarray, Sequence[float]], num_clusters: int) -> torch.Tensor:
    """Globally optimal 1-D K-means labels (M,) int64, numbered by increasing centre.

    Optimal clusters are contiguous runs of the sorted values: a dynamic programme over the D sorted
    distinct values finds the least within-cluster SSE, each level by divide and conquer on the
    monotone optimal split (O(m log m + K·D·log D)). Segment costs are merged pairwise from local
    moments and the values scaled by a power of two, so the optimum is found whatever their magnitude
    or spread (1e-300 to 1e300, tiny clusters next to huge values). Equal values are never split, so
    permuting the values permutes the labels; with fewer distinct values than `num_clusters` each
    distinct value is a cluster. Exact ties between partitions go to the smallest boundary index.
    D = 2·10^5 distinct values with K = 8 take about 0.1 s.

    Args:
        values: (M,) finite reals: a real tensor on any device (copied to the host as float64), or an
            array-like / list of numbers (read as float64 directly).
        num_clusters: K >= 1.

    Returns:
        The labels (M,) int64, 0 = the cluster with the smallest centre.

    Raises:
        TypeError: `values` is not real, or `num_clusters` is not an int.
        ValueError: `num_clusters` < 1, a value is not finite, or (min(K, D) − 1)·(D + 1) > 2**26
            (the back-pointers: 512 MiB).

    Example:
        labels = pyalgo.multitask.kmeans_1d([0.1, 0.2, 5.0, 5.1], 2)   # tensor([0, 0, 1, 1])
    """
    fn = "pyalgo.multitask.kmeans_1d"
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)):
        raise TypeError(f"{fn}: num_clusters must be an int, got {num_clusters!r}")
    if num_clusters < 1:
        raise ValueError(f"{fn}: num_clusters must be >= 1, got {num_clusters}")
    if isinstance(values, torch.Tensor):
        if values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{fn}: values must be a real tensor, got dtype {values.dtype}")
        x = values.detach().to("cpu", torch.float64)
    else:
        try:
            array = np.asarray(values)
            if array.dtype.kind not in "iuf":
                raise TypeError(f"dtype {array.dtype}")
            x = torch.from_numpy(np.array(array, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{fn}: values must be a 1-D sequence of real numbers, got {type(values).__name__} "
                            f"({exc})") from None
    # K >= D is the trivial labelling: the op clamps K to D, so any huge K is fine
    return _ext.call(_ops.kmeans_1d, x, int(min(int(num_clusters), 2 ** 62)))


def go4align_weights(losses: torch.Tensor, log_q: torch.Tensor, num_groups: int, beta: float, sum_scale: bool,
                     offset: float, eps: float) -> Tuple[torch.Tensor, ...]:
    """One GO4Align step on CPU float64 losses with the running log q (not modified).

    Args:
        losses: (M,) float64 CPU task losses.
        log_q: (M,) the running log q.
        num_groups: K.
        beta: β >= 0.
        sum_scale: P = sum(L)/L (the official code) instead of mean(L)/L.
        offset: added to every loss first.
        eps: clamps losses below eps when > 0.

    Returns:
        (weights, groups, indicators γ, P, q, log_q_new), each (M,) (groups int64).

    Example:
        w, groups, gamma, P, q, log_q = go4align_weights(L, log_q, 2, 1e-4, False, 0.0, 0.0)
    """
    return _ext.call(_ops.go4align_weights, losses, log_q, num_groups, beta, sum_scale, offset, eps)


@torch.library.register_fake("pyalgo::kmeans_1d")
def _kmeans_1d_fake(values, num_clusters):
    torch._check(values.dim() == 1, lambda: f"pyalgo.multitask.kmeans_1d: values must be 1-D, got {values.dim()}-D")
    torch._check(values.dtype == torch.float64, lambda: "pyalgo.multitask.kmeans_1d: values must be float64")
    torch._check(num_clusters >= 1, lambda: f"pyalgo.multitask.kmeans_1d: num_clusters must be >= 1, got {num_clusters}")
    return values.new_empty(values.shape, dtype=torch.int64)


@torch.library.register_fake("pyalgo::go4align_weights")
def _go4align_weights_fake(losses, log_q, num_groups, beta, sum_scale, offset, eps):
    torch._check(losses.dim() == 1 and losses.dtype == torch.float64,
                 lambda: "pyalgo.multitask.go4align: losses must be a 1-D float64 tensor")
    torch._check(log_q.shape == losses.shape, lambda: "pyalgo.multitask.go4align: log_q must match losses")
    torch._check(1 <= num_groups <= losses.shape[0], lambda: "pyalgo.multitask.go4align: num_groups out of range")
    new = [losses.new_empty(losses.shape) for _ in range(5)]
    return new[0], losses.new_empty(losses.shape, dtype=torch.int64), new[1], new[2], new[3], new[4]
