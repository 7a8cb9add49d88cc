"""Tests of pyalgo.energy.reference: the min-min math and the exact log-partitions."""
import itertools
import math

import pytest
import torch
from scipy.optimize import minimize_scalar

from pyalgo.energy import reference as R

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _ising(B, k, seed, scale=1.0, dtype=F64):
    g = _gen(seed)
    unary = scale * torch.randn(B, k, generator=g, dtype=dtype)
    pairwise = scale * torch.randn(B, k, k, generator=g, dtype=dtype) / math.sqrt(k)
    y = torch.randint(0, 2, (B, k), generator=g).to(dtype)
    return unary, pairwise, y


def _brute_energy_bits(unary, pairwise, y):
    """Per-row Python loop: ⟨u, y⟩ + ½ Σ_ij U_ij y_i y_j."""
    out = []
    for b in range(unary.shape[0]):
        v = float((unary[b] * y[b]).sum())
        if pairwise is not None:
            v += 0.5 * sum(float(pairwise[b, i, j]) * float(y[b, i]) * float(y[b, j])
                           for i in range(y.shape[1]) for j in range(y.shape[1]))
        out.append(v)
    return torch.tensor(out, dtype=F64)


def sparsemax_sort(z):
    """Sort-based sparsemax of a vector (Martins & Astudillo 2016), written independently of the library."""
    zs, _ = torch.sort(z, descending=True)
    cssv = torch.cumsum(zs, 0) - 1.0
    ks = torch.arange(1, z.numel() + 1, dtype=z.dtype)
    support = zs - cssv / ks > 0
    kz = int(support.sum())
    threshold = cssv[kz - 1] / kz
    return torch.clamp(z - threshold, min=0.0)


# ------------------------------------------------------------------------------------------------ energies

@pytest.mark.parametrize("sample_dtype", [torch.uint8, torch.bool, torch.int64, torch.float32, F64])
def test_energy_bits_matches_loop_for_all_sample_dtypes(sample_dtype):
    unary, pairwise, _ = _ising(3, 5, seed=1)
    samples = torch.randint(0, 2, (3, 4, 5), generator=_gen(2))
    g = R.energy_bits(unary, samples.to(sample_dtype), pairwise)
    assert g.shape == (3, 4) and g.dtype == F64
    for j in range(4):
        torch.testing.assert_close(g[:, j], _brute_energy_bits(unary, pairwise, samples[:, j].to(F64)))
    # without a sample axis
    torch.testing.assert_close(R.energy_bits(unary, samples[:, 1].to(sample_dtype), pairwise), g[:, 1])
    # pairwise used as given (not symmetrised), diagonal counted as ½U_ii y_i
    torch.testing.assert_close(R.energy_bits(unary, samples.to(sample_dtype)),
                               (samples.to(F64) * unary[:, None]).sum(-1))


def test_energy_perms_permutahedron_and_birkhoff_match_loops():
    g = _gen(3)
    B, m, n = 2, 5, 4
    theta = torch.randn(B, n, generator=g, dtype=F64)
    Theta = torch.randn(B, n, n, generator=g, dtype=F64)
    perms = torch.rand(B, m, n, generator=g).argsort(-1)
    gp, gb = R.energy_perms(theta, perms), R.energy_perms(Theta, perms.to(torch.int32))
    for b in range(B):
        for j in range(m):
            y = perms[b, j].tolist()
            assert gp[b, j].item() == pytest.approx(sum(theta[b, i].item() * (y[i] + 1) for i in range(n)))
            assert gb[b, j].item() == pytest.approx(sum(Theta[b, i, y[i]].item() for i in range(n)))
    torch.testing.assert_close(R.energy_perms(Theta, perms[:, 2]), gb[:, 2])
    torch.testing.assert_close(R.energy_perms(theta, perms[:, 0]), gp[:, 0])


def test_all_bits_and_all_perms_enumerate_everything_once():
    bits = R.all_bits(4)
    assert bits.shape == (16, 4) and bits.dtype == torch.float32
    assert bits[5].tolist() == [1.0, 0.0, 1.0, 0.0]              # code 5 = bits 0 and 2
    assert len({tuple(r) for r in bits.tolist()}) == 16
    perms = R.all_perms(5)
    assert perms.shape == (120, 5) and perms.dtype == torch.int64
    assert {tuple(r) for r in perms.tolist()} == set(itertools.permutations(range(5)))
    assert R.all_perms(0).shape == (1, 0)


