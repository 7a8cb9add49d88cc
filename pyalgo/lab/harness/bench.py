"""One benchmark runner (the shape of Liger-Kernel's): cases declare inputs and providers; the runner
owns device × dtype × mode × threads, checks correctness before timing, and writes one CSV schema.

A benchmark module (`pyalgo.lab.<method>.bench`) declares

- `TITLE`: one line;
- `CASES`: a list of `Case` (a setup shared by all providers, the providers, shapes and modes);
- optionally `TARGETS` (a list of `Target`, reported PASS / MISS, never asserted) and `NOTES`
  (Markdown paragraphs for the report).

Modes: "forward" (the call, with inputs that require grad, as in training), "backward"
(`torch.autograd.grad` on a graph built once, outside the timing), "forward+backward", and "call"
(a non-differentiable call). Ratios are provider time / pyalgo time at the same (case, shape, dtype,
device, threads, mode): > 1 means pyalgo is faster.
"""
from __future__ import annotations

import csv
import datetime
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .results import Markdown, environment, git_sha, machine

COLUMNS = ["case", "provider", "shape", "dtype", "device", "threads", "mode", "median_ms", "p20_ms", "p80_ms",
           "runs", "ratio", "status", "extra", "params", "torch", "pyalgo", "git_sha", "machine", "timestamp"]
MODES = ("forward", "backward", "forward+backward")
PRIMARY = "pyalgo"
COMPILED_SUFFIX = " (torch.compile)"


@dataclass(frozen=True)
class Inputs:
    """What a case's setup returns: the providers' arguments, the tensors the backward modes
    differentiate, and the work items of one call (for a per-second column), if any."""
    args: Tuple[Any, ...]
    grad_of: Tuple[torch.Tensor, ...] = ()
    items: Optional[int] = None
    bytes: Optional[int] = None


@dataclass(frozen=True)
class Provider:
    """fn(*inputs.args) -> a tensor or a tuple of tensors (backward modes send an upstream gradient to
    every output that requires grad). `skip(shape)` gives a reason not to run it at a shape."""
    name: str
    fn: Callable[..., Any]
    skip: Optional[Callable[[Any], Optional[str]]] = None
    items: Optional[Callable[[Any], int]] = None   # its own work per call, where it differs (e.g. a subset)


def _tensors(y: Any) -> List[torch.Tensor]:
    return [t for t in (y if isinstance(y, (tuple, list)) else [y]) if isinstance(t, torch.Tensor)]


def same_outputs(rtol: Optional[float] = None, atol: Optional[float] = None) -> Callable[[Inputs, Dict[str, Any]], Optional[str]]:
    """The default check of a deterministic case: every provider's tensors equal pyalgo's (tolerances
    by dtype unless given)."""
    def check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
        if PRIMARY not in outputs:
            return "pyalgo produced no output"
        ref = _tensors(outputs[PRIMARY])
        for name, y in outputs.items():
            for a, b in zip(_tensors(y), ref):
                try:
                    torch.testing.assert_close(a.detach().to(b.dtype), b.detach(), rtol=rtol, atol=atol, equal_nan=True)
                except AssertionError as exc:
                    return f"{name} differs from pyalgo: {str(exc).splitlines()[-1].strip()}"
        return None
    return check


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Any, torch.dtype, torch.device], Inputs]
    providers: Sequence[Provider]
    shapes: Sequence[Any]
    quick_shapes: Optional[Sequence[Any]] = None
    modes: Sequence[str] = MODES
    dtypes: Sequence[torch.dtype] = (torch.float32,)
    devices: Sequence[str] = ("cpu", "cuda")
    check: Callable[[Inputs, Dict[str, Any]], Optional[str]] = same_outputs()   # a problem, or None
    compile: Optional[str] = None          # also time this provider under torch.compile (not in --quick)
    memory: bool = False                   # peak CPU tensor memory of one call
    params: str = ""
    description: str = ""


