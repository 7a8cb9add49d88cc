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


# Property-based fuzzing (tests/test_fuzz_*.py). CI runs the bounded, derandomised "ci" profile;
# `pytest --deep -m fuzz` runs the "deep" profile (>= 2,000 examples per property).
from hypothesis import HealthCheck, settings  # noqa: E402

_FUZZ_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                         HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_FUZZ_COMMON)
settings.register_profile("deep", max_examples=2000, derandomize=False, print_blob=True, **_FUZZ_COMMON)


def pytest_addoption(parser):
    parser.addoption("--deep", action="store_true",
                     help="fuzz with the deep hypothesis profile (>= 2,000 examples per property)")


def pytest_configure(config):
    settings.load_profile("deep" if config.getoption("--deep") else "ci")
