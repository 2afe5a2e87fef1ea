"""Data-parallel STDP: the few collectives that let a batch split across processes learn as one.

A step of STDP sums its correlations over the batch (potentiation and depression, each shaped
like the weight). Split the batch across processes, each keeping the traces of its own samples,
and the sum over the whole batch is the sum over the processes of their partial sums: one
all-reduce per step. Every process then applies the same update to the same weight, so the
weights stay identical and the result equals one process learning from the whole batch (up to
the rounding of a sum taken in another order).

``torch.distributed`` is imported inside the functions: this module imports on builds of
PyTorch without distributed support, where only ``process_group=None`` (or False) works.
"""

from __future__ import annotations

import numbers
from typing import Any, List, Optional, Sequence

import torch

__all__ = ["resolve_process_group", "all_reduce_sum", "global_count", "any_over_ranks"]


def _distributed():
    """``torch.distributed`` where this build of PyTorch supports it, else None."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - builds without the module
        return None
    return dist if dist.is_available() else None


def resolve_process_group(process_group: Any) -> Optional[Any]:
    """The process group a learner all-reduces over, or None for a learner on its own.

    Parameters
    ----------
    process_group : None, bool or torch.distributed.ProcessGroup
        None or False: no distribution (every process learns from its own batch alone).
        True: the default group (every process of the job), which must be initialised.
        A ``ProcessGroup`` (``torch.distributed.new_group(...)``, ``torch.distributed.group.WORLD``):
        that group; this process must be a member of it.

    Returns
    -------
    None or torch.distributed.ProcessGroup

    Raises
    ------
    ValueError
        ``True`` without an initialised default group (or on a build without
        ``torch.distributed``), or a group this process is not a member of.
    TypeError
        Anything else.
    """
    if process_group is None or process_group is False:
        return None
    dist = _distributed()
    if process_group is True:
        if dist is None:
            raise ValueError(
                "process_group=True needs torch.distributed, which this build of PyTorch lacks; "
                "install a build with distributed support or pass process_group=None"
            )
        if not dist.is_initialized():
            raise ValueError(
                "process_group=True needs the default process group: call "
                "torch.distributed.init_process_group first (for example in a script launched "
                "with torchrun, which sets the rank and world size), or pass process_group=None"
            )
        return dist.group.WORLD
    if dist is not None:
        if process_group is dist.GroupMember.NON_GROUP_MEMBER:
            raise ValueError(
                "process_group is a group this process is not a member of "
                "(torch.distributed.new_group returns that marker on the other ranks); pass it "
                "only on the ranks of the group, and process_group=None elsewhere"
            )
        if isinstance(process_group, dist.ProcessGroup):
            return process_group
    raise TypeError(
        "process_group must be None, True (the default group) or a "
        f"torch.distributed.ProcessGroup, got {type(process_group).__name__} {process_group!r}"
    )


def _check_tensors(tensors: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"tensors must be a list of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError("tensors must hold at least one tensor, got an empty list")
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}] must be a tensor, got {type(t).__name__}")
    first = tensors[0]
    for i, t in enumerate(tensors[1:], start=1):
        if t.dtype != first.dtype or t.device != first.device:
            raise ValueError(
                f"tensors must share one dtype and device (they travel in one buffer): "
                f"tensors[0] is {first.dtype} on {first.device}, tensors[{i}] is {t.dtype} on "
                f"{t.device}; convert them first"
            )
    return list(tensors)


def all_reduce_sum(tensors: Sequence[torch.Tensor], group: Optional[Any]) -> List[torch.Tensor]:
    """Elementwise sums over the group's ranks of a list of tensors, with one collective.

    The tensors are copied into one flat buffer, summed across the ranks by a single
    ``all_reduce`` and split back, so a step costs one round trip however many correlations the
    rule has. Every rank must pass tensors of the same shapes, in the same order, and call this
    at the same point (a collective that some rank skips waits for it forever).

    Parameters
    ----------
    tensors : list of Tensor
        Same dtype and device (CPU tensors for gloo, CUDA tensors for NCCL).
    group : None or torch.distributed.ProcessGroup
        As returned by :func:`resolve_process_group`; None means no other ranks (the sum over
        this process alone), and returns a new list of the same tensors, without a copy.

    Returns
    -------
    list of Tensor
        The sums, shaped like the inputs (views of one new buffer); the inputs are not changed.
    """
    tensors = _check_tensors(tensors)
    if group is None:
        return list(tensors)
    dist = _distributed()
    buffer = torch.cat([t.reshape(-1) for t in tensors])  # a new buffer: the inputs stay as they are
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM, group=group)
    pieces = buffer.split([t.numel() for t in tensors])
    return [piece.view(t.shape) for piece, t in zip(pieces, tensors)]


def global_count(n_local: int, group: Optional[Any], device: Any) -> int:
    """The sum over the group's ranks of an integer, such as the global batch size.

    Parameters
    ----------
    n_local : int
        This rank's count (>= 0), for ``reduction="mean"`` its batch size.
    group : None or torch.distributed.ProcessGroup
        None: ``n_local`` itself.
    device : torch.device or str
        Where the one-element buffer lives: a device the group's backend supports (the
        weight's device).

    Returns
    -------
    int
    """
    if isinstance(n_local, bool) or not isinstance(n_local, numbers.Integral):
        raise TypeError(f"n_local must be an integer >= 0, got {type(n_local).__name__} {n_local!r}")
    if n_local < 0:
        raise ValueError(f"n_local must be an integer >= 0, got {n_local}")
    if group is None:
        return int(n_local)
    dist = _distributed()
    count = torch.tensor([int(n_local)], dtype=torch.int64, device=device)
    dist.all_reduce(count, op=dist.ReduceOp.SUM, group=group)
    return int(count.item())


def any_over_ranks(mask: torch.Tensor, group: Optional[Any]) -> torch.Tensor:
    """Elementwise OR over the group's ranks of a bool tensor.

    ``run()`` uses it on its per-step event masks: every rank then processes the union of the
    ranks' event steps, so all of them call the per-chunk collectives equally often.

    Parameters
    ----------
    mask : bool Tensor
        The same shape on every rank (checked with one extra two-element collective first, so
        that a mismatch raises ValueError on every rank instead of hanging).
    group : None or torch.distributed.ProcessGroup
        None: the mask itself.

    Returns
    -------
    bool Tensor
        A new tensor (or ``mask`` itself for ``group=None``).
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor, got {got}; compare first, e.g. spikes != 0")
    if group is None:
        return mask
    dist = _distributed()
    # the largest numel and minus the smallest: equal in magnitude exactly when all ranks agree
    sizes = torch.tensor([mask.numel(), -mask.numel()], dtype=torch.int64, device=mask.device)
    dist.all_reduce(sizes, op=dist.ReduceOp.MAX, group=group)
    largest, smallest = int(sizes[0]), -int(sizes[1])
    if largest != smallest:
        raise ValueError(
            f"mask must have the same number of elements on every rank, got between {smallest} "
            f"and {largest}; every rank must run() sequences of the same length"
        )
    union = mask.to(torch.uint8)  # uint8 travels on gloo and NCCL; MAX of 0/1 is OR
    dist.all_reduce(union, op=dist.ReduceOp.MAX, group=group)
    return union.bool()
