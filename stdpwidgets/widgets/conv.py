"""ConvExplorer: a Conv2d layer learning by STDP from spike-encoded images; kernels over training."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..plots import kernel_figure
from ..sim import ENCODINGS, generated_patterns, initial_conv_kernels, kernel_structure, load_digit_images, train_conv_stdp
from .base import Explorer
from .controls import apply_initial_values, dropdown, int_slider, rule_controls, rule_from_params

__all__ = ["ConvExplorer"]


#: Said in the widget when "digits" is chosen but scikit-learn cannot be imported.
NO_SKLEARN = ("scikit-learn is not installed, so these are generated bars, not digits "
              "(pip install scikit-learn, or pip install 'stdpwidgets[digits]')")


def have_sklearn() -> bool:
    """Whether scikit-learn (which bundles the 8x8 digits) can be imported."""
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


def _images(source: str, count: int, seed: int) -> torch.Tensor:
    """``(count, 8, 8)`` training images: scikit-learn's bundled digits or generated bars."""
    if source == "digits" and have_sklearn():
        return load_digit_images(n_images=count, seed=seed, fallback=False)
    return generated_patterns(count, seed=seed)


class ConvExplorer(Explorer):
    """A ``Conv2d`` layer learning by STDP from spike-encoded 8x8 images; kernels as images.

    Press **train** (a progress bar follows it); the **snapshot** slider scrubs the kernels
    saved during training. The training is :func:`stdpwidgets.sim.train_conv_stdp`
    (integrate-and-fire outputs with first-spike winner-take-all and threshold homeostasis);
    images are scikit-learn's bundled 8x8 digits (:func:`~stdpwidgets.sim.load_digit_images`)
    or generated bars (:func:`~stdpwidgets.sim.generated_patterns`); nothing is downloaded.
    Without scikit-learn (``pip install 'stdpwidgets[digits]'``) "digits" falls back to bars
    and the widget says so. ``explorer.player(over="time")`` plays the kernels over training.
    The title gives the kernels' mean best cosine match to an image patch
    (:func:`~stdpwidgets.sim.kernel_structure`), which grows as they learn.

    Parameters
    ----------
    images : {"digits", "bars"}
    n_images : int
        Images per epoch (default 500).
    epochs : int
        Passes through the images (default 1).
    n_kernels, kernel_size : int
        Output channels and kernel width (``out_channels``, ``kernel_size``; default 8 and 5).
    encoding : {"latency", "poisson"}
        Spike code of the images.
    steps_per_image : int
        Time steps (1 ms) each image is shown (default 15).
    tau_pre, tau_post, a_plus, a_minus, pairing, weight_dependence
        The rule; weights live in [0, 1] (defaults: :func:`~stdpwidgets.sim.default_conv_rule`).
    seed : int
        Seeds the images, the initial kernels, the image order and Poisson spikes.
    train : bool
        Train once at construction (default False: the initial kernels are shown).
    device : str or torch.device
    """

    #: Kernel snapshots saved during training (the snapshot slider's and a time player's frames).
    n_snapshots: int = 40

    def __init__(self, *, device: Union[str, torch.device] = "cpu", train: bool = False, **initial: Any) -> None:
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: train must be True or False, got {type(train).__name__} {train!r}")
        controls = {
            "images": dropdown("images", "digits", (("sklearn 8x8 digits", "digits"), ("bars", "bars"))),
            "n_images": int_slider("images per epoch", 500, 10, 1000, 10),
            "epochs": int_slider("epochs", 1, 1, 5),
            "n_kernels": int_slider("kernels", 8, 1, 32),
            "kernel_size": int_slider("kernel size", 5, 2, 8),
            "encoding": dropdown("encoding", "latency", ENCODINGS),
            "steps_per_image": int_slider("steps per image", 15, 5, 100, 5),
            **rule_controls(tau_pre=5.0, tau_post=5.0, a_plus=0.05, a_minus=0.04, weight_dependence='multiplicative'),
            "seed": int_slider("seed", 0, 0, 999),
        }
        apply_initial_values(controls, initial, type(self).__name__)
        self.train_button = widgets.Button(description="train", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="images")
        self.snapshot = widgets.IntSlider(value=0, min=0, max=0, description="snapshot")
        extra = [widgets.HBox([self.train_button, self.progress, self.snapshot])]
        super().__init__(controls, device=device, extra=extra, auto_update=False, columns=2)
        self.train_button.on_click(lambda button: self.refresh())
        self.snapshot.observe(self._on_snapshot, names="value")
        if train:
            self.refresh()
        else:
            self._show_untrained()

    _training = False

    def _stale(self) -> None:
        self.show_message("parameters changed: press train")

    def _on_snapshot(self, change) -> None:
        if self.data and not self._training:
            self.data["snapshot"] = int(self.snapshot.value)
            self.redraw()

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        rule = rule_from_params(params)
        images = _images(params["images"], int(params["n_images"]), int(params["seed"]))
        presented = images.shape[0] * int(params["epochs"])
        self.progress.max = presented
        self.progress.value = 0
        self.train_button.disabled = True
        self._training = True
        start = time.perf_counter()
        try:
            result = train_conv_stdp(
                images, out_channels=int(params["n_kernels"]), kernel_size=int(params["kernel_size"]), rule=rule,
                encoding=params["encoding"], steps_per_image=int(params["steps_per_image"]),
                epochs=int(params["epochs"]), seed=int(params["seed"]), n_snapshots=self.n_snapshots,
                device=self.device,
                progress=lambda done: setattr(self.progress, "value", round(done * presented)),
            )
        finally:
            self.train_button.disabled = False
            self._training = False
        elapsed = time.perf_counter() - start
        steps = presented * int(params["steps_per_image"])
        return {
            "rule": rule,
            "kernels": result.kernels.double().numpy(),
            "images_seen": result.images_seen.numpy(),
            "structure": np.array([float(kernel_structure(k, images).mean()) for k in result.kernels]),
            "wins": result.wins.numpy(),
            "steps": steps,
            "ms_per_step": elapsed * 1e3 / steps,
            "train_seconds": elapsed,
            "snapshot": result.kernels.shape[0] - 1,
        }

    def _show_untrained(self) -> None:
        params = self.parameters
        rule = rule_from_params(params)
        kernels = initial_conv_kernels(1, int(params["n_kernels"]), int(params["kernel_size"]), rule=rule,
                                       seed=int(params["seed"]))
        self.data = {"kernels": kernels.double().numpy()[None], "images_seen": np.zeros(1, dtype=int),
                     "snapshot": 0, "rule": rule}
        self.redraw()
        note = self._fallback_note()
        self.show_message(((note + "; ") if note else "") + "initial kernels; press train to learn")

    def refresh(self) -> bool:
        ok = super().refresh()
        if ok:
            self.snapshot.max = len(self.data["images_seen"]) - 1
            self.snapshot.value = self.snapshot.max
        return ok

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        index = int(data["snapshot"])
        kernels = data["kernels"][index]
        if figure is not None and (len(figure.stdp_artists["kernels"]) != kernels.shape[0]
                                   or figure.stdp_artists["kernels"][0].get_array().shape != kernels.shape[-2:]):
            figure = None  # kernel count or size changed: a new figure replaces the old one
        title = f"kernels after {int(data['images_seen'][index])} images"
        if "structure" in data:
            title += f"; best match to a patch {data['structure'][index]:.2f}"
        return kernel_figure(kernels, title=title, figure=figure, dpi=self.dpi)

    def _time_axis(self):
        return self._snapshot_axis(self.snapshot, "images_seen", lambda seen: f"after {int(seen)} images")

    def _fallback_note(self) -> str:
        return NO_SKLEARN if self.parameters["images"] == "digits" and not have_sklearn() else ""

    def _caption(self, data: Dict[str, Any]) -> str:
        note = self._fallback_note()
        if "wins" not in data:
            return note or "initial kernels"
        wins = ", ".join(str(int(w)) for w in data["wins"])
        return note or f"output spikes per kernel: {wins}"

    def _status(self, data: Dict[str, Any]) -> str:
        wins = ", ".join(str(int(w)) for w in data["wins"])
        note = self._fallback_note()
        return ((note + "; ") if note else "") + (
            f"trained in {data['train_seconds']:.2f} s ({data['ms_per_step'] * 1000:.0f} µs per step); "
            f"mean best cosine match to an image patch {data['structure'][0]:.2f} → {data['structure'][-1]:.2f}; "
            f"spikes per kernel: {wins}")
