"""Malformed-input table of the discrete family (tests/malformed.py): every public function of
pyalgo.discrete (the seven estimators, ReinMax-Rao/CV's given-seed backwards, the ESTIMATORS registry, the
diagnostics) and
pyalgo.philox_uniform, each with wrong types, shapes, dtypes, out-of-range scalars and counts,
NaN/inf entries, and extreme but valid inputs (checked for a finite, right result)."""
import functools
import math
import warnings

import torch

import pyalgo
from pyalgo._rng import draw_seed
from pyalgo.discrete import ESTIMATORS, diagnostics, get_estimator
from malformed import Case, run_table

warnings.filterwarnings("ignore", message=r".*ReinMax authors recommend")

NAMES = ("reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao", "reinmax_rao", "reinmax_cv")
INF, NAN = math.inf, math.nan


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _y(out):
    return out[0] if isinstance(out, tuple) else out


def one_hot_like(x, dim=-1):
    """A check: every output row is exactly one-hot along `dim` (and, for ReinMax, y_soft is a
    finite distribution), with shape of x."""
    def check(out):
        y = _y(out)
        if y.shape != x.shape or not bool(torch.isfinite(y.float()).all()):
            return False
        if y.numel() == 0:
            return True
        ok = bool(((y == 0) | (y == 1)).all()) and bool((y.float().sum(dim) == 1).all())
        if isinstance(out, tuple):
            soft = out[1].float()
            ok = ok and bool(torch.isfinite(soft).all()) and torch.allclose(soft.sum(dim), torch.ones(()), atol=1e-2)
        return ok
    return check


def soft_like(x, dim=-1):
    def check(y):
        return y.shape == x.shape and bool(torch.isfinite(y.float()).all()) and (
            y.numel() == 0 or torch.allclose(y.float().sum(dim), torch.ones(()), atol=1e-2))
    return check


def grads_finite(name, x, **kw):
    """Call: the estimator's gradient for a fixed upstream grad (must be finite)."""
    def call():
        xs = x.detach().clone().requires_grad_(True)
        y = _y(getattr(pyalgo, name)(xs, generator=_gen(1), **kw))
        w = torch.linspace(-1, 1, x.shape[-1], dtype=x.dtype)
        (g,) = torch.autograd.grad((y * w).sum(), xs)
        return g
    return call


def finite(t):
    return bool(torch.isfinite(t.float()).all())


