"""Build of pyalgo's compiled libraries, against torch's stable ABI and Python's limited API.

- `pyalgo._C` (always): the op schemas and the CPU kernels. It calls torch only through the stable
  C shim, targeted at torch 2.10 (TORCH_TARGET_VERSION), and Python only through the limited API
  (abi3, 3.10+), so one wheel per platform loads on torch >= 2.10 and Python >= 3.10.
- `pyalgo._cuda` (when the torch building it is a CUDA build and nvcc is found; never decided on
  `torch.cuda.is_available()`, build machines may have no GPU): the CUDA kernels and their glue,
  loaded by pyalgo/_ext.py only under a CUDA torch. `PYALGO_FORCE_CPU=1` skips it.

Release builds are optimised and stripped; `DEBUG=1` builds -O0 -g, unstripped;
`PYALGO_SANITIZE=1` (tools/sanitize.py) builds `_C` only, with AddressSanitizer + UBSan.
Install with `pip install --no-build-isolation .` (torch must already be installed; it is not a
build requirement on purpose, see pyproject.toml).
"""
import glob
import os
import re
import shutil

from setuptools import setup

try:
    import torch
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension, CUDA_HOME
except ImportError:  # pragma: no cover - exercised by a build without torch
    raise SystemExit(
        "pyalgo: torch is not importable in this build environment; if torch is installed, pip is building "
        "in isolation: run `pip install --no-build-isolation .` (else install torch>=2.10 first)"
    ) from None

ROOT = os.path.dirname(os.path.abspath(__file__))
VERSION = re.search(r'__version__ = "([^"]+)"', open(os.path.join(ROOT, "pyalgo", "version.py")).read()).group(1)
# The oldest torch whose stable ABI the libraries use (also in pyproject.toml's dependencies).
STABLE_ABI = (2, 10)
# The GPUs CUDA 13 supports that we build for (sm_75 and newer); override with TORCH_CUDA_ARCH_LIST.
DEFAULT_CUDA_ARCHS = "7.5;8.0;8.6;8.9;9.0+PTX"
DEBUG = os.environ.get("DEBUG", "0") == "1"
SANITIZE = os.environ.get("PYALGO_SANITIZE", "0") == "1"
# -DPYALGO_SANITIZE: the AVX2 row paths drop always_inline (with it, ASan instrumentation of their
# many per-C instantiations took g++ ~14 min for estimators_cpu.cpp; without it, ~1.5 min).
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
                  "-DPYALGO_SANITIZE"]


def want_cuda() -> bool:
    if SANITIZE or os.environ.get("PYALGO_FORCE_CPU", "0") == "1":
        return False
    if torch.version.cuda is None:
        return False
    nvcc = shutil.which("nvcc") or (CUDA_HOME and os.path.join(CUDA_HOME, "bin", "nvcc"))
    return bool(nvcc and os.path.exists(nvcc))


def rel(paths):
    return sorted(os.path.relpath(p, ROOT) for p in paths)


def define(name, value):
    return f'-D{name}="{value}"'


cpu_sources = rel([os.path.join(ROOT, "csrc", f) for f in ("ops.cpp", "module.cpp")]
                  + glob.glob(os.path.join(ROOT, "csrc", "*", "*_cpu.cpp")))
cuda_sources = rel([os.path.join(ROOT, "csrc", "cuda_library.cpp")]
                   + glob.glob(os.path.join(ROOT, "csrc", "*", "*_cuda.cpp"))
                   + glob.glob(os.path.join(ROOT, "csrc", "*", "*.cu")))

torch_version = torch.__version__.split("+")[0]
common = [
    f"-DTORCH_TARGET_VERSION=0x{STABLE_ABI[0]:02x}{STABLE_ABI[1]:02x}000000000000",
    define("PYALGO_VERSION", VERSION + ("-sanitize" if SANITIZE else "")),
    define("PYALGO_TORCH_VERSION", torch_version),
    define("PYALGO_STABLE_ABI", f"{STABLE_ABI[0]}.{STABLE_ABI[1]}"),
]
opt = ["-O1", "-g1"] + SANITIZE_FLAGS if SANITIZE else ["-O0", "-g"] if DEBUG else ["-O3", "-g0"]
# -fopenmp-simd: the `omp simd` loop hints only (no OpenMP runtime: threads come from torch's
# parallel_for through the stable shim). -fno-trapping-math lets g++ if-convert and vectorise the
# row loops (pyalgo never reads floating-point exception flags). Hidden visibility: the library
# exports only its module init and build record.
cxx_flags = opt + ["-std=c++17", "-fopenmp-simd", "-fno-trapping-math", "-fvisibility=hidden"] + common
link_flags = ["-fsanitize=address,undefined"] if SANITIZE else [] if DEBUG else ["-s"]

# torch's nvcc defaults hide __half/__nv_bfloat16's conversions and operators; the kernel bodies,
# shared with the CPU, convert with static_cast (csrc/discrete/estimators.h).
HALF_OPS = [f"-U__CUDA_NO_{what}__" for what in
            ("HALF_OPERATORS", "HALF_CONVERSIONS", "HALF2_OPERATORS", "BFLOAT16_CONVERSIONS", "BFLOAT16_OPERATORS")]
# What nvcc gets on top of torch's COMMON_NVCC_FLAGS (tests/test_cuda_build.py compiles with the same).
nvcc_flags = (["-O0", "-g"] if DEBUG else ["-O3"]) + ["-std=c++17", "-DPYALGO_WITH_CUDA"] + HALF_OPS + common


def extensions() -> list:
    """The libraries to build: _C always, _cuda with a CUDA torch and nvcc."""
    global VERSION
    ext = CppExtension("pyalgo._C", cpu_sources, py_limited_api=True,
                       extra_compile_args={"cxx": cxx_flags}, extra_link_args=link_flags)
    # Only torch_cpu (the stable C shim) is linked: no c10, libtorch or libtorch_python symbol is used.
    ext.libraries = ["torch_cpu"]
    if not want_cuda():
        return [ext]
    archs = os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS)
    cuda_version = torch.version.cuda
    # A CUDA wheel is told apart by a local version label, as torch's own (0.2.0+cu130).
    VERSION += "+cu" + "".join(cuda_version.split(".")[:2])
    cuda_defs = [define("PYALGO_CUDA_VERSION", cuda_version), define("PYALGO_CUDA_ARCHS", archs)]
    cuda_ext = CUDAExtension("pyalgo._cuda", cuda_sources, py_limited_api=True,
                             extra_compile_args={"cxx": cxx_flags + cuda_defs, "nvcc": nvcc_flags + cuda_defs},
                             extra_link_args=link_flags)
    # torch_cuda: the AOTI shim's current CUDA stream; cudart: the kernel launches.
    cuda_ext.libraries = ["torch_cpu", "torch_cuda", "cudart"]
    return [ext, cuda_ext]


if __name__ == "__main__":  # as pip and `python setup.py` run it; tests load the flags only
    ext_modules = extensions()
    setup(
        version=VERSION,
        ext_modules=ext_modules,
        cmdclass={"build_ext": BuildExtension.with_options(use_ninja=shutil.which("ninja") is not None)},
        options={"bdist_wheel": {"py_limited_api": "cp310"}},
    )
