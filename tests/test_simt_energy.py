"""The energy kernels (csrc/energy/energy_kernels.cu) under the SIMT emulator, compared with the CPU
launcher (torch.ops.pyalgo) on the same inputs and seed.

Samplers: bitwise. Losses: the emulated kernels build the byte table by another summation order
(or sum the unary energy bit by bit when the tables do not fit), reduce the sample sums over a
warp butterfly and 4 warp partials instead of one serial sum, and (gradients) accumulate with
float atomics in the compute dtype in a schedule-dependent order where the CPU sums serially in
double; every bound below is measured over repeats (see BOUNDS) and says why.

Paths of energy_kernels.cu hit here: byte tables on (k small) and off (2·table > 24 KiB: k > 96 in
float, k > 48 in double); the pairwise accumulator in shared memory and in grad_U; the perms
accumulator in shared memory and in grad_theta; the shift pass (α = 1, g − τ far above 0); m < 128
(threads without samples), m > 128 not a multiple of 128; B > 1, B = 0, k = 1, n = 1, k = kMaxBits,
n = kMaxItems; and the largest layouts that still fit 48 KiB of shared memory. Proposal sampling:
both proposal samplers (bitwise samples), both losses with a proposal (tables on/off, shift pass,
n = kMaxItems, loss only, B = 0) and the poisoning of a row with a non-finite proposal.
"""
import re

import pytest
import torch

from simt.compare import assert_close_or_ulp, assert_ulp
from simt.emulator import CU_FILES

pytestmark = pytest.mark.simt

cpu = torch.ops.pyalgo
K_MAX, N_MAX = 4096, 256  # kMaxBits, kMaxItems (minmin.h)
F32, F64 = torch.float32, torch.float64

# Bounds (|Δ| <= atol·(1 + max|CPU value|), i.e. relative to the output's scale), measured over 5
# repeats of every case below; worst seen, f32 / f64: loss 4.4e-7 / 9.8e-16, grad_tau 6.9e-7 /
# 5.7e-16, gradients 8.3e-7 / 1.9e-15. Set ~10x above:
#   loss: the energies differ in the last bits (byte-table / bit-by-bit summation order) and the
#     sample sums are reduced in another order (warp butterfly + 4 warp partials vs serial).
#   grad_tau (= 1 − mean weight): the same causes.
#   gradients: accumulated in the compute dtype with atomics in a schedule-dependent order (the
#     CPU sums serially in double), so they also vary run to run within this bound.
BOUNDS = {
    F32: dict(loss_ulp=16, loss_atol=4e-6, tau_atol=4e-6, grad_atol=8e-6),
    F64: dict(loss_ulp=16, loss_atol=1e-14, tau_atol=1e-14, grad_atol=2e-14),
}


def seed_of(s):
    return torch.tensor([s, 1000 + s], dtype=torch.int64)


def launches(simt, name):
    return simt.simt_launch_count(name)


def bits_inputs(B, k, dtype, pairwise, seed=0, tau_shift=0.0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, k, generator=g, dtype=F64) / max(1.0, k ** 0.5)
    U = None
    if pairwise:
        U = torch.randn(B, k, k, generator=g, dtype=F64) / k
        U = 0.5 * (U + U.transpose(1, 2))
    y = (torch.rand(B, k, generator=g) < 0.4).to(F64)
    tau = torch.randn(B, generator=g, dtype=F64) * 0.3 + tau_shift
    cast = (lambda t: None if t is None else t.to(dtype))
    return cast(u), cast(U), cast(tau), cast(y)


def perms_inputs(B, n, birkhoff, dtype, seed=0, tau_shift=0.0):
    g = torch.Generator().manual_seed(seed)
    shape = (B, n, n) if birkhoff else (B, n)
    theta = torch.randn(*shape, generator=g, dtype=F64) / (n if not birkhoff else max(1.0, n ** 0.5))
    y = torch.stack([torch.randperm(n, generator=g) for _ in range(B)]) if B else torch.zeros(0, n, dtype=torch.long)
    tau = torch.randn(B, generator=g, dtype=F64) * 0.3 + tau_shift
    return theta.to(dtype), tau.to(dtype), y


