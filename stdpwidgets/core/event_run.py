"""The event-driven machinery of :meth:`STDPLearner.run`: many steps at once.

Only steps with a spike somewhere (*events*) cost anything beyond one scan of the spikes. The
traces at the events come from a vectorised recurrence over the gaps between them
(:func:`~stdpwidgets.core.traces.trace_sequence`); the weight updates of the events then take
one of four paths (:class:`UpdatePath`), chosen by :func:`choose_path`:

``SUMMED``
    The updates do not interact (weight-independent and unclipped in place; or grad mode
    without bounds, where the weight stays put): all events' correlations in one call, the
    events folded into the batch axis.
``SCAN``
    Clipped additive or multiplicative updates of a small weight: each event is a clipped
    affine map of the weight, composed by a parallel prefix scan (:mod:`.scan`).
``SEQUENTIAL``
    Event by event, with exactly the arithmetic of :meth:`STDPLearner.step`
    (:class:`~.weight_update.WeightUpdate`), on a working copy of the weight; on ``nn.Linear``
    each event whose spikes touch few rows and columns takes the sparse path.
``SPARSE``
    ``SEQUENTIAL`` with the sparse path forced for every event (for tests).

In place, the events change the layer's weight where it lies, as :meth:`STDPLearner.step`
does, and :func:`run_events` restores it if anything fails; nothing else of the learner changes
here: it returns the result and the final traces, and the learner commits them.
"""

from __future__ import annotations

import contextlib
import enum
import math
from typing import List, Optional

import torch

from . import scan, sparse_linear
from .traces import add_spikes, advance_trace, trace_sequence
from .weight_update import check_finite

__all__ = ["UpdatePath", "choose_path", "run_events", "forced_path"]

# Upper bound on elements held at once per chunk of events (traces, spikes, correlations).
CHUNK_ELEMENTS = 2**24
# Largest weight.numel() * log2(events) for which run() composes clipped updates by a scan.
SCAN_MAX_WORK = 4096


class UpdatePath(enum.Enum):
    """How :func:`run_events` applies the events' weight updates (see the module docstring)."""

    SUMMED = "summed"
    SCAN = "scan"
    SEQUENTIAL = "sequential"
    SPARSE = "sparse"


def _summable(learner, record: bool) -> bool:
    """Whether the events' updates do not interact, so they can be summed in one call."""
    rule = learner.rule
    if learner.update == "grad":
        return not rule.bounded  # the weight is fixed; only a clip makes updates interact
    return rule.weight_independent and not rule.bounded and not record


def choose_path(learner, n_events: int, record: bool, stepwise: bool = False) -> UpdatePath:
    """The fastest exact path for this learner and run; ``stepwise``: the run's traces are
    large enough to be computed event by event (:func:`_stepwise`), which leaves the scan
    nothing to save (its batched correlations of large inputs are slower than one call per
    event)."""
    rule, update = learner.rule, learner._update
    if _summable(learner, record):
        return UpdatePath.SUMMED
    scannable = rule.weight_independent or rule.dependence.name == "multiplicative"
    small = learner.layer.weight.numel() * max(1, n_events - 1).bit_length() <= SCAN_MAX_WORK
    if learner.update == "in-place" and rule.bounded and scannable and small and update.group is None \
            and not stepwise:
        return UpdatePath.SCAN
    return UpdatePath.SEQUENTIAL


_FORCED: Optional[UpdatePath] = None


@contextlib.contextmanager
def forced_path(path: Optional[UpdatePath]):
    """Within the block every ``run()`` takes ``path`` (tests pin each path with it)."""
    global _FORCED
    saved, _FORCED = _FORCED, path
    try:
        yield
    finally:
        _FORCED = saved


def _global_batch(update, batch: int) -> int:
    """The batch summed over the ranks (this process's batch when not distributed)."""
    if update.group is None:
        return batch
    from .distributed import global_count

    return global_count(batch, update.group, update.layer.weight.device)


