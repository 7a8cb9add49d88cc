"""Issue 14 (reliability), wireless family: one test per finding, each failing on the code before the
fix. The findings are quoted in each test's docstring."""
import subprocess
import sys
import time

import pytest
import torch

import pyalgo.wireless as W
from pyalgo.wireless import reference as R

ops = torch.ops.pyalgo


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def siso(B=4, K=3, dtype=torch.float64, seed=0):
    return W.rayleigh(B, K, generator=gen(seed), dtype=dtype)


def miso(B=3, K=3, N=2, dtype=torch.complex128, seed=0):
    return W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=dtype)


# ---- finding: "sum_rate with negative powers returns negative rates under compile" --------------

@pytest.mark.parametrize("route", ["compile", "validate=False", "torch.ops"])
def test_sum_rate_negative_powers_cannot_skip_validation(route):
    """`sum_rate` with negative powers returns negative rates under torch.compile (Python validation
    skipped) -> the C++ op checks powers >= 0 and finite, gains finite >= 0, noise > 0."""
    H = siso()
    p = -torch.rand(4, 3, dtype=torch.float64, generator=gen(1))
    if route == "compile":
        call = torch.compile(lambda H, p: W.sum_rate(H, p), fullgraph=True, backend="eager")
    elif route == "validate=False":
        call = lambda H, p: W.sum_rate(H, p, validate=False)  # noqa: E731
    else:
        call = lambda H, p: ops.siso_rates(H, p, torch.ones(4, 3, dtype=torch.float64))  # noqa: E731
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate: p must be finite and >= 0"):
        call(H, p)


@pytest.mark.parametrize("bad", ["H -1", "H nan", "H inf", "p -2", "p nan", "p inf", "noise 0", "noise -1",
                                 "noise nan", "noise inf"])
def test_sum_rate_every_value_precondition_in_cpp(bad):
    """... every precondition whose violation gives garbage: powers >= 0 and finite, channel gains
    finite >= 0, noise > 0 (forward and the fused backward, direct torch.ops calls)."""
    H, p, noise = siso(), torch.rand(4, 3, dtype=torch.float64, generator=gen(1)), torch.ones(4, 3, dtype=torch.float64)
    what, value = bad.split(" ")
    if what == "H":
        H[1, 2, 0] = float(value)
    else:
        {"p": p, "noise": noise}[what][1, 2] = float(value)
    message = "H must hold finite gains >= 0" if what == "H" else f"{what} must be finite"
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate: " + message):
        ops.siso_rates(H, p, noise)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_backward: " + what):
        ops.siso_rates_backward(H, p, noise, noise, torch.ones_like(p), True)


def test_sum_rate_miso_nonfinite_cannot_skip_validation():
    """Same finding, MISO: non-finite channels / beamformers and noise <= 0 are refused by the op."""
    H, V = miso(), miso(seed=1)
    noise = torch.ones(3, 3, dtype=torch.float64)
    Vbad = V.clone()
    Vbad[0, 1, 1] = complex("nan")
    f = torch.compile(lambda H, V: W.sum_rate_miso(H, V), fullgraph=True, backend="eager")
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso: V must be finite"):
        f(H, Vbad)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso: H must be finite"):
        ops.miso_rates(Vbad, H, noise)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso: noise must be finite and > 0"):
        ops.miso_rates(H, V, -noise)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso_backward: V must be finite"):
        ops.miso_rates_backward(H, Vbad, noise, torch.ones(3, 3, dtype=torch.float64), True)