def compare_outputs(sim, ref, dtype, what):
    b = BOUNDS[dtype]
    loss_s, loss_c = sim[0], ref[0]
    assert loss_s.shape == loss_c.shape and loss_s.dtype == loss_c.dtype
    tol = b["loss_atol"] * (1 + float(loss_c.abs().max())) if loss_c.numel() else 0.0
    assert_close_or_ulp(loss_s, loss_c, b["loss_ulp"], tol, f"{what}: loss")
    for i, (gs, gc) in enumerate(zip(sim[1:], ref[1:])):
        assert gs.shape == gc.shape, (what, i, gs.shape, gc.shape)
        if gs.numel() == 0:
            continue
        last = i == len(sim) - 2  # grad_tau
        atol = b["tau_atol"] if last else b["grad_atol"]
        scale = 1 + float(gc.abs().max())
        assert_close_or_ulp(gs, gc, 0, atol * scale, f"{what}: output {i + 1}")


def run_bits(simt, B, k, dtype, pairwise, m, alpha, grad, seed=0, tau_shift=0.0):
    u, U, tau, y = bits_inputs(B, k, dtype, pairwise, seed, tau_shift)
    s = seed_of(seed)
    before = launches(simt, "minmin_bits_kernel")
    sim = simt.minmin_bits(u, U, tau, y, m, alpha, grad, s)
    assert launches(simt, "minmin_bits_kernel") == before + (1 if B > 0 else 0)
    ref = cpu.minmin_bits(u, U, tau, y, m, alpha, grad, s)
    compare_outputs(sim, ref, dtype, f"bits B={B} k={k} {dtype} pairwise={pairwise} m={m} alpha={alpha} grad={grad}")
    return sim, ref


def run_perms(simt, B, n, birkhoff, dtype, m, alpha, grad, seed=0, tau_shift=0.0):
    theta, tau, y = perms_inputs(B, n, birkhoff, dtype, seed, tau_shift)
    s = seed_of(seed)
    before = launches(simt, "minmin_perms_kernel")
    sim = simt.minmin_perms(theta, tau, y, m, alpha, grad, s)
    assert launches(simt, "minmin_perms_kernel") == before + (1 if B > 0 else 0)
    ref = cpu.minmin_perms(theta, tau, y, m, alpha, grad, s)
    compare_outputs(sim, ref, dtype, f"perms B={B} n={n} birkhoff={birkhoff} {dtype} m={m} alpha={alpha} grad={grad}")
    return sim, ref


# ---- samplers: bitwise ---------------------------------------------------------------------------

@pytest.mark.parametrize("B,m,k", [(1, 1, 1), (3, 50, 5), (2, 300, 32), (2, 129, 33), (2, 3, K_MAX), (0, 4, 7)])
def test_sample_bits_bitwise(simt, B, m, k):
    s = seed_of(k)
    before = launches(simt, "sample_bits_kernel")
    got = simt.energy_sample_bits(s, B, m, k)
    assert launches(simt, "sample_bits_kernel") == before + (1 if B > 0 else 0)
    want = cpu.energy_sample_bits(s, B, m, k)
    assert got.shape == want.shape == (B, m, k) and got.dtype == torch.uint8
    assert torch.equal(got, want)


@pytest.mark.parametrize("B,m,n", [(1, 1, 1), (3, 50, 2), (2, 300, 7), (2, 5, N_MAX), (0, 4, 7)])
def test_sample_perms_bitwise(simt, B, m, n):
    s = seed_of(n)
    before = launches(simt, "sample_perms_kernel")
    got = simt.energy_sample_perms(s, B, m, n)
    assert launches(simt, "sample_perms_kernel") == before + (1 if B > 0 else 0)
    want = cpu.energy_sample_perms(s, B, m, n)
    assert got.shape == want.shape == (B, m, n) and got.dtype == torch.int64
    assert torch.equal(got, want)
    if B:
        assert torch.equal(got.sort(-1).values, torch.arange(n).expand(B, m, n))


# ---- minmin_bits -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("pairwise", [False, True], ids=["unary", "pairwise"])
@pytest.mark.parametrize("grad", [False, True], ids=["loss", "grad"])
def test_minmin_bits_small(simt, dtype, alpha, pairwise, grad):
    # Byte tables on, pairwise accumulator in shared memory, m > 128 and not a multiple of 128.
    run_bits(simt, 3, 13, dtype, pairwise, 293, alpha, grad)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", [
    dict(B=2, k=100, m=150),              # tables off (both dtypes); f32: U shared, f64: U in grad_U
    dict(B=2, k=88, m=150),               # f32: tables on, U in grad_U; f64: tables off, U in grad_U
    dict(B=2, k=9, m=50),                 # m < 128: threads without samples
    dict(B=3, k=1, m=40),                 # k = 1
    dict(B=2, k=20, m=200, tau_shift=-800.0),  # α = 1: g − τ far above the shift limit (float and double)
], ids=["k100", "k88", "m50", "k1", "shift"])
@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_minmin_bits_paths(simt, dtype, case, alpha):
    case = dict(case)
    run_bits(simt, case.pop("B"), case.pop("k"), dtype, True, case.pop("m"), alpha, True, **case)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5])