def _spiking(seq: torch.Tensor) -> torch.Tensor:
    """(T,) bool: steps with any non-zero spike."""
    flat = seq.reshape(seq.shape[0], seq.shape[1:].numel())
    if flat.shape[1] == 0:
        return torch.zeros(seq.shape[0], dtype=torch.bool, device=seq.device)
    # spikes are validated >= 0: a row max > 0 is "any spike", much faster than any(); bools
    # are read as bytes, for which amax is several times faster again
    return (flat.view(torch.uint8) if flat.dtype == torch.bool else flat).amax(1) > 0


def run_events(learner, pre_seq: torch.Tensor, post_seq: torch.Tensor, record: bool, path: Optional[UpdatePath] = None):
    """The whole run: (dw or history, final traces). In place, the layer's weight is updated
    (restored as it was if anything fails); nothing else of the learner changes.

    ``path`` forces an :class:`UpdatePath` (see :func:`_events`).
    """
    weight = learner.layer.weight.detach()
    # the copy goes into the memory of the last dw handed out when nothing refers to it any more
    # (warm: a fresh weight-sized tensor costs page faults worth a GEMM on a CPU)
    saved = learner._update.output(weight).copy_(weight) if learner.update == "in-place" else None
    try:
        return _events(learner, pre_seq, post_seq, record, path, saved)
    except BaseException:
        if saved is not None:
            weight.copy_(saved)
        raise


