"""Property-based fuzzing of the discrete family against its pure-torch references
(pyalgo/discrete/reference.py) fed the same sample and noise, evaluated in float64 on the same
(rounded) logits taken relative to their row max (every estimator is shift-invariant), plus exact
answers (one-hot samples, the support, philox uniforms in (0, 1), the enumerated gradient of a
linear objective). Odd shapes, strides (dim 0, transposed, expanded), all four dtypes, -inf masks,
magnitudes up to 1e30 and tau from the dtype's minimum to 1e3. Profiles in tests/conftest.py."""
import math
import warnings

import pytest
import torch
from hypothesis import assume, given, strategies as st

import pyalgo
from pyalgo._rng import draw_seed, philox_uniform
from pyalgo.discrete import diagnostics
from pyalgo.discrete import reference as R

pytestmark = pytest.mark.fuzz
warnings.filterwarnings("ignore", message=r".*ReinMax authors recommend")
OPS = torch.ops.pyalgo
DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
EPS = {torch.float32: 2.0 ** -23, torch.float64: 2.0 ** -52, torch.bfloat16: 2.0 ** -7, torch.float16: 2.0 ** -10}


@st.composite
def problems(draw, max_c=40):
    dtype = draw(st.sampled_from(DTYPES))
    rows = draw(st.integers(1, 4))
    C = draw(st.one_of(st.integers(1, 9), st.integers(10, max_c), st.just(65)))
    big = 6e4 if dtype == torch.float16 else 1e30
    scale = draw(st.sampled_from([1.0, 10.0, 1e3, big]))
    values = draw(st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=rows * C, max_size=rows * C))
    x = torch.tensor(values, dtype=torch.float64).reshape(rows, C) * scale
    if draw(st.booleans()) and C > 1:  # -inf masks, never a whole row
        mask = torch.tensor(draw(st.lists(st.booleans(), min_size=rows * C, max_size=rows * C))).reshape(rows, C)
        mask[:, draw(st.integers(0, C - 1))] = False
        x = x.masked_fill(mask, -math.inf)
    x = x.to(dtype)
    tmin = 1e-300 if dtype == torch.float64 else 1e-30
    tau = draw(st.sampled_from([tmin, 1e-3, 0.1, 0.5, 1.0, 3.0, 1e3]))
    layout = draw(st.sampled_from(["plain", "dim0", "expanded"]))
    g = torch.tensor(draw(st.lists(st.floats(-1, 1, width=32), min_size=rows * C, max_size=rows * C)),
                     dtype=torch.float64).reshape(rows, C).to(dtype)
    return x, g, tau, layout


def _layout(x, layout):
    """(tensor as passed to the op, dim) with the categories along dim; `x` has them last."""
    if layout == "dim0":
        return x.t().contiguous().t().t(), 0  # a (C, rows) contiguous tensor, categories along dim 0
    if layout == "expanded" and x.shape[0] == 1:
        return x.expand(3, x.shape[1]), -1
    return x, -1


def _shifted(x):
    m = x.double().max(-1, keepdim=True).values
    return x.double() - m


def _tolerance(x, g, tau, dtype, noise=0.0):
    finite = x[torch.isfinite(x)].double()
    span = float(finite.max() - finite.min()) if finite.numel() else 0.0
    z = (span + noise) / tau  # the largest |z| difference the kernel rounds
    eps = EPS[dtype] if dtype in (torch.float32, torch.float64) else EPS[torch.float32]
    atol = 64 * eps * (1 + z) * float(g.double().abs().max() + 1e-30) / min(tau, 1.0)
    if dtype in (torch.bfloat16, torch.float16):  # inputs/outputs rounded to 8/11 bits
        atol += 4 * EPS[dtype] * float(g.double().abs().max() + 1e-30) / min(tau, 1.0)
    return atol


def _check_grad(got, ref, atol, dtype):
    rtol = 1e-6 if dtype == torch.float64 else (1e-3 if dtype == torch.float32 else 3e-2)
    got = got.double()
    # a gradient beyond the dtype's range (|1/τ · p(g − ḡ)| for τ near its minimum, in float16) is ±inf
    over = ref.abs() > 0.5 * torch.finfo(dtype).max
    got, ref = got[~over], ref[~over]
    assert torch.isfinite(got).all(), got
    assert torch.allclose(got, ref, rtol=rtol, atol=atol), (got, ref, (got - ref).abs().max(), atol)


