"""Loads the compiled extension once; every op module imports `_C` from here."""
import torch  # noqa: F401  (loads libtorch/libc10, which _C links against)

try:
    from . import _C  # noqa: F401  (loading registers torch.ops.pyalgo.*)
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "pyalgo's compiled extension pyalgo._C could not be loaded "
        f"({exc}). Build it from the source checkout with:\n"
        "    pip install torch==2.13.0        # only if torch is missing\n"
        "    pip install --no-build-isolation .\n"
        "(or `pip install --no-build-isolation -e .` for development). The extension must be "
        "built against the torch you import."
    ) from exc


def has_cuda() -> bool:
    """True when the CUDA kernels were compiled in (a GPU may still be absent at run time)."""
    return bool(_C.compiled_with_cuda())


def build_info() -> dict:
    return {
        "version": _C.version(),
        "torch_built_against": _C.torch_version(),
        "cuda_kernels": has_cuda(),
        "cuda_archs": _C.cuda_archs(),
        "cpu_kernels": _C.cpu_kernels(),
    }
