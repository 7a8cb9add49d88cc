"""The fused discrete-estimator ops (pyalgo.discrete.ops, csrc/discrete) as a user sees them:
gradcheck, opcheck, torch.compile, shapes, dtypes, the sampler's distribution, reproducibility,
the backward's structure (docs/discrete.md), malformed inputs, CUDA parity.

Reference-vs-op value/gradient equality on small shapes and the exact bias properties live in
tests/test_discrete_reference.py and are not repeated here.
"""
import math
import re
import warnings

import pytest
import torch

import pyalgo
from pyalgo._rng import draw_seed, philox_uniform
from pyalgo.discrete import ESTIMATORS
from pyalgo.discrete import reference as ref

ops = torch.ops.pyalgo
CPU = torch.device("cpu")
# reinmax, st, gumbel_softmax, gst, gumbel_rao (ReinMax-Rao / ReinMax-CV: tests/test_discrete_beyond.py)
NAMES = [n for n in ESTIMATORS if n not in ("reinmax_rao", "reinmax_cv")]
FN = {"reinmax": "pyalgo.reinmax", "st": "pyalgo.straight_through",
      "gumbel_softmax": "pyalgo.gumbel_softmax", "gst": "pyalgo.gst", "gumbel_rao": "pyalgo.gumbel_rao"}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _defaults(name, kw):
    kw = dict(kw)
    if name == "gumbel_softmax":
        kw.setdefault("hard", True)
    if name == "gumbel_rao":
        kw.setdefault("k", 4)
    return kw


def call(name, x, tau=1.0, dim=-1, generator=None, **kw):
    """The public op; always a tuple of outputs ((y_hard, y_soft) for ReinMax, (y,) otherwise).
    gumbel_softmax defaults to hard=True (ST-GS) and gumbel_rao to k=4 here."""
    out = ESTIMATORS[name](x, tau=tau, dim=dim, generator=generator, **_defaults(name, kw))
    return out if isinstance(out, tuple) else (out,)


def fwd_bwd(name, x, grads, tau=1.0, dim=-1, seed=0, **kw):
    """Runs the public op with gen(seed) on a fresh leaf copy of x and backpropagates grads
    (one per output; None entries skipped). Returns (outputs, dL/dx)."""
    x = x.detach().clone().requires_grad_(True)
    outs = call(name, x, tau, dim, generator=gen(seed), **kw)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
    return tuple(o.detach() for o in outs), x.grad


def randn(shape, seed, dtype=torch.float64, scale=1.0):
    return (scale * torch.randn(shape, dtype=torch.float64, generator=gen(seed))).to(dtype)


def grads_for(name, x, seed):
    """One upstream gradient per output of `name` (ReinMax gets g and g_soft)."""
    n = 2 if name == "reinmax" else 1
    return [randn(x.shape, seed + i, x.dtype) for i in range(n)]


def assert_one_hot(y, dim=-1):
    y = y.movedim(dim, -1)
    assert ((y == 0) | (y == 1)).all()
    assert (y.sum(-1) == 1).all()


def index_of(y, dim=-1):
    return y.argmax(dim)


def vjp_softmax(p, g):
    """J(p) g = p ⊙ (g − ⟨p, g⟩) along the last dim."""
    return p * (g - (p * g).sum(-1, keepdim=True))


# ---- raw op calls (opcheck, direct-call checks, CUDA parity) -----------------------------------

def raw_forward(name, x, tau, dim, seed, k=3, hard=True, gap=(1.0, False)):
    if name == "reinmax":
        return ops.reinmax(x, tau, dim, seed)
    if name == "st":
        return ops.straight_through(x, tau, dim, seed)
    if name == "gumbel_softmax":
        return ops.gumbel_softmax(x, tau, hard, dim, seed)
    if name == "gst":
        return ops.gst(x, tau, gap[0], gap[1], dim, seed)
    return ops.gumbel_rao(x, tau, k, dim, seed)


def raw_backward(name, x, index, g, tau, dim, seed, k=3, gap=(1.0, False), gp=None):
    if name == "reinmax":
        return ops.reinmax_backward(x, index, g, gp, tau, dim)
    if name == "st":
        return ops.straight_through_backward(x, g, tau, dim)
    if name == "gumbel_softmax":
        return ops.gumbel_softmax_backward(x, g, tau, dim, seed)
    if name == "gst":
        return ops.gst_backward(x, index, g, tau, gap[0], gap[1], dim)
    return ops.gumbel_rao_backward(x, index, g, tau, k, dim, seed)


# =================================================================================================
# 1. gradcheck
# =================================================================================================

@pytest.mark.parametrize("tau", [0.5, 1.0, 2.5])
def test_gradcheck_gumbel_softmax_soft(tau):
    """hard=False is smooth given the Gumbels; a fresh gen(0) per call fixes them."""
    x = randn((3, 5), 0).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: pyalgo.gumbel_softmax(t, tau, hard=False, generator=gen(0)), (x,))
    x3 = randn((2, 4, 3), 1).requires_grad_(True)  # categorical dim in the middle
    assert torch.autograd.gradcheck(
        lambda t: pyalgo.gumbel_softmax(t, tau, hard=False, dim=1, generator=gen(0)), (x3,))


def test_gradcheck_reinmax_soft_output():
    """y_soft = softmax(θ) is smooth; only y_soft is used, so y_hard's grad is None in backward."""
    x = randn((3, 6), 2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pyalgo.reinmax(t, 1.5, generator=gen(0))[1], (x,))


def _frozen_surrogate(name, x0, tau, kw):
    """A smooth function S of the logits whose Jacobian at x0 is, by the estimator's definition,
    the Jacobian its backward applies for the sample (and noise) drawn at x0 with gen(0):
    every stop-gradient quantity is frozen at x0 (spec §1.2-1.3)."""
    seed = draw_seed(gen(0), CPU)
    outs = call(name, x0, tau, generator=gen(0), **kw)
    if name == "gumbel_softmax":
        G = ref.philox_gumbels(seed, x0)
        return lambda x: (((x + G) / tau).softmax(-1),)
    D = outs[0]
    index = index_of(D)
    if name == "st":
        return lambda x: ((x / tau).softmax(-1),)
    if name == "reinmax":
        c = ((D + (x0 / tau).softmax(-1)) / 2).log() - x0  # π₁ = softmax(c + θ) at θ = x0
        return lambda x: (2 * (x + c).softmax(-1) - 0.5 * x.softmax(-1), x.softmax(-1))
    if name == "gst":
        gap = kw.get("gap", 1.0)
        m = x0.max(-1, keepdim=True).values
        if gap == "p":
            pk = x0.softmax(-1).gather(-1, index.unsqueeze(-1))
            gap = -torch.log1p(-pk) / pk
        c = (m - x0) * D - torch.where(D.bool(), 0.0, (x0 + gap - m).clamp_min(0))
        return lambda x: (((x + c) / tau).softmax(-1),)
    # gumbel_rao: G_r = (conditional perturbation at x0) − x0, r = 1..K
    k = _defaults(name, kw)["k"]
    E = ref.philox_exp_noise(seed, x0, k)                     # (..., K, C)
    log_Z = x0.logsumexp(-1, keepdim=True).unsqueeze(-1)      # (..., 1, 1)
    log_E = E.log()
    log_Es = log_E.gather(-1, index[..., None, None].expand(*E.shape[:-1], 1))
    hot = D.unsqueeze(-2).bool()
    xb = x0.unsqueeze(-2)
    G = torch.where(hot, log_Z - log_Es, -torch.logaddexp(log_E - xb, log_Es - log_Z)) - xb
    return lambda x: (((x.unsqueeze(-2) + G) / tau).softmax(-1).mean(-2),)


