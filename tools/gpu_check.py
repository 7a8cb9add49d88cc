#!/usr/bin/env python3
"""`make gpu-check OUT=<folder>`: the one command for a machine with a CUDA GPU (and no internet).

Steps (docs/gpu.md says more):

0. preflight: one line and exit 0 where there is no CUDA GPU (exit 2 where a GPU is there but torch
   is a CPU build or nvcc is missing, since then nothing can be checked);
1. wheels: `pip install --no-index --find-links wheelhouse` of every wheel in ./wheelhouse, if there
   is one (`make gpu-wheels` fills it on a machine with internet);
2. build: `python setup.py build_ext --inplace` for the local GPU only (TORCH_CUDA_ARCH_LIST from
   torch.cuda.get_device_capability(), MAX_JOBS = usable cores), then `pyalgo.has_cuda()` (the CUDA library pyalgo/_cuda loaded);
3. tests: the `-m "cuda or simt"` selection as two processes that overlap: the CUDA tests on the GPU
   (plus the tests that run CUDA without the marker: `-k cuda`) and the emulated `simt` tests on the
   CPU cores; then compute-sanitizer memcheck and racecheck over the `-m cuda` tests, our kernels only;
4. bench: `pyalgo bench discrete wireless energy --device cuda --quick`, then WMMSE at K = 10/30/100
   (`pyalgo bench wireless --case wmmse --preset full`), each row also as a share of the device's
   copy bandwidth (`bytes moved / time / copy bandwidth`, bytes counted by `interface_bytes`);
5. <OUT>/gpu_check.md and <OUT>/gpu_check.csv, written whatever failed; exit 1 if a step failed.

Every step has a time limit; all together stay within --budget seconds (default 470, under the
8 minutes that a lent accelerator machine allows).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ("discrete", "wireless", "energy")
WMMSE_K_OUT = "bench-wmmse-k"
KERNEL_FILTER = "pyalgo"        # every __global__ kernel of csrc/*/*.cu is in namespace pyalgo
CSV_COLUMNS = ["section", "name", "status", "seconds", "errors", "detail", "bench", "case", "provider", "shape",
               "dtype", "mode", "median_ms", "bytes", "gb_per_s", "copy_pct"]
# step: (most seconds it may take, seconds kept free for it while earlier steps run)
LIMITS = {"wheels": (60, 0), "build": (240, 0), "cuda tests": (90, 45), "memcheck": (90, 45),
          "racecheck": (90, 45), "simt tests": (400, 0), "bench": (120, 60), "bench wmmse K": (75, 0),
          "bandwidth": (60, 30)}


# -- small pure helpers (unit-tested in tests/test_gpu_check.py) -------------------------------------

def copy_gbps(nbytes: int, ms: float) -> float:
    """Device copy bandwidth of `dst.copy_(src)` of `nbytes`: it reads and writes them (2 × nbytes)."""
    return 2 * nbytes / (ms / 1e3) / 1e9


def bandwidth(nbytes: Optional[int], median_ms: Optional[float], copy: Optional[float]) -> Tuple[Optional[float], Optional[float]]:
    """(GB/s, % of the copy bandwidth) of moving nbytes in median_ms; (None, None) where unknown."""
    if not nbytes or not median_ms or median_ms <= 0:
        return None, None
    gbps = nbytes / (median_ms / 1e3) / 1e9
    return gbps, (100 * gbps / copy if copy else None)


def parse_sanitizer(text: str) -> Dict[str, Optional[int]]:
    """Error counts from compute-sanitizer's closing lines: memcheck's `ERROR SUMMARY: N errors`,
    racecheck's `RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)`. None where absent."""
    out: Dict[str, Optional[int]] = {"errors": None, "warnings": None, "hazards": None}
    m = re.findall(r"RACECHECK SUMMARY:\s*(\d+) hazards? displayed \((\d+) errors?, (\d+) warnings?\)", text)
    if m:
        out["hazards"], out["errors"], out["warnings"] = (sum(int(x[i]) for x in m) for i in range(3))
    m = re.findall(r"ERROR SUMMARY:\s*(\d+) errors?", text)
    if m and out["errors"] is None:
        out["errors"] = sum(int(x) for x in m)
    return out


