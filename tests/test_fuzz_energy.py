"""Property-based fuzzing of every public op of pyalgo.energy against its reference or an exact answer
(issue 14). Profiles (tests/conftest.py): "ci" = 25 derandomised examples per property, `--deep` = 2000."""
import gzip
import itertools
import math
import os
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import assume, given, strategies as st

from pyalgo.energy import data, mcmc, metrics, ops, predict
from pyalgo.energy import reference as R

pytestmark = pytest.mark.fuzz

DTYPES = st.sampled_from([torch.float32, torch.float64])
KINDS = st.sampled_from([("logistic", None, 1.0), ("sparsemax", None, 2.0), ("entmax", 1.5, 1.5)])
SCALES = st.sampled_from([1e-30, 1e-3, 1.0, 30.0, 1e4])


def gen(seed):
    return torch.Generator().manual_seed(seed)


def tol(dtype, scale):
    return dict(rtol=1e-3, atol=1e-3 * max(1.0, scale)) if dtype == torch.float32 else \
        dict(rtol=1e-9, atol=1e-9 * max(1.0, scale))


def strided(x, flag):
    """x itself or a non-contiguous view with the same values."""
    if not flag or x.dim() == 0:
        return x
    big = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype)
    big[..., ::2] = x
    return big[..., ::2]


