"""Memory and run-time guards for the sims (private; :func:`size_limits` is public).

A sim estimates, before it allocates anything, the bytes its largest tensors need and the
number of steps it will loop over, and refuses a request far beyond a laptop with a
``ValueError`` that names the argument to change and a range that would work, instead of an
allocator error after minutes or a run of hours. The limits:

* ``max_bytes`` (default 4 GiB): memory of the tensors one call allocates up front;
* ``max_steps`` (default 10**8): time steps (or image presentation steps, or passes) of one
  call; the Python loop of a sim costs 10-100 us per step, so 10**8 steps is one to a few hours;
* ``max_work`` (default 10**11): steps times synapses (weights updated or read per step);
  10**10 take about half a minute on one CPU thread (a 1000 x 100 layer for 100 s).

:func:`size_limits` raises (or lowers) them for a block of code, the escape hatch for a
machine that can afford more.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

__all__ = ["size_limits", "check_bytes", "check_steps", "check_work", "limit"]

_LIMITS = {"max_bytes": 4 * 2**30, "max_steps": 10**8, "max_work": 10**11}


def limit(key: str) -> float:
    return _LIMITS[key]


@contextlib.contextmanager
def size_limits(
    *, max_bytes: Optional[float] = None, max_steps: Optional[float] = None, max_work: Optional[float] = None
) -> Iterator[dict]:
    """Change the sims' size guards inside a ``with`` block (restored afterwards).

    Parameters
    ----------
    max_bytes : float, optional
        Memory one sim call may allocate up front, bytes (default 4 GiB).
    max_steps : float, optional
        Time steps (presentation steps, passes) of one call (default 1e8).
    max_work : float, optional
        Steps times synapses of one call (default 1e11).

    Examples
    --------
    >>> with size_limits(max_bytes=32 * 2**30):     # a machine with 64 GB of memory
    ...     result = simulate_poisson_layer(rule, 1000, 100, duration_ms=2e6)
    """
    from ._checks import check_positive

    new = {}
    for key, value in (("max_bytes", max_bytes), ("max_steps", max_steps), ("max_work", max_work)):
        if value is not None:
            new[key] = check_positive(key, value)
    old = dict(_LIMITS)
    _LIMITS.update(new)
    try:
        yield dict(_LIMITS)
    finally:
        _LIMITS.clear()
        _LIMITS.update(old)


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} bytes"


def _escape(key: str) -> str:
    return f"(to allow more, run it inside `with stdpwidgets.sim.size_limits({key}=...)`)"


def _refuse(key: str, amount: float, what: str, fix: str) -> None:
    """Raise when ``amount`` exceeds the limit ``key``; ``what`` describes the request, ``fix`` the way out."""
    cap = _LIMITS[key]
    if not (amount <= cap):  # also catches inf/NaN estimates
        raise ValueError(what.format(cap=cap) + f"; {fix.rstrip(';')} {_escape(key)}")


def check_bytes(where: str, nbytes: float, fix: str) -> None:
    """Refuse ``nbytes`` above the memory limit: ``where`` says what needs it, ``fix`` what to change."""
    cap = _bytes(_LIMITS["max_bytes"])
    _refuse("max_bytes", nbytes, f"{where} would need about {_bytes(nbytes)} of memory, more than the limit of {cap}",
            fix)


def check_steps(where: str, steps: float, fix: str) -> None:
    """Refuse more than ``max_steps`` steps."""
    _refuse("max_steps", steps, f"{where} is {steps:.3g} steps, more than the limit of {{cap:.3g}} (hours of run time)",
            fix)


def check_work(where: str, work: float, fix: str) -> None:
    """Refuse more than ``max_work`` synapse-steps."""
    _refuse("max_work", work, f"{where} is {work:.3g} synapse-steps (steps x synapses), more than the limit of "
            "{cap:.3g} (about an hour or more on one CPU thread)", fix)
