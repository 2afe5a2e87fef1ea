"""Spike traces: their per-step decay and how a spike enters them.

Between spikes a trace obeys dx/dt = -x / tau, so over one step of ``dt`` ms it is multiplied
by ``exp(-dt / tau)`` (exact) or ``1 - dt / tau`` (forward Euler, as some simulators do).
At a spike it is incremented by the spike count (all-to-all pairing) or reset to 1 (nearest
pairing), Morrison, Diesmann & Gerstner (2008), eqs. 4-5 and Fig. 7A.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

__all__ = ["DECAYS", "decay_factor", "add_spikes", "advance_trace", "trace_sequence"]

DECAYS = ("exact", "euler")


def decay_factor(tau: float, dt: float, decay: str = "exact") -> float:
    """Factor by which a trace shrinks over one time step.

    Parameters
    ----------
    tau : float
        Trace time constant in ms (> 0).
    dt : float
        Time step in ms (> 0).
    decay : {"exact", "euler"}
        ``"exact"`` gives ``exp(-dt/tau)``; ``"euler"`` gives ``1 - dt/tau`` and needs
        ``dt < tau``.

    Returns
    -------
    float
        The factor in (0, 1).
    """
    if decay == "exact":
        return math.exp(-dt / tau)
    if decay == "euler":
        if dt >= tau:
            raise ValueError(
                f"Euler decay needs dt < tau (got dt={dt} ms, tau={tau} ms): 1 - dt/tau would be "
                "<= 0; use a smaller dt or decay='exact'"
            )
        return 1.0 - dt / tau
    raise ValueError(f"unknown decay {decay!r}; use one of {', '.join(map(repr, DECAYS))}")


def add_spikes(trace: torch.Tensor, spikes: torch.Tensor, pairing: str, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Return the trace after this step's spikes entered it (out of place).

    Parameters
    ----------
    trace : Tensor
        Trace values after this step's decay.
    spikes : Tensor
        Spikes of this step, same shape (bool, or counts in the trace's dtype).
    pairing : {"all-to-all", "nearest"}
        ``"all-to-all"`` adds the spike count; ``"nearest"`` sets the trace to 1 wherever a
        spike occurred.
    out : Tensor, optional
        Where to write the result (same shape and dtype as ``trace``, not ``trace`` itself).
    """
    if out is None:
        if pairing == "all-to-all":
            return trace + spikes.to(trace.dtype)
        return torch.where(spikes != 0, torch.ones_like(trace), trace)
    if pairing == "all-to-all":
        return torch.add(trace, spikes, out=out)
    return out.copy_(trace).masked_fill_(spikes != 0, 1.0)


def advance_trace(trace: torch.Tensor, factor: float, spikes: torch.Tensor, pairing: str,
                  out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Return the trace one step later (out of place): decayed by ``factor``, then this step's
    spikes entered, in one pass over the trace where :func:`add_spikes` after a decay takes two.

    The all-to-all trace is one fused multiply-add, ``spikes + factor * trace``, rounded once
    (the decay then the addition round twice: the two differ by at most half an ulp of the
    result). Use it when the decayed trace itself is not needed.

    Parameters
    ----------
    trace : Tensor
        Trace values before this step.
    factor : float
        Per-step decay factor (:func:`decay_factor`), dimensionless.
    spikes : Tensor
        Spikes of this step, same shape, in the trace's dtype (counts).
    pairing : {"all-to-all", "nearest"}
        As in :func:`add_spikes`.
    out : Tensor, optional
        Where to write the result (same shape and dtype as ``trace``, not ``trace`` itself).
    """
    if pairing == "all-to-all":
        return torch.add(spikes, trace, alpha=factor, out=out)
    decayed = torch.mul(trace, factor, out=out) if out is not None else trace * factor
    return decayed.masked_fill_(spikes != 0, 1.0)


def trace_sequence(
    spikes: torch.Tensor,
    initial: torch.Tensor,
    factor: float,
    pairing: str,
    gaps: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Trace after each row's spikes, for a whole spike sequence, without a per-row loop.

    Row ``k`` first decays the trace ``gaps[k]`` times by ``factor`` and then lets ``spikes[k]``
    enter it, exactly as repeated decay and :func:`add_spikes` would. With ``gaps`` all 1 the rows
    are consecutive time steps; larger gaps skip spike-free steps (event-driven runs).

    Parameters
    ----------
    spikes : Tensor
        Spikes shaped ``(K, *shape)``.
    initial : Tensor
        Trace before the first row, shaped ``shape``, floating point.
    factor : float
        Per-step decay factor (:func:`decay_factor`).
    pairing : {"all-to-all", "nearest"}
        How a spike enters the trace.
    gaps : Tensor of int, optional
        ``(K,)`` steps of decay before each row (>= 1); default all ones.

    Returns
    -------
    Tensor
        Shaped ``(K, *shape)``: the trace right after each row's spikes.

    Notes
    -----
    With positions ``p = cumsum(gaps)`` (``p = 0`` for ``initial``), the all-to-all trace is
    ``x_k = sum_{j<=k} factor**(p_k - p_j) s_j + factor**p_k x_0``. Within blocks of ``L`` rows this
    is a lower-triangular matrix of powers (each at most 1, so nothing overflows) times the spikes,
    one GEMM per block, plus the decayed carry: ``K / L`` Python iterations remain.
    The nearest trace is ``factor**(p_k - p_last)`` after a spike at ``p_last``, found with a
    cumulative max over spike rows.
    """
    rows = spikes.shape[0]
    dtype, device = initial.dtype, initial.device
    flat = spikes.reshape(rows, -1)
    carry = initial.reshape(-1)
    if gaps is None:
        position = torch.arange(1, rows + 1, device=device)
    else:
        position = torch.cumsum(gaps.to(device=device, dtype=torch.long), 0)
    base = torch.tensor(factor, dtype=dtype, device=device)
    if pairing == "nearest":
        row = torch.arange(rows, device=device).unsqueeze(1).expand_as(flat)
        last = torch.where(flat != 0, row, torch.full_like(row, -1)).cummax(dim=0).values
        age = position.unsqueeze(1) - position[last.clamp_min(0)]
        since_spike = base.pow(age.to(dtype))
        never = base.pow(position.to(dtype)).unsqueeze(1) * carry
        return torch.where(last >= 0, since_spike, never).reshape(spikes.shape)
    flat = flat.to(dtype)
    block = int(max(1, min(128, 2**22 // max(flat.shape[1], 1))))
    out = torch.empty_like(flat)
    previous = 0  # position of the carry
    for start in range(0, rows, block):
        chunk = flat[start : start + block]
        pos = position[start : start + block]
        lag = pos.unsqueeze(1) - pos.unsqueeze(0)
        powers = torch.where(lag >= 0, base.pow(lag.clamp_min(0).to(dtype)), torch.zeros((), dtype=dtype, device=device))
        values = powers @ chunk + base.pow((pos - previous).to(dtype)).unsqueeze(1) * carry
        out[start : start + chunk.shape[0]] = values
        carry, previous = values[-1], pos[-1]
    return out.reshape(spikes.shape)