# ------------------------------------------------------------------------------------------------ §6.1-2: variational identity, closed forms

def test_variational_identity_argmin_tau_is_lse_k10():
    unary, pairwise, y = _ising(1, 10, seed=4)
    lse = R.exact_lse_bits(unary, pairwise)
    g_all = R.energy_bits(unary, R.all_bits(10, F64).expand(1, 1024, 10), pairwise)[0]
    torch.testing.assert_close(lse[0], torch.logsumexp(g_all, 0) - 10 * math.log(2))

    def objective(t):   # τ + mean_y e^{g−τ} − 1 (the y-term of the loss is a constant in τ)
        return float(R.exact_minmin_loss_bits(unary, torch.tensor([t], dtype=F64), y, pairwise)[0]
                     + R.energy_bits(unary, y, pairwise)[0])

    res = minimize_scalar(objective, bracket=(lse.item() - 3, lse.item() + 3), tol=1e-12)
    assert abs(res.x - lse.item()) < 1e-6
    assert res.fun == pytest.approx(lse.item(), abs=1e-10)        # the minimum value equals LSE
    torch.testing.assert_close(R.optimal_tau_bits(unary, pairwise), lse)


def test_minmin_loss_upper_bounds_the_mle_loss():
    unary, pairwise, y = _ising(8, 9, seed=5)
    lse = R.exact_lse_bits(unary, pairwise)
    mle = lse - R.energy_bits(unary, y, pairwise)
    for seed in range(5):
        tau = lse + 4 * torch.randn(8, generator=_gen(100 + seed), dtype=F64)
        gap = R.exact_minmin_loss_bits(unary, tau, y, pairwise) - mle
        assert (gap > 0).all()
        # gap = e^{LSE−τ} − 1 − (LSE − τ), the Bregman gap of exp
        d = lse - tau
        torch.testing.assert_close(gap, torch.expm1(d) - d)
    torch.testing.assert_close(R.exact_minmin_loss_bits(unary, lse, y, pairwise), mle)


def test_unary_closed_form_equals_enumeration_and_bce():
    g = _gen(6)
    unary = 2 * torch.randn(5, 12, generator=g, dtype=F64)
    y = torch.randint(0, 2, (5, 12), generator=g).to(F64)
    torch.testing.assert_close(R.unary_lse(unary), R.exact_lse_bits(unary), rtol=0, atol=1e-12)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(unary, y, reduction="none").sum(1)
    torch.testing.assert_close(R.unary_nll(unary, y), bce - 12 * math.log(2))
    # exact_lse_bits with a zero pairwise is the unary case
    torch.testing.assert_close(R.exact_lse_bits(unary, torch.zeros(5, 12, 12, dtype=F64)), R.unary_lse(unary))


def test_exact_lse_bits_chunking_k20_matches_closed_form():
    unary = torch.randn(2, 20, generator=_gen(7), dtype=F64)
    old = R._CHUNK_ELEMENTS
    try:
        R._CHUNK_ELEMENTS = 1 << 18                                 # force many chunks
        torch.testing.assert_close(R.exact_lse_bits(unary), R.unary_lse(unary), rtol=0, atol=1e-10)
    finally:
        R._CHUNK_ELEMENTS = old


def test_implied_distribution_logistic_is_gibbs():
    unary, pairwise, _ = _ising(2, 8, seed=8)
    tau = R.optimal_tau_bits(unary, pairwise)
    p = R.implied_distribution_bits(unary, pairwise, tau, 1.0)
    g_all = R.energy_bits(unary, R.all_bits(8, F64).expand(2, 256, 8), pairwise)
    torch.testing.assert_close(p, torch.softmax(g_all, 1))


# ------------------------------------------------------------------------------------------------ §6.3: sparsemax / entmax

