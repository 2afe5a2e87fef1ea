r"""Conductance-based leaky integrate-and-fire neuron (Song, Miller & Abbott 2000).

.. math::

    \tau_m \frac{dv}{dt} = g_e (E_e - v) + E_l - v, \qquad \tau_e \frac{dg_e}{dt} = -g_e,

with :math:`g_e` the excitatory conductance in units of the leak conductance (dimensionless);
an input spike through a synapse of weight :math:`w` adds :math:`w` to :math:`g_e`. When
:math:`v \ge v_t` the neuron spikes and :math:`v` is set to :math:`v_r`. Defaults are the
parameters of Brian2's example of Song et al. (2000): ms and mV throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import torch

from ._budget import check_steps
from ._checks import check_positive, check_real

__all__ = ["ConductanceLIF", "LIFRun"]


class LIFRun(NamedTuple):
    """What :meth:`ConductanceLIF.simulate` returns; every tensor is ``(T, *shape)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential after each step (after a reset), mV.
    g : Tensor
        Excitatory conductance after each step (input of the step included), leak units.
    spikes : Tensor
        1.0 where the neuron spiked in that step, else 0.0.
    """

    v: torch.Tensor
    g: torch.Tensor
    spikes: torch.Tensor


@dataclass(frozen=True)
class ConductanceLIF:
    r"""Leaky integrate-and-fire neuron with one decaying excitatory conductance.

    Parameters
    ----------
    tau_m : float
        Membrane time constant, ms (default 10).
    e_exc : float
        Excitatory reversal potential :math:`E_e`, mV (default 0).
    e_leak : float
        Leak reversal (resting) potential :math:`E_l`, mV (default -74).
    v_threshold : float
        Spike threshold :math:`v_t`, mV (default -54).
    v_reset : float
        Reset potential :math:`v_r`, mV (default -60).
    tau_exc : float
        Decay time constant of the conductance, ms (default 5).

    Notes
    -----
    Step ``i`` of :meth:`simulate` ends at time ``i * dt`` (the spike-train convention of
    :mod:`stdpwidgets.sim`), so the initial state ``(v0, g0)`` is the state at time ``-dt``.
    Within a step (the order Brian2 uses): ``v`` moves exactly for the conductance held at its
    value at the start of the step (exponential Euler, exact for constant conductance), then
    the conductance decays by ``exp(-dt/tau_exc)``, then ``v >= v_threshold`` fires and resets,
    then the step's input is added to the conductance (so it acts from the next step). A spike
    is therefore recorded at the end of the step in which ``v`` crossed threshold. No
    refractory period.
    """

    tau_m: float = 10.0
    e_exc: float = 0.0
    e_leak: float = -74.0
    v_threshold: float = -54.0
    v_reset: float = -60.0
    tau_exc: float = 5.0

    def __post_init__(self) -> None:
        for name in ("tau_m", "tau_exc"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name), "ms"))
        for name in ("e_exc", "e_leak", "v_threshold", "v_reset"):
            value = check_real(name, getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite (mV), got {value}")
            object.__setattr__(self, name, value)
        if not self.v_reset < self.v_threshold:
            raise ValueError(
                f"v_reset ({self.v_reset} mV) must lie below v_threshold ({self.v_threshold} mV)"
            )
        if not self.e_exc > self.v_threshold:
            raise ValueError(
                f"e_exc ({self.e_exc} mV) must lie above v_threshold ({self.v_threshold} mV), "
                "or excitation could never make the neuron fire"
            )

    # ------------------------------------------------------------------ closed forms

    def steady_state(self, g: Union[float, torch.Tensor]) -> Union[float, torch.Tensor]:
        r"""Membrane potential that a constant conductance ``g`` holds: :math:`(g E_e + E_l)/(1 + g)`, mV."""
        return (g * self.e_exc + self.e_leak) / (1 + g)

    def time_to_threshold(self, g: float, v0: Optional[float] = None) -> float:
        r"""Time (ms) for ``v`` to climb from ``v0`` (default ``v_reset``) to threshold under constant ``g``.

        :math:`t = \frac{\tau_m}{1+g}\ln\frac{v_0 - v_\infty}{v_t - v_\infty}`; ``inf`` when
        :math:`v_\infty \le v_t` (the neuron never fires), 0 when ``v0`` is already at threshold.
        """
        g = check_positive("g", g, allow_zero=True)
        v0 = self.v_reset if v0 is None else check_real("v0", v0)
        if v0 >= self.v_threshold:
            return 0.0
        v_inf = self.steady_state(g)
        if v_inf <= self.v_threshold:
            return math.inf
        return self.tau_m / (1 + g) * math.log((v0 - v_inf) / (self.v_threshold - v_inf))

    # ------------------------------------------------------------------ simulation

    def simulate(
        self,
        g_input: torch.Tensor,
        dt: float = 0.1,
        *,
        g_tonic: Union[float, torch.Tensor] = 0.0,
        v0: Union[None, float, torch.Tensor] = None,
        g0: Union[float, torch.Tensor] = 0.0,
    ) -> LIFRun:
        """Integrate ``T`` steps for a population of independent neurons.

        Parameters
        ----------
        g_input : Tensor
            Conductance added in each step, ``(T, *shape)`` (leak units; e.g. ``pre @ w`` for
            presynaptic spikes ``pre`` and weights ``w``). Floating point, >= 0.
        dt : float
            Time step, ms.
        g_tonic : float or Tensor
            Constant conductance on top of the decaying one (broadcast to ``shape``), >= 0.
        v0 : float or Tensor, optional
            Membrane potential one step before the first (time ``-dt``), mV (default
            ``e_leak``); ``v[-1]`` of a previous run continues it.
        g0 : float or Tensor
            Decaying conductance one step before the first (e.g. ``g[-1]`` of a previous run).

        Returns
        -------
        LIFRun
            ``v``, ``g`` and ``spikes``, each ``(T, *shape)`` in ``g_input``'s dtype.
        """
        if not isinstance(g_input, torch.Tensor):
            raise TypeError(f"g_input must be a torch.Tensor (T, *shape), got {type(g_input).__name__}")
        if g_input.dim() < 1:
            raise ValueError("g_input needs a leading time axis (T, *shape)")
        if not g_input.is_floating_point():
            raise TypeError(f"g_input must be floating point, got {g_input.dtype}")
        if g_input.numel() and (not bool(torch.isfinite(g_input).all()) or bool((g_input < 0).any())):
            raise ValueError("g_input must be finite and >= 0 (excitatory conductance increments)")
        dt = check_positive("dt", dt, "ms")
        steps, shape = g_input.shape[0], g_input.shape[1:]
        check_steps(f"ConductanceLIF.simulate over g_input of {steps} steps", float(steps),
                    "simulate in blocks of fewer steps (each step is a Python-level update)")
        dtype, device = g_input.dtype, g_input.device
        def as_state(x, default, name):
            try:
                value = torch.as_tensor(default if x is None else x, dtype=dtype, device=device)
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"{name} must be a number or a tensor, got {type(x).__name__}") from None
            try:
                return torch.broadcast_to(value, shape).clone()
            except RuntimeError:
                raise ValueError(f"{name} of shape {tuple(value.shape)} does not broadcast to {tuple(shape)}") from None

        tonic = as_state(g_tonic, 0.0, "g_tonic")
        if bool((tonic < 0).any()) or not bool(torch.isfinite(tonic).all()):
            raise ValueError("g_tonic must be finite and >= 0")
        v = as_state(v0, self.e_leak, "v0")
        if not bool(torch.isfinite(v).all()):
            raise ValueError("v0 must be finite (mV), e.g. v[-1] of a previous run or e_leak")
        g = as_state(g0, 0.0, "g0")
        if bool((g < 0).any()) or not bool(torch.isfinite(g).all()):
            raise ValueError("g0 must be finite and >= 0 (leak units), e.g. g[-1] of a previous run")
        if int(math.prod(shape)) == 1 and device.type == "cpu":
            return self._simulate_one(g_input, dt, float(tonic.reshape(())), float(v.reshape(())), float(g.reshape(())))
        g_decay = math.exp(-dt / self.tau_exc)
        out_v = torch.empty_like(g_input)
        out_g = torch.empty_like(g_input)
        out_s = torch.empty_like(g_input)
        for i in range(steps):
            total = g + tonic
            v_inf = (total * self.e_exc + self.e_leak) / (1 + total)
            v = v_inf + (v - v_inf) * torch.exp(-(dt / self.tau_m) * (1 + total))
            g = g * g_decay
            fired = v >= self.v_threshold
            v = torch.where(fired, torch.full_like(v, self.v_reset), v)
            g = g + g_input[i]
            out_v[i], out_g[i], out_s[i] = v, g, fired
        return LIFRun(out_v, out_g, out_s)

    def _simulate_one(self, g_input: torch.Tensor, dt: float, tonic: float, v: float, g: float) -> LIFRun:
        """The same update for a single neuron in Python floats (a scalar torch op costs ~100x more)."""
        g_decay = math.exp(-dt / self.tau_exc)
        rate = dt / self.tau_m
        e_exc, e_leak, v_t, v_r = self.e_exc, self.e_leak, self.v_threshold, self.v_reset
        inputs = g_input.reshape(-1).tolist()
        vs, gs, spikes = [], [], []
        exp = math.exp
        for increment in inputs:
            total = g + tonic
            v_inf = (total * e_exc + e_leak) / (1 + total)
            v = v_inf + (v - v_inf) * exp(-rate * (1 + total))
            g = g * g_decay
            fired = v >= v_t
            if fired:
                v = v_r
            g = g + increment
            vs.append(v)
            gs.append(g)
            spikes.append(1.0 if fired else 0.0)
        make = lambda values: torch.tensor(values, dtype=g_input.dtype).reshape(g_input.shape)  # noqa: E731
        return LIFRun(make(vs), make(gs), make(spikes))
