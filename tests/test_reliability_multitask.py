"""Reliability issue (14), multitask family: one test per finding, each failing before the fix."""
import copy
import math
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

import pyalgo.multitask as MT


def exact_sse(values, labels) -> Fraction:
    """Within-cluster SSE in exact rational arithmetic."""
    x = [Fraction(float(v)) for v in values]
    total = Fraction(0)
    for c in set(int(l) for l in labels):
        part = [v for v, l in zip(x, labels) if int(l) == c]
        mean = sum(part) / len(part)
        total += sum((v - mean) ** 2 for v in part)
    return total


def test_kmeans_1d_is_not_quadratic():
    """Finding: "`kmeans_1d` is quadratic with no guard (200k values: 39 s, uninterruptible C++)".
    Now O(K·D·log D) (divide and conquer), with documented limits that raise instead of running for
    minutes."""
    x = torch.from_numpy(np.random.default_rng(0).normal(size=200_000))
    start = time.perf_counter()
    labels = MT.kmeans_1d(x, 3)
    assert time.perf_counter() - start < 15.0            # was ~40-100 s
    order = torch.argsort(x)
    assert bool((labels[order].diff() >= 0).all()) and int(labels.max()) == 2   # contiguous runs
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.kmeans_1d: num_clusters = 5000 with 200000 values "
                                         r"exceeds the limits"):
        MT.kmeans_1d(x, 5000)


@pytest.mark.parametrize("values,k", [([0, 1e-8, 2e-8, 3, 1e10], 3), ([0, 1, 2, 10, 11, 1e15, 1e15 + 1], 3)])
def test_kmeans_1d_optimum_without_cancellation(values, k):
    """Finding: "`kmeans_1d([0, 1e-8, 2e-8, 3, 1e10], 3)` (float64) returns [0,1,1,1,2], SSE 6 against an
    optimum of 2e-16; `[0,1,2,10,11,1e15,1e15+1]`, K=3: SSE 82.5 vs 3" (centred prefix sums)."""
    labels = MT.kmeans_1d(torch.tensor(values, dtype=torch.float64), k)
    best = min(exact_sse(values, lab) for lab in _all_contiguous_labellings(sorted(values), k, values))
    assert exact_sse(values, labels.tolist()) == best
    assert float(best) <= (3.0 if values[1] == 1 else 1e-15)


def _all_contiguous_labellings(sorted_values, k, values):
    """Every split of the sorted values into k contiguous runs, as labels of `values` (distinct here)."""
    import itertools
    n = len(sorted_values)
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = (0,) + cuts + (n,)
        rank = {}
        for c in range(k):
            for v in sorted_values[bounds[c]:bounds[c + 1]]:
                rank[v] = c
        yield [rank[v] for v in values]


def test_go4align_grouping_is_optimal_on_clustered_indicators():
    """Finding: "GO4Align's grouping inherits it (22 of 2,500 fuzz examples not optimal)"."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        m = int(rng.integers(3, 8))
        losses = torch.from_numpy(np.exp(rng.normal(scale=8.0, size=m)))   # γ spans many decades
        method = MT.create("go4align", m, num_groups=int(rng.integers(2, m + 1)), beta=0.0)
        extras = method.get_weighted_loss(losses)[1]
        gamma = extras["indicators"].tolist()
        order = sorted(gamma)
        best = min(exact_sse(gamma, lab) for lab in _all_contiguous_labellings(order, method.num_groups, gamma))
        assert exact_sse(gamma, extras["groups"].tolist()) <= best * (1 + Fraction(1, 10**12))


def test_kmeans_1d_list_is_float64_and_scale_free():
    """Finding: "`kmeans_1d` rounds a Python list to float32 first (→ float64 for Python numbers) and
    returns one cluster for values ≳ 1e154 (squares overflow)"."""
    assert MT.kmeans_1d([1.0, 1.0 + 1e-9, 1.0 + 3e-9], 2).tolist() == [0, 0, 1]     # float32: one value
    assert MT.kmeans_1d([1e200, 2e200, 10e200, 11e200], 2).tolist() == [0, 0, 1, 1]
    assert MT.kmeans_1d([-1e300, 1e300, 0.0, 1.0], 3).tolist() == [0, 2, 1, 1]
    assert MT.kmeans_1d([1e-300, 2e-300, 10e-300, 11e-300], 2).tolist() == [0, 0, 1, 1]   # squares underflow
    x = np.array([3.0, 1.0, 2.0, 10.0, 11.0, 30.0])
    for scale in (1e-300, 1e-150, 1.0, 1e150, 1e300):
        assert MT.kmeans_1d(x * scale, 3).tolist() == MT.kmeans_1d(x, 3).tolist()


