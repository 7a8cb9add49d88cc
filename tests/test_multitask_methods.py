"""The multi-task weighting methods (pyalgo.multitask.weighting) and Δm (metrics): GO4Align against the
worked example, closed forms and the literal reference (spec go4align.md §1, §6), the baselines against
hand-computed cases, the gradient methods on tiny models, and the error messages."""
import math

import numpy as np
import pytest
import scipy.optimize
import torch
from torch.testing import assert_close

import pyalgo.multitask as MT
from pyalgo.multitask import reference as R
from pyalgo.multitask.weighting import _GradientMethod

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def t(x):
    return torch.as_tensor(x, dtype=F64)


def go4(m, **kw):
    return MT.create("go4align", m, **kw)


def run(method, history):
    """Feeds the loss history (T, M) step by step; returns the last (loss, extras)."""
    out = None
    for losses in history:
        out = method.get_weighted_loss(t(losses))
    return out


class Tiny(torch.nn.Module):
    """A shared Linear + tanh trunk and M linear heads; positive per-task MSE losses."""

    def __init__(self, m=3, seed=0, d_in=4, d_hidden=5):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.shared = torch.nn.Linear(d_in, d_hidden).double()
        self.heads = torch.nn.ModuleList(torch.nn.Linear(d_hidden, 1).double() for _ in range(m))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=F64))
        self.x = torch.randn(8, d_in, generator=g, dtype=F64)
        self.y = torch.randn(8, m, generator=g, dtype=F64)

    def losses(self, scales=None):
        f = torch.tanh(self.shared(self.x))
        L = torch.stack([((h(f).squeeze(1) - self.y[:, i]) ** 2).mean() for i, h in enumerate(self.heads)])
        return L if scales is None else L * t(scales)

    def shared_parameters(self):
        return list(self.shared.parameters())

    def head_parameters(self):
        return list(self.heads.parameters())


def flat_grad(loss, params):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)])


def cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


# ---- GO4Align: worked example (spec §6.1) --------------------------------------------------------

GAMMA = np.array([7 / 9, 7 / 18, 7 / 36])


@pytest.mark.parametrize("scale,factor", [("mean", 1.0), ("sum", 3.0)])
@pytest.mark.parametrize("k,weights,groups", [
    (1, [0.4537037037037037] * 3, [0, 0, 0]),
    (2, [7 / 9, 0.2916666666666667, 0.2916666666666667], [1, 0, 0]),
    (3, list(GAMMA), [2, 1, 0]),
])
def test_go4align_worked_example(k, weights, groups, scale, factor):
    loss, ex = go4(3, num_groups=k, beta=0.0, scale=scale).get_weighted_loss(t([1.0, 2.0, 4.0]))
    assert_close(ex["weights"], t(weights) * factor, rtol=1e-12, atol=1e-12)
    assert ex["groups"].tolist() == groups
    assert_close(ex["P"], t([7 / 3, 7 / 6, 7 / 12]) * factor, rtol=1e-12, atol=0)
    assert_close(ex["Q"], t([1 / 3] * 3), rtol=1e-12, atol=0)
    assert_close(ex["indicators"], t(GAMMA) * factor, rtol=1e-12, atol=0)
    assert float(loss.detach()) == pytest.approx(float((t(weights) * factor * t([1, 2, 4])).sum()), rel=1e-12)
    assert float(ex["weights"][0]) == pytest.approx([0.4537, 0.7778, 0.7778][k - 1] * factor, abs=1e-4)


def test_go4align_weights_keep_loss_dtype_and_device():
    L = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float32, requires_grad=True)
    loss, ex = go4(3, beta=0.0).get_weighted_loss(L)
    assert ex["weights"].dtype == torch.float32 and loss.dtype == torch.float32
    assert not ex["weights"].requires_grad and loss.requires_grad


# ---- GO4Align: q closed form and the literal reference ------------------------------------------

@pytest.mark.parametrize("beta", [1e-3, 0.1, 1.0])
def test_go4align_q_closed_form_constant_losses(beta):
    L = np.array([0.5, 1.0, 2.0, 3.0])
    method = go4(4, num_groups=2, beta=beta)
    q_mult = np.full(4, 0.25)
    for step in range(1, 13):
        _, ex = method.get_weighted_loss(t(L))
        q_mult = q_mult * np.exp(-beta * L)
        q_mult /= q_mult.sum()
        assert_close(ex["Q"], torch.softmax(t(-beta * step * L), 0), rtol=1e-12, atol=1e-15)
        assert_close(ex["Q"], t(q_mult), rtol=1e-12, atol=1e-15)
        assert_close(method.state_dict()["log_q"], torch.log_softmax(t(-beta * step * L), 0), rtol=1e-12, atol=1e-12)


def _has_unique_optimum(gamma, k):
    """True when the best partition's SSE beats every partition of another grouping by a margin."""
    best, labels = R.kmeans_1d_bruteforce(gamma, k)
    x = np.asarray(gamma)
    order = np.argsort(x)
    # compare against all contiguous partitions of the sorted values (the candidates for optimality)
    import itertools
    m = x.size
    costs = []
    for cuts in itertools.combinations(range(1, m), min(k, m) - 1):
        lab = np.empty(m, dtype=int)
        for c, (a, b) in enumerate(zip((0,) + cuts, cuts + (m,))):
            lab[order[a:b]] = c
        costs.append(R.sse_of(x, lab))
    costs = sorted(costs)
    return len(costs) < 2 or costs[1] - costs[0] > 1e-9 * (1 + costs[0])


CASES = [(T, M, K, beta) for T, M, K, beta in [
    (5, 3, 2, 0.0), (8, 4, 2, 1e-3), (12, 5, 3, 0.1), (20, 6, 2, 0.1), (6, 6, 4, 1e-3),
    (15, 7, 3, 0.0), (10, 8, 2, 0.1), (9, 8, 3, 1e-3), (17, 4, 1, 0.1), (7, 5, 5, 0.1),
]]


