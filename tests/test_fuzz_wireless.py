"""Property-based fuzzing of every public op of pyalgo.wireless against its pure-torch reference
(pyalgo/wireless/reference.py) or an exact answer (issue 14). Profiles (tests/conftest.py): "ci" =
25 derandomised examples per property, `--deep` = 2000.

Inputs: B in 0..4 instances, K in 1..7 users (N in 1..5 antennas), float32 / float64, non-contiguous
or expanded layouts, per-user or per-instance parameters, channels scaled by up to 1e±30 (float64)
together with the noise (WMMSE and the rates are invariant to that joint scaling)."""
import pytest
import torch
from hypothesis import given, strategies as st

import pyalgo.wireless as W
from pyalgo.wireless import reference as R

pytestmark = pytest.mark.fuzz

F64 = torch.float64
DTYPES = st.sampled_from([torch.float32, torch.float64])
LAYOUTS = st.sampled_from(["contiguous", "transposed", "strided", "expanded"])
SEEDS = st.integers(0, 2**31)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def layout(x, how):
    """x itself or a view with the same values in another layout (last two dims square for "transposed")."""
    if how == "transposed" and x.dim() == 3 and x.shape[-1] == x.shape[-2]:
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if how == "strided":
        big = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype)
        big[..., ::2] = x
        return big[..., ::2]
    if how == "expanded" and x.shape[0] >= 1:
        return x[:1].expand_as(x)
    return x


def siso_problem(B, K, dtype, seed, scale_exp, how, per_user):
    g = gen(seed)
    G = W.rayleigh(B, K, generator=g, dtype=F64)
    # path-loss-like spread of gains over decades, plus some zero links
    G = G * 10 ** (2 * torch.rand(B, K, K, generator=g, dtype=F64) - 1)
    G = torch.where(torch.rand(B, K, K, generator=g, dtype=F64) < 0.1, torch.zeros_like(G), G)
    noise = (0.1 + torch.rand(B, K if per_user else 1, generator=g, dtype=F64))
    p_max = (0.2 + torch.rand(B, K if per_user else 1, generator=g, dtype=F64))
    weights = torch.rand(B, K, generator=g, dtype=F64) if per_user else None
    c = 10.0 ** scale_exp
    G, noise = layout(G * c, how), noise * c
    if how == "expanded":
        noise, p_max = noise[:1].expand_as(noise), p_max[:1].expand_as(p_max)
        weights = None if weights is None else weights[:1].expand_as(weights)
    return G.to(dtype), p_max.to(dtype), noise.to(dtype), None if weights is None else weights.to(dtype)


def close(a, b, dtype, rtol64=1e-8, atol=1e-10, rtol32=2e-3):
    tol = dict(rtol=rtol32, atol=max(atol, 1e-4)) if dtype in (torch.float32, torch.complex64) else dict(rtol=rtol64, atol=atol)
    torch.testing.assert_close(a.to(torch.complex128 if a.is_complex() else F64),
                               b.to(torch.complex128 if b.is_complex() else F64), **tol)


SCALE32 = st.integers(-6, 6)
SCALE64 = st.integers(-30, 30)


@given(B=st.integers(0, 4), K=st.integers(1, 7), dtype=DTYPES, seed=SEEDS, s32=SCALE32, s64=SCALE64,
       how=LAYOUTS, per_user=st.booleans(), iters=st.integers(1, 6))
def test_wmmse_matches_reference(B, K, dtype, seed, s32, s64, how, per_user, iters):
    scale = s32 if dtype == torch.float32 else s64
    G, p_max, noise, weights = siso_problem(B, K, dtype, seed, scale, how, per_user)
    res = W.wmmse(G, p_max, noise.squeeze(-1) if not per_user else noise, weights, max_iter=iters, tol=0,
                  return_trajectory=True)
    Gd = G.double()
    ref = R.wmmse_ref(Gd, p_max.double(), noise.double() if per_user else noise.double().expand(B, K),
                      None if weights is None else weights.double(), max_iter=iters, tol=0, record=True)
    assert bool(torch.isfinite(res.p).all())
    pm = p_max.expand(B, K)
    assert bool(((res.p >= 0) & (res.p <= pm)).all())
    if dtype == F64:
        close(res.p, ref.p, dtype, rtol64=1e-7, atol=1e-9 * float(pm.max()) if B else 1e-9)
        close(res.objective, ref.objective, dtype, rtol64=1e-8, atol=1e-9)
    else:  # float32 follows the float64 reference's objective closely (iterates may differ slightly)
        close(res.objective[:, :2], ref.objective[:, :2], dtype, rtol32=1e-3)