@given(B=st.integers(0, 4), k=st.integers(1, 40), m=st.integers(1, 40), dtype=DTYPES, kind=KINDS,
       pairwise=st.booleans(), scale=SCALES, tau_shift=st.sampled_from([0.0, -50.0, 50.0, -1e4]),
       nc=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_minmin_loss_matches_reference(B, k, m, dtype, kind, pairwise, scale, tau_shift, nc, seed):
    g = gen(seed)
    u = (scale * torch.randn(B, k, generator=g, dtype=torch.float64)).to(dtype)
    U = (0.3 * scale * torch.randn(B, k, k, generator=g, dtype=torch.float64)).to(dtype) if pairwise else None
    tau = (torch.randn(B, generator=g, dtype=torch.float64) + tau_shift).to(dtype)
    y = torch.randint(0, 2, (B, k), generator=g).to(dtype)
    name, alpha, a = kind
    loss = ops.minmin_loss(strided(u, nc), tau, y, m, pairwise=U, kind=name, alpha=alpha, generator=gen(seed + 1))
    samples = ops.sample_bits(B, m, k, generator=gen(seed + 1))
    # the reference in the same dtype (the overflow guard's c depends on it: 80 in float32, 700 in float64)
    ref = R.minmin_loss_ref(u, tau, y, samples, U, a).double()
    assert torch.isfinite(loss).all()
    big = float(ref.abs().max()) if B else 1.0
    torch.testing.assert_close(loss.double(), ref, **tol(dtype, max(scale * k * k, big)))


@given(B=st.integers(0, 4), n=st.integers(1, 9), m=st.integers(1, 30), dtype=DTYPES, kind=KINDS,
       birkhoff=st.booleans(), scale=SCALES, tau_shift=st.sampled_from([0.0, -60.0, 1e3]),
       seed=st.integers(0, 2 ** 31))
def test_minmin_loss_ranking_matches_reference(B, n, m, dtype, kind, birkhoff, scale, tau_shift, seed):
    g = gen(seed)
    shape = (B, n, n) if birkhoff else (B, n)
    theta = (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)
    tau = (torch.randn(B, generator=g, dtype=torch.float64) + tau_shift).to(dtype)
    y = torch.stack([torch.randperm(n, generator=g) for _ in range(B)]) if B else torch.zeros(0, n, dtype=torch.long)
    name, alpha, a = kind
    loss = ops.minmin_loss_ranking(theta, tau, y, m, kind=name, alpha=alpha, generator=gen(seed + 1))
    perms = ops.sample_perms(B, m, n, generator=gen(seed + 1))
    ref = R.minmin_loss_ranking_ref(theta, tau, y, perms, a).double()
    assert torch.isfinite(loss).all()
    big = float(ref.abs().max()) if B else 1.0
    torch.testing.assert_close(loss.double(), ref, **tol(dtype, max(scale * n * n, big)))


@given(B=st.integers(0, 3), n=st.integers(1, 6), label=st.integers(-2 ** 62, 2 ** 62), pos=st.integers(0, 5),
       birkhoff=st.booleans())
def test_minmin_loss_ranking_rejects_any_bad_label(B, n, label, pos, birkhoff):
    """Any out-of-range or repeated label is refused by the C++ kernel itself (validate=False)."""
    assume(B > 0)
    y = torch.stack([torch.arange(n)] * B)
    y[0, pos % n] = label
    assume(not bool((y[0].sort().values == torch.arange(n)).all()))
    theta = torch.zeros((B, n, n) if birkhoff else (B, n), dtype=torch.float64)
    with pytest.raises(RuntimeError, match="pyalgo.energy.minmin_loss_ranking: y must hold a permutation"):
        ops.minmin_loss_ranking(theta, torch.zeros(B, dtype=torch.float64), y, 3, validate=False)


@given(B=st.integers(0, 4), m=st.integers(1, 20), k=st.integers(1, 300), seed=st.integers(0, 2 ** 31))
def test_sample_bits_binary_and_reproducible(B, m, k, seed):
    s = ops.sample_bits(B, m, k, generator=gen(seed))
    assert s.shape == (B, m, k) and s.dtype == torch.uint8
    assert bool(((s == 0) | (s == 1)).all())
    assert torch.equal(s, ops.sample_bits(B, m, k, generator=gen(seed)))


@given(B=st.integers(0, 4), m=st.integers(1, 20), n=st.integers(1, 256), seed=st.integers(0, 2 ** 31))
def test_sample_perms_are_permutations(B, m, n, seed):
    s = ops.sample_perms(B, m, n, generator=gen(seed))
    assert s.shape == (B, m, n)
    assert bool((s.sort(-1).values == torch.arange(n)).all())


# ---- proposal sampling (issue 17): fused == reference on the proposal's samples, valid samplers ---------------

PROPOSAL_SCALES = st.sampled_from([0.0, 1.0, 10.0, 60.0, 500.0])


@given(B=st.integers(0, 4), k=st.integers(1, 40), m=st.integers(1, 40), dtype=DTYPES, kind=KINDS,
       pairwise=st.booleans(), scale=SCALES, pscale=PROPOSAL_SCALES, tau_shift=st.sampled_from([0.0, -50.0, 50.0]),
       seed=st.integers(0, 2 ** 31))
def test_minmin_loss_with_proposal_matches_reference(B, k, m, dtype, kind, pairwise, scale, pscale, tau_shift, seed):
    g = gen(seed)
    u = (scale * torch.randn(B, k, generator=g, dtype=torch.float64)).to(dtype)
    U = (0.3 * scale * torch.randn(B, k, k, generator=g, dtype=torch.float64)).to(dtype) if pairwise else None
    tau = (torch.randn(B, generator=g, dtype=torch.float64) + tau_shift).to(dtype)
    y = torch.randint(0, 2, (B, k), generator=g).to(dtype)
    a = pscale * torch.randn(B, k, generator=g, dtype=torch.float64)
    name, alpha, al = kind
    loss = ops.minmin_loss(u, tau, y, m, pairwise=U, kind=name, alpha=alpha, generator=gen(seed + 1), proposal=a)
    samples, log_w = ops.sample_bits(B, m, k, generator=gen(seed + 1), proposal=a)
    assert bool(((samples == 0) | (samples == 1)).all()) and log_w.dtype == torch.float64
    torch.testing.assert_close(log_w, R.proposal_log_weight_bits(a, samples), rtol=1e-12, atol=1e-9 * max(1.0, pscale * k))
    ref = R.minmin_loss_ref(u, tau, y, samples, U, al, log_w.to(dtype)).double()
    big = float(ref.abs().max()) if B else 1.0
    if bool(torch.isfinite(ref).all()):   # α > 1 in float32 overflows e^{log w} past 88, as the kernel does
        torch.testing.assert_close(loss.double(), ref, **tol(dtype, max(scale * k * k, big)))


@given(B=st.integers(0, 4), n=st.integers(1, 9), m=st.integers(1, 30), dtype=DTYPES, kind=KINDS,
       birkhoff=st.booleans(), scale=SCALES, pscale=PROPOSAL_SCALES, seed=st.integers(0, 2 ** 31))
def test_minmin_loss_ranking_with_proposal_matches_reference(B, n, m, dtype, kind, birkhoff, scale, pscale, seed):
    g = gen(seed)
    shape = (B, n, n) if birkhoff else (B, n)
    theta = (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)
    tau = torch.randn(B, generator=g, dtype=torch.float64).to(dtype)
    y = torch.stack([torch.randperm(n, generator=g) for _ in range(B)]) if B else torch.zeros(0, n, dtype=torch.long)
    sc = pscale * torch.randn(B, n, generator=g, dtype=torch.float64)
    name, alpha, al = kind
    loss = ops.minmin_loss_ranking(theta, tau, y, m, kind=name, alpha=alpha, generator=gen(seed + 1), proposal=sc)
    perms, log_w = ops.sample_perms(B, m, n, generator=gen(seed + 1), proposal=sc)
    assert bool((perms.sort(-1).values == torch.arange(n)).all())
    torch.testing.assert_close(log_w, R.proposal_log_weight_perms(sc, perms), rtol=1e-10,
                               atol=1e-9 * max(1.0, pscale * n))
    ref = R.minmin_loss_ranking_ref(theta, tau, y, perms, al, log_w.to(dtype)).double()
    big = float(ref.abs().max()) if B else 1.0
    if bool(torch.isfinite(ref).all()):
        torch.testing.assert_close(loss.double(), ref, **tol(dtype, max(scale * n * n, big)))


def _kendall_exact(t, p):
    import scipy.stats
    vals = []
    for a, b in zip(t, p):
        r = scipy.stats.kendalltau(a, b).statistic
        vals.append(0.0 if math.isnan(r) else r)
    return 100.0 * float(np.mean(vals))


@given(B=st.integers(1, 4), n=st.integers(2, 8), ties=st.booleans(), seed=st.integers(0, 2 ** 31),
       scale=st.sampled_from([1.0, 1e300, 1e-300]))
def test_kendall_tau_matches_scipy(B, n, ties, seed, scale):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3 if ties else 1000, (B, n)).astype(np.float64) * scale
    p = rng.integers(0, 3 if ties else 1000, (B, n)).astype(np.float64) * scale
    assert metrics.kendall_tau(t, p) == pytest.approx(_kendall_exact(t, p), abs=1e-9)


