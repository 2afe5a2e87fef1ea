"""Shared helpers of the figure builders: new figures, artist registries, stable axis limits (private)."""

from __future__ import annotations

import math
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "new_figure", "registry", "check_figure", "as_array", "nice_limits", "stable_limits", "set_limits", "mark_dynamic",
    "add_footer",
]


def new_figure(builder: str, figsize: Tuple[float, float], dpi: float) -> Figure:
    """A ``matplotlib.figure.Figure`` with an Agg canvas, outside pyplot's global state.

    ``builder`` names the function that owns the figure, so a later call can check that the
    figure it is asked to update is one of its own.
    """
    if not (isinstance(dpi, (int, float)) and not isinstance(dpi, bool) and 10 <= dpi <= 600):
        raise ValueError(f"dpi must be a number between 10 and 600, got {dpi!r}")
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    figure.stdp_builder = builder
    figure.stdp_artists = {}
    figure.stdp_dynamic = []
    return figure


def registry(figure: Figure) -> Dict[str, Artist]:
    """The named artists a builder registered on ``figure`` (``figure.stdp_artists``)."""
    return figure.stdp_artists


def check_figure(figure: Optional[Figure], builder: str) -> Optional[Figure]:
    """Return ``figure`` when it was made by ``builder`` (None passes through), else raise."""
    if figure is None:
        return None
    if not isinstance(figure, Figure):
        raise TypeError(f"figure must be a matplotlib Figure made by {builder}(), got {type(figure).__name__}")
    made_by = getattr(figure, "stdp_builder", None)
    if made_by != builder:
        raise ValueError(
            f"this figure was not made by {builder}() (made by {made_by or 'something else'}); "
            f"pass figure=None to make a new one"
        )
    return figure


def as_array(name: str, values, ndim: Optional[int] = 1) -> np.ndarray:
    """``values`` (array-like or torch tensor, any device) as a float64 numpy array."""
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    return array


def time_series(time_ms, **series) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """``time_ms`` and the named series as 1-D arrays, each checked to have ``time_ms``'s shape."""
    t = as_array("time_ms", time_ms)
    arrays = {name: as_array(name, values) for name, values in series.items()}
    for name, values in arrays.items():
        if values.shape != t.shape:
            raise ValueError(f"{name} has shape {values.shape}; every series needs the shape of time_ms {t.shape}")
    if t.size == 0:
        raise ValueError("time_ms is empty; simulate at least one step")
    return t, arrays


def nice_limits(low: float, high: float, ticks: int = 4, include_zero: bool = False) -> Tuple[float, float]:
    """Axis limits on round tick values that cover ``[low, high]``.

    Limits jump only when the data cross a tick, so small data changes keep the axes (and the
    cached background of the PNG renderer) unchanged.
    """
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if high - low < 1e-12 * max(1.0, abs(high)):
        pad = 0.05 * abs(high) if high != 0 else 1e-3
        low, high = low - pad, high + pad
    values = MaxNLocator(ticks).tick_values(low, high)
    return float(values[0]), float(values[-1])


def stable_limits(
    current: Sequence[float], low: float, high: float, ticks: int = 4, include_zero: bool = False,
    fill: float = 0.35,
) -> Tuple[float, float]:
    """Like :func:`nice_limits`, but keep ``current`` limits while they still fit the data well.

    The current limits stay when they cover ``[low, high]`` and the data fill at least
    ``fill`` of them, so redraws after small parameter changes reuse the cached background.
    """
    lo, hi = float(current[0]), float(current[1])
    want_lo, want_hi = (min(low, 0.0), max(high, 0.0)) if include_zero else (low, high)
    span = hi - lo
    if span > 0 and lo <= want_lo and want_hi <= hi and (want_hi - want_lo) >= fill * span:
        return lo, hi
    return nice_limits(low, high, ticks, include_zero)


def set_limits(ax, xlim: Optional[Sequence[float]] = None, ylim: Optional[Sequence[float]] = None) -> None:
    """Set limits only when they changed (keeps matplotlib's stale flags quiet)."""
    if xlim is not None and tuple(ax.get_xlim()) != tuple(map(float, xlim)):
        ax.set_xlim(*xlim)
    if ylim is not None and tuple(ax.get_ylim()) != tuple(map(float, ylim)):
        ax.set_ylim(*ylim)


def mark_dynamic(figure: Figure, artists: Iterable[Artist]) -> None:
    """Register artists whose data change between redraws (drawn over a cached background)."""
    figure.stdp_dynamic.extend(artists)


def add_footer(figure: Figure, height_in: float = 0.3, fontsize: float = 8) -> Artist:
    """Add a strip of ``height_in`` inches under a figure's axes for one line of text; return the text.

    The figure grows by the strip and every axes and figure text keeps its size in inches, so
    the builder's layout is unchanged above it. The text (e.g. an explorer's status line) is
    registered as dynamic, so changing it costs a blit, not a full draw. Calling it again
    returns the existing footer.
    """
    existing = figure.stdp_artists.get("footer")
    if existing is not None:
        return existing
    width, height = figure.get_size_inches()
    total = height + height_in
    scale, shift = height / total, height_in / total
    for ax in figure.axes:
        box = ax.get_position(original=True)
        ax.set_position([box.x0, box.y0 * scale + shift, box.width, box.height * scale])
    for text in figure.texts:
        text.set_y(text.get_position()[1] * scale + shift)
    figure.set_size_inches(width, total)
    footer = figure.text(0.012, 0.5 * height_in / total, "", ha="left", va="center", fontsize=fontsize,
                         color="0.2", wrap=True)
    figure.stdp_artists["footer"] = footer
    mark_dynamic(figure, [footer])
    return footer
