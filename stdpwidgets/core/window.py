r"""Closed forms that the book derives and the tests check the learner against.

Times are in ms, rates in Hz. These functions are independent of the trace machinery: they
compute from spike *times* what the traces compute step by step.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch

from .rule import Rule, STDPRule

__all__ = [
    "stdp_window",
    "pair_sum_all_to_all",
    "pair_sum_nearest",
    "poisson_drift",
    "multiplicative_fixed_point",
    "euler_trace_error",
]

Times = Union[Sequence[float], torch.Tensor]


def weight_factors(rule: Rule, w: Optional[float], what: str = "window") -> Tuple[float, float]:
    """The dependence's ``(f_plus(w), f_minus(w))`` as floats; ``w`` may be None for an additive
    rule, else a ``ValueError`` says that the ``what`` depends on the weight."""
    if w is None:
        if not rule.weight_independent:
            raise ValueError(
                f"the {rule.dependence.name!r} {what} depends on the weight; pass the current weight w"
            )
        w = 0.0
    f_plus, f_minus = rule.dependence.factors(torch.as_tensor(float(w), dtype=torch.float64), rule.w_min, rule.w_max)
    return float(f_plus), float(f_minus)


def _amplitudes(rule: STDPRule, w: Optional[float]):
    """``(F+(w), F-(w))`` of a pair rule as floats (see :func:`weight_factors`)."""
    f_plus, f_minus = weight_factors(rule, w)
    return rule.a_plus * f_plus, rule.a_minus * f_minus


def stdp_window(delta_t: Times, rule: STDPRule, w: Optional[float] = None, traces_first: bool = False) -> torch.Tensor:
    r"""The pair window :math:`W(\Delta t)`, :math:`\Delta t = t_{post} - t_{pre}` in ms.

    :math:`W = F_+(w)\,e^{-\Delta t/\tau_{pre}}` for :math:`\Delta t > 0` and
    :math:`-F_-(w)\,e^{\Delta t/\tau_{post}}` for :math:`\Delta t < 0`
    (Morrison, Diesmann & Gerstner 2008, eq. 2).

    Parameters
    ----------
    delta_t : sequence of float or Tensor
        Lags in ms.
    rule : STDPRule
        Amplitudes, time constants and weight dependence.
    w : float, optional
        Weight at which :math:`F_\pm(w)` are evaluated; needed unless the rule is additive.
    traces_first : bool
        Value at :math:`\Delta t = 0`: 0 by default (a same-step pair makes no pair), and
        :math:`F_+ - F_-` in the ``traces_first`` convention.

    Returns
    -------
    Tensor
        Weight change per pair (float64), shaped like ``delta_t``.
    """
    f_plus, f_minus = _amplitudes(rule, w)
    lag = torch.as_tensor(delta_t, dtype=torch.float64)
    ltp = f_plus * torch.exp(-lag.clamp_min(0) / rule.tau_pre)
    ltd = -f_minus * torch.exp(lag.clamp_max(0) / rule.tau_post)
    at_zero = torch.full_like(lag, (f_plus - f_minus) if traces_first else 0.0)
    return torch.where(lag > 0, ltp, torch.where(lag < 0, ltd, at_zero))


def pair_sum_all_to_all(
    pre_times: Times, post_times: Times, rule: STDPRule, w: Optional[float] = None, traces_first: bool = False
) -> float:
    r"""Total change :math:`\sum_{f,g} W(t_{post}^g - t_{pre}^f)` over all spike pairs.

    For an additive rule (weight held fixed) this is exactly what all-to-all traces produce.
    Repeated times count as separate spikes.
    """
    pre = torch.as_tensor(pre_times, dtype=torch.float64).reshape(-1, 1)
    post = torch.as_tensor(post_times, dtype=torch.float64).reshape(1, -1)
    return float(stdp_window(post - pre, rule, w, traces_first).sum())


def pair_sum_nearest(
    pre_times: Times, post_times: Times, rule: STDPRule, w: Optional[float] = None, traces_first: bool = False
) -> float:
    r"""Total change of symmetric nearest-neighbour STDP (Morrison et al. 2008, Fig. 7A).

    Each postsynaptic spike pairs with the latest presynaptic spike strictly before it
    (potentiation), each presynaptic spike with the latest postsynaptic spike strictly before
    it (depression). With ``traces_first`` "before" includes the same time.
    """
    f_plus, f_minus = _amplitudes(rule, w)
    pre = sorted(float(t) for t in torch.as_tensor(pre_times, dtype=torch.float64).reshape(-1))
    post = sorted(float(t) for t in torch.as_tensor(post_times, dtype=torch.float64).reshape(-1))

    def latest_before(times, t):
        earlier = [s for s in times if (s <= t if traces_first else s < t)]
        return earlier[-1] if earlier else None

    total = 0.0
    for t in post:
        s = latest_before(pre, t)
        if s is not None:
            total += f_plus * math.exp(-(t - s) / rule.tau_pre)
    for t in pre:
        s = latest_before(post, t)
        if s is not None:
            total -= f_minus * math.exp(-(t - s) / rule.tau_post)
    return total


def poisson_drift(rule: STDPRule, w: float, rate_pre: float, rate_post: float) -> float:
    r"""Expected drift :math:`\langle dw/dt \rangle` in weight units per second for independent
    Poisson pre and post trains at ``rate_pre`` and ``rate_post`` (Hz).

    All-to-all: :math:`\nu_{pre}\nu_{post}\,(F_+(w)\tau_{pre} - F_-(w)\tau_{post})`.
    Nearest: each spike sees the expected trace :math:`\nu\tau/(1 + \nu\tau)` of the other side.
    """
    f_plus, f_minus = _amplitudes(rule, w)
    nu_pre, nu_post = rate_pre * 1e-3, rate_post * 1e-3  # spikes per ms
    if rule.pairing == "all-to-all":
        x_mean, y_mean = nu_pre * rule.tau_pre, nu_post * rule.tau_post
    else:
        x_mean = nu_pre * rule.tau_pre / (1 + nu_pre * rule.tau_pre)
        y_mean = nu_post * rule.tau_post / (1 + nu_post * rule.tau_post)
    per_ms = nu_post * f_plus * x_mean - nu_pre * f_minus * y_mean
    return per_ms * 1e3


def multiplicative_fixed_point(rule: STDPRule) -> float:
    r"""Weight where the all-to-all drift of a multiplicative rule vanishes under uncorrelated input.

    Solving :math:`a_+(w_{max} - w)\tau_{pre} = a_-(w - w_{min})\tau_{post}` gives
    :math:`w^* = (a_+\tau_{pre} w_{max} + a_-\tau_{post} w_{min}) / (a_+\tau_{pre} + a_-\tau_{post})`,
    which for bounds [0, 1] and :math:`\alpha = a_-/a_+` is
    :math:`\tau_+/(\tau_+ + \alpha\tau_-)` (Morrison et al. 2008, sec. 4.1). Independent of rates.
    """
    if rule.dependence.name != "multiplicative" or rule.pairing != "all-to-all":
        raise ValueError("the closed-form fixed point is for all-to-all, multiplicative rules")
    up, down = rule.a_plus * rule.tau_pre, rule.a_minus * rule.tau_post
    if up + down == 0:
        raise ValueError("with a_plus = a_minus = 0 every weight is a fixed point")
    return (up * rule.w_max + down * rule.w_min) / (up + down)


def euler_trace_error(tau: float, dt: float, lag: float) -> float:
    r"""Relative shortfall of an Euler trace :math:`(1 - dt/\tau)^{lag/dt}` against the exact
    :math:`e^{-lag/\tau}`, read ``lag`` ms after a spike (ms throughout).

    E.g. ``euler_trace_error(16.8, 1.0, 20.0)`` is about 0.036 (3.6 % low).
    """
    if not (0 < dt < tau):
        raise ValueError(f"need 0 < dt < tau, got dt={dt}, tau={tau}")
    return 1.0 - (1.0 - dt / tau) ** (lag / dt) / math.exp(-lag / tau)
