"""A layer's weight matrix as an image, beside the histogram of its weights."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import as_array, check_figure, mark_dynamic, new_figure, nice_limits, set_limits

__all__ = ["weight_matrix_figure"]


def weight_matrix_figure(
    weight: Sequence,
    *,
    w_min: float = 0.0,
    w_max: float = 1.0,
    bins: int = 30,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (8.0, 3.2),
    dpi: float = 72,
) -> Figure:
    """Weight matrix (outputs x inputs) as an image and the histogram of all its weights.

    Parameters
    ----------
    weight : array-like or Tensor
        ``(n_outputs, n_inputs)``, e.g. ``nn.Linear.weight``.
    w_min, w_max : float
        Colour range and histogram range (weight units).
    bins : int
        Histogram bins between ``w_min`` and ``w_max``.
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call for the same matrix shape; updated in place.
    figsize, dpi
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists``: ``"matrix"`` (AxesImage), ``"histogram"`` (the bar
        heights are ``figure.stdp_artists["counts"]``, a numpy array), ``"title"``.
    """
    w = as_array("weight", weight, ndim=2)
    if not (np.isfinite(w_min) and np.isfinite(w_max) and w_max > w_min):
        raise ValueError(f"need finite w_min < w_max, got w_min={w_min}, w_max={w_max}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    counts, edges = np.histogram(np.clip(w, w_min, w_max), bins=bins, range=(w_min, w_max))
    figure = check_figure(figure, "weight_matrix_figure")
    if figure is None:
        figure = new_figure("weight_matrix_figure", figsize, dpi)
        ax_matrix, ax_hist = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
        figure.subplots_adjust(left=0.07, right=0.97, bottom=0.16, top=0.86, wspace=0.3)
        art = figure.stdp_artists
        art["matrix"] = ax_matrix.imshow(w, cmap="viridis", vmin=w_min, vmax=w_max, aspect="auto",
                                         interpolation="nearest")
        ax_matrix.set_xlabel("input")
        ax_matrix.set_ylabel("output")
        for axis in (ax_matrix.xaxis, ax_matrix.yaxis):  # neurons are counted, not measured
            axis.set_major_locator(MaxNLocator(6, integer=True))
        figure.colorbar(art["matrix"], ax=ax_matrix, fraction=0.05, pad=0.02)
        art["histogram"] = ax_hist.stairs(counts, edges, fill=True, color="C0")
        ax_hist.set_xlabel("weight")
        ax_hist.set_ylabel("synapses")
        ax_hist.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        art["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, [art["matrix"], art["histogram"], art["title"]])
    art = figure.stdp_artists
    if art["matrix"].get_array().shape != w.shape:
        raise ValueError(f"matrix shape changed from {art['matrix'].get_array().shape} to {w.shape}; pass figure=None")
    art["matrix"].set_data(w)
    art["histogram"].set_data(counts, edges)
    art["counts"] = counts
    art["edges"] = edges
    art["title"].set_text(title)
    set_limits(art["histogram"].axes, (w_min, w_max), nice_limits(0.0, max(1.0, float(counts.max())) * 1.05, 4, True))
    return figure
