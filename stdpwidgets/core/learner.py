"""STDPLearner: binds a rule (:class:`~stdpwidgets.core.rule.Rule`) to one layer's weight."""

from __future__ import annotations

import math
import numbers
import operator
import os
import pickle
import warnings
import weakref
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple, Union

import torch
from torch import nn
from torch.nn.utils import parametrize

from . import event_run
from .correlate import LayerKind, layer_kind_of
from .rule import Rule, _check_real
from .traces import add_spikes, advance_trace, decay_factor
from .eligibility import Eligibility, check_eligibility_tau, check_reward
from .weight_update import NOT_FINITE, WeightUpdate, largest, reusable, reusable_as

__all__ = ["STDPLearner", "STDPHistory", "REDUCTIONS", "UPDATES"]

REDUCTIONS = ("sum", "mean")
UPDATES = ("in-place", "grad")
# Weight dtypes STDP learns in: float16/bfloat16 lose every update below 2^-11 / 2^-8 of the
# weight (and float16 correlations overflow at 65504), silently.
LEARNING_DTYPES = (torch.float32, torch.float64)

# A learner that has seen no postsynaptic spike for this many steps (and at least
# SILENT_POST_MS of simulated time) warns once: nothing can potentiate.
SILENT_POST_STEPS = 1000
SILENT_POST_MS = 1000.0


def _check_steps(steps: Any) -> int:
    """A checkpoint's step count as an int >= 0 (Python or NumPy integers, 0-d integer tensors)."""
    if isinstance(steps, torch.Tensor):
        ok = steps.dim() == 0 and not steps.is_floating_point() and not steps.is_complex() \
            and steps.dtype != torch.bool
    else:
        ok = not isinstance(steps, bool) and isinstance(steps, numbers.Integral)
    if not ok:
        raise TypeError(f"state_dict steps must be an integer >= 0, got {type(steps).__name__} {steps!r}")
    value = operator.index(steps)
    if value < 0:
        raise ValueError(f"state_dict steps must be an integer >= 0, got {value}")
    return value


def _free_memory(device: torch.device) -> Optional[int]:
    """Bytes that can still be allocated on ``device`` (None when unknown): the CUDA device's free
    memory, or the host's MemAvailable (free plus reclaimable cache), capped by RLIMIT_AS."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type != "cpu":
            return None
        free = None
        try:
            with open("/proc/meminfo") as meminfo:
                for line in meminfo:
                    if line.startswith("MemAvailable:"):
                        free = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
        if free is None:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_AS)[0]
            if soft != resource.RLIM_INFINITY:
                free = min(free, soft)
        except (ImportError, OSError, ValueError):
            pass
        return int(free)
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None  # the allocation itself is guarded in run()


def _is_allocation_error(err: BaseException) -> bool:
    """True for torch's out-of-memory errors (CPU allocators raise a plain RuntimeError)."""
    if isinstance(err, torch.OutOfMemoryError):
        return True
    text = str(err)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def _picklable(value: Any) -> Any:
    """``value`` for a checkpoint's config: kept if it pickles, else a description of it.

    A rule whose weight dependence is a pair of lambdas would otherwise make every checkpoint
    unpicklable; the description (module and qualified name) is what a strict load compares.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_picklable(v) for v in value)
    try:
        pickle.dumps(value)
        return value
    except Exception:  # noqa: BLE001 - any pickling failure means: describe it instead
        name = getattr(value, "__qualname__", type(value).__qualname__)
        return f"<unpicklable {getattr(value, '__module__', '?')}.{name}>"


# Per-step spike counts from which the checks of a sequence read each step once (one aminmax
# per step) rather than twice (an amin and an amax over all steps): above this many elements a
# step's spikes no longer stay in a CPU's cache between the two reductions (measured: equal at
# 2**17 float32 elements, 30 % less time at 2**18); below it the per-call cost of a loop dominates.
STEP_BY_STEP_CHECK_MIN_ELEMENTS = 2**17


def _step_extremes(flat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each step's (min, max) of a (T, n) sequence, as two (T,) tensors."""
    if flat.device.type != "cpu" or flat.shape[1] < STEP_BY_STEP_CHECK_MIN_ELEMENTS:
        return flat.amin(1), flat.amax(1)  # (on a GPU: two kernels, no loop of T launches)
    out = flat.new_empty((2, flat.shape[0]))
    for t in range(flat.shape[0]):
        torch.aminmax(flat[t], out=(out[0, t], out[1, t]))
    return out[0], out[1]


def _declared_weight_shape(layer: nn.Module, weight: torch.Tensor) -> Tuple[int, ...]:
    """The weight shape the layer's own attributes imply (Linear, ConvNd), else the current one."""
    if isinstance(layer, nn.Linear):
        return (layer.out_features, layer.in_features)
    if isinstance(layer, nn.modules.conv._ConvNd) and not layer.transposed:
        return (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel_size)
    return tuple(weight.shape)


class STDPHistory(NamedTuple):
    """What :meth:`STDPLearner.run` recorded with ``record=True``.

    Attributes
    ----------
    dw : Tensor
        Total weight change of the run, shaped like the weight.
    weights : Tensor
        Weight after each step, ``(T, *weight.shape)``.
    pre_traces : Tensor
        The rule's first presynaptic trace after each step (spikes included),
        ``(T, batch, *layer input)``: ``x`` of the pair rule, ``r1`` of the triplet rule.
    post_traces : Tensor
        The first postsynaptic trace after each step, ``(T, batch, *layer output)``:
        ``y`` of the pair rule, ``o1`` of the triplet rule.
    traces : dict of str to Tensor
        Every trace of the rule after each step, by name (``rule.traces``).
    """

    dw: torch.Tensor
    weights: torch.Tensor
    pre_traces: torch.Tensor
    post_traces: torch.Tensor
    traces: Dict[str, torch.Tensor]


