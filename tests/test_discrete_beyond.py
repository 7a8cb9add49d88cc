"""ReinMax-Rao and ReinMax-CV (pyalgo.discrete.beyond, csrc/discrete/rao_cv.h): the per-op checklist.

- the fused ops equal the pure-torch references (pyalgo.discrete.reference) and a direct transcription
  of the authors' reference implementation (Wang & Bui's code), given the same sample and noise;
- structure: rows sum to 0, g = 0 leaves J(π₀)g_p, K = 1 Rao is one-sample "ReinMax-GS";
- the forward law (Rao: ReinMax's sampler, bitwise; CV: Gumbel-max, bitwise gumbel_softmax's index);
  chi-square against softmax;
- exact expectations by enumeration over the sample: Rao's bias on a linear f (a regression value),
  the large-K limit, CV's expectation, Monte Carlo over the fused forward + backward against them;
- the variance against ReinMax on an enumerated quadratic f (Rao lower at τ = 1);
- opcheck, gradcheck (the y_soft path), torch.compile(fullgraph=True), double backward, determinism
  across thread counts and repeated backward, float16/bfloat16, argument errors.
"""
import math

import pytest
import torch

import pyalgo
from pyalgo._rng import draw_seed
from pyalgo.discrete import ESTIMATORS, beyond, diagnostics
from pyalgo.discrete import reference as ref

ops = torch.ops.pyalgo
CPU = torch.device("cpu")
INF = math.inf


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def randn(shape, seed, dtype=torch.float64, scale=1.0):
    return (scale * torch.randn(shape, dtype=torch.float64, generator=gen(seed))).to(dtype)


def seed_of(s):
    return draw_seed(gen(s), CPU)


# ---- the authors' reference implementation, transcribed (categories last, (N, C)), noise injected -----

def _J(p, g):
    return p * g - p * (p * g).sum(-1, keepdim=True)


def _cond_gumbel(logits, k, E):
    N, C = logits.shape
    K = E.shape[1]
    lz = torch.logsumexp(logits, -1, keepdim=True)[:, None, :]
    kk = k[:, None, :].expand(N, K, 1)
    Ek = E.gather(-1, kk)
    psi = logits[:, None, :] - torch.log(E + Ek * torch.exp(logits[:, None, :] - lz))
    return psi.scatter(-1, kk, lz - torch.log(Ek))


def authors_rao(logits, k, E, g, gp, tau):
    """ReinMaxRao.backward: logits (N, C), k (N, 1), E (N, K, C) Exp(1) draws."""
    pi0 = logits.softmax(-1)
    D = torch.zeros_like(pi0).scatter_(-1, k, 1.0)
    l1 = torch.log((pi0 + D) / 2)
    p = (_cond_gumbel(l1, k, E) / tau).softmax(-1)
    grad = 2 * _J(p, g[:, None, :]).mean(1) / tau - 0.5 * _J(pi0, g)
    if gp is not None:
        grad = grad + _J(pi0, gp)
    return grad - grad.mean(-1, keepdim=True)


def authors_cv(logits, k, G, E, g, gp, tau, eta, tau2, cv_noise):
    """ReinMaxCV.backward, with ξ = softmax((θ + G)/τ) ("soft") or G ("gumbel") from the forward's G."""
    xi = ((logits + G) / tau).softmax(-1) if cv_noise == "soft" else G
    pi0 = logits.softmax(-1)
    D = torch.zeros_like(pi0).scatter_(-1, k, 1.0)
    pi1t = ((logits / tau).softmax(-1) + D) / 2
    grad = 2 * _J(pi1t, g) - 0.5 * _J(pi0, g)
    if gp is not None:
        grad = grad + _J(pi0, gp)
    l1 = torch.log((pi0 + D) / 2)
    gr = _J((_cond_gumbel(l1, k, E) / tau2).softmax(-1), g[:, None, :]).mean(1) / tau2
    s = (l1 + xi).softmax(-1) if cv_noise == "soft" else ((l1 + xi) / tau2).softmax(-1)
    grad = grad + eta * (gr - _J(s, g) / tau2)
    return grad - grad.mean(-1, keepdim=True)


# ---- helpers ------------------------------------------------------------------------------------

CV_SETTINGS = [(1.0, 0.5, 1.0, "soft"), (1.3, 1.0, 0.7, "soft"), (0.5, 0.3, 1.5, "gumbel"), (1.0, 1.0, 0.1, "soft")]


