r"""The linear Poisson neuron and the drift of STDP with input-output correlations.

The neuron fires as an inhomogeneous Poisson process of intensity

.. math:: \lambda(t) = \nu_0 + \sum_j w_j \sum_f \epsilon(t - t_j^f),
          \qquad \epsilon(s) = \frac{e^{-s/\tau_\epsilon}}{\tau_\epsilon}\ (s > 0),

so each input spike adds, on average, :math:`w_j` output spikes. For pair STDP with window
:math:`W(s)` (:math:`s = t_{post} - t_{pre}`) and Poisson inputs at rate :math:`\nu`, the drift
of weight :math:`i` (Kempter, Gerstner & van Hemmen 1999) is

.. math:: \langle \dot w_i \rangle = \nu\,\nu_{post}\,\bar W
          + \hat C \sum_j K_{ij} w_j ,\qquad
          \bar W = \int W(s)\,ds,\quad \hat C = \int W(s)\,\epsilon(s)\,ds ,

where :math:`\nu_{post} = \nu_0 + \nu \sum_j w_j` and :math:`K_{ij}` is the zero-lag
covariance density of the inputs: :math:`K_{ii} = \nu`, :math:`K_{ij} = c\,\nu` for two inputs
of one correlated group (:mod:`~stdpwidgets.sim.correlated_inputs`), 0 otherwise. For a
weight-dependent rule :math:`F_\pm(w_i)` multiply the potentiation and depression parts.

On a time grid (``dt`` given) the same computation is exact for the learner's conventions (a
pre and a post spike in one step make no pair; an input spike acts on the intensity from the
next step on, through :math:`\epsilon_m = (1 - r) r^{m-1}/dt` with :math:`r = e^{-dt/\tau_\epsilon}`):
the integrals become sums, :math:`\tau \to dt\,q/(1 - q)` with :math:`q = e^{-dt/\tau}`, and
:math:`\tau_+/(\tau_+ + \tau_\epsilon) \to (1 - r)\,q_+/(1 - r q_+)`; the spike indicators'
covariances are :math:`p(1-p)` and :math:`p(c - p)` with :math:`p = \nu\,dt`.

Rates are in Hz, times in ms, drifts in weight units per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Union

import torch
from torch import nn

from ..core import STDPLearner, STDPRule, trace_sequence
from ._budget import check_bytes, check_steps, check_work
from ._checks import check_count, check_finite, check_positive, check_tensor, make_generator


def _check_rule(rule) -> STDPRule:
    if not isinstance(rule, STDPRule):
        raise TypeError(f"rule must be an STDPRule (the drift formulas are for the pair rule), got {type(rule).__name__}")
    return rule


def _weights(name: str, weights) -> torch.Tensor:
    """Weights as a flat float64 tensor: finite, at least one."""
    try:
        w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a tensor or sequence of numbers, got {type(weights).__name__}") from None
    if w.numel() == 0:
        raise ValueError(f"{name} needs at least one weight")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return w


def _correlation(correlation) -> float:
    correlation = check_positive("correlation", correlation, allow_zero=True)
    if correlation > 1:
        raise ValueError(f"correlation must lie in [0, 1], got {correlation}")
    return correlation
from .correlated_inputs import _check_groups, correlated_poisson_groups, group_labels

__all__ = [
    "window_integral",
    "window_epsilon_integral",
    "linear_poisson_rate",
    "linear_poisson_drift",
    "critical_weight",
    "regulated_rate_bound",
    "linear_poisson_output",
    "measure_linear_poisson_drift",
    "MeasuredDrift",
    "linear_poisson_stdp",
    "LinearPoissonRun",
    "group_symmetry",
    "GroupSymmetry",
]


def _areas(rule: STDPRule, dt: Optional[float]):
    """Per unit amplitude: the potentiation and depression areas of the window, ms."""
    _check_rule(rule)
    if dt is None:
        return rule.tau_pre, rule.tau_post
    dt = check_positive("dt", dt, "ms")
    return dt / math.expm1(dt / rule.tau_pre), dt / math.expm1(dt / rule.tau_post)


def _overlap(rule: STDPRule, tau_epsilon: float, dt: Optional[float]) -> float:
    """Per unit potentiation amplitude: the integral of exp(-s/tau_pre) eps(s) (dimensionless)."""
    tau_epsilon = check_positive("tau_epsilon", tau_epsilon, "ms")
    if dt is None:
        return rule.tau_pre / (rule.tau_pre + tau_epsilon)
    dt = check_positive("dt", dt, "ms")
    r, q = math.exp(-dt / tau_epsilon), math.exp(-dt / rule.tau_pre)
    return (1.0 - r) * q / (1.0 - r * q)


def _factors(rule: STDPRule, w: Optional[Union[float, torch.Tensor]]):
    _check_rule(rule)
    if w is None:
        if not rule.weight_independent:
            raise ValueError(f"the {rule.dependence.name!r} rule depends on the weight; pass w")
        w = 0.0
    w = check_finite("w", w) if not isinstance(w, torch.Tensor) or w.numel() == 1 else w
    f_plus, f_minus = rule.amplitudes(torch.as_tensor(w, dtype=torch.float64))
    return f_plus, f_minus


def window_integral(rule: STDPRule, w: Optional[float] = None, dt: Optional[float] = None) -> float:
    r"""The area of the window, :math:`\bar W = F_+(w)\tau_+ - F_-(w)\tau_-` (weight units x ms).

    With ``dt`` the grid's area :math:`F_+ dt/(e^{dt/\tau_+} - 1) - F_- dt/(e^{dt/\tau_-} - 1)`
    (same-step pairs dropped).
    """
    f_plus, f_minus = _factors(rule, w)
    up, down = _areas(rule, dt)
    return float(f_plus * up - f_minus * down)


def window_epsilon_integral(rule: STDPRule, tau_epsilon: float, w: Optional[float] = None,
                            dt: Optional[float] = None) -> float:
    r""":math:`\hat C = \int W(s)\,\epsilon(s)\,ds = F_+(w)\,\tau_+/(\tau_+ + \tau_\epsilon)`.

    The overlap of the window with the normalised PSP kernel (weight units); only the causal
    side counts because :math:`\epsilon(s) = 0` for :math:`s < 0`. With ``dt`` the grid's sum
    :math:`F_+ (1 - r) q_+ / (1 - r q_+)`.
    """
    f_plus, _ = _factors(rule, w)
    return float(f_plus * _overlap(rule, tau_epsilon, dt))


def linear_poisson_rate(weights: torch.Tensor, rate_hz: float, rate0_hz: float = 0.0) -> float:
    r"""Mean output rate :math:`\nu_0 + \nu \sum_j w_j` of the linear Poisson neuron, Hz."""
    weights = _weights("weights", weights)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    rate0_hz = check_positive("rate0_hz", rate0_hz, "Hz", allow_zero=True)
    return float(rate0_hz + rate_hz * weights.sum())


def _covariance_density(n: int, rate_hz: float, group_sizes, correlation: float, dt: Optional[float]):
    """K_ij in Hz: zero-lag covariance density of the input spikes (see the module doc)."""
    nu = rate_hz
    p = 0.0 if dt is None else rate_hz * dt / 1000.0
    if group_sizes is None:
        group_sizes = [n]
        if correlation != 0:
            raise ValueError("a correlation needs group_sizes")
    labels = group_labels(group_sizes)
    if labels.numel() != n:
        raise ValueError(f"group_sizes add up to {labels.numel()} inputs but there are {n} weights")
    check_bytes(f"the {n} x {n} covariance of {n} inputs", n * n * 8.0 * 3, "use fewer weights (up to ~10 000)")
    same = (labels[:, None] == labels[None, :]).to(torch.float64)
    off = nu * (correlation - p) if correlation > 0 else 0.0
    k = same * off
    k.fill_diagonal_(nu * (1.0 - p))
    return k


def linear_poisson_drift(
    rule: STDPRule,
    weights: torch.Tensor,
    rate_hz: float,
    tau_epsilon: float,
    *,
    rate0_hz: float = 0.0,
    group_sizes: Optional[Sequence[int]] = None,
    correlation: float = 0.0,
    dt: Optional[float] = None,
) -> torch.Tensor:
    r"""Expected drift of every weight of a linear Poisson neuron, weight units per second.

    .. math:: \langle \dot w_i \rangle = \nu\,\nu_{post}\,\big(F_+(w_i)\tau_+ - F_-(w_i)\tau_-\big)
              + F_+(w_i)\,\frac{\tau_+}{\tau_+ + \tau_\epsilon} \sum_j K_{ij} w_j

    (for an additive rule the first bracket is :math:`\bar W` and the second factor
    :math:`\hat C`). Inputs are Poisson at ``rate_hz`` each, correlated within the groups of
    ``group_sizes`` with coefficient ``correlation``; ``dt`` selects the exact grid version.

    Parameters
    ----------
    rule : STDPRule
        All-to-all pairing (the formula is the all-to-all pair sum).
    weights : Tensor
        ``(n,)`` weights: mean extra output spikes per input spike.
    rate_hz, rate0_hz : float
        Input rate and spontaneous output rate, Hz.
    tau_epsilon : float
        Time constant of the PSP kernel, ms.

    Returns
    -------
    Tensor
        ``(n,)`` float64 drifts, per second.
    """
    if _check_rule(rule).pairing != "all-to-all":
        raise ValueError("the drift formula is for all-to-all pairing")
    w = _weights("weights", weights)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    correlation = _correlation(correlation)
    nu = rate_hz * 1e-3  # per ms
    nu_post = linear_poisson_rate(w, rate_hz, rate0_hz) * 1e-3
    up, down = _areas(rule, dt)
    overlap = _overlap(rule, tau_epsilon, dt)
    f_plus, f_minus = rule.amplitudes(w)
    k = _covariance_density(w.numel(), rate_hz, group_sizes, correlation, dt) * 1e-3  # per ms
    per_ms = nu * nu_post * (f_plus * up - f_minus * down) + f_plus * overlap * (k @ w)
    return per_ms * 1e3


def critical_weight(rule: STDPRule, rate_post_hz: float, tau_epsilon: float) -> float:
    r"""The weight where an additive rule's drift changes sign, independent inputs:
    :math:`w_c = -\nu_{post}\,\bar W / \hat C` (ms and Hz converted). Above it a weight grows,
    below it it shrinks, so :math:`w_c` is an unstable fixed point.
    """
    if not _check_rule(rule).weight_independent:
        raise ValueError("the critical weight is defined for the additive rule")
    rate_post_hz = check_positive("rate_post_hz", rate_post_hz, "Hz", allow_zero=True)
    overlap = window_epsilon_integral(rule, tau_epsilon)
    if overlap == 0:
        raise ValueError("the critical weight needs potentiation (a_plus > 0): with a_plus = 0 no weight grows")
    return -rate_post_hz * 1e-3 * window_integral(rule) / overlap


def regulated_rate_bound(rule: STDPRule, w_max: float, tau_epsilon: float) -> float:
    r"""The largest output rate at which a weight held at ``w_max`` stays there (Hz):
    :math:`\nu_{post} \le w_{max}\,\hat C / |\bar W|`, additive rule with :math:`\bar W < 0`.

    It does not depend on the input rate or the number of inputs: the rate regulation of
    Song, Miller & Abbott (2000) in the linear neuron.
    """
    w_max = check_finite("w_max", w_max)
    area = window_integral(rule)
    if area >= 0:
        raise ValueError("the bound needs a depression-dominated window (negative area)")
    return w_max * window_epsilon_integral(rule, tau_epsilon) / -area * 1e3


def linear_poisson_output(
    pre: torch.Tensor,
    weights: torch.Tensor,
    dt: float,
    tau_epsilon: float,
    rate0_hz: float = 0.0,
    state: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
):
    r"""Output spikes of the linear Poisson neuron for given input spikes.

    Parameters
    ----------
    pre : Tensor
        ``(T, batch, n)`` input spikes.
    weights : Tensor
        ``(n,)`` weights.
    state : Tensor, optional
        ``(batch,)`` filtered drive carried over from the previous call (default 0).

    Returns
    -------
    (Tensor, Tensor)
        Output spikes ``(T, batch, 1)`` (float64; the probability :math:`\lambda\,dt` is
        clipped to 1) and the new ``state``.
    """
    pre = check_tensor("pre", pre, "(T, batch, n)")
    if pre.dim() != 3:
        raise ValueError(f"pre must be shaped (T, batch, n), got {tuple(pre.shape)}")
    w = _weights("weights", weights)
    if w.numel() != pre.shape[2]:
        raise ValueError(f"weights has {w.numel()} values but pre has {pre.shape[2]} inputs")
    dt = check_positive("dt", dt, "ms")
    tau_epsilon = check_positive("tau_epsilon", tau_epsilon, "ms")
    rate0_hz = check_positive("rate0_hz", rate0_hz, "Hz", allow_zero=True)
    steps, batch = pre.shape[:2]
    if state is not None:
        state = check_tensor("state", state, "(batch,)")
        if tuple(state.shape) != (batch,):
            raise ValueError(f"state must be shaped (batch,) = ({batch},), got {tuple(state.shape)}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    r = math.exp(-dt / tau_epsilon)
    drive = pre.to(torch.float64) @ w
    carry = torch.zeros(batch, dtype=torch.float64) if state is None else state
    filtered = trace_sequence(drive, carry, r, "all-to-all")  # X_k = r X_{k-1} + D_k
    before = torch.cat([carry.unsqueeze(0), filtered[:-1]])  # an input acts from the next step on
    intensity = rate0_hz * 1e-3 + (1.0 - r) / dt * before  # per ms
    probability = (intensity * dt).clamp(0.0, 1.0)
    post = (torch.rand(probability.shape, generator=generator, dtype=torch.float64) < probability)
    return post.to(torch.float64).unsqueeze(-1), filtered[-1].clone()


class MeasuredDrift(NamedTuple):
    """Monte Carlo drift of :func:`measure_linear_poisson_drift`: mean and standard error per
    weight (per second, over segments) and the measured output rate (Hz)."""

    mean: torch.Tensor
    sem: torch.Tensor
    output_rate_hz: float
    samples: torch.Tensor  # (n_segments, n): the drift measured in each segment, per second


def measure_linear_poisson_drift(
    rule: STDPRule,
    weights: torch.Tensor,
    rate_hz: float,
    tau_epsilon: float,
    duration_ms: float,
    dt: float = 1.0,
    *,
    rate0_hz: float = 0.0,
    group_sizes: Optional[Sequence[int]] = None,
    correlation: float = 0.0,
    n_segments: int = 20,
    seed: Optional[int] = 0,
) -> MeasuredDrift:
    r"""Measure the drift of :func:`linear_poisson_drift` by simulation, weights held fixed.

    The neuron runs for ``duration_ms`` with the given weights; two learners on the same
    spikes collect the potentiation sum :math:`\sum x(t_{post,-})` and the depression sum
    :math:`\sum y(t_{pre,-})` of each synapse (unit amplitudes, no bounds), so the drift at
    the fixed weights is :math:`F_+(w_i) P_i - F_-(w_i) D_i`. The run is cut into
    ``n_segments`` consecutive segments; the mean over segments and its standard error are
    returned (segments much longer than the time constants are nearly independent).
    """
    if _check_rule(rule).pairing != "all-to-all":
        raise ValueError("measure the all-to-all rule (the formula's pairing)")
    w = _weights("weights", weights)
    n = w.numel()
    n_segments = check_count("n_segments", n_segments, minimum=2)
    duration_ms = check_positive("duration_ms", duration_ms, "ms")
    dt = check_positive("dt", dt, "ms")
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    tau_epsilon = check_positive("tau_epsilon", tau_epsilon, "ms")
    rate0_hz = check_positive("rate0_hz", rate0_hz, "Hz", allow_zero=True)
    correlation = _correlation(correlation)
    if rate_hz * dt / 1000.0 > 1:
        raise ValueError(f"rate_hz * dt / 1000 = {rate_hz * dt / 1000.0} > 1; use a smaller dt")
    fix = (f"use a shorter duration_ms (now {duration_ms:g} ms) or a coarser dt (now {dt:g} ms); "
           "the book measures 200 000 ms at dt = 1 ms")
    check_steps(f"measure_linear_poisson_drift with duration_ms = {duration_ms:g} ms at dt = {dt:g} ms",
                duration_ms / dt, fix)
    steps = max(1, int(round(duration_ms / dt)))
    check_work(f"measure_linear_poisson_drift with {n} inputs for {steps} steps", float(steps) * n, fix + ", or fewer weights")
    per_segment = steps // n_segments
    if per_segment < 1:
        raise ValueError(f"duration_ms = {duration_ms} ms is {steps} steps, fewer than n_segments = {n_segments}; "
                         f"use duration_ms >= {n_segments * dt} ms or fewer n_segments")
    check_bytes(f"measure_linear_poisson_drift with {n} inputs and segments of {per_segment} steps",
                float(per_segment) * n * 8 * 8, "use more n_segments (shorter segments) or fewer weights")
    generator = make_generator(None, seed, torch.device("cpu")) if seed is not None else None
    sums = {}
    learners = {}
    for part, (a_plus, a_minus) in (("potentiation", (1.0, 0.0)), ("depression", (0.0, 1.0))):
        unit = STDPRule(rule.tau_pre, rule.tau_post, a_plus, a_minus)
        learners[part] = STDPLearner(nn.Linear(n, 1, bias=False, dtype=torch.float64), unit, dt=dt)
        sums[part] = []
    state = None
    post_spikes = 0
    for _ in range(n_segments):
        pre = correlated_poisson_groups(rate_hz, per_segment, dt, group_sizes or [n], correlation,
                                        generator=generator, dtype=torch.float64)
        post, state = linear_poisson_output(pre, w, dt, tau_epsilon, rate0_hz, state, generator)
        post_spikes += int(post.sum())
        for part, learner in learners.items():
            sums[part].append(learner.run(pre, post)[0].abs())
    f_plus, f_minus = rule.amplitudes(w)
    seconds = per_segment * dt / 1000.0
    samples = (f_plus * torch.stack(sums["potentiation"]) - f_minus * torch.stack(sums["depression"])) / seconds
    return MeasuredDrift(
        mean=samples.mean(dim=0),
        sem=samples.std(dim=0) / math.sqrt(n_segments),
        output_rate_hz=post_spikes / (n_segments * seconds),
        samples=samples,
    )


@dataclass(frozen=True)
class LinearPoissonRun:
    """Outcome of :func:`linear_poisson_stdp`.

    Attributes
    ----------
    times_ms : Tensor
        Snapshot times ``(n_snapshots + 1,)``, ms.
    weights : Tensor
        ``(n_snapshots + 1, n)`` weights at those times.
    output_rate_hz : Tensor
        Output rate in each interval between snapshots, ``(n_snapshots,)``.
    groups : Tensor
        Group index of every input, ``(n,)``.
    rule : STDPRule
        The rule that learned.
    """

    times_ms: torch.Tensor
    weights: torch.Tensor
    output_rate_hz: torch.Tensor
    groups: torch.Tensor
    rule: STDPRule

    @property
    def final_weights(self) -> torch.Tensor:
        return self.weights[-1]

    def group_means(self) -> torch.Tensor:
        """Mean weight of every group at every snapshot, ``(n_snapshots + 1, n_groups)``."""
        n_groups = int(self.groups.max()) + 1
        return torch.stack([self.weights[:, self.groups == g].mean(dim=1) for g in range(n_groups)], dim=1)


def linear_poisson_stdp(
    rule: STDPRule,
    group_sizes: Sequence[int],
    rate_hz: float,
    correlation: float,
    duration_ms: float,
    *,
    tau_epsilon: float = 10.0,
    rate0_hz: float = 0.0,
    weight_scale: float = 1.0,
    dt: float = 1.0,
    initial_weights: Optional[torch.Tensor] = None,
    n_snapshots: int = 20,
    block_ms: float = 50.0,
    seed: Optional[int] = 0,
) -> LinearPoissonRun:
    r"""STDP on the weights of a linear Poisson neuron driven by groups of correlated inputs.

    The neuron is simulated in blocks of ``block_ms`` with the weights of the block's start;
    the learner then runs over the block's spikes (the same scheme as
    :func:`~stdpwidgets.sim.song2000.song2000`).

    Parameters
    ----------
    rule : STDPRule
        Any all-to-all rule with finite bounds (e.g. ``weight_dependence="gutig"``).
    group_sizes : sequence of int
        Inputs per group; inputs of a group are correlated with coefficient ``correlation``.
    rate_hz : float
        Rate of every input, Hz.
    duration_ms : float
        Simulated time, ms.
    weight_scale : float
        The neuron's efficacy of input :math:`j` is ``weight_scale * w_j`` (mean extra output
        spikes per input spike), so the rule can work on weights in [0, 1].
    initial_weights : Tensor, optional
        ``(n,)`` start; default all at the middle of the rule's bounds.
    """
    if not (math.isfinite(_check_rule(rule).w_min) and math.isfinite(rule.w_max)):
        raise ValueError("give the rule finite bounds w_min and w_max")
    sizes = _check_groups(group_sizes)
    groups = group_labels(sizes)
    n = groups.numel()
    n_snapshots = check_count("n_snapshots", n_snapshots, minimum=1)
    dt = check_positive("dt", dt, "ms")
    weight_scale = check_positive("weight_scale", weight_scale)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    correlation = _correlation(correlation)
    tau_epsilon = check_positive("tau_epsilon", tau_epsilon, "ms")
    rate0_hz = check_positive("rate0_hz", rate0_hz, "Hz", allow_zero=True)
    duration_ms = check_positive("duration_ms", duration_ms, "ms")
    block_ms = check_positive("block_ms", block_ms, "ms")
    if rate_hz * dt / 1000.0 > 1:
        raise ValueError(f"rate_hz * dt / 1000 = {rate_hz * dt / 1000.0} > 1; use a smaller dt")
    if initial_weights is not None:
        start = _weights("initial_weights", initial_weights)
        if start.numel() != n:
            raise ValueError(f"initial_weights needs {n} values (sum of group_sizes), got {start.numel()}")
        if bool((start < rule.w_min).any()) or bool((start > rule.w_max).any()):
            raise ValueError(f"initial_weights must lie in the rule's bounds [{rule.w_min}, {rule.w_max}]")
    fix = (f"use a shorter duration_ms (now {duration_ms:g} ms) or a coarser dt (now {dt:g} ms); "
           "the book runs 200 000 ms at dt = 1 ms")
    check_steps(f"linear_poisson_stdp with duration_ms = {duration_ms:g} ms at dt = {dt:g} ms", duration_ms / dt, fix)
    total = max(1, int(round(duration_ms / dt)))
    check_work(f"linear_poisson_stdp with {n} inputs for {total} steps", float(total) * n, fix + ", or fewer inputs")
    if n_snapshots > total:
        raise ValueError(f"n_snapshots = {n_snapshots} is more than the {total} steps of the run; "
                         f"use n_snapshots <= {total}")
    block = max(1, int(round(min(block_ms / dt, float(total)))))
    check_bytes(f"linear_poisson_stdp with block_ms = {block_ms:g} ms and {n} inputs",
                float(block) * n * 8 * 8 + (n_snapshots + 1) * n * 8.0,
                "use a shorter block_ms (default 50 ms), fewer inputs or fewer n_snapshots")
    generator = make_generator(None, seed, torch.device("cpu")) if seed is not None else None
    layer = nn.Linear(n, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        if initial_weights is None:
            layer.weight.fill_(0.5 * (rule.w_min + rule.w_max))
        else:
            layer.weight.copy_(torch.as_tensor(initial_weights, dtype=torch.float64).reshape(1, n))
    learner = STDPLearner(layer, rule, dt=dt)
    snapshot_steps = torch.linspace(0, total, n_snapshots + 1).round().to(torch.long).tolist()
    weights = [layer.weight.detach()[0].clone()]
    counts = []
    state, done = None, 0
    for snap in range(n_snapshots):
        fired = 0
        while done < snapshot_steps[snap + 1]:
            steps = min(block, snapshot_steps[snap + 1] - done)
            pre = correlated_poisson_groups(rate_hz, steps, dt, sizes, correlation,
                                            generator=generator, dtype=torch.float64)
            efficacy = weight_scale * layer.weight.detach()[0]
            post, state = linear_poisson_output(pre, efficacy, dt, tau_epsilon,
                                                rate0_hz, state, generator)
            fired += int(post.sum())
            learner.run(pre, post)
            done += steps
        weights.append(layer.weight.detach()[0].clone())
        counts.append(fired)
    times = torch.tensor(snapshot_steps, dtype=torch.float64) * dt
    rates = torch.tensor(counts, dtype=torch.float64) / ((times[1:] - times[:-1]) / 1000.0)
    return LinearPoissonRun(times, torch.stack(weights), rates, groups, rule)


class GroupSymmetry(NamedTuple):
    """Mean-field fixed point of two equal correlated groups (:func:`group_symmetry`)."""

    weight: float  # the symmetric fixed point W* (rule's weight units)
    rate_hz: float  # the output rate there
    antisymmetric: float  # growth rate of W1 - W2 at W*, per second (> 0: the symmetry breaks)
    symmetric: float  # growth rate of W1 + W2 at W*, per second (< 0: the fixed point is stable)


def _group_drift(rule, w1, w2, n, rate_hz, correlation, tau_epsilon, weight_scale, rate0_hz):
    """Mean-field drift (per ms) of group 1's weight with groups at w1, w2 (continuous)."""
    nu = rate_hz * 1e-3
    nu_post = rate0_hz * 1e-3 + nu * weight_scale * n * (w1 + w2)
    f_plus, f_minus = rule.amplitudes(torch.as_tensor(w1, dtype=torch.float64))
    overlap = rule.tau_pre / (rule.tau_pre + tau_epsilon)
    own = nu * weight_scale * w1 * (1.0 + correlation * (n - 1))  # sum_j K_1j e_j
    return float(nu * nu_post * (f_plus * rule.tau_pre - f_minus * rule.tau_post) + f_plus * overlap * own)


