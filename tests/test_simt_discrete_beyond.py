"""The ReinMax-Rao / ReinMax-CV CUDA kernels (csrc/discrete/estimators_kernels.cu over rao_cv.h), run
under the SIMT emulator against the CPU launcher on the same inputs and seed (see
tests/test_simt_discrete.py for the emulator, the layouts and the bounds, which apply unchanged).

Both kernels run one row per thread for every C and layout: C = 1, 2, 10, 63, 64, 65, 130 (rao_cv.h
keeps a row of C <= 64 on the stack and regenerates the noise of longer rows chunk by chunk),
contiguous and strided rows, all four dtypes, -inf masks, invalid rows (NaN on CUDA), empty inputs.
REPRESENTATIVE (merged into test_simt_discrete.REPRESENTATIVE, which tests/test_simt.py reads) holds
one small case per kernel.

The backward's bound is test_simt_discrete's GRAD_K eps_A max|g| / min(tau, 1), with tau replaced
by the smallest of τ, τ₂/(η + 1) and τ/2: the Rao sum carries a factor 2/τ and the CV terms η/τ₂.
"""
from __future__ import annotations

import importlib

import pytest
import torch

pytestmark = pytest.mark.simt

# test_simt_discrete imports this module (for REPRESENTATIVE), so its helpers are looked up when used.
CPU = torch.ops.pyalgo
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
SEED = torch.tensor([-6_917_529_027_641_081_856, 1_234_567_891_011], dtype=torch.int64)


def _sd():
    return importlib.import_module("test_simt_discrete")


def check_forward(*a):
    return _sd().check_forward(*a)


def check_grad(*a):
    return _sd().check_grad(*a)


def check_index(*a):
    return _sd().check_index(*a)


def launched(*a):
    return _sd().launched(*a)


def launches(*a):
    return _sd().launches(*a)


def make_inputs(*a, **kw):
    return _sd().make_inputs(*a, **kw)

CS = (1, 2, 10, 63, 64, 65, 130)
MATRIX = [(C, layout) for C in CS for layout in ("last", "first", "middle")]

FORWARD = {
    "reinmax_rao": lambda O, x, dim, seed: O.reinmax_rao(x, 1.5, 3, dim, seed),
    "reinmax_cv": lambda O, x, dim, seed: O.reinmax_cv(x, 1.5, 0.5, 1.0, 3, False, dim, seed),
}


def _check_fwd(name, ours, cpu, what):
    # position 1 is softmax(x): as ReinMax's y_soft
    check_forward("reinmax", ours, cpu, f"{what} {name}")


def backward_cases(x, g, gp, index, dim, seed=SEED):
    """(name, call(O), grads that scale the bound, effective tau of the bound)."""
    return [
        ("reinmax_rao_backward", lambda O: O.reinmax_rao_backward(x, index, g, None, 1.5, 3, dim, seed), (g,), 0.75),
        ("reinmax_rao_backward+grad_soft tau=0.7",
         lambda O: O.reinmax_rao_backward(x, index, g, gp, 0.7, 2, dim, seed), (g, gp), 0.35),
        ("reinmax_cv_backward soft", lambda O: O.reinmax_cv_backward(x, index, g, gp, 1.5, 0.5, 1.0, 3, False, dim,
                                                                     seed), (g, gp), 0.66),
        ("reinmax_cv_backward gumbel", lambda O: O.reinmax_cv_backward(x, index, g, None, 1.0, 1.0, 0.7, 2, True,
                                                                       dim, seed), (g,), 0.35),
    ]


@pytest.mark.parametrize("C,layout", MATRIX)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forward_matches_cpu(simt, dtype, C, layout):
    dim, x, _, _ = make_inputs(dtype, C, layout)
    what = f"{dtype} C={C} {layout}"
    for name, op in FORWARD.items():
        ours = launched(simt, lambda O: op(O, x, dim, SEED))
        _check_fwd(name, ours, op(CPU, x, dim, SEED), what)
        if C >= 2 and x.numel() // C > 2:  # rows with a single finite category sample it
            assert bool((ours[-1].reshape(-1)[2::7] == C - 1).all()), f"{what} {name}"