class _OpBackwardOnSurrogate(torch.autograd.Function):
    """forward: the frozen surrogate S(x); backward: pyalgo's fused backward at x (same sample).
    gradcheck then compares pyalgo's backward against finite differences of S."""

    @staticmethod
    def forward(ctx, x, name, tau, kw, surrogate):
        ctx.save_for_backward(x)
        ctx.args = (name, tau, kw)
        return surrogate(x)

    @staticmethod
    def backward(ctx, *grads):
        (x,) = ctx.saved_tensors
        name, tau, kw = ctx.args
        with torch.enable_grad():
            _, gx = fwd_bwd(name, x, list(grads), tau, seed=0, **kw)
        return gx, None, None, None, None


@pytest.mark.parametrize("name,kw", [("reinmax", {}), ("st", {}), ("gumbel_softmax", {"hard": True}),
                                     ("gumbel_softmax", {"hard": False}), ("gst", {}),
                                     ("gst", {"gap": "p"}), ("gumbel_rao", {"k": 3})])
@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_gradcheck_backward_is_jacobian_of_frozen_surrogate(name, kw, tau):
    x0 = randn((3, 5), 3, scale=1.5)
    surrogate = _frozen_surrogate(name, x0, tau, kw)
    x = x0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: _OpBackwardOnSurrogate.apply(t, name, tau, kw, surrogate), (x,))


@pytest.mark.parametrize("name", NAMES)
def test_backward_ops_are_linear_in_grad(name):
    x = randn((4, 7), 4)
    seed = draw_seed(gen(0), CPU)
    index = raw_forward(name, x, 1.3, -1, seed)[-1]
    g1, g2 = randn(x.shape, 5), randn(x.shape, 6)
    gp = randn(x.shape, 7) if name == "reinmax" else None
    b = lambda g, p=None: raw_backward(name, x, index, g, 1.3, -1, seed, gp=p)  # noqa: E731
    torch.testing.assert_close(b(2 * g1 - 3 * g2), 2 * b(g1) - 3 * b(g2), atol=1e-12, rtol=1e-12)
    if name == "reinmax":
        torch.testing.assert_close(b(g1, gp), b(g1) + b(torch.zeros_like(g1), gp), atol=1e-12, rtol=1e-12)


def _reference_output(name, x, tau, seed, index, dim):
    """The pure-torch surrogate with the op's own sample / noise, on `dim`."""
    xl = x.movedim(dim, -1)
    idx = index.long()
    if name == "reinmax":
        out = ref.reinmax_ref(xl, tau, index=idx)[0]
    elif name == "st":
        out = ref.straight_through_ref(xl, tau, index=idx)
    elif name == "gst":
        out = ref.gst_ref(xl, tau, 1.0, index=idx)
    elif name == "gumbel_rao":
        out = ref.gumbel_rao_ref(xl, tau, 4, index=idx, exp_noise=ref.philox_exp_noise(seed, xl.detach(), 4))
    else:
        out = ref.gumbel_softmax_ref(xl, tau, True, gumbels=ref.philox_gumbels(seed, xl.detach()))
    return out.movedim(-1, dim)


@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", NAMES)
def test_double_backward_matches_reference(name, dim):
    """create_graph=True (gradient penalties, MAML, Hessian-vector products): the gradient of a
    pyalgo gradient equals the second derivative of the reference surrogate with the same sample
    and noise, w.r.t. the logits and the upstream weights."""
    x0, w0 = randn((3, 5), 8), randn((3, 5), 9)
    x, w = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    kw = {"k": 4} if name == "gumbel_rao" else {}
    seed = draw_seed(gen(0), CPU)
    y = call(name, x, 1.5, dim=dim, generator=gen(0), **kw)[0]
    (g,) = torch.autograd.grad((y * w).sum(), x, create_graph=True)
    xr, wr = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    index = y.detach().movedim(dim, -1).argmax(-1)
    r = _reference_output(name, xr, 1.5, seed, index, dim)
    (gr,) = torch.autograd.grad((r * wr).sum(), xr, create_graph=True)
    torch.testing.assert_close(g, gr)
    second = torch.autograd.grad((g ** 2).sum(), (x, w))
    expected = torch.autograd.grad((gr ** 2).sum(), (xr, wr))
    assert expected[0].abs().max() > 1e-3 and expected[1].abs().max() > 1e-3
    torch.testing.assert_close(second[0], expected[0])
    torch.testing.assert_close(second[1], expected[1])


# =================================================================================================
# 2. torch.library.opcheck on every op
# =================================================================================================

OPCHECK_OPS = ["reinmax", "reinmax_backward", "straight_through", "straight_through_backward",
               "gst", "gst_backward", "gumbel_rao", "gumbel_rao_backward", "gumbel_softmax",
               "gumbel_softmax_backward", "philox_uniform"]
_SHORT = {"straight_through": "st"}


