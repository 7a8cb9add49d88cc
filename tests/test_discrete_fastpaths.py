"""The CPU fast paths of the discrete estimators (csrc/discrete/rows_simd.h: float32, contiguous rows,
AVX2+FMA) against the generic per-row bodies of csrc/discrete/estimators.h.

The generic body is reached in-process through the strided layout: x.t().contiguous() with dim=0 holds
the same rows (numbered the same, so the same Philox counters) as x with dim=-1, and strided rows
always run the generic body. A subprocess with PYALGO_DISCRETE_GENERIC=1 runs the generic body for
every layout (the switch is read once per process), which checks that dim != -1 and float64 are
untouched by the fast paths.

Bounds (the fast paths sum rows in another order: lane by lane in column order for C <= 32, eight
partial sums for larger C; the exp polynomial is the same operations; the Gumbel noise takes a cheaper
log than the generic body, from the same uniforms, within GUMBEL_K · 2^-24 · max(1, |G|) of it):
  - one-hot outputs bitwise; sampled indices equal, except that an inverse-CDF sample may differ when
    the uniform lies within rounding distance of a CDF boundary (boundary_flip); the Gumbel argmax
    equal, except on a near-tie the Gumbel bound allows (gumbel_tie);
  - softmax values (ReinMax's y_soft, the soft Gumbel-softmax): SOFT_ULP ulps or 16 eps absolute; the
    soft Gumbel-softmax also y · 2·ΔG/τ (ΔG: the Gumbel bound of the row);
  - backward values, which cancel towards 0: GRAD_K · eps · max|g| per row / min(τ, 1) absolute; the
    Gumbel-softmax backward also 6 · ΔG · max|g| / τ².
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import pyalgo  # noqa: F401
import pyalgo.discrete  # noqa: F401  (registers torch.ops.pyalgo)
from pyalgo._rng import philox_uniform
from pyalgo.discrete import reference as ref
from simt.compare import ulp_distance

O = torch.ops.pyalgo
EPS = torch.finfo(torch.float32).eps
SOFT_ULP = 16
GRAD_K = 16
# The fast paths' Gumbels (rows_simd.h log_neg_log) are within GUMBEL_K · 2^-24 · max(1, |G|) of the
# generic bodies' (exhaustive over all 2^23 float uniforms: 4.0; each is within 3.01 resp. 2.31 of
# the exact −log(−log u)).
GUMBEL_K = 4
SEED = torch.tensor([-6_917_529_027_641_081_856, 1_234_567_891_011], dtype=torch.int64)
# C around every threshold of the fast paths: lanes (C <= 16), the C = 2 and C = 1 specialisations,
# the long rows (C > 16) with tails of every length mod 8, the scan's 64-blocks.
CS = (1, 2, 3, 4, 7, 8, 9, 10, 15, 16, 17, 20, 23, 24, 25, 31, 32, 33, 40, 63, 64, 65, 130, 1031)
ROWS = 203  # 25 full blocks of 8 rows and a partial one


def _cpu_has_avx2_fma() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


FAST = _cpu_has_avx2_fma() and os.environ.get("PYALGO_DISCRETE_GENERIC", "") in ("", "0")


def logits(C: int, rows: int = ROWS, seed: int = 0, masks: bool = True) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1000 * C + seed)
    x = torch.randn(rows, C, generator=gen, dtype=torch.float64) * 2.5
    if masks and C >= 2:
        x[1::7, 1::3] = -float("inf")  # masked categories (column 0 stays finite)
        x[2::7, :-1] = -float("inf")   # a single finite category: the sample must be C - 1
    return x.float()


def grads(C: int, rows: int = ROWS, seed: int = 1):
    gen = torch.Generator().manual_seed(7000 * C + seed)
    return torch.randn(rows, C, generator=gen), torch.randn(rows, C, generator=gen)


def strided(op, x, *args):
    """op on the same rows through the strided (generic) layout, results back in row-major layout."""
    outs = op(x.t().contiguous(), *args, 0)
    if isinstance(outs, torch.Tensor):
        return outs.t()
    return tuple(o if o.dtype == torch.int32 else o.t() for o in outs)


def boundary_flip(x_row: torch.Tensor, u: float, k_a: int, k_b: int) -> bool:
    """True when u lies within rounding distance of a CDF boundary between the two indices."""
    cdf = torch.cumsum(torch.softmax(x_row.double(), -1), -1)
    lo, hi = min(k_a, k_b), max(k_a, k_b)
    gaps = (cdf[lo:hi] - u).abs()
    return bool(gaps.numel()) and float(gaps.min()) <= 4 * x_row.numel() * EPS


def check_sample_index(x, idx_fast, idx_gen, seed=SEED):
    mism = (idx_fast != idx_gen).nonzero().flatten().tolist()
    if mism:
        u = philox_uniform(seed, x.shape[0], 1, 0, torch.float32)[:, 0].double()
        for r in mism:
            assert boundary_flip(x[r], float(u[r]), int(idx_fast[r]), int(idx_gen[r])), (
                f"row {r}: fast index {int(idx_fast[r])} vs generic {int(idx_gen[r])} is not a CDF-boundary case")
    return len(mism)


def check_soft(a, b, what):
    d = ulp_distance(a, b)
    bad = (d > SOFT_ULP) & ~((a.double() - b.double()).abs() <= 16 * EPS)
    assert not bool(bad.any()), f"{what}: {int(d[bad].max())} ulp at {bad.nonzero()[0].tolist()}"


def exact_gumbels(x, seed=SEED):
    """−log(−log u) in float64 of the float32 uniforms the ops draw (stream 0), shaped like x."""
    u = philox_uniform(seed, x.shape[0], x.shape[1], 0, torch.float32).double()
    return -(-u.log()).log()


def gumbel_delta(G):
    """Per row: the largest difference the fast and generic Gumbels of the row may have."""
    return GUMBEL_K * 2.0 ** -24 * G.abs().amax(-1, keepdim=True).clamp_min(1.0)


def check_gumbel_argmax(x, idx_fast, idx_gen, tau, seed=SEED):
    """Equal argmax, except on rows where the two picks' exact (x + G)/τ are within the sum of
    both Gumbels' bounds and the rounding of x + G (a near-tie); returns the number of such rows."""
    mism = (idx_fast != idx_gen).nonzero().flatten().tolist()
    if mism:
        G = exact_gumbels(x, seed)
        dG = gumbel_delta(G)
        for r in mism:
            a, b = int(idx_fast[r]), int(idx_gen[r])
            assert a >= 0 and b >= 0, f"row {r}: one path found no argmax"
            z = (x[r].double() + G[r]) / tau
            zmax = float(z[torch.isfinite(z)].abs().max())
            tol = (2 * float(dG[r]) + 4 * 2.0 ** -24 * max(1.0, zmax * tau)) / tau
            assert abs(float(z[a] - z[b])) <= tol, (
                f"row {r}: fast argmax {a} vs generic {b} is not a near-tie ({float(z[a] - z[b]):.3g} > {tol:.3g})")
    return len(mism)


