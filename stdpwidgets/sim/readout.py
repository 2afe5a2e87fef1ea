r"""What learned conv kernels are good for: baselines, similarity and a linear read-out of class.

A kernel that "looks like a stroke" is a weak claim unless it is compared with kernels that
share its simple statistics. This module gives the baselines (uniform noise, spatially
smoothed noise, and the learned kernels with their pixels shuffled, which keeps each kernel's
histogram of weights and destroys its layout), a measure of how alike the kernels of one
set are (:func:`kernel_similarity`: 1 when all are alike, 0 for independent noise), and a
functional test: how well a linear read-out (ridge regression onto one-hot labels, solved in
closed form) tells the digit class from the pooled responses of a set of kernels
(:func:`conv_features`, :func:`readout_accuracy`).
Everything is deterministic given its seed; only :func:`load_labelled_digits` needs
scikit-learn (its bundled 8x8 digits, nothing is downloaded).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ._budget import check_bytes, check_steps
from ._checks import (check_bool, check_count, check_finite, check_images_for_kernels, check_positive, check_tensor,
                      make_generator)

__all__ = [
    "load_labelled_digits",
    "conv_features",
    "ridge_readout",
    "readout_accuracy",
    "train_test_indices",
    "kernel_similarity",
    "smoothed_kernels",
    "shuffled_kernels",
    "noise_kernels",
]


def _check_kernels(kernels: torch.Tensor) -> torch.Tensor:
    if not isinstance(kernels, torch.Tensor):
        raise TypeError(f"kernels must be a tensor shaped (C_out, C_in, kH, kW), got {type(kernels).__name__}")
    if kernels.dim() != 4:
        raise ValueError(f"kernels must be a tensor shaped (C_out, C_in, kH, kW), got shape {tuple(kernels.shape)}")
    if not kernels.is_floating_point():
        raise TypeError(f"kernels must be floating point, got {kernels.dtype}")
    return kernels


def _check_labels(labels, rows: Optional[int] = None) -> torch.Tensor:
    labels = check_tensor("labels", labels, "(n,) of class indices")
    if labels.dim() != 1 or labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"labels must be a 1-D integer tensor of class indices, got {labels.dtype} {tuple(labels.shape)}")
    if labels.numel() == 0 or int(labels.min()) < 0:
        raise ValueError("labels must hold at least one class index, all >= 0")
    if rows is not None and labels.shape[0] != rows:
        raise ValueError(f"one label per row is needed: {rows} rows but {labels.shape[0]} labels")
    return labels


def _check_features(features) -> torch.Tensor:
    features = check_tensor("features", features, "(n, features)")
    if features.dim() != 2:
        raise ValueError(f"features must be (n, features) with one label per row, got shape {tuple(features.shape)}")
    if features.numel() and not bool(torch.isfinite(features).all()):
        raise ValueError("features must be finite (no NaN or inf)")
    return features


def load_labelled_digits() -> Tuple[torch.Tensor, torch.Tensor]:
    """All 1797 of scikit-learn's 8x8 digits in [0, 1] with their classes.

    Returns
    -------
    (Tensor, Tensor)
        float32 images ``(1797, 8, 8)`` (same scaling as
        :func:`~stdpwidgets.sim.digits.load_digit_images`) and int64 labels ``(1797,)``.
    """
    try:
        from sklearn.datasets import load_digits  # bundled with scikit-learn; no download
    except ImportError:
        raise ImportError("load_labelled_digits needs scikit-learn (pip install scikit-learn)") from None
    data = load_digits()
    images = torch.as_tensor(data.images, dtype=torch.float32) / 16.0
    return images.contiguous(), torch.as_tensor(data.target, dtype=torch.long)


def conv_features(images: torch.Tensor, kernels: torch.Tensor, pool: int = 2) -> torch.Tensor:
    """Max-pooled responses of each kernel to each image, flattened: ``(n, features)``.

    The response is the plain convolution (no padding, stride 1) of the image with the
    kernel; ``pool`` x ``pool`` max pooling then keeps the strongest response in each region.
    For 8x8 images and 5x5 kernels the 4x4 response map becomes 2x2, so 8 kernels give 32
    features (fewer than the 64 pixels: the read-out cannot just recover the image).

    Parameters
    ----------
    images : Tensor
        ``(n, H, W)`` or ``(n, C_in, H, W)``.
    kernels : Tensor
        ``(C_out, C_in, kH, kW)``.
    pool : int
        Side of the max-pooling window (1: no pooling).
    """
    kernels = _check_kernels(kernels)
    pool = check_count("pool", pool, minimum=1)
    images = check_images_for_kernels(images, kernels)
    out = (images.shape[2] - kernels.shape[2] + 1) * (images.shape[3] - kernels.shape[3] + 1)
    check_bytes(f"conv_features of {images.shape[0]} images with {kernels.shape[0]} kernels",
                float(images.shape[0]) * kernels.shape[0] * out * 8 * 2, "pass fewer images or kernels")
    response = F.conv2d(images.to(kernels.dtype), kernels)
    if pool > 1:
        response = F.max_pool2d(response, pool, ceil_mode=True)
    return response.flatten(1)


def train_test_indices(labels: torch.Tensor, test_fraction: float = 0.5,
                       seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """A seeded split stratified by class: ``(train indices, test indices)``.

    Within each class the samples are shuffled and the first ``round(test_fraction * n_c)``
    go to the test set.
    """
    labels = _check_labels(labels)
    test_fraction = check_positive("test_fraction", test_fraction)
    if test_fraction >= 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    generator = make_generator(None, seed, torch.device("cpu"))
    train, test = [], []
    for c in torch.unique(labels).tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n_test = int(round(test_fraction * members.numel()))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def ridge_readout(train_features: torch.Tensor, train_labels: torch.Tensor,
                  alpha: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Fit a linear read-out of class by ridge regression onto one-hot targets.

    The features are standardised with the training set's mean and standard deviation (a
    constant feature is left at 0), then :math:`\beta = (Z^\top Z + \alpha I)^{-1} Z^\top Y`
    with a free intercept (the column means of :math:`Y`; no penalty on it). The predicted class
    is the largest of the outputs. Float64 throughout.

    Returns
    -------
    (mean, scale, beta, intercept)
        ``mean`` and ``scale`` ``(features,)``, ``beta`` ``(features, classes)``,
        ``intercept`` ``(classes,)``; see :func:`readout_accuracy` for their use.
    """
    alpha = check_positive("alpha", alpha, allow_zero=True)
    train_features = _check_features(train_features)
    train_labels = _check_labels(train_labels, train_features.shape[0])
    check_bytes(f"ridge_readout with {train_features.shape[1]} features",
                float(train_features.shape[1]) ** 2 * 8 * 3 + train_features.numel() * 8.0 * 3,
                "use fewer features (pool the responses)")
    x = train_features.to(torch.float64)
    n_classes = int(train_labels.max()) + 1
    y = F.one_hot(train_labels, n_classes).to(torch.float64)
    mean = x.mean(dim=0)
    scale = x.std(dim=0, unbiased=False)
    scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))
    z = (x - mean) / scale
    y_mean = y.mean(dim=0)
    gram = z.t() @ z + alpha * torch.eye(z.shape[1], dtype=torch.float64)
    beta = torch.linalg.solve(gram, z.t() @ (y - y_mean))
    return mean, scale, beta, y_mean