def test_opcheck_covers_every_discrete_op():
    registered = {n.split("::")[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith("pyalgo::")}
    assert set(OPCHECK_OPS) <= registered  # tests/test_wireless_ops.py checks that all ops are covered


def _opcheck_args(op, dtype, dim):
    x = randn((3, 4, 5), 10, dtype, scale=1.5)
    seed = draw_seed(gen(11), CPU)
    if op == "philox_uniform":
        return [(seed, 3, 70, 2, dtype), (seed, 0, 5, 0, dtype)]
    name = op.removesuffix("_backward")
    name = _SHORT.get(name, name)
    if not op.endswith("_backward"):
        args = {"reinmax": (x, 1.5, dim, seed), "st": (x, 1.5, dim, seed),
                "gst": (x, 1.5, 1.0, False, dim, seed), "gumbel_rao": (x, 1.5, 3, dim, seed),
                "gumbel_softmax": (x, 1.5, dim == -1, dim, seed)}[name]
        xr = x.clone().requires_grad_(True)  # exercises the autograd registration too
        return [args, (xr, *args[1:])]
    index = raw_forward(name, x, 1.5, dim, seed)[-1]
    g, gp = randn(x.shape, 12, dtype), randn(x.shape, 13, dtype)
    return {"reinmax": [(x, index, g, gp, 1.5, dim), (x, index, g, None, 0.7, dim)],
            "st": [(x, g, 1.5, dim)],
            "gst": [(x, index, g, 1.5, 0.5, False, dim), (x, index, g, 2.0, 0.0, True, dim)],
            "gumbel_rao": [(x, index, g, 1.5, 3, dim, seed)],
            "gumbel_softmax": [(x, g, 1.5, dim, seed)]}[name]


@pytest.mark.parametrize("op", OPCHECK_OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", [-1, 0])
def test_opcheck(op, dtype, dim):
    if op == "philox_uniform" and dim == 0:
        pytest.skip("philox_uniform has no dim")
    for args in _opcheck_args(op, dtype, dim):
        torch.library.opcheck(getattr(ops, op), args)


def test_philox_uniform_range_and_prefix():
    seed = draw_seed(gen(14), CPU)
    for dtype in (torch.float32, torch.float64):
        u = philox_uniform(seed, 5, 150, 1, dtype)
        assert u.dtype == dtype and u.shape == (5, 150)
        assert ((u > 0) & (u < 1)).all()
        # u[r, c] depends on (row, column, stream) only, not on how many are requested
        torch.testing.assert_close(philox_uniform(seed, 3, 40, 1, dtype), u[:3, :40], atol=0, rtol=0)
        assert not torch.equal(philox_uniform(seed, 5, 150, 2, dtype), u)


# =================================================================================================
# 3. torch.compile(fullgraph=True)
# =================================================================================================

def _compiled_vs_eager(fn_eager, fn_compiled, name, x0, grads):
    outs = []
    for fn in (fn_eager, fn_compiled):
        torch.manual_seed(1234)
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        y = y if isinstance(y, tuple) else (y,)
        torch.autograd.backward(list(y), grads[:len(y)])
        outs.append(([t.detach() for t in y], x.grad))
    (ye, ge), (yc, gc) = outs
    for a, b in zip(ye, yc):
        assert torch.equal(a, b)
    torch.testing.assert_close(gc, ge, atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_compile_fullgraph_aot_eager(name):
    torch._dynamo.reset()
    x0 = randn((4, 6), 15, torch.float32)
    grads = grads_for(name, x0, 16)
    kw = _defaults(name, {"tau": 1.3})
    fn = lambda x: ESTIMATORS[name](x, **kw)  # noqa: E731  generator=None: torch.manual_seed drives it
    _compiled_vs_eager(fn, torch.compile(fn, fullgraph=True, backend="aot_eager"), name, x0, grads)


def test_compile_fullgraph_inductor_reinmax():
    """Inductor replaces torch.randint (which draws the op's seed) by its own RNG unless
    fallback_random=True; with it, compiled == eager bitwise."""
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    x0 = randn((4, 6), 17, torch.float32)
    fn = lambda x: pyalgo.reinmax(x, 1.3)  # noqa: E731
    with inductor_config.patch(fallback_random=True):
        _compiled_vs_eager(fn, torch.compile(fn, fullgraph=True), "reinmax", x0, grads_for("reinmax", x0, 18))


def test_compile_fullgraph_reinmax_tau_below_one():
    """The tau < 1 warning is skipped while dynamo traces, so fullgraph compilation works."""
    torch._dynamo.reset()
    x0 = randn((4, 6), 19, torch.float32)
    fn = lambda x: pyalgo.reinmax(x, 0.5)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compiled_vs_eager(fn, torch.compile(fn, fullgraph=True, backend="aot_eager"), "reinmax", x0,
                           grads_for("reinmax", x0, 20))


# =================================================================================================
# 3b. The public functions' call paths (pyalgo.discrete.ops._Lean): eagerly a plain autograd.Function
#     running the op below autograd; under torch.compile / torch.export / torch.func the op itself
#     with its registered autograd. Every path must give the same samples and gradients.
# =================================================================================================

def _op_path(name, x, grads, tau, generator, dim=-1, **kw):
    """The op called directly (its registered autograd), with the seed the public function draws."""
    kw = _defaults(name, kw)
    seed = draw_seed(generator, x.device)
    args = {"k": kw.get("k", 3), "hard": kw.get("hard", True)}
    outs = raw_forward(name, x, tau, dim, seed, **args)
    outs = outs[:2] if name == "reinmax" else outs[:1]
    torch.autograd.backward(list(outs), grads[:len(outs)])
    return [o.detach() for o in outs]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dim", [-1, 0])
def test_eager_path_equals_registered_op(name, dim):
    x0 = randn((5, 7), 90, torch.float32)
    grads = grads_for(name, x0, 91)
    xa = x0.clone().requires_grad_(True)
    outs = call(name, xa, 1.3, dim, generator=gen(92))
    torch.autograd.backward(list(outs), grads[:len(outs)])
    xb = x0.clone().requires_grad_(True)
    ref = _op_path(name, xb, grads, 1.3, gen(92), dim)
    for a, b in zip(outs, ref):
        assert torch.equal(a.detach(), b)
    assert torch.equal(xa.grad, xb.grad)


@pytest.mark.parametrize("name", NAMES)
def test_no_grad_path_gives_the_same_samples(name):
    x = randn((5, 7), 93, torch.float32).requires_grad_(True)
    with_grad = call(name, x, 1.3, generator=gen(94))
    with torch.no_grad():
        without = call(name, x, 1.3, generator=gen(94))
    assert all(not o.requires_grad for o in without)
    for a, b in zip(with_grad, without):
        assert torch.equal(a.detach(), b)


@pytest.mark.parametrize("name", ["gumbel_softmax", "gumbel_rao"])
def test_kept_seed_is_not_a_reused_buffer(name):
    """GS and GR-MCK regenerate their noise in backward from the saved seed: later calls (which draw
    into the per-thread scratch seed) must not change it."""
    x0 = randn((6, 9), 95, torch.float32)
    grads = grads_for(name, x0, 96)
    _, expected = fwd_bwd(name, x0, grads, 1.3, seed=97)
    x = x0.clone().requires_grad_(True)
    (y,) = call(name, x, 1.3, generator=gen(97))
    for other in NAMES:
        call(other, x0, 1.3, generator=gen(98))
    y.backward(grads[0])
    assert torch.equal(x.grad, expected)


@pytest.mark.parametrize("name", NAMES)
def test_torch_export_matches_eager(name):
    kw = _defaults(name, {"tau": 1.3})

    class Model(torch.nn.Module):
        def forward(self, x):
            out = ESTIMATORS[name](x, **kw)
            return out if isinstance(out, tuple) else (out,)

    x = randn((4, 6), 99, torch.float32)
    program = torch.export.export(Model(), (x,))
    assert any(str(n.target).startswith("pyalgo.") for n in program.graph.nodes)
    runs = []
    for module in (program.module(), Model()):
        torch.manual_seed(5)
        xs = x.clone().requires_grad_(True)
        outs = module(xs)
        torch.autograd.backward(list(outs), grads_for(name, x, 100)[:len(outs)])
        runs.append(([o.detach() for o in outs], xs.grad))
    for a, b in zip(runs[0][0], runs[1][0]):
        assert torch.equal(a, b)
    assert torch.equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("name", NAMES)
def test_torch_func_grad_matches_autograd(name):
    x = randn((4, 6), 101, torch.float64)
    w = randn((4, 6), 102, torch.float64)
    kw = _defaults(name, {"tau": 1.3})

    def loss(x):
        out = ESTIMATORS[name](x, generator=gen(103), **kw)
        return (ESTIMATORS[name].sample(out) * w).sum()

    expected = x.clone().requires_grad_(True)
    loss(expected).backward()
    torch.testing.assert_close(torch.func.grad(loss)(x), expected.grad, rtol=1e-12, atol=1e-12)


# =================================================================================================
# 4. Shapes, dims, layouts
# =================================================================================================

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(5, 1), (1,), (2, 3, 1)])
def test_single_category(name, shape):
    x = randn(shape, 21, scale=3.0)
    for hard in ([True, False] if name == "gumbel_softmax" else [None]):
        kw = {} if hard is None else {"hard": hard}
        outs, gx = fwd_bwd(name, x, grads_for(name, x, 22), 1.7, **kw)
        for y in outs:
            assert torch.equal(y, torch.ones_like(x))
        assert torch.equal(gx, torch.zeros_like(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((0, 5), -1), ((2, 0, 5), -1), ((2, 0, 5), 0), ((5, 0), 0),
                                       ((0, 3, 4), 1)])
def test_empty_batch(name, shape, dim):
    x = torch.empty(shape, dtype=torch.float32)
    outs, gx = fwd_bwd(name, x, grads_for(name, x, 23), dim=dim)
    for y in outs:
        assert y.shape == x.shape and y.dtype == x.dtype
    assert gx.shape == x.shape and gx.numel() == 0


@pytest.mark.parametrize("name", NAMES)
def test_odd_shape(name):
    x = randn((3, 5, 7), 24, scale=2.0)
    outs, gx = fwd_bwd(name, x, grads_for(name, x, 25), 1.4)
    assert_one_hot(outs[0])
    assert gx.shape == x.shape and torch.isfinite(gx).all()


def _check_backward_against_reference(name, x, index, seed, g, gp, gx, tau, kw, atol):
    """The op's gradient vs the reference fed the op's sample/noise (last-dim layout)."""
    k = _defaults(name, kw).get("k")
    xr = x.detach().clone().requires_grad_(True)
    if name == "reinmax":
        outs = ref.reinmax_ref(xr, tau, index=index)
        torch.autograd.backward(list(outs), [g, gp])
    else:
        r = {"st": lambda: ref.straight_through_ref(xr, tau, index=index),
             "gumbel_softmax": lambda: ref.gumbel_softmax_ref(xr, tau, True, gumbels=ref.philox_gumbels(seed, x)),
             "gst": lambda: ref.gst_ref(xr, tau, kw.get("gap", 1.0), index=index),
             "gumbel_rao": lambda: ref.gumbel_rao_ref(xr, tau, k, index=index,
                                                     exp_noise=ref.philox_exp_noise(seed, x, k))}[name]()
        r.backward(g)
    torch.testing.assert_close(gx, xr.grad, atol=atol, rtol=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("C", [65, 130, 5000])
def test_large_C_chunked_rows(name, C):
    """C > 64 takes the chunked (online max/normaliser) path of every kernel."""
    x = randn((3, C), 26, scale=3.0)
    x[0, C // 2] = 12.0  # a clear max in a middle chunk of row 0
    x[1, -3:] = -math.inf  # masked tail in row 1
    g = grads_for(name, x, 27)
    outs, gx = fwd_bwd(name, x, g, 1.5)
    assert_one_hot(outs[0])
    assert (index_of(outs[0])[1] < C - 3).all()
    assert torch.isfinite(gx).all()
    # the references produce NaN on -inf logits: compare rows 0 and 2 (same seed => same rows)
    rows = [0, 2]
    seed = draw_seed(gen(0), CPU)
    ref_x = x.clone()
    ref_x[1, -3:] = 0.0
    outs_r, gx_r = fwd_bwd(name, ref_x, g, 1.5)
    assert torch.equal(outs_r[0][rows], outs[0][rows]) and torch.equal(gx_r[rows], gx[rows])  # rows independent
    _check_backward_against_reference(name, ref_x, index_of(outs_r[0]), seed, g[0], g[-1], gx_r, 1.5, {}, 1e-12)
    if name == "reinmax":
        torch.testing.assert_close(outs[1], x.softmax(-1), atol=1e-15, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((4, 6, 5), 0), ((4, 6, 5), 1), ((4, 6, 5), -1), ((4, 6, 5), -3),
                                       ((70, 3, 2), 0)])
def test_any_dim_equals_movedim(name, shape, dim):
    """Rows are numbered in the flattened (outer, inner) order, which is exactly the row order of
    x.movedim(dim, -1): the same seed gives the same samples/noise, and the same gradients."""
    x = randn(shape, 28, scale=1.5)
    g = grads_for(name, x, 29)
    outs, gx = fwd_bwd(name, x, g, 1.3, dim=dim)
    xm = x.movedim(dim, -1).contiguous()
    outs_m, gx_m = fwd_bwd(name, xm, [t.movedim(dim, -1).contiguous() for t in g], 1.3)
    for a, b in zip(outs, outs_m):
        assert a.shape == x.shape
        torch.testing.assert_close(a.movedim(dim, -1), b, atol=1e-15, rtol=1e-14)
    assert torch.equal(index_of(outs[0], dim), index_of(outs_m[0]))
    assert_one_hot(outs[0], dim)
    torch.testing.assert_close(gx.movedim(dim, -1), gx_m, atol=1e-14, rtol=1e-12)


def _noncontiguous(kind, seed):
    """(leaf tensor, a function of the leaf producing the non-contiguous logits)."""
    if kind == "transposed":
        return randn((7, 5), seed), lambda b: b.t()
    if kind == "stepped":
        return randn((6, 15), seed), lambda b: b[::2, 1::2]
    if kind == "expanded":
        return randn((1, 6), seed), lambda b: b.expand(4, 6)
    return randn((5, 4, 6), seed), lambda b: b.permute(2, 0, 1)[:, ::2]  # "permuted"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["transposed", "stepped", "expanded", "permuted"])
def test_noncontiguous_inputs(name, kind):
    base, view = _noncontiguous(kind, 30)
    xv = view(base)
    assert not xv.is_contiguous()
    g = grads_for(name, xv, 31)
    leaf = base.clone().requires_grad_(True)
    outs = call(name, view(leaf), 1.2, generator=gen(0))
    torch.autograd.backward(list(outs), g[:len(outs)])
    # the same values, made contiguous first
    leaf_c = base.clone().requires_grad_(True)
    outs_c = call(name, view(leaf_c).contiguous(), 1.2, generator=gen(0))
    torch.autograd.backward(list(outs_c), g[:len(outs_c)])
    for a, b in zip(outs, outs_c):
        assert torch.equal(a, b)
    torch.testing.assert_close(leaf.grad, leaf_c.grad, atol=0, rtol=0)
    # and non-contiguous upstream gradients
    gx_t = [t.t().contiguous().t() if t.dim() == 2 else t for t in g]
    _, gx = fwd_bwd(name, xv, gx_t, 1.2)
    _, gx_c = fwd_bwd(name, xv.contiguous(), g, 1.2)
    torch.testing.assert_close(gx, gx_c, atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_input_and_grads_not_modified(name):
    x = randn((4, 9), 32).requires_grad_(True)
    g = grads_for(name, x, 33)
    x_before, g_before = x.detach().clone(), [t.clone() for t in g]
    outs = call(name, x, 1.5, generator=gen(0))
    torch.autograd.backward(list(outs), g[:len(outs)])
    assert torch.equal(x.detach(), x_before)
    for a, b in zip(g, g_before):
        assert torch.equal(a, b)
    # a transposed view of a shared buffer is not written either
    buf = randn((9, 4), 34)
    before = buf.clone()
    call(name, buf.t(), generator=gen(0))
    assert torch.equal(buf, before)


# =================================================================================================
# 5. dtypes
# =================================================================================================

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_output_dtype_and_exact_one_hot(name, dtype):
    x = randn((6, 11), 35, dtype, scale=2.0).requires_grad_(True)
    outs = call(name, x, 1.5, generator=gen(0))
    for y in outs:
        assert y.dtype == dtype and y.shape == x.shape
    assert_one_hot(outs[0])
    outs[0].backward(randn(x.shape, 36, dtype))
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name,kw", [(n, {}) for n in NAMES] + [("gumbel_softmax", {"hard": False}),
                                                                ("gst", {"gap": "p"})])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(5, 37), (2, 300)])
