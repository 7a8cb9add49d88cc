"""Benchmark of pyalgo's fused categorical gradient estimators (shared/specs/reinmax.md §5).

For each estimator, shape and thread count, every provider runs on the same logits and the same
upstream gradient:

- ``pyalgo``: the fused op (`pyalgo.reinmax`, `pyalgo.straight_through`, ...);
- ``reference``: the pure-torch reference of `pyalgo.discrete.reference`;
- ``torch.compile(reference)``: the reference compiled by inductor (compiled again for each shape
  and thread count, because inductor bakes the thread count into its C++ kernels), warmed up
  before timing;
- what a user would pick instead: the `reinmax` package (ReinMax), ``F.gumbel_softmax`` (ST-GS and
  GS), ``OneHotCategoricalStraightThrough`` (ST, which is the same estimator at tau = 1).

Modes: ``forward`` (logits require grad, as in training), ``backward`` (only
``torch.autograd.grad`` on a retained graph) and ``forward+backward``. The upstream gradient goes
to the hard sample only (ReinMax's y_soft gets none, the usual decoder-input use).

Outputs are checked before timing (one-hot / simplex rows of the right shape, finite gradients;
for ReinMax the fused backward on the fused sample must equal the `reinmax` package's backward on
the same sample to 1e-4, for ST the fused gradient must equal OneHotCategoricalStraightThrough's).
That first full call per provider also warms up (compiles) and times each mode once: a mode whose
call took longer than ``--budget`` seconds is not timed ("skipped (one call took X s)"), except
for the calls that the targets need (10x the budget). Above
``--probe-numel`` elements, a call is first extrapolated from a slice of rows and not even started
when estimated at more than 10x the budget (GR-MCK's reference at K = 100 would need ~27 GB at
65536x1024). Results: a ratio table on stdout (provider time / pyalgo time, > 1 means pyalgo
is faster), CSV rows appended to ``<out>/discrete.csv`` and a Markdown summary ``<out>/discrete.md``.

    python bench/bench_discrete.py                   # full run (~10 min on 2 cores)
    python bench/bench_discrete.py --quick           # one small shape, no torch.compile (< 1 min)
    python bench/bench_discrete.py --shapes 4096x64 --threads 2 --estimators reinmax st_gs
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions import OneHotCategoricalStraightThrough
from torch.utils import benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_sha, machine, md_table, mode_call, shape_str, text_table, write_csv  # noqa: E402

import pyalgo
from pyalgo.discrete import reference as ref

try:
    import reinmax as reinmax_package
    from reinmax.reinmax import ReinMax_Auto
except ImportError:  # the comparison needs `pip install reinmax==0.1.0` (extra "bench")
    reinmax_package = None

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [(3000, 10), (4096, 64), (65536, 1024)]
THREADS = [1, 2]
MODES = ["forward", "backward", "forward+backward"]
TAU = 1.0        # tau = 1 everywhere: OneHotCategoricalStraightThrough is ST at tau = 1 only
GAP = 1.0        # GST-1.0
GR_K = 100       # GR-MCK with K = 100, the paper code's default
COMPILED = "torch.compile(reference)"
COLUMNS = ["op", "provider", "mode", "shape", "dtype", "device", "threads", "median_ms", "p20_ms",
           "p80_ms", "runs", "status", "params", "torch_version", "pyalgo_version", "git_sha",
           "machine", "timestamp"]
# (estimator, competitor, shape, minimum speed-up of pyalgo) for forward+backward at 2 threads.
TARGETS = [
    ("reinmax", "reinmax package", (3000, 10), 15.0),
    ("reinmax", "reinmax package", (4096, 64), 8.0),
    ("reinmax", "reinmax package", (65536, 1024), 6.0),
    ("st_gs", "F.gumbel_softmax(hard=True)", (4096, 64), 5.0),
]
BANDWIDTH_TARGET, BANDWIDTH_SHAPE = 0.5, (65536, 1024)  # pyalgo ReinMax: >= 50 % of copy bandwidth


# ---- estimators and providers ------------------------------------------------------------------
# Each provider is a function logits -> the tensor that receives the upstream gradient.

def _reinmax_package(x):
    return reinmax_package.reinmax(x, TAU)[0]


def estimators():
    """{key: (description, params, {provider: fn})}; "reference" is the one torch.compile'd."""
    table = {
        "reinmax": ("ReinMax", f"tau={TAU}", {
            "pyalgo": lambda x: pyalgo.reinmax(x, TAU)[0],
            "reference": lambda x: ref.reinmax_ref(x, TAU)[0],
            "reinmax package": _reinmax_package,
        }),
        "st": ("straight-through", f"tau={TAU}", {
            "pyalgo": lambda x: pyalgo.straight_through(x, TAU),
            "reference": lambda x: ref.straight_through_ref(x, TAU),
            "OneHotCategoricalStraightThrough":
                lambda x: OneHotCategoricalStraightThrough(logits=x).rsample(),
        }),
        "st_gs": ("ST-Gumbel-softmax (hard)", f"tau={TAU}", {
            "pyalgo": lambda x: pyalgo.gumbel_softmax(x, TAU, hard=True),
            "reference": lambda x: ref.gumbel_softmax_ref(x, TAU, hard=True),
            "F.gumbel_softmax(hard=True)": lambda x: F.gumbel_softmax(x, TAU, hard=True),
        }),
        "gs": ("Gumbel-softmax (soft)", f"tau={TAU}", {
            "pyalgo": lambda x: pyalgo.gumbel_softmax(x, TAU, hard=False),
            "reference": lambda x: ref.gumbel_softmax_ref(x, TAU, hard=False),
            "F.gumbel_softmax(hard=False)": lambda x: F.gumbel_softmax(x, TAU, hard=False),
        }),
        "gst": ("GST-1.0", f"tau={TAU},gap={GAP}", {
            "pyalgo": lambda x: pyalgo.gst(x, TAU, gap=GAP),
            "reference": lambda x: ref.gst_ref(x, TAU, GAP),
        }),
        "gr_mck": (f"GR-MCK (K={GR_K})", f"tau={TAU},k={GR_K}", {
            "pyalgo": lambda x: pyalgo.gumbel_rao(x, TAU, k=GR_K),
            "reference": lambda x: ref.gumbel_rao_ref(x, TAU, GR_K),
        }),
    }
    if reinmax_package is None:
        del table["reinmax"][2]["reinmax package"]
    return table


