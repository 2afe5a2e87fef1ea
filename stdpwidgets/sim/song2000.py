r"""Song, Miller & Abbott (2000): competitive Hebbian learning through STDP.

``n_inputs`` independent Poisson inputs drive one :class:`~stdpwidgets.sim.neurons.ConductanceLIF`
neuron through excitatory synapses whose conductances learn by pair STDP (the core's
:class:`~stdpwidgets.core.STDPLearner` on an ``nn.Linear(n_inputs, 1)``). With the additive
rule clipped to ``[0, g_max]`` the synapses compete: the weight histogram becomes bimodal (piled
at 0 and at ``g_max``) and the output rate settles far below what the inputs could drive. With
the multiplicative (soft-bound) rule, F+ = a+ (g_max - w) and F- = a- w, it stays unimodal near
the fixed point (Rubin, Lee & Sompolinsky 2001; van Rossum, Bi & Turrigiano 2000 show the same for
their mixed rule, additive potentiation and multiplicative depression) and there is no such
regulation.

What decides the outcome is the balance, per synapse, between the depression bias of the
window (``(a_ratio - 1) a_+`` times the pre and post rates times ``tau``: uncorrelated pairs
depress) and the potentiation that comes from the input's own causal share of the output
spikes (proportional to its PSP, so to ``w`` and to ``1 / n_inputs`` at a fixed total drive).
Synapses above the balance point grow to ``g_max``, those below it fall to 0, and the output
rate moves until the bias cancels on average. Measured at dt = 1 ms (seed 0; the Brian2
example's parameters otherwise):

* 1000 inputs, ``g_max = 0.01``, ``a_ratio = 1.05``, ``a_+ = 0.01``, 100 s (Brian2's example;
  about 6 s): 29 % of the weights within 0.1 ``g_max`` of 0, 17 % within 0.1 ``g_max`` of
  ``g_max``, 54 % between, output 60 Hz in the first 10 s and 21 Hz at the end: a U shape,
  not yet two piles. An independent event-driven reference of Brian2's equations at
  dt = 0.1 ms gives the same (28 % / 16 %, 20-30 Hz); at 300 s it is 32 % / 20 % with 48 %
  between. Two clear piles at the paper's scale would need many minutes of CPU time.
* 200 inputs, ``g_max = 0.05``, ``a_ratio = 1.05``: each input's causal share is five times
  larger, potentiation wins, the output climbs to about 87 Hz (31 % / 34 % after 80 s).
* 200 inputs, ``g_max = 0.05``, ``a_ratio = 1.15`` (the defaults), ``a_+ = 0.01``, 80 s:
  50 % at 0, 25 % at ``g_max``, 25 % between (histogram of 10 bins
  ``[100, 10, 7, 3, 6, 8, 2, 6, 8, 50]``); output 42 Hz in the first 8 s, 16 Hz at the end,
  against about 390 Hz with every weight at ``g_max``. With 25 Hz inputs the output starts at
  about 190 Hz and ends no faster, with fewer strong synapses (68 % / 15 %, 11 Hz over the last
  8 s): the rate regulation of the paper. With 10 Hz inputs the neuron starts near 1 Hz and
  learns too slowly for 80 s (160 s: 26 % / 28 %, about 5 Hz).
  The multiplicative rule at the same settings: every weight between 0.4 and 0.6 ``g_max``,
  output about 74 Hz. (Re-measured for chapter 9 of the book, which shows these runs.)
* 1000 inputs, ``a_ratio = 1.05`` and the paper's ``a_+ = 0.005``, 300 s (about 18 s): 38 %
  near 0, 23 % near ``g_max``, output 75 Hz at the start and 18-20 Hz at the end.

Song et al. (2000) themselves also had 200 inhibitory inputs (10 Hz), a 20 ms membrane time
constant and rest at -70 mV (as transcribed by public re-implementations; verify against the
paper); like Brian2's example, this model leaves inhibition out.

Run time of the defaults on one CPU thread of a shared 2-core machine: 2-3 s (additive) and
5-8 s (multiplicative; the soft bounds make the learner loop over events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import torch
from torch import nn

from ..core import STDPLearner, STDPRule
from ._budget import check_bytes, check_steps, check_work
from ._checks import check_choice, check_count, check_device, check_index, check_positive, make_generator
from .neurons import ConductanceLIF
from .spikes import poisson_spikes

__all__ = ["Song2000Result", "song2000", "song2000_rule", "SONG2000_DEPENDENCES"]

SONG2000_DEPENDENCES = ("additive", "multiplicative")


@dataclass(frozen=True)
class Song2000Result:
    """Outcome of :func:`song2000`.

    Attributes
    ----------
    times_ms : Tensor
        Snapshot times, ``(n_snapshots + 1,)``, ms (0 first).
    weights : Tensor
        Synaptic conductances at those times, ``(n_snapshots + 1, n_inputs)``, in leak units
        (between 0 and ``g_max``).
    output_rate_hz : Tensor
        Output firing rate in each interval between snapshots, ``(n_snapshots,)``, Hz.
    post_times_ms : Tensor
        Every output spike time, ms.
    g_max : float
        Upper weight bound.
    rule : STDPRule
        The rule that was used.
    dependence : str
        ``"additive"`` or ``"multiplicative"``.
    input_rate_hz : float
        Rate of every input, Hz.
    """

    times_ms: torch.Tensor
    weights: torch.Tensor
    output_rate_hz: torch.Tensor
    post_times_ms: torch.Tensor
    g_max: float
    rule: STDPRule
    dependence: str
    input_rate_hz: float

    @property
    def final_weights(self) -> torch.Tensor:
        """Weights at the end of the run, ``(n_inputs,)``."""
        return self.weights[-1]

    @property
    def mean_output_rate_hz(self) -> float:
        """Output rate over the whole run, Hz."""
        duration_s = float(self.times_ms[-1]) / 1000.0
        return self.post_times_ms.numel() / duration_s if duration_s > 0 else 0.0

    def histogram(self, bins: int = 20, snapshot: int = -1) -> Tuple[torch.Tensor, torch.Tensor]:
        """Histogram of the weights in units of ``g_max`` at one snapshot.

        Returns
        -------
        (Tensor, Tensor)
            ``counts`` ``(bins,)`` and bin ``edges`` ``(bins + 1,)`` over [0, 1] (w / g_max).
        """
        bins = check_count("bins", bins, minimum=1)
        snapshot = check_index("snapshot", snapshot, self.weights.shape[0])
        check_bytes(f"histogram with bins = {bins}", bins * 16.0, "use fewer bins (10 to 100)")
        scaled = (self.weights[snapshot] / self.g_max).to(torch.float64).clamp(0.0, 1.0)
        counts = torch.histc(scaled, bins=bins, min=0.0, max=1.0)
        return counts, torch.linspace(0.0, 1.0, bins + 1, dtype=torch.float64)

    def fraction_near_bounds(self, tolerance: float = 0.1, snapshot: int = -1) -> Tuple[float, float]:
        """Fractions of weights within ``tolerance * g_max`` of 0 and of ``g_max``.

        Their sum measures bimodality: near 1 for the additive rule's outcome, small for a
        unimodal histogram in the middle.
        """
        tolerance = check_positive("tolerance", tolerance)
        snapshot = check_index("snapshot", snapshot, self.weights.shape[0])
        scaled = self.weights[snapshot] / self.g_max
        low = float((scaled <= tolerance).to(torch.float64).mean())
        high = float((scaled >= 1.0 - tolerance).to(torch.float64).mean())
        return low, high


def song2000_rule(
    dependence: str = "additive",
    g_max: float = 0.01,
    a_plus: float = 0.01,
    a_ratio: float = 1.05,
    tau_pre: float = 20.0,
    tau_post: float = 20.0,
) -> STDPRule:
    r"""The STDP rule of :func:`song2000`.

    Additive: :math:`A_+ = a_+ g_{max}`, :math:`A_- = a_{ratio} A_+ \tau_{pre}/\tau_{post}`,
    clipped to :math:`[0, g_{max}]`. Multiplicative: :math:`F_+ = a_+ (g_{max} - w)`,
    :math:`F_- = a_- w` with the same :math:`a_- = a_{ratio} a_+ \tau_{pre}/\tau_{post}`, so the
    largest step is the same as the additive one. Defaults: Brian2's example of the paper
    (``a_+ = 0.01``, ``a_ratio = 1.05``, 20 ms).
    """
    dependence = check_choice("dependence", dependence, SONG2000_DEPENDENCES)
    g_max = check_positive("g_max", g_max)
    a_plus = check_positive("a_plus", a_plus, allow_zero=True)
    a_ratio = check_positive("a_ratio", a_ratio, allow_zero=True)
    tau_pre = check_positive("tau_pre", tau_pre, "ms")
    tau_post = check_positive("tau_post", tau_post, "ms")
    a_minus = a_ratio * a_plus * tau_pre / tau_post
    if not math.isfinite(a_minus) or not math.isfinite(a_plus * g_max) or not math.isfinite(a_minus * g_max):
        raise ValueError(
            f"a_minus = a_ratio * a_plus * tau_pre / tau_post overflows (a_ratio = {a_ratio}, a_plus = {a_plus}, "
            f"tau_pre = {tau_pre} ms, tau_post = {tau_post} ms, g_max = {g_max}); use amplitudes of order 0.01"
        )
    if dependence == "additive":
        return STDPRule(tau_pre, tau_post, a_plus * g_max, a_minus * g_max, w_min=0.0, w_max=g_max)
    return STDPRule(
        tau_pre, tau_post, a_plus, a_minus, weight_dependence="multiplicative", w_min=0.0, w_max=g_max
    )


def song2000(
    n_inputs: int = 200,
    rate_hz: float = 15.0,
    duration_ms: float = 80_000.0,
    dt: float = 1.0,
    dependence: str = "additive",
    seed: Optional[int] = 0,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[Callable[[float], None]] = None,
    *,
    g_max: Optional[float] = None,
    a_plus: float = 0.01,
    a_ratio: float = 1.15,
    tau_pre: float = 20.0,
    tau_post: float = 20.0,
    neuron: Optional[ConductanceLIF] = None,
    initial_weights: Optional[torch.Tensor] = None,
    n_snapshots: int = 50,
    block_ms: float = 50.0,
) -> Song2000Result:
    r"""Simulate Song, Miller & Abbott (2000): Poisson inputs, a conductance LIF neuron, STDP.

    Parameters
    ----------
    n_inputs : int
        Number of excitatory Poisson inputs (default 200; the paper and Brian2 use 1000).
    rate_hz : float
        Rate of every input, Hz (default 15).
    duration_ms : float
        Simulated time, ms (default 80 000: the defaults' histogram has settled by then; with
        1000 inputs and ``a_ratio = 1.05`` it is still a U shape after 300 s).
    dt : float
        Time step, ms (default 1; Brian2's example uses 0.1).
    dependence : {"additive", "multiplicative"}
        Weight dependence of the rule (see :func:`song2000_rule`).
    seed : int, optional
        Seeds the input spikes and the initial weights (None: global RNG).
    device : str or torch.device
        Where spikes and learning live (the single neuron is integrated on the CPU).
    progress : callable, optional
        Called with the fraction of the run done (0 < fraction <= 1) at every snapshot.
    g_max : float, optional
        Upper weight bound, leak units; default ``10 / n_inputs`` (0.01 for 1000 inputs, as in
        Brian2's example), so the total drive does not depend on ``n_inputs``.
    a_plus : float
        Potentiation per pair in units of ``g_max`` (default 0.01, as in Brian2's example; the
        paper 0.005). Larger steps converge faster but the noise of single pairs then smears
        the two piles (1000 inputs, 0.05: only 13-16 % at 0 after 20-40 s).
    a_ratio : float
        Ratio of the depression to the potentiation area of the window (default 1.15; the
        paper's 1.05 is for 1000 inputs). With fewer inputs each has a larger causal share of
        the output spikes, which favours potentiation, so the depression bias must grow: at
        200 inputs 1.05 drives the output to about 87 Hz and 1.25 silences it (a few Hz).
    tau_pre, tau_post : float
        Window time constants, ms (default 20).
    neuron : ConductanceLIF, optional
        The postsynaptic neuron (default: the paper's parameters).
    initial_weights : Tensor, optional
        ``(n_inputs,)`` starting conductances in ``[0, g_max]``; default uniform random.
    n_snapshots : int
        Number of weight snapshots after the start (default 50).
    block_ms : float
        The neuron is integrated in blocks of this length with the weights of the block's
        start; the learner then runs over the block's pre and post spikes with the exact
        timing (default 50 ms; a weight moves by at most a few ``a_+ g_max`` in a block, and
        10, 50 and 100 ms blocks give the same histogram within 2 %).
    Returns
    -------
    Song2000Result
        Weight snapshots, output rates, output spike times and helpers for histograms.

    Examples
    --------
    >>> additive = song2000(dependence="additive")          # about 2 s on one thread
    >>> low, high = additive.fraction_near_bounds(0.1)      # 0.50 and 0.25 (seed 0)
    >>> additive.output_rate_hz[-1]                         # about 16 Hz (inputs at 15 Hz)
    """
    n_inputs = check_count("n_inputs", n_inputs, minimum=1)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    duration_ms = check_positive("duration_ms", duration_ms, "ms")
    dt = check_positive("dt", dt, "ms")
    n_snapshots = check_count("n_snapshots", n_snapshots, minimum=1)
    block_ms = check_positive("block_ms", block_ms, "ms")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking the fraction done, got {progress!r}")
    if neuron is None:
        neuron = ConductanceLIF()
    elif not isinstance(neuron, ConductanceLIF):
        raise TypeError(f"neuron must be a ConductanceLIF, got {type(neuron).__name__}")
    g_max = 10.0 / n_inputs if g_max is None else check_positive("g_max", g_max)
    rule = song2000_rule(dependence, g_max, a_plus, a_ratio, tau_pre, tau_post)
    if rate_hz * dt / 1000.0 > 1:
        raise ValueError(f"rate_hz * dt / 1000 = {rate_hz * dt / 1000.0} > 1; use a smaller dt")
    device = check_device(device)
    fix = (f"use a shorter duration_ms (now {duration_ms:g} ms) or a coarser dt (now {dt:g} ms); "
           "the book's runs use up to 300 000 ms at dt = 1 ms")
    steps_float = duration_ms / dt
    check_steps(f"song2000 with duration_ms = {duration_ms:g} ms at dt = {dt:g} ms", steps_float, fix)
    total_steps = max(1, int(round(steps_float)))
    check_work(f"song2000 with {n_inputs} inputs for {total_steps} steps", float(total_steps) * n_inputs,
               fix + ", or fewer n_inputs")
    if n_snapshots > total_steps:
        raise ValueError(f"n_snapshots = {n_snapshots} is more than the {total_steps} steps of the run; "
                         f"use n_snapshots <= {total_steps} (or a longer duration_ms)")
    block_steps = max(1, int(round(min(block_ms / dt, float(total_steps)))))
    # per block: uniform draws, spikes, drive and the neuron's per-step Python lists; snapshots
    check_bytes(f"song2000 with block_ms = {block_ms:g} ms ({block_steps} steps) and {n_inputs} inputs",
                block_steps * (9.0 * n_inputs + 200.0) + (n_snapshots + 1) * n_inputs * 4.0,
                "use a shorter block_ms (default 50 ms), fewer n_inputs or fewer n_snapshots")
    generator = make_generator(None, seed, device) if seed is not None else None

    layer = nn.Linear(n_inputs, 1, bias=False).to(device)
    with torch.no_grad():
        if initial_weights is None:
            layer.weight.copy_(torch.rand(1, n_inputs, generator=generator, device=device) * g_max)
        else:
            try:
                start = torch.as_tensor(initial_weights, dtype=torch.float32).reshape(-1)
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"initial_weights must be a tensor or sequence of {n_inputs} numbers, "
                                f"got {type(initial_weights).__name__}") from None
            if start.numel() != n_inputs:
                raise ValueError(f"initial_weights needs {n_inputs} values, got {start.numel()}")
            if bool((start < 0).any()) or bool((start > g_max).any()) or not bool(torch.isfinite(start).all()):
                raise ValueError(f"initial_weights must lie in [0, g_max = {g_max}]")
            layer.weight.copy_(start.reshape(1, -1).to(device))
    learner = STDPLearner(layer, rule, dt=dt)  # clipped after every pair, as in the paper

    snapshot_steps = torch.linspace(0, total_steps, n_snapshots + 1).round().to(torch.long).tolist()
    weights = [layer.weight.detach()[0].clone().cpu()]
    post_times = []
    interval_spikes = []
    v, g = neuron.e_leak, 0.0
    done = 0
    for snap in range(n_snapshots):
        spikes_in_interval = 0
        while done < snapshot_steps[snap + 1]:
            steps = min(block_steps, snapshot_steps[snap + 1] - done)
            pre = poisson_spikes(rate_hz, steps, dt, (1, n_inputs), generator=generator, device=device)
            drive = (pre[:, 0, :] @ layer.weight.detach()[0]).cpu().to(torch.float64)
            run = neuron.simulate(drive.reshape(-1, 1), dt, v0=v, g0=g)
            v, g = float(run.v[-1]), float(run.g[-1])
            post = run.spikes.to(device=device, dtype=pre.dtype).reshape(steps, 1, 1)
            fired = run.spikes.reshape(-1).nonzero().flatten()
            if fired.numel():
                post_times.append((fired + done).to(torch.float64) * dt)
                spikes_in_interval += fired.numel()
            learner.run(pre, post)
            done += steps
        weights.append(layer.weight.detach()[0].clone().cpu())
        interval_spikes.append(spikes_in_interval)
        if progress is not None:
            progress(done / total_steps)

    times = torch.tensor(snapshot_steps, dtype=torch.float64) * dt
    interval_s = (times[1:] - times[:-1]) / 1000.0
    rates = torch.tensor(interval_spikes, dtype=torch.float64) / interval_s.clamp_min(1e-12)
    return Song2000Result(
        times_ms=times,
        weights=torch.stack(weights),
        output_rate_hz=rates,
        post_times_ms=torch.cat(post_times) if post_times else torch.zeros(0, dtype=torch.float64),
        g_max=g_max,
        rule=rule,
        dependence=dependence,
        input_rate_hz=rate_hz,
    )