@pytest.mark.parametrize("T,M,K,beta", CASES)
@pytest.mark.parametrize("scale", ["mean", "sum"])
def test_go4align_vs_reference(T, M, K, beta, scale):
    r = np.random.default_rng(T * 100 + M * 10 + K)
    history = np.exp(r.normal(scale=1.5, size=(T, M)))
    _, ex = run(go4(M, num_groups=K, beta=beta, scale=scale), history)
    ref = R.go4align_ref(history, K, beta, scale=scale)
    assert_close(ex["weights"], t(ref["weights"]), rtol=1e-10, atol=1e-14)
    assert_close(ex["P"], t(ref["P"]), rtol=1e-12, atol=0)
    assert_close(ex["Q"], t(ref["q"]), rtol=1e-10, atol=1e-15)
    assert_close(ex["indicators"], t(ref["gamma"]), rtol=1e-10, atol=1e-15)
    if _has_unique_optimum(ref["gamma"], K):
        got, want = ex["groups"].numpy(), ref["labels"]
        # same partition (label names may differ): the co-membership matrices agree
        assert np.array_equal(got[:, None] == got[None, :], want[:, None] == want[None, :])


# ---- GO4Align: invariants ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_go4align_sum_and_value_invariants(seed):
    r = np.random.default_rng(seed)
    M = 6
    history = np.exp(r.normal(size=(4, M)))
    for beta in (0.0, 0.1, 2.0):
        for K in range(1, M + 1):
            loss, ex = run(go4(M, num_groups=K, beta=beta), history)
            w, gamma = ex["weights"], ex["indicators"]
            assert float(w.sum()) == pytest.approx(float(gamma.sum()), rel=1e-12)
            assert bool((w > 0).all())
            if K == 1:
                assert_close(w, gamma.mean().expand(M), rtol=1e-12, atol=0)
            if K == M:
                assert_close(w, gamma, rtol=0, atol=0)
                L = history[-1]
                assert float(loss.detach()) == pytest.approx(L.mean(), rel=1e-12)
        _, ex = run(go4(M, num_groups=M, beta=beta, scale="sum"), history)
        assert float((ex["weights"] * t(history[-1])).sum()) == pytest.approx(history[-1].sum(), rel=1e-12)
    # Σw = 1 does not hold in general
    _, ex = run(go4(M, num_groups=2, beta=0.0), history)
    assert abs(float(ex["weights"].sum()) - 1.0) > 1e-3


@pytest.mark.parametrize("K", [1, 2, 3, 5])
def test_go4align_identical_losses_give_one_over_m(K):
    for beta in (0.0, 0.3):
        method = go4(5, num_groups=K, beta=beta)
        for _ in range(3):
            _, ex = method.get_weighted_loss(t([2.5] * 5))
        assert_close(ex["weights"], t([0.2] * 5), rtol=1e-12, atol=0)
        _, ex = go4(5, num_groups=K, beta=beta, scale="sum").get_weighted_loss(t([2.5] * 5))
        assert_close(ex["weights"], t([1.0] * 5), rtol=1e-12, atol=0)


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_go4align_beta0_global_rescale(K):
    r = np.random.default_rng(K)
    history = np.exp(r.normal(size=(3, 4)))
    _, ex = run(go4(4, num_groups=K, beta=0.0), history)
    for c in (1e-3, 7.0, 1e4):
        _, ex_c = run(go4(4, num_groups=K, beta=0.0), c * history)
        assert_close(ex_c["weights"], ex["weights"], rtol=1e-12, atol=0)
        assert torch.equal(ex_c["groups"], ex["groups"])
    # with β > 0 the global scale matters
    _, a = run(go4(4, num_groups=K, beta=0.5), history)
    _, b = run(go4(4, num_groups=K, beta=0.5), 7.0 * history)
    assert not torch.allclose(a["weights"], b["weights"], rtol=1e-3)


def _go4_direction(model, scales, **kw):
    method = go4(3, **kw)
    L = model.losses(scales)
    loss, _ = method.get_weighted_loss(L)
    return flat_grad(loss, model.shared_parameters() + model.head_parameters())


def test_go4align_per_task_rescale_invariance():
    """β = 0, K = M: the direction is that of Σ ∇log L_m (spec §1.6) — a per-task rescale leaves it
    unchanged; with β > 0 or K < M the same rescale changes it."""
    model = Tiny(3, seed=1)
    base = _go4_direction(model, None, num_groups=3, beta=0.0)
    scales = [1.0, 10.0, 300.0]
    assert cosine(_go4_direction(model, scales, num_groups=3, beta=0.0), base) == pytest.approx(1.0, abs=1e-6)
    # SI direction for comparison: Σ ∇ log L_m
    si = flat_grad(torch.log(model.losses()).sum(), model.shared_parameters() + model.head_parameters())
    assert cosine(base, si) == pytest.approx(1.0, abs=1e-9)
    assert cosine(_go4_direction(model, scales, num_groups=3, beta=0.5), base) < 0.999
    k2_base = _go4_direction(model, None, num_groups=2, beta=0.0)
    assert cosine(_go4_direction(model, scales, num_groups=2, beta=0.0), k2_base) < 0.999


def test_go4align_permutation_equivariance():
    r = np.random.default_rng(3)
    history = np.exp(r.normal(size=(6, 7)))
    perm = r.permutation(7)
    for K, beta in [(2, 0.0), (3, 0.1), (7, 1e-3)]:
        _, ex = run(go4(7, num_groups=K, beta=beta), history)
        _, ex_p = run(go4(7, num_groups=K, beta=beta), history[:, perm])
        assert_close(ex_p["weights"], ex["weights"][perm], rtol=1e-12, atol=0)
        assert torch.equal(ex_p["groups"], ex["groups"][perm])
        assert_close(ex_p["Q"], ex["Q"][perm], rtol=1e-12, atol=0)


