"""Host ops of the multi-task package (csrc/multitask/go4align.h; schemas in csrc/ops.cpp).

`kmeans_1d` is the exact 1-D K-means GO4Align clusters with; `go4align_weights` is one whole GO4Align
step (Eq. 5–7, 3–4), used by `pyalgo.multitask.GO4Align`. Both take CPU float64 vectors (the M task
values of one step) and are not differentiable.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

from .. import _ext  # noqa: F401  (registers torch.ops.pyalgo)

__all__ = ["kmeans_1d", "go4align_weights"]

_ops = torch.ops.pyalgo


def kmeans_1d(values, num_clusters: int) -> torch.Tensor:
    """Globally optimal 1-D K-means labels (M,) int64, numbered by increasing centre.

    values: (M,) finite reals (tensor or array-like; any device, copied to the host as float64).
    Optimal clusters are contiguous runs of the sorted values: a dynamic programme over the sorted
    distinct values (O(K·D²)) finds the least within-cluster SSE. Equal values are never split, so
    permuting the values permutes the labels; with fewer distinct values than `num_clusters` each
    distinct value is a cluster. Exact ties between partitions go to the smallest boundary index.
    """
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)):
        raise TypeError(f"pyalgo.multitask.kmeans_1d: num_clusters must be an int, got {num_clusters!r}")
    x = torch.as_tensor(values).detach().to("cpu", torch.float64)
    return _ops.kmeans_1d(x, int(num_clusters))


def go4align_weights(losses: torch.Tensor, log_q: torch.Tensor, num_groups: int, beta: float, sum_scale: bool,
                     offset: float, eps: float) -> Tuple[torch.Tensor, ...]:
    """One GO4Align step on CPU float64 losses (M,) with the running log q (M,), not modified.

    Returns (weights, groups, indicators γ, P, q, log_q_new), each (M,) (groups int64).
    """
    return _ops.go4align_weights(losses, log_q, num_groups, beta, sum_scale, offset, eps)


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