X = torch.randn(4, 5, generator=_gen(2))
CASES = []
for name in NAMES:
    fn = f"pyalgo.{name}"
    # gumbel_softmax's table runs ST-GS (hard=True, one-hot outputs); its soft output has cases below
    f = getattr(pyalgo, name) if name != "gumbel_softmax" else functools.partial(pyalgo.gumbel_softmax, hard=True)
    add = CASES.append

    def err(what, call, arg, errors=None, _name=name, _fn=fn):
        kw = {"errors": errors} if errors else {}
        add(Case(_name, what, call, fn=_fn, arg=arg, **kw))

    def ok(what, call, check, _name=name):
        add(Case(_name, what, call, check=check))

    # types / shapes / dtypes
    err("logits a list", lambda f=f: f([[0.0, 1.0]]), "logits")
    err("logits None", lambda f=f: f(None), "logits")
    err("int64 logits", lambda f=f: f(torch.ones(2, 3, dtype=torch.long)), "logits")
    err("bool logits", lambda f=f: f(torch.ones(2, 3, dtype=torch.bool)), "logits")
    err("complex logits", lambda f=f: f(torch.ones(2, 3, dtype=torch.complex64)), "logits")
    err("0-d logits", lambda f=f: f(torch.tensor(1.0)), "logits")
    err("no categories (4, 0)", lambda f=f: f(torch.empty(4, 0)), "logits")
    ok("0-size batch (0, 5)", lambda f=f: f(torch.empty(0, 5)), one_hot_like(torch.empty(0, 5)))
    ok("0-size middle dim (2, 0, 5)", lambda f=f: f(torch.empty(2, 0, 5)), one_hot_like(torch.empty(2, 0, 5)))
    err("dim 2 of 2-d", lambda f=f: f(X, dim=2), "dim")
    err("dim -3 of 2-d", lambda f=f: f(X, dim=-3), "dim")
    err("dim 2**63", lambda f=f: f(X, dim=2**63), "dim")
    err("dim 1.0", lambda f=f: f(X, dim=1.0), "dim")
    err("dim None", lambda f=f: f(X, dim=None), "dim")
    # tau
    err("tau 0", lambda f=f: f(X, tau=0.0), "tau")
    err("tau -1", lambda f=f: f(X, tau=-1.0), "tau")
    err("tau nan", lambda f=f: f(X, tau=NAN), "tau")
    err("tau inf", lambda f=f: f(X, tau=INF), "tau")
    err("tau str", lambda f=f: f(X, tau="1"), "tau")
    err("tau bool", lambda f=f: f(X, tau=True), "tau")
    err("tau 1e-45 float32", lambda f=f: f(X, tau=1e-45), "tau")
    err("tau 1e-320 float64", lambda f=f: f(X.double(), tau=1e-320), "tau")
    err("tau tensor of 2", lambda f=f: f(X, tau=torch.ones(2)), "tau")
    ok("tau 1e300", grads_finite(name, X, tau=1e300), finite)
    ok("tau 1e-30 (the float minimum), logits 1e10", grads_finite(name, X * 1e10, tau=1e-30), finite)
    ok("tau 1e-300 float64, logits 1e10", grads_finite(name, X.double() * 1e10, tau=1e-300), finite)
    ok("tau as a 1-element tensor", lambda f=f: f(X, tau=torch.tensor(0.5)), one_hot_like(X))
    # generator
    err("generator int", lambda f=f: f(X, generator=3), "generator")
    err("generator str", lambda f=f: f(X, generator="cpu"), "generator")
    # non-finite entries
    err("NaN entry", lambda f=f: f(torch.tensor([[0.0, NAN, 1.0]])), "logits")
    err("+inf entry", lambda f=f: f(torch.tensor([[0.0, INF, 1.0]])), "logits")
    err("row all -inf", lambda f=f: f(torch.tensor([[0.0, 1.0], [-INF, -INF]])), "logits")
    ok("-inf masked entries never sampled",
       lambda f=f: _y(f(torch.tensor([[-INF, 0.0, -INF, 2.0]]).expand(64, 4), generator=_gen(3))),
       lambda y: one_hot_like(torch.empty(64, 4))(y) and bool((y[:, [0, 2]] == 0).all()))
    ok("-inf masked grads finite", grads_finite(name, torch.tensor([[-INF, 0.0, 1.0], [0.3, -INF, -INF]])),
       lambda g: finite(g) and g[0, 0] == 0 and bool((g[1, 1:] == 0).all()))
    # extremes
    ok("-1e38 rows, tau 0.1", grads_finite(name, torch.full((3, 5), -1e38), tau=0.1), finite)
    ok("3e38 logits with gaps, tau 0.05", grads_finite(name, torch.tensor([[3e38, 3e38, -3e38]]), tau=0.05), finite)
    ok("one category", lambda f=f: f(torch.randn(3, 1)), one_hot_like(torch.empty(3, 1)))
    ok("one category grads are 0", grads_finite(name, torch.randn(3, 1)), lambda g: bool((g == 0).all()))
    ok("float16 ±65504", grads_finite(name, torch.tensor([[65504.0, -65504.0, 0.0]], dtype=torch.float16), tau=0.5),
       finite)
    ok("bfloat16 ±3e38", grads_finite(name, torch.tensor([[3e38, -3e38, 0.0]], dtype=torch.bfloat16), tau=0.5),
       finite)
    ok("float64 ±1e308", grads_finite(name, torch.tensor([[1e308, -1e308, 0.0]], dtype=torch.float64)), finite)
    ok("subnormal logits", lambda f=f: f(torch.full((2, 4), 1e-40)), one_hot_like(torch.empty(2, 4)))
    # layouts (valid: checked)
    T = torch.randn(5, 4, generator=_gen(4)).t()
    ok("non-contiguous (transposed)", lambda f=f, T=T: f(T), one_hot_like(T))
    E = torch.randn(1, 6, generator=_gen(5)).expand(3, 6)
    ok("expanded (stride 0)", lambda f=f, E=E: f(E), one_hot_like(E))
    ok("dim 0", lambda f=f: f(X, dim=0), one_hot_like(X, 0))
    M = torch.randn(2, 7, 3, generator=_gen(6))
    ok("middle dim of 3-d", lambda f=f, M=M: f(M, dim=1), one_hot_like(M, 1))
    ok("sliced with a step", lambda f=f: f(torch.randn(4, 10, generator=_gen(7))[:, ::3]),
       one_hot_like(torch.empty(4, 4)))

