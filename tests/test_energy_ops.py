"""Fused min-min losses and samplers (pyalgo.energy.ops) against the materialised references, exact
enumeration and the statistics of uniform sampling."""
import itertools
import math

import pytest
import torch

from pyalgo.energy import ops
from pyalgo.energy import reference as R


def _chisquare(counts):
    """scipy's chi-square test, imported where used (a GPU machine may lack scipy)."""
    return pytest.importorskip("scipy.stats").chisquare(counts)

KINDS = [("logistic", None, 1.0), ("sparsemax", None, 2.0), ("entmax", 1.5, 1.5)]
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=2e-4, atol=2e-4)}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def bits_problem(B, k, dtype=torch.float64, pairwise=True, seed=0, scale=1.0):
    g = gen(seed)
    u = (scale * torch.randn(B, k, generator=g, dtype=torch.float64)).to(dtype)
    U = (0.3 * scale * torch.randn(B, k, k, generator=g, dtype=torch.float64)).to(dtype) if pairwise else None
    tau = torch.randn(B, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, 2, (B, k), generator=g).to(dtype)
    return u, U, tau, y


def perm_problem(B, n, birkhoff, dtype=torch.float64, seed=0):
    g = gen(seed)
    shape = (B, n, n) if birkhoff else (B, n)
    theta = (0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)
    tau = torch.randn(B, generator=g, dtype=torch.float64).to(dtype)
    y = torch.stack([torch.randperm(n, generator=g) for _ in range(B)]) if B else torch.zeros(0, n, dtype=torch.long)
    return theta, tau, y


def fused_and_ref_bits(u, U, tau, y, m, kind, alpha, a, seed=7):
    loss = ops.minmin_loss(u, tau, y, m, pairwise=U, kind=kind, alpha=alpha, generator=gen(seed))
    samples = ops.sample_bits(u.shape[0], m, u.shape[1], generator=gen(seed))
    return loss, R.minmin_loss_ref(u, tau, y, samples, U, a)


def fused_and_ref_perms(theta, tau, y, m, kind, alpha, a, seed=7):
    loss = ops.minmin_loss_ranking(theta, tau, y, m, kind=kind, alpha=alpha, generator=gen(seed))
    perms = ops.sample_perms(theta.shape[0], m, theta.shape[1], generator=gen(seed))
    return loss, R.minmin_loss_ranking_ref(theta, tau, y, perms, a)


def grads(loss, inputs):
    w = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype)
    return torch.autograd.grad((loss * w).sum(), inputs)


