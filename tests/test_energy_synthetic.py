"""The synthetic ground-truth generators of pyalgo.energy.data: the Plackett–Luce label-ranking data
(`synthetic_plackett_luce`): its law, reproducibility and errors."""
import math

import pytest
import torch

from pyalgo.energy import data as D
from pyalgo.energy.metrics import kendall_tau
from pyalgo.energy.predict import predict_permutahedron


def test_pl_first_place_and_pairwise_frequencies_match_the_true_model():
    pl = D.synthetic_plackett_luce(20000, 0, k=6, d=5, seed=3)
    theta = pl.true_parameters(pl.x_train).double()
    y = pl.y_train
    # first place (position k − 1) ~ softmax(θ*) row by row: compare the counts with their expectation
    first = (y == 5).double()                                  # (N, k) one-hot of the most preferred item
    assert torch.equal(first.sum(1), torch.ones(len(y), dtype=torch.float64))
    p = torch.softmax(theta, dim=1)
    z = (first.sum(0) - p.sum(0)) / (p * (1 - p)).sum(0).sqrt()
    assert z.abs().max() < 4.5, z
    # last place ~ softmax(−θ*) is not exact for PL: check the exact pairwise law instead,
    # P(i before j) = σ(θ_i − θ_j) whatever the other items
    for i, j in [(0, 1), (2, 5), (3, 4)]:
        before = (y[:, i] > y[:, j]).double()
        q = torch.sigmoid(theta[:, i] - theta[:, j])
        zij = (before.sum() - q.sum()) / (q * (1 - q)).sum().sqrt()
        assert abs(zij) < 4.5, (i, j, zij)
    # a wrong convention (most preferred = position 0) fails the same check by far
    z_wrong = ((y == 0).double().sum(0) - p.sum(0)) / (p * (1 - p)).sum(0).sqrt()
    assert z_wrong.abs().max() > 8


