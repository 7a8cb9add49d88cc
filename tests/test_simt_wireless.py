"""The wireless CUDA kernels (csrc/wireless/wireless_kernels.cu) under the SIMT emulator, against the
CPU launcher on the same inputs: every op, float32 and float64, shapes that hit every path of the
launchers (warp segments of 1..32 lanes with tails, block teams with and without staged gains, the
256-thread cap, the K limit of the glue, several blocks and tails of the per-user kernels, B = 0),
and the C++ argument checks of the shared glue (wireless_ops.h / wireless_cuda.cpp).

Bounds. MISO (one thread per instance or user, the serial bodies of miso.h on both sides) and SISO
with K = 1 (no sums) are compared bitwise. Everything else sums in a different order on the two
sides: the CPU launcher vectorises the interference sums (`omp simd` reductions, and a transposed
gain matrix for WMMSE) while a kernel lane adds serially, and a team adds its lanes' partial
objectives in a butterfly / per warp. Those comparisons allow `n` ulps, or `n` eps of the largest
magnitude of the compared tensor (for entries that cancel towards 0), with n measured (worst seen
in brackets) and a margin.

Every output is allocated with torch's deterministic fill (NaN), so an entry a kernel does not
write (a missed tail or segment) fails the comparison.
"""
import pytest
import torch

from simt.compare import assert_close_or_ulp, assert_ulp

pytestmark = pytest.mark.simt

DTYPES = [torch.float32, torch.float64]
COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}
# The CUDA glue's K limit of wmmse_siso: 8 state vectors and 32 partial sums in 48 KiB.
K_LIMIT = {torch.float32: 1532, torch.float64: 764}