# estimator-specific arguments
fn = "pyalgo.gumbel_softmax"
for bad in ("no", 1, None, 0.0):
    CASES.append(Case("gumbel_softmax", f"hard {bad!r}", lambda b=bad: pyalgo.gumbel_softmax(X, hard=b), fn=fn,
                      arg="hard"))
CASES.append(Case("gumbel_softmax", "soft output sums to 1 at tau 1e-30",
                  lambda: pyalgo.gumbel_softmax(X * 1e10, tau=1e-30), check=soft_like(X)))
CASES.append(Case("gumbel_softmax", "soft output at -1e38, tau 0.1",
                  lambda: pyalgo.gumbel_softmax(torch.full((3, 5), -1e38), tau=0.1), check=soft_like(torch.empty(3, 5))))
fn = "pyalgo.gst"
for bad in (-1.0, NAN, INF, "q", None, True):
    CASES.append(Case("gst", f"gap {bad!r}", lambda b=bad: pyalgo.gst(X, gap=b), fn=fn, arg="gap"))
CASES.append(Case("gst", "gap 1e300", grads_finite("gst", X, gap=1e300), check=finite))
CASES.append(Case("gst", "gap 0", grads_finite("gst", X, gap=0.0), check=finite))
CASES.append(Case("gst", "gap p, pi_k rounds to 1", grads_finite("gst", torch.tensor([[15.41, -2.93, -21.79]]),
                                                                   tau=8.6, gap="p"),
                  check=lambda g: finite(g) and float(g.abs().max()) > 1e-4))
fn = "pyalgo.gumbel_rao"
for bad in (0, -1, 2**20 + 1, 2**40, 2**63, 1.5, True, None, "10"):
    CASES.append(Case("gumbel_rao", f"k {bad!r}", lambda b=bad: pyalgo.gumbel_rao(X, k=b), fn=fn, arg="k"))
CASES.append(Case("gumbel_rao", "k 1", grads_finite("gumbel_rao", X, k=1), check=finite))
CASES.append(Case("gumbel_rao", "logit gap 100, tau 50 (fp32)",
                  grads_finite("gumbel_rao", torch.tensor([[0.0, 100.0]]), tau=50.0),
                  check=lambda g: finite(g) and float(g.abs().max()) > 1e-4))

for name in ("reinmax_rao", "reinmax_cv"):
    fn = f"pyalgo.{name}"
    for bad in (0, -1, 2**20 + 1, 2**63, 1.5, True, None, "10"):
        CASES.append(Case(name, f"k {bad!r}", lambda b=bad, n=name: getattr(pyalgo, n)(X, k=b), fn=fn, arg="k"))
    CASES.append(Case(name, "k 1", grads_finite(name, X, k=1), check=finite))
    CASES.append(Case(name, "logit gap 100, tau 50 (fp32)", grads_finite(name, torch.tensor([[0.0, 100.0]]), tau=50.0),
                      check=lambda g: finite(g) and float(g.abs().max()) > 1e-6))
    CASES.append(Case(name, "logits far apart (-200 vs 0), fp32", grads_finite(name, torch.tensor([[0.0, -200.0, -1.0]])),
                      check=finite))
fn = "pyalgo.reinmax_cv"
RCV = pyalgo.reinmax_cv
for what, kw, arg in [("eta -1", {"eta": -1.0}, "eta"), ("eta nan", {"eta": NAN}, "eta"), ("eta inf", {"eta": INF}, "eta"),
                      ("eta str", {"eta": "1"}, "eta"), ("eta bool", {"eta": True}, "eta"),
                      ("tau2 0", {"tau2": 0.0}, "tau2"), ("tau2 -1", {"tau2": -1.0}, "tau2"),
                      ("tau2 inf", {"tau2": INF}, "tau2"), ("tau2 None", {"tau2": None}, "tau2"),
                      ("tau2 1e-45 float32", {"tau2": 1e-45}, "tau2"), ("cv_noise 'hard'", {"cv_noise": "hard"}, "cv_noise"),
                      ("cv_noise None", {"cv_noise": None}, "cv_noise"), ("cv_noise True", {"cv_noise": True}, "cv_noise")]:
    CASES.append(Case("reinmax_cv", what, lambda kw=kw: RCV(X, **kw), fn=fn, arg=arg))
