"""References (pyalgo.discrete.reference) vs the official `reinmax` package and the fused ops, and
the paper's accuracy properties (spec §6.1-6.4) through pyalgo.discrete.diagnostics."""
import pytest
import torch

import pyalgo
from pyalgo._rng import draw_seed
from pyalgo.discrete import ESTIMATORS
from pyalgo.discrete import diagnostics as dg
from pyalgo.discrete import reference as ref

reinmax_pkg = pytest.importorskip("reinmax.reinmax")

TOL = {torch.float64: dict(atol=1e-10, rtol=1e-10), torch.float32: dict(atol=1e-5, rtol=1e-5)}
PKG_TOL = {torch.float64: dict(atol=1e-12, rtol=1e-12), torch.float32: dict(atol=1e-5, rtol=1e-5)}
DTYPES = [torch.float64, torch.float32]
SHAPE = (4, 3, 7)  # two leading dims, C = 7


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _logits(seed, dtype, shape=SHAPE, scale=1.5):
    return (scale * torch.randn(shape, dtype=torch.float64, generator=_gen(seed))).to(dtype)


def _grad(seed, like):
    return torch.randn(like.shape, dtype=torch.float64, generator=_gen(seed)).to(like.dtype)


def _op_generator_and_seed(seed):
    """A generator for a fused op, and the (seed, offset) tensor that op will draw from it."""
    return _gen(seed), draw_seed(_gen(seed), torch.device("cpu"))


def _autograd(fn, x, grads):
    """Runs fn(x) (one output or a tuple) and backpropagates grads (None entries skipped)."""
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    outs = out if isinstance(out, tuple) else (out,)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
    return tuple(o.detach() for o in outs), x.grad


def _package_backward(logits, index, g, g_soft, tau):
    """The official reinmax==0.1.0 backward (ReinMax_Auto.backward) for a forced sample."""
    C = logits.shape[-1]
    x = logits.reshape(-1, C)
    one_hot = torch.nn.functional.one_hot(index.reshape(-1).long(), C).to(x.dtype)

    class Ctx:
        saved_tensors = (one_hot, x, x.softmax(-1), x.new_full((1,), tau))

    gs = torch.zeros_like(x) if g_soft is None else g_soft.reshape(-1, C)
    grad, none = reinmax_pkg.ReinMax_Auto.backward(Ctx(), g.reshape(-1, C), gs)
    assert none is None
    return grad.reshape(logits.shape)


def _assert_one_hot(y, index):
    assert torch.equal(y, torch.nn.functional.one_hot(index.long(), y.shape[-1]).to(y.dtype))


# ---- §6.1: ReinMax backward == the official package, sample forced --------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("with_soft", [False, True])
def test_reinmax_forced_index_matches_package(dtype, tau, with_soft):
    x = _logits(0, dtype)
    index = ref.sample_index(x, _gen(1))
    g = _grad(2, x)
    gs = _grad(3, x) if with_soft else None
    expected = _package_backward(x, index, g, gs, tau)

    (y_hard, y_soft), grad_ref = _autograd(lambda t: ref.reinmax_ref(t, tau, index=index), x, (g, gs))
    _assert_one_hot(y_hard, index)
    torch.testing.assert_close(y_soft, x.softmax(-1), **PKG_TOL[dtype])
    torch.testing.assert_close(grad_ref, expected, **PKG_TOL[dtype])

    grad_op = torch.ops.pyalgo.reinmax_backward(x, index.to(torch.int32), g, gs, tau, -1)
    torch.testing.assert_close(grad_op, expected, **PKG_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("with_soft", [False, True])
def test_reinmax_public_op_matches_package_and_reference(dtype, tau, with_soft):
    x = _logits(10, dtype)
    g = _grad(11, x)
    gs = _grad(12, x) if with_soft else None
    (y_hard, y_soft), grad_op = _autograd(lambda t: pyalgo.reinmax(t, tau, generator=_gen(13)), x, (g, gs))
    index = y_hard.argmax(-1)
    _assert_one_hot(y_hard, index)
    torch.testing.assert_close(y_soft, x.softmax(-1), **PKG_TOL[dtype])
    torch.testing.assert_close(grad_op, _package_backward(x, index, g, gs, tau), **PKG_TOL[dtype])
    _, grad_ref = _autograd(lambda t: ref.reinmax_ref(t, tau, index=index), x, (g, gs))
    torch.testing.assert_close(grad_op, grad_ref, **PKG_TOL[dtype])


# ---- every reference vs its fused op, same sample / noise ------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_straight_through_matches_fused(dtype, tau):
    x, g = _logits(20, dtype), _grad(21, _logits(20, dtype))
    (y,), grad_op = _autograd(lambda t: pyalgo.straight_through(t, tau, generator=_gen(22)), x, (g,))
    index = y.argmax(-1)
    _assert_one_hot(y, index)
    (y_ref,), grad_ref = _autograd(lambda t: ref.straight_through_ref(t, tau, index=index), x, (g,))
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(grad_op, grad_ref, **TOL[dtype])
    # closed form (spec §6.7): (1/τ)(π_τ⊙g − π_τ(π_τ·g))
    p = (x / tau).softmax(-1)
    torch.testing.assert_close(grad_op, p * (g - (p * g).sum(-1, keepdim=True)) / tau, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 2.0])
