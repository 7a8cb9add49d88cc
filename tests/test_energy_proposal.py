"""Proposal (importance) sampling of the min-min losses: Bernoulli proposals for bits, Plackett–Luce
proposals for permutations (pyalgo.energy.ops `proposal=`, reference.bernoulli_log_prob /
plackett_luce_log_prob, log_weight in the references)."""
import itertools
import math

import pytest
import torch

import pyalgo.energy as E
from pyalgo.energy import reference as R

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _bits_case(B, k, seed, pairwise=True, dtype=F64):
    g = _gen(seed)
    u = torch.randn(B, k, generator=g, dtype=dtype)
    U = torch.randn(B, k, k, generator=g, dtype=dtype) / math.sqrt(k) if pairwise else None
    tau = torch.randn(B, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (B, k), generator=g).to(dtype)
    a = 1.5 * torch.randn(B, k, generator=g, dtype=dtype)
    return u, U, tau, y, a


def _perms_case(B, n, seed, birkhoff=False, dtype=F64):
    g = _gen(seed)
    theta = torch.randn((B, n, n) if birkhoff else (B, n), generator=g, dtype=dtype) * 0.5
    tau = torch.randn(B, generator=g, dtype=dtype) + 2.0
    y = torch.stack([torch.randperm(n, generator=g) for _ in range(B)])
    s = torch.randn(B, n, generator=g, dtype=dtype)
    return theta, tau, y, s


ALPHAS = [1.0, 2.0, 1.5]


# ---- reference log-probabilities ----------------------------------------------------------------------

def test_bernoulli_log_prob_is_a_normalised_law_and_matches_a_loop():
    a = torch.randn(3, 4, dtype=F64)
    Y = R.all_bits(4, F64)
    lp = R.bernoulli_log_prob(a[:, None], Y[None])
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(3, dtype=F64), rtol=0, atol=1e-13)
    for b in range(3):
        for c in range(16):
            want = sum(math.log(torch.sigmoid(a[b, i]).item() if Y[c, i] else 1 - torch.sigmoid(a[b, i]).item())
                       for i in range(4))
            assert lp[b, c].item() == pytest.approx(want, abs=1e-12)


def test_plackett_luce_log_prob_is_a_normalised_law_and_matches_a_loop():
    n = 4
    s = torch.randn(2, n, dtype=F64)
    P = R.all_perms(n)
    lp = R.plackett_luce_log_prob(s[:, None], P[None])
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(2, dtype=F64), rtol=0, atol=1e-13)
    for b in range(2):
        for c in range(P.shape[0]):
            pos = P[c].tolist()
            order = sorted(range(n), key=lambda i: -pos[i])          # most preferred first
            want, rest = 0.0, list(order)
            for item in order:
                want += s[b, item].item() - math.log(sum(math.exp(s[b, r].item()) for r in rest))
                rest.remove(item)
            assert lp[b, c].item() == pytest.approx(want, abs=1e-12)


def test_log_probs_are_differentiable():
    a = torch.randn(2, 3, dtype=F64, requires_grad=True)
    y = torch.randint(0, 2, (2, 5, 3))
    assert torch.autograd.gradcheck(lambda a: R.bernoulli_log_prob(a[:, None], y), (a,))
    s = torch.randn(2, 4, dtype=F64, requires_grad=True)
    P = torch.rand(2, 5, 4).argsort(-1)
    assert torch.autograd.gradcheck(lambda s: R.plackett_luce_log_prob(s[:, None], P), (s,))


def test_reference_without_log_weight_unchanged_and_zero_log_weight_equal():
    u, U, tau, y, _ = _bits_case(3, 5, 0)
    samples = E.sample_bits(3, 7, 5, generator=_gen(1))
    for alpha in ALPHAS:
        base = R.minmin_loss_ref(u, tau, y, samples, U, alpha)
        zero = R.minmin_loss_ref(u, tau, y, samples, U, alpha, log_weight=torch.zeros(3, 7, dtype=F64))
        torch.testing.assert_close(zero, base, rtol=0, atol=1e-12)