def test_minmin_bits_kmax(simt, dtype, alpha):
    # k = kMaxBits: tables off, k label accumulators in shared memory (pairwise would be 64 MiB).
    run_bits(simt, 2, K_MAX, dtype, False, 40, alpha, True)


def test_minmin_bits_batch_zero(simt):
    for dtype in (F32, F64):
        for pairwise in (False, True):
            sim, ref = run_bits(simt, 0, 6, dtype, pairwise, 10, 1.0, True)
            assert [t.shape for t in sim] == [t.shape for t in ref]


# ---- minmin_perms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("birkhoff", [False, True], ids=["permutahedron", "birkhoff"])
@pytest.mark.parametrize("grad", [False, True], ids=["loss", "grad"])
def test_minmin_perms_small(simt, dtype, alpha, birkhoff, grad):
    run_perms(simt, 3, 7, birkhoff, dtype, 293, alpha, grad)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", [
    dict(B=2, n=N_MAX, birkhoff=False, m=60),     # n = kMaxItems, accumulator in shared memory
    dict(B=2, n=N_MAX, birkhoff=True, m=60),      # n = kMaxItems, Birkhoff: accumulator in grad_theta
    dict(B=2, n=111, birkhoff=True, m=60),        # just too large for shared memory in f32 and f64
    dict(B=2, n=6, birkhoff=True, m=50),          # m < 128
    dict(B=3, n=1, birkhoff=False, m=20),         # n = 1
    dict(B=3, n=1, birkhoff=True, m=20),
    dict(B=2, n=9, birkhoff=False, m=200, tau_shift=-800.0),  # the shift pass
], ids=["nmax", "nmax-birkhoff", "n111-birkhoff", "m50", "n1", "n1-birkhoff", "shift"])
@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_minmin_perms_paths(simt, dtype, case, alpha):
    case = dict(case)
    run_perms(simt, case.pop("B"), case.pop("n"), case.pop("birkhoff"), dtype, case.pop("m"), alpha, True, **case)


def test_minmin_perms_batch_zero(simt):
    for dtype in (F32, F64):
        for birkhoff in (False, True):
            sim, ref = run_perms(simt, 0, 5, birkhoff, dtype, 10, 1.0, True)
            assert [t.shape for t in sim] == [t.shape for t in ref]


# ---- shared memory: the largest layouts fit 48 KiB -----------------------------------------------------
# The emulator checks the dynamic shared memory of a launch against 48 KiB but cannot see static
# __shared__ arrays. The minmin kernels used to declare `__shared__ Sums<A> red[32]` (384 / 768
# bytes) on top of a dynamic budget of the whole 48 KiB, so f32 minmin_bits with pairwise
# gradients at k = 81 (48772 + 384 bytes) and k = 110 (48840 + 384) and f64 Birkhoff gradients at
# n = 78 (48672 + 768) exceeded 48 KiB on a GPU. Now every byte of shared memory is dynamic and
# sized by the launcher, so the emulator's limit covers it, and these boundary cases (the largest
# layouts the launcher still puts in shared memory, and one past them) must launch.

def test_energy_kernels_have_no_static_shared_memory():
    source = CU_FILES["energy"].read_text()
    code = re.sub(r"//[^\n]*", "", source)
    assert "__shared__" not in code, "static shared memory is invisible to the emulator's 48 KiB check"


@pytest.mark.parametrize("k", [81, 110, 111])
def test_minmin_bits_shared_boundary_f32(simt, k):
    run_bits(simt, 1, k, F32, True, 40, 1.0, True)


@pytest.mark.parametrize("n", [78, 79])
def test_minmin_perms_shared_boundary_f64(simt, n):
    run_perms(simt, 1, n, True, F64, 40, 1.0, True)


@pytest.mark.parametrize("k", [48, 77, 78])  # f64: largest table layout, largest shared-U layout, one past
def test_minmin_bits_shared_boundary_f64(simt, k):
    run_bits(simt, 1, k, F64, True, 40, 1.0, True)


# ---- determinism: the loss does not depend on the schedule ----------------------------------------

