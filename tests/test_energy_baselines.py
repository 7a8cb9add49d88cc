"""pyalgo.energy.baselines: the generalized Fenchel–Young loss (inner argmax optimality against scipy QPs and
brute force, loss ≥ 0 and = 0 iff y is the regularised argmax, envelope-theorem gradients against finite
differences, the unary closed form) and the min-max logistic loss (REINFORCE unbiased against the exact
gradient by enumeration; J = LSE at p_φ = p_g)."""
import itertools
import math

import numpy as np
import pytest
import torch

from pyalgo.energy import baselines as B
from pyalgo.energy import reference as ref

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

scipy_opt = pytest.importorskip("scipy.optimize")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------------
# isotonic regression and projections
# ---------------------------------------------------------------------------------------------------------------

def _pav_decreasing(x):
    out = []
    for v in x:
        out.append([v, 1])
        while len(out) > 1 and out[-2][0] / out[-2][1] < out[-1][0] / out[-1][1]:
            s, c = out.pop()
            out[-1][0] += s
            out[-1][1] += c
    return np.concatenate([[s / c] * c for s, c in out])


def test_isotonic_matches_pav():
    x = torch.randn(200, 9, generator=_gen(0), dtype=torch.float64)
    x[:20] = torch.sort(x[:20], 1, descending=True).values       # already monotone: identity
    v = B.isotonic_decreasing(x)
    want = np.stack([_pav_decreasing(list(r)) for r in x.numpy()])
    np.testing.assert_allclose(v.numpy(), want, atol=1e-12)
    torch.testing.assert_close(v[:20], x[:20])
    assert bool((v[:, 1:] <= v[:, :-1] + 1e-12).all())


def _qp_permutahedron(z, w):
    """Projection onto conv{perms of w} by SLSQP on the polytope's facets (Σ_S μ ≤ sum of |S| largest w)."""
    n = len(z)
    wd = np.sort(w)[::-1]
    cons = [dict(type="eq", fun=lambda m: m.sum() - w.sum())]
    for r in range(1, n):
        for S in itertools.combinations(range(n), r):
            cons.append(dict(type="ineq", fun=lambda m, S=S, r=r: wd[:r].sum() - m[list(S)].sum()))
    res = scipy_opt.minimize(lambda m: 0.5 * ((m - z) ** 2).sum(), np.full(n, w.mean()), jac=lambda m: m - z,
                             constraints=cons, method="SLSQP", options=dict(ftol=1e-15, maxiter=1000))
    return res.x


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_project_permutahedron_vs_qp(n):
    z = torch.randn(6, n, generator=_gen(n), dtype=torch.float64) * 3
    P = B.project_permutahedron(z)
    w = np.arange(1, n + 1, dtype=np.float64)
    for b in range(z.shape[0]):
        np.testing.assert_allclose(P[b].numpy(), _qp_permutahedron(z[b].numpy(), w), atol=1e-6)
    # a vertex is its own projection; a far-apart θ projects onto its ranks + 1
    y = torch.stack([torch.randperm(n, generator=_gen(b)) for b in range(4)]).double()
    torch.testing.assert_close(B.project_permutahedron(y + 1), y + 1)
    torch.testing.assert_close(B.project_permutahedron(100 * (y + 1)), y + 1)


def test_project_birkhoff_vs_qp():
    n = 3
    Z = torch.randn(4, n, n, generator=_gen(1), dtype=torch.float64) * 2
    M = B.project_birkhoff(Z, iters=20000, tol=1e-12)
    for b in range(Z.shape[0]):
        zb = Z[b].numpy().ravel()
        cons = [dict(type="eq", fun=lambda v: v.reshape(n, n).sum(1) - 1),
                dict(type="eq", fun=lambda v: v.reshape(n, n).sum(0)[:-1] - 1)]  # one is redundant
        res = scipy_opt.minimize(lambda v: 0.5 * ((v - zb) ** 2).sum(), np.full(n * n, 1 / n), jac=lambda v: v - zb,
                                 constraints=cons, bounds=[(0, None)] * (n * n), method="SLSQP",
                                 options=dict(ftol=1e-15, maxiter=1000))
        np.testing.assert_allclose(M[b].numpy().ravel(), res.x, atol=1e-6)
    # a permutation matrix is its own projection
    P = torch.eye(n, dtype=torch.float64)[torch.tensor([2, 0, 1])][None]
    torch.testing.assert_close(B.project_birkhoff(P), P)


