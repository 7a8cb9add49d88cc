"""Tests of pyalgo.energy.predict (mode oracles) and pyalgo.energy.metrics."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from sklearn.metrics import f1_score, hamming_loss as sk_hamming_loss

from pyalgo.energy import metrics as M
from pyalgo.energy import predict as P
from pyalgo.energy import reference as R

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _ising(B, k, seed, scale=1.0):
    g = _gen(seed)
    return (scale * torch.randn(B, k, generator=g, dtype=F64),
            scale * torch.randn(B, k, k, generator=g, dtype=F64) / math.sqrt(k))


# ------------------------------------------------------------------------------------------------ multilabel

def test_predict_unary_thresholds_at_zero_and_is_the_exact_mode():
    u = torch.tensor([[0.5, -0.1, 0.0, -3.0]])
    assert P.predict_unary(u).tolist() == [[1.0, 0.0, 1.0, 0.0]]
    unary = torch.randn(20, 7, generator=_gen(1), dtype=F64)
    torch.testing.assert_close(P.predict_unary(unary), P.mode_bits_exact(unary))
    assert P.predict_pairwise(unary, None).equal(P.predict_unary(unary))


def test_mode_bits_exact_matches_python_brute_force():
    unary, pairwise = _ising(6, 6, seed=2)
    modes = P.mode_bits_exact(unary, pairwise)
    for b in range(6):
        best = max(itertools.product((0.0, 1.0), repeat=6),
                   key=lambda y: R.energy_bits(unary[b:b + 1], torch.tensor([y], dtype=F64), pairwise[b:b + 1]).item())
        assert modes[b].tolist() == list(best)


def _energy(unary, pairwise, y):
    return R.energy_bits(unary, y, pairwise)


def _own_rounded_pga(unary, pairwise, steps, lr):
    sym = 0.5 * (pairwise + pairwise.transpose(1, 2))
    if lr is None:                                                 # the documented default 1/‖½(U + Uᵀ)‖₂
        lr = (1.0 / torch.linalg.matrix_norm(sym, ord=2))[:, None]
    mu = torch.sigmoid(unary)
    for _ in range(steps):
        mu = torch.clamp(mu + lr * (unary + torch.einsum("bij,bj->bi", sym, mu)), 0, 1)
    return (mu >= 0.5).to(unary.dtype)


def test_predict_pairwise_never_worse_than_rounding_and_is_a_local_optimum():
    unary, pairwise = _ising(300, 8, seed=3, scale=1.5)
    for steps, lr in ((0, None), (30, 0.05), (100, None)):
        pred = P.predict_pairwise(unary, pairwise, steps=steps, lr=lr)
        assert set(pred.unique().tolist()) <= {0.0, 1.0} and pred.dtype == F64
        rounded = _own_rounded_pga(unary, pairwise, steps, lr)
        e_pred = _energy(unary, pairwise, pred)
        e_rounded = _energy(unary, pairwise, rounded)
        assert (e_pred >= e_rounded - 1e-12).all()
        if steps == 0:                                             # the flip pass does real work
            assert (e_pred > e_rounded + 1e-9).any()
        # no single-bit flip improves the exact energy
        for i in range(8):
            flipped = pred.clone()
            flipped[:, i] = 1 - flipped[:, i]
            assert (_energy(unary, pairwise, flipped) <= e_pred + 1e-12).all()


def test_predict_pairwise_finds_the_enumerated_mode_on_most_instances():
    unary, pairwise = _ising(300, 8, seed=4, scale=1.5)
    pred = P.predict_pairwise(unary, pairwise)
    mode = P.mode_bits_exact(unary, pairwise)
    hit = (pred == mode).all(1).double().mean().item()
    assert hit >= 0.85
    gap = _energy(unary, pairwise, mode) - _energy(unary, pairwise, pred)
    assert (gap >= -1e-12).all()
    # the relaxation + flips beats plain thresholding of u on average
    unary_only = _energy(unary, pairwise, P.predict_unary(unary))
    assert (_energy(unary, pairwise, pred) >= unary_only - 1e-12).float().mean() > 0.9


def test_predict_pairwise_with_zero_pairwise_is_threshold():
    unary = torch.randn(50, 6, generator=_gen(5), dtype=F64)
    torch.testing.assert_close(P.predict_pairwise(unary, torch.zeros(50, 6, 6, dtype=F64)), P.predict_unary(unary))


# ------------------------------------------------------------------------------------------------ ranking

@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_predict_permutahedron_and_birkhoff_match_brute_force(n):
    g = _gen(10 + n)
    perms = R.all_perms(n)
    theta = torch.randn(40, n, generator=g, dtype=F64)
    Theta = torch.randn(40, n, n, generator=g, dtype=F64)
    gp = R.energy_perms(theta, perms.expand(40, *perms.shape))
    gb = R.energy_perms(Theta, perms.expand(40, *perms.shape))
    yp, yb = P.predict_permutahedron(theta), P.predict_birkhoff(Theta)
    assert yp.dtype == torch.int64 and yb.dtype == torch.int64
    assert yp.equal(perms[gp.argmax(1)])                          # continuous θ: unique maximiser a.s.
    torch.testing.assert_close(R.energy_perms(Theta, yb), gb.max(1).values)
    assert (yb.sort(1).values == torch.arange(n)).all()


def test_predict_permutahedron_puts_the_largest_theta_last():
    theta = torch.tensor([[0.3, -2.0, 5.0, 1.0]])
    assert P.predict_permutahedron(theta).tolist() == [[1, 0, 3, 2]]
    # ties broken by item index and still a permutation
    assert P.predict_permutahedron(torch.zeros(1, 3)).tolist() == [[0, 1, 2]]


def test_predict_birkhoff_identity_and_errors():
    Theta = 5 * torch.eye(4)[None] + 0.1 * torch.randn(1, 4, 4, generator=_gen(20))
    assert P.predict_birkhoff(Theta).tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match=r"pyalgo.energy.predict_birkhoff: theta must be square"):
        P.predict_birkhoff(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"pyalgo.energy.predict_birkhoff: theta must be finite"):
        P.predict_birkhoff(torch.full((1, 2, 2), float("nan")))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: P.predict_unary(torch.zeros(3)), ValueError, r"pyalgo.energy.predict_unary: unary must be 2-D"),
    (lambda: P.predict_pairwise(torch.zeros(2, 3), torch.zeros(2, 3, 2)), ValueError,
     r"pyalgo.energy.predict_pairwise: pairwise must have shape"),
    (lambda: P.predict_pairwise(torch.zeros(2, 3), torch.zeros(2, 3, 3), steps=-1), ValueError,
     r"pyalgo.energy.predict_pairwise: steps"),
    (lambda: P.predict_pairwise(torch.zeros(2, 3), torch.zeros(2, 3, 3), lr=0.0), ValueError,
     r"pyalgo.energy.predict_pairwise: lr"),
    (lambda: P.predict_permutahedron(torch.zeros(2, 3, 3)), ValueError,
     r"pyalgo.energy.predict_permutahedron: theta must be 2-D"),
    (lambda: P.predict_permutahedron(torch.zeros(2, 3, dtype=torch.long)), TypeError,
     r"pyalgo.energy.predict_permutahedron: theta must be a floating-point"),
    (lambda: P.mode_bits_exact(torch.zeros(1, 25)), ValueError, r"pyalgo.energy.mode_bits_exact: unary must have k <= 20"),
])
def test_predict_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------------------------------------------ metrics

def test_multilabel_metrics_hand_computed():
    y_true = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]])
    y_pred = torch.tensor([[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    # per row: 2·1/(2+2) = 0.5; 1; empty/empty = 1; 0
    assert M.f1_example(y_true, y_pred) == pytest.approx(100 * (0.5 + 1 + 1 + 0) / 4)
    # TP = 2, FP = 2, FN = 3
    assert M.f1_micro(y_true, y_pred) == pytest.approx(100 * 4 / (4 + 2 + 3))
    assert M.hamming_loss(y_true, y_pred) == pytest.approx(5 / 16)
    assert M.f1_example(y_true, y_true) == 100.0 and M.hamming_loss(y_true, y_true) == 0.0


def test_multilabel_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y_true = (rng.random((200, 9)) < 0.3).astype(np.int64)
    y_pred = (rng.random((200, 9)) < 0.3).astype(np.int64)
    y_pred[:5] = 0
    y_true[:3] = 0                                                 # rows 0-2: empty/empty
    assert M.f1_example(torch.from_numpy(y_true), torch.from_numpy(y_pred).float()) == pytest.approx(
        100 * f1_score(y_true, y_pred, average="samples", zero_division=1.0))
    assert M.f1_micro(y_true, y_pred) == pytest.approx(100 * f1_score(y_true, y_pred, average="micro"))
    assert M.hamming_loss(y_true, y_pred) == pytest.approx(sk_hamming_loss(y_true, y_pred))


def test_kendall_tau_matches_scipy_on_perms_and_scores_with_ties():
    rng = np.random.default_rng(1)
    for n in (2, 3, 6):
        y_true = np.stack([rng.permutation(n) for _ in range(50)])
        y_pred = np.stack([rng.permutation(n) for _ in range(50)])
        expected = np.mean([kendalltau(a, b).statistic for a, b in zip(y_true, y_pred)])
        assert M.kendall_tau(torch.from_numpy(y_true), torch.from_numpy(y_pred)) == pytest.approx(100 * expected)
    scores = rng.integers(0, 3, size=(50, 6)).astype(float)       # ties in the prediction → τ-b
    scores[:, 0] = 5.0                                             # never constant
    expected = np.mean([kendalltau(a, b).statistic for a, b in zip(y_true, scores)])
    assert M.kendall_tau(y_true, scores) == pytest.approx(100 * expected)


def test_kendall_tau_hand_values():
    assert M.kendall_tau([[0, 1, 2, 3]], [[0, 1, 2, 3]]) == pytest.approx(100.0)
    assert M.kendall_tau([[0, 1, 2, 3]], [[3, 2, 1, 0]]) == pytest.approx(-100.0)
    # one discordant pair out of 6: (5 − 1)/6
    assert M.kendall_tau([[0, 1, 2, 3]], [[1, 0, 2, 3]]) == pytest.approx(100 * 4 / 6)
    # mean over rows; a constant row (scipy: NaN) counts 0
    assert M.kendall_tau([[0, 1], [0, 1]], [[0, 1], [1, 0]]) == pytest.approx(0.0)
    assert M.kendall_tau([[0, 1, 2], [0, 1, 2]], [[0, 1, 2], [1, 1, 1]]) == pytest.approx(50.0)


@pytest.mark.parametrize("call, match", [
    (lambda: M.f1_example(torch.zeros(2, 3), torch.zeros(2, 4)), r"pyalgo.energy.f1_example: y_pred must have the shape"),
    (lambda: M.f1_micro(torch.full((2, 3), 2), torch.zeros(2, 3)), r"pyalgo.energy.f1_micro: y_true must hold only 0/1"),
    (lambda: M.hamming_loss(torch.zeros(3), torch.zeros(3)), r"pyalgo.energy.hamming_loss: y_true must be 2-D"),
    (lambda: M.kendall_tau(torch.zeros(2, 1), torch.zeros(2, 1)), r"pyalgo.energy.kendall_tau: y_true must have shape"),
    (lambda: M.f1_example(torch.zeros(0, 3), torch.zeros(0, 3)), r"pyalgo.energy.f1_example: y_true must have at least"),
])
def test_metrics_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