@dataclass(frozen=True)
class Target:
    """A goal read off the rows: `measure(table)` returns (measured text, met) or None (not measured)."""
    text: str
    goal: str
    measure: Callable[["Table"], Optional[Tuple[str, bool]]]
    needs: Tuple[Tuple[str, str], ...] = ()   # (case, shape) rows timed even when slow (10x the budget)


def speedup(case: str, shape: Any, vs: str, goal: float, mode: str = "forward+backward",
            threads: Optional[int] = None, text: str = "", of: str = PRIMARY) -> Target:
    """Provider `of` (pyalgo) at least `goal` times faster than provider `vs` (at the most threads
    timed, by default)."""
    def measure(table: "Table"):
        t = threads or max(table.threads, default=1)
        a = table.median(case=case, provider=of, shape=shape_str(shape), mode=mode, threads=t)
        b = table.median(case=case, provider=vs, shape=shape_str(shape), mode=mode, threads=t)
        if a is None or b is None:
            return None
        return f"{b / a:.2f}x ({t} thr)", b / a >= goal
    return Target(text or f"{case} {shape_str(shape)} {mode}: {of} vs {vs}", f">= {goal:g}x", measure,
                  ((case, shape_str(shape)),))


def shape_str(shape: Any) -> str:
    if isinstance(shape, dict):
        return ",".join(f"{k}={v}" for k, v in shape.items())
    if isinstance(shape, (tuple, list)):
        return "x".join(str(s) for s in shape)
    return str(shape)


def dtype_str(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# -- measuring --------------------------------------------------------------------------------------

def measure(call: Callable[[], Any], threads: int, min_run_time: float) -> Tuple[float, float, float, int]:
    """(median, p20, p80) in ms and the number of measured blocks (Timer.blocked_autorange, which
    synchronises CUDA)."""
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_run_time)
    times = np.asarray(m.times) * 1e3
    return m.median * 1e3, float(np.percentile(times, 20)), float(np.percentile(times, 80)), len(times)


