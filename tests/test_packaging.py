"""The compiled libraries as a wheel user meets them: the build record and the torch version gate,
the CUDA library's gate, value errors across the stable ABI, the symbols the library imports, and
an sdist that holds everything a build needs. (tools/wheel_check.py builds and installs the wheel
itself; `make test` runs it after this suite.)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

import pyalgo._ext as ext

ROOT = Path(__file__).resolve().parents[1]


def c_library() -> str:
    return ext._C.__file__


def test_build_record_matches_the_module_and_the_metadata():
    record = ext.read_build_info(c_library())
    assert record == json.loads(ext._C.build_info())
    assert record["version"] == ext.build_info()["version"]
    # the stable ABI the library targets is the torch floor that pyproject.toml declares
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"torch>={record["stable_abi"]}"' in pyproject
    setup = (ROOT / "setup.py").read_text()
    major, minor = record["stable_abi"].split(".")
    assert f"STABLE_ABI = ({major}, {minor})" in setup


@pytest.mark.parametrize("found", ["2.9.1", "2.4.0+cpu", "1.13.1"])
def test_version_gate_refuses_an_older_torch_in_one_line(found):
    info = {"version": "9.9.9", "torch": "2.13.0", "stable_abi": "2.10"}
    with pytest.raises(ImportError) as err:
        ext.check_torch(info, found)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("pyalgo 9.9.9 was built for torch 2.13.0 (stable ABI >= 2.10), found torch " + found)
    assert "install torch>=2.10" in text


@pytest.mark.parametrize("found", ["2.10.0", "2.13.0+cpu", "2.14.1+cu130", "2.20.0a0+git123", "3.0.0"])
def test_version_gate_accepts_the_stable_abi_and_later(found):
    ext.check_torch({"version": "9.9.9", "torch": "2.13.0", "stable_abi": "2.10"}, found)


def test_import_under_an_old_torch_fails_with_the_one_line_message():
    """A fake torch version (the check reads torch.__version__ before the library is loaded)."""
    code = "import torch; torch.__version__ = '2.9.0'; import pyalgo.discrete"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"ImportError: pyalgo \S+ was built for torch \S+ \(stable ABI >= 2\.10\), found torch "
                        r"2\.9\.0: install torch>=2\.10, or build pyalgo from its source against this torch with "
                        r"`pip install --no-build-isolation pyalgo`", last), last
    assert "_ZN" not in proc.stderr and "undefined symbol" not in proc.stderr


def test_cuda_library_gate():
    info = {"version": "9.9.9", "torch": "2.14.1", "stable_abi": "2.10", "cuda": "13.0", "cuda_archs": "9.0"}
    assert ext.cuda_mismatch(info, None) == "torch is a CPU build"
    assert ext.cuda_mismatch(info, "13.2") is None
    why = ext.cuda_mismatch(info, "12.8")
    assert why is not None and "built with CUDA 13.0, torch uses CUDA 12.8" in why


def test_cuda_state_is_consistent():
    info = ext.build_info()
    assert info["cuda_kernels"] == ext.has_cuda()
    has_cuda_kernel = torch._C._dispatch_has_kernel_for_dispatch_key("pyalgo::reinmax", "CUDA")
    assert has_cuda_kernel == ext.has_cuda()
    if torch.version.cuda is None:  # a CPU torch never loads the CUDA library
        assert not ext.has_cuda()


def test_value_errors_cross_the_stable_abi_as_value_error():
    x = torch.tensor([1.0, float("nan")], dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"^\[ValueError\] pyalgo\.multitask\.kmeans_1d: values must be finite"):
        torch.ops.pyalgo.kmeans_1d(x, 2)  # the raw op: RuntimeError, tagged
    with pytest.raises(ValueError, match=r"^pyalgo\.multitask\.kmeans_1d: values must be finite, got values\[1\]"):
        ext.call(torch.ops.pyalgo.kmeans_1d, x, 2)
    with pytest.raises(RuntimeError, match=r"^pyalgo\.multitask\.kmeans_1d: values must be float64"):
        ext.call(torch.ops.pyalgo.kmeans_1d, x.float(), 2)  # untagged errors stay RuntimeError


def test_non_differentiable_ops_fall_through_autograd():
    H = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
    ones = torch.ones(2, 3, dtype=torch.float64)
    p, *_ = torch.ops.pyalgo.wmmse_siso(H, ones, ones, ones, ones, 5, 1e-3, False)
    assert not p.requires_grad


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs binutils' nm")
def test_library_imports_no_torch_cpp_symbol():
    """Only the stable C shim of torch, CPython's limited API and versioned system symbols."""
    out = subprocess.run(["nm", "-D", "--undefined-only", c_library()], capture_output=True, text=True, check=True)
    names = [line.split()[-1] for line in out.stdout.splitlines()]
    unversioned_cpp = [n for n in names if n.startswith("_Z") and "@" not in n]
    assert unversioned_cpp == []
    torch_c = [n for n in names if n.startswith(("aoti_torch_", "torch_"))]
    assert len(torch_c) > 20
    python = [n for n in names if n.startswith("Py")]
    assert python and all(n in {"PyModule_Create2", "PyUnicode_FromString"} for n in python)
    needed = subprocess.run(["readelf", "-d", c_library()], capture_output=True, text=True).stdout
    libs = re.findall(r"Shared library: \[([^\]]+)\]", needed)
    assert "libtorch_cpu.so" in libs
    assert not {"libc10.so", "libtorch.so", "libtorch_python.so", "libgomp.so.1"} & set(libs), libs


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_sdist_holds_every_source_and_metadata_file(tmp_path):
    proc = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYALGO_FORCE_CPU": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    (archive,) = tmp_path.glob("pyalgo-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(["git", "ls-files", "csrc", "pyalgo"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    missing = sorted(set(tracked) - names)
    assert missing == []
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        assert name in names
    assert not [n for n in names if n.endswith((".so", ".o", ".pyc"))]
