"""ConvExplorer: a Conv2d layer learning by STDP from spike-encoded images; kernels over training."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Optional, Union

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from ..core import STDPLearner, STDPRule
from ..plots import kernel_figure
from .base import Explorer
from .controls import RULE_DEPENDENCES, apply_initial_values, dropdown, float_slider, int_slider, log_slider
from .window import window_rule

__all__ = ["ConvExplorer", "train_conv_kernels", "digit_images"]


def digit_images(source: str = "digits", count: int = 200, seed: int = 0) -> torch.Tensor:
    """Images in [0, 1], ``(count, 1, 8, 8)``: scikit-learn's bundled 8x8 digits, or bar patterns.

    Parameters
    ----------
    source : {"digits", "bars"}
        ``"digits"`` needs scikit-learn (its data ship with the package; nothing is
        downloaded); ``"bars"`` makes random horizontal and vertical bars.
    count : int
        Number of images (shuffled with ``seed``).
    seed : int
    """
    generator = np.random.default_rng(seed)
    if source == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:  # pragma: no cover - scikit-learn is in requirements.txt
            raise ValueError("source='digits' needs scikit-learn; use source='bars'") from None
        data = load_digits().images.astype(np.float32) / 16.0
        index = generator.permutation(len(data))[:count]
        images = data[index]
    elif source == "bars":
        images = np.zeros((count, 8, 8), dtype=np.float32)
        for image in images:
            for _ in range(generator.integers(1, 3)):
                position = generator.integers(0, 8)
                if generator.random() < 0.5:
                    image[position, :] = 1.0
                else:
                    image[:, position] = 1.0
    else:
        raise ValueError(f"unknown image source {source!r}; use 'digits' or 'bars'")
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)


def train_conv_kernels(
    rule: STDPRule,
    images: torch.Tensor,
    n_kernels: int = 8,
    kernel_size: int = 5,
    steps_per_image: int = 25,
    dt: float = 1.0,
    *,
    max_rate_hz: float = 200.0,
    threshold: float = 1.0,
    threshold_step: float = 0.3,
    tau_membrane_ms: float = 10.0,
    seed: int = 0,
    snapshots: int = 10,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[Callable[[int, int], None]] = None,
) -> Dict[str, Any]:
    r"""Train ``nn.Conv2d(1, n_kernels, kernel_size)`` with STDP on Poisson-encoded images.

    Each image is shown for ``steps_per_image`` steps: pixel ``v`` fires with rate
    ``v * max_rate_hz``. The output units integrate the convolution of the input spikes
    (leaky, ``tau_membrane_ms``); at every position only the unit whose potential exceeds its
    threshold the most may fire (winner-take-all across kernels), when it exceeds its threshold; a spike resets
    all potentials at that position and raises the winner's threshold by ``threshold_step``
    (homeostasis, so every kernel gets to learn; the excess decays by 5 % per image).
    Initial weights are uniform in [0.2, 0.3]. :meth:`STDPLearner.step` updates the kernels every step.

    Returns
    -------
    dict
        ``"kernels"`` (snapshots + 1, n_kernels, 1, k, k) numpy, ``"images_seen"``
        (snapshots + 1,), ``"output_spikes"`` per kernel, ``"ms_per_step"``, ``"steps"``.
    """
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be shaped (count, 1, height, width), got {tuple(images.shape)}")
    if kernel_size > min(images.shape[-2:]):
        raise ValueError(f"kernel_size {kernel_size} exceeds the image size {tuple(images.shape[-2:])}")
    generator = torch.Generator(device=device).manual_seed(int(seed))
    torch_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))  # the layer's initial weights
        layer = nn.Conv2d(1, n_kernels, kernel_size, bias=False)
    finally:
        torch.random.set_rng_state(torch_state)
    layer = layer.to(device)
    with torch.no_grad():
        layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator, device=device) * 0.1 + 0.2)
        layer.weight.copy_(rule.clip(layer.weight))
    learner = STDPLearner(layer, rule, dt=dt)
    images = images.to(device)
    count = images.shape[0]
    out_shape = (1, n_kernels, images.shape[-2] - kernel_size + 1, images.shape[-1] - kernel_size + 1)
    decay = math.exp(-dt / tau_membrane_ms)
    theta = torch.full((1, n_kernels, 1, 1), float(threshold), device=device)
    spike_counts = torch.zeros(n_kernels, device=device)
    marks = set(np.linspace(0, count, snapshots + 1).round().astype(int)[1:].tolist())
    kernels = [layer.weight.detach().cpu().numpy().copy()]
    seen = [0]
    start = time.perf_counter()
    for index in range(count):
        p = (images[index : index + 1] * (max_rate_hz * dt / 1000.0)).clamp(0.0, 1.0)
        potential = torch.zeros(out_shape, device=device)
        learner.reset()
        for _ in range(steps_per_image):
            pre = (torch.rand(p.shape, generator=generator, device=device) < p).float()
            with torch.no_grad():
                potential = potential * decay + F.conv2d(pre, layer.weight)
            excess = potential - theta
            best = excess.max(dim=1, keepdim=True)
            winner = F.one_hot(best.indices.squeeze(1), n_kernels).permute(0, 3, 1, 2).float()
            post = winner * (best.values >= 0).float()
            fired = post.amax(dim=1, keepdim=True)
            potential = potential * (1.0 - fired)
            theta = theta + threshold_step * post.sum(dim=(0, 2, 3), keepdim=True)
            spike_counts += post.sum(dim=(0, 2, 3))
            learner.step(pre, post)
        theta = threshold + (theta - threshold) * 0.95
        if index + 1 in marks:
            kernels.append(layer.weight.detach().cpu().numpy().copy())
            seen.append(index + 1)
        if progress is not None:
            progress(index + 1, count)
    steps = count * steps_per_image
    return {
        "kernels": np.stack(kernels),
        "images_seen": np.asarray(seen),
        "output_spikes": spike_counts.cpu().numpy(),
        "ms_per_step": (time.perf_counter() - start) * 1e3 / max(steps, 1),
        "steps": steps,
    }


class ConvExplorer(Explorer):
    """A ``Conv2d`` layer learning by STDP from spike-encoded 8x8 images; kernels as images.

    Press **train** (a progress bar follows it); the **snapshot** slider scrubs the kernels
    saved during training. Images are scikit-learn's bundled 8x8 digits or generated bars
    (nothing is downloaded). See :func:`train_conv_kernels` for the model.

    Parameters
    ----------
    images : {"digits", "bars"}
    n_images : int
        Images shown (each once).
    n_kernels, kernel_size : int
        Output channels and kernel width.
    steps_per_image : int
        Time steps (1 ms) each image is shown.
    tau_pre, tau_post, a_plus, a_minus, pairing, weight_dependence
        The rule; weights live in [0, 1].
    seed : int
    train : bool
        Train once at construction (default False: the initial kernels are shown).
    device : str or torch.device
    """


    def __init__(self, *, device: Union[str, torch.device] = "cpu", train: bool = False, **initial: Any) -> None:
        controls = {
            "images": dropdown("images", "digits", (("sklearn 8x8 digits", "digits"), ("bars", "bars"))),
            "n_images": int_slider("images shown", 150, 10, 1000, 10),
            "n_kernels": int_slider("kernels", 8, 1, 32),
            "kernel_size": int_slider("kernel size", 5, 2, 8),
            "steps_per_image": int_slider("steps per image", 25, 5, 100, 5),
            "tau_pre": float_slider("τ+ (pre, ms)", 16.8, 1.0, 100.0, 0.1),
            "tau_post": float_slider("τ− (post, ms)", 33.7, 1.0, 100.0, 0.1),
            "a_plus": log_slider("A+", 0.01, 1e-4, 0.1),
            "a_minus": log_slider("A−", 0.0075, 1e-4, 0.1),
            "pairing": dropdown("pairing", "all-to-all", ("all-to-all", "nearest")),
            "weight_dependence": dropdown("weight dependence", "multiplicative", RULE_DEPENDENCES),
            "seed": int_slider("seed", 0, 0, 999),
        }
        apply_initial_values(controls, initial, type(self).__name__)
        self.train_button = widgets.Button(description="train", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=100, description="progress")
        self.snapshot = widgets.IntSlider(value=0, min=0, max=0, description="snapshot")
        extra = [widgets.HBox([self.train_button, self.progress, self.snapshot])]
        super().__init__(controls, device=device, extra=extra, auto_update=False, columns=2)
        self.train_button.on_click(lambda button: self.refresh())
        self.snapshot.observe(self._on_snapshot, names="value")
        if train:
            self.refresh()
        else:
            self._show_untrained()

    def _stale(self) -> None:
        self.show_message("parameters changed: press train")

    def _on_snapshot(self, change) -> None:
        if self.data and not self._training:
            self.data["snapshot"] = int(self.snapshot.value)
            self.redraw()

    _training = False

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = total
        self.progress.value = done

    def _train(self, params: Dict[str, Any], images: torch.Tensor, progress) -> Dict[str, Any]:
        rule = window_rule(params)
        result = train_conv_kernels(
            rule, images, int(params["n_kernels"]), int(params["kernel_size"]), int(params["steps_per_image"]),
            seed=int(params["seed"]), device=self.device, progress=progress,
        )
        result["rule"] = rule
        result["images"] = images.numpy()
        result["snapshot"] = len(result["images_seen"]) - 1
        return result

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        images = digit_images(params["images"], int(params["n_images"]), int(params["seed"]))
        self.train_button.disabled = True
        self._training = True
        try:
            return self._train(params, images, self._progress)
        finally:
            self.train_button.disabled = False
            self._training = False

    def _show_untrained(self) -> None:
        params = dict(self.parameters)
        images = digit_images(params["images"], 1, int(params["seed"]))
        # the kernels before training: the initialisation train_conv_kernels uses (first snapshot)
        result = train_conv_kernels(window_rule(params), images, int(params["n_kernels"]),
                                    int(params["kernel_size"]), 1, seed=int(params["seed"]), snapshots=1)
        self.data = {"kernels": result["kernels"][:1], "images_seen": np.zeros(1, dtype=int), "snapshot": 0,
                     "rule": window_rule(params)}
        self.redraw()
        self.show_message("initial kernels; press train to learn")

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
        return kernel_figure(kernels, title=title, figure=figure)

    def _status(self, data: Dict[str, Any]) -> str:
        spikes = ", ".join(str(int(s)) for s in data["output_spikes"])
        return (f"{data['ms_per_step'] * 1000:.0f} µs per training step ({data['steps']} steps); "
                f"output spikes per kernel: {spikes}")
