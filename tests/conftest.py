"""Shared fixtures."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread for the test (tiny models: a second thread only adds synchronisation)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def simt():
    """torch.ops namespace of the CUDA kernels built under the SIMT emulator (tests/simt): the same
    ops as torch.ops.pyalgo, taking CPU tensors and running the .cu kernels with one thread per
    CUDA thread. The variant (plain or tsan) comes from $PYALGO_SIMT_VARIANT."""
    import os

    import pyalgo._ext  # noqa: F401  (loads torch.ops.pyalgo, the CPU launcher to compare with)
    from simt.emulator import build

    return getattr(torch.ops, build(os.environ.get("PYALGO_SIMT_VARIANT", "plain")))