CASES.append(Case("reinmax_cv", "eta 0 (ReinMax's gradient)", grads_finite("reinmax_cv", X, eta=0.0), check=finite))
CASES.append(Case("reinmax_cv", "tau2 1e-30, eta 1e3", grads_finite("reinmax_cv", X, tau2=1e-30, eta=1e3), check=finite))
CASES.append(Case("reinmax_cv", "gumbel noise, tau2 1e-30", grads_finite("reinmax_cv", X, tau2=1e-30, cv_noise="gumbel"),
                  check=finite))
CASES.append(Case("reinmax_cv", "gumbel noise, 3e38 logits", grads_finite("reinmax_cv", torch.tensor([[3e38, -3e38, 0.0]]),
                                                                          cv_noise="gumbel", tau2=0.05), check=finite))
# the given-seed backwards
from pyalgo.discrete import beyond  # noqa: E402

_S = draw_seed(_gen(10), torch.device("cpu"))
_I = torch.zeros(4, dtype=torch.int32)
for name, bwd in (("reinmax_rao_backward", beyond.reinmax_rao_backward), ("reinmax_cv_backward", beyond.reinmax_cv_backward)):
    fn = f"pyalgo.{name}"
    for what, call, arg in [
        ("index int64", lambda b=bwd: b(X, _I.long(), X, None, _S), "index"),
        ("index wrong shape", lambda b=bwd: b(X, _I[:2], X, None, _S), "index"),
        ("grad_hard wrong shape", lambda b=bwd: b(X, _I, X[:2], None, _S), "grad_hard"),
        ("grad_soft wrong shape", lambda b=bwd: b(X, _I, X, X[:, :2], _S), "grad_soft"),
        ("seed of 3", lambda b=bwd: b(X, _I, X, None, torch.zeros(3, dtype=torch.long)), "seed"),
        ("seed float", lambda b=bwd: b(X, _I, X, None, torch.zeros(2)), "seed"),
        ("tau 0", lambda b=bwd: b(X, _I, X, None, _S, tau=0.0), "tau"),
        ("k 0", lambda b=bwd: b(X, _I, X, None, _S, k=0), "k"),
    ]:
        CASES.append(Case(name, what, call, fn=fn, arg=arg))
    CASES.append(Case(name, "index out of range gives a NaN row",
                      lambda b=bwd: b(X, torch.tensor([0, 9, 1, 2], dtype=torch.int32), X, None, _S),
                      check=lambda g: bool(g[1].isnan().all()) and finite(g[[0, 2, 3]])))

# the registry
CASES.append(Case("get_estimator", "unknown name", lambda: get_estimator("nope"),
                  fn="pyalgo.discrete.get_estimator", arg="estimator"))
CASES.append(Case("get_estimator", "name None", lambda: get_estimator(None),
                  fn="pyalgo.discrete.get_estimator", arg="estimator"))
CASES.append(Case("ESTIMATORS", "gumbel_rao via registry, tau 0", lambda: ESTIMATORS["gumbel_rao"](X, 0.0),
                  fn="pyalgo.gumbel_rao", arg="tau"))
CASES.append(Case("ESTIMATORS", "every estimator on a 1-row problem",
                  lambda: [ESTIMATORS[n].sample(ESTIMATORS[n](X[:1])) for n in ESTIMATORS],
                  check=lambda ys: all(one_hot_like(X[:1])(y) for y in ys)))