@given(B=st.integers(1, 3), K=st.integers(1, 6), seed=SEEDS, e=st.integers(-120, 120), per_user=st.booleans())
def test_wmmse_joint_scaling_is_exact(B, K, seed, e, per_user):
    """Scaling H and the noise by 4^e changes nothing, bit for bit (float64, every quantity scales
    by an exact power of two)."""
    G, p_max, noise, weights = siso_problem(B, K, F64, seed, 0, "contiguous", per_user)
    c = 4.0 ** e
    a = W.wmmse(G, p_max, noise if per_user else noise.squeeze(-1), weights, max_iter=20)
    b = W.wmmse(G * c, p_max, (noise if per_user else noise.squeeze(-1)) * c, weights, max_iter=20)
    assert torch.equal(a, b)


@given(B=st.integers(1, 3), K=st.integers(1, 5), seed=SEEDS, log_noise=st.integers(-44, -20))
def test_wmmse_float32_extreme_snr(B, K, seed, log_noise):
    """float32 at an SNR beyond its range (noise down to 1e-44): finite powers in the box, equal to
    the float64 solve."""
    G = W.rayleigh(B, K, generator=gen(seed), dtype=torch.float32)
    noise = 10.0 ** log_noise
    p = W.wmmse(G, noise=noise, max_iter=30)
    assert bool(torch.isfinite(p).all()) and bool(((p >= 0) & (p <= 1)).all())
    try:  # the float32 kernel alone (it raises when its solution is not finite)
        ok32 = bool(torch.isfinite(W.wmmse(G, noise=noise, max_iter=30, validate=False)).all())
    except RuntimeError as exc:
        assert "pyalgo.wireless.wmmse: the solution is not finite" in str(exc)
        ok32 = False
    if not ok32:  # solved in float64 by the wrapper: the float64 answer, rounded
        assert torch.equal(p, W.wmmse(G.double(), noise=noise, max_iter=30).float())


@given(B=st.integers(0, 4), K=st.integers(1, 7), dtype=DTYPES, seed=SEEDS, s32=SCALE32, s64=SCALE64,
       how=LAYOUTS, per_user=st.booleans(), zero_p=st.booleans())
def test_sum_rate_and_gradient_match_reference(B, K, dtype, seed, s32, s64, how, per_user, zero_p):
    G, p_max, noise, weights = siso_problem(B, K, dtype, seed, s32 if dtype == torch.float32 else s64, how, per_user)
    p = (torch.rand(B, K, generator=gen(seed + 1), dtype=F64) * (0 if zero_p else 1)).to(dtype)
    p = layout(p, "strided" if how == "strided" else "contiguous").requires_grad_(True)
    nz = noise if per_user else noise.squeeze(-1)
    out = W.sum_rate(G, p, nz, weights)
    pd = p.detach().double().requires_grad_(True)
    ref = R.sum_rate_ref(G.double(), pd, nz.double(), None if weights is None else weights.double())
    assert bool(torch.isfinite(out).all()) and bool((out >= -1e-6).all())
    close(out, ref, dtype, rtol64=1e-10, atol=1e-10)
    if B:
        (gp,) = torch.autograd.grad(out.sum(), p)
        (gr,) = torch.autograd.grad(ref.sum(), pd)
        scale = float(gr.abs().max()) + 1e-30
        close(gp / scale, gr / scale, dtype, rtol64=1e-7, atol=1e-9, rtol32=1e-2)


def miso_problem(B, K, N, dtype, seed, how):
    g = gen(seed)
    H = W.rayleigh_miso(B, K, N, generator=g, dtype=torch.complex128)
    noise = 0.1 + torch.rand(B, K, generator=g, dtype=F64)
    p_max = 0.5 + 3 * torch.rand(B, generator=g, dtype=F64)
    if how == "strided":
        H = layout(H, "strided")
    elif how == "expanded" and B:
        H, noise, p_max = H[:1].expand_as(H), noise[:1].expand_as(noise), p_max[:1].expand_as(p_max)
    real = torch.float32 if dtype == torch.complex64 else F64
    return H.to(dtype), p_max.to(real), noise.to(real)


CDTYPES = st.sampled_from([torch.complex64, torch.complex128])


@given(B=st.integers(0, 3), K=st.integers(1, 5), N=st.integers(1, 5), dtype=CDTYPES, seed=SEEDS, how=LAYOUTS,
       iters=st.integers(1, 4))
def test_wmmse_miso_matches_reference(B, K, N, dtype, seed, how, iters):
    H, p_max, noise = miso_problem(B, K, N, dtype, seed, how)
    res = W.wmmse_miso(H, p_max, noise, max_iter=iters, tol=0, return_trajectory=True)
    assert bool(torch.isfinite(res.V).all())
    power = (res.V.abs() ** 2).sum(dim=(1, 2)).double()
    assert bool((power <= p_max.double() * (1 + 1e-5)).all())
    if dtype == torch.complex128:
        ref = R.wmmse_miso_ref(H, p_max, noise, max_iter=iters, tol=0, record=True)
        close(res.objective[:, :2], ref.objective[:, :2], dtype, rtol64=1e-6, atol=1e-8)


