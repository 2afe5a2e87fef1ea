"""SpikeRecorder: the spikes of one forward pass of the user's own model, picked up by hooks.

STDP needs, per time step, the spikes going into a layer (presynaptic) and the spikes of the
neurons that layer drives (postsynaptic). In a model written as ``nn.Module``\\ s these exist
only inside ``forward``. A recorder registers two forward hooks, one on the layer (its input)
and one on the spiking module (its output), so that after each forward pass the pair is ready
for :meth:`~stdpwidgets.core.STDPLearner.step`, without changing the model's code.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch
from torch import nn

__all__ = ["SpikeRecorder"]


class _Slot:
    """What one side recorded since the last take: the first pass's spikes and a pass count.

    Only the first pass is kept: ``take`` refuses more than one, so keeping later ones would
    only let the memory of a model run without learning grow without bound.
    """

    __slots__ = ("spikes", "version", "count")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.spikes: Optional[torch.Tensor] = None
        self.version = 0
        self.count = 0

    def put(self, spikes: torch.Tensor) -> None:
        if self.count == 0:
            self.spikes = spikes.detach()  # no autograd graph is kept alive
            # a detached tensor shares the version counter: an in-place change shows in take()
            # (inference-mode tensors have none: they cannot be changed in place outside it)
            self.version = None if self.spikes.is_inference() else self.spikes._version
        self.count += 1


class SpikeRecorder:
    """Records a layer's input spikes and a spiking module's output spikes with forward hooks.

    Parameters
    ----------
    layer : nn.Module
        The learning layer (``nn.Linear``, ``nn.Conv2d``, ...). Its first positional input
        of each call is taken as the presynaptic spikes ``(batch, *layer input)``; further
        positional and keyword inputs are ignored. A call without a positional input raises
        ``TypeError`` inside the forward pass.
    spiking_module : nn.Module
        The module whose output spikes are the postsynaptic ones ``(batch, *layer output)``,
        usually the neurons right after ``layer``.
    select : callable, optional
        Picks the spikes out of the spiking module's output when that is not a tensor, for
        example ``select=lambda out: out[0]`` for snnTorch's ``(spk, mem)``. Without it a tuple,
        list or dict output raises ``TypeError`` in the forward pass.

    Notes
    -----
    The recorded tensors are detached (no graph is kept) but not copied: changing them in place
    before :meth:`take` is detected there and refused. Every forward pass is recorded, also
    under ``torch.no_grad()`` or in ``eval()`` mode; call :meth:`clear` after passes that
    should not be learned from, or :meth:`remove` the hooks.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(10, 4), lif)            # doctest: +SKIP
    >>> with SpikeRecorder(model[0], model[1]) as recorder:     # doctest: +SKIP
    ...     for x in inputs:
    ...         model(x)
    ...         learner.step(*recorder.take())
    """

    def __init__(self, layer: nn.Module, spiking_module: nn.Module, *,
                 select: Optional[Callable[[Any], torch.Tensor]] = None) -> None:
        if not isinstance(layer, nn.Module):
            raise TypeError(f"layer must be an nn.Module, got {type(layer).__name__}")
        if not isinstance(spiking_module, nn.Module):
            raise TypeError(
                f"spiking_module must be the nn.Module whose output spikes are the layer's "
                f"postsynaptic spikes, got {type(spiking_module).__name__}"
            )
        if select is not None and not callable(select):
            raise TypeError(
                f"select must be None or a callable picking the spikes out of the spiking "
                f"module's output (e.g. lambda out: out[0]), got {type(select).__name__}"
            )
        self.layer = layer
        self.spiking_module = spiking_module
        self.select = select
        self._pre, self._post = _Slot(), _Slot()
        self._handles = [
            layer.register_forward_hook(self._record_pre),
            spiking_module.register_forward_hook(self._record_post),
        ]

    # ------------------------------------------------------------------ hooks

    def _record_pre(self, module: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        if not inputs or not isinstance(inputs[0], torch.Tensor):
            got = type(inputs[0]).__name__ if inputs else "no positional input"
            raise TypeError(
                f"SpikeRecorder takes the presynaptic spikes from the first positional input of "
                f"{type(module).__name__}, got {got}; call the layer with its input spikes as "
                "the first positional argument"
            )
        self._pre.put(inputs[0])

    def _record_post(self, module: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        spikes = output if self.select is None else self.select(output)
        if not isinstance(spikes, torch.Tensor):
            if self.select is None and isinstance(output, (tuple, list, dict)):
                raise TypeError(
                    f"the spiking module {type(module).__name__} returned a "
                    f"{type(output).__name__}, not a tensor of spikes; pass select= to pick the "
                    "spikes out of it, e.g. select=lambda out: out[0] for (spk, mem)"
                )
            raise TypeError(
                f"the spikes of {type(module).__name__} must be a tensor, got "
                f"{type(spikes).__name__}" + ("" if self.select is None else " from select(output)")
            )
        self._post.put(spikes)

    # ------------------------------------------------------------------ use

    @property
    def pending(self) -> int:
        """Forward passes recorded since the last :meth:`take` (the larger of the two sides)."""
        return max(self._pre.count, self._post.count)

    @property
    def removed(self) -> bool:
        """Whether :meth:`remove` has taken the hooks off the modules."""
        return not self._handles

    def take(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The ``(pre, post)`` spikes of the one forward pass since the last take; clears them.

        Raises
        ------
        RuntimeError
            When no forward pass was recorded, when only one of the two modules ran, when more
            than one pass was recorded, or when the recorded spikes were changed in place
            since. The recording is left as it was (:meth:`clear` drops it).
        """
        pre, post = self._pre, self._post
        if pre.count == 0 and post.count == 0:
            raise RuntimeError(
                "no forward pass was recorded since the last step: run the model on this "
                "time step's input first, then step the learner"
                + (" (the recorder's hooks were removed)" if self.removed else "")
            )
        if pre.count > 1 or post.count > 1:
            raise RuntimeError(
                f"call learner.step() after each forward pass ({self.pending} passes recorded "
                "since the last step), or record them yourself and call run(); "
                "recorder.clear() drops the recorded passes"
            )
        if post.count == 0:
            raise RuntimeError(
                f"the layer {type(self.layer).__name__} ran but the spiking module "
                f"{type(self.spiking_module).__name__} did not: is it the module the layer "
                "drives, and does the forward pass reach it?"
            )
        if pre.count == 0:
            raise RuntimeError(
                f"the spiking module {type(self.spiking_module).__name__} ran but the layer "
                f"{type(self.layer).__name__} did not: is the layer the one feeding these neurons?"
            )
        for name, slot in (("pre", pre), ("post", post)):
            if slot.version is not None and slot.spikes._version != slot.version:
                raise RuntimeError(
                    f"the recorded {name} spikes were changed in place after the forward pass; "
                    "step the learner before changing them (or pass a copy to the model)"
                )
        spikes = (pre.spikes, post.spikes)
        pre.clear()
        post.clear()
        return spikes

    def clear(self) -> None:
        """Drop what was recorded since the last take (passes not to be learned from)."""
        self._pre.clear()
        self._post.clear()

    def remove(self) -> None:
        """Take both hooks off the modules (again: no effect). Recorded spikes stay takeable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "SpikeRecorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "removed" if self.removed else f"{self.pending} pending"
        return f"SpikeRecorder({type(self.layer).__name__} -> {type(self.spiking_module).__name__}, {state})"