def masked_logits(N, C, seed, dtype=torch.float64):
    x = randn((N, C), seed, scale=2.0)
    if C >= 4:
        x[0, 1] = -INF
        x[2, : C // 2] = -INF
        x[3, 1::3] = -INF
    return x.to(dtype)


def run_rao(x, g, gp, tau, k, seed, dim=-1):
    _, _, idx = ops.reinmax_rao(x, tau, k, dim, seed)
    return idx, ops.reinmax_rao_backward(x, idx, g, gp, tau, k, dim, seed)


def run_cv(x, g, gp, tau, eta, tau2, k, noise, seed, dim=-1):
    _, _, idx = ops.reinmax_cv(x, tau, eta, tau2, k, noise == "gumbel", dim, seed)
    return idx, ops.reinmax_cv_backward(x, idx, g, gp, tau, eta, tau2, k, noise == "gumbel", dim, seed)


def ref_grad(fn, x, g, gp, **kw):
    xr = x.detach().clone().requires_grad_(True)
    outs = fn(xr, **kw)
    torch.autograd.backward([o for o, w in zip(outs, (g, gp)) if w is not None], [w for w in (g, gp) if w is not None])
    return xr.grad


# =================================================================================================
# 1. Equality with the references given the same noise
# =================================================================================================

@pytest.mark.parametrize("C", [2, 3, 10, 64, 65, 1000])
@pytest.mark.parametrize("tau", [0.5, 1.0, 1.5])
def test_rao_equals_reference_float64(C, tau):
    N, K = (5, 7) if C == 1000 else (9, 13)
    x = masked_logits(N, C, C)
    g, gp = randn((N, C), 1), randn((N, C), 2)
    seed = seed_of(C)
    idx, out = run_rao(x, g, gp, tau, K, seed)
    E = ref.philox_exp_noise(seed, x, K)
    authors = authors_rao(x, idx.long()[:, None], E, g, gp, tau)
    assert (out - authors).abs().max() <= 1e-12
    mine = ref_grad(ref.reinmax_rao_ref, x, g, gp, tau=tau, k=K, index=idx, exp_noise=E)
    assert (mine - authors).abs().max() <= 1e-12
    if C >= 4:  # masked categories get (almost) nothing: the centring's leak
        assert (out[x == -INF]).abs().max() <= 1e-12


@pytest.mark.parametrize("C", [2, 3, 10, 64, 65, 1000])
@pytest.mark.parametrize("setting", CV_SETTINGS, ids=str)
def test_cv_equals_reference_float64(C, setting):
    tau, eta, tau2, noise = setting
    N, K = (5, 7) if C == 1000 else (9, 13)
    x = masked_logits(N, C, C + 1)
    g, gp = randn((N, C), 3), randn((N, C), 4)
    seed = seed_of(C + 1)
    idx, out = run_cv(x, g, gp, tau, eta, tau2, K, noise, seed)
    G, E = ref.philox_cv_noise(seed, x, K)
    assert torch.equal(idx.long(), (x + G).argmax(-1))  # Gumbel-max on the regenerated Gumbels
    authors = authors_cv(x, idx.long()[:, None], G, E, g, gp, tau, eta, tau2, noise)
    scale = max(1.0, eta / tau2)
    assert (out - authors).abs().max() <= 1e-12 * scale
    mine = ref_grad(ref.reinmax_cv_ref, x, g, gp, tau=tau, eta=eta, tau2=tau2, k=K, cv_noise=noise, index=idx,
                    gumbels=G, exp_noise=E)
    assert (mine - authors).abs().max() <= 1e-12 * scale


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("C", [3, 64, 300])
def test_low_precision_equals_reference(dtype, C):
    """float32: the kernels' float log/exp polynomials against torch's, accumulation in float:
    |diff| <= 2e-6 max|g| (·η/τ₂ for CV). float16/bfloat16: computed in float from the rounded
    inputs, rounded once: within 1 ulp of the float64 reference on the same rounded inputs (plus the
    float32 error)."""
    N, K = 6, 9
    x = masked_logits(N, C, 30 + C).to(dtype)
    g, gp = randn((N, C), 31).to(dtype), randn((N, C), 32).to(dtype)
    x64, g64, gp64 = x.double(), g.double(), gp.double()
    seed = seed_of(33)
    idx, out = run_rao(x, g, gp, 1.0, K, seed)
    E = ref.philox_exp_noise(seed, x, K).double()
    expect = authors_rao(x64, idx.long()[:, None], E, g64, gp64, 1.0)
    idx2, out2 = run_cv(x, g, gp, 1.0, 0.5, 1.0, K, "soft", seed)
    G, E2 = ref.philox_cv_noise(seed, x, K)
    expect2 = authors_cv(x64, idx2.long()[:, None], G.double(), E2.double(), g64, gp64, 1.0, 0.5, 1.0, "soft")
    assert out.dtype == dtype and out2.dtype == dtype
    tol = 2e-6 * 4  # max|g| <= ~4
    if dtype != torch.float32:
        tol += 2 * torch.finfo(dtype).eps * expect.abs().max().item()  # ~1 ulp of the largest entry
    assert (out.double() - expect).abs().max() <= tol
    assert (out2.double() - expect2).abs().max() <= tol


@pytest.mark.parametrize("dim,shape", [(0, (6, 4, 3)), (1, (4, 6, 3)), (-3, (6, 2, 5))])
def test_any_dim_equals_movedim(dim, shape):
    x = randn(shape, 40, scale=1.5)
    g, gp = randn(shape, 41), randn(shape, 42)
    seed = seed_of(43)
    for name in ("reinmax_rao", "reinmax_cv"):
        if name == "reinmax_rao":
            idx, out = run_rao(x, g, gp, 1.2, 5, seed, dim)
            idx_l, out_l = run_rao(x.movedim(dim, -1).contiguous(), g.movedim(dim, -1).contiguous(),
                                   gp.movedim(dim, -1).contiguous(), 1.2, 5, seed)
        else:
            idx, out = run_cv(x, g, gp, 1.2, 0.7, 0.9, 5, "soft", seed, dim)
            idx_l, out_l = run_cv(x.movedim(dim, -1).contiguous(), g.movedim(dim, -1).contiguous(),
                                  gp.movedim(dim, -1).contiguous(), 1.2, 0.7, 0.9, 5, "soft", seed)
        # the row numbering is the same (outer × inner rows, categories removed): same noise per row
        assert torch.equal(idx, idx_l)
        assert (out.movedim(dim, -1) - out_l).abs().max() <= 1e-13


# =================================================================================================
# 2. Structure
# =================================================================================================

@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_rows_sum_to_zero_and_grad_zero_leaves_soft_path(name):
    x = masked_logits(40, 17, 50)
    g, gp = randn((40, 17), 51), randn((40, 17), 52)
    seed = seed_of(53)
    run = (lambda g_, gp_: run_rao(x, g_, gp_, 1.3, 20, seed)) if name == "reinmax_rao" else (
        lambda g_, gp_: run_cv(x, g_, gp_, 1.3, 1.0, 0.5, 20, "soft", seed))
    _, out = run(g, gp)
    assert out.sum(-1).abs().max() <= 1e-13
    _, soft_only = run(torch.zeros_like(g), gp)
    pi0 = x.softmax(-1)
    assert (soft_only - _J(pi0, gp)).abs().max() <= 1e-14  # the noise drops out


def test_rao_single_draw_is_one_sample_reinmax_gs():
    """K = 1: 2 J(softmax((ℓ₁ + G)/τ)) g / τ − ½ J(π₀) g, G one Gumbel vector given argmax(ℓ₁ + G) = k."""
    x = randn((30, 6), 60)
    g = randn((30, 6), 61)
    seed = seed_of(62)
    idx, out = run_rao(x, g, None, 0.8, 1, seed)
    k = idx.long()[:, None]
    pi0 = x.softmax(-1)
    l1 = ((pi0 + torch.zeros_like(pi0).scatter_(-1, k, 1.0)) / 2).log()
    psi = ref.conditional_gumbels(l1, idx, ref.philox_exp_noise(seed, x, 1))[:, 0]  # ℓ₁ + G | argmax = k
    assert torch.equal(psi.argmax(-1), idx.long())
    gs = 2 * _J((psi / 0.8).softmax(-1), g) / 0.8 - 0.5 * _J(pi0, g)
    assert (out - (gs - gs.mean(-1, keepdim=True))).abs().max() <= 1e-13


def test_cv_eta_zero_is_reinmax():
    x, g, gp = randn((50, 9), 63), randn((50, 9), 64), randn((50, 9), 65)
    seed = seed_of(66)
    idx, out = run_cv(x, g, gp, 1.4, 0.0, 1.0, 3, "soft", seed)
    assert (out - ops.reinmax_backward(x, idx, g, gp, 1.4, -1)).abs().max() <= 1e-14


def test_noise_streams_are_independent_of_the_sample_stream():
    """Rao's draws are GR-MCK's streams 1..K of the same seed; its sample is ReinMax's (stream 0)."""
    x = randn((64, 7), 67)
    seed = seed_of(68)
    assert torch.equal(ops.reinmax_rao(x, 1.0, 5, -1, seed)[2], ops.reinmax(x, 1.0, -1, seed)[2])
    assert torch.equal(ops.reinmax_cv(x, 1.0, 0.5, 1.0, 5, False, -1, seed)[2],
                       ops.gumbel_softmax(x, 1.0, True, -1, seed)[1])


# =================================================================================================
# 3. Forward law
# =================================================================================================

THETA = torch.tensor([1.2, -0.4, 0.3, -2.0, 0.8, 0.0], dtype=torch.float64)


def _pvalue(counts, probs):
    chisquare = pytest.importorskip("scipy.stats").chisquare
    expected = counts.sum() * probs / probs.sum()
    return chisquare(counts.numpy(), expected.numpy()).pvalue


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_chi_square_against_softmax(name, tau):
    y_hard, y_soft = getattr(pyalgo, name)(THETA.expand(20000, 6), tau=tau, generator=gen(70))
    assert bool(((y_hard == 0) | (y_hard == 1)).all()) and bool((y_hard.sum(-1) == 1).all())
    assert (y_soft - THETA.softmax(-1)).abs().max() <= 1e-15
    counts = y_hard.sum(0)
    assert _pvalue(counts, THETA.softmax(-1)) > 1e-3
    assert _pvalue(counts, (THETA / 2).softmax(-1)) < 1e-10


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_masked_categories_never_sampled(name):
    x = THETA.clone()
    x[[1, 3]] = -INF
    y, _ = getattr(pyalgo, name)(x.expand(5000, 6), generator=gen(71))
    assert bool((y[:, [1, 3]] == 0).all())


# =================================================================================================
# 4. Expectations by enumeration over the sample
# =================================================================================================

def _noise_seeds(n, s=0):
    return [seed_of(1000 * s + i) for i in range(n)]


def conditional_mean(name, theta, g, tau, K=100, reps=64, n_seeds=2, **kw):
    """E[ĝ | k] for every k of one row (C, C): the fused backward over reps × n_seeds draws of the noise
    (for CV the forward Gumbels are not conditioned on k here: use the reference for CV's mean)."""
    C = theta.numel()
    x = theta.expand(C * reps, C).contiguous()
    idx = torch.arange(C, dtype=torch.int32).repeat(reps)
    G = g.expand_as(x).contiguous()
    total = 0
    for s in _noise_seeds(n_seeds):
        if name == "reinmax_rao":
            out = ops.reinmax_rao_backward(x, idx, G, None, tau, K, -1, s)
        else:
            out = ops.reinmax_backward(x, idx, G, None, tau, -1)
        total = total + out.view(reps, C, C).mean(0) / n_seeds
    return total


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


THETA8 = torch.randn(8, dtype=torch.float64, generator=gen(0))
G8 = torch.randn(8, dtype=torch.float64, generator=gen(1))


@pytest.mark.parametrize("tau,bias", [(0.5, 0.218), (1.0, 0.262), (1.5, 0.458)])
def test_rao_linear_f_bias_regression(tau, bias):
    """Linear f (g the same for every sample; exact gradient J(π₀)g). ReinMax is unbiased at τ = 1;
    ReinMax-Rao is not, at any τ: relative bias 0.218, 0.262, 0.458 at τ = 0.5, 1, 1.5 for this θ
    (a regression value, not a law; Monte Carlo error over the backward noise ~0.005)."""
    pi = THETA8.softmax(-1)
    exact = pi * (G8 - (pi * G8).sum())
    rao = (pi[:, None] * conditional_mean("reinmax_rao", THETA8, G8, tau)).sum(0)
    assert abs(_rel(rao, exact) - bias) < 0.015
    if tau == 1.0:
        reinmax = (pi[:, None] * conditional_mean("reinmax", THETA8, G8, tau)).sum(0)
        assert _rel(reinmax, exact) < 1e-14


def test_rao_large_k_limit():
    """Within-sample std ∝ K^{-1/2}, so the estimator tends to a deterministic function of the sample;
    the K = 1000 conditional means of two independent noise seeds agree to that std."""
    C = 8
    x = THETA8.expand(400, C).contiguous()
    idx = torch.full((400,), 2, dtype=torch.int32)
    g = G8.expand_as(x).contiguous()
    sd = {}
    for K in (1, 10, 100):
        out = ops.reinmax_rao_backward(x, idx, g, None, 1.0, K, -1, seed_of(80 + K))
        sd[K] = (out - out.mean(0)).norm(dim=1).pow(2).mean().sqrt().item()
    assert 2.5 < sd[1] / sd[10] < 4.0 and 2.5 < sd[10] / sd[100] < 4.0  # sqrt(10) = 3.16
    a = ops.reinmax_rao_backward(x[:1], idx[:1], g[:1], None, 1.0, 20000, -1, seed_of(90))
    b = ops.reinmax_rao_backward(x[:1], idx[:1], g[:1], None, 1.0, 20000, -1, seed_of(91))
    assert (a - b).norm() < 6 * sd[100] / math.sqrt(200)


def _cv_conditional_means(theta, g, tau, eta, tau2, noise, M=4000, K=20):
    """E[ĝ_CV | k] for every k by the reference: the forward Gumbels drawn given argmax(θ + G) = k
    (conditional_gumbels of θ), the backward's draws fresh."""
    C = theta.numel()
    x = theta.expand(C * M, C).contiguous()
    idx = torch.arange(C).repeat(M)
    torch.manual_seed(92)
    G = ref.conditional_gumbels(x, idx, torch.empty(C * M, 1, C, dtype=x.dtype).exponential_())[:, 0] - x
    grad = ref_grad(ref.reinmax_cv_ref, x, g.expand_as(x).contiguous(), None, tau=tau, eta=eta, tau2=tau2, k=K,
                    cv_noise=noise, index=idx, gumbels=G)
    return grad.view(M, C, C).mean(0)


@pytest.mark.parametrize("setting,bias", [((1.0, 0.5, 1.0, "soft"), 0.06), ((1.0, 1.0, 0.1, "soft"), None)])
def test_cv_expectation_enumerated_and_fused(setting, bias):
    """E[ĝ_CV] = Σ_k π_k E[ĝ | k] (the reference, forward Gumbels conditioned on k), against the fused
    forward + backward averaged over 200000 samples; linear f. The default η = 0.5, τ₂ = 1 stays close
    to the exact gradient; η = 1, τ₂ = 0.1 reverses it (cos < −0.9)."""
    tau, eta, tau2, noise = setting
    pi = THETA8.softmax(-1)
    exact = pi * (G8 - (pi * G8).sum())
    enum = (pi[:, None] * _cv_conditional_means(THETA8, G8, tau, eta, tau2, noise)).sum(0)
    x = THETA8.expand(200000, 8).clone().requires_grad_(True)
    y, _ = pyalgo.reinmax_cv(x, tau, eta, tau2, k=10, cv_noise=noise, generator=gen(93))
    (grad,) = torch.autograd.grad((y * G8).sum(), x)
    se = grad.std(0) / math.sqrt(grad.shape[0])
    assert ((grad.mean(0) - enum).abs() / (se + 1e-3 * se.max())).max() < 5  # enumeration MC error included
    cos = torch.nn.functional.cosine_similarity(enum, exact, 0).item()
    if bias is not None:
        assert abs(_rel(enum, exact) - bias) < 0.03 and cos > 0.99
    else:
        assert cos < -0.9


# ---- the quadratic f of the variance table (8 categories × 4 latents, enumerated) ---------------

def quadratic_problem(seed):
    g_ = gen(seed)
    theta = torch.randn(4, 8, dtype=torch.float64, generator=g_)
    M = torch.randn(32, 32, dtype=torch.float64, generator=g_) / math.sqrt(32)
    A = (M + M.t()) / 2
    b = torch.randn(32, dtype=torch.float64, generator=g_)

    def f(D):
        z = D.flatten(1)
        return ((z @ A) * z).sum(-1) + z @ b

    return theta, A, b, f


def enumerated_stats(name, theta, A, b, f, tau=1.0, K=100, n_noise=2):
    """(relative bias, relative std of one draw) over all 8^4 samples, the noise averaged over n_noise seeds."""
    L, C = theta.shape
    n = torch.arange(C ** L)
    idx = (n[:, None] // C ** torch.arange(L - 1, -1, -1)) % C
    D = torch.nn.functional.one_hot(idx, C).double()
    g = (2 * D.flatten(1) @ A + b).view(-1, L, C)
    P = theta.log_softmax(-1).gather(1, idx.t()).t().sum(-1).exp()
    x = theta.expand(idx.shape[0], L, C).contiguous()
    i32 = idx.to(torch.int32)
    if name == "reinmax":
        draws = ops.reinmax_backward(x, i32, g, None, tau, -1).flatten(1)[None]
    else:
        draws = torch.stack([ops.reinmax_rao_backward(x, i32, g, None, tau, K, -1, s).flatten(1)
                             for s in _noise_seeds(n_noise, 7)])
    mean = (P[None, :, None] * draws).sum(1).mean(0)
    exact = diagnostics.exact_gradient(f, theta).flatten()
    var = (P[None, :, None] * (draws - mean) ** 2).sum((1, 2)).mean()
    return _rel(mean, exact), (var.sqrt() / exact.norm()).item()


def test_rao_variance_lower_than_reinmax_quadratic():
    """τ = 1, three random problems: ReinMax is unbiased with relative std 1.180 (mean of the three);
    ReinMax-Rao (K = 100) has std 0.922 (ratio 0.78 on each) and bias 0.316. Asserted with margins:
    ratio < 0.85 on every problem, bias in [0.25, 0.4]."""
    stats = [(enumerated_stats("reinmax", *quadratic_problem(s)), enumerated_stats("reinmax_rao", *quadratic_problem(s)))
             for s in range(3)]
    for (rb, rs), (qb, qs) in stats:
        assert rb < 1e-12
        assert qs / rs < 0.85
    assert abs(sum(rs for (_, rs), _ in stats) / 3 - 1.180) < 0.005
    assert 0.25 < sum(qb for _, (qb, _) in stats) / 3 < 0.4


# =================================================================================================
# 5. opcheck, gradcheck, compile, double backward
# =================================================================================================

def _opcheck_cases(dtype, dim):
    x = randn((3, 4, 5), 100, dtype, scale=1.5)
    seed = seed_of(101)
    g, gp = randn(x.shape, 102, dtype), randn(x.shape, 103, dtype)
    xr = x.clone().requires_grad_(True)
    i_rao = ops.reinmax_rao(x, 1.5, 3, dim, seed)[2]
    i_cv = ops.reinmax_cv(x, 1.5, 0.5, 1.0, 3, False, dim, seed)[2]
    return {
        "reinmax_rao": [(x, 1.5, 3, dim, seed), (xr, 1.5, 3, dim, seed)],
        "reinmax_cv": [(x, 1.5, 0.5, 1.0, 3, False, dim, seed), (xr, 0.7, 1.0, 0.3, 2, True, dim, seed)],
        "reinmax_rao_backward": [(x, i_rao, g, gp, 1.5, 3, dim, seed), (x, i_rao, g, None, 0.7, 1, dim, seed)],
        "reinmax_cv_backward": [(x, i_cv, g, gp, 1.5, 0.5, 1.0, 3, False, dim, seed),
                                (x, i_cv, g, None, 0.7, 1.0, 0.3, 2, True, dim, seed)],
    }


BEYOND_OPS = ("reinmax_rao", "reinmax_cv", "reinmax_rao_backward", "reinmax_cv_backward")


def test_opcheck_cases_cover_every_op():
    assert set(_opcheck_cases(torch.float64, -1)) == set(BEYOND_OPS)


@pytest.mark.parametrize("op", BEYOND_OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", [-1, 0])
def test_opcheck(op, dtype, dim):
    for args in _opcheck_cases(dtype, dim)[op]:
        torch.library.opcheck(getattr(ops, op), args)


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_gradcheck_soft_output(name):
    """y_soft = softmax(θ) is smooth: its gradient (the J(π₀)g_soft path, no noise) passes gradcheck."""
    x = randn((3, 5), 110).requires_grad_(True)
    fn = getattr(pyalgo, name)
    assert torch.autograd.gradcheck(lambda t: fn(t, 1.3, k=4, generator=gen(0))[1], (x,))
    x3 = randn((2, 4, 3), 111).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fn(t, 1.3, k=4, dim=1, generator=gen(0))[1], (x3,))


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_compile_fullgraph(name):
    torch._dynamo.reset()
    x0 = randn((4, 6), 120, torch.float32)
    w = randn((4, 6), 121, torch.float32)
    fn = lambda x: getattr(pyalgo, name)(x, 1.3, k=5)  # noqa: E731
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    results = []
    for f in (fn, compiled):
        torch.manual_seed(5)
        x = x0.clone().requires_grad_(True)
        y_hard, y_soft = f(x)
        ((y_hard * w).sum() + (y_soft * w).sum()).backward()
        results.append((y_hard.detach(), y_soft.detach(), x.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv_soft", "reinmax_cv_gumbel"])
@pytest.mark.parametrize("dim", [-1, 0])
def test_double_backward_matches_reference(name, dim):
    x0, w0, v0 = randn((3, 5), 130), randn((3, 5), 131), randn((3, 5), 132)
    x, w, v = (t.clone().requires_grad_(True) for t in (x0, w0, v0))
    seed = draw_seed(gen(0), CPU)
    K = 4
    if name == "reinmax_rao":
        y, ys = pyalgo.reinmax_rao(x, 1.5, k=K, dim=dim, generator=gen(0))
    else:
        y, ys = pyalgo.reinmax_cv(x, 1.5, 0.7, 0.8, k=K, cv_noise=name.split("_")[-1], dim=dim, generator=gen(0))
    (g,) = torch.autograd.grad((y * w).sum() + (ys * v).sum(), x, create_graph=True)
    xr, wr, vr = (t.clone().requires_grad_(True) for t in (x0, w0, v0))
    index = y.detach().movedim(dim, -1).argmax(-1)
    xl = xr.movedim(dim, -1)
    if name == "reinmax_rao":
        r, rs = ref.reinmax_rao_ref(xl, 1.5, K, index=index, exp_noise=ref.philox_exp_noise(seed, xl.detach(), K))
    else:
        G, E = ref.philox_cv_noise(seed, xl.detach(), K)
        r, rs = ref.reinmax_cv_ref(xl, 1.5, 0.7, 0.8, K, name.split("_")[-1], index=index, gumbels=G, exp_noise=E)
    r, rs = r.movedim(-1, dim), rs.movedim(-1, dim)
    (gr,) = torch.autograd.grad((r * wr).sum() + (rs * vr).sum(), xr, create_graph=True)
    torch.testing.assert_close(g, gr)
    second = torch.autograd.grad((g ** 2).sum(), (x, w, v))
    expected = torch.autograd.grad((gr ** 2).sum(), (xr, wr, vr))
    assert all(e.abs().max() > 1e-3 for e in expected)
    for a, b in zip(second, expected):
        torch.testing.assert_close(a, b)


# =================================================================================================
# 6. Reproducibility, dtypes, the registry, argument errors
# =================================================================================================

@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_bitwise_independent_of_thread_count_and_repeated_backward(name):
    x0 = randn((3000, 33), 140, torch.float32, scale=2.0)
    g = randn((3000, 33), 141, torch.float32)
    before = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            x = x0.clone().requires_grad_(True)
            y, _ = getattr(pyalgo, name)(x, 1.2, k=7, generator=gen(142))
            (a,) = torch.autograd.grad((y * g).sum(), x, retain_graph=True)
            (b,) = torch.autograd.grad((y * g).sum(), x)  # retain_graph: the same noise again
            assert torch.equal(a, b)
            results.append((y, a))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    x = x0.clone().requires_grad_(True)
    y, _ = getattr(pyalgo, name)(x, 1.2, k=7, generator=gen(143))  # another seed: another gradient
    (c,) = torch.autograd.grad((y * g).sum(), x)
    assert not torch.equal(c, results[0][1])


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_close_to_float32_same_sample(name, dtype):
    x32 = randn((20, 37), 150, torch.float32, scale=1.5).to(dtype).float()
    g32 = randn((20, 37), 151, torch.float32).to(dtype).float()
    outs = []
    for dt in (dtype, torch.float32):
        x = x32.to(dt).requires_grad_(True)
        y, ys = getattr(pyalgo, name)(x, 1.2, k=20, generator=gen(152))
        assert y.dtype == dt and ys.dtype == dt
        (grad,) = torch.autograd.grad((y * g32.to(dt)).sum(), x)
        outs.append((y.float(), grad.float()))
    assert torch.equal(outs[0][0], outs[1][0])  # the noise is drawn in float for both: same sample
    assert (outs[0][1] - outs[1][1]).abs().max() <= 4 * torch.finfo(dtype).eps * outs[1][1].abs().max()


def test_registry_entries():
    rao, cv = ESTIMATORS["reinmax_rao"], ESTIMATORS["reinmax_cv"]
    assert (rao.label, cv.label) == ("ReinMax-Rao", "ReinMax-CV")
    assert rao.pair and cv.pair and rao.given_sample is None and cv.given_sample is None
    assert dict(rao.defaults) == {"k": 100}
    assert dict(cv.defaults) == {"eta": 0.5, "tau2": 1.0, "k": 100, "cv_noise": "soft"}
    x = randn((6, 5), 160)
    y, ys = rao(x, 1.0, generator=gen(1))
    assert rao.sample((y, ys)) is y
    yr, _ = rao.ref(x, 1.0)
    assert yr.shape == x.shape
    y, _ = cv(x, 1.0, generator=gen(1))
    assert bool((y.sum(-1) == 1).all())
    assert pyalgo.reinmax_rao is beyond.reinmax_rao and pyalgo.reinmax_cv is beyond.reinmax_cv


def test_given_seed_backward_wrappers():
    x, g, gp = randn((7, 6), 170), randn((7, 6), 171), randn((7, 6), 172)
    seed = seed_of(173)
    idx, out = run_rao(x, g, gp, 1.1, 9, seed)
    assert torch.equal(beyond.reinmax_rao_backward(x, idx, g, gp, seed, tau=1.1, k=9), out)
    idx, out = run_cv(x, g, gp, 1.1, 0.4, 0.9, 9, "gumbel", seed)
    assert torch.equal(beyond.reinmax_cv_backward(x, idx, g, gp, seed, 1.1, 0.4, 0.9, 9, "gumbel"), out)
    with pytest.raises(ValueError, match="pyalgo.reinmax_cv_backward.*index"):
        beyond.reinmax_cv_backward(x, idx.long(), g, gp, seed)
    with pytest.raises(ValueError, match="pyalgo.reinmax_rao_backward.*seed"):
        beyond.reinmax_rao_backward(x, idx, g, gp, seed[:1])


BAD = [
    ("reinmax_rao", {"tau": 0.0}, ValueError, "tau"),
    ("reinmax_rao", {"k": 0}, ValueError, "k"),
    ("reinmax_rao", {"k": 2.5}, ValueError, "k"),
    ("reinmax_cv", {"eta": -1.0}, ValueError, "eta"),
    ("reinmax_cv", {"eta": math.nan}, ValueError, "eta"),
    ("reinmax_cv", {"eta": "1"}, TypeError, "eta"),
    ("reinmax_cv", {"tau2": 0.0}, ValueError, "tau2"),
    ("reinmax_cv", {"tau2": 1e-45}, ValueError, "tau2"),
    ("reinmax_cv", {"tau2": None}, TypeError, "tau2"),
    ("reinmax_cv", {"cv_noise": "hard"}, ValueError, "cv_noise"),
    ("reinmax_cv", {"cv_noise": None}, ValueError, "cv_noise"),
    ("reinmax_cv", {"k": 2**21}, ValueError, "k"),
]


@pytest.mark.parametrize("name,kw,exc,arg", BAD, ids=[f"{b[0]}-{b[3]}-{b[1][b[3]]!r}" for b in BAD])
def test_bad_arguments_name_function_and_argument(name, kw, exc, arg):
    with pytest.raises(exc, match=rf"pyalgo\.{name}: {arg}\b"):
        getattr(pyalgo, name)(randn((3, 4), 180, torch.float32), **kw)


def test_direct_op_calls_check_arguments_in_cpp():
    x = randn((3, 4), 181)
    seed = seed_of(182)
    idx = ops.reinmax_cv(x, 1.0, 0.5, 1.0, 3, False, -1, seed)[2]
    for call, pattern in [
        (lambda: ops.reinmax_cv(x, 1.0, -0.5, 1.0, 3, False, -1, seed), "pyalgo.reinmax_cv: eta"),
        (lambda: ops.reinmax_cv(x, 1.0, 0.5, 0.0, 3, False, -1, seed), "pyalgo.reinmax_cv: tau2"),
        (lambda: ops.reinmax_rao(x, 1.0, 0, -1, seed), "pyalgo.reinmax_rao: k"),
        (lambda: ops.reinmax_rao_backward(x, idx, x, None, 1.0, 3, -1, seed[:1]), "pyalgo.reinmax_rao_backward: seed"),
        (lambda: ops.reinmax_cv_backward(x, idx[:2], x, None, 1.0, 0.5, 1.0, 3, False, -1, seed),
         "pyalgo.reinmax_cv_backward: index"),
        (lambda: ops.reinmax_cv_backward(x, idx, x[:2], None, 1.0, 0.5, 1.0, 3, False, -1, seed),
         "pyalgo.reinmax_cv_backward: grad_hard"),
    ]:
        with pytest.raises((RuntimeError, ValueError), match=pattern):
            call()


def test_out_of_range_index_poisons_only_its_row():
    x, g = randn((4, 5), 183), randn((4, 5), 184)
    seed = seed_of(185)
    idx = torch.tensor([0, 7, -1, 4], dtype=torch.int32)
    for out in (ops.reinmax_rao_backward(x, idx, g, None, 1.0, 3, -1, seed),
                ops.reinmax_cv_backward(x, idx, g, None, 1.0, 0.5, 1.0, 3, False, -1, seed)):
        assert bool(out[1:3].isnan().all()) and bool(torch.isfinite(out[[0, 3]]).all())


# ---- the call paths: eagerly an autograd.Function, the op itself under compile / export / torch.func -----

def _raw(name, x, seed):
    if name == "reinmax_rao":
        return ops.reinmax_rao(x, 1.2, 5, -1, seed)
    return ops.reinmax_cv(x, 1.2, 0.5, 1.0, 5, False, -1, seed)


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_eager_path_equals_registered_op_and_torch_func(name):
    x0, w = randn((6, 7), 200, torch.float64), randn((6, 7), 201, torch.float64)
    fn = getattr(pyalgo, name)
    x = x0.clone().requires_grad_(True)
    y_hard, y_soft = fn(x, 1.2, k=5, generator=gen(202))
    (y_hard * w).sum().backward()
    xr = x0.clone().requires_grad_(True)
    yr, _, _ = _raw(name, xr, seed_of(202))
    (yr * w).sum().backward()
    assert torch.equal(y_hard.detach(), yr.detach()) and torch.equal(x.grad, xr.grad)
    grad = torch.func.grad(lambda t: (fn(t, 1.2, k=5, generator=gen(202))[0] * w).sum())(x0)
    torch.testing.assert_close(grad, x.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
def test_torch_export_matches_eager(name):
    class Model(torch.nn.Module):
        def forward(self, x):
            return getattr(pyalgo, name)(x, 1.2, k=5)

    x = randn((4, 6), 203, torch.float32)
    program = torch.export.export(Model(), (x,))
    runs = []
    for module in (program.module(), Model()):
        torch.manual_seed(7)
        xs = x.clone().requires_grad_(True)
        y_hard, y_soft = module(xs)
        (y_hard * torch.arange(6.0)).sum().backward()
        runs.append((y_hard.detach(), xs.grad))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


# ---- CUDA parity (skipped without a GPU; `make gpu-check` runs it) --------------------------------

from test_discrete_ops import CUDA_TOL, needs_cuda  # noqa: E402  (the same rule as the other estimators)


@pytest.mark.cuda
@needs_cuda
class TestCudaParity:
    TOL = CUDA_TOL

    @pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
    @pytest.mark.parametrize("shape,dim", [((4, 37), -1), ((3, 300), -1), ((5, 6, 7), 1), ((70, 3), 0)])
    def test_same_seed_same_sample_close_grads(self, name, dtype, shape, dim):
        x, g, gp = (randn(shape, s, dtype, scale=2.0) for s in (210, 211, 212))
        seed = seed_of(213)
        args = (1.2, 7, dim) if name == "reinmax_rao" else (1.2, 0.5, 1.0, 7, False, dim)
        fwd, bwd = getattr(ops, name), getattr(ops, name + "_backward")
        cpu, cuda = fwd(x, *args, seed), fwd(x.cuda(), *args, seed.cuda())
        assert torch.equal(cpu[-1], cuda[-1].cpu())  # the index
        for a, b in zip(cpu[:-1], cuda[:-1]):
            torch.testing.assert_close(b.cpu(), a, **self.TOL[dtype])
        bc = bwd(x, cpu[-1], g, gp, *args[:-1], dim, seed)
        bg = bwd(x.cuda(), cuda[-1], g.cuda(), gp.cuda(), *args[:-1], dim, seed.cuda())
        torch.testing.assert_close(bg.cpu(), bc, **self.TOL[dtype])

    @pytest.mark.parametrize("name", ["reinmax_rao", "reinmax_cv"])
    def test_public_api_on_cuda(self, name):
        x = randn((6, 9), 214, torch.float32).cuda().requires_grad_(True)
        y_hard, y_soft = getattr(pyalgo, name)(x, 1.2, k=5, generator=torch.Generator(device="cuda").manual_seed(0))
        (y_hard * torch.arange(9.0, device="cuda")).sum().backward()
        assert y_hard.is_cuda and x.grad.is_cuda and x.grad.isfinite().all()
        assert ((y_hard == 0) | (y_hard == 1)).all() and (y_hard.sum(-1) == 1).all()
