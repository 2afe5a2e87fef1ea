r"""Convolutional STDP on spike-encoded images: kernels that learn features without labels.

Each image is encoded as spikes (latency or Poisson code) and fed to an ``nn.Conv2d``. The
output is a layer of integrate-and-fire neurons (one per channel and position, no leak)
with a first-spike winner-take-all in the spirit of Masquelier & Thorpe (2007) and
Kheradpisheh et al. (2018): in one presentation each channel fires at most once, at the
position where its potential is highest, and a neuron that fires inhibits the other channels
at its position. Each channel's threshold grows with every spike it fires (homeostasis), so
all kernels get to learn. The conv weights then learn by :class:`~stdpwidgets.core.STDPLearner`
(the convolution's weight-gradient computes the STDP correlations). Everything is vectorised
over batch, channels and positions; the only Python loops are over time steps and batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..core import Rule, STDPLearner, STDPRule
from ._budget import check_bytes, check_steps, check_work
from ._checks import (check_bool, check_count, check_device, check_finite, check_images_for_kernels, check_positive,
                      check_tensor, make_generator)
from .encoding import ENCODINGS, latency_encode, poisson_encode

__all__ = [
    "ConvTrainingResult",
    "default_conv_rule",
    "initial_conv_kernels",
    "winner_take_all_spikes",
    "train_conv_stdp",
    "kernel_structure",
    "first_spike_winners",
]


@dataclass(frozen=True)
class ConvTrainingResult:
    """Outcome of :func:`train_conv_stdp`.

    Attributes
    ----------
    kernels : Tensor
        Kernel snapshots ``(n_snapshots + 1, out_channels, in_channels, kH, kW)``, the first
        before training.
    images_seen : Tensor
        Number of images presented at each snapshot, ``(n_snapshots + 1,)``.
    wins : Tensor
        Spikes fired per channel over the whole run, ``(out_channels,)``.
    thresholds : Tensor
        Final threshold of each channel as a fraction of its summed weight (with homeostasis).
    layer : nn.Conv2d
        The trained layer (its weight is the last snapshot).
    rule : STDPRule
        The rule used.
    """

    kernels: torch.Tensor
    images_seen: torch.Tensor
    wins: torch.Tensor
    thresholds: torch.Tensor
    layer: nn.Conv2d
    rule: Rule

    @property
    def final_kernels(self) -> torch.Tensor:
        """Kernels after training, ``(out_channels, in_channels, kH, kW)``."""
        return self.kernels[-1]


def default_conv_rule() -> STDPRule:
    """Soft-bounded STDP on [0, 1] used by :func:`train_conv_stdp` by default.

    ``tau_pre = tau_post = 5`` ms, ``a_plus = 0.05``, ``a_minus = 0.04``, multiplicative.
    """
    return STDPRule(
        tau_pre=5.0, tau_post=5.0, a_plus=0.05, a_minus=0.04,
        weight_dependence="multiplicative", w_min=0.0, w_max=1.0,
    )


def _initial_layer(
    in_channels: int, out_channels: int, kernel_size: int, rule: Rule, initial_weight: float,
    initial_spread: float, generator: Optional[torch.Generator],
) -> nn.Conv2d:
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)
    with torch.no_grad():
        noise = torch.rand(layer.weight.shape, generator=generator) * 2 - 1
        layer.weight.copy_((initial_weight + initial_spread * noise).clamp(rule.w_min, rule.w_max))
    return layer


def initial_conv_kernels(
    in_channels: int = 1,
    out_channels: int = 8,
    kernel_size: int = 5,
    *,
    rule: Optional[Rule] = None,
    initial_weight: float = 0.3,
    initial_spread: float = 0.1,
    seed: Optional[int] = 0,
) -> torch.Tensor:
    """The kernels :func:`train_conv_stdp` starts from with the same arguments (its first snapshot).

    Uniform in ``initial_weight +- initial_spread``, clipped to the rule's bounds (default
    :func:`default_conv_rule`); the same ``seed`` gives the same kernels as ``train_conv_stdp``.

    Returns
    -------
    Tensor
        ``(out_channels, in_channels, kernel_size, kernel_size)``.
    """
    in_channels = check_count("in_channels", in_channels, minimum=1)
    out_channels = check_count("out_channels", out_channels, minimum=1)
    kernel_size = check_count("kernel_size", kernel_size, minimum=1)
    rule = default_conv_rule() if rule is None else rule
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    initial_weight = check_finite("initial_weight", initial_weight)
    initial_spread = check_positive("initial_spread", initial_spread, allow_zero=True)
    check_bytes(f"initial_conv_kernels of shape ({out_channels}, {in_channels}, {kernel_size}, {kernel_size})",
                out_channels * in_channels * kernel_size * kernel_size * 12.0, "use fewer or smaller kernels")
    generator = make_generator(None, seed, torch.device("cpu")) if seed is not None else None
    layer = _initial_layer(in_channels, out_channels, kernel_size, rule, initial_weight, initial_spread, generator)
    return layer.weight.detach()


def winner_take_all_spikes(
    layer: nn.Conv2d,
    pre: torch.Tensor,
    thresholds: torch.Tensor,
) -> torch.Tensor:
    """Output spikes of integrate-and-fire neurons with first-spike winner-take-all.

    Parameters
    ----------
    layer : nn.Conv2d
        Gives the synaptic input ``conv(pre[t])`` (bias ignored).
    pre : Tensor
        Input spikes ``(T, batch, C_in, H, W)``.
    thresholds : Tensor
        Firing threshold of each output channel, ``(C_out,)``.

    Returns
    -------
    Tensor
        Output spikes ``(T, batch, C_out, H', W')``: per image each channel fires at most
        once, at its position of highest potential among those above threshold, and no two
        channels fire at the same position (the higher potential wins; the other is inhibited
        for the rest of the presentation).
    """
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"layer must be an nn.Conv2d, got {type(layer).__name__}")
    pre = check_tensor("pre", pre, "(T, batch, C_in, H, W)")
    if pre.dim() != 5:
        raise ValueError(f"pre must be shaped (T, batch, C_in, H, W), got {tuple(pre.shape)}")
    thresholds = check_tensor("thresholds", thresholds, "(C_out,)")
    if thresholds.numel() not in (1, layer.out_channels):
        raise ValueError(f"thresholds must hold one value or one per output channel ({layer.out_channels}), "
                         f"got shape {tuple(thresholds.shape)}")
    steps, batch = pre.shape[:2]
    with torch.no_grad():
        drive = F.conv2d(pre.reshape(steps * batch, *pre.shape[2:]), layer.weight, None,
                         layer.stride, layer.padding, layer.dilation, layer.groups)
        drive = drive.reshape(steps, batch, *drive.shape[1:])
        channels, out_h, out_w = drive.shape[2:]
        positions = out_h * out_w
        potential = drive.reshape(steps, batch, channels, positions).cumsum(dim=0)  # IF, no leak
        spikes = torch.zeros_like(potential)
        done = torch.zeros(batch, channels, dtype=torch.bool, device=pre.device)
        inhibited = torch.zeros(batch, positions, dtype=torch.bool, device=pre.device)
        minus_inf = torch.tensor(-float("inf"), dtype=potential.dtype, device=pre.device)
        level = thresholds.to(potential.dtype).reshape(-1).expand(channels).reshape(1, channels, 1)
        for t in range(steps):
            v = potential[t]
            allowed = (v >= level) & ~done.unsqueeze(2) & ~inhibited.unsqueeze(1)
            masked = torch.where(allowed, v, minus_inf)
            best, where = masked.max(dim=2)  # each channel's best position
            candidate = best > minus_inf
            if not bool(candidate.any()):
                continue
            # cross-channel inhibition: at each position only the highest candidate fires
            top = torch.full((batch, positions), -float("inf"), dtype=v.dtype, device=v.device)
            top = top.scatter_reduce(1, where, torch.where(candidate, best, minus_inf), "amax")
            fire = candidate & (best >= top.gather(1, where))
            spikes[t].scatter_(2, where.unsqueeze(2), fire.unsqueeze(2).to(spikes.dtype))
            done |= fire
            inhibited.scatter_reduce_(1, where, fire, "amax")
        return spikes.reshape(steps, batch, channels, out_h, out_w)


def kernel_structure(kernels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """How well each kernel matches some image patch: max cosine similarity, ``(C_out,)``.

    Compares each kernel (mean removed) with every patch of the images (mean removed) of its
    size and returns the best match per kernel, in [-1, 1]. Random kernels score lower than
    kernels that learned a feature of the images.
    """
    kernels = check_tensor("kernels", kernels, "(C_out, 1, kH, kW)")
    images = check_tensor("images", images, "(n, H, W)")
    if kernels.dim() != 4 or images.dim() != 3:
        raise ValueError("kernels must be (C_out, 1, kH, kW) and images (n, H, W), got "
                         f"{tuple(kernels.shape)} and {tuple(images.shape)}")
    k_h, k_w = kernels.shape[2:]
    if k_h > images.shape[1] or k_w > images.shape[2]:
        raise ValueError(f"kernels of {k_h}x{k_w} are larger than the images ({images.shape[1]}x{images.shape[2]})")
    patches_count = images.shape[0] * (images.shape[1] - k_h + 1) * (images.shape[2] - k_w + 1)
    check_bytes(f"kernel_structure over {patches_count} patches", patches_count * (k_h * k_w * 8.0 * 3 + kernels.shape[0] * 8.0),
                "pass fewer images (a few hundred are plenty)")
    patches = F.unfold(images.unsqueeze(1).to(kernels.dtype), (k_h, k_w))  # (n, kH*kW, L)
    patches = patches.transpose(1, 2).reshape(-1, k_h * k_w)
    patches = patches - patches.mean(dim=1, keepdim=True)
    patches = patches[patches.norm(dim=1) > 1e-6]
    flat = kernels[:, 0].reshape(kernels.shape[0], -1)
    flat = flat - flat.mean(dim=1, keepdim=True)
    cosine = (flat @ patches.t()) / (flat.norm(dim=1, keepdim=True) * patches.norm(dim=1) + 1e-12)
    return cosine.max(dim=1).values


def _conv_output_size(layer: nn.Conv2d, size) -> tuple:
    """Output height and width of ``layer`` on images of ``size`` (H, W)."""
    if isinstance(layer.padding, str):
        if layer.padding == "same":
            return tuple(size)
        padding = (0, 0)
    else:
        padding = layer.padding
    return tuple(
        (size[i] + 2 * padding[i] - layer.dilation[i] * (layer.kernel_size[i] - 1) - 1) // layer.stride[i] + 1
        for i in range(2)
    )


def train_conv_stdp(
    images: torch.Tensor,
    layer: Optional[nn.Conv2d] = None,
    *,
    out_channels: int = 8,
    kernel_size: int = 5,
    rule: Optional[Rule] = None,
    encoding: str = "latency",
    steps_per_image: int = 15,
    dt: float = 1.0,
    max_rate_hz: float = 200.0,
    threshold: float = 0.3,
    threshold_increment: float = 0.05,
    threshold_decay: float = 0.9,
    batch_size: int = 16,
    epochs: int = 1,
    n_snapshots: int = 10,
    initial_weight: float = 0.3,
    initial_spread: float = 0.1,
    seed: Optional[int] = 0,
    progress: Optional[Callable[[float], None]] = None,
    device: Union[str, torch.device] = "cpu",
) -> ConvTrainingResult:
    r"""Train an ``nn.Conv2d`` by STDP on spike-encoded images.

    Parameters
    ----------
    images : Tensor
        ``(n, H, W)`` or ``(n, C_in, H, W)`` intensities in [0, 1] (e.g.
        :func:`~stdpwidgets.sim.digits.load_digit_images`).
    layer : nn.Conv2d, optional
        The layer to train (its weight is changed in place and should lie in the rule's
        bounds). Default: a new ``nn.Conv2d(C_in, out_channels, kernel_size, bias=False)``
        with weights ``initial_weight +- initial_spread`` (uniform).
    out_channels, kernel_size : int
        Shape of the default layer.
    rule : Rule (STDPRule, TripletRule, ...), optional
        Default :func:`default_conv_rule`.
    encoding : {"latency", "poisson"}
        Spike code of the images (:func:`~stdpwidgets.sim.encoding.latency_encode` or
        :func:`~stdpwidgets.sim.encoding.poisson_encode` at ``max_rate_hz``).
    steps_per_image : int
        Presentation length in steps of ``dt`` ms.
    dt : float
        Time step, ms.
    max_rate_hz : float
        Rate of a full-intensity pixel for the Poisson code, Hz.
    threshold : float
        Firing threshold of a channel as a fraction of its summed kernel weights (so it
        fires once inputs worth that fraction of its weight have arrived).
    threshold_increment, threshold_decay : float
        Homeostasis: each spike of a channel adds ``threshold_increment`` (same units) to
        its threshold; after every batch that extra is multiplied by ``threshold_decay``.
    batch_size : int
        Images presented in parallel; their STDP updates are summed.
    epochs : int
        Passes through ``images``.
    n_snapshots : int
        Kernel snapshots after the initial one.
    initial_weight, initial_spread : float
        Default layer's initial weights.
    seed : int, optional
        Seeds initial weights, image order and Poisson spikes.
    progress : callable, optional
        Called with the fraction done after every batch.
    device : str or torch.device
        Where the layer and spikes live.

    Returns
    -------
    ConvTrainingResult
        Kernel snapshots, wins per channel, final thresholds, the layer and the rule.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor (n, H, W) or (n, C, H, W), got {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be shaped (n, H, W) or (n, C, H, W) with n >= 1, got {tuple(images.shape)}")
    if (not images.is_floating_point() or not bool(torch.isfinite(images).all()) or bool((images < 0).any())
            or bool((images > 1).any())):
        raise ValueError("images must be floating point intensities in [0, 1]")
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    steps_per_image = check_count("steps_per_image", steps_per_image, minimum=1)
    batch_size = check_count("batch_size", batch_size, minimum=1)
    epochs = check_count("epochs", epochs, minimum=1)
    n_snapshots = check_count("n_snapshots", n_snapshots, minimum=1)
    dt = check_positive("dt", dt, "ms")
    max_rate_hz = check_finite("max_rate_hz", max_rate_hz, "Hz")
    if encoding == "poisson":
        max_rate_hz = check_positive("max_rate_hz", max_rate_hz, "Hz")
        if max_rate_hz * dt / 1000.0 > 1:
            raise ValueError(f"max_rate_hz = {max_rate_hz} Hz at dt = {dt} ms is more than one spike per step; "
                             f"use dt <= {1000.0 / max_rate_hz:.4g} ms or a lower max_rate_hz")
    threshold = check_positive("threshold", threshold)
    if threshold > 1:
        raise ValueError(f"threshold is a fraction of the kernel's summed weight; give one in (0, 1], got {threshold}")
    threshold_increment = check_positive("threshold_increment", threshold_increment, allow_zero=True)
    threshold_decay = check_positive("threshold_decay", threshold_decay, allow_zero=True)
    if threshold_decay > 1:
        raise ValueError(f"threshold_decay must lie in [0, 1], got {threshold_decay}")
    initial_weight = check_finite("initial_weight", initial_weight)
    initial_spread = check_positive("initial_spread", initial_spread, allow_zero=True)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking the fraction done, got {progress!r}")
    rule = default_conv_rule() if rule is None else rule
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    device = check_device(device)
    in_channels = images.shape[1]
    image_size = tuple(images.shape[2:])
    if layer is None:
        out_channels = check_count("out_channels", out_channels, minimum=1)
        kernel_size = check_count("kernel_size", kernel_size, minimum=1)
        if kernel_size > min(images.shape[2:]):
            raise ValueError(f"kernel_size {kernel_size} exceeds the image size {tuple(images.shape[2:])}")
        n_channels_out, weights_per_kernel = out_channels, in_channels * kernel_size * kernel_size
        out_size = (image_size[0] - kernel_size + 1) * (image_size[1] - kernel_size + 1)
    elif not isinstance(layer, nn.Conv2d):
        raise TypeError(f"layer must be an nn.Conv2d, got {type(layer).__name__}")
    elif layer.in_channels != in_channels:
        raise ValueError(f"layer has {layer.in_channels} input channels but the images have {in_channels}")
    else:
        out_hw = _conv_output_size(layer, image_size)
        if min(out_hw) < 1:
            raise ValueError(
                f"layer's kernel {tuple(layer.kernel_size)} (dilation {tuple(layer.dilation)}, padding "
                f"{layer.padding}) does not fit the images of {image_size[0]}x{image_size[1]}; use a kernel no larger "
                f"than the images (e.g. nn.Conv2d({in_channels}, {layer.out_channels}, {min(image_size)})) or pad them"
            )
        n_channels_out, weights_per_kernel = layer.out_channels, layer.weight[0].numel()
        out_size = out_hw[0] * out_hw[1]
    n = images.shape[0]
    presentations = n * epochs
    fix = (f"use fewer epochs (now {epochs}), fewer images (now {n}) or a shorter steps_per_image "
           f"(now {steps_per_image}); the book trains 400 images for 1 epoch of 15 steps")
    check_steps(f"train_conv_stdp over {n} images x {epochs} epochs x {steps_per_image} steps_per_image",
                float(presentations) * steps_per_image, fix)
    check_work(f"train_conv_stdp with {n_channels_out} kernels of {weights_per_kernel} weights at {out_size} positions",
               float(presentations) * steps_per_image * n_channels_out * weights_per_kernel * out_size,
               fix + ", or fewer/smaller kernels")
    n_batches = (presentations + batch_size - 1) // batch_size
    n_kept = min(n_snapshots, n_batches)  # more snapshots than batches: one after every batch (the same)
    per_batch = min(batch_size, presentations) * steps_per_image * (
        images[0].numel() * 16.0 + n_channels_out * out_size * 4 * 8.0)
    check_bytes(f"train_conv_stdp with batch_size = {batch_size}, {steps_per_image} steps_per_image, "
                f"{epochs} epochs and {n_kept} snapshots",
                per_batch + presentations * 16.0 + (n_kept + 2) * n_channels_out * weights_per_kernel * 8.0,
                "use a smaller batch_size, fewer epochs, fewer n_snapshots or fewer/smaller kernels")
    generator = make_generator(None, seed, torch.device("cpu")) if seed is not None else None
    if layer is None:
        layer = _initial_layer(in_channels, out_channels, kernel_size, rule, initial_weight, initial_spread,
                               generator).to(device)
    learner = STDPLearner(layer, rule, dt=dt)
    spike_generator = make_generator(None, None if seed is None else seed + 1, device) if seed is not None else None

    orders = [torch.randperm(n, generator=generator) for _ in range(epochs)]
    order = torch.cat(orders)
    snapshot_after = set(torch.linspace(0, n_batches, n_kept + 1).round().to(torch.long).tolist()[1:])
    kernels = [layer.weight.detach().clone().cpu()]
    images_seen = [0]
    wins = torch.zeros(layer.out_channels, dtype=torch.long, device=device)
    adaptation = torch.zeros(layer.out_channels, dtype=layer.weight.dtype, device=device)
    dtype = layer.weight.dtype
    for b in range(n_batches):
        batch = images[order[b * batch_size : (b + 1) * batch_size]].to(device=device, dtype=dtype)
        if encoding == "latency":
            pre = latency_encode(batch, steps_per_image)
        else:
            pre = poisson_encode(batch, steps_per_image, dt, max_rate_hz, generator=spike_generator)
        with torch.no_grad():
            mass = layer.weight.sum(dim=(1, 2, 3))
        thresholds = (threshold + adaptation) * mass
        post = winner_take_all_spikes(layer, pre, thresholds)
        learner.reset()  # presentations are separated by silence: traces start from zero
        if bool(post.any()):
            learner.run(pre, post)
        fired = post.sum(dim=(0, 1, 3, 4))
        wins += fired.to(torch.long)
        adaptation = adaptation * threshold_decay + threshold_increment * fired / batch.shape[0]
        if b + 1 in snapshot_after:
            kernels.append(layer.weight.detach().clone().cpu())
            images_seen.append(min((b + 1) * batch_size, order.numel()))
        if progress is not None:
            progress((b + 1) / n_batches)
    return ConvTrainingResult(
        kernels=torch.stack(kernels),
        images_seen=torch.tensor(images_seen),
        wins=wins.cpu(),
        thresholds=(threshold + adaptation).cpu(),
        layer=layer,
        rule=rule,
    )


def first_spike_winners(
    kernels: torch.Tensor,
    images: torch.Tensor,
    threshold: Union[float, torch.Tensor] = 0.3,
    steps_per_image: int = 15,
) -> torch.Tensor:
    """Which kernel fires first on each image under the latency code: ``(n,)`` channel indices.

    The images are latency-encoded and passed through :func:`winner_take_all_spikes` with
    thresholds ``threshold * (summed kernel weight)`` (a fraction, one for all channels or one
    per channel, e.g. :attr:`ConvTrainingResult.thresholds`). The winner of an image is the
    channel with the earliest spike; a tie in time goes to the higher ratio of potential to
    threshold at the spike.
    -1 where no channel fires. Counting winners shows how the images are shared out among the
    kernels, which the per-channel spike count cannot (every channel may fire on every image).
    """
    kernels = check_tensor("kernels", kernels, "(C_out, C_in, kH, kW)")
    if kernels.dim() != 4:
        raise ValueError(f"kernels must be (C_out, C_in, kH, kW), got {tuple(kernels.shape)}")
    images = check_images_for_kernels(images, kernels)
    steps_per_image = check_count("steps_per_image", steps_per_image, minimum=1)
    check_bytes(f"first_spike_winners over {images.shape[0]} images x {steps_per_image} steps_per_image",
                float(steps_per_image) * images.numel() * 16 + float(steps_per_image) * images.shape[0]
                * kernels.shape[0] * (images.shape[2] - kernels.shape[2] + 1) * (images.shape[3] - kernels.shape[3] + 1) * 32,
                "pass fewer images or a shorter steps_per_image")
    layer = nn.Conv2d(kernels.shape[1], kernels.shape[0], tuple(kernels.shape[2:]), bias=False)
    with torch.no_grad():
        layer.weight.copy_(kernels)
    try:
        fractions = torch.as_tensor(threshold, dtype=kernels.dtype).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"threshold must be a number or a tensor of fractions, got {type(threshold).__name__}") from None
    if fractions.numel() not in (1, kernels.shape[0]):
        raise ValueError(f"threshold must hold one fraction or one per kernel ({kernels.shape[0]}), "
                         f"got {fractions.numel()}")
    if not bool(torch.isfinite(fractions).all()) or bool((fractions <= 0).any()):
        raise ValueError(f"threshold must be finite and > 0 (a fraction of the summed kernel weight), got "
                         f"{fractions.tolist()[:8]}")
    levels = fractions * kernels.sum(dim=(1, 2, 3))
    pre = latency_encode(images.to(kernels.dtype), steps_per_image)
    post = winner_take_all_spikes(layer, pre, levels)
    steps, n, channels = post.shape[:3]
    with torch.no_grad():
        drive = F.conv2d(pre.reshape(steps * n, *pre.shape[2:]), kernels)
        potential = drive.reshape(steps, n, channels, -1).cumsum(dim=0)
    spikes = post.reshape(steps, n, channels, -1)
    fired_at = spikes.amax(dim=3)  # (T, n, C)
    ever = fired_at.amax(dim=0) > 0
    first = torch.where(ever, fired_at.argmax(dim=0), torch.full_like(ever, steps, dtype=torch.long))
    # each channel fires at most once; its potential at the spike over its own threshold
    excess = (potential * spikes).sum(dim=(0, 3)).to(torch.float64) / levels.to(torch.float64).clamp_min(1e-12)
    key = first.to(torch.float64) - 0.5 * excess / (excess.abs().max() + 1.0)
    winner = key.argmin(dim=1)
    return torch.where(ever.any(dim=1), winner, torch.full_like(winner, -1))
