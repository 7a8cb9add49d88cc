"""pyalgo::empty (csrc/common/stable.h) advises transparent huge pages for fresh CPU buffers of at
least 8 MiB (madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior, Linux): the op's output must lie
in a mapping whose VmFlags carry `hg` (the kernel's mark of MADV_HUGEPAGE). No timing here; the
minor-fault and bandwidth effect is measured by `pyalgo bench discrete` (reinmax_bandwidth)."""
from __future__ import annotations

import os
import sys

import pytest
import torch

import pyalgo.discrete  # noqa: F401  (registers torch.ops.pyalgo)

O = torch.ops.pyalgo
SEED = torch.tensor([3, 4], dtype=torch.int64)
THP = "/sys/kernel/mm/transparent_hugepage/enabled"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists(THP),
                                reason="transparent huge pages are Linux-only and absent here")


def vm_flags(addr: int) -> list:
    """VmFlags of the mapping of /proc/self/smaps that contains addr."""
    inside, flags = False, None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0] if line.strip() else ""
            if "-" in head and ":" not in head:
                lo, hi = (int(v, 16) for v in head.split("-"))
                inside = lo <= addr < hi
            elif inside and line.startswith("VmFlags:"):
                flags = line.split()[1:]
                break
    assert flags is not None, f"no mapping holds {addr:#x}"
    return flags


def test_large_cpu_outputs_are_advised_huge_pages():
    # 64 MiB float32 outputs: above glibc's largest dynamic mmap threshold (32 MiB), so each is a
    # fresh mapping of its own; its 2 MiB-aligned middle must carry the advice
    x = torch.zeros(16384, 1024)
    y_hard, y_soft, _ = O.reinmax(x, 1.0, -1, SEED)
    for t in (y_hard, y_soft):
        mid = t.data_ptr() + t.numel() * t.element_size() // 2
        assert "hg" in vm_flags(mid), "the op's 64 MiB output was not advised MADV_HUGEPAGE"
    g = O.reinmax_backward(x, torch.zeros(16384, dtype=torch.int32), x, None, 1.0, -1)
    assert "hg" in vm_flags(g.data_ptr() + g.numel() * g.element_size() // 2)


def test_small_outputs_are_not_advised():
    # 4 MiB is below the threshold: a fresh mapping of that size stays without the advice. A
    # small buffer may come from the heap, whose flags earlier large heap buffers could have set:
    # the check is only meaningful for a mapping the buffer has to itself, so force a fresh one by
    # allocating above glibc's current threshold first (64 MiB) and freeing it.
    x = torch.zeros(1024, 1024)  # 4 MiB outputs
    y_hard, _, _ = O.reinmax(x, 1.0, -1, SEED)
    addr = y_hard.data_ptr() + y_hard.numel() * y_hard.element_size() // 2
    flags = vm_flags(addr)
    with open(THP) as f:
        always = "[always]" in f.read()
    if not always:
        # a heap (brk) chunk shares the heap's flags; only a private mapping is conclusive
        with open("/proc/self/maps") as f:
            heap = any("[heap]" in line and int(line.split("-")[0], 16) <= addr < int(line.split()[0].split("-")[1], 16)
                       for line in f)
        if not heap:
            assert "hg" not in flags
