"""Argument checks for the torch modules of :mod:`stdpwidgets.nn` (private).

``TypeError`` for a value of the wrong kind, ``ValueError`` for one out of range; every message
names the argument and says what would work. (``stdpwidgets.nn`` may import only torch and the
core, so it keeps its own small set rather than the sims' checks.)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Tuple

import torch

__all__ = ["real", "count", "flag", "population_shape", "population_dim"]


def real(name: str, value: Any, *, unit: str = "", low: Optional[float] = None, strict: bool = False) -> float:
    """``value`` as a finite float (Python/NumPy numbers, 0-d tensors), optionally > or >= ``low``."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.dtype != torch.bool and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number{' in ' + unit if unit else ''}, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite{' (' + unit + ')' if unit else ''}, got {value}")
    if low is not None and (value <= low if strict else value < low):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {low:g}{' ' + unit if unit else ''}, got {value:g}")
    return value


def count(name: str, value: Any, minimum: int = 0) -> int:
    """An int >= ``minimum`` (bools refused)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def flag(name: str, value: Any) -> bool:
    """True or False (NumPy's bool too)."""
    if type(value).__name__ == "bool_":
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def population_shape(name: str, value: Any) -> Tuple[int, ...]:
    """A neuron count ``n`` or a shape ``(c, h, w)`` of positive ints, as a tuple."""
    if isinstance(value, (tuple, list, torch.Size)):
        shape = tuple(count(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(value))
        if not shape:
            raise ValueError(f"{name} must be a neuron count or a non-empty shape such as (8, 4, 4), got {value!r}")
        return shape
    return (count(name, value, minimum=1),)


def population_dim(name: str, value: Any) -> Optional[int]:
    """A population axis: None (all non-batch axes) or an int other than the batch axis 0."""
    if value is None:
        return None
    dim = count(name, value, minimum=-(2**31))
    if dim == 0:
        raise ValueError(f"{name} = 0 is the batch axis; use the neuron axis (e.g. -1 or 1) or None for all neurons")
    return dim
