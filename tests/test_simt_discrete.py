"""The discrete-estimator CUDA kernels (csrc/discrete/estimators_kernels.cu), run under the SIMT
emulator (fixture `simt` = torch.ops.pyalgo_simt), against the CPU launcher torch.ops.pyalgo on
the same inputs and the same seed tensor.

Every op and backward op, all four dtypes, C = 1, 2, 10, 63, 64, 65, 130 (the per-row bodies of
estimators.h work in 64-wide chunks) and 2100, contiguous rows (dim = -1) and strided rows (dim = 0
and a middle dim), so every launch plan runs (one thread per row, a warp segment per row, a block
per row), each over several blocks with a partial last one; -inf entries; invalid rows (all -inf,
NaN, +inf: on CUDA the row comes out NaN instead of raising, see pyalgo/discrete/ops.py); empty
inputs (no launch); a strided seed, grad and index.

Launches are asserted generically (some discrete kernel ran), since the launcher picks the kernel
by C and layout. REPRESENTATIVE maps each one-thread-per-row __global__ kernel of
estimators_kernels.cu to one small case that launches that kernel and compares with the CPU
(tests/test_simt.py checks every kernel has one; the team kernels' cases are in
test_simt_discrete_rows.py).

Bounds. Indices, one-hot outputs and Philox uniforms are compared bitwise. Values that go through
exp/log and row sums are not computed in the same order: the CPU build (-O3, x86-64-v3 clone)
contracts a*b+c into FMAs and sums rows in `omp simd` lanes; the emulated build has no FMA
(-ffp-contract=off; a GPU's nvcc fuses again) and sums serially (one thread per row) or per lane
then by butterfly (teams). eps_A below is the epsilon of the accumulation type (float64 for
float64, else float32).
  - soft forward outputs (softmax values in [0, 1]): SOFT_ULP ulps or 16 eps_A absolute (measured:
    <= 19 ulp float32, <= 7 ulp float64, every difference <= 5.5 eps_A; 1 ulp for the half types);
  - backward outputs p * (g - <p, g>) cancel towards 0, so their error is absolute, in units of
    eps_A * max|g| / min(tau, 1) per row: measured <= 3.3 of those units, bound GRAD_K = 16; plus
    1 ulp for float16/bfloat16 (float results that differ by a rounding can round apart).
"""
from __future__ import annotations

import pytest
import torch

from simt.compare import assert_close_or_ulp, assert_ulp, ulp_distance
from simt.emulator import CU_FILES, kernels_in

pytestmark = pytest.mark.simt

CPU = torch.ops.pyalgo  # loaded by the `simt` fixture (imports pyalgo._ext) before any test body runs

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
CS = (1, 2, 10, 63, 64, 65, 130)