def compile_reference(fn):
    """A fresh inductor compilation (dynamo's cache does not key on the thread count).

    Donated buffers are turned off: they free saved tensors during backward, which forbids the
    retained graph that the backward-only timing needs."""
    torch._dynamo.reset()
    torch._functorch.config.donated_buffer = False
    return torch.compile(fn, dynamic=False)


# ---- one case: shared inputs, checks ----------------------------------------------------------

def make_case(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=gen).requires_grad_()
    grad = torch.randn(shape, generator=gen)
    return logits, grad


def check_output(key, y, shape):
    """Problems with a forward output: shape, and one-hot (hard) or simplex (soft) rows."""
    if tuple(y.shape) != tuple(shape):
        return f"output shape {tuple(y.shape)} != {tuple(shape)}"
    y = y.detach()
    if not torch.isfinite(y).all():
        return "non-finite output"
    if key == "gs":
        if (y < 0).any() or (y.sum(-1) - 1).abs().max() > 1e-4:
            return "soft output rows are not on the simplex"
        return None
    hard = y.round()
    if (y - hard).abs().max() > 1e-5 or ((hard != 0) & (hard != 1)).any() or (hard.sum(-1) != 1).any():
        return "output rows are not one-hot"
    return None


def check_grad(grad, shape):
    if grad is None or tuple(grad.shape) != tuple(shape):
        return "gradient missing or of the wrong shape"
    if not torch.isfinite(grad).all():
        return "non-finite gradient"
    if grad.abs().max() == 0:
        return "gradient is all zero"
    return None


