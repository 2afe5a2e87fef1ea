"""How one step's correlations become a weight change, and how that change is applied.

Shared by :meth:`STDPLearner.step` and the per-event paths of :meth:`STDPLearner.run`, so that a
run computes every event with exactly the arithmetic of a step.

The weight change of a step is ``raw = F+(w) C(P_pre, P_post) - F-(w) C(D_pre, D_post)``
(:meth:`~stdpwidgets.core.rule.Rule.correlation_terms`). For a weight-independent (additive)
rule both correlations are accumulated straight into the weight by the layer kind's
:attr:`~stdpwidgets.core.correlate.LayerKind.accumulate` (for ``nn.Linear`` two in-place GEMMs,
``w += a+ P``, ``w -= a- D``): no weight-sized temporaries, which on a CPU cost as much as the
GEMMs themselves. A weight-dependent rule writes both correlations into buffers (``mm`` with
``out=``) and adds each term with one ``addcmul_`` (:meth:`~stdpwidgets.core.rule.Rule.add_weighted_change_`).
The in-place step changes the weight first and restores it from a copy if the result is not
finite, so a failed step still leaves everything as it was; the copy is the memory of the
``dw`` it then hands out (``dw = new - old`` in place).

What the update knows between steps, to do less (it changes no result): whether the weight is
finite and within the bounds (:meth:`WeightUpdate._readiness_key`: this update left it so and
its version counter shows no change since), which spares the sparse path its scan of the weight
and a soft-bound rule the clamps of its factors.

Which path serves a step depends on that step's spikes only, never on earlier steps: the paths
agree only to a rounding, and a resumed run must repeat the uninterrupted one bit for bit.
"""

from __future__ import annotations

import math
import sys
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from . import sparse_linear

__all__ = ["WeightUpdate", "NOT_FINITE", "largest"]

NOT_FINITE = (
    "the {what} is not finite (NaN or inf, or beyond the weight dtype's range); "
    "nothing was changed. Causes: layer.weight already holding NaN/inf, spike counts "
    "so large that traces or correlations overflow the weight's dtype, amplitudes too "
    "large for it, or a custom weight dependence returning NaN/inf; use smaller "
    "counts or amplitudes, a float64 layer, or fix the dependence"
)

Terms = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


# references a tensor's storage has from the tensor alone (the probe's own storage object included)
_STORAGE_USE = getattr(torch._C, "_storage_Use_Count", None)


def _base_use() -> Optional[int]:
    if _STORAGE_USE is None:
        return None
    probe = torch.empty(1)  # held: a temporary would be freed before its count is read
    return _STORAGE_USE(probe.untyped_storage()._cdata)


_BASE_USE = _base_use()


def _unshared(t: torch.Tensor) -> bool:
    """True when ``t`` (held by the caller's one local name) is referred to by nothing else: no
    other Python reference, no view or other tensor on its storage (numpy arrays included)."""
    if _STORAGE_USE is None or t.storage_offset() != 0 or not t.is_contiguous():
        return False
    # getrefcount counts its argument, this parameter and reusable()'s local: 3 when unshared
    return sys.getrefcount(t) <= 3 and _STORAGE_USE(t.untyped_storage()._cdata) <= _BASE_USE


def reusable(holder: Dict[str, torch.Tensor], key: str, like: torch.Tensor) -> torch.Tensor:
    """``holder.pop(key)`` (a tensor the caller is done with) if its memory can be reused for a
    tensor like ``like``: same shape, dtype and device, on a CPU, and referred to by nothing
    else (no name, container, view or numpy array outside ``holder``). Otherwise a new tensor."""
    return reusable_as(holder, key, like.shape, like.dtype, like.device)


def reusable_as(holder: Dict[str, torch.Tensor], key: str, shape, dtype: torch.dtype,
                device: torch.device) -> torch.Tensor:
    """:func:`reusable` for a tensor of ``shape``, ``dtype`` and ``device`` (values undefined)."""
    previous = holder.pop(key, None)
    if previous is not None and previous.device.type == "cpu" and previous.shape == shape \
            and previous.dtype == dtype and _unshared(previous):
        return previous
    return torch.empty(shape, dtype=dtype, device=device)


_LARGEST: Dict[torch.dtype, float] = {}