# ---- fused == materialised reference on the same samples ---------------------------------------

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind,alpha,a", KINDS)
@pytest.mark.parametrize("pairwise", [False, True])
@pytest.mark.parametrize("B,k,m", [(6, 7, 50), (3, 33, 17), (2, 1, 5), (1, 70, 9)])
def test_bits_matches_reference(dtype, kind, alpha, a, pairwise, B, k, m):
    u, U, tau, y = bits_problem(B, k, dtype, pairwise)
    inputs = [u, tau] + ([U] if pairwise else [])
    for x in inputs:
        x.requires_grad_(True)
    loss, ref = fused_and_ref_bits(u, U, tau, y, m, kind, alpha, a)
    assert loss.dtype == dtype and loss.shape == (B,)
    torch.testing.assert_close(loss, ref, **TOL[dtype])
    for g1, g2 in zip(grads(loss, inputs), grads(ref, inputs)):
        torch.testing.assert_close(g1, g2, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind,alpha,a", KINDS)
@pytest.mark.parametrize("birkhoff", [False, True])
@pytest.mark.parametrize("B,n,m", [(5, 4, 40), (3, 9, 13), (2, 1, 3), (2, 2, 6)])
def test_perms_match_reference(dtype, kind, alpha, a, birkhoff, B, n, m):
    theta, tau, y = perm_problem(B, n, birkhoff, dtype)
    theta.requires_grad_(True)
    tau.requires_grad_(True)
    loss, ref = fused_and_ref_perms(theta, tau, y, m, kind, alpha, a)
    torch.testing.assert_close(loss, ref, **TOL[dtype])
    for g1, g2 in zip(grads(loss, [theta, tau]), grads(ref, [theta, tau])):
        torch.testing.assert_close(g1, g2, **TOL[dtype])


def test_empty_batch_and_no_grad_path():
    u, U, tau, y = bits_problem(0, 5)
    assert ops.minmin_loss(u, tau, y, 4, pairwise=U).shape == (0,)
    theta, tau, y = perm_problem(0, 3, False)
    assert ops.minmin_loss_ranking(theta, tau, y, 4).shape == (0,)
    u, U, tau, y = bits_problem(4, 5)
    with torch.no_grad():
        a = ops.minmin_loss(u, tau, y, 30, pairwise=U, generator=gen(1))
    b = ops.minmin_loss(u.requires_grad_(), tau, y, 30, pairwise=U, generator=gen(1))
    torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_non_contiguous_and_label_dtypes():
    u, U, tau, y = bits_problem(5, 6)
    u_nc = torch.cat([u, u], 1)[:, ::2]
    U_nc = U.transpose(1, 2).contiguous().transpose(1, 2)
    ref = ops.minmin_loss(u_nc.contiguous(), tau, y, 20, pairwise=U_nc.contiguous(), generator=gen(2))
    for labels in (y, y.bool(), y.to(torch.uint8), y.long()):
        out = ops.minmin_loss(u_nc, tau, labels, 20, pairwise=U_nc, generator=gen(2))
        torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_inputs_not_modified():
    u, U, tau, y = bits_problem(4, 6)
    copies = [t.clone() for t in (u, U, tau, y)]
    u.requires_grad_(True)
    ops.minmin_loss(u, tau, y, 10, pairwise=U).sum().backward()
    for t, c in zip((u.detach(), U, tau, y), copies):
        assert torch.equal(t, c)
    theta, tau, yp = perm_problem(3, 5, True)
    copies = [t.clone() for t in (theta, tau, yp)]
    ops.minmin_loss_ranking(theta, tau, yp, 10)
    for t, c in zip((theta, tau, yp), copies):
        assert torch.equal(t, c)


def test_half_precision_computed_in_float32():
    u, U, tau, y = bits_problem(4, 6, torch.float32)
    for dt in (torch.bfloat16, torch.float16):
        out = ops.minmin_loss(u.to(dt), tau.to(dt), y, 40, pairwise=U.to(dt), generator=gen(3))
        ref = ops.minmin_loss(u.to(dt).float(), tau.to(dt).float(), y, 40, pairwise=U.to(dt).float(), generator=gen(3))
        assert out.dtype == dt
        torch.testing.assert_close(out, ref.to(dt))


# ---- samplers ------------------------------------------------------------------------------------

def test_perm_sampler_uniform_over_all_permutations():
    for n in (2, 3, 4, 5):
        p = ops.sample_perms(40, 600, n, generator=gen(n))
        assert torch.equal(p.sort(-1).values, torch.arange(n).expand_as(p))  # every sample a permutation
        codes = (p * (n ** torch.arange(n))).sum(-1).flatten()
        index = {sum(v * n ** i for i, v in enumerate(perm)): c for c, perm in enumerate(itertools.permutations(range(n)))}
        counts = torch.zeros(math.factorial(n))
        for code, cnt in zip(*torch.unique(codes, return_counts=True)):
            counts[index[int(code)]] = cnt
        assert _chisquare(counts.numpy()).pvalue > 1e-4
        # position marginals 1/n: every item lands in every position equally often
        marg = torch.stack([(p == v).double().mean((0, 1)) for v in range(n)])
        se = math.sqrt((1 / n) * (1 - 1 / n) / p[..., 0].numel())
        assert (marg - 1 / n).abs().max() < 5 * se


def test_bit_sampler_marginals_and_pairwise_independence():
    for k in (5, 32, 45):
        s = ops.sample_bits(50, 800, k, generator=gen(k)).double()
        N = s.shape[0] * s.shape[1]
        assert set(s.unique().tolist()) <= {0.0, 1.0}
        assert (s.mean((0, 1)) - 0.5).abs().max() < 5 * math.sqrt(0.25 / N)
        pair = (s[..., :, None] * s[..., None, :]).mean((0, 1))
        off = pair[~torch.eye(k, dtype=torch.bool)]
        assert (off - 0.25).abs().max() < 5 * math.sqrt(0.1875 / N)
    # all 2^4 patterns equally likely
    s = ops.sample_bits(100, 400, 4, generator=gen(9)).long()
    codes = (s * torch.tensor([1, 2, 4, 8])).sum(-1).flatten()
    assert _chisquare(torch.bincount(codes, minlength=16).numpy()).pvalue > 1e-4


def test_sampling_reproducible_and_thread_count_independent():
    old = torch.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            u, U, tau, y = bits_problem(64, 9)
            theta, t2, yp = perm_problem(64, 6, True)
            out.append((ops.sample_bits(64, 50, 9, generator=gen(4)), ops.sample_perms(64, 50, 6, generator=gen(4)),
                        ops.minmin_loss(u, tau, y, 300, pairwise=U, generator=gen(4)),
                        ops.minmin_loss_ranking(theta, t2, yp, 300, generator=gen(4))))
        for a, b in zip(*out):
            assert torch.equal(a, b)
    finally:
        torch.set_num_threads(old)
    assert not torch.equal(ops.sample_bits(4, 8, 9, generator=gen(4)), ops.sample_bits(4, 8, 9, generator=gen(5)))


def test_samples_do_not_depend_on_batch_size():
    """Row b's stream depends on (seed, b) only: a larger batch extends, never reshuffles."""
    small = ops.sample_perms(3, 20, 5, generator=gen(6))
    large = ops.sample_perms(9, 20, 5, generator=gen(6))
    assert torch.equal(small, large[:3])


# ---- statistics: unbiasedness, the optimal τ ------------------------------------------------------

def test_loss_and_gradient_unbiased_against_enumeration():
    """Mean over many seeds of the fused estimate == the exact E_q, within 4 standard errors."""
    u, U, tau, y = bits_problem(3, 8, seed=11)
    u.requires_grad_(True)
    tau.requires_grad_(True)
    reps, m = 400, 16
    losses, gu, gt = [], [], []
    for r in range(reps):
        loss = ops.minmin_loss(u, tau, y, m, pairwise=U, generator=gen(1000 + r))
        a, b = torch.autograd.grad(loss.sum(), [u, tau])
        losses.append(loss.detach())
        gu.append(a)
        gt.append(b)
    exact = R.exact_minmin_loss_bits(u, tau, y, U)
    eu, et = torch.autograd.grad(exact.sum(), [u, tau])
    for est, truth in ((torch.stack(losses), exact.detach()), (torch.stack(gu), eu), (torch.stack(gt), et)):
        se = est.std(0) / math.sqrt(reps)
        assert ((est.mean(0) - truth).abs() <= 4 * se + 1e-12).all()


def test_tau_gradient_zero_mean_at_exact_lse():
    u, U, _, y = bits_problem(2, 10, seed=12)
    lse = R.exact_lse_bits(u, U)
    tau = lse.clone().requires_grad_(True)
    g = torch.stack([torch.autograd.grad(ops.minmin_loss(u, tau, y, 64, pairwise=U, generator=gen(r)).sum(), tau)[0]
                     for r in range(300)])
    se = g.std(0) / math.sqrt(g.shape[0])
    assert (g.mean(0).abs() <= 4 * se).all()


@pytest.mark.parametrize("kind,alpha,a", KINDS[:2])
def test_optimal_tau_is_the_exact_log_partition(kind, alpha, a):
    """Minimising the fused loss over τ alone (Adam, fresh samples each step) recovers τ* (§1)."""
    u, U, _, y = bits_problem(3, 8, seed=13)
    target = R.optimal_tau_bits(u, U, a)
    tau = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    # plain SGD (Robbins-Monro): Adam's normalised steps are biased for these skewed gradients
    opt = torch.optim.SGD([tau], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, 300, 0.1)
    g = gen(14)
    tail = []
    for step in range(700):
        opt.zero_grad()
        ops.minmin_loss(u, tau, y, 512, pairwise=U, kind=kind, generator=g).sum().backward()
        opt.step()
        sched.step()
        if step >= 600:
            tail.append(tau.detach().clone())
    assert (torch.stack(tail).mean(0) - target).abs().max() < 0.03


def test_sparsemax_tau_gives_sparse_distribution_summing_to_one():
    u, U, _, _ = bits_problem(1, 6, seed=15, scale=3.0)
    tau = R.optimal_tau_bits(u, U, 2.0)
    p = R.implied_distribution_bits(u, U, tau, 2.0)
    assert abs(p.sum().item() - 1) < 1e-9 and (p == 0).any()
    # The fused ∂τ = 1 − E_q[w] has mean zero there.
    tau = tau.clone().requires_grad_(True)
    g = torch.stack([torch.autograd.grad(ops.minmin_loss(u, tau, torch.zeros(1, 6, dtype=torch.float64), 64,
                                                         pairwise=U, kind="sparsemax", generator=gen(r)).sum(), tau)[0]
                     for r in range(200)])
    assert abs(g.mean().item()) <= 4 * g.std().item() / math.sqrt(200)


# ---- overflow guard --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_far_tau_is_finite_and_follows_the_linear_continuation(dtype):
    u, U, _, y = bits_problem(3, 10, dtype, scale=2.0)
    c = R.overflow_threshold(dtype)
    for shift in (-1000.0, -(c + 5.0), -(c - 5.0)):
        tau = torch.full((3,), shift, dtype=dtype, requires_grad=True)
        loss, ref = fused_and_ref_bits(u, U, tau, y, 64, "logistic", None, 1.0)
        assert torch.isfinite(loss).all()
        torch.testing.assert_close(loss, ref, rtol=1e-5 if dtype == torch.float32 else 1e-10, atol=0)
        (gt,) = torch.autograd.grad(loss.sum(), tau)
        assert torch.isfinite(gt).all() and (gt < 0).all()  # pushes τ up, toward the LSE
    # τ far above: the exponential term vanishes, loss = τ − 1 − g(y), ∂τ = 1
    tau = torch.full((3,), 1e4, dtype=dtype, requires_grad=True)
    loss = ops.minmin_loss(u, tau, y, 64, pairwise=U)
    torch.testing.assert_close(loss, tau - 1 - R.energy_bits(u, y, U))
    torch.testing.assert_close(torch.autograd.grad(loss.sum(), tau)[0], torch.ones(3, dtype=dtype))


def test_large_energies_redo_the_pass_relative_to_the_max():
    """g − τ ≈ 300 overflows float32 exponentials unless the sums are rescaled."""
    u = torch.full((2, 6), 60.0)
    tau = torch.zeros(2, requires_grad=True)
    y = torch.ones(2, 6)
    loss, ref = fused_and_ref_bits(u, None, tau, y, 100, "logistic", None, 1.0)
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, ref)


