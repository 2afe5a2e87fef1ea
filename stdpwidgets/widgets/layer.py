"""LayerExplorer: a Linear layer of many synapses under STDP, its weight matrix and histogram."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..core import STDPLearner, STDPRule
from ..plots import weight_matrix_figure
from ..sim import poisson_spikes
from .base import Explorer
from .controls import RULE_DEPENDENCES, apply_initial_values, dropdown, float_slider, int_slider, log_slider
from .window import window_rule

__all__ = ["LayerExplorer", "simulate_layer"]


def simulate_layer(
    rule: STDPRule,
    n_inputs: int,
    n_outputs: int,
    rate_hz: float,
    coupling: float,
    duration_ms: float,
    dt: float = 1.0,
    *,
    base_rate_hz: float = 5.0,
    w0: float = 0.5,
    seed: int = 0,
    snapshots: int = 10,
    chunk_steps: int = 50,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[Callable[[int, int], None]] = None,
) -> Dict[str, Any]:
    r"""Train an ``nn.Linear(n_inputs, n_outputs)`` with STDP on Poisson inputs.

    Each output is a stochastic neuron whose spike probability in a step is
    ``base_rate_hz * dt / 1000 + coupling * (W @ s_pre(t - dt))`` (clipped to [0, 1]): every
    presynaptic spike raises the chance of a postsynaptic spike one step later in proportion
    to its weight. That causal correlation lets strong synapses potentiate themselves, so
    additive STDP splits the weights towards the bounds while multiplicative STDP keeps them
    unimodal around its fixed point. Post spikes of a chunk of ``chunk_steps`` steps are
    drawn with the weight at the start of the chunk; the chunk is then learnt with
    :meth:`STDPLearner.run`.

    Parameters
    ----------
    rule : STDPRule
    n_inputs, n_outputs : int
    rate_hz : float
        Input rate, Hz.
    coupling : float
        Spike probability added per unit weight per presynaptic spike.
    duration_ms, dt : float
        Simulated time and step, ms.
    base_rate_hz : float
        Spontaneous output rate, Hz.
    w0 : float
        Initial weights are ``w0`` plus uniform noise of +-0.05, clipped to the bounds.
    seed : int
    snapshots : int
        Number of weight snapshots kept (evenly spaced, last one at the end).
    chunk_steps : int
    device : str or torch.device
    progress : callable, optional
        Called as ``progress(done_steps, total_steps)`` after every chunk.

    Returns
    -------
    dict
        ``"times_ms"`` (snapshots,), ``"weights"`` (snapshots, n_outputs, n_inputs) numpy,
        ``"initial_weight"``, ``"post_rate_hz"`` (mean output rate), ``"pre"`` and ``"post"``
        (the spike trains, ``(T, 1, n)`` bool tensors on ``device``), ``"ms_per_step"``.
    """
    steps = int(round(duration_ms / dt))
    if steps < 1:
        raise ValueError(f"duration_ms = {duration_ms} gives no step at dt = {dt}")
    generator = torch.Generator(device=device).manual_seed(int(seed))
    layer = nn.Linear(n_inputs, n_outputs, bias=False).to(device)
    with torch.no_grad():
        noise = torch.rand(layer.weight.shape, generator=generator, device=device) - 0.5
        layer.weight.copy_(rule.clip(w0 + 0.1 * noise))
    initial = layer.weight.detach().cpu().numpy().copy()
    learner = STDPLearner(layer, rule, dt=dt)
    pre_all = poisson_spikes(rate_hz, steps, dt, (1, n_inputs), generator=generator, device=device, dtype=torch.bool)
    post_all = torch.zeros(steps, 1, n_outputs, dtype=torch.bool, device=device)
    base_p = base_rate_hz * dt / 1000.0
    marks = set(np.linspace(0, steps, snapshots + 1).round().astype(int)[1:].tolist())
    times, weights = [0.0], [initial]
    previous = torch.zeros(1, n_inputs, device=device)
    start_time = time.perf_counter()
    done = 0
    while done < steps:
        stop = min(steps, done + chunk_steps)
        next_mark = min((m for m in marks if m > done), default=steps)
        stop = min(stop, next_mark)
        pre = pre_all[done:stop]
        shifted = torch.cat([previous.unsqueeze(0), pre[:-1].float()])
        with torch.no_grad():
            drive = shifted @ layer.weight.detach().T
        p = (base_p + coupling * drive).clamp(0.0, 1.0)
        post = torch.rand(p.shape, generator=generator, device=device) < p
        post_all[done:stop] = post
        learner.run(pre, post)
        previous = pre[-1].float()
        done = stop
        if done in marks:
            times.append(done * dt)
            weights.append(layer.weight.detach().cpu().numpy().copy())
        if progress is not None:
            progress(done, steps)
    elapsed = time.perf_counter() - start_time
    return {
        "times_ms": np.asarray(times),
        "weights": np.stack(weights),
        "initial_weight": initial,
        "post_rate_hz": float(post_all.float().mean()) * 1000.0 / dt,
        "pre": pre_all,
        "post": post_all,
        "ms_per_step": elapsed * 1e3 / steps,
    }


class LayerExplorer(Explorer):
    """A ``Linear`` layer of many synapses learning by STDP: weight matrix and histogram over training.

    Press **train** to simulate (a progress bar follows it); the **snapshot** slider then
    scrubs through the weights saved during training. Additive STDP drives the weights to the
    bounds (a bimodal histogram), multiplicative STDP keeps them unimodal.
    See :func:`simulate_layer` for the model.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Layer size (default 100 x 20).
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


    def __init__(self, *, device: Union[str, torch.device] = "cpu", train: bool = True, **initial: Any) -> None:
        controls = {
            "n_inputs": int_slider("inputs", 100, 10, 1000, 10),
            "n_outputs": int_slider("outputs", 20, 1, 100),
            "rate": float_slider("input rate (Hz)", 20.0, 1.0, 50.0, 1.0),
            "coupling": log_slider("coupling", 0.03, 1e-3, 0.2),
            "tau_pre": float_slider("τ+ (pre, ms)", 16.8, 1.0, 100.0, 0.1),
            "tau_post": float_slider("τ− (post, ms)", 33.7, 1.0, 100.0, 0.1),
            "a_plus": log_slider("A+", 0.02, 1e-4, 0.1),
            "a_minus": log_slider("A−", 0.0102, 1e-4, 0.1),
            "pairing": dropdown("pairing", "all-to-all", ("all-to-all", "nearest")),
            "weight_dependence": dropdown("weight dependence", "additive", RULE_DEPENDENCES),
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
        self.snapshot.observe(lambda change: self._show_snapshot(), names="value")
        if train:
            self.refresh()
        else:
            self._show_untrained()

    def _stale(self) -> None:
        self.show_message("parameters changed: press train")

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = total
        self.progress.value = done

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = window_rule(params)
        self.train_button.disabled = True
        try:
            result = simulate_layer(
                rule, int(params["n_inputs"]), int(params["n_outputs"]), float(params["rate"]),
                float(params["coupling"]), float(params["duration"]), seed=int(params["seed"]),
                device=self.device, progress=self._progress,
            )
        finally:
            self.train_button.disabled = False
        result["rule"] = rule
        result["snapshot"] = len(result["times_ms"]) - 1
        return result

    def _show_untrained(self) -> None:
        params = self.parameters
        w = np.full((int(params["n_outputs"]), int(params["n_inputs"])), 0.5)
        self.data = {"times_ms": np.zeros(1), "weights": w[None], "snapshot": 0, "rule": window_rule(params)}
        self.redraw()
        self.show_message("press train to simulate")

    def refresh(self) -> bool:
        ok = super().refresh()
        if ok:
            self.snapshot.unobserve_all()
            self.snapshot.max = len(self.data["times_ms"]) - 1
            self.snapshot.value = self.snapshot.max
            self.snapshot.observe(lambda change: self._show_snapshot(), names="value")
        return ok

    def _show_snapshot(self) -> None:
        if self.data:
            self.data["snapshot"] = int(self.snapshot.value)
            self.redraw()

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        index = int(data["snapshot"])
        w = data["weights"][index]
        if figure is not None and figure.stdp_artists["matrix"].get_array().shape != w.shape:
            figure = None  # layer size changed: a new figure replaces the old one in the Image
        title = f"{data['rule'].dependence.name} STDP, t = {data['times_ms'][index] / 1000:.1f} s"
        return weight_matrix_figure(w, title=title, figure=figure)

    def _status(self, data: Dict[str, Any]) -> str:
        return (f"output rate {data['post_rate_hz']:.1f} Hz; {data['ms_per_step'] * 1000:.0f} µs per training "
                f"step ({len(data['pre'])} steps)")