@given(B=st.integers(1, 5), k=st.integers(1, 8), seed=st.integers(0, 2 ** 31))
def test_multilabel_metrics_exact(B, k, seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, (B, k))
    p = rng.integers(0, 2, (B, k))
    per_row = [1.0 if (a.sum() + b.sum()) == 0 else 2.0 * (a & b).sum() / (a.sum() + b.sum()) for a, b in zip(t, p)]
    assert metrics.f1_example(t, p) == pytest.approx(100.0 * np.mean(per_row))
    denom = t.sum() + p.sum()
    assert metrics.f1_micro(t, p) == pytest.approx(100.0 if denom == 0 else 200.0 * (t & p).sum() / denom)
    assert metrics.hamming_loss(t, p) == pytest.approx(float((t != p).mean()))


@given(B=st.integers(1, 3), n=st.integers(1, 5), seed=st.integers(0, 2 ** 31), scale=SCALES)
def test_predict_rankings_are_exact(B, n, seed, scale):
    g = gen(seed)
    theta = scale * torch.randn(B, n, generator=g, dtype=torch.float64)
    Theta = scale * torch.randn(B, n, n, generator=g, dtype=torch.float64)
    perms = R.all_perms(n)
    best = R.energy_perms(theta, perms.expand(B, -1, -1)).max(1).values
    got = R.energy_perms(theta, predict.predict_permutahedron(theta))
    torch.testing.assert_close(got, best, rtol=1e-12, atol=0.0)
    best = R.energy_perms(Theta, perms.expand(B, -1, -1)).max(1).values
    got = R.energy_perms(Theta, predict.predict_birkhoff(Theta))
    torch.testing.assert_close(got, best, rtol=1e-9, atol=1e-9 * scale)


@given(B=st.integers(1, 3), k=st.integers(1, 8), seed=st.integers(0, 2 ** 31), scale=SCALES)
def test_predict_bits(B, k, seed, scale):
    g = gen(seed)
    u = scale * torch.randn(B, k, generator=g, dtype=torch.float64)
    U = scale * torch.randn(B, k, k, generator=g, dtype=torch.float64)
    U = 0.5 * (U + U.transpose(1, 2)) * (1 - torch.eye(k, dtype=torch.float64))
    exact = predict.mode_bits_exact(u)
    assert torch.equal(predict.predict_unary(u), exact)
    y = predict.predict_pairwise(u, U, steps=20)
    assert bool(((y == 0) | (y == 1)).all())
    g_y = R.energy_bits(u, y, U)
    for i in range(k):  # a local optimum: no single flip increases g (beyond rounding)
        flipped = y.clone()
        flipped[:, i] = 1 - flipped[:, i]
        assert bool((R.energy_bits(u, flipped, U) <= g_y + 1e-9 * (1 + u.abs().sum(1) + U.abs().sum((1, 2)))).all())
    assert bool((g_y <= R.energy_bits(u, predict.mode_bits_exact(u, U), U) + 1e-9 * scale * k * k).all())