# ---- autograd, opcheck, compile --------------------------------------------------------------------

class Seeded:
    """The fused loss with a fixed sample set, as a deterministic function for gradcheck."""

    def __init__(self, fn, *args, **kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self, *inputs):
        return self.fn(*inputs, *self.args, generator=gen(21), **self.kwargs)


@pytest.mark.parametrize("kind,alpha,a", KINDS)
def test_gradcheck_bits(kind, alpha, a):
    u, U, tau, y = bits_problem(3, 5, scale=0.5)
    f = Seeded(lambda u_, t_, U_, **kw: ops.minmin_loss(u_, t_, y, 12, pairwise=U_, kind=kind, alpha=alpha, **kw))
    inputs = (u.requires_grad_(), tau.requires_grad_(), U.requires_grad_())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize("birkhoff", [False, True])
def test_gradcheck_perms(birkhoff):
    theta, tau, y = perm_problem(3, 4, birkhoff)
    f = Seeded(lambda th, t, **kw: ops.minmin_loss_ranking(th, t, y, 12, **kw))
    inputs = (theta.requires_grad_(), tau.requires_grad_())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def _opcheck_cases():
    seed = torch.tensor([3, 4], dtype=torch.int64)
    u, U, tau, y = bits_problem(3, 5)
    theta, t2, yp = perm_problem(3, 4, True)
    return [
        (torch.ops.pyalgo.energy_sample_bits, (seed, 3, 7, 5)),
        (torch.ops.pyalgo.energy_sample_perms, (seed, 3, 7, 4)),
        (torch.ops.pyalgo.minmin_bits, (u.requires_grad_(), U.requires_grad_(), tau.requires_grad_(), y, 9, 1.0, True, seed)),
        (torch.ops.pyalgo.minmin_bits, (u, None, tau, y, 9, 2.0, False, seed)),
        (torch.ops.pyalgo.minmin_perms, (theta.requires_grad_(), t2.requires_grad_(), yp, 9, 1.0, True, seed)),
        (torch.ops.pyalgo.minmin_perms, (theta[:, 0].detach(), t2.detach(), yp, 9, 1.5, False, seed)),
    ]


