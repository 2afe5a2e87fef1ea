r"""Pairing protocols: n pre/post pairs at lag :math:`\Delta t` repeated at frequency f.

The classic plasticity experiment (Bi & Poo 1998; Sjöström, Turrigiano & Nelson 2001): the
presynaptic neuron fires at ``start + k / f`` (k = 0 .. n-1) and the postsynaptic neuron fires
:math:`\Delta t = t_{post} - t_{pre}` later (earlier when negative). The weight change is
computed with :class:`~stdpwidgets.core.STDPLearner` on a 1x1 ``nn.Linear``.
:func:`single_pair_weight_changes` runs one isolated pair per lag, all lags in one learner run.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..core import Rule, STDPLearner, STDPRule
from ._budget import check_bytes, check_steps
from ._checks import as_float_vector, check_bool, check_count, check_device, check_dtype, check_finite, check_positive

# Step indices beyond this are not exact in float64 (and far beyond any simulation).
_MAX_INDEX = 2.0**53

__all__ = [
    "PairingCurve",
    "pairing_spike_steps",
    "pairing_protocol",
    "pairing_weight_change",
    "pairing_sweep",
    "single_pair_weight_changes",
]

# Lags and periods within this fraction of a step of the grid count as on the grid.
_GRID_TOLERANCE = 1e-6


class PairingCurve(NamedTuple):
    """Result of :func:`pairing_sweep`.

    Attributes
    ----------
    delta_t_ms : Tensor
        Lags swept, ``(n_lags,)``, ms.
    frequency_hz : Tensor
        Frequencies swept, ``(n_frequencies,)``, Hz.
    weight_change : Tensor
        ``(n_lags, n_frequencies)`` float64: the value :func:`pairing_weight_change` returns for
        each combination.
    """

    delta_t_ms: torch.Tensor
    frequency_hz: torch.Tensor
    weight_change: torch.Tensor


def _lag_steps(delta_t_ms: float, dt: float) -> int:
    steps = delta_t_ms / dt
    if not abs(steps) <= _MAX_INDEX:
        raise ValueError(
            f"delta_t_ms = {delta_t_ms} ms is {abs(steps):.3g} steps of dt = {dt} ms, beyond any simulation; "
            f"use |delta_t_ms| well below {_MAX_INDEX * dt:.3g} ms (or a coarser dt)"
        )
    if abs(steps - round(steps)) > _GRID_TOLERANCE * max(1.0, abs(steps)):
        raise ValueError(
            f"delta_t_ms = {delta_t_ms} ms is not a multiple of dt = {dt} ms; choose a dt that "
            "divides the lag (the lag must be exact on the grid)"
        )
    return int(round(steps))


def pairing_spike_steps(
    n_pairs: int,
    delta_t_ms: float,
    frequency_hz: float,
    dt: float = 0.1,
    *,
    start_ms: Optional[float] = None,
) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """Step indices of the protocol's spikes (the sparse form of :func:`pairing_protocol`).

    Returns
    -------
    (Tensor, Tensor, int)
        Pre and post step indices (long, ``(n_pairs,)``) and the number of steps the
        protocol needs (last spike included). Times are ``index * dt`` ms.
    """
    n_pairs = check_count("n_pairs", n_pairs, minimum=1)
    delta_t_ms = check_finite("delta_t_ms", delta_t_ms, "ms")
    frequency_hz = check_positive("frequency_hz", frequency_hz, "Hz")
    dt = check_positive("dt", dt, "ms")
    lag = _lag_steps(delta_t_ms, dt)
    # pre and post step indices (int64 each) and arange's own
    check_bytes(f"pairing_spike_steps with n_pairs = {n_pairs}", n_pairs * 24.0,
                "use fewer n_pairs (the experiments use 60)")
    period_float = 1000.0 / frequency_hz / dt
    if n_pairs > 1 and not period_float * (n_pairs - 1) <= _MAX_INDEX:
        raise ValueError(
            f"frequency_hz = {frequency_hz} Hz gives a period of {1000.0 / frequency_hz:.3g} ms: {n_pairs} pairs "
            f"would span {period_float * (n_pairs - 1):.3g} steps of dt = {dt} ms, beyond any simulation; use a "
            f"higher frequency_hz (the experiments use 0.1 to 50 Hz) or fewer n_pairs"
        )
    period = int(round(period_float)) if n_pairs > 1 else 0
    if n_pairs > 1 and period < 1:
        raise ValueError(f"frequency_hz = {frequency_hz} Hz leaves less than one step of dt = {dt} ms between pairs")
    if n_pairs > 1 and abs(lag) >= period:
        raise ValueError(
            f"|delta_t_ms| = {abs(delta_t_ms)} ms is not shorter than the pairing period "
            f"{1000.0 / frequency_hz:g} ms: the pairs would overlap; lower frequency_hz or |delta_t_ms|"
        )
    if start_ms is None:
        start = max(0, -lag)
    else:
        start_ms = check_positive("start_ms", start_ms, "ms", allow_zero=True)
        if not start_ms / dt <= _MAX_INDEX:
            raise ValueError(f"start_ms = {start_ms} ms is {start_ms / dt:.3g} steps of dt = {dt} ms, beyond any "
                             "simulation; use a start_ms of a few ms")
        start = int(round(start_ms / dt))
        if start + lag < 0:
            raise ValueError(
                f"start_ms = {start_ms} ms puts the first post spike before time 0 (delta_t_ms = "
                f"{delta_t_ms}); use start_ms >= {-delta_t_ms}"
            )
    pre = start + period * torch.arange(n_pairs)
    post = pre + lag
    steps = int(max(pre[-1], post[-1])) + 1
    return pre, post, steps


def pairing_protocol(
    n_pairs: int,
    delta_t_ms: float,
    frequency_hz: float,
    dt: float = 0.1,
    *,
    start_ms: Optional[float] = None,
    tail_ms: float = 0.0,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Pre and post spike trains of a pairing protocol.

    Pre spikes at ``start_ms + k * 1000 / frequency_hz`` ms (k = 0 .. n_pairs-1), each post
    spike ``delta_t_ms`` after its pre spike (before it when negative).

    Parameters
    ----------
    n_pairs : int
        Number of pairings (>= 1).
    delta_t_ms : float
        :math:`\Delta t = t_{post} - t_{pre}` in ms; must be a multiple of ``dt``.
    frequency_hz : float
        Pairing frequency in Hz (> 0); the period is rounded to the nearest step.
    dt : float
        Time step in ms (default 0.1).
    start_ms : float, optional
        Time of the first pre spike; default: 0, or ``-delta_t_ms`` when that is later, so
        the first post spike is at time 0.
    tail_ms : float
        Extra silent time after the last spike.
    device, dtype
        Of the trains.

    Returns
    -------
    (Tensor, Tensor)
        ``pre`` and ``post`` trains shaped ``(steps,)``; step i is time ``i * dt`` ms.

    Examples
    --------
    >>> pre, post = pairing_protocol(60, 10.0, 1.0)      # 60 pairs, post 10 ms after pre, 1 Hz
    """
    pre_steps, post_steps, steps = pairing_spike_steps(
        n_pairs, delta_t_ms, frequency_hz, dt, start_ms=start_ms
    )
    tail_ms = check_positive("tail_ms", tail_ms, "ms", allow_zero=True)
    dtype = check_dtype("dtype", dtype)
    device = check_device(device)
    dt = float(dt)
    total = steps + tail_ms / dt
    fix = ("use fewer n_pairs, a higher frequency_hz, a shorter tail_ms or a coarser dt "
           "(pairing_weight_change computes the weight change without the dense trains)")
    check_bytes(f"pairing_protocol's two trains of {total:.3g} steps (n_pairs = {n_pairs}, frequency_hz = "
                f"{frequency_hz} Hz, dt = {dt} ms)", 2.0 * total * dtype.itemsize, fix)
    steps += int(round(tail_ms / dt))
    pre = torch.zeros(steps, dtype=dtype, device=device)
    post = torch.zeros(steps, dtype=dtype, device=device)
    pre[pre_steps.to(device)] = 1
    post[post_steps.to(device)] = 1
    return pre, post


