"""AddressSanitizer + UndefinedBehaviorSanitizer build of pyalgo._C, and the op tests run under it.

    python tools/sanitize.py build            # build/sanitize/lib/pyalgo/_C*.so (the normal .so is untouched)
    python tools/sanitize.py run [files] [-- pytest args]  # build if stale, then the op tests, one process per file
    python tools/sanitize.py run --subset ci  # the CI subset: reliability + malformed tables
    python tools/sanitize.py env              # the environment, as shell `export` lines
    python tools/sanitize.py probe [family]   # tools/probe.py under the sanitizers
    (`make sanitize` = `run`; `make sanitize-ci` = `run --subset ci`; docs/sanitize.md explains it all)

The CPU extension (csrc/ops.cpp, csrc/module.cpp, csrc/*/*_cpu.cpp; no CUDA) is compiled with
`-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -DPYALGO_SANITIZE -O1 -g1` into
build/sanitize/ (or $PYALGO_SANITIZE_DIR). Tests then run with

- PYTHONPATH=tools/sanitize_site:<repo>, PYALGO_SANITIZED_EXT=<that .so>: tools/sanitize_site/
  sitecustomize.py makes `import pyalgo._C` load the sanitized file (in child processes too);
- LD_PRELOAD=<libasan.so> <libstdc++.so>: python is not instrumented, so the ASan runtime must be
  loaded before anything else (it refuses to start otherwise: "ASan runtime does not come first in
  initial library list"); libstdc++ must already be in the process when ASan starts, because ASan
  intercepts __cxa_throw & co. at start-up: without it the first C++ exception that torch or the
  extension throws (every TORCH_CHECK) aborts in ASan's __cxa_throw interceptor;
- ASAN_OPTIONS=detect_leaks=0 (CPython and torch keep their allocations at exit by design: the leak
  report would list thousands of them), allocator_may_return_null=1 (a huge allocation must stay a
  clear torch error, as without ASan, not an ASan abort), abort_on_error=1 (SIGABRT, so pytest's
  faulthandler prints the Python stack of the failing test under the report);
- UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 (with -fno-sanitize-recover every finding stops
  the process with its stack).

Each test file runs in its own pytest process, so one sanitizer report does not hide the other
files; the summary lists per file the pytest result and the first sanitizer report (kind, file:line
and the test that was running). Exit status 1 when any file failed or any report was printed.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import runpy
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("PYALGO_SANITIZE_DIR", ROOT / "build" / "sanitize"))
SITE = ROOT / "tools" / "sanitize_site"
# The build is setup.py's with PYALGO_SANITIZE=1 (-O1 -g1 (line tables) and these flags, CPU only); the same flags
# for anything else compiled under the sanitizers (tests/test_sanitize.py's probe library).
CXX_FLAGS = ["-O1", "-g1", *runpy.run_path(str(ROOT / "setup.py"), run_name="pyalgo_setup")["SANITIZE_FLAGS"]]
LINK_FLAGS = ["-fsanitize=address,undefined"]
# the op tests: every family's op file, the reliability tests, the malformed tables and the fuzzing
TESTS = ["tests/test_*_ops.py", "tests/test_reliability*.py", "tests/test_malformed_*.py", "tests/test_fuzz_*.py"]
# CI's subset (docs/sanitize.md: about 2 minutes on 2 cores, plus the build)
CI_TESTS = ["tests/test_reliability*.py", "tests/test_malformed_*.py"]
REPORT = re.compile(r"ERROR: AddressSanitizer: .*|\S*:? ?runtime error: .*|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer): .*"
                    r"|ERROR: LeakSanitizer: .*|AddressSanitizer:DEADLYSIGNAL|CHECK failed: .*")


def runtime(name: str) -> str:
    """Path of a runtime library of the compiler that builds the extension ("" when it has none)."""
    cxx = os.environ.get("CXX", "c++")
    try:
        out = subprocess.run([cxx, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
    # an unknown name is echoed back unchanged
    return os.path.realpath(out) if out and os.path.isabs(out) and os.path.exists(out) else ""


def toolchain_missing() -> str:
    """Why the sanitized build cannot run here ("" when it can)."""
    for lib in ("libasan.so", "libubsan.so", "libstdc++.so"):
        if not runtime(lib):
            return f"the compiler ({os.environ.get('CXX', 'c++')}) has no {lib}"
    return ""


def ext_path() -> Path:
    return OUT / "lib" / "pyalgo" / "_C.abi3.so"


def stale() -> bool:
    so = ext_path()
    if not so.exists():
        return True
    newest = max(p.stat().st_mtime for p in (ROOT / "csrc").rglob("*") if p.suffix in (".cpp", ".h"))
    return newest > so.stat().st_mtime or Path(__file__).stat().st_mtime > so.stat().st_mtime


def build(quiet: bool = False):
    """Builds the sanitized extension (ninja, incremental); returns (wall, CPU) seconds."""
    why = toolchain_missing()
    if why:
        raise SystemExit(f"sanitize: {why}; install the compiler's sanitizer runtimes (Debian: libasan8, libubsan1)")
    OUT.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYALGO_SANITIZED_EXT")}
    env["PYALGO_SANITIZE"] = "1"
    cmd = [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(OUT / "lib"), "--build-temp", str(OUT / "obj")]
    start, cpu0 = time.time(), _children_cpu()
    proc = subprocess.run(cmd, env=env, capture_output=quiet, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"sanitize: the build failed\n{(proc.stdout or '')[-3000:]}{(proc.stderr or '')[-3000:]}")
    os.utime(ext_path())  # stale() compares against it; ninja may have had nothing to relink
    return time.time() - start, _children_cpu() - cpu0


def environment() -> dict:
    """The variables a sanitized run needs (on top of os.environ)."""
    path = [str(SITE), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {
        "PYALGO_SANITIZED_EXT": str(ext_path()),
        "PYTHONPATH": os.pathsep.join(path),
        "LD_PRELOAD": f"{runtime('libasan.so')} {runtime('libstdc++.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:symbolize=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }


def check_loaded(env: dict) -> None:
    """Fails unless `pyalgo._C` really is the sanitized file in a process with `env`."""
    code = "import json, pyalgo._ext as e; print(e._C.__file__); print(json.loads(e._C.build_info())['version'])"
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                          text=True)
    lines = proc.stdout.split()
    if proc.returncode != 0 or not lines or Path(lines[0]) != ext_path() or not lines[-1].endswith("-sanitize"):
        raise SystemExit(f"sanitize: pyalgo._C did not load the sanitized build:\n{proc.stdout}{proc.stderr[-3000:]}")


def first_report(text: str) -> str:
    """The first sanitizer report of a pytest -v log, as its SUMMARY line and the running test."""
    first = REPORT.search(text)
    if not first:
        return ""
    summary = re.search(r"SUMMARY: \w+Sanitizer: .*", text[first.start():])
    tests = re.findall(r"(tests/[^\s:]+::\S+)", text[:first.start()])
    return f"{(summary or first).group(0).strip()}  [during {tests[-1] if tests else '?'}]"


def _children_cpu() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_tests(patterns, pytest_args, log_dir: Path, timeout: float = 1800) -> int:
    env = environment()
    check_loaded(env)
    files = sorted({f for pat in patterns for f in glob.glob(str(ROOT / pat))})
    if not files:
        raise SystemExit(f"sanitize: no test files match {patterns}")
    log_dir.mkdir(parents=True, exist_ok=True)
    rows, bad, total_start, total_cpu = [], 0, time.time(), _children_cpu()
    for path in files:
        rel = os.path.relpath(path, ROOT)
        log = log_dir / (Path(path).stem + ".log")
        # -v: the test's name is printed before it runs, so a report can be attributed to it
        # -m: the simt tests run the emulated CUDA kernels, built without ASan (tests/simt), and their
        # CPU side is covered by the op tests; a later -m in pytest_args replaces this one
        # --capture=sys: pytest's default fd capture would swallow the report that ASan writes to fd 2
        # before it aborts the process
        cmd = [sys.executable, "-m", "pytest", "-v", "--capture=sys", "-p", "no:cacheprovider", "-m",
               "not slow and not simt", rel, *pytest_args]
        start, cpu0 = time.time(), _children_cpu()
        with open(log, "w") as fh:  # streamed: `tail -f` the log of the file that is running
            proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                returncode = proc.wait()
                fh.write(f"\nsanitize: killed after {timeout:.0f}s\n")
        took, cpu = time.time() - start, _children_cpu() - cpu0
        out = log.read_text(errors="replace")
        result = re.findall(r"^=+ (.*(?:passed|failed|error|skipped|deselected|no tests ran).*?) =+$", out, re.M)
        if returncode == -9:
            result.append(f"killed after {timeout:.0f}s")
        report = first_report(out)
        status = "ok" if returncode in (0, 5) and not report else "FAIL"
        if status != "ok":
            bad += 1
        rows.append((rel, status, took, result[-1] if result else f"exit {returncode} (no pytest summary)",
                     report))
        print(f"{status:4} {took:6.1f}s ({cpu:5.1f}s CPU)  {rel}: {rows[-1][3]}" + (f"\n      {report}" if report else ""),
              flush=True)
    print(f"\nsanitize: {len(files)} files, {bad} failed, {time.time() - total_start:.0f}s, "
          f"{_children_cpu() - total_cpu:.0f}s CPU "
          f"(ASan+UBSan build {ext_path().relative_to(ROOT) if ext_path().is_relative_to(ROOT) else ext_path()}; "
          f"logs in {log_dir})")
    return 1 if bad else 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "run", "env", "probe"))
    parser.add_argument("targets", nargs="*", help="run: test files or globs (default: the op tests); probe: families")
    parser.add_argument("--subset", choices=("all", "ci"), default="all",
                        help="all: every op test file (make sanitize); ci: reliability + malformed tables")
    parser.add_argument("--no-build", action="store_true", help="run with the existing build even if stale")
    parser.add_argument("--timeout", type=float, default=1800, help="run: seconds per test file before it is killed")
    args = parser.parse_intermixed_args(argv)
    if args.command == "env":
        for key, value in environment().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    if not args.no_build and stale():
        took, cpu = build(quiet=args.command != "build")
        print(f"sanitize: built {ext_path()} in {took:.0f}s ({cpu:.0f}s CPU)", flush=True)
    if args.command == "build":
        return 0
    if args.command == "probe":
        env = environment()
        check_loaded(env)
        return subprocess.run([sys.executable, str(ROOT / "tools" / "probe.py"), *args.targets, *pytest_args],
                              env={**os.environ, **env}, cwd=ROOT).returncode
    patterns = args.targets or (CI_TESTS if args.subset == "ci" else TESTS)
    return run_tests(patterns, pytest_args, OUT / "logs", args.timeout)


if __name__ == "__main__":
    sys.exit(main())