def _events(learner, pre_seq: torch.Tensor, post_seq: torch.Tensor, record: bool, path: Optional[UpdatePath],
            saved: Optional[torch.Tensor]):
    """The whole run, an in-place weight changed where it lies (``saved``: its copy, which
    :func:`run_events` restores on failure and which becomes the change at the very end):
    (dw or history, final traces).

    ``path`` forces an :class:`UpdatePath` (tests pin each one); default :func:`choose_path`.
    A forced ``SUMMED`` falls back to ``SEQUENTIAL`` where updates interact (clipped or
    weight-dependent in place), a forced ``SCAN`` where the clipped affine form does not
    apply (grad mode; weights outside the bounds with a multiplicative rule; other dependences).
    """
    update, rule = learner._update, learner.rule
    weight = learner.layer.weight
    steps, batch = pre_seq.shape[0], update.batch_total(pre_seq.shape[1])
    start = learner._initial_traces(pre_seq.shape[1:], post_seq.shape[1:])
    is_event = learner._spiking_steps("pre", pre_seq) | learner._spiking_steps("post", post_seq)
    if update.group is not None:  # every rank must take the same events, so the collectives pair up
        from .distributed import any_over_ranks

        is_event = any_over_ranks(is_event, update.group)
    event_steps = is_event.nonzero().flatten()
    n_events = event_steps.numel()
    large_traces = _stepwise(learner, pre_seq, post_seq)
    if path is None:
        path = _FORCED or choose_path(learner, n_events, record, large_traces)
    if path is UpdatePath.SUMMED and not _summable(learner, False):
        path = UpdatePath.SEQUENTIAL  # forced where the updates interact: one at a time
    specs = learner._specs
    per_event = pre_seq.shape[2:].numel() + post_seq.shape[2:].numel()
    # the whole batch's size sets the chunks, so that ranks with unequal batches cut their
    # events alike and their collectives pair up
    per_event *= _global_batch(update, pre_seq.shape[1])
    per_event *= 2 + len(specs)  # spikes, and each trace before and after the spikes
    if path is UpdatePath.SCAN or record:
        per_event += 8 * weight.numel()  # the correlations and maps (or the recorded weights)
    chunk = max(1, CHUNK_ELEMENTS // per_event)
    in_place = learner.update == "in-place"
    live = w = weight.detach()
    # in place, the events change the weight itself, as step() does, and w_start is the copy
    # that restores it if anything fails (run_events); grad mode only reads the weight
    w_start = saved if in_place else w
    # Spike counts could overflow the traces. Their host-side bound usually shows they cannot;
    # only when it does not are the traces summed into the checksum as well (one more pass over
    # them per event).
    counts = (pre_seq.dtype != torch.bool or post_seq.dtype != torch.bool) \
        and not learner._traces_stay_finite(learner._run_trace_bound(steps))
    sparse = _SparseState(learner, w, path, finite=not counts and _updates_stay_finite(learner, pre_seq, post_seq))
    # a weight known finite and within its bounds, whose every event is bounded on the host
    # and checked by its own path (the event-by-event ones), needs no sum at all; otherwise
    # NaN/inf propagate through sums: no sync per event
    known_finite = sparse.inside and sparse.finite and path in (UpdatePath.SEQUENTIAL, UpdatePath.SPARSE)
    checksum = w_start.new_zeros(()) if known_finite else w_start.sum()
    # every step clips in place, silent ones included: a weight set outside the bounds is
    # clipped by a silent first step (a no-op for weights within them); an event at the
    # first step moves the unclipped weight and clips the result, as step() does
    silent_first = steps and (n_events == 0 or int(event_steps[0]) > 0)
    if silent_first and in_place:
        update.clip_(w)
        if not sparse.inside:
            sparse.look(w)  # clipped: within the bounds now, unless NaN (the checksum has its inf)
    sparse.check_forced()
    w_first = w.clone() if record and in_place else w
    total = None if in_place else torch.zeros_like(w)  # in place: w - w_start at the end
    traces, last_step = start, -1  # traces right after step last_step
    parts = []  # per chunk: (weights after each event, traces after each event)
    # large traces: event by event, as step() computes them (the chunked recurrence costs a
    # matrix product per trace element, worth it only where Python's per-event cost dominates)
    stepwise = path is not UpdatePath.SCAN and large_traces
    for begin in range(0, n_events, chunk):
        at = event_steps[begin : begin + chunk]
        if stepwise:
            state = {"traces": traces, "after": [], "checksum": torch.zeros_like(checksum)}
            events = _stepwise_terms(learner, pre_seq, post_seq, at.tolist(), last_step, w.dtype, counts, record, state)
            if path is UpdatePath.SUMMED:
                change = _summed_events(update, w, events, batch)
                checksum = checksum + change.sum()
                _add_summed(w, total, change, in_place)
                w_events = w.expand(at.numel(), *w.shape) if record else None  # (grad mode: w stays)
            else:
                w, w_events, checksum = _sequential_chunk(learner, w, events, batch, record, total, checksum, sparse)
            checksum = checksum + state["checksum"]
            traces, last_step = state["traces"], int(at[-1])
            if record:
                parts.append((w_events, {n: torch.stack([a[n] for a in state["after"]]) for n in traces}))
            continue
        gaps = torch.diff(at, prepend=at.new_tensor([last_step]))
        events = {"pre": pre_seq[at], "post": post_seq[at]}
        after = {
            s.name: trace_sequence(events[s.side], traces[s.name], learner._factors[s.name], s.pairing, gaps)
            for s in specs
        }
        if counts:
            for t in after.values():
                checksum = checksum + t.sum()
        # before each event's spikes: the previous event's trace, decayed over the gap
        gap = gaps.to(w.dtype)
        before = {
            s.name: torch.cat([traces[s.name].unsqueeze(0), after[s.name][:-1]])
            * learner._factors[s.name] ** gap.reshape(-1, *([1] * traces[s.name].dim()))
            for s in specs
        }
        terms = rule.correlation_terms(
            events["pre"].to(w.dtype), events["post"].to(w.dtype), learner._read(before, after)
        )
        w_events = None
        if path is UpdatePath.SUMMED:
            if record and in_place:  # the weight after each event: the updates' running sum
                changes = torch.stack([update.raw(w, tuple(t[k] for t in terms), batch) for k in range(at.numel())])
                w_events = w + changes.cumsum(0)
                change = w_events[-1] - w
            else:
                flat = tuple(t.flatten(0, 1) for t in terms)  # events folded into the batch
                change = update.raw(w, flat, batch)
                w_events = w.expand(at.numel(), *w.shape) if record else None  # grad mode: w stays
            checksum = checksum + change.sum()
            _add_summed(w, total, change, in_place)
        else:
            done = path is UpdatePath.SCAN and in_place and _scan_chunk(learner, w, terms, batch, record)
            if done:
                w, w_events, finite = done
                checksum = checksum + finite
            else:
                per_event = (tuple(t[k] for t in terms) for k in range(at.numel()))
                w, w_events, checksum = _sequential_chunk(learner, w, per_event, batch, record, total, checksum, sparse)
        if record:
            parts.append((w_events, after))
        traces, last_step = {n: t[-1] for n, t in after.items()}, int(at[-1])
    if in_place and not known_finite:
        checksum = checksum + w.sum()
    check_finite(math.isfinite(checksum.item()), "weight update of this run")
    if in_place and w is not live:
        w = live.copy_(w)  # the scan's result is a tensor of its own
    if in_place and steps:  # every step clipped it (an unbounded rule has nothing to clip) and it is finite
        update._ready_as = update._readiness_key(live)
    if learner.update == "grad" and rule.bounded:
        # a silent step's bounded change clip(w) - w (non-zero only outside the bounds)
        total += (steps - n_events) * (rule.clip(w_start) - w_start)
    # decay from the last event to the end of the run
    tail = steps - 1 - last_step
    # (a new tensor each: the traces of the last events may lie in buffers the next run reuses)
    end = {n: t * learner._factors[n] ** tail for n, t in traces.items()}
    if not record:
        if in_place:  # the last thing done: the restore copy becomes the change
            total = torch.sub(w, w_start, out=w_start)
        return total, end
    if in_place:
        total = w - w_start
    return _expand_history(learner, total, steps, event_steps, w_first, start, parts), end


def _updates_stay_finite(learner, pre_seq: torch.Tensor, post_seq: torch.Tensor) -> bool:
    """Whether the bounds :meth:`STDPLearner.step` uses to skip its scan of the weight, taken
    over the whole run (its largest spikes, a bound on every trace during it), show that every
    event's update of a weight within the rule's bounds stays finite."""
    steps = pre_seq.shape[0]
    if not steps:
        return False
    trace_max = learner._run_trace_bound(steps)
    bound = learner._change_bound(max(pre_seq[0].numel(), post_seq[0].numel()),
                                  {name: trace_max for name, _ in learner._read_after_spikes})
    return learner._update._stays_finite(learner.layer.weight, bound, ())


class _SparseState:
    """Whether the working weight is known finite and within the bounds (``inside``: true after
    any clipped event; checked once at the start, with one host sync, where it matters), and so
    whether the sparse path may serve events (``allowed``: the learner allows it and the
    weights it does not touch need no clip); ``inside`` also spares a weight-dependent rule the
    clamps of its factors, and with ``finite`` (every update of the run bounded on the host,
    :func:`_updates_stay_finite`) the per-event sums for the finiteness check."""

    def __init__(self, learner, w: torch.Tensor, path: UpdatePath, finite: bool = False):
        self._learner, self.finite = learner, finite
        self.forced = path is UpdatePath.SPARSE
        self._allowed = learner._update.sparse_capable and path in (UpdatePath.SEQUENTIAL, UpdatePath.SPARSE)
        self.look(w)

    def look(self, w: torch.Tensor) -> None:
        """Learn whether ``w`` is finite and within the bounds (again after the weight changed)."""
        learner = self._learner
        update, rule = learner._update, learner.rule
        # (with every update bounded, one check spares the run all its finiteness sums)
        wanted = self._allowed or not rule.weight_independent or self.finite
        # known without a scan when the update left it so and nothing changed it since
        self.inside = wanted and (update._ready_as == update._readiness_key(w) or sparse_linear.weight_ready(rule, w))
        self.allowed = self._allowed and self.inside

    def check_forced(self) -> None:
        """Refuse a forced ``SPARSE`` path that cannot serve this run."""
        if self.forced and not self.allowed:
            raise ValueError("UpdatePath.SPARSE needs an nn.Linear learner whose weight is within its bounds")


# Below these sizes an event's tensor work is small next to Python's per-event overhead, and
# run() computes the traces of a chunk of events at once (trace_sequence); above, event by event.
STEPWISE_MIN_TRACE_ELEMENTS = 2**14
STEPWISE_MIN_WEIGHTS = 2**16


def _stepwise(learner, pre_seq, post_seq) -> bool:
    """Whether traces are best computed event by event (large layers or batches)."""
    per_event = (pre_seq.shape[1:].numel() + post_seq.shape[1:].numel()) * len(learner._specs)
    return per_event >= STEPWISE_MIN_TRACE_ELEMENTS or learner.layer.weight.numel() >= STEPWISE_MIN_WEIGHTS


def _stepwise_terms(learner, pre_seq, post_seq, at, last_step, dtype, counts, record, state):
    """Yield each event's correlation terms, the traces computed exactly as step() does (one
    decay by ``factor ** gap`` over the silent steps before it); ``state`` carries the traces,
    their finiteness sum (spike counts) and, with ``record``, the traces after each event."""
    rule, buffer = learner.rule, learner._update.buffer
    for k, step in enumerate(at):
        gap, last_step = step - last_step, step
        spikes = {}
        for side, seq in (("pre", pre_seq), ("post", post_seq)):
            spikes[side] = seq[step] if seq.dtype == dtype else buffer(side + " spikes", seq[step], dtype).copy_(seq[step])
        decayed, after = {}, {}
        for spec in learner._specs:
            factor = learner._factors[spec.name]
            old = state["traces"][spec.name]
            factor = factor if gap == 1 else factor**gap
            # without a record the traces between events are seen by nobody: two buffers take turns
            out = None if record else buffer(f"run {spec.name} {k % 2}", old)
            if spec.name in learner._reads_decayed:  # as step() computes them
                decayed[spec.name] = torch.mul(old, factor, out=buffer("decayed " + spec.name, old))
                after[spec.name] = add_spikes(decayed[spec.name], spikes[spec.side], spec.pairing, out=out)
            else:
                after[spec.name] = advance_trace(old, factor, spikes[spec.side], spec.pairing, out=out)
            if counts:
                state["checksum"] = state["checksum"] + after[spec.name].sum()
        state["traces"] = after
        if record:
            state["after"].append(after)
        yield rule.correlation_terms(spikes["pre"], spikes["post"], learner._read(decayed, after))


def _add_summed(w: torch.Tensor, total: Optional[torch.Tensor], change: torch.Tensor, in_place: bool) -> None:
    """Apply a chunk's summed change: to the weight in place; in grad mode to the run's total
    (the weight stays)."""
    if in_place:
        w.add_(change)
    else:
        total += change


def _summed_events(update, w, events, batch) -> torch.Tensor:
    """The summed unclipped change of events whose updates do not interact (``SUMMED``), each
    accumulated at the weight ``w`` (``events`` yields each event's correlation terms)."""
    change = torch.zeros_like(w)
    for terms_k in events:
        update.add_raw_(change, terms_k, batch, w=w)
    return change


def _sequential_chunk(learner, w, events, batch, record, total, checksum, sparse: _SparseState):
    """Events one by one with the step's arithmetic; returns (w, weights after each, checksum).

    ``events`` yields each event's correlation terms."""
    update = learner._update
    in_place = learner.update == "in-place"
    after: List[torch.Tensor] = []
    work = None if in_place else update.buffer("old", w)
    for terms_k in events:
        hit = sparse.allowed and sparse_linear.touched(learner.layer, terms_k, force=sparse.forced)
        # a weight within its bounds whose every update is bounded stays finite: nothing to sum
        known_finite = sparse.inside and sparse.finite
        if hit:
            rows, cols = hit
            new_rows, new_cols, old_rows, old_cols = sparse_linear.sparse_change(update, w, terms_k, batch, rows, cols)
            if not known_finite:
                checksum = checksum + new_rows.sum() + new_cols.sum()
            update.clip_(new_rows)
            update.clip_(new_cols)
            if in_place:
                sparse_linear.write_(w, rows, cols, new_rows, new_cols)
            else:
                sparse_linear.add_change_(total, rows, cols, new_rows, new_cols, old_rows, old_cols)
        elif in_place:
            update.add_raw_(w, terms_k, batch, inside=sparse.inside)
            if not known_finite:
                checksum = checksum + w.sum()  # before the clip, which would hide an inf
            update.clip_(w)
            sparse.inside = sparse.inside or learner.rule.bounded  # clipped (a NaN fails the checksum)
        else:  # grad mode with bounds: each event's bounded change from the fixed weight
            update.moved_into(work, w, terms_k, batch, sparse.inside)
            if not known_finite:
                checksum = checksum + work.sum()
            total.add_(update.clip_(work).sub_(w))
        if record:
            after.append(w.clone() if in_place else w)
    return w, (torch.stack(after) if record else None), checksum


def _scan_chunk(learner, w, terms, batch, record):
    """A chunk of clipped updates by a prefix scan: (w, weights after each, finite sum), or
    None where the affine form does not apply."""
    update = learner._update
    potentiation = learner._kind.correlate_steps(learner.layer, terms[0], terms[1])  # one batched call
    depression = learner._kind.correlate_steps(learner.layer, terms[2], terms[3])
    if update.reduction == "mean":
        potentiation, depression = potentiation / batch, depression / batch
    maps = _clamped_affine_maps(learner.rule, w, potentiation, depression)
    if maps is None:
        return None
    path = scan.apply(scan.prefix_compose(maps), w)
    return path[-1].clone(), (path if record else None), maps[0].sum() + maps[1].sum()


def _clamped_affine_maps(rule, w, potentiation, depression) -> Optional[scan.ClampedAffine]:
    """Each event's in-place update as ``w -> clip(alpha w + beta)``, where that form is exact.

    Additive: ``alpha = 1``. Multiplicative: ``alpha = 1 - a+ P - a- M`` and
    ``beta = a+ w_max P + a- w_min M``, exact while the weights start within the bounds
    (the soft-bound factors are then never clamped at zero) and ``alpha >= 0``.
    Returns None where the form does not apply.
    """
    a_plus, a_minus = rule.amplitude_scale
    lo = torch.full_like(potentiation, rule.w_min)
    hi = torch.full_like(potentiation, rule.w_max)
    if rule.weight_independent:
        beta = a_plus * potentiation - a_minus * depression
        return torch.ones_like(beta), beta, lo, hi
    if rule.dependence.name != "multiplicative":
        return None
    alpha = 1.0 - a_plus * potentiation - a_minus * depression
    inside = bool(((w >= rule.w_min) & (w <= rule.w_max)).all())
    if not inside or not bool((alpha >= 0).all()):
        return None
    beta = a_plus * rule.w_max * potentiation + a_minus * rule.w_min * depression
    return alpha, beta, lo, hi


def _expand_history(learner, dw, steps, event_steps, w_start, start, parts):
    """Weights and traces at every step from their values at the events."""
    from .learner import STDPHistory  # here: the learner imports this module

    device = w_start.device
    names = [spec.name for spec in learner._specs]
    if parts:
        weights = torch.cat([p[0] for p in parts])
        after = {n: torch.cat([p[1][n] for p in parts]) for n in names}
    else:
        weights = w_start.new_zeros((0, *w_start.shape))
        after = {n: start[n].new_zeros((0, *start[n].shape)) for n in names}
    step = torch.arange(steps, device=device)
    marker = torch.full((steps,), -1, dtype=torch.long, device=device)
    marker[event_steps] = torch.arange(event_steps.numel(), device=device)
    row = marker.cummax(dim=0).values + 1 if steps else marker  # 0: before the first event
    at_step = torch.cat([event_steps.new_tensor([-1]), event_steps])[row]

    def expand(table, initial, factor):
        table = torch.cat([initial.unsqueeze(0), table])[row]
        if factor is None:
            return table
        age = (step - at_step).to(table.dtype).reshape(-1, *([1] * initial.dim()))
        return table * factor**age

    traces = {n: expand(after[n], start[n], learner._factors[n]) for n in names}
    pre_name, post_name = learner._pair_names
    return STDPHistory(dw, expand(weights, w_start, None), traces[pre_name], traces[post_name], traces)