def check_reinmax_vs_package(logits, g):
    """The fused backward on the fused sample vs the package's backward on the same sample."""
    if reinmax_package is None:
        return None
    x = logits.detach()
    y_hard, _ = pyalgo.reinmax(x, TAU)
    index = y_hard.argmax(-1).to(torch.int32)
    ours = torch.ops.pyalgo.reinmax_backward(x, index, g, None, TAU, -1)
    ctx = SimpleNamespace(saved_tensors=(y_hard, x, x.softmax(-1), torch.tensor([TAU])))
    theirs, _ = ReinMax_Auto.backward(ctx, g, torch.zeros_like(g))
    err = (ours - theirs).abs().max().item()
    return None if err <= 1e-4 else f"fused backward differs from the reinmax package by {err:.2e}"


def check_st_vs_torch(logits, g):
    """ST's gradient does not depend on the sample: compare with OneHotCategoricalStraightThrough."""
    ours, = torch.autograd.grad(pyalgo.straight_through(logits, TAU), logits, g)
    theirs, = torch.autograd.grad(OneHotCategoricalStraightThrough(logits=logits).rsample(), logits, g)
    err = (ours - theirs).abs().max().item()
    return None if err <= 1e-4 else f"gradient differs from OneHotCategoricalStraightThrough by {err:.2e}"


# ---- timing -----------------------------------------------------------------------------------

def measure(call, threads, min_run_time):
    """(median, p20, p80) in ms and the number of measured blocks."""
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_run_time)
    times = np.asarray(m.times) * 1e3
    return m.median * 1e3, np.percentile(times, 20), np.percentile(times, 80), len(times)


def slice_estimate(fn, logits, g, mode, limit):
    """Seconds of one full call, extrapolated from a call on 1/256 of the rows, or on 1/32 when
    that says > `limit` but the slice call was short (on busy cores a short call can be mostly
    fixed costs). Each slice is timed twice, keeping the faster (the first call of a kind can
    pay a one-off initialisation). Only used to avoid starting calls that would take minutes
    or exhaust memory (GR-MCK's reference at K=100 would need ~27 GB at 65536x1024)."""
    n = logits.shape[0]
    for fraction in (256, 32):
        rows = max(1, n // fraction)
        x = logits.detach()[:rows].clone().requires_grad_()
        best = float("inf")
        for _ in range(2):
            call = mode_call(fn, x, g[:rows], mode)
            begin = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - begin)
        estimate = best * n / rows
        if estimate <= limit or best >= 1.0:
            break
    return estimate


def warm_up(key, fn, logits, g, shape, modes):
    """One full call (forward, then backward if "forward+backward" is in `modes`), checked.
    Returns ({mode: seconds}, problem or None)."""
    begin = time.perf_counter()
    y = fn(logits)
    seconds = {"forward": time.perf_counter() - begin}
    problem = check_output(key, y, shape)
    if "forward+backward" in modes:
        begin = time.perf_counter()
        grad = torch.autograd.grad(y, logits, g)[0]
        seconds["backward"] = time.perf_counter() - begin
        seconds["forward+backward"] = seconds["forward"] + seconds["backward"]
        problem = problem or check_grad(grad, shape)
    return seconds, problem


# ---- environment / output ---------------------------------------------------------------------

