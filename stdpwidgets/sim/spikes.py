"""Spike trains on a time grid: Poisson sources and conversions between times and trains.

Conventions (used throughout :mod:`stdpwidgets.sim`): a train is a tensor whose leading axis is
time in steps of ``dt`` ms; step ``i`` stands for time ``i * dt`` ms; a value is the number of
spikes in that step (0/1 for the sources here). Rates are in Hz.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import math

import torch

from ._budget import check_bytes, limit
from ._checks import check_count, check_device, check_dtype, check_positive, check_real, check_tensor, make_generator

__all__ = ["poisson_spikes", "fixed_count_spikes", "times_to_train", "train_to_times", "train_to_raster"]

Rate = Union[float, int, torch.Tensor]


def poisson_spikes(
    rate_hz: Rate,
    steps: int,
    dt: float = 1.0,
    shape: Sequence[int] = (),
    *,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bernoulli approximation of Poisson spike trains: one spike in a step with p = rate * dt / 1000.

    Parameters
    ----------
    rate_hz : float or Tensor
        Firing rate in Hz (>= 0). A tensor must broadcast to ``(steps, *shape)``, so a rate
        can vary per neuron (shape ``shape``) or in time (shape ``(steps, 1, ...)``).
    steps : int
        Number of time steps (>= 0).
    dt : float
        Time step in ms (> 0).
    shape : sequence of int
        Shape of the population after the time axis, e.g. ``(batch, n_inputs)``.
    generator : torch.Generator, optional
        Random source on ``device``; or give ``seed`` for a fresh one. Neither: the global RNG.
    seed : int, optional
        Seed of a fresh generator (exclusive with ``generator``).
    device : str or torch.device
        Where the spikes are made.
    dtype : torch.dtype
        ``torch.bool`` or a floating dtype (spikes as 0.0/1.0).

    Returns
    -------
    Tensor
        Spikes shaped ``(steps, *shape)``.

    Raises
    ------
    ValueError
        For a negative or non-finite rate, or one whose spike probability ``rate * dt / 1000``
        exceeds 1 (use a smaller ``dt``), or a rate tensor that does not broadcast.
    """
    steps = check_count("steps", steps)
    dt = check_positive("dt", dt, "ms")
    if isinstance(shape, (int, str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"shape must be a sequence of ints such as (batch, n_inputs), got {shape!r}")
    shape = tuple(check_count(f"shape[{i}]", s) for i, s in enumerate(shape))
    dtype = check_dtype("dtype", dtype)
    device = check_device(device)
    full = (steps, *shape)
    numel = math.prod(full)
    is_tensor = isinstance(rate_hz, torch.Tensor) or type(rate_hz).__module__ == "numpy"
    # uniform draws (float32), the comparison (bool), the output, and the rate's probabilities
    per_spike = 4 + 1 + (0 if dtype == torch.bool else dtype.itemsize) + (12 if is_tensor else 0)
    check_bytes(
        f"poisson_spikes with steps = {steps} and shape = {shape} ({numel:.3g} values)", numel * per_spike,
        f"use fewer steps or a smaller shape (steps x prod(shape) below about {limit('max_bytes') / per_spike:.2g});",
    )
    if type(rate_hz).__module__ == "numpy" and getattr(rate_hz, "ndim", 0) > 0:
        rate_hz = torch.as_tensor(rate_hz)
    if isinstance(rate_hz, torch.Tensor) and rate_hz.numel() != 1:
        if rate_hz.dtype == torch.bool or rate_hz.is_complex():
            raise TypeError(f"rate_hz must hold real rates in Hz, got a {rate_hz.dtype} tensor")
        rate = rate_hz.to(device=device, dtype=torch.float64)
        try:
            rate = torch.broadcast_to(rate, full)
        except RuntimeError:
            raise ValueError(
                f"rate_hz of shape {tuple(rate_hz.shape)} does not broadcast to (steps, *shape) = {full}"
            ) from None
    else:
        if isinstance(rate_hz, torch.Tensor):
            rate_hz = rate_hz.reshape(())
            value = rate_hz.item()
            if isinstance(value, bool):
                raise TypeError("rate_hz must be a number or a tensor of rates in Hz, got a bool tensor")
            rate = rate_hz.to(device=device, dtype=torch.float64)
        else:
            try:
                value = check_real("rate_hz", rate_hz)
            except ValueError:
                raise ValueError("rate_hz must be finite") from None
            except TypeError:
                raise TypeError(f"rate_hz must be a number or a tensor of rates in Hz, got {type(rate_hz).__name__} "
                                f"{rate_hz!r:.60}") from None
            rate = torch.full((), value, dtype=torch.float64, device=device)
    if rate.numel() and not bool(torch.isfinite(rate).all()):
        raise ValueError("rate_hz must be finite")
    if rate.numel() and bool((rate < 0).any()):
        raise ValueError(f"rate_hz must be >= 0 Hz, got a minimum of {float(rate.min())} Hz")
    p = rate * (dt / 1000.0)
    if p.numel() and bool((p > 1).any()):
        raise ValueError(
            f"rate {float(rate.max())} Hz at dt = {dt} ms gives a spike probability "
            f"{float(p.max()):.3g} > 1 per step; use dt <= {1000.0 / float(rate.max()):.4g} ms"
        )
    gen = make_generator(generator, seed, device)
    uniform = torch.rand(full, generator=gen, device=device)  # float32: same draws for any rate form
    spikes = uniform < p.to(torch.float32)
    return spikes if dtype == torch.bool else spikes.to(dtype)


def fixed_count_spikes(
    rate_hz: float,
    steps: int,
    dt: float = 1.0,
    *,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A train of exactly ``round(rate * steps * dt / 1000)`` spikes at random distinct steps, nested in rate.

    The steps are the first ones of a random order of all steps drawn from the generator, so
    for one seed a higher rate keeps every spike of a lower rate and adds
    ``round(delta_rate * duration)`` more: a small rate change always changes the train
    visibly (by about ``delta_rate * duration`` spikes), unlike independent Bernoulli draws,
    which keep the train unchanged with probability ``exp(-delta_rate * duration)``. Given its
    count, the train is distributed as a Poisson process on the grid (uniform, distinct steps).

    Parameters
    ----------
    rate_hz : float
        Rate, Hz (>= 0, at most one spike per step: ``rate * dt / 1000 <= 1``).
    steps : int
        Number of time steps (>= 0).
    dt : float
        Time step, ms (> 0).
    generator, seed, device, dtype
        As for :func:`poisson_spikes`. The order is drawn for ``steps`` alone, so consecutive
        calls on one generator (e.g. two phases of different rates) stay nested in each rate.

    Returns
    -------
    Tensor
        ``(steps,)`` spikes (0/1).
    """
    steps = check_count("steps", steps)
    dt = check_positive("dt", dt, "ms")
    rate = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    if rate * dt / 1000.0 > 1:
        raise ValueError(f"rate {rate} Hz at dt = {dt} ms is more than one spike per step; use dt <= {1000.0 / rate:.4g} ms")
    dtype = check_dtype("dtype", dtype)
    device = check_device(device)
    check_bytes(f"fixed_count_spikes with steps = {steps}", steps * (8 + 1 + dtype.itemsize),
                "use fewer steps (below about 2e8);")
    gen = make_generator(generator, seed, device)
    order = torch.randperm(steps, generator=gen, device=device)
    count = min(steps, int(round(rate * steps * dt / 1000.0)))
    spikes = torch.zeros(steps, dtype=torch.bool, device=device)
    spikes[order[:count]] = True
    return spikes if dtype == torch.bool else spikes.to(dtype)


def times_to_train(
    times_ms: Union[Sequence[float], torch.Tensor],
    steps: int,
    dt: float = 1.0,
    *,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Spike times (ms) to a train of spike counts on the grid ``i * dt``.

    Each time goes to the nearest step ``round(t / dt)``; two times in one step give a count 2.

    Parameters
    ----------
    times_ms : sequence of float or Tensor
        Spike times in ms, each in ``[0, steps * dt)`` after rounding to the grid.
    steps : int
        Length of the train.
    dt : float
        Time step in ms (> 0).
    device, dtype
        Of the returned train (floating dtype: counts).

    Returns
    -------
    Tensor
        Shaped ``(steps,)``.
    """
    steps = check_count("steps", steps)
    dt = check_positive("dt", dt, "ms")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype (the train holds spike counts), got {dtype!r}")
    device = check_device(device)
    check_bytes(f"times_to_train with steps = {steps}", steps * dtype.itemsize, "use fewer steps or a coarser dt;")
    try:
        times = torch.as_tensor(times_ms, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"times_ms must be a sequence or tensor of spike times in ms, got {times_ms!r:.80}") from None
    if times.numel() and not bool(torch.isfinite(times).all()):
        raise ValueError("times_ms must be finite")
    index = torch.round(times / dt).to(torch.long)
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= steps):
        raise ValueError(
            f"spike times must lie in [0, {steps * dt} ms) for steps={steps}, dt={dt} ms; got times "
            f"from {float(times.min())} to {float(times.max())} ms (increase steps)"
        )
    train = torch.zeros(steps, dtype=dtype, device=device)
    train.index_add_(0, index.to(device), torch.ones(index.numel(), dtype=dtype, device=device))
    return train


def train_to_times(train: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """Spike times (ms, float64, ascending) of a 1-D train; a count of k gives the time k times.

    Parameters
    ----------
    train : Tensor
        Spike counts (or bools) shaped ``(steps,)``.
    dt : float
        Time step in ms (> 0).
    """
    train = check_tensor("train", train, "(steps,)")
    if train.dim() != 1:
        raise ValueError(
            f"train must be 1-D (steps,), got shape {tuple(train.shape)}; use train_to_raster for populations"
        )
    dt = check_positive("dt", dt, "ms")
    counts = _counts(train)
    steps = torch.arange(train.shape[0], device=train.device).repeat_interleave(counts)
    return steps.to(torch.float64) * dt


def train_to_raster(train: torch.Tensor, dt: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Spike times and neuron indices of a population train, for raster plots.

    Parameters
    ----------
    train : Tensor
        Spike counts shaped ``(steps, *shape)``; neurons are numbered in row-major order of ``shape``.
    dt : float
        Time step in ms.

    Returns
    -------
    (Tensor, Tensor)
        ``times_ms`` (float64) and ``neuron`` indices (long), one entry per spike, sorted by time.
    """
    train = check_tensor("train", train, "(steps, *shape)")
    if train.dim() < 1:
        raise ValueError("train needs a leading time axis")
    dt = check_positive("dt", dt, "ms")
    flat = train.reshape(train.shape[0], -1)
    counts = _counts(flat).reshape(-1)
    index = torch.arange(flat.numel(), device=train.device).repeat_interleave(counts)
    width = max(flat.shape[1], 1)
    return (index // width).to(torch.float64) * dt, index % width


def _counts(train: torch.Tensor) -> torch.Tensor:
    counts = _raw_counts(train)
    total = float(counts.sum(dtype=torch.float64)) if counts.numel() else 0.0
    # one time (float64) and one index (int64) per spike, plus the repeat's own index
    check_bytes(f"a train with {total:.3g} spikes", total * 24, "spike counts this large are not spike trains;")
    return counts


def _raw_counts(train: torch.Tensor) -> torch.Tensor:
    if train.dtype == torch.bool:
        return train.to(torch.long)
    if train.is_complex():
        raise TypeError(f"train must hold real spike counts, got {train.dtype}")
    if train.is_floating_point():
        if train.numel() and not bool(torch.isfinite(train).all()):
            raise ValueError("train contains NaN or infinite values")
        rounded = torch.round(train)
        if train.numel() and float(train.max()) > 2**53:
            raise ValueError(f"train holds a spike count of {float(train.max()):.3g} in one step; counts must be small integers")
        if bool((rounded != train).any()) or bool((train < 0).any()):
            raise ValueError("train must hold non-negative integer spike counts")
        return rounded.to(torch.long)
    if bool((train < 0).any()):
        raise ValueError("train must hold non-negative spike counts")
    return train.to(torch.long)