@pytest.mark.parametrize("C,layout", MATRIX)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_backward_matches_cpu(simt, dtype, C, layout):
    dim, x, g, gp = make_inputs(dtype, C, layout)
    index = CPU.reinmax_cv(x, 1.5, 0.5, 1.0, 3, False, dim, SEED)[2]
    what = f"{dtype} C={C} {layout}"
    for name, call, grads, tau in backward_cases(x, g, gp, index, dim):
        ours = launched(simt, call)
        check_grad(ours, call(CPU), grads, dim, tau, f"{what} {name}")


@pytest.mark.parametrize("C", (1, 10, 130))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float16), ids=str)
def test_invalid_rows_are_nan(simt, dtype, C):
    """CUDA policy: a row with NaN / +inf / only -inf gives NaN outputs, index -1, NaN gradients;
    the CPU raises naming the function."""
    gen = torch.Generator().manual_seed(C)
    x = torch.randn(6, C, generator=gen, dtype=torch.float64)
    x[1] = -float("inf")
    x[3, C // 2] = float("nan")
    x[4, C - 1] = float("inf")
    x = x.to(dtype)
    g = torch.randn(6, C, generator=gen).to(dtype)
    bad = torch.tensor([1, 3, 4])
    for name, op in FORWARD.items():
        with pytest.raises(RuntimeError, match=f"pyalgo.{name}"):
            op(CPU, x, -1, SEED)
        ours = launched(simt, lambda O: op(O, x, -1, SEED))
        assert bool((ours[2][bad] == -1).all()), name
        assert bool(ours[0][bad].isnan().all()) and bool(ours[1][bad].isnan().all()), name
    index = simt.reinmax_cv(x, 1.5, 0.5, 1.0, 3, False, -1, SEED)[2]
    for name, call, _, _ in backward_cases(x, g, g, index, -1):
        ours = launched(simt, call)
        assert bool(ours[bad].isnan().all()), name


def test_empty_inputs_do_not_launch(simt):
    x = torch.empty(0, 10)
    index = torch.empty(0, dtype=torch.int32)
    calls = [lambda O, op=op: op(O, x, -1, SEED) for op in FORWARD.values()]
    calls += [call for _, call, _, _ in backward_cases(x, x, x, index, -1)]
    for call in calls:
        before = launches(simt)
        ours = call(simt)
        assert launches(simt) == before
        for a in ours if isinstance(ours, tuple) else (ours,):
            assert a.numel() == 0


def test_strided_seed_and_index(simt):
    dim, x, g, gp = make_inputs(torch.float32, 65, "last", seed=1)
    seed_view = torch.stack([SEED, torch.zeros(2, dtype=torch.int64)], 1).reshape(-1)[::2]
    for name, op in FORWARD.items():
        ours = launched(simt, lambda O: op(O, x, dim, seed_view))
        _check_fwd(name, ours, op(CPU, x, dim, SEED), "strided seed")
    index = CPU.reinmax_rao(x, 1.5, 3, dim, SEED)[2]
    check_index(index, CPU.reinmax(x, 1.5, dim, SEED)[2], "Rao's sampler is ReinMax's")
    index_t = torch.stack([index, index], 1)[:, 0]
    for (name, call, grads, tau), (_, ref, _, _) in zip(backward_cases(x, g, gp, index_t, dim, seed_view),
                                                        backward_cases(x, g, gp, index, dim)):
        check_grad(launched(simt, call), ref(CPU), grads, dim, tau, f"strided {name}")


# ---- one small case per kernel (merged into test_simt_discrete.REPRESENTATIVE) ----------------------

def _small():
    dim, x, g, gp = make_inputs(torch.float32, 10, "first", seed=2)
    return dim, x[:, :2, :3].contiguous(), g[:, :2, :3].contiguous(), gp[:, :2, :3].contiguous()


def _rep_cv_forward(simt):
    dim, x, _, _ = _small()
    op = FORWARD["reinmax_cv"]
    _check_fwd("reinmax_cv", op(simt, x, dim, SEED), op(CPU, x, dim, SEED), "representative")


def _rep_backward(simt):
    dim, x, g, gp = _small()
    index = CPU.reinmax_cv(x, 1.5, 0.5, 1.0, 3, False, dim, SEED)[2]
    for name, call, grads, tau in backward_cases(x, g, gp, index, dim):
        check_grad(call(simt), call(CPU), grads, dim, tau, f"representative {name}")


REPRESENTATIVE = {
    "reinmax_cv_forward_kernel": _rep_cv_forward,
    "beyond_backward_kernel": _rep_backward,
}