def junit_counts(path: Path) -> Optional[Dict[str, Any]]:
    """passed / failed / errors / skipped and the failing test ids, from pytest's --junitxml."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failing = []
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failing.append(f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":"))
    return {"passed": total["tests"] - total["failures"] - total["errors"] - total["skipped"],
            "failed": total["failures"], "errors": total["errors"], "skipped": total["skipped"],
            "failing": failing}


def pytest_line(counts: Optional[Dict[str, Any]]) -> str:
    if counts is None:
        return "no result (pytest wrote no report)"
    return ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if counts[k] or k == "passed")


def select_files(pattern: str, exclude: Sequence[str] = ()) -> List[str]:
    """tests/test_*.py whose text matches `pattern` (so a module that cannot hold a selected test is
    not even imported: a missing optional package there does not stop the run)."""
    rx = re.compile(pattern, re.IGNORECASE)
    return [f"tests/{p.name}" for p in sorted((ROOT / "tests").glob("test_*.py"))
            if p.name not in exclude and rx.search(p.read_text(encoding="utf-8", errors="replace"))]


# -- steps -----------------------------------------------------------------------------------------

@dataclass
class Step:
    name: str
    status: str = "skipped"           # ok | failed | timeout | skipped | partial
    seconds: float = 0.0
    detail: str = ""
    errors: Optional[int] = None
    log: str = ""

    @property
    def bad(self) -> bool:
        return self.status in ("failed", "timeout")


@dataclass
class Run:
    out: Path
    budget: float
    python: str = sys.executable
    start: float = field(default_factory=time.monotonic)
    steps: List[Step] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start)

    def limit(self, name: str, later: Iterable[str]) -> float:
        most, _ = LIMITS[name]
        return min(most, self.left() - sum(LIMITS[n][1] for n in later))

    def say(self, text: str) -> None:
        print(f"gpu-check: {text}", flush=True)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        shown = f"{step.status} ({step.seconds:.0f} s)" + (f": {step.detail}" if step.detail else "")
        self.say(f"{step.name:14s} {shown}")
        return step


def _kill(proc: subprocess.Popen) -> None:
    """Ends the process group this script started for `proc` (its pid is the group id)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start(cmd: Sequence[str], log: Path, env: Dict[str, str]) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    f = open(log, "w", encoding="utf-8")
    f.write("$ " + " ".join(cmd) + "\n")
    f.flush()
    return subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def finish(proc: subprocess.Popen, limit: float) -> Tuple[Optional[int], bool]:
    """(exit status, timed out)."""
    try:
        return proc.wait(timeout=max(limit, 1)), False
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.wait()
        return None, True


def run_step(run: Run, name: str, cmd: Sequence[str], later: Sequence[str], env: Optional[Dict[str, str]] = None,
             min_s: float = 20) -> Tuple[Step, Optional[int], str]:
    """Runs cmd under the step's limit; returns the step (status ok / failed / timeout / skipped), the
    exit status and the log text."""
    log = run.out / "logs" / (name.replace(" ", "-") + ".log")
    step = Step(name, log=str(log.relative_to(run.out)))
    limit = run.limit(name, later)
    if limit < min_s:
        step.detail = f"out of time ({run.left():.0f} s of the budget left)"
        return step, None, ""
    begin = time.monotonic()
    rc, timed_out = finish(start(cmd, log, env or run.env), limit)
    step.seconds = time.monotonic() - begin
    text = log.read_text(encoding="utf-8", errors="replace")
    if timed_out:
        step.status, step.detail = "timeout", f"stopped after {limit:.0f} s (its limit)"
    else:
        step.status = "ok" if rc == 0 else "failed"
    return step, rc, text


def last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and not line.startswith("$ ")]
    return " | ".join(lines[-n:])[-400:]


# -- 0. preflight -----------------------------------------------------------------------------------

