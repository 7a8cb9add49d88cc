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


# ---- fused kernels == references on the same samples ---------------------------------------------------

KINDS = [("logistic", None, 1.0), ("sparsemax", None, 2.0), ("entmax", 1.5, 1.5)]


def _bits_fused_and_ref(u, U, tau, y, a, m, kind, alpha, al, seed=13):
    loss = E.minmin_loss(u, tau, y, m, U, kind=kind, alpha=alpha, generator=_gen(seed), proposal=a)
    bits, log_w = E.sample_bits(u.shape[0], m, u.shape[1], generator=_gen(seed), proposal=a)
    dt = R._compute_dtype(u.dtype)
    ref = R.minmin_loss_ref(u.to(dt), tau.to(dt), y.to(dt), bits, None if U is None else U.to(dt), al,
                            log_w.to(dt)).to(u.dtype)
    return loss, ref


def _wgrads(loss, inputs):
    w = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype)
    return torch.autograd.grad((loss * w).sum(), inputs)


@pytest.mark.parametrize("kind,alpha,al", KINDS)
@pytest.mark.parametrize("pairwise", [False, True])
@pytest.mark.parametrize("B,k,m", [(3, 5, 40), (2, 37, 200), (2, 130, 16), (1, 9, 9000)])
def test_bits_fused_equals_reference_fp64(kind, alpha, al, pairwise, B, k, m):
    u, U, tau, y, a = _bits_case(B, k, 20 + k, pairwise)
    inputs = [u.requires_grad_(), tau.requires_grad_()] + ([U.requires_grad_()] if pairwise else [])
    loss, ref = _bits_fused_and_ref(u, U, tau, y, a, m, kind, alpha, al)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    for x, z in zip(_wgrads(loss, inputs), _wgrads(ref, inputs)):
        torch.testing.assert_close(x, z, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("kind,alpha,al", KINDS)
@pytest.mark.parametrize("birkhoff", [False, True])
@pytest.mark.parametrize("B,n,m", [(3, 5, 40), (2, 12, 300), (1, 4, 9000)])
def test_perms_fused_equals_reference_fp64(kind, alpha, al, birkhoff, B, n, m):
    theta, tau, y, s = _perms_case(B, n, 30 + n, birkhoff)
    inputs = [theta.requires_grad_(), tau.requires_grad_()]
    loss = E.minmin_loss_ranking(theta, tau, y, m, kind=kind, alpha=alpha, generator=_gen(5), proposal=s)
    perms, log_w = E.sample_perms(B, m, n, generator=_gen(5), proposal=s)
    ref = R.minmin_loss_ranking_ref(theta, tau, y, perms, al, log_w)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    for x, z in zip(_wgrads(loss, inputs), _wgrads(ref, inputs)):
        torch.testing.assert_close(x, z, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kind,alpha,al", KINDS)
def test_low_precision_inputs_match_the_reference(dtype, kind, alpha, al):
    """Half inputs are computed in float32; the samples do not depend on the dtype (float64 proposal)."""
    u, U, tau, y, a = _bits_case(3, 11, 41, True)
    u, U, tau, y = u.to(dtype), U.to(dtype), tau.to(dtype), y.to(dtype)
    inputs = [u.requires_grad_(), tau.requires_grad_(), U.requires_grad_()]
    loss, ref = _bits_fused_and_ref(u, U, tau, y, a.to(dtype), 300, kind, alpha, al)
    assert loss.dtype == dtype
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(loss.float(), ref.float(), **tol)
    for x, z in zip(_wgrads(loss.float(), inputs), _wgrads(ref.float(), inputs)):
        torch.testing.assert_close(x.float(), z.float(), **tol)
    theta, ptau, py, s = _perms_case(2, 6, 42)
    theta, ptau = theta.to(dtype), ptau.to(dtype)
    loss = E.minmin_loss_ranking(theta, ptau, py, 200, kind=kind, alpha=alpha, generator=_gen(3), proposal=s.to(dtype))
    perms, log_w = E.sample_perms(2, 200, 6, generator=_gen(3), proposal=s.to(dtype))
    ref = R.minmin_loss_ranking_ref(theta.float(), ptau.float(), py, perms, al, log_w.float())
    torch.testing.assert_close(loss.float(), ref, **tol)


def test_samples_do_not_depend_on_dtypes():
    a = torch.randn(3, 7, dtype=F64).float()
    b32, w32 = E.sample_bits(3, 20, 7, generator=_gen(1), proposal=a)
    b64, w64 = E.sample_bits(3, 20, 7, generator=_gen(1), proposal=a.double())
    assert torch.equal(b32, b64) and torch.equal(w32, w64) and w32.dtype == F64


def test_large_energies_take_the_shift_pass():
    """α = 1, g − τ far above the shift limit: the pass is redone relative to the max; still the reference."""
    u, U, tau, y, a = _bits_case(2, 10, 43, False)
    u = (20 * u).requires_grad_()
    tau = (tau - 300).requires_grad_()
    for m in (100, 9000):
        loss, ref = _bits_fused_and_ref(u, None, tau, y, a, m, "logistic", None, 1.0)
        torch.testing.assert_close(loss, ref, rtol=1e-12, atol=0)
        for x, z in zip(_wgrads(loss, [u, tau]), _wgrads(ref, [u, tau])):
            torch.testing.assert_close(x, z, rtol=1e-11, atol=1e-9)


# ---- Monte Carlo: the fused op is unbiased -------------------------------------------------------------

@pytest.mark.parametrize("kind,alpha,al", KINDS)
def test_bits_monte_carlo_mean_within_standard_errors(kind, alpha, al):
    u, U, tau, y, a = _bits_case(2, 5, 50, True)
    u.requires_grad_(True)
    reps, m = 400, 8
    losses, grads = [], []
    for r in range(reps):
        loss = E.minmin_loss(u, tau, y, m, U, kind=kind, alpha=alpha, generator=_gen(1000 + r), proposal=a)
        losses.append(loss.detach())
        grads.append(torch.autograd.grad(loss.sum(), u)[0])
    L, G = torch.stack(losses), torch.stack(grads)
    exact = R.exact_minmin_loss_bits(u, tau, y, U, al)
    g_exact = torch.autograd.grad(exact.sum(), u)[0]
    for est, want in ((L, exact.detach()), (G, g_exact)):
        se = est.std(0) / math.sqrt(reps)
        z = ((est.mean(0) - want).abs() / se.clamp_min(1e-12)).max().item()
        assert z < 5.0, z   # 5 SE over ≤ 12 statistics: a false alarm has probability < 1e-5


@pytest.mark.parametrize("birkhoff", [False, True])
def test_perms_monte_carlo_mean_within_standard_errors(birkhoff):
    theta, tau, y, s = _perms_case(2, 4, 51, birkhoff)
    theta.requires_grad_(True)
    reps, m = 400, 8
    L, G = [], []
    for r in range(reps):
        loss = E.minmin_loss_ranking(theta, tau, y, m, generator=_gen(2000 + r), proposal=s)
        L.append(loss.detach())
        G.append(torch.autograd.grad(loss.sum(), theta)[0])
    L, G = torch.stack(L), torch.stack(G)
    exact = R.exact_minmin_loss_perms(theta, tau, y)
    g_exact = torch.autograd.grad(exact.sum(), theta)[0]
    for est, want in ((L, exact.detach()), (G, g_exact)):
        se = est.std(0) / math.sqrt(reps)
        z = ((est.mean(0) - want).abs() / se.clamp_min(1e-12)).max().item()
        assert z < 5.0, z


def test_good_proposal_reduces_variance():
    """The exact model as proposal (a = u) against uniform sampling, unary logistic model at τ = LSE."""
    u = 2.0 * torch.randn(4, 12, dtype=F64, generator=_gen(52))
    tau = R.unary_lse(u)
    y = torch.randint(0, 2, (4, 12), generator=_gen(53)).to(F64)
    uni = torch.stack([E.minmin_loss(u, tau, y, 16, generator=_gen(r)) for r in range(50)])
    prop = torch.stack([E.minmin_loss(u, tau, y, 16, generator=_gen(r), proposal=u) for r in range(50)])
    assert float(prop.var(0).max()) < 1e-20 < float(uni.var(0).min())


# ---- threads, lanes, batch -----------------------------------------------------------------------------

def _all_outputs(m, proposal):
    u, U, tau, y, a = _bits_case(2, 9, 60, True)
    theta, ptau, py, s = _perms_case(2, 6, 61, True)
    out = []
    for alpha in (1.0, 2.0):
        out += list(torch.ops.pyalgo.minmin_bits(u, U, tau, y, m, alpha, True, torch.tensor([1, 2]),
                                                 a if proposal else None))
        out += list(torch.ops.pyalgo.minmin_perms(theta, ptau, py, m, alpha, True, torch.tensor([3, 4]),
                                                  s if proposal else None))
    return out


@pytest.mark.parametrize("proposal", [False, True])
@pytest.mark.parametrize("m", [100, 5000, 70001])
def test_results_do_not_depend_on_the_thread_count(proposal, m):
    """m > 4096 splits a row into lanes (several threads per row); lanes are added in a fixed order."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _all_outputs(m, proposal)
        torch.set_num_threads(2)
        two = _all_outputs(m, proposal)
    finally:
        torch.set_num_threads(before)
    for x, z in zip(one, two):
        assert torch.equal(x, z)


def test_a_row_does_not_depend_on_the_batch():
    u, U, tau, y, a = _bits_case(5, 7, 62, True)
    for m in (50, 9000):
        full = torch.ops.pyalgo.minmin_bits(u, U, tau, y, m, 1.0, True, torch.tensor([5, 6]), a)
        first = torch.ops.pyalgo.minmin_bits(u[:1], U[:1], tau[:1], y[:1], m, 1.0, True, torch.tensor([5, 6]), a[:1])
        for x, z in zip(full, first):
            assert torch.equal(x[:1], z)


# ---- autograd, compile, opcheck ------------------------------------------------------------------------

class _Seeded:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *inputs):
        return self.fn(*inputs, generator=_gen(21))


@pytest.mark.parametrize("kind,alpha,al", KINDS)
def test_gradcheck_bits_with_proposal(kind, alpha, al):
    u, U, tau, y, a = _bits_case(2, 4, 70, True)
    f = _Seeded(lambda u_, t_, U_, **kw: E.minmin_loss(u_, t_, y, 10, U_, kind=kind, alpha=alpha, proposal=a, **kw))
    inputs = (u.requires_grad_(), tau.requires_grad_(), U.requires_grad_())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize("birkhoff", [False, True])
def test_gradcheck_perms_with_proposal(birkhoff):
    theta, tau, y, s = _perms_case(2, 4, 71, birkhoff)
    f = _Seeded(lambda th, t, **kw: E.minmin_loss_ranking(th, t, y, 10, kind="entmax", alpha=1.5, proposal=s, **kw))
    inputs = (theta.requires_grad_(), tau.requires_grad_())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_torch_compile_fullgraph_with_proposal():
    u, U, tau, y, a = _bits_case(3, 6, 72, True, dtype=torch.float32)
    theta, ptau, py, s = _perms_case(3, 5, 73, dtype=torch.float32)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(u, U, tau, theta, ptau, a, s):
        return (E.minmin_loss(u, tau, y, 16, pairwise=U, proposal=a).sum()
                + E.minmin_loss_ranking(theta, ptau, py, 16, kind="sparsemax", proposal=s).sum())

    u.requires_grad_(True)
    theta.requires_grad_(True)
    torch.manual_seed(0)
    out = f(u, U, tau, theta, ptau, a, s)
    out.backward()
    torch.manual_seed(0)
    want = (E.minmin_loss(u, tau, y, 16, pairwise=U, proposal=a).sum()
            + E.minmin_loss_ranking(theta, ptau, py, 16, kind="sparsemax", proposal=s).sum())
    torch.testing.assert_close(out, want)
    assert u.grad is not None and theta.grad is not None


def _opcheck_cases():
    seed = torch.tensor([3, 4], dtype=torch.int64)
    u, U, tau, y, a = _bits_case(3, 5, 74, True)
    theta, t2, yp, s = _perms_case(3, 4, 75, True)
    return [
        (torch.ops.pyalgo.energy_sample_bits_proposal, (seed, a, 7)),
        (torch.ops.pyalgo.energy_sample_perms_proposal, (seed, s, 7)),
        (torch.ops.pyalgo.minmin_bits, (u.requires_grad_(), U.requires_grad_(), tau.requires_grad_(), y, 9, 1.0, True,
                                        seed, a)),
        (torch.ops.pyalgo.minmin_bits, (u.detach().float(), None, tau.detach().float(), y.float(), 9, 2.0, False, seed,
                                        a)),
        (torch.ops.pyalgo.minmin_perms, (theta.requires_grad_(), t2.requires_grad_(), yp, 9, 1.0, True, seed, s)),
        (torch.ops.pyalgo.minmin_perms, (theta[:, 0].detach(), t2.detach(), yp, 9, 1.5, False, seed, s)),
    ]


@pytest.mark.parametrize("case", range(6))
def test_opcheck_with_proposal(case):
    op, args = _opcheck_cases()[case]
    torch.library.opcheck(op, args)


def test_perm_sampler_law_on_the_wide_range_path():
    """Scores spanning more than 300 take the two-log Gumbel keys and the log-add-exp weights (minmin.h)."""
    m = 30000
    s = torch.tensor([[0.3, -0.2, 0.8, 400.0]], dtype=F64)
    perms, log_w = E.sample_perms(1, m, 4, generator=_gen(8), proposal=s)
    assert bool((perms[0, :, 3] == 3).all())                         # item 3 always most preferred
    torch.testing.assert_close(log_w, R.proposal_log_weight_perms(s, perms), rtol=0, atol=1e-12)
    rest = R.all_perms(3)                                             # the order of items 0..2 below it
    index = {tuple(p): c for c, p in enumerate(rest.tolist())}
    counts = torch.zeros(rest.shape[0], dtype=F64)
    for p in perms[0, :, :3].tolist():
        counts[index[tuple(p)]] += 1
    probs = torch.exp(R.plackett_luce_log_prob(s[:, :3], rest))
    stat, bound = _chi2_ok(counts, probs, m)
    assert stat < bound, (stat, bound)
    theta, tau, y, _ = _perms_case(1, 4, 9)
    loss = E.minmin_loss_ranking(theta, tau, y, 50, generator=_gen(9), proposal=s)
    p2, w2 = E.sample_perms(1, 50, 4, generator=_gen(9), proposal=s)
    torch.testing.assert_close(loss, R.minmin_loss_ranking_ref(theta, tau, y, p2, 1.0, w2), rtol=1e-12, atol=1e-12)
