"""Turning intensities in [0, 1] into spike trains: rate (Poisson) and latency codes."""

from __future__ import annotations

from typing import Optional

import torch

from ._budget import check_bytes
from ._checks import check_count, check_positive, check_real
from .spikes import poisson_spikes

__all__ = ["poisson_encode", "latency_encode", "ENCODINGS"]

ENCODINGS = ("poisson", "latency")


def _check_intensities(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1], got {images.dtype}")
    if images.numel() and (not bool(torch.isfinite(images).all()) or bool((images < 0).any()) or bool((images > 1).any())):
        raise ValueError("images must hold intensities in [0, 1] (scale them first)")
    return images


def poisson_encode(
    images: torch.Tensor,
    steps: int,
    dt: float = 1.0,
    max_rate_hz: float = 100.0,
    *,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
) -> torch.Tensor:
    """Rate code: each pixel fires as a Poisson source at ``intensity * max_rate_hz``.

    Returns
    -------
    Tensor
        Spikes ``(steps, *images.shape)`` in the images' dtype and device.
    """
    images = _check_intensities(images)
    max_rate_hz = check_positive("max_rate_hz", max_rate_hz, "Hz")
    steps = check_count("steps", steps)
    return poisson_spikes(
        images * max_rate_hz, steps, dt, tuple(images.shape), generator=generator, seed=seed,
        device=images.device, dtype=images.dtype,
    )


def latency_encode(images: torch.Tensor, steps: int, threshold: float = 0.0) -> torch.Tensor:
    """Latency code: each pixel at or above ``threshold`` fires once, brighter pixels earlier.

    Intensity 1 fires in step 0 and intensity ``threshold`` in the last step; the step is
    ``round((1 - intensity) / (1 - threshold) * (steps - 1))``. With the default
    ``threshold = 0`` every pixel fires, dark ones last (so pair STDP depresses the synapses
    of dark pixels that fire after the postsynaptic spike); a threshold > 0 keeps pixels
    below it silent.

    Returns
    -------
    Tensor
        Spikes ``(steps, *images.shape)`` in the images' dtype and device.
    """
    images = _check_intensities(images)
    steps = check_count("steps", steps, minimum=1)
    threshold = check_real("threshold", threshold)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
    numel = steps * images.numel()
    check_bytes(f"latency_encode with steps = {steps} for images of shape {tuple(images.shape)}",
                numel * (2 + images.element_size()) + images.numel() * 8,
                "use fewer steps or fewer/smaller images")
    fires = images >= threshold
    latency = torch.round((1.0 - images) / (1.0 - threshold) * (steps - 1)).clamp(0, steps - 1).to(torch.long)
    time = torch.arange(steps, device=images.device).reshape(steps, *([1] * images.dim()))
    return ((time == latency.unsqueeze(0)) & fires.unsqueeze(0)).to(images.dtype)
