"""Benchmark of pyalgo's wireless ops (issue 3 §4; shared/specs/wmmse.md §6).

Five sections, each with one setup per case shared by all providers, a correctness check before
any timing, and `torch.utils.benchmark.Timer.blocked_autorange` at an explicit thread count:

1. ``wmmse``: the SISO WMMSE teacher (Rayleigh gains, sigma^2 = 1, p_max = 1, max_iter = 100,
   tol = 1e-3, the same per-instance stop rule everywhere) in instances per second for
   B x K = 10000x10, 2000x30, 200x100 in float32 and float64. Providers: ``pyalgo``
   (`pyalgo.wireless.wmmse`), ``torch`` (the vectorised batched reference `wmmse_ref`),
   ``numpy batch`` (`wmmse_numpy_batch`) and ``numpy per-instance`` (`wmmse_numpy_single`, Sun et
   al.'s code, a Python loop over instances; timed on a subset of the instances). The NumPy
   providers get the amplitudes as float64 arrays (NumPy's default) and compute in float64. The
   channels are drawn in float64 and rounded for float32, so both dtypes solve the same instances.
   Check: every provider's mean sum rate equals pyalgo's on the same instances to 1e-4 relative.
2. ``wmmse fixed``: 100 iterations (tol = 0) at 10000x10 float32, in GFLOP/s with the spec's
   count of ~4 K^2 flops per iteration per instance (two K x K mat-vecs), next to a plain
   ``torch.bmm`` of the same shapes: the mat-vec (B, K, K) @ (B, K, 1) that WMMSE does twice per
   iteration, and a (B, K, K) @ (B, K, K) matmul (what batched matmul reaches on this CPU).
3. ``sum_rate``: forward, backward and forward+backward of `pyalgo.wireless.sum_rate` vs the
   autograd reference `sum_rate_ref` (p requires grad, as in unsupervised training; upstream
   gradient random), 10000x10 and 2000x30 float32, pyalgo also with ``validate=False`` (without
   its input checks); plus the forward's bandwidth against ``dst.copy_(src)`` of the same bytes.
   Check: rates and gradients to 1e-4 relative.
4. ``wmmse_miso``: MISO WMMSE beamforming (B = 1000, K = N = 4, P = 10, tol = 1e-4) in
   complex128 and complex64 vs `wmmse_miso_ref`. Check: mean sum rate to 1e-4, total power <= P.
5. ``student``: inference of an MLP student K^2 -> 200 -> 80 -> 80 -> K (Sun et al.'s DNN,
   `pyalgo.wireless.distill.MLPStudent`, or the same layers as a plain nn.Sequential when that
   module does not import) at 10000x10 float32 under `torch.inference_mode`, in decisions per
   second, vs the pyalgo teacher and per-instance NumPy of section 1. The student is untrained:
   only its speed is measured.

A provider whose first (checked) call takes longer than ``--budget`` seconds is not re-run: that
single call is its measurement (runs = 1). Results: tables on stdout, CSV rows appended to
``<out>/wireless.csv`` and a Markdown summary ``<out>/wireless.md``. Timing targets are reported
(PASS / MISS), never asserted. Exit status 1 when a correctness check failed.

    python bench/bench_wireless.py                 # full run (~1.5 min on 2 idle cores)
    python bench/bench_wireless.py --quick         # small cases, short timings (< 1 min)
    python bench/bench_wireless.py --sections wmmse student --threads 1
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils import benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_sha, machine, md_table, mode_call, shape_str, text_table, write_csv  # noqa: E402

import pyalgo
import pyalgo.wireless as W
from pyalgo.wireless import reference as ref

try:  # written by another helper; the bench falls back to an equivalent nn.Sequential
    from pyalgo.wireless.distill import MLPStudent
    STUDENT_IMPORT_ERROR = None
except Exception as exc:  # noqa: BLE001  (ImportError, or a half-written module)
    MLPStudent = None
    STUDENT_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ["wmmse", "fixed", "sum_rate", "miso", "student"]
DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64",
               torch.complex64: "complex64", torch.complex128: "complex128"}

# Section 1: WMMSE teacher, Sun et al.'s setting.
WMMSE_CASES = [(10000, 10), (2000, 30), (200, 100)]
WMMSE_DTYPES = [torch.float32, torch.float64]
P_MAX, NOISE, MAX_ITER, TOL = 1.0, 1.0, 100, 1e-3
WMMSE_PARAMS = f"rayleigh,p_max={P_MAX:g},noise={NOISE:g},max_iter={MAX_ITER},tol={TOL:g}"
RATE_RTOL = 1e-4
PROVIDERS = ["pyalgo", "torch", "numpy batch", "numpy per-instance"]
TARGET_CASE = (10000, 10)
TARGETS = [("numpy per-instance", 300.0), ("torch", 10.0)]  # pyalgo speed-up at TARGET_CASE
# Section 2: fixed iterations.
FIXED_CASE, FIXED_ITERS = (10000, 10), 100
# Section 3: sum rate.
SUM_RATE_CASES = [(10000, 10), (2000, 30)]
MODES = ["forward", "backward", "forward+backward"]
SUM_RATE_UNCHECKED = "pyalgo validate=False"  # without the input checks (finite H, p >= 0)
# Section 4: MISO.
MISO_CASE, MISO_P, MISO_TOL = (1000, 4, 4), 10.0, 1e-4
MISO_DTYPES = [torch.complex128, torch.complex64]
# Section 5: student.
STUDENT_CASE, STUDENT_HIDDEN = (10000, 10), (200, 80, 80)

COLUMNS = ["op", "provider", "mode", "shape", "dtype", "device", "threads", "median_ms", "p20_ms",
           "p80_ms", "runs", "instances", "per_second", "status", "params", "torch_version",
           "numpy_version", "pyalgo_version", "git_sha", "machine", "timestamp"]


# ---- timing -------------------------------------------------------------------------------------

def first_call(fn):
    """(output, seconds) of one call: the checked call, which also warms up."""
    begin = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - begin


def measure(call, threads, min_run_time, first_seconds=0.0, budget=float("inf")):
    """(median, p20, p80) in ms and the number of measured blocks. A call whose first run took
    longer than `budget` seconds is not repeated: that run is the measurement."""
    if first_seconds > budget:
        t = first_seconds * 1e3
        return t, t, t, 1
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_run_time)
    times = np.asarray(m.times) * 1e3
    return m.median * 1e3, np.percentile(times, 20), np.percentile(times, 80), len(times)


class Recorder:
    """Collects CSV rows (dicts with COLUMNS) and logs each one."""

    def __init__(self, meta, threads):
        self.meta, self.threads, self.rows = meta, threads, []

    def add(self, op, provider, shape, dtype, *, mode="", params="", instances="", timing=None,
            status="ok"):
        row = dict(self.meta, op=op, provider=provider, mode=mode, shape=shape_str(shape),
                   dtype=dtype, device="cpu", threads=self.threads, median_ms="", p20_ms="",
                   p80_ms="", runs=0, instances=instances, per_second="", status=status,
                   params=params)
        if timing is not None:
            median, p20, p80, runs = timing
            row.update(median_ms=f"{median:.6g}", p20_ms=f"{p20:.6g}", p80_ms=f"{p80:.6g}", runs=runs)
            if instances:
                row["per_second"] = f"{instances / (median * 1e-3):.6g}"
        self.rows.append(row)
        label = f"  {op:11s} {row['shape']:>10s} {dtype:10s} {provider:22s} {mode:17s}"
        if timing is None:
            print(f"{label} {status}", flush=True)
        else:
            rate = f"  {float(row['per_second']):12.5g}/s" if row["per_second"] else ""
            print(f"{label} {median:10.4f} ms [{p20:.4f}, {p80:.4f}] x{runs}{rate}  {status}", flush=True)
        return row

    def find(self, **keys):
        for row in self.rows:
            if all(str(row[k]) == str(v) for k, v in keys.items()):
                return row
        return None


def run_timed(rec, args, op, provider, shape, dtype, fn, check, *, mode="", params="", instances=""):
    """Checks `fn`'s first call with `check(output) -> problem or None`, then times it."""
    try:
        out, seconds = first_call(fn)
        problem = check(out)
    except Exception as exc:  # noqa: BLE001  (a failing provider is recorded, not fatal)
        return rec.add(op, provider, shape, dtype, mode=mode, params=params, instances=instances,
                       status=f"failed: {type(exc).__name__}: {str(exc)[:120]}")
    if problem:
        print(f"  CHECK FAILED ({op} {shape_str(shape)} {dtype} {provider}): {problem}")
    timing = measure(fn, args.threads, args.min_run_time, seconds, args.budget)
    status = f"CHECK FAILED: {problem}" if problem else "ok"
    return rec.add(op, provider, shape, dtype, mode=mode, params=params, instances=instances,
                   timing=timing, status=status)