def team_rows(C: int, dtype: torch.dtype) -> int:
    """Rows for contiguous rows of C > 8, which run a warp segment of W lanes per row, 128 / W rows
    per 128-thread block (W: the smallest power of two in [2, 32] covering the row's Philox groups of
    4 floats / 2 doubles): two blocks, the second partial, at the cost of 256 emulated threads."""
    groups = -(-C // (2 if dtype == torch.float64 else 4))
    width = 2
    while width < 32 and width < groups:
        width *= 2
    return 128 // width + 3


# name -> (dim, shape for (C, dtype)). Strided rows (dim != -1) always run one thread per row, as do
# contiguous rows of C <= 8: 201 / 203 rows = one full 128-thread block + a partial one ("first"
# keeps 15 rows, one partial block, to save emulated threads). Contiguous rows of C >= 2048 run a
# block of threads per row, one block per row ("long").
LAYOUTS = {
    "last": (-1, lambda C, dt: (3, 67, C) if C <= 8 else (team_rows(C, dt), C)),
    "first": (0, lambda C, dt: (C, 3, 5)),
    "middle": (1, lambda C, dt: (7, C, 29)),
    "long": (-1, lambda C, dt: (2, C)),
}
LONG_C = 2100  # 32 chunks of 64 + a partial one
SEED = torch.tensor([-6_917_529_027_641_081_856, 1_234_567_891_011], dtype=torch.int64)

# Soft outputs: softmax values via exp_nonpos (an FMA-contracted polynomial on the CPU) and a row sum
# Z whose order differs (module doc); tiny probabilities carry the relative error of their
# exponent's argument, hence the absolute alternative.
SOFT_ULP = {torch.float32: 32, torch.float64: 8, torch.float16: 1, torch.bfloat16: 1}
SOFT_ATOL_EPS = 16
# Backward outputs: absolute bound GRAD_K * eps_A * max|g| / min(tau, 1) per row (see module doc).
GRAD_ULP = {torch.float32: 0, torch.float64: 0, torch.float16: 1, torch.bfloat16: 1}
GRAD_K = 16

DISCRETE_KERNELS = kernels_in(CU_FILES["discrete"])


def eps_acc(dtype: torch.dtype) -> float:
    return torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps


def launches(simt) -> int:
    """Launches of all discrete kernels so far (the per-row split may route a C to any of them)."""
    return sum(simt.simt_launch_count(name) for name in DISCRETE_KERNELS)


def launched(simt, call):
    """call(simt), asserting that it launched at least one discrete kernel."""
    before = launches(simt)
    out = call(simt)
    assert launches(simt) > before, "the op launched no discrete kernel"
    return out


def check_like(a, b, what):
    assert a.shape == b.shape and a.dtype == b.dtype and a.stride() == b.stride(), (
        what, a.shape, b.shape, a.dtype, b.dtype, a.stride(), b.stride())


def check_index(a, b, what):
    check_like(a, b, what)
    assert a.dtype == torch.int32
    if not torch.equal(a, b):
        i = int((a != b).flatten().nonzero()[0])
        raise AssertionError(f"{what}: index differs at flat {i}: emulated {int(a.flatten()[i])} vs CPU "
                             f"{int(b.flatten()[i])}")


def check_exact(a, b, what):
    check_like(a, b, what)
    assert_ulp(a, b, 0, what)


def check_soft(a, b, what):
    check_like(a, b, what)
    assert_close_or_ulp(a, b, SOFT_ULP[a.dtype], SOFT_ATOL_EPS * eps_acc(a.dtype), what)


def check_grad(a, b, grads, dim, tau, what):
    """Backward outputs: GRAD_ULP ulps or GRAD_K eps_A * (row max of |grads|) / min(tau, 1) (the
    per-row form of compare.assert_close_or_ulp; NaN positions must match)."""
    check_like(a, b, what)
    scale = torch.stack([g.double().abs() for g in grads]).amax(0).amax(dim, keepdim=True)
    atol = (GRAD_K * eps_acc(a.dtype) / min(tau, 1.0)) * scale.expand(a.shape)
    d = ulp_distance(a, b)
    bad = (d > GRAD_ULP[a.dtype]) & ~((a.double() - b.double()).abs() <= atol)
    if bool(bad.any()):
        i = int(bad.flatten().nonzero()[0])
        raise AssertionError(
            f"{what}: {int(d.flatten()[i])} ulp > {GRAD_ULP[a.dtype]} and |diff| > {float(atol.flatten()[i]):.3g} "
            f"at flat index {i} ({int(bad.sum())} such): emulated {a.flatten()[i].item()!r} vs CPU "
            f"{b.flatten()[i].item()!r}")


def make_inputs(dtype, C, layout, masks=True, seed=0):
    """logits (with -inf entries in some rows), grad and grad_soft of the layout's shape."""
    dim, shape_of = LAYOUTS[layout]
    shape = shape_of(C, dtype)
    d = dim % len(shape)
    gen = torch.Generator().manual_seed(1000 * C + 10 * d + seed)
    last = [s for i, s in enumerate(shape) if i != d] + [C]  # categories last

    def to_layout(t):
        return t.movedim(-1, d).contiguous()

    x = torch.randn(last, generator=gen, dtype=torch.float64) * 2.5
    if masks and C >= 2:
        rows = x.view(-1, C)
        rows[1::7, 1::3] = -float("inf")  # masked categories; column 0 stays finite
        rows[2::7, :-1] = -float("inf")  # a single finite category: the sample must be C - 1
    g = torch.randn(last, generator=gen, dtype=torch.float64)
    gp = torch.randn(last, generator=gen, dtype=torch.float64)
    return dim, to_layout(x).to(dtype), to_layout(g).to(dtype), to_layout(gp).to(dtype)


# ---- forward ------------------------------------------------------------------------------------

FORWARD = {
    "reinmax": lambda O, x, dim, seed: O.reinmax(x, 1.5, dim, seed),
    "straight_through": lambda O, x, dim, seed: O.straight_through(x, 0.7, dim, seed),
    "gst": lambda O, x, dim, seed: O.gst(x, 0.7, 1.0, False, dim, seed),
    "gst_p": lambda O, x, dim, seed: O.gst(x, 0.7, 0.0, True, dim, seed),
    "gumbel_rao": lambda O, x, dim, seed: O.gumbel_rao(x, 0.7, 3, dim, seed),
    "gumbel_softmax_soft": lambda O, x, dim, seed: O.gumbel_softmax(x, 0.7, False, dim, seed),
    "gumbel_softmax_hard": lambda O, x, dim, seed: O.gumbel_softmax(x, 0.7, True, dim, seed),
}
SOFT_OUTPUTS = {("reinmax", 1), ("gumbel_softmax_soft", 0)}  # (op, output position) holding softmax values
PUBLIC_NAME = {"reinmax": "pyalgo.reinmax", "straight_through": "pyalgo.straight_through", "gst": "pyalgo.gst",
               "gst_p": "pyalgo.gst", "gumbel_rao": "pyalgo.gumbel_rao",
               "gumbel_softmax_soft": "pyalgo.gumbel_softmax", "gumbel_softmax_hard": "pyalgo.gumbel_softmax"}


def check_forward(name, ours, cpu, what):
    assert len(ours) == len(cpu)
    for pos, (a, b) in enumerate(zip(ours, cpu)):
        w = f"{what} {name} output {pos}"
        if a.dtype == torch.int32:
            check_index(a, b, w)
        elif (name, pos) in SOFT_OUTPUTS:
            check_soft(a, b, w)
        else:
            check_exact(a, b, w)  # exactly one-hot


MATRIX = [(C, layout) for C in CS for layout in ("last", "first", "middle")] + [(LONG_C, "long")]


@pytest.mark.parametrize("C,layout", MATRIX)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forward_matches_cpu(simt, dtype, C, layout):
    dim, x, _, _ = make_inputs(dtype, C, layout)
    what = f"{dtype} C={C} {layout}"
    for name, op in FORWARD.items():
        ours = launched(simt, lambda O: op(O, x, dim, SEED))
        check_forward(name, ours, op(CPU, x, dim, SEED), what)
        if C >= 2 and x.numel() // C > 2:  # the rows with a single finite category (make_inputs) sample it
            assert bool((ours[-1].reshape(-1)[2::7] == C - 1).all()), f"{what} {name}"


# ---- backward -----------------------------------------------------------------------------------

def backward_cases(x, g, gp, index, dim, seed=SEED):
    """(name, call(O), grads that scale the bound, tau)."""
    return [
        ("reinmax_backward", lambda O: O.reinmax_backward(x, index, g, None, 1.5, dim), (g,), 1.5),
        ("reinmax_backward+grad_soft", lambda O: O.reinmax_backward(x, index, g, gp, 1.5, dim), (g, gp), 1.5),
        ("reinmax_backward+grad_soft tau=1", lambda O: O.reinmax_backward(x, index, g, gp, 1.0, dim), (g, gp), 1.0),
        ("straight_through_backward", lambda O: O.straight_through_backward(x, g, 0.7, dim), (g,), 0.7),
        ("gst_backward", lambda O: O.gst_backward(x, index, g, 0.7, 1.0, False, dim), (g,), 0.7),
        ("gst_backward gap=p", lambda O: O.gst_backward(x, index, g, 0.7, 0.0, True, dim), (g,), 0.7),
        ("gumbel_rao_backward k=1", lambda O: O.gumbel_rao_backward(x, index, g, 0.7, 1, dim, seed), (g,), 0.7),
        ("gumbel_rao_backward k=3", lambda O: O.gumbel_rao_backward(x, index, g, 0.7, 3, dim, seed), (g,), 0.7),
        ("gumbel_softmax_backward", lambda O: O.gumbel_softmax_backward(x, g, 0.7, dim, seed), (g,), 0.7),
    ]


@pytest.mark.parametrize("C,layout", MATRIX)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_backward_matches_cpu(simt, dtype, C, layout):
    dim, x, g, gp = make_inputs(dtype, C, layout)
    index = CPU.reinmax(x, 1.5, dim, SEED)[2]
    what = f"{dtype} C={C} {layout}"
    for name, call, grads, tau in backward_cases(x, g, gp, index, dim):
        ours = launched(simt, call)
        check_grad(ours, call(CPU), grads, dim, tau, f"{what} {name}")


def test_reinmax_backward_half_rounds_like_cpu(simt):
    """Found with this file: for float16/bfloat16 and 9 <= C <= 64 contiguous rows, the warp-segment
    ReinMax backward (reinmax_backward_team, estimators_team.h) parks each gradient in the half
    output before adding the [i = k] term and subtracting the mean (out = T(T(T(grad) + g_k - half)
    - mean)), while the CPU (reinmax_backward_short_row) rounds once. At the sampled column this is
    41 float16 ulps here (the exact value, float64, is 0.00059854)."""
    x = torch.tensor([[-5.6640625, 0.15234375, -1.97265625, -2.962890625, 2.4296875, -1.1875, 2.392578125,
                       -3.0234375, -0.173828125, -2.1015625]], dtype=torch.float16)
    g = torch.tensor([[-0.162109375, -0.41162109375, -0.68310546875, 0.1197509765625, -0.31201171875,
                       -0.01474761962890625, 0.63671875, -0.66552734375, -0.5087890625, 0.1412353515625]],
                     dtype=torch.float16)
    gp = torch.tensor([[1.4052734375, -0.06402587890625, 0.181884765625, 0.66845703125, 0.72900390625,
                        -0.595703125, -0.0855712890625, -1.369140625, -0.2310791015625, 0.55126953125]],
                      dtype=torch.float16)
    index = torch.tensor([4], dtype=torch.int32)
    ours = launched(simt, lambda O: O.reinmax_backward(x, index, g, gp, 1.0, -1))
    cpu = CPU.reinmax_backward(x, index, g, gp, 1.0, -1)
    exact = CPU.reinmax_backward(x.double(), index, g.double(), gp.double(), 1.0, -1)
    assert_ulp(cpu, exact.half(), 1, "CPU vs exact")
    check_grad(ours, cpu, (g, gp), -1, 1.0, "reinmax_backward float16 C=10 (one row)")


# ---- invalid rows: NaN on CUDA, RuntimeError on CPU ----------------------------------------------

BAD_ROWS = {1: "all -inf", 3: "a NaN", 4: "a +inf"}  # rows 0, 2, 5 stay valid
GOOD_ROWS = torch.tensor([0, 2, 5])


def invalid_rows_inputs(dtype, C, dim):
    """6 rows, three of them invalid; and the same logits with those rows made valid."""
    gen = torch.Generator().manual_seed(C)
    last = torch.randn(6, C, generator=gen, dtype=torch.float64)
    fixed = last.clone()
    last[1] = -float("inf")
    last[3, C // 2] = float("nan")
    last[4, C - 1] = float("inf")
    g = torch.randn(6, C, generator=gen, dtype=torch.float64)

    def lay(t):
        return (t if dim == -1 else t.t().contiguous()).to(dtype)

    return lay(last), lay(fixed), lay(g)


@pytest.mark.parametrize("layout", ["last", "first"])
@pytest.mark.parametrize("C", (1, 10, 130))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_invalid_rows_are_nan(simt, dtype, C, layout):
    """The documented CUDA policy (pyalgo/discrete/ops.py): a row with NaN or +inf, or made only of
    -inf, makes every output of that row NaN (index -1) and NaN gradients, without raising; the
    other rows are untouched. The CPU op raises instead."""
    dim = -1 if layout == "last" else 0
    x, x_ok, g = invalid_rows_inputs(dtype, C, dim)
    what = f"{dtype} C={C} {layout}"

    def rows_of(t, rows):  # rows of an output (categories along dim) or of an index
        return t.index_select(1 if dim == 0 and t.dim() == 2 else 0, rows)

    bad = torch.tensor(sorted(BAD_ROWS))
    for name, op in FORWARD.items():
        with pytest.raises(RuntimeError, match=PUBLIC_NAME[name]):
            op(CPU, x, dim, SEED)
        ours = launched(simt, lambda O: op(O, x, dim, SEED))
        for pos, a in enumerate(ours):
            if a.dtype == torch.int32:
                assert bool((a[bad] == -1).all()), f"{what} {name}: index of the invalid rows {a[bad].tolist()}"
            else:
                assert bool(rows_of(a, bad).isnan().all()), f"{what} {name} output {pos}: invalid rows not all NaN"
        # the valid rows: as the CPU computes them when no row is invalid (same row numbers, same noise)
        cpu = op(CPU, x_ok, dim, SEED)
        check_forward(name, [rows_of(a, GOOD_ROWS) for a in ours], [rows_of(b, GOOD_ROWS) for b in cpu], what)
    # backward, with the emulated forward's index (-1 on the invalid rows): NaN rows, the rest as on CPU
    index = simt.reinmax(x, 1.5, dim, SEED)[2]
    for name, call, grads, tau in backward_cases(x, g, g, index, dim):
        ours = launched(simt, call)
        assert bool(rows_of(ours, bad).isnan().all()), f"{what} {name}: invalid rows not all NaN"
        check_grad(ours, call(CPU), grads, dim, tau, f"{what} {name}")


# ---- empty inputs: no launch, empty outputs ------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((0, 10), -1), ((10, 0), 0), ((3, 10, 0), 1), ((0, 2, 130), -1)])
@pytest.mark.parametrize("dtype", (torch.float32, torch.float16), ids=str)
def test_empty_inputs_do_not_launch(simt, dtype, shape, dim):
    x = torch.empty(shape, dtype=dtype)
    g = torch.empty(shape, dtype=dtype)
    index_shape = [s for i, s in enumerate(shape) if i != dim % len(shape)]
    index = torch.empty(index_shape, dtype=torch.int32)
    calls = [(name, lambda O, op=op: op(O, x, dim, SEED)) for name, op in FORWARD.items()]
    calls += [(name, call) for name, call, _, _ in backward_cases(x, g, g, index, dim)]
    calls += [("philox_uniform rows=0", lambda O: O.philox_uniform(SEED, 0, 5, 0, torch.float32)),
              ("philox_uniform cols=0", lambda O: O.philox_uniform(SEED, 7, 0, 1, torch.float64))]
    for name, call in calls:
        before = launches(simt)
        ours = call(simt)
        assert launches(simt) == before, f"{name} {shape}: launched a kernel for an empty input"
        cpu = call(CPU)
        for a, b in zip(ours if isinstance(ours, (tuple, list)) else [ours],
                        cpu if isinstance(cpu, (tuple, list)) else [cpu]):
            assert a.numel() == 0
            check_like(a, b, f"{name} {shape}")


# ---- Philox stream -------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", (0, 1, 2**32 - 1))
@pytest.mark.parametrize("cols", (1, 3, 64, 65, 130))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64), ids=str)
def test_philox_uniform_bitwise(simt, dtype, cols, stream):
    for seed in (SEED, torch.tensor([7, -1], dtype=torch.int64)):
        ours = launched(simt, lambda O: O.philox_uniform(seed, 201, cols, stream, dtype))
        cpu = CPU.philox_uniform(seed, 201, cols, stream, dtype)
        check_exact(ours, cpu, f"philox_uniform {dtype} cols={cols} stream={stream}")
        assert bool(((ours > 0) & (ours < 1)).all())


