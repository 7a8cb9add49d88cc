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