# ---- checks -------------------------------------------------------------------------------------

def mean_rate(G64, p):
    """Mean sum rate (bits/s/Hz) of powers p (any float dtype, torch or NumPy) on gains G64."""
    p = torch.as_tensor(p).to(torch.float64)
    return ref.sum_rate_ref(G64[: p.shape[0]], p, NOISE).mean().item()


def check_powers(p, G64, expected_rate, shape):
    """Problems with WMMSE powers: shape, box [0, p_max], mean rate vs `expected_rate`."""
    p = torch.as_tensor(p)
    if tuple(p.shape) != tuple(shape):
        return f"powers of shape {tuple(p.shape)}, expected {tuple(shape)}"
    if not torch.isfinite(p).all() or (p < 0).any() or (p > P_MAX * (1 + 1e-6)).any():
        return "powers outside [0, p_max] or non-finite"
    rate = mean_rate(G64, p)
    rel = abs(rate - expected_rate) / abs(expected_rate)
    return None if rel <= RATE_RTOL else (f"mean sum rate {rate:.6f} vs pyalgo's {expected_rate:.6f} "
                                          f"(relative {rel:.1e} > {RATE_RTOL:g})")


def relative_error(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


# ---- section 1: WMMSE teacher -------------------------------------------------------------------

def per_instance_subset(B, K, quick):
    """How many instances the per-instance NumPy loop is timed on (~0.5-7 s per call)."""
    if quick:
        return min(B, 20)
    return min(B, 300 if K <= 10 else 100)


def wmmse_case(rec, args, B, K, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    G = W.rayleigh(B, K, generator=gen, dtype=torch.float64).to(dtype)  # same channels in every dtype
    G64 = G.to(torch.float64)
    h_amp = G64.sqrt().numpy()  # what a NumPy user holds: float64 amplitudes |h|
    n_single = per_instance_subset(B, K, args.quick)
    dname = DTYPE_NAMES[dtype]

    state = W.wmmse(G, P_MAX, NOISE, max_iter=MAX_ITER, tol=TOL, return_state=True)
    rate_all = mean_rate(G64, state.p)
    rate_subset = mean_rate(G64, state.p[:n_single])
    iters = state.iterations.float().mean().item()
    params = f"{WMMSE_PARAMS},mean_iterations={iters:.1f},mean_rate={rate_all:.4f}"
    print(f"  wmmse {B}x{K} {dname}: pyalgo mean sum rate {rate_all:.4f} bit/s/Hz, "
          f"{iters:.1f} iterations on average")

    providers = {
        "pyalgo": (lambda: W.wmmse(G, P_MAX, NOISE, max_iter=MAX_ITER, tol=TOL), B, rate_all),
        "torch": (lambda: ref.wmmse_ref(G, P_MAX, NOISE, max_iter=MAX_ITER, tol=TOL).p, B, rate_all),
        "numpy batch": (lambda: ref.wmmse_numpy_batch(h_amp, P_MAX, NOISE, max_iter=MAX_ITER, tol=TOL),
                        B, rate_all),
        "numpy per-instance": (
            lambda: np.stack([ref.wmmse_numpy_single(h, P_MAX, NOISE, MAX_ITER, TOL)
                              for h in h_amp[:n_single]]),
            n_single, rate_subset),
    }
    for name, (fn, n, expected) in providers.items():
        extra = f",subset={n}/{B}" if n != B else ""
        run_timed(rec, args, "wmmse", name, (B, K), dname, fn,
                  lambda p, n=n, e=expected: check_powers(p, G64, e, (n, K)),
                  params=params + extra, instances=n)


# ---- section 2: fixed iterations, GFLOP/s ---------------------------------------------------------

def wmmse_flops(B, K, iters):
    """Spec §6: two K x K mat-vecs per iteration, ~4 K^2 flops per instance."""
    return 4 * K * K * iters * B


def fixed_case(rec, args, B, K, seed):
    gen = torch.Generator().manual_seed(seed)
    G = W.rayleigh(B, K, generator=gen, dtype=torch.float32)
    G64 = G.to(torch.float64)
    state = W.wmmse(G, P_MAX, NOISE, max_iter=FIXED_ITERS, tol=0.0, return_state=True)
    expected = mean_rate(G64, state.p)
    params = f"rayleigh,p_max={P_MAX:g},noise={NOISE:g},max_iter={FIXED_ITERS},tol=0"

    def check(p):
        if not bool((state.iterations == FIXED_ITERS).all()):
            return f"pyalgo did not run exactly {FIXED_ITERS} iterations with tol = 0"
        return check_powers(p, G64, expected, (B, K))

    run_timed(rec, args, "wmmse fixed", "pyalgo", (B, K), "float32",
              lambda: W.wmmse(G, P_MAX, NOISE, max_iter=FIXED_ITERS, tol=0.0), check,
              params=params, instances=B)
    run_timed(rec, args, "wmmse fixed", "torch", (B, K), "float32",
              lambda: ref.wmmse_ref(G, P_MAX, NOISE, max_iter=FIXED_ITERS, tol=0.0).p, check,
              params=params, instances=B)

    # Plain batched matmuls of the same shapes.
    x = torch.rand(B, K, 1, generator=gen)
    Y = torch.rand(B, K, K, generator=gen)
    for mode, other in (("matvec", x), ("matmul", Y)):
        out = torch.empty(B, K, other.shape[-1])
        call = lambda other=other, out=out: torch.bmm(G, other, out=out)  # noqa: E731
        expected_out = (G.double() @ other.double()).float()
        run_timed(rec, args, "bmm", "torch.bmm", (B, K), "float32", call,
                  lambda y, e=expected_out: None if torch.allclose(y, e, rtol=1e-4, atol=1e-4)
                  else "bmm result wrong", mode=mode, params=f"(B,K,K)@(B,K,{other.shape[-1]})")


# ---- section 3: sum rate forward / backward ----------------------------------------------------

def sum_rate_case(rec, args, B, K, seed):
    gen = torch.Generator().manual_seed(seed)
    G = W.rayleigh(B, K, generator=gen, dtype=torch.float32)
    p = torch.rand(B, K, generator=gen).requires_grad_()
    g = torch.randn(B, generator=gen)
    providers = {"pyalgo": lambda x: W.sum_rate(G, x, NOISE),
                 SUM_RATE_UNCHECKED: lambda x: W.sum_rate(G, x, NOISE, validate=False),
                 "reference": lambda x: ref.sum_rate_ref(G, x, NOISE)}

    # Check: fused forward and backward vs autograd through the reference.
    want_rate = ref.sum_rate_ref(G, p, NOISE)
    want_grad, = torch.autograd.grad(want_rate, p, g)
    got_rate = W.sum_rate(G, p, NOISE)
    got_grad, = torch.autograd.grad(got_rate, p, g)
    errors = relative_error(got_rate, want_rate), relative_error(got_grad, want_grad)
    problem = None
    if max(errors) > RATE_RTOL:
        problem = f"rates / gradients differ from sum_rate_ref by {errors[0]:.1e} / {errors[1]:.1e}"
        print(f"  CHECK FAILED (sum_rate {B}x{K} pyalgo): {problem}")

    for name, fn in providers.items():
        for mode in MODES:
            call = mode_call(fn, p, g, mode)
            _, seconds = first_call(call)
            timing = measure(call, args.threads, args.min_run_time, seconds, args.budget)
            status = f"CHECK FAILED: {problem}" if problem and name != "reference" else "ok"
            rec.add("sum_rate", name, (B, K), "float32", mode=mode, params="grad w.r.t. p",
                    instances=B, timing=timing, status=status)

    # Bandwidth reference: copy the bytes the fused forward must move (read G, p; write rates).
    nbytes = (B * K * K + B * K + B) * 4
    src, dst = torch.empty(nbytes // 8), torch.empty(nbytes // 8)
    src.copy_(torch.rand(nbytes // 8, generator=gen))
    timing = measure(lambda: dst.copy_(src), args.threads, args.min_run_time)
    rec.add("copy_", "torch", (B, K), "float32", mode="copy", params=f"bytes={nbytes}", timing=timing)


# ---- section 4: MISO -----------------------------------------------------------------------------

def miso_case(rec, args, B, K, N, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    H = W.rayleigh_miso(B, K, N, generator=gen, dtype=torch.complex128).to(dtype)
    H128 = H.to(torch.complex128)
    dname = DTYPE_NAMES[dtype]
    params = f"rayleigh_miso,p_max={MISO_P:g},noise={NOISE:g},max_iter={MAX_ITER},tol={MISO_TOL:g}"
    expected = ref.sum_rate_miso_ref(H128, W.wmmse_miso(H, MISO_P, NOISE, tol=MISO_TOL).to(H128.dtype),
                                     NOISE).mean().item()

    def check(V):
        if tuple(V.shape) != (B, K, N) or not torch.isfinite(torch.view_as_real(V)).all():
            return "beamformers of the wrong shape or non-finite"
        power = (V.abs() ** 2).sum(dim=(1, 2))
        if (power > MISO_P * (1 + 1e-4)).any():
            return f"total power up to {power.max().item():.6g} > P = {MISO_P:g}"
        rate = ref.sum_rate_miso_ref(H128, V.to(H128.dtype), NOISE).mean().item()
        rel = abs(rate - expected) / expected
        return None if rel <= RATE_RTOL else (f"mean sum rate {rate:.6f} vs pyalgo's {expected:.6f} "
                                              f"(relative {rel:.1e})")

    print(f"  wmmse_miso {B}x{K}x{N} {dname}: pyalgo mean sum rate {expected:.4f} bit/s/Hz")
    providers = {"pyalgo": lambda: W.wmmse_miso(H, MISO_P, NOISE, tol=MISO_TOL),
                 "torch": lambda: ref.wmmse_miso_ref(H, MISO_P, NOISE, tol=MISO_TOL).V}
    for name, fn in providers.items():
        run_timed(rec, args, "wmmse_miso", name, (B, K, N), dname, fn, check,
                  params=params + f",mean_rate={expected:.4f}", instances=B)


# ---- section 5: student inference ---------------------------------------------------------------

def make_student(K):
    """Sun et al.'s DNN K^2 -> 200 -> 80 -> 80 -> K: MLPStudent, or the same layers in torch."""
    if MLPStudent is not None:
        return MLPStudent(K, hidden=STUDENT_HIDDEN, p_max=P_MAX), "MLPStudent"
    sizes = [K * K, *STUDENT_HIDDEN]
    layers = [nn.Flatten()]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers += [nn.Linear(sizes[-1], K), nn.Sigmoid()]
    return nn.Sequential(*layers), "nn.Sequential"


def student_case(rec, args, B, K, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    G = W.rayleigh(B, K, generator=gen, dtype=torch.float32)
    model, kind = make_student(K)
    model.eval()
    if STUDENT_IMPORT_ERROR:
        print(f"  note: pyalgo.wireless.distill does not import ({STUDENT_IMPORT_ERROR}); "
              "the student is a plain nn.Sequential")

    def infer():
        with torch.inference_mode():
            return model(G)

    def check(p):
        if tuple(p.shape) != (B, K) or not torch.isfinite(p).all() or (p < 0).any() or (p > P_MAX).any():
            return "student powers of the wrong shape or outside [0, p_max]"
        return None

    hidden = "-".join(map(str, STUDENT_HIDDEN))
    run_timed(rec, args, "student", kind, (B, K), "float32", infer, check,
              params=f"mlp {K * K}-{hidden}-{K},inference_mode,untrained", instances=B)

    # The teachers at the same size: reuse section 1's rows, or time them here.
    for provider in ("pyalgo", "numpy per-instance"):
        if rec.find(op="wmmse", provider=provider, shape=shape_str((B, K)), dtype="float32",
                    status="ok") is None:
            h_amp = G.double().sqrt().numpy()
            n = per_instance_subset(B, K, args.quick)
            fn = ((lambda: W.wmmse(G, P_MAX, NOISE, max_iter=MAX_ITER, tol=TOL)) if provider == "pyalgo"
                  else (lambda: [ref.wmmse_numpy_single(h, P_MAX, NOISE, MAX_ITER, TOL) for h in h_amp[:n]]))
            run_timed(rec, args, "wmmse", provider, (B, K), "float32", fn, lambda _: None,
                      params=WMMSE_PARAMS, instances=B if provider == "pyalgo" else n)


# ---- environment / output -----------------------------------------------------------------------

def busy_cores_warning(threads):
    """A warning when a parallel region stalls (another process on a core): a 1 MB copy much
    slower on `threads` threads than on 1."""
    if threads <= 1:
        return None
    src, dst = torch.randn(1 << 18), torch.empty(1 << 18)
    one = measure(lambda: dst.copy_(src), 1, 0.1)[0]
    many = measure(lambda: dst.copy_(src), threads, 0.1)[0]
    if many <= 4 * one or many <= 0.5:
        return None
    return (f"cores busy at {datetime.datetime.now():%H:%M:%S}: a 1 MB copy takes {one:.3f} ms on 1 "
            f"thread, {many:.3f} ms on {threads} (1-min load average {os.getloadavg()[0]:.1f}); "
            "multi-thread timings are dominated by scheduling stalls")


# ---- report ---------------------------------------------------------------------------------------

def ms(row):
    return float(row["median_ms"]) if row and row["median_ms"] != "" else None


def per_s(row):
    return float(row["per_second"]) if row and row["per_second"] != "" else None


def fmt_rate(x):
    return "n/a" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def fmt_ratio(num, den):
    return "n/a" if num is None or den is None else f"{num / den:,.1f}x" if num / den >= 10 else f"{num / den:.2f}x"


def flag(row):
    return "" if row is None or row["status"] == "ok" else " !"


def wmmse_table(rec, cases, dtypes):
    header = ["B x K", "dtype", "mean iters", "mean rate", "pyalgo inst/s", "torch inst/s",
              "NumPy batch inst/s", "NumPy per-instance inst/s (timed on)", "pyalgo / torch",
              "pyalgo / NumPy batch", "pyalgo / NumPy per-instance"]
    rows = []
    for B, K in cases:
        for dtype in dtypes:
            found = {p: rec.find(op="wmmse", provider=p, shape=shape_str((B, K)), dtype=DTYPE_NAMES[dtype])
                     for p in PROVIDERS}
            base = found["pyalgo"]
            if base is None:
                continue
            info = dict(kv.split("=", 1) for kv in base["params"].split(",") if "=" in kv)
            single = found["numpy per-instance"]
            rows.append([shape_str((B, K)), DTYPE_NAMES[dtype], info.get("mean_iterations", ""),
                         info.get("mean_rate", ""), fmt_rate(per_s(base)) + flag(base),
                         fmt_rate(per_s(found["torch"])) + flag(found["torch"]),
                         fmt_rate(per_s(found["numpy batch"])) + flag(found["numpy batch"]),
                         f"{fmt_rate(per_s(single))} ({single['instances'] if single else '-'})" + flag(single),
                         *[fmt_ratio(per_s(base), per_s(found[p])) for p in PROVIDERS[1:]]])
    return header, rows


def target_rows(rec, dtypes):
    rows = []
    for dtype in dtypes:
        base = rec.find(op="wmmse", provider="pyalgo", shape=shape_str(TARGET_CASE), dtype=DTYPE_NAMES[dtype])
        for provider, goal in TARGETS:
            other = rec.find(op="wmmse", provider=provider, shape=shape_str(TARGET_CASE),
                             dtype=DTYPE_NAMES[dtype])
            name = f"WMMSE instances/s, pyalgo vs {provider}, {shape_str(TARGET_CASE)} {DTYPE_NAMES[dtype]}"
            if per_s(base) is None or per_s(other) is None:
                rows.append([name, f">= {goal:g}x", "not run", "n/a"])
            else:
                speedup = per_s(base) / per_s(other)
                rows.append([name, f">= {goal:g}x", f"{speedup:,.1f}x", "PASS" if speedup >= goal else "MISS"])
    return rows


def fixed_table(rec, case):
    B, K = case
    header = ["provider", "work", "ms", "GFLOP/s", "% of bmm mat-vec", "% of bmm K x K"]
    matvec = rec.find(op="bmm", mode="matvec", shape=shape_str(case))
    matmul = rec.find(op="bmm", mode="matmul", shape=shape_str(case))
    gflops = lambda flops, row: flops / (ms(row) * 1e-3) / 1e9 if ms(row) else None  # noqa: E731
    ref_matvec, ref_matmul = gflops(2 * K * K * B, matvec), gflops(2 * K ** 3 * B, matmul)
    rows = []
    for provider in ("pyalgo", "torch"):
        row = rec.find(op="wmmse fixed", provider=provider, shape=shape_str(case))
        if ms(row) is None:
            continue
        rate = gflops(wmmse_flops(B, K, FIXED_ITERS), row)
        rows.append([f"WMMSE {provider}" + flag(row), f"{FIXED_ITERS} iterations, 4K^2 flops each",
                     f"{ms(row):.4g}", f"{rate:.3g}",
                     f"{100 * rate / ref_matvec:.0f}%" if ref_matvec else "n/a",
                     f"{100 * rate / ref_matmul:.1f}%" if ref_matmul else "n/a"])
    for row, flops, work in ((matvec, 2 * K * K * B, "(B,K,K)@(B,K,1), 2K^2 flops"),
                             (matmul, 2 * K ** 3 * B, "(B,K,K)@(B,K,K), 2K^3 flops")):
        if ms(row) is not None:
            rate = gflops(flops, row)
            rows.append(["torch.bmm" + flag(row), work, f"{ms(row):.4g}", f"{rate:.3g}",
                         f"{100 * rate / ref_matvec:.0f}%" if ref_matvec else "n/a",
                         f"{100 * rate / ref_matmul:.1f}%" if ref_matmul else "n/a"])
    return header, rows


def sum_rate_table(rec, cases):
    header = ["B x K", "mode", "pyalgo ms", "validate=False ms", "reference ms", "reference / pyalgo",
              "reference / validate=False"]
    rows = []
    for shape in cases:
        for mode in MODES:
            found = [rec.find(op="sum_rate", provider=p, shape=shape_str(shape), mode=mode)
                     for p in ("pyalgo", SUM_RATE_UNCHECKED, "reference")]
            base, unchecked, other = found
            if base is None:
                continue
            rows.append([shape_str(shape), mode, *[f"{ms(r):.4g}" + flag(r) if ms(r) else "n/a" for r in found],
                         fmt_ratio(ms(other), ms(base)), fmt_ratio(ms(other), ms(unchecked))])
    return header, rows


def bandwidth_rows(rec, cases):
    rows = []
    for B, K in cases:
        fwd = rec.find(op="sum_rate", provider="pyalgo", shape=shape_str((B, K)), mode="forward")
        copy = rec.find(op="copy_", shape=shape_str((B, K)))
        if ms(fwd) is None or ms(copy) is None:
            continue
        nbytes = (B * K * K + B * K + B) * 4
        gbs, copy_gbs = nbytes / (ms(fwd) * 1e-3) / 1e9, nbytes / (ms(copy) * 1e-3) / 1e9
        rows.append([shape_str((B, K)), f"{nbytes / 1e6:.2f}", f"{ms(fwd):.4g}", f"{gbs:.3g}",
                     f"{copy_gbs:.3g}", f"{100 * gbs / copy_gbs:.0f}%"])
    return rows


BANDWIDTH_HEADER = ["B x K", "MB moved", "pyalgo forward ms", "GB/s", "copy_ GB/s", "% of copy"]


def miso_table(rec):
    header = ["B x K x N", "dtype", "mean rate", "pyalgo inst/s", "torch inst/s", "pyalgo / torch"]
    rows = []
    for row in rec.rows:
        if row["op"] != "wmmse_miso" or row["provider"] != "pyalgo":
            continue
        other = rec.find(op="wmmse_miso", provider="torch", shape=row["shape"], dtype=row["dtype"])
        info = dict(kv.split("=", 1) for kv in row["params"].split(",") if "=" in kv)
        rows.append([row["shape"], row["dtype"], info.get("mean_rate", ""), fmt_rate(per_s(row)) + flag(row),
                     fmt_rate(per_s(other)) + flag(other), fmt_ratio(per_s(row), per_s(other))])
    return header, rows


def student_table(rec):
    header = ["B x K", "student", "student decisions/s", "pyalgo WMMSE decisions/s",
              "NumPy per-instance decisions/s", "student / pyalgo", "student / NumPy per-instance"]
    rows = []
    for row in rec.rows:
        if row["op"] != "student":
            continue
        teacher = rec.find(op="wmmse", provider="pyalgo", shape=row["shape"], dtype="float32")
        single = rec.find(op="wmmse", provider="numpy per-instance", shape=row["shape"], dtype="float32")
        rows.append([row["shape"], row["provider"], fmt_rate(per_s(row)) + flag(row), fmt_rate(per_s(teacher)),
                     fmt_rate(per_s(single)), fmt_ratio(per_s(row), per_s(teacher)),
                     fmt_ratio(per_s(row), per_s(single))])
    return header, rows


TARGET_HEADER = ["target", "goal", "measured", "verdict"]


def report(rec, args, command, runtime_s, load, warnings):
    meta = rec.meta
    sections = []  # (title, note, header, rows)
    if "wmmse" in args.sections:
        sections.append((
            "WMMSE teacher (SISO): instances per second",
            f"Rayleigh, sigma^2 = {NOISE:g}, p_max = {P_MAX:g}, max_iter = {MAX_ITER}, tol = {TOL:g} (Sun et "
            "al.'s stop rule per instance, all providers). Mean iterations and mean sum rate (bit/s/Hz) are "
            "pyalgo's. `torch` = `wmmse_ref` (vectorised batched torch); NumPy batch = `wmmse_numpy_batch`; "
            "NumPy per-instance = `wmmse_numpy_single` (Sun et al.'s code, a Python loop over instances), "
            "timed on the first n instances (in parentheses) and reported per instance; the NumPy "
            "providers compute in float64 whatever the case dtype. Ratios > 1: pyalgo is faster.",
            *wmmse_table(rec, args.cases, args.dtypes)))
        sections.insert(0, ("Targets (issue 3 §4)", "Speed-up of pyalgo in instances per second.",
                            TARGET_HEADER, target_rows(rec, args.dtypes)))
    if "fixed" in args.sections:
        sections.append((
            f"WMMSE at a fixed {FIXED_ITERS} iterations (tol = 0), {shape_str(args.fixed_case)} float32: "
            "GFLOP/s", "FLOP count of spec §6 (two K x K mat-vecs per iteration, ~4K^2 flops per "
            "instance; the ~10K scalar ops, divisions and log2 are not counted), vs `torch.bmm` of the "
            "same shapes: the mat-vec WMMSE does twice per iteration, and a K x K matmul.",
            *fixed_table(rec, args.fixed_case)))
    if "sum_rate" in args.sections:
        sections.append((
            "sum_rate: forward / backward (float32, gradient w.r.t. p)",
            "`pyalgo.wireless.sum_rate` (fused forward and backward; default input checks, and with "
            "`validate=False`) vs autograd through `sum_rate_ref`. Ratio > 1: pyalgo is faster.", *sum_rate_table(rec, args.sum_rate_cases)))
        sections.append((
            "sum_rate forward bandwidth vs `dst.copy_(src)` of the same bytes",
            "Bytes: read G (B K^2) and p (B K), write the rates (B), float32.",
            BANDWIDTH_HEADER, bandwidth_rows(rec, args.sum_rate_cases)))
    if "miso" in args.sections:
        sections.append((
            "MISO WMMSE beamforming: instances per second",
            f"Rayleigh CN(0, 1), P = {MISO_P:g}, sigma^2 = {NOISE:g}, max_iter = {MAX_ITER}, tol = {MISO_TOL:g}, "
            "MRT start; `torch` = `wmmse_miso_ref`. Mean sum rate is pyalgo's.", *miso_table(rec)))
    if "student" in args.sections:
        sections.append((
            "Student inference vs the WMMSE teacher: decisions per second",
            f"MLP K^2 -> {' -> '.join(map(str, STUDENT_HIDDEN))} -> K (Sun et al.'s DNN, untrained; only "
            "speed), float32, `torch.inference_mode`; teachers from the WMMSE table (tol = 1e-3). A "
            "decision = the powers of one instance.", *student_table(rec)))

    print("\nResults (> 1 in a ratio column means pyalgo, or the student, is faster; ! = check failed)")
    for title, _, header, rows in sections:
        print(f"\n== {title}\n{text_table(header, rows)}")
    for w in warnings:
        print(f"\nWARNING: {w}")

    md = ["# Wireless benchmark\n",
          f"- Machine: {meta['machine']}; device cpu, {args.threads} threads",
          f"- torch {meta['torch_version']}, NumPy {meta['numpy_version']}, pyalgo {meta['pyalgo_version']}, "
          f"git {meta['git_sha']}, {meta['timestamp']}",
          f"- Command: `{command}` ({runtime_s:.0f} s; 1-min load average {load})",
          "- Times: median of `torch.utils.benchmark.Timer.blocked_autorange`; a provider whose checked "
          f"first call took more than {args.budget:g} s is measured by that one call. Every provider's "
          "output was checked before timing (`!` = a check failed).\n",
          *[f"- **Warning:** {w}" for w in warnings]]
    for title, note, header, rows in sections:
        md += [f"\n## {title}\n", note + "\n", md_table(header, rows)]
    problems = [r for r in rec.rows if r["status"] != "ok"]
    if problems:
        md += ["\n## Failed checks or providers\n",
               md_table(["op", "provider", "mode", "shape", "dtype", "status"],
                        [[r["op"], r["provider"], r["mode"], r["shape"], r["dtype"], r["status"]]
                         for r in problems])]
    return "\n".join(md)


# ---- the run --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench_wireless", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small cases (B = 1000, K = 10 float32; MISO B = 100 complex64), short timings")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for every timing (default torch.get_num_threads())")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS,
                   help="subset of the benchmark (default all)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                   help="folder for wireless.csv and wireless.md")
    p.add_argument("--min-run-time", type=float, default=None,
                   help="seconds per blocked_autorange (default 1.0; 0.05 with --quick)")
    p.add_argument("--budget", type=float, default=None,
                   help="a provider whose first call takes longer is measured by that call alone "
                        "(default 4 s; 1 s with --quick)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.threads = args.threads or torch.get_num_threads()
    if args.quick:
        args.cases, args.dtypes = [(1000, 10)], [torch.float32]
        args.fixed_case, args.sum_rate_cases = (1000, 10), [(1000, 10)]
        args.miso_case, args.miso_dtypes = (100, 4, 4), [torch.complex64]
        args.student_case = (1000, 10)
        args.min_run_time = args.min_run_time or 0.05
        args.budget = args.budget or 1.0
    else:
        args.cases, args.dtypes = WMMSE_CASES, WMMSE_DTYPES
        args.fixed_case, args.sum_rate_cases = FIXED_CASE, SUM_RATE_CASES
        args.miso_case, args.miso_dtypes = MISO_CASE, MISO_DTYPES
        args.student_case = STUDENT_CASE
        args.min_run_time = args.min_run_time or 1.0
        args.budget = args.budget or 4.0
    return args


def main(argv=None):
    start = time.perf_counter()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    meta = dict(torch_version=torch.__version__, numpy_version=np.__version__,
                pyalgo_version=pyalgo.__version__, git_sha=git_sha(), machine=machine(),
                timestamp=datetime.datetime.now().isoformat(timespec="seconds"))
    load_start = os.getloadavg()[0]
    print(f"{meta['machine']}; torch {meta['torch_version']}; NumPy {meta['numpy_version']}; "
          f"pyalgo {meta['pyalgo_version']} ({meta['git_sha']}); threads {args.threads}; "
          f"sections {args.sections}")
    original_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    rec = Recorder(meta, args.threads)
    warnings = [busy_cores_warning(args.threads)]
    try:
        if "wmmse" in args.sections:
            for i, (B, K) in enumerate(args.cases):
                for dtype in args.dtypes:
                    wmmse_case(rec, args, B, K, dtype, args.seed + i)
        if "fixed" in args.sections:
            fixed_case(rec, args, *args.fixed_case, args.seed)
        if "sum_rate" in args.sections:
            for i, (B, K) in enumerate(args.sum_rate_cases):
                sum_rate_case(rec, args, B, K, args.seed + i)
        if "miso" in args.sections:
            for dtype in args.miso_dtypes:
                miso_case(rec, args, *args.miso_case, dtype, args.seed)
        if "student" in args.sections:
            student_case(rec, args, *args.student_case, args.seed)
        warnings.append(busy_cores_warning(args.threads))
    finally:
        torch.set_num_threads(original_threads)
    warnings = [w for w in warnings if w]

    out = Path(args.out)
    write_csv(out / "wireless.csv", rec.rows, COLUMNS)
    command = "python bench/bench_wireless.py" + ("" if not argv else " " + " ".join(argv))
    load = f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    md = report(rec, args, command, time.perf_counter() - start, load, warnings)
    (out / "wireless.md").write_text(md + "\n")
    print(f"\nwrote {out / 'wireless.csv'} (+{len(rec.rows)} rows) and {out / 'wireless.md'}; "
          f"total {time.perf_counter() - start:.0f} s")
    failed = [r for r in rec.rows if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
