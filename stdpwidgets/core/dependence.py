"""Weight dependence of STDP: the factors F+(w) and F-(w) without their amplitudes.

A rule's potentiation at a postsynaptic spike is ``a_plus * f_plus(w) * x_pre`` and its
depression at a presynaptic spike is ``a_minus * f_minus(w) * y_post`` (Morrison, Diesmann &
Gerstner 2008, eq. 3 with F+(w) = a_plus f_plus(w), F-(w) = a_minus f_minus(w)).
Each dependence here maps a weight tensor to those two dimensionless factors, elementwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch

__all__ = ["WeightDependence", "make_dependence", "DEPENDENCE_NAMES"]

FactorFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class WeightDependence:
    """How the size of an update depends on the current weight.

    Parameters
    ----------
    name : str
        ``"additive"``, ``"multiplicative"``, ``"gutig"``, ``"van-rossum"`` or ``"custom"``.
    mu : float
        Exponent of the Gütig et al. (2003) dependence (0 = additive, 1 = multiplicative);
        unused by the other dependences.
    f_plus, f_minus : callable, optional
        For ``"custom"``: functions of the weight tensor that return the potentiation and
        depression factors (broadcastable to the weight's shape).
    """

    name: str
    mu: float = 1.0
    f_plus: FactorFn | None = None
    f_minus: FactorFn | None = None

    @property
    def needs_bounds(self) -> bool:
        """True when the factors are defined through ``w_min`` and ``w_max``."""
        return self.name in ("multiplicative", "gutig", "van-rossum")

    def factors(self, w: torch.Tensor, w_min: float, w_max: float) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(f_plus(w), f_minus(w))`` for weights ``w``.

        Soft-bound factors are evaluated on distances clamped at zero, so a weight that a
        user set outside ``[w_min, w_max]`` gets no push further out (and ``x**mu`` never
        sees a negative base).
        """
        if self.name == "additive":
            one = torch.ones((), dtype=w.dtype, device=w.device)
            return one, one
        if self.name == "custom":
            return self.f_plus(w), self.f_minus(w)
        room_up = (w_max - w).clamp_min(0.0)
        room_down = (w - w_min).clamp_min(0.0)
        if self.name == "multiplicative":
            return room_up, room_down
        if self.name == "gutig":
            return room_up.pow(self.mu), room_down.pow(self.mu)
        if self.name == "van-rossum":
            return torch.ones((), dtype=w.dtype, device=w.device), room_down
        raise AssertionError(f"unhandled weight dependence {self.name!r}")


DEPENDENCE_NAMES = ("additive", "multiplicative", "gutig", "van-rossum")


def make_dependence(spec, mu: float) -> WeightDependence:
    """Turn a rule's ``weight_dependence`` argument into a :class:`WeightDependence`.

    Parameters
    ----------
    spec : str or (callable, callable)
        One of :data:`DEPENDENCE_NAMES`, or a pair ``(f_plus, f_minus)`` of callables.
    mu : float
        Exponent for ``"gutig"``.

    Raises
    ------
    ValueError
        For an unknown name or a pair that is not two callables.
    """
    if isinstance(spec, str):
        if spec not in DEPENDENCE_NAMES:
            raise ValueError(
                f"unknown weight_dependence {spec!r}; use one of {', '.join(map(repr, DEPENDENCE_NAMES))} "
                "or a pair of callables (f_plus, f_minus)"
            )
        return WeightDependence(spec, mu=mu)
    if isinstance(spec, WeightDependence):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(callable(f) for f in spec):
        return WeightDependence("custom", mu=mu, f_plus=spec[0], f_minus=spec[1])
    raise ValueError(
        f"weight_dependence must be a name ({', '.join(map(repr, DEPENDENCE_NAMES))}) or a pair "
        f"of callables (f_plus, f_minus) mapping a weight tensor to factors; got {spec!r}"
    )
