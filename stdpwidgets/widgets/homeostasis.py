"""HomeostasisExplorer: Hebbian STDP running away, and an adaptive threshold and weight normalisation taming it."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..plots.homeostasis import homeostasis_figure
from ..sim.homeostasis import homeostasis_rule, simulate_homeostasis
from .base import Explorer, TrainedSnapshots
from .controls import apply_initial_values, checkbox, float_slider, int_slider, log_slider

__all__ = ["HomeostasisExplorer"]


class HomeostasisExplorer(TrainedSnapshots, Explorer):
    """Integrate-and-fire neurons learning by additive STDP, with an adaptive threshold and weight normalisation to switch on.

    Each of ``n_neurons`` neurons has 100 inputs at 10 Hz, the first 20 of them correlated;
    the window is balanced by default (A- = A+, tau± = 20 ms), weights (mV) start at 0.5 in
    [0, 2]. The figure shows the output rate and the mean weight of each input group over the
    run, and the weight histogram at the **snapshot** slider's time
    (``explorer.player(over="time")`` plays the run without a kernel). At the defaults, with
    both mechanisms off, the rate runs away from about 9 Hz to about 40 Hz in 20 s and every
    weight grows; with both on it stays below 10 Hz and the correlated inputs take the weight
    from the independent ones. Press **train** after changing a control. The simulation is
    :func:`stdpwidgets.sim.homeostasis.simulate_homeostasis`.

    Parameters
    ----------
    adaptive_threshold : bool
        Each spike raises the threshold by ``theta_plus`` mV, decaying with ``tau_theta`` ms.
    theta_plus : float
        mV per spike (0.05 to 2).
    tau_theta : float
        ms (100 to 10 000).
    normalize : bool
        Rescale each neuron's incoming weights to their initial sum every 50 ms.
    a_ratio : float
        A-/A+ (0.8 to 1.3): above 1 the window is depression-dominated.
    correlation : float
        Correlation coefficient of the 20 correlated inputs (0 to 0.5).
    duration : float
        Simulated time, ms (5000 to 60 000).
    seed : int
    train : bool
        Train once at construction (default True).
    device : str or torch.device
    """

    #: Independent neurons simulated (their weights make the histogram).
    n_neurons: int = 4
    #: Snapshots saved during training (the snapshot slider's and a time player's frames).
    n_snapshots: int = 40

    def __init__(self, *, device: Union[str, torch.device] = "cpu", train: bool = True, **initial: Any) -> None:
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: train must be True or False, got {type(train).__name__} {train!r}")
        controls = {
            "adaptive_threshold": checkbox("adaptive threshold", False),
            "theta_plus": float_slider("θ+ (mV per spike)", 0.5, 0.05, 2.0, 0.05, ".2f"),
            "tau_theta": log_slider("τθ (ms)", 1000.0, 100.0, 10000.0),
            "normalize": checkbox("weight normalisation", False),
            "a_ratio": float_slider("A−/A+", 1.0, 0.8, 1.3, 0.01, ".2f"),
            "correlation": float_slider("input correlation", 0.2, 0.0, 0.5, 0.05, ".2f"),
            "duration": float_slider("duration (ms)", 20000.0, 5000.0, 60000.0, 5000.0, ".0f"),
            "seed": int_slider("seed", 0, 0, 999),
        }

        def enable_threshold(change=None) -> None:  # θ+ and τθ only act with the adaptive threshold
            for name in ("theta_plus", "tau_theta"):
                controls[name].disabled = not controls["adaptive_threshold"].value

        controls["adaptive_threshold"].observe(enable_threshold, names="value")
        apply_initial_values(controls, initial, type(self).__name__)
        enable_threshold()
        self.train_button = widgets.Button(description="train", button_style="primary", icon="play")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
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
        rule = homeostasis_rule(a_ratio=float(params["a_ratio"]))
        adaptive = bool(params["adaptive_threshold"])
        self.progress.value = 0.0
        self.train_button.disabled = True
        start = time.perf_counter()
        try:
            run = simulate_homeostasis(
                rule, n_neurons=self.n_neurons, correlation=float(params["correlation"]),
                theta_plus=float(params["theta_plus"]) if adaptive else 0.0, tau_theta=float(params["tau_theta"]),
                normalize=bool(params["normalize"]), duration_ms=float(params["duration"]),
                n_snapshots=self.n_snapshots, seed=int(params["seed"]), device=self.device,
                progress=lambda done: setattr(self.progress, "value", done),
            )
        finally:
            self.train_button.disabled = False
        elapsed = time.perf_counter() - start
        weights = run.weights.numpy()
        n = run.n_correlated
        edges = np.linspace(0.0, rule.w_max, 26)
        # the histogram's axis fits every snapshot but the first (all weights in one bin, off the top)
        count_max = max(int(np.histogram(np.clip(w, 0.0, rule.w_max), bins=edges)[0].max())
                        for w in weights[1:])
        means = run.group_means().numpy()
        return {
            "rule": rule,
            "adaptive": adaptive,
            "normalize": bool(params["normalize"]),
            "times_ms": run.times_ms.numpy(),
            "rate_hz": run.output_rate_hz.numpy(),
            "theta_mv": run.theta_mv.numpy(),
            "correlated_mean": means[:, 0],
            "independent_mean": means[:, 1],
            "weights": weights,
            "n_correlated": n,
            "count_max": count_max,
            "seconds": elapsed,
            "snapshot": len(run.times_ms) - 1,
        }

    def _show_untrained(self) -> None:
        times = np.array([0.0, float(self.parameters["duration"])])
        self.data = {
            "rule": homeostasis_rule(a_ratio=float(self.parameters["a_ratio"])), "times_ms": times,
            "rate_hz": np.zeros(1), "theta_mv": np.zeros(2), "correlated_mean": np.full(2, 0.5),
            "independent_mean": np.full(2, 0.5), "weights": np.full((2, self.n_neurons, 100), 0.5),
            "n_correlated": 20, "count_max": None, "snapshot": 0,
        }
        self.redraw()
        self.show_message("press train to simulate")

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        index = int(data["snapshot"])
        weights, n = data["weights"][index], data["n_correlated"]
        mechanisms = [name for name, on in (("adaptive threshold", data.get("adaptive")),
                                            ("normalisation", data.get("normalize"))) if on]
        title = (f"{' + '.join(mechanisms) if mechanisms else 'no homeostasis'}, "
                 f"t = {data['times_ms'][index] / 1000:.1f} s")
        return homeostasis_figure(
            data["times_ms"], data["rate_hz"], data["correlated_mean"], data["independent_mean"],
            weights[:, :n], weights[:, n:], shown_until=index, w_max=data["rule"].w_max,
            count_max=data["count_max"], title=title, figure=figure, dpi=self.dpi,
        )

    def _time_axis(self):
        def describe(t_ms: float) -> str:
            return f"t = {t_ms / 1000:.1f} s"

        return self._snapshot_axis(self.snapshot, "times_ms", describe)

    def _caption(self, data: Dict[str, Any]) -> str:
        if "seconds" not in data:
            return "untrained: every weight 0.5 mV"
        index = int(data["snapshot"])
        rate = data["rate_hz"][index - 1] if index > 0 else data["rate_hz"][0]
        return (f"output rate {rate:.1f} Hz, threshold offset {data['theta_mv'][index]:.2f} mV, "
                f"sum of weights {data['weights'][index].sum(axis=1).mean():.1f} mV per neuron")

    def _status(self, data: Dict[str, Any]) -> str:
        return (f"output rate {data['rate_hz'][0]:.1f} Hz at the start, {data['rate_hz'][-1]:.1f} Hz at the end; "
                f"simulated in {data['seconds']:.1f} s")