# ---- unbiasedness by enumeration -------------------------------------------------------------------

def _expected_bits_loss(u, U, tau, y, a, alpha):
    """E_{y'~r}[IS loss with m = 1] by enumeration: Σ_{y'} r(y') loss(y')."""
    B, k = u.shape
    Y = R.all_bits(k, F64).expand(B, -1, -1)
    log_w = R.proposal_log_weight_bits(a, Y)
    r = torch.exp(R.bernoulli_log_prob(a[:, None], Y))
    g, gy = R.energy_bits(u, Y, U), R.energy_bits(u, y, U)
    losses = torch.stack([R.minmin_from_energies(g[:, c:c + 1], gy, tau, alpha, log_w[:, c:c + 1])
                          for c in range(Y.shape[1])], 1)
    return (r * losses).sum(1)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_bits_is_loss_and_gradient_unbiased_by_enumeration(alpha):
    u, U, tau, y, a = _bits_case(3, 5, 2)
    u.requires_grad_(True), U.requires_grad_(True), tau.requires_grad_(True)
    got = _expected_bits_loss(u, U, tau, y, a, alpha)
    want = R.exact_minmin_loss_bits(u, tau, y, U, alpha)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    g_got = torch.autograd.grad(got.sum(), (u, U, tau))
    g_want = torch.autograd.grad(want.sum(), (u, U, tau))
    for x, z in zip(g_got, g_want):
        torch.testing.assert_close(x, z, rtol=0, atol=1e-10)


def _expected_perms_loss(theta, tau, y, s, alpha):
    B, n = s.shape
    P = R.all_perms(n).expand(B, -1, -1)
    log_w = R.proposal_log_weight_perms(s, P)
    r = torch.exp(R.plackett_luce_log_prob(s[:, None], P))
    g, gy = R.energy_perms(theta, P), R.energy_perms(theta, y)
    losses = torch.stack([R.minmin_from_energies(g[:, c:c + 1], gy, tau, alpha, log_w[:, c:c + 1])
                          for c in range(P.shape[1])], 1)
    return (r * losses).sum(1)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("birkhoff", [False, True])
def test_perms_is_loss_and_gradient_unbiased_by_enumeration(alpha, birkhoff):
    theta, tau, y, s = _perms_case(2, 4, 3, birkhoff)
    theta.requires_grad_(True), tau.requires_grad_(True)
    got = _expected_perms_loss(theta, tau, y, s, alpha)
    want = R.exact_minmin_loss_perms(theta, tau, y, alpha)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    for x, z in zip(torch.autograd.grad(got.sum(), (theta, tau)), torch.autograd.grad(want.sum(), (theta, tau))):
        torch.testing.assert_close(x, z, rtol=0, atol=1e-10)


# ---- samplers --------------------------------------------------------------------------------------

def _chi2_ok(counts, probs, total):
    """Pearson χ² against the expected counts, below the 1e-6 upper quantile (Wilson–Hilferty)."""
    expected = probs * total
    stat = float(((counts - expected) ** 2 / expected).sum())
    dof = counts.numel() - 1
    z = 4.75  # standard normal 1 − 1e-6 quantile
    bound = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3
    return stat, bound


def test_bit_sampler_law_is_the_bernoulli_proposal():
    k, m = 4, 40000
    a = torch.tensor([[1.2, -0.7, 0.0, 2.0]], dtype=F64)
    bits, log_w = E.sample_bits(1, m, k, generator=_gen(5), proposal=a)
    assert bits.dtype == torch.uint8 and bits.shape == (1, m, k) and log_w.shape == (1, m)
    codes = (bits[0].long() << torch.arange(k)).sum(1)
    counts = torch.bincount(codes, minlength=1 << k).to(F64)
    probs = torch.exp(R.bernoulli_log_prob(a, R.all_bits(k, F64)))
    stat, bound = _chi2_ok(counts, probs, m)
    assert stat < bound, (stat, bound)
    torch.testing.assert_close(log_w, R.proposal_log_weight_bits(a, bits), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 5])
