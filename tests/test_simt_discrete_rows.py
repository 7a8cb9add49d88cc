"""Team-per-row discrete kernels (rows_warp_kernel, rows_block_kernel of csrc/discrete/estimators_kernels.cu)
under the SIMT emulator, against the CPU launcher (torch.ops.pyalgo).

The team bodies (csrc/discrete/estimators_team.h) compute every element as the serial bodies do, with
the same Philox counters, so: random draws, Gumbel logits, row maxima and argmaxes are the same bits
as the per-thread kernel built by the same compiler (the CPU build may contract FMAs, so its Gumbel
logits can differ in the last bit; the hard Gumbel argmax still agrees on every case here); only the
row sums (normalisers, <p, g>, ReinMax's mean) are summed in another order (each lane in
column order, then a butterfly over the lanes). Values are therefore compared within a few ulp, and
the categorical sample's index is equal except when the uniform falls within rounding distance of a
CDF boundary (checked: every mismatch must be such a boundary case).

Plan (choose_plan in the .cu): contiguous rows with C <= 8 and strided rows run one thread per row;
8 < C < 2048 a warp segment per row; C >= 2048 a block of 256 threads per row.
"""
import pytest
import torch

from simt.compare import assert_close_or_ulp, assert_ulp

pytestmark = pytest.mark.simt

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
WARP, BLOCK, THREAD = "rows_warp_kernel", "rows_block_kernel", "categorical_sample_kernel"

# (C, rows, plan): C around each threshold, C not a multiple of 32, rows spanning several blocks
# with a tail (a warp-kernel block of 128 threads holds 128 / W rows; W = 2..32 lanes per row).
SHAPES = [
    (8, 5, "thread"),   # last C of the per-thread plan
    (9, 70, "warp"),    # first C of the warp plan: W = 4 lanes (float), 32 rows per block -> 3 blocks
    (37, 20, "warp"),   # W = 16 (float) / 32 (double): 8 / 4 rows per block, tail
    (200, 9, "warp"),   # W = 32, several groups per lane, 3 blocks with a tail
    (2047, 2, "warp"),  # last C of the warp plan
    (2048, 2, "block"),  # first C of the block plan
    (2501, 3, "block"),  # a tail tile
]
SHORT_SHAPES = [s for s in SHAPES if s[0] < 1000]


def cpu():
    import pyalgo._ext  # noqa: F401

    return torch.ops.pyalgo


def seed(a=1234, b=7):
    return torch.tensor([a, b], dtype=torch.int64)


def kernel(plan, per_thread):
    return {"thread": per_thread, "warp": WARP, "block": BLOCK}[plan]


def count(simt, name):
    return simt.simt_launch_count(name)


def launched(simt, name, fn):
    """Runs fn() and asserts that it launched `name`; returns fn()'s result."""
    before = count(simt, name)
    out = fn()
    assert count(simt, name) > before, f"{name} was not launched"
    return out


def logits(rows, C, dtype, gen_seed=0, scale=3.0, mask=0.0):
    g = torch.Generator().manual_seed(gen_seed + 1000 * C + rows)
    x = (torch.randn(rows, C, generator=g, dtype=torch.float64) * scale)
    if mask:
        x[torch.rand(rows, C, generator=g, dtype=torch.float64) < mask] = -float("inf")
        x[:, 0] = 0.5  # keep every row valid
    return x.to(dtype)


def grads(rows, C, dtype, gen_seed=1):
    g = torch.Generator().manual_seed(gen_seed + 7 * C + rows)
    return torch.randn(rows, C, generator=g, dtype=torch.float64).to(dtype)


def eps(dtype):
    return torch.finfo(dtype).eps


# Bounds. Sums of C terms in another order differ by a few ulp in the accumulation type (float for
# half types); after rounding to the storage type the difference is at most 1 ulp of the result
# for half/bfloat16 (the accumulation error is far below half's ulp), a few ulp for float/double.
# The online normalisers (Gumbel-softmax, the VJPs) are also rescaled by exp_nonpos (< 2 ulp) at each
# new lane maximum and when the lanes are merged, where the serial body rescales per 64-column chunk.
# Measured worst: 12 ulp (float32, C = 37), 15 ulp (float64, C = 2047).
def value_ulp(dtype, C):
    if dtype in (torch.float16, torch.bfloat16):
        return 1
    return 16 if C < 1024 else 32


def boundary_flip(x, u, k_team, k_cpu):
    """True when u·Z lies within rounding distance of the CDF boundary between the two indices."""
    p = torch.softmax(x.double(), -1)
    cdf = torch.cumsum(p, -1)
    lo = min(k_team, k_cpu)
    # The two samplers disagree on whether the running sum at column lo..hi-1 passes u·Z: the
    # boundary is cdf[lo .. hi-1]; rounding of either sum is below C·eps(accumulation) relative.
    hi = max(k_team, k_cpu)
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    tol = 4 * x.shape[-1] * eps(acc)
    gaps = (cdf[lo:hi] - u).abs()
    return bool(gaps.numel()) and float(gaps.min()) <= tol