def test_go4align_no_gradient_through_weights():
    model = Tiny(3, seed=2)
    params = model.shared_parameters() + model.head_parameters()
    method = go4(3, num_groups=2, beta=0.1)
    L = model.losses()
    loss, ex = method.get_weighted_loss(L)
    w = ex["weights"]
    assert not w.requires_grad
    got = flat_grad(loss, params)
    want = sum(float(w[m]) * flat_grad(L[m], params) for m in range(3))
    assert_close(got, want, rtol=1e-12, atol=1e-14)
    # and backward() writes exactly that
    model.zero_grad()
    method2 = go4(3, num_groups=2, beta=0.1)
    method2.backward(model.losses())
    assert_close(torch.cat([p.grad.reshape(-1) for p in params]), want, rtol=1e-12, atol=1e-14)
    assert method2.parameters() == []


def test_go4align_accepts_list_of_scalars():
    L = [torch.tensor(1.0, dtype=F64), torch.tensor([2.0], dtype=F64), torch.tensor(4.0, dtype=F64)]
    _, ex = go4(3, num_groups=2, beta=0.0).get_weighted_loss(L)
    assert ex["groups"].tolist() == [1, 0, 0]


# ---- GO4Align: guards, state, options ---------------------------------------------------------

# the loss guards are checked in the host op (TORCH_CHECK_VALUE) and raise ValueError like the other methods
GUARD_ERRORS = ValueError


def test_go4align_zero_loss_guard():
    with pytest.raises(GUARD_ERRORS, match=r"pyalgo\.multitask\.go4align: losses must be > 0.*pass eps="):
        go4(3).get_weighted_loss(t([1.0, 0.0, 2.0]))
    method = go4(3, eps=1e-8)
    loss, ex = method.get_weighted_loss(t([1.0, 0.0, 2.0]))
    assert torch.isfinite(ex["weights"]).all() and torch.isfinite(loss) and (ex["weights"] > 0).all()
    assert_close(ex["P"], t([1.0, 1e-8, 2.0]).mean() / t([1.0, 1e-8, 2.0]), rtol=1e-12, atol=0)


