"""Build of pyalgo's compiled extension `pyalgo._C`.

The CPU extension is always built. CUDA sources are added only when the installed torch was
built with CUDA (`torch.version.cuda`) and nvcc is found; `PYALGO_FORCE_CPU=1` forces CPU only.
Never decided on `torch.cuda.is_available()`: build machines may have no GPU.

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
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise SystemExit(
        "pyalgo needs PyTorch installed before it is built. On these machines run\n"
        "    pip install torch==2.13.0\n"
        "then build with\n"
        "    pip install --no-build-isolation .\n"
    ) from exc

ROOT = os.path.dirname(os.path.abspath(__file__))
VERSION = re.search(r'__version__ = "([^"]+)"', open(os.path.join(ROOT, "pyalgo", "version.py")).read()).group(1)
# The GPUs CUDA 13 supports that we build for (sm_75 and newer); override with TORCH_CUDA_ARCH_LIST.
DEFAULT_CUDA_ARCHS = "7.5;8.0;8.6;8.9;9.0+PTX"


def want_cuda() -> bool:
    if os.environ.get("PYALGO_FORCE_CPU", "0") == "1":
        return False
    if torch.version.cuda is None:
        return False
    nvcc = shutil.which("nvcc") or (CUDA_HOME and os.path.join(CUDA_HOME, "bin", "nvcc"))
    return bool(nvcc and os.path.exists(nvcc))


def rel(paths):
    return sorted(os.path.relpath(p, ROOT) for p in paths)


cpu_sources = rel(
    [os.path.join(ROOT, "csrc", "ops.cpp"), os.path.join(ROOT, "csrc", "module.cpp")]
    + glob.glob(os.path.join(ROOT, "csrc", "*", "*_cpu.cpp"))
)
cuda_sources = rel(glob.glob(os.path.join(ROOT, "csrc", "*", "*_cuda.cpp")) + glob.glob(os.path.join(ROOT, "csrc", "*", "*.cu")))

# -fopenmp: at::parallel_for is an inline OpenMP region in torch's headers; without the flag it
# silently runs on one thread. -fno-trapping-math lets g++ if-convert and vectorise the row loops
# (pyalgo never reads floating-point exception flags).
cxx_flags = ["-O3", "-fopenmp", "-fno-trapping-math", f'-DPYALGO_VERSION="{VERSION}"']
link_flags = ["-fopenmp"]
if want_cuda():
    archs = os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS)
    ext = CUDAExtension(
        "pyalgo._C",
        cpu_sources + cuda_sources,
        extra_compile_args={
            "cxx": cxx_flags + ["-DPYALGO_WITH_CUDA", f'-DPYALGO_CUDA_ARCHS="{archs}"'],
            "nvcc": ["-O3", "-DPYALGO_WITH_CUDA"],
        },
        extra_link_args=link_flags,
    )
else:
    ext = CppExtension("pyalgo._C", cpu_sources, extra_compile_args={"cxx": cxx_flags},
                       extra_link_args=link_flags)

setup(
    version=VERSION,
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=shutil.which("ninja") is not None)},
)