def test_half_precision_close_to_fp32_same_sample(name, kw, dtype, shape):
    """Logits and upstream grads are representable in the half type, so fp32 sees exactly the same
    values; the kernels accumulate half inputs in fp32, hence the same sample."""
    x = randn(shape, 37, dtype, scale=2.0)
    g = grads_for(name, x, 38)
    outs_h, gx_h = fwd_bwd(name, x, g, 1.5, **kw)
    outs_f, gx_f = fwd_bwd(name, x.float(), [t.float() for t in g], 1.5, **kw)
    assert torch.equal(index_of(outs_h[0]), index_of(outs_f[0]))
    for a, b in zip(outs_h, outs_f):
        torch.testing.assert_close(a.float(), b, atol=1e-2 * b.abs().max().item(), rtol=0)
    assert gx_h.dtype == dtype
    torch.testing.assert_close(gx_h.float(), gx_f, atol=1e-2 * gx_f.abs().max().item(), rtol=0)


# =================================================================================================
# 6. The sampler's distribution (fixed seeds: deterministic, never flaky)
# =================================================================================================

THETA = torch.tensor([1.0, -0.5, 0.3, 2.0, -1.5, 0.0], dtype=torch.float64)
N_DRAWS = 20000


def _counts(name, x, tau=1.0, seed=0, **kw):
    y = call(name, x, tau, generator=gen(seed), **kw)[0]
    C = x.shape[-1]
    return torch.bincount(index_of(y).reshape(-1), minlength=C).double()