def test_go4align_negative_loss_guard():
    with pytest.raises(GUARD_ERRORS, match=r"go4align: losses must be > 0, got losses\[1\] = -0\.5; pass loss_offset="):
        go4(3).get_weighted_loss(t([1.0, -0.5, 2.0]))
    L = torch.tensor([1.0, -0.5, 2.0], dtype=F64, requires_grad=True)
    loss, ex = go4(3, num_groups=3, beta=0.0, loss_offset=1.0).get_weighted_loss(L)
    shifted = t([2.0, 0.5, 3.0])
    assert_close(ex["P"], shifted.mean() / shifted, rtol=1e-12, atol=0)
    assert float(loss.detach()) == pytest.approx(float(shifted.mean()), rel=1e-12)   # K = M: Σ w (L + offset) = mean
    loss.backward()
    assert_close(L.grad, ex["weights"])
    with pytest.raises(GUARD_ERRORS, match=r"losses must be > 0 \(after loss_offset\)"):
        go4(3, loss_offset=1.0).get_weighted_loss(t([1.0, -1.5, 2.0]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_go4align_non_finite_raise(bad):
    method = go4(3, eps=1e-8, loss_offset=1.0)
    before = method.state_dict()["log_q"]
    with pytest.raises(GUARD_ERRORS, match=r"go4align: losses must be finite"):
        method.get_weighted_loss(t([1.0, bad, 2.0]))
    assert torch.equal(method.state_dict()["log_q"], before)


def test_go4align_state_dict_round_trip_and_reset():
    r = np.random.default_rng(0)
    a = go4(4, num_groups=2, beta=0.2)
    run(a, np.exp(r.normal(size=(5, 4))))
    state = a.state_dict()
    assert set(state) == {"log_q"}
    b = go4(4, num_groups=2, beta=0.2)
    b.load_state_dict(state)
    assert torch.equal(b.state_dict()["log_q"], state["log_q"])
    state["log_q"].zero_()                        # the state is a copy
    assert not torch.equal(a.state_dict()["log_q"], state["log_q"])
    nxt = np.exp(r.normal(size=4))
    _, ea = a.get_weighted_loss(t(nxt))
    _, eb = b.get_weighted_loss(t(nxt))
    assert torch.equal(ea["weights"], eb["weights"]) and torch.equal(ea["Q"], eb["Q"])
    a.reset()
    assert_close(a.state_dict()["log_q"], t([-math.log(4)] * 4), rtol=1e-15, atol=0)
    _, ex = a.get_weighted_loss(t([1.0, 1.0, 1.0, 1.0]))
    assert_close(ex["Q"], t([0.25] * 4))
    with pytest.raises(ValueError, match=r"log_q must be 4 finite values"):
        b.load_state_dict({"log_q": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"log_q must be 4 finite values"):
        b.load_state_dict({"log_q": t([0.0, float("nan"), 0.0, 0.0])})
    with pytest.raises(KeyError, match=r"unknown keys \['bogus'\]"):
        b.load_state_dict({"log_q": torch.zeros(4), "bogus": 1})


def test_go4align_lloyd_agrees_with_exact_on_separated_data():
    """Two well-separated groups: Lloyd's algorithm (any initial points) finds the exact partition.
    With K = 3 Lloyd is only a local optimum: never better than the exact SSE."""
    history = [[1.0, 1.05, 1.1, 10.0, 10.5, 9.8]]
    _, exact = run(go4(6, num_groups=2, beta=0.0), history)
    assert exact["groups"].tolist() == [1, 1, 1, 0, 0, 0]
    for seed in range(8):
        _, lloyd = run(go4(6, num_groups=2, beta=0.0, clustering="lloyd",
                           generator=torch.Generator().manual_seed(seed)), history)
        assert torch.equal(lloyd["groups"], exact["groups"])
        assert_close(lloyd["weights"], exact["weights"], rtol=1e-12, atol=0)
    x = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 9.0, 9.2])
    for seed in range(8):
        got = MT.kmeans_1d_lloyd(x, 3, generator=torch.Generator().manual_seed(seed))
        assert R.sse_of(x, got.numpy()) >= R.sse_of(x, MT.kmeans_1d(x, 3).numpy()) - 1e-12
        assert sorted(set(got.tolist())) == [0, 1, 2]
        means = [x[got.numpy() == c].mean() for c in range(3)]
        assert means == sorted(means)                       # numbered by increasing centre
    # K = 1 with clustering="lloyd" is the K = 1 branch: every weight mean(γ)
    _, one = run(go4(6, num_groups=1, beta=0.0, clustering="lloyd"), history)
    assert_close(one["weights"], one["indicators"].mean().expand(6), rtol=1e-12, atol=0)


def test_go4align_robust_step_size_alias():
    m = go4(3, robust_step_size=0.25)
    assert m.beta == 0.25 and m.robust_step_size == 0.25
    m2 = go4(3, beta=1.0, robust_step_size=0.25)
    assert m2.beta == 0.25
    _, ex = m.get_weighted_loss(t([1.0, 2.0, 4.0]))
    assert_close(ex["Q"], torch.softmax(t([-0.25, -0.5, -1.0]), 0))
    assert isinstance(MT.create("GO4Align", 3), MT.GO4Align)


def test_go4align_long_run_large_beta_stays_finite():
    r = np.random.default_rng(1)
    method = go4(4, num_groups=2, beta=1.0)
    base = np.array([100.0, 101.0, 150.0, 99.0])
    for _ in range(1000):
        loss, ex = method.get_weighted_loss(t(base + r.uniform(0, 1, size=4)))
    assert torch.isfinite(method.state_dict()["log_q"]).all()
    for key in ("weights", "Q", "indicators", "P"):
        assert torch.isfinite(ex[key]).all(), key
    assert torch.isfinite(loss)
    assert float(ex["Q"].sum()) == pytest.approx(1.0, rel=1e-12)
    assert float(ex["Q"][3]) == pytest.approx(1.0, abs=1e-12)      # the smallest cumulative loss wins


# ---- baselines --------------------------------------------------------------------------------

def test_ls():
    L = torch.tensor([1.0, 2.0, 5.0], dtype=F64, requires_grad=True)
    loss, ex = MT.create("ls", 3).backward(L)
    assert float(loss.detach()) == 8.0
    assert_close(ex["weights"], t([1.0, 1.0, 1.0]))
    assert_close(L.grad, t([1.0, 1.0, 1.0]))


def test_si():
    L = torch.tensor([0.5, 2.0, 8.0], dtype=F64, requires_grad=True)
    method = MT.create("si", 3)
    loss, ex = method.backward(L)
    assert float(loss.detach()) == pytest.approx(math.log(0.5) + math.log(2.0) + math.log(8.0), rel=1e-12)
    assert_close(ex["weights"], t([2.0, 0.5, 0.125]))
    assert_close(L.grad, t([2.0, 0.5, 0.125]))
    assert isinstance(MT.create("scaleinvls", 3), MT.ScaleInvariant)
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.si: losses must be > 0"):
        method.get_weighted_loss(t([1.0, 0.0, 2.0]))
    loss, ex = MT.create("si", 3, eps=1e-6).get_weighted_loss(t([1.0, 0.0, 2.0]))
    assert torch.isfinite(loss) and torch.isfinite(ex["weights"]).all()
    loss, ex = MT.create("si", 2, loss_offset=2.0).get_weighted_loss(t([-1.0, 2.0]))
    assert float(loss.detach()) == pytest.approx(math.log(4.0), rel=1e-12)
    assert_close(ex["weights"], t([1.0, 0.25]))


def test_rlw():
    L = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64, requires_grad=True)
    a = MT.create("rlw", 4, generator=torch.Generator().manual_seed(5))
    loss, ex = a.backward(L)
    z = torch.randn(4, generator=torch.Generator().manual_seed(5), dtype=F64)
    assert_close(ex["weights"], torch.softmax(z, 0), rtol=1e-12, atol=0)
    assert float(ex["weights"].sum()) == pytest.approx(1.0, rel=1e-12)
    assert float(loss.detach()) == pytest.approx(float((torch.softmax(z, 0) * L.detach()).sum()), rel=1e-12)
    assert_close(L.grad, ex["weights"])
    b = MT.create("rlw", 4, generator=torch.Generator().manual_seed(5))
    seq_a = [a.get_weighted_loss(L)[1]["weights"] for _ in range(3)]
    b.get_weighted_loss(L)
    seq_b = [b.get_weighted_loss(L)[1]["weights"] for _ in range(3)]
    for wa, wb in zip(seq_a, seq_b):
        assert torch.equal(wa, wb)
    assert not torch.equal(seq_a[0], seq_a[1])         # fresh draw every step


def test_dwa():
    window, T = 3, 2.0
    method = MT.create("dwa", 3, iteration_window=window, temperature=T)
    a = np.array([1.0, 2.0, 4.0])
    b = np.array([0.5, 2.0, 8.0])
    for step in range(2 * window):
        L = torch.tensor(a if step < window else b, dtype=F64, requires_grad=True)
        loss, ex = method.backward(L)
        assert_close(ex["weights"], t([1.0, 1.0, 1.0]))
        assert_close(L.grad, t([1.0, 1.0, 1.0]))
    want = 3 * torch.softmax(t((b / a) / T), 0)
    assert_close(t(method.weights()), want, rtol=1e-12, atol=0)
    L = torch.tensor([1.0, 1.0, 1.0], dtype=F64, requires_grad=True)
    loss, ex = method.backward(L)
    assert_close(ex["weights"], want, rtol=1e-12, atol=0)
    assert_close(L.grad, want, rtol=1e-12, atol=0)
    assert float(ex["weights"].sum()) == pytest.approx(3.0, rel=1e-12)
    # state round trip and reset
    other = MT.create("dwa", 3, iteration_window=window, temperature=T)
    other.load_state_dict(method.state_dict())
    assert_close(t(other.weights()), t(method.weights()), rtol=0, atol=0)
    method.reset()
    assert_close(t(method.weights()), t([1.0, 1.0, 1.0]))


