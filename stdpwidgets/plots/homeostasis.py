"""A neuron's output rate, its group mean weights and its weight histogram over a learning run."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import as_array, check_figure, mark_dynamic, new_figure, nice_limits, set_limits

__all__ = ["homeostasis_figure"]

_CORRELATED, _INDEPENDENT = "tab:red", "tab:blue"


def homeostasis_figure(
    times_ms: Sequence[float],
    rate_hz: Sequence[float],
    correlated_mean: Sequence[float],
    independent_mean: Sequence[float],
    correlated_weights: Sequence[float],
    independent_weights: Sequence[float],
    *,
    shown_until: Optional[int] = None,
    w_max: float = 1.0,
    rate_max_hz: Optional[float] = None,
    count_max: Optional[float] = None,
    bins: int = 25,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (9.0, 2.9),
    dpi: float = 72,
) -> Figure:
    """Three panels: output rate over time, mean weight of each input group over time, weight histogram.

    Parameters
    ----------
    times_ms : sequence of float
        Snapshot times, ``(S + 1,)``, ms.
    rate_hz : sequence of float
        Output rate between consecutive snapshots, ``(S,)``, Hz (drawn at the end of each interval).
    correlated_mean, independent_mean : sequence of float
        Mean weight of the correlated and of the independent inputs at each snapshot, ``(S + 1,)``
        (NaN for a group without inputs).
    correlated_weights, independent_weights : sequence of float
        The weights of each group at the snapshot shown (any shape, may be empty), for the
        histogram (stacked: correlated on top).
    shown_until : int, optional
        Index of the snapshot shown: the curves stop there and a cursor marks it; the axes keep
        the limits of the whole run, so a player over time unfolds the run in place. Default:
        the last snapshot.
    w_max : float
        Upper weight bound (weight axis and histogram range from 0).
    rate_max_hz : float, optional
        Top of the rate axis (default: from the data).
    count_max : float, optional
        Top of the histogram axis (default: from the data); give the largest count of the
        whole run to keep the axes still over a player's frames.
    bins : int
        Histogram bins.
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call; updated in place.
    figsize, dpi
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists``: ``"rate"``, ``"correlated"``, ``"independent"`` (Line2D),
        ``"cursors"`` (two vertical lines), ``"histogram_correlated"``,
        ``"histogram_independent"`` (StepPatch), ``"counts"`` (numpy array, both groups
        together), ``"title"``.
    """
    t = as_array("times_ms", times_ms) / 1000.0
    rate = as_array("rate_hz", rate_hz)
    correlated = as_array("correlated_mean", correlated_mean)
    independent = as_array("independent_mean", independent_mean)
    if t.size < 2:
        raise ValueError("times_ms needs at least two snapshots (the start and one more)")
    if rate.shape != (t.size - 1,):
        raise ValueError(f"rate_hz must have one value per interval, {t.size - 1}, got shape {rate.shape}")
    for name, values in (("correlated_mean", correlated), ("independent_mean", independent)):
        if values.shape != t.shape:
            raise ValueError(f"{name} must have one value per snapshot, {t.size}, got shape {values.shape}")
    w_corr = as_array("correlated_weights", correlated_weights, ndim=None).ravel()
    w_ind = as_array("independent_weights", independent_weights, ndim=None).ravel()
    if not (np.isfinite(w_max) and w_max > 0):
        raise ValueError(f"w_max must be a finite number > 0, got {w_max!r}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    if np.any(~np.isfinite(rate)):
        raise ValueError("rate_hz holds NaN or inf")
    index = t.size - 1 if shown_until is None else int(shown_until)
    if not 0 <= index < t.size:
        raise ValueError(f"shown_until must be a snapshot index from 0 to {t.size - 1}, got {shown_until!r}")

    edges = np.linspace(0.0, w_max, bins + 1)
    counts_ind, _ = np.histogram(np.clip(w_ind, 0.0, w_max), bins=edges)
    counts_corr, _ = np.histogram(np.clip(w_corr, 0.0, w_max), bins=edges)

    figure = check_figure(figure, "homeostasis_figure")
    if figure is None:
        figure = new_figure("homeostasis_figure", figsize, dpi)
        ax_rate, ax_w, ax_hist = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1.1, 1.1, 1.0]})
        figure.subplots_adjust(left=0.07, right=0.98, bottom=0.18, top=0.84, wspace=0.38)
        art = figure.stdp_artists
        (art["rate"],) = ax_rate.plot([], [], color="k", lw=1.4)
        ax_rate.set_xlabel("time (s)")
        ax_rate.set_ylabel("output rate (Hz)")
        (art["correlated"],) = ax_w.plot([], [], color=_CORRELATED, lw=1.4, label="correlated inputs")
        (art["independent"],) = ax_w.plot([], [], color=_INDEPENDENT, lw=1.4, label="independent inputs")
        ax_w.set_xlabel("time (s)")
        ax_w.set_ylabel("mean weight")
        ax_w.legend(frameon=False, fontsize=7, loc="upper left")
        art["cursors"] = [ax.axvline(0.0, color="0.6", lw=0.8, ls=":") for ax in (ax_rate, ax_w)]
        art["histogram_independent"] = ax_hist.stairs(counts_ind, edges, fill=True, color=_INDEPENDENT)
        art["histogram_correlated"] = ax_hist.stairs(counts_ind + counts_corr, edges, baseline=counts_ind,
                                                     fill=True, color=_CORRELATED)
        ax_hist.set_xlabel("weight")
        ax_hist.set_ylabel("synapses")
        ax_hist.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        art["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, [art["rate"], art["correlated"], art["independent"], *art["cursors"],
                              art["histogram_independent"], art["histogram_correlated"], art["title"]])
    art = figure.stdp_artists
    art["rate"].set_data(t[1:index + 1], rate[:index])
    art["correlated"].set_data(t[:index + 1], correlated[:index + 1])
    art["independent"].set_data(t[:index + 1], independent[:index + 1])
    for cursor in art["cursors"]:
        cursor.set_xdata([t[index], t[index]])
    art["histogram_independent"].set_data(counts_ind, edges)
    art["histogram_correlated"].set_data(counts_ind + counts_corr, edges, baseline=counts_ind)
    art["counts"] = counts_ind + counts_corr
    art["title"].set_text(title)
    ax_rate, ax_w = art["rate"].axes, art["correlated"].axes
    top = float(rate.max()) if rate_max_hz is None else float(rate_max_hz)
    set_limits(ax_rate, (0.0, float(t[-1])), nice_limits(0.0, max(top, 1.0) * 1.05, 4, True))
    set_limits(ax_w, (0.0, float(t[-1])), (0.0, w_max * 1.02))
    total = float((counts_ind + counts_corr).max()) if count_max is None else float(count_max)
    total = max(1.0, total)
    set_limits(art["histogram_independent"].axes, (0.0, w_max), nice_limits(0.0, total * 1.05, 4, True))
    return figure
