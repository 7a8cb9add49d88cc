"""Benchmark of pyalgo's multi-task loss weighting (issue §4 Performance; shared/specs/go4align.md §1.5, §3.3).

Per-step cost of every weighting method relative to linear scalarisation (LS) for M = 3, 11, 40 tasks
on a small shared network: an MLP trunk 64 -> 256 -> 256 (ReLU) and one Linear(256, M) head (column m
is task m), per-task MSE losses (M,) on one fixed random batch of 256 (float32, CPU). One training step
= zero_grad, forward, losses, `method.backward(losses, shared_parameters=trunk,
task_specific_parameters=head)`, Adam `optimizer.step()` and, for FAMO, its second no-grad forward on
the same batch followed by `method.update(new_losses)` (part of FAMO's cost, so it is timed). Every
provider starts from the same initial network (a copy), the same batch and the same optimizer settings
(Adam, lr 1e-4; UW's `parameters()` added to it); the network keeps training while it is timed.

Providers: ``ls`` (the baseline), ``go4align`` (num_groups K = 2, beta 1e-4), ``go4align(K=5)`` (the
paper's QM9 choice, K = min(5, M)), ``si``, ``rlw``, ``dwa``, ``uw``, ``famo``, ``mgda``, ``pcgrad``,
``cagrad`` (RLW / PCGrad with a seeded `torch.Generator`). Gradient methods (MGDA, PCGrad, CAGrad) take
M per-task gradients and are expected to be much slower: reported, not judged. Also ``weights only``:
just `method.get_weighted_loss` on a detached (M,) loss vector for ``ls`` and ``go4align`` — the
absolute per-step overhead of GO4Align's weighting in µs, and "est. ratio" = 1 + that overhead / LS's
step time (an estimate of the ratio that step-to-step noise does not blur).

Checks before timing: for each method one step runs and leaves finite parameters; GO4Align's weights
for the spec's worked example (L = [1, 2, 4], K = 2, beta = 0) equal [0.7778, 0.2917, 0.2917].
Timing: `Timer.blocked_autorange` (`_common.measure`) at explicit thread counts, in ``--rounds``
interleaved rounds (all providers of a case in turn, the order reversed every other round, each round
min_run_time / rounds long) so that drift and a neighbour's load hit every provider alike; median, p20
and p80 are the medians over the rounds of each round's block statistics; the ratio to LS is paired:
the median over rounds of (provider / LS in the same round), per case and thread count. Target
"GO4Align <= 1.03x LS" (paper: 1.01-1.02x) reported PASS / MISS per case, never asserted. Results:
tables on stdout, CSV rows appended to ``<out>/multitask.csv`` and a Markdown summary
``<out>/multitask.md``. Exit status 1 when a check failed.

    python bench/bench_multitask.py                 # full run (~2-3 min on 2 cores)
    python bench/bench_multitask.py --quick         # short timings
    python bench/bench_multitask.py --threads 1 --rounds 6 --out /tmp/results
"""
from __future__ import annotations

import argparse
import copy
import datetime
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

import pyalgo  # noqa: E402
from pyalgo.multitask import reference as R  # noqa: E402
from pyalgo.multitask import weighting as W  # noqa: E402
from pyalgo.multitask.kmeans import kmeans_1d_lloyd  # noqa: E402
from pyalgo.multitask.ops import kmeans_1d  # noqa: E402

# the small shared network and batch (module constants: the test shrinks them)
IN_DIM, HIDDEN, BATCH = 64, 256, 256
CASES = [3, 11, 40]          # numbers of tasks M
LR = 1e-4
TARGET = 1.03                # GO4Align step time <= 1.03x LS
PROVIDERS = ["ls", "go4align", "go4align(K=5)", "si", "rlw", "dwa", "uw", "famo", "mgda", "pcgrad", "cagrad"]
GO4ALIGN_PROVIDERS = ["go4align", "go4align(K=5)"]
WEIGHT_PROVIDERS = ["ls", "go4align"]     # weights only
EXAMPLE = ([1.0, 2.0, 4.0], 2, 0.0, [0.7778, 0.2917, 0.2917])   # losses, K, beta, weights (spec §1)
COLUMNS = ["op", "provider", "shape", "dtype", "device", "threads", "median_ms", "p20_ms", "p80_ms", "runs",
           "ratio_vs_ls", "status", "torch_version", "pyalgo_version", "git_sha", "machine", "timestamp"]