def test_sparsemax_implied_distribution_is_sparsemax_over_enumeration():
    unary, pairwise, _ = _ising(3, 10, seed=9, scale=2.0)
    tau = R.optimal_tau_bits(unary, pairwise, alpha=2.0)
    p = R.implied_distribution_bits(unary, pairwise, tau, alpha=2.0)
    g_all = R.energy_bits(unary, R.all_bits(10, F64).expand(3, 1024, 10), pairwise)
    for b in range(3):
        assert p[b].sum().item() == pytest.approx(1.0, abs=1e-10)
        nnz = int((p[b] > 0).sum())
        assert 1 <= nnz < 1024 // 2                                  # sparse support
        torch.testing.assert_close(p[b], sparsemax_sort(g_all[b] / 1024), rtol=0, atol=1e-12)
        # p = q [1 + g − τ]_+
        torch.testing.assert_close(p[b], torch.clamp(1 + g_all[b] - tau[b], min=0) / 1024)


def test_sparsemax_matches_entmax_package_if_installed():
    entmax = pytest.importorskip("entmax")
    unary, pairwise, _ = _ising(1, 8, seed=10, scale=2.0)
    tau = R.optimal_tau_bits(unary, pairwise, alpha=2.0)
    p = R.implied_distribution_bits(unary, pairwise, tau, alpha=2.0)
    g_all = R.energy_bits(unary, R.all_bits(8, F64).expand(1, 256, 8), pairwise)
    torch.testing.assert_close(p, entmax.sparsemax(g_all / 256, dim=-1))


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_entmax_optimal_tau_zeroes_the_tau_gradient(alpha):
    unary, pairwise, y = _ising(3, 9, seed=11, scale=1.5)
    tau = R.optimal_tau_bits(unary, pairwise, alpha=alpha)
    p = R.implied_distribution_bits(unary, pairwise, tau, alpha=alpha)
    torch.testing.assert_close(p.sum(1), torch.ones(3, dtype=F64), rtol=0, atol=1e-10)
    assert (p >= 0).all()
    t = tau.clone().requires_grad_(True)
    R.exact_minmin_loss_bits(unary, t, y, pairwise, alpha=alpha).sum().backward()
    torch.testing.assert_close(t.grad, torch.zeros(3, dtype=F64), rtol=0, atol=1e-9)
    # τ* is the minimiser: moving it either way increases the exact loss
    base = R.exact_minmin_loss_bits(unary, tau, y, pairwise, alpha=alpha)
    for delta in (-1e-3, 1e-3):
        assert (R.exact_minmin_loss_bits(unary, tau + delta, y, pairwise, alpha=alpha) > base).all()
    # p is monotone in g (a transformation of g by an increasing map)
    g_all = R.energy_bits(unary, R.all_bits(9, F64).expand(3, 512, 9), pairwise)
    order = g_all.argsort(1)
    assert (torch.diff(torch.gather(p, 1, order), dim=1) >= -1e-15).all()


def test_fstar_formulas():
    s = torch.linspace(-3, 3, 13, dtype=F64)
    torch.testing.assert_close(R.fstar(s, 2.0), 0.5 * torch.clamp(s + 1, min=0) ** 2 - 0.5)
    torch.testing.assert_close(R.fstar_prime(s, 2.0), torch.clamp(s + 1, min=0))
    torch.testing.assert_close(R.fstar(s, 1.0), torch.exp(s) - 1)
    # (f*)' is the derivative of f*, and α → 1 approaches the logistic case
    x = s.clone().requires_grad_(True)
    R.fstar(x, 1.5).sum().backward()
    torch.testing.assert_close(x.grad, R.fstar_prime(s, 1.5))
    torch.testing.assert_close(R.fstar(s, 1.0 + 1e-7), R.fstar(s, 1.0), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------ §6.4: permutations

def test_perm_lse_enumeration_equals_ryser_n6():
    g = _gen(12)
    theta = torch.randn(4, 6, generator=g, dtype=F64)
    Theta = torch.randn(4, 6, 6, generator=g, dtype=F64)
    torch.testing.assert_close(R.exact_lse_perms(theta), R.lse_perms_ryser(theta), rtol=0, atol=1e-10)
    torch.testing.assert_close(R.exact_lse_perms(Theta), R.lse_perms_ryser(Theta), rtol=0, atol=1e-10)
    torch.testing.assert_close(R.log_permanent(Theta.exp()) - math.lgamma(7), R.exact_lse_perms(Theta),
                               rtol=0, atol=1e-10)


def test_perm_lse_hand_checkable_n2_and_permanents():
    a, b = 0.3, -1.1
    theta = torch.tensor([[a, b]], dtype=F64)                    # y = (0,1): a + 2b ; y = (1,0): 2a + b
    expected = math.log((math.exp(a + 2 * b) + math.exp(2 * a + b)) / 2)
    assert R.exact_lse_perms(theta).item() == pytest.approx(expected, abs=1e-14)
    assert R.lse_perms_ryser(theta).item() == pytest.approx(expected, abs=1e-14)
    Theta = torch.tensor([[[0.1, 0.7], [-0.4, 0.2]]], dtype=F64)
    expected_b = math.log((math.exp(0.1 + 0.2) + math.exp(0.7 - 0.4)) / 2)
    assert R.exact_lse_perms(Theta).item() == pytest.approx(expected_b, abs=1e-14)
    assert R.lse_perms_ryser(Theta).item() == pytest.approx(expected_b, abs=1e-14)
    A = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=F64)
    assert R.log_permanent(A).item() == pytest.approx(math.log(1 * 4 + 2 * 3), abs=1e-14)
    assert R.log_permanent(torch.ones(1, 5, 5, dtype=F64)).item() == pytest.approx(math.log(120), abs=1e-12)


