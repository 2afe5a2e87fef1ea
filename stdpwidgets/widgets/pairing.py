r"""PairingExplorer: n pre/post pairs at lag :math:`\Delta t` and frequency f, and the weight change."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
from matplotlib.figure import Figure

from ..core import Rule
from ..plots import pairing_figure
from ..sim import pairing_protocol, pairing_sweep, simulate_synapse
from .base import Explorer
from .controls import (apply_initial_values, dropdown, float_slider, int_slider, link_rule_kind, log_slider,
                       preset_label, rule_controls, rule_from_params, triplet_controls)

__all__ = ["PairingExplorer", "SWEEP_LAGS_MS", "SWEEP_FREQUENCIES_HZ"]

#: Lags of the Δt sweep, ms (those not shorter than the pairing period are left out).
SWEEP_LAGS_MS = (-100, -80, -60, -45, -35, -25, -20, -15, -10, -6, -3, -1,
                 1, 3, 6, 10, 15, 20, 25, 35, 45, 60, 80, 100)
#: Frequencies of the f sweep, Hz.
SWEEP_FREQUENCIES_HZ = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0)


class PairingExplorer(Explorer):
    r"""A pairing protocol: ``n_pairs`` pre/post pairs at lag ``delta_t`` and frequency ``frequency``.

    Left: the protocol's spikes, traces and weight, from :func:`stdpwidgets.sim.pairing_protocol`
    and one ``STDPLearner.run(..., record=True)`` on a 1x1 ``nn.Linear``. Right: the weight
    change after the protocol as a function of :math:`\Delta t` (at the chosen frequency) or of
    the frequency (at the chosen :math:`\Delta t`), from :func:`stdpwidgets.sim.pairing_sweep`,
    the current protocol marked.

    Parameters
    ----------
    n_pairs : int
        Number of pairings (1 to 100; default 60).
    delta_t : float
        :math:`t_{post} - t_{pre}`, ms (-100 to 100, steps of 1 ms; default 10).
    frequency : float
        Pairing frequency, Hz (0.1 to 50; default 5). :math:`|\Delta t|` must be shorter than
        the period, or the widget says so.
    sweep : {"delta_t", "frequency"}
        What the right panel varies.
    rule : str
        ``"pair"`` (:class:`~stdpwidgets.core.STDPRule` from τ±, A±), ``"triplet"``
        (:class:`~stdpwidgets.core.TripletRule` with A2± = A± and ``tau_x``, ``tau_y``, ``a3_plus``,
        ``a3_minus``), or the name of a published triplet fit (``TripletRule.PRESETS``: it fixes
        τ±, A±, the pairing and the triplet parameters; their sliders are then disabled).
    tau_pre, tau_post, a_plus, a_minus, pairing, weight_dependence, mu
        The rule; weights live in [0, 1].
    tau_x, tau_y, a3_plus, a3_minus
        The triplet rule's slow time constants (ms, 10 to 1000) and triplet amplitudes.
    w0 : float
        Initial weight (default 0.5).
    dt : float
        Time step, ms (0.1, 0.5 or 1; lags are whole ms so every choice is exact).
    device : str or torch.device
    """

    def __init__(self, *, device: Union[str, torch.device] = "cpu", **initial: Any) -> None:
        controls = {
            "n_pairs": int_slider("pairs", 60, 1, 100),
            "delta_t": float_slider("Δt = t_post − t_pre (ms)", 10.0, -100.0, 100.0, 1.0, ".0f"),
            "frequency": log_slider("frequency (Hz)", 5.0, 0.1, 50.0),
            "sweep": dropdown("sweep", "delta_t", (("Δw vs Δt", "delta_t"), ("Δw vs frequency", "frequency"))),
            **rule_controls(),
            **triplet_controls(),
            "w0": float_slider("initial weight", 0.5, 0.0, 1.0, 0.01),
            "dt": dropdown("dt (ms)", 1.0, (0.1, 0.5, 1.0)),
        }
        link_rule_kind(controls)
        apply_initial_values(controls, initial, type(self).__name__)
        self._sweep_cache: Dict[Tuple, Tuple[np.ndarray, np.ndarray]] = {}
        super().__init__(controls, device=device)
        self.refresh()

    def _sweep(self, rule: Rule, params: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
        n, lag, freq, dt, w0 = (int(params["n_pairs"]), float(params["delta_t"]), float(params["frequency"]),
                                float(params["dt"]), float(params["w0"]))
        def fits(lag_ms: float, freq_hz: float) -> bool:  # the rule pairing_spike_steps applies
            return n == 1 or round(abs(lag_ms) / dt) < round(1000.0 / freq_hz / dt)

        if params["sweep"] == "delta_t":
            values = np.array([v for v in SWEEP_LAGS_MS if fits(v, freq)], dtype=np.float64)
            key = ("delta_t", rule, n, freq, dt, w0)
        else:
            values = np.array([f for f in SWEEP_FREQUENCIES_HZ if fits(lag, f)], dtype=np.float64)
            key = ("frequency", rule, n, lag, dt, w0)
        if key not in self._sweep_cache:
            if len(self._sweep_cache) > 32:
                self._sweep_cache.clear()
            changes = np.zeros(0)
            if values.size:
                lags, freqs = (values, freq) if params["sweep"] == "delta_t" else (lag, values)
                changes = pairing_sweep(rule, lags, freqs, n, dt, w0, self.device).weight_change.reshape(-1).numpy()
            self._sweep_cache[key] = (values, changes)
        return self._sweep_cache[key]

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = rule_from_params(params)
        dt = float(params["dt"])
        pre, post = pairing_protocol(int(params["n_pairs"]), float(params["delta_t"]), float(params["frequency"]),
                                     dt, tail_ms=50.0, device=self.device, dtype=torch.float64)
        steps = pre.shape[0]
        history = simulate_synapse(rule, pre, post, float(params["w0"]), dt)
        sweep_values, sweep_change = self._sweep(rule, params)
        as_numpy = lambda t: t.reshape(steps).cpu().numpy()  # noqa: E731
        weight = as_numpy(history.weights)
        return {
            "rule": rule,
            "dt": dt,
            "time_ms": np.arange(steps) * dt,
            "pre_spikes": as_numpy(pre),
            "post_spikes": as_numpy(post),
            "pre_trace": as_numpy(history.pre_traces),
            "post_trace": as_numpy(history.post_traces),
            "weight": weight,
            "w0": float(params["w0"]),
            "weight_change": float(weight[-1] - float(params["w0"])),
            "sweep": params["sweep"],
            "sweep_values": sweep_values,
            "sweep_change": sweep_change,
        }

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        params = self.parameters
        by_lag = data["sweep"] == "delta_t"
        current = float(params["delta_t"]) if by_lag else float(params["frequency"])
        kind = {"pair": "", "triplet": "triplet rule: "}.get(params["rule"], f"triplet fit ({preset_label(params['rule'])}): ")
        title = (f"{kind}{params['n_pairs']} pairs, Δt = {params['delta_t']:+.0f} ms at {params['frequency']:.3g} Hz: "
                 f"Δw = {data['weight_change']:+.4f}")
        return pairing_figure(
            data["time_ms"], data["pre_spikes"], data["post_spikes"], data["pre_trace"], data["post_trace"],
            data["weight"], data["sweep_values"], data["sweep_change"],
            sweep_label="Δt (ms)" if by_lag else "pairing frequency (Hz)",
            log_sweep=not by_lag, current_value=current, current_change=data["weight_change"],
            title=title, figure=figure, dpi=self.dpi,
        )

    def _status(self, data: Dict[str, Any]) -> str:
        w0 = data["w0"]
        relative = f" ({data['weight_change'] / w0:+.1%} of w0)" if w0 else ""
        return f"weight change after the protocol: {data['weight_change']:+.5f}{relative}"