def test_uw():
    method = MT.create("uw", 3)
    (s,) = method.parameters()
    with torch.no_grad():
        s.copy_(torch.tensor([0.0, 0.5, -1.0]))
    L = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss, ex = method.backward(L)
    sd = s.detach().double()
    assert float(loss.detach()) == pytest.approx(float((0.5 * (torch.exp(-sd) * L.detach().double() + sd)).sum()), rel=1e-6)
    assert_close(s.grad.double(), 0.5 * (1 - torch.exp(-sd) * L.detach().double()), rtol=1e-6, atol=1e-7)
    assert_close(L.grad.double(), 0.5 * torch.exp(-sd), rtol=1e-6, atol=0)
    assert_close(ex["weights"].double(), 0.5 * torch.exp(-sd), rtol=1e-6, atol=0)
    method.reset()
    assert torch.equal(s.detach(), torch.zeros(3))


def test_famo_weights_and_update_direction():
    method = MT.create("famo", 3, gamma=0.0, w_lr=0.025)
    with torch.no_grad():
        method.w.copy_(torch.tensor([0.2, -0.1, 0.4]))
    L = torch.tensor([1.0, 0.5, 3.0], requires_grad=True)
    loss, ex = method.backward(L)
    z = torch.softmax(torch.tensor([0.2, -0.1, 0.4], dtype=F64), 0)
    D = L.detach().double() + 1e-8
    c = (z / D).sum()
    assert_close(ex["weights"].double(), z / (c * D), rtol=1e-6, atol=0)
    assert_close(L.grad.double(), z / (c * D), rtol=1e-6, atol=0)
    assert float(loss.detach()) == pytest.approx(float((z * D.log()).sum() / c), rel=1e-6)

    new = torch.tensor([0.8, 0.6, 2.0])
    delta = D.log() - (new.double() + 1e-8).log()
    J = torch.diag(z) - torch.outer(z, z)
    want = J.T @ delta
    captured = {}

    class Spy:
        def zero_grad(self):
            pass

        def step(self):
            captured["grad"] = method.w.grad.detach().clone()

    real_opt = method.w_opt
    method.w_opt = Spy()
    method.update(new)
    assert_close(captured["grad"].double(), want, rtol=1e-5, atol=1e-8)
    # the real first Adam step (w = w0 − lr·g/(|g| + eps) up to Adam's eps)
    method.w_opt = real_opt
    w0 = method.w.detach().clone()
    method.update(new)
    assert_close((method.w.detach() - w0).double(), -0.025 * torch.sign(want), rtol=1e-4, atol=1e-6)


def test_famo_min_losses_and_update_before_loss():
    method = MT.create("famo", 2)
    with pytest.raises(RuntimeError, match=r"pyalgo\.multitask\.famo\.update: call get_weighted_loss"):
        method.update(torch.tensor([1.0, 2.0]))
    method.set_min_losses(torch.tensor([0.5, 1.0]))
    _, ex = method.get_weighted_loss(torch.tensor([1.0, 3.0], dtype=F64))
    D = t([0.5, 2.0]) + 1e-8
    z = t([0.5, 0.5])
    assert_close(ex["weights"], z / ((z / D).sum() * D), rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match=r"famo: losses must be > 0"):
        method.get_weighted_loss(torch.tensor([0.2, 3.0]))


def test_famo_backward_clips_shared_gradients():
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    method = MT.create("famo", 2, max_norm=1.0)
    L = torch.stack([(p ** 2).sum() * 10, (p.abs()).sum() * 10])
    method.backward(L, shared_parameters=[p])
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-5)


# ---- gradient methods -------------------------------------------------------------------------

def linear_losses(grads):
    """L_m = θ · g_m with θ = 0 as a parameter: constant per-task gradients g_m."""
    G = t(grads)
    theta = torch.zeros(G.shape[1], dtype=F64, requires_grad=True)
    return G @ theta + 1.0, theta


