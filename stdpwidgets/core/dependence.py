"""Weight dependence of STDP: the factors F+(w) and F-(w) without their amplitudes.

A rule's potentiation at a postsynaptic spike is ``a_plus * f_plus(w) * x_pre`` and its
depression at a presynaptic spike is ``a_minus * f_minus(w) * y_post`` (Morrison, Diesmann &
Gerstner 2008, eq. 3 with F+(w) = a_plus f_plus(w), F-(w) = a_minus f_minus(w)).
Each dependence here maps a weight tensor to those two dimensionless factors, elementwise.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Callable, Optional, Tuple

import torch

__all__ = ["WeightDependence", "make_dependence", "DEPENDENCE_NAMES", "power_law"]

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


    def folds_into_correlations(self, w_min: float) -> bool:
        """Whether, for weights within the bounds, the change is
        ``a+ w_max P - w * (a+ P + a- D)``: multiplicative with ``w_min = 0``, where
        ``f_plus = w_max - w`` and ``f_minus = w``. Then ``a+ P + a- D`` comes out of the
        second correlation itself (a GEMM adds ``beta`` times the first one as it writes), and
        the update is two elementwise passes instead of four."""
        return self.name == "multiplicative" and w_min == 0.0

    def factor_bounds(self, w_min: float, w_max: float) -> Optional[Tuple[float, float]]:
        """Upper bounds on ``(|f_plus(w)|, |f_minus(w)|)`` over weights in ``[w_min, w_max]``
        (dimensionless), or None when they cannot be known (a custom dependence, or a soft bound
        with an infinite limit)."""
        if self.name == "additive":
            return 1.0, 1.0
        if self.name == "custom":
            return None
        span = w_max - w_min
        if not math.isfinite(span):
            return None
        room = span**self.mu if self.name == "gutig" else span
        return (1.0 if self.name == "van-rossum" else room), room

    def scale_in_place(self, w: torch.Tensor, w_min: float, w_max: float, potentiation: torch.Tensor,
                       depression: torch.Tensor, scratch: torch.Tensor) -> bool:
        """Multiply ``potentiation`` by ``f_plus(w)`` and ``depression`` by ``f_minus(w)`` in
        place, the factors evaluated in ``scratch`` (weight-shaped, overwritten): no new
        weight-sized tensors. Returns False (nothing done) for a custom dependence."""
        if self.name == "custom":
            return False
        if self.name in ("multiplicative", "gutig"):
            potentiation.mul_(self._room_up_into(w, w_max, scratch))
        if self.name != "additive":
            depression.mul_(self._room_down_into(w, w_min, scratch))
        return True

    def _room_up_into(self, w: torch.Tensor, w_max: float, out: torch.Tensor, inside: bool = False) -> torch.Tensor:
        """The soft-bound ``f_plus``, ``max(w_max - w, 0) ** mu``, evaluated in ``out``:
        ``w_max - min(w, w_max)`` is exactly ``max(w_max - w, 0)`` (two passes; one when
        ``inside``: ``w <= w_max`` is known)."""
        nearer = w if inside else torch.clamp(w, max=w_max, out=out)
        room = torch.sub(torch.tensor(w_max, dtype=w.dtype), nearer, out=out)
        return room.pow_(self.mu) if self.name == "gutig" else room

    def _room_down_into(self, w: torch.Tensor, w_min: float, out: torch.Tensor, inside: bool = False) -> torch.Tensor:
        """The ``f_minus`` of the bounded dependences, ``max(w - w_min, 0) ** mu``, evaluated in
        ``out`` (no clamp when ``inside``: ``w >= w_min`` is known)."""
        room = torch.sub(w, w_min, out=out)
        if not inside:
            room.clamp_min_(0.0)
        return room.pow_(self.mu) if self.name == "gutig" else room

    def add_scaled_(self, work: torch.Tensor, w: torch.Tensor, w_min: float, w_max: float,
                    a_plus: float, a_minus: float, potentiation: torch.Tensor, depression: torch.Tensor,
                    scratch: torch.Tensor, scratch_down: torch.Tensor, inside: bool = False) -> bool:
        """``work += a+ f_plus(w) potentiation - a- f_minus(w) depression`` in place, each term
        one ``addcmul_`` (no weight-sized temporary, two passes fewer than scaling
        ``potentiation`` and ``depression`` first), the factors evaluated in ``scratch`` and
        ``scratch_down`` (weight-shaped, overwritten; the same tensor is fine when ``w`` is not
        ``work``). ``potentiation`` and ``depression`` are left as they were. Returns False
        (nothing done) for a custom dependence.

        ``inside``: the caller knows ``w`` lies within ``[w_min, w_max]``, so the distances to
        the bounds need no clamp at zero (the same values, fewer passes; with ``w_min = 0`` the
        distance down is ``w`` itself)."""
        if self.name == "custom":
            return False

        def room_down():
            if inside and w_min == 0.0 and self.name != "gutig" and w is not work:
                return w  # w - 0, exactly
            return self._room_down_into(w, w_min, scratch_down, inside)

        early = room_down() if self.name != "additive" and w is work else None  # before w changes
        if self.name in ("multiplicative", "gutig"):
            work.addcmul_(potentiation, self._room_up_into(w, w_max, scratch, inside), value=a_plus)
        else:
            work.add_(potentiation, alpha=a_plus)
        if self.name == "additive":
            work.sub_(depression, alpha=a_minus)
        else:
            work.addcmul_(depression, early if early is not None else room_down(), value=-a_minus)
        return True


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


@dataclass(frozen=True)
class PowerLawPotentiation:
    """The potentiation factor of the power-law rule, ``w0**(1 - mu) * w**mu``.

    A frozen dataclass rather than a closure, so that two rules built with the same
    ``power_law(w0, mu)`` compare equal (a learner checks a checkpoint's configuration) and
    the rule can be pickled with ``torch.save``.
    """

    w0: float
    mu: float

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        # clamped at zero: the rule is defined for w >= 0, and w**mu must not see a negative base
        return self.w0 ** (1.0 - self.mu) * w.clamp_min(0.0).pow(self.mu)


@dataclass(frozen=True)
class LinearDepression:
    """The depression factor of the power-law rule, ``w`` (clamped at zero)."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp_min(0.0)


def power_law(w0: float, mu: float) -> Tuple[PowerLawPotentiation, LinearDepression]:
    r"""The power-law weight dependence of Morrison, Aertsen & Diesmann (2007).

    Potentiation grows as a power of the weight and depression in proportion to it,

    .. math::

        F_+(w) = \lambda\, w_0^{1-\mu}\, w^\mu, \qquad F_-(w) = \lambda\,\alpha\, w,

    (Morrison, Aertsen & Diesmann 2007, Neural Comput 19:1437, doi:10.1162/neco.2007.19.6.1437;
    in this notation also in the review of Morrison, Diesmann & Gerstner 2008). This function returns
    the two factors without the amplitudes, ``f_plus(w) = w0**(1 - mu) * w**mu`` and
    ``f_minus(w) = w``, as the pair of callables that ``STDPRule(weight_dependence=...)``
    accepts; the rule multiplies them by ``a_plus`` (= :math:`\lambda`) and ``a_minus``
    (= :math:`\lambda\alpha`). Both factors are evaluated on ``w`` clamped at zero; give the
    rule ``w_min=0`` so that a large depression cannot make a weight negative.

    Parameters
    ----------
    w0 : float
        Reference weight :math:`w_0` (> 0), in the units of the weight (pA in the paper,
        where the weight is a synaptic current). At ``w = w0`` the potentiation factor is
        ``w0``, the same as the depression factor, whatever ``mu``.
    mu : float
        Exponent :math:`\mu` of the potentiation, in ``[0, 1]``: 0 gives potentiation
        independent of the weight, 1 potentiation proportional to it.

    Returns
    -------
    (callable, callable)
        ``(f_plus, f_minus)``, each mapping a weight tensor to a tensor of the same shape in
        weight units; so ``a_plus`` and ``a_minus`` are per pair and dimensionless.

    Raises
    ------
    TypeError
        If ``w0`` or ``mu`` is not a real number.
    ValueError
        If ``w0`` is not a positive finite number or ``mu`` is not in ``[0, 1]``.

    Examples
    --------
    >>> from stdpwidgets import STDPRule
    >>> rule = STDPRule(tau_pre=20.0, tau_post=20.0, a_plus=0.01, a_minus=0.01 * 1.05,
    ...                 weight_dependence=power_law(w0=1.0, mu=0.4), w_min=0.0)
    """
    from .rule import _check_real  # here: rule.py imports this module

    values = {}
    for name, value in (("w0", w0), ("mu", mu)):
        try:
            values[name] = _check_real(name, value)
        except TypeError as err:
            raise TypeError(f"power_law: {err}") from None
    if not (math.isfinite(values["w0"]) and values["w0"] > 0):
        raise ValueError(f"power_law: w0 must be a positive, finite reference weight, got {w0!r}")
    if not (0.0 <= values["mu"] <= 1.0):
        raise ValueError(f"power_law: mu must be an exponent in [0, 1], got {mu!r}")
    return PowerLawPotentiation(values["w0"], values["mu"]), LinearDepression()
