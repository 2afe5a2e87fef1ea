"""Automatic checks for the book's exercises: compare a student's answer with the reference.

A chapter's exercise has a cell the student fills in (it returns ``None`` until then), a
worked solution in cells tagged ``solution`` (left out of the student edition, see
``book/_ext/student_edition.py``) and a check cell that calls :func:`check`. The check prints
one line and never raises, so a wrong answer does not stop the notebook.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check"]


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def check(answer: Any, expected: Any, *, name: str = "your answer", rtol: float = 1e-9,
          atol: float = 0.0) -> bool:
    """Print whether ``answer`` equals ``expected`` within tolerance, and return it as a bool.

    Parameters
    ----------
    answer : number, sequence, array or tensor, or None
        What the student's code returned; ``None`` (or ``...``) means not attempted yet.
    expected : number, sequence, array or tensor
        The reference value (from a closed form or the package).
    name : str
        What is being checked, for the printed line.
    rtol, atol : float
        Relative and absolute tolerance (``numpy.allclose`` semantics, NaN never equal).

    Returns
    -------
    bool
        True when the answer matches; False when it does not or is missing.
    """
    if answer is None or answer is Ellipsis:
        print(f"… {name}: not attempted yet (fill in the cell above and run this one again)")
        return False
    try:
        got, want = _as_array(answer), _as_array(expected)
    except (TypeError, ValueError):
        print(f"✗ {name}: {answer!r} is not a number or an array of numbers")
        return False
    if got.shape != want.shape:
        print(f"✗ {name}: shape {got.shape}, expected {want.shape}")
        return False
    if np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
        shown = f"{got.item():.6g}" if got.size == 1 else f"{got.size} values"
        print(f"✓ {name}: {shown}, correct")
        return True
    worst = np.max(np.abs(got - want)) if got.size else 0.0
    shown = f"{got.item():.6g}, expected {want.item():.6g}" if got.size == 1 else f"off by up to {worst:.3g}"
    print(f"✗ {name}: {shown}")
    return False