ENERGY_OPS = {"energy_sample_bits", "energy_sample_perms", "minmin_bits", "minmin_perms",
              "energy_sample_bits_proposal", "energy_sample_perms_proposal"}


def test_opcheck_cases_cover_every_energy_op():
    # the proposal variants (and the two proposal samplers) are opchecked in test_energy_proposal.py
    from test_energy_proposal import _opcheck_cases as proposal_cases
    covered = {op.default._schema.name.split("::")[1] for op, _ in _opcheck_cases() + proposal_cases()}
    assert covered == ENERGY_OPS
    registered = {name for name in dir(torch.ops.pyalgo)
                  if name.startswith(("energy_", "minmin_")) and not name.endswith("_backward")}
    assert registered == ENERGY_OPS


@pytest.mark.parametrize("case", range(6))
def test_opcheck(case):
    op, args = _opcheck_cases()[case]
    torch.library.opcheck(op, args)


def test_torch_compile_fullgraph():
    u, U, tau, y = bits_problem(4, 6, torch.float32)
    theta, t2, yp = perm_problem(4, 5, False, torch.float32)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(u, U, tau, theta, t2):
        return (ops.minmin_loss(u, tau, y, 16, pairwise=U, generator=None).sum()
                + ops.minmin_loss_ranking(theta, t2, yp, 16, kind="sparsemax").sum())

    u.requires_grad_(True)
    torch.manual_seed(0)
    out = f(u, U, tau, theta, t2)
    out.backward()
    torch.manual_seed(0)
    eager = (ops.minmin_loss(u, tau, y, 16, pairwise=U).sum()
             + ops.minmin_loss_ranking(theta, t2, yp, 16, kind="sparsemax").sum())
    torch.testing.assert_close(out, eager)
    assert torch.isfinite(u.grad).all()


