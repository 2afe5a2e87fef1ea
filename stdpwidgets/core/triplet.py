r"""TripletRule: the triplet STDP rule of Pfister & Gerstner (2006), with its published fits.

Four traces: presynaptic :math:`r_1` (:math:`\tau_+`) and :math:`r_2` (:math:`\tau_x`),
postsynaptic :math:`o_1` (:math:`\tau_-`) and :math:`o_2` (:math:`\tau_y`). At a postsynaptic
spike :math:`w \mathrel{+}= F_+(w)\, r_1 \,[A_2^+ + A_3^+\, o_2(t^-)]`; at a presynaptic spike
:math:`w \mathrel{-}= F_-(w)\, o_1 \,[A_2^- + A_3^-\, r_2(t^-)]`. The triplet terms read the slow
trace from before the current spike's own increment, and, as for the pair rule, a pre and a
post spike in the same time step make no pair. With :math:`A_3^\pm = 0` it is the pair rule
(:class:`~stdpwidgets.core.rule.STDPRule` with ``a_plus = A2+``, ``a_minus = A2-``), bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

from .dependence import WeightDependence
from .rule import Rule, TraceSpec, _validate_fields

__all__ = ["TripletRule", "TRIPLET_PRESETS"]

_SOURCE = (
    "Pfister & Gerstner (2006), J Neurosci 26:9673, Table 4 (fits to the visual-cortex data of "
    "Sjöström et al. 2001 and the hippocampal data of Wang et al. 2005 / Bi & Wang 2002); "
    "tau+ = 16.8 ms and tau- = 33.7 ms fixed from Bi & Poo. Transcribed from public "
    "re-implementations, not yet checked against the printed table"
)

#: The published parameter sets, by name: parameters (ms, weight units) and source.
TRIPLET_PRESETS: Dict[str, Dict[str, Any]] = {
    "visual-cortex-all-to-all-minimal": {
        "params": dict(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=114.0, a2_plus=0.0,
                       a2_minus=7.1e-3, a3_plus=6.5e-3, a3_minus=0.0, pairing="all-to-all"),
        "source": _SOURCE + "; minimal model: A2+ = A3- = 0, so tau_x is not used (the value is "
                  "the full model's)",
    },
    "visual-cortex-all-to-all-full": {
        "params": dict(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0, a2_plus=5e-10,
                       a2_minus=7e-3, a3_plus=6.2e-3, a3_minus=2.3e-4, pairing="all-to-all"),
        "source": _SOURCE,
    },
    "visual-cortex-nearest-full": {
        "params": dict(tau_plus=16.8, tau_minus=33.7, tau_x=714.0, tau_y=40.0, a2_plus=8.8e-11,
                       a2_minus=6.6e-3, a3_plus=5.3e-2, a3_minus=3.1e-3, pairing="nearest"),
        "source": _SOURCE + "; nearest-spike interaction (traces reset to 1)",
    },
    "hippocampal-all-to-all-full": {
        "params": dict(tau_plus=16.8, tau_minus=33.7, tau_x=946.0, tau_y=27.0, a2_plus=6.1e-3,
                       a2_minus=1.6e-3, a3_plus=6.7e-3, a3_minus=1.4e-3, pairing="all-to-all"),
        "source": _SOURCE + "; hippocampal culture data",
    },
}


@dataclass(frozen=True)
class TripletRule(Rule):
    r"""Triplet STDP (Pfister & Gerstner 2006), usable wherever :class:`STDPRule` is.

    Parameters
    ----------
    tau_plus, tau_minus : float
        Time constants of the fast traces :math:`r_1` (pre) and :math:`o_1` (post), ms (> 0):
        the widths of the pair window's potentiation and depression sides.
    tau_x, tau_y : float
        Time constants of the slow traces :math:`r_2` (pre) and :math:`o_2` (post), ms (> 0).
    a2_plus, a2_minus : float
        Pair amplitudes :math:`A_2^\pm` (>= 0; depression subtracts ``a2_minus``), weight units.
    a3_plus, a3_minus : float
        Triplet amplitudes :math:`A_3^\pm` (>= 0): potentiation grows by ``a3_plus`` per unit of
        the post trace :math:`o_2` (post-pre-post triplets), depression by ``a3_minus`` per unit
        of :math:`r_2` (pre-post-pre).
    pairing : {"all-to-all", "nearest"}
        All four traces are incremented by a spike, or reset to 1.
    weight_dependence, w_min, w_max, mu
        As for :class:`~stdpwidgets.core.rule.STDPRule`: the factors :math:`F_\pm(w)` multiply the
        whole potentiation and depression terms. Default: additive and unbounded.

    Examples
    --------
    >>> rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    >>> learner = STDPLearner(torch.nn.Linear(100, 10), rule, dt=1.0)
    """

    tau_plus: float
    tau_minus: float
    tau_x: float
    tau_y: float
    a2_plus: float
    a2_minus: float
    a3_plus: float
    a3_minus: float
    pairing: str = "all-to-all"
    weight_dependence: Any = "additive"
    w_min: float = -math.inf
    w_max: float = math.inf
    mu: float = 1.0
    dependence: WeightDependence = field(init=False, repr=False, compare=False)

    PRESETS = TRIPLET_PRESETS

    def __post_init__(self) -> None:
        _validate_fields(self, ("tau_plus", "tau_minus", "tau_x", "tau_y"),
                         ("a2_plus", "a2_minus", "a3_plus", "a3_minus"))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TripletRule":
        """A published parameter set (:data:`TRIPLET_PRESETS`), optionally with changes.

        Parameters
        ----------
        name : str
            One of ``TripletRule.PRESETS`` (``"visual-cortex-all-to-all-minimal"``, ...).
        **overrides
            Parameters to replace, e.g. ``weight_dependence="multiplicative", w_min=0, w_max=1``.
        """
        if name not in TRIPLET_PRESETS:
            raise ValueError(f"unknown preset {name!r}; use one of {', '.join(map(repr, TRIPLET_PRESETS))}")
        unknown = set(overrides) - {f for f in cls.__dataclass_fields__ if f != "dependence"}
        if unknown:
            raise TypeError(f"unknown TripletRule parameter(s) {sorted(unknown)}")
        return cls(**{**TRIPLET_PRESETS[name]["params"], **overrides})

    @property
    def traces(self) -> Tuple[TraceSpec, ...]:
        """``r1`` (pre, tau_plus), ``r2`` (pre, tau_x), ``o1`` (post, tau_minus), ``o2`` (post, tau_y)."""
        return (
            TraceSpec("r1", "pre", self.tau_plus, self.pairing),
            TraceSpec("r2", "pre", self.tau_x, self.pairing, read_before_spikes=True),
            TraceSpec("o1", "post", self.tau_minus, self.pairing),
            TraceSpec("o2", "post", self.tau_y, self.pairing, read_before_spikes=True),
        )

    def correlation_terms(self, pre, post, read):
        """Potentiation ``C(r1, s_post (A2+ + A3+ o2))``, depression ``C(s_pre (A2- + A3- r2), o1)``.

        With ``a3_plus == 0`` (``a3_minus == 0``) the amplitude moves into :attr:`amplitude_scale`
        and the spikes enter unscaled, exactly as in the pair rule.
        """
        p_post = post if self.a3_plus == 0 else post * (self.a2_plus + self.a3_plus * read["o2"])
        d_pre = pre if self.a3_minus == 0 else pre * (self.a2_minus + self.a3_minus * read["r2"])
        return read["r1"], p_post, d_pre, read["o1"]

    def term_bounds(self, pre_max, post_max, read_max):
        """The terms are sums and products of spikes, traces and amplitudes, all >= 0: the
        terms of the maxima bound them (None for a subclass with terms of its own)."""
        if type(self).correlation_terms is not TripletRule.correlation_terms:
            return None
        return tuple(float(t) for t in self.correlation_terms(pre_max, post_max, read_max))

    @property
    def amplitude_scale(self) -> Tuple[float, float]:
        """``A2±`` where the triplet term is off (then the pair rule's form), else 1."""
        return (self.a2_plus if self.a3_plus == 0 else 1.0, self.a2_minus if self.a3_minus == 0 else 1.0)

    def to_dict(self) -> Dict[str, Any]:
        """Parameters as a plain dict (callables kept as they are), e.g. for checkpoints."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "dependence"}