@pytest.mark.parametrize("gap", [1.0, 0.3, "p"])
def test_gst_matches_fused(dtype, tau, gap):
    x, g = _logits(30, dtype), _grad(31, _logits(30, dtype))
    (y,), grad_op = _autograd(lambda t: pyalgo.gst(t, tau, gap, generator=_gen(32)), x, (g,))
    index = y.argmax(-1)
    _assert_one_hot(y, index)
    (y_ref,), grad_ref = _autograd(lambda t: ref.gst_ref(t, tau, gap, index=index), x, (g,))
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(grad_op, grad_ref, **TOL[dtype])
    # forced index: every category, including ones far below the max
    forced = torch.randint(0, x.shape[-1], x.shape[:-1], generator=_gen(33))
    gap_value, gap_is_p = (0.0, True) if gap == "p" else (gap, False)
    grad_forced = torch.ops.pyalgo.gst_backward(x, forced.to(torch.int32), g, tau, gap_value, gap_is_p, -1)
    _, grad_ref = _autograd(lambda t: ref.gst_ref(t, tau, gap, index=forced), x, (g,))
    torch.testing.assert_close(grad_forced, grad_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_matches_fused(dtype, tau, hard):
    x, g = _logits(40, dtype), _grad(41, _logits(40, dtype))
    generator, seed = _op_generator_and_seed(42)
    (y,), grad_op = _autograd(lambda t: pyalgo.gumbel_softmax(t, tau, hard, generator=generator), x, (g,))
    gumbels = ref.philox_gumbels(seed, x).to(dtype)
    (y_ref,), grad_ref = _autograd(lambda t: ref.gumbel_softmax_ref(t, tau, hard, gumbels=gumbels), x, (g,))
    if hard:
        _assert_one_hot(y, ((x + gumbels) / tau).argmax(-1))
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(grad_op, grad_ref, **TOL[dtype])


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_reference_is_torchs(hard):
    """Without forced noise the reference draws G = −log Exp(1) exactly as F.gumbel_softmax does."""
    x, g = _logits(45, torch.float64), _grad(46, _logits(45, torch.float64))
    with torch.random.fork_rng():
        torch.manual_seed(47)
        (y_torch,), grad_torch = _autograd(lambda t: torch.nn.functional.gumbel_softmax(t, 1.3, hard), x, (g,))
        torch.manual_seed(47)
        (y_ref,), grad_ref = _autograd(lambda t: ref.gumbel_softmax_ref(t, 1.3, hard), x, (g,))
    torch.testing.assert_close(y_ref, y_torch, atol=1e-14, rtol=1e-14)
    torch.testing.assert_close(grad_ref, grad_torch, atol=1e-14, rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [1.0, 2.0])
@pytest.mark.parametrize("k", [1, 5])
def test_gumbel_rao_matches_fused(dtype, tau, k):
    x, g = _logits(50, dtype), _grad(51, _logits(50, dtype))
    generator, seed = _op_generator_and_seed(52)
    (y,), grad_op = _autograd(lambda t: pyalgo.gumbel_rao(t, tau, k, generator=generator), x, (g,))
    index = y.argmax(-1)
    _assert_one_hot(y, index)
    E = ref.philox_exp_noise(seed, x, k)
    assert E.shape == (*x.shape[:-1], k, x.shape[-1])
    (y_ref,), grad_ref = _autograd(lambda t: ref.gumbel_rao_ref(t, tau, k, index=index, exp_noise=E), x, (g,))
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(grad_op, grad_ref, **TOL[dtype])


def test_gumbel_rao_conditional_gumbels_have_the_sampled_argmax(monkeypatch):
    """Every conditional perturbation θ + G^{(r)} the reference builds has its argmax at the sample."""
    x = _logits(55, torch.float64)
    index = ref.sample_index(x, _gen(56))
    E = torch.empty(*x.shape[:-1], 9, x.shape[-1], dtype=x.dtype).exponential_(generator=_gen(57))
    captured = []
    softmax = torch.Tensor.softmax

    def spy(t, dim):
        captured.append(t.detach())
        return softmax(t, dim)

    monkeypatch.setattr(torch.Tensor, "softmax", spy)
    ref.gumbel_rao_ref(x, 1.0, 9, index=index, exp_noise=E)
    monkeypatch.undo()
    (z,) = captured
    assert z.shape == E.shape
    assert torch.equal(z.argmax(-1), index.unsqueeze(-1).expand(*index.shape, 9))


def test_references_cover_every_estimator():
    for name, est in ESTIMATORS.items():
        assert est.name == name and est.reference is getattr(ref, est.reference.__name__), name
    assert {e.label for e in ESTIMATORS.values()} == {"ReinMax", "ST", "ST-GS", "GST-1.0", "GR-MCK", "ReinMax-Rao",
                                                     "ReinMax-CV"}


def test_registry_calls_apply_the_estimators_defaults():
    """ESTIMATORS[name] is the paper's estimator: ST-GS is gumbel_softmax(hard=True), GR-MCK K = 100;
    its reference gets the same defaults, and keyword arguments override them."""
    x = torch.randn(6, 5, dtype=torch.float64, generator=_gen(140))
    est = ESTIMATORS["gumbel_softmax"]
    hard = est(x, 1.0, generator=_gen(141))
    assert torch.equal(hard, pyalgo.gumbel_softmax(x, 1.0, hard=True, generator=_gen(141)))
    assert torch.equal(est(x, 1.0, hard=False, generator=_gen(141)),
                       pyalgo.gumbel_softmax(x, 1.0, hard=False, generator=_gen(141)))
    gumbels = -torch.empty_like(x).exponential_(generator=_gen(142)).log()
    assert torch.equal(est.ref(x, 1.0, gumbels=gumbels), ref.gumbel_softmax_ref(x, 1.0, True, gumbels=gumbels))
    assert dict(ESTIMATORS["gumbel_rao"].defaults) == {"k": 100} and dict(ESTIMATORS["gst"].defaults) == {"gap": 1.0}
    y = ESTIMATORS["reinmax"](x, 1.3, generator=_gen(143))
    assert isinstance(y, tuple) and ESTIMATORS["reinmax"].sample(y) is y[0]
    assert ESTIMATORS["st"].sample(hard) is hard
    with pytest.raises(ValueError, match="estimator must be one of reinmax, st"):
        dg.sample_gradients("nope", lambda D: D.sum((1, 2)), x[:2], 4)


# ---- §6.2-6.4 with exact expectations (no Monte Carlo) ----------------------------------------

def _quadratic(L, C, seed):
    gen = _gen(seed)
    A = torch.randn(L * C, L * C, dtype=torch.float64, generator=gen)
    b = torch.randn(L * C, dtype=torch.float64, generator=gen)

    def f(D):
        v = D.flatten(1)
        return ((v @ A) * v).sum(-1) + v @ b
    return f


def _linear(L, C, seed):
    b = torch.randn(L * C, dtype=torch.float64, generator=_gen(seed))
    return lambda D: D.flatten(1) @ b


def _smooth(L, C, seed, s, M=4):
    gen = _gen(seed)
    W = torch.randn(M, L * C, dtype=torch.float64, generator=gen)
    b = torch.randn(M, dtype=torch.float64, generator=gen)
    return lambda D: torch.sin((s * D.flatten(1)) @ W.T + b).sum(-1)


def _theta(L, C, seed):
    return torch.randn(L, C, dtype=torch.float64, generator=_gen(seed))


@pytest.mark.parametrize("L,C", [(1, 5), (2, 4), (3, 3)])
def test_reinmax_unbiased_for_quadratics_at_tau_1(L, C):
    f, theta = _quadratic(L, C, 60 + L), _theta(L, C, 70 + L)
    exact = dg.exact_gradient(f, theta)
    assert exact.norm() > 0.05
    assert (dg.expected_estimate("reinmax", f, theta, tau=1.0) - exact).abs().max() < 1e-12
    assert (dg.expected_estimate("st", f, theta, tau=1.0) - exact).norm() > 1e-3
    assert (dg.expected_estimate("reinmax", f, theta, tau=1.3) - exact).norm() > 1e-3


@pytest.mark.parametrize("name", ["reinmax", "st"])
def test_linear_f_exact_at_tau_1(name):
    L, C = 2, 4
    f, theta = _linear(L, C, 80), _theta(L, C, 81)
    exact = dg.exact_gradient(f, theta)
    assert (dg.expected_estimate(name, f, theta) - exact).abs().max() < 1e-12


def test_order_of_accuracy():
    """F_s(D) = f(sD): halving s cuts ST's bias ≈4x (O(s²)) and ReinMax's ≈8x (O(s³))."""
    L, C = 2, 3
    theta = _theta(L, C, 90)
    bias = {"st": [], "reinmax": []}
    for s in [1 / 8, 1 / 16, 1 / 32]:
        f = _smooth(L, C, 91, s)
        exact = dg.exact_gradient(f, theta)
        for name in bias:
            bias[name].append((dg.expected_estimate(name, f, theta) - exact).norm().item())
    for coarse, fine in zip(bias["st"], bias["st"][1:]):
        assert 3.0 <= coarse / fine <= 5.5, bias
    for coarse, fine in zip(bias["reinmax"], bias["reinmax"][1:]):
        assert 6.0 <= coarse / fine <= 11.0, bias
    assert bias["reinmax"][-1] < bias["st"][-1] / 10


@pytest.mark.parametrize("name,kw", [("reinmax", {"tau": 1.0}), ("reinmax", {"tau": 1.7}),
                                     ("st", {"tau": 1.3}), ("gst", {"tau": 1.0}),
                                     ("gst", {"tau": 2.0, "gap": "p"})])
def test_expected_estimate_matches_reference_enumeration(name, kw):
    """expected_estimate (fused backward ops) == Σ P(config) ĝ_ref(config) from the references."""
    L, C = 2, 3
    f, theta = _smooth(L, C, 100, 1.0), _theta(L, C, 101)
    tau = kw.get("tau", 1.0)
    extra = {k: v for k, v in kw.items() if k != "tau"}
    reference = {"reinmax": lambda t, i: ref.reinmax_ref(t, tau, index=i)[0],
                 "st": lambda t, i: ref.straight_through_ref(t, tau, index=i),
                 "gst": lambda t, i: ref.gst_ref(t, tau, extra.get("gap", 1.0), index=i)}[name]
    logp = theta.log_softmax(-1)
    total = torch.zeros_like(theta)
    for a in range(C):
        for b in range(C):
            index = torch.tensor([a, b])
            t = theta.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(f(reference(t, index).unsqueeze(0)).sum(), t)
            total += (logp[0, a] + logp[1, b]).exp() * grad
    torch.testing.assert_close(dg.expected_estimate(name, f, theta, **kw), total, atol=1e-12, rtol=1e-12)


# ---- exact_gradient and gradient_stats ---------------------------------------------------------

def test_exact_gradient_closed_form():
    # f(D) = D[0,0]·D[1,2] + 0.5·D[1,1]  =>  E f = π⁰₀π¹₂ + 0.5π¹₁
    theta = _theta(2, 3, 110)
    f = lambda D: D[:, 0, 0] * D[:, 1, 2] + 0.5 * D[:, 1, 1]  # noqa: E731
    p0, p1 = theta.softmax(-1)
    J = lambda p, i: p * (torch.eye(3, dtype=p.dtype)[i] - p[i])  # noqa: E731  J(p) e_i
    expected = torch.stack([p1[2] * J(p0, 0), p0[0] * J(p1, 2) + 0.5 * J(p1, 1)])
    torch.testing.assert_close(dg.exact_gradient(f, theta), expected, atol=1e-14, rtol=1e-14)
    # a single categorical, linear f: J(π) c
    c = torch.randn(5, dtype=torch.float64, generator=_gen(111))
    th = _theta(1, 5, 112)
    p = th.softmax(-1)[0]
    torch.testing.assert_close(dg.exact_gradient(lambda D: D[:, 0] @ c, th)[0], p * (c - p @ c),
                               atol=1e-14, rtol=1e-14)


def test_diagnostics_reject_bad_inputs():
    f = lambda D: D.sum((1, 2))  # noqa: E731
    with pytest.raises(ValueError, match=r"2\*\*20"):
        dg.exact_gradient(f, torch.zeros(21, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"2\*\*20"):
        dg.expected_estimate("st", f, torch.zeros(11, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(L, C\)"):
        dg.exact_gradient(f, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        dg.exact_gradient(lambda D: D.sum(2), torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="deterministic"):
        dg.expected_estimate("gumbel_rao", f, torch.zeros(2, 2, dtype=torch.float64))


def test_gradient_stats_monte_carlo_agrees_with_exact_expectation():
    L, C, n = 2, 4, 20000
    f, theta = _quadratic(L, C, 120), _theta(L, C, 121)
    exact = dg.exact_gradient(f, theta)
    for name in ["st", "reinmax"]:
        mu = dg.expected_estimate(name, f, theta)
        draws = dg.sample_gradients(name, f, theta, n, generator=_gen(122))
        assert draws.shape == (n, L, C)
        se = draws.std(0) / n ** 0.5
        assert ((draws.mean(0) - mu).abs() <= 5 * se + 1e-12).all()
        stats = dg.gradient_stats(name, f, theta, n, generator=_gen(122))
        norm = exact.norm().item()
        se_norm = (draws - draws.mean(0)).pow(2).sum((1, 2)).mean().sqrt().item() / n ** 0.5
        assert abs(stats["rel_bias"] - (mu - exact).norm().item() / norm) <= 5 * se_norm / norm
        assert stats["rel_std"] == pytest.approx(se_norm * n ** 0.5 / norm, rel=1e-9)
        assert -1 <= stats["cos_draw"] <= stats["cos_mean"] <= 1
        assert stats["grad_norm"] == pytest.approx(norm)
    # ReinMax (unbiased here) is within MC error; ST is biased beyond it.
    rm = dg.gradient_stats("reinmax", f, theta, n, generator=_gen(123))
    st = dg.gradient_stats("st", f, theta, n, generator=_gen(123))
    assert rm["rel_bias"] < 5 * rm["rel_std"] / n ** 0.5
    assert st["rel_bias"] > 0.1 > 5 * st["rel_std"] / n ** 0.5  # true ST bias here is 0.49
    assert rm["cos_mean"] > 0.99 > st["cos_mean"]


def test_sample_gradients_accepts_callables_and_names():
    f, theta = _quadratic(2, 3, 130), _theta(2, 3, 131)
    by_name = dg.sample_gradients("reinmax", f, theta, 64, generator=_gen(132), tau=1.5)
    by_fn = dg.sample_gradients(pyalgo.reinmax, f, theta, 64, generator=_gen(132), tau=1.5)
    assert torch.equal(by_name, by_fn)
    # the reference through the same path: its mean converges to the same expectation
    draws = dg.sample_gradients(ref.reinmax_ref, f, theta, 4000, generator=_gen(133), tau=1.5)
    mu = dg.expected_estimate("reinmax", f, theta, tau=1.5)
    assert ((draws.mean(0) - mu).abs() <= 5 * draws.std(0) / 4000 ** 0.5 + 1e-12).all()