def readout_accuracy(features: torch.Tensor, labels: torch.Tensor, *, test_fraction: float = 0.5,
                     seed: int = 0, alpha: float = 1.0) -> float:
    """Test accuracy of a ridge read-out of class from ``features`` (fraction correct).

    Splits with :func:`train_test_indices` (seeded, stratified), fits :func:`ridge_readout` on
    the training part and scores the held-out part.
    """
    features = _check_features(features)
    labels = _check_labels(labels, features.shape[0])
    train, test = train_test_indices(labels, test_fraction, seed)
    mean, scale, beta, intercept = ridge_readout(features[train], labels[train], alpha)
    z = (features[test].to(torch.float64) - mean) / scale
    predicted = (z @ beta + intercept).argmax(dim=1)
    return float((predicted == labels[test]).to(torch.float64).mean())


def kernel_similarity(kernels: torch.Tensor, centred: bool = True) -> float:
    """Mean cosine similarity over all pairs of distinct kernels of one set.

    With ``centred`` (the default) each kernel's mean is removed first, so the number
    measures whether the kernels share a *pattern*, not just positive weights: 1 means all
    kernels alike, 0 unrelated (as for independent noise), negative opposite. A set of one
    kernel has no pairs (NaN).
    """
    kernels = _check_kernels(kernels)
    centred = check_bool("centred", centred)
    check_bytes(f"kernel_similarity of {kernels.shape[0]} kernels", float(kernels.shape[0]) ** 2 * 8 * 2
                + kernels.numel() * 8.0 * 2, "compare fewer kernels (a few hundred)")
    flat = kernels.reshape(kernels.shape[0], -1).to(torch.float64)
    if centred:
        flat = flat - flat.mean(dim=1, keepdim=True)
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    n = flat.shape[0]
    if n < 2:
        return float("nan")
    cosine = flat @ flat.t()
    return float((cosine.sum() - cosine.diagonal().sum()) / (n * (n - 1)))