def test_perm_sampler_law_is_plackett_luce(n):
    m = 60000
    s = torch.linspace(-1.0, 1.2, n, dtype=F64)[None]
    perms, log_w = E.sample_perms(1, m, n, generator=_gen(6), proposal=s)
    assert perms.dtype == torch.int64 and perms.shape == (1, m, n)
    P = R.all_perms(n)
    index = {tuple(p): c for c, p in enumerate(P.tolist())}
    counts = torch.zeros(P.shape[0], dtype=F64)
    for p in perms[0].tolist():
        counts[index[tuple(p)]] += 1
    probs = torch.exp(R.plackett_luce_log_prob(s, P))
    stat, bound = _chi2_ok(counts, probs, m)
    assert stat < bound, (stat, bound)
    torch.testing.assert_close(log_w, R.proposal_log_weight_perms(s, perms), rtol=0, atol=1e-12)


def test_most_preferred_item_gets_the_top_position():
    s = torch.tensor([[0.0, 30.0, -30.0, 10.0]], dtype=F64)   # order 1, 3, 0, 2 almost surely
    perms, _ = E.sample_perms(1, 8, 4, generator=_gen(0), proposal=s)
    assert (perms[0] == torch.tensor([1, 3, 0, 2])).all()


def test_samplers_draw_what_the_loss_draws():
    u, U, tau, y, a = _bits_case(2, 5, 7)
    for alpha in ALPHAS:
        bits, log_w = E.sample_bits(2, 9, 5, generator=_gen(11), proposal=a)
        kind = {1.0: "logistic", 2.0: "sparsemax"}.get(alpha, "entmax")
        got = E.minmin_loss(u, tau, y, 9, U, kind=kind, alpha=alpha if kind == "entmax" else None,
                            generator=_gen(11), proposal=a)
        torch.testing.assert_close(got, R.minmin_loss_ref(u, tau, y, bits, U, alpha, log_w), rtol=0, atol=1e-12)
    theta, tau, y, s = _perms_case(2, 5, 8)
    perms, log_w = E.sample_perms(2, 9, 5, generator=_gen(12), proposal=s)
    got = E.minmin_loss_ranking(theta, tau, y, 9, generator=_gen(12), proposal=s)
    torch.testing.assert_close(got, R.minmin_loss_ranking_ref(theta, tau, y, perms, 1.0, log_w), rtol=0, atol=1e-12)


def test_exact_proposal_gives_zero_variance_weights():
    """a = u (the unary model itself) and τ = LSE: w e^{g − τ} = 1 for every sample."""
    u = torch.randn(3, 6, dtype=F64)
    tau = R.unary_lse(u)
    bits, log_w = E.sample_bits(3, 50, 6, generator=_gen(3), proposal=u)
    terms = torch.exp(log_w + R.energy_bits(u, bits) - tau[:, None])
    torch.testing.assert_close(terms, torch.ones_like(terms), rtol=0, atol=1e-12)
    y = torch.randint(0, 2, (3, 6)).to(F64)
    loss = E.minmin_loss(u, tau, y, 50, generator=_gen(4), proposal=u)
    torch.testing.assert_close(loss, R.exact_minmin_loss_bits(u, tau, y), rtol=0, atol=1e-12)


def test_no_gradient_flows_into_the_proposal():
    u, U, tau, y, a = _bits_case(2, 4, 9)
    a.requires_grad_(True)
    u.requires_grad_(True)
    E.minmin_loss(u, tau, y, 5, U, generator=_gen(0), proposal=a).sum().backward()
    assert a.grad is None and u.grad is not None


def test_uniform_path_unchanged_with_proposal_none():
    u, U, tau, y, _ = _bits_case(2, 5, 10)
    a = E.minmin_loss(u, tau, y, 9, U, generator=_gen(1))
    b = E.minmin_loss(u, tau, y, 9, U, generator=_gen(1), proposal=None)
    assert torch.equal(a, b)