class Net(torch.nn.Module):
    """Shared trunk IN_DIM -> HIDDEN -> HIDDEN (ReLU) and one Linear(HIDDEN, M) head, one column per task."""

    def __init__(self, n_tasks):
        super().__init__()
        self.trunk = torch.nn.Sequential(torch.nn.Linear(IN_DIM, HIDDEN), torch.nn.ReLU(),
                                         torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU())
        self.head = torch.nn.Linear(HIDDEN, n_tasks)

    def forward(self, x):
        return self.head(self.trunk(x))


def make_setup(M, seed=0):
    """The case's network (initial weights), batch and targets, shared by every provider."""
    torch.manual_seed(seed)
    net = Net(M)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, IN_DIM, generator=g)
    y = torch.randn(BATCH, M, generator=g)
    return net, x, y


def make_method(provider, M):
    if provider == "go4align":
        return W.create("go4align", M, num_groups=min(2, M))
    if provider == "go4align(K=5)":
        return W.create("go4align", M, num_groups=min(5, M))
    if provider in ("rlw", "pcgrad"):
        return W.create(provider, M, generator=torch.Generator().manual_seed(0))
    return W.create(provider, M)


def task_losses(net, x, y):
    return ((net(x) - y) ** 2).mean(0)          # (M,) per-task MSE


def make_step(provider, setup):
    """(step(), net, method): one training step of `provider` on its own copy of the case's network."""
    base, x, y = setup
    M = y.shape[1]
    net = copy.deepcopy(base)
    method = make_method(provider, M)
    shared, heads = list(net.trunk.parameters()), list(net.head.parameters())
    opt = torch.optim.Adam(list(net.parameters()) + list(method.parameters()), lr=LR)
    famo = provider == "famo"

    def step():
        opt.zero_grad(set_to_none=True)
        losses = task_losses(net, x, y)
        method.backward(losses, shared_parameters=shared, task_specific_parameters=heads)
        opt.step()
        if famo:
            with torch.no_grad():
                method.update(task_losses(net, x, y))
    return step, net, method


def make_weights_call(provider, M):
    """method.get_weighted_loss on a fixed detached (M,) loss vector."""
    method = make_method(provider, M)
    losses = torch.rand(M, generator=torch.Generator().manual_seed(3)) + 0.5
    return lambda: method.get_weighted_loss(losses)


def check_step(provider, setup):
    """'ok' when one step runs and every parameter (network and method) is finite afterwards."""
    try:
        step, net, method = make_step(provider, setup)
        step()
        params = list(net.parameters()) + list(method.parameters())
        if provider == "famo":
            params.append(method.w)
        bad = [i for i, p in enumerate(params) if not bool(torch.isfinite(p).all())]
        return "ok" if not bad else f"check failed (non-finite parameters after one step: {bad})"
    except Exception as e:  # noqa: BLE001 - reported as the row's status
        return f"check failed ({type(e).__name__}: {e})"


def check_example():
    losses, K, beta, expected = EXAMPLE
    try:
        method = W.create("go4align", len(losses), num_groups=K, beta=beta)
        w = method.get_weighted_loss(torch.tensor(losses, dtype=torch.float64))[1]["weights"]
        err = (w - torch.tensor(expected, dtype=torch.float64)).abs().max().item()
    except Exception as e:  # noqa: BLE001
        return f"check failed (worked example: {type(e).__name__}: {e})"
    return "ok" if err < 1e-4 else f"check failed (worked example weights {w.tolist()}, expected {expected})"


OP_KS = [2, 5]                 # clusters K of the op comparison (K <= M)