def test_mgda_orthogonal():
    L, theta = linear_losses([[1.0, 0.0], [0.0, 2.0]])
    loss, ex = MT.create("mgda", 2).get_weighted_loss(L, shared_parameters=[theta])
    assert_close(ex["weights"], t([0.8, 0.2]), rtol=1e-12, atol=1e-15)
    d = torch.autograd.grad(loss, theta)[0]
    assert_close(d, t([0.8, 0.4]), rtol=1e-12, atol=1e-15)     # the min-norm point of the segment
    L, theta = linear_losses([[1.0, 0.0], [0.0, 2.0]])
    MT.create("mgda", 2).backward(L, shared_parameters=[theta])
    assert_close(theta.grad, t([0.8, 0.4]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("normalization", ["l2", "loss", "loss+"])
def test_mgda_normalizations_give_unnormalised_alpha(normalization):
    L, theta = linear_losses([[1.0, 0.0], [0.0, 2.0]])
    _, ex = MT.create("mgda", 2, normalization=normalization).get_weighted_loss(L, shared_parameters=[theta])
    # both losses are 1 and the normalised gradients are orthogonal: α' = (½, ½) on the unit vectors
    n = {"l2": t([1.0, 2.0]), "loss": t([1.0, 1.0]), "loss+": t([1.0, 2.0])}[normalization]
    alpha_n = R_min_norm_2(t([[1.0, 0.0], [0.0, 4.0]]) / torch.outer(n, n))
    assert_close(ex["weights"], alpha_n / n, rtol=1e-12, atol=1e-15)


def R_min_norm_2(G):
    a = float((G[1, 1] - G[0, 1]) / (G[0, 0] + G[1, 1] - 2 * G[0, 1]))
    a = min(max(a, 0.0), 1.0)
    return t([a, 1 - a])


@pytest.mark.parametrize("M", [3, 4, 5, 6])
def test_min_norm_weights_vs_slsqp(M):
    r = np.random.default_rng(M)
    for trial in range(4):
        A = r.normal(size=(M, [2, M, 10, 3][trial]))
        if trial == 3:
            A[1] = -A[0]                                   # exactly opposed gradients: min norm 0
        G = A @ A.T
        alpha = MT.min_norm_weights(G)
        assert alpha.shape == (M,) and np.all(alpha >= 0) and alpha.sum() == pytest.approx(1.0, abs=1e-12)
        res = scipy.optimize.minimize(lambda a: a @ G @ a, np.full(M, 1 / M), jac=lambda a: 2 * G @ a,
                                      bounds=[(0, 1)] * M, method="SLSQP",
                                      constraints={"type": "eq", "fun": lambda a: a.sum() - 1},
                                      options={"ftol": 1e-15, "maxiter": 1000})
        ours, theirs = alpha @ G @ alpha, res.x @ G @ res.x
        scale = np.max(np.diag(G))
        assert ours <= theirs * (1 + 1e-8) + 1e-10 * scale, (ours, theirs)


def test_min_norm_weights_small_cases():
    assert MT.min_norm_weights(np.array([[4.0]])).tolist() == [1.0]
    assert MT.min_norm_weights(np.array([[1.0, 1.0], [1.0, 1.0]])).tolist() == [0.5, 0.5]
    assert_close(t(MT.min_norm_weights(np.array([[1.0, 2.0], [2.0, 5.0]]))), t([1.0, 0.0]))  # g1 inside: α = e1


def test_pcgrad_conflicting_and_non_conflicting():
    for seed in range(3):
        L, theta = linear_losses([[1.0, 0.0], [-1.0, 1.0]])
        loss, ex = MT.create("pcgrad", 2, generator=torch.Generator().manual_seed(seed)).get_weighted_loss(
            L, shared_parameters=[theta])
        assert_close(torch.autograd.grad(loss, theta)[0], t([0.5, 1.5]), rtol=1e-12, atol=1e-15)
        assert_close(ex["weights"], t([2.0, 1.5]), rtol=1e-12, atol=1e-15)
    L, theta = linear_losses([[1.0, 0.5, 0.0], [0.2, 1.0, 0.0], [0.0, 0.3, 1.0]])
    loss, ex = MT.create("pcgrad", 3).get_weighted_loss(L, shared_parameters=[theta])
    assert_close(ex["weights"], t([1.0, 1.0, 1.0]), rtol=0, atol=0)
    assert_close(torch.autograd.grad(loss, theta)[0], t([1.2, 1.8, 1.0]), rtol=1e-12, atol=1e-15)


def test_pcgrad_direction_is_weighted_sum_of_task_gradients():
    """M = 3 random gradients: the gradient of the returned loss is Σ α_m g_m with the returned α."""
    r = np.random.default_rng(0)
    g = r.normal(size=(3, 5))
    L, theta = linear_losses(g)
    loss, ex = MT.create("pcgrad", 3, generator=torch.Generator().manual_seed(0)).get_weighted_loss(
        L, shared_parameters=[theta])
    d = torch.autograd.grad(loss, theta)[0]
    assert_close(d, ex["weights"] @ t(g), rtol=1e-12, atol=1e-14)


def test_cagrad_c0_is_mean_gradient():
    r = np.random.default_rng(0)
    g = r.normal(size=(3, 4))
    L, theta = linear_losses(g)
    loss, ex = MT.create("cagrad", 3, c=0.0).get_weighted_loss(L, shared_parameters=[theta])
    assert_close(torch.autograd.grad(loss, theta)[0], t(g.mean(0)), rtol=1e-6, atol=1e-7)


def test_cagrad_two_tasks_formula():
    g = np.array([[1.0, 0.2], [-0.4, 1.5]])
    c = 0.4
    L, theta = linear_losses(g)
    loss, ex = MT.create("cagrad", 2, c=c).get_weighted_loss(L, shared_parameters=[theta])
    d = torch.autograd.grad(loss, theta)[0].numpy()
    G = g @ g.T
    g0 = g.mean(0)
    radius = c * np.linalg.norm(g0)

    def objective(w1):
        w = np.array([w1, 1 - w1])
        return w @ G @ np.full(2, 0.5) + radius * np.sqrt(w @ G @ w)

    w1 = scipy.optimize.minimize_scalar(objective, bounds=(0, 1), method="bounded", options={"xatol": 1e-12}).x
    gw = np.array([w1, 1 - w1]) @ g
    want = (g0 + radius / np.linalg.norm(gw) * gw) / (1 + c ** 2)
    np.testing.assert_allclose(d, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("mgda", {}), ("pcgrad", {"generator": None}), ("cagrad", {"c": 0.4})])
def test_gradient_method_backward_on_tiny_model(name, kw):
    model = Tiny(2, seed=3)
    shared, heads = model.shared_parameters(), model.head_parameters()
    L = model.losses()
    g = torch.stack([flat_grad(L[m], shared) for m in range(2)])
    head_plain = flat_grad(L.sum(), heads)
    kw = {k: (torch.Generator().manual_seed(0) if k == "generator" else v) for k, v in kw.items()}
    method = MT.create(name, 2, **kw)
    pre = {p: torch.full_like(p, 0.25) for p in shared + heads}
    for p in shared + heads:
        p.grad = pre[p].clone()
    loss, ex = method.backward(model.losses(), shared_parameters=shared)
    alpha = ex["weights"]
    got_shared = torch.cat([(p.grad - pre[p]).reshape(-1) for p in shared])
    got_heads = torch.cat([(p.grad - pre[p]).reshape(-1) for p in heads])
    assert_close(got_shared, alpha @ g, rtol=1e-10, atol=1e-12)
    assert_close(got_heads, head_plain, rtol=1e-10, atol=1e-12)
    assert float(loss.detach()) == pytest.approx(float((alpha * L.detach()).sum()), rel=1e-12)


def test_gradient_method_backward_with_unused_shared_parameter():
    """A shared parameter no loss depends on (allowed by _task_gradients' allow_unused) must not crash
    backward(); its gradient stays zero / None."""
    model = Tiny(2, seed=4)
    unused = torch.nn.Parameter(torch.ones(3, dtype=F64))
    MT.create("mgda", 2).backward(model.losses(), shared_parameters=model.shared_parameters() + [unused])
    assert unused.grad is None or torch.equal(unused.grad, torch.zeros(3, dtype=F64))


def test_task_gradients_vmapped_equals_loop(monkeypatch):
    model = Tiny(3, seed=5)
    params = model.shared_parameters()
    L = model.losses()
    method = MT.create("mgda", 3)
    want = torch.stack([flat_grad(L[m], params) for m in range(3)])
    got = method._task_gradients(L, params)
    assert_close(got, want, rtol=1e-12, atol=1e-14)
    # force the per-task loop fallback
    real_grad = torch.autograd.grad

    def no_batching(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("no batching rule")
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", no_batching)
    loop = method._task_gradients(L, params)
    assert_close(loop, want, rtol=1e-12, atol=1e-14)
    # a parameter one task does not use gets a zero row there, on both paths
    extra = torch.nn.Parameter(torch.tensor([2.0], dtype=F64))
    L2 = torch.stack([L[0] * extra[0], L[1], L[2]])
    for path in ("loop", "vmap"):
        if path == "vmap":
            monkeypatch.setattr(torch.autograd, "grad", real_grad)
        G = method._task_gradients(L2, [extra])
        assert_close(G, torch.stack([L[0].detach().reshape(1), torch.zeros(1, dtype=F64),
                                     torch.zeros(1, dtype=F64)]), rtol=1e-12, atol=0)


def test_registry():
    assert set(MT.METHODS) == {"ls", "si", "rlw", "dwa", "uw", "famo", "mgda", "pcgrad", "cagrad", "go4align"}
    for name, cls in MT.METHODS.items():
        method = MT.create(name.upper(), 2)
        assert type(method) is cls and method.n_tasks == 2
        assert method.needs_gradients == (name in ("mgda", "pcgrad", "cagrad"))
        assert issubclass(cls, _GradientMethod) == method.needs_gradients


# ---- malformed input --------------------------------------------------------------------------

LOSSES3 = torch.tensor([1.0, 2.0, 3.0], dtype=F64)


@pytest.mark.parametrize("name", ["ls", "si", "rlw", "dwa", "uw", "famo", "go4align"])
@pytest.mark.parametrize("losses,exc,match", [
    (torch.tensor([1.0, 2.0], dtype=F64), ValueError, r"expected 3 losses \(n_tasks\), got 2"),
    ([torch.tensor(1.0), torch.tensor([2.0, 3.0]), torch.tensor(1.0)], ValueError,
     r"losses\[1\] must be a scalar .*got shape \(2,\)"),
    ([torch.tensor(1.0), 2.0, torch.tensor(1.0)], TypeError, r"losses\[1\] must be a tensor, got float"),
    (torch.ones(1, 3, dtype=F64), ValueError, r"losses must be a 1-D tensor of 3 task losses .*got shape \(1, 3\)"),
    (torch.tensor(1.0), ValueError, r"losses must be a 1-D tensor"),
    (torch.tensor([1, 2, 3]), TypeError, r"losses must be floating point, got torch\.int64"),
    (np.array([1.0, 2.0, 3.0]), TypeError, r"losses must be a tensor or a sequence of scalar tensors"),
    ([], ValueError, r"expected 3 losses \(n_tasks\), got 0"),
])
def test_malformed_losses(name, losses, exc, match):
    with pytest.raises(exc, match=rf"pyalgo\.multitask\.{name}: " + match):
        MT.create(name, 3).get_weighted_loss(losses)


@pytest.mark.parametrize("kw,match", [
    (dict(num_groups=0), r"num_groups must be an integer in \[1, n_tasks=3\], got 0"),
    (dict(num_groups=4), r"num_groups must be an integer in \[1, n_tasks=3\], got 4"),
    (dict(num_groups=2.0), r"num_groups must be an integer in \[1, n_tasks=3\], got 2\.0"),
    (dict(num_groups=True), r"num_groups must be an integer"),
    (dict(scale="max"), r"scale must be 'mean' \(paper Eq\. 5\) or 'sum' \(official code\), got 'max'"),
    (dict(clustering="spectral"), r"clustering must be 'exact1d' or 'lloyd', got 'spectral'"),
    (dict(beta=-1.0), r"beta must be a finite number >= 0, got -1\.0"),
    (dict(beta=float("nan")), r"beta must be a finite number >= 0"),
    (dict(robust_step_size=-0.1), r"beta must be a finite number >= 0, got -0\.1"),
    (dict(eps=-1e-8), r"eps must be a finite number >= 0"),
    (dict(loss_offset=float("inf")), r"loss_offset must be finite, got inf"),
])
def test_go4align_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.go4align: " + match):
        go4(3, **kw)


@pytest.mark.parametrize("name", sorted(["ls", "si", "rlw", "dwa", "uw", "famo", "mgda", "pcgrad", "cagrad",
                                         "go4align"]))
@pytest.mark.parametrize("n", [0, -2, 1.5, True])
def test_bad_n_tasks(name, n):
    with pytest.raises(ValueError, match=rf"pyalgo\.multitask\.{name}: n_tasks must be an integer >= 1, got {n!r}"):
        MT.create(name, n)


def test_create_unknown_name():
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.create: unknown method 'nashmtl'; choose one of "
                                         r"\['cagrad', 'dwa', 'famo', 'go4align', 'ls', 'mgda', 'pcgrad', 'rlw', "
                                         r"'si', 'uw'\]"):
        MT.create("nashmtl", 3)


@pytest.mark.parametrize("name", ["mgda", "pcgrad", "cagrad"])
def test_gradient_methods_need_shared_parameters(name):
    L, theta = linear_losses([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=rf"pyalgo\.multitask\.{name}: needs shared_parameters"):
        MT.create(name, 2).get_weighted_loss(L)
    with pytest.raises(ValueError, match=rf"{name}: needs shared_parameters"):
        MT.create(name, 2).backward(L)
    with pytest.raises(ValueError, match=rf"{name}: shared_parameters must be a non-empty sequence of tensors"):
        MT.create(name, 2).get_weighted_loss(L, shared_parameters=[])
    with pytest.raises(ValueError, match=rf"{name}: shared_parameters must be a non-empty sequence of tensors"):
        MT.create(name, 2).get_weighted_loss(L, shared_parameters=[torch.zeros(2)])
    with pytest.raises(ValueError, match=rf"{name}: losses must require grad"):
        MT.create(name, 2).get_weighted_loss(L.detach(), shared_parameters=[theta])


@pytest.mark.parametrize("name,kw,match", [
    ("dwa", dict(iteration_window=0), r"iteration_window must be an integer >= 1, got 0"),
    ("dwa", dict(temperature=0.0), r"temperature must be a finite number > 0, got 0\.0"),
    ("famo", dict(w_lr=0.0), r"w_lr must be a finite number > 0"),
    ("famo", dict(gamma=-1.0), r"gamma must be a finite number >= 0"),
    ("cagrad", dict(c=-0.1), r"c must be a finite number >= 0"),
    ("mgda", dict(normalization="l1"), r"normalization must be 'none', 'l2', 'loss' or 'loss\+', got 'l1'"),
    ("si", dict(eps=-1.0), r"eps must be a finite number >= 0"),
])
def test_baseline_bad_arguments(name, kw, match):
    with pytest.raises(ValueError, match=rf"pyalgo\.multitask\.{name}: " + match):
        MT.create(name, 3, **kw)


# ---- Δm --------------------------------------------------------------------------------------

NYU_BASE = [38.30, 63.76, 0.6754, 0.2780, 25.01, 19.21, 30.14, 57.20, 69.15]
NYU_HIB = [True, True, False, False, False, False, True, True, True]
NYU_GO4ALIGN = [40.42, 65.37, 0.5492, 0.2167, 24.76, 18.94, 30.54, 57.87, 69.84]


def test_delta_m_hand_computed():
    # accuracy 110 vs 100 (higher better): −10 %; error 0.9 vs 1.0 (lower better): −10 %
    assert MT.delta_m([110.0, 0.9], [100.0, 1.0], [True, False]) == pytest.approx(-10.0, rel=1e-12)
    assert MT.delta_m([90.0, 1.2], [100.0, 1.0], [True, False]) == pytest.approx(15.0, rel=1e-12)
    assert MT.delta_m([2.0, 3.0], [1.0, 2.0], False) == pytest.approx(75.0, rel=1e-12)
    assert MT.delta_m([2.0, 3.0], [1.0, 2.0], True) == pytest.approx(-75.0, rel=1e-12)
    assert MT.delta_m([1.0, 2.0], [1.0, 2.0], True) == 0.0
    assert isinstance(MT.delta_m([1.0], [2.0], True), float)


def test_delta_m_nyuv2_go4align():
    assert MT.delta_m(NYU_GO4ALIGN, NYU_BASE, NYU_HIB) == pytest.approx(-6.08, abs=0.01)


def test_delta_m_batched():
    r = np.random.default_rng(0)
    metrics = np.array(NYU_BASE) * (1 + 0.05 * r.normal(size=(3, 4, 9)))
    got = MT.delta_m(metrics, NYU_BASE, NYU_HIB)
    assert isinstance(got, np.ndarray) and got.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert got[i, j] == pytest.approx(MT.delta_m(metrics[i, j], NYU_BASE, NYU_HIB), rel=1e-12)
    assert MT.delta_m(np.array([NYU_GO4ALIGN] * 2), NYU_BASE, np.array(NYU_HIB)) == pytest.approx([-6.0775] * 2,
                                                                                                abs=1e-3)


@pytest.mark.parametrize("metrics,baselines,hib,match", [
    ([1.0, 2.0], [[1.0, 2.0]], True, r"baselines must be a non-empty 1-D sequence"),
    ([], [], True, r"baselines must be a non-empty 1-D sequence"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], True, r"metrics must end in 2 values \(one per baseline\), got shape \(3,\)"),
    (1.0, [1.0], True, r"metrics must end in 1 values"),
    ([1.0, 2.0], [0.0, 2.0], True, r"baselines must be finite and non-zero"),
    ([1.0, 2.0], [float("nan"), 2.0], True, r"baselines must be finite and non-zero"),
    ([1.0, float("inf")], [1.0, 2.0], True, r"metrics must be finite"),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [True], r"higher_is_better must be one bool or 3 bools, got \(1,\)"),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [True, False], r"higher_is_better must be one bool or 3 bools, got \(2,\)"),
])
def test_delta_m_errors(metrics, baselines, hib, match):
    with pytest.raises(ValueError, match=r"pyalgo\.multitask\.delta_m: " + match):
        MT.delta_m(metrics, baselines, hib)