def test_ryser_is_stable_for_large_theta_and_n20():
    theta = 15 * torch.randn(3, 7, generator=_gen(13), dtype=F64)     # e^{θ j} overflows float64 directly
    torch.testing.assert_close(R.lse_perms_ryser(theta), R.exact_lse_perms(theta), rtol=1e-12, atol=1e-9)
    Theta = 40 * torch.randn(2, 7, 7, generator=_gen(14), dtype=F64)
    torch.testing.assert_close(R.lse_perms_ryser(Theta), R.exact_lse_perms(Theta), rtol=1e-12, atol=1e-9)
    # n = 20, all-equal matrix: perm(c·J) = cⁿ n!. This is Ryser's worst conditioning: on the balanced matrix J/n
    # the permanent is n!/nⁿ ≈ 2e-8 while the terms' magnitudes sum to Σ_k C(n,k)(k/n)ⁿ ≈ 231. Each term carries
    # at most ~2n rounding errors, so the a-priori bound on the error of log perm is 2n·eps·Σ/perm ≈ 4.4e-5
    # (observed 1e-7 to 3e-6, depending on the CPU's summation order); an unbalanced or overflowing sum is off by
    # far more.
    n, c = 20, 0.37
    terms = sum(math.comb(n, k) * (k / n) ** n for k in range(1, n + 1))
    bound = 2 * n * 2.0**-53 * terms / (math.factorial(n) / n**n)
    assert R.log_permanent(torch.full((1, n, n), c, dtype=F64)).item() == pytest.approx(
        n * math.log(c) + math.lgamma(n + 1), abs=bound)


def test_exact_perm_minmin_loss_at_lse_is_the_mle_loss():
    g = _gen(15)
    for theta in (torch.randn(3, 5, generator=g, dtype=F64), torch.randn(3, 5, 5, generator=g, dtype=F64)):
        y = torch.rand(3, 5, generator=g).argsort(-1)
        lse = R.exact_lse_perms(theta)
        torch.testing.assert_close(R.exact_minmin_loss_perms(theta, lse, y), lse - R.energy_perms(theta, y))
        assert (R.exact_minmin_loss_perms(theta, lse + 0.5, y) > lse - R.energy_perms(theta, y)).all()


def test_perm_lse_is_differentiable_and_ryser_gradient_matches_enumeration():
    theta = torch.randn(2, 5, 5, generator=_gen(16), dtype=F64, requires_grad=True)
    (g1,) = torch.autograd.grad(R.exact_lse_perms(theta).sum(), theta)
    (g2,) = torch.autograd.grad(R.lse_perms_ryser(theta).sum(), theta)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(g1.sum(2), torch.ones(2, 5, dtype=F64))   # marginals of a permutation matrix


# ------------------------------------------------------------------------------------------------ §6.7: gradients

