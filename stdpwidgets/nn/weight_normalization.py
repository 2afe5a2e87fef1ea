"""Keeping each neuron's incoming weights at a constant sum (Diehl & Cook 2015)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import _checks

__all__ = ["normalize_incoming_", "WeightNormalization"]


def _check_total(total: Any) -> float:
    total = _checks.real("total", total)
    if total <= 0:
        raise ValueError(f"total must be > 0 (the sum of each neuron's incoming weights), got {total:g}")
    return total


def normalize_incoming_(weight: torch.Tensor, total: float) -> torch.Tensor:
    """Rescale, in place, each output neuron's incoming weights to sum to ``total``.

    The incoming weights of output neuron ``j`` are ``weight[j]``: a row of an ``nn.Linear``
    weight ``(out, in)``, one output channel ``(in/groups, *kernel)`` of an ``nn.ConvNd``
    weight. Each is multiplied by ``total / weight[j].sum()``, so the relative weights (what
    STDP learned) are kept and only their scale changes. A row that sums to exactly 0 is left
    as it is (there is nothing to rescale). Meant for non-negative (excitatory) weights: a row
    with a negative sum would flip sign, so it is refused.

    Parameters
    ----------
    weight : Tensor
        Floating-point weight with the output neurons on axis 0 (a Parameter is fine; the
        change is made without autograd).
    total : float
        The sum each row gets (> 0), in weight units.

    Returns
    -------
    Tensor
        ``weight`` itself.

    Raises
    ------
    TypeError, ValueError
        For a non-tensor, non-float or 0-d weight, a total <= 0 or not finite, or rows with a
        negative or non-finite sum (the weight is then left untouched).
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor with output neurons on axis 0, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must be floating point, got {weight.dtype}")
    if weight.dim() < 1:
        raise ValueError("weight must have an output axis 0; got a 0-d tensor")
    total = _check_total(total)
    with torch.no_grad():
        rows = weight.reshape(weight.shape[0], -1)
        sums = rows.sum(dim=1)
        if not bool(torch.isfinite(sums).all()):
            raise ValueError("weight has rows whose sum is NaN or inf; cannot normalise them")
        if bool((sums < 0).any()):
            bad = torch.nonzero(sums < 0).flatten()[:5].tolist()
            raise ValueError(
                f"weight rows {bad} sum to a negative value; normalising would flip their sign "
                "(normalise non-negative weights, e.g. bound them with w_min = 0)"
            )
        scale = torch.where(sums == 0, torch.ones_like(sums), total / torch.where(sums == 0, torch.ones_like(sums), sums))
        weight.mul_(scale.reshape(-1, *([1] * (weight.dim() - 1))))
    return weight


class WeightNormalization:
    """Keeps a layer's incoming weights per output neuron at a constant sum: call it after
    each learning step.

    A plain helper, not an ``nn.Module`` (so the layer's parameters are not registered twice
    when both sit in one model). ``norm()`` applies :func:`normalize_incoming_` to
    ``layer.weight`` (rows of an ``nn.Linear``, output channels of an ``nn.ConvNd``) and
    returns the weight.

    Parameters
    ----------
    layer : nn.Module
        An ``nn.Linear``, ``nn.Conv1d/2d/3d`` or any module with a floating-point ``weight``
        whose axis 0 are the output neurons (transposed convolutions are refused: their
        output channels lie on axis 1).
    total : float
        The sum of each neuron's incoming weights (> 0). Diehl & Cook use 78 for 784 inputs
        (a mean of 0.1 per synapse).

    Examples
    --------
    >>> layer = torch.nn.Linear(64, 10, bias=False)
    >>> norm = WeightNormalization(layer, total=6.4)
    >>> _ = norm()    # layer.weight.sum(1) is now 6.4 for every row
    """

    def __init__(self, layer: nn.Module, total: float) -> None:
        if not isinstance(layer, nn.Module):
            raise TypeError(f"layer must be an nn.Module such as nn.Linear, got {type(layer).__name__}")
        if isinstance(layer, nn.modules.conv._ConvTransposeNd):
            raise TypeError("layer is a transposed convolution (output channels on axis 1); normalise weight.transpose(0, 1) yourself")
        weight = getattr(layer, "weight", None)
        if not isinstance(weight, torch.Tensor) or isinstance(weight, nn.parameter.UninitializedParameter):
            raise TypeError(f"layer must have an initialised tensor weight, {type(layer).__name__} has none")
        if not weight.is_floating_point():
            raise TypeError(f"layer.weight must be floating point, got {weight.dtype}")
        self.layer = layer
        self.total = _check_total(total)

    def __repr__(self) -> str:
        return f"WeightNormalization({type(self.layer).__name__}, total={self.total:g})"

    def __call__(self) -> torch.Tensor:
        return normalize_incoming_(self.layer.weight, self.total)
