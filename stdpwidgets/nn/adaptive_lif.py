"""A leaky integrate-and-fire population whose thresholds adapt to its own spikes."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Tuple

import torch
from torch import nn

from . import _checks

__all__ = ["AdaptiveLIF"]

# (candidate spikes, margin above threshold) -> the spikes that happen; see AdaptiveLIF.forward
Competition = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class AdaptiveLIF(nn.Module):
    r"""Leaky integrate-and-fire neurons with an adaptive threshold (Diehl & Cook 2015).

    Units: time in ms (``tau_mem``, ``refractory``, ``tau_theta``, ``dt``), potentials in mV
    (``v_*``, ``theta_plus``, the inputs). Each call of :meth:`forward` advances ``dt`` ms:

    1. while adapting, the threshold offsets decay exactly, ``theta <- theta * exp(-dt/tau_theta)``;
    2. neurons outside their refractory period integrate exactly over the step, the input
       ``current`` (the steady-state depolarisation ``R I`` in mV, held constant during the
       step) being solved in closed form::

           v <- v_inf + (v - v_inf) * exp(-dt / tau_mem),   v_inf = v_rest + current

       and then ``jump`` (mV, instantaneous: delta synapses, e.g. ``W @ spikes``) is added;
       refractory neurons stay at ``v_reset`` and ignore their input;
    3. neurons with ``v >= v_threshold + theta`` are the spike candidates; ``competition``
       (optional, e.g. :class:`~stdpwidgets.nn.KWinnersTakeAll`) decides which of them spike;
    4. spiking neurons reset to ``v_reset`` and are refractory for the next
       ``ceil(refractory / dt)`` steps; while adapting, ``theta += theta_plus * (spikes summed
       over the batch)``.

    A neuron held by a constant ``current`` above threshold therefore fires every
    ``ceil(refractory/dt) + ceil(t*/dt)`` steps, ``t* = tau_mem * ln((v_inf - v_reset) /
    (v_inf - v_threshold - theta))`` (the tests check this).

    State: ``v`` (mV) and ``refractory_left`` (steps) per sample, shaped ``(batch, *shape)``
    and sized by the first call after :meth:`reset_state` (non-persistent buffers: they are
    not in the ``state_dict``); ``theta`` (mV) per neuron, shaped ``shape``, shared by the
    batch, persistent (it is what the population has learned). All buffers follow ``.to()``.

    Adaptation (steps 1 and 4) runs only when ``self.training and self.adapt``: ``eval()``
    freezes ``theta``, as Diehl & Cook do while labelling and testing.

    Parameters
    ----------
    shape : int or tuple of int
        Number of neurons, or the population's shape without the batch axis (e.g. a conv
        layer's ``(channels, height, width)``).
    tau_mem : float
        Membrane time constant, ms (> 0). Diehl & Cook: 100 ms.
    v_rest, v_reset, v_threshold : float
        Resting, reset and (base) threshold potentials, mV; ``v_threshold > v_reset``.
    refractory : float
        Absolute refractory period, ms (>= 0); rounded up to whole steps.
    theta_plus : float
        Threshold increase per spike, mV (>= 0; 0 disables adaptation).
    tau_theta : float
        Decay time constant of the threshold offsets, ms (> 0; ``math.inf`` for none).
    dt : float
        Time step, ms (> 0).
    adapt : bool
        Let ``theta`` adapt in training mode (see above).
    device, dtype
        Of the buffers (default: torch's defaults).

    Examples
    --------
    >>> layer = torch.nn.Linear(64, 10, bias=False)
    >>> neurons = AdaptiveLIF(10, theta_plus=0.05, tau_theta=1e7)
    >>> spikes = neurons(jump=layer(torch.rand(4, 64)))   # (4, 10) float 0/1
    """

    theta: torch.Tensor
    v: torch.Tensor
    refractory_left: torch.Tensor

    def __init__(
        self,
        shape: Any,
        tau_mem: float = 100.0,
        v_rest: float = -65.0,
        v_reset: float = -65.0,
        v_threshold: float = -52.0,
        refractory: float = 5.0,
        theta_plus: float = 0.05,
        tau_theta: float = 1e7,
        dt: float = 1.0,
        *,
        adapt: bool = True,
        device: Any = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        self.shape: Tuple[int, ...] = _checks.population_shape("shape", shape)
        self.tau_mem = _checks.real("tau_mem", tau_mem, unit="ms", low=0.0, strict=True)
        self.v_rest = _checks.real("v_rest", v_rest, unit="mV")
        self.v_reset = _checks.real("v_reset", v_reset, unit="mV")
        self.v_threshold = _checks.real("v_threshold", v_threshold, unit="mV")
        if self.v_threshold <= self.v_reset:
            raise ValueError(
                f"v_threshold ({self.v_threshold:g} mV) must lie above v_reset ({self.v_reset:g} mV), "
                "or a reset neuron would fire again at once"
            )
        self.refractory = _checks.real("refractory", refractory, unit="ms", low=0.0)
        self.theta_plus = _checks.real("theta_plus", theta_plus, unit="mV", low=0.0)
        if isinstance(tau_theta, float) and tau_theta == math.inf:
            self.tau_theta = math.inf
        else:
            self.tau_theta = _checks.real("tau_theta", tau_theta, unit="ms (or math.inf)", low=0.0, strict=True)
        self.dt = _checks.real("dt", dt, unit="ms", low=0.0, strict=True)
        self.adapt = _checks.flag("adapt", adapt)
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {dtype!r}")
        # exact decay factors of one step
        self.membrane_decay = math.exp(-self.dt / self.tau_mem)
        self.theta_decay = math.exp(-self.dt / self.tau_theta)
        # a spike is followed by this many steps at v_reset (1e-9: 5 ms / 1 ms is 5 steps, not 6)
        self.refractory_steps = math.ceil(self.refractory / self.dt - 1e-9)
        self.register_buffer("theta", torch.zeros(self.shape, device=device, dtype=dtype))
        self.register_buffer("v", torch.zeros(0, device=device, dtype=dtype), persistent=False)
        self.register_buffer(
            "refractory_left", torch.zeros(0, device=device, dtype=torch.int32), persistent=False
        )

    def extra_repr(self) -> str:
        return (
            f"shape={self.shape}, tau_mem={self.tau_mem:g} ms, v_threshold={self.v_threshold:g} mV, "
            f"theta_plus={self.theta_plus:g} mV, tau_theta={self.tau_theta:g} ms, dt={self.dt:g} ms"
        )

    @property
    def adapting(self) -> bool:
        """Whether the next step adapts ``theta`` (``self.training and self.adapt``)."""
        return self.training and self.adapt

    def reset_state(self) -> None:
        """Forget ``v`` and the refractory counters (the next call starts at ``v_rest``);
        ``theta`` is kept (see :meth:`reset_theta`)."""
        self.v = self.v.new_zeros(0)
        self.refractory_left = self.refractory_left.new_zeros(0)

    def reset_theta(self) -> None:
        """Set every threshold offset back to 0 mV."""
        self.theta.zero_()

    def _check_input(self, name: str, value: Any) -> Optional[torch.Tensor]:
        if value is None:
            return None
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor shaped (batch, *{self.shape}) in mV, got {type(value).__name__}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be floating point (mV), got {value.dtype}; convert with .float()")
        if value.dim() != len(self.shape) + 1 or tuple(value.shape[1:]) != self.shape:
            raise ValueError(f"{name} must be shaped (batch, *{self.shape}), got {tuple(value.shape)}")
        if value.device != self.theta.device:
            raise ValueError(f"{name} is on {value.device} but the neurons are on {self.theta.device}; move one of them")
        if not math.isfinite(float(value.detach().sum())):
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} holds NaN or inf; the membrane potential would become NaN")
        return value

    def forward(
        self,
        current: Optional[torch.Tensor] = None,
        jump: Optional[torch.Tensor] = None,
        *,
        competition: Optional[Competition] = None,
    ) -> torch.Tensor:
        """Advance one step of ``dt`` ms (see the class docstring for the order of events).

        Parameters
        ----------
        current : Tensor, optional
            Steady-state depolarisation ``R I`` held over the step, mV, ``(batch, *shape)``.
        jump : Tensor, optional
            Instantaneous voltage change this step, mV, ``(batch, *shape)`` (delta synapses).
            At least one of ``current`` and ``jump`` is needed.
        competition : callable, optional
            ``competition(candidates, margin) -> spikes``: given the bool candidates and their
            margin ``v - v_threshold - theta`` (mV), return the bool spikes that happen (a
            subset). Vetoed candidates keep their potential (and fire later unless inhibited).

        Returns
        -------
        Tensor
            Spikes of this step, ``(batch, *shape)``, 0.0 or 1.0 in the buffers' dtype. Not
            differentiable (it runs under ``torch.no_grad()``: STDP needs no gradient).
        """
        with torch.no_grad():  # spikes have no gradient; the state must not hold a graph
            return self._step(current, jump, competition)

    def _step(self, current, jump, competition) -> torch.Tensor:
        current = self._check_input("current", current)
        jump = self._check_input("jump", jump)
        if current is None and jump is None:
            raise ValueError("give current or jump (mV, shaped (batch, *shape)); both were None")
        drive = current if current is not None else jump
        batch_shape = (drive.shape[0], *self.shape)
        if current is not None and jump is not None and jump.shape != current.shape:
            raise ValueError(f"current {tuple(current.shape)} and jump {tuple(jump.shape)} must have the same shape")
        if self.v.numel() == 0:
            self.v = torch.full(batch_shape, self.v_rest, device=self.theta.device, dtype=self.theta.dtype)
            self.refractory_left = torch.zeros(batch_shape, device=self.theta.device, dtype=torch.int32)
        elif tuple(self.v.shape) != batch_shape:
            raise ValueError(
                f"the state holds a batch of {self.v.shape[0]} but the input has {drive.shape[0]}; "
                "call reset_state() before changing the batch size"
            )
        adapting = self.adapting
        # everything is computed before any buffer changes, so a failing competition leaves the state
        theta = self.theta * self.theta_decay if adapting and self.theta_decay != 1.0 else self.theta
        v_inf = self.v_rest if current is None else current + self.v_rest
        v = v_inf + (self.v - v_inf) * self.membrane_decay
        if jump is not None:
            v = v + jump
        refractory = self.refractory_left > 0
        v = torch.where(refractory, self.v_reset, v)
        margin = v - (self.v_threshold + theta)
        spiking = margin >= 0
        if competition is not None:
            chosen = competition(spiking, margin)
            if not isinstance(chosen, torch.Tensor) or chosen.shape != spiking.shape or chosen.dtype != torch.bool:
                raise TypeError(
                    f"competition must return a bool tensor shaped {tuple(spiking.shape)}, got "
                    f"{type(chosen).__name__}{'' if not isinstance(chosen, torch.Tensor) else ' ' + str(chosen.dtype) + ' ' + str(tuple(chosen.shape))}"
                )
            spiking = chosen & spiking
        self.v = torch.where(spiking, self.v_reset, v)
        left = (self.refractory_left - 1).clamp_(min=0)
        self.refractory_left = torch.where(spiking, self.refractory_steps, left)
        spikes = spiking.to(self.theta.dtype)
        if adapting and self.theta_plus != 0.0:
            theta = theta + self.theta_plus * spikes.sum(0)
        if theta is not self.theta:
            self.theta.copy_(theta)
        return spikes