# ---- odd strides: a strided seed, grad of another dtype, strided logits and index -----------------

def test_strided_arguments(simt):
    dim, x, g, gp = make_inputs(torch.float32, 65, "last", seed=1)
    seed_view = torch.stack([SEED, torch.zeros(2, dtype=torch.int64)], 1).reshape(-1)[::2]  # stride 2
    assert not seed_view.is_contiguous() and torch.equal(seed_view, SEED)
    xt = x.transpose(0, 1).contiguous().transpose(0, 1)  # same values, non-contiguous
    assert not xt.is_contiguous()
    for name, op in FORWARD.items():
        ours = launched(simt, lambda O: op(O, xt, dim, seed_view))
        check_forward(name, ours, op(CPU, x, dim, SEED), f"strided {name}")
    index = CPU.reinmax(x, 1.5, dim, SEED)[2]
    index_t = index.t().contiguous().t()
    g64 = g.double().transpose(0, 1).contiguous().transpose(0, 1)  # converted to float32 by the op
    for (name, call, grads, tau), (_, ref, _, _) in zip(backward_cases(xt, g64, gp, index_t, dim, seed_view),
                                                        backward_cases(x, g, gp, index, dim)):
        ours = launched(simt, call)
        check_grad(ours, ref(CPU), grads, dim, tau, f"strided {name}")
    ours = launched(simt, lambda O: O.philox_uniform(seed_view, 9, 7, 3, torch.float32))
    check_exact(ours, CPU.philox_uniform(SEED, 9, 7, 3, torch.float32), "strided seed philox_uniform")


