"""LayerExplorer: a Linear layer of many synapses under STDP, its weight matrix and histogram."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..plots import weight_matrix_figure
from ..sim import simulate_poisson_layer
from .base import Explorer, TrainedSnapshots
from .controls import apply_initial_values, float_slider, int_slider, log_slider, rule_controls, rule_from_params

__all__ = ["LayerExplorer"]


class LayerExplorer(TrainedSnapshots, Explorer):
    """A ``Linear`` layer of many synapses learning by STDP: weight matrix and histogram over training.

    Press **train** to simulate (a progress bar follows it); the **snapshot** slider then
    scrubs through the weights saved during training (``explorer.player(over="time")`` plays
    them without a kernel). Additive STDP drives the weights to the
    bounds (a bimodal histogram: at the defaults, after 30 s, about 36 % of the weights lie
    within 0.1 of 0 and 27 % within 0.1 of 1), multiplicative STDP keeps them unimodal (all
    within 0.4-0.6, near :func:`~stdpwidgets.core.multiplicative_fixed_point` = 0.47).
    The simulation is :func:`stdpwidgets.sim.simulate_poisson_layer`.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Layer size (default 20 inputs x 50 outputs: few inputs per output, so each input's
        causal share of the output spikes is large enough to split additive weights in 30 s).
    rate : float
        Input rate, Hz.
    coupling : float
        Output spike probability per unit weight per input spike.
    tau_pre, tau_post, a_plus, a_minus, pairing, weight_dependence
        The rule; weights live in [0, 1].
    duration : float
        Simulated time, ms.
    seed : int
    train : bool
        Train once at construction (default True).
    device : str or torch.device
    """


    #: Weight snapshots saved during training (the snapshot slider's and a time player's frames).
    n_snapshots: int = 40

    def __init__(self, *, device: Union[str, torch.device] = "cpu", train: bool = True, **initial: Any) -> None:
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: train must be True or False, got {type(train).__name__} {train!r}")
        controls = {
            "n_inputs": int_slider("inputs", 20, 10, 1000, 10),
            "n_outputs": int_slider("outputs", 50, 1, 100),
            "rate": float_slider("input rate (Hz)", 20.0, 1.0, 50.0, 1.0),
            "coupling": log_slider("coupling", 0.2, 1e-3, 0.5),
            **rule_controls(a_plus=0.02, a_minus=0.0112),
            "duration": float_slider("duration (ms)", 30000.0, 1000.0, 100000.0, 1000.0, ".0f"),
            "seed": int_slider("seed", 0, 0, 999),
        }
        apply_initial_values(controls, initial, type(self).__name__)
        self.train_button = widgets.Button(description="train", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="progress")
        self.snapshot = widgets.IntSlider(value=0, min=0, max=0, description="snapshot", continuous_update=True)
        extra = [widgets.HBox([self.train_button, self.progress, self.snapshot])]
        super().__init__(controls, device=device, extra=extra, auto_update=False)
        self.train_button.on_click(lambda button: self.refresh())
        self._watch_snapshot()
        if train:
            self.refresh()
        else:
            self._show_untrained()

    def _stale(self) -> None:
        self.show_message("parameters changed: press train")

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = rule_from_params(params)
        steps = int(round(float(params["duration"])))  # dt = 1 ms
        self.progress.max = steps
        self.progress.value = 0
        self.train_button.disabled = True
        start = time.perf_counter()
        try:
            result = simulate_poisson_layer(
                rule, int(params["n_inputs"]), int(params["n_outputs"]), input_rate_hz=float(params["rate"]),
                coupling=float(params["coupling"]), duration_ms=float(params["duration"]), seed=int(params["seed"]),
                n_snapshots=self.n_snapshots, device=self.device,
                progress=lambda done: setattr(self.progress, "value", round(done * steps)),
            )
        finally:
            self.train_button.disabled = False
        elapsed = time.perf_counter() - start
        low, high = result.fraction_near_bounds(0.1)
        by_snapshot = [result.fraction_near_bounds(0.1, k) for k in range(len(result.times_ms))]
        return {
            "rule": rule,
            "times_ms": result.times_ms.numpy(),
            "weights": result.weights.double().numpy(),
            "initial_weight": result.initial_weights.numpy(),
            "pre": result.pre,
            "post": result.post,
            "post_rate_hz": result.output_rate_hz,
            "near_bounds": (low, high),
            "near_bounds_by_snapshot": by_snapshot,
            "steps": steps,
            "ms_per_step": elapsed * 1e3 / steps,
            "snapshot": len(result.times_ms) - 1,
        }

    def _show_untrained(self) -> None:
        params = self.parameters
        w = np.full((int(params["n_outputs"]), int(params["n_inputs"])), 0.5)
        self.data = {"times_ms": np.zeros(1), "weights": w[None], "snapshot": 0, "rule": rule_from_params(params)}
        self.redraw()
        self.show_message("press train to simulate")

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        index = int(data["snapshot"])
        w = data["weights"][index]
        if figure is not None and figure.stdp_artists["matrix"].get_array().shape != w.shape:
            figure = None  # layer size changed: a new figure replaces the old one in the Image
        title = f"{data['rule'].dependence.name} STDP, t = {data['times_ms'][index] / 1000:.1f} s"
        return weight_matrix_figure(w, title=title, figure=figure, dpi=self.dpi)

    def _time_axis(self):
        def describe(t_ms: float) -> str:
            return f"t = {t_ms:.0f} ms" if t_ms < 10_000 else f"t = {t_ms / 1000:.1f} s"

        return self._snapshot_axis(self.snapshot, "times_ms", describe)

    def _caption(self, data: Dict[str, Any]) -> str:
        if "near_bounds" not in data:
            return "untrained: every weight 0.5"
        low, high = data["near_bounds_by_snapshot"][int(data["snapshot"])]
        return (f"output rate over the run {data['post_rate_hz']:.1f} Hz; weights within 0.1 of the bounds "
                f"now: {low:.0%} low, {high:.0%} high")

    def _status(self, data: Dict[str, Any]) -> str:
        low, high = data["near_bounds"]
        return (f"output rate {data['post_rate_hz']:.1f} Hz; final weights within 0.1 of the bounds: "
                f"{low:.0%} low, {high:.0%} high; {data['ms_per_step'] * 1000:.0f} µs per step ({data['steps']} steps)")