def _one_hot_ok(y, x, dim):
    assert y.shape == x.shape
    assert bool(((y == 0) | (y == 1)).all()) and bool((y.float().sum(dim) == 1).all())
    assert bool((y.movedim(dim, -1)[~torch.isfinite(x.movedim(dim, -1))] == 0).all())  # support


def _run(name, x, g, tau, layout, **kw):
    """Forward + backward through the public function; returns (y, grad, index) with categories last."""
    xin, dim = _layout(x, layout)
    xs = xin.detach().clone().requires_grad_(True)
    gen = torch.Generator().manual_seed(7)
    out = getattr(pyalgo, name)(xs, tau=tau, dim=dim, generator=gen, **kw)
    y = out[0] if isinstance(out, tuple) else out
    gin = g if layout != "dim0" else g.t()
    if y.shape != gin.shape:  # expanded: 3 copies of the row
        gin = gin.expand(y.shape)
    (grad,) = torch.autograd.grad((y * gin).sum(), xs)
    if layout == "dim0":
        y, grad = y.t(), grad.t()
        if isinstance(out, tuple):
            out = (out[0].t(), out[1].t())
    return out, y, grad, dim


def _grad_ref(fn_ref, x, g):
    xs = _shifted(x).requires_grad_(True)
    y = fn_ref(xs)
    y = y[0] if isinstance(y, tuple) else y
    (ref,) = torch.autograd.grad((y * g.double()).sum(), xs, allow_unused=True)
    return torch.zeros_like(xs) if ref is None else ref


def _index(y):
    return y.float().argmax(-1)


def _rows(x, layout):
    return x.expand(3, x.shape[1]) if (layout == "expanded" and x.shape[0] == 1) else x


@given(problems())
def test_straight_through(p):
    x, g, tau, layout = p
    out, y, grad, dim = _run("straight_through", x, g, tau, layout)
    xr, gr = _rows(x, layout), _rows(g, layout)
    _one_hot_ok(y, xr, -1)
    ref = _grad_ref(lambda t: R.straight_through_ref(t, tau, index=_index(y)), xr, gr)
    if grad.shape == ref.shape:  # (an expanded input's grad is summed over its copies)
        _check_grad(grad, ref, _tolerance(x, g, tau, x.dtype), x.dtype)


@given(problems())
def test_reinmax(p):
    x, g, tau, layout = p
    out, y, grad, dim = _run("reinmax", x, g, tau, layout)
    xr, gr = _rows(x, layout), _rows(g, layout)
    _one_hot_ok(y, xr, -1)
    soft = out[1].double()
    assert torch.allclose(soft, _shifted(xr).softmax(-1), atol=4 * EPS[x.dtype] + 1e-12)
    ref = _grad_ref(lambda t: R.reinmax_ref(t, tau, index=_index(y)), xr, gr)
    if grad.shape == ref.shape:
        _check_grad(grad, ref, _tolerance(x, g, max(tau, 1.0), x.dtype) * 4, x.dtype)


@given(problems(), st.sampled_from([0.0, 1.0, 3.0, "p"]))
def test_gst(p, gap):
    x, g, tau, layout = p
    out, y, grad, dim = _run("gst", x, g, tau, layout, gap=gap)
    xr, gr = _rows(x, layout), _rows(g, layout)
    _one_hot_ok(y, xr, -1)
    ref = _grad_ref(lambda t: R.gst_ref(t, tau, gap, index=_index(y)), xr, gr)
    if grad.shape == ref.shape:
        _check_grad(grad, ref, _tolerance(x, g, tau, x.dtype, noise=float(gap) if gap != "p" else 40.0), x.dtype)


