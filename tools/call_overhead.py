"""Per-call cost of small pyalgo calls (1 thread): the 10th and 50th percentile of N calls.

Compare two builds by running it with each on PYTHONPATH, alternated, on a quiet machine:
    git worktree add /tmp/base <commit> && (cd /tmp/base && python setup.py build_ext --inplace)
    for t in /tmp/base . /tmp/base .; do PYTHONPATH=$t python tools/call_overhead.py; done
"""
from __future__ import annotations

import sys
import time
from typing import Callable

import torch

import pyalgo
from pyalgo import energy, multitask, wireless


def percentiles(f: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(50):
        f()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1e6 * times[n // 10], 1e6 * times[n // 2]


def main(n: int = 2000) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, generator=g, requires_grad=True)
    H = wireless.rayleigh(1, 10, generator=g)
    u = torch.randn(1, 8, generator=g, requires_grad=True)
    tau = torch.zeros(1, requires_grad=True)
    y = (torch.rand(1, 8, generator=g) < 0.5).float()
    calls = {
        "torch.softmax (1, 2) fwd+bwd": lambda: torch.softmax(x, -1).sum().backward(),
        "reinmax (1, 2) fwd+bwd": lambda: pyalgo.reinmax(x, 1.3)[0].sum().backward(),
        "gumbel_softmax (1, 2) hard fwd+bwd": lambda: pyalgo.gumbel_softmax(x, 0.5, True).sum().backward(),
        "wmmse 1 instance, K = 10": lambda: wireless.wmmse(H),
        "minmin_loss (1, 8), m = 8 fwd+bwd": lambda: energy.minmin_loss(u, tau, y, 8).sum().backward(),
        "kmeans_1d 8 values": lambda: multitask.kmeans_1d(torch.rand(8, dtype=torch.float64, generator=g), 3),
    }
    print(f"pyalgo from {pyalgo.__file__}")
    for name, f in calls.items():
        p10, p50 = percentiles(f, n)
        print(f"{name:38s} p10 {p10:7.1f} µs   p50 {p50:7.1f} µs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
