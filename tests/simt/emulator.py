"""Builds pyalgo's CUDA sources under the SIMT emulator (simt.h) as a CPU torch extension.

`build()` compiles csrc/ops.cpp (the schemas, as library `pyalgo_simt`), the unmodified CUDA glue
csrc/*/*_cuda.cpp and the kernels of csrc/*/*.cu with the host compiler and loads the result:
torch.ops.pyalgo_simt.<op> then takes CPU tensors and runs the real kernels, one thread per CUDA
thread. Builds are cached under build/simt/ (or $PYALGO_SIMT_CACHE) per hash of every source,
flag and compiler, so CI compiles each variant once.

Variants: "plain" (-O2), "tsan" (ThreadSanitizer; load it in a process started with
LD_PRELOAD=tsan_runtime()) and "asan" (AddressSanitizer + UBSan; load it in a process started with
the environment of `python tools/sanitize.py env`, docs/sanitize.md). `planted` builds one family
from a modified copy of its .cu file, as a separate library, to prove that the checks catch a
planted bug.
"""
from __future__ import annotations

import glob
import hashlib
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CSRC = ROOT / "csrc"
FAMILIES = ("discrete", "wireless", "energy")
CU_FILES = {f: CSRC / f / {"discrete": "estimators_kernels.cu", "wireless": "wireless_kernels.cu",
                           "energy": "energy_kernels.cu"}[f] for f in FAMILIES}
GLUE_FILES = {f: CSRC / f / {"discrete": "estimators_cuda.cpp", "wireless": "wireless_cuda.cpp",
                             "energy": "energy_cuda.cpp"}[f] for f in FAMILIES}
FLAGS = {
    # -ffp-contract=off: no fused multiply-add, so the emulated arithmetic is the written one.
    "plain": ["-O2", "-ffp-contract=off"],
    "tsan": ["-O1", "-fsanitize=thread", "-ffp-contract=off"],
    # out of bounds of a tensor: heap-buffer-overflow; of a __shared__ array (a static here):
    # global-buffer-overflow; of dynamic shared memory: heap-buffer-overflow past its padding
    # (rounded up to max_align_t, plus one)
    "asan": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
             "-fno-omit-frame-pointer", "-ffp-contract=off"],
}


def tsan_runtime() -> str:
    """Path of the compiler's ThreadSanitizer runtime (to LD_PRELOAD into python)."""
    out = subprocess.run(["c++", "-print-file-name=libtsan.so"], capture_output=True, text=True).stdout.strip()
    return os.path.realpath(out)


def _digest(paths, extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(str(p).encode())
        h.update(Path(p).read_bytes())
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    h.update(compiler.encode())
    return h.hexdigest()[:16]


def _headers():
    return [Path(p) for p in glob.glob(str(CSRC / "**" / "*.h"), recursive=True)] + [
        Path(p) for p in glob.glob(str(HERE / "**" / "*.h"), recursive=True)]


def _kernel_wrapper(build_dir: Path, family: str, cu: Path) -> Path:
    """A .cpp that includes the .cu (torch's builder would hand a .cu file to nvcc)."""
    path = build_dir / f"kernels_{family}.cpp"
    text = f'#include "{cu}"\n'
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


_FALLTHROUGHS: dict = {}  # library -> its autograd fallthrough registration (kept alive)


def build(variant: str = "plain", families=FAMILIES, planted: dict | None = None) -> str:
    """Builds (or reuses) and loads the emulated library; returns its torch.ops namespace name.

    planted: {family: (old, new)} replaces the text `old` by `new` in a copy of that family's .cu
    file (which must contain `old` exactly once); the library is then named pyalgo_planted_<hash>.
    """
    import torch.utils.cpp_extension as cpp_ext

    if variant not in FLAGS:
        raise ValueError(f"variant must be one of {sorted(FLAGS)}, got {variant!r}")
    cache = Path(os.environ.get("PYALGO_SIMT_CACHE", ROOT / "build" / "simt"))
    sources = [CSRC / "ops.cpp", HERE / "entry.cpp"] + [GLUE_FILES[f] for f in families]
    cus = {f: CU_FILES[f] for f in families}
    # PYALGO_MAX_BLOCKS: grids capped at 3 blocks, so every case with more rows runs the kernels'
    # grid-stride loops.
    common = FLAGS[variant] + ["-std=c++17", "-DPYALGO_SIMT", "-DPYALGO_MAX_BLOCKS=3", "-Wno-unknown-pragmas"]
    key_extra = variant + repr(sorted(families)) + repr(sorted((planted or {}).items())) + repr(common)
    key = _digest(sources + list(cus.values()) + _headers(), key_extra)
    library = f"pyalgo_planted_{key}" if planted else "pyalgo_simt"
    name = f"{library}_{variant}_{key}" if planted else f"pyalgo_simt_{variant}_{key}"
    build_dir = cache / name
    build_dir.mkdir(parents=True, exist_ok=True)
    for family, (old, new) in (planted or {}).items():
        text = cus[family].read_text()
        if text.count(old) != 1:
            raise ValueError(f"planted text must occur exactly once in {cus[family].name}: {old!r}")
        copy = build_dir / "planted" / family / cus[family].name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text.replace(old, new))
        cus[family] = copy
    wrappers = [_kernel_wrapper(build_dir, f, cu) for f, cu in cus.items()]
    flags = common + [f"-DPYALGO_LIBRARY={library}", f"-DPYALGO_SIMT_LIBRARY={library}"]
    includes = [str(HERE / "include"), str(HERE), str(CSRC)] + [str(CSRC / f) for f in families]
    ldflags = {"tsan": ["-fsanitize=thread"], "asan": ["-fsanitize=address,undefined"]}.get(variant, [])
    # A sanitizer process (LD_PRELOAD) must not hand the runtime to the compiler it starts.
    os.environ.pop("LD_PRELOAD", None)
    cpp_ext.load(name=name, sources=[str(s) for s in sources + wrappers], extra_cflags=flags,
                 extra_ldflags=ldflags, extra_include_paths=includes, build_directory=str(build_dir),
                 is_python_module=False, verbose=False)
    if library not in _FALLTHROUGHS:  # as pyalgo/_ext.py does for torch.ops.pyalgo
        from pyalgo import _ext

        _FALLTHROUGHS[library] = _ext.register_fallthroughs(library)
    return library


def kernels_in(path) -> list[str]:
    """Names of the __global__ kernels defined in a .cu file."""
    import re

    return sorted(set(re.findall(r"__global__\s+void\s+(\w+)\s*\(", Path(path).read_text())))


def all_kernels() -> dict[str, str]:
    """{kernel name: family} for every __global__ kernel of every csrc/*/*.cu file."""
    found = {}
    for cu in sorted(CSRC.glob("*/*.cu")):
        for name in kernels_in(cu):
            found[name] = cu.parent.name
    return found