@pytest.mark.simt
def test_cuda_kernels_poison_instead_of_raising(simt):
    """CUDA (no synchronisation in the rates ops): a bad input NaN-poisons the rates of its
    instance (documented), the other instances are untouched (SIMT emulator)."""
    H, p = siso(), torch.rand(4, 3, dtype=torch.float64, generator=gen(1))
    noise = torch.ones(4, 3, dtype=torch.float64)
    good, good_interference = ops.siso_rates(H, p, noise)
    p[1, 2] = -0.5
    out, interference = simt.siso_rates(H, p, noise)
    assert bool(torch.isnan(out[1]).all()) and bool(torch.isnan(interference[1]).all())
    assert torch.allclose(out[[0, 2, 3]], good[[0, 2, 3]], rtol=1e-12, atol=0)
    assert torch.allclose(interference[[0, 2, 3]], good_interference[[0, 2, 3]], rtol=1e-12, atol=0)
    H2 = H.clone()
    H2[2, 0, 1] = float("nan")
    res = simt.wmmse_siso(H2, noise, noise, noise, noise, 10, 0.0, False)
    assert bool(torch.isnan(res[0][2]).all()) and int(res[3][2]) == 0
    assert bool(torch.isfinite(res[0][[0, 1, 3]]).all())
    # MISO: a NaN beamformer poisons its instance's rates; a NaN channel its WMMSE instance.
    Hm, Vm = miso(), miso(seed=1)
    nm = torch.ones(3, 3, dtype=torch.float64)
    Vm[1, 0, 1] = complex("nan")
    rates = simt.miso_rates(Hm, Vm, nm)
    assert bool(torch.isnan(rates[1]).all()) and bool(torch.isfinite(rates[[0, 2]]).all())
    Hm[2, 1, 0] = complex("inf")
    out = simt.wmmse_miso(Hm, torch.ones(3, dtype=torch.float64), nm, nm, W.mrt_init(miso()), 5, 1e-4, 1e-4, False)
    assert bool(torch.isnan(out[0][2].real).all()) and int(out[3][2]) == 0
    assert bool(torch.isfinite(out[0][:2]).all())


# ---- finding: "wmmse(noise=1e-44) gives NaN powers" ---------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_wmmse_tiny_noise_is_finite(dtype):
    """`wmmse(noise=1e-44)` gives NaN powers -> the float32 solve that leaves the range is redone in
    float64 (WMMSE is scale-invariant, but an SNR of 1e44 itself exceeds float32)."""
    H = siso(dtype=dtype)
    p = W.wmmse(H, noise=1e-44)
    assert p.dtype == dtype and bool(torch.isfinite(p).all())
    want = W.wmmse(H.double(), noise=1e-44).to(dtype)
    assert torch.allclose(p, want, rtol=1e-5, atol=1e-30)
    assert bool((W.sum_rate(H.double(), p.double(), noise=1e-44) > 100).all())


def test_wmmse_tiny_noise_without_validation_is_a_clear_error():
    """The same input with the Python checks skipped (validate=False / torch.compile): the CPU
    kernel reports the non-finite float32 solution instead of returning NaN powers."""
    H = siso(dtype=torch.float32)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.wmmse: the solution is not finite"):
        W.wmmse(H, noise=1e-44, validate=False)


def test_wmmse_miso_tiny_noise_is_not_silently_zero():
    """MISO at noise 1e-44 in complex64: the overflowed state used to give V = 0 (rate 0) silently;
    now it is solved in complex128 and cast back."""
    H = miso(dtype=torch.complex64, seed=3)
    V = W.wmmse_miso(H, noise=1e-44)
    power = (V.abs() ** 2).sum(dim=(1, 2))
    assert bool(torch.isfinite(power).all()) and bool((power > 0.1).all())


# ---- finding: "mrt_init(p_max=-1) -> NaN" --------------------------------------------------------

@pytest.mark.parametrize("p_max", [-1.0, 0.0, float("nan"), float("inf"), torch.tensor([1.0, -1.0, 1.0])])
def test_mrt_init_bad_budget_is_a_clear_error(p_max):
    """`mrt_init(p_max=-1)` -> NaN -> clear error."""
    with pytest.raises(ValueError, match=r"pyalgo\.wireless\.mrt_init: p_max must be finite and > 0"):
        W.mrt_init(miso(), p_max)