def test_full_enumeration_minmin_gradient_equals_mle_gradient_at_tau_lse():
    unary, pairwise, y = _ising(4, 8, seed=17)
    u1, U1 = unary.clone().requires_grad_(True), pairwise.clone().requires_grad_(True)
    tau = R.exact_lse_bits(unary, pairwise).detach().requires_grad_(True)
    mm = R.exact_minmin_loss_bits(u1, tau, y, U1).sum()
    gu_mm, gU_mm, gtau = torch.autograd.grad(mm, (u1, U1, tau))
    u2, U2 = unary.clone().requires_grad_(True), pairwise.clone().requires_grad_(True)
    mle = (R.exact_lse_bits(u2, U2) - R.energy_bits(u2, y, U2)).sum()
    gu_mle, gU_mle = torch.autograd.grad(mle, (u2, U2))
    torch.testing.assert_close(gu_mm, gu_mle, rtol=0, atol=1e-12)
    torch.testing.assert_close(gU_mm, gU_mle, rtol=0, atol=1e-12)
    torch.testing.assert_close(gtau, torch.zeros(4, dtype=F64), rtol=0, atol=1e-12)
    # and the same through minmin_from_energies with every configuration as a "sample"
    u3 = unary.clone().requires_grad_(True)
    g_all = R.energy_bits(u3, R.all_bits(8, F64).expand(4, 256, 8), pairwise)
    loss = R.minmin_from_energies(g_all, R.energy_bits(u3, y, pairwise), tau.detach()).sum()
    torch.testing.assert_close(torch.autograd.grad(loss, u3)[0], gu_mle, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0, 3.0])
def test_gradcheck_minmin_from_energies(alpha):
    g = _gen(18)
    gs = torch.randn(3, 6, generator=g, dtype=F64, requires_grad=True)
    gy = torch.randn(3, generator=g, dtype=F64, requires_grad=True)
    tau = (0.5 * torch.randn(3, generator=g, dtype=F64)).requires_grad_(True)
    fn = lambda a, b, c: R.minmin_from_energies(a, b, c, alpha)
    assert torch.autograd.gradcheck(fn, (gs, gy, tau))
    assert torch.autograd.gradgradcheck(fn, (gs, gy, tau))


def test_gradcheck_through_guard_region_float64():
    g = _gen(19)
    gs = torch.randn(2, 5, generator=g, dtype=F64, requires_grad=True)
    gy = torch.randn(2, generator=g, dtype=F64, requires_grad=True)
    tau = torch.tensor([-705.0, -703.0], dtype=F64, requires_grad=True)    # L ≈ 705 > c = 700
    # the loss is ~1e306 here: check it divided by e^c so that gradcheck's absolute tolerance is meaningful
    # (∂/∂g_true = −1 is then below float64 resolution: checked apart)
    scale = math.exp(-700.0)
    fn = lambda a, c: R.minmin_from_energies(a, gy.detach(), c) * scale
    assert torch.autograd.gradcheck(fn, (gs, tau))
    assert torch.autograd.gradgradcheck(fn, (gs, tau))
    (d_gy,) = torch.autograd.grad(R.minmin_from_energies(gs, gy, tau).sum(), gy)
    torch.testing.assert_close(d_gy, -torch.ones(2, dtype=F64))


def test_gradcheck_composite_references():
    unary, pairwise, y = _ising(2, 4, seed=20)
    samples = torch.randint(0, 2, (2, 5, 4), generator=_gen(21), dtype=torch.uint8)
    tau = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    u, U = unary.requires_grad_(True), pairwise.requires_grad_(True)
    for alpha in (1.0, 2.0):
        assert torch.autograd.gradcheck(lambda a, b, c: R.minmin_loss_ref(a, c, y, samples, b, alpha), (u, U, tau))
    theta = torch.randn(2, 4, 4, generator=_gen(22), dtype=F64, requires_grad=True)
    perms = torch.rand(2, 5, 4, generator=_gen(23)).argsort(-1)
    yp = perms[:, 0]
    assert torch.autograd.gradcheck(lambda a, c: R.minmin_loss_ranking_ref(a, c, yp, perms, 1.5), (theta, tau))


# ------------------------------------------------------------------------------------------------ overflow guard