def peak_cpu_bytes(call: Callable[[], Any]) -> int:
    """Peak CPU tensor memory allocated during one call, above what was live before (profiler events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    live = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def _outputs(y: Any) -> List[torch.Tensor]:
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    return [t for t in ys if isinstance(t, torch.Tensor) and t.requires_grad]


def mode_call(fn: Callable[..., Any], inputs: Inputs, mode: str, seed: int = 0) -> Callable[[], Any]:
    """The zero-argument callable a Timer runs for `mode`."""
    args = inputs.args
    if mode in ("forward", "call"):
        return lambda: fn(*args)
    outs = _outputs(fn(*args))
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to(o.device) for o in outs]
    if mode == "backward":
        return lambda: torch.autograd.grad(outs, inputs.grad_of, grads, retain_graph=True)
    if mode == "forward+backward":
        return lambda: torch.autograd.grad(_outputs(fn(*args)), inputs.grad_of, grads)
    raise ValueError(f"unknown mode {mode!r}; expected one of {MODES + ('call',)}")


def busy_cores_warning(threads_list: Sequence[int]) -> Optional[str]:
    """A warning when parallel regions stall: with another process on a core, an OpenMP region waits
    for a descheduled thread, which swamps multi-thread timings."""
    src, dst = torch.randn(1 << 18), torch.empty(1 << 18)  # 1 MB
    times = {t: measure(lambda: dst.copy_(src), t, 0.1)[0] for t in sorted({1, *threads_list})}
    if not any(t > 1 and times[t] > 4 * times[1] and times[t] > 0.5 for t in times):
        return None
    return (f"cores busy at {datetime.datetime.now():%H:%M:%S}: a 1 MB copy takes "
            + ", ".join(f"{times[t]:.3f} ms on {t} threads" for t in times)
            + f" (1-min load average {os.getloadavg()[0]:.1f}); multi-thread timings are unreliable")


# -- the rows -----------------------------------------------------------------------------------

class Table:
    """The rows of a run, with lookups."""

    def __init__(self, rows: List[Dict[str, Any]]):
        self.rows = rows

    @property
    def threads(self) -> List[int]:
        return sorted({int(r["threads"]) for r in self.rows})

    def find(self, **keys: Any) -> Optional[Dict[str, Any]]:
        for r in self.rows:
            if all(str(r[k]) == str(v) for k, v in keys.items()):
                return r
        return None

    def median(self, **keys: Any) -> Optional[float]:
        r = self.find(**keys)
        return float(r["median_ms"]) if r and r["median_ms"] != "" else None


@dataclass
class Options:
    devices: Sequence[str] = ("cpu",)
    dtypes: Optional[Sequence[str]] = None        # None: each case's own
    threads: Sequence[int] = (1,)
    modes: Optional[Sequence[str]] = None
    cases: Optional[Sequence[str]] = None
    quick: bool = False
    min_run_time: float = 1.0
    budget: float = 5.0                           # seconds one call may take before a mode is skipped
    compile: bool = True
    seed: Optional[int] = None                    # inputs from torch.manual_seed(seed or 0)
    log: Callable[[str], None] = print
    meta: Dict[str, Any] = field(default_factory=dict)


def _provider_list(case: Case, opt: Options) -> List[Provider]:
    providers = list(case.providers)
    if case.compile and opt.compile and not opt.quick:
        base = next(p for p in providers if p.name == case.compile)
        providers.append(Provider(base.name + COMPILED_SUFFIX, _compiled(base.fn), base.skip, base.items))
    return providers


def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A fresh inductor compilation per (shape, threads) (dynamo's cache does not key on the thread
    count); donated buffers off, so the backward-only mode can retain the graph."""
    state: Dict[str, Any] = {}

    def call(*args: Any) -> Any:
        key = (torch.get_num_threads(), tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor)))
        if state.get("key") != key:
            torch._dynamo.reset()
            torch._functorch.config.donated_buffer = False
            state.update(key=key, fn=torch.compile(fn, dynamic=False))
        return state["fn"](*args)
    return call