# ---- malformed input ---------------------------------------------------------------------------

def _bad_bits_cases():
    u, U, tau, y = bits_problem(3, 4)
    nan_u = u.clone()
    nan_u[0, 0] = float("nan")
    return [
        (dict(unary=u[0]), "unary must have 2 dimensions"),
        (dict(unary=u.long()), "unary must be a floating tensor"),
        (dict(tau=tau[:2]), r"tau must have shape \(B,\) = \(3,\)"),
        (dict(y=y[:, :3]), r"y must have shape \(B, k\)"),
        (dict(y=y * 2), "y must be binary"),
        (dict(num_samples=0), "num_samples must be >= 1"),
        (dict(num_samples=2.5), "num_samples must be an int"),
        (dict(unary=nan_u), "unary must be finite"),
        (dict(tau=tau * float("inf")), "tau must be finite"),
        (dict(pairwise=U[:, :, :3]), r"pairwise must have shape \(B, k, k\)"),
        (dict(pairwise=U[:, 0]), "pairwise must have 3 dimensions"),
        (dict(kind="softmax"), "kind must be one of logistic, sparsemax, entmax"),
        (dict(kind="entmax"), "kind='entmax' needs a finite alpha > 1"),
        (dict(kind="entmax", alpha=0.5), "kind='entmax' needs a finite alpha > 1"),
        (dict(kind="logistic", alpha=2.0), "kind='logistic' means alpha = 1"),
        (dict(unary=u[:, :0], y=y[:, :0], pairwise=None), "unary must have at least one label"),
    ]


@pytest.mark.parametrize("case", range(16))
def test_malformed_bits_input(case):
    u, U, tau, y = bits_problem(3, 4)
    kwargs = dict(unary=u, tau=tau, y=y, num_samples=4, pairwise=U)
    change, message = _bad_bits_cases()[case]
    kwargs.update(change)
    with pytest.raises((ValueError, TypeError), match="pyalgo.energy.minmin_loss: " + message):
        ops.minmin_loss(**kwargs)


