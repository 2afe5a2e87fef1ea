"""The rule interface (:class:`Rule`, :class:`TraceSpec`) and STDPRule, pair-based trace STDP.

A rule tells the learner two things and nothing else:

* which traces it keeps (:attr:`Rule.traces`): for each a name, the side whose spikes drive it,
  its time constant and how a spike enters it (added, or reset to 1);
* how traces, spikes and the weight become a weight change, as two correlations through the
  layer: ``dw = F+(w) * C(P_pre, P_post) - F-(w) * C(D_pre, D_post)``
  (:meth:`Rule.correlation_terms` gives the four tensors, :meth:`Rule.amplitudes` the two
  factors), where ``C`` is the layer kind's correlation (a GEMM for Linear, the convolution
  weight-gradient for ConvNd).

So the learner's ``step``, ``run``, checkpoints and recorded history work for any rule
written this way: the pair rule here, the triplet rule in ``triplet.py``.
"""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from .dependence import WeightDependence, make_dependence

__all__ = ["Rule", "TraceSpec", "STDPRule", "PAIRINGS", "SIDES"]

PAIRINGS = ("all-to-all", "nearest")
SIDES = ("pre", "post")


def _check_real(name: str, value: Any) -> float:
    """``value`` as a Python float: ints, floats, NumPy scalars and 0-d real torch tensors.

    Booleans, strings, complex numbers and tensors with more than one element are refused
    with a ``TypeError`` that names the argument.
    """
    if isinstance(value, torch.Tensor):
        if value.dim() == 0 and not value.is_complex() and value.dtype != torch.bool:
            return float(value.item())
    elif not isinstance(value, bool) and isinstance(value, numbers.Real):  # NumPy bool_ is not Real
        return float(value)
    raise TypeError(
        f"{name} must be a real number (int, float, a NumPy scalar or a 0-d tensor), "
        f"got {type(value).__name__} {value!r}"
    )


def _check_time_constant(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite time constant in ms, got {value}")


def _check_magnitude(name: str, value: float, hint: str = "") -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite magnitude >= 0, got {value}{hint}")


def _check_pairing(pairing: Any) -> None:
    if pairing not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairing!r}; use one of {', '.join(map(repr, PAIRINGS))}")


def _validate_fields(rule: Any, time_constants: Tuple[str, ...], magnitudes: Tuple[str, ...]) -> None:
    """Check and normalise a rule dataclass's fields in place (``__post_init__`` of every rule).

    Every named field and ``w_min``, ``w_max``, ``mu`` become floats; the time constants must be
    positive and finite (ms), the magnitudes finite and >= 0 (depression ones are subtracted);
    then the pairing, the bounds and the weight dependence (stored in ``rule.dependence``).
    """
    for name in (*time_constants, *magnitudes, "w_min", "w_max", "mu"):
        object.__setattr__(rule, name, _check_real(name, getattr(rule, name)))
    for name in time_constants:
        _check_time_constant(name, getattr(rule, name))
    for name in magnitudes:
        hint = f"; {name} is a positive magnitude: depression subtracts it" if name.endswith("minus") else ""
        _check_magnitude(name, getattr(rule, name), hint)
    _check_pairing(rule.pairing)
    object.__setattr__(rule, "dependence", _dependence_within_bounds(rule))


def _dependence_within_bounds(rule: Any) -> WeightDependence:
    """Validate ``w_min``, ``w_max``, ``mu`` and ``weight_dependence`` of a rule; return the dependence."""
    if math.isnan(rule.w_min) or math.isnan(rule.w_max):
        raise ValueError("w_min and w_max must not be NaN")
    if rule.w_min > rule.w_max:
        raise ValueError(f"w_min ({rule.w_min}) must not exceed w_max ({rule.w_max})")
    if not (math.isfinite(rule.mu) and rule.mu >= 0):
        raise ValueError(f"mu must be a finite exponent >= 0, got {rule.mu}")
    if isinstance(rule.weight_dependence, list):
        object.__setattr__(rule, "weight_dependence", tuple(rule.weight_dependence))
    dependence = make_dependence(rule.weight_dependence, rule.mu)
    if dependence.needs_bounds and not (math.isfinite(rule.w_min) and math.isfinite(rule.w_max)):
        raise ValueError(
            f"weight_dependence {dependence.name!r} is defined through the bounds; give finite "
            f"w_min and w_max (got w_min={rule.w_min}, w_max={rule.w_max})"
        )
    return dependence