def test_pl_reproducible_and_train_independent_of_test():
    a = D.synthetic_plackett_luce(500, 200, k=11, seed=7)
    b = D.synthetic_plackett_luce(500, 200, k=11, seed=7)
    for name in ("x_train", "y_train", "x_test", "y_test", "weight"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    c = D.synthetic_plackett_luce(500, 200, k=11, seed=8)
    assert not torch.equal(a.y_train, c.y_train)
    d = D.synthetic_plackett_luce(500, 3, k=11, seed=7)
    assert torch.equal(d.x_train, a.x_train) and torch.equal(d.y_train, a.y_train)
    assert a.y_train.dtype == torch.int64 and tuple(a.y_train.shape) == (500, 11)
    assert a.x_train.dtype == torch.float32 and tuple(a.x_test.shape) == (200, 20)
    assert bool((a.y_train.sort(1).values == torch.arange(11)).all())   # every row a permutation
    assert a.num_labels == 11 and a.meta == dict(k=11, d=20, scale=D.PL_DEFAULT_SCALE)
    f64 = D.synthetic_plackett_luce(500, 200, k=11, seed=7, dtype=torch.float64)
    assert f64.x_train.dtype == torch.float64 and torch.equal(f64.y_train, a.y_train)


@pytest.mark.parametrize("k", [4, 11, 16])
def test_pl_true_predictions_and_default_difficulty(k):
    pl = D.synthetic_plackett_luce(0, 4000, k=k, seed=1)
    theta = pl.true_parameters(pl.x_test)
    assert torch.equal(pl.true_predictions(pl.x_test), predict_permutahedron(theta))
    # PL's pairwise law gives E[Kendall τ of the mode] = E tanh(|Δ|/2), Δ ~ N(0, 2·scale²): ≈ 65.5 at scale 2
    expected = 100 * torch.tanh((torch.randn(400000, generator=torch.Generator().manual_seed(0)) * 2 * math.sqrt(2))
                                .abs() / 2).mean().item()
    got = kendall_tau(pl.y_test, pl.true_predictions(pl.x_test))
    assert 50 < got < 80 and abs(got - expected) < 3, (got, expected)
    # a much larger scale makes the samples (almost) the mode
    sharp = D.synthetic_plackett_luce(0, 500, k=k, seed=1, scale=200.0)
    assert kendall_tau(sharp.y_test, sharp.true_predictions(sharp.x_test)) > 97


def test_pl_errors():
    fn = r"pyalgo\.energy\.synthetic_plackett_luce: "
    for bad, msg in [(dict(k=1), "k must be an int >= 2"), (dict(k=257), "k must be <= 256"),
                     (dict(num_train=-1), "num_train must be an int >= 0"), (dict(d=0), "d must be an int >= 1"),
                     (dict(k=4.0), "k must be an int"), (dict(dtype=torch.int64), "dtype must be"),
                     (dict(scale=0.0), "scale must be a finite number > 0"),
                     (dict(scale=float("inf")), "scale"), (dict(seed="0"), "seed must be an int")]:
        kw = dict(num_train=10, num_test=5)
        kw.update(bad)
        with pytest.raises(ValueError, match=fn + msg):
            D.synthetic_plackett_luce(**kw)


# ------------------------------------------------------------------ synthetic Ising beyond k = 12


def _ising_marginals(s, x):
    """Exact P(y_j = 1 | x) and P(y_0 = y_1 = 1 | x) by enumerating the 2^k states."""
    from pyalgo.energy.reference import all_bits, energy_bits
    u, U = s.true_parameters(x)
    states = all_bits(s.num_labels, dtype=torch.float64)
    p = torch.softmax(energy_bits(u.double(), states.expand(len(x), -1, -1), U.double()), dim=1)
    return p @ states, p @ (states[:, 0] * states[:, 1])


def test_ising_exact_enumeration_beyond_12_labels():
    s = D.synthetic_ising(1500, 50, k=13, d=6, seed=2)
    assert "sampler" not in s.meta and tuple(s.y_train.shape) == (1500, 13)
    assert torch.equal(D.synthetic_ising(1500, 7, k=13, d=6, seed=2).y_train, s.y_train)   # independent of num_test
    assert torch.equal(D.synthetic_ising(1500, 50, k=13, d=6, seed=2).y_test, s.y_test)
    marg, pair = _ising_marginals(s, s.x_train)
    se = (marg * (1 - marg)).sum(0).sqrt() / len(marg)
    z = (s.y_train.mean(0) - marg.mean(0)) / se
    assert z.abs().max() < 4.5, z
    z01 = ((s.y_train[:, 0] * s.y_train[:, 1]).mean() - pair.mean()) / ((pair * (1 - pair)).sum().sqrt() / len(pair))
    assert abs(z01) < 4.5


def test_ising_gibbs_beyond_16_labels():
    # independent bits (pairwise_scale = 0): one Gibbs sweep is exact, so the marginals are σ(u)
    s = D.synthetic_ising(3000, 10, k=17, d=5, seed=4, pairwise_scale=0.0, gibbs_sweeps=1)
    assert s.meta["sampler"] == "gibbs" and s.meta["gibbs_sweeps"] == 1
    u, _ = s.true_parameters(s.x_train)
    p = torch.sigmoid(u)
    z = (s.y_train.sum(0) - p.sum(0)) / (p * (1 - p)).sum(0).sqrt()
    assert z.abs().max() < 4.5, z
    a = D.synthetic_ising(200, 20, k=18, d=5, seed=4, gibbs_sweeps=5)
    b = D.synthetic_ising(200, 20, k=18, d=5, seed=4, gibbs_sweeps=5)
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.y_test, b.y_test)
    assert set(torch.unique(a.y_train).tolist()) == {0.0, 1.0}


def test_ising_new_errors():
    fn = r"pyalgo\.energy\.synthetic_ising: "
    for bad, msg in [(dict(k=129), "k must be <= 128"),
                     (dict(k=20, gibbs_sweeps=0), "gibbs_sweeps must be an int >= 1"),
                     (dict(gibbs_sweeps=2.5), "gibbs_sweeps")]:
        with pytest.raises(ValueError, match=fn + msg):
            D.synthetic_ising(10, 5, **bad)