# ---- one small case per kernel (imported by tests/test_simt.py) ------------------------------------

def _small(layout="first", C=10):
    """A few rows of C = 10: strided rows (dim = 0) always run one thread per row (contiguous
    rows of this C would run a warp segment per row)."""
    dim, x, g, gp = make_inputs(torch.float32, C, layout, seed=2)
    if layout == "first":  # (10, 2, 3): 6 strided rows
        return dim, x[:, :2, :3].contiguous(), g[:, :2, :3].contiguous(), gp[:, :2, :3].contiguous()
    return dim, x[:6], g[:6], gp[:6]


def _rep_forward(name, layout="first", C=10):
    def case(simt):
        dim, x, _, _ = _small(layout, C)
        op = FORWARD[name]
        check_forward(name, op(simt, x, dim, SEED), op(CPU, x, dim, SEED), f"representative {layout}")
    return case


def _rep_backward(name, layout="first", C=10):
    def case(simt):
        dim, x, g, gp = _small(layout, C)
        index = CPU.reinmax(x, 1.5, dim, SEED)[2]
        for case_name, call, grads, tau in backward_cases(x, g, gp, index, dim):
            if case_name == name:
                check_grad(call(simt), call(CPU), grads, dim, tau, f"representative {name} {layout}")
                return
        raise KeyError(name)
    return case


