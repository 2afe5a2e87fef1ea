"""Small images for convolutional STDP: scikit-learn's bundled 8x8 digits, or generated bars.

Nothing is downloaded: :func:`load_digit_images` reads the digits that ship inside
scikit-learn and falls back to :func:`generated_patterns` when scikit-learn is missing.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from ._budget import check_bytes
from ._checks import check_bool, check_count, check_positive, make_generator

__all__ = ["load_digit_images", "generated_patterns"]


def load_digit_images(
    digits: Optional[Sequence[int]] = None,
    n_images: Optional[int] = None,
    *,
    fallback: bool = True,
    seed: Optional[int] = None,
) -> torch.Tensor:
    """The 8x8 handwritten digits bundled with scikit-learn, scaled to [0, 1].

    Parameters
    ----------
    digits : sequence of int, optional
        Keep only these classes (0-9); default all.
    n_images : int, optional
        Keep the first ``n_images`` (after shuffling with ``seed`` if given); default all
        (1797 for all classes).
    fallback : bool
        When scikit-learn cannot be imported, return :func:`generated_patterns` instead of
        raising ``ImportError``.
    seed : int, optional
        Shuffle the images with this seed (default: the data set's order).

    Returns
    -------
    Tensor
        float32 images shaped ``(n, 8, 8)``, 0 = background, 1 = full ink.
    """
    if digits is not None:
        if isinstance(digits, (str, bytes)) or not hasattr(digits, "__iter__"):
            raise TypeError(f"digits must be a sequence of classes 0..9 such as (0, 1), got {digits!r}")
        digits = [check_count(f"digits[{i}]", d) for i, d in enumerate(digits)]
        if not digits or any(not 0 <= d <= 9 for d in digits):
            raise ValueError(f"digits must be a non-empty selection of 0..9, got {digits}")
    if n_images is not None:
        n_images = check_count("n_images", n_images, minimum=1)
    fallback = check_bool("fallback", fallback)
    shuffle = make_generator(None, seed, torch.device("cpu")) if seed is not None else None  # checks seed first
    try:
        from sklearn.datasets import load_digits  # bundled with scikit-learn; no download
    except ImportError:
        if not fallback:
            raise ImportError("load_digit_images needs scikit-learn (pip install scikit-learn)") from None
        return generated_patterns(n_images or 256, seed=0 if seed is None else seed)
    data = load_digits()
    images = torch.as_tensor(data.images, dtype=torch.float32) / 16.0
    if digits is not None:
        labels = torch.as_tensor(data.target)
        images = images[torch.isin(labels, torch.tensor(digits))]
    if seed is not None:
        order = torch.randperm(images.shape[0], generator=shuffle)
        images = images[order]
    if n_images is not None:
        if n_images > images.shape[0]:
            raise ValueError(f"n_images = {n_images} but only {images.shape[0]} images are available")
        images = images[:n_images]
    return images.contiguous()


def generated_patterns(
    n_images: int = 256,
    size: int = 8,
    n_orientations: int = 4,
    bar_width: float = 1.0,
    noise: float = 0.0,
    *,
    seed: Optional[int] = 0,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Images of one oriented bar each (a stand-in data set with known features).

    The bar passes through a random point near the centre at one of ``n_orientations``
    angles evenly spaced in [0, 180) degrees; intensity falls off linearly over ``bar_width``
    pixels from the bar's axis.

    Parameters
    ----------
    n_images : int
        Number of images.
    size : int
        Side of the square images, pixels (>= 3).
    n_orientations : int
        Number of distinct orientations (>= 1).
    bar_width : float
        Half-width of the bar's intensity profile, pixels (> 0).
    noise : float
        Amplitude of uniform background noise added before clipping to [0, 1] (>= 0).
    seed, generator
        Random source (one of them; default seed 0).

    Returns
    -------
    Tensor
        float32 ``(n_images, size, size)`` in [0, 1].
    """
    n_images = check_count("n_images", n_images, minimum=1)
    size = check_count("size", size, minimum=3)
    n_orientations = check_count("n_orientations", n_orientations, minimum=1)
    bar_width = check_positive("bar_width", bar_width, "pixels")
    noise = check_positive("noise", noise, allow_zero=True)
    # a handful of (n_images, size, size) float32 temporaries (distances, the image, noise)
    check_bytes(f"generated_patterns with n_images = {n_images} and size = {size}", float(n_images) * size * size * 4 * 6,
                "use fewer n_images or a smaller size (8 to 64 pixels)")
    gen = make_generator(generator, seed, torch.device("cpu"))
    orientation = torch.randint(n_orientations, (n_images,), generator=gen)
    angle = orientation.to(torch.float32) * (math.pi / n_orientations)
    centre = (size - 1) / 2 + (torch.rand(n_images, 2, generator=gen) - 0.5) * (size / 2)
    coords = torch.arange(size, dtype=torch.float32)
    row, col = torch.meshgrid(coords, coords, indexing="ij")
    # distance of each pixel from the bar's axis (direction (cos a, sin a) in (col, row))
    dr = row.unsqueeze(0) - centre[:, 0, None, None]
    dc = col.unsqueeze(0) - centre[:, 1, None, None]
    distance = (dc * torch.sin(angle)[:, None, None] - dr * torch.cos(angle)[:, None, None]).abs()
    images = (1.0 - distance / (bar_width + 0.5)).clamp(0.0, 1.0)
    if noise > 0:
        images = images + noise * torch.rand(images.shape, generator=gen)
    return images.clamp(0.0, 1.0)