def op_providers(M, K):
    """{provider: (call, labels or weights function)} for the two host ops on one (M,) vector:
    `kmeans_1d`: pyalgo's exact DP op, the pure reference DP (reference.py), Lloyd as the official
    code runs it (kmeans-pytorch's algorithm), scikit-learn's KMeans (n_init=1);
    `go4align_weights`: one GO4Align step through the op, the literal reference (one-step history),
    and the official code's configuration (sum scale, Lloyd)."""
    from sklearn.cluster import KMeans

    gamma = np.exp(np.random.default_rng(M * 10 + K).normal(scale=1.5, size=M))
    losses = torch.from_numpy(1.0 / gamma)
    km = {
        "pyalgo": lambda: kmeans_1d(gamma, K).numpy(),
        "reference (Python DP)": lambda: _labels_of(R.kmeans_1d_ref(gamma, K)[1], M),
        "Lloyd (official code)": lambda: kmeans_1d_lloyd(gamma, K, generator=torch.Generator().manual_seed(0)).numpy(),
        "scikit-learn KMeans": lambda: KMeans(K, n_init=1, random_state=0).fit(gamma[:, None]).labels_,
    }
    exact = W.GO4Align(M, num_groups=K, beta=0.0)
    official = W.GO4Align(M, num_groups=K, beta=0.0, scale="sum", clustering="lloyd",
                          generator=torch.Generator().manual_seed(0))
    go = {
        "pyalgo": lambda: exact.get_weighted_loss(losses)[1]["weights"].numpy(),
        "reference (Algorithm 1)": lambda: R.go4align_ref(losses.numpy()[None], K, 0.0)["weights"],
        "official config (sum, Lloyd)": lambda: official.get_weighted_loss(losses)[1]["weights"].numpy() / M,
    }
    return gamma, km, go


def _labels_of(clusters, M):
    labels = np.empty(M, dtype=np.int64)
    for c, members in enumerate(clusters):
        labels[members] = c
    return labels


def run_ops(args, meta):
    """Rows for the host ops against the reference and what users run today (1 thread); the checks:
    pyalgo's K-means SSE equals the reference's and is <= every other provider's; its GO4Align
    weights equal the reference's."""
    rows, failures = [], []
    for M in CASES:
        for K in [k for k in OP_KS if k <= M]:
            gamma, km, go = op_providers(M, K)
            best = R.sse_of(gamma, km["pyalgo"]())
            status = "ok"
            if abs(best - R.sse_of(gamma, km["reference (Python DP)"]())) > 1e-9 * max(1.0, best) or any(
                    best > R.sse_of(gamma, f()) + 1e-9 * max(1.0, best) for f in km.values()):
                status = "check failed (K-means SSE)"
            w, ref = go["pyalgo"](), go["reference (Algorithm 1)"]()
            if np.abs(w - ref).max() > 1e-9 * np.abs(ref).max():
                status = "check failed (GO4Align weights vs reference)"
            if status != "ok":
                failures.append(f"ops M={M} K={K}: {status}")
            for op, providers in (("kmeans_1d", km), ("go4align_weights", go)):
                base = None
                for name, call in providers.items():
                    call()
                    med, p20, p80, runs = C.measure(call, 1, args.min_run_time / 4)
                    base = base or med
                    rows.append(dict(meta, op=op, provider=name, shape=f"M={M},K={K}", threads=1,
                                     median_ms=f"{med:.5f}", p20_ms=f"{p20:.5f}", p80_ms=f"{p80:.5f}", runs=runs,
                                     ratio_vs_ls=f"{med / base:.4f}", status=status))
    return rows, failures


def shape_of(M):
    return f"M={M},B={BATCH},h={HIDDEN}"


