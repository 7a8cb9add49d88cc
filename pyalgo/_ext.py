"""Loads pyalgo's compiled libraries once, after checking that they fit the running torch.

- `pyalgo/_C` (always): op schemas and CPU kernels, built against torch's stable ABI (torch >= the
  version in its build record) and Python's limited API (abi3).
- `pyalgo/_cuda` (CUDA wheels and CUDA builds only): the CUDA kernels, loaded only when torch is a
  CUDA build whose CUDA major version matches the one they were compiled with; under a CPU torch it
  is never touched, so a CUDA wheel works on a CPU torch.

Each library carries a build record (csrc/build_info.h) that is read from the file's bytes before
the library is loaded: an unsupported torch gets a one-line ImportError, not a loader error.
"""
from __future__ import annotations

import glob
import importlib.util
import json
import os
import warnings
from typing import Any, Callable, TypeVar

import torch

_MARK = b"PYALGO_BUILD_INFO"
# csrc/common/stable.h: C++ checks whose Python exception should be ValueError carry this tag.
VALUE_ERROR_TAG = "[ValueError] "
# The ops that are not differentiable: autograd falls through to their kernels.
NOT_DIFFERENTIABLE = ("wmmse_siso", "wmmse_miso", "kmeans_1d", "go4align_weights")
HERE = os.path.dirname(os.path.abspath(__file__))


def read_build_info(path: str) -> dict[str, str]:
    """The build record embedded in a pyalgo library file (without loading it)."""
    with open(path, "rb") as f:
        data = f.read()
    start = data.find(_MARK)
    if start < 0:
        raise ImportError(f"pyalgo: {path} has no build record; reinstall pyalgo")
    start += len(_MARK)
    return json.loads(data[start:data.index(b"\0", start)].decode())


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.split("+")[0].split(".")
    return int(parts[0]), int(parts[1])


def check_torch(info: dict[str, str], torch_version: str) -> None:
    """Raises a one-line ImportError when `torch_version` is older than the library's stable ABI."""
    if _major_minor(torch_version) < _major_minor(info["stable_abi"]):
        raise ImportError(
            f"pyalgo {info['version']} was built for torch {info['torch']} (stable ABI >= {info['stable_abi']}), "
            f"found torch {torch_version}: install torch>={info['stable_abi']}, or build pyalgo from its source "
            "against this torch with `pip install --no-build-isolation pyalgo`")


def cuda_mismatch(info: dict[str, str], torch_cuda: str | None) -> str | None:
    """Why the CUDA library cannot be used with a torch built for `torch_cuda`, or None if it can."""
    if torch_cuda is None:
        return "torch is a CPU build"
    if info["cuda"].split(".")[0] != torch_cuda.split(".")[0]:
        return (f"pyalgo's CUDA kernels were built with CUDA {info['cuda']}, torch uses CUDA {torch_cuda}: "
                "CUDA ops are unavailable; build pyalgo from its source with this torch's CUDA")
    return None


def _load_c() -> Any:
    spec = importlib.util.find_spec("pyalgo._C")
    if spec is None or spec.origin is None:
        raise ImportError("pyalgo's compiled library pyalgo/_C is missing: install a pyalgo wheel, or build it "
                          "from the source checkout with `pip install --no-build-isolation .`")
    check_torch(read_build_info(spec.origin), torch.__version__)
    from . import _C  # noqa: PLC0415  (loading registers torch.ops.pyalgo.*)

    return _C


def _load_cuda() -> dict[str, str] | None:
    paths = glob.glob(os.path.join(HERE, "_cuda*.so"))
    if not paths:
        return None
    info = read_build_info(paths[0])
    why = cuda_mismatch(info, torch.version.cuda)
    if why is not None:
        if torch.version.cuda is not None:
            warnings.warn(why, RuntimeWarning, stacklevel=3)
        return None
    torch.ops.load_library(paths[0])
    return info


def register_fallthroughs(namespace: str) -> torch.library.Library:
    """Lets autograd fall through to the non-differentiable ops of `namespace` (their outputs never
    require grad); returns the registration, which must be kept alive."""
    lib = torch.library.Library(namespace, "IMPL")
    for op in NOT_DIFFERENTIABLE:
        lib.impl(op, torch.library.fallthrough_kernel, "Autograd")
    return lib


_C = _load_c()
_CUDA_INFO = _load_cuda()
_FALLTHROUGH = register_fallthroughs("pyalgo")

R = TypeVar("R")


def call(op: Callable[..., R], *args: Any) -> R:
    """Calls a pyalgo op, re-raising its value errors (tagged in C++) as ValueError."""
    try:
        return op(*args)
    except RuntimeError as exc:
        text = str(exc)
        if text.startswith(VALUE_ERROR_TAG):
            raise ValueError(text[len(VALUE_ERROR_TAG):]) from None
        raise


def has_cuda() -> bool:
    """True when the CUDA kernels are loaded (a GPU may still be absent at run time).

    They are loaded from a CUDA wheel or build (pyalgo/_cuda) when torch is a CUDA build of the
    same CUDA major version; under a CPU torch they stay dormant.

    Returns:
        Whether the CUDA implementations of the ops are registered.

    Example:
        device = "cuda" if pyalgo.has_cuda() and torch.cuda.is_available() else "cpu"
    """
    return _CUDA_INFO is not None


def build_info() -> dict[str, Any]:
    """How pyalgo's compiled libraries were built, and which CPU kernels this machine runs.

    Returns:
        dict with version, torch_built_against, stable_abi (the oldest torch the libraries load
        on), python_abi, cuda_kernels (loaded or not), cuda_version, cuda_archs and cpu_kernels.

    Example:
        pyalgo.build_info()["stable_abi"]   # "2.10"
    """
    info = json.loads(_C.build_info())
    return {
        "version": info["version"],
        "torch_built_against": info["torch"],
        "stable_abi": info["stable_abi"],
        "python_abi": "abi3 (CPython >= 3.10)",
        "cuda_kernels": has_cuda(),
        "cuda_version": _CUDA_INFO["cuda"] if _CUDA_INFO else None,
        "cuda_archs": _CUDA_INFO["cuda_archs"] if _CUDA_INFO else "",
        "cpu_kernels": _C.cpu_kernels(),
    }