def find_nvcc() -> Optional[str]:
    nvcc = shutil.which("nvcc")
    if nvcc:
        return nvcc
    try:
        from torch.utils.cpp_extension import CUDA_HOME
    except Exception:  # noqa: BLE001
        return None
    path = CUDA_HOME and os.path.join(CUDA_HOME, "bin", "nvcc")
    return path if path and os.path.exists(path) else None


def find_sanitizer(nvcc: Optional[str]) -> Optional[str]:
    found = shutil.which("compute-sanitizer")
    if found:
        return found
    homes = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    if nvcc:
        homes.append(str(Path(os.path.realpath(nvcc)).parents[1]))
    for home in filter(None, homes):
        for rel in ("bin/compute-sanitizer", "compute-sanitizer/compute-sanitizer"):
            if os.path.exists(os.path.join(home, rel)):
                return os.path.join(home, rel)
    return None


def _nvidia_smi(*args: str) -> str:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ""
    try:
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=15).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def driver_version() -> str:
    version = _nvidia_smi("--query-gpu=driver_version", "--format=csv,noheader").splitlines()
    if version:
        return version[0]
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
        m = re.search(r"Kernel Module\s+([\d.]+)", text)
        return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def preflight() -> Tuple[Optional[int], Optional[str], Dict[str, Any]]:
    """(exit status, the one line) to stop at once, or (None, None, facts about the machine)."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return 0, f"gpu-check: torch is not importable here ({type(exc).__name__}: {exc}): nothing to check", {}
    built = torch.version.cuda
    if not torch.cuda.is_available():
        gpus = _nvidia_smi("-L")
        if built is None and gpus:
            return 2, (f"gpu-check: torch {torch.__version__} is a CPU-only build, but nvidia-smi sees "
                       f"{gpus.splitlines()[0]}: install a CUDA build of torch to check pyalgo's CUDA kernels"), {}
        how = f"built with CUDA {built}" if built else "a CPU-only build"
        return 0, (f"gpu-check: no CUDA GPU here (torch {torch.__version__}, {how}, torch.cuda.is_available() is "
                   "False): nothing to check"), {}
    nvcc = find_nvcc()
    if nvcc is None:
        return 2, (f"gpu-check: a CUDA GPU is here ({torch.cuda.get_device_name(0)}) but nvcc is not found (PATH or "
                   "CUDA_HOME): pyalgo's CUDA kernels cannot be built; install the CUDA toolkit"), {}
    major, minor = torch.cuda.get_device_capability(0)
    props = torch.cuda.get_device_properties(0)
    nvcc_version = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"release ([\d.]+)", nvcc_version)
    return None, None, {
        "device": torch.cuda.get_device_name(0), "capability": f"{major}.{minor}",
        "memory_gib": f"{props.total_memory / 2**30:.0f}", "torch": torch.__version__, "torch_cuda": built,
        "driver": driver_version(), "nvcc": nvcc, "nvcc_version": m.group(1) if m else "unknown",
        "python": platform.python_version(), "cores": usable_cores(), "sanitizer": find_sanitizer(nvcc),
        "ninja": shutil.which("ninja"), "host": platform.node(),
    }


# -- 1. wheels --------------------------------------------------------------------------------------

def wheel_names(folder: Path) -> List[str]:
    """Distribution names of the wheels in folder (`name-version-...whl`)."""
    return sorted({p.name.split("-")[0].replace("_", "-").lower() for p in folder.glob("*.whl")})


def install_wheels(run: Run, folder: Path) -> Step:
    names = wheel_names(folder)
    if not names:
        return run.add(Step("wheels", "skipped", detail=f"no wheels in {folder} (`make gpu-wheels` fills it)"))
    pip = [run.python, "-m", "pip", "install", "--no-index", "--find-links", str(folder), "--disable-pip-version-check"]
    step, rc, _ = run_step(run, "wheels", pip + names, [])
    failed: List[str] = []
    if rc not in (0, None):   # one incompatible wheel (e.g. scipy wanting another numpy) must not block the rest
        failed = [n for n in names if subprocess.run(pip + [n], cwd=ROOT, capture_output=True).returncode != 0]
        step.status = "partial" if len(failed) < len(names) else "failed"
    step.detail = (f"installed from {folder.name}/: {', '.join(n for n in names if n not in failed)}"
                   + (f"; could not install {', '.join(failed)} (see {step.log})" if failed else ""))
    # a wheel's console scripts (ninja) land beside this python: make them visible to the build
    scripts = Path(run.python).resolve().parent
    import sysconfig
    for d in (sysconfig.get_path("scripts"), str(scripts)):
        if d and d not in run.env.get("PATH", "").split(os.pathsep):
            run.env["PATH"] = d + os.pathsep + run.env.get("PATH", "")
    return run.add(step)


# -- 2. build ---------------------------------------------------------------------------------------

def build(run: Run, info: Dict[str, Any]) -> Step:
    env = dict(run.env, TORCH_CUDA_ARCH_LIST=info["capability"], MAX_JOBS=str(info["cores"]))
    env.pop("PYALGO_FORCE_CPU", None)
    later = ["cuda tests", "memcheck", "racecheck", "bench", "bandwidth"]
    step, rc, text = run_step(run, "build", [run.python, "setup.py", "build_ext", "--inplace"], later, env, min_s=60)
    ninja = "ninja" if shutil.which("ninja", path=env.get("PATH")) else "no ninja: one file at a time (slow)"
    if step.status == "ok":
        probe = subprocess.run([run.python, "-c", "import pyalgo; i = pyalgo.build_info(); "
                                               "print(i['cuda_kernels'], i['cuda_archs'])"],
                               cwd=ROOT, env=run.env, capture_output=True, text=True, timeout=120)
        got = probe.stdout.strip()
        if probe.returncode != 0 or not got.startswith("True"):
            step.status = "failed"
            step.detail = f"pyalgo.has_cuda() is not True: {got or last_lines(probe.stderr)}"
        else:
            step.detail = f"sm_{info['capability'].replace('.', '')} only, MAX_JOBS={info['cores']}, {ninja}; " \
                          f"has_cuda() True, archs {got.split(' ', 1)[1]}"
    elif step.status != "skipped":
        step.detail = f"{ninja}; " + (step.detail or last_lines(text))
    return run.add(step)


# -- 3. tests ---------------------------------------------------------------------------------------

def pytest_cmd(run: Run, files: Sequence[str], expr: str, junit: str, keyword: Optional[str] = None) -> List[str]:
    cmd = [run.python, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-m", expr,
           "--continue-on-collection-errors", f"--junitxml={run.out / junit}"]
    return cmd + (["-k", keyword] if keyword else []) + list(files)


def tests_step(step: Step, rc: Optional[int], text: str, junit: Path) -> Step:
    counts = junit_counts(junit)
    if step.status == "skipped":
        return step
    broken = re.findall(r"^ERROR (tests/\S+\.py)(?: - (.*))?$", text, re.MULTILINE)
    detail = pytest_line(counts)
    if broken:
        detail += "; could not import " + ", ".join(f"{f} ({why.strip() or 'see log'})" for f, why in broken)
    if counts and counts["failing"]:
        detail += "; failing: " + ", ".join(counts["failing"][:10]) + (" ..." if len(counts["failing"]) > 10 else "")
    if rc == 5 or (counts and counts["passed"] + counts["failed"] + counts["errors"] == 0 and step.status != "timeout"):
        step.status, detail = "failed", "no test ran; " + detail
    step.errors = (counts["failed"] + counts["errors"]) if counts else None
    step.detail = (step.detail + "; " if step.detail else "") + detail
    return step


def sanitizer_cmd(run: Run, exe: str, tool: str, files: Sequence[str], junit: str) -> List[str]:
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    cmd = [exe, "--tool", tool, "--print-limit", "100"]
    if "--kernel-name" in help_text:           # only our kernels: torch's and cuBLAS's are not ours to check
        cmd += ["--kernel-name", f"kns={KERNEL_FILTER}"]
    elif "--filter" in help_text:
        cmd += ["--filter", f"kns={KERNEL_FILTER}"]
    if "--report-api-errors" in help_text:     # torch's own probing API errors are not kernel errors
        cmd += ["--report-api-errors", "no"]
    return cmd + pytest_cmd(run, files, "cuda", junit)


def sanitizer_step(run: Run, tool: str, exe: Optional[str], files: Sequence[str], later: Sequence[str]) -> Step:
    if exe is None:
        return run.add(Step(tool, "skipped", detail="compute-sanitizer not found (PATH, CUDA_HOME)"))
    env = dict(run.env, PYTORCH_NO_CUDA_MEMORY_CACHING="1")   # every allocation its own: out-of-bounds is seen
    step, rc, text = run_step(run, tool, sanitizer_cmd(run, exe, tool, files, f"pytest-{tool}.xml"), later, env)
    if step.status == "skipped":
        return run.add(step)
    counts = parse_sanitizer(text)
    tests = junit_counts(run.out / f"pytest-{tool}.xml")
    step.errors = counts["errors"]
    if counts["errors"] is None and step.status != "timeout":
        step.status = "failed"
        step.detail = f"no {tool} summary line (see {step.log}): {last_lines(text, 2)}"
    else:
        found = "?" if counts["errors"] is None else counts["errors"]
        step.detail = ("; ".join(filter(None, [step.detail, f"{found} errors"
                       + (f", {counts['warnings']} warnings" if counts["warnings"] is not None else "")
                       + f"; tests under {tool}: {pytest_line(tests)}"])))
        if counts["errors"]:
            step.status = "failed"
    return run.add(step)


# -- 4. bench and bandwidth -------------------------------------------------------------------------

def interface_bytes(case: Any, shape: Any, dtype: Any, mode: str, device: str = "cuda", seed: int = 0) -> Optional[int]:
    """Bytes one call of the case's pyalgo provider must move at least, in `mode`:

    - forward / call: the case's own count (`Inputs.bytes`) where it gives one, else every tensor
      argument the call reads (seen under a dispatch mode) read once + every returned tensor written once;
    - backward: the upstream gradients read + the forward's tensor inputs read again (as saved
      tensors) + the gradients of `grad_of` written;
    - forward+backward: the sum of the two.

    Intermediates (probabilities kept for the backward, indices, iterations' state) are not counted:
    the share of copy bandwidth is a lower bound of what the kernel achieves."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    from pyalgo.lab.harness.bench import PRIMARY, _outputs, _tensors

    class Reads(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ptrs = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            for a in tree_flatten((args, kwargs or {}))[0]:
                if isinstance(a, torch.Tensor) and a.device.type != "meta":
                    self.ptrs.add(a.untyped_storage().data_ptr())
            return func(*args, **(kwargs or {}))

    torch.manual_seed(seed)
    inputs = case.setup(shape, dtype, torch.device(device))
    fn = next(p.fn for p in case.providers if p.name == PRIMARY)
    args = [a for a in inputs.args if isinstance(a, torch.Tensor)]
    reads = Reads()
    with reads:
        y = fn(*inputs.args)
    used = [a for a in args if a.untyped_storage().data_ptr() in reads.ptrs] or args
    read = sum(a.numel() * a.element_size() for a in used)
    written = sum(t.numel() * t.element_size() for t in _tensors(y))
    forward = inputs.bytes if inputs.bytes else read + written
    if mode in ("forward", "call"):
        return int(forward)
    upstream = sum(t.numel() * t.element_size() for t in _outputs(y))
    grads = sum(t.numel() * t.element_size() for t in inputs.grad_of)
    if not upstream or not grads:
        return None
    backward = upstream + read + grads
    return int(backward if mode == "backward" else forward + backward)


def measure_copy(nbytes: int = 1 << 30, reps: int = 20) -> Tuple[float, float]:
    """(GB/s, median ms) of dst.copy_(src) of nbytes on the GPU, timed with CUDA events."""
    import torch

    src = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        dst.copy_(src)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    ms = statistics.median(times)
    return copy_gbps(nbytes, ms), ms


def _bandwidth_main(csvs: Sequence[str], out: str) -> int:
    """The `_bandwidth` subcommand (runs on the GPU): the copy bandwidth, and the bytes of every
    timed CUDA row of the bench CSVs, as JSON."""
    import importlib

    import torch

    from pyalgo.lab.harness.bench import shape_str

    gbps, ms = measure_copy()
    result: Dict[str, Any] = {"copy_gbps": gbps, "copy_ms": ms, "copy_bytes": 1 << 30, "rows": []}
    cache: Dict[Tuple[str, ...], Optional[int]] = {}
    for path in csvs:
        bench = Path(path).stem
        module = importlib.import_module(f"pyalgo.lab.{bench}.bench")
        cases = {c.name: c for c in module.CASES}
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["device"] == "cuda"]
        for r in rows:
            case = cases.get(r["case"])
            provider = next((p for p in case.providers if p.name == r["provider"]), None) if case else None
            nbytes, note = None, ""
            if case is None:
                note = "unknown case"
            elif provider is not None and provider.items is not None:
                note = "timed on a subset of the instances"
            else:
                key = (bench, r["case"], r["shape"], r["dtype"], r["mode"])
                if key not in cache:
                    shape = next((s for s in list(case.shapes) + list(case.quick_shapes or []) if shape_str(s) == r["shape"]), None)
                    try:
                        cache[key] = None if shape is None else interface_bytes(case, shape, getattr(torch, r["dtype"]), r["mode"])
                    except Exception as exc:  # noqa: BLE001  (a row without bytes, not a crash)
                        cache[key] = None
                        note = f"bytes not counted: {type(exc).__name__}: {str(exc)[:80]}"
                nbytes = cache[key]
            result["rows"].append(dict(bench=bench, **{k: r[k] for k in ("case", "provider", "shape", "dtype", "mode",
                                                                            "median_ms", "status")}, bytes=nbytes, note=note))
    Path(out).write_text(json.dumps(result, indent=1))
    return 0


def bench_rows(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The bench table: each timed row with GB/s and % of the copy bandwidth."""
    rows = []
    for r in data.get("rows", []):
        ms = float(r["median_ms"]) if r.get("median_ms") else None
        gbps, pct = bandwidth(r.get("bytes"), ms, data.get("copy_gbps"))
        rows.append(dict(r, median_ms=ms, gb_per_s=gbps, copy_pct=pct))
    return rows


# -- 5. the summary ---------------------------------------------------------------------------------

def _fmt(x: Optional[float], spec: str) -> str:
    return "" if x is None else format(x, spec)


def write_summary(out: Path, info: Dict[str, Any], steps: Sequence[Step], rows: Sequence[Dict[str, Any]],
                  copy: Optional[Dict[str, Any]], seconds: float) -> Tuple[Path, Path]:
    """<out>/gpu_check.md and <out>/gpu_check.csv (a `step` row per step, a `bench` row per timed case)."""
    out.mkdir(parents=True, exist_ok=True)
    failed = [s.name for s in steps if s.bad]
    md = [f"# gpu-check: {'FAILED (' + ', '.join(failed) + ')' if failed else 'all steps passed'}", ""]
    md.append(f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {seconds:.0f} s in all. `make gpu-check` "
              "(tools/gpu_check.py; docs/gpu.md explains every line).")
    md += ["", "| | |", "|---|---|"]
    for key, label in (("device", "device"), ("capability", "compute capability"), ("memory_gib", "GPU memory (GiB)"),
                       ("driver", "driver"), ("torch", "torch"), ("torch_cuda", "torch built with CUDA"),
                       ("nvcc_version", "nvcc"), ("python", "python"), ("cores", "usable cores"), ("host", "host")):
        if key in info:
            md.append(f"| {label} | {info[key]} |")
    if copy:
        md.append(f"| device copy bandwidth | {copy['copy_gbps']:.0f} GB/s (`dst.copy_(src)` of "
                  f"{copy['copy_bytes'] / 2**30:.0f} GiB, {copy['copy_ms']:.3f} ms; read + write counted) |")
    md += ["", "## Steps", "", "| step | status | seconds | errors | detail | log |", "|---|---|---|---|---|---|"]
    for s in steps:
        detail = s.detail.replace("|", "\\|")
        md.append(f"| {s.name} | {s.status.upper() if s.bad else s.status} | {s.seconds:.0f} | "
                  f"{'' if s.errors is None else s.errors} | {detail} | {s.log} |")
    if rows:
        md += ["", "## Bench (CUDA)", "",
               "Bytes: what one call must move at least (tensor inputs read once, returned tensors written once; "
               "backward: upstream gradients + inputs read, gradients written; `tools/gpu_check.py:interface_bytes`). "
               "% copy = (bytes / median time) / device copy bandwidth. Providers timed on a subset of the "
               "instances get no bandwidth; NumPy providers run on the CPU even in CUDA rows.", "",
               "| bench | case | shape | dtype | mode | provider | median ms | MB | GB/s | % copy | status |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            status = r.get("status", "") + (f" ({r['note']})" if r.get("note") else "")
            md.append(f"| {r['bench']} | {r['case']} | {r['shape']} | {r['dtype']} | {r['mode']} | {r['provider']} | "
                      f"{_fmt(r['median_ms'], '.4g')} | {_fmt(r['bytes'] and r['bytes'] / 1e6, '.3g')} | "
                      f"{_fmt(r['gb_per_s'], '.1f')} | {_fmt(r['copy_pct'], '.1f')} | {status.replace('|', '/')} |")
    md_path, csv_path = out / "gpu_check.md", out / "gpu_check.csv"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for s in steps:
            w.writerow(dict(section="step", name=s.name, status=s.status, seconds=f"{s.seconds:.1f}",
                            errors="" if s.errors is None else s.errors, detail=s.detail))
        for r in rows:
            w.writerow(dict(section="bench", name=f"{r['bench']}/{r['case']}", status=r.get("status", ""), detail=r.get("note", ""),
                            **{k: r[k] for k in ("bench", "case", "provider", "shape", "dtype", "mode")},
                            median_ms=_fmt(r["median_ms"], ".6g"), bytes=r["bytes"] or "",
                            gb_per_s=_fmt(r["gb_per_s"], ".4g"), copy_pct=_fmt(r["copy_pct"], ".2f")))
    return md_path, csv_path


# -- the whole check --------------------------------------------------------------------------------

def check(out: Path, budget: float, wheelhouse: Optional[Path], python: str = sys.executable) -> int:
    code, line, info = preflight()
    if line is not None:
        print(line, flush=True)
        return code
    run = Run(out.resolve(), budget, python)
    run.out.mkdir(parents=True, exist_ok=True)
    for old in [*(run.out / "bench").glob("*.csv"), *(run.out / WMMSE_K_OUT).glob("*.csv")]:
        old.unlink()   # the runner appends to its CSVs: rows of an earlier check must not mix in
    run.say(f"{info['device']} (sm_{info['capability'].replace('.', '')}), torch {info['torch']} (CUDA "
            f"{info['torch_cuda']}), nvcc {info['nvcc_version']}, {info['cores']} cores; budget {budget:.0f} s; "
            f"writing {run.out}")
    copy = None
    rows: List[Dict[str, Any]] = []
    try:
        if wheelhouse is not None and wheelhouse.is_dir():
            install_wheels(run, wheelhouse)
        info["ninja"] = shutil.which("ninja", path=run.env.get("PATH"))
        if build(run, info).status != "ok":
            for name in ("cuda tests", "simt tests", "memcheck", "racecheck", "bench", "bandwidth"):
                run.add(Step(name, "skipped", detail="the build failed"))
            return 1
        # the emulated simt tests use the CPU cores: they overlap the GPU steps, and end before the bench
        simt_files = select_files(r"mark\.simt\b")
        simt_log = run.out / "logs" / "simt-tests.log"
        simt_begin = time.monotonic()
        # (not the ThreadSanitizer re-run of every simt test: minutes of CPU that CI already spends)
        simt = start(pytest_cmd(run, simt_files, "simt", "pytest-simt.xml", "not thread_sanitizer"), simt_log,
                     run.env) if simt_files else None

        cuda_files = select_files(r"cuda", exclude=("test_cuda_build.py", "test_gpu_check.py"))
        step, rc, text = run_step(run, "cuda tests", pytest_cmd(run, cuda_files, "not simt", "pytest-cuda.xml", "cuda"),
                                  ["memcheck", "racecheck", "bench", "bandwidth"])
        run.add(tests_step(step, rc, text, run.out / "pytest-cuda.xml"))
        marked = select_files(r"mark\.cuda\b")
        sanitizer_step(run, "memcheck", info["sanitizer"], marked, ["racecheck", "bench", "bandwidth"])
        sanitizer_step(run, "racecheck", info["sanitizer"], marked, ["bench", "bandwidth"])

        step = Step("simt tests", log=str(simt_log.relative_to(run.out)))
        if simt is None:
            step.detail = "no test file marks simt"
        else:
            rc, timed_out = finish(simt, run.left() - LIMITS["bench"][1] - LIMITS["bandwidth"][1])
            step.seconds = time.monotonic() - simt_begin
            step.status = "timeout" if timed_out else "ok" if rc == 0 else "failed"
            if timed_out:
                step.detail = "stopped to leave the bench its time"
            text = simt_log.read_text(encoding="utf-8", errors="replace")
            tests_step(step, rc, text, run.out / "pytest-simt.xml")
        run.add(step)

        bench_py = [run.python, "-m", "pyalgo", "bench"]
        step, rc, text = run_step(run, "bench", bench_py + [*BENCHES, "--device", "cuda", "--quick", "--out",
                                                            str(run.out / "bench")], ["bandwidth"])
        if step.status != "skipped":
            fails = re.findall(r"^CHECK FAILED: (.*)$", text, re.MULTILINE)
            step.errors = len(fails)
            step.detail = "; ".join(filter(None, [step.detail, f"{len(fails)} check failures" + (": " + "; ".join(fails[:5]) if fails else ""),
                                                  "" if rc in (0, None) else last_lines(text, 2)]))
        run.add(step)
        step, rc, text = run_step(run, "bench wmmse K", bench_py + ["wireless", "--device", "cuda", "--preset", "full",
                                                                    "--case", "wmmse", "--budget", "1", "--out",
                                                                    str(run.out / WMMSE_K_OUT)], ["bandwidth"], min_s=45)
        if step.status == "skipped":
            step.detail += " (optional: WMMSE at K = 30 and 100)"
        elif rc not in (0, None):
            step.detail = last_lines(text, 2)
        run.add(step)

        csvs = sorted(str(p) for p in [*(run.out / "bench").glob("*.csv"), *(run.out / WMMSE_K_OUT).glob("*.csv")])
        if csvs:
            data_path = run.out / "bandwidth.json"
            step, rc, text = run_step(run, "bandwidth", [run.python, str(Path(__file__).resolve()), "_bandwidth",
                                                         str(data_path), *csvs], [], min_s=10)
            if step.status == "ok":
                copy = json.loads(data_path.read_text())
                rows = bench_rows(copy)
                step.detail = f"copy {copy['copy_gbps']:.0f} GB/s; {sum(r['copy_pct'] is not None for r in rows)} of {len(rows)} rows with bytes"
            elif step.status != "skipped":
                step.detail = last_lines(text, 2)
            run.add(step)
        return 1 if any(s.bad for s in run.steps) else 0
    finally:
        md, _ = write_summary(run.out, info, run.steps, rows, copy, time.monotonic() - run.start)
        bad = [s.name for s in run.steps if s.bad]
        run.say(f"{'FAILED: ' + ', '.join(bad) if bad else 'all steps passed'}; summary in {md}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_bandwidth"]:
        return _bandwidth_main(argv[2:], argv[1])
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check_out", help="output folder (default: gpu_check_out)")
    parser.add_argument("--budget", type=float, default=470.0, help="seconds for all the steps (default: 470)")
    parser.add_argument("--wheelhouse", default=str(ROOT / "wheelhouse"),
                        help="install the wheels found there first, offline (default: ./wheelhouse); '' for none")
    args = parser.parse_args(argv)
    return check(Path(args.out), args.budget, Path(args.wheelhouse) if args.wheelhouse else None)


if __name__ == "__main__":
    sys.exit(main())