def largest(dtype: torch.dtype) -> float:
    """The largest finite value of a float dtype (``torch.finfo(dtype).max``, kept: a finfo
    costs a microsecond, asked a few times a step)."""
    value = _LARGEST.get(dtype)
    if value is None:
        value = _LARGEST[dtype] = torch.finfo(dtype).max
    return value


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """True when every tensor is finite: one sum each (NaN and inf propagate through it, and it
    is much cheaper than ``isfinite().all()``) and one host sync; the exact test only when a sum
    is not finite (the sums may just overflow)."""
    total = tensors[0].sum()
    for t in tensors[1:]:
        total = total + t.sum()
    if math.isfinite(total.item()):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def check_finite(ok: bool, what: str) -> None:
    """Raise ``ValueError`` (before anything is committed) when an update is not finite."""
    if not ok:
        raise ValueError(NOT_FINITE.format(what=what))


class WeightUpdate:
    """The weight change of one step for one learner's layer, rule and settings.

    Parameters
    ----------
    learner : STDPLearner
        Read live at every call (``learner.rule`` may be replaced between steps): its
        ``layer`` and layer kind, ``rule`` (amplitudes, weight dependence, bounds),
        ``reduction`` (``"mean"`` divides by the batch size, the global one when distributed),
        ``update`` (``"in-place"`` or ``"grad"``) and ``process_group``: with a group the
        correlations are summed over its ranks before they are used
        (:mod:`stdpwidgets.core.distributed`), so every rank applies the change of the whole
        global batch.
    """

    def __init__(self, learner) -> None:
        self._learner = learner
        self._buffers: Dict[str, torch.Tensor] = {}  # weight-sized work buffers, reused step after step
        self._handed_out: Dict[str, torch.Tensor] = {}  # "dw": the last dw handed out
        # (weight version, address, bounds) when this update last left the weight finite and
        # within the bounds: a weight not changed since (its version counter tells) needs no scan
        self._ready_as: Optional[tuple] = None

    layer = property(lambda self: self._learner.layer)
    kind = property(lambda self: self._learner._kind)
    rule = property(lambda self: self._learner.rule)
    reduction = property(lambda self: self._learner.reduction)
    update = property(lambda self: self._learner.update)
    group = property(lambda self: self._learner.process_group)

    # ------------------------------------------------------------------ pieces

    def buffer(self, name: str, like: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """A work buffer shaped like ``like`` (in ``dtype``, default ``like``'s), kept between
        steps (its values are garbage): a new 4 MB tensor costs page faults worth a GEMM on a
        CPU. Weight-sized: ``old``, ``raw``, ``depression``, ``factor`` (the additive in-place step
        uses one); trace-sized: the decayed traces and float copies of bool spikes."""
        dtype = like.dtype if dtype is None else dtype
        buf = self._buffers.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != dtype or buf.device != like.device:
            buf = self._buffers[name] = torch.empty(like.shape, dtype=dtype, device=like.device)
        return buf

    def output(self, weight: torch.Tensor) -> torch.Tensor:
        """A weight-shaped tensor (values undefined) to hand out as a step's ``dw``: on a CPU the
        one handed out last time, when nothing else refers to it any more (its memory is warm),
        else a new one."""
        out = reusable(self._handed_out, "dw", weight)
        if out.device.type == "cpu":
            self._handed_out["dw"] = out
        return out

    def batch_total(self, batch: int) -> int:
        """Samples the update is averaged over: this process's batch, or the global one (one
        tiny collective, only for ``reduction="mean"``). The other methods take its result as
        their ``batch``."""
        if self.group is None or self.reduction != "mean":
            return batch
        from .distributed import global_count

        return global_count(batch, self.group, self.layer.weight.device)

    def scales(self, batch: int) -> Tuple[float, float]:
        """``(a+, a-)`` of a weight-independent rule, divided by the batch for ``"mean"``."""
        a_plus, a_minus = self.rule.amplitude_scale
        if self.reduction == "mean":
            return a_plus / batch, a_minus / batch
        return a_plus, a_minus

    def correlations_into(self, terms: Terms, batch: int, p_out: torch.Tensor, d_out: torch.Tensor):
        """``(P, D)`` written into ``p_out`` and ``d_out``: the two batch-summed correlations
        (averaged for ``"mean"``, summed over the ranks when distributed)."""
        p_pre, p_post, d_pre, d_post = terms
        self.kind.correlate_into(self.layer, p_out, p_pre, p_post)
        self.kind.correlate_into(self.layer, d_out, d_pre, d_post)
        if self.group is not None:
            from .distributed import all_reduce_sum

            summed = all_reduce_sum([p_out, d_out], self.group)
            p_out.copy_(summed[0])
            d_out.copy_(summed[1])
        if self.reduction == "mean":
            p_out.div_(batch)
            d_out.div_(batch)
        return p_out, d_out

    @property
    def _accumulates(self) -> bool:
        """Whether the change is accumulated straight into its destination (a weight-independent
        rule, one process): ``a+ C(P) - a- C(D)`` with no correlation tensor of its own."""
        return self.rule.weight_independent and self.group is None

    def _accumulate_(self, out: torch.Tensor, terms: Terms, batch: int) -> None:
        """``out += a+ C(P_pre, P_post) - a- C(D_pre, D_post)`` in place (see :attr:`_accumulates`)."""
        a_plus, a_minus = self.scales(batch)
        self.kind.accumulate(self.layer, out, terms[0], terms[1], a_plus)
        self.kind.accumulate(self.layer, out, terms[2], terms[3], -a_minus)

    def raw_into(self, out: torch.Tensor, w: torch.Tensor, terms: Terms, batch: int) -> torch.Tensor:
        """``out <- F+(w) P - F-(w) D``, the unclipped change (``out`` shaped like the weight,
        distinct from ``w``); returns ``out``."""
        if self._accumulates:
            self._accumulate_(out.zero_(), terms, batch)
            return out
        potentiation, depression = self.correlations_into(terms, batch, out, self.buffer("depression", w))
        return self.rule.weighted_change(w, potentiation, depression, scratch=self.buffer("factor", w))

    def raw(self, w: torch.Tensor, terms: Terms, batch: int) -> torch.Tensor:
        """The unclipped change ``F+(w) P - F-(w) D`` as a new tensor."""
        return self.raw_into(torch.empty_like(w, memory_format=torch.contiguous_format), w, terms, batch)

    def add_raw_(self, work: torch.Tensor, terms: Terms, batch: int, w: Optional[torch.Tensor] = None,
                 inside: bool = False) -> None:
        """``work += raw``, the change computed at weight ``w`` (default ``work`` itself);
        ``inside``: ``w`` is known to lie within the rule's bounds (fewer passes)."""
        if self._accumulates:
            self._accumulate_(work, terms, batch)
            return
        if inside and self._folds:
            self._add_folded_(work, work if w is None else w, terms, batch)
            return
        potentiation, depression = self.correlations_into(terms, batch, self.buffer("raw", work),
                                                          self.buffer("depression", work))
        scratch = self.buffer("factor", work)
        # the depression factor of work itself must be taken before work changes: a buffer of its own
        scratch_down = self.buffer("factor down", work) if w is None or w is work else scratch
        self.rule.add_weighted_change_(work, work if w is None else w, potentiation, depression, scratch, scratch_down,
                                       inside)

    def moved_into(self, out: torch.Tensor, w: torch.Tensor, terms: Terms, batch: int, inside: bool = False
                   ) -> torch.Tensor:
        """``out <- w + raw``, the unclipped change at ``w`` added to ``w`` (``out`` distinct from
        ``w``, its old values ignored): what grad mode clips. The same values as copying ``w``
        into ``out`` and :meth:`add_raw_`; the folded form writes ``out`` in its first pass."""
        if inside and self._folds:
            self._add_folded_(out, w, terms, batch, start=w)
            return out
        self.add_raw_(out.copy_(w), terms, batch, w=w, inside=inside)
        return out

    @property
    def _folds(self) -> bool:
        """Whether a weight within its bounds takes :meth:`_add_folded_` (one process)."""
        return self.group is None and self.rule.dependence.folds_into_correlations(self.rule.w_min)

    def _add_folded_(self, work: torch.Tensor, w: torch.Tensor, terms: Terms, batch: int,
                     start: Optional[torch.Tensor] = None) -> None:
        """``work += a+ w_max P - w * (a+ P + a- D)``, the multiplicative change of a weight ``w``
        within ``[0, w_max]`` (:meth:`WeightDependence.folds_into_correlations`): ``P`` from one
        correlation, ``a+ P + a- D`` from the second (its kernel adds ``a+ P`` as it writes),
        then one ``addcmul`` and one ``add_`` (the factors' own passes are gone). ``w`` may be
        ``work`` itself: each element is read before it is written. With ``start``, ``work`` is
        first ``start`` (its old values ignored), written by the ``addcmul`` itself."""
        p_pre, p_post, d_pre, d_post = terms
        a_plus, a_minus = self.scales(batch)
        potentiation = self.buffer("raw", work)
        both = self.buffer("depression", work)
        self.kind.correlate_into(self.layer, potentiation, p_pre, p_post)
        self.kind.combine(self.layer, both, potentiation, a_plus, d_pre, d_post, a_minus)
        torch.addcmul(work if start is None else start, w, both, value=-1.0, out=work)
        work.add_(potentiation, alpha=a_plus * self.rule.w_max)

    def change_bound(self, count: int, term_max: Optional[Sequence[float]]) -> float:
        """Upper bound on ``|F+(w) P - F-(w) D|`` (weight units) for a weight within the bounds:
        ``count`` (the most products a correlation sums) times the rule's terms' bounds
        ``term_max`` (:meth:`Rule.term_bounds`) and the amplitudes times their factors' bounds;
        inf when unknown (no term bounds, a custom dependence, correlations summed over ranks)."""
        if term_max is None or self.group is not None:
            return math.inf
        factors = self.rule.dependence.factor_bounds(self.rule.w_min, self.rule.w_max)
        if factors is None:
            return math.inf
        (s_plus, s_minus), (f_plus, f_minus) = self.rule.amplitude_scale, factors
        p_pre, p_post, d_pre, d_post = term_max
        return count * (s_plus * f_plus * p_pre * p_post + s_minus * f_minus * d_pre * d_post)

    def _stays_finite(self, weight: torch.Tensor, change_bound: float, also_finite: Sequence[torch.Tensor]) -> bool:
        """Whether a weight within the rule's (finite) bounds, changed by less than
        ``change_bound``, is finite for certain (a margin of 16 for the sums' rounding): then
        the step needs no scan for NaN/inf. False when other tensors must be checked too."""
        w_min, w_max = self.rule.w_min, self.rule.w_max
        if also_finite or not (math.isfinite(w_min) and math.isfinite(w_max)):
            return False
        return max(abs(w_min), abs(w_max)) + change_bound < largest(weight.dtype) / 16

    def clip_(self, w: torch.Tensor) -> torch.Tensor:
        """Clip ``w`` to the rule's bounds in place (nothing to do when unbounded)."""
        if self.rule.bounded:
            w.clamp_(self.rule.w_min, self.rule.w_max)
        return w

    def add_to_grad(self, dw: torch.Tensor) -> None:
        """Grad mode: accumulate ``-dw`` into ``weight.grad``."""
        weight = self.layer.weight
        if weight.grad is None:
            weight.grad = -dw
        else:
            weight.grad.sub_(dw)

    @property
    def sparse_capable(self) -> bool:
        """Whether the sparse path (:mod:`~stdpwidgets.core.sparse_linear`) can serve this
        learner: an ``nn.Linear``, one process, a built-in weight dependence (elementwise)."""
        return isinstance(self.layer, nn.Linear) and self.group is None and self.rule.dependence.name != "custom"

    def sparse_step(self, weight, terms, batch, also_finite=(), inside: bool = False,
                    finite: bool = False) -> Optional[torch.Tensor]:
        """One step through the sparse path, or None (nothing changed) when it does not pay or
        the weight is not within its bounds (then only the dense path clips it right);
        ``inside``: that is already known (:meth:`_readiness_key`), so the weight is not scanned;
        ``finite``: the update is known finite too (:meth:`_stays_finite`), so nothing is."""
        hit = sparse_linear.touched(self.layer, terms)
        if hit is None or weight.numel() == 0:
            return None
        rows, cols = hit
        new_rows, new_cols, old_rows, old_cols = sparse_linear.sparse_change(self, weight, terms, batch, rows, cols)
        if not (inside and finite):
            checked = (new_rows, new_cols, *also_finite)
            sums = torch.stack([t.sum() for t in checked])
            if inside:
                sums = sums.tolist()
            else:  # the weight's extremes and the finiteness sums, read back together (one host sync)
                low, high, *sums = torch.cat([sparse_linear.extremes(weight), sums]).tolist()
                if not sparse_linear.within_bounds(self.rule, low, high):
                    return None
            if not math.isfinite(math.fsum(sums)):
                check_finite(all(bool(torch.isfinite(t).all()) for t in checked), "weight update of this step")
        self.clip_(new_rows)
        self.clip_(new_cols)
        dw = sparse_linear.dense_change(weight, rows, cols, new_rows, new_cols, old_rows, old_cols,
                                        out=self.output(weight).zero_())
        if self.update == "grad":
            self.add_to_grad(dw)
        else:
            sparse_linear.write_(weight, rows, cols, new_rows, new_cols)
        self._ready_as = self._readiness_key(weight)
        return dw

    def _readiness_key(self, weight: torch.Tensor) -> tuple:
        """What must not change for the weight to be known finite and within the bounds still:
        its version counter (every in-place change through torch counts; writes through
        ``.data`` or a NumPy view do not, and are not seen), its memory and the rule's bounds."""
        return weight._version, weight.data_ptr(), self.rule.w_min, self.rule.w_max

    # ------------------------------------------------------------------ one step

    def step(self, weight: torch.Tensor, terms: Terms, batch: int, also_finite: Sequence[torch.Tensor] = (),
             change_bound: float = math.inf) -> torch.Tensor:
        """Apply one step's change (in place or into ``.grad``) and return it.

        ``also_finite``: other tensors of the step (its new traces) that must be finite too;
        they are checked in the same sum, with one host sync for the whole step.
        ``change_bound``: an upper bound on the unclipped change (:meth:`change_bound`); when it
        shows that the weight stays finite, the step does not scan it for NaN/inf.
        Raises ``ValueError`` with nothing changed when the update is not finite.
        """
        what = "weight update of this step"
        inside = self._ready_as == self._readiness_key(weight)  # unchanged since left within bounds
        # finite for certain: a weight within finite bounds plus a bounded change
        finite = inside and self._stays_finite(weight, change_bound, also_finite)
        if self.sparse_capable:
            dw = self.sparse_step(weight, terms, batch, also_finite, inside, finite)
            if dw is not None:
                return dw
        if self.update == "grad":
            # the weight stays put; the change is the one the in-place mode would make
            if not self.rule.bounded:
                dw = self.raw_into(self.output(weight), weight, terms, batch)
                check_finite(all_finite((dw, weight, *also_finite)), what)
            else:
                if not inside and weight.numel():
                    # the weight stays put in grad mode: learn once that it lies within the
                    # bounds (a scan, as the finiteness check is), and the steps after this one
                    # skip the clamps of their factors and, when the bounds show it, that check
                    inside = sparse_linear.within_bounds(self.rule, *sparse_linear.extremes(weight).tolist())
                    if inside:
                        self._ready_as = self._readiness_key(weight)
                        finite = self._stays_finite(weight, change_bound, also_finite)
                # w + raw, made as run() makes it
                moved = self.moved_into(self.buffer("old", weight), weight, terms, batch, inside)
                if not finite:
                    check_finite(all_finite((moved, *also_finite)), what)
                dw = torch.sub(self.clip_(moved), weight, out=self.output(weight))
            self.add_to_grad(dw)
            return dw
        # in place: change the weight itself. Its old values go into the dw to hand out, which
        # restores the weight if the result is not finite and then becomes new - old in place
        # (two weight-sized tensors in the step, not three: they stay in the CPU's cache)
        old = self.output(weight).copy_(weight)
        try:
            self.add_raw_(weight, terms, batch, w=old, inside=inside)
            if not finite:
                check_finite(all_finite((weight, *also_finite)), what)
        except BaseException:
            weight.copy_(old)
            raise
        # the weight becomes exactly clip(w + raw), as in run(): w + (clip(w + raw) - w) could
        # round to one ulp inside a bound, where a Guetig factor is far from zero
        self.clip_(weight)
        self._ready_as = self._readiness_key(weight)  # finite (checked) and clipped
        return torch.sub(weight, old, out=old)

    def reward_step(self, weight, terms, batch, also_finite, eligibility, reward: float):
        """One step of reward-modulated STDP: ``(applied change, new eligibility trace)``.

        The proposed change (the plain learner's, from the current weight, unclipped) enters
        the eligibility trace; the weight moves by ``reward * e`` and is clipped (in place), or
        ``-reward * e`` goes into ``.grad``. Nothing changes when a result is not finite.
        """
        what = "weight update of this step"
        trace = eligibility.advanced(self.raw(weight, terms, batch))
        if self.update == "grad":
            change = trace * reward
            check_finite(all_finite((change, trace, weight, *also_finite)), what)
            self.add_to_grad(change)
            return change, trace
        moved = torch.add(weight, trace, alpha=reward, out=self.buffer("old", weight))
        check_finite(all_finite((moved, trace, *also_finite)), what)
        dw = torch.sub(self.clip_(moved), weight, out=self.output(weight))
        weight.copy_(moved)
        return dw, trace