@given(B=st.integers(0, 3), K=st.integers(1, 5), N=st.integers(1, 5), dtype=CDTYPES, seed=SEEDS, how=LAYOUTS,
       e=st.integers(-30, 30))
def test_sum_rate_miso_and_gradient_match_reference(B, K, N, dtype, seed, how, e):
    H, _, noise = miso_problem(B, K, N, dtype, seed, how)
    if dtype == torch.complex64:
        e = max(-5, min(5, e))
    c = 10.0 ** e
    H = (H * c).requires_grad_(True) if B else H * c
    V = W.rayleigh_miso(B, K, N, generator=gen(seed + 1), dtype=dtype)
    nz = noise * c * c
    out = W.sum_rate_miso(H, V, nz)
    Hd = H.detach().to(torch.complex128).requires_grad_(True)
    ref = R.sum_rate_miso_ref(Hd, V.to(torch.complex128), nz.double())
    assert bool(torch.isfinite(out).all())
    close(out, ref, dtype, rtol64=1e-9, atol=1e-10, rtol32=2e-3)
    if B:
        (gh,) = torch.autograd.grad(out.sum(), H)
        (gr,) = torch.autograd.grad(ref.sum(), Hd)
        scale = float(gr.abs().max()) + 1e-300
        close(gh / scale, gr / scale, dtype, rtol64=1e-7, atol=1e-9, rtol32=1e-2)


@given(B=st.integers(0, 3), K=st.integers(1, 5), N=st.integers(1, 5), dtype=CDTYPES, seed=SEEDS,
       p=st.floats(1e-30, 1e30), per_instance=st.booleans())
def test_mrt_init_matches_reference(B, K, N, dtype, seed, p, per_instance):
    H = W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=dtype)
    real = torch.float32 if dtype == torch.complex64 else F64
    p_max = torch.full((B,), p, dtype=real) if per_instance else p
    V = W.mrt_init(H, p_max)
    assert bool(torch.isfinite(V).all())
    close(V, R.mrt_init(H, p_max), dtype, rtol64=1e-12, atol=0, rtol32=1e-5)
    if B:
        power = (V.abs() ** 2).sum(dim=(1, 2)).double()
        torch.testing.assert_close(power, torch.full((B,), p, dtype=F64), rtol=1e-5 if real == torch.float32 else 1e-12,
                                   atol=0)


@given(B=st.integers(0, 5), K=st.integers(1, 6), N=st.integers(1, 4), seed=SEEDS, dtype=DTYPES,
       amplitude=st.booleans())
def test_generators_are_seeded_and_valid(B, K, N, seed, dtype, amplitude):
    a = W.rayleigh(B, K, generator=gen(seed), dtype=dtype, amplitude=amplitude)
    assert a.shape == (B, K, K) and a.dtype == dtype and torch.equal(
        a, W.rayleigh(B, K, generator=gen(seed), dtype=dtype, amplitude=amplitude))
    assert bool(torch.isfinite(a).all()) and bool((a >= 0).all())
    cdt = torch.complex64 if dtype == torch.float32 else torch.complex128
    h = W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=cdt)
    assert h.shape == (B, K, N) and torch.equal(h, W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=cdt))
    c = W.d2d(B, K, generator=gen(seed), dtype=dtype)
    assert bool(torch.isfinite(c.gains).all()) and bool((c.gains >= 0).all())
    assert not bool(c.adjacency.diagonal(dim1=1, dim2=2).any())


@given(B=st.integers(0, 4), K=st.integers(1, 5), seed=SEEDS, e=st.integers(-30, 30), kind=st.sampled_from(["mlp", "gnn"]),
       inputs=st.sampled_from(["gain", "amplitude", "log"]))
def test_students_and_critics_stay_in_the_box(B, K, seed, e, kind, inputs):
    torch.manual_seed(seed % 1000)
    G = W.rayleigh(B, K, generator=gen(seed)) * 10.0 ** e
    if kind == "mlp":
        student = W.MLPStudent(K, hidden=(8, 8), p_max=2.0, inputs=inputs)
    else:
        student = W.GNNStudent(hidden=8, layers=2, p_max=2.0, inputs=inputs)
    p = student(G)
    assert p.shape == (B, K) and bool(torch.isfinite(p).all()) and bool(((p >= 0) & (p <= 2.0)).all())
    q = W.default_critic(student)(G, p.detach())
    assert q.shape == (B,) and bool(torch.isfinite(q).all())
    if kind == "gnn" and B and K > 1:  # permutation equivariance
        perm = torch.randperm(K, generator=gen(seed + 1))
        Gp = G[:, perm][:, :, perm]
        torch.testing.assert_close(student(Gp), p[:, perm], rtol=1e-4, atol=1e-5)