def _check_factor(name: str, factor: Any, w: torch.Tensor) -> Any:
    """A custom dependence's factor: a real number, or a tensor broadcastable to ``w`` on its
    device (returned in ``w``'s dtype, so the update keeps the weight's dtype)."""
    if isinstance(factor, torch.Tensor):
        try:
            shape = torch.broadcast_shapes(factor.shape, w.shape)
        except RuntimeError:
            shape = None
        if shape != w.shape:
            raise ValueError(
                f"the custom weight dependence's {name} returned a tensor shaped {tuple(factor.shape)} "
                f"for a weight shaped {tuple(w.shape)}; it must return a tensor of the weight's shape "
                "(or one that broadcasts to it), e.g. torch.ones_like(w)"
            )
        if factor.is_complex():
            raise TypeError(f"the custom weight dependence's {name} returned a {factor.dtype} tensor")
        if factor.device != w.device:
            raise ValueError(
                f"the custom weight dependence's {name} returned a tensor on {factor.device} for a "
                f"weight on {w.device}; compute it from w (e.g. 1 - w) or create it on w.device"
            )
        return factor if factor.dtype == w.dtype else factor.to(w.dtype)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise TypeError(
            f"the custom weight dependence's {name} must return a tensor shaped like the weight "
            f"(or a real number), got {type(factor).__name__}"
        )
    return factor


@dataclass(frozen=True)
class TraceSpec:
    """One trace a rule keeps.

    Attributes
    ----------
    name : str
        Key of the trace in ``STDPLearner.traces``, its checkpoints and ``STDPHistory.traces``.
    side : {"pre", "post"}
        Whose spikes drive it: the layer's input (``"pre"``) or output (``"post"``).
    tau : float
        Time constant in ms.
    pairing : {"all-to-all", "nearest"}
        A spike adds 1 to the trace, or resets it to 1.
    read_before_spikes : bool
        Read from before this step's spikes even under ``traces_first=True``. The triplet
        rule's slow traces use it: their term must not count the spike being paired.
    """

    name: str
    side: str
    tau: float
    pairing: str
    read_before_spikes: bool = False