def test_mrt_init_bad_channels_is_a_clear_error():
    with pytest.raises(TypeError, match=r"pyalgo\.wireless\.mrt_init: H must be complex"):
        W.mrt_init(siso())
    H = miso()
    H[0, 0, 0] = complex("inf")
    with pytest.raises(ValueError, match=r"pyalgo\.wireless\.mrt_init: H must be finite"):
        W.mrt_init(H)


# ---- finding: "j*K+i int overflow for K >= 46341" -------------------------------------------------

def test_siso_users_beyond_int_index_range_are_refused():
    """In csrc/wireless/wireless_cpu.cpp, `j*K+i` int overflow for K >= 46341 -> int64 indexing, and
    a documented limit K <= 46340 (K*K < 2^31) with a clear error, raised before a stride-0
    expanded input is made contiguous (8.6 GB here)."""
    K = 46341
    H = torch.zeros(1, 1, 1, dtype=torch.float32).expand(1, K, K)
    p = torch.zeros(1, 1).expand(1, K)
    for call in (lambda: W.wmmse(H), lambda: W.sum_rate(H, p)):
        with pytest.raises(ValueError, match=r"H has too many users \(K = 46341; at most 46340\)"):
            call()
    for call in (lambda: ops.siso_rates(H, p, p), lambda: ops.wmmse_siso(H, p, p, p, p, 1, 0.0, False),
                 lambda: ops.siso_rates_backward(H, p, p, p, p, True)):
        with pytest.raises(RuntimeError, match=r"H has too many users \(K = 46341; at most 46340\)"):
            call()


def test_largest_siso_K_runs():
    """K = 46340 is accepted by the checks (checked on an instance-free batch)."""
    H = torch.zeros(0, 46340, 46340)
    assert W.wmmse(H).shape == (0, 46340)


# ---- finding: "every iterative solver has an iteration cap and a non-finite input check" ------------

@pytest.mark.parametrize("bad", ["gains", "p_max", "noise", "weights", "p_init"])
def test_wmmse_siso_op_checks_values_itself(bad):
    """Every iterative solver (WMMSE iterations, ...) has an iteration cap and a non-finite input
    check (C++ for C++ solvers): a direct torch.ops call with NaN gains used to iterate on NaN."""
    G = siso()
    ones = torch.ones(4, 3, dtype=torch.float64)
    args = {"gains": G.clone(), "p_max": ones.clone(), "noise": ones.clone(), "weights": ones.clone(),
            "p_init": ones.clone()}
    args[bad].view(-1)[5] = float("nan")
    name = {"gains": "H", "p_init": "p_init"}.get(bad, bad)
    with pytest.raises(RuntimeError, match=rf"pyalgo\.wireless\.wmmse: {name} must"):
        ops.wmmse_siso(*args.values(), 10, 1e-3, False)
    f = torch.compile(lambda H: W.wmmse(H, max_iter=5), fullgraph=True, backend="eager")
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.wmmse: H must hold finite gains"):
        f(args["gains"] if bad == "gains" else -G)


@pytest.mark.parametrize("bad", ["H", "p_max", "noise", "weights", "v_init"])
def test_wmmse_miso_op_checks_values_itself(bad):
    H = miso()
    ones = torch.ones(3, 3, dtype=torch.float64)
    args = {"H": H.clone(), "p_max": torch.ones(3, dtype=torch.float64), "noise": ones.clone(),
            "weights": ones.clone(), "v_init": W.mrt_init(H)}
    args[bad].view(-1)[2] = float("inf") if bad != "p_max" else -1.0
    with pytest.raises(RuntimeError, match=rf"pyalgo\.wireless\.wmmse_miso: {bad} must"):
        ops.wmmse_miso(*args.values(), 10, 1e-4, 1e-4, False)


