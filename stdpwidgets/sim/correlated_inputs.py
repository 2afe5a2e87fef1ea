r"""Groups of correlated Poisson inputs (a multiple-interaction process per group).

Each group has a hidden *mother* train of rate :math:`\nu/c`; every input of the group copies
each mother spike independently with probability :math:`c` (Kuhn, Aertsen & Rotter 2003). So
every input is a Poisson train of rate :math:`\nu`, two inputs of the same group share spikes
at zero lag with correlation coefficient :math:`c`, and inputs of different groups are
independent. On a time grid of step :math:`dt` the construction is exact with
:math:`p = \nu\,dt`: :math:`P(s_i = 1) = p` and :math:`E[s_i s_j] = p c` within a group, so the
covariance of two indicators of the same step is :math:`p(c - p)` (and :math:`p(1 - p)` for
an input with itself). ``correlation = 0`` gives independent inputs.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from ._budget import check_bytes
from ._checks import check_count, check_device, check_dtype, check_positive, make_generator

__all__ = ["correlated_poisson_groups", "group_labels"]


def _check_groups(group_sizes: Sequence[int]) -> list:
    if isinstance(group_sizes, (str, bytes)) or not hasattr(group_sizes, "__iter__"):
        raise TypeError(f"group_sizes must be a sequence of ints (inputs per group) such as [50, 50], got {group_sizes!r}")
    sizes = [check_count(f"group_sizes[{i}]", n, minimum=1) for i, n in enumerate(group_sizes)]
    if not sizes:
        raise ValueError("group_sizes must name at least one group")
    return sizes


def group_labels(group_sizes: Sequence[int]) -> torch.Tensor:
    """Group index of every input, ``(sum(group_sizes),)`` int64, groups in order."""
    sizes = _check_groups(group_sizes)
    return torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))


def correlated_poisson_groups(
    rate_hz: float,
    steps: int,
    dt: float,
    group_sizes: Sequence[int],
    correlation: float,
    batch: int = 1,
    *,
    seed: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device: Union[str, torch.device] = "cpu",
) -> torch.Tensor:
    r"""Spikes of inputs in groups, correlated within a group at zero lag.

    Parameters
    ----------
    rate_hz : float
        Rate of every input, Hz.
    steps : int
        Number of time steps.
    dt : float
        Time step, ms.
    group_sizes : sequence of int
        Inputs per group (they come in this order along the last axis).
    correlation : float
        Correlation coefficient :math:`c` of two inputs of one group, in ``[0, 1]``; any
        value > 0 must be at least :math:`p = \nu\,dt` (the mother rate :math:`p/c` is a
        probability per step). The same ``c`` for every group.
    batch : int
        Independent repetitions (the middle axis).
    seed, generator
        Random source (one of them, or neither for the global RNG).

    Returns
    -------
    Tensor
        ``(steps, batch, sum(group_sizes))`` of 0/1.
    """
    sizes = _check_groups(group_sizes)
    rate_hz = check_positive("rate_hz", rate_hz, "Hz", allow_zero=True)
    steps = check_count("steps", steps, minimum=0)
    dt = check_positive("dt", dt, "ms")
    batch = check_count("batch", batch, minimum=1)
    correlation = check_positive("correlation", correlation, allow_zero=True)
    if correlation > 1:
        raise ValueError(f"correlation must lie in [0, 1], got {correlation}")
    dtype = check_dtype("dtype", dtype)
    device = check_device(device)
    n_all = sum(sizes)
    check_bytes(f"correlated_poisson_groups with steps = {steps}, batch = {batch} and {n_all} inputs",
                float(steps) * batch * (n_all * (4 + 1 + 1 + 1 + dtype.itemsize) + len(sizes) * 5.0),
                "use fewer steps (simulate in blocks), a smaller batch or fewer inputs")
    gen = make_generator(generator, seed, device)
    p = rate_hz * dt / 1000.0
    if p > 1:
        raise ValueError(f"rate_hz * dt / 1000 = {p} > 1; use a smaller dt")
    n = sum(sizes)
    if correlation == 0:
        draws = torch.rand(steps, batch, n, generator=gen, device=device)
        return (draws < p).to(dtype)
    if p > correlation + 1e-15:
        raise ValueError(
            f"correlation {correlation} is below the spike probability per step {p}: the mother "
            "train would need more than one spike per step; use a smaller dt or a larger correlation"
        )
    mother = torch.rand(steps, batch, len(sizes), generator=gen, device=device) < p / correlation
    mother = torch.repeat_interleave(mother, torch.tensor(sizes, device=device), dim=2)
    copies = torch.rand(steps, batch, n, generator=gen, device=device) < correlation
    return (mother & copies).to(dtype)