@given(problems(), st.booleans())
def test_gumbel_softmax(p, hard):
    x, g, tau, layout = p
    xin, dim = _layout(x, layout)
    seed = draw_seed(torch.Generator().manual_seed(3), x.device)
    y, idx = OPS.gumbel_softmax(xin, tau, hard, dim, seed)
    y = y.t() if layout == "dim0" else y
    xr, gr = _rows(x, layout), _rows(g, layout)
    gumbels = R.philox_gumbels(seed, xr.double() if x.dtype == torch.float64 else xr.float()).double()
    if hard:
        _one_hot_ok(y, xr, -1)
    else:
        ysoft = R.gumbel_softmax_ref(_shifted(xr), tau, gumbels=gumbels)
        assert torch.isfinite(y.double()).all() and torch.allclose(y.double().sum(-1), torch.ones(()).double(),
                                                                   atol=1e-2)
        # z = (x + G)/τ is rounded with an error of ~eps·(|x| + |G|)/τ (the kernel's and torch's logs
        # differ by an ulp): the soft output is comparable only where that is small
        zerr = 64 * EPS[torch.float64 if x.dtype == torch.float64 else torch.float32] * (
            float(xr[torch.isfinite(xr)].double().abs().max()) + 40) / tau
        if zerr < 0.1:
            assert torch.allclose(y.double(), ysoft, atol=4 * zerr + (1e-2 if x.dtype in (
                torch.float16, torch.bfloat16) else 1e-9))
    gin = gr.t().contiguous() if layout == "dim0" else gr
    grad = OPS.gumbel_softmax_backward(xin, gin.to(x.dtype), tau, dim, seed)
    grad = grad.t() if layout == "dim0" else grad
    ref = _grad_ref(lambda t: R.gumbel_softmax_ref(t, tau, gumbels=gumbels), xr, gr)
    _check_grad(grad, ref, _tolerance(x, g, tau, x.dtype, noise=40.0), x.dtype)


@given(problems(max_c=20), st.integers(1, 5))
def test_gumbel_rao(p, k):
    x, g, tau, layout = p
    xin, dim = _layout(x, layout)
    seed = draw_seed(torch.Generator().manual_seed(5), x.device)
    y, idx = OPS.gumbel_rao(xin, tau, k, dim, seed)
    xr, gr = _rows(x, layout), _rows(g, layout)
    y = y.t() if layout == "dim0" else y
    _one_hot_ok(y, xr, -1)
    gin = gr.t().contiguous() if layout == "dim0" else gr
    grad = OPS.gumbel_rao_backward(xin, idx, gin.to(x.dtype), tau, k, dim, seed)
    grad = grad.t() if layout == "dim0" else grad
    noise = R.philox_exp_noise(seed, xr.double() if x.dtype == torch.float64 else xr.float(), k).double()
    ref = _grad_ref(lambda t: R.gumbel_rao_ref(t, tau, k, index=_index(y), exp_noise=noise), xr, gr)
    _check_grad(grad, ref, _tolerance(x, g, tau, x.dtype, noise=80.0), x.dtype)


@given(st.integers(0, 5), st.integers(0, 70), st.integers(0, 2**32 - 1), st.sampled_from([torch.float32, torch.float64]),
       st.integers(-2**63, 2**63 - 1))
def test_philox_uniform(rows, cols, stream, dtype, s):
    seed = torch.tensor([s, 12345], dtype=torch.int64)
    u = philox_uniform(seed, rows, cols, stream, dtype)
    assert u.shape == (rows, cols) and u.dtype == dtype
    assert bool(((u > 0) & (u < 1)).all())
    assert torch.equal(u, philox_uniform(seed, rows, cols, stream, dtype))
    if cols > 1:  # a prefix of columns is the same numbers
        assert torch.equal(u[:, :cols - 1], philox_uniform(seed, rows, cols - 1, stream, dtype))


@given(st.integers(1, 3), st.integers(1, 4), st.lists(st.floats(-30, 30), min_size=12, max_size=12),
       st.lists(st.floats(-5, 5), min_size=12, max_size=12))
def test_exact_gradient_of_a_linear_objective(L, C, vals, ws):
    theta = torch.tensor(vals[: L * C], dtype=torch.float64).reshape(L, C)
    w = torch.tensor(ws[: L * C], dtype=torch.float64).reshape(L, C)
    got = diagnostics.exact_gradient(lambda D: (D * w).sum((1, 2)), theta)
    p = theta.softmax(-1)
    assert torch.allclose(got, p * (w - (p * w).sum(-1, keepdim=True)), atol=1e-10)
    # ST's exact expectation for a linear f is its (sample-independent) backward J(π_τ)/τ w
    est = diagnostics.expected_estimate("st", lambda D: (D * w).sum((1, 2)), theta, tau=1.0)
    assert torch.allclose(est, p * (w - (p * w).sum(-1, keepdim=True)), atol=1e-10)
