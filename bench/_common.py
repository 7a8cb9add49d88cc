"""Helpers shared by the benchmark scripts: timing, peak memory, environment, CSV and tables."""
from __future__ import annotations

import csv
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils import benchmark

ROOT = Path(__file__).resolve().parent.parent


def measure(call, threads, min_run_time):
    """(median, p20, p80) in ms and the number of measured blocks (Timer.blocked_autorange)."""
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_run_time)
    times = np.asarray(m.times) * 1e3
    return m.median * 1e3, np.percentile(times, 20), np.percentile(times, 80), len(times)


def peak_cpu_bytes(call):
    """Peak bytes of CPU tensor memory allocated during one call (above what was live before), from
    the profiler's allocation/free events in time order."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def git_sha():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
        sha = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def write_csv(path: Path, rows, columns):
    """Appends rows; a file with other columns is moved aside rather than mixed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
        if header != columns:
            backup = path.with_name(path.name + ".old")
            path.rename(backup)
            print(f"note: {path} had other columns; moved to {backup}")
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def mode_call(fn, x, g, mode):
    """The zero-argument callable that a Timer runs for `mode` ("forward", "backward" or
    "forward+backward"); x requires grad, g is the upstream gradient."""
    if mode == "forward":
        return lambda: fn(x)
    if mode == "backward":
        y = fn(x)  # graph built once, outside the timing
        return lambda: torch.autograd.grad(y, x, g, retain_graph=True)
    return lambda: torch.autograd.grad(fn(x), x, g)


def shape_str(shape):
    return "x".join(str(s) for s in shape)


def run_main(argv, parse_args, run, report):
    """The main() of a benchmark: parse, run, report; exit status 1 when a correctness check failed."""
    import sys
    import time

    args = parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    rows, failures = run(args)
    report(rows, args, failures, time.perf_counter() - start)
    for f in failures:
        print("CHECK FAILED:", f, file=sys.stderr)
    return 1 if failures else 0


def write_outputs(out_dir, name, md_lines, rows, columns, failures):
    """<out_dir>/<name>.md (the Markdown lines, plus the failed checks) and CSV rows to <name>.csv."""
    if failures:
        md_lines = list(md_lines) + ["**Check failures:** " + "; ".join(failures) + "\n"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text("\n".join(md_lines) + "\n", encoding="utf-8")
    write_csv(out / f"{name}.csv", rows, columns)
    print(f"\nwrote {out / (name + '.md')} and {out / (name + '.csv')}")
