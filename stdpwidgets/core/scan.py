r"""Sequences of clipped affine weight updates, composed by a parallel prefix scan.

An additive update clipped to the bounds, :math:`w \mapsto \mathrm{clip}(w + d, l, h)`, and a
multiplicative (soft-bound) one, :math:`w \mapsto \mathrm{clip}(\alpha w + \beta, l, h)` with
:math:`\alpha \ge 0`, belong to one family of elementwise maps

.. math:: f(w) = \min(\max(\alpha w + \beta,\ lo),\ hi), \qquad \alpha \ge 0,\ lo \le hi,

and the family is closed under composition: applying :math:`f_1` then :math:`f_2` gives
:math:`\alpha = \alpha_2\alpha_1`, :math:`\beta = \alpha_2\beta_1 + \beta_2`,
:math:`lo = \max(\alpha_2 lo_1 + \beta_2,\ lo_2)` and
:math:`hi = \min(\max(\alpha_2 hi_1 + \beta_2,\ lo_2),\ hi_2)` (then :math:`lo \leftarrow \min(lo, hi)`;
:math:`\alpha_2 \ge 0` keeps the order of the clip bounds). Composition is associative, so the
weights after every one of :math:`K` updates come from a Hillis-Steele scan in
:math:`\lceil\log_2 K\rceil` vectorised passes instead of :math:`K` sequential steps.
"""

from __future__ import annotations

from typing import Tuple

import torch

__all__ = ["ClampedAffine", "compose", "prefix_compose", "apply"]

ClampedAffine = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # alpha, beta, lo, hi


def compose(first: ClampedAffine, then: ClampedAffine) -> ClampedAffine:
    """The map ``then(first(w))``; each part broadcasts elementwise."""
    a1, b1, lo1, hi1 = first
    a2, b2, lo2, hi2 = then
    lo = torch.maximum(a2 * lo1 + b2, lo2)
    hi = torch.minimum(torch.maximum(a2 * hi1 + b2, lo2), hi2)
    return a2 * a1, a2 * b1 + b2, torch.minimum(lo, hi), hi


def prefix_compose(maps: ClampedAffine) -> ClampedAffine:
    """Inclusive prefix compositions along the leading axis: entry ``k`` is ``f_k(...f_0(w))``.

    Parameters
    ----------
    maps : (alpha, beta, lo, hi)
        Tensors shaped ``(K, *weight.shape)`` (``alpha >= 0``).
    """
    alpha, beta, lo, hi = maps
    steps = alpha.shape[0]
    offset = 1
    while offset < steps:
        earlier = tuple(part[:-offset] for part in (alpha, beta, lo, hi))
        later = tuple(part[offset:] for part in (alpha, beta, lo, hi))
        merged = compose(earlier, later)
        alpha, beta, lo, hi = (torch.cat([part[:offset], new]) for part, new in zip((alpha, beta, lo, hi), merged))
        offset *= 2
    return alpha, beta, lo, hi


def apply(maps: ClampedAffine, w: torch.Tensor) -> torch.Tensor:
    """Evaluate the maps at ``w`` (broadcast over their leading axis)."""
    alpha, beta, lo, hi = maps
    return torch.minimum(torch.maximum(alpha * w + beta, lo), hi)