# philox_uniform
SEED = draw_seed(_gen(8), torch.device("cpu"))
fn = "pyalgo.philox_uniform"
PU = pyalgo.philox_uniform
for what, call, arg in [
    ("seed a list", lambda: PU([1, 2], 2, 3), "seed"),
    ("seed float tensor", lambda: PU(torch.zeros(2), 2, 3), "seed"),
    ("seed of 3", lambda: PU(torch.zeros(3, dtype=torch.long), 2, 3), "seed"),
    ("rows -1", lambda: PU(SEED, -1, 3), "rows"),
    ("rows 2**63", lambda: PU(SEED, 2**63, 3), "rows"),
    ("rows 2**40 x cols 2", lambda: PU(SEED, 2**40, 2), "rows"),
    ("rows 1.5", lambda: PU(SEED, 1.5, 3), "rows"),
    ("cols -1", lambda: PU(SEED, 2, -1), "cols"),
    ("cols 2**63", lambda: PU(SEED, 2, 2**63), "cols"),
    ("stream -1", lambda: PU(SEED, 2, 3, -1), "stream"),
    ("stream 2**32", lambda: PU(SEED, 2, 3, 2**32), "stream"),
    ("dtype float16", lambda: PU(SEED, 2, 3, 0, torch.float16), "dtype"),
    ("dtype int", lambda: PU(SEED, 2, 3, 0, torch.int32), "dtype"),
]:
    CASES.append(Case("philox_uniform", what, call, fn=fn, arg=arg))
CASES.append(Case("philox_uniform", "0 rows", lambda: PU(SEED, 0, 3), check=lambda u: u.shape == (0, 3)))
CASES.append(Case("philox_uniform", "in (0, 1)", lambda: PU(SEED, 64, 67, 2**32 - 1, torch.float64),
                  check=lambda u: bool(((u > 0) & (u < 1)).all())))

# diagnostics
D = "pyalgo.discrete.diagnostics"
F = lambda D_: (D_[..., 0] * 2.0 + D_[..., 1]).sum(-1)  # noqa: E731
L2 = torch.randn(2, 3, dtype=torch.float64, generator=_gen(9))
for what, call, name, arg in [
    ("exact_gradient f None", lambda: diagnostics.exact_gradient(None, L2), "exact_gradient", "f"),
    ("exact_gradient 1-d logits", lambda: diagnostics.exact_gradient(F, L2[0]), "exact_gradient", "logits"),
    ("exact_gradient empty logits", lambda: diagnostics.exact_gradient(F, torch.empty(0, 3)), "exact_gradient",
     "logits"),
    ("exact_gradient 3**40 configurations", lambda: diagnostics.exact_gradient(F, torch.zeros(40, 3)),
     "exact_gradient", "configurations"),
    ("expected_estimate unknown name", lambda: diagnostics.expected_estimate("gumbel_rao", F, L2),
     "expected_estimate", "name"),
    ("expected_estimate tau 0", lambda: diagnostics.expected_estimate("st", F, L2, tau=0.0), "expected_estimate",
     "tau"),
    ("expected_estimate bad kw", lambda: diagnostics.expected_estimate("st", F, L2, gap=2.0), "expected_estimate",
     "keyword"),
    ("sample_gradients num_samples 0", lambda: diagnostics.sample_gradients("st", F, L2, 0), "sample_gradients",
     "num_samples"),
    ("sample_gradients num_samples 2**40", lambda: diagnostics.sample_gradients("st", F, L2, 2**40),
     "sample_gradients", "num_samples"),
    ("sample_gradients num_samples 2**63", lambda: diagnostics.sample_gradients("st", F, L2, 2**63),
     "sample_gradients", "num_samples"),
    ("sample_gradients unknown estimator", lambda: diagnostics.sample_gradients("nope", F, L2, 4),
     "sample_gradients", "estimator"),
    ("sample_gradients estimator int", lambda: diagnostics.sample_gradients(3, F, L2, 4), "sample_gradients",
     "estimator"),
    ("gradient_stats num_samples -1", lambda: diagnostics.gradient_stats("st", F, L2, -1), "sample_gradients",
     "num_samples"),
]:
    CASES.append(Case(name, what, call, fn=D + "." + name if name != "gradient_stats" else D, arg=arg))
CASES.append(Case("exact_gradient", "1 categorical of 1 category", lambda: diagnostics.exact_gradient(lambda D_: (D_ * 3.0).sum((1, 2)), torch.zeros(1, 1)),
                  check=lambda g: bool((g == 0).all())))
CASES.append(Case("expected_estimate", "st matches its definition", lambda: diagnostics.expected_estimate("st", F, L2),
                  check=lambda g: finite(g) and g.shape == L2.shape))
CASES.append(Case("gradient_stats", "gumbel_rao stats finite",
                  lambda: diagnostics.gradient_stats("gumbel_rao", F, L2, 8, generator=_gen(1)),
                  check=lambda s: all(math.isfinite(s[k]) for k in ("rel_bias", "rel_std", "cos_mean"))))

test_case = run_table(CASES)
