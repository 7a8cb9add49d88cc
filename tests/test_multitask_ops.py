"""The multi-task host ops (pyalgo.multitask.ops: exact 1-D K-means and one GO4Align step) against
brute force and the pure references (pyalgo/multitask/reference.py), their properties and their
errors (spec go4align.md §1.3, §6.8)."""
import math

import numpy as np
import pytest
import torch

from pyalgo.multitask import ops
from pyalgo.multitask import reference as R
from pyalgo.multitask.ops import kmeans_1d

pytestmark = pytest.mark.usefixtures("one_thread")


def rng(seed=0):
    return np.random.default_rng(seed)


def random_values(seed):
    """M ≤ 8 values, sometimes with duplicates, sometimes on very different scales."""
    r = rng(seed)
    m = int(r.integers(1, 9))
    kind = seed % 4
    if kind == 0:
        x = r.normal(size=m)
    elif kind == 1:                                  # duplicated values
        x = r.choice(r.normal(size=max(1, m // 2)), size=m)
    elif kind == 2:                                  # small integers: many duplicates and ties
        x = r.integers(0, 4, size=m).astype(np.float64)
    else:                                            # GO4Align-like: positive, several scales
        x = np.exp(r.normal(scale=3.0, size=m))
    return x


def check_contiguous(x, labels):
    """Clusters are intervals of the sorted values: no value of one cluster lies strictly inside another's range."""
    labels = np.asarray(labels)
    for c in np.unique(labels):
        inside = x[labels == c]
        lo, hi = inside.min(), inside.max()
        others = x[labels != c]
        assert not np.any((others >= lo) & (others <= hi)), (x, labels)


def check_numbered_by_centre(x, labels):
    labels = np.asarray(labels)
    used = np.unique(labels)
    assert used.tolist() == list(range(used.size))
    means = [x[labels == c].mean() for c in used]
    assert all(a < b for a, b in zip(means, means[1:]))


# ---- exact K-means vs brute force --------------------------------------------------------------

@pytest.mark.parametrize("seed", range(60))
def test_kmeans_optimal_vs_bruteforce(seed):
    x = random_values(seed)
    for k in range(1, x.size + 2):
        labels = kmeans_1d(x, k)
        assert labels.dtype == torch.int64 and labels.shape == (x.size,)
        if min(k, x.size) ** x.size <= 2500:         # exhaustive search (keeps the file fast)
            best, _ = R.kmeans_1d_bruteforce(x, k)
        else:
            best, _ = R.kmeans_1d_ref(x, k)
        got = R.sse_of(x, labels.numpy())
        assert got == pytest.approx(best, rel=1e-9, abs=1e-9), (x, k)
        n_distinct = np.unique(x).size
        assert np.unique(labels.numpy()).size == min(k, n_distinct)
        check_numbered_by_centre(x, labels.numpy())
        check_contiguous(x, labels.numpy())


@pytest.mark.parametrize("m,k,seed", [(8, 3, 0), (8, 3, 1), (6, 4, 2), (7, 3, 3)])
def test_kmeans_optimal_vs_bruteforce_larger(m, k, seed):
    r = rng(50 + seed)
    x = np.round(r.normal(size=m), 1 if seed % 2 else 6)
    best, _ = R.kmeans_1d_bruteforce(x, k)
    assert R.sse_of(x, kmeans_1d(x, k).numpy()) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_kmeans_known_answers():
    assert kmeans_1d([1.0, 2.0, 4.0], 2).tolist() == [0, 0, 1]          # SSE 0.5 < 2.0 for {1}, {2, 4}
    assert kmeans_1d([10.0, 0.0, 0.1, 9.9, 5.0], 3).tolist() == [2, 0, 0, 2, 1]
    assert kmeans_1d([3.0, 3.0, 1.0], 3).tolist() == [1, 1, 0]          # 2 distinct values: 2 clusters
    assert kmeans_1d([7.0, 7.0, 7.0], 2).tolist() == [0, 0, 0]
    assert kmeans_1d([5.0], 4).tolist() == [0]
    # the GO4Align indicator example of spec §1.6: K = 2 splits the two large values from the rest
    assert kmeans_1d([43, 39, 0.2, 0.18, 0.07, 0.09], 2).tolist() == [1, 1, 0, 0, 0, 0]


def test_kmeans_large_offset_stays_exact():
    """Values with a large common offset (cancellation in s2 − s1²/n): still the optimal partition."""
    base = np.array([0.0, 0.1, 0.15, 1.0, 1.05, 2.0, 2.2, 2.3])
    for shift in [1e6, 1e9]:
        for k in (2, 3, 4):
            assert kmeans_1d(base + shift, k).tolist() == kmeans_1d(base, k).tolist()


@pytest.mark.parametrize("seed", range(8))
def test_kmeans_permutation_equivariant(seed):
    r = rng(100 + seed)
    x = np.round(r.normal(size=8), 1)                 # rounding gives duplicates
    perm = r.permutation(8)
    for k in (1, 2, 3, 5, 8):
        labels = kmeans_1d(x, k)
        assert torch.equal(kmeans_1d(x[perm], k), labels[torch.from_numpy(perm)])


def test_kmeans_deterministic_and_input_untouched():
    x = torch.from_numpy(rng(5).normal(size=30))
    copy = x.clone()
    first = kmeans_1d(x, 4)
    for _ in range(5):
        assert torch.equal(kmeans_1d(x, 4), first)
    assert torch.equal(x, copy)


def test_kmeans_accepts_array_like_and_other_dtypes():
    x = [0.0, 0.2, 5.0, 5.1]
    want = [0, 0, 1, 1]
    assert kmeans_1d(x, 2).tolist() == want
    assert kmeans_1d(np.array(x), 2).tolist() == want
    assert kmeans_1d(torch.tensor(x, dtype=torch.float32), 2).tolist() == want
    assert kmeans_1d(torch.tensor([0, 0, 5, 5]), 2).tolist() == want
    assert kmeans_1d(torch.tensor(x, requires_grad=True), np.int64(2)).tolist() == want


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_kmeans_vs_dp_reference_m40(k):
    for seed in range(3):
        x = rng(200 + seed).normal(size=40) * (1 + seed)
        labels = kmeans_1d(x, k).numpy()
        want, clusters = R.kmeans_1d_ref(x, k)
        assert R.sse_of(x, labels) == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert np.unique(labels).size == k
        check_contiguous(x, labels)
        check_numbered_by_centre(x, labels)


# ---- GO4Align step op --------------------------------------------------------------------------

def test_go4align_op_worked_example():
    """Spec §6.1 (β = 0, paper scale), and the updated log q returned while the input log q is untouched."""
    L = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    log_q = torch.full((3,), -math.log(3), dtype=torch.float64)
    before = log_q.clone()
    w, groups, gamma, P, q, new_log_q = ops.go4align_weights(L, log_q, 2, 0.0, False, 0.0, 0.0)
    torch.testing.assert_close(P, torch.tensor([7 / 3, 7 / 6, 7 / 12], dtype=torch.float64))
    torch.testing.assert_close(q, torch.full((3,), 1 / 3, dtype=torch.float64))
    torch.testing.assert_close(gamma, torch.tensor([7 / 9, 7 / 18, 7 / 36], dtype=torch.float64))
    torch.testing.assert_close(w, torch.tensor([7 / 9, 7 / 48, 7 / 48], dtype=torch.float64) * torch.tensor([1, 2, 2]))
    assert groups.tolist() == [1, 0, 0]
    torch.testing.assert_close(new_log_q, before)
    assert torch.equal(log_q, before)
    # one step with β > 0 and the code's scale: log q_new = log_softmax(log q − β L), P × M
    w2, _, _, P2, q2, lq2 = ops.go4align_weights(L, log_q, 3, 0.5, True, 0.0, 0.0)
    torch.testing.assert_close(lq2, torch.log_softmax(log_q - 0.5 * L, 0))
    torch.testing.assert_close(q2, torch.softmax(-0.5 * L, 0))
    torch.testing.assert_close(P2, 3 * P)
    torch.testing.assert_close(w2, P2 * q2)
    assert torch.equal(log_q, before)


@pytest.mark.parametrize("seed", range(6))
def test_go4align_op_vs_reference(seed):
    r = rng(300 + seed)
    m, k, beta = 3 + seed, 1 + seed % 3, [0.0, 1e-3, 0.1][seed % 3]
    history = np.exp(r.normal(size=(7, m)))
    log_q = torch.full((m,), -math.log(m), dtype=torch.float64)
    for losses in history:
        w, groups, gamma, P, q, log_q = ops.go4align_weights(torch.from_numpy(losses), log_q, k, beta, False, 0.0, 0.0)
    ref = R.go4align_ref(history, k, beta)
    np.testing.assert_allclose(gamma.numpy(), ref["gamma"], rtol=1e-12)
    np.testing.assert_allclose(P.numpy(), ref["P"], rtol=1e-12)
    np.testing.assert_allclose(q.numpy(), ref["q"], rtol=1e-12)
    np.testing.assert_allclose(w.numpy(), ref["weights"], rtol=1e-12)


def test_go4align_op_offset_and_eps():
    L = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    log_q = torch.full((3,), -math.log(3), dtype=torch.float64)
    w, _, gamma, P, _, _ = ops.go4align_weights(L, log_q, 3, 0.0, False, 1.5, 0.0)
    shifted = L + 1.5
    torch.testing.assert_close(P, shifted.mean() / shifted)
    Z = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    w, _, _, P, _, _ = ops.go4align_weights(Z, log_q, 2, 0.0, False, 0.0, 1e-3)
    assert torch.isfinite(w).all() and (w > 0).all()
    clamped = torch.tensor([1e-3, 1.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(P, clamped.mean() / clamped)


# ---- opcheck ----------------------------------------------------------------------------------

def _opcheck_cases():
    x = torch.from_numpy(rng(9).normal(size=7))
    L = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    log_q = torch.log_softmax(torch.tensor([0.1, -0.2, 0.3, 0.0], dtype=torch.float64), 0)
    return [
        (torch.ops.pyalgo.kmeans_1d, (x, 3)),
        (torch.ops.pyalgo.kmeans_1d, (x[:1].clone(), 1)),
        (torch.ops.pyalgo.go4align_weights, (L, log_q, 2, 1e-3, False, 0.0, 0.0)),
        (torch.ops.pyalgo.go4align_weights, (L, log_q, 1, 0.1, True, 0.5, 1e-8)),
    ]


MULTITASK_OPS = {"kmeans_1d", "go4align_weights"}


def test_opcheck_cases_cover_every_multitask_op():
    assert {op.default._schema.name.split("::")[1] for op, _ in _opcheck_cases()} == MULTITASK_OPS


@pytest.mark.parametrize("case", range(4))
def test_opcheck(case):
    op, args = _opcheck_cases()[case]
    torch.library.opcheck(op, args)


def test_ops_outputs_never_require_grad():
    x = torch.tensor([0.1, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    log_q = torch.full((3,), -math.log(3), dtype=torch.float64)
    assert not torch.ops.pyalgo.kmeans_1d(x, 2).requires_grad
    outs = torch.ops.pyalgo.go4align_weights(x, log_q, 2, 0.0, False, 0.0, 0.0)
    assert not any(o.requires_grad for o in outs)


# ---- malformed input --------------------------------------------------------------------------

@pytest.mark.parametrize("values,k,exc,match", [
    (torch.zeros(2, 2, dtype=torch.float64), 2, RuntimeError, r"values must be 1-D, got shape \[2, 2\]"),
    (torch.tensor(1.0, dtype=torch.float64), 1, RuntimeError, r"values must be 1-D"),
    ([], 2, RuntimeError, r"values must be non-empty"),
    ([1.0, float("nan")], 2, ValueError, r"values must be finite, got values\[1\] = nan"),
    ([float("inf"), 1.0], 2, ValueError, r"values must be finite, got values\[0\] = inf"),
    ([1.0, -float("inf")], 2, ValueError, r"values must be finite"),
    ([1.0, 2.0], 0, ValueError, r"num_clusters must be >= 1, got 0"),
    ([1.0, 2.0], -3, ValueError, r"num_clusters must be >= 1, got -3"),
    ([1.0, 2.0], True, TypeError, r"num_clusters must be an int, got True"),
    ([1.0, 2.0], 2.0, TypeError, r"num_clusters must be an int, got 2.0"),
])
def test_kmeans_malformed(values, k, exc, match):
    with pytest.raises(exc, match=r"pyalgo\.multitask\.kmeans_1d: " + match):
        kmeans_1d(values, k)


def test_raw_kmeans_wrong_dtype():
    with pytest.raises(RuntimeError, match=r"kmeans_1d: values must be float64, got Float"):
        torch.ops.pyalgo.kmeans_1d(torch.tensor([1.0, 2.0]), 1)


L3 = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
Q3 = torch.full((3,), -math.log(3), dtype=torch.float64)


@pytest.mark.parametrize("args,match", [
    ((L3.float(), Q3, 2, 0.0, False, 0.0, 0.0), r"losses must be float64, got Float"),
    ((L3, Q3.float(), 2, 0.0, False, 0.0, 0.0), r"log_q must be float64, got Float"),
    ((L3.view(3, 1), Q3, 2, 0.0, False, 0.0, 0.0), r"losses must be 1-D, got shape \[3, 1\]"),
    ((L3[:0], Q3[:0], 1, 0.0, False, 0.0, 0.0), r"losses must be non-empty"),
    ((L3, Q3[:2], 2, 0.0, False, 0.0, 0.0), r"log_q must have 3 entries \(one per loss\), got 2"),
    ((L3, Q3, 4, 0.0, False, 0.0, 0.0), r"num_groups must be in \[1, 3\], got 4"),
    ((L3, Q3, 0, 0.0, False, 0.0, 0.0), r"num_groups must be in \[1, 3\], got 0"),
    ((L3, Q3, 2, -1.0, False, 0.0, 0.0), r"beta must be finite and >= 0, got -1"),
    ((L3, Q3, 2, float("inf"), False, 0.0, 0.0), r"beta must be finite and >= 0"),
    ((L3, Q3, 2, 0.0, False, float("nan"), 0.0), r"loss_offset must be finite, got nan"),
    ((L3, Q3, 2, 0.0, False, 0.0, -1.0), r"eps must be finite and >= 0, got -1"),
    ((L3 - 1, Q3, 2, 0.0, False, 0.0, 0.0), r"losses must be > 0, got losses\[0\] = 0; pass eps="),
    ((L3 - 2, Q3, 2, 0.0, False, 0.0, 0.0), r"losses must be > 0, got losses\[0\] = -1; pass loss_offset="),
    ((L3 - 3, Q3, 2, 0.0, False, 1.0, 0.0), r"losses must be > 0 \(after loss_offset\), got losses\[0\] = -1"),
    ((L3 * torch.tensor([1.0, float("nan"), 1.0], dtype=torch.float64), Q3, 2, 0.0, False, 0.0, 0.0),
     r"losses must be finite, got losses\[1\] = nan"),
    ((L3 * torch.tensor([1.0, 1.0, float("inf")], dtype=torch.float64), Q3, 2, 0.0, False, 0.0, 0.0),
     r"losses must be finite, got losses\[2\] = inf"),
])
def test_raw_go4align_malformed(args, match):
    # type/shape errors are RuntimeError (TORCH_CHECK), value errors ValueError (TORCH_CHECK_VALUE)
    with pytest.raises((RuntimeError, ValueError), match=r"pyalgo\.multitask\.go4align: " + match):
        ops.go4align_weights(*args)


def test_go4align_op_error_leaves_log_q_untouched():
    log_q = Q3.clone()
    with pytest.raises(ValueError):
        ops.go4align_weights(torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64), log_q, 2, 0.5, False, 0.0, 0.0)
    assert torch.equal(log_q, Q3)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_raw_ops_reject_cuda():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, device="cuda")
    with pytest.raises(RuntimeError, match=r"values must be on the CPU"):
        torch.ops.pyalgo.kmeans_1d(x, 1)
    with pytest.raises(RuntimeError, match=r"losses must be on the CPU"):
        torch.ops.pyalgo.go4align_weights(x, torch.zeros_like(x), 1, 0.0, False, 0.0, 0.0)
    # the wrapper moves to the host
    assert kmeans_1d(x, 2).tolist() == [0, 1]


# ---- shapes, strides, compile ------------------------------------------------------------------

def test_single_value_and_single_task():
    assert kmeans_1d([3.0], 1).tolist() == [0]
    w, groups, gamma, P, q, log_q = ops.go4align_weights(torch.tensor([2.5], dtype=torch.float64),
                                                         torch.zeros(1, dtype=torch.float64), 1, 0.1, False, 0.0, 0.0)
    assert w.tolist() == [1.0] and groups.tolist() == [0] and q.tolist() == [1.0] and log_q.tolist() == [0.0]


def test_large_input_two_clusters_is_the_best_split():
    """M = 5000, K = 2: the optimum is the best of the M − 1 splits of the sorted values."""
    x = np.concatenate([rng(3).normal(0, 1, 3000), rng(4).normal(2.5, 1, 2000)])
    labels = kmeans_1d(x, 2).numpy()
    s = np.sort(x)
    c1 = np.cumsum(s)[:-1]
    n1 = np.arange(1, s.size)
    sse = (s ** 2).sum() - c1 ** 2 / n1 - (s.sum() - c1) ** 2 / (s.size - n1)
    assert R.sse_of(x, labels) == pytest.approx(sse.min(), rel=1e-9)
    assert labels.sum() == s.size - 1 - int(np.argmin(sse))        # cluster 1 = the values above the split


def test_non_contiguous_inputs():
    base = torch.rand(40, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.1
    strided = base[::2]
    assert not strided.is_contiguous()
    assert torch.equal(kmeans_1d(strided, 3), kmeans_1d(strided.contiguous(), 3))
    log_q = torch.full((40,), -math.log(20), dtype=torch.float64)[::2]
    a = ops.go4align_weights(strided, log_q, 3, 0.1, False, 0.0, 0.0)
    b = ops.go4align_weights(strided.contiguous(), log_q.contiguous(), 3, 0.1, False, 0.0, 0.0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_torch_compile_fullgraph():
    x = torch.tensor([1.0, 2.0, 4.0, 9.0], dtype=torch.float64)
    log_q = torch.full((4,), -math.log(4), dtype=torch.float64)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(x, log_q):
        return torch.ops.pyalgo.kmeans_1d(x, 2), torch.ops.pyalgo.go4align_weights(x, log_q, 2, 0.0, False, 0.0, 0.0)

    labels, outs = f(x, log_q)
    assert torch.equal(labels, kmeans_1d(x, 2))
    assert all(torch.equal(a, b) for a, b in zip(outs, ops.go4align_weights(x, log_q, 2, 0.0, False, 0.0, 0.0)))