def group_symmetry(rule: STDPRule, n_per_group: int, rate_hz: float, correlation: float,
                   tau_epsilon: float = 10.0, weight_scale: float = 1.0,
                   rate0_hz: float = 0.0) -> GroupSymmetry:
    r"""Symmetric fixed point of two groups of ``n_per_group`` correlated inputs and its stability.

    Mean field (every weight of a group equal, continuous time): group :math:`g` drifts at
    :math:`\nu\nu_{post}(F_+(W_g)\tau_+ - F_-(W_g)\tau_-) + F_+(W_g)\frac{\tau_+}{\tau_+ + \tau_\epsilon}
    \nu s W_g (1 + c(n - 1))` with :math:`\nu_{post} = \nu_0 + \nu s n (W_1 + W_2)` and
    :math:`s` = ``weight_scale``. The fixed point :math:`W_1 = W_2 = W^*` is found by bisection
    inside the rule's bounds; the two eigenvalues are the derivatives along :math:`W_1 - W_2`
    (where :math:`\nu_{post}` does not change) and along :math:`W_1 + W_2`, by central
    differences. Gütig et al. (2003): the symmetry breaks where the first turns positive.
    """
    n = check_count("n_per_group", n_per_group, minimum=1)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    correlation = _correlation(correlation)
    tau_epsilon = check_positive("tau_epsilon", tau_epsilon, "ms")
    weight_scale = check_positive("weight_scale", weight_scale)
    rate0_hz = check_positive("rate0_hz", rate0_hz, "Hz", allow_zero=True)
    low, high = _check_rule(rule).w_min, rule.w_max
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("give the rule finite bounds")
    args = (n, rate_hz, correlation, tau_epsilon, weight_scale, rate0_hz)

    def drift(w):
        return _group_drift(rule, w, w, *args)

    a, b = low + 1e-12 * (high - low), high - 1e-12 * (high - low)
    if drift(a) * drift(b) > 0:
        raise ValueError("no symmetric fixed point inside the bounds: every weight runs to one bound")
    for _ in range(200):
        mid = 0.5 * (a + b)
        if drift(a) * drift(mid) <= 0:
            b = mid
        else:
            a = mid
    w_star = 0.5 * (a + b)
    h = 1e-6 * (high - low)
    d11 = (_group_drift(rule, w_star + h, w_star, *args) - _group_drift(rule, w_star - h, w_star, *args)) / (2 * h)
    d12 = (_group_drift(rule, w_star, w_star + h, *args) - _group_drift(rule, w_star, w_star - h, *args)) / (2 * h)
    rate = rate0_hz + rate_hz * weight_scale * 2 * n * w_star
    return GroupSymmetry(w_star, rate, (d11 - d12) * 1e3, (d11 + d12) * 1e3)