def test_overflow_guard_linear_continuation_float32():
    g = _gen(24)
    gs = torch.randn(3, 16, generator=g).requires_grad_(True)
    gy = torch.randn(3, generator=g)
    tau = torch.full((3,), -1000.0, requires_grad=True)
    loss = R.minmin_from_energies(gs, gy, tau)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(gs.grad).all() and torch.isfinite(tau.grad).all()
    c = 80.0
    L = (torch.logsumexp(gs.detach().double() + 1000.0, 1) - math.log(16))
    assert (L > c).all()
    expected = -1000.0 + math.exp(c) * (1 + L - c) - 1 - gy.double()
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=0)
    # float32 resolution of g − τ at |τ| = 1000 is ~6e-5, hence the gradient tolerance
    torch.testing.assert_close(tau.grad, torch.full((3,), 1 - math.exp(c)), rtol=1e-4, atol=0)
    torch.testing.assert_close(gs.grad, math.exp(c) * torch.softmax(gs.detach(), 1), rtol=1e-4, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(dtype):
    gs = torch.randn(2, 8, generator=_gen(25)).to(dtype).requires_grad_(True)
    tau = torch.tensor([0.5, -0.3], dtype=dtype, requires_grad=True)
    loss = R.minmin_from_energies(gs, torch.zeros(2, dtype=dtype), tau)
    assert loss.dtype == dtype
    ref = R.minmin_from_energies(gs.detach().float(), torch.zeros(2), tau.detach().float())
    torch.testing.assert_close(loss.float(), ref, rtol=1e-2, atol=1e-2)
    loss.float().sum().backward()
    assert torch.isfinite(gs.grad.float()).all() and torch.isfinite(tau.grad.float()).all()


def test_overflow_guard_bfloat16_stays_finite():
    # bfloat16 has float32's range, so the guard region (weights up to e^80) is representable;
    # float16 (max 65504) cannot hold e^80 and overflows there, whatever the guard does.
    gs = torch.randn(2, 8, generator=_gen(25)).to(torch.bfloat16).requires_grad_(True)
    tau = torch.tensor([-1000.0, 0.0], dtype=torch.bfloat16, requires_grad=True)
    loss = R.minmin_from_energies(gs, torch.zeros(2, dtype=torch.bfloat16), tau)
    loss.float().sum().backward()
    assert torch.isfinite(loss.float()).all()
    assert torch.isfinite(gs.grad.float()).all() and torch.isfinite(tau.grad.float()).all()
    assert tau.grad[0].float().item() == pytest.approx(1 - math.exp(80.0), rel=1e-2)


def test_overflow_guard_float64_threshold_and_continuity():
    gs = torch.randn(1, 4, generator=_gen(26), dtype=F64)
    gy = torch.zeros(1, dtype=F64)
    base = (torch.logsumexp(gs, 1) - math.log(4)).item()          # L = base − τ
    c = R.overflow_threshold(F64)
    assert c == 700.0 and R.overflow_threshold(torch.float32) == 80.0
    # far below c: the plain formula τ + mean e^{g−τ} − 1 − g_true
    tau0 = torch.tensor([0.4], dtype=F64)
    torch.testing.assert_close(R.minmin_from_energies(gs, gy, tau0), tau0 + torch.exp(gs - tau0).mean(1) - 1)
    # at L = c ± ε: value and τ-gradient continuous
    vals, grads = [], []
    for eps in (-1e-7, 1e-7):
        tau = torch.tensor([base - (c + eps)], dtype=F64, requires_grad=True)
        v = R.minmin_from_energies(gs, gy, tau)
        v.backward()
        vals.append(v.item())
        grads.append(tau.grad.item())
    # φ(c ± ε) = e^c (1 ± ε) + O(ε²) on both sides, φ'(c ± ε) = e^c (1 + O(ε))
    for v in vals:
        assert v == pytest.approx(math.exp(c) - 1, rel=2e-7)
    assert (vals[1] - vals[0]) / math.exp(c) == pytest.approx(2e-7, rel=1e-3)
    assert grads[1] == pytest.approx(grads[0], rel=1e-6)
    assert grads[0] == pytest.approx(1 - math.exp(c), rel=2e-7)
    # the continuation is the tangent line: convex, finite far beyond c
    tau = torch.tensor([-5000.0], dtype=F64, requires_grad=True)
    v = R.minmin_from_energies(gs, gy, tau)
    v.backward()
    assert math.isfinite(v.item()) and tau.grad.item() == pytest.approx(1 - math.exp(c), rel=1e-12)
    # the exact enumeration loss shares the guard
    unary = torch.randn(1, 3, generator=_gen(27), dtype=F64)
    y = torch.ones(1, 3, dtype=F64)
    ex = R.exact_minmin_loss_bits(unary, torch.tensor([-5000.0], dtype=F64), y)
    g_all = R.energy_bits(unary, R.all_bits(3, F64).expand(1, 8, 3))
    torch.testing.assert_close(ex, R.minmin_from_energies(g_all, R.energy_bits(unary, y),
                                                          torch.tensor([-5000.0], dtype=F64)))


# ------------------------------------------------------------------------------------------------ §6.5: unbiasedness (Monte Carlo)

def _mc_setup(k=10, seed=28):
    unary, pairwise, y = _ising(1, k, seed=seed, scale=1.0)
    return unary, pairwise, y


def test_monte_carlo_minmin_loss_and_gradients_are_unbiased():
    k, m, reps = 10, 16, 8000
    unary, pairwise, y = _mc_setup(k)
    lse = R.exact_lse_bits(unary, pairwise)
    tau0 = lse + 0.3
    samples = torch.randint(0, 2, (reps, m, k), generator=_gen(29), dtype=torch.uint8)
    u_rep = unary.expand(reps, k).clone().requires_grad_(True)
    tau_rep = tau0.expand(reps).clone().requires_grad_(True)
    losses = R.minmin_loss_ref(u_rep, tau_rep, y.expand(reps, k), samples, pairwise.expand(reps, k, k))
    losses.sum().backward()
    u1 = unary.clone().requires_grad_(True)
    t1 = tau0.clone().requires_grad_(True)
    exact = R.exact_minmin_loss_bits(u1, t1, y, pairwise)
    gu, gt = torch.autograd.grad(exact.sum(), (u1, t1))
    se = lambda x: x.std(0) / math.sqrt(reps)
    assert abs(losses.mean() - exact[0]) < 4 * se(losses.detach())
    assert abs(tau_rep.grad.mean() - gt[0]) < 4 * se(tau_rep.grad)
    assert ((u_rep.grad.mean(0) - gu[0]).abs() < 4 * se(u_rep.grad)).all()


def test_plugin_log_mean_exp_is_biased_low_and_minmin_is_not():
    k, reps = 10, 8000
    unary, pairwise, y = _mc_setup(k)
    lse = R.exact_lse_bits(unary, pairwise)[0]
    biases = {}
    for m in (16, 256):
        samples = torch.randint(0, 2, (reps, m, k), generator=_gen(30 + m), dtype=torch.uint8)
        g = R.energy_bits(unary.expand(reps, k), samples, pairwise.expand(reps, k, k))
        plug_in = torch.logsumexp(g, 1) - math.log(m)                      # log (1/m) Σ e^g
        se = plug_in.std() / math.sqrt(reps)
        biases[m] = (plug_in.mean() - lse).item()
        assert biases[m] < -4 * se                                          # Jensen: biased low
        # the min-min term at τ = LSE: mean of (1/m) Σ e^{g−τ} is 1 (unbiased)
        weights = torch.exp(g - lse).mean(1)
        assert abs(weights.mean() - 1) < 4 * weights.std() / math.sqrt(reps)
        mm = R.minmin_from_energies(g, R.energy_bits(unary, y, pairwise).expand(reps), lse.expand(reps))
        mle = lse - R.energy_bits(unary, y, pairwise)[0]
        assert abs(mm.mean() - mle) < 4 * mm.std() / math.sqrt(reps)
    assert abs(biases[256]) < 0.25 * abs(biases[16])                       # bias shrinks ~ χ²/(2m)


def test_monte_carlo_ranking_loss_is_unbiased():
    n, m, reps = 5, 16, 6000
    g = _gen(31)
    for theta in (torch.randn(1, n, generator=g, dtype=F64), torch.randn(1, n, n, generator=g, dtype=F64)):
        y = torch.rand(1, n, generator=g).argsort(-1)
        tau = R.exact_lse_perms(theta) - 0.2
        perms = torch.rand(reps, m, n, generator=g).argsort(-1)
        th = theta.expand(reps, *theta.shape[1:])
        for alpha in (1.0, 2.0):
            losses = R.minmin_loss_ranking_ref(th, tau.expand(reps), y.expand(reps, n), perms, alpha)
            exact = R.exact_minmin_loss_perms(theta, tau, y, alpha)[0]
            assert abs(losses.mean() - exact) < 4 * losses.std() / math.sqrt(reps)


# ------------------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("call, match", [
    (lambda: R.minmin_from_energies(torch.zeros(2, 3), torch.zeros(2), torch.zeros(2), alpha=0.5),
     r"pyalgo.energy.minmin_from_energies: alpha must be"),
    (lambda: R.minmin_from_energies(torch.zeros(2, 3), torch.zeros(2), torch.zeros(2), alpha=float("nan")),
     r"pyalgo.energy.minmin_from_energies: alpha"),
    (lambda: R.minmin_from_energies(torch.zeros(2, 3), torch.zeros(2), torch.zeros(3)),
     r"pyalgo.energy.minmin_from_energies: tau must have shape"),
    (lambda: R.minmin_from_energies(torch.zeros(2, 3), torch.zeros(3), torch.zeros(2)),
     r"pyalgo.energy.minmin_from_energies: g_true"),
    (lambda: R.minmin_from_energies(torch.zeros(6), torch.zeros(2), torch.zeros(2)),
     r"pyalgo.energy.minmin_from_energies: g_samples must be 2-D"),
    (lambda: R.minmin_from_energies(torch.zeros(2, 0), torch.zeros(2), torch.zeros(2)),
     r"pyalgo.energy.minmin_from_energies: g_samples must hold at least one"),
    (lambda: R.energy_bits(torch.zeros(2, 3), torch.zeros(2, 4, 5)), r"pyalgo.energy.energy_bits: samples"),
    (lambda: R.energy_bits(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3, 4)),
     r"pyalgo.energy.energy_bits: pairwise must have shape"),
    (lambda: R.energy_perms(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)),
     r"pyalgo.energy.energy_perms: theta"),
    (lambda: R.energy_perms(torch.zeros(2, 3), torch.zeros(2, 5, 4, dtype=torch.long)),
     r"pyalgo.energy.energy_perms: perms"),
    (lambda: R.exact_lse_perms(torch.zeros(1, 9)), r"pyalgo.energy.exact_lse_perms: theta must have n <= 8"),
    (lambda: R.exact_lse_bits(torch.zeros(1, 21)), r"pyalgo.energy.exact_lse_bits: unary must have k <= 20"),
    (lambda: R.log_permanent(-torch.ones(1, 2, 2)), r"pyalgo.energy.log_permanent: A must be entrywise positive"),
    (lambda: R.log_permanent(torch.ones(1, 2, 3)), r"pyalgo.energy.log_permanent: A must be square"),
    (lambda: R.log_permanent(torch.ones(1, 21, 21)), r"pyalgo.energy.log_permanent: A must have n <= 20"),
    (lambda: R.lse_perms_ryser(torch.zeros(1, 21)), r"pyalgo.energy.lse_perms_ryser: theta must have n <= 20"),
    (lambda: R.all_perms(9), r"pyalgo.energy.all_perms: n must be"),
    (lambda: R.all_bits(-1), r"pyalgo.energy.all_bits: k must be"),
    (lambda: R.optimal_tau_bits(torch.zeros(1, 3), alpha=0.0), r"pyalgo.energy.optimal_tau_bits: alpha"),
    (lambda: R.unary_nll(torch.zeros(2, 3), torch.zeros(2, 4)), r"pyalgo.energy.unary_nll: y must have"),
    (lambda: R.implied_distribution_bits(torch.zeros(2, 3), None, torch.zeros(3), 1.0),
     r"pyalgo.energy.implied_distribution_bits: tau"),
])
def test_bad_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors_name_function_and_argument():
    with pytest.raises(TypeError, match=r"pyalgo.energy.energy_bits: unary must be a floating-point"):
        R.energy_bits(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"pyalgo.energy.minmin_from_energies: tau must be a torch.Tensor"):
        R.minmin_from_energies(torch.zeros(2, 3), torch.zeros(2), 0.0)