def test_go4align_weights_finite_for_tiny_eps_and_huge_losses():
    """Finding: "GO4Align's weights overflow to inf for tiny `eps` or huge losses"."""
    ref = MT.create("go4align", 3, beta=0.0).get_weighted_loss(torch.tensor([1.0, 0.5, 1.0], dtype=torch.float64))[1]
    huge = MT.create("go4align", 3, beta=0.0).get_weighted_loss(
        torch.tensor([1e308, 5e307, 1e308], dtype=torch.float64))[1]
    assert torch.allclose(huge["weights"], ref["weights"], rtol=1e-12, atol=0)
    # β·L overflowing: q concentrates on the smallest loss instead of NaN
    method = MT.create("go4align", 3, beta=1e300)
    w = method.get_weighted_loss(torch.tensor([1e10, 2e10, 3e10], dtype=torch.float64))[1]["weights"]
    assert bool(torch.isfinite(w).all()) and bool(torch.isfinite(method.log_q).all())
    assert method.state_dict()["log_q"].argmax().item() == 0
    # P itself beyond float64 (a loss clamped to a subnormal eps): a clear error, not inf weights
    method = MT.create("go4align", 3, eps=1e-320)
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.go4align: losses span too wide a range.*raise eps"):
        method.get_weighted_loss(torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64))
    # the op itself (torch.compile / direct calls) refuses it too; through torch's stable ABI a C++
    # kernel can raise only RuntimeError, so the raw op's message carries the [ValueError] tag that
    # the Python wrapper turns into ValueError (docs/packaging.md)
    with pytest.raises(RuntimeError, match=r"^\[ValueError\] .*losses span too wide a range"):
        torch.ops.pyalgo.go4align_weights(torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64),
                                          torch.full((3,), -math.log(3), dtype=torch.float64), 2, 0.0, False, 0.0, 1e-320)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", sorted(MT.METHODS))
def test_every_method_refuses_non_finite_losses(name, bad):
    """Finding: "NaN/inf losses pass straight through LS, RLW, UW, PCGrad and CAGrad (and check every
    other method)"."""
    p = torch.randn(4, dtype=torch.float64, requires_grad=True)
    losses = torch.stack([(p ** 2).sum(), (p - 1).abs().sum(), p.exp().sum()])
    losses = losses + torch.tensor([0.0, bad, 0.0], dtype=torch.float64)
    method = MT.create(name, 3)
    with pytest.raises(ValueError, match=rf"pyalgo\.multitask\.{name}: losses must be finite"):
        method.get_weighted_loss(losses, shared_parameters=[p])


@pytest.mark.parametrize("flag", ["yes", "no", 1, None, ["yes", True]])
def test_delta_m_higher_is_better_must_be_bools(flag):
    """Finding: "`delta_m(..., 'yes')` accepted"."""
    with pytest.raises(TypeError, match=r"pyalgo\.multitask\.delta_m: higher_is_better must be one bool"):
        MT.delta_m([1.0, 2.0], [1.0, 1.0], flag)
    with pytest.raises(TypeError, match=r"pyalgo\.multitask\.delta_m: metrics must be real numbers"):
        MT.delta_m(["a", "b"], [1.0, 1.0], True)


