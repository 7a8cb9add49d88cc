"""Benchmark of pyalgo's fused min-min loss (issue 4 §4; shared/specs/ebm_partition.md §5.3).

Forward+backward of the per-example min-min loss (logistic, uniform prior, summed over the batch,
gradients to the energies and τ), and forward alone, for:

- multilabel unary   (B = 256, k = 14,  m = 1000)   — the target case (yeast's 14 labels)
- multilabel pairwise (B = 256, k = 14, m = 1000)
- multilabel unary   (B = 256, k = 100, m = 100)
- permutahedron      (B = 64,  n = 8,   m = 1000)
- Birkhoff           (B = 64,  n = 8,   m = 1000)

Providers: ``pyalgo`` (`pyalgo.energy.minmin_loss` / `minmin_loss_ranking`: sampling, energies,
loss and gradient in one pass) and ``torch`` (what a user writes: draw the (B, m, k) samples with
torch — `torch.randint` bits, `argsort(torch.rand)` permutations — and call the materialised
reference `minmin_loss_ref` / `minmin_loss_ranking_ref`, differentiated by autograd). Both draw
fresh samples in every call. Check before timing: on the *same* samples (`sample_bits` with the
same generator state) pyalgo's loss and gradients equal the reference's to 1e-4 relative.
Peak memory: the most CPU tensor memory allocated at once during one call, from the profiler's
allocation events. Timing targets (reported as PASS / MISS, never asserted): >= 5x faster and
<= 1/10 of the peak memory at the target case.

    python bench/bench_energy.py                 # ~1 min
    python bench/bench_energy.py --quick         # short timings
    python bench/bench_energy.py --threads 1 2
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

import pyalgo  # noqa: E402
from pyalgo.energy import ops  # noqa: E402
from pyalgo.energy import reference as R  # noqa: E402

CASES = [  # name, kind, B, size, m
    ("unary", "bits", 256, 14, 1000),
    ("pairwise", "bits", 256, 14, 1000),
    ("unary", "bits", 256, 100, 100),
    ("permutahedron", "perms", 64, 8, 1000),
    ("birkhoff", "perms", 64, 8, 1000),
]
TARGET = ("unary", 256, 14, 1000)
TARGET_SPEEDUP, TARGET_MEMORY = 5.0, 10.0
PROVIDERS = ["pyalgo", "torch"]
MODES = ["forward", "forward+backward"]
COLUMNS = ["op", "provider", "mode", "shape", "dtype", "device", "threads", "median_ms", "p20_ms", "p80_ms", "runs",
           "peak_mb", "status", "torch_version", "pyalgo_version", "git_sha", "machine", "timestamp"]


def make_inputs(name, kind, B, size, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    tau = torch.randn(B, generator=g)
    if kind == "bits":
        u = torch.randn(B, size, generator=g)
        U = 0.1 * torch.randn(B, size, size, generator=g) if name == "pairwise" else None
        y = torch.randint(0, 2, (B, size), generator=g).float()
        return dict(params=[u] + ([U] if U is not None else []), tau=tau, y=y)
    theta = torch.randn(*((B, size, size) if name == "birkhoff" else (B, size)), generator=g) * 0.3
    y = torch.rand(B, size, generator=g).argsort(1)
    return dict(params=[theta], tau=tau, y=y)


def providers(name, kind, B, size, m, inp):
    """{provider: fn(params, tau, generator) -> loss (B,)}."""
    y = inp["y"]
    if kind == "bits":
        def fused(params, tau, g):
            return ops.minmin_loss(params[0], tau, y, m, pairwise=params[1] if len(params) > 1 else None, generator=g)

        def composite(params, tau, g, samples=None):
            s = torch.randint(0, 2, (B, m, size), generator=g, dtype=torch.uint8) if samples is None else samples
            return R.minmin_loss_ref(params[0], tau, y, s, params[1] if len(params) > 1 else None)
        sampler = lambda g: ops.sample_bits(B, m, size, generator=g)  # noqa: E731
    else:
        def fused(params, tau, g):
            return ops.minmin_loss_ranking(params[0], tau, y, m, generator=g)

        def composite(params, tau, g, samples=None):
            s = torch.rand(B, m, size, generator=g).argsort(-1) if samples is None else samples
            return R.minmin_loss_ranking_ref(params[0], tau, y, s)
        sampler = lambda g: ops.sample_perms(B, m, size, generator=g)  # noqa: E731
    return {"pyalgo": fused, "torch": composite}, sampler


def check(fns, sampler, inp):
    """pyalgo == reference on the same samples (loss and all gradients), relative error."""
    params = [p.clone().requires_grad_(True) for p in inp["params"]]
    tau = inp["tau"].clone().requires_grad_(True)
    a = fns["pyalgo"](params, tau, torch.Generator().manual_seed(1))
    ga = torch.autograd.grad(a.sum(), params + [tau])
    b = fns["torch"](params, tau, None, samples=sampler(torch.Generator().manual_seed(1)))
    gb = torch.autograd.grad(b.sum(), params + [tau])
    return max(((x - z).abs().max() / z.abs().max().clamp_min(1e-12)).item() for x, z in zip((a,) + ga, (b,) + gb))


def call_for(fn, inp, mode, g):
    params = [p.clone().requires_grad_(mode != "forward") for p in inp["params"]]
    tau = inp["tau"].clone().requires_grad_(mode != "forward")
    if mode == "forward":
        def call():
            with torch.no_grad():
                return fn(params, tau, g)
    else:
        def call():
            fn(params, tau, g).sum().backward()
    return call


def run(args):
    meta = dict(torch_version=torch.__version__, pyalgo_version=pyalgo.__version__, git_sha=C.git_sha(),
                machine=C.machine(), timestamp=datetime.datetime.now().isoformat(timespec="seconds"), device="cpu",
                dtype="float32")
    rows, failures = [], []
    for name, kind, B, size, m in CASES:
        inp = make_inputs(name, kind, B, size, m)
        fns, sampler = providers(name, kind, B, size, m, inp)
        err = check(fns, sampler, inp)
        status = "ok" if err < 1e-4 else f"check failed (rel err {err:.2e})"
        if status != "ok":
            failures.append(f"{name} {B}x{size}x{m}: {status}")
        shape = f"B={B},{'k' if kind == 'bits' else 'n'}={size},m={m}"
        for threads in args.threads:
            for provider in PROVIDERS:
                for mode in MODES:
                    call = call_for(fns[provider], inp, mode, torch.Generator().manual_seed(2))
                    call()
                    med, p20, p80, runs = C.measure(call, threads, args.min_run_time)
                    peak = C.peak_cpu_bytes(call) / 2**20
                    rows.append(dict(meta, op=name, provider=provider, mode=mode, shape=shape, threads=threads,
                                     median_ms=f"{med:.4f}", p20_ms=f"{p20:.4f}", p80_ms=f"{p80:.4f}", runs=runs,
                                     peak_mb=f"{peak:.3f}", status=status))
                    print(f"  {name:13s} {shape:22s} {provider:6s} {mode:16s} threads={threads} "
                          f"{med:9.3f} ms  peak {peak:8.2f} MB", flush=True)
    return rows, failures


def lookup(rows, **keys):
    for r in rows:
        if all(str(r[k]) == str(v) for k, v in keys.items()):
            return r
    return None


def report(rows, args, failures, runtime_s):
    header = ["case", "shape", "threads", "mode", "pyalgo ms", "torch ms", "speed-up", "pyalgo peak MB",
              "torch peak MB", "memory ratio"]
    table = []
    for name, kind, B, size, m in CASES:
        shape = f"B={B},{'k' if kind == 'bits' else 'n'}={size},m={m}"
        for threads in args.threads:
            for mode in MODES:
                a = lookup(rows, op=name, shape=shape, threads=threads, mode=mode, provider="pyalgo")
                b = lookup(rows, op=name, shape=shape, threads=threads, mode=mode, provider="torch")
                ta, tb = float(a["median_ms"]), float(b["median_ms"])
                ma, mb = float(a["peak_mb"]), float(b["peak_mb"])
                table.append([name, shape, threads, mode, f"{ta:.3f}", f"{tb:.3f}", f"{tb / ta:.1f}x",
                              f"{ma:.3f}", f"{mb:.2f}", f"1/{mb / max(ma, 1e-6):.0f}"])
    targets = []
    for threads in args.threads:
        shape = f"B={TARGET[1]},k={TARGET[2]},m={TARGET[3]}"
        a = lookup(rows, op=TARGET[0], shape=shape, threads=threads, mode="forward+backward", provider="pyalgo")
        b = lookup(rows, op=TARGET[0], shape=shape, threads=threads, mode="forward+backward", provider="torch")
        speed = float(b["median_ms"]) / float(a["median_ms"])
        mem = float(b["peak_mb"]) / max(float(a["peak_mb"]), 1e-6)
        targets.append([f"speed-up, {shape}, {threads} thr", f">= {TARGET_SPEEDUP:g}x", f"{speed:.1f}x",
                        "PASS" if speed >= TARGET_SPEEDUP else "MISS"])
        targets.append([f"peak memory, {shape}, {threads} thr", f"<= 1/{TARGET_MEMORY:g}", f"1/{mem:.0f}",
                        "PASS" if mem >= TARGET_MEMORY else "MISS"])
    command = "python bench/bench_energy.py " + " ".join(args.argv)
    print("\n" + C.text_table(header, table) + "\n\n" + C.text_table(["target", "goal", "measured", "verdict"], targets))
    md = ["# Energy benchmark (min-min loss, float32, CPU)\n",
          f"`{command.strip()}` — {rows[0]['machine']}, torch {torch.__version__}, pyalgo {pyalgo.__version__} "
          f"({rows[0]['git_sha']}), {platform.python_version()}, {runtime_s:.0f} s.\n",
          "Forward+backward = loss summed over the batch, gradients to the energies and τ. `torch` draws the "
          "samples with torch and differentiates the materialised reference; both sample afresh each call. "
          "Peak MB = most CPU tensor memory allocated at once during one call (profiler events).\n",
          C.md_table(header, table), "\n", C.md_table(["target", "goal", "measured", "verdict"], targets), "\n"]
    C.write_outputs(args.out, "energy", md, rows, COLUMNS, failures)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short timings")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1 and all cores)")
    p.add_argument("--out", default=str(C.ROOT / "bench" / "results"))
    args = p.parse_args(argv)
    args.argv = list(argv)
    if args.threads is None:
        args.threads = sorted({1, torch.get_num_threads()})
    args.min_run_time = 0.2 if args.quick else 1.0
    return args


def main(argv=None):
    return C.run_main(argv, parse_args, run, report)


if __name__ == "__main__":
    sys.exit(main())