def test_loss_is_reproducible_and_gradient_within_bound(simt):
    # The loss and grad_tau come from a fixed reduction tree: bitwise equal run to run. The
    # gradients' atomics are schedule-dependent: equal within the gradient bound.
    u, U, tau, y = bits_inputs(2, 11, F32, True, seed=5)
    s = seed_of(5)
    first = simt.minmin_bits(u, U, tau, y, 300, 1.0, True, s)
    for _ in range(2):
        again = simt.minmin_bits(u, U, tau, y, 300, 1.0, True, s)
        assert_ulp(again[0], first[0], 0, "loss run to run")
        assert_ulp(again[3], first[3], 0, "grad_tau run to run")
        for a, b in zip(again[1:3], first[1:3]):
            assert_close_or_ulp(a, b, 0, BOUNDS[F32]["grad_atol"] * (1 + float(b.abs().max())), "grad run to run")


# ---- the C++ checks of a direct op call ----------------------------------------------------------

def test_direct_calls_are_checked(simt):
    u, U, tau, y = bits_inputs(2, 5, F32, True)
    s = seed_of(0)
    theta, ptau, py = perms_inputs(2, 4, False, F32)
    # New in energy_ops.h (shared with the CPU launcher, which gets it when the extension is
    # rebuilt): an alpha that overflows float32 would reach the kernels as inf.
    with pytest.raises(RuntimeError, match="alpha must be finite in float32"):
        simt.minmin_bits(u, U, tau, y, 10, 1e300, False, s)
    with pytest.raises(RuntimeError, match="alpha must be finite in float32"):
        simt.minmin_perms(theta, ptau, py, 10, 1e300, False, s)
    simt.minmin_bits(u.double(), U.double(), tau.double(), y.double(), 10, 1e300, False, s)  # fine in float64
    for ops in (simt, cpu):
        with pytest.raises(RuntimeError, match="alpha must be"):
            ops.minmin_bits(u, U, tau, y, 10, 0.5, False, s)
        with pytest.raises(RuntimeError, match="num_samples"):
            ops.minmin_bits(u, U, tau, y, 0, 1.0, False, s)
        with pytest.raises(RuntimeError, match="tau must have shape"):
            ops.minmin_bits(u, U, tau[:1], y, 10, 1.0, False, s)
        with pytest.raises(RuntimeError, match="y must have dtype"):
            ops.minmin_bits(u, U, tau, y.double(), 10, 1.0, False, s)
        with pytest.raises(RuntimeError, match="pairwise must have shape"):
            ops.minmin_bits(u, U[:, :4], tau, y, 10, 1.0, False, s)
        with pytest.raises(RuntimeError, match="k in"):
            ops.minmin_bits(torch.zeros(1, K_MAX + 1), None, torch.zeros(1), torch.zeros(1, K_MAX + 1), 10, 1.0,
                            False, s)
        with pytest.raises(RuntimeError, match="y must have dtype"):
            ops.minmin_perms(theta, ptau, py.int(), 10, 1.0, False, s)
        with pytest.raises(RuntimeError, match="theta must have n in"):
            ops.minmin_perms(torch.zeros(1, N_MAX + 1), torch.zeros(1), torch.zeros(1, N_MAX + 1, dtype=torch.long),
                             10, 1.0, False, s)
        with pytest.raises(RuntimeError, match="seed must be"):
            ops.minmin_perms(theta, ptau, py, 10, 1.0, False, s.int())


# ---- proposal sampling (Bernoulli / Plackett–Luce proposals, importance weights) -----------------------
# Samples: bitwise (the same thresholds/keys from the same host libm). Log weights: the same double
# arithmetic in the same order, so equal; compared to 1e-12 relative to allow for nothing but that.

def proposal_of(B, size, seed, scale=1.5):
    g = torch.Generator().manual_seed(100 + seed)
    return scale * torch.randn(B, size, generator=g, dtype=F64)