# ---------------------------------------------------------------------------------------------------------------
# GFY: multilabel
# ---------------------------------------------------------------------------------------------------------------

def test_gfy_unary_closed_form_and_zero_iff_argmax():
    u = torch.randn(64, 5, generator=_gen(2), dtype=torch.float64) * 2
    y = (torch.rand(64, 5, generator=_gen(3), dtype=torch.float64) < 0.5).double()
    mu = (u + 0.5).clamp(0, 1)
    want = ((u * mu).sum(1) - 0.5 * ((mu - 0.5) ** 2).sum(1)) - ((u * y).sum(1) - 0.5 * ((y - 0.5) ** 2).sum(1))
    torch.testing.assert_close(B.gfy_loss_bits(u, y), want)
    # per coordinate a smoothed hinge of the margin t = ½ − u (y = 1) or u + ½ (y = 0): 0 (t ≤ 0), ½t² (t ≤ 1), t − ½
    t = torch.where(y == 1, 0.5 - u, u + 0.5)
    per = torch.where(t <= 0, torch.zeros_like(t), torch.where(t <= 1, 0.5 * t * t, t - 0.5))
    torch.testing.assert_close(B.gfy_loss_bits(u, y), per.sum(1))
    assert bool((B.gfy_loss_bits(u, y) >= 0).all())
    # zero iff y = μ*
    u0 = torch.where(y == 1, 0.5 + torch.rand_like(u), -0.5 - torch.rand_like(u))
    torch.testing.assert_close(B.gfy_loss_bits(u0, y), torch.zeros(64, dtype=torch.float64))
    u1 = u0.clone()
    u1[:, 0] = torch.where(y[:, 0] == 1, torch.tensor(0.4, dtype=u.dtype), torch.tensor(-0.4, dtype=u.dtype))
    assert bool((B.gfy_loss_bits(u1, y) > 1e-4).all())
    # the rounded regularised argmax is the mode u ≥ 0
    assert torch.equal(B.gfy_argmax_bits(u).round(), (u >= 0).double())


def _kkt_box(grad, mu, tol):
    inside = (mu > 1e-9) & (mu < 1 - 1e-9)
    assert float(torch.where(inside, grad.abs(), 0.0).max()) < tol
    assert float(torch.where(mu <= 1e-9, grad, -1.0).max()) < tol          # at 0: ∂h ≤ 0
    assert float(torch.where(mu >= 1 - 1e-9, grad, 1.0).min()) > -tol      # at 1: ∂h ≥ 0


def test_gfy_ising_argmax_kkt_and_vs_scipy():
    k = 5
    u = torch.randn(8, k, generator=_gen(4), dtype=torch.float64)
    A = torch.randn(8, k, k, generator=_gen(5), dtype=torch.float64) * 0.3
    U = (A + A.transpose(1, 2)) * (1 - torch.eye(k, dtype=torch.float64))
    mu = B.gfy_argmax_bits(u, U, steps=3000)
    S = 0.5 * (U + U.transpose(1, 2))
    grad = u + torch.einsum("bij,bj->bi", S, mu) - (mu - 0.5)
    _kkt_box(grad, mu, 1e-6)
    for b in range(8):
        if float(torch.linalg.eigvalsh(S[b] - torch.eye(k, dtype=torch.float64)).max()) >= 0:
            continue  # non-concave: KKT only
        f = lambda m: -(u[b].numpy() @ m + 0.5 * m @ S[b].numpy() @ m - 0.5 * ((m - 0.5) ** 2).sum())  # noqa: E731
        res = scipy_opt.minimize(f, np.full(k, 0.5), bounds=[(0, 1)] * k, method="L-BFGS-B",
                                 options=dict(ftol=1e-15, gtol=1e-12))
        np.testing.assert_allclose(mu[b].numpy(), res.x, atol=1e-5)