class STDPLearner:
    r"""Trace-based STDP on the weight of a layer of a registered kind (``nn.Linear``,
    ``nn.Conv{1,2,3}d``, see :data:`~stdpwidgets.core.LAYER_KINDS`), for any
    :class:`~stdpwidgets.core.rule.Rule`: the pair rule :class:`STDPRule` or the triplet rule
    :class:`~stdpwidgets.core.triplet.TripletRule`.

    Each call of :meth:`step` advances time by ``dt`` ms:

    1. every trace of the rule decays (``exp(-dt/tau)``, or ``1 - dt/tau`` with
       ``decay="euler"``);
    2. the update for this step's spikes reads the traces from before this step's spikes:
       depression at a presynaptic spike reads the postsynaptic traces, potentiation at a
       postsynaptic spike the presynaptic ones, so a pre and a post spike in the same step make
       no pair (the continuous-time limit);
    3. this step's spikes enter the traces (added, or reset to 1 for ``pairing="nearest"``).

    With ``traces_first=True`` step 3 comes before step 2 (the convention of SpikingJelly and
    BindsNET): a same-step pair then counts both ways, ``a_plus - a_minus``. (The triplet
    rule's slow traces are read before this step's spikes either way.)

    For the pair rule the update is ``dw = F+(w) * C(x_pre, s_post) - F-(w) * C(s_pre, y_post)``
    where ``C`` is the layer's correlation (a GEMM for Linear, the convolution weight-gradient
    for ConvNd), summed (or averaged, ``reduction="mean"``) over the batch; other rules give
    their own pair of correlations (:meth:`Rule.correlation_terms`).

    The traces follow the layer: after ``layer.double()`` or ``layer.to(device)`` the next
    step moves them to the weight's dtype and device.

    Parameters
    ----------
    layer : nn.Linear or nn.Conv1d / nn.Conv2d / nn.Conv3d
        The layer whose ``weight`` learns; its bias is left alone. Device and dtype of all
        state follow ``layer.weight``.
    rule : Rule
        Time constants, amplitudes, pairing, weight dependence and bounds:
        :class:`STDPRule`, :class:`~stdpwidgets.core.triplet.TripletRule` or another
        :class:`~stdpwidgets.core.rule.Rule`.
    dt : float
        Time step in ms (> 0).
    decay : {"exact", "euler"}
        Trace decay per step.
    traces_first : bool
        Let this step's spikes enter the traces before they are read (see above).
    reduction : {"sum", "mean"}
        How updates of the batch elements combine. ``"mean"`` refuses an empty batch
        (``ValueError``: the mean over no samples is undefined); ``"sum"`` gives ``dw = 0``.
    update : {"in-place", "grad"}
        ``"in-place"`` changes ``layer.weight`` and clips it to the rule's bounds.
        ``"grad"`` leaves the weight alone and accumulates ``-dw`` into ``layer.weight.grad``
        (``dw`` being the change the in-place mode would make from the current weight), so
        ``torch.optim.SGD(lr=1)`` applies the same step and any optimizer can be used.
    process_group : ProcessGroup or True, optional
        Data-parallel STDP (:mod:`~stdpwidgets.core.distributed`): the batch-summed
        correlations are all-reduced over the group's ranks before they are used, so a batch
        split across processes learns exactly as one process on the whole batch (traces stay
        local, per sample; ``reduction="mean"`` divides by the global batch). ``True`` takes
        the default group (``torch.distributed.init_process_group`` first, e.g. under
        ``torchrun``). Every rank must call ``step``/``run`` alike; an error on one rank (bad
        spikes) leaves the others waiting in the collective, so stop the job.
    eligibility_tau : float, optional
        Reward-modulated (three-factor) STDP (:mod:`~stdpwidgets.core.eligibility`): the
        change STDP proposes each step (from the current weight, weight dependence included,
        unclipped) accumulates in an eligibility trace ``e`` shaped like the weight that decays
        with this time constant (ms); the weight moves by ``reward * e`` (clipped to the
        bounds; in grad mode ``-reward * e`` goes into ``.grad``). Pass the reward to
        :meth:`step` and :meth:`run`. None (default): plain STDP.

    Raises
    ------
    TypeError, ValueError
        At construction and before every step or run, for a layer STDP cannot update: a
        parametrized weight (``torch.nn.utils.parametrize``, ``parametrizations.weight_norm``,
        ``spectral_norm``) or one recomputed by the legacy ``weight_norm``/``spectral_norm``
        hooks (the update would be lost: remove the parametrization, or normalise after
        learning), a float16/bfloat16 weight (updates below the dtype's resolution would be
        lost, silently: learn in float32 or float64), an inference tensor, or a weight replaced
        with another shape. A step or run whose update or traces would not be finite (huge
        counts, amplitudes overflowing the dtype, a custom dependence returning NaN) raises
        ``ValueError`` before anything changes: weights, ``.grad``, traces and the step count
        change together or not at all.

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
        rule: Rule,
        dt: float = 1.0,
        *,
        decay: str = "exact",
        traces_first: bool = False,
        reduction: str = "sum",
        update: str = "in-place",
        process_group: Any = None,
        eligibility_tau: Optional[float] = None,
    ) -> None:
        if not isinstance(rule, Rule):
            raise TypeError(
                f"rule must be an STDPRule, a TripletRule or another stdpwidgets Rule, got {type(rule).__name__}"
            )
        self._kind: LayerKind = layer_kind_of(layer)
        weight = getattr(layer, "weight", None)
        if not isinstance(weight, torch.Tensor) or isinstance(weight, nn.parameter.UninitializedParameter):
            raise ValueError(
                f"{type(layer).__name__} has no initialised weight; run one forward pass on a "
                "lazy layer before attaching STDP"
            )
        dt_value = _check_real("dt", dt)
        if not math.isfinite(dt_value) or dt_value <= 0:
            raise ValueError(f"dt must be a positive, finite time step in ms, got {dt!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {', '.join(map(repr, REDUCTIONS))}")
        if update not in UPDATES:
            raise ValueError(f"unknown update {update!r}; use one of {', '.join(map(repr, UPDATES))}")
        if type(traces_first).__name__ == "bool_":  # NumPy's bool
            traces_first = bool(traces_first)
        if not isinstance(traces_first, bool):
            raise TypeError(f"traces_first must be True or False, got {traces_first!r}")
        self.layer = layer
        self.rule = rule
        self._weight_shape = _declared_weight_shape(layer, weight)
        self._checked: Tuple[Any, Any] = (None, None)  # the weight and dtype _check_layer last passed
        self._check_layer()
        finfo = torch.finfo(weight.dtype)
        for label, scale in zip(("potentiation", "depression"), rule.amplitude_scale):
            if abs(scale) > finfo.max:
                raise ValueError(
                    f"the rule's {label} amplitude {scale} overflows the layer's {weight.dtype} "
                    f"(largest {finfo.max:.3g}); use a smaller amplitude or a float64 layer"
                )
        self.dt = dt_value
        self.decay = decay
        self.traces_first = traces_first
        self.reduction = reduction
        self.update = update
        self._specs = tuple(rule.traces)
        self._factors = {spec.name: decay_factor(spec.tau, self.dt, decay) for spec in self._specs}
        self._pair_names = (  # the traces shown as pre_trace / post_trace
            next(spec.name for spec in self._specs if spec.side == "pre"),
            next(spec.name for spec in self._specs if spec.side == "post"),
        )
        # which traces the update reads after this step's spikes entered them (traces_first)
        self._read_after_spikes = tuple(
            (spec.name, traces_first and not spec.read_before_spikes) for spec in self._specs
        )
        # the traces read as they were before this step's spikes (decayed only): the others are
        # advanced in one pass
        self._reads_decayed = frozenset(name for name, late in self._read_after_spikes if not late)
        # sides whose traces are reset by a spike: they need whole spike counts
        self._reset_sides = frozenset(spec.side for spec in self._specs if spec.pairing == "nearest")
        self._traces: Optional[Dict[str, torch.Tensor]] = None
        self.steps = 0
        self._trace_bound: Dict[str, float] = {}  # host-side upper bound of each trace (0 at first)
        self._retired: Dict[str, torch.Tensor] = {}  # the traces the last step replaced
        self._spare: Dict[str, torch.Tensor] = {}  # the traces reset() forgot: memory for the zeros after it
        self._spike_max = {"pre": 1.0, "post": 1.0}  # the largest spike values last checked
        self._busy_steps: Dict[str, Any] = {}  # count sequences last checked: their spiking steps
        self._post_any: Optional[bool] = None  # whether the last checked post spikes had one (host)
        group = None
        if process_group is not None and process_group is not False:
            from .distributed import resolve_process_group

            group = resolve_process_group(process_group)
        self.process_group = group
        self._update = WeightUpdate(self)
        self._recorder = None  # a SpikeRecorder after attach()
        self._last_post = 0  # step count right after the last step with a postsynaptic spike
        self._pending_post = []  # (step count after, per-step "any post spike" bools), not yet read
        self._warned_silent = False
        self.eligibility_tau = check_eligibility_tau(eligibility_tau)
        self._eligibility = None if self.eligibility_tau is None else Eligibility(self.eligibility_tau, self.dt)

    # ------------------------------------------------------------------ state

    @property
    def traces(self) -> Optional[Dict[str, torch.Tensor]]:
        """Every trace of the rule after the last step, by name (None before any step)."""
        return None if self._traces is None else dict(self._traces)

    @property
    def pre_trace(self) -> Optional[torch.Tensor]:
        """The rule's (first) presynaptic trace after the last step, shaped like the pre spikes:
        ``x`` of the pair rule, ``r1`` of the triplet rule (None before any step)."""
        return None if self._traces is None else self._traces[self._pair_names[0]]

    @property
    def post_trace(self) -> Optional[torch.Tensor]:
        """The rule's (first) postsynaptic trace after the last step: ``y`` or ``o1``."""
        return None if self._traces is None else self._traces[self._pair_names[1]]

    @property
    def time(self) -> float:
        """Simulated time since construction or :meth:`reset`, in ms."""
        return self.steps * self.dt

    def reset(self) -> None:
        """Forget the traces and the step count (the weight is left as it is)."""
        # their memory serves the next zeros unless something else refers to it (episodes of a
        # few steps each would otherwise pay fresh, page-faulting trace-sized memory every time)
        self._spare = dict(self._traces or {})
        self._traces = None
        self.steps = 0
        self._trace_bound = {}
        self._last_post, self._pending_post = 0, []
        if self._eligibility is not None:
            self._eligibility.trace = None

    @property
    def eligibility(self) -> Optional[torch.Tensor]:
        """The eligibility trace after the last step, shaped like the weight (weight units);
        None before any step or without ``eligibility_tau``."""
        return None if self._eligibility is None else self._eligibility.trace

    # ------------------------------------------------------------------ in a user's model

    def attach(self, spiking_module: nn.Module, *, select=None):
        """Learn inside a model: record this layer's input spikes and ``spiking_module``'s
        output spikes at every forward pass (forward hooks), so that :meth:`step` without
        arguments learns from them.

        Parameters
        ----------
        spiking_module : nn.Module
            The module that turns this layer's output into spikes (a LIF population, or any
            module whose output is spikes, e.g. snnTorch / SpikingJelly neurons).
        select : callable, optional
            Picks the spikes out of a tuple or dict output (``lambda out: out[0]`` for
            snnTorch's ``(spk, mem)``).

        Returns
        -------
        SpikeRecorder
            Also a context manager: leaving the ``with`` block detaches it.
        """
        from .recording import SpikeRecorder

        if self._recorder is not None and not self._recorder.removed:
            raise RuntimeError("this learner is already attached to a spiking module; call detach() first")
        self._recorder = SpikeRecorder(self.layer, spiking_module, select=select)
        return self._recorder

    def detach(self) -> None:
        """Remove the hooks :meth:`attach` registered (nothing to do when not attached)."""
        if self._recorder is not None:
            self._recorder.remove()
            self._recorder = None

    def _spikes_of_step(self, pre, post):
        """The spikes a step learns from: the arguments, or the last recorded forward pass."""
        if pre is not None and post is not None:
            return pre, post
        if pre is None and post is None:
            if self._recorder is None or self._recorder.removed:
                raise TypeError(
                    "step() needs pre and post spikes: pass step(pre, post), or attach() the "
                    "spiking module after this layer so a forward pass records them"
                )
            return self._recorder.take()
        missing = "pre" if pre is None else "post"
        raise TypeError(f"step() got no {missing} spikes: pass both pre and post, or neither after attach()")

    def _note_post_spikes(self, any_post: Union[bool, torch.Tensor]) -> None:
        """Track postsynaptic silence; warn once when it lasts long (nothing then potentiates).

        ``any_post``: a bool tensor, one entry per step just taken, read back in batches on GPUs
        (one host sync per many steps), at once on the CPU; or, for the one step just taken,
        a Python bool already known on the host.
        """
        if isinstance(any_post, bool) and not self._pending_post:
            if any_post:
                self._last_post = self.steps
        else:
            if isinstance(any_post, bool):
                any_post = torch.tensor([any_post])
            self._pending_post.append((self.steps, any_post))
            if any_post.device.type != "cpu" and len(self._pending_post) < 128:
                return
            for end, mask in self._pending_post:
                spiked = mask.nonzero()
                if spiked.numel():
                    self._last_post = end - mask.shape[0] + int(spiked[-1]) + 1
            self._pending_post = []
        silent = self.steps - self._last_post
        if self._warned_silent or silent < SILENT_POST_STEPS or silent * self.dt < SILENT_POST_MS:
            return
        self._warned_silent = True
        warnings.warn(
            f"STDPLearner on {type(self.layer).__name__} has seen no postsynaptic spike for "
            f"{silent} steps ({silent * self.dt:g} ms): without postsynaptic spikes nothing "
            "potentiates and only depression acts. Usual causes: input weights too small or "
            "firing thresholds too high for the input rates, strong inhibition silencing the "
            "layer, or passing membrane potentials / the wrong tensor as post spikes. Raise the "
            "input rates or initial weights, lower the threshold, or check the post spikes "
            "(this warning is shown once per learner).",
            RuntimeWarning,
            stacklevel=3,
        )

    def _config(self) -> Dict[str, Any]:
        return {
            "dt": self.dt,
            "decay": self.decay,
            "traces_first": self.traces_first,
            "reduction": self.reduction,
            "update": self.update,
            "rule": {k: _picklable(v) for k, v in self.rule.to_dict().items()},
            "rule_type": type(self.rule).__name__,
            # only when set, so checkpoints of plain learners keep their configuration
            **({} if self.eligibility_tau is None else {"eligibility_tau": self.eligibility_tau}),
        }

    def state_dict(self) -> Dict[str, Any]:
        """Traces, step count and configuration, for ``torch.save`` beside the layer's own state.

        A weight-dependence callable that cannot be pickled (a lambda, a local function) is
        stored in the configuration as a description (``"<unpicklable module.qualname>"``), so
        the checkpoint can still be saved; a strict :meth:`load_state_dict` compares that
        description, not the code.
        """
        traces = None if self._traces is None else {k: t.detach().clone() for k, t in self._traces.items()}
        state = {"traces": traces, "steps": self.steps, "config": self._config()}
        if self._eligibility is not None:
            trace = self._eligibility.trace
            state["eligibility"] = None if trace is None else trace.detach().clone()
        return state

    def load_state_dict(self, state: Dict[str, Any], strict: bool = True) -> None:
        """Restore traces and step count saved by :meth:`state_dict`.

        The whole checkpoint is validated before anything is assigned: its keys, the
        configuration (a dict), the step count (an integer >= 0, NumPy integers included) and
        every trace (a floating-point tensor of this rule's trace names, shaped for this layer,
        finite and >= 0). Loaded traces are detached copies in the weight's dtype and device.

        Parameters
        ----------
        state : dict
            From :meth:`state_dict` (or an older checkpoint with ``pre_trace``/``post_trace``).
        strict : bool
            When True, a checkpoint made with another configuration (rule, dt, decay, ...)
            raises ``ValueError`` instead of being loaded.

        Raises
        ------
        TypeError, ValueError
            For anything malformed; the learner is left as it was.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from STDPLearner.state_dict(), got {type(state).__name__}")
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        state = dict(state)
        legacy = {"pre_trace", "post_trace"} & set(state)
        if legacy:
            if "traces" in state:
                raise ValueError(
                    f"state has both 'traces' and the old {sorted(legacy)} keys; keep only 'traces' "
                    "(a dict of the rule's traces by name), as STDPLearner.state_dict() writes it"
                )
            if legacy != {"pre_trace", "post_trace"}:
                raise ValueError("an old-style checkpoint needs both 'pre_trace' and 'post_trace'")
            # checkpoints of the pair rule written before rules had named traces
            old = (state.pop("pre_trace"), state.pop("post_trace"))
            if (old[0] is None) != (old[1] is None):
                raise ValueError("state_dict pre_trace and post_trace must both be tensors or both None")
            state["traces"] = None if old[0] is None else dict(zip(("x", "y"), old))
            if isinstance(state.get("config"), Mapping):
                state["config"] = {**state["config"], "rule_type": state["config"].get("rule_type", "STDPRule")}
        missing = {"traces", "steps", "config"} - set(state)
        if missing:
            raise ValueError(f"not an STDPLearner state_dict: missing {sorted(missing)}")
        known = {"traces", "steps", "config"} | ({"eligibility"} if self._eligibility is not None else set())
        unknown = set(state) - known
        if unknown:
            hint = " (an eligibility trace needs a learner built with eligibility_tau)" if "eligibility" in unknown else ""
            raise ValueError(
                f"state_dict has unknown keys {sorted(map(str, unknown))}; expected "
                f"{', '.join(map(repr, sorted(known)))}{hint}"
            )
        config = state["config"]
        if not isinstance(config, Mapping):
            raise TypeError(
                f"state_dict config must be the dict STDPLearner.state_dict() writes, got {type(config).__name__}"
            )
        current = self._config()
        if strict and dict(config) != current:
            keys = set(config) | set(current)
            diff = {k: (config.get(k), current.get(k)) for k in sorted(keys, key=str)
                    if config.get(k) != current.get(k)}
            raise ValueError(
                "checkpoint was made with another configuration (saved, current): "
                f"{diff}; build the learner with the same settings or pass strict=False"
            )
        steps = _check_steps(state["steps"])
        traces = self._checked_traces(state["traces"])
        eligibility = self._checked_eligibility(state.get("eligibility"))
        self._traces, self.steps = traces, steps  # nothing is assigned before this line
        self._measure_trace_bounds()
        if self._eligibility is not None:
            self._eligibility.trace = eligibility

    def _checked_eligibility(self, saved: Any) -> Optional[torch.Tensor]:
        """A checkpoint's eligibility trace: a finite float tensor shaped like the weight."""
        if saved is None:
            return None
        weight = self.layer.weight
        if not isinstance(saved, torch.Tensor) or saved.layout != torch.strided or not saved.is_floating_point():
            got = saved.dtype if isinstance(saved, torch.Tensor) else type(saved).__name__
            raise TypeError(f"saved eligibility must be a dense floating-point tensor, got {got}")
        if tuple(saved.shape) != tuple(weight.shape):
            raise ValueError(
                f"saved eligibility is shaped {tuple(saved.shape)}; it must be shaped like the weight {tuple(weight.shape)}"
            )
        trace = saved.detach().to(device=weight.device, dtype=weight.dtype).clone()
        if not bool(torch.isfinite(trace).all()):
            raise ValueError(f"saved eligibility contains NaN or infinite values (in {weight.dtype})")
        return trace

    def _checked_traces(self, saved: Any) -> Optional[Dict[str, torch.Tensor]]:
        """Validate a checkpoint's traces; return detached copies on the weight's dtype/device."""
        if saved is None:
            return None
        names = [spec.name for spec in self._specs]
        if not isinstance(saved, Mapping) or sorted(map(str, saved)) != sorted(names):
            got = sorted(map(str, saved)) if isinstance(saved, Mapping) else type(saved).__name__
            raise ValueError(f"state_dict traces {got} do not match this rule's traces {names}")
        for name in names:
            t = saved[name]
            if not isinstance(t, torch.Tensor) or t.layout != torch.strided or not t.is_floating_point():
                got = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
                raise TypeError(f"saved trace {name!r} must be a dense floating-point tensor, got {got}")
            if t.device.type == "meta":
                raise ValueError(f"saved trace {name!r} is on the meta device and holds no values")
        pre_name = self._pair_names[0]
        pre_shape = tuple(saved[pre_name].shape)
        try:
            post_shape = tuple(self._kind.output_shape(self.layer, pre_shape))
        except ValueError as err:
            raise ValueError(
                f"saved trace {pre_name!r} is shaped {pre_shape}, which does not fit this layer "
                f"{self.layer} (is the checkpoint from another layer?): {err}"
            ) from None
        expected = {"pre": pre_shape, "post": post_shape}
        weight = self.layer.weight
        out = {}
        for spec in self._specs:
            t = saved[spec.name].detach()
            if tuple(t.shape) != expected[spec.side]:
                raise ValueError(
                    f"saved trace {spec.name!r} is shaped {tuple(t.shape)}; for this layer "
                    f"and the saved pre trace {pre_shape} it must be {expected[spec.side]}"
                )
            t = t.to(device=weight.device, dtype=weight.dtype).clone()
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"saved trace {spec.name!r} contains NaN or infinite values (in {weight.dtype})")
            if bool((t < 0).any()):
                raise ValueError(f"saved trace {spec.name!r} has negative values; spike traces are >= 0")
            out[spec.name] = t
        return out

    def __repr__(self) -> str:
        return (
            f"STDPLearner({type(self.layer).__name__}, {self.rule}, dt={self.dt}, decay={self.decay!r}, "
            f"traces_first={self.traces_first}, reduction={self.reduction!r}, update={self.update!r})"
        )

    # ------------------------------------------------------------------ checks

    def _check_layer(self) -> torch.Tensor:
        """The layer's weight, if STDP can still update it in place; a clear error otherwise.

        Checked at construction and before every step and run (a few attribute reads), since
        the layer can be changed between calls (``layer.half()``, a new ``weight``, a
        parametrization registered later).
        """
        layer = self.layer
        weight = layer.weight
        if weight is self._checked[0] and weight.dtype == self._checked[1] and weight.shape == self._weight_shape:
            return weight  # the same plain Parameter as at the last check (a parametrized one is new each access)
        name = type(layer).__name__
        if parametrize.is_parametrized(layer, "weight"):
            raise ValueError(
                f"layer.weight is parametrized ({type(layer.parametrizations.weight[0]).__name__}, through "
                "torch.nn.utils.parametrize as weight_norm and spectral_norm do): it is recomputed from "
                "other parameters at every access, so an in-place STDP update would be lost. STDP needs "
                "a layer with a plain "
                "weight (remove it with torch.nn.utils.parametrize.remove_parametrizations(layer, "
                "'weight'), or apply the normalisation after learning)"
            )
        weight = getattr(layer, "weight", None)
        if "weight" not in layer._parameters or not isinstance(weight, nn.Parameter):
            raise ValueError(
                f"layer.weight of the {name} is not a registered nn.Parameter (the legacy "
                "torch.nn.utils.weight_norm / spectral_norm hooks recompute it from weight_g/weight_v "
                "or weight_orig before every forward pass), so an STDP update would be lost; remove "
                "the hook (torch.nn.utils.remove_weight_norm) or attach STDP to a plain layer"
            )
        if weight.dtype not in LEARNING_DTYPES:
            if weight.is_floating_point():
                raise TypeError(
                    f"layer.weight is {weight.dtype}; STDP does not learn in it: updates smaller than the dtype's "
                    f"resolution (eps {torch.finfo(weight.dtype).eps:.3g} of the weight) are lost and "
                    "correlations overflow, silently; keep the learning layer in float32 or float64 "
                    "(layer.float()) and cast a copy for inference"
                )
            raise TypeError(f"STDP needs a float32 or float64 layer.weight, got {weight.dtype}")
        if weight.device.type == "meta":
            raise ValueError(
                f"layer.weight of the {name} is on the meta device (it holds no values); materialise "
                "it first, e.g. layer.to_empty(device='cpu') and an initialisation"
            )
        if weight.is_inference():
            raise ValueError(
                f"layer.weight of the {name} was created inside torch.inference_mode() and cannot be updated "
                "in place; build the layer outside inference_mode (or replace its weight with "
                "nn.Parameter(layer.weight.clone()))"
            )
        if tuple(weight.shape) != self._weight_shape:
            raise ValueError(
                f"layer.weight of the {name} is shaped {tuple(weight.shape)} but the learner was built for "
                f"{self._weight_shape}; the weight was replaced with another shape: build a new "
                "STDPLearner for the changed layer"
            )
        self._checked = (weight, weight.dtype)
        return weight


    def _check_spikes(self, pre: Any, post: Any, time_axis: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        """Validate spikes against the layer and the current traces; nothing is changed."""
        weight = self._check_layer()
        lead = "(time, batch, " if time_axis else "(batch, "
        for name, spikes in (("pre", pre), ("post", post)):
            if not isinstance(spikes, torch.Tensor):
                raise TypeError(f"{name} spikes must be a torch.Tensor, got {type(spikes).__name__}")
            if spikes.layout != torch.strided:
                raise TypeError(
                    f"{name} spikes must be a dense tensor, got layout {spikes.layout}; pass spikes.to_dense()"
                )
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
        if self._traces is not None and tuple(self.pre_trace.shape) != pre_shape:
            raise ValueError(
                f"pre spikes shaped {pre_shape} differ from the traces' shape "
                f"{tuple(self.pre_trace.shape)} (batch or input size changed); call reset() first"
            )
        if self.reduction == "mean" and pre_shape[0] == 0:
            raise ValueError(
                f"reduction='mean' needs a batch of at least one sample, got pre spikes shaped "
                f"{tuple(pre.shape)} {lead}...)): the mean over no samples is undefined; pass "
                "spikes of at least one sample or use reduction='sum'"
            )
        # value checks of count spikes: one aminmax per tensor (NaN propagates into both, inf
        # shows in the max; one reduction, faster than amin + sum at every size measured) and one
        # host sync for both tensors
        counted = [(name, t) for name, t in (("pre", pre), ("post", post)) if t.dtype != torch.bool and t.numel()]
        self._spike_max = {"pre": 1.0, "post": 1.0}  # bools: at most one spike per entry
        self._post_any = None  # known on the host after the checks of count spikes
        self._busy_steps = {}
        if counted and time_axis:
            # a sequence: each step's min and max (an amin and an amax over the steps, as fast
            # together as one aminmax of the whole), so that run() knows which steps spike
            # without another pass over the spikes
            extremes = []
            for name, t in counted:
                low, high = _step_extremes(t.reshape(t.shape[0], -1))
                self._busy_steps[name] = (weakref.ref(t), high > 0)  # weak: the spikes are the caller's
                extremes += [low.min(), high.max()]
            stats = torch.stack(extremes).tolist()
        elif counted:
            stats = torch.stack([v for _, t in counted for v in torch.aminmax(t)]).tolist()
        if counted:
            for k, (name, spikes) in enumerate(counted):
                low, high = stats[2 * k], stats[2 * k + 1]
                if not (low >= 0 and math.isfinite(high)):
                    if not bool(torch.isfinite(spikes).all()):
                        raise ValueError(f"{name} spikes contain NaN or infinite values")
                    raise ValueError(f"{name} spikes contain negative values; spikes are counts >= 0")
                # A reset (nearest) trace reads any value > 0 as one spike, an added trace adds the
                # value: graded input means the same to both only when it is a whole count.
                if name in self._reset_sides and bool(torch.frac(spikes).any()):
                    raise ValueError(
                        f"{name} spikes contain values that are not whole numbers (e.g. "
                        f"{float(spikes[torch.frac(spikes) != 0][0]):g}), which nearest pairing would "
                        "read as whole spikes; pass counts 0, 1, 2, ... or bool (round or threshold "
                        "the signal), or use pairing='all-to-all', where a graded value adds itself "
                        "to the trace"
                    )
                self._spike_max[name] = high  # the largest value (of any step, for a sequence)
                if name == "post" and not time_axis:
                    self._post_any = high > 0
        return pre, post

    # ------------------------------------------------------------------ learning

    def _initial_traces(self, pre_shape, post_shape) -> Dict[str, torch.Tensor]:
        """The traces to start from, on the weight's device and in its dtype (zeros at first).

        Traces made before ``layer.to(...)`` / ``layer.double()`` follow the layer here.
        """
        weight = self.layer.weight
        if self._traces is None:
            shapes = {"pre": tuple(pre_shape), "post": tuple(post_shape)}
            spare, self._spare = self._spare, {}
            return {s.name: reusable_as(spare, s.name, shapes[s.side], weight.dtype, weight.device).zero_()
                    for s in self._specs}
        first = self._traces[self._pair_names[0]]
        if first.dtype != weight.dtype or first.device != weight.device:
            return {name: t.to(device=weight.device, dtype=weight.dtype) for name, t in self._traces.items()}
        return self._traces  # never changed in place: step and run build new tensors

    def _read(self, before: Dict[str, torch.Tensor], after: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The traces as this step's update reads them (the within-step ordering, in one place)."""
        return {name: (after if late else before)[name] for name, late in self._read_after_spikes}

    def step(self, pre: Optional[torch.Tensor] = None, post: Optional[torch.Tensor] = None,
             reward: Any = None) -> torch.Tensor:
        """Advance one time step of ``dt`` ms and update the weight.

        Parameters
        ----------
        pre : Tensor
            Presynaptic spikes of this step, ``(batch, *layer input)``, bool or counts in the
            weight's dtype (whole numbers >= 0; with all-to-all pairing a graded value >= 0 is
            taken as it is and adds itself to the traces, nearest pairing refuses it).
            Omit both ``pre`` and ``post`` after :meth:`attach` to learn from the spikes the
            last forward pass recorded.
        post : Tensor
            Postsynaptic spikes of this step, ``(batch, *layer output)``.
        reward : float or 0-d tensor, optional
            Only with ``eligibility_tau``: this step's reward (third factor; default 0, so the
            eligibility trace accumulates and the weight stays). A per-sample reward is not
            supported (it would need one eligibility trace per sample): pass the batch's mean.

        Returns
        -------
        Tensor
            The step's weight change ``dw`` (weight units), shaped like ``layer.weight``:
            applied to the weight (in-place mode, bounds included) or subtracted from its
            ``.grad`` (grad mode). With ``eligibility_tau``: ``clip(w + reward * e) - w``
            (in place) or ``reward * e`` (grad mode).

        Raises
        ------
        TypeError, ValueError
            For spikes of the wrong type, dtype, device or shape, or with NaN/inf/negative
            values. Weight and traces are left untouched.

        Notes
        -----
        On ``nn.Linear``, a step whose spikes touch few weight rows and columns (at most
        5 % of the weights: batch 1, sparse spikes) updates only those
        (:mod:`~stdpwidgets.core.sparse_linear`), with the same result.
        """
        reward = self._reward_of(reward, "reward")
        pre, post = self._spikes_of_step(pre, post)
        pre, post = self._check_spikes(pre, post, time_axis=False)
        # torch.no_grad() without its context object (~3 us a step, next to ~50 us of Python)
        enabled = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            return self._learn_step(pre, post, reward)
        finally:
            torch._C._set_grad_enabled(enabled)

    def _reward_of(self, reward: Any, name: str) -> Optional[float]:
        """A step's reward as a float (0 when omitted) with eligibility; refused without."""
        if self._eligibility is None:
            if reward is not None:
                raise ValueError(
                    f"{name} needs a reward-modulated learner: build it with "
                    "STDPLearner(..., eligibility_tau=tau_e) (tau_e in ms), or drop the reward"
                )
            return None
        return check_reward(0.0 if reward is None else reward, name)

    def _learn_step(self, pre: torch.Tensor, post: torch.Tensor, reward: Optional[float]) -> torch.Tensor:
        """One step from validated spikes (under no_grad): update, then commit the state."""
        weight = self.layer.weight
        traces = self._initial_traces(pre.shape, post.shape)
        # every trace-sized temporary in a work buffer, and the new traces in the memory of the
        # ones they replace two steps ago when nothing else refers to those: fresh memory of
        # this size costs page faults on a CPU (a convolution's traces are megabytes)
        buffer = self._update.buffer
        s_pre = pre if pre.dtype == weight.dtype else buffer("pre spikes", pre, weight.dtype).copy_(pre)
        s_post = post if post.dtype == weight.dtype else buffer("post spikes", post, weight.dtype).copy_(post)
        retired, self._retired = self._retired, {}
        decayed, after = {}, {}
        for spec in self._specs:
            side = s_pre if spec.side == "pre" else s_post
            old, factor = traces[spec.name], self._factors[spec.name]
            reuse = reusable(retired, spec.name, old)
            if spec.name in self._reads_decayed:
                decayed[spec.name] = torch.mul(old, factor, out=buffer("decayed " + spec.name, old))
                after[spec.name] = add_spikes(decayed[spec.name], side, spec.pairing, out=reuse)
            else:  # one pass: the decayed trace itself is not read
                after[spec.name] = advance_trace(old, factor, side, spec.pairing, out=reuse)
        terms = self.rule.correlation_terms(s_pre, s_post, self._read(decayed, after))
        # Spike counts (not bools) could overflow the traces. A bound on every trace, kept on the
        # host from the spikes' maxima, shows they cannot; only when it is too large to show it
        # are the traces checked with the update (one more pass over them).
        bounds = self._next_trace_bounds()
        read = {name: bounds[name] if late else self._trace_bound.get(name, 0.0) * self._factors[name]
                for name, late in self._read_after_spikes}
        count = max(pre.numel(), post.numel())
        self._refuse_overflowing_products(count, max(read.values(), default=0.0))
        safe = self._traces_stay_finite(max(bounds.values(), default=0.0))
        batch = self._update.batch_total(pre.shape[0])
        also_finite = () if safe else tuple(after.values())
        if self._eligibility is None:
            # the same bounds bound the update: when they show it finite, the weight is not scanned
            dw = self._update.step(weight, terms, batch, also_finite, self._change_bound(count, read))
        else:
            dw, self._eligibility.trace = self._update.reward_step(
                weight, terms, batch, also_finite, self._eligibility, reward)
        # their memory may serve the step after next (a copy: the dict itself may be held
        # elsewhere, e.g. a recorded history; reusable() takes only what nothing refers to)
        self._retired = dict(traces)
        self._traces, self._trace_bound = after, bounds
        self.steps += 1
        if self._post_any is not None:  # count spikes: known from their checks
            self._note_post_spikes(self._post_any)
        elif post.device.type == "cpu":  # bool spikes: one scan (a host read is free on a CPU)
            self._note_post_spikes(bool(post.any()))
        else:  # read back in batches: no host sync per step on a GPU
            self._note_post_spikes(event_run._spiking(post.unsqueeze(0)))
        return dw

    def _change_bound(self, count: int, read: Mapping[str, float]) -> float:
        """Upper bound (weight units) on an update's unclipped change from the spikes last
        checked (their maxima) and ``read``, a bound on each trace as the update reads it, with
        at most ``count`` products per correlation sum (:meth:`Rule.term_bounds`,
        :meth:`WeightUpdate.change_bound`); inf when the rule cannot bound its terms."""
        term_max = self.rule.term_bounds(self._spike_max["pre"], self._spike_max["post"], read)
        return self._update.change_bound(count, term_max)

    def _refuse_overflowing_products(self, count: int, trace_max: float) -> None:
        """Refuse, before anything changes, spikes so large that a correlation's products and
        sums (at most ``count`` spikes times the traces it reads, up to ``trace_max``) could
        leave the weight's dtype: whether they do depends on the order in which the machine's
        kernel multiplies and scales them (one GEMM overflows where another applies the
        amplitude first), so the step would succeed on one machine and fail on another."""
        spike_max = max(self._spike_max.values(), default=1.0)
        if count * trace_max * spike_max >= largest(self.layer.weight.dtype):
            raise ValueError(NOT_FINITE.format(what="weight update of this step"))

    def _traces_stay_finite(self, bound: float) -> bool:
        """Whether traces below ``bound`` are far enough from the weight dtype's largest value
        that no sum over them needs checking (a margin of 16)."""
        return bound < largest(self.layer.weight.dtype) / 16

    def _run_trace_bound(self, steps: int) -> float:
        """Upper bound on every trace during a run of ``steps`` (its spikes checked): the traces'
        bound now plus ``steps`` of the run's largest spikes (looser than :meth:`step`'s, which
        knows each step's own spikes)."""
        return max(self._trace_bound.values(), default=0.0) + steps * max(self._spike_max.values())

    def _next_trace_bounds(self) -> Dict[str, float]:
        """Upper bounds on every trace after this step's spikes (``_spike_max`` from the
        spike checks): ``b f + max spike`` added, ``max(b f, 1)`` reset (nearest)."""
        bounds = {}
        for spec in self._specs:
            decayed = self._trace_bound.get(spec.name, 0.0) * self._factors[spec.name]
            spike = self._spike_max[spec.side]
            bounds[spec.name] = max(decayed, 1.0) if spec.pairing == "nearest" else decayed + spike
        return bounds

    def _measure_trace_bounds(self) -> None:
        """Set the trace bounds from the traces themselves (after a run or a load)."""
        traces = self._traces or {}
        self._trace_bound = {n: float(t.max()) if t.numel() else 0.0 for n, t in traces.items()}

    def run(self, pre_seq: torch.Tensor, post_seq: torch.Tensor, record: bool = False, reward: Any = None):
        """Advance ``T`` steps at once; equivalent to ``T`` calls of :meth:`step`, but faster.

        The run is event-driven: only steps with a spike somewhere (events) cost anything
        beyond the checks of the spikes (which also tell the events apart). On small layers
        the traces at the events come from a vectorised recurrence over the gaps between them
        and the correlations of a chunk of events from one batched call; on large ones each
        event's traces and correlations are computed as :meth:`step` computes them, without
        its per-call checks and Python. An in-place weight is updated where it lies, with one
        copy that restores it if anything fails (see :mod:`~stdpwidgets.core.event_run`).

        Parameters
        ----------
        pre_seq : Tensor
            Presynaptic spikes ``(T, batch, *layer input)``.
        post_seq : Tensor
            Postsynaptic spikes ``(T, batch, *layer output)``.
        record : bool
            Also return the weight and both traces after every step (memory ``T`` times the
            weight and the spikes).
        reward : sequence of T floats or (T,) tensor, optional
            Only with ``eligibility_tau``: the reward at every step (default all 0). The
            eligibility trace and the reward make every step count, so this run goes step by
            step (the same arithmetic as :meth:`step`), all or nothing.

        Returns
        -------
        Tensor or STDPHistory
            The total weight change of the run (shaped like the weight), or with
            ``record=True`` an :class:`STDPHistory`.
        """
        pre_seq, post_seq = self._check_spikes(pre_seq, post_seq, time_axis=True)
        if not isinstance(record, bool):
            raise TypeError(f"record must be True or False, got {record!r}")
        steps = pre_seq.shape[0]
        rewards = self._reward_sequence(reward, steps)
        if record:
            self._check_history_fits(steps, pre_seq.shape[1:], post_seq.shape[1:])
        if rewards is not None:
            return self._run_with_rewards(pre_seq, post_seq, rewards, record)
        if steps:
            self._refuse_overflowing_products(max(pre_seq[0].numel(), post_seq[0].numel()),
                                              self._run_trace_bound(steps))
        try:
            with torch.no_grad():
                result, end = event_run.run_events(self, pre_seq, post_seq, record)  # in place: weight updated
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
            if not isinstance(err, MemoryError) and not _is_allocation_error(err):
                raise
            raise MemoryError(
                f"run() of {steps} steps ran out of memory ({err}); nothing was changed. Split the "
                "run into shorter pieces" + (" or pass record=False" if record else "")
            ) from None
        # everything is computed: commit weight (or grad), traces and step count together
        if steps:
            with torch.no_grad():
                if self.update == "grad":
                    self._update.add_to_grad(result.dw if record else result)
            self._traces = end
            self.steps += steps
            self._measure_trace_bounds()
            self._note_post_spikes(self._spiking_steps("post", post_seq))
        return result

    def _spiking_steps(self, name: str, seq: torch.Tensor) -> torch.Tensor:
        """(T,) bool: the steps of a checked sequence with any spike; known from the checks of
        count spikes (``name`` is "pre" or "post"), one scan of the sequence for bools (kept
        until the next check: the run asks again when it commits)."""
        known = self._busy_steps.get(name)
        if known is not None and known[0]() is seq:
            return known[1]
        spiking = event_run._spiking(seq)
        self._busy_steps[name] = (weakref.ref(seq), spiking)
        return spiking

    def _reward_sequence(self, reward: Any, steps: int):
        """The run's rewards as T floats (with eligibility), or None (plain STDP)."""
        if self._eligibility is None:
            self._reward_of(reward, "run(reward=...)")  # refuses a reward
            return None
        if reward is None:
            return [0.0] * steps
        if isinstance(reward, torch.Tensor):
            if reward.dim() != 1 or reward.is_complex() or reward.dtype == torch.bool:
                raise ValueError(f"reward must be a 1-d tensor of T = {steps} rewards, got shape {tuple(reward.shape)}")
            reward = reward.detach().cpu().tolist()
        try:
            values = list(reward)
        except TypeError:
            raise TypeError(f"reward must be a sequence of T = {steps} rewards (one per step), got {type(reward).__name__}") from None
        if len(values) != steps:
            raise ValueError(f"reward has {len(values)} values for a run of {steps} steps; give one per step")
        return [check_reward(r, f"reward[{t}]") for t, r in enumerate(values)]

    def _run_with_rewards(self, pre_seq, post_seq, rewards, record):
        """Reward-modulated run, step by step; restores everything if a step fails."""
        weight = self.layer.weight
        grad = weight.grad
        saved = (weight.detach().clone(), None if grad is None else grad.detach().clone(), self._traces,
                 self._eligibility.trace, self.steps, self._last_post, list(self._pending_post), self._warned_silent,
                 dict(self._trace_bound))
        total = torch.zeros_like(weight.detach())
        weights, traces = [], []
        # a step without spikes and without reward only decays traces and eligibility (and clips
        # the weight, a no-op within the bounds): stretches of them skip the step's machinery
        busy = (self._spiking_steps("pre", pre_seq) | self._spiking_steps("post", post_seq)).tolist()
        try:
            with torch.no_grad():
                t = 0
                while t < len(rewards):
                    quiet = 0
                    while not record and t + quiet < len(rewards) and not busy[t + quiet] \
                            and rewards[t + quiet] == 0.0 and self._traces is not None:
                        quiet += 1
                    if quiet:
                        total += self._quiet_steps(quiet)
                        t += quiet
                        continue
                    total += self._learn_step(pre_seq[t], post_seq[t], rewards[t])
                    t += 1
                    if record:
                        weights.append(weight.detach().clone())
                        traces.append(self._traces)
        except BaseException:
            with torch.no_grad():
                weight.copy_(saved[0])
                if grad is None:
                    weight.grad = None
                else:
                    grad.copy_(saved[1])
                    weight.grad = grad
            (self._traces, self._eligibility.trace, self.steps, self._last_post, self._pending_post,
             self._warned_silent, self._trace_bound) = saved[2:]
            raise
        if not record:
            return total
        if not rewards:
            return event_run.run_events(self, pre_seq, post_seq, True)[0]  # the empty history
        stacked = {spec.name: torch.stack([step[spec.name] for step in traces]) for spec in self._specs}
        pre_name, post_name = self._pair_names
        return STDPHistory(total, torch.stack(weights), stacked[pre_name], stacked[post_name], stacked)

    def _quiet_steps(self, steps: int) -> torch.Tensor:
        """``steps`` steps without spikes and without reward, with exactly the arithmetic of
        :meth:`_learn_step` (each a multiplication of every trace and of the eligibility by its
        factor; adding no spikes and no reward changes nothing); returns their weight change."""
        weight = self.layer.weight
        traces = {n: t.clone() for n, t in self._traces.items()}
        eligibility = self._eligibility.trace
        eligibility = None if eligibility is None else eligibility.clone()
        for _ in range(steps):
            for name, trace in traces.items():
                trace.mul_(self._factors[name])
            if eligibility is not None:
                eligibility.mul_(self._eligibility.factor)
        change = torch.zeros_like(weight.detach())
        if self.update == "in-place" and self.rule.bounded:
            clipped = self.rule.clip(weight.detach())  # every step clips; a no-op within the bounds
            change = clipped - weight
            weight.copy_(clipped)
        elif self.update == "grad" and weight.grad is None:
            weight.grad = torch.zeros_like(weight.detach())  # as a step adding -0 * e would
        self._traces, self._eligibility.trace = traces, eligibility
        self._trace_bound = {n: b * self._factors[n] ** steps for n, b in self._trace_bound.items()}
        self.steps += steps
        self._note_post_spikes(torch.zeros(steps, dtype=torch.bool))
        return change

    def _check_history_fits(self, steps: int, pre_shape, post_shape) -> None:
        """Refuse ``record=True`` up front when the history cannot fit in the device's memory."""
        weight = self.layer.weight
        shapes = {"pre": pre_shape.numel(), "post": post_shape.numel()}
        per_step = weight.numel() + sum(shapes[spec.side] for spec in self._specs)
        need = steps * per_step * weight.element_size()
        free = _free_memory(weight.device)
        if free is not None and need > free:
            most = max(1, free // max(1, 2 * per_step * weight.element_size()))
            raise ValueError(
                f"run(record=True) over {steps} steps would keep {need / 2**30:.3g} GiB of history "
                f"(weights and traces at every step), more than the {free / 2**30:.3g} GiB free; "
                f"record at most about {most} steps per call (split the run) or pass record=False"
            )
