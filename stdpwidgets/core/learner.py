"""STDPLearner: binds an :class:`~stdpwidgets.core.rule.STDPRule` to one layer's weight."""

from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Optional, Tuple

import torch
from torch import nn

from . import scan
from .correlate import LayerKind, layer_kind_of
from .rule import STDPRule
from .traces import add_spikes, decay_factor, trace_sequence

__all__ = ["STDPLearner", "STDPHistory", "REDUCTIONS", "UPDATES"]

REDUCTIONS = ("sum", "mean")
UPDATES = ("in-place", "grad")

# Upper bound on elements held at once per time chunk of ``run`` (traces and correlations).
_CHUNK_ELEMENTS = 2**24
# Largest weight.numel() * log2(events) for which run() composes clipped updates by a scan.
_SCAN_MAX_WORK = 4096


class STDPHistory(NamedTuple):
    """What :meth:`STDPLearner.run` recorded with ``record=True``.

    Attributes
    ----------
    dw : Tensor
        Total weight change of the run, shaped like the weight.
    weights : Tensor
        Weight after each step, ``(T, *weight.shape)``.
    pre_traces : Tensor
        Presynaptic trace after each step (spikes included), ``(T, batch, *layer input)``.
    post_traces : Tensor
        Postsynaptic trace after each step (spikes included), ``(T, batch, *layer output)``.
    """

    dw: torch.Tensor
    weights: torch.Tensor
    pre_traces: torch.Tensor
    post_traces: torch.Tensor