def test_gfy_ising_loss_nonneg_zero_and_nonconcave_local():
    k = 4
    y = (torch.rand(30, k, generator=_gen(6)) < 0.5).double()
    u = torch.randn(30, k, generator=_gen(7), dtype=torch.float64)
    A = torch.randn(30, k, k, generator=_gen(8), dtype=torch.float64) * 2.0   # strongly non-concave
    U = (A + A.transpose(1, 2)) * (1 - torch.eye(k, dtype=torch.float64))
    assert bool((B.gfy_loss_bits(u, y, U) >= -1e-12).all())
    # zero loss when y is the regularised argmax: strong unaries towards y, weak couplings
    u0 = 3 * (2 * y - 1)
    torch.testing.assert_close(B.gfy_loss_bits(u0, y, 0.05 * U), torch.zeros(30, dtype=torch.float64), atol=1e-12,
                               rtol=0)


def _fd_grad(f, x, eps=1e-6):
    g = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(flat.numel()):
        old = float(flat[i])
        flat[i] = old + eps
        hi = float(f(x))
        flat[i] = old - eps
        lo = float(f(x))
        flat[i] = old
        g.view(-1)[i] = (hi - lo) / (2 * eps)
    return g


def test_gfy_gradients_match_finite_differences():
    k = 4
    u = torch.randn(3, k, generator=_gen(9), dtype=torch.float64)
    A = torch.randn(3, k, k, generator=_gen(10), dtype=torch.float64) * 0.2
    U = 0.5 * (A + A.transpose(1, 2))
    y = (torch.rand(3, k, generator=_gen(11)) < 0.5).double()
    for pw in (None, U):
        uu = u.clone().requires_grad_(True)
        UU = None if pw is None else pw.clone().requires_grad_(True)
        B.gfy_loss_bits(uu, y, UU, steps=300).sum().backward()
        fd = _fd_grad(lambda t: B.gfy_loss_bits(t, y, pw, steps=300).sum(), u.clone())
        torch.testing.assert_close(uu.grad, fd, atol=1e-5, rtol=1e-5)
        if pw is not None:
            fdU = _fd_grad(lambda t: B.gfy_loss_bits(u, y, t, steps=300).sum(), pw.clone())
            torch.testing.assert_close(UU.grad, fdU, atol=1e-5, rtol=1e-5)
    theta = torch.randn(3, 5, generator=_gen(12), dtype=torch.float64) * 2
    perms = torch.stack([torch.randperm(5, generator=_gen(b)) for b in range(3)])
    t = theta.clone().requires_grad_(True)
    B.gfy_loss_perms(t, perms).sum().backward()
    torch.testing.assert_close(t.grad, _fd_grad(lambda z: B.gfy_loss_perms(z, perms).sum(), theta.clone()),
                               atol=1e-5, rtol=1e-5)
    Th = torch.randn(2, 3, 3, generator=_gen(13), dtype=torch.float64)
    pb = perms[:2, :3].argsort(1)
    T = Th.clone().requires_grad_(True)
    B.gfy_loss_perms(T, pb, iters=100000).sum().backward()
    fd = _fd_grad(lambda z: B.gfy_loss_perms(z, pb, iters=100000).sum(), Th.clone(), eps=1e-5)
    torch.testing.assert_close(T.grad, fd, atol=1e-4, rtol=1e-4)


def test_gfy_perms_nonneg_zero_iff_argmax_and_brute_force():
    n = 4
    theta = torch.randn(40, n, generator=_gen(14), dtype=torch.float64) * 3
    y = torch.stack([torch.randperm(n, generator=_gen(100 + b)) for b in range(40)])
    loss = B.gfy_loss_perms(theta, y)
    assert bool((loss >= -1e-12).all())
    # against the QP value: max over the permutahedron of ⟨θ, μ⟩ − ½‖μ‖²
    w = np.arange(1, n + 1, dtype=np.float64)
    for b in range(5):
        mu = _qp_permutahedron(theta[b].numpy(), w)
        phi = (y[b] + 1).double().numpy()
        want = theta[b].numpy() @ mu - 0.5 * mu @ mu - theta[b].numpy() @ phi + 0.5 * phi @ phi
        assert float(loss[b]) == pytest.approx(want, abs=1e-6)
    # zero iff φ(y) = μ*: θ = φ(y) (its own projection) and θ = large multiples of φ(y)
    phi = (y + 1).double()
    torch.testing.assert_close(B.gfy_loss_perms(phi, y), torch.zeros(40, dtype=torch.float64))
    torch.testing.assert_close(B.gfy_loss_perms(5 * phi, y), torch.zeros(40, dtype=torch.float64), atol=1e-12,
                               rtol=0)
    other = torch.roll(y, 1, 1)
    assert bool((B.gfy_loss_perms(5 * phi, other) > 1.0).all())
    # Birkhoff: ≥ 0 and zero at a (scaled) permutation matrix
    Th = torch.randn(10, n, n, generator=_gen(15), dtype=torch.float64)
    yb = y[:10]
    assert bool((B.gfy_loss_perms(Th, yb) >= -1e-6).all())
    P = torch.nn.functional.one_hot(yb, n).double()
    torch.testing.assert_close(B.gfy_loss_perms(3 * P, yb, iters=100000), torch.zeros(10, dtype=torch.float64),
                               atol=1e-6, rtol=0)


