"""The CUDA sources compile on any machine with nvcc, GPU or not (README, Design: "one body, two
launchers"): every .cu file with nvcc for sm_80 and sm_90, with the flags of the real build (torch's
nvcc defaults, which hide __half's conversions unless setup.py undoes them, plus setup.py's), and the
CUDA torch glue with the host compiler against torch's stable-ABI headers (TORCH_TARGET_VERSION makes
any non-stable torch header an error). Skipped only where nvcc is absent."""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import runpy

import pytest
import torch.utils.cpp_extension as cpp_ext

ROOT = Path(__file__).resolve().parent.parent
# The flags of the real build (setup.py, loaded without building): the nvcc flags on top of torch's
# own defaults, and the host flags that pin the glue to torch's stable ABI.
SETUP = runpy.run_path(str(ROOT / "setup.py"), run_name="pyalgo_setup")
NVCC = shutil.which("nvcc") or (cpp_ext.CUDA_HOME and os.path.join(cpp_ext.CUDA_HOME, "bin", "nvcc"))
HAVE_NVCC = bool(NVCC and os.path.exists(NVCC))
CU_FILES = sorted(glob.glob(str(ROOT / "csrc" / "*" / "*.cu")))
GLUE_FILES = sorted(glob.glob(str(ROOT / "csrc" / "*" / "*_cuda.cpp")))

pytestmark = pytest.mark.skipif(not HAVE_NVCC, reason="nvcc not found")


def _cuda_include() -> str:
    """The toolkit's include folder (nvcc may be a wrapper script outside the toolkit)."""
    candidates = [os.environ.get("CUDA_HOME"), cpp_ext.CUDA_HOME, "/usr/local/cuda",
                  str(Path(NVCC).resolve().parent.parent)]
    for home in filter(None, candidates):
        if (Path(home) / "include" / "cuda_runtime_api.h").is_file():
            return str(Path(home) / "include")
    pytest.skip("CUDA toolkit headers not found")


def test_there_is_cuda_code():
    assert CU_FILES and GLUE_FILES


@pytest.mark.parametrize("path", CU_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_cu_compiles_for_sm80_and_sm90(path, tmp_path):
    cmd = [NVCC, *cpp_ext.COMMON_NVCC_FLAGS, *SETUP["nvcc_flags"], "-c", path, "-o", str(tmp_path / "out.o"),
           "-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=sm_90",
           "-Xcompiler", "-Wall", "-Werror", "all-warnings"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "out.o").stat().st_size > 0


@pytest.mark.parametrize("path", GLUE_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_cuda_glue_compiles(path, tmp_path):
    # A CPU-only torch wheel ships the c10/cuda headers but not the CMake-generated macros file;
    # an empty stand-in is enough for a syntax check.
    stub = tmp_path / "c10" / "cuda" / "impl"
    stub.mkdir(parents=True)
    (stub / "cuda_cmake_macros.h").write_text("")
    includes = [f"-I{p}" for p in cpp_ext.include_paths()] + [f"-I{tmp_path}", f"-I{_cuda_include()}",
                                                              f"-I{sysconfig.get_paths()['include']}"]
    cmd = ["c++", *SETUP["cxx_flags"], "-fsyntax-only", "-DPYALGO_WITH_CUDA", *includes, path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