def _pvalue(counts, probs):
    expected = counts.sum() * probs / probs.sum()
    chisquare = pytest.importorskip("scipy.stats").chisquare  # a GPU machine may lack scipy
    return chisquare(counts.numpy(), expected.numpy()).pvalue


@pytest.mark.parametrize("name,kw", [(n, {}) for n in NAMES] + [("gumbel_softmax", {"hard": False})])
@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_chi_square_against_softmax(name, kw, tau):
    """k ~ Cat(softmax θ) whatever tau is. 20000 draws of one row (each row has its own Philox
    counters); the same test rejects softmax(θ/2), so it has power."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reinmax tau < 1
        counts = _counts(name, THETA.expand(N_DRAWS, 6), tau, seed=40, **kw)
    assert counts.sum() == N_DRAWS
    assert _pvalue(counts, THETA.softmax(-1)) > 1e-3
    assert _pvalue(counts, (THETA / 2).softmax(-1)) < 1e-10
    if tau != 1.0:  # the sample must not follow softmax(θ/τ)
        assert _pvalue(counts, (THETA / tau).softmax(-1)) < 1e-10


@pytest.mark.parametrize("name,kw", [(n, {}) for n in NAMES] + [("gumbel_softmax", {"hard": False})])
def test_sample_does_not_depend_on_tau(name, kw):
    x = randn((500, 9), 41, scale=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx = [index_of(call(name, x, tau, generator=gen(42), **kw)[0]) for tau in (0.3, 1.0, 4.0)]
    assert torch.equal(idx[0], idx[1]) and torch.equal(idx[1], idx[2])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_two_categories(name, dtype):
    theta = torch.tensor([0.4, -0.9], dtype=dtype)
    counts = _counts(name, theta.expand(N_DRAWS, 2), 1.0, seed=43)
    assert _pvalue(counts, theta.double().softmax(-1)) > 1e-3
    assert _pvalue(counts, torch.tensor([0.5, 0.5], dtype=torch.float64)) < 1e-10


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("C", [6, 200])
def test_masked_categories_never_sampled(name, C):
    x = randn((C,), 44)
    masked = torch.zeros(C, dtype=torch.bool)
    masked[1::3] = True  # in every chunk, including the first and last columns' neighbours
    masked[-1] = True
    x[masked] = -math.inf
    x[2] = 3.0
    for dtype in (torch.float32, torch.float64):
        counts = _counts(name, x.to(dtype).expand(N_DRAWS, C), 1.3, seed=45)
        assert (counts[masked] == 0).all()
        if C == 6:
            assert _pvalue(counts[~masked], x[~masked].softmax(-1)) > 1e-3
        # the backward is finite with -inf logits
        xr = x.to(dtype).expand(3, C).clone()
        _, gx = fwd_bwd(name, xr, grads_for(name, xr, 46), 1.3)
        assert torch.isfinite(gx).all()


@pytest.mark.parametrize("name,kw", [(n, {}) for n in NAMES] + [("gst", {"gap": "p"}),
                                                                ("gumbel_softmax", {"hard": False})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("v", [80.0, 1e4])
def test_extreme_logits_sample_the_max(name, kw, dtype, v):
    """exp(-25) ~ 1e-11: the runner-up is never drawn in 2000 rows; the rest underflow to 0."""
    x = torch.tensor([-v, 0.5 * v, v, -v, 0.0, v - 25.0], dtype=dtype).expand(2000, 6)
    counts = _counts(name, x, 1.0, seed=47, **kw)
    assert counts[2] == 2000
    outs, gx = fwd_bwd(name, x[:3], grads_for(name, x[:3], 48), 1.0, **kw)
    assert all(torch.isfinite(y).all() for y in outs)
    assert torch.isfinite(gx).all()


# =================================================================================================
# 7. Reproducibility
# =================================================================================================

@pytest.mark.parametrize("name", NAMES)
def test_same_generator_seed_same_result(name):
    x = randn((50, 13), 49)
    g = grads_for(name, x, 50)
    a, ga = fwd_bwd(name, x, g, 1.5, seed=7)
    b, gb = fwd_bwd(name, x, g, 1.5, seed=7)
    for s, t in zip(a, b):
        assert torch.equal(s, t)
    assert torch.equal(ga, gb)
    c, _ = fwd_bwd(name, x, g, 1.5, seed=8)
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("name", NAMES)
def test_manual_seed_reproduces_default_generator(name):
    x = randn((50, 13), 51)
    runs = []
    for s in (3, 3, 4):
        torch.manual_seed(s)
        runs.append(call(name, x, 1.5)[0])
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("name", NAMES)
def test_bitwise_independent_of_thread_count(name):
    """20000 x 33 is split over threads (grain 16384 / C rows)."""
    x = randn((20000, 33), 52, torch.float32, scale=2.0)
    g = grads_for(name, x, 53)
    before = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            results.append(fwd_bwd(name, x, g, 1.5, seed=54))
    finally:
        torch.set_num_threads(before)
    (a, ga), (b, gb) = results
    for s, t in zip(a, b):
        assert torch.equal(s, t)
    assert torch.equal(ga, gb)


# =================================================================================================
# 8. Structure of the backward (spec §6.7)
# =================================================================================================

@pytest.mark.parametrize("tau", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("shape", [(8, 7), (3, 300)])
@pytest.mark.parametrize("with_soft", [False, True])
def test_reinmax_gradient_rows_sum_to_zero(tau, shape, with_soft):
    x = randn(shape, 55, scale=2.0)
    g = grads_for("reinmax", x, 56)
    _, gx = fwd_bwd("reinmax", x, [g[0], g[1] if with_soft else None], tau)
    assert gx.sum(-1).abs().max() < 1e-12
    assert gx.abs().max() > 1e-3


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.5])
def test_st_backward_closed_form(tau):
    x = randn((5, 90, 3), 57, scale=2.0)  # dim=1, C > 64
    g = randn(x.shape, 58)
    _, gx = fwd_bwd("st", x, [g], tau, dim=1)
    p = (x / tau).softmax(1).movedim(1, -1)
    expected = vjp_softmax(p, g.movedim(1, -1)).movedim(-1, 1) / tau
    torch.testing.assert_close(gx, expected, atol=1e-14, rtol=1e-12)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.5])
def test_st_gs_backward_is_jacobian_of_y_soft(tau):
    x = randn((6, 10), 59, scale=2.0)
    g = randn(x.shape, 60)
    (y_hard,), gx = fwd_bwd("gumbel_softmax", x, [g], tau, seed=61, hard=True)
    (y_soft,), gx_soft = fwd_bwd("gumbel_softmax", x, [g], tau, seed=61, hard=False)
    assert torch.equal(y_hard, torch.nn.functional.one_hot(y_soft.argmax(-1), 10).double())
    torch.testing.assert_close(gx, vjp_softmax(y_soft, g) / tau, atol=1e-14, rtol=1e-12)
    torch.testing.assert_close(gx, gx_soft, atol=0, rtol=0)


def test_reinmax_y_soft_path_is_jacobian_of_pi0():
    x = randn((6, 10), 62, scale=2.0)
    gp = randn(x.shape, 63)
    for tau in (1.0, 2.0):
        (y_hard, y_soft), gx = fwd_bwd("reinmax", x, [None, gp], tau)
        torch.testing.assert_close(y_soft, x.softmax(-1), atol=1e-15, rtol=1e-13)
        torch.testing.assert_close(gx, vjp_softmax(x.softmax(-1), gp), atol=1e-14, rtol=1e-12)


def test_reinmax_unused_y_soft_equals_explicit_zero_grad():
    x = randn((6, 10), 64, scale=2.0)
    g = randn(x.shape, 65)
    _, gx_none = fwd_bwd("reinmax", x, [g, None], 1.5)
    _, gx_zero = fwd_bwd("reinmax", x, [g, torch.zeros_like(g)], 1.5)
    torch.testing.assert_close(gx_none, gx_zero, atol=1e-15, rtol=0)
    # a loss using only y_hard, through autograd
    xr = x.clone().requires_grad_(True)
    y_hard, _ = pyalgo.reinmax(xr, 1.5, generator=gen(0))
    (y_hard * g).sum().backward()
    torch.testing.assert_close(xr.grad, gx_none, atol=0, rtol=0)


def test_reinmax_unused_y_soft_gradient_is_not_materialised(monkeypatch):
    """With only y_hard in the loss, the backward kernel receives grad_soft=None (no zeros tensor
    is allocated and read), as the spec's pitfall 3 asks."""
    from pyalgo.discrete import ops as discrete_ops

    seen = []
    real = torch.ops.pyalgo

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def reinmax_backward(logits, index, grad_hard, grad_soft, tau, dim):
            seen.append(grad_soft)
            return real.reinmax_backward(logits, index, grad_hard, grad_soft, tau, dim)

    monkeypatch.setattr(discrete_ops, "_ops", Spy())
    x = randn((4, 6), 67).requires_grad_(True)
    y_hard, _ = pyalgo.reinmax(x, 1.5, generator=gen(0))
    y_hard.sum().backward()
    assert seen == [None]


