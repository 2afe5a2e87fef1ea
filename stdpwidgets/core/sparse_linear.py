r"""Sparse spikes on ``nn.Linear``: only the rows and columns that spiked cost work.

The potentiation :math:`P_{ji} = \sum_b P^{post}_{bj} P^{pre}_{bi}` is zero in every row
:math:`j` whose postsynaptic term is zero in the whole batch, and the depression
:math:`D_{ji} = \sum_b D^{post}_{bj} D^{pre}_{bi}` in every column :math:`i` whose presynaptic
term is. For the pair and triplet rules those terms are the spikes themselves, so a step with
few spikes changes only the few rows :math:`R` of the neurons that fired and the few columns
:math:`C` of the inputs that fired: :math:`|R|\,n_{in} + |C|\,n_{out}` weights instead of
:math:`n_{out} n_{in}`.

The new values are computed with the dense path's order of operations (first ``+ F+ P``, then
``- F- D``, then the clip), so they are the dense path's to within one rounding (a GEMM kernel
may fuse a multiply-add that an elementwise kernel rounds twice, depending on the sizes) and
the order of the batch sum (tests/test_core_update_paths.py: <= 1e-15 in float64). The other weights are left as they are, which is
what the dense path does to them only while they lie within the bounds (it clips every weight
every step): callers check that first (:func:`weight_ready`).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn

from .correlate import linear_rows

__all__ = ["touched", "extremes", "within_bounds", "weight_ready", "sparse_change", "dense_change", "add_change_", "write_"]

# Use the sparse path when it touches at most this fraction of the weights. Touching a column
# is a strided walk through every row (~50x a dense pass per element on a CPU), and the path
# still clears the dw it hands out (and scans the weight's bounds when the weight changed
# since the last step), so it pays only for sparse steps: Linear(1024, 1024), 2 shared CPU
# cores, ms per step sparse / dense: batch 1, 2.1 % of the weights touched 0.39 / 0.56,
# 4.0 % 0.54 / 0.55, 8.2 % 0.59 / 0.56, 16 % 1.31 / 0.62; batch 4, 7.6 % 0.78 / 0.93,
# 16 % 0.80 / 0.98, 31 % 1.69 / 1.00.
SPARSE_MAX_FRACTION = 0.05


def touched(layer: nn.Linear, terms, force: bool = False) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """``(rows, cols)``: indices of the weight rows the potentiation touches and the columns the
    depression touches, or None when they are too many for the sparse path to pay
    (more than :data:`SPARSE_MAX_FRACTION` of the weights; ``force`` skips that test)."""
    _, p_post, d_pre, _ = terms
    p_post, d_pre = linear_rows(p_post), linear_rows(d_pre)
    if p_post.shape[0] == 0:  # an empty batch touches nothing
        empty = torch.zeros(0, dtype=torch.long, device=p_post.device)
        return empty, empty
    limit = SPARSE_MAX_FRACTION * layer.in_features * layer.out_features
    if not force and p_post.shape[0] > 1:
        # the first sample alone touches at least its own rows and columns: most dense batches
        # are told apart by that (two reductions of one sample) before the whole batch is scanned
        # (count_nonzero counts NaN, as != 0 does: a third of the time of ne().sum())
        first = torch.stack([p_post[0].count_nonzero(), d_pre[0].count_nonzero()]).tolist()
        if first[0] * layer.in_features + first[1] * layer.out_features > limit:
            return None
    if p_post.shape[0] == 1:  # one sample: its own non-zeros (NaN included) are the ones touched
        rows, cols = p_post[0].nonzero().flatten(), d_pre[0].nonzero().flatten()
    else:
        # the non-zeros of |x|.amax rather than of (x != 0).any: several times faster on a CPU
        # (NaN counts as touched); nonzero reads its count back once (on a GPU too), all the
        # test needs
        rows = p_post.abs().amax(0).nonzero().flatten()
        cols = d_pre.abs().amax(0).nonzero().flatten()
    if not force and rows.numel() * layer.in_features + cols.numel() * layer.out_features > limit:
        return None
    return rows, cols


def extremes(w: torch.Tensor) -> torch.Tensor:
    """``[min, max]`` of a non-empty ``w`` as a tensor (no host sync), for :func:`within_bounds`."""
    return torch.stack(torch.aminmax(w))  # NaN propagates into both


def within_bounds(rule, low: float, high: float) -> bool:
    """Whether weights whose extremes are ``low`` and ``high`` are finite and within the rule's
    bounds, so that weights the sparse path does not touch need no clipping and hold no NaN/inf."""
    return math.isfinite(low) and math.isfinite(high) and low >= rule.w_min and high <= rule.w_max


def weight_ready(rule, w: torch.Tensor) -> bool:
    """:func:`within_bounds` for the weight ``w`` (one host sync; True for an empty weight)."""
    if w.numel() == 0:
        return True
    low, high = extremes(w).tolist()
    return within_bounds(rule, low, high)


def sparse_change(update, w: torch.Tensor, terms, batch: int, rows: torch.Tensor, cols: torch.Tensor):
    """New values (unclipped) of the touched rows ``w[rows]`` and columns ``w[:, cols]``.

    Parameters
    ----------
    update : WeightUpdate
        The learner's update (rule, reduction, amplitudes).
    w : Tensor
        The weight, ``(out, in)``.
    terms : (P_pre, P_post, D_pre, D_post)
        The rule's correlation terms (``Rule.correlation_terms``).
    batch : int
        Samples in the batch (for ``reduction="mean"``).
    rows, cols : Tensor of int
        From :func:`touched`.

    Returns
    -------
    (Tensor, Tensor, Tensor, Tensor)
        The new rows ``(|rows|, in)`` and columns ``(out, |cols|)`` (where a row and a column
        cross, the row's value is the one to keep: it has both terms), then the old ones.
    """
    p_pre, p_post, d_pre, d_post = (linear_rows(t) for t in terms)
    potentiation = p_post.index_select(1, rows).t() @ p_pre  # (|R|, in)
    depression = d_post.t() @ d_pre.index_select(1, cols)  # (out, |C|)
    w_rows, w_cols = w.index_select(0, rows), w.index_select(1, cols)
    rule = update.rule
    if rule.weight_independent:
        a_plus, a_minus = update.scales(batch)
        new_rows = torch.add(w_rows, potentiation, alpha=a_plus)
        # where rows and columns cross: the second term, added as add_ adds it (index_add_
        # rounds alpha * x separately, one ulp away from the dense path)
        crossing = new_rows.index_select(1, cols).add_(depression.index_select(0, rows), alpha=-a_minus)
        new_rows.index_copy_(1, cols, crossing)
        return new_rows, torch.add(w_cols, depression, alpha=-a_minus), w_rows, w_cols
    if update.reduction == "mean":
        potentiation.div_(batch)
        depression.div_(batch)
    depression_rows = torch.zeros_like(w_rows)
    depression_rows.index_copy_(1, cols, depression.index_select(0, rows))
    new_rows = w_rows + rule.weighted_change(w_rows, potentiation, depression_rows)
    new_cols = w_cols + rule.weighted_change(w_cols, torch.zeros_like(w_cols), depression)
    return new_rows, new_cols, w_rows, w_cols


def _in_columns(cols: torch.Tensor, n_rows: int) -> torch.Tensor:
    """``cols`` repeated for every row (a stride-0 view): the index of a scatter along dim 1,
    which on a CPU writes columns about twice as fast as ``index_copy_`` / ``index_add_``."""
    return cols.expand(n_rows, cols.numel())


def dense_change(w: torch.Tensor, rows, cols, new_rows, new_cols, old_rows, old_cols,
                 out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The change ``new - old`` as a dense tensor shaped like ``w`` (zero outside the touched
    rows and columns; rows win where both cross), written into ``out`` (all zeros) if given."""
    dw = torch.zeros_like(w) if out is None else out
    dw.scatter_(1, _in_columns(cols, dw.shape[0]), new_cols - old_cols)
    dw.index_copy_(0, rows, new_rows - old_rows)
    return dw


def add_change_(total: torch.Tensor, rows, cols, new_rows, new_cols, old_rows, old_cols) -> None:
    """``total += new - old`` on the touched entries only (each crossing counted once)."""
    change_cols = new_cols - old_cols
    change_cols.index_fill_(0, rows, 0.0)  # these entries come with the rows
    total.scatter_add_(1, _in_columns(cols, total.shape[0]), change_cols)
    total.index_add_(0, rows, new_rows - old_rows)


def write_(w: torch.Tensor, rows, cols, new_rows, new_cols) -> None:
    """Write the new rows and columns into ``w`` in place (rows last: they win where both cross)."""
    w.scatter_(1, _in_columns(cols, w.shape[0]), new_cols)
    w.index_copy_(0, rows, new_rows)
