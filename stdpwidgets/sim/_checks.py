"""Small argument checks shared by the sim modules (private).

Every check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value
out of range, with a message that names the argument, shows what was received and says what
would work. Python, NumPy and one-element torch scalars are accepted wherever a number is.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import torch

__all__ = [
    "check_real",
    "check_finite",
    "check_positive",
    "check_count",
    "make_generator",
    "check_bool",
    "check_dtype",
    "check_device",
    "check_tensor",
    "as_float_vector",
    "check_choice",
    "check_index",
]


def _scalar(value: Any) -> Any:
    """A one-element tensor or a 0-d NumPy array as a Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float; ``TypeError`` for non-numbers (bools included), ``ValueError`` for NaN."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number (int or float), got {_describe(value)}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_finite(name: str, value: Any, unit: str = "") -> float:
    """A finite real number (any sign)."""
    value = check_real(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite{' (' + unit + ')' if unit else ''}, got {value}")
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
    """An integer >= ``minimum`` (bools refused; NumPy and 0-d tensor integers accepted)."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            raise TypeError(f"{name} must be an int, got the float {value!r}; pass int({value!r})")
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_index(name: str, value: Any, length: int) -> int:
    """An index into a sequence of ``length`` entries (negative counts from the end)."""
    value = check_count(name, value, minimum=-length)
    if value >= length:
        raise ValueError(f"{name} must lie in [-{length}, {length - 1}] (there are {length}), got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    value = _scalar(value)
    if type(value).__name__ == "bool_":  # numpy.bool_
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of the strings ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)} (a str), got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_dtype(name: str, dtype: Any, allow_bool: bool = True) -> torch.dtype:
    """``torch.bool`` (if allowed) or a floating torch dtype."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype such as torch.float32, got {_describe(dtype)}")
    if not (dtype.is_floating_point or (allow_bool and dtype == torch.bool)):
        kinds = "torch.bool or a floating dtype" if allow_bool else "a floating dtype"
        raise TypeError(f"{name} must be {kinds}, got {dtype}")
    return dtype


def check_device(device: Any, name: str = "device") -> torch.device:
    """A ``torch.device`` from a string or device (``TypeError``/``ValueError`` naming the argument)."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a str or torch.device such as 'cpu' or 'cuda', got {_describe(device)}")
    try:
        return torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} = {device!r} is not a device torch knows; use e.g. 'cpu' or 'cuda:0'") from None


def check_tensor(name: str, value: Any, shape: str = "") -> torch.Tensor:
    """A torch tensor (``TypeError`` otherwise); ``shape`` describes the expected layout for the message."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{' ' + shape if shape else ''}, got {_describe(value)}")
    return value


def as_float_vector(name: str, values: Any, finite: bool = True) -> torch.Tensor:
    """A number or a sequence/tensor of numbers as a flat float64 tensor (at least one value)."""
    if isinstance(values, torch.Tensor):
        if values.dtype == torch.bool or values.is_complex():
            raise TypeError(f"{name} must hold real numbers, got a {values.dtype} tensor")
        out = values.detach().to("cpu", torch.float64).reshape(-1)
    else:
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{name} must be a number or a sequence of numbers, got {_describe(values)}")
        items = [_scalar(values)] if not hasattr(values, "__iter__") else [_scalar(v) for v in values]
        for v in items:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be a number or a sequence of numbers, got an entry {_describe(v)}")
        out = torch.tensor([float(v) for v in items], dtype=torch.float64)
    if out.numel() == 0:
        raise ValueError(f"{name} needs at least one value")
    if finite and not bool(torch.isfinite(out).all()):
        raise ValueError(f"every value of {name} must be finite (no NaN or inf), got {out.tolist()[:8]}")
    return out


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
        seed = _scalar(seed)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"seed must fit in 64 bits (0 <= seed < 2**64), got {seed}")
        return torch.Generator(device=device).manual_seed(seed)
    return None


def check_images_for_kernels(images: Any, kernels: torch.Tensor) -> torch.Tensor:
    """Images ``(n, H, W)`` or ``(n, C_in, H, W)`` that ``kernels`` ``(C_out, C_in, kH, kW)`` fit,
    as a 4-D tensor (``TypeError`` for a non-tensor, ``ValueError`` for a layout or size that does
    not fit)."""
    images = check_tensor("images", images, "(n, H, W) or (n, C_in, H, W)")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != kernels.shape[1]:
        raise ValueError(f"images must be (n, H, W) or (n, {kernels.shape[1]}, H, W) for these kernels, "
                         f"got {tuple(images.shape)}")
    if kernels.shape[2] > images.shape[2] or kernels.shape[3] > images.shape[3]:
        raise ValueError(f"kernels of {tuple(kernels.shape[2:])} are larger than the images {tuple(images.shape[2:])}")
    return images