@given(B=st.integers(1, 3), k=st.integers(1, 5), m=st.integers(1, 3), sweeps=st.integers(0, 3),
       seed=st.integers(0, 2 ** 31), scale=SCALES)
def test_mcmc_outputs_valid(B, k, m, sweeps, seed, scale):
    g = gen(seed)
    u = scale * torch.randn(B, k, generator=g, dtype=torch.float64)
    init = torch.randint(0, 2, (B, m, k), generator=g).double()
    y = mcmc.gibbs_bits(u, None, init, sweeps, generator=g)
    assert y.shape == init.shape and bool(((y == 0) | (y == 1)).all())
    init_p = torch.stack([torch.stack([torch.randperm(k, generator=g) for _ in range(m)]) for _ in range(B)])
    p = mcmc.metropolis_perms(u, init_p, sweeps, generator=g)
    assert bool((p.sort(-1).values == torch.arange(k)).all())


@given(n=st.integers(1, 50), cols=st.integers(1, 4), seed=st.integers(0, 2 ** 31),
       scale=st.sampled_from([1e-300, 1.0, 1e200, 1e307]))
def test_standardize_matches_formula(n, cols, seed, scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cols)) * scale
    z = data.standardize(x)[0]
    assert np.isfinite(z).all()
    xl = x.astype(np.longdouble)  # x86 extended precision: no overflow of the plain formula
    std = xl.std(0)
    ref = ((xl - xl.mean(0)) / np.where(std > 1e-12, std, 1.0)).astype(np.float64)
    np.testing.assert_allclose(z, ref, rtol=1e-9, atol=1e-9)
    zt = data.standardize(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(zt, ref, rtol=1e-9, atol=1e-9)


@given(n=st.integers(1, 60), folds=st.integers(2, 10), seed=st.integers(0, 2 ** 31))
def test_kfold_partitions(n, folds, seed):
    assume(folds <= n)
    splits = data.kfold_indices(n, folds, seed)
    tests = np.concatenate([te for _, te in splits])
    assert sorted(tests.tolist()) == list(range(n))
    for tr, te in splits:
        assert sorted(np.concatenate([tr, te]).tolist()) == list(range(n))


FEATURE = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(rows=st.lists(st.tuples(st.lists(FEATURE, min_size=2, max_size=2), st.lists(st.integers(0, 1), min_size=2,
                                                                                     max_size=2)),
                     min_size=1, max_size=6),
       gz=st.booleans(), latin=st.booleans(), comment=st.booleans())
def test_load_multilabel_round_trip(rows, gz, latin, comment):
    head = ("@relation r\n" + ("% caf\xe9\n" if latin else "") + "@attribute f1 numeric\n@attribute f2 numeric\n"
            "@attribute l1 {0,1}\n@attribute l2 {0,1}\n@data\n")
    body = "".join(("% row\n" if comment else "") + ",".join(repr(float(v)) for v in f) + "," +
                   ",".join(str(v) for v in lab) + "\n" for f, lab in rows)
    raw = (head + body).encode("latin-1" if latin else "utf-8")
    path = os.path.join(tempfile.mkdtemp(), "x-train.arff")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(raw) if gz else raw)
    d = data.load_multilabel(path, standardize=False)
    assert d.x_train.tolist() == [[float(np.float32(v)) for v in f] for f, _ in rows]
    assert d.y_train.tolist() == [[float(v) for v in lab] for _, lab in rows]
    assert d.label_names == ["l1", "l2"] and d.name == "x"
    z = data.load_multilabel(path).x_train
    assert torch.isfinite(z).all()


@given(N=st.integers(0, 6), d=st.integers(0, 3), k=st.integers(1, 5), seed=st.integers(0, 2 ** 31), gz=st.booleans())
def test_load_label_ranking_round_trip(N, d, k, seed, gz):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, d)).astype(np.float32)
    ranks = np.stack([rng.permutation(k) + 1 for _ in range(N)]) if N else np.zeros((0, k), dtype=np.int64)
    lines = [f"{N},{d},{k}"] + [",".join([repr(float(v)) for v in x[i]] + [str(int(r)) for r in ranks[i]])
                                 for i in range(N)]
    raw = ("\n".join(lines) + "\n").encode()
    path = os.path.join(tempfile.mkdtemp(), "r.csv")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(raw) if gz else raw)
    got = data.load_label_ranking(path)
    assert got.x.shape == (N, d) and torch.equal(got.x, torch.from_numpy(x).reshape(N, d))
    assert torch.equal(got.ranks, torch.from_numpy(ranks.astype(np.int64)).reshape(N, k))
    assert torch.equal(got.perms, k - got.ranks)