def run_case(case: Case, opt: Options, device: str, dtype: torch.dtype, threads: int, shape: Any,
             targets_need: Callable[[str, str, str], bool]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Checks, then times every provider of one (case, device, dtype, threads, shape)."""
    rows: List[Dict[str, Any]] = []
    failures: List[str] = []
    dev = torch.device(device)
    modes = [m for m in case.modes if opt.modes is None or m in opt.modes]
    providers = _provider_list(case, opt)
    label = f"{case.name} {shape_str(shape)} {dtype_str(dtype)} {device} t={threads}"
    torch.manual_seed(opt.seed or 0)
    inputs = case.setup(shape, dtype, dev)

    # 1. correctness, before any timing, on the same inputs
    outputs, status = {}, {}
    for p in providers:
        reason = p.skip(shape) if p.skip else None
        if reason:
            status[p.name] = f"skipped ({reason})"
            continue
        try:
            outputs[p.name] = p.fn(*inputs.args)
        except Exception as exc:  # noqa: BLE001  (a failing provider is recorded, not fatal)
            status[p.name] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
    try:
        problem = status.get(PRIMARY) if PRIMARY not in outputs else case.check(inputs, outputs)
    except Exception as exc:  # noqa: BLE001  (a check that raises is a failed check, not a crash)
        problem = f"the check raised {type(exc).__name__}: {str(exc)[:120]}"
    if problem:
        failures.append(f"{label}: {problem}")
        opt.log(f"  CHECK FAILED {label}: {problem}")
        status.setdefault(PRIMARY, f"CHECK FAILED: {problem}")

    # 2. timing
    for p in providers:
        items = p.items(shape) if p.items else inputs.items
        for mode in modes:
            row = dict(opt.meta, case=case.name, provider=p.name, shape=shape_str(shape), dtype=dtype_str(dtype),
                       device=device, threads=threads, mode=mode, median_ms="", p20_ms="", p80_ms="", runs=0,
                       ratio="", status=status.get(p.name, "ok"), extra="", params=case.params)
            if p.name in outputs and not row["status"].startswith(("skipped", "failed")):
                try:
                    call = mode_call(p.fn, inputs, mode)
                    begin = time.perf_counter()
                    call()  # warm-up (compiles), and the budget check
                    once = time.perf_counter() - begin
                    budget = opt.budget * (10 if targets_need(case.name, p.name, shape_str(shape)) else 1)
                    if once > budget:
                        row["status"] = f"skipped (one call took {once:.1f} s)"
                    else:
                        med, p20, p80, runs = measure(call, threads, opt.min_run_time)
                        extra = {}
                        if items:
                            extra["per_s"] = f"{items / (med / 1e3):.4g}"
                        if inputs.bytes and mode != "backward":
                            extra["gb_per_s"] = f"{inputs.bytes / (med / 1e3) / 1e9:.4g}"
                        if case.memory and device == "cpu":
                            extra["peak_mb"] = f"{peak_cpu_bytes(call) / 2**20:.3f}"
                        row.update(median_ms=f"{med:.6g}", p20_ms=f"{p20:.6g}", p80_ms=f"{p80:.6g}", runs=runs,
                                   extra=";".join(f"{k}={v}" for k, v in extra.items()))
                except Exception as exc:  # noqa: BLE001
                    row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            shown = f"{float(row['median_ms']):10.4f} ms" if row["median_ms"] else ""
            opt.log(f"  {label} {p.name:34s} {mode:17s} {shown} {row['status'] if row['status'] != 'ok' else ''}"
                    .rstrip())
            rows.append(row)
    base = {r["mode"]: r for r in rows if r["provider"] == PRIMARY and r["median_ms"]}
    for r in rows:
        if r["median_ms"] and r["mode"] in base:
            r["ratio"] = f"{float(r['median_ms']) / float(base[r['mode']]['median_ms']):.4g}"
    return rows, failures


def run(module: Any, opt: Options) -> Tuple[Table, List[str], List[str]]:
    """Runs a benchmark module's cases. Returns (rows, failed checks, devices skipped with why)."""
    env = environment()
    opt.meta = dict(torch=env["torch"], pyalgo=env["pyalgo"], git_sha=env["git_sha"], machine=env["machine"],
                    timestamp=datetime.datetime.now().isoformat(timespec="seconds"))
    wanted = {need for t in getattr(module, "TARGETS", []) for need in t.needs}
    needs = lambda case, provider, shape: (case, shape) in wanted  # noqa: E731
    rows: List[Dict[str, Any]] = []
    failures: List[str] = []
    skipped: List[str] = []
    names = [case.name for case in module.CASES]
    if len(set(names)) != len(names):
        raise ValueError(f"{module.TITLE}: case names must be unique, got {names}")
    previous = torch.get_num_threads()
    try:
        for device in opt.devices:
            if device == "cuda" and not torch.cuda.is_available():
                skipped.append(f"cuda: no CUDA device (torch {torch.__version__}, "
                               f"built with CUDA {torch.version.cuda or 'no'})")
                continue
            for case in module.CASES:
                if (opt.cases and case.name not in opt.cases) or device not in case.devices:
                    continue
                dtypes = [d for d in case.dtypes if opt.dtypes is None or dtype_str(d) in opt.dtypes]
                shapes = case.quick_shapes if (opt.quick and case.quick_shapes) else case.shapes
                for dtype in dtypes:
                    for threads in (opt.threads if device == "cpu" else [1]):
                        torch.set_num_threads(threads)
                        for shape in shapes:
                            r, f = run_case(case, opt, device, dtype, threads, shape, needs)
                            rows += r
                            failures += f
    finally:
        torch.set_num_threads(previous)
    return Table(rows), failures, skipped


# -- output -------------------------------------------------------------------------------------

def write_csv(path: Path, rows: List[Dict[str, Any]]) -> None:
    """Appends rows; a file with another header is moved aside (`.old`) rather than mixed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
        if header != COLUMNS:
            path.rename(path.with_name(path.name + ".old"))
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _cell(row: Optional[Dict[str, Any]], base: Optional[Dict[str, Any]]) -> str:
    if row is None:
        return "n/a"
    if not row["median_ms"]:
        return "skipped" if row["status"].startswith("skipped") else "failed"
    if base is None or not base["median_ms"]:
        return f"{float(row['median_ms']):.4g} ms"
    return f"{float(row['ratio']):.2f}x"


def markdown(module: Any, table: Table, failures: List[str], skipped: List[str], command: str,
             seconds: float, warning: Optional[str]) -> str:
    """The report: per case, pyalgo's time and each other provider's time as a multiple of it."""
    first = table.rows[0] if table.rows else {"machine": machine(), "git_sha": git_sha()}
    md = Markdown().h(1, module.TITLE)
    md.p(f"`{command}` on {first['machine']}, torch {torch.__version__}, pyalgo {first.get('pyalgo', '')} "
         f"({first['git_sha']}), {seconds:.0f} s. Cells after \"pyalgo ms\" are provider time / pyalgo time "
         "(> 1: pyalgo is faster).")
    if warning:
        md.note(warning)
    for line in skipped:
        md.note(f"skipped {line}")
    for note in getattr(module, "NOTES", ()):
        md.p(note)
    for case in module.CASES:
        own = [r for r in table.rows if r["case"] == case.name]
        if not own:
            continue
        others = list(dict.fromkeys(r["provider"] for r in own if r["provider"] != PRIMARY))
        md.h(2, f"{case.name}" + (f" ({case.params})" if case.params else ""))
        if case.description:
            md.p(case.description)
        keys = list(dict.fromkeys((r["shape"], r["dtype"], r["device"], r["threads"], r["mode"]) for r in own))
        body = []
        for shape, dtype, device, threads, mode in keys:
            at = dict(case=case.name, shape=shape, dtype=dtype, device=device, threads=threads, mode=mode)
            base = table.find(provider=PRIMARY, **at)
            extra = base["extra"] if base else ""
            body.append([shape, dtype, device, threads, mode, _cell(base, None).replace(" ms", "")]
                        + [_cell(table.find(provider=o, **at), base) for o in others] + ([extra] if any(r["extra"] for r in own) else []))
        header = ["shape", "dtype", "device", "threads", "mode", "pyalgo ms"] + others
        md.table(header + (["pyalgo extra"] if any(r["extra"] for r in own) else []), body)
    targets = getattr(module, "TARGETS", [])
    if targets:
        md.h(2, "Targets")
        rows = []
        for t in targets:
            got = t.measure(table)
            rows.append([t.text, t.goal, got[0] if got else "not measured",
                         ("PASS" if got[1] else "MISS") if got else "—"])
        md.table(["target", "goal", "measured", "verdict"], rows)
    if failures:
        md.p("**Check failures:** " + "; ".join(failures))
    return md.text()


def main(name: str, module: Any, opt: Options, out: Path, command: str) -> int:
    """Runs, prints a ratio table, writes `<out>/<name>.csv` (appended) and `<out>/<name>.md`.
    Exit status 1 when a correctness check failed."""
    start = time.perf_counter()
    warning = busy_cores_warning(opt.threads) if "cpu" in opt.devices else None
    if warning:
        opt.log("warning: " + warning)
    table, failures, skipped = run(module, opt)
    for line in skipped:
        opt.log(f"pyalgo bench {name}: skipped {line}")
    if not table.rows:
        return 0 if not failures else 1
    text = markdown(module, table, failures, skipped, command, time.perf_counter() - start, warning)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    write_csv(out / f"{name}.csv", table.rows)
    opt.log(f"\nwrote {out / (name + '.md')} and {out / (name + '.csv')}")
    for f in failures:
        opt.log(f"CHECK FAILED: {f}")
    return 1 if failures else 0
