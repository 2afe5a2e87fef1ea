r"""The STDP window figure: :math:`W(\Delta t)` with a reference curve, and the weight dependence."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import as_array, check_figure, mark_dynamic, new_figure, set_limits, stable_limits

__all__ = ["window_figure", "BI_POO_TAU_PRE_MS", "BI_POO_TAU_POST_MS"]

#: Time constants of the exponential fit to the Bi & Poo data (Bi & Poo 2001), ms.
BI_POO_TAU_PRE_MS = 16.8
BI_POO_TAU_POST_MS = 33.7


def window_figure(
    delta_t_ms: Sequence[float],
    window: Sequence[float],
    *,
    reference: Optional[Sequence[float]] = None,
    simulated_delta_t_ms: Optional[Sequence[float]] = None,
    simulated_change: Optional[Sequence[float]] = None,
    weights: Optional[Sequence[float]] = None,
    f_plus: Optional[Sequence[float]] = None,
    f_minus: Optional[Sequence[float]] = None,
    current_weight: Optional[float] = None,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (7.5, 3.0),
    dpi: float = 72,
) -> Figure:
    r"""Plot an STDP window :math:`W(\Delta t)`, optionally beside its weight dependence.

    Left panel: the window (weight change per pair, :math:`\Delta t = t_{post} - t_{pre}` in
    ms), a dashed reference curve (e.g. the Bi & Poo fit) and dots for changes simulated by a
    learner. Right panel (when ``weights`` is given): the amplitudes :math:`F_+(w)` and
    :math:`F_-(w)` with the current weight marked.

    Parameters
    ----------
    delta_t_ms, window : sequence of float
        Lags (ms) and the window's value at each (weight units per pair).
    reference : sequence of float, optional
        A second window on the same lags, drawn dashed.
    simulated_delta_t_ms, simulated_change : sequence of float, optional
        Lags and weight changes of simulated single pairs, drawn as dots.
    weights, f_plus, f_minus : sequence of float, optional
        Weight grid and :math:`F_\pm` on it (right panel).
    current_weight : float, optional
        Marked on the right panel.
    title : str
        Title of the left panel.
    figure : Figure, optional
        A figure made by an earlier call: its artists are updated in place instead of
        making a new figure (the right panel's presence must not change).
    figsize, dpi
        Size of a new figure (inches, dots per inch).

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists`` names the artists: ``"window"``, ``"reference"``,
        ``"simulated"``, ``"f_plus"``, ``"f_minus"``, ``"f_plus_marker"``, ``"f_minus_marker"``.
    """
    lags = as_array("delta_t_ms", delta_t_ms)
    values = as_array("window", window)
    if lags.shape != values.shape:
        raise ValueError(f"delta_t_ms {lags.shape} and window {values.shape} must have the same shape")
    with_dependence = weights is not None
    figure = check_figure(figure, "window_figure")
    if figure is None:
        figure = new_figure("window_figure", figsize, dpi)
        if with_dependence:
            axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
            figure.subplots_adjust(left=0.125, right=0.98, bottom=0.17, top=0.88, wspace=0.3)
        else:
            axes = [figure.subplots()]
            figure.subplots_adjust(left=0.14, right=0.97, bottom=0.17, top=0.88)
        ax = axes[0]
        ax.axhline(0.0, color="0.75", lw=0.8)
        ax.axvline(0.0, color="0.75", lw=0.8)
        art = figure.stdp_artists
        (art["reference"],) = ax.plot([], [], "--", color="0.45", lw=1.2, label="Bi & Poo fit τ")
        (art["window"],) = ax.plot([], [], color="C0", lw=2.0, label="W(Δt)")
        (art["simulated"],) = ax.plot([], [], "o", color="C3", ms=4, label="learner, one pair")
        art["title"] = ax.set_title("", fontsize=10)
        ax.set_xlabel("Δt = t_post − t_pre (ms)")
        ax.set_ylabel("Δw per pair")
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        mark_dynamic(figure, [art["reference"], art["window"], art["simulated"], art["title"]])
        if with_dependence:
            dep = axes[1]
            (art["f_plus"],) = dep.plot([], [], color="C2", label="F+(w)")
            (art["f_minus"],) = dep.plot([], [], color="C1", label="F−(w)")
            (art["f_plus_marker"],) = dep.plot([], [], "o", color="C2", ms=5)
            (art["f_minus_marker"],) = dep.plot([], [], "o", color="C1", ms=5)
            dep.set_xlabel("weight w")
            dep.yaxis.set_major_locator(MaxNLocator(4))
            # above the panel, where no curve can hide it (the panel's limits follow the data)
            dep.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
            mark_dynamic(figure, [art["f_plus"], art["f_minus"], art["f_plus_marker"], art["f_minus_marker"]])
    art = figure.stdp_artists
    if with_dependence != ("f_plus" in art):
        raise ValueError("this figure was made with a different panel set; pass figure=None for a new one")
    ax = art["window"].axes
    art["window"].set_data(lags, values)
    shown = [values]
    if reference is not None:
        ref = as_array("reference", reference)
        if ref.shape != lags.shape:
            raise ValueError(f"reference {ref.shape} must have the shape of delta_t_ms {lags.shape}")
        art["reference"].set_data(lags, ref)
        shown.append(ref)
    else:
        art["reference"].set_data([], [])
    if simulated_delta_t_ms is not None and simulated_change is not None:
        sim_x = as_array("simulated_delta_t_ms", simulated_delta_t_ms)
        sim_y = as_array("simulated_change", simulated_change)
        art["simulated"].set_data(sim_x, sim_y)
        shown.append(sim_y)
    else:
        art["simulated"].set_data([], [])
    art["title"].set_text(title)
    everything = np.concatenate([v.ravel() for v in shown])
    span = max(abs(float(everything.min())), abs(float(everything.max()))) if everything.size else 1.0
    set_limits(ax, (float(lags.min()), float(lags.max())), stable_limits(ax.get_ylim(), -span * 1.05, span * 1.05, 5))
    if with_dependence:
        w = as_array("weights", weights)
        fp, fm = as_array("f_plus", f_plus), as_array("f_minus", f_minus)
        art["f_plus"].set_data(w, fp)
        art["f_minus"].set_data(w, fm)
        if current_weight is not None:
            cw = float(current_weight)
            art["f_plus_marker"].set_data([cw], [np.interp(cw, w, fp)])
            art["f_minus_marker"].set_data([cw], [np.interp(cw, w, fm)])
        dep = art["f_plus"].axes
        top = max(float(fp.max()), float(fm.max()), 1e-12)
        set_limits(dep, (float(w.min()), float(w.max())), stable_limits(dep.get_ylim(), 0.0, top * 1.1, 4, include_zero=True))
    return figure
