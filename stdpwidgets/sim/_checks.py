"""Small argument checks shared by the sim modules (private)."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

__all__ = ["check_real", "check_positive", "check_count", "make_generator", "check_bool"]


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float; ``TypeError`` for non-numbers (bools included), ``ValueError`` for NaN."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_positive(name: str, value: Any, unit: str = "", allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``)."""
    value = check_real(name, value)
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}{' (' + unit + ')' if unit else ''}, got {value}")
    return value


def check_count(name: str, value: Any, minimum: int = 0) -> int:
    """An integer >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            raise TypeError(f"{name} must be an int, got the float {value!r}; pass int({value!r})")
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def make_generator(
    generator: Optional[torch.Generator], seed: Optional[int], device: torch.device
) -> Optional[torch.Generator]:
    """The generator to draw from: the one given, a fresh one seeded with ``seed``, or None (global RNG)."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if torch.device(generator.device).type != torch.device(device).type:
            raise ValueError(
                f"generator is on {generator.device} but the spikes go to {device}; "
                f"create it with torch.Generator(device={str(device)!r})"
            )
        return generator
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
        return torch.Generator(device=device).manual_seed(seed)
    return None