class STDPLearner:
    r"""Trace-based STDP on the weight of an ``nn.Linear`` or ``nn.Conv{1,2,3}d`` layer.

    Each call of :meth:`step` advances time by ``dt`` ms:

    1. both traces decay (``exp(-dt/tau)``, or ``1 - dt/tau`` with ``decay="euler"``);
    2. depression for this step's presynaptic spikes reads the postsynaptic trace from before
       this step's postsynaptic spikes, and potentiation for this step's postsynaptic spikes
       reads the presynaptic trace from before this step's presynaptic spikes, so a pre and a
       post spike in the same step make no pair (the continuous-time limit);
    3. this step's spikes enter the traces (added, or reset to 1 for ``pairing="nearest"``).

    With ``traces_first=True`` step 3 comes before step 2 (the convention of SpikingJelly and
    BindsNET): a same-step pair then counts both ways, ``a_plus - a_minus``.

    The update is ``dw = F+(w) * C(x_pre, s_post) - F-(w) * C(s_pre, y_post)`` where ``C`` is
    the layer's correlation (a GEMM for Linear, the convolution weight-gradient for ConvNd),
    summed (or averaged, ``reduction="mean"``) over the batch.

    Parameters
    ----------
    layer : nn.Linear or nn.Conv1d / nn.Conv2d / nn.Conv3d
        The layer whose ``weight`` learns; its bias is left alone. Device and dtype of all
        state follow ``layer.weight``.
    rule : STDPRule
        Time constants, amplitudes, pairing, weight dependence and bounds.
    dt : float
        Time step in ms (> 0).
    decay : {"exact", "euler"}
        Trace decay per step.
    traces_first : bool
        Let this step's spikes enter the traces before they are read (see above).
    reduction : {"sum", "mean"}
        How updates of the batch elements combine.
    update : {"in-place", "grad"}
        ``"in-place"`` changes ``layer.weight`` and clips it to the rule's bounds.
        ``"grad"`` leaves the weight alone and accumulates ``-dw`` into ``layer.weight.grad``
        (``dw`` being the change the in-place mode would make from the current weight), so
        ``torch.optim.SGD(lr=1)`` applies the same step and any optimizer can be used.

    Examples
    --------
    >>> layer = torch.nn.Linear(100, 10, bias=False)
    >>> rule = STDPRule(tau_pre=20.0, tau_post=20.0, a_plus=0.01, a_minus=0.0105,
    ...                 w_min=0.0, w_max=1.0)
    >>> learner = STDPLearner(layer, rule, dt=1.0)
    >>> pre = torch.rand(8, 100) < 0.02; post = torch.rand(8, 10) < 0.02
    >>> dw = learner.step(pre, post)
    """

    def __init__(
        self,
        layer: nn.Module,
        rule: STDPRule,
        dt: float = 1.0,
        *,
        decay: str = "exact",
        traces_first: bool = False,
        reduction: str = "sum",
        update: str = "in-place",
    ) -> None:
        if not isinstance(rule, STDPRule):
            raise TypeError(f"rule must be an STDPRule, got {type(rule).__name__}")
        self._kind: LayerKind = layer_kind_of(layer)
        weight = getattr(layer, "weight", None)
        if not isinstance(weight, torch.Tensor) or isinstance(weight, nn.parameter.UninitializedParameter):
            raise ValueError(
                f"{type(layer).__name__} has no initialised weight; run one forward pass on a "
                "lazy layer before attaching STDP"
            )
        if not weight.is_floating_point():
            raise TypeError(f"STDP needs a floating-point weight, got {weight.dtype}")
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive, finite time step in ms, got {dt!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {', '.join(map(repr, REDUCTIONS))}")
        if update not in UPDATES:
            raise ValueError(f"unknown update {update!r}; use one of {', '.join(map(repr, UPDATES))}")
        if not isinstance(traces_first, bool):
            raise TypeError(f"traces_first must be True or False, got {traces_first!r}")
        self.layer = layer
        self.rule = rule
        self.dt = float(dt)
        self.decay = decay
        self.traces_first = traces_first
        self.reduction = reduction
        self.update = update
        self._pre_factor = decay_factor(rule.tau_pre, self.dt, decay)
        self._post_factor = decay_factor(rule.tau_post, self.dt, decay)
        self._pre_trace: Optional[torch.Tensor] = None
        self._post_trace: Optional[torch.Tensor] = None
        self.steps = 0

    # ------------------------------------------------------------------ state

    @property
    def pre_trace(self) -> Optional[torch.Tensor]:
        """Presynaptic trace after the last step, shaped like the pre spikes (None before any step)."""
        return self._pre_trace

    @property
    def post_trace(self) -> Optional[torch.Tensor]:
        """Postsynaptic trace after the last step, shaped like the post spikes (None before any step)."""
        return self._post_trace

    @property
    def time(self) -> float:
        """Simulated time since construction or :meth:`reset`, in ms."""
        return self.steps * self.dt

    def reset(self) -> None:
        """Forget both traces and the step count (the weight is left as it is)."""
        self._pre_trace = None
        self._post_trace = None
        self.steps = 0

    def _config(self) -> Dict[str, Any]:
        return {
            "dt": self.dt,
            "decay": self.decay,
            "traces_first": self.traces_first,
            "reduction": self.reduction,
            "update": self.update,
            "rule": self.rule.to_dict(),
        }

    def state_dict(self) -> Dict[str, Any]:
        """Traces, step count and configuration, for ``torch.save`` beside the layer's own state."""
        clone = lambda t: None if t is None else t.detach().clone()  # noqa: E731
        return {
            "pre_trace": clone(self._pre_trace),
            "post_trace": clone(self._post_trace),
            "steps": self.steps,
            "config": self._config(),
        }

    def load_state_dict(self, state: Dict[str, Any], strict: bool = True) -> None:
        """Restore traces and step count saved by :meth:`state_dict`.

        Parameters
        ----------
        state : dict
            From :meth:`state_dict`.
        strict : bool
            When True, a checkpoint made with another configuration (rule, dt, decay, ...)
            raises ``ValueError`` instead of being loaded.
        """
        missing = {"pre_trace", "post_trace", "steps", "config"} - set(state)
        if missing:
            raise ValueError(f"not an STDPLearner state_dict: missing {sorted(missing)}")
        if strict and state["config"] != self._config():
            diff = {k: (v, self._config().get(k)) for k, v in state["config"].items() if self._config().get(k) != v}
            raise ValueError(
                "checkpoint was made with another configuration (saved, current): "
                f"{diff}; build the learner with the same settings or pass strict=False"
            )
        pre, post = state["pre_trace"], state["post_trace"]
        if (pre is None) != (post is None):
            raise ValueError("state_dict has only one of the two traces")
        weight = self.layer.weight
        if pre is not None:
            expected = self._kind.output_shape(self.layer, tuple(pre.shape))
            if tuple(post.shape) != tuple(expected):
                raise ValueError(
                    f"saved post trace {tuple(post.shape)} does not fit saved pre trace "
                    f"{tuple(pre.shape)} for this layer (expected {tuple(expected)})"
                )
            pre = pre.to(device=weight.device, dtype=weight.dtype).clone()
            post = post.to(device=weight.device, dtype=weight.dtype).clone()
        self._pre_trace, self._post_trace = pre, post
        self.steps = int(state["steps"])

    def __repr__(self) -> str:
        return (
            f"STDPLearner({type(self.layer).__name__}, {self.rule}, dt={self.dt}, decay={self.decay!r}, "
            f"traces_first={self.traces_first}, reduction={self.reduction!r}, update={self.update!r})"
        )

    # ------------------------------------------------------------------ checks

    def _check_spikes(self, pre: Any, post: Any, time_axis: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        """Validate spikes against the layer and the current traces; nothing is changed."""
        weight = self.layer.weight
        lead = "(time, batch, " if time_axis else "(batch, "
        for name, spikes in (("pre", pre), ("post", post)):
            if not isinstance(spikes, torch.Tensor):
                raise TypeError(f"{name} spikes must be a torch.Tensor, got {type(spikes).__name__}")
            if spikes.device != weight.device:
                raise ValueError(
                    f"{name} spikes are on {spikes.device} but the layer's weight is on "
                    f"{weight.device}; move them with .to({str(weight.device)!r})"
                )
            if spikes.dtype not in (torch.bool, weight.dtype):
                raise TypeError(
                    f"{name} spikes have dtype {spikes.dtype}; use torch.bool or the weight's dtype "
                    f"{weight.dtype} (e.g. spikes.to({weight.dtype}))"
                )
        if time_axis and (pre.dim() < 1 or post.dim() < 1 or pre.shape[0] != post.shape[0]):
            raise ValueError(
                f"pre and post sequences need the same leading time axis, got {tuple(pre.shape)} "
                f"and {tuple(post.shape)}"
            )
        pre_shape = tuple(pre.shape[1:]) if time_axis else tuple(pre.shape)
        post_shape = tuple(post.shape[1:]) if time_axis else tuple(post.shape)
        try:
            expected = tuple(self._kind.output_shape(self.layer, pre_shape))
        except ValueError as err:
            raise ValueError(f"{err} (spikes are shaped {lead}...))") from None
        if post_shape != expected:
            raise ValueError(
                f"post spikes shaped {post_shape} do not fit pre spikes shaped {pre_shape} for "
                f"{self.layer}: expected post shape {expected}"
                + (" after the leading time axis" if time_axis else "")
            )
        if self._pre_trace is not None and tuple(self._pre_trace.shape) != pre_shape:
            raise ValueError(
                f"pre spikes shaped {pre_shape} differ from the traces' shape "
                f"{tuple(self._pre_trace.shape)} (batch or input size changed); call reset() first"
            )
        for name, spikes in (("pre", pre), ("post", post)):
            if spikes.dtype != torch.bool:
                if not bool(torch.isfinite(spikes).all()):
                    raise ValueError(f"{name} spikes contain NaN or infinite values")
                if bool((spikes < 0).any()):
                    raise ValueError(f"{name} spikes contain negative values; spikes are counts >= 0")
        return pre, post

    # ------------------------------------------------------------------ learning

    def _bounded_change(self, w: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
        """The change that moving ``w`` by ``dw`` and clipping to the bounds makes."""
        if not self.rule.bounded:
            return dw
        return self.rule.clip(w + dw) - w

    def _apply(self, dw: torch.Tensor) -> None:
        weight = self.layer.weight
        if self.update == "grad":
            if weight.grad is None:
                weight.grad = -dw
            else:
                weight.grad.sub_(dw)
        else:
            weight.add_(dw)
            if self.rule.bounded:  # removes the rounding of w + (clip(w + dw) - w)
                weight.clamp_(self.rule.w_min, self.rule.w_max)

    def _initial_traces(self, pre_shape, post_shape) -> Tuple[torch.Tensor, torch.Tensor]:
        weight = self.layer.weight
        if self._pre_trace is None:
            zeros = lambda shape: torch.zeros(shape, dtype=weight.dtype, device=weight.device)  # noqa: E731
            return zeros(pre_shape), zeros(post_shape)
        return self._pre_trace, self._post_trace

    def step(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Advance one time step of ``dt`` ms and update the weight.

        Parameters
        ----------
        pre : Tensor
            Presynaptic spikes of this step, ``(batch, *layer input)``, bool or counts in the
            weight's dtype.
        post : Tensor
            Postsynaptic spikes of this step, ``(batch, *layer output)``.

        Returns
        -------
        Tensor
            The step's weight change ``dw`` (weight units), shaped like ``layer.weight``:
            applied to the weight (in-place mode, bounds included) or subtracted from its
            ``.grad`` (grad mode).

        Raises
        ------
        TypeError, ValueError
            For spikes of the wrong type, dtype, device or shape, or with NaN/inf/negative
            values. Weight and traces are left untouched.
        """
        pre, post = self._check_spikes(pre, post, time_axis=False)
        with torch.no_grad():
            weight = self.layer.weight
            x, y = self._initial_traces(pre.shape, post.shape)
            pre_f, post_f = pre.to(weight.dtype), post.to(weight.dtype)
            x = x * self._pre_factor
            y = y * self._post_factor
            x_next = add_spikes(x, pre_f, self.rule.pairing)
            y_next = add_spikes(y, post_f, self.rule.pairing)
            x_read, y_read = (x_next, y_next) if self.traces_first else (x, y)
            potentiation = self._kind.correlate(self.layer, x_read, post_f)
            depression = self._kind.correlate(self.layer, pre_f, y_read)
            if self.reduction == "mean":
                potentiation = potentiation / pre.shape[0]
                depression = depression / pre.shape[0]
            f_plus, f_minus = self.rule.amplitudes(weight)
            dw = self._bounded_change(weight, f_plus * potentiation - f_minus * depression)
            self._apply(dw)
            self._pre_trace, self._post_trace = x_next, y_next
            self.steps += 1
        return dw

    def run(self, pre_seq: torch.Tensor, post_seq: torch.Tensor, record: bool = False):
        """Advance ``T`` steps at once; equivalent to ``T`` calls of :meth:`step`, but faster.

        The run is event-driven: only steps with a spike somewhere (events) cost anything
        beyond one scan of the spikes. Traces at the events come from a vectorised
        recurrence over the gaps between them, the correlations of all events from one batched
        call per chunk of events, and only weight-dependent or clipped in-place updates loop
        over events (elementwise work only).

        Parameters
        ----------
        pre_seq : Tensor
            Presynaptic spikes ``(T, batch, *layer input)``.
        post_seq : Tensor
            Postsynaptic spikes ``(T, batch, *layer output)``.
        record : bool
            Also return the weight and both traces after every step (memory ``T`` times the
            weight and the spikes).

        Returns
        -------
        Tensor or STDPHistory
            The total weight change of the run (shaped like the weight), or with
            ``record=True`` an :class:`STDPHistory`.
        """
        pre_seq, post_seq = self._check_spikes(pre_seq, post_seq, time_axis=True)
        weight = self.layer.weight
        steps = pre_seq.shape[0]
        with torch.no_grad():
            x0, y0 = self._initial_traces(pre_seq.shape[1:], post_seq.shape[1:])
            spiking = lambda seq: (seq != 0).reshape(steps, seq.shape[1:].numel()).any(1)  # noqa: E731
            is_event = spiking(pre_seq) | spiking(post_seq)
            event_steps = is_event.nonzero().flatten()
            per_event = pre_seq.shape[1:].numel() + post_seq.shape[1:].numel() + 8 * weight.numel()
            chunk = max(1, _CHUNK_ELEMENTS // per_event)
            w_start = weight.detach().clone()
            w = w_start
            total = torch.zeros_like(w)
            x, y, last_step = x0, y0, -1  # traces right after step last_step
            parts = []  # per chunk: (weights after each event, x after, y after)
            for begin in range(0, event_steps.numel(), chunk):
                at = event_steps[begin : begin + chunk]
                gaps = torch.diff(at, prepend=at.new_tensor([last_step]))
                pre, post = pre_seq[at], post_seq[at]
                x_after = trace_sequence(pre, x, self._pre_factor, self.rule.pairing, gaps)
                y_after = trace_sequence(post, y, self._post_factor, self.rule.pairing, gaps)
                if self.traces_first:
                    x_read, y_read = x_after, y_after
                else:  # the previous event's trace, decayed over the gap
                    gap = gaps.to(w.dtype).reshape(-1, *([1] * x.dim()))
                    x_read = torch.cat([x.unsqueeze(0), x_after[:-1]]) * self._pre_factor**gap
                    y_read = torch.cat([y.unsqueeze(0), y_after[:-1]]) * self._post_factor**gap
                w, change, w_events = self._learn_events(w, pre, post, x_read, y_read, record)
                total += change
                if record:
                    parts.append((w_events, x_after, y_after))
                x, y, last_step = x_after[-1], y_after[-1], int(at[-1])
            # decay from the last event to the end of the run
            tail = steps - 1 - last_step
            x_end, y_end = x * self._pre_factor**tail, y * self._post_factor**tail
            if steps:
                if self.update == "grad":
                    self._apply(total)
                else:
                    total = w - w_start
                    weight.copy_(w)
                self._pre_trace, self._post_trace = x_end.clone(), y_end.clone()
                self.steps += steps
            if not record:
                return total
            return self._expand_history(total, steps, event_steps, w_start, x0, y0, parts)

    def _learn_events(self, w, pre, post, x_read, y_read, record):
        """Weight updates at a chunk of events; returns (new w, total change, w after each event)."""
        dtype = w.dtype
        scale = 1.0 / pre.shape[1] if self.reduction == "mean" else 1.0
        potentiation = self._kind.correlate_steps(self.layer, x_read, post.to(dtype))  # one batched call
        depression = self._kind.correlate_steps(self.layer, pre.to(dtype), y_read)
        if scale != 1.0:
            potentiation, depression = potentiation * scale, depression * scale
        if self.update == "grad" or self.rule.weight_independent:
            # amplitudes are the same at every event: all raw updates at once
            f_plus, f_minus = self.rule.amplitudes(w)
            raw = f_plus * potentiation - f_minus * depression
            if self.update == "grad":  # the weight stays put; each event's bounded change counts
                changes = self._bounded_change(w, raw)
                return w, changes.sum(0), (w.expand_as(changes) if record else None)
            if not self.rule.bounded:  # additive and unclipped: a cumulative sum
                path = w + raw.cumsum(0)
                return path[-1], path[-1] - w, (path if record else None)
        # The scan does O(K log K) elementwise work against the loop's O(K) plus ~30 us of Python
        # per event: it wins for small weights (a synapse, a row), the loop for large layers.
        small = w.numel() * max(1, potentiation.shape[0] - 1).bit_length() <= _SCAN_MAX_WORK
        maps = self._clamped_affine_maps(w, potentiation, depression) if small else None
        if maps is not None:  # clipped additive or multiplicative: a parallel prefix scan
            path = scan.apply(scan.prefix_compose(maps), w)
            return path[-1], path[-1] - w, (path if record else None)
        # other weight dependences: elementwise work per event
        start = w
        after = []
        for potentiation_k, depression_k in zip(potentiation, depression):
            f_plus, f_minus = self.rule.amplitudes(w)
            w = self.rule.clip(w + (f_plus * potentiation_k - f_minus * depression_k))
            if record:
                after.append(w)
        return w, w - start, (torch.stack(after) if record else None)

    def _clamped_affine_maps(self, w, potentiation, depression) -> Optional[scan.ClampedAffine]:
        """Each event's in-place update as ``w -> clip(alpha w + beta)``, where that form is exact.

        Additive: ``alpha = 1``. Multiplicative: ``alpha = 1 - a+ P - a- M`` and
        ``beta = a+ w_max P + a- w_min M``, exact while the weights start within the bounds
        (the soft-bound factors are then never clamped at zero) and ``alpha >= 0``.
        Returns None where the form does not apply.
        """
        rule = self.rule
        lo = torch.full_like(potentiation, rule.w_min)
        hi = torch.full_like(potentiation, rule.w_max)
        if rule.weight_independent:
            beta = rule.a_plus * potentiation - rule.a_minus * depression
            return torch.ones_like(beta), beta, lo, hi
        if rule.dependence.name != "multiplicative":
            return None
        alpha = 1.0 - rule.a_plus * potentiation - rule.a_minus * depression
        inside = bool(((w >= rule.w_min) & (w <= rule.w_max)).all())
        if not inside or not bool((alpha >= 0).all()):
            return None
        beta = rule.a_plus * rule.w_max * potentiation + rule.a_minus * rule.w_min * depression
        return alpha, beta, lo, hi

    def _expand_history(self, dw, steps, event_steps, w_start, x0, y0, parts) -> STDPHistory:
        """Weights and traces at every step from their values at the events."""
        device = w_start.device
        if parts:
            weights, x_after, y_after = (torch.cat(p) for p in zip(*parts))
        else:
            weights = w_start.new_zeros((0, *w_start.shape))
            x_after, y_after = x0.new_zeros((0, *x0.shape)), y0.new_zeros((0, *y0.shape))
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

        return STDPHistory(
            dw,
            expand(weights, w_start, None),
            expand(x_after, x0, self._pre_factor),
            expand(y_after, y0, self._post_factor),
        )
