"""Spike traces: their per-step decay and how a spike enters them.

Between spikes a trace obeys dx/dt = -x / tau, so over one step of ``dt`` ms it is multiplied
by ``exp(-dt / tau)`` (exact) or ``1 - dt / tau`` (forward Euler, as some simulators do).
At a spike it is incremented by the spike count (all-to-all pairing) or reset to 1 (nearest
pairing), Morrison, Diesmann & Gerstner (2008), eqs. 4-5 and Fig. 7A.
"""

from __future__ import annotations

import math

import torch

__all__ = ["DECAYS", "decay_factor", "add_spikes", "trace_sequence"]

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


def add_spikes(trace: torch.Tensor, spikes: torch.Tensor, pairing: str) -> torch.Tensor:
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
    """
    if pairing == "all-to-all":
        return trace + spikes.to(trace.dtype)
    return torch.where(spikes != 0, torch.ones_like(trace), trace)


def trace_sequence(
    spikes: torch.Tensor, initial: torch.Tensor, factor: float, pairing: str
) -> torch.Tensor:
    """Trace after each step's spikes, for a whole spike sequence, without a per-step loop.

    Step ``t`` decays the trace by ``factor`` and then lets ``spikes[t]`` enter it, exactly as
    repeated :func:`add_spikes` would.

    Parameters
    ----------
    spikes : Tensor
        Spikes shaped ``(T, *shape)``.
    initial : Tensor
        Trace before the first step, shaped ``shape``, floating point.
    factor : float
        Per-step decay factor (:func:`decay_factor`).
    pairing : {"all-to-all", "nearest"}
        How a spike enters the trace.

    Returns
    -------
    Tensor
        Shaped ``(T, *shape)``, the trace at the end of each step.

    Notes
    -----
    All-to-all: within blocks of ``L`` steps the trace is a lower-triangular Toeplitz matrix
    of powers ``factor**(i-j)`` times the spikes (one GEMM per block) plus the decayed carry,
    so only ``T / L`` Python iterations remain and no power exceeds 1 (no overflow).
    Nearest: the trace is ``factor**(steps since the last spike)``, found with a cumulative max
    over spike indices.
    """
    steps = spikes.shape[0]
    dtype, device = initial.dtype, initial.device
    flat = spikes.reshape(steps, -1)
    carry = initial.reshape(-1)
    if pairing == "nearest":
        index = torch.arange(steps, device=device).unsqueeze(1).expand_as(flat)
        last = torch.where(flat != 0, index, torch.full_like(index, -1)).cummax(dim=0).values
        base = torch.tensor(factor, dtype=dtype, device=device)
        since_spike = base.pow((index - last).to(dtype))
        never = base.pow((index + 1).to(dtype)) * carry
        return torch.where(last >= 0, since_spike, never).reshape(spikes.shape)
    flat = flat.to(dtype)
    width = flat.shape[1]
    block = int(max(1, min(128, 2**22 // max(width, 1))))
    powers = torch.tensor(factor, dtype=dtype, device=device).pow(
        torch.arange(block + 1, device=device, dtype=dtype)
    )
    lag = torch.arange(block, device=device)
    lag = lag.unsqueeze(1) - lag.unsqueeze(0)
    toeplitz = torch.where(lag >= 0, powers[lag.clamp_min(0)], torch.zeros((), dtype=dtype, device=device))
    out = torch.empty_like(flat)
    for start in range(0, steps, block):
        chunk = flat[start : start + block]
        n = chunk.shape[0]
        values = toeplitz[:n, :n] @ chunk + powers[1 : n + 1].unsqueeze(1) * carry
        out[start : start + n] = values
        carry = values[-1]
    return out.reshape(spikes.shape)
