"""Property-based fuzzing of the multitask family (issue 14) against exact answers and the references
(pyalgo/multitask/reference.py). Example counts come from the hypothesis profiles (tests/conftest.py)."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, strategies as st

import pyalgo.multitask as MT
from pyalgo.multitask.reference import go4align_ref, kmeans_1d_ref

pytestmark = pytest.mark.fuzz
F64 = torch.float64


def exact_sse(values, labels) -> Fraction:
    x = [Fraction(float(v)) for v in values]
    total = Fraction(0)
    for c in set(int(l) for l in labels):
        part = [v for v, l in zip(x, labels) if int(l) == c]
        mean = sum(part) / len(part)
        total += sum((v - mean) ** 2 for v in part)
    return total


def exact_optimum(values, k):
    """(least SSE, labels by the documented tie rule) over contiguous runs of the sorted distinct values,
    in rational arithmetic: the DP with ties to the smallest boundary index."""
    xs = sorted(set(float(v) for v in values))
    d, k = len(xs), min(k, len(set(float(v) for v in values)))
    count = [sum(1 for v in values if float(v) == u) for u in xs]
    fx = [Fraction(u) for u in xs]

    def seg(a, b):
        n = sum(count[a:b])
        mean = sum(c * v for c, v in zip(count[a:b], fx[a:b])) / n
        return sum(c * (v - mean) ** 2 for c, v in zip(count[a:b], fx[a:b]))

    cost = {(1, b): seg(0, b) for b in range(1, d + 1)}
    arg = {}
    for level in range(2, k + 1):
        for b in range(level, d + 1):
            best = None
            for a in range(level - 1, b):
                t = cost[(level - 1, a)] + seg(a, b)
                if best is None or t < best:
                    best, arg[(level, b)] = t, a
            cost[(level, b)] = best
    starts, b = [0] * k, d
    for level in range(k, 1, -1):
        b = arg[(level, b)]
        starts[level - 1] = b
    rank = {u: i for i, u in enumerate(xs)}
    labels = [sum(1 for s in starts[1:] if s <= rank[float(v)]) for v in values]
    return cost[(k, d)], labels


# values: ordinary, clustered around a huge offset, tiny clusters next to huge values, wide exponents
finite_f = st.floats(-1e6, 1e6, allow_nan=False)
wide = st.builds(lambda m, e: m * 10.0 ** e, st.floats(-10, 10), st.integers(-300, 300))
clustered = st.builds(lambda base, offs: [base + o for o in offs], st.sampled_from([0.0, 3.0, 1e8, 1e15, -1e300]),
                      st.lists(st.integers(-4, 4).map(float), min_size=1, max_size=4))
values_st = st.one_of(
    st.lists(finite_f, min_size=1, max_size=8),
    st.lists(wide, min_size=1, max_size=8),
    st.lists(st.integers(-5, 5).map(float), min_size=1, max_size=9),
    st.lists(clustered, min_size=1, max_size=3).map(lambda parts: [v for p in parts for v in p][:9]),
    st.lists(st.sampled_from([0.0, 1e-8, 2e-8, 3.0, 1e10, 1e-300, 1e300]), min_size=1, max_size=8),
)


@given(values_st, st.integers(1, 5))
def test_kmeans_1d_is_exactly_optimal(values, k):
    # documented resolution: differences below max|x|·2^-1035 count as zero
    top = max(abs(v) for v in values)
    distinct = sorted(set(values))
    assume(all(b - a > top * 2.0 ** -1030 for a, b in zip(distinct, distinct[1:])))
    labels = MT.kmeans_1d(values, k).tolist()
    best, rule_labels = exact_optimum(values, k)
    got = exact_sse(values, labels)
    assert got <= best * (1 + Fraction(1, 10**12)), (values, k, labels, float(got), float(best))
    # clusters are contiguous runs numbered by increasing centre
    order = np.argsort(values, kind="stable")
    assert all(np.diff(np.asarray(labels)[order]) >= 0)
    assert len(set(labels)) == min(k, len(set(values)))
    if all(float(v).is_integer() and abs(v) < 100 for v in values):
        assert labels == rule_labels      # exact ties follow the documented rule


@given(st.lists(finite_f, min_size=1, max_size=40), st.integers(1, 6), st.integers(-900, 900))
def test_kmeans_1d_matches_dp_reference_and_is_scale_free(values, k, shift):
    labels = MT.kmeans_1d(torch.tensor(values, dtype=F64), k)
    ref_sse, _ = kmeans_1d_ref(values, k)
    got = float(exact_sse(values, labels.tolist()))
    assert got <= ref_sse * (1 + 1e-9) + 1e-9 * max(1.0, max(abs(v) for v in values)) ** 2 * 0 + 1e-12
    scaled = [math.ldexp(v, shift) for v in values]
    assume(all(math.isfinite(v) and abs(v) > 1e-290 or v == 0 for v in scaled)
           and all(math.ldexp(a, -shift) == b for a, b in zip(scaled, values)))   # the scaling is exact
    assert MT.kmeans_1d(scaled, k).tolist() == labels.tolist()
    perm = np.random.default_rng(len(values)).permutation(len(values))
    assert MT.kmeans_1d([values[i] for i in perm], k).tolist() == labels[perm].tolist()


@given(st.lists(st.lists(st.floats(1e-3, 1e3), min_size=4, max_size=4), min_size=1, max_size=4),
       st.integers(1, 4), st.sampled_from([0.0, 1e-4, 0.5]), st.sampled_from(["mean", "sum"]))
def test_go4align_matches_reference(history, k, beta, scale):
    method = MT.create("go4align", 4, num_groups=k, beta=beta, scale=scale)
    for losses in history:
        loss, extras = method.get_weighted_loss(torch.tensor(losses, dtype=F64))
    ref = go4align_ref(history, k, beta, scale=scale)
    # the reference's multiplicative q underflows where the op's log-space q does not: absolute slack;
    # exp of β·ΣL ~ 10^3 amplifies rounding of either side to ~1e-9 relative
    np.testing.assert_allclose(extras["indicators"].numpy(), ref["gamma"], rtol=1e-7,
                               atol=1e-12 * float(np.max(ref["gamma"])))
    # the grouping is optimal for γ (ties may group differently than the brute force)
    gamma = extras["indicators"].numpy()
    best, _ = exact_optimum(list(gamma), k)
    assert exact_sse(gamma, extras["groups"].tolist()) <= best * (1 + Fraction(1, 10**9))
    w = extras["weights"].numpy()
    for g in set(extras["groups"].tolist()):
        members = extras["groups"].numpy() == g
        np.testing.assert_allclose(w[members], gamma[members].mean(), rtol=1e-12)
    assert math.isclose(float(loss), float((extras["weights"] * torch.tensor(history[-1], dtype=F64)).sum()),
                        rel_tol=1e-12)


@given(st.lists(st.floats(1e-300, 1e300), min_size=2, max_size=6), st.integers(0, 3),
       st.sampled_from([0.0, 1e-4, 1.0, 1e300]), st.sampled_from([0.0, 1e-300, 1e-8]))
def test_go4align_extreme_losses_finite(losses, k, beta, eps):
    m = len(losses)
    method = MT.create("go4align", m, num_groups=min(k + 1, m), beta=beta, eps=eps)
    for _ in range(2):
        try:
            loss, extras = method.get_weighted_loss(torch.tensor(losses, dtype=F64))
        except ValueError as exc:   # P = mean / L beyond float64: a clear error, only then
            assert "losses span too wide a range" in str(exc)
            assert max(losses) / max(min(losses), eps) > 1e308
            return
        assert all(bool(torch.isfinite(extras[key]).all()) for key in ("weights", "indicators", "P", "Q"))
        assert bool(torch.isfinite(method.log_q).all())
        assert abs(float(extras["Q"].sum()) - 1) < 1e-9


# losses within 1e300 of each other (GO4Align raises a clear error when mean(L)/L leaves float64)
losses_st = st.lists(st.one_of(st.floats(1e-6, 1e6), st.builds(lambda e: 10.0 ** e, st.integers(-150, 150))),
                     min_size=3, max_size=3)


@given(losses_st, st.sampled_from(sorted(set(MT.METHODS) - {"mgda", "pcgrad", "cagrad"})))
def test_loss_based_methods_formulas(losses, name):
    L = torch.tensor(losses, dtype=F64)
    method = MT.create(name, 3)
    loss, extras = method.get_weighted_loss(L)
    w = extras["weights"]
    assert bool(torch.isfinite(w).all()) and bool((w >= 0).all())
    if name == "ls":
        assert torch.equal(w, torch.ones(3, dtype=F64)) and float(loss) == float(L.sum())
    elif name == "si":
        torch.testing.assert_close(w, 1 / L, rtol=1e-15, atol=0)
    elif name == "rlw":
        assert abs(float(w.sum()) - 1) < 1e-12
    elif name == "dwa":
        assert torch.equal(w, torch.ones(3, dtype=F64))
    elif name == "uw":
        torch.testing.assert_close(w, torch.full((3,), 0.5), check_dtype=False)
    elif name == "famo":
        gaps = L + 1e-8
        torch.testing.assert_close(w, (1 / gaps) / (1 / gaps).sum() * 3 / 3 / (1 / 3) * (1 / 3), rtol=1e-9, atol=0)


def _task_grads(seed, m, p, scale):
    g = torch.randn(m, p, dtype=F64, generator=torch.Generator().manual_seed(seed))
    return g * scale


@given(st.integers(0, 10**6), st.integers(2, 5), st.integers(1, 6), st.sampled_from([1e-150, 1e-8, 1.0, 1e8, 1e200]))
def test_mgda_min_norm_kkt(seed, m, p, scale):
    g = _task_grads(seed, m, p, scale)
    alpha = MT.create("mgda", m).weights_from_gradients(g).numpy()
    assert np.all(alpha >= -1e-12) and abs(alpha.sum() - 1) < 1e-9
    gs = (g / g.abs().max()).numpy()
    G = gs @ gs.T
    grad = G @ alpha
    # KKT of min αᵀGα on the simplex: (Gα)_m >= αᵀGα for all m (Frank–Wolfe gap ~ 0)
    assert alpha @ grad - grad.min() <= 1e-8 * max(np.diag(G).max(), 1e-300)


@given(st.integers(0, 10**6), st.integers(2, 5), st.integers(1, 6), st.sampled_from([1e-150, 1.0, 1e200]))
def test_pcgrad_matches_explicit_projection(seed, m, p, scale):
    g = _task_grads(seed, m, p, scale)
    alpha = MT.create("pcgrad", m, generator=torch.Generator().manual_seed(seed)).weights_from_gradients(g)
    # the original algorithm on explicit (scaled) vectors with the same random orders
    gen = torch.Generator().manual_seed(seed)
    gs = g / g.abs().max()
    out = torch.zeros(p, dtype=F64)
    for i in range(m):
        gi = gs[i].clone()
        for j in torch.randperm(m, generator=gen).tolist():
            dot = gi @ gs[j]
            if dot < 0 and gs[j] @ gs[j] > 0:
                gi = gi - dot / (gs[j] @ gs[j]) * gs[j]
        out += gi
    direction = (alpha.to(F64) @ gs)
    torch.testing.assert_close(direction, out, rtol=1e-7, atol=1e-12 * m)  # gs is scaled to max |g| = 1


@given(st.integers(0, 10**6), st.integers(2, 4), st.integers(1, 5), st.floats(0.0, 2.0))
def test_cagrad_finite_and_no_worse_than_vertices(seed, m, p, c):
    g = _task_grads(seed, m, p, 1.0)
    method = MT.create("cagrad", m, c=c)
    alpha = method.weights_from_gradients(g).numpy()
    assert np.all(np.isfinite(alpha)) and np.all(alpha >= -1e-9)
    # α = (b + λ w)/(1 + c²): w on the simplex
    b = np.full(m, 1.0 / m)
    lam_w = alpha * (1 + c * c) - b
    assert np.all(lam_w >= -1e-7)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=4), st.data())
def test_delta_m_formula(metrics, data):
    baselines = data.draw(st.lists(st.floats(-1e6, 1e6).filter(lambda v: abs(v) > 1e-6), min_size=len(metrics),
                                   max_size=len(metrics)))
    hib = data.draw(st.lists(st.booleans(), min_size=len(metrics), max_size=len(metrics)))
    got = MT.delta_m(metrics, baselines, hib)
    want = 100 / len(metrics) * sum((-1 if h else 1) * (m - b) / b for m, b, h in zip(metrics, baselines, hib))
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.integers(1, 5), st.integers(0, 100))
def test_kmeans_lloyd_valid_labels(values, k, seed):
    labels = MT.kmeans_1d_lloyd(values, k, generator=torch.Generator().manual_seed(seed)).numpy()
    x = np.asarray(values)
    used = np.unique(labels)
    assert used.tolist() == list(range(used.size)) and used.size <= k
    means = [x[labels == c].mean() for c in used]
    assert all(np.diff(means) >= 0)


@given(st.integers(0, 10**6), st.integers(2, 6), st.sampled_from([1e-200, 1.0, 1e200]))
def test_min_norm_weights_scale_free(seed, m, scale):
    g = np.random.default_rng(seed).normal(size=(m, 3))
    G = g @ g.T
    a1 = MT.min_norm_weights(G)
    a2 = MT.min_norm_weights(G * scale)
    assert np.all(np.isfinite(a2)) and abs(a2.sum() - 1) < 1e-9
    assert abs(a1 @ G @ a1 - a2 @ G @ a2) <= 1e-8 * max(np.diag(G).max(), 1e-300)