def test_iteration_caps():
    """The WMMSE iteration count is capped (2^24, Python and C++) and the MISO bisection for mu
    stops after 200 halvings even at a tolerance it cannot reach."""
    with pytest.raises(ValueError, match=r"pyalgo\.wireless\.wmmse: max_iter must be .* at most 2\^24"):
        W.wmmse(siso(), max_iter=2**24 + 1)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.wmmse: max_iter must be in \[1, 2\^24\]"):
        ones = torch.ones(4, 3, dtype=torch.float64)
        ops.wmmse_siso(siso(), ones, ones, ones, ones, 2**24 + 1, 0.0, False)
    start = time.perf_counter()
    H = miso(B=2, K=4, N=4)
    V = W.wmmse_miso(H, p_max=0.5, bisection_tol=1e-300, max_iter=3, tol=0)
    assert time.perf_counter() - start < 10
    assert bool(((V.abs() ** 2).sum(dim=(1, 2)) <= 0.5 * (1 + 1e-12)).all())


# ---- finding: "counts that would overflow allocation (2^63, 2^40) -> clear errors" -----------------

@pytest.mark.parametrize("case", [
    ("rayleigh", "batch", lambda: W.rayleigh(2**40, 4)),
    ("rayleigh", "batch", lambda: W.rayleigh(2**63, 4)),
    ("rayleigh", "K", lambda: W.rayleigh(1, 2**63)),
    ("rayleigh", "K", lambda: W.rayleigh(1, 2**40)),
    ("rayleigh_miso", "batch", lambda: W.rayleigh_miso(2**63, 2, 2)),
    ("rayleigh_miso", "N", lambda: W.rayleigh_miso(2, 2, 2**40)),
    ("d2d", "batch", lambda: W.d2d(2**40, 3)),
    ("d2d", "K", lambda: W.d2d(1, 2**63)),
    ("wmmse", "max_iter", lambda: W.wmmse(siso(), max_iter=2**63)),
    ("wmmse", "max_iter", lambda: W.wmmse(siso(), max_iter=2**40)),
    ("wmmse_miso", "max_iter", lambda: W.wmmse_miso(miso(), max_iter=2**63)),
], ids=lambda c: f"{c[0]}-{c[1]}")
def test_huge_counts_are_clear_errors(case):
    """Counts that would overflow allocation (K, batch, iterations = 2^63, 2^40) -> clear errors
    naming the function and the count."""
    fn, arg, call = case
    with pytest.raises((ValueError, RuntimeError), match=rf"pyalgo\.wireless\.{fn}: .*{arg}"):
        call()


# ---- anything else: extreme but valid inputs --------------------------------------------------------

def test_extreme_valid_inputs():
    """Zero channels, K = 1, huge gains (1e300 in float64) and tiny ones: finite, right answers."""
    Z = torch.zeros(2, 3, 3, dtype=torch.float64)
    assert torch.equal(W.wmmse(Z), torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(W.sum_rate(Z, torch.ones(2, 3, dtype=torch.float64)), torch.zeros(2, dtype=torch.float64))
    one = torch.full((5, 1, 1), 3.0, dtype=torch.float64)
    assert torch.equal(W.wmmse(one, p_max=2.0), torch.full((5, 1), 2.0, dtype=torch.float64))
    big = siso() * 1e300
    p = W.wmmse(big, noise=1e300)
    assert torch.allclose(p, W.wmmse(siso()), rtol=1e-9)
    tiny = siso() * 1e-300
    p = W.wmmse(tiny, noise=1e-300)
    assert torch.allclose(p, W.wmmse(siso()), rtol=1e-9)
    rate = W.sum_rate(big, torch.ones(4, 3, dtype=torch.float64), noise=1e300)
    assert torch.allclose(rate, W.sum_rate(siso(), torch.ones(4, 3, dtype=torch.float64)), rtol=1e-12)


def test_reduced_precision_channels_are_refused():
    for dt in (torch.float16, torch.bfloat16):
        with pytest.raises(TypeError, match=r"pyalgo\.wireless\.wmmse: H must be float32 or float64"):
            W.wmmse(siso().to(dt))
        with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate: H must be float32 or float64"):
            ops.siso_rates(siso().to(dt), torch.ones(4, 3, dtype=dt), torch.ones(4, 3, dtype=dt))