class Rule(abc.ABC):
    """What a plasticity rule gives the learner (see the module docstring).

    A subclass is a frozen dataclass with ``w_min``, ``w_max`` and a validated
    :class:`~stdpwidgets.core.dependence.WeightDependence` in ``dependence``; it implements
    :attr:`traces`, :meth:`correlation_terms`, :attr:`amplitude_scale` and :meth:`to_dict`.
    """

    w_min: float
    w_max: float
    dependence: WeightDependence

    @property
    @abc.abstractmethod
    def traces(self) -> Tuple[TraceSpec, ...]:
        """The traces the rule keeps, in a fixed order."""

    @abc.abstractmethod
    def correlation_terms(
        self, pre: torch.Tensor, post: torch.Tensor, read: Mapping[str, torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(P_pre, P_post, D_pre, D_post)``: the tensors whose layer correlations give the
        potentiation ``C(P_pre, P_post)`` and the depression ``C(D_pre, D_post)``.

        Parameters
        ----------
        pre, post : Tensor
            This step's spikes in the weight's dtype, ``(..., batch, *layer input / output)``
            (a leading event axis when the learner handles many steps at once).
        read : mapping of str to Tensor
            Each trace as this step reads it, shaped like its side's spikes.
        """

    @property
    @abc.abstractmethod
    def amplitude_scale(self) -> Tuple[float, float]:
        """``(s+, s-)`` with ``amplitudes(w) == (s+ f+(w), s- f-(w))`` for the dependence's
        factors ``f``: what lets the learner compose clipped updates as affine maps."""

    @abc.abstractmethod
    def to_dict(self) -> Dict[str, Any]:
        """Parameters as a plain dict (callables kept as they are), e.g. for checkpoints."""

    def term_bounds(self, pre_max: float, post_max: float,
                    read_max: Mapping[str, float]) -> Optional[Tuple[float, float, float, float]]:
        """Upper bounds on the four :meth:`correlation_terms` (their largest absolute values)
        given the largest spikes of each side and the largest value each trace is read with,
        or None when the rule cannot tell (the default). With them the learner knows, on the
        host, that a step's update stays finite and need not scan the weight for it."""
        return None

    @property
    def bounded(self) -> bool:
        """True when at least one of ``w_min``, ``w_max`` is finite (clipping can act)."""
        return math.isfinite(self.w_min) or math.isfinite(self.w_max)

    @property
    def weight_independent(self) -> bool:
        """True when F+ and F- do not depend on w (additive), so updates can be summed."""
        return self.dependence.name == "additive"

    def amplitudes(self, w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(F+(w), F-(w))``: the factors of the potentiation and depression correlations.

        Parameters
        ----------
        w : Tensor
            Current weights (weight units).

        Returns
        -------
        (Tensor, Tensor)
            ``s+ * f_plus(w)`` and ``s- * f_minus(w)`` (:attr:`amplitude_scale`), broadcastable
            to ``w``.
        """
        f_plus, f_minus = self.dependence.factors(w, self.w_min, self.w_max)
        if self.dependence.name == "custom":
            f_plus = _check_factor("f_plus", f_plus, w)
            f_minus = _check_factor("f_minus", f_minus, w)
        scale_plus, scale_minus = self.amplitude_scale
        return scale_plus * f_plus, scale_minus * f_minus

    def weighted_change(self, w: torch.Tensor, potentiation: torch.Tensor, depression: torch.Tensor,
                        scratch: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``F+(w) * potentiation - F-(w) * depression``, the unclipped weight change.

        Computed in place in ``potentiation`` (and ``depression``), which the caller gives up.
        With ``scratch`` (a weight-shaped buffer, overwritten) a built-in dependence evaluates
        its factors there, so no weight-sized tensor is allocated.
        """
        if scratch is not None and self.dependence.scale_in_place(w, self.w_min, self.w_max, potentiation,
                                                                 depression, scratch):
            a_plus, a_minus = self.amplitude_scale
            return potentiation.mul_(a_plus).sub_(depression, alpha=a_minus)
        f_plus, f_minus = self.amplitudes(w)
        return potentiation.mul_(f_plus).sub_(depression.mul_(f_minus))

    def add_weighted_change_(self, work: torch.Tensor, w: torch.Tensor, potentiation: torch.Tensor,
                             depression: torch.Tensor, scratch: torch.Tensor, scratch_down: torch.Tensor,
                             inside: bool = False) -> None:
        """``work += F+(w) * potentiation - F-(w) * depression`` in place: the change of
        :meth:`weighted_change` added to ``work`` (which may be ``w`` itself: the factors are
        taken from ``w`` before it changes). ``scratch`` and ``scratch_down`` are weight-shaped
        buffers (overwritten; one tensor may serve both when ``w`` is not ``work``); a built-in
        dependence needs no other weight-sized tensor. ``inside``: ``w`` is known to lie within
        the bounds (fewer passes, the same result)."""
        a_plus, a_minus = self.amplitude_scale
        if not self.dependence.add_scaled_(work, w, self.w_min, self.w_max, a_plus, a_minus,
                                           potentiation, depression, scratch, scratch_down, inside):
            work.add_(self.weighted_change(w if w is not work else w.clone(), potentiation, depression))

    def clip(self, w: torch.Tensor) -> torch.Tensor:
        """Clip weights to ``[w_min, w_max]`` (a new tensor; identity when unbounded)."""
        if not self.bounded:
            return w
        return w.clamp(self.w_min, self.w_max)


@dataclass(frozen=True)
class STDPRule(Rule):
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
        _validate_fields(self, ("tau_pre", "tau_post"), ("a_plus", "a_minus"))

    @property
    def traces(self) -> Tuple[TraceSpec, ...]:
        """``x`` (pre, ``tau_pre``) and ``y`` (post, ``tau_post``), both with the rule's pairing."""
        return (
            TraceSpec("x", "pre", self.tau_pre, self.pairing),
            TraceSpec("y", "post", self.tau_post, self.pairing),
        )

    def correlation_terms(self, pre, post, read):
        """Potentiation ``C(x, s_post)``, depression ``C(s_pre, y)``."""
        return read["x"], post, pre, read["y"]

    def term_bounds(self, pre_max, post_max, read_max):
        """The terms are the traces and spikes themselves: their maxima bound them (None for a
        subclass with terms of its own)."""
        if type(self).correlation_terms is not STDPRule.correlation_terms:
            return None
        return tuple(self.correlation_terms(pre_max, post_max, read_max))

    @property
    def amplitude_scale(self) -> Tuple[float, float]:
        """``(a_plus, a_minus)``."""
        return self.a_plus, self.a_minus

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