def check_grad(a, b, gs, tau, what, extra=None):
    scale = torch.stack([g.double().abs() for g in gs]).amax(0).amax(-1, keepdim=True)
    atol = GRAD_K * EPS / min(tau, 1.0) * scale
    if extra is not None:
        atol = atol + extra * scale
    assert torch.equal(a.isnan(), b.isnan()), f"{what}: NaN positions differ"
    diff = (a.double() - b.double()).abs().nan_to_num(0.0)
    bad = diff > atol
    assert not bool(bad.any()), f"{what}: |diff| {float(diff[bad].max()):.3g} at {bad.nonzero()[0].tolist()}"


SAMPLERS = {
    "reinmax": lambda x, dim: O.reinmax(x, 1.5, dim, SEED),
    "reinmax_tau_small": lambda x, dim: O.reinmax(x, 0.7, dim, SEED),
    "straight_through": lambda x, dim: O.straight_through(x, 0.7, dim, SEED),
    "gst": lambda x, dim: O.gst(x, 0.7, 1.0, False, dim, SEED),
    "gumbel_rao": lambda x, dim: O.gumbel_rao(x, 0.7, 3, dim, SEED),
}


@pytest.mark.parametrize("C", CS)
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_matches_generic(name, C):
    x = logits(C)
    op = SAMPLERS[name]
    fast = op(x, -1)
    gen = strided(lambda t, d: op(t, d), x)
    idx_f, idx_g = fast[-1], gen[-1]
    check_sample_index(x, idx_f, idx_g)
    if C >= 2:
        assert (idx_f[2::7] == C - 1).all()  # the rows with a single finite category
        assert ((x.gather(1, idx_f.long()[:, None]) > -float("inf"))).all()  # never a masked category
    one_hot = torch.nn.functional.one_hot(idx_f.long(), C).float()
    assert torch.equal(fast[0], one_hot)
    if name.startswith("reinmax"):
        check_soft(fast[1], gen[1], f"{name} C={C} y_soft")
        torch.testing.assert_close(fast[1].double(), torch.softmax(x.double(), -1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("C", CS)
@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("tau", [1.0, 0.7])
def test_gumbel_softmax_matches_generic(C, hard, tau):
    x = logits(C)
    fast = O.gumbel_softmax(x, tau, hard, -1, SEED)
    gen = strided(lambda t, d: O.gumbel_softmax(t, tau, hard, d, SEED), x)
    # argmax of the same Gumbel logits, up to a near-tie within the Gumbel bound
    check_gumbel_argmax(x, fast[1], gen[1], tau)
    if hard:
        assert torch.equal(fast[0], torch.nn.functional.one_hot(fast[1].long(), C).float())
        same = fast[1] == gen[1]
        assert torch.equal(fast[0][same], gen[0][same])
    else:
        rel = 2 * gumbel_delta(exact_gumbels(x)) / tau
        ok = (fast[0].double() - gen[0].double()).abs() <= gen[0].double() * rel
        check_soft(torch.where(ok, gen[0], fast[0]), gen[0], f"gumbel_softmax C={C}")
    # ... and the reference fed the same Philox Gumbels
    y_ref = ref.gumbel_softmax_ref(x.double(), tau, hard, gumbels=ref.philox_gumbels(SEED, x).double())
    if C >= 2:
        keep = torch.ones(x.shape[0], dtype=torch.bool)
        keep[1::7] = keep[2::7] = False  # the reference has no -inf policy
        assert torch.equal(fast[1][keep].long(), y_ref[keep].argmax(-1))
        torch.testing.assert_close(fast[0][keep].double(), y_ref[keep], atol=1e-5, rtol=0)


@pytest.mark.parametrize("C", CS)
@pytest.mark.parametrize("tau", [1.0, 0.7, 1.5])
@pytest.mark.parametrize("with_soft", [False, True])
def test_reinmax_backward_matches_generic(C, tau, with_soft):
    x = logits(C)
    g, gp = grads(C)
    idx = O.reinmax(x, tau, -1, SEED)[2]
    fast = O.reinmax_backward(x, idx, g, gp if with_soft else None, tau, -1)
    gen = strided(lambda t, d: O.reinmax_backward(
        t, idx, g.t().contiguous(), gp.t().contiguous() if with_soft else None, tau, d), x)
    check_grad(fast, gen, [g, gp], tau, f"reinmax_backward C={C}")
    # against the reference given the sample (rows without -inf, which the reference cannot take)
    keep = torch.isfinite(x).all(-1)
    xr = x[keep].double().requires_grad_(True)
    outs = ref.reinmax_ref(xr, tau, index=idx[keep].long())
    torch.autograd.backward(list(outs), [g[keep].double(), (gp if with_soft else torch.zeros_like(gp))[keep].double()])
    torch.testing.assert_close(fast[keep].double(), xr.grad, atol=2e-5 * max(1.0, 1 / tau), rtol=0)


@pytest.mark.parametrize("C", CS)
@pytest.mark.parametrize("tau", [1.0, 0.7])
@pytest.mark.parametrize("name", ["straight_through_backward", "gumbel_softmax_backward"])
def test_softmax_vjp_backward_matches_generic(name, C, tau):
    x = logits(C)
    g, _ = grads(C)
    if name == "straight_through_backward":
        def op(t, gg, d):
            return O.straight_through_backward(t, gg, tau, d)
    else:
        def op(t, gg, d):
            return O.gumbel_softmax_backward(t, gg, tau, d, SEED)
    fast = op(x, g, -1)
    gen = op(x.t().contiguous(), g.t().contiguous(), 0).t()
    extra = 6 * gumbel_delta(exact_gumbels(x)) / tau ** 2 if name == "gumbel_softmax_backward" else None
    check_grad(fast, gen, [g], tau, f"{name} C={C}", extra)


@pytest.mark.parametrize("C", [2, 7, 16, 17, 32, 33, 64, 130])
def test_fast_gumbels_within_bound_of_exact(C):
    """The Gumbels of either path, seen through the soft Gumbel-softmax of zero logits at τ = 1
    (y = softmax(G)): |y − softmax(G_exact)| ≤ y · (2 · GUMBEL_K · 2^-24 · max(1, |G|) + the
    rounding of G − max G and of exp and the sum), G_exact = −log(−log u) in float64 of the same
    float32 uniforms. A wrong uniform (counter, word or column order) or table entry fails this by
    orders of magnitude."""
    rows = 4099
    x = torch.zeros(rows, C)
    G = exact_gumbels(x)
    y_exact = torch.softmax(G, -1)
    rel = 2 * gumbel_delta(G) + 2.0 ** -24 * (2 * (G - G.amax(-1, keepdim=True)).abs() + 2 * C + 8)
    for y in (O.gumbel_softmax(x, 1.0, False, -1, SEED)[0],
              strided(lambda t, d: O.gumbel_softmax(t, 1.0, False, d, SEED), x)[0]):
        err = (y.double() - y_exact).abs()
        bad = err > y_exact * rel
        assert not bool(bad.any()), f"C={C}: relative error {float((err / y_exact)[bad].max()):.3g} at {bad.nonzero()[0].tolist()}"


@pytest.mark.parametrize("C", [2, 10, 64])
def test_reinmax_out_of_range_index_gives_nan_row(C):
    x = logits(C, rows=19, masks=False)
    g, _ = grads(C, rows=19)
    idx = O.reinmax(x, 1.0, -1, SEED)[2].clone()
    idx[3], idx[17] = -1, C
    out = O.reinmax_backward(x, idx, g, None, 1.0, -1)
    assert out[3].isnan().all() and out[17].isnan().all()
    ok = torch.ones(19, dtype=torch.bool)
    ok[3] = ok[17] = False
    assert torch.isfinite(out[ok]).all()


def test_bernoulli_c2_is_one_uniform_against_the_cdf():
    """C = 2: k = 1 exactly when u·(e0 + e1) >= e0 (up to rounding at the boundary), with u the
    stream-0 column-0 uniform; y_soft = (e0, e1)/(e0 + e1)."""
    x = logits(2, rows=4099, masks=False)
    k = O.reinmax(x, 1.0, -1, SEED)[2]
    u = philox_uniform(SEED, x.shape[0], 1, 0, torch.float32)[:, 0].double()
    p0 = torch.softmax(x.double(), -1)[:, 0]
    expect = (u >= p0).int()
    mism = (k != expect).nonzero().flatten()
    assert ((u[mism] - p0[mism]).abs() <= 8 * EPS).all()
    assert 0.3 < float(k.double().mean()) < 0.7
    # masked categories
    xm = x.clone()
    xm[::2, 1] = -float("inf")
    xm[1::2, 0] = -float("inf")
    km = O.reinmax(xm, 1.0, -1, SEED)[2]
    assert (km[::2] == 0).all() and (km[1::2] == 1).all()


@pytest.mark.parametrize("C", [1, 2, 10, 16, 17, 64, 300])
@pytest.mark.parametrize("bad", ["nan", "inf", "all_neg_inf"])
@pytest.mark.parametrize("op", ["reinmax", "gumbel_softmax"])
def test_invalid_rows_raise_on_cpu(C, bad, op):
    if bad == "all_neg_inf" and C == 1:
        pytest.skip("covered by C >= 2")
    x = logits(C, rows=37, masks=False)
    r = 21
    if bad == "nan":
        x[r, C // 2] = float("nan")
    elif bad == "inf":
        x[r, C - 1] = float("inf")
    else:
        x[r] = -float("inf")
    call = (lambda: O.reinmax(x, 1.0, -1, SEED)) if op == "reinmax" else (
        lambda: O.gumbel_softmax(x, 1.0, True, -1, SEED))
    with pytest.raises(RuntimeError, match=f"row {r} "):
        call()


@pytest.mark.parametrize("C", [2, 10, 64, 1031])
def test_bitwise_independent_of_thread_count(C):
    """Row ranges of a parallel_for split start anywhere (not on blocks of 8 rows); each row is
    computed by the same code whatever block and thread it lands in."""
    rows = max(40000 // C, 50) * 3 + 5
    x = logits(C, rows=rows, masks=True)
    g, gp = grads(C, rows=rows)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            y, ys, idx = O.reinmax(x, 1.0, -1, SEED)
            results.append([y, ys, idx, O.reinmax_backward(x, idx, g, gp, 0.8, -1),
                            *O.gumbel_softmax(x, 0.7, False, -1, SEED),
                            O.gumbel_softmax_backward(x, g, 0.7, -1, SEED),
                            O.straight_through_backward(x, g, 0.7, -1)])
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_overflowing_logits_take_the_generic_rescue():
    """Logits that overflow once divided by τ (the generic bodies' rescue path) give the generic
    body's result on the fast layout too."""
    for C in (3, 40):
        x = logits(C, rows=11, masks=False) * 1e37
        g, _ = grads(C, rows=11)
        for name in ("st", "gs"):
            if name == "st":
                def op(t, gg, d):
                    return O.straight_through_backward(t, gg, 1e-2, d)
            else:
                def op(t, gg, d):
                    return O.gumbel_softmax_backward(t, gg, 1e-2, d, SEED)
            fast = op(x, g, -1)
            gen = op(x.t().contiguous(), g.t().contiguous(), 0).t()
            assert torch.isfinite(fast).all()
            check_grad(fast, gen, [g], 1e-2, f"{name} C={C} rescue")


_SUBPROCESS = textwrap.dedent("""
    import sys, torch, pyalgo, pyalgo.discrete
    O = torch.ops.pyalgo
    seed = torch.tensor([5, 6], dtype=torch.int64)
    out = {}
    for C in (2, 10, 64):
        x = torch.randn(50, C, generator=torch.Generator().manual_seed(C)) * 2
        g = torch.randn(50, C, generator=torch.Generator().manual_seed(C + 1))
        for dt in (torch.float32, torch.float64):
            for dim, xx, gg in ((-1, x.to(dt), g.to(dt)), (0, x.t().contiguous().to(dt), g.t().contiguous().to(dt))):
                y, ys, idx = O.reinmax(xx, 1.0, dim, seed)
                out[(C, str(dt), dim)] = [y, ys, idx, O.reinmax_backward(xx, idx, gg, None, 0.7, dim),
                                          *O.gumbel_softmax(xx, 0.7, False, dim, seed),
                                          O.gumbel_softmax_backward(xx, gg, 0.7, dim, seed),
                                          O.straight_through_backward(xx, gg, 0.7, dim)]
    torch.save(out, sys.argv[1])
""")


def test_generic_switch_and_untouched_layouts(tmp_path):
    """PYALGO_DISCRETE_GENERIC=1 runs the generic bodies everywhere: dim != -1 and float64 results
    are the same bits with and without the switch (the fast paths never take them), and float32
    dim = -1 results agree within the stated bounds."""
    script = tmp_path / "run.py"
    script.write_text(_SUBPROCESS)
    env = dict(os.environ)
    runs = {}
    for mode in ("0", "1"):
        env["PYALGO_DISCRETE_GENERIC"] = mode
        path = tmp_path / f"out{mode}.pt"
        subprocess.run([sys.executable, str(script), str(path)], check=True, env=env, timeout=300)
        runs[mode] = torch.load(path)
    differs = False
    for key, fast in runs["0"].items():
        gen = runs["1"][key]
        C, dt, dim = key
        if dt == str(torch.float64) or dim == 0:
            for a, b in zip(fast, gen):
                assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)), key
            continue
        for a, b in zip(fast, gen):
            differs |= not torch.equal(a, b)
        assert torch.equal(fast[0], gen[0]) and torch.equal(fast[2], gen[2]) and torch.equal(fast[5], gen[5])
        check_soft(fast[1], gen[1], f"{key} y_soft")
        check_soft(fast[4], gen[4], f"{key} gumbel soft")
    if FAST:
        assert differs, "PYALGO_DISCRETE_GENERIC=1 made no difference: the fast paths did not run"
