"""The pairing-protocol figure: spikes, traces and weight of one protocol, and a sweep curve."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import as_array, check_figure, mark_dynamic, new_figure, set_limits, stable_limits, time_series

__all__ = ["pairing_figure"]


def pairing_figure(
    time_ms: Sequence[float],
    pre_spikes: Sequence[float],
    post_spikes: Sequence[float],
    pre_trace: Sequence[float],
    post_trace: Sequence[float],
    weight: Sequence[float],
    sweep_values: Sequence[float],
    sweep_change: Sequence[float],
    *,
    sweep_label: str = "Δt (ms)",
    current_value: Optional[float] = None,
    current_change: Optional[float] = None,
    log_sweep: bool = False,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (8.5, 4.2),
    dpi: float = 72,
) -> Figure:
    """A pairing protocol over time (left) and its weight change across a sweep (right).

    Parameters
    ----------
    time_ms : sequence of float
        Time of each step, ms, ``(T,)``.
    pre_spikes, post_spikes : sequence of float
        Spikes per step, ``(T,)``.
    pre_trace, post_trace : sequence of float
        Traces after each step, ``(T,)``.
    weight : sequence of float
        Weight after each step, ``(T,)``.
    sweep_values, sweep_change : sequence of float
        The swept parameter (lag in ms or frequency in Hz) and the weight change after the
        protocol at each value.
    sweep_label : str
        Label of the sweep's x axis.
    current_value, current_change : float, optional
        The protocol shown on the left, marked on the sweep.
    log_sweep : bool
        Logarithmic x axis for the sweep (frequencies).
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call; its artists are updated in place.
    figsize, dpi
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists``: ``"pre_spikes"``, ``"post_spikes"``, ``"pre_trace"``,
        ``"post_trace"``, ``"weight"``, ``"sweep"``, ``"current"``.
    """
    t, series = time_series(time_ms, pre_spikes=pre_spikes, post_spikes=post_spikes, pre_trace=pre_trace, post_trace=post_trace, weight=weight)
    sx, sy = as_array("sweep_values", sweep_values), as_array("sweep_change", sweep_change)
    if sx.shape != sy.shape:
        raise ValueError(f"sweep_values {sx.shape} and sweep_change {sy.shape} must have the same shape")
    figure = check_figure(figure, "pairing_figure")
    if figure is None:
        figure = new_figure("pairing_figure", figsize, dpi)
        grid = figure.add_gridspec(3, 2, width_ratios=[1.6, 1], height_ratios=[0.6, 1, 1])
        figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.9, hspace=0.2, wspace=0.28)
        ax_spikes = figure.add_subplot(grid[0, 0])
        ax_traces = figure.add_subplot(grid[1, 0], sharex=ax_spikes)
        ax_weight = figure.add_subplot(grid[2, 0], sharex=ax_spikes)
        ax_sweep = figure.add_subplot(grid[:, 1])
        art = figure.stdp_artists
        (art["pre_spikes"],) = ax_spikes.plot([], [], "|", color="C0", ms=10, mew=1.3)
        (art["post_spikes"],) = ax_spikes.plot([], [], "|", color="C3", ms=10, mew=1.3)
        ax_spikes.set_ylim(-0.6, 1.6)
        ax_spikes.set_yticks([0, 1], ["post", "pre"], fontsize=8)
        ax_spikes.tick_params(labelbottom=False)
        (art["pre_trace"],) = ax_traces.plot([], [], color="C0", lw=1.2, label="x (pre)")
        (art["post_trace"],) = ax_traces.plot([], [], color="C3", lw=1.2, label="y (post)")
        ax_traces.legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
        ax_traces.tick_params(labelbottom=False, labelsize=8)
        ax_traces.yaxis.set_major_locator(MaxNLocator(3))
        (art["weight"],) = ax_weight.plot([], [], color="k", lw=1.5)
        ax_weight.set_ylabel("w", fontsize=9)
        ax_weight.set_xlabel("time (ms)")
        ax_weight.yaxis.set_major_locator(MaxNLocator(3))
        ax_weight.tick_params(labelsize=8)
        ax_sweep.axhline(0.0, color="0.75", lw=0.8)
        (art["sweep"],) = ax_sweep.plot([], [], "o-", color="C0", ms=3.5, lw=1.2)
        (art["current"],) = ax_sweep.plot([], [], "o", color="C3", ms=8)
        ax_sweep.set_ylabel("Δw after the protocol", fontsize=9)
        ax_sweep.yaxis.set_major_locator(MaxNLocator(5))
        ax_sweep.tick_params(labelsize=8)
        art["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, [art[k] for k in ("pre_spikes", "post_spikes", "pre_trace", "post_trace",
                                               "weight", "sweep", "current", "title")])
    art = figure.stdp_artists
    for side in ("pre", "post"):
        times = t[series[f"{side}_spikes"] > 0]
        art[f"{side}_spikes"].set_data(times, np.full_like(times, 1.0 if side == "pre" else 0.0))
        art[f"{side}_trace"].set_data(t, series[f"{side}_trace"])
    art["weight"].set_data(t, series["weight"])
    art["sweep"].set_data(sx, sy)
    if current_value is not None and current_change is not None:
        art["current"].set_data([float(current_value)], [float(current_change)])
    else:
        art["current"].set_data([], [])
    art["title"].set_text(title)
    span = float(t[-1] - t[0]) or 1.0
    set_limits(art["pre_spikes"].axes, xlim=(float(t[0]), float(t[0]) + span))
    top = max(float(series["pre_trace"].max()), float(series["post_trace"].max()), 1e-9)
    ax = art["pre_trace"].axes
    set_limits(ax, ylim=stable_limits(ax.get_ylim(), 0.0, top * 1.05, 3, include_zero=True))
    w = series["weight"]
    ax = art["weight"].axes
    set_limits(ax, ylim=stable_limits(ax.get_ylim(), float(w.min()), float(w.max()), 3))
    ax_sweep = art["sweep"].axes
    scale = "log" if log_sweep else "linear"
    if ax_sweep.get_xscale() != scale:
        if log_sweep and sx.size and float(sx.min()) <= 0:
            raise ValueError("a logarithmic sweep axis needs positive sweep_values")
        ax_sweep.set_xscale(scale)
    if ax_sweep.get_xlabel() != sweep_label:
        ax_sweep.set_xlabel(sweep_label)
        figure.stdp_static_version = getattr(figure, "stdp_static_version", 0) + 1
    if sx.size:
        if log_sweep:
            xlim = (float(sx.min()) / 1.25, float(sx.max()) * 1.25)
        else:
            pad = 0.04 * float(sx.max() - sx.min()) or 1.0
            xlim = (float(sx.min()) - pad, float(sx.max()) + pad)
        marks = np.concatenate([sy, [float(current_change)] if current_change is not None else []])
        ylim = stable_limits(ax_sweep.get_ylim(), float(marks.min()), float(marks.max()), 5, include_zero=True)
        set_limits(ax_sweep, xlim, ylim)
    return figure
