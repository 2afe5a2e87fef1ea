"""Competition between the neurons of a population: k-winners-take-all and lateral inhibition."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from . import _checks

__all__ = ["KWinnersTakeAll", "LateralInhibition"]


def _neuron_axis_last(x: torch.Tensor, dim: Optional[int]) -> torch.Tensor:
    """``x`` (batch, ...) viewed with the competing neurons on the last axis."""
    if dim is None:
        return x.reshape(x.shape[0], -1)
    return x.movedim(dim, -1)


def _restore(y: torch.Tensor, like: torch.Tensor, dim: Optional[int]) -> torch.Tensor:
    """Undo :func:`_neuron_axis_last`."""
    if dim is None:
        return y.reshape(like.shape)
    return y.movedim(-1, dim)


def _check_population(name: str, x: Any, dim: Optional[int]) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor shaped (batch, ...), got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"{name} must be batch-first with at least 2 axes (batch, neurons), got shape {tuple(x.shape)}")
    if dim is not None and not -x.dim() < dim < x.dim():
        raise ValueError(f"dim = {dim} is outside {name}'s {x.dim()} axes (0 is the batch axis)")
    return x


class KWinnersTakeAll(nn.Module):
    """Keep, in each sample, only the ``k`` spikes with the largest score.

    Call it as ``kwta(spikes, score)``: among the neurons that spike (``spikes`` nonzero), the
    ``k`` with the largest ``score`` (e.g. the membrane potential above threshold, or the
    drive) keep their spike, the others lose it; ties go to the lower index along the
    competing axis, so the result is deterministic. Fewer than ``k`` spikes pass unchanged.
    Stateless. It can be passed to :class:`~stdpwidgets.nn.AdaptiveLIF` as ``competition``.

    Parameters
    ----------
    k : int
        Winners per sample (>= 1).
    dim : int or None
        The axis along which neurons compete (not 0, the batch axis), or None for all
        non-batch axes together. For a conv population ``(batch, C, H, W)``, ``dim=1`` makes
        the feature maps compete at each position.

    Returns
    -------
    Tensor
        Spikes shaped and typed like ``spikes`` (bool in, bool out; float in, float out),
        with at most ``k`` nonzero entries per competing group.
    """

    def __init__(self, k: int = 1, dim: Optional[int] = -1) -> None:
        super().__init__()
        self.k = _checks.count("k", k, minimum=1)
        self.dim = _checks.population_dim("dim", dim)

    def extra_repr(self) -> str:
        return f"k={self.k}, dim={self.dim}"

    def forward(self, spikes: torch.Tensor, score: Optional[torch.Tensor] = None) -> torch.Tensor:
        spikes = _check_population("spikes", spikes, self.dim)
        if score is None:
            score = torch.zeros(spikes.shape, device=spikes.device)
        elif not isinstance(score, torch.Tensor) or score.shape != spikes.shape:
            got = tuple(score.shape) if isinstance(score, torch.Tensor) else type(score).__name__
            raise ValueError(f"score must be a tensor shaped like spikes {tuple(spikes.shape)}, got {got}")
        elif score.is_floating_point() and bool(torch.isnan(score).any()):
            raise ValueError("score holds NaN; the winners would be arbitrary")
        active = _neuron_axis_last(spikes != 0, self.dim)
        ranked = _neuron_axis_last(score, self.dim).to(torch.float64 if score.dtype == torch.float64 else torch.float32)
        ranked = torch.where(active, ranked, torch.full_like(ranked, -torch.inf))
        keep = torch.zeros_like(active)
        if self.k == 1:
            # argmax returns the first maximal index: ties go to the lower index
            keep.scatter_(-1, ranked.argmax(-1, keepdim=True), True)
        else:
            k = min(self.k, ranked.shape[-1])
            order = torch.sort(ranked, dim=-1, descending=True, stable=True).indices[..., :k]
            keep.scatter_(-1, order, True)
        winners = _restore(keep & active, spikes, self.dim)
        return winners if spikes.dtype == torch.bool else spikes * winners.to(spikes.dtype)


class LateralInhibition(nn.Module):
    """Inhibition from the other neurons' spikes: ``drive - strength * (spikes of the others)``.

    Call it as ``inhibit(drive, spikes)`` with the population's drive for the next step and the
    spikes of the last one: each neuron loses ``strength`` times the number of spikes of the
    *other* neurons of its sample (along ``dim``) — the effect of Diehl & Cook's inhibitory
    population, whose every neuron is driven by one excitatory neuron and inhibits all the
    others, with the inhibitory delay folded into one time step. Stateless.

    Parameters
    ----------
    strength : float
        Inhibition per spike, in the drive's units (e.g. mV for a voltage jump; >= 0).
    dim : int or None
        The competing axis (not 0), or None for all non-batch axes.

    Returns
    -------
    Tensor
        The inhibited drive, shaped like ``drive``.
    """

    def __init__(self, strength: float, dim: Optional[int] = -1) -> None:
        super().__init__()
        self.strength = _checks.real("strength", strength, low=0.0)
        self.dim = _checks.population_dim("dim", dim)

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}, dim={self.dim}"

    def forward(self, drive: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
        drive = _check_population("drive", drive, self.dim)
        spikes = _check_population("spikes", spikes, self.dim)
        if spikes.shape != drive.shape:
            raise ValueError(f"spikes {tuple(spikes.shape)} must be shaped like drive {tuple(drive.shape)}")
        s = spikes.to(drive.dtype)
        dims = tuple(range(1, s.dim())) if self.dim is None else (self.dim,)
        others = s.sum(dim=dims, keepdim=True) - s
        return drive - self.strength * others
