"""The reward-modulated STDP figure: one pairing, a delayed reward, the eligibility trace and the weight.

Left, sharing the time axis: the pre and post spikes of one pairing, the reward :math:`r(t)`,
the eligibility trace :math:`e(t)` with its closed-form decay, and the weight :math:`w(t)`.
Right: the weight change as a function of the reward delay, closed form against the simulation.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._figure import as_array, check_figure, mark_dynamic, new_figure, set_limits, stable_limits, time_series

__all__ = ["reward_figure"]


def reward_figure(
    time_ms: Sequence[float],
    pre_spikes: Sequence[float],
    post_spikes: Sequence[float],
    reward: Sequence[float],
    eligibility: Sequence[float],
    eligibility_closed_form: Sequence[float],
    weight: Sequence[float],
    delays_ms: Sequence[float],
    change_closed_form: Sequence[float],
    *,
    current_delay_ms: Optional[float] = None,
    current_change: Optional[float] = None,
    title: str = "",
    figure: Optional[Figure] = None,
    figsize: Tuple[float, float] = (8.8, 4.6),
    dpi: float = 72,
) -> Figure:
    """One pairing followed by a delayed reward (left) and the weight change against the delay (right).

    Parameters
    ----------
    time_ms : sequence of float
        Time of each step, ms, ``(T,)``.
    pre_spikes, post_spikes : sequence of float
        Spikes per step (0/1), ``(T,)``; drawn as rasters.
    reward : sequence of float
        The reward (third factor) at each step, ``(T,)``.
    eligibility : sequence of float
        The simulated eligibility trace after each step, weight units, ``(T,)``.
    eligibility_closed_form : sequence of float
        The eligibility the closed form gives at each step, ``(T,)`` (drawn dashed over it).
    weight : sequence of float
        The weight after each step, ``(T,)``.
    delays_ms, change_closed_form : sequence of float
        Reward delays (ms) and the closed-form weight change at each, for the right panel.
    current_delay_ms, current_change : float, optional
        The simulated run shown on the left, marked on the right panel.
    title : str
        Figure title.
    figure : Figure, optional
        A figure made by an earlier call; its artists are updated in place.
    figsize, dpi
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.stdp_artists``: ``"pre_spikes"``, ``"post_spikes"``, ``"reward"``,
        ``"eligibility"``, ``"eligibility_closed_form"``, ``"weight"``, ``"sweep"``,
        ``"current"``, ``"title"``.
    """
    t, series = time_series(time_ms, pre_spikes=pre_spikes, post_spikes=post_spikes, reward=reward,
                            eligibility=eligibility, eligibility_closed_form=eligibility_closed_form, weight=weight)
    dx, dy = as_array("delays_ms", delays_ms), as_array("change_closed_form", change_closed_form)
    if dx.shape != dy.shape:
        raise ValueError(f"delays_ms {dx.shape} and change_closed_form {dy.shape} must have the same shape")
    figure = check_figure(figure, "reward_figure")
    if figure is None:
        figure = new_figure("reward_figure", figsize, dpi)
        grid = figure.add_gridspec(4, 2, width_ratios=[1.7, 1], height_ratios=[0.5, 0.7, 1, 1])
        figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.9, hspace=0.22, wspace=0.3)
        ax_spikes = figure.add_subplot(grid[0, 0])
        ax_reward = figure.add_subplot(grid[1, 0], sharex=ax_spikes)
        ax_elig = figure.add_subplot(grid[2, 0], sharex=ax_spikes)
        ax_weight = figure.add_subplot(grid[3, 0], sharex=ax_spikes)
        ax_sweep = figure.add_subplot(grid[:, 1])
        art = figure.stdp_artists
        (art["pre_spikes"],) = ax_spikes.plot([], [], "|", color="C0", ms=10, mew=1.3)
        (art["post_spikes"],) = ax_spikes.plot([], [], "|", color="C3", ms=10, mew=1.3)
        ax_spikes.set_ylim(-0.6, 1.6)
        ax_spikes.set_yticks([0, 1], ["post", "pre"], fontsize=8)
        (art["reward"],) = ax_reward.plot([], [], color="C2", lw=1.3)
        ax_reward.set_ylabel("r", rotation=0, ha="right", va="center", fontsize=9, labelpad=12)
        (art["eligibility"],) = ax_elig.plot([], [], color="C1", lw=2.2, alpha=0.6, label="learner")
        (art["eligibility_closed_form"],) = ax_elig.plot([], [], color="k", lw=0.9, ls="--", label="closed form")
        ax_elig.set_ylabel("e", rotation=0, ha="right", va="center", fontsize=9, labelpad=12)
        ax_elig.legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
        (art["weight"],) = ax_weight.plot([], [], color="k", lw=1.5)
        ax_weight.set_ylabel("w", rotation=0, ha="right", va="center", fontsize=9, labelpad=12)
        ax_weight.set_xlabel("time (ms)")
        for ax in (ax_spikes, ax_reward, ax_elig):
            ax.tick_params(labelbottom=False)
        for ax in (ax_reward, ax_elig, ax_weight, ax_sweep):
            ax.yaxis.set_major_locator(MaxNLocator(3 if ax is not ax_sweep else 5))
            ax.tick_params(labelsize=8)
        ax_sweep.axhline(0.0, color="0.75", lw=0.8)
        (art["sweep"],) = ax_sweep.plot([], [], color="C1", lw=1.5, label="closed form")
        (art["current"],) = ax_sweep.plot([], [], "o", color="k", ms=7, label="learner")
        ax_sweep.set_xlabel("reward delay d (ms)")
        ax_sweep.set_ylabel("Δw", fontsize=9)
        ax_sweep.legend(loc="upper right", fontsize=7, frameon=False)
        art["title"] = figure.suptitle("", fontsize=10)
        mark_dynamic(figure, [art[k] for k in ("pre_spikes", "post_spikes", "reward", "eligibility",
                                               "eligibility_closed_form", "weight", "sweep", "current", "title")])
    art = figure.stdp_artists
    for side, row in (("pre", 1.0), ("post", 0.0)):
        times = t[series[f"{side}_spikes"] > 0]
        art[f"{side}_spikes"].set_data(times, np.full_like(times, row))
    for name in ("reward", "eligibility", "eligibility_closed_form", "weight"):
        art[name].set_data(t, series[name])
    art["sweep"].set_data(dx, dy)
    if current_delay_ms is not None and current_change is not None:
        art["current"].set_data([float(current_delay_ms)], [float(current_change)])
    else:
        art["current"].set_data([], [])
    art["title"].set_text(title)
    span = float(t[-1] - t[0]) or 1.0
    set_limits(art["pre_spikes"].axes, xlim=(float(t[0]), float(t[0]) + span))
    for name, fit in (("reward", ("reward",)), ("eligibility", ("eligibility", "eligibility_closed_form")),
                      ("weight", ("weight",))):
        values = np.concatenate([series[k] for k in fit])
        ax = art[name].axes
        set_limits(ax, ylim=stable_limits(ax.get_ylim(), float(values.min()), float(values.max()), 3,
                                          include_zero=name != "weight"))
    if dx.size:
        pad = 0.03 * float(dx.max() - dx.min()) or 1.0
        marks = np.concatenate([dy, [float(current_change)] if current_change is not None else []])
        ax = art["sweep"].axes
        set_limits(ax, (float(dx.min()) - pad, float(dx.max()) + pad),
                   stable_limits(ax.get_ylim(), float(marks.min()), float(marks.max()), 5, include_zero=True))
    return figure
