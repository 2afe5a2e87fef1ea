r"""Closed forms of the triplet rule that chapter 6 derives and the tests check the learner against.

Times in ms, rates in Hz, additive updates (the weight held fixed). Independent of the trace
machinery: they sum the rule's terms over spike *times*, as geometric series.
"""

from __future__ import annotations

import math
from typing import Optional

from .triplet import TripletRule
from .window import weight_factors

__all__ = ["triplet_protocol_change", "triplet_poisson_drift", "triplet_bcm_threshold"]


def _geometric(a: float, n: int) -> float:
    """:math:`G_n(a) = \\sum_{m=1}^{n} a^m` for 0 <= a < 1."""
    return a * (1.0 - a**n) / (1.0 - a) if a != 0 else 0.0


def _sum_s(a: float, n: int) -> float:
    """:math:`\\sum_{k=0}^{n-1} S_{k+1}(a)` with :math:`S_m(a) = (1 - a^m)/(1 - a)`."""
    return (n - _geometric(a, n)) / (1.0 - a)


def _sum_ss(a: float, b: float, n: int) -> float:
    """:math:`\\sum_{k=0}^{n-1} S_{k+1}(a) S_{k+1}(b)`."""
    return (n - _geometric(a, n) - _geometric(b, n) + _geometric(a * b, n)) / ((1.0 - a) * (1.0 - b))


def _check_additive(rule: TripletRule) -> None:
    if not isinstance(rule, TripletRule):
        raise TypeError(f"rule must be a TripletRule, got {type(rule).__name__}")
    if not rule.weight_independent:
        raise ValueError(
            f"the closed form holds for additive updates; rule has weight_dependence "
            f"{rule.dependence.name!r} (use weight_dependence='additive')"
        )


def triplet_protocol_change(rule: TripletRule, n_pairs: int, delta_t_ms: float, frequency_hz: float) -> float:
    r"""Total weight change of ``n_pairs`` pairings at lag :math:`\Delta t` repeated at ``frequency_hz``.

    Pre spikes at :math:`kT`, post spikes at :math:`kT + \Delta t` (:math:`T = 1000/f` ms,
    :math:`|\Delta t| < T`, k = 0 .. n-1); a pre and a post spike at the same time make no pair.
    With :math:`q_\tau = e^{-T/\tau}` and :math:`S_m(q) = (1 - q^m)/(1 - q)`, all-to-all:

    .. math::
        \Delta w = \sum_{k=0}^{n-1} c_+\,[S_{k+1}(q_+) - \delta_+]\,[A_2^+ + A_3^+ (S_{k+1}(q_y) - 1)]
                 - c_-\,[S_{k+1}(q_-) - \delta_-]\,[A_2^- + A_3^- (S_{k+1}(q_x) - 1)]

    with :math:`(c_+, \delta_+) = (e^{-\Delta t/\tau_+}, 0)` for :math:`\Delta t > 0`,
    :math:`(e^{|\Delta t|/\tau_+}, 1)` for :math:`\Delta t < 0`, and mirrored for the depression
    side; the sums over k are evaluated in closed form. Nearest spike: every trace read is the
    last spike's :math:`e^{-s/\tau}`, so each of the n (or n - 1) pairings contributes the same.

    Parameters
    ----------
    rule : TripletRule
        Additive (the weight is held fixed); either pairing.
    n_pairs : int
        Number of pairings (>= 1).
    delta_t_ms : float
        :math:`t_{post} - t_{pre}` in ms, with :math:`|\Delta t|` below the period.
    frequency_hz : float
        Pairing frequency (> 0).

    Returns
    -------
    float
        :math:`\Delta w` in weight units.
    """
    _check_additive(rule)
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an int >= 1, got {n_pairs!r}")
    if not (isinstance(frequency_hz, (int, float)) and math.isfinite(frequency_hz) and frequency_hz > 0):
        raise ValueError(f"frequency_hz must be a positive, finite frequency in Hz, got {frequency_hz!r}")
    period = 1000.0 / frequency_hz
    lag = float(delta_t_ms)
    if not (math.isfinite(lag) and abs(lag) < period):
        raise ValueError(f"need |delta_t_ms| < the period {period} ms, got {delta_t_ms!r}")
    n, d = n_pairs, abs(lag)
    q = {name: math.exp(-period / tau) for name, tau in
         (("plus", rule.tau_plus), ("minus", rule.tau_minus), ("x", rule.tau_x), ("y", rule.tau_y))}
    if rule.pairing == "nearest":
        # traces read at a spike: the last spike of that train, reset to 1 there
        if lag > 0:
            up = math.exp(-d / rule.tau_plus) * (n * rule.a2_plus + (n - 1) * rule.a3_plus * q["y"])
            down = (n - 1) * math.exp(-(period - d) / rule.tau_minus) * (rule.a2_minus + rule.a3_minus * q["x"])
        elif lag < 0:
            up = (n - 1) * math.exp(-(period - d) / rule.tau_plus) * (rule.a2_plus + rule.a3_plus * q["y"])
            down = math.exp(-d / rule.tau_minus) * (n * rule.a2_minus + (n - 1) * rule.a3_minus * q["x"])
        else:
            up = (n - 1) * q["plus"] * (rule.a2_plus + rule.a3_plus * q["y"])
            down = (n - 1) * q["minus"] * (rule.a2_minus + rule.a3_minus * q["x"])
        return up - down
    c_up, delta_up = (math.exp(-d / rule.tau_plus), 0) if lag > 0 else (math.exp(d / rule.tau_plus), 1)
    c_down, delta_down = (math.exp(d / rule.tau_minus), 1) if lag > 0 else (math.exp(-d / rule.tau_minus), 0)
    if lag == 0:
        c_up = c_down = 1.0
        delta_up = delta_down = 1

    def side(a2, a3, q_fast, q_slow, delta):
        # sum_k (S_{k+1}(q_fast) - delta) (A2 + A3 (S_{k+1}(q_slow) - 1))
        return (a2 - a3) * (_sum_s(q_fast, n) - n * delta) + a3 * (_sum_ss(q_fast, q_slow, n) - delta * _sum_s(q_slow, n))

    up = c_up * side(rule.a2_plus, rule.a3_plus, q["plus"], q["y"], delta_up)
    down = c_down * side(rule.a2_minus, rule.a3_minus, q["minus"], q["x"], delta_down)
    return up - down


