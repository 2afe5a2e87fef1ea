"""Convolution kernels shown as a grid of images (e.g. receptive fields learnt by STDP)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from ._figure import as_array, check_figure, mark_dynamic, new_figure

__all__ = ["kernel_figure"]


def kernel_figure(
    kernels: Sequence,
    *,
    columns: Optional[int] = None,
    vmin: Optional[float] = 0.0,
    vmax: Optional[float] = 1.0,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Optional[Tuple[float, float]] = None,
    dpi: float = 72,
    cmap: str = "gray",
) -> Figure:
    """Show each kernel of a ``Conv2d`` weight as a small image.

    Parameters
    ----------
    kernels : array-like or Tensor
        ``(out_channels, in_channels, kh, kw)`` (channels after the first input channel are
        averaged) or ``(out_channels, kh, kw)``.
    columns : int, optional
        Images per row; default about the square root of the kernel count.
    vmin, vmax : float or None
        Colour range (weight units); None scales each frame to the data.
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call with the same number and shape of kernels; its images
        are updated in place.
    figsize, dpi
        Size of a new figure (default: about 1.3 inch per kernel, at least 4.5 inch wide).

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists["kernels"]`` is the list of ``AxesImage``.
    """
    array = as_array("kernels", kernels, ndim=None)
    if array.ndim == 4:
        array = array.mean(axis=1)
    if array.ndim != 3 or array.shape[0] == 0:
        raise ValueError(
            f"kernels must be shaped (out_channels, in_channels, kh, kw) or (out_channels, kh, kw), got {array.shape}"
        )
    count = array.shape[0]
    figure = check_figure(figure, "kernel_figure")
    if figure is not None and len(figure.stdp_artists["kernels"]) != count:
        raise ValueError(
            f"this figure shows {len(figure.stdp_artists['kernels'])} kernels, not {count}; pass figure=None"
        )
    low = float(array.min()) if vmin is None else float(vmin)
    high = float(array.max()) if vmax is None else float(vmax)
    if high <= low:
        high = low + 1e-9
    if figure is None:
        cols = columns or min(count, max(4, int(math.ceil(math.sqrt(count)))))
        rows = int(math.ceil(count / cols))
        size = figsize or (max(4.5, 1.3 * cols), max(1.8, 1.3 * rows + 0.4))
        figure = new_figure("kernel_figure", size, dpi)
        figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.4 / size[1], wspace=0.08, hspace=0.08)
        axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).ravel()
        images = []
        for index, ax in enumerate(axes):
            ax.set_xticks([])
            ax.set_yticks([])
            if index < count:
                images.append(ax.imshow(array[index], cmap=cmap, vmin=low, vmax=high, interpolation="nearest"))
            else:
                ax.set_visible(False)
        figure.stdp_artists["kernels"] = images
        figure.stdp_artists["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, images + [figure.stdp_artists["title"]])
    for image, kernel in zip(figure.stdp_artists["kernels"], array):
        if image.get_array().shape != kernel.shape:
            raise ValueError(f"kernel shape changed from {image.get_array().shape} to {kernel.shape}; pass figure=None")
        image.set_data(kernel)
        image.set_clim(low, high)
    figure.stdp_artists["title"].set_text(title)
    return figure
