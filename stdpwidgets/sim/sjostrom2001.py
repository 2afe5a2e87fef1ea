r"""The frequency dependence of Sjöström, Turrigiano & Nelson (2001), and any rule's answer to it.

Layer-5 pyramidal pairs of rat visual cortex; pairings at :math:`\Delta t = +10` and
:math:`-10` ms repeated at 0.1 to 50 Hz. :data:`SJOSTROM_2001` holds the relative weight
changes as model papers reproduce them (Pfister & Gerstner 2006, Fig. 5): mean and error bar.
They are transcribed (``../shared/science.md``), not read off the original figure here, and the
model protocol (60 evenly spaced pairings) follows the model papers, not the experiment's
exact train structure (as recalled, pairings were given in bursts of five; to verify).
:func:`frequency_experiment` runs the protocol for any rule.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Union

import torch

from ..core import Rule
from ._checks import as_float_vector
from .protocols import pairing_sweep

__all__ = ["SJOSTROM_2001", "FrequencyExperiment", "frequency_experiment"]

#: Relative weight change after the pairing protocol: frequency (Hz), then for Δt = +10 and
#: -10 ms the mean and its error bar (as transcribed; see the module docstring).
SJOSTROM_2001 = {
    "frequency_hz": (0.1, 10.0, 20.0, 40.0, 50.0),
    "delta_t_ms": (10.0, -10.0),
    "mean": ((-0.04, 0.14, 0.29, 0.53, 0.56), (-0.29, -0.41, -0.34, 0.56, 0.75)),
    "error": ((0.05, 0.10, 0.14, 0.11, 0.26), (0.08, 0.11, 0.10, 0.32, 0.19)),
}


class FrequencyExperiment(NamedTuple):
    """What :func:`frequency_experiment` returns (float64 tensors on the CPU).

    Attributes
    ----------
    frequency_hz : Tensor
        ``(n_frequencies,)`` Hz.
    delta_t_ms : Tensor
        ``(n_lags,)`` ms.
    model : Tensor
        ``(n_lags, n_frequencies)``: the rule's weight change after ``n_pairs`` pairings.
    data_mean, data_error : Tensor
        ``(2, 5)``: :data:`SJOSTROM_2001` at its own frequencies and lags (+10, -10 ms).
    """

    frequency_hz: torch.Tensor
    delta_t_ms: torch.Tensor
    model: torch.Tensor
    data_mean: torch.Tensor
    data_error: torch.Tensor


def frequency_experiment(
    rule: Rule,
    frequency_hz: Optional[Sequence[float]] = None,
    delta_t_ms: Sequence[float] = (10.0, -10.0),
    n_pairs: int = 60,
    dt: float = 1.0,
    w0: Optional[float] = None,
    device: Union[str, torch.device] = "cpu",
    **learner_kwargs,
) -> FrequencyExperiment:
    r"""Run the pairing protocol at each frequency and lag with ``rule`` and return the weight changes.

    Parameters
    ----------
    rule : Rule
        :class:`~stdpwidgets.core.STDPRule`, :class:`~stdpwidgets.core.TripletRule`, ...
    frequency_hz : sequence of float, optional
        Default: the data's 0.1, 10, 20, 40 and 50 Hz.
    delta_t_ms : sequence of float
        Lags :math:`t_{post} - t_{pre}` (ms, multiples of ``dt``); default +10 and -10.
    n_pairs : int
        Pairings per protocol (default 60).
    dt : float
        Time step of the learner, ms (the protocol is exact on this grid).
    w0 : float, optional
        Initial weight (default as :func:`~stdpwidgets.sim.pairing_weight_change`); an additive
        unbounded rule gives the same change from any ``w0``, which is how the data (relative
        changes) compare with an absolute model change, as in Pfister & Gerstner (2006).
    device : str or torch.device
    **learner_kwargs
        Passed to :class:`~stdpwidgets.core.STDPLearner` (``decay``, ``traces_first``).

    Returns
    -------
    FrequencyExperiment
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be an STDPRule, a TripletRule or another Rule, got {type(rule).__name__}")
    freqs = SJOSTROM_2001["frequency_hz"] if frequency_hz is None else frequency_hz
    freqs = as_float_vector("frequency_hz", freqs, finite=False).tolist()
    lags = as_float_vector("delta_t_ms", delta_t_ms).tolist()
    curve = pairing_sweep(rule, lags, freqs, n_pairs, dt, w0, device, **learner_kwargs)
    return FrequencyExperiment(
        curve.frequency_hz,
        curve.delta_t_ms,
        curve.weight_change,
        torch.tensor(SJOSTROM_2001["mean"], dtype=torch.float64),
        torch.tensor(SJOSTROM_2001["error"], dtype=torch.float64),
    )