def test_out_of_range_index_poisons_only_its_row():
    """The backward ops do not validate index values; an index outside [0, C) yields NaN in that
    row (the marker the forward kernels use for invalid rows) and leaves the other rows alone."""
    x = randn((3, 5), 66)
    g = randn(x.shape, 67)
    index = torch.tensor([1, 7, -1], dtype=torch.int32)
    good = torch.tensor([1, 0, 0], dtype=torch.int32)
    for name in ("reinmax", "gst", "gumbel_rao"):
        seed = draw_seed(gen(0), CPU)
        out = raw_backward(name, x, index, g, 1.0, -1, seed)
        assert torch.isnan(out[1:]).all()
        torch.testing.assert_close(out[0], raw_backward(name, x, good, g, 1.0, -1, seed)[0], atol=0, rtol=0)


# =================================================================================================
# 9. Malformed inputs
# =================================================================================================

X = torch.zeros(2, 3)
BAD_INPUTS = [
    # id, logits, kwargs, exception, argument named in the message
    ("int", torch.ones(2, 3, dtype=torch.int64), {}, TypeError, "logits"),
    ("complex", torch.ones(2, 3, dtype=torch.complex64), {}, TypeError, "logits"),
    ("bool", torch.ones(2, 3, dtype=torch.bool), {}, TypeError, "logits"),
    ("list", [[0.0, 1.0]], {}, TypeError, "logits"),
    ("0-d", torch.tensor(1.0), {}, ValueError, "logits"),
    ("C=0", torch.zeros(2, 0), {}, ValueError, "logits"),
    ("C=0 dim0", torch.zeros(0, 3), {"dim": 0}, ValueError, "logits"),
    ("tau=0", X, {"tau": 0.0}, ValueError, "tau"),
    ("tau<0", X, {"tau": -1.0}, ValueError, "tau"),
    ("tau nan", X, {"tau": math.nan}, ValueError, "tau"),
    ("tau inf", X, {"tau": math.inf}, ValueError, "tau"),
    ("tau str", X, {"tau": "1"}, TypeError, "tau"),
    ("tau None", X, {"tau": None}, TypeError, "tau"),
    ("dim=2", X, {"dim": 2}, IndexError, "dim"),
    ("dim=-3", X, {"dim": -3}, IndexError, "dim"),
    ("dim float", X, {"dim": 1.0}, TypeError, "dim"),
    ("dim bool", X, {"dim": True}, TypeError, "dim"),
    ("dim None", X, {"dim": None}, TypeError, "dim"),
    # CPU raises; on CUDA (no host sync) the offending row is NaN instead (see TestCudaParity)
    ("nan", torch.tensor([[0.0, 1.0, 2.0], [0.0, math.nan, 1.0]]), {}, RuntimeError, "logits"),
    ("+inf", torch.tensor([[0.0, math.inf, 1.0]]), {}, RuntimeError, "logits"),
    ("all -inf", torch.tensor([[0.0, 1.0, 1.0], [-math.inf] * 3]), {}, RuntimeError, "logits"),
    ("nan C>64", torch.zeros(2, 100).index_put_((torch.tensor(1), torch.tensor(77)), torch.tensor(math.nan)),
     {}, RuntimeError, "logits"),
    ("nan half", torch.tensor([[0.0, math.nan]], dtype=torch.float16), {}, RuntimeError, "logits"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_malformed_inputs(name, case):
    _, logits, kw, exc, arg = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=re.escape(f"{FN[name]}: {arg}")):
            call(name, logits, generator=gen(0), **kw)


def test_invalid_row_is_named_in_the_message():
    x = torch.zeros(2, 7, 3)
    x[1, :, 2] = -math.inf  # the row at (1, ·, 2) for dim=1: flattened row 1 * 3 + 2 = 5
    with pytest.raises(RuntimeError, match=r"pyalgo\.reinmax: logits .* row 5 \(flattened"):
        pyalgo.reinmax(x, dim=1)


@pytest.mark.parametrize("k", [0, -3, 2.5, 3.0, "4", None, True])
def test_gumbel_rao_bad_k(k):
    with pytest.raises(ValueError, match=re.escape("pyalgo.gumbel_rao: k")):
        pyalgo.gumbel_rao(X, k=k)


@pytest.mark.parametrize("gap", [-1.0, -1e-9, "q", "P", math.nan, math.inf, None, True])
def test_gst_bad_gap(gap):
    with pytest.raises(ValueError, match=re.escape("pyalgo.gst: gap")):
        pyalgo.gst(X, gap=gap)


_S = torch.zeros(2, dtype=torch.int64)
_I = torch.zeros(2, dtype=torch.int32)
BAD_OP_CALLS = [
    ("reinmax seed float", lambda: ops.reinmax(X, 1.0, -1, _S.float()), "pyalgo.reinmax: seed"),
    ("reinmax seed (3,)", lambda: ops.reinmax(X, 1.0, -1, torch.zeros(3, dtype=torch.int64)), "pyalgo.reinmax: seed"),
    ("reinmax seed (1,2)", lambda: ops.reinmax(X, 1.0, -1, _S.reshape(1, 2)), "pyalgo.reinmax: seed"),
    ("st seed int32", lambda: ops.straight_through(X, 1.0, -1, _S.int()), "pyalgo.straight_through: seed"),
    ("gs seed (1,)", lambda: ops.gumbel_softmax(X, 1.0, True, -1, _S[:1]), "pyalgo.gumbel_softmax: seed"),
    ("gst seed double", lambda: ops.gst(X, 1.0, 1.0, False, -1, _S.double()), "pyalgo.gst: seed"),
    ("gr seed int32", lambda: ops.gumbel_rao(X, 1.0, 2, -1, _S.int()), "pyalgo.gumbel_rao: seed"),
    ("gr k=0", lambda: ops.gumbel_rao(X, 1.0, 0, -1, _S), "pyalgo.gumbel_rao: k"),
    ("gst gap<0", lambda: ops.gst(X, 1.0, -1.0, False, -1, _S), "pyalgo.gst: gap"),
    ("reinmax tau=0", lambda: ops.reinmax(X, 0.0, -1, _S), "pyalgo.reinmax: tau"),
    ("st tau nan", lambda: ops.straight_through(X, math.nan, -1, _S), "pyalgo.straight_through: tau"),
    ("reinmax dim", lambda: ops.reinmax(X, 1.0, 2, _S), "pyalgo.reinmax: dim"),
    ("reinmax int logits", lambda: ops.reinmax(X.long(), 1.0, -1, _S), "pyalgo.reinmax: logits"),
    ("reinmax nan", lambda: ops.reinmax(X.clone().fill_(math.nan), 1.0, -1, _S), "pyalgo.reinmax: logits"),
    ("rb index int64", lambda: ops.reinmax_backward(X, _I.long(), X, None, 1.0, -1),
     "pyalgo.reinmax_backward: index"),
    ("rb index shape", lambda: ops.reinmax_backward(X, _I[:1], X, None, 1.0, -1), "pyalgo.reinmax_backward: index"),
    ("rb grad shape", lambda: ops.reinmax_backward(X, _I, X[:1], None, 1.0, -1),
     "pyalgo.reinmax_backward: grad_hard"),
    ("rb grad_soft shape", lambda: ops.reinmax_backward(X, _I, X, X.t(), 1.0, -1),
     "pyalgo.reinmax_backward: grad_soft"),
    ("rb tau", lambda: ops.reinmax_backward(X, _I, X, None, -1.0, -1), "pyalgo.reinmax_backward: tau"),
    ("stb grad shape", lambda: ops.straight_through_backward(X, X[:, :2], 1.0, -1),
     "pyalgo.straight_through_backward: grad"),
    ("stb dim", lambda: ops.straight_through_backward(X, X, 1.0, 3), "pyalgo.straight_through_backward: dim"),
    ("gstb index float", lambda: ops.gst_backward(X, _I.float(), X, 1.0, 1.0, False, -1),
     "pyalgo.gst_backward: index"),
    ("gstb index shape", lambda: ops.gst_backward(X, _I.reshape(2, 1), X, 1.0, 1.0, False, -1),
     "pyalgo.gst_backward: index"),
    ("gstb gap", lambda: ops.gst_backward(X, _I, X, 1.0, math.nan, False, -1), "pyalgo.gst_backward: gap"),
    ("grb index int64", lambda: ops.gumbel_rao_backward(X, _I.long(), X, 1.0, 2, -1, _S),
     "pyalgo.gumbel_rao_backward: index"),
    ("grb seed", lambda: ops.gumbel_rao_backward(X, _I, X, 1.0, 2, -1, _S.int()), "pyalgo.gumbel_rao_backward: seed"),
    ("grb grad shape", lambda: ops.gumbel_rao_backward(X, _I, X.t(), 1.0, 2, -1, _S),
     "pyalgo.gumbel_rao_backward: grad"),
    ("grb k", lambda: ops.gumbel_rao_backward(X, _I, X, 1.0, 0, -1, _S), "pyalgo.gumbel_rao_backward: k"),
    ("gsb seed", lambda: ops.gumbel_softmax_backward(X, X, 1.0, -1, _S[:1]), "pyalgo.gumbel_softmax_backward: seed"),
    ("gsb grad shape", lambda: ops.gumbel_softmax_backward(X, X[0], 1.0, -1, _S),
     "pyalgo.gumbel_softmax_backward: grad"),
    ("pu rows", lambda: ops.philox_uniform(_S, -1, 3, 0, torch.float32), "pyalgo.philox_uniform: rows"),
    ("pu stream", lambda: ops.philox_uniform(_S, 1, 3, -1, torch.float32), "pyalgo.philox_uniform: stream"),
    ("pu stream big", lambda: ops.philox_uniform(_S, 1, 3, 2**32, torch.float32), "pyalgo.philox_uniform: stream"),
    ("pu dtype", lambda: ops.philox_uniform(_S, 1, 3, 0, torch.float16), "pyalgo.philox_uniform: dtype"),
    ("pu seed", lambda: ops.philox_uniform(_S.int(), 1, 3, 0, torch.float32), "pyalgo.philox_uniform: seed"),
]


@pytest.mark.parametrize("case", BAD_OP_CALLS, ids=[c[0] for c in BAD_OP_CALLS])
def test_malformed_direct_op_calls(case):
    _, fn, message = case
    with pytest.raises(RuntimeError, match=re.escape(message)):
        fn()


# =================================================================================================
# 10. tau policy and the `hard` kwarg of ReinMax
# =================================================================================================

def test_reinmax_warns_below_tau_one():
    x = randn((3, 4), 68)
    with pytest.warns(UserWarning, match=r"pyalgo\.reinmax: tau=0\.5 < 1"):
        pyalgo.reinmax(x, 0.5, generator=gen(0))
    for tau in (1.0, 1.5, 10.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pyalgo.reinmax(x, tau, generator=gen(0))
    # the other estimators accept tau < 1 silently
    for name in NAMES[1:]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            call(name, x, 0.5, generator=gen(0))


def test_reinmax_hard_kwarg_accepted_and_ignored():
    x = randn((5, 6), 69)
    g = grads_for("reinmax", x, 70)
    a, ga = fwd_bwd("reinmax", x, g, 1.5, hard=True)
    b, gb = fwd_bwd("reinmax", x, g, 1.5, hard=False)
    for s, t in zip(a, b):
        assert torch.equal(s, t)
    assert torch.equal(ga, gb)
    assert_one_hot(b[0])


# =================================================================================================
# 11. CUDA parity (skipped without a GPU)
# =================================================================================================

needs_cuda = pytest.mark.skipif(not (torch.cuda.is_available() and pyalgo.has_cuda()),
                                reason="needs a CUDA device and pyalgo built with CUDA kernels")
# CUDA against CPU, same sample: the tolerance per dtype (also used by tests/test_discrete_beyond.py)
CUDA_TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=1e-12),
            torch.float16: dict(atol=2e-3, rtol=2e-3), torch.bfloat16: dict(atol=1.6e-2, rtol=1.6e-2)}