def _bad_perm_cases():
    theta, tau, y = perm_problem(3, 4, True)
    dup = y.clone()
    dup[0, 0] = dup[0, 1]
    return [
        (dict(theta=theta[:, :, :3]), r"theta must be \(B, n\) or square"),
        (dict(theta=theta[0, 0]), "theta must have 2 or 3 dimensions"),
        (dict(y=dup), "y must hold a permutation of 0..n-1"),
        (dict(y=y + 1), "y must hold a permutation of 0..n-1"),
        (dict(y=y.double()), "y must be an integer tensor"),
        (dict(y=y[:, :3]), r"y must have shape \(B, n\)"),
        (dict(tau=tau[None]), "tau must have 1 dimensions"),
        (dict(num_samples=-1), "num_samples must be >= 1"),
        (dict(theta=theta * float("nan")), "theta must be finite"),
        (dict(kind="nope"), "kind must be one of"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_malformed_perm_input(case):
    theta, tau, y = perm_problem(3, 4, True)
    kwargs = dict(theta=theta, tau=tau, y=y, num_samples=4)
    change, message = _bad_perm_cases()[case]
    kwargs.update(change)
    with pytest.raises((ValueError, TypeError), match="pyalgo.energy.minmin_loss_ranking: " + message):
        ops.minmin_loss_ranking(**kwargs)


@pytest.mark.parametrize("call,message", [
    (lambda: ops.sample_bits(2, 3, 0), "pyalgo.energy.sample_bits: k must be >= 1"),
    (lambda: ops.sample_bits(-1, 3, 4), "pyalgo.energy.sample_bits: batch must be >= 0"),
    (lambda: ops.sample_perms(2, 0, 4), "pyalgo.energy.sample_perms: num_samples must be >= 1"),
    (lambda: ops.sample_perms(2, 3, 300), r"pyalgo.energy.sample_perms: n must be in \[1, 256\]"),
    (lambda: ops.sample_bits(2, 3, 5000), r"pyalgo.energy.sample_bits: k must be in \[1, 4096\]"),
])
def test_malformed_sampler_input(call, message):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=message):
        call()


# ---- CUDA ----------------------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
class TestCudaParity:
    def test_samplers_equal_cpu_streams(self):
        seed = torch.tensor([5, 6], dtype=torch.int64)
        for k in (7, 40):
            assert torch.equal(torch.ops.pyalgo.energy_sample_bits(seed, 9, 33, k),
                               torch.ops.pyalgo.energy_sample_bits(seed.cuda(), 9, 33, k).cpu())
        for n in (1, 5, 12):
            assert torch.equal(torch.ops.pyalgo.energy_sample_perms(seed, 9, 33, n),
                               torch.ops.pyalgo.energy_sample_perms(seed.cuda(), 9, 33, n).cpu())

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize("alpha", [1.0, 2.0, 1.5])
    @pytest.mark.parametrize("pairwise", [False, True])
    def test_bits_loss_and_grads(self, dtype, alpha, pairwise):
        seed = torch.tensor([5, 6], dtype=torch.int64)
        u, U, tau, y = bits_problem(37, 13, dtype, pairwise)
        cpu = torch.ops.pyalgo.minmin_bits(u, U, tau, y, 1000, alpha, True, seed)
        dev = torch.ops.pyalgo.minmin_bits(u.cuda(), None if U is None else U.cuda(), tau.cuda(), y.cuda(), 1000,
                                           alpha, True, seed.cuda())
        for a, b in zip(cpu, dev):
            torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-4)

    @pytest.mark.parametrize("birkhoff", [False, True])
    def test_perms_loss_and_grads(self, birkhoff):
        seed = torch.tensor([5, 6], dtype=torch.int64)
        theta, tau, y = perm_problem(21, 7, birkhoff, torch.float32)
        cpu = torch.ops.pyalgo.minmin_perms(theta, tau, y, 500, 1.0, True, seed)
        dev = torch.ops.pyalgo.minmin_perms(theta.cuda(), tau.cuda(), y.cuda(), 500, 1.0, True, seed.cuda())
        for a, b in zip(cpu, dev):
            torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-4)

    def test_large_pairwise_uses_global_accumulator(self):
        seed = torch.tensor([1, 2], dtype=torch.int64)
        u, U, tau, y = bits_problem(3, 120, torch.float32)
        cpu = torch.ops.pyalgo.minmin_bits(u, U, tau, y, 64, 1.0, True, seed)
        dev = torch.ops.pyalgo.minmin_bits(u.cuda(), U.cuda(), tau.cuda(), y.cuda(), 64, 1.0, True, seed.cuda())
        for a, b in zip(cpu, dev):
            torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-4)

    def test_public_api_on_cuda(self):
        u, U, tau, y = bits_problem(4, 6, torch.float32)
        g = torch.Generator(device="cuda").manual_seed(0)
        loss = ops.minmin_loss(u.cuda().requires_grad_(), tau.cuda(), y.cuda(), 32, pairwise=U.cuda(), generator=g)
        loss.sum().backward()
        assert loss.device.type == "cuda"