def _window_area(tau: float, dt: Optional[float]) -> float:
    """Mean trace per unit rate read before a spike: tau, or on a grid ``dt / (e^{dt/tau} - 1)``."""
    return tau if dt is None else dt / math.expm1(dt / tau)


def triplet_poisson_drift(
    rule: TripletRule, rate_pre: float, rate_post: float, dt: Optional[float] = None, w: Optional[float] = None
) -> float:
    r"""Expected drift :math:`\langle dw/dt \rangle` (weight units per second) of the all-to-all
    triplet rule for independent Poisson trains at ``rate_pre`` :math:`\rho_x` and ``rate_post``
    :math:`\rho_y` (Hz):

    .. math::
        \rho_x\rho_y\,[A_2^+\tau_+ - A_2^-\tau_- + A_3^+\tau_+\tau_y\,\rho_y - A_3^-\tau_-\tau_x\,\rho_x]

    (rates per ms inside the bracket). For the minimal rule (:math:`A_2^+ = A_3^- = 0`) it is a BCM
    rule :math:`\rho_x\,\phi(\rho_y)` with :math:`\phi` changing sign at
    :func:`triplet_bcm_threshold`.

    With ``dt`` (ms) the drift of the learner on that grid instead, for Bernoulli spikes with
    probability :math:`\rho\,dt` per step: every trace is read before the step's spikes, so each
    :math:`\tau` becomes the grid area :math:`dt/(e^{dt/\tau} - 1) \approx \tau - dt/2`; exact in
    expectation (the fast and slow traces read at a spike belong to independent trains).

    A weight-dependent rule needs the weight ``w``: the potentiation term is then multiplied by
    :math:`f_+(w)` and the depression term by :math:`f_-(w)` (the drift at that weight).
    """
    if not isinstance(rule, TripletRule):
        raise TypeError(f"rule must be a TripletRule, got {type(rule).__name__}")
    f_plus, f_minus = weight_factors(rule, w, "drift")
    if rule.pairing != "all-to-all":
        raise ValueError("the Poisson drift here is for all-to-all pairing; pass pairing='all-to-all'")
    if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive time step in ms or None, got {dt!r}")
    x, y = rate_pre * 1e-3, rate_post * 1e-3  # spikes per ms
    plus, minus = _window_area(rule.tau_plus, dt), _window_area(rule.tau_minus, dt)
    slow_x, slow_y = _window_area(rule.tau_x, dt), _window_area(rule.tau_y, dt)
    potentiation = rule.a2_plus * plus + rule.a3_plus * plus * slow_y * y
    depression = rule.a2_minus * minus + rule.a3_minus * minus * slow_x * x
    return x * y * (f_plus * potentiation - f_minus * depression) * 1e3


def triplet_bcm_threshold(rule: TripletRule, rate_pre: float = 0.0) -> float:
    r"""Postsynaptic rate (Hz) above which the all-to-all Poisson drift turns from depression to
    potentiation: :math:`\theta = (A_2^-\tau_- - A_2^+\tau_+ + A_3^-\tau_-\tau_x\rho_x)/(A_3^+\tau_+\tau_y)`.
    """
    _check_additive(rule)
    if rule.a3_plus == 0:
        raise ValueError("with a3_plus = 0 the drift is linear in the post rate: there is no threshold")
    numerator = (rule.a2_minus * rule.tau_minus - rule.a2_plus * rule.tau_plus
                 + rule.a3_minus * rule.tau_minus * rule.tau_x * rate_pre * 1e-3)
    return numerator / (rule.a3_plus * rule.tau_plus * rule.tau_y) * 1e3
