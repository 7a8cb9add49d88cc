"""Pure references for the multi-task package, written for clarity (tests and benchmarks import them).

- `kmeans_1d_bruteforce`: the best of all partitions of M ≤ 10 points into K groups (exhaustive).
- `kmeans_1d_ref`: the textbook O(K·M²) dynamic programme over sorted values, in plain Python.
- `go4align_ref`: GO4Align's Algorithm 1 written literally from the paper: the
  multiplicative q update of Eq. 6 on the whole loss history, Eq. 5 and 7, K-means by brute force or
  the DP reference, centroids as weights.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Literal, Sequence, Tuple

import numpy as np

__all__ = ["kmeans_1d_bruteforce", "kmeans_1d_ref", "go4align_ref", "sse_of"]


def sse_of(values: Sequence[float], labels: Sequence[int]) -> float:
    """Within-cluster sum of squared deviations.

    Args:
        values: M numbers.
        labels: M cluster labels.

    Returns:
        The SSE.

    Example:
        sse_of([1.0, 3.0, 10.0], [0, 0, 1])   # 2.0
    """
    x = np.asarray(values, dtype=np.float64)
    lab = np.asarray(labels)
    return float(sum(((x[lab == c] - x[lab == c].mean()) ** 2).sum() for c in np.unique(lab)))


def kmeans_1d_bruteforce(values: Sequence[float], k: int) -> Tuple[float, np.ndarray]:
    """(least SSE, one optimal labelling) over every assignment of the M points to ≤ k groups.

    Args:
        values: M numbers (M small: k^M assignments).
        k: the number of groups.

    Returns:
        (least SSE, labels (M,)).

    Raises:
        ValueError: too many assignments to enumerate.

    Example:
        sse, labels = kmeans_1d_bruteforce([0.1, 0.2, 5.0], 2)
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size > 10:
        raise ValueError("kmeans_1d_bruteforce: at most 10 points")
    best, best_labels = np.inf, None
    for labels in itertools.product(range(min(k, x.size)), repeat=x.size):
        cost = sse_of(x, labels)
        if cost < best:
            best, best_labels = cost, np.array(labels)
    return best, best_labels


def kmeans_1d_ref(values: Sequence[float], k: int) -> Tuple[float, List[List[int]]]:
    """(least SSE, clusters) by dynamic programming over the sorted values.

    cost[j][i] = least SSE of the i smallest values in j contiguous clusters.

    Args:
        values: M numbers.
        k: the number of clusters.

    Returns:
        (least SSE, clusters as lists of indices).

    Example:
        sse, clusters = kmeans_1d_ref([0.1, 0.2, 5.0], 2)
    """
    x = [float(v) for v in values]
    order = sorted(range(len(x)), key=lambda i: x[i])
    s = [x[i] for i in order]
    m, k = len(s), min(k, len(s))

    def seg(a: int, b: int) -> float:  # SSE of s[a:b]
        part = s[a:b]
        mean = sum(part) / len(part)
        return sum((v - mean) ** 2 for v in part)

    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(k + 1)]
    arg = [[0] * (m + 1) for _ in range(k + 1)]
    cost[0][0] = 0.0
    for j in range(1, k + 1):
        for i in range(j, m + 1):
            for a in range(j - 1, i):
                c = cost[j - 1][a] + seg(a, i)
                if c < cost[j][i]:
                    cost[j][i], arg[j][i] = c, a
    clusters, i = [], m
    for j in range(k, 0, -1):
        a = arg[j][i]
        clusters.append([order[t] for t in range(a, i)])
        i = a
    return cost[k][m], clusters[::-1]


def go4align_ref(loss_history: Sequence[Sequence[float]], num_groups: int, beta: float,
                 scale: Literal["mean", "sum"] = "mean") -> Dict[str, Any]:
    """GO4Align weights at the last step of `loss_history` (T, M), literally from the paper.

    q_0 = 1/M; q_t = q_{t-1} ⊙ exp(−β L_t), renormalised (Eq. 6); P = mean(L_T)/L_T (Eq. 5;
    scale="sum": sum(L_T)/L_T); γ = P ⊙ q_T (Eq. 7); groups = the optimal K-means of γ (exhaustive
    for M ≤ 8, else the DP reference); w_m = mean of γ over m's group (Eq. 3–4).

    Args:
        loss_history: (T, M) losses of every step.
        num_groups: K.
        beta: β.
        scale: "mean" (the paper) or "sum" (the official code).

    Returns:
        dict with weights, labels, gamma, P and q, each (M,).

    Example:
        out = go4align_ref([[1.0, 2.0, 3.0]], num_groups=2, beta=1e-4)
    """
    L = np.asarray(loss_history, dtype=np.float64)
    m = L.shape[1]
    q = np.full(m, 1.0 / m)
    for losses in L:
        q = q * np.exp(-beta * losses)
        q = q / q.sum()
    last = L[-1]
    P = (last.mean() if scale == "mean" else last.sum()) / last
    gamma = P * q
    if m <= 8:
        _, labels = kmeans_1d_bruteforce(gamma, num_groups)
    else:
        _, clusters = kmeans_1d_ref(gamma, num_groups)
        labels = np.empty(m, dtype=np.int64)
        for c, members in enumerate(clusters):
            labels[members] = c
    weights = np.array([gamma[labels == labels[i]].mean() for i in range(m)])
    return {"weights": weights, "labels": labels, "gamma": gamma, "P": P, "q": q}
