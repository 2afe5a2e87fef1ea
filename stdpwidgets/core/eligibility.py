r"""The eligibility trace of reward-modulated (three-factor) STDP.

Pair-based STDP proposes a weight change at every step; a three-factor rule does not apply it but
lets it accumulate in an eligibility trace :math:`e` (one per synapse, weight units) that decays
with :math:`\tau_e`, and moves the weight only in proportion to a third factor, the reward
:math:`r(t)` (Izhikevich 2007; Frémaux & Gerstner 2016):

.. math::

    e \leftarrow e\, e^{-\Delta t/\tau_e} + \Delta w_{STDP}, \qquad
    w \leftarrow \mathrm{clip}(w + r\, e).

A pre/post pairing at time :math:`t_0` and a reward :math:`r` delivered :math:`d` ms later move
the weight by :math:`r\,\Delta w_{STDP}\, e^{-d/\tau_e}`: the trace bridges the delay.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from .rule import _check_real

__all__ = ["Eligibility", "check_reward", "check_eligibility_tau"]


def check_eligibility_tau(tau: Any) -> Optional[float]:
    """``eligibility_tau`` as a float in ms (> 0, finite), or None (no eligibility trace)."""
    if tau is None:
        return None
    value = _check_real("eligibility_tau", tau)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"eligibility_tau must be a positive, finite time constant in ms, got {tau!r}")
    return value


def check_reward(reward: Any, name: str = "reward") -> float:
    """A step's reward as a float: a real number or a 0-d real tensor, finite.

    A per-sample reward (one value per batch element) would need one eligibility trace per
    sample (batch x weight memory) and is not supported: pass the batch's mean reward, or
    learn with batch 1.
    """
    if isinstance(reward, torch.Tensor) and reward.dim() != 0:
        raise ValueError(
            f"{name} must be a real number or a 0-d tensor, got a {reward.dtype} tensor shaped "
            f"{tuple(reward.shape)}; a per-sample reward would need one eligibility trace per "
            "sample: pass the batch's mean reward (reward.mean()) or learn with batch 1"
        )
    value = _check_real(name, reward)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {reward!r}")
    return value


class Eligibility:
    """One learner's eligibility trace (the tensor is None until the first step).

    Parameters
    ----------
    tau : float
        Decay time constant :math:`\\tau_e` in ms.
    dt : float
        The learner's time step in ms.
    """

    def __init__(self, tau: float, dt: float) -> None:
        self.tau = tau
        self.factor = math.exp(-dt / tau)
        self.trace: Optional[torch.Tensor] = None

    def advanced(self, proposed: torch.Tensor) -> torch.Tensor:
        """The trace after one step that proposed the change ``proposed`` (a new tensor; the
        current one is not changed, so a failed step can leave it as it was)."""
        if self.trace is None:
            return proposed.clone()
        trace = self.trace
        if trace.dtype != proposed.dtype or trace.device != proposed.device:  # the layer moved
            trace = trace.to(device=proposed.device, dtype=proposed.dtype)
        return torch.add(proposed, trace, alpha=self.factor)