@pytest.fixture(autouse=True)
def nan_filled_outputs(one_thread):
    """at::empty fills with NaN while deterministic algorithms are on (both launchers). One torch
    thread: the CPU launcher's results do not depend on it, and ThreadSanitizer cannot see OpenMP's
    barriers (it reports false races inside at::parallel_for otherwise)."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def cpu():
    import pyalgo._ext  # noqa: F401

    return torch.ops.pyalgo


def launched(simt, kernels, fn):
    """Runs fn(), which must launch every kernel in `kernels` at least once; returns its result."""
    before = {k: simt.simt_launch_count(k) for k in kernels}
    out = fn()
    for k in kernels:
        assert simt.simt_launch_count(k) > before[k], f"{k} was not launched"
    return out


def eps(dtype):
    return torch.finfo(dtype).eps


def close(actual, expected, n, what):
    """Within n ulps, or within n eps of the largest |expected| (entries that cancel towards 0)."""
    if not (actual.is_floating_point() or actual.is_complex()):
        return exact(actual, expected, what)
    if actual.is_complex():
        actual, expected = torch.view_as_real(actual), torch.view_as_real(expected)
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    assert_close_or_ulp(actual, expected, n, n * eps(expected.dtype) * scale, what)


def exact(actual, expected, what):
    if not (actual.is_floating_point() or actual.is_complex()):
        assert torch.equal(actual, expected), what
        return
    if actual.is_complex():
        actual, expected = torch.view_as_real(actual), torch.view_as_real(expected)
    assert_ulp(actual, expected, 0, what)


# ---- inputs ------------------------------------------------------------------------------------

def siso_inputs(B, K, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    gains = torch.empty(B, K, K, dtype=dtype).exponential_(generator=g)  # Rayleigh power gains
    p_max = 0.5 + torch.rand(B, K, generator=g, dtype=dtype)
    noise = 0.05 + torch.rand(B, K, generator=g, dtype=dtype)
    weights = 0.2 + torch.rand(B, K, generator=g, dtype=dtype)
    p_init = torch.rand(B, K, generator=g, dtype=dtype) * p_max
    return gains, p_max, noise, weights, p_init


def miso_inputs(B, K, N, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    cdt = COMPLEX[dtype]
    H = torch.randn(B, K, N, generator=g, dtype=cdt)
    p_max = 1 + torch.rand(B, generator=g, dtype=dtype)
    noise = 0.05 + torch.rand(B, K, generator=g, dtype=dtype)
    weights = 0.2 + torch.rand(B, K, generator=g, dtype=dtype)
    V = 0.3 * torch.randn(B, K, N, generator=g, dtype=cdt)
    return H, p_max, noise, weights, V


def upstream(B, K, dtype, seed=1):
    return torch.randn(B, K, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def width(K):
    w = 1
    while w < K:
        w *= 2
    return w


def staged(K, dtype):
    """Whether the block kernel stages the gains: state vectors, partials and K x (K+1) gains fit 48 KiB."""
    size = torch.finfo(dtype).bits // 8
    return (32 + 8 * K + K * (K + 1)) * size <= 48 * 1024


WARP = "wmmse_siso_warp_kernel"
BLOCK = "wmmse_siso_block_kernel"
SISO_OUT = ("p", "u", "w", "iterations", "objective", "trajectory")


# ---- WMMSE SISO --------------------------------------------------------------------------------
# Warp segments: K -> width next_pow2(K), 128 / width instances per block; B leaves the last block
# with missing segments (B not a multiple of 128 / width) and gives >= 2 blocks.
WARP_CASES = [(1, 130), (2, 70), (3, 35), (5, 18), (8, 17), (9, 10), (16, 9), (17, 5), (31, 6), (32, 5)]
# Block teams: (K, B). 33 / 64 / 100 / 120: staged or not depending on the dtype (see `staged`);
# 300: lanes loop over users, 256-thread cap.
BLOCK_CASES = [(33, 3), (64, 2), (100, 1), (120, 1), (300, 1)]


def check_siso_fixed(simt, B, K, dtype, kernel, max_iter, n):
    """tol = 0: exactly max_iter updates on both sides, every iterate recorded."""
    args = siso_inputs(B, K, dtype, seed=K)
    got = launched(simt, [kernel], lambda: simt.wmmse_siso(*args, max_iter, 0.0, True))
    want = cpu().wmmse_siso(*args, max_iter, 0.0, True)
    assert (got[3] == max_iter).all() and torch.equal(got[3], want[3]), f"iterations K={K} B={B}: {got[3]}"
    for name, a, b in zip(SISO_OUT, got, want):
        if name == "iterations":
            continue
        if K == 1:  # no sums: the same arithmetic on both sides
            exact(a, b, f"wmmse_siso {name} K={K} B={B}")
        else:
            close(a, b, n, f"wmmse_siso {name} K={K} B={B}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("K,B", WARP_CASES, ids=[f"K{k}-B{b}-w{width(k)}" for k, b in WARP_CASES])
def test_wmmse_siso_warp_segments(simt, K, B, dtype):
    # 4 updates, team vs vectorised sums: measured <= 7.4 (ulps, or eps of max|.|).
    check_siso_fixed(simt, B, K, dtype, WARP, 4, 32)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("K,B", BLOCK_CASES, ids=[f"K{k}-B{b}" for k, b in BLOCK_CASES])
def test_wmmse_siso_block_team(simt, K, B, dtype):
    # 3 updates, block vs vectorised sums: measured <= 6.1 (ulps, or eps of max|.|).
    check_siso_fixed(simt, B, K, dtype, BLOCK, 3, 32)


def test_cases_cover_every_launch_path():
    for K, B in WARP_CASES:  # >= 2 blocks, the last one with missing segments
        per_block = 128 // width(K)
        assert B > per_block and B % per_block != 0, (K, B)
    assert {width(K) for K, _ in WARP_CASES} == {1, 2, 4, 8, 16, 32}
    for dtype in DTYPES:
        flags = {staged(K, dtype) for K, _ in BLOCK_CASES}
        assert flags == {True, False}, dtype
    assert max(K for K, _ in BLOCK_CASES) > 256


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_wmmse_siso_at_the_cuda_k_limit(simt, dtype):
    # The largest K the glue allows: 8 K + 32 entries of dynamic shared memory are exactly 48 KiB.
    K = K_LIMIT[dtype]
    args = siso_inputs(1, K, dtype)
    got = launched(simt, [BLOCK], lambda: simt.wmmse_siso(*args, 1, 0.0, True))
    want = cpu().wmmse_siso(*args, 1, 0.0, True)
    for name, a, b in zip(SISO_OUT, got, want):
        close(a, b, 128, f"wmmse_siso {name} K={K}")  # 1532-term sums in another order: measured <= 27.7


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_wmmse_siso_one_above_the_cuda_k_limit_raises(simt, dtype):
    K = K_LIMIT[dtype] + 1
    args = siso_inputs(1, K, dtype)
    before = simt.simt_launch_count(BLOCK)
    with pytest.raises(RuntimeError, match=rf"pyalgo\.wireless\.wmmse: on CUDA K must be at most {K - 1} for this "
                                           rf"dtype, got {K}"):
        simt.wmmse_siso(*args, 1, 0.0, False)
    assert simt.simt_launch_count(BLOCK) == before
    cpu().wmmse_siso(*args, 1, 0.0, False)  # the CPU launcher has no such limit


# Convergence (tol > 0): the two sides must stop after the same number of updates. The objective
# differs by a few ulps (team vs serial sum), so tol is far above it: 1e-3 (float32) / 1e-6.
CONVERGE = [(1, 130, WARP), (5, 18, WARP), (16, 9, WARP), (32, 5, WARP), (33, 3, BLOCK), (100, 1, BLOCK)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("K,B,kernel", CONVERGE, ids=[f"K{k}-B{b}" for k, b, _ in CONVERGE])
def test_wmmse_siso_converges_alike(simt, K, B, kernel, dtype):
    tol = 1e-3 if dtype == torch.float32 else 1e-6
    args = siso_inputs(B, K, dtype, seed=100 + K)
    got = launched(simt, [kernel], lambda: simt.wmmse_siso(*args, 40, tol, False))
    want = cpu().wmmse_siso(*args, 40, tol, False)
    assert torch.equal(got[3], want[3]), "iteration counts differ"
    assert (got[3] < 40).any(), "no instance converged: the test does not exercise the stop rule"
    assert got[4].shape == (B, 0) and got[5].shape == (B, 0, K)
    for name, a, b in zip(SISO_OUT[:3], got, want):
        # Converged states (a fixed point damps the per-update differences): measured <= 4.2.
        if K == 1:
            exact(a, b, f"wmmse_siso {name} K={K}")
        else:
            close(a, b, 32, f"wmmse_siso {name} K={K}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_wmmse_siso_empty(simt, dtype):
    for B, K in [(0, 5), (0, 40), (3, 0)]:
        args = siso_inputs(B, K, dtype)
        before = {k: simt.simt_launch_count(k) for k in (WARP, BLOCK)}
        got = simt.wmmse_siso(*args, 3, 0.0, True)
        assert {k: simt.simt_launch_count(k) for k in (WARP, BLOCK)} == before, "a launch with an empty grid"
        shapes = [(B, K), (B, K), (B, K), (B,), (B, 4), (B, 4, K)]
        assert [tuple(t.shape) for t in got] == shapes
        assert (got[3] == 0).all()
        # The objective of no users is 0 (it was returned uninitialised: NaN here).
        assert torch.equal(got[4], torch.zeros(B, 4, dtype=dtype))


# ---- SISO rates and their gradient ------------------------------------------------------------
# (B, K): B * K users in 128-thread blocks: one partial block, several blocks with a tail, K = 1.
RATE_CASES = [(1, 1), (3, 5), (300, 1), (7, 37), (2, 100), (1, 300)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B,K", RATE_CASES, ids=[f"B{b}-K{k}" for b, k in RATE_CASES])
def test_siso_rates(simt, B, K, dtype):
    G, _, noise, _, p = siso_inputs(B, K, dtype, seed=B + K)
    got, got_interference = launched(simt, ["siso_rates_kernel"], lambda: simt.siso_rates(G, p, noise))
    want, want_interference = cpu().siso_rates(G, p, noise)
    if K <= 2:  # at most one interference term: no order to differ
        exact(got, want, "siso_rates")
        exact(got_interference, want_interference, "siso_rates interference")
    else:
        assert_ulp(got, want, 16, "siso_rates")  # vectorised vs serial interference sum: measured <= 9 ulp
        assert_ulp(got_interference, want_interference, 16, "siso_rates interference")


@pytest.mark.parametrize("gains_grad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B,K", RATE_CASES, ids=[f"B{b}-K{k}" for b, k in RATE_CASES])
def test_siso_rates_backward(simt, B, K, dtype, gains_grad):
    G, _, noise, _, p = siso_inputs(B, K, dtype, seed=B + K)
    grad = upstream(B, K, dtype)
    kernels = ["siso_rate_coef_kernel", "siso_rate_grad_kernel"]
    # Each side from its own forward's interference, as in sum_rate's autograd.
    interference = simt.siso_rates(G, p, noise)[1]
    got = launched(simt, kernels, lambda: simt.siso_rates_backward(G, p, noise, interference, grad, gains_grad))
    want = cpu().siso_rates_backward(G, p, noise, cpu().siso_rates(G, p, noise)[1], grad, gains_grad)
    assert got[0].shape == ((B, K, K) if gains_grad else (0,))
    for name, a, b in zip(("grad_gains", "grad_p", "grad_noise"), got, want):
        if K <= 2:
            exact(a, b, f"siso_rates_backward {name}")
        else:
            # Sums in another order; grad_p adds terms of both signs (cancels towards 0): measured <= 6.2.
            close(a, b, 32, f"siso_rates_backward {name}")


def test_siso_rates_empty(simt):
    for B, K in [(0, 4), (4, 0)]:
        G, _, noise, _, p = siso_inputs(B, K, torch.float64)
        before = simt.simt_launch_count("siso_rates_kernel"), simt.simt_launch_count("siso_rate_coef_kernel")
        assert [tuple(t.shape) for t in simt.siso_rates(G, p, noise)] == [(B, K), (B, K)]
        out = simt.siso_rates_backward(G, p, noise, noise, upstream(B, K, torch.float64), True)
        assert [tuple(t.shape) for t in out] == [(B, K, K), (B, K), (B, K)]
        after = simt.simt_launch_count("siso_rates_kernel"), simt.simt_launch_count("siso_rate_coef_kernel")
        assert after == before


# ---- MISO: one thread per instance / user, bitwise ------------------------------------------------
MISO_OUT = ("v", "u", "w", "iterations", "objective", "trajectory")
# (B, K, N): 130 instances = two blocks of 128 threads, the second with 2.
MISO_CASES = [(1, 1, 1), (3, 2, 3), (130, 3, 2), (5, 4, 4), (2, 6, 3)]


@pytest.mark.parametrize("record", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B,K,N", MISO_CASES, ids=[f"B{b}-K{k}-N{n}" for b, k, n in MISO_CASES])
def test_wmmse_miso(simt, B, K, N, dtype, record):
    args = miso_inputs(B, K, N, dtype, seed=B * K * N)
    for max_iter, tol in [(3, 0.0), (25, 1e-4)]:
        got = launched(simt, ["wmmse_miso_kernel"], lambda: simt.wmmse_miso(*args, max_iter, tol, 1e-4, record))
        want = cpu().wmmse_miso(*args, max_iter, tol, 1e-4, record)
        for name, a, b in zip(MISO_OUT, got, want):
            if name == "iterations":
                assert torch.equal(a, b)
            else:
                exact(a, b, f"wmmse_miso {name} tol={tol}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B,K,N", [(1, 1, 1), (3, 2, 3), (45, 3, 2), (2, 70, 2)])
def test_miso_rates_and_backward(simt, B, K, N, dtype):
    # 45 x 3 = 135 and 2 x 70 = 140 users: two blocks of 128, the second partial.
    H, _, noise, _, V = miso_inputs(B, K, N, dtype, seed=B + K + N)
    got = launched(simt, ["miso_rates_kernel"], lambda: simt.miso_rates(H, V, noise))
    exact(got, cpu().miso_rates(H, V, noise), "miso_rates")
    grad = upstream(B, K, dtype)
    for channels_grad in (True, False):
        got = launched(simt, ["miso_rate_coef_kernel", "miso_rate_grad_kernel"],
                       lambda: simt.miso_rates_backward(H, V, noise, grad, channels_grad))
        want = cpu().miso_rates_backward(H, V, noise, grad, channels_grad)
        assert got[0].shape == ((B, K, N) if channels_grad else (0,))
        for name, a, b in zip(("grad_channels", "grad_v", "grad_noise"), got, want):
            exact(a, b, f"miso_rates_backward {name}")


def test_miso_empty(simt):
    dt = torch.float64
    kernels = ("wmmse_miso_kernel", "miso_rates_kernel", "miso_rate_coef_kernel")
    for B, K, N in [(0, 3, 2), (3, 0, 2)]:
        H, p_max, noise, weights, V = miso_inputs(B, K, N, dt)
        before = [simt.simt_launch_count(k) for k in kernels]
        got = simt.wmmse_miso(H, p_max, noise, weights, V, 3, 0.0, 1e-4, True)
        assert [tuple(t.shape) for t in got] == [(B, K, N), (B, K), (B, K), (B,), (B, 4), (B, 4, K, N)]
        assert torch.equal(got[4], torch.zeros(B, 4, dtype=dt))  # was uninitialised for K = 0
        assert simt.miso_rates(H, V, noise).shape == (B, K)
        simt.miso_rates_backward(H, V, noise, upstream(B, K, dt), True)
        assert [simt.simt_launch_count(k) for k in kernels] == before
    # N = 0: no antennas, zero rates and gradients, nothing launched.
    H, _, noise, _, V = miso_inputs(2, 3, 0, dt)
    assert torch.equal(simt.miso_rates(H, V, noise), torch.zeros(2, 3, dtype=dt))
    out = simt.miso_rates_backward(H, V, noise, upstream(2, 3, dt), True)
    assert torch.equal(out[2], torch.zeros(2, 3, dtype=dt))


# ---- argument checks of the shared glue (a direct torch.ops call must raise, not crash) -----------

def test_wmmse_siso_argument_checks(simt):
    dt = torch.float64
    G, p_max, noise, weights, p = siso_inputs(2, 3, dt)
    ok = (G, p_max, noise, weights, p)
    fn = r"pyalgo\.wireless\.wmmse: "
    for max_iter in (0, -1, 2**24 + 1):
        with pytest.raises(RuntimeError, match=fn + r"max_iter must be in \[1, 2\^24\]"):
            simt.wmmse_siso(*ok, max_iter, 0.0, False)
    for tol in (float("nan"), float("inf")):
        with pytest.raises(RuntimeError, match=fn + "tol must be finite"):
            simt.wmmse_siso(*ok, 5, tol, False)
    with pytest.raises(RuntimeError, match=fn + r"H must have shape \(B, K, K\)"):
        simt.wmmse_siso(G[0], p_max, noise, weights, p, 5, 0.0, False)
    with pytest.raises(RuntimeError, match=fn + "H must be square"):
        simt.wmmse_siso(G[:, :, :2], p_max, noise, weights, p, 5, 0.0, False)
    with pytest.raises(RuntimeError, match=fn + "H must be float32 or float64"):
        simt.wmmse_siso(G.half(), p_max, noise, weights, p, 5, 0.0, False)
    for i, name in enumerate(("p_max", "noise", "weights", "p_init")):
        bad = list(ok)
        bad[i + 1] = ok[i + 1][:, :2]
        with pytest.raises(RuntimeError, match=fn + name + " must have shape"):
            simt.wmmse_siso(*bad, 5, 0.0, False)
        bad[i + 1] = ok[i + 1].float()
        with pytest.raises(RuntimeError, match=fn + name + " must have dtype"):
            simt.wmmse_siso(*bad, 5, 0.0, False)


def test_rates_argument_checks(simt):
    dt = torch.float64
    G, _, noise, _, p = siso_inputs(2, 3, dt)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate: p must have shape"):
        simt.siso_rates(G, p[:1], noise)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_backward: grad must have shape"):
        simt.siso_rates_backward(G, p, noise, noise, p[:, :1], True)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_backward: interference must have shape"):
        simt.siso_rates_backward(G, p, noise, p[:, :1], p, True)
    H, _, noise_m, _, V = miso_inputs(2, 3, 4, dt)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso: V must have shape"):
        simt.miso_rates(H, V[:, :, :2], noise_m)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso: H must be complex64 or complex128"):
        simt.miso_rates(H.real, V, noise_m)
    with pytest.raises(RuntimeError, match=r"pyalgo\.wireless\.sum_rate_miso_backward: grad must have dtype"):
        simt.miso_rates_backward(H, V, noise_m, upstream(2, 3, torch.float32), False)
    # Sizes the kernels' int indices could not hold, on tensors with no elements.
    e = torch.empty(1, 0, dtype=dt)
    with pytest.raises(RuntimeError, match=r"sum_rate_miso: H has too many users \(K = 1048577\)"):
        simt.miso_rates(torch.empty(1, 2**20 + 1, 0, dtype=torch.complex128),
                        torch.empty(1, 2**20 + 1, 0, dtype=torch.complex128), torch.empty(1, 2**20 + 1, dtype=dt))
    with pytest.raises(RuntimeError, match=r"sum_rate_miso_backward: H has too many antennas \(N = 1048577\)"):
        z = torch.empty(1, 0, 2**20 + 1, dtype=torch.complex128)
        simt.miso_rates_backward(z, z, e, e, True)


def test_wmmse_miso_argument_checks(simt):
    dt = torch.float64
    H, p_max, noise, weights, V = miso_inputs(2, 3, 2, dt)
    ok = (H, p_max, noise, weights, V)
    fn = r"pyalgo\.wireless\.wmmse_miso: "
    for bt in (0.0, 1.0, -0.5, float("nan")):
        with pytest.raises(RuntimeError, match=fn + r"bisection_tol must be in \(0, 1\)"):
            simt.wmmse_miso(*ok, 5, 0.0, bt, False)
    for max_iter in (0, 2**24 + 1):
        with pytest.raises(RuntimeError, match=fn + "max_iter must be in"):
            simt.wmmse_miso(*ok, max_iter, 0.0, 1e-4, False)
    with pytest.raises(RuntimeError, match=fn + "tol must be finite"):
        simt.wmmse_miso(*ok, 5, float("-inf"), 1e-4, False)
    for N in (0, 4097):
        Hn, p_max_n, noise_n, weights_n, Vn = miso_inputs(1, 1, N, dt)
        with pytest.raises(RuntimeError, match=fn + f"H must have 1 to 4096 antennas, got {N}"):
            simt.wmmse_miso(Hn, p_max_n, noise_n, weights_n, Vn, 5, 0.0, 1e-4, False)
    with pytest.raises(RuntimeError, match=fn + r"p_max must have shape \[2\]"):
        simt.wmmse_miso(H, noise, noise, weights, V, 5, 0.0, 1e-4, False)
    with pytest.raises(RuntimeError, match=fn + "v_init must have dtype"):
        simt.wmmse_miso(H, p_max, noise, weights, V.to(torch.complex64), 5, 0.0, 1e-4, False)


# ---- one small case per __global__ kernel (imported by test_simt.py) ------------------------------

def _siso_case(K, B):
    def case(simt):
        check_siso_fixed(simt, B, K, torch.float64, WARP if K <= 32 else BLOCK, 2, 32)
    return case


def _siso_rates_case(simt):
    G, _, noise, _, p = siso_inputs(3, 5, torch.float64)
    for a, b in zip(simt.siso_rates(G, p, noise), cpu().siso_rates(G, p, noise)):
        assert_ulp(a, b, 16, "siso_rates")


def _siso_backward_case(simt):
    G, _, noise, _, p = siso_inputs(3, 5, torch.float64)
    grad = upstream(3, 5, torch.float64)
    got = simt.siso_rates_backward(G, p, noise, simt.siso_rates(G, p, noise)[1], grad, True)
    for a, b in zip(got, cpu().siso_rates_backward(G, p, noise, cpu().siso_rates(G, p, noise)[1], grad, True)):
        close(a, b, 32, "siso_rates_backward")


def _wmmse_miso_case(simt):
    args = miso_inputs(3, 2, 3, torch.float64)
    got, want = simt.wmmse_miso(*args, 3, 0.0, 1e-4, True), cpu().wmmse_miso(*args, 3, 0.0, 1e-4, True)
    assert torch.equal(got[3], want[3])
    for name, a, b in zip(MISO_OUT, got, want):
        if name != "iterations":
            exact(a, b, f"wmmse_miso {name}")


def _miso_rates_case(simt):
    H, _, noise, _, V = miso_inputs(3, 2, 3, torch.float64)
    exact(simt.miso_rates(H, V, noise), cpu().miso_rates(H, V, noise), "miso_rates")


def _miso_backward_case(simt):
    H, _, noise, _, V = miso_inputs(3, 2, 3, torch.float64)
    grad = upstream(3, 2, torch.float64)
    for a, b in zip(simt.miso_rates_backward(H, V, noise, grad, True), cpu().miso_rates_backward(H, V, noise, grad, True)):
        exact(a, b, "miso_rates_backward")


REPRESENTATIVE = {
    "wmmse_siso_warp_kernel": _siso_case(5, 18),
    "wmmse_siso_block_kernel": _siso_case(40, 1),
    "siso_rates_kernel": _siso_rates_case,
    "siso_rate_coef_kernel": _siso_backward_case,
    "siso_rate_grad_kernel": _siso_backward_case,
    "wmmse_miso_kernel": _wmmse_miso_case,
    "miso_rates_kernel": _miso_rates_case,
    "miso_rate_coef_kernel": _miso_backward_case,
    "miso_rate_grad_kernel": _miso_backward_case,
}


def test_every_wireless_kernel_has_a_representative_case(simt):
    from simt.emulator import CU_FILES, kernels_in

    assert sorted(REPRESENTATIVE) == kernels_in(CU_FILES["wireless"])
    for kernel, case in REPRESENTATIVE.items():
        launched(simt, [kernel], lambda: case(simt))