@pytest.mark.cuda
@needs_cuda
class TestCudaParity:
    TOL = CUDA_TOL

    @pytest.mark.parametrize("name", NAMES)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
    @pytest.mark.parametrize("shape,dim", [((4, 37), -1), ((3, 300), -1), ((5, 6, 7), 1), ((70, 3), 0)])
    def test_same_seed_same_sample_close_grads(self, name, dtype, shape, dim):
        x = randn(shape, 80, dtype, scale=2.0)
        g = randn(shape, 81, dtype)
        gp = randn(shape, 82, dtype) if name == "reinmax" else None
        seed = draw_seed(gen(83), CPU)
        cpu = raw_forward(name, x, 1.5, dim, seed)
        cuda = raw_forward(name, x.cuda(), 1.5, dim, seed.cuda())
        assert torch.equal(cpu[-1], cuda[-1].cpu())  # the index
        for a, b in zip(cpu[:-1], cuda[:-1]):
            torch.testing.assert_close(b.cpu(), a, **self.TOL[dtype])
        extra = {"gp": gp} if name == "reinmax" else {}
        bc = raw_backward(name, x, cpu[-1], g, 1.5, dim, seed, **extra)
        extra_cuda = {"gp": gp.cuda()} if name == "reinmax" else {}
        bg = raw_backward(name, x.cuda(), cuda[-1], g.cuda(), 1.5, dim, seed.cuda(), **extra_cuda)
        torch.testing.assert_close(bg.cpu(), bc, **self.TOL[dtype])

    @pytest.mark.parametrize("name", NAMES)
    def test_public_api_on_cuda(self, name):
        x = randn((6, 9), 84, torch.float32).cuda().requires_grad_(True)
        g = [t.cuda() for t in grads_for(name, x, 85)]
        outs = call(name, x, 1.5, generator=torch.Generator(device="cuda").manual_seed(0))
        torch.autograd.backward(list(outs), g[:len(outs)])
        assert all(o.is_cuda for o in outs) and x.grad.is_cuda
        assert_one_hot(outs[0])
        assert x.grad.isfinite().all()

    @pytest.mark.parametrize("name", NAMES)
    def test_invalid_rows_are_nan_on_cuda(self, name):
        """CUDA does not sync to raise: a NaN / +inf / all -inf row gives NaN in that row only."""
        x = torch.randn(4, 5, device="cuda")
        x[1, 2] = math.nan
        x[2, 0] = math.inf
        x[3] = -math.inf
        outs = call(name, x, generator=torch.Generator(device="cuda").manual_seed(0))
        for y in outs:
            assert torch.isnan(y[1:]).all()
            assert torch.isfinite(y[0]).all()
