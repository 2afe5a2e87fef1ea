"""STDPRule: the validated, immutable parameters of pair-based trace STDP."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

import torch

from .dependence import WeightDependence, make_dependence

__all__ = ["STDPRule", "PAIRINGS"]

PAIRINGS = ("all-to-all", "nearest")


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


@dataclass(frozen=True)
class STDPRule:
    r"""Parameters of trace-based pair STDP (Morrison, Diesmann & Gerstner 2008).

    With presynaptic trace :math:`x` (time constant ``tau_pre``) and postsynaptic trace
    :math:`y` (``tau_post``), a postsynaptic spike potentiates by
    :math:`F_+(w)\,x` and a presynaptic spike depresses by :math:`F_-(w)\,y`, where
    :math:`F_+(w) = a_+ f_+(w)` and :math:`F_-(w) = a_- f_-(w)`.
    The pair window is :math:`W(\Delta t) = F_+ e^{-\Delta t/\tau_{pre}}` for
    :math:`\Delta t = t_{post} - t_{pre} > 0` and :math:`-F_- e^{\Delta t/\tau_{post}}` for
    :math:`\Delta t < 0`.

    Parameters
    ----------
    tau_pre : float
        Presynaptic trace time constant :math:`\tau_+` in ms (> 0); sets the width of the
        potentiation side of the window.
    tau_post : float
        Postsynaptic trace time constant :math:`\tau_-` in ms (> 0); width of the depression side.
    a_plus : float
        Potentiation amplitude (>= 0), in weight units per pair at zero lag.
    a_minus : float
        Depression amplitude as a positive magnitude (>= 0); depression subtracts it.
    pairing : {"all-to-all", "nearest"}
        ``"all-to-all"``: traces are incremented by each spike, every pre/post pair counts.
        ``"nearest"``: traces are reset to 1 at a spike, so only the nearest preceding spike
        counts (symmetric nearest-neighbour, Morrison et al. 2008 Fig. 7A).
    weight_dependence : str or (callable, callable)
        ``"additive"``: :math:`f_\pm = 1` (hard bounds by clipping).
        ``"multiplicative"``: soft bounds :math:`f_+ = w_{max} - w`, :math:`f_- = w - w_{min}`.
        ``"gutig"``: :math:`f_+ = (w_{max} - w)^\mu`, :math:`f_- = (w - w_{min})^\mu`
        (Gütig et al. 2003; ``mu=0`` is additive, ``mu=1`` multiplicative).
        ``"van-rossum"``: additive potentiation, multiplicative depression (van Rossum et al. 2000).
        A pair ``(f_plus, f_minus)`` of callables taking the weight tensor gives a custom
        dependence; they are multiplied by ``a_plus`` and ``a_minus``.
    w_min, w_max : float
        Weight bounds. Weights are clipped to ``[w_min, w_max]`` after every update, whatever
        the dependence. The soft-bound dependences need finite bounds. Defaults: unbounded.
    mu : float
        Exponent of the ``"gutig"`` dependence (>= 0).

    Examples
    --------
    >>> rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0105,
    ...                 weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
    """

    tau_pre: float
    tau_post: float
    a_plus: float
    a_minus: float
    pairing: str = "all-to-all"
    weight_dependence: Any = "additive"
    w_min: float = -math.inf
    w_max: float = math.inf
    mu: float = 1.0
    dependence: WeightDependence = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("tau_pre", "tau_post", "a_plus", "a_minus", "w_min", "w_max", "mu"):
            object.__setattr__(self, name, _check_real(name, getattr(self, name)))
        for name in ("tau_pre", "tau_post"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive, finite time constant in ms, got {value}")
        for name in ("a_plus", "a_minus"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"{name} must be a finite magnitude >= 0, got {value}"
                    + ("; a_minus is a positive magnitude: depression subtracts it" if name == "a_minus" else "")
                )
        if math.isnan(self.w_min) or math.isnan(self.w_max):
            raise ValueError("w_min and w_max must not be NaN")
        if self.w_min > self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must not exceed w_max ({self.w_max})")
        if not (math.isfinite(self.mu) and self.mu >= 0):
            raise ValueError(f"mu must be a finite exponent >= 0, got {self.mu}")
        if self.pairing not in PAIRINGS:
            raise ValueError(f"unknown pairing {self.pairing!r}; use one of {', '.join(map(repr, PAIRINGS))}")
        if isinstance(self.weight_dependence, list):
            object.__setattr__(self, "weight_dependence", tuple(self.weight_dependence))
        dependence = make_dependence(self.weight_dependence, self.mu)
        if dependence.needs_bounds and not (math.isfinite(self.w_min) and math.isfinite(self.w_max)):
            raise ValueError(
                f"weight_dependence {dependence.name!r} is defined through the bounds; give finite "
                f"w_min and w_max (got w_min={self.w_min}, w_max={self.w_max})"
            )
        object.__setattr__(self, "dependence", dependence)

    @property
    def bounded(self) -> bool:
        """True when at least one of ``w_min``, ``w_max`` is finite (clipping can act)."""
        return math.isfinite(self.w_min) or math.isfinite(self.w_max)

    @property
    def weight_independent(self) -> bool:
        """True when F+ and F- do not depend on w (additive), so updates can be summed."""
        return self.dependence.name == "additive"

    def amplitudes(self, w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(F+(w), F-(w))``: the potentiation and depression factors per weight.

        Parameters
        ----------
        w : Tensor
            Current weights (weight units).

        Returns
        -------
        (Tensor, Tensor)
            ``a_plus * f_plus(w)`` and ``a_minus * f_minus(w)``, broadcastable to ``w``.
        """
        f_plus, f_minus = self.dependence.factors(w, self.w_min, self.w_max)
        return self.a_plus * f_plus, self.a_minus * f_minus

    def clip(self, w: torch.Tensor) -> torch.Tensor:
        """Clip weights to ``[w_min, w_max]`` (a new tensor; identity when unbounded)."""
        if not self.bounded:
            return w
        return w.clamp(self.w_min, self.w_max)

    def to_dict(self) -> Dict[str, Any]:
        """Parameters as a plain dict (callables kept as they are), e.g. for checkpoints."""
        return {
            "tau_pre": self.tau_pre,
            "tau_post": self.tau_post,
            "a_plus": self.a_plus,
            "a_minus": self.a_minus,
            "pairing": self.pairing,
            "weight_dependence": self.weight_dependence,
            "w_min": self.w_min,
            "w_max": self.w_max,
            "mu": self.mu,
        }
