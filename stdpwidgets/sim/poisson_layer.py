r"""A layer of stochastic neurons driven by Poisson inputs, its weights learning by STDP.

The inputs of an ``nn.Linear(n_inputs, n_outputs)`` fire as independent Poisson trains. Each
output is a linear-Poisson neuron with a one-step synaptic delay: in step ``t`` it fires with
probability

.. math:: p_i(t) = \nu_0\,dt + c \sum_j w_{ij}\, s_j(t - 1)

(clipped to [0, 1]; :math:`\nu_0` the spontaneous rate, :math:`c` the coupling), so every
input spike raises the chance of an output spike one step later in proportion to its weight.
That causal correlation lets a strong synapse potentiate itself: under additive STDP the
weights split towards the bounds (a bimodal histogram, as in Song, Miller & Abbott 2000),
under multiplicative STDP they gather around one value near
:func:`~stdpwidgets.core.multiplicative_fixed_point` (unimodal; van Rossum et al. 2000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import torch
from torch import nn

from ..core import Rule, STDPLearner, STDPRule
from ._budget import check_bytes, check_steps, check_work
from ._checks import check_count, check_device, check_finite, check_index, check_positive, make_generator
from .spikes import poisson_spikes

__all__ = ["PoissonLayerResult", "simulate_poisson_layer"]


@dataclass(frozen=True)
class PoissonLayerResult:
    """Outcome of :func:`simulate_poisson_layer`.

    Attributes
    ----------
    times_ms : Tensor
        Snapshot times, ``(n_snapshots + 1,)``, ms (0 first).
    weights : Tensor
        Weights at those times, ``(n_snapshots + 1, n_outputs, n_inputs)``, on the CPU.
    pre : Tensor
        Input spikes, bool ``(steps, 1, n_inputs)``; step ``i`` is time ``i * dt`` ms.
    post : Tensor
        Output spikes, bool ``(steps, 1, n_outputs)``.
    rule : Rule (STDPRule, TripletRule, ...)
        The rule that was used.
    dt : float
        Time step, ms.
    """

    times_ms: torch.Tensor
    weights: torch.Tensor
    pre: torch.Tensor
    post: torch.Tensor
    rule: Rule
    dt: float

    @property
    def initial_weights(self) -> torch.Tensor:
        """Weights before learning, ``(n_outputs, n_inputs)``."""
        return self.weights[0]

    @property
    def final_weights(self) -> torch.Tensor:
        """Weights at the end of the run, ``(n_outputs, n_inputs)``."""
        return self.weights[-1]

    @property
    def output_rate_hz(self) -> float:
        """Mean firing rate of the outputs over the run, Hz."""
        spikes = float(self.post.sum(dtype=torch.float64))
        return spikes / self.post.numel() * 1000.0 / self.dt

    def fraction_near_bounds(self, tolerance: float = 0.1, snapshot: int = -1) -> Tuple[float, float]:
        """Fractions of the weights within ``tolerance * (w_max - w_min)`` of ``w_min`` and of ``w_max``.

        Their sum measures bimodality: near 1 when additive STDP has split the weights, small
        for a unimodal histogram in the middle. Needs finite bounds.
        """
        tolerance = check_positive("tolerance", tolerance)
        snapshot = check_index("snapshot", snapshot, self.weights.shape[0])
        low, high = self.rule.w_min, self.rule.w_max
        if not (torch.isfinite(torch.tensor([low, high])).all()):
            raise ValueError("fraction_near_bounds needs a rule with finite w_min and w_max")
        scaled = (self.weights[snapshot].to(torch.float64) - low) / (high - low)
        return float((scaled <= tolerance).double().mean()), float((scaled >= 1.0 - tolerance).double().mean())


def simulate_poisson_layer(
    rule: Rule,
    n_inputs: int = 100,
    n_outputs: int = 20,
    *,
    input_rate_hz: float = 20.0,
    coupling: float = 0.03,
    duration_ms: float = 30000.0,
    dt: float = 1.0,
    spontaneous_rate_hz: float = 5.0,
    initial_weight: float = 0.5,
    initial_spread: float = 0.05,
    n_snapshots: int = 10,
    chunk_steps: int = 50,
    seed: Optional[int] = 0,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[Callable[[float], None]] = None,
) -> PoissonLayerResult:
    r"""Train an ``nn.Linear(n_inputs, n_outputs)`` by STDP on Poisson inputs (see the module doc).

    Output spikes of a chunk of ``chunk_steps`` steps are drawn with the weights at the start
    of the chunk; the chunk is then learnt with one :meth:`STDPLearner.run`, whose traces carry
    over to the next chunk. So the final weights equal one ``STDPLearner.run`` over the
    recorded spikes from the initial weights.

    Parameters
    ----------
    rule : Rule (STDPRule, TripletRule, ...)
        The plasticity rule (its bounds also clip the initial weights).
    n_inputs, n_outputs : int
        Layer size (>= 1 each).
    input_rate_hz : float
        Rate of every input, Hz (>= 0).
    coupling : float
        Output spike probability added per unit weight per input spike in the previous step
        (dimensionless, >= 0).
    duration_ms : float
        Simulated time, ms (at least one step).
    dt : float
        Time step, ms.
    spontaneous_rate_hz : float
        Output rate without input, Hz (>= 0).
    initial_weight, initial_spread : float
        Initial weights are uniform in ``initial_weight +- initial_spread``, clipped to the
        rule's bounds (weight units).
    n_snapshots : int
        Weight snapshots after the initial one, evenly spaced in time (the last at the end).
    chunk_steps : int
        Steps simulated with fixed weights before they are learnt (>= 1); shorter chunks follow
        the weights more closely, longer ones run faster.
    seed : int, optional
        Seeds the initial weights and all spikes (None: torch's global generator).
    device : str or torch.device
        Where the layer and the spikes live.
    progress : callable, optional
        Called with the fraction of the run done (0 to 1) after every chunk.

    Returns
    -------
    PoissonLayerResult
        Weight snapshots, the spike trains, the rule.

    Examples
    --------
    >>> rule = STDPRule(16.8, 33.7, 0.02, 0.0102, w_min=0.0, w_max=1.0)
    >>> result = simulate_poisson_layer(rule, 100, 20, duration_ms=30000.0)
    >>> result.fraction_near_bounds()   # additive: most weights near a bound
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    n_inputs = check_count("n_inputs", n_inputs, minimum=1)
    n_outputs = check_count("n_outputs", n_outputs, minimum=1)
    input_rate_hz = check_positive("input_rate_hz", input_rate_hz, "Hz", allow_zero=True)
    coupling = check_positive("coupling", coupling, allow_zero=True)
    duration_ms = check_positive("duration_ms", duration_ms, "ms")
    dt = check_positive("dt", dt, "ms")
    spontaneous_rate_hz = check_positive("spontaneous_rate_hz", spontaneous_rate_hz, "Hz", allow_zero=True)
    initial_weight = check_finite("initial_weight", initial_weight)
    initial_spread = check_positive("initial_spread", initial_spread, allow_zero=True)
    n_snapshots = check_count("n_snapshots", n_snapshots, minimum=1)
    chunk_steps = check_count("chunk_steps", chunk_steps, minimum=1)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking the fraction done, got {progress!r}")
    device = check_device(device)
    steps_float = duration_ms / dt  # inf only by overflow, which check_steps refuses
    fix = (f"use a shorter duration_ms (now {duration_ms:g} ms) or a coarser dt (now {dt:g} ms); "
           f"the explorers use up to 100 000 ms at dt = 1 ms")
    check_steps(f"simulate_poisson_layer with duration_ms = {duration_ms:g} ms at dt = {dt:g} ms", steps_float, fix)
    steps = int(round(steps_float))
    if steps < 1:
        raise ValueError(f"duration_ms = {duration_ms} ms is shorter than one step of dt = {dt} ms")
    synapses = n_inputs * n_outputs
    check_work(f"simulate_poisson_layer with {n_inputs} x {n_outputs} synapses for {steps} steps",
               float(steps) * synapses, fix + ", or fewer n_inputs/n_outputs")
    if n_snapshots > steps:
        raise ValueError(f"n_snapshots = {n_snapshots} is more than the {steps} steps of the run; "
                         f"use n_snapshots <= {steps}")
    # input spikes (with poisson_spikes' float32 draws), output spikes, snapshots, the layer
    nbytes = (float(steps) * (6 * n_inputs + n_outputs) + (n_snapshots + 4) * synapses * 4.0
              + min(chunk_steps, steps) * (4.0 * n_inputs + 16.0 * n_outputs))  # one chunk's drive and draws
    check_bytes(f"simulate_poisson_layer with {n_inputs} inputs, {n_outputs} outputs, {steps} steps and "
                f"{n_snapshots} snapshots", nbytes, fix + ", or fewer n_inputs, n_outputs, n_snapshots or chunk_steps")
    generator = make_generator(None, seed, device)

    layer = nn.Linear(n_inputs, n_outputs, bias=False).to(device)
    with torch.no_grad():
        noise = torch.rand(layer.weight.shape, generator=generator, device=device) * 2 - 1
        layer.weight.copy_(rule.clip(initial_weight + initial_spread * noise))
    learner = STDPLearner(layer, rule, dt=dt)
    pre_all = poisson_spikes(input_rate_hz, steps, dt, (1, n_inputs), generator=generator, device=device,
                             dtype=torch.bool)
    post_all = torch.zeros(steps, 1, n_outputs, dtype=torch.bool, device=device)
    spontaneous = spontaneous_rate_hz * dt / 1000.0
    snapshot_steps = torch.linspace(0, steps, n_snapshots + 1).round().to(torch.long).tolist()[1:]
    weights = [layer.weight.detach().clone().cpu()]
    previous = torch.zeros(1, 1, n_inputs, dtype=layer.weight.dtype, device=device)  # input before step 0
    done = 0
    for snapshot_end in snapshot_steps:
        while done < snapshot_end:
            stop = min(snapshot_end, done + chunk_steps)
            pre = pre_all[done:stop]
            delayed = torch.cat([previous, pre[:-1].to(layer.weight.dtype)])  # s_j(t - 1)
            with torch.no_grad():
                drive = delayed @ layer.weight.t()
            probability = (spontaneous + coupling * drive).clamp(0.0, 1.0)
            post = torch.rand(probability.shape, generator=generator, device=device) < probability
            post_all[done:stop] = post
            learner.run(pre, post)
            previous = pre[-1:].to(layer.weight.dtype)
            done = stop
            if progress is not None:
                progress(done / steps)
        weights.append(layer.weight.detach().clone().cpu())
    times = torch.tensor([0, *snapshot_steps], dtype=torch.float64) * dt
    return PoissonLayerResult(times_ms=times, weights=torch.stack(weights), pre=pre_all, post=post_all,
                              rule=rule, dt=dt)
