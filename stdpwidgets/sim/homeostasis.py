r"""Hebbian STDP with and without compensatory processes: integrate-and-fire neurons on Poisson input.

``n_neurons`` independent :class:`~stdpwidgets.nn.AdaptiveLIF` neurons each receive the same
``n_inputs`` Poisson trains (rate :math:`\nu`) through their own row of an
``nn.Linear(n_inputs, n_neurons)``: an input spike raises the membrane potential by the
weight (mV, a delta synapse) one step later, so it can cause an output spike that STDP then
sees as a causal pair. The first ``n_correlated`` inputs are correlated with coefficient
``correlation`` (a multiple-interaction process,
:func:`~stdpwidgets.sim.correlated_poisson_groups`), the others are independent.

Two compensatory processes can be switched on:

- an **adaptive threshold** (``theta_plus > 0``): each spike raises a neuron's threshold by
  ``theta_plus`` mV, which decays back with ``tau_theta`` ms (Diehl & Cook 2015);
- **weight normalisation** (``normalize=True``): after every block of ``block_ms`` the
  incoming weights of each neuron are rescaled to their initial sum
  (:func:`~stdpwidgets.nn.normalize_incoming_`).

Without them, additive STDP with a window that is not depression-dominated is positive
feedback: stronger weights, more output spikes, more potentiation. Used by
:class:`~stdpwidgets.widgets.HomeostasisExplorer` and chapter 10 of the book.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch
from torch import nn

from ..core import STDPLearner, STDPRule
from ..nn import AdaptiveLIF, normalize_incoming_
from ._budget import check_bytes, check_steps, check_work
from ._checks import check_bool, check_count, check_device, check_positive, make_generator
from .correlated_inputs import correlated_poisson_groups

__all__ = ["HomeostasisRun", "simulate_homeostasis", "homeostasis_rule"]


def homeostasis_rule(a_plus: float = 0.05, a_ratio: float = 1.0, w_max: float = 2.0) -> STDPRule:
    """The additive pair rule of the homeostasis runs: tau± = 20 ms, A- = a_ratio * A+, weights in [0, w_max] mV.

    ``a_ratio = 1`` is a balanced window (its integral is zero): every net change then comes
    from the causal pairs, which always potentiate.
    """
    a_plus = check_positive("a_plus", a_plus, "mV")
    a_ratio = check_positive("a_ratio", a_ratio, allow_zero=True)
    w_max = check_positive("w_max", w_max, "mV")
    return STDPRule(tau_pre=20.0, tau_post=20.0, a_plus=a_plus, a_minus=a_ratio * a_plus, w_min=0.0, w_max=w_max)


@dataclass(frozen=True)
class HomeostasisRun:
    """Outcome of :func:`simulate_homeostasis`.

    Attributes
    ----------
    times_ms : Tensor
        Snapshot times, ``(n_snapshots + 1,)``, ms (0 first).
    weights : Tensor
        Weights at those times, ``(n_snapshots + 1, n_neurons, n_inputs)``, mV, float64.
    output_rate_hz : Tensor
        Mean output rate of the neurons between consecutive snapshots, ``(n_snapshots,)``, Hz.
    theta_mv : Tensor
        Mean threshold offset at the snapshot times, ``(n_snapshots + 1,)``, mV.
    n_correlated : int
        The first ``n_correlated`` inputs are the correlated group.
    rule : STDPRule
    """

    times_ms: torch.Tensor
    weights: torch.Tensor
    output_rate_hz: torch.Tensor
    theta_mv: torch.Tensor
    n_correlated: int
    rule: STDPRule

    @property
    def final_weights(self) -> torch.Tensor:
        """Weights at the end, ``(n_neurons, n_inputs)``, mV."""
        return self.weights[-1]

    def group_means(self) -> torch.Tensor:
        """Mean weight of the correlated and of the independent inputs at each snapshot, ``(n_snapshots + 1, 2)``.

        A group with no inputs has mean NaN.
        """
        n = self.n_correlated
        nan = torch.full(self.weights.shape[:1], math.nan, dtype=torch.float64)
        correlated = self.weights[:, :, :n].mean(dim=(1, 2)) if n > 0 else nan
        independent = self.weights[:, :, n:].mean(dim=(1, 2)) if n < self.weights.shape[2] else nan
        return torch.stack([correlated, independent], dim=1)


def simulate_homeostasis(
    rule: Optional[STDPRule] = None,
    *,
    n_inputs: int = 100,
    n_neurons: int = 8,
    n_correlated: int = 20,
    correlation: float = 0.2,
    rate_hz: float = 10.0,
    initial_weight: float = 0.5,
    theta_plus: float = 0.0,
    tau_theta: float = 1000.0,
    normalize: bool = False,
    duration_ms: float = 20000.0,
    dt: float = 1.0,
    tau_mem: float = 20.0,
    n_snapshots: int = 40,
    block_ms: float = 50.0,
    seed: Optional[int] = 0,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[Callable[[float], None]] = None,
) -> HomeostasisRun:
    r"""Train ``n_neurons`` integrate-and-fire neurons by additive STDP, with optional homeostasis (module doc).

    The neurons rest at -65 mV, fire at -52 mV plus their threshold offset, reset to -65 mV
    and are refractory for 2 ms. Each block of ``block_ms`` is simulated with the weights of
    its start and then learnt with one :meth:`~stdpwidgets.core.STDPLearner.run` (traces carry
    over), as in :func:`~stdpwidgets.sim.simulate_poisson_layer`.

    Parameters
    ----------
    rule : STDPRule, optional
        Additive rule with weights in mV (default :func:`homeostasis_rule`: A± = 0.05 mV,
        tau± = 20 ms, bounds [0, 2] mV). Its bounds must be finite.
    n_inputs, n_neurons : int
        Inputs per neuron and number of independent neurons (>= 1).
    n_correlated : int
        Inputs of the correlated group (0 to ``n_inputs``).
    correlation : float
        Their correlation coefficient, in [0, 1] (0 or at least ``rate_hz * dt / 1000``).
    rate_hz : float
        Rate of every input, Hz.
    initial_weight : float
        Every weight at the start, mV (inside the rule's bounds).
    theta_plus : float
        Threshold increase per output spike, mV (0: no adaptive threshold).
    tau_theta : float
        Decay time constant of the threshold, ms.
    normalize : bool
        Rescale each neuron's incoming weights to their initial sum after every block.
    duration_ms, dt, tau_mem : float
        Simulated time, time step and membrane time constant, ms.
    n_snapshots : int
        Snapshots after the initial one, evenly spaced (the last at the end).
    block_ms : float
        Time simulated with fixed weights before they are learnt (and normalised), ms.
    seed : int, optional
        Seeds every spike (None: torch's global generator).
    device : str or torch.device
    progress : callable, optional
        Called with the fraction of the run done (0 to 1) after every block.

    Returns
    -------
    HomeostasisRun

    Examples
    --------
    >>> run = simulate_homeostasis(duration_ms=10000.0)               # the runaway
    >>> tamed = simulate_homeostasis(duration_ms=10000.0, normalize=True, theta_plus=0.5)
    >>> run.output_rate_hz[-1] > tamed.output_rate_hz[-1]
    """
    rule = homeostasis_rule() if rule is None else rule
    if not isinstance(rule, STDPRule):
        raise TypeError(f"rule must be an STDPRule (e.g. homeostasis_rule()), got {type(rule).__name__}")
    if not (math.isfinite(rule.w_min) and math.isfinite(rule.w_max)):
        raise ValueError("give the rule finite bounds w_min and w_max (mV)")
    n_inputs = check_count("n_inputs", n_inputs, minimum=1)
    n_neurons = check_count("n_neurons", n_neurons, minimum=1)
    n_correlated = check_count("n_correlated", n_correlated)
    if n_correlated > n_inputs:
        raise ValueError(f"n_correlated = {n_correlated} is more than n_inputs = {n_inputs}")
    correlation = check_positive("correlation", correlation, allow_zero=True)
    if correlation > 1:
        raise ValueError(f"correlation must lie in [0, 1], got {correlation}")
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    initial_weight = check_positive("initial_weight", initial_weight, "mV", allow_zero=True)
    if not rule.w_min <= initial_weight <= rule.w_max:
        raise ValueError(f"initial_weight = {initial_weight} mV must lie in the rule's bounds "
                         f"[{rule.w_min:g}, {rule.w_max:g}] mV")
    if normalize and initial_weight == 0:
        raise ValueError("normalize=True keeps each neuron's weight sum: give initial_weight > 0")
    theta_plus = check_positive("theta_plus", theta_plus, "mV", allow_zero=True)
    tau_theta = check_positive("tau_theta", tau_theta, "ms")
    normalize = check_bool("normalize", normalize)
    duration_ms = check_positive("duration_ms", duration_ms, "ms")
    dt = check_positive("dt", dt, "ms")
    tau_mem = check_positive("tau_mem", tau_mem, "ms")
    n_snapshots = check_count("n_snapshots", n_snapshots, minimum=1)
    block_ms = check_positive("block_ms", block_ms, "ms")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking the fraction done, got {progress!r}")
    device = check_device(device)
    if rate_hz * dt / 1000.0 > 1:
        raise ValueError(f"rate_hz * dt / 1000 = {rate_hz * dt / 1000.0:g} > 1; use a smaller dt")
    if 0 < correlation < rate_hz * dt / 1000.0 and n_correlated > 0:
        raise ValueError(f"correlation = {correlation} must be 0 or at least rate_hz * dt / 1000 = "
                         f"{rate_hz * dt / 1000.0:g}")
    fix = (f"use a shorter duration_ms (now {duration_ms:g} ms) or a coarser dt (now {dt:g} ms); "
           "the explorer runs up to 60 000 ms at dt = 1 ms")
    check_steps(f"simulate_homeostasis with duration_ms = {duration_ms:g} ms at dt = {dt:g} ms", duration_ms / dt, fix)
    total = int(round(duration_ms / dt))
    if total < 1:
        raise ValueError(f"duration_ms = {duration_ms} ms is shorter than one step of dt = {dt} ms")
    check_work(f"simulate_homeostasis with {n_inputs} x {n_neurons} synapses for {total} steps",
               float(total) * n_inputs * n_neurons, fix + ", or fewer inputs or neurons")
    if n_snapshots > total:
        raise ValueError(f"n_snapshots = {n_snapshots} is more than the {total} steps of the run; "
                         f"use n_snapshots <= {total}")
    block = max(1, min(int(round(block_ms / dt)), total))
    check_bytes(f"simulate_homeostasis with block_ms = {block_ms:g} ms",
                float(block) * n_neurons * (n_inputs + 3) * 8 * 4 + (n_snapshots + 3) * n_inputs * n_neurons ** 2 * 8.0,
                "use a shorter block_ms, fewer inputs, neurons or snapshots")
    generator = make_generator(None, seed, device)

    dtype = torch.float64
    # Each neuron has inputs of its own: one nn.Linear(n_neurons * n_inputs, n_neurons) whose weight
    # is block-diagonal (neuron i reads columns i * n_inputs to (i + 1) * n_inputs). The learner sees
    # every input-output pair; the mask puts the pairs that are not synapses back to 0 after each block.
    layer = nn.Linear(n_neurons * n_inputs, n_neurons, bias=False, dtype=dtype).to(device)
    mask = torch.block_diag(*[torch.ones(1, n_inputs, dtype=dtype, device=device)] * n_neurons)
    own = torch.arange(n_neurons, device=device)
    with torch.no_grad():
        layer.weight.copy_(initial_weight * mask)
    weight_sum = initial_weight * n_inputs

    def synapses() -> torch.Tensor:  # (n_neurons, n_inputs): each neuron's own weights
        return layer.weight.detach().view(n_neurons, n_neurons, n_inputs)[own, own].clone().cpu()

    learner = STDPLearner(layer, rule, dt=dt)
    neurons = AdaptiveLIF(n_neurons, tau_mem=tau_mem, v_rest=-65.0, v_reset=-65.0, v_threshold=-52.0,
                          refractory=2.0, theta_plus=theta_plus, tau_theta=tau_theta, dt=dt,
                          device=device, dtype=dtype)
    snapshot_steps = torch.linspace(0, total, n_snapshots + 1).round().to(torch.long).tolist()
    weights = [synapses()]
    thetas = [float(neurons.theta.mean())]
    counts = []
    previous = torch.zeros(1, n_neurons, dtype=dtype, device=device)  # the drive of the step before step 0
    done = 0
    for snap in range(n_snapshots):
        fired = 0.0
        while done < snapshot_steps[snap + 1]:
            steps = min(block, snapshot_steps[snap + 1] - done)
            parts = []
            for size, c in ((n_correlated, correlation), (n_inputs - n_correlated, 0.0)):
                if size > 0:  # every neuron's group of this kind, then split per neuron
                    spikes = correlated_poisson_groups(rate_hz, steps, dt, [size] * n_neurons, c,
                                                       generator=generator, dtype=dtype, device=device)
                    parts.append(spikes.view(steps, 1, n_neurons, size))
            pre = torch.cat(parts, dim=-1).reshape(steps, 1, n_neurons * n_inputs)
            with torch.no_grad():
                drive = pre @ layer.weight.t()  # (steps, 1, n_neurons), mV
            delayed = torch.cat([previous.unsqueeze(0), drive[:-1]])  # one step of synaptic delay
            previous = drive[-1]
            post = torch.stack([neurons(jump=delayed[k]) for k in range(steps)])
            fired += float(post.sum())
            learner.run(pre, post)
            with torch.no_grad():
                layer.weight.mul_(mask)
            if normalize:
                normalize_incoming_(layer.weight, weight_sum)
            done += steps
            if progress is not None:
                progress(done / total)
        weights.append(synapses())
        thetas.append(float(neurons.theta.mean()))
        counts.append(fired)
    times = torch.tensor(snapshot_steps, dtype=torch.float64) * dt
    rates = torch.tensor(counts, dtype=torch.float64) / n_neurons / ((times[1:] - times[:-1]) / 1000.0)
    return HomeostasisRun(times_ms=times, weights=torch.stack(weights), output_rate_hz=rates,
                          theta_mv=torch.tensor(thetas, dtype=torch.float64), n_correlated=n_correlated, rule=rule)