_PROTOCOL_FIX = ("use fewer n_pairs (the experiments use 60), a higher frequency_hz (0.1 to 50 Hz), "
                 "lags delta_t_ms and a dt that share a coarser grid, or a coarser dt")


def _default_w0(rule: Rule) -> float:
    if math.isfinite(rule.w_min) and math.isfinite(rule.w_max):
        return 0.5 * (rule.w_min + rule.w_max)
    return min(max(1.0, rule.w_min), rule.w_max)


def _initial_weight(rule: Rule, w0: Optional[float]) -> float:
    """``w0`` checked against the rule's bounds, or the default initial weight."""
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    w0 = _default_w0(rule) if w0 is None else check_finite("w0", w0)
    if not (rule.w_min <= w0 <= rule.w_max):
        raise ValueError(f"w0 = {w0} lies outside the rule's bounds [{rule.w_min}, {rule.w_max}]")
    return w0


def _diagonal_weight_changes(
    rule: Rule,
    spike_steps: Sequence[Tuple[torch.Tensor, torch.Tensor]],
    dt: float,
    w0: Optional[float],
    device: Union[str, torch.device],
    relative: bool,
    coarsen: bool,
    learner_kwargs: dict,
    fix: str = "use fewer pairs, shorter lags or a coarser dt",
) -> torch.Tensor:
    """Weight change of each of several independent spike patterns, from one learner run.

    Pattern ``i`` (pre and post step indices on the grid ``dt``) drives synapse ``i``, the
    diagonal of a float64 ``nn.Linear(n, n)`` whose weights all start at ``w0``: input ``i``
    and output ``i`` carry only pattern ``i``'s spikes, and weight dependence and bounds act
    elementwise, so each diagonal weight changes exactly as a lone synapse would (the
    off-diagonal weights see unrelated spikes and are ignored). With exact trace decay
    (``coarsen``) the run uses the coarsest grid that holds every spike: the gcd of all the
    step indices times ``dt`` (traces are exact at any step).

    Returns float64 ``(n,)`` on the CPU: ``w_end - w0``, or ``(w_end - w0) / w0`` with ``relative``.
    """
    w0 = _initial_weight(rule, w0)
    relative = check_bool("relative", relative)
    coarsen = check_bool("coarsen", coarsen)
    if relative and w0 == 0:
        raise ValueError("relative=True needs w0 != 0")
    for key in ("dt", "update"):
        if key in learner_kwargs:
            raise TypeError(f"{key!r} is set by the protocol; do not pass it to the learner")
    dt = check_positive("dt", dt, "ms")
    device = check_device(device)
    every_step = torch.cat([torch.cat([pre, post]) for pre, post in spike_steps])
    factor = 1
    if coarsen and learner_kwargs.get("decay", "exact") == "exact":
        factor = max(int(np.gcd.reduce(every_step.to(torch.int64).numpy())), 1)  # vectorised math.gcd
    n = len(spike_steps)
    steps = int(every_step.max()) // factor + 1
    where = (f"the protocol ({n} synapse{'s' if n > 1 else ''}, {steps} steps of {dt * factor:g} ms after "
             "coarsening to the spikes' common grid)")
    check_steps(where, float(steps), fix)
    # pre and post (float64), the learner's traces and correlations over the run, the n x n layer
    check_bytes(where, steps * n * 8.0 * 8 + n * n * 8.0 * 4, fix)
    pre = torch.zeros(int(every_step.max()) // factor + 1, 1, n, dtype=torch.float64, device=device)
    post = torch.zeros_like(pre)
    for synapse, (pre_steps, post_steps) in enumerate(spike_steps):
        pre[(pre_steps // factor).to(device), 0, synapse] = 1.0
        post[(post_steps // factor).to(device), 0, synapse] = 1.0
    layer = nn.Linear(n, n, bias=False).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.fill_(w0)
    STDPLearner(layer, rule, dt=dt * factor, **learner_kwargs).run(pre, post)
    change = layer.weight.detach().diagonal().cpu() - w0
    return change / w0 if relative else change


def pairing_weight_change(
    rule: Rule,
    delta_t_ms: float,
    frequency_hz: float,
    n_pairs: int = 60,
    dt: float = 0.1,
    w0: Optional[float] = None,
    device: Union[str, torch.device] = "cpu",
    *,
    relative: bool = False,
    coarsen: bool = True,
    **learner_kwargs,
) -> float:
    r"""Weight change after a pairing protocol, computed by :class:`STDPLearner` on a 1x1 ``nn.Linear``.

    Parameters
    ----------
    rule : Rule
        The plasticity rule (:class:`STDPRule`, :class:`TripletRule`, ...).
    delta_t_ms : float
        :math:`\Delta t = t_{post} - t_{pre}` in ms (a multiple of ``dt``).
    frequency_hz : float
        Pairing frequency in Hz.
    n_pairs : int
        Number of pairings (default 60).
    dt : float
        Grid on which the protocol is defined, ms (default 0.1).
    w0 : float, optional
        Initial weight; default: the middle of the rule's bounds when both are finite, else
        1 (clipped to the bounds).
    device : str or torch.device
        Where the learner runs.
    relative : bool
        Return ``(w_end - w0) / w0`` instead of the absolute change ``w_end - w0``.
    coarsen : bool
        With exact trace decay (the default) traces are exact at any grid that holds every
        spike, so the protocol runs on the coarsest such grid (the gcd of lag, period and start
        in steps): 60 pairs at 0.1 Hz with :math:`\Delta t = 10` ms take 60 000 steps instead of
        6 000 000, with the same result. Ignored (no coarsening) for ``decay="euler"``.
    **learner_kwargs
        Passed to :class:`STDPLearner` (``decay``, ``traces_first``, ...).

    Returns
    -------
    float
        The absolute weight change ``w_end - w0`` (weight units), or the relative one.
    """
    pre_steps, post_steps, _ = pairing_spike_steps(n_pairs, delta_t_ms, frequency_hz, dt)
    change = _diagonal_weight_changes(rule, [(pre_steps, post_steps)], dt, w0, device, relative, coarsen, learner_kwargs,
                                      _PROTOCOL_FIX)
    return float(change[0])


def pairing_sweep(
    rule: Rule,
    delta_t_ms: Union[float, Sequence[float], torch.Tensor],
    frequency_hz: Union[float, Sequence[float], torch.Tensor],
    n_pairs: int = 60,
    dt: float = 0.1,
    w0: Optional[float] = None,
    device: Union[str, torch.device] = "cpu",
    *,
    relative: bool = False,
    coarsen: bool = True,
    **learner_kwargs,
) -> PairingCurve:
    """:func:`pairing_weight_change` over every combination of lags and frequencies.

    The protocols of one frequency run side by side in one :class:`STDPLearner` run (lag ``i``
    drives the ``i``-th diagonal synapse of an ``nn.Linear(n, n)``; weight dependence and
    bounds act elementwise) on the coarsest grid that holds all their spikes, so each entry
    equals :func:`pairing_weight_change` for that protocol to rounding, and a sweep over 24
    lags costs about what a few single protocols do.

    Parameters
    ----------
    rule : STDPRule
    delta_t_ms : float or sequence of float
        Lags in ms (each a multiple of ``dt``).
    frequency_hz : float or sequence of float
        Frequencies in Hz.
    n_pairs, dt, w0, device, relative, coarsen, **learner_kwargs
        As for :func:`pairing_weight_change` (``decay``, ``traces_first``, ...).

    Returns
    -------
    PairingCurve
        Axes and the ``(n_lags, n_frequencies)`` table of weight changes.

    Examples
    --------
    >>> curve = pairing_sweep(rule, torch.arange(-50.0, 51.0, 5.0), 1.0)   # a window at 1 Hz
    >>> table = pairing_sweep(rule, [10.0, -10.0], [0.1, 10, 20, 40, 50])  # Sjöström protocol
    """
    lags = as_float_vector("delta_t_ms", delta_t_ms)
    freqs = as_float_vector("frequency_hz", frequency_hz, finite=False)  # NaN/inf: pairing_spike_steps says
    n = lags.numel()  # one synapse per lag: an n x n layer (before the loop places every protocol)
    check_bytes(f"pairing_sweep over {n} lags (an {n} x {n} layer)", n * n * 8.0 * 4,
                "sweep fewer lags (delta_t_ms), e.g. a few dozen")
    table = torch.empty(lags.numel(), freqs.numel(), dtype=torch.float64)
    for column, freq in enumerate(freqs.tolist()):
        # one run per frequency: its protocols share the pre spikes and most of the grid (runs
        # of different frequencies together would add up their events and refine the grid)
        placed = [pairing_spike_steps(n_pairs, lag, freq, dt)[:2] for lag in lags.tolist()]
        table[:, column] = _diagonal_weight_changes(rule, placed, dt, w0, device, relative, coarsen, learner_kwargs,
                                                    _PROTOCOL_FIX + ", or fewer lags (delta_t_ms)")
    return PairingCurve(lags, freqs, table)


def single_pair_weight_changes(
    rule: Rule,
    delta_t_ms: Union[float, Sequence[float], torch.Tensor],
    w0: Optional[float] = None,
    dt: float = 1.0,
    device: Union[str, torch.device] = "cpu",
) -> torch.Tensor:
    r"""Weight change caused by one isolated pre/post pair at each lag, simulated by :class:`STDPLearner`.

    The learner's counterpart of the closed-form window :func:`~stdpwidgets.core.stdp_window`
    (they agree to rounding for every pairing and weight dependence: one pair is one update).
    Every lag gets its own synapse, the diagonal of a float64 ``nn.Linear(n, n)``: synapse
    ``i`` joins input ``i`` to output ``i`` and sees only lag ``i``'s pair (weight dependence
    and bounds act elementwise; off-diagonal weights see unpaired spikes and are ignored), so
    one :meth:`STDPLearner.run` gives the whole curve.

    Parameters
    ----------
    rule : Rule
        The plasticity rule (:class:`STDPRule`, :class:`TripletRule`, ...).
    delta_t_ms : float or sequence of float
        :math:`\Delta t = t_{post} - t_{pre}` per synapse, ms; each a multiple of ``dt``. A lag
        of 0 puts both spikes in one step, which makes no pair under the learner's default
        ordering (change 0).
    w0 : float, optional
        Weight of every synapse before its pair; default: the middle of the rule's bounds
        when both are finite, else 1 (clipped to the bounds).
    dt : float
        Time step, ms (default 1).
    device : str or torch.device
        Where the learner runs.

    Returns
    -------
    Tensor
        float64 ``(n_lags,)`` on the CPU: ``w_after - w0`` per lag (weight units).

    Examples
    --------
    >>> rule = STDPRule(16.8, 33.7, 0.01, 0.0105)
    >>> single_pair_weight_changes(rule, [-10.0, 10.0])   # about [-0.0078, 0.0055]
    """
    dt = check_positive("dt", dt, "ms")
    lags = as_float_vector("delta_t_ms", delta_t_ms)
    lag_steps = [_lag_steps(float(lag), dt) for lag in lags.tolist()]
    first_pre = max(abs(lag) for lag in lag_steps)  # so that the earliest post spike is at step >= 0
    placed = [(torch.tensor([first_pre]), torch.tensor([first_pre + lag])) for lag in lag_steps]
    return _diagonal_weight_changes(
        rule, placed, dt, w0, device, False, True, {},
        "use lags |delta_t_ms| of at most a few time constants (the window is ~0 beyond), fewer lags or a coarser dt",
    )