@pytest.mark.parametrize("B,m,k", [(1, 1, 1), (3, 50, 5), (2, 300, 33), (2, 3, K_MAX), (0, 4, 7)])
def test_sample_bits_proposal_bitwise(simt, B, m, k):
    s, a = seed_of(k), proposal_of(B, k, k)
    before = launches(simt, "sample_bits_proposal_kernel")
    got, got_w = simt.energy_sample_bits_proposal(s, a, m)
    assert launches(simt, "sample_bits_proposal_kernel") == before + (1 if B > 0 else 0)
    want, want_w = cpu.energy_sample_bits_proposal(s, a, m)
    assert got.shape == want.shape == (B, m, k) and got.dtype == torch.uint8 and got_w.shape == (B, m)
    assert torch.equal(got, want)
    torch.testing.assert_close(got_w, want_w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("B,m,n", [(1, 1, 1), (3, 50, 2), (2, 300, 7), (2, 5, N_MAX), (0, 4, 7)])
def test_sample_perms_proposal_bitwise(simt, B, m, n):
    s, sc = seed_of(n), proposal_of(B, n, n)
    before = launches(simt, "sample_perms_proposal_kernel")
    got, got_w = simt.energy_sample_perms_proposal(s, sc, m)
    assert launches(simt, "sample_perms_proposal_kernel") == before + (1 if B > 0 else 0)
    want, want_w = cpu.energy_sample_perms_proposal(s, sc, m)
    assert got.shape == want.shape == (B, m, n) and got.dtype == torch.int64
    assert torch.equal(got, want)
    torch.testing.assert_close(got_w, want_w, rtol=1e-12, atol=1e-12)
    if B:
        assert torch.equal(got.sort(-1).values, torch.arange(n).expand(B, m, n))


def run_bits_proposal(simt, B, k, dtype, pairwise, m, alpha, grad, seed=0, tau_shift=0.0):
    u, U, tau, y = bits_inputs(B, k, dtype, pairwise, seed, tau_shift)
    a, s = proposal_of(B, k, seed, 1.0), seed_of(seed)
    before = launches(simt, "minmin_bits_kernel")
    sim = simt.minmin_bits(u, U, tau, y, m, alpha, grad, s, a)
    assert launches(simt, "minmin_bits_kernel") == before + (1 if B > 0 else 0)
    ref = cpu.minmin_bits(u, U, tau, y, m, alpha, grad, s, a)
    compare_outputs(sim, ref, dtype, f"proposal bits B={B} k={k} {dtype} pairwise={pairwise} m={m} alpha={alpha}")
    return sim, ref


def run_perms_proposal(simt, B, n, birkhoff, dtype, m, alpha, grad, seed=0, tau_shift=0.0):
    theta, tau, y = perms_inputs(B, n, birkhoff, dtype, seed, tau_shift)
    sc, s = proposal_of(B, n, seed, 1.0), seed_of(seed)
    before = launches(simt, "minmin_perms_kernel")
    sim = simt.minmin_perms(theta, tau, y, m, alpha, grad, s, sc)
    assert launches(simt, "minmin_perms_kernel") == before + (1 if B > 0 else 0)
    ref = cpu.minmin_perms(theta, tau, y, m, alpha, grad, s, sc)
    compare_outputs(sim, ref, dtype, f"proposal perms B={B} n={n} birkhoff={birkhoff} {dtype} m={m} alpha={alpha}")
    return sim, ref


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("case", [
    dict(B=3, k=13, m=293, pairwise=True),     # tables on, U in shared memory
    dict(B=2, k=100, m=150, pairwise=True),    # tables off
    dict(B=2, k=9, m=50, pairwise=False),      # m < 128
    dict(B=2, k=20, m=200, pairwise=False, tau_shift=-800.0),  # α = 1: the shift pass
], ids=["k13", "k100", "m50", "shift"])
def test_minmin_bits_proposal(simt, dtype, alpha, case):
    case = dict(case)
    run_bits_proposal(simt, case.pop("B"), case.pop("k"), dtype, case.pop("pairwise"), case.pop("m"), alpha, True,
                      **case)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("case", [
    dict(B=3, n=7, birkhoff=False, m=293),
    dict(B=2, n=7, birkhoff=True, m=150),
    dict(B=2, n=N_MAX, birkhoff=False, m=30),   # n = kMaxItems: the insertion sort at full size
    dict(B=2, n=1, birkhoff=True, m=20),
    dict(B=2, n=9, birkhoff=False, m=200, tau_shift=-800.0),
], ids=["n7", "n7-birkhoff", "nmax", "n1", "shift"])
def test_minmin_perms_proposal(simt, dtype, alpha, case):
    case = dict(case)
    run_perms_proposal(simt, case.pop("B"), case.pop("n"), case.pop("birkhoff"), dtype, case.pop("m"), alpha, True,
                       **case)


def test_minmin_proposal_loss_only_and_batch_zero(simt):
    run_bits_proposal(simt, 2, 10, F32, True, 100, 1.0, False)
    run_perms_proposal(simt, 2, 6, True, F64, 100, 2.0, False)
    run_bits_proposal(simt, 0, 6, F64, True, 10, 1.0, True)
    run_perms_proposal(simt, 0, 5, False, F32, 10, 1.0, True)


def test_non_finite_proposal_poisons_the_row(simt):
    # The kernel cannot raise: the row's loss, grad_tau and gradients are NaN, the other rows finite.
    u, U, tau, y = bits_inputs(3, 6, F64, True, seed=3)
    a = proposal_of(3, 6, 3)
    a[1, 2] = float("nan")
    loss, g_u, g_U, g_t = simt.minmin_bits(u, U, tau, y, 50, 1.0, True, seed_of(3), a)
    assert torch.isnan(loss[1]) and torch.isnan(g_t[1]) and torch.isnan(g_u[1]).all() and torch.isnan(g_U[1]).all()
    assert torch.isfinite(loss[[0, 2]]).all() and torch.isfinite(g_u[[0, 2]]).all()
    with pytest.raises(RuntimeError, match="proposal must be finite"):
        cpu.minmin_bits(u, U, tau, y, 50, 1.0, True, seed_of(3), a)
    theta, ptau, py = perms_inputs(3, 5, False, F64, seed=3)
    sc = proposal_of(3, 5, 4)
    sc[2, 0] = float("inf")
    loss, g_th, g_t = simt.minmin_perms(theta, ptau, py, 50, 2.0, True, seed_of(3), sc)
    assert torch.isnan(loss[2]) and torch.isnan(g_th[2]).all() and torch.isfinite(loss[:2]).all()
    with pytest.raises(RuntimeError, match="proposal must be finite"):
        cpu.minmin_perms(theta, ptau, py, 50, 2.0, True, seed_of(3), sc)


def test_proposal_direct_calls_are_checked(simt):
    u, U, tau, y = bits_inputs(2, 5, F32, True)
    s = seed_of(0)
    for ops in (simt, cpu):
        with pytest.raises(RuntimeError, match="proposal must be float64"):
            ops.minmin_bits(u, U, tau, y, 10, 1.0, False, s, torch.zeros(2, 5))
        with pytest.raises(RuntimeError, match="proposal must have shape"):
            ops.minmin_bits(u, U, tau, y, 10, 1.0, False, s, torch.zeros(2, 4, dtype=F64))
        with pytest.raises(RuntimeError, match="proposal must have shape"):
            ops.energy_sample_bits_proposal(s, torch.zeros(5, dtype=F64), 3)
        with pytest.raises(RuntimeError, match="k must be in"):
            ops.energy_sample_bits_proposal(s, torch.zeros(1, K_MAX + 1, dtype=F64), 3)
        with pytest.raises(RuntimeError, match="n must be in"):
            ops.energy_sample_perms_proposal(s, torch.zeros(1, N_MAX + 1, dtype=F64), 3)
        with pytest.raises(RuntimeError, match="num_samples"):
            ops.energy_sample_perms_proposal(s, torch.zeros(1, 3, dtype=F64), 0)


# ---- one small case per kernel (tests/test_simt.py checks each launches its kernel) ---------------

def _case_sample_bits(simt):
    simt.energy_sample_bits(seed_of(1), 2, 5, 9)


def _case_sample_perms(simt):
    simt.energy_sample_perms(seed_of(1), 2, 5, 6)


def _case_minmin_bits(simt):
    u, U, tau, y = bits_inputs(2, 6, F32, True)
    simt.minmin_bits(u, U, tau, y, 20, 1.0, True, seed_of(1))


def _case_minmin_perms(simt):
    theta, tau, y = perms_inputs(2, 5, True, F32)
    simt.minmin_perms(theta, tau, y, 20, 1.0, True, seed_of(1))


def _case_sample_bits_proposal(simt):
    simt.energy_sample_bits_proposal(seed_of(1), proposal_of(2, 9, 1), 5)


def _case_sample_perms_proposal(simt):
    simt.energy_sample_perms_proposal(seed_of(1), proposal_of(2, 6, 1), 5)


REPRESENTATIVE = {
    "sample_bits_kernel": _case_sample_bits,
    "sample_perms_kernel": _case_sample_perms,
    "sample_bits_proposal_kernel": _case_sample_bits_proposal,
    "sample_perms_proposal_kernel": _case_sample_perms_proposal,
    "minmin_bits_kernel": _case_minmin_bits,
    "minmin_perms_kernel": _case_minmin_perms,
}
