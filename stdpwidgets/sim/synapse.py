"""One synapse driven by given pre and post spike trains, recorded step by step."""

from __future__ import annotations

import torch
from torch import nn

from ..core import Rule, STDPHistory, STDPLearner
from ._budget import check_bytes
from ._checks import check_finite, check_tensor

__all__ = ["simulate_synapse"]


def simulate_synapse(
    rule: Rule, pre: torch.Tensor, post: torch.Tensor, w0: float, dt: float = 1.0, **learner_kwargs
) -> STDPHistory:
    """Run :class:`~stdpwidgets.core.STDPLearner` on one synapse (a 1x1 ``nn.Linear``) and record it.

    Parameters
    ----------
    rule : Rule (STDPRule, TripletRule, ...)
        The plasticity rule.
    pre, post : Tensor
        Spike trains shaped ``(T,)`` (bool or floating point); the synapse computes in their
        dtype (float32 for bool) and on their device.
    w0 : float
        Initial weight (weight units).
    dt : float
        Time step, ms.
    **learner_kwargs
        Passed to :class:`STDPLearner` (``decay``, ``traces_first``, ...).

    Returns
    -------
    STDPHistory
        Weight and traces after every step, each shaped ``(T, 1, 1)``.
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    pre = check_tensor("pre", pre, "(T,)")
    post = check_tensor("post", post, "(T,)")
    w0 = check_finite("w0", w0)
    if pre.dim() != 1 or post.shape != pre.shape:
        raise ValueError(f"pre and post must be 1-D trains of equal length, got {tuple(pre.shape)} and {tuple(post.shape)}")
    dtype = pre.dtype if pre.dtype.is_floating_point else torch.float32  # not the global default dtype
    # the recorded history: weight and one trace per rule trace (two or more), each (T, 1, 1)
    check_bytes(f"simulate_synapse's history of {pre.shape[0]} steps", pre.shape[0] * 6.0 * dtype.itemsize,
                "record fewer steps (the history keeps every step)")
    layer = nn.Linear(1, 1, bias=False).to(device=pre.device, dtype=dtype)
    with torch.no_grad():
        layer.weight.fill_(w0)
    steps = pre.shape[0]
    return STDPLearner(layer, rule, dt=dt, **learner_kwargs).run(
        pre.reshape(steps, 1, 1), post.reshape(steps, 1, 1), record=True
    )
