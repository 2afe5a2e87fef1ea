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