def _rep_philox(simt):
    check_exact(simt.philox_uniform(SEED, 6, 10, 1, torch.float32),
                CPU.philox_uniform(SEED, 6, 10, 1, torch.float32), "representative philox_uniform")


REPRESENTATIVE = {
    "categorical_sample_kernel": _rep_forward("reinmax"),
    "gumbel_softmax_kernel": _rep_forward("gumbel_softmax_soft"),
    "reinmax_backward_kernel": _rep_backward("reinmax_backward+grad_soft"),
    "st_backward_kernel": _rep_backward("straight_through_backward"),
    "gst_backward_kernel": _rep_backward("gst_backward gap=p"),
    "gumbel_rao_backward_kernel": _rep_backward("gumbel_rao_backward k=3"),
    "gumbel_softmax_backward_kernel": _rep_backward("gumbel_softmax_backward"),
    "philox_uniform_kernel": _rep_philox,
}
# (rows_warp_kernel / rows_block_kernel: their cases live in test_simt_discrete_rows.py.)
# ReinMax-Rao / ReinMax-CV's kernels: their cases live in test_simt_discrete_beyond.py.
from test_simt_discrete_beyond import REPRESENTATIVE as _BEYOND  # noqa: E402

REPRESENTATIVE.update(_BEYOND)


@pytest.mark.parametrize("kernel", REPRESENTATIVE)
def test_representative_launches_its_kernel(simt, kernel):
    assert kernel in DISCRETE_KERNELS, f"{kernel} is no longer a kernel of {CU_FILES['discrete'].name}"
    before = simt.simt_launch_count(kernel)
    REPRESENTATIVE[kernel](simt)
    assert simt.simt_launch_count(kernel) > before, f"the representative case of {kernel} did not launch it"