def test_famo_keeps_no_reference_to_user_tensors():
    """Finding: "`FAMO.set_min_losses` keeps a reference to the caller's tensor" (and nothing the user
    gives is lost or modified: state dicts in and out are copies)."""
    method = MT.create("famo", 2)
    mins = torch.tensor([0.1, 0.2])
    method.set_min_losses(mins)
    mins.fill_(5.0)                                   # the caller reuses its tensor
    assert method.min_losses.tolist() == pytest.approx([0.1, 0.2])
    method.get_weighted_loss(torch.tensor([1.0, 2.0]))
    method.update(torch.tensor([0.9, 1.5]))
    saved = method.state_dict()
    frozen = copy.deepcopy(saved)
    method.get_weighted_loss(torch.tensor([0.8, 1.4]))
    method.update(torch.tensor([0.7, 1.2]))          # training goes on: the saved dict must not move
    assert torch.equal(saved["w_opt"]["state"][0]["exp_avg"], frozen["w_opt"]["state"][0]["exp_avg"])
    fresh = MT.create("famo", 2)
    fresh.load_state_dict(saved)
    fresh.get_weighted_loss(torch.tensor([0.8, 1.4]))
    fresh.update(torch.tensor([0.7, 1.2]))
    assert torch.equal(saved["w_opt"]["state"][0]["exp_avg"], frozen["w_opt"]["state"][0]["exp_avg"])
    assert torch.equal(saved["min_losses"], frozen["min_losses"])


def test_iterative_solvers_are_capped():
    """Finding: "Every iterative solver (MGDA active set, CAGrad's solver, GO4Align loops) has an
    iteration cap and non-finite checks" (Lloyd's loop took any tol / max_iter, NaN tol ran max_iter
    rounds silently; min_norm_weights took a NaN tol)."""
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.kmeans_1d_lloyd: tol must be"):
        MT.kmeans_1d_lloyd([0.0, 1.0, 5.0], 2, tol=float("nan"))
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.kmeans_1d_lloyd: max_iter must be"):
        MT.kmeans_1d_lloyd([0.0, 1.0, 5.0], 2, max_iter=10**12)
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.min_norm_weights: tol must be"):
        MT.min_norm_weights(np.eye(3), tol=float("nan"))
    # a rank-deficient, badly scaled Gram matrix terminates with a simplex point
    g = np.random.default_rng(0).normal(size=(6, 2)) * np.array([1e-150, 1e150])
    start = time.perf_counter()
    alpha = MT.min_norm_weights(g @ g.T)
    assert time.perf_counter() - start < 5 and np.all(alpha >= 0) and abs(alpha.sum() - 1) < 1e-9


def test_gradient_methods_accept_huge_finite_gradients():
    """Found by the table: finite gradients of ~1e200 made the Gram matrix overflow and were refused as
    "must be finite"; the directions are scale-free, so the methods now solve on scaled gradients."""
    g = torch.randn(3, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for name in ("mgda", "pcgrad", "cagrad"):
        kwargs = {"generator": torch.Generator().manual_seed(1)} if name == "pcgrad" else {}
        small = MT.create(name, 3, **kwargs).weights_from_gradients(g)
        kwargs = {"generator": torch.Generator().manual_seed(1)} if name == "pcgrad" else {}
        huge = MT.create(name, 3, **kwargs).weights_from_gradients(g * 1e200)
        assert torch.allclose(huge, small, rtol=1e-3), name   # CAGrad's 1e-8 regularisers are not scale-free
    l2 = MT.create("mgda", 3, normalization="l2")
    assert torch.allclose(l2.weights_from_gradients(g * 1e200) * 1e200, l2.weights_from_gradients(g), rtol=1e-9)


def test_dwa_tiny_temperature_and_huge_losses_stay_finite():
    """Found by the table: DWA's softmax(r / T) gave NaN for a tiny temperature or window sums that
    overflow."""
    for temperature, scale in ((1e-308, 1.0), (2.0, 1e308)):
        method = MT.create("dwa", 2, iteration_window=2, temperature=temperature)
        for losses in ([1.0, 1.5], [1.5, 1.0], [1.7, 1.0], [1.0, 1.6], [1.0, 1.0]):
            w = method.get_weighted_loss(torch.tensor(losses, dtype=torch.float64) * scale)[1]["weights"]
        assert bool(torch.isfinite(w).all()) and float(w.sum()) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [7, "cpu"])
@pytest.mark.parametrize("name", ["rlw", "pcgrad", "go4align"])
def test_wrong_generator_type_is_a_clear_error(name, bad):
    """Found by the table: a wrong `generator` type raised deep inside torch."""
    with pytest.raises(TypeError, match=rf"pyalgo\.multitask\.{name}: generator must be a torch.Generator"):
        MT.create(name, 3, generator=bad)