def test_gfy_argument_errors():
    with pytest.raises(ValueError, match="gfy_loss_bits"):
        B.gfy_loss_bits(torch.randn(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="gfy_loss_perms"):
        B.gfy_loss_perms(torch.randn(2, 3), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="project_birkhoff"):
        B.project_birkhoff(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="steps"):
        B.gfy_argmax_bits(torch.randn(2, 3), torch.zeros(2, 3, 3), steps=-1)


# ---------------------------------------------------------------------------------------------------------------
# min-max
# ---------------------------------------------------------------------------------------------------------------

def test_log_probs_normalise_and_samplers_match():
    a = torch.randn(2, 3, generator=_gen(16), dtype=torch.float64)
    ys = ref.all_bits(3, torch.float64)
    lp = ref.bernoulli_log_prob(a[:, None], ys[None])
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(2, dtype=torch.float64))
    s = torch.randn(2, 4, generator=_gen(17), dtype=torch.float64)
    perms = ref.all_perms(4)
    lq = ref.plackett_luce_log_prob(s[:, None], perms[None])
    torch.testing.assert_close(lq.exp().sum(1), torch.ones(2, dtype=torch.float64))
    # the most preferred item (position n−1) is chosen first with probability softmax(s)
    first = perms.argmax(1)
    p_first = torch.zeros(2, 4, dtype=torch.float64).index_add_(1, first, lq.exp())
    torch.testing.assert_close(p_first, torch.softmax(s, 1))
    # empirical frequencies of the samplers
    m = 40000
    smp = B.sample_plackett_luce(s, m, _gen(18))
    codes = (smp[0] * torch.tensor([64, 16, 4, 1])).sum(1)
    pc = (perms * torch.tensor([64, 16, 4, 1])).sum(1)
    freq = (codes[:, None] == pc[None]).double().mean(0)
    assert float((freq - lq[0].exp()).abs().max()) < 0.01
    sb = B.sample_bernoulli(a, m, _gen(19))
    torch.testing.assert_close(sb.mean(1), torch.sigmoid(a), atol=0.01, rtol=0)


def _exact_J_bits(u, U, a):
    ys = ref.all_bits(u.shape[1], u.dtype)
    lp = ref.bernoulli_log_prob(a[:, None], ys[None])
    g = ref.energy_bits(u, ys[None].expand(u.shape[0], -1, -1), U)
    return (lp.exp() * (g - lp - u.shape[1] * math.log(2))).sum(1)


def _exact_J_perms(theta, s):
    perms = ref.all_perms(theta.shape[1])
    lp = ref.plackett_luce_log_prob(s[:, None], perms[None])
    g = ref.energy_perms(theta, perms[None].expand(theta.shape[0], -1, -1))
    return (lp.exp() * (g - lp - math.lgamma(theta.shape[1] + 1))).sum(1)


