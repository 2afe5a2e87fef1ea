"""Shared fixtures: the devices every core test runs on (CUDA skipped where absent)."""

import pytest
import torch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test using this fixture runs on the CPU and, where one exists, on a CUDA GPU."""
    return torch.device(request.param)


@pytest.fixture
def one_torch_thread():
    """Run a test on one intra-op thread: simulations of many tiny tensor ops gain nothing from a
    second thread and lose much to oversubscription on a shared 2-core CI box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
