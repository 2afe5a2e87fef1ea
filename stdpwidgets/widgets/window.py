r"""WindowExplorer: the STDP window :math:`W(\Delta t)` for chosen parameters, against the Bi & Poo fit."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import numpy as np
import torch
from matplotlib.figure import Figure

from ..core import STDPRule, stdp_window
from ..plots import BI_POO_TAU_POST_MS, BI_POO_TAU_PRE_MS, window_figure
from ..sim import single_pair_weight_changes
from .base import Explorer
from .controls import apply_initial_values, float_slider, rule_controls, rule_from_params

__all__ = ["WindowExplorer"]

#: Lags (ms) at which single pairs are simulated with the learner (dots on the curve).
SIMULATED_LAGS_MS = (-100, -80, -60, -45, -30, -20, -12, -6, -2, 2, 6, 12, 20, 30, 45, 60, 80, 100)


class WindowExplorer(Explorer):
    r"""Explore the pair STDP window :math:`W(\Delta t)` and its weight dependence.

    The curve is the core's :func:`~stdpwidgets.core.stdp_window` at the chosen current
    weight; the dots are single pairs simulated by :class:`~stdpwidgets.core.STDPLearner`
    (:func:`stdpwidgets.sim.single_pair_weight_changes`; they lie on the curve: the trace rule
    reproduces the window); the dashed curve is the
    exponential fit to the Bi & Poo data (:math:`\tau_+ = 16.8` ms, :math:`\tau_- = 33.7` ms)
    with the same amplitudes. The right panel shows :math:`F_+(w)` and :math:`F_-(w)`.
    For one isolated pair, all-to-all and nearest pairing give the same window.

    Parameters
    ----------
    tau_pre, tau_post : float
        Trace time constants, ms (1 to 100; defaults 16.8 and 33.7).
    a_plus, a_minus : float
        Amplitudes (1e-4 to 0.1; defaults 0.01 and 0.0105).
    pairing : {"all-to-all", "nearest"}
    weight_dependence : {"additive", "multiplicative", "van-rossum"}
        Weights live in [0, 1].
    w : float
        Current weight at which :math:`F_\pm(w)` are evaluated (0 to 1; default 0.5).
    device : str or torch.device
        Where the learner simulates the pairs.

    Examples
    --------
    >>> from stdpwidgets import WindowExplorer
    >>> WindowExplorer(weight_dependence="multiplicative", w=0.8)   # doctest: +SKIP
    """

    def __init__(self, *, device: Union[str, torch.device] = "cpu", **initial: Any) -> None:
        controls = {
            **rule_controls(),
            "w": float_slider("current weight w", 0.5, 0.0, 1.0, 0.01),
        }
        apply_initial_values(controls, initial, type(self).__name__)
        super().__init__(controls, device=device)
        self.refresh()

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = rule_from_params(params)
        w = float(params["w"])
        lags = np.linspace(-100.0, 100.0, 401)
        reference_rule = STDPRule(
            BI_POO_TAU_PRE_MS, BI_POO_TAU_POST_MS, rule.a_plus, rule.a_minus,
            weight_dependence=rule.weight_dependence, mu=rule.mu, w_min=rule.w_min, w_max=rule.w_max,
        )
        grid = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
        f_plus, f_minus = rule.amplitudes(grid)
        simulated_lags = np.asarray(SIMULATED_LAGS_MS, dtype=np.float64)
        return {
            "rule": rule,
            "delta_t_ms": lags,
            "window": stdp_window(lags, rule, w).numpy(),
            "reference": stdp_window(lags, reference_rule, w).numpy(),
            "simulated_delta_t_ms": simulated_lags,
            "simulated_change": single_pair_weight_changes(rule, simulated_lags, w, device=self.device).numpy(),
            "weights": grid.numpy(),
            "f_plus": torch.broadcast_to(f_plus, grid.shape).numpy().copy(),
            "f_minus": torch.broadcast_to(f_minus, grid.shape).numpy().copy(),
            "w": w,
        }

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        rule = data["rule"]
        fp, fm = rule.amplitudes(torch.tensor(data["w"], dtype=torch.float64))
        title = f"F+(w) = {float(fp):.3g}, F−(w) = {float(fm):.3g} at w = {data['w']:.2f}"
        return window_figure(
            data["delta_t_ms"], data["window"], reference=data["reference"],
            simulated_delta_t_ms=data["simulated_delta_t_ms"], simulated_change=data["simulated_change"],
            weights=data["weights"], f_plus=data["f_plus"], f_minus=data["f_minus"],
            current_weight=data["w"], title=title, figure=figure, dpi=self.dpi,
        )

    def _status(self, data: Dict[str, Any]) -> str:
        rule = data["rule"]
        fp, fm = rule.amplitudes(torch.tensor(data["w"], dtype=torch.float64))
        potentiation, depression = float(fp) * rule.tau_pre, float(fm) * rule.tau_post
        balance = potentiation - depression
        if abs(balance) <= 1e-6 * max(potentiation, depression, 1e-300):  # equal up to rounding
            verdict = "balanced: no drift for uncorrelated spikes"
        else:
            verdict = f"{'potentiation' if balance > 0 else 'depression'} dominates for uncorrelated spikes"
        return f"Area of the window ∫W dΔt = F+τ+ − F−τ− = {balance:.3g} ms per pair ({verdict})"