def parse_shape(text):
    try:
        return tuple(int(s) for s in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like 4096x64, got {text!r}")


# ---- the run ----------------------------------------------------------------------------------

def run_case(key, shape, threads, providers, params, args, meta, results, log):
    """Checks and times every provider of one (estimator, shape, threads) case."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    logits, g = make_case(shape)

    case_problem = None
    if key == "reinmax":
        case_problem = check_reinmax_vs_package(logits, g)
    elif key == "st" and "OneHotCategoricalStraightThrough" in providers:
        case_problem = check_st_vs_torch(logits, g)
    if case_problem:
        log(f"  CHECK FAILED ({key} {shape_str(shape)}): {case_problem}")

    too_slow = {}  # mode -> status, from the reference's slice estimates; reused when compiled
    for name, fn in providers.items():
        label = f"  {key:8s} {shape_str(shape):>11s} t={threads} {name:34s}"
        # The calls that a target needs are timed unless catastrophic.
        in_target = any(key == k and shape == s and name in ("pyalgo", other)
                        for k, other, s, _ in TARGETS)
        budget = 10 * args.budget if in_target else args.budget
        # 1. Calls that would take far too long (or too much memory): skip without starting them.
        status = {}
        if name == COMPILED:
            status = dict(too_slow)  # a slice would cost a compilation of its own
        elif logits.numel() > args.probe_numel:
            for mode in ("forward+backward", "forward"):
                seconds = slice_estimate(fn, logits, g, mode, 10 * args.budget)
                if seconds > 10 * args.budget:
                    status[mode] = f"skipped (est. {seconds:.1f} s)"
            if "forward+backward" in status:
                status["backward"] = status["forward+backward"]
            if name == "reference":
                too_slow = dict(status)

        # 2. One full call: checks the outputs, warms up (compiles), and times each mode once.
        problem = case_problem if name == "pyalgo" else None
        todo = [m for m in MODES if m not in status]
        try:
            if "forward" in todo:
                begin = time.perf_counter()
                seconds, problem_here = warm_up(key, fn, logits, g, shape, todo)
                if name == COMPILED:
                    log(f"{label} compiled and checked in {time.perf_counter() - begin:.1f} s")
                    seconds, _ = warm_up(key, fn, logits, g, shape, todo)
                problem = problem or problem_here
                for mode, t in seconds.items():
                    if t > budget:
                        status[mode] = f"skipped (one call took {t:.1f} s)"
        except Exception as exc:  # noqa: BLE001  (a failing provider is recorded, not fatal)
            for mode in MODES:
                status.setdefault(mode, f"failed: {type(exc).__name__}: {str(exc)[:120]}")
        if problem and problem != case_problem:
            log(f"  CHECK FAILED ({key} {shape_str(shape)} {name}): {problem}")

        # 3. Time what is left.
        for mode in MODES:
            row = dict(meta, op=key, provider=name, mode=mode, shape=shape_str(shape),
                       threads=threads, params=params, median_ms="", p20_ms="", p80_ms="", runs=0,
                       status=status.get(mode, f"CHECK FAILED: {problem}" if problem else "ok"))
            if mode not in status:
                try:
                    median, p20, p80, runs = measure(mode_call(fn, logits, g, mode), threads,
                                                     args.min_run_time)
                    row.update(median_ms=f"{median:.6g}", p20_ms=f"{p20:.6g}", p80_ms=f"{p80:.6g}",
                               runs=runs)
                except Exception as exc:  # noqa: BLE001
                    row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            if row["median_ms"]:
                log(f"{label} {mode:17s} {float(row['median_ms']):10.4f} ms  "
                    f"[{float(row['p20_ms']):.4f}, {float(row['p80_ms']):.4f}]  {row['status']}")
            else:
                log(f"{label} {mode:17s} {row['status']}")
            results.append(row)


def copy_bandwidth(shapes, threads_list, min_run_time, meta):
    """Rows timing dst.copy_(src) with src+dst = 3 N·C·4 bytes + 4 N (pyalgo ReinMax's minimum)."""
    rows = []
    for shape in shapes:
        n, c = shape
        half = (3 * n * c * 4 + 4 * n) // 2 // 4
        src, dst = torch.randn(half), torch.empty(half)
        for threads in threads_list:
            torch.set_num_threads(threads)
            median, p20, p80, runs = measure(lambda: dst.copy_(src), threads, min_run_time)
            rows.append(dict(meta, op="copy_", provider="torch", mode="copy", shape=shape_str(shape),
                             threads=threads, params=f"bytes={2 * half * 4}", median_ms=f"{median:.6g}",
                             p20_ms=f"{p20:.6g}", p80_ms=f"{p80:.6g}", runs=runs, status="ok"))
    return rows


def busy_cores_warning(threads_list):
    """A warning when parallel regions stall: with another process on a core, an OpenMP region
    waits for a descheduled thread (~8 ms on these VMs), which swamps multi-thread timings."""
    src, dst = torch.randn(1 << 18), torch.empty(1 << 18)  # 1 MB
    times = {}
    for threads in sorted({1, *threads_list}):
        torch.set_num_threads(threads)
        times[threads] = measure(lambda: dst.copy_(src), threads, 0.1)[0]
    slow = [t for t in times if t > 1 and times[t] > 4 * times[1] and times[t] > 0.5]
    if not slow:
        return None
    return (f"cores busy at {datetime.datetime.now():%H:%M:%S}: a 1 MB copy takes "
            + ", ".join(f"{times[t]:.3f} ms on {t} threads" for t in times)
            + f" (1-min load average {os.getloadavg()[0]:.1f}); timings with more than one thread "
            "are dominated by scheduling stalls")


def reinmax_bytes(shape):
    """Minimum bytes of pyalgo ReinMax, fp32. Forward: read logits, write y_hard, y_soft and the
    int32 index. Backward: read logits, the index and the gradient, write grad_logits."""
    n, c = shape
    return 3 * n * c * 4 + 4 * n


# ---- report -----------------------------------------------------------------------------------

def lookup(results, **keys):
    for row in results:
        if all(str(row[k]) == str(v) for k, v in keys.items()):
            return row
    return None


def ms(row):
    return float(row["median_ms"]) if row and row["median_ms"] != "" else None


def ratio_tables(results, table, shapes, threads_list):
    """{key: (title, header, rows)} of pyalgo ms and provider / pyalgo ratios."""
    out = {}
    for key, (desc, params, providers) in table.items():
        names = [p for p in providers if p != "pyalgo"]
        if any(r["op"] == key and r["provider"] == COMPILED for r in results):
            names.insert(1, COMPILED)
        header = ["shape", "threads", "mode", "pyalgo ms"] + names
        rows = []
        for shape in shapes:
            for threads in threads_list:
                for mode in MODES:
                    base = lookup(results, op=key, provider="pyalgo", mode=mode,
                                  shape=shape_str(shape), threads=threads)
                    if base is None:
                        continue
                    cells = [shape_str(shape), str(threads), mode,
                             f"{ms(base):.4g}" if ms(base) else "skipped"]
                    for name in names:
                        row = lookup(results, op=key, provider=name, mode=mode,
                                     shape=shape_str(shape), threads=threads)
                        if ms(row) is None or ms(base) is None:
                            cells.append("skipped" if row and row["status"].startswith("skipped")
                                         else "n/a" if row is None or ms(base) is None else "failed")
                        else:
                            cells.append(f"{ms(row) / ms(base):.2f}x"
                                         + ("!" if row["status"] != "ok" else ""))
                    if base["status"] != "ok" and ms(base) is not None:
                        cells[3] += "!"
                    rows.append(cells)
        out[key] = (f"{desc} ({params})", header, rows)
    return out


def target_rows(results, threads_list):
    threads = 2 if 2 in threads_list else max(threads_list)
    rows = []
    for key, competitor, shape, goal in TARGETS:
        base = lookup(results, op=key, provider="pyalgo", mode="forward+backward",
                      shape=shape_str(shape), threads=threads)
        other = lookup(results, op=key, provider=competitor, mode="forward+backward",
                       shape=shape_str(shape), threads=threads)
        name = f"{key} fwd+bwd vs {competitor} at {shape_str(shape)}, threads={threads}"
        if ms(base) is None or ms(other) is None:
            rows.append([name, f">= {goal:g}x", "not run", "n/a"])
        else:
            speedup = ms(other) / ms(base)
            rows.append([name, f">= {goal:g}x", f"{speedup:.2f}x", "PASS" if speedup >= goal else "MISS"])
    return rows


def bandwidth_rows(results, shapes, threads_list):
    rows = []
    for shape in shapes:
        nbytes = reinmax_bytes(shape)
        for threads in threads_list:
            copy = lookup(results, op="copy_", shape=shape_str(shape), threads=threads)
            copy_gbs = nbytes / (ms(copy) * 1e-3) / 1e9 if ms(copy) else None
            for mode in ("forward", "backward"):
                row = lookup(results, op="reinmax", provider="pyalgo", mode=mode,
                             shape=shape_str(shape), threads=threads)
                if ms(row) is None or copy_gbs is None:
                    continue
                gbs = nbytes / (ms(row) * 1e-3) / 1e9
                frac = gbs / copy_gbs
                verdict = ""
                if shape == BANDWIDTH_SHAPE:
                    verdict = "PASS" if frac >= BANDWIDTH_TARGET else "MISS"
                rows.append([shape_str(shape), str(threads), mode, f"{nbytes / 1e6:.1f}",
                             f"{ms(row):.4g}", f"{gbs:.1f}", f"{copy_gbs:.1f}", f"{100 * frac:.0f}%",
                             verdict])
    return rows


BANDWIDTH_HEADER = ["shape", "threads", "mode", "MB moved", "ms", "GB/s", "copy GB/s",
                    "% of copy", f"target >= {100 * BANDWIDTH_TARGET:.0f}% at {shape_str(BANDWIDTH_SHAPE)}"]
TARGET_HEADER = ["target", "goal", "measured", "verdict"]


def report(results, table, shapes, threads_list, meta, command, runtime_s, load, warnings):
    ratios = ratio_tables(results, table, shapes, threads_list)
    targets = target_rows(results, threads_list)
    bandwidth = bandwidth_rows(results, shapes, threads_list)
    skipped = [r for r in results if r["status"].startswith(("skipped", "failed", "CHECK"))]

    print("\nRatios: provider time / pyalgo time (> 1 means pyalgo is faster; ! = check failed)")
    for title, header, rows in ratios.values():
        print(f"\n== {title}\n{text_table(header, rows)}")
    print(f"\nTargets (forward+backward)\n{text_table(TARGET_HEADER, targets)}")
    for w in warnings:
        print(f"\nWARNING: {w}")
    if bandwidth:
        print(f"\nBandwidth of pyalgo ReinMax vs dst.copy_(src) of the same bytes\n"
              f"{text_table(BANDWIDTH_HEADER, bandwidth)}")

    md = ["# Discrete estimators benchmark\n",
          f"- Machine: {meta['machine']}; device {meta['device']}, dtype {meta['dtype']}",
          f"- torch {meta['torch_version']}, pyalgo {meta['pyalgo_version']}, git {meta['git_sha']}, "
          f"{meta['timestamp']}",
          f"- Command: `{command}` ({runtime_s:.0f} s; 1-min load average {load})",
          "- Cells: time of the provider / time of pyalgo (median of "
          "`torch.utils.benchmark.Timer.blocked_autorange`); > 1 means pyalgo is faster. "
          "The upstream gradient goes to the hard sample only. `!` = a correctness check failed.\n",
          *[f"- **Warning:** {w}" for w in warnings],
          "\n## Targets\n", md_table(TARGET_HEADER, targets), ""]
    if bandwidth:
        md += ["## Bandwidth (pyalgo ReinMax vs `dst.copy_(src)` of the same bytes)\n",
               md_table(BANDWIDTH_HEADER, bandwidth), ""]
    for title, header, rows in ratios.values():
        md += [f"## {title}\n", md_table(header, rows), ""]
    if skipped:
        md += ["## Skipped or failed\n",
               md_table(["op", "provider", "mode", "shape", "threads", "status"],
                        [[r["op"], r["provider"], r["mode"], r["shape"], r["threads"], r["status"]]
                         for r in skipped]), ""]
    return "\n".join(md)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench_discrete", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="one small shape, 1 thread, no torch.compile, tiny min_run_time (for tests)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    p.add_argument("--shapes", nargs="+", type=parse_shape, default=None,
                   help="shapes NxC (default 3000x10 4096x64 65536x1024)")
    p.add_argument("--estimators", nargs="+", default=None,
                   help="subset of: reinmax st st_gs gs gst gr_mck (default all)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                   help="folder for discrete.csv and discrete.md")
    p.add_argument("--min-run-time", type=float, default=None,
                   help="seconds per blocked_autorange (default 0.3; 0.01 with --quick)")
    p.add_argument("--budget", type=float, default=3.0,
                   help="skip timing a call that takes longer than this many seconds")
    p.add_argument("--probe-numel", type=int, default=1 << 22,
                   help="above this many elements, first extrapolate a call's time from a slice of "
                        "rows and skip calls estimated at > 10x the budget without starting them")
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile(reference)")
    args = p.parse_args(argv)
    if args.quick:
        args.shapes = args.shapes or [(3000, 10)]
        args.threads = args.threads or "1"
        args.min_run_time = args.min_run_time or 0.01
        args.no_compile = True
    args.shapes = args.shapes or SHAPES
    args.threads = [int(t) for t in (args.threads or ",".join(map(str, THREADS))).split(",")]
    args.min_run_time = args.min_run_time or 0.3
    return args


def main(argv=None):
    start = time.perf_counter()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    table = estimators()
    if args.estimators:
        unknown = set(args.estimators) - set(table)
        if unknown:
            raise SystemExit(f"unknown estimators {sorted(unknown)}; choose from {sorted(table)}")
        table = {k: v for k, v in table.items() if k in args.estimators}
    if reinmax_package is None:
        print("note: the `reinmax` package is not installed; ReinMax is compared with the reference only")

    meta = dict(dtype="float32", device="cpu", torch_version=torch.__version__,
                pyalgo_version=pyalgo.__version__, git_sha=git_sha(), machine=machine(),
                timestamp=datetime.datetime.now().isoformat(timespec="seconds"))
    load_start = os.getloadavg()[0]
    print(f"{meta['machine']}; torch {meta['torch_version']}; pyalgo {meta['pyalgo_version']} "
          f"({meta['git_sha']}); shapes {[shape_str(s) for s in args.shapes]}; threads {args.threads}")
    log = lambda text: print(text, flush=True)  # noqa: E731
    original_threads = torch.get_num_threads()
    results = []
    warnings = [busy_cores_warning(args.threads)]
    if warnings[0]:
        print("WARNING: " + warnings[0])
    try:
        for shape in args.shapes:
            shape_start = time.perf_counter()
            for key, (_, params, providers) in table.items():
                for threads in args.threads:
                    torch.set_num_threads(threads)
                    case_providers = dict(providers)
                    if not args.no_compile:
                        case_providers[COMPILED] = compile_reference(providers["reference"])
                    run_case(key, shape, threads, case_providers, params, args, meta, results, log)
            log(f"== {shape_str(shape)} done in {time.perf_counter() - shape_start:.0f} s")
        if "reinmax" in table:
            results += copy_bandwidth(args.shapes, args.threads, args.min_run_time, meta)
        warnings.append(busy_cores_warning(args.threads))
    finally:
        torch.set_num_threads(original_threads)
    warnings = [w for w in warnings if w]

    out = Path(args.out)
    write_csv(out / "discrete.csv", results, COLUMNS)
    command = "python bench/bench_discrete.py" + ("" if not argv else " " + " ".join(argv))
    load = f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    md = report(results, table, args.shapes, args.threads, meta, command, time.perf_counter() - start,
                load, warnings)
    (out / "discrete.md").write_text(md + "\n")
    print(f"\nwrote {out / 'discrete.csv'} (+{len(results)} rows) and {out / 'discrete.md'}; "
          f"total {time.perf_counter() - start:.0f} s")
    failed = [r for r in results if r["status"].startswith("CHECK")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