def run(args):
    meta = dict(torch_version=torch.__version__, pyalgo_version=pyalgo.__version__, git_sha=C.git_sha(),
                machine=C.machine(), timestamp=datetime.datetime.now().isoformat(timespec="seconds"), device="cpu",
                dtype="float32")
    rows, failures = [], []
    example = check_example()
    if example != "ok":
        failures.append(f"go4align worked example: {example}")
    for M in CASES:
        setup = make_setup(M)
        shape = shape_of(M)
        status, broken = {}, set()     # broken: the step itself fails, so it is not timed
        for p in PROVIDERS:
            s = check_step(p, setup)
            if s != "ok":
                broken.add(p)
                failures.append(f"{p} M={M}: {s}")
            elif p in GO4ALIGN_PROVIDERS:
                s = example
            status[p] = s
        for threads in args.threads:
            jobs = [("step", p, make_step(p, setup)[0]) for p in PROVIDERS if p not in broken]
            jobs += [("weights", p, make_weights_call(p, M)) for p in WEIGHT_PROVIDERS]
            for _, _, call in jobs:
                for _ in range(3):
                    call()
            rounds = {}      # (op, provider) -> [(median, p20, p80, runs) per round]
            for r in range(args.rounds):    # interleaved, order reversed every other round (drift, order bias)
                for op, p, call in (jobs if r % 2 == 0 else jobs[::-1]):
                    rounds.setdefault((op, p), []).append(C.measure(call, threads, args.min_run_time / args.rounds))
            for (op, p), ms in rounds.items():
                med, p20, p80 = (statistics.median(m[i] for m in ms) for i in range(3))
                runs = sum(m[3] for m in ms)
                base = rounds.get((op, "ls"))
                # paired per round: the median over rounds of (provider / LS measured in the same round)
                ratio = statistics.median(m[0] / b[0] for m, b in zip(ms, base)) if base else None
                rows.append(dict(meta, op=op, provider=p, shape=shape, threads=threads, median_ms=f"{med:.5f}",
                                 p20_ms=f"{p20:.5f}", p80_ms=f"{p80:.5f}", runs=runs,
                                 ratio_vs_ls="" if ratio is None else f"{ratio:.4f}", status=status[p]))
                print(f"  M={M:3d} threads={threads} {op:7s} {p:14s} {med * 1e3:10.1f} us "
                      f"[{p20 * 1e3:.1f}, {p80 * 1e3:.1f}]  x LS {ratio if ratio is not None else float('nan'):.3f}",
                      flush=True)
    op_rows, op_failures = run_ops(args, meta)
    return rows + op_rows, failures + op_failures


def lookup(rows, **keys):
    for r in rows:
        if all(str(r[k]) == str(v) for k, v in keys.items()):
            return r
    return None


def tables(rows, args):
    """(per-row table, ratio table, overhead table, target table) as (header, rows) pairs."""
    header = ["M", "threads", "provider", "median ms", "p20 ms", "p80 ms", "runs", "x LS"]
    detail = []
    for M in CASES:
        for threads in args.threads:
            for p in PROVIDERS:
                r = lookup(rows, op="step", provider=p, shape=shape_of(M), threads=threads)
                if r is None:
                    detail.append([M, threads, p, "-", "-", "-", "-", "failed"])
                    continue
                detail.append([M, threads, p, f"{float(r['median_ms']):.4f}", f"{float(r['p20_ms']):.4f}",
                               f"{float(r['p80_ms']):.4f}", r["runs"], f"{float(r['ratio_vs_ls']):.3f}x"])
    cols = [(M, t) for M in CASES for t in args.threads]
    ratio_header = ["step time / LS"] + [f"M={M}, {t} thr" for M, t in cols]
    ratio = []
    for p in PROVIDERS:
        line = [p]
        for M, t in cols:
            r = lookup(rows, op="step", provider=p, shape=shape_of(M), threads=t)
            line.append(f"{float(r['ratio_vs_ls']):.3f}x" if r else "failed")
        ratio.append(line)
    over_header = ["M", "threads", "LS step ms", "GO4Align step ms", "step overhead us", "LS weights us",
                   "GO4Align weights us", "weights overhead us", "est. ratio"]
    over = []
    targets = []
    for M in CASES:
        for t in args.threads:
            g = lambda op, p: lookup(rows, op=op, provider=p, shape=shape_of(M), threads=t)  # noqa: E731
            ls, go = g("step", "ls"), g("step", "go4align")
            wl, wg = g("weights", "ls"), g("weights", "go4align")
            est = ""
            if ls and go and wl and wg:
                a, b = float(ls["median_ms"]), float(go["median_ms"])
                c, d = float(wl["median_ms"]), float(wg["median_ms"])
                est = f"{1 + (d - c) / a:.3f}x"   # LS step + the weights-only overhead: robust to step noise
                over.append([M, t, f"{a:.4f}", f"{b:.4f}", f"{(b - a) * 1e3:+.1f}", f"{c * 1e3:.1f}",
                             f"{d * 1e3:.1f}", f"{(d - c) * 1e3:+.1f}", est])
            for p in GO4ALIGN_PROVIDERS:
                r = g("step", p)
                if r is None:
                    targets.append([f"{p} step, M={M}, {t} thr", f"<= {TARGET:g}x LS", "-", "-",
                                    "MISS (check failed)"])
                    continue
                q = float(r["ratio_vs_ls"])
                targets.append([f"{p} step, M={M}, {t} thr", f"<= {TARGET:g}x LS", f"{q:.3f}x",
                                est if p == "go4align" else "", "PASS" if q <= TARGET else "MISS"])
    ops = [[r["op"], r["shape"], r["provider"], f"{float(r['median_ms']) * 1e3:.1f}", f"{float(r['ratio_vs_ls']):.1f}x"]
           for r in rows if r["op"] in ("kmeans_1d", "go4align_weights")]
    return ((header, detail), (ratio_header, ratio), (over_header, over),
            (["target", "goal", "measured", "est. from weights only", "verdict"], targets),
            (["op", "shape", "provider", "median us", "time / pyalgo"], ops))