def check_indices(x, idx_team, idx_cpu, s):
    mism = (idx_team != idx_cpu).nonzero().flatten().tolist()
    if not mism:
        return 0
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    u = cpu().philox_uniform(s, x.shape[0], 1, 0, acc)[:, 0].double()
    for r in mism:
        assert boundary_flip(x[r], float(u[r]), int(idx_team[r]), int(idx_cpu[r])), (
            f"row {r}: team index {int(idx_team[r])} vs CPU {int(idx_cpu[r])} is not a CDF-boundary case")
    return len(mism)


# ---- forward: categorical sample (ReinMax's forward writes one_hot, probs and index) ------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C,rows,plan", SHAPES)
def test_sample_matches_cpu(simt, dtype, C, rows, plan):
    x = logits(rows, C, dtype, mask=0.2 if C % 2 else 0.0)
    s = seed(11, C)
    y, probs, idx = launched(simt, kernel(plan, THREAD), lambda: simt.reinmax(x, 1.0, -1, s))
    y_c, probs_c, idx_c = cpu().reinmax(x, 1.0, -1, s)
    flips = check_indices(x, idx, idx_c, s)
    assert flips <= max(1, rows // 50)
    same = idx == idx_c
    assert_ulp(y[same], y_c[same], 0, "one_hot")
    assert (y.sum(-1) == 1).all() and (y.gather(-1, idx.long()[:, None]) == 1).all()
    # probs = e_i / Z: e_i is the same bits; Z is summed in another order.
    assert_ulp(probs, probs_c, value_ulp(dtype, C), "probs")
    # -inf entries are never sampled
    assert torch.isfinite(x.gather(-1, idx.long()[:, None])).all()


def test_sample_flips_only_at_cdf_boundaries(simt):
    # Many rows, float32, C in the warp plan: count index mismatches (all must be boundary cases).
    x = logits(256, 40, torch.float32, gen_seed=5)
    s = seed(3, 3)
    _, idx, = launched(simt, WARP, lambda: simt.straight_through(x, 1.0, -1, s))
    _, idx_c = cpu().straight_through(x, 1.0, -1, s)
    assert check_indices(x, idx, idx_c, s) <= 2


def test_sample_strided_rows_run_per_thread(simt):
    x = logits(3, 200, torch.float32)
    s = seed()
    xt = x.t().contiguous()  # the rows along dim 0: strided
    before_w = count(simt, WARP)
    y, _, idx = launched(simt, THREAD, lambda: simt.reinmax(xt, 1.0, 0, s))
    assert count(simt, WARP) == before_w
    y_c, _, idx_c = cpu().reinmax(xt, 1.0, 0, s)
    assert torch.equal(idx, idx_c) and torch.equal(y, y_c)


@pytest.mark.parametrize("C,kern", [(50, WARP), (2100, BLOCK)])
def test_invalid_rows_are_nan(simt, C, kern):
    # NaN policy: a row of only -inf (or with NaN / +inf) gives NaN outputs and index -1.
    x = logits(3, C, torch.float32)
    x[0] = -float("inf")
    x[2, C // 2] = float("nan")
    y, probs, idx = launched(simt, kern, lambda: simt.reinmax(x, 1.0, -1, seed()))
    assert idx.tolist()[0] == -1 and idx.tolist()[2] == -1 and idx.tolist()[1] >= 0
    assert y[0].isnan().all() and probs[0].isnan().all() and y[2].isnan().all()
    assert y[1].sum() == 1 and not probs[1].isnan().any()
    g, gi = launched(simt, kern, lambda: simt.gumbel_softmax(x, 0.5, False, -1, seed()))
    assert gi.tolist()[0] == -1 and g[0].isnan().all() and g[2].isnan().all() and not g[1].isnan().any()


# ---- forward: Gumbel-softmax ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C,rows,plan", SHAPES)
def test_gumbel_softmax_matches_cpu(simt, dtype, C, rows, plan):
    kern = kernel(plan, "gumbel_softmax_kernel")
    x = logits(rows, C, dtype, mask=0.3 if C % 2 else 0.0)
    s = seed(5, C)
    yh, ih = launched(simt, kern, lambda: simt.gumbel_softmax(x, 0.7, True, -1, s))
    yh_c, ih_c = cpu().gumbel_softmax(x, 0.7, True, -1, s)
    # argmax of identical Gumbel logits: exact
    assert torch.equal(ih, ih_c)
    assert_ulp(yh, yh_c, 0, "hard")
    ys, is_ = launched(simt, kern, lambda: simt.gumbel_softmax(x, 0.7, False, -1, s))
    ys_c, is_c = cpu().gumbel_softmax(x, 0.7, False, -1, s)
    assert torch.equal(is_, is_c)
    # Against the emulated per-thread kernel (strided rows, same compiler and flags): z and exp(z - m)
    # are the same bits, only the normaliser is summed (and rescaled) in another order.
    ys_t = simt.gumbel_softmax(x.t().contiguous(), 0.7, False, 0, s)[0].t()
    assert_close_or_ulp(ys, ys_t, value_ulp(dtype, C), 1e-30, "soft vs per-thread")
    # Against the CPU build, which contracts log_pos's polynomial into FMAs (AVX2+FMA clone): z can
    # differ by an ulp, which exp(z - m) turns into |z - m| ulps (measured up to 27 for float32).
    fma = 64 if dtype == torch.float32 else value_ulp(dtype, C)
    assert_close_or_ulp(ys, ys_c, fma, 1e-30, "soft vs CPU")


# ---- backward ---------------------------------------------------------------------------------------
def _index(x, s):
    return cpu().straight_through(x, 1.0, -1, s)[1]


def _vjp_bound(out_c, dtype):
    # J(p) g = p ⊙ (g − <p, g>): an entry cancels when g_i ≈ <p, g>; there a few-ulp change of the
    # row sum <p, g> is a large relative change, so such entries get an absolute bound instead.
    return max(float(out_c.double().abs().max()), 1e-300) * 16 * eps(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C,rows,plan", SHORT_SHAPES + [SHAPES[5]])
def test_reinmax_backward_matches_cpu(simt, dtype, C, rows, plan):
    x = logits(rows, C, dtype, scale=2.0, mask=0.2 if C % 2 else 0.0)
    s = seed(2, C)
    idx = _index(x, s)
    g, gp = grads(rows, C, dtype), grads(rows, C, dtype, 9)
    for tau, soft in ((1.0, gp), (0.5, None), (2.0, gp)):
        out = launched(simt, kernel(plan, "reinmax_backward_kernel"),
                       lambda: simt.reinmax_backward(x, idx, g, soft, tau, -1))
        out_c = cpu().reinmax_backward(x, idx, g, soft, tau, -1)
        # Four row sums and the mean in another order. For half types with C <= 64 the CPU keeps
        # grad in float (short-row path) while the team rounds it to T before subtracting the mean
        # (the long-row path): up to one more rounding of T.
        assert_close_or_ulp(out, out_c, value_ulp(dtype, C) + 1, _vjp_bound(out_c, dtype), f"tau={tau}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C,rows,plan", SHORT_SHAPES + [SHAPES[6]])
def test_st_family_backward_matches_cpu(simt, dtype, C, rows, plan):
    x = logits(rows, C, dtype, scale=2.0, mask=0.2 if C % 2 else 0.0)
    s = seed(4, C)
    idx = _index(x, s)
    g = grads(rows, C, dtype)
    cases = {
        "st": ("st_backward_kernel", lambda o: o.straight_through_backward(x, g, 0.8, -1)),
        "gs": ("gumbel_softmax_backward_kernel", lambda o: o.gumbel_softmax_backward(x, g, 0.8, -1, s)),
        "gst": ("gst_backward_kernel", lambda o: o.gst_backward(x, idx, g, 0.8, 1.0, False, -1)),
        "gst_p": ("gst_backward_kernel", lambda o: o.gst_backward(x, idx, g, 0.8, 0.0, True, -1)),
        "rao": ("gumbel_rao_backward_kernel", lambda o: o.gumbel_rao_backward(x, idx, g, 0.8, 3, -1, s)),
    }
    for name, (per_thread, fn) in cases.items():
        out = launched(simt, kernel(plan, per_thread), lambda: fn(simt))
        out_c = fn(cpu())
        # <p, g> and the normaliser are summed in another order (gst_p: also p_k's normaliser).
        assert_close_or_ulp(out, out_c, value_ulp(dtype, C), _vjp_bound(out_c, dtype), name)


def test_backward_invalid_index_is_nan(simt):
    x = logits(2, 100, torch.float32)
    idx = torch.tensor([-1, 3], dtype=torch.int32)
    g = grads(2, 100, torch.float32)
    out = launched(simt, WARP, lambda: simt.reinmax_backward(x, idx, g, None, 1.0, -1))
    assert out[0].isnan().all() and not out[1].isnan().any()
    out = launched(simt, WARP, lambda: simt.gumbel_rao_backward(x, idx, g, 1.0, 2, -1, seed()))
    assert out[0].isnan().all() and not out[1].isnan().any()


# ---- one small case per new __global__ kernel (tests/test_simt.py) ------------------------------
def _warp_case(simt):
    x = logits(5, 40, torch.float32)
    y, idx = simt.straight_through(x, 1.0, -1, seed())
    assert torch.equal(idx, cpu().straight_through(x, 1.0, -1, seed())[1])


def _block_case(simt):
    x = logits(1, 2048, torch.float32)
    y, idx = simt.gumbel_softmax(x, 1.0, True, -1, seed())
    assert torch.equal(idx, cpu().gumbel_softmax(x, 1.0, True, -1, seed())[1])


REPRESENTATIVE = {WARP: _warp_case, BLOCK: _block_case}