def smoothed_kernels(kernels: torch.Tensor, passes: int = 1) -> torch.Tensor:
    """Each kernel blurred by ``passes`` passes of the binomial 3x3 filter [1 2 1]^T [1 2 1] / 16.

    The border is replicated, so a constant kernel stays constant. Applied to noise this gives
    random kernels as smooth as learned ones, the stronger baseline for "structure".
    """
    kernels = _check_kernels(kernels)
    passes = check_count("passes", passes, minimum=0)
    check_steps(f"smoothed_kernels with passes = {passes}", float(passes),
                "use a few passes (each widens the blur by about one pixel)")
    c_out, c_in, k_h, k_w = kernels.shape
    row = torch.tensor([1.0, 2.0, 1.0], dtype=kernels.dtype, device=kernels.device) / 4
    blur = (row[:, None] * row[None, :]).reshape(1, 1, 3, 3)
    out = kernels.reshape(c_out * c_in, 1, k_h, k_w)
    for _ in range(passes):
        out = F.conv2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), blur)
    return out.reshape(c_out, c_in, k_h, k_w)


def shuffled_kernels(kernels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each kernel with its weights permuted at random (the same values, no spatial layout)."""
    kernels = _check_kernels(kernels)
    generator = make_generator(None, seed, torch.device("cpu"))
    flat = kernels.reshape(kernels.shape[0], -1)
    order = torch.stack([torch.randperm(flat.shape[1], generator=generator) for _ in range(flat.shape[0])])
    return flat.gather(1, order.to(kernels.device)).reshape(kernels.shape)


def noise_kernels(shape, low: float = 0.0, high: float = 1.0, seed: Optional[int] = 0) -> torch.Tensor:
    """Kernels of independent uniform noise on ``[low, high]``, shaped ``shape``."""
    low = check_finite("low", low)
    high = check_finite("high", high)
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"shape must be a sequence of ints such as (8, 1, 5, 5), got {shape!r}")
    shape = tuple(check_count(f"shape[{i}]", s) for i, s in enumerate(shape))
    check_bytes(f"noise_kernels of shape {shape}", float(math.prod(shape)) * 4 * 3, "use fewer or smaller kernels")
    generator = make_generator(None, seed, torch.device("cpu")) if seed is not None else None
    return low + (high - low) * torch.rand(shape, generator=generator)