def report(rows, args, failures, runtime_s):
    parts = tables(rows, args)
    print("\n" + "\n\n".join(C.text_table(h, r) for h, r in parts))
    command = ("python bench/bench_multitask.py " + " ".join(args.argv)).strip()
    machine, sha = (rows[0]["machine"], rows[0]["git_sha"]) if rows else (C.machine(), C.git_sha())
    titles = ["Per-step time", "Step time relative to LS (ratio table)",
              "GO4Align's absolute overhead (median differences)", "Target (paper Table 9: 1.01-1.02x LS)",
              "The host ops against their reference and what users run today (1 thread; ratio = provider time / "
              "pyalgo time; official config weights divided by M to match the paper's scale)"]
    md = ["# Multi-task weighting benchmark (one training step, float32, CPU)\n",
          f"`{command}` — {machine}, torch {torch.__version__}, pyalgo {pyalgo.__version__} ({sha}), "
          f"Python {platform.python_version()}, {runtime_s:.0f} s.\n",
          f"Step = zero_grad, forward of a {IN_DIM}->{HIDDEN}->{HIDDEN} ReLU trunk + Linear({HIDDEN}, M) head on a "
          f"fixed batch of {BATCH}, per-task MSE (M,), `method.backward`, Adam step (+ FAMO's no-grad forward and "
          "`update`). `go4align` is K=2, `go4align(K=5)` is K=min(5, M), beta=1e-4. Weights only = "
          "`get_weighted_loss` on a detached loss vector. Median / p20 / p80 over `blocked_autorange` blocks. "
          "Gradient methods (mgda, pcgrad, cagrad) compute M per-task gradients: expected to be much slower. "
          "x LS is paired per interleaved round (median over rounds). est. ratio = 1 + (GO4Align − LS weights-only "
          "time) / LS step time: the same overhead, free of the step-to-step noise. The verdict uses the measured "
          "ratio.\n"]
    for title, (h, r) in zip(titles, parts):
        md += [f"## {title}\n", C.md_table(h, r), ""]
    C.write_outputs(args.out, "multitask", md, rows, COLUMNS, failures)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short timings")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved timing rounds per provider (default: 4, --quick 2)")
    p.add_argument("--out", default=str(C.ROOT / "bench" / "results"))
    args = p.parse_args(argv)
    args.argv = list(argv)
    args.min_run_time = 0.1 if args.quick else 1.0    # per provider, split over the rounds
    if args.rounds is None:
        args.rounds = 2 if args.quick else 4
    return args


def main(argv=None):
    return C.run_main(argv, parse_args, run, report)


if __name__ == "__main__":
    sys.exit(main())
