"""TraceExplorer: spikes, traces and weight of one synapse driven by Poisson spike trains.

The five-panel figure of Morrison, Diesmann & Gerstner (2008), Fig. 3 style.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..core import TripletRule, poisson_drift, triplet_poisson_drift
from ..plots import trace_figure
from ..sim import fixed_count_spikes, simulate_synapse
from .base import Explorer
from .controls import (FloatSlider, apply_initial_values, checkbox, dropdown, float_slider, int_slider, link_rule_kind,
                       rule_controls, rule_from_params, triplet_controls)

__all__ = ["TraceExplorer", "TIME_STEPS_MS"]

#: Time steps offered, ms.
TIME_STEPS_MS = (0.1, 0.25, 0.5, 1.0)


class TraceExplorer(Explorer):
    r"""One synapse under pair STDP, driven by independent Poisson pre and post spike trains.

    Five panels share the time axis: pre raster, presynaptic trace :math:`x`, post raster,
    postsynaptic trace :math:`y`, weight :math:`w` (Morrison et al. 2008, Fig. 3 style). The
    spikes come from :func:`stdpwidgets.sim.fixed_count_spikes` (random steps nested in the rate:
    moving a rate slider adds or removes spikes and keeps the others), traces and weight from one
    :meth:`STDPLearner.run(..., record=True) <stdpwidgets.core.STDPLearner.run>` on a 1x1
    ``nn.Linear``.

    The **time shown** slider (:attr:`time_shown`) draws the run up to a time, so the traces and
    the weight unfold; ``explorer.player(over="time")`` plays that without a kernel.

    With ``two_phases`` the second half of the run uses ``rate_pre_2`` and ``rate_post_2``.
    For independent spikes and all-to-all pairing the sign of the drift,
    :math:`\nu_{pre}\nu_{post}(F_+\tau_+ - F_-\tau_-)`, does not depend on the rates; with
    nearest pairing it does, so the default (nearest, rates swapped between the phases) makes
    the weight turn at the phase boundary.

    Parameters
    ----------
    rate_pre, rate_post : float
        Rates of the first phase (or the whole run), Hz (0 to 100).
    two_phases : bool
        Switch to ``rate_pre_2``, ``rate_post_2`` halfway through.
    rate_pre_2, rate_post_2 : float
        Rates of the second phase, Hz.
    tau_pre, tau_post, a_plus, a_minus, pairing, weight_dependence, mu
        The rule (see :class:`~stdpwidgets.core.STDPRule`); weights live in [0, 1].
    rule, tau_x, tau_y, a3_plus, a3_minus
        ``rule="pair"`` (default), ``"triplet"`` or a published triplet fit, as for
        :class:`~stdpwidgets.widgets.PairingExplorer`; the traces drawn are then the triplet rule's
        pair traces :math:`r_1` and :math:`o_1`.
    w0 : float
        Initial weight.
    duration : float
        Simulated time, ms (100 to 5000).
    dt : float
        Time step, ms (one of 0.1, 0.25, 0.5, 1).
    seed : int
        Seed of the spike trains.
    device : str or torch.device
        Where spikes and learner run.

    Examples
    --------
    >>> explorer = TraceExplorer(rate_pre=20.0, rate_post=20.0, two_phases=False, seed=1)  # doctest: +SKIP
    >>> explorer.data["weight"][-1]                                                       # doctest: +SKIP
    """

    def __init__(self, *, device: Union[str, torch.device] = "cpu", **initial: Any) -> None:
        controls = {
            "rate_pre": float_slider("pre rate (Hz)", 10.0, 0.0, 100.0, 1.0),
            "rate_post": float_slider("post rate (Hz)", 50.0, 0.0, 100.0, 1.0),
            "two_phases": checkbox("second phase, other rates", True),
            "rate_pre_2": float_slider("phase 2 pre (Hz)", 50.0, 0.0, 100.0, 1.0),
            "rate_post_2": float_slider("phase 2 post (Hz)", 10.0, 0.0, 100.0, 1.0),
            **rule_controls(a_minus=0.0075, pairing='nearest'),
            **triplet_controls(),
            "w0": float_slider("initial weight", 0.5, 0.0, 1.0, 0.01),
            "duration": float_slider("duration (ms)", 4000.0, 100.0, 5000.0, 100.0, ".0f"),
            "dt": dropdown("dt (ms)", 1.0, TIME_STEPS_MS),
            "seed": int_slider("seed", 0, 0, 999),
        }
        link_rule_kind(controls)
        apply_initial_values(controls, initial, type(self).__name__)
        self.time_shown = FloatSlider(
            value=controls["duration"].value, min=0.0, max=controls["duration"].value, step=1.0,
            description="time shown (ms)", readout_format=".0f", continuous_update=True,
            style={"description_width": "140px"}, layout={"width": "auto", "max_width": "600px"},
        )
        self.time_shown.stdp_label = f"{type(self).__name__}: time_shown"  # named in value errors
        super().__init__(controls, device=device, extra=[self.time_shown])
        self.time_shown.observe(lambda change: self._on_time_shown(), names="value")
        self._update_phase_controls()
        controls["two_phases"].observe(lambda change: self._update_phase_controls(), names="value")
        self.refresh()

    _time_error = False

    def _update_phase_controls(self) -> None:
        enabled = bool(self.controls["two_phases"].value)
        for name in ("rate_pre_2", "rate_post_2"):
            self.controls[name].disabled = not enabled

    def _on_time_shown(self) -> None:
        if not self.data or self._suspended:
            return
        shown = self.time_shown.value
        if not math.isfinite(shown):  # the slider clamps values set from Python but lets NaN through
            self.show_error(ValueError(
                f"{type(self).__name__}: time_shown.value = {shown!r} is not allowed (is not finite); "
                f"set a time between 0 and {self.time_shown.max:g} ms"))
            self._time_error = True
            return
        self.redraw()
        if self._time_error:  # a good time after a bad one: the message about it is stale
            self._time_error = False
            self.show_message("")

    def _time_axis(self):
        return self.time_shown, lambda t: f"t = {t:.0f} ms of {self.time_shown.max:.0f}"

    def _spikes(self, params: Dict[str, Any], side: str, steps: int, boundary: int, dt: float,
                generator: torch.Generator) -> torch.Tensor:
        """One side's train: fixed-count nested spikes per phase (a rate change moves few spikes)."""
        rates = [float(params[f"rate_{side}"])]
        lengths = [boundary]
        if params["two_phases"]:
            rates.append(float(params[f"rate_{side}_2"]))
            lengths.append(steps - boundary)
        parts = [fixed_count_spikes(r, n, dt, generator=generator, device=self.device) for r, n in zip(rates, lengths)]
        return torch.cat(parts)

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = rule_from_params(params)
        dt = float(params["dt"])
        steps = int(round(float(params["duration"]) / dt))
        boundary = steps // 2 if params["two_phases"] else steps
        generator = torch.Generator(device=self.device).manual_seed(int(params["seed"]))
        pre = self._spikes(params, "pre", steps, boundary, dt, generator)
        post = self._spikes(params, "post", steps, boundary, dt, generator)
        self._fit_time_slider(steps * dt)
        history = simulate_synapse(rule, pre.reshape(steps), post.reshape(steps), float(params["w0"]), dt)
        as_numpy = lambda t: t.reshape(steps).double().cpu().numpy()  # noqa: E731
        return {
            "rule": rule,
            "dt": dt,
            "time_ms": (np.arange(steps) + 1) * dt,
            "pre_spikes": as_numpy(pre),
            "post_spikes": as_numpy(post),
            "pre_trace": as_numpy(history.pre_traces),
            "post_trace": as_numpy(history.post_traces),
            "weight": as_numpy(history.weights),
            "w0": float(params["w0"]),
            "phase_boundary_ms": boundary * dt if params["two_phases"] else None,
        }

    def _fit_time_slider(self, duration_ms: float) -> None:
        """A new run is shown whole: the time slider spans it and stands at its end."""
        self._time_error = False
        if self.time_shown.max != duration_ms or self.time_shown.value != duration_ms:
            self._suspended = True
            try:
                self.time_shown.max = duration_ms
                self.time_shown.value = duration_ms
            finally:
                self._suspended = False

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        shown_ms = float(self.time_shown.value)
        shown = int(np.searchsorted(data["time_ms"], shown_ms, side="right"))
        n_pre, n_post = int(data["pre_spikes"][:shown].sum()), int(data["post_spikes"][:shown].sum())
        w_now = data["weight"][shown - 1] if shown else data["w0"]
        until = "" if shown >= len(data["time_ms"]) else f"up to t = {shown_ms:.0f} ms: "
        title = f"{until}{n_pre} pre and {n_post} post spikes; w: {data['w0']:.3f} → {w_now:.3f}"
        return trace_figure(
            data["time_ms"], data["pre_spikes"], data["pre_trace"], data["post_spikes"],
            data["post_trace"], data["weight"], phase_boundary_ms=data["phase_boundary_ms"],
            shown_until_ms=shown_ms, title=title, figure=figure, dpi=self.dpi,
        )

    def _status(self, data: Dict[str, Any]) -> str:
        params = self.parameters
        rule = data["rule"]
        phases = [(params["rate_pre"], params["rate_post"])]
        if params["two_phases"]:
            phases.append((params["rate_pre_2"], params["rate_post_2"]))
        if isinstance(rule, TripletRule):
            if rule.pairing != "all-to-all":
                return "expected drift: no closed form here for the nearest-spike triplet rule"
            drifts = ", ".join(f"{triplet_poisson_drift(rule, a, b, w=data['w0']):+.3g}" for a, b in phases)
        else:
            drifts = ", ".join(f"{poisson_drift(rule, data['w0'], a, b):+.3g}" for a, b in phases)
        return f"expected drift ⟨dw/dt⟩ at w0 for independent Poisson spikes (per s, per phase): {drifts}"
