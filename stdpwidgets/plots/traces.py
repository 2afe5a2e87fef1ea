"""The five-panel trace figure in the style of Morrison, Diesmann & Gerstner (2008), Fig. 3.

Pre spike raster, presynaptic trace, post spike raster, postsynaptic trace, weight.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import check_figure, mark_dynamic, new_figure, set_limits, stable_limits, time_series

__all__ = ["trace_figure"]

_PANELS = ("pre_spikes", "pre_trace", "post_spikes", "post_trace", "weight")


def _spike_times(time_ms: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    return time_ms[spikes > 0]


def trace_figure(
    time_ms: Sequence[float],
    pre_spikes: Sequence[float],
    pre_trace: Sequence[float],
    post_spikes: Sequence[float],
    post_trace: Sequence[float],
    weight: Sequence[float],
    *,
    phase_boundary_ms: Optional[float] = None,
    shown_until_ms: Optional[float] = None,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (7.5, 5.2),
    dpi: float = 72,
) -> Figure:
    """Five stacked panels sharing the time axis: spikes, traces and the weight of one synapse.

    Parameters
    ----------
    time_ms : sequence of float
        Time of each step, ms, ``(T,)``.
    pre_spikes, post_spikes : sequence of float
        Spike counts per step (0/1), ``(T,)``; drawn as rasters.
    pre_trace, post_trace : sequence of float
        Presynaptic trace x and postsynaptic trace y after each step, ``(T,)``.
    weight : sequence of float
        Weight after each step, ``(T,)``.
    phase_boundary_ms : float, optional
        Time where the input rates change; drawn as a dotted vertical line.
    shown_until_ms : float, optional
        Draw spikes, traces and weight only up to this time (ms), with a cursor line there;
        the axes keep the limits of the whole run, so successive times unfold the run in
        place (a player over time). Default: the whole run.
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call; its artists are updated in place.
    figsize, dpi
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists`` names the artists ``"pre_spikes"``, ``"pre_trace"``,
        ``"post_spikes"``, ``"post_trace"``, ``"weight"``; spike artists hold spike times as
        x data.
    """
    t, series = time_series(time_ms, pre_spikes=pre_spikes, pre_trace=pre_trace, post_spikes=post_spikes, post_trace=post_trace, weight=weight)
    figure = check_figure(figure, "trace_figure")
    if figure is None:
        figure = new_figure("trace_figure", figsize, dpi)
        axes = figure.subplots(
            5, 1, sharex=True, gridspec_kw={"height_ratios": [0.45, 1.0, 0.45, 1.0, 1.2]}
        )
        figure.subplots_adjust(left=0.12, right=0.97, bottom=0.09, top=0.93, hspace=0.18)
        art = figure.stdp_artists
        colors = {"pre": "C0", "post": "C3"}
        for ax, name, label in zip(axes, _PANELS, ("pre", "x (pre)", "post", "y (post)", "w")):
            side = name.split("_")[0]
            if name.endswith("spikes"):
                (art[name],) = ax.plot([], [], "|", color=colors[side], ms=11, mew=1.3)
                ax.set_ylim(-1, 1)
                ax.set_yticks([])
            elif name == "weight":
                (art[name],) = ax.plot([], [], color="k", lw=1.5)
            else:
                (art[name],) = ax.plot([], [], color=colors[side], lw=1.2)
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
            if not name.endswith("spikes"):  # rasters carry no y scale
                ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=8)
        axes[-1].set_xlabel("time (ms)")
        art["phase"] = [ax.axvline(np.nan, color="0.5", ls=":", lw=1) for ax in axes]
        art["cursor"] = [ax.axvline(np.nan, color="0.35", lw=0.8) for ax in axes]
        art["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, [art[name] for name in _PANELS] + art["phase"] + art["cursor"] + [art["title"]])
    art = figure.stdp_artists
    if shown_until_ms is not None and not (
        isinstance(shown_until_ms, (int, float, np.number)) and np.isfinite(shown_until_ms)
    ):
        raise ValueError(f"shown_until_ms must be a finite time in ms or None, got {shown_until_ms!r}")
    shown = t.size if shown_until_ms is None else int(np.searchsorted(t, float(shown_until_ms), side="right"))
    for name, values in series.items():
        if name.endswith("spikes"):
            times = _spike_times(t[:shown], values[:shown])
            art[name].set_data(times, np.zeros_like(times))
        else:
            art[name].set_data(t[:shown], values[:shown])
    cursor = float(shown_until_ms) if shown < t.size else np.nan
    for line in art["cursor"]:
        line.set_xdata([cursor, cursor])
    boundary = np.nan if phase_boundary_ms is None else float(phase_boundary_ms)
    for line in art["phase"]:
        line.set_xdata([boundary, boundary])
    art["title"].set_text(title)
    span = float(t[-1] - t[0]) or 1.0
    set_limits(art["pre_spikes"].axes, xlim=(float(t[0]), float(t[0]) + span))
    for name in ("pre_trace", "post_trace"):
        ax = art[name].axes
        set_limits(ax, ylim=stable_limits(ax.get_ylim(), 0.0, float(series[name].max()) * 1.05, 3, include_zero=True))
    w = series["weight"]
    ax = art["weight"].axes
    set_limits(ax, ylim=stable_limits(ax.get_ylim(), float(w.min()), float(w.max()), 3))
    return figure