@pytest.mark.parametrize("m", [1, 4])
def test_minmax_reinforce_unbiased_bits(m):
    k = 3
    u = torch.randn(2, k, generator=_gen(20), dtype=torch.float64)
    A = torch.randn(2, k, k, generator=_gen(21), dtype=torch.float64) * 0.5
    U = 0.5 * (A + A.transpose(1, 2))
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    a0 = torch.randn(2, k, generator=_gen(22), dtype=torch.float64)
    a = a0.clone().requires_grad_(True)
    _exact_J_bits(u, U, a).sum().backward()
    exact = a.grad.clone()
    gen = _gen(23)
    reps, grads = 4000, []
    for _ in range(reps // 100):   # 100 independent estimates per call (the batch repeats the rows)
        ar = a0.repeat(100, 1).requires_grad_(True)
        r = B.minmax_loss_bits(u.repeat(100, 1), ar, y.repeat(100, 1), m, U.repeat(100, 1, 1), gen)
        r.loss.sum().backward()
        grads.append(-ar.grad.view(100, 2, k))
    grads = torch.cat(grads)
    mean, se = grads.mean(0), grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((mean - exact).abs() < 4.5 * se + 1e-3).all()), (mean, exact, se)
    # the energy's gradient is E_p[∇g] − ∇g(y): for the unary part, E_p[y'] − y
    uu = u.clone().requires_grad_(True)
    r = B.minmax_loss_bits(uu.repeat(4000, 1), a0.repeat(4000, 1), y.repeat(4000, 1), m, None, _gen(24))
    r.loss.sum().backward()
    want = 4000 * (torch.sigmoid(a0) - y)
    torch.testing.assert_close(uu.grad, want, rtol=0.05, atol=4000 * 0.03)


def test_minmax_reinforce_unbiased_perms():
    n, m = 3, 3
    theta = torch.randn(2, n, generator=_gen(25), dtype=torch.float64)
    s0 = torch.randn(2, n, generator=_gen(26), dtype=torch.float64)
    y = torch.tensor([[0, 2, 1], [2, 1, 0]])
    s = s0.clone().requires_grad_(True)
    _exact_J_perms(theta, s).sum().backward()
    exact = s.grad.clone()
    gen, grads = _gen(27), []
    for _ in range(40):
        sr = s0.repeat(100, 1).requires_grad_(True)
        B.minmax_loss_perms(theta.repeat(100, 1), sr, y.repeat(100, 1), m, gen).loss.sum().backward()
        grads.append(-sr.grad.view(100, 2, n))
    grads = torch.cat(grads)
    mean, se = grads.mean(0), grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((mean - exact).abs() < 4.5 * se + 1e-3).all()), (mean, exact, se)


def test_minmax_value_is_lse_at_the_optimum_and_a_lower_bound():
    k = 5
    u = torch.randn(6, k, generator=_gen(28), dtype=torch.float64) * 2
    y = (torch.rand(6, k, generator=_gen(29)) < 0.5).double()
    # unary energy: p_g is the factorised Bernoulli(σ(u)), so a = u is the optimum and every sample gives LSE
    r = B.minmax_loss_bits(u, u.clone(), y, 7, generator=_gen(30))
    lse = ref.unary_lse(u)
    torch.testing.assert_close(r.lse, lse)
    torch.testing.assert_close(r.loss, lse - (u * y).sum(1))
    torch.testing.assert_close(_exact_J_bits(u, None, u), lse)
    # elsewhere J < LSE (gap = KL(p_φ, p_g)), and the sample mean estimates J
    a = u + torch.randn(6, k, generator=_gen(31), dtype=torch.float64)
    J = _exact_J_bits(u, None, a)
    assert bool((J < lse - 1e-6).all())
    est = B.minmax_loss_bits(u.repeat(2000, 1), a.repeat(2000, 1), y.repeat(2000, 1), 4, generator=_gen(32))
    torch.testing.assert_close(est.lse.view(2000, 6).mean(0), J, atol=0.05, rtol=0)
    # permutations: J ≤ exact LSE, equality approached by fitting the PL scores by ascent on exact J
    theta = torch.randn(3, 4, generator=_gen(33), dtype=torch.float64)
    lse_p = ref.exact_lse_perms(theta)
    s = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    assert bool((_exact_J_perms(theta, s) <= lse_p + 1e-9).all())


def test_minmax_argument_errors():
    with pytest.raises(ValueError, match="minmax_loss_bits"):
        B.minmax_loss_bits(torch.randn(2, 3), torch.randn(2, 4), torch.ones(2, 3), 4)
    with pytest.raises(ValueError, match="num_samples"):
        B.minmax_loss_bits(torch.randn(2, 3), torch.randn(2, 3), torch.ones(2, 3), 0)
    with pytest.raises(ValueError, match="minmax_loss_perms"):
        B.minmax_loss_perms(torch.randn(2, 3), torch.randn(2, 4), torch.zeros(2, 3, dtype=torch.long), 4)
