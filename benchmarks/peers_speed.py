"""Side-by-side speed of one STDP step: ours, hand-written torch, SpikingJelly 2.0 and Norse 1.1.

The table of GitHub issue 10. For every case the inputs are built once (seeded); before any
timing, every method is run a few steps from the same state and must make the same weight
change as ``STDPLearner.step`` (``rtol=1e-5, atol=1e-6`` in float32, the largest difference is
printed; the script stops if one does not agree). Then the methods are timed interleaved,
round by round: each round runs every method once over a batch of steps from a fresh state
(weights back to their start, traces to zero), so weights stay in range; a method's time is
the median over rounds of (round time / steps), in ms per step.

    python benchmarks/peers_speed.py [--device cuda] [--json FILE] [--quick] [--rounds N]
                                     [--runs N] [--threads N] [--only TEXT]

``--runs 3`` repeats the whole measurement three times in one invocation and prints each run's
tables and the spread (min .. max) of every ratio over the runs. Ours and the hand-written
forms do all T steps in every round; the peers' loops, which can take seconds per step, do as
many as fit in a short budget (at least one).

Methods (columns)
-----------------
ours step        ``STDPLearner.step`` once per time step.
ours run / T     ``STDPLearner.run`` over T steps (T = 50 Linear, 20 conv; --quick 10 / 5), / T.
plain step       a hand-written complete step as issue 10 words it: traces updated in place,
                 the two correlations (two ``mm``, or two ``torch.nn.grad.convNd_weight``),
                 ``w += a_plus * P - a_minus * D`` (the rule's factors for the other rules),
                 ``w.clamp_(w_min, w_max)``; in grad mode ``w.grad -= clamp(w + dw) - w``.
plain fused floor  the fastest honest hand-written step found: the best of the plain step and a
                 few fused forms (``addmm_`` with alpha into ``w``; one weight-gradient on
                 batch-concatenated operands); the JSON names the winner. Reported for
                 honesty, not as a goal.
two weight-gradients  the two correlations alone, on operands prepared beforehand.
SpikingJelly 2.0 ``spikingjelly.activation_based.functional.learning.stdp_{linear,conv1d,
                 conv2d}_step`` then ``w.add_(dw).clamp_(...)`` (no Conv3d).
Norse 1.1        ``norse.torch.functional.stdp.stdp_step_{linear,conv2d}`` (Linear and Conv2d).

The rule is the peers' convention: Euler decay ``x <- x (1 - dt/tau) + s`` with the spikes
entering before the traces are read (``decay="euler", traces_first=True``). Norse's traces are
``t += dt/tau (-t + a z)``, so a spike enters scaled by ``dt/tau``: with Norse's default
``a_pre = a_post = 1`` its amplitudes are ``eta = a * tau / dt`` for the same ``dw``. Peers run
on in-place additive and multiplicative rows only (they have no triplet rule and no grad mode).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from stdpwidgets import TRIPLET_PRESETS, STDPLearner, STDPRule, TripletRule

TAU_PRE, TAU_POST = 4.0, 8.0  # ms, with dt = 1 ms
A_PLUS, A_MINUS = 1e-4, 1.2e-4  # small, so a round of steps stays well inside [0, 1]
W_MIN, W_MAX = 0.0, 1.0
DT = 1.0
CHECK_STEPS = 4
RTOL, ATOL = 1e-5, 1e-6
TRIPLET_PRESET = "visual-cortex-all-to-all-minimal"
TRIPLET_SCALE = 0.01

COLUMNS = ["ours step", "ours run / T", "plain step", "plain fused floor", "two weight-gradients",
           "SpikingJelly 2.0", "Norse 1.1"]


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One row: a layer, its input, the spike density and the rule."""

    name: str
    layer: str  # "linear", "conv1d", "conv2d", "conv3d"
    channels: Tuple[int, int]  # (in, out): features for Linear, channels for conv
    kernel: int  # 0 for Linear
    size: Tuple[int, ...]  # spatial input size (empty for Linear)
    batch: int
    density: float
    rule: str = "additive"  # "additive", "multiplicative", "triplet"
    update: str = "in-place"
    sparse: bool = False

    @property
    def dense(self) -> bool:
        """Where the goal 'step <= 1.1x plain' applies (issue 10: density >= 5 %, batch >= 8)."""
        return self.density >= 0.05 and self.batch >= 8


def linear(name, batch, density, **kw):
    return Case(name, "linear", (1024, 1024), 0, (), batch, density, **kw)


CASES = [
    linear("Linear 1024x1024 b32 20%", 32, 0.20),
    linear("Linear 1024x1024 b32 5%", 32, 0.05),
    linear("Linear 1024x1024 b32 1%", 32, 0.01),
    Case("Conv2d 16->32 k3 32x32 b8 20%", "conv2d", (16, 32), 3, (32, 32), 8, 0.20),
    Case("Conv2d 64->64 k5 28x28 b8 5%", "conv2d", (64, 64), 5, (28, 28), 8, 0.05),
    Case("Conv1d 32->64 k5 L256 b16 5%", "conv1d", (32, 64), 5, (256,), 16, 0.05),
    Case("Conv3d 4->8 k3 16^3 b2 5%", "conv3d", (4, 8), 3, (16, 16, 16), 2, 0.05),
    linear("sparse Linear 1024x1024 b1 2%", 1, 0.02, sparse=True),
    linear("sparse Linear 1024x1024 b1 1%", 1, 0.01, sparse=True),
    linear("Linear b32 5% additive grad", 32, 0.05, update="grad"),
    linear("Linear b32 5% multiplicative in-place", 32, 0.05, rule="multiplicative"),
    linear("Linear b32 5% multiplicative grad", 32, 0.05, rule="multiplicative", update="grad"),
    linear("Linear b32 5% triplet in-place", 32, 0.05, rule="triplet"),
    linear("Linear b32 5% triplet grad", 32, 0.05, rule="triplet", update="grad"),
]


def make_rule(kind: str):
    if kind == "triplet":  # the preset's amplitudes / 100: T steps at 5 % stay inside [0, 1]
        amplitudes = {k: v * TRIPLET_SCALE for k, v in TRIPLET_PRESETS[TRIPLET_PRESET]["params"].items()
                      if k.startswith("a")}
        return TripletRule.preset(TRIPLET_PRESET, w_min=W_MIN, w_max=W_MAX, **amplitudes)
    return STDPRule(TAU_PRE, TAU_POST, A_PLUS, A_MINUS, weight_dependence=kind, w_min=W_MIN, w_max=W_MAX)


def make_layer(case: Case) -> nn.Module:
    cin, cout = case.channels
    if case.layer == "linear":
        return nn.Linear(cin, cout, bias=False)
    conv = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "conv3d": nn.Conv3d}[case.layer]
    return conv(cin, cout, case.kernel, bias=False)


@dataclass
class Inputs:
    """Everything a case's methods share, built once from a seed."""

    case: Case
    rule: object
    w0: torch.Tensor
    pre: torch.Tensor  # (T, batch, *in)
    post: torch.Tensor  # (T, batch, *out)
    correlate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (pre-side, post-side) -> like w

    @property
    def steps(self) -> int:
        return self.pre.shape[0]


def correlation_of(case: Case, weight_shape) -> Callable:
    """The layer's correlation sum_{batch, positions} post x pre, written out by hand."""
    if case.layer == "linear":
        return lambda a_pre, a_post: a_post.t() @ a_pre
    weight_gradient = {"conv1d": torch.nn.grad.conv1d_weight, "conv2d": torch.nn.grad.conv2d_weight,
                       "conv3d": torch.nn.grad.conv3d_weight}[case.layer]
    return lambda a_pre, a_post: weight_gradient(a_pre, weight_shape, a_post)


def build_inputs(case: Case, steps: int, device: torch.device, seed: int = 0) -> Inputs:
    gen = torch.Generator().manual_seed(seed)
    layer = make_layer(case)
    w0 = (0.25 + 0.5 * torch.rand(layer.weight.shape, generator=gen)).to(device)
    pre_shape = (case.batch, case.channels[0], *case.size)
    with torch.no_grad():
        post_shape = tuple(layer(torch.zeros(pre_shape)).shape)
    pre = (torch.rand(steps, *pre_shape, generator=gen) < case.density).float().to(device)
    post = (torch.rand(steps, *post_shape, generator=gen) < case.density).float().to(device)
    return Inputs(case, make_rule(case.rule), w0, pre, post, correlation_of(case, w0.shape))


# ----------------------------------------------------------------------------- methods


class Method:
    """One way of doing the case's steps: reset to the start, advance n steps, report the change."""

    label = "?"

    def __init__(self, inputs: Inputs):
        self.inputs = inputs
        self.w = inputs.w0.clone()

    def reset(self) -> None:
        self.w.copy_(self.inputs.w0)

    def advance(self, n: int) -> None:
        raise NotImplementedError

    def change(self) -> torch.Tensor:
        """The weight change since reset (in grad mode: minus the accumulated ``.grad``)."""
        return self.w - self.inputs.w0


class Ours(Method):
    label = "ours step"

    def __init__(self, inputs: Inputs):
        super().__init__(inputs)
        self.layer = make_layer(inputs.case).to(inputs.w0.device)
        self.learner = STDPLearner(self.layer, inputs.rule, DT, decay="euler", traces_first=True,
                                   update=inputs.case.update)
        self.w = self.layer.weight

    def reset(self) -> None:
        with torch.no_grad():
            self.w.copy_(self.inputs.w0)
        self.w.grad = None
        self.learner.reset()

    def advance(self, n: int) -> None:
        for t in range(n):
            self.learner.step(self.inputs.pre[t], self.inputs.post[t])

    def change(self) -> torch.Tensor:
        if self.inputs.case.update == "grad":
            return -self.w.grad if self.w.grad is not None else torch.zeros_like(self.w)
        return self.w.detach() - self.inputs.w0


class OursRun(Ours):
    label = "ours run / T"

    def advance(self, n: int) -> None:
        self.learner.run(self.inputs.pre[:n], self.inputs.post[:n])


class Plain(Method):
    """The hand-written step of issue 10, for the pair rules and the triplet rule."""

    label = "plain step"

    def __init__(self, inputs: Inputs):
        super().__init__(inputs)
        rule = inputs.rule
        self.triplet = isinstance(rule, TripletRule)
        taus = ((rule.tau_plus, rule.tau_x, rule.tau_minus, rule.tau_y) if self.triplet
                else (rule.tau_pre, rule.tau_post))
        self.factors = [1.0 - DT / tau for tau in taus]
        self.grad: Optional[torch.Tensor] = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        pre, post = self.inputs.pre[0], self.inputs.post[0]
        sides = (pre, pre, post, post) if self.triplet else (pre, post)
        self.traces = [torch.zeros_like(s) for s in sides]
        self.grad = None

    def operands(self, pre, post):
        """Update the traces in place; return (P_pre, P_post, D_pre, D_post)."""
        if not self.triplet:
            x, y = self.traces
            x.mul_(self.factors[0]).add_(pre)
            y.mul_(self.factors[1]).add_(post)
            return x, post, pre, y
        r = self.inputs.rule
        r1, r2, o1, o2 = self.traces
        for trace, factor in zip(self.traces, self.factors):
            trace.mul_(factor)
        r1.add_(pre)
        o1.add_(post)
        # the slow traces enter the triplet terms before this step's spike (Pfister & Gerstner)
        p_post = post * (r.a2_plus + r.a3_plus * o2) if r.a3_plus else post
        d_pre = pre * (r.a2_minus + r.a3_minus * r2) if r.a3_minus else pre
        r2.add_(pre)
        o2.add_(post)
        return r1, p_post, d_pre, o1

    def amplitudes(self):
        """(F+, F-): scalars, or weight-shaped for the multiplicative rule."""
        r = self.inputs.rule
        if self.triplet:
            return (1.0 if r.a3_plus else r.a2_plus), (1.0 if r.a3_minus else r.a2_minus)
        if self.inputs.case.rule == "multiplicative":
            return r.a_plus * (W_MAX - self.w), r.a_minus * (self.w - W_MIN)
        return r.a_plus, r.a_minus

    def advance(self, n: int) -> None:
        corr = self.inputs.correlate
        for t in range(n):
            p_pre, p_post, d_pre, d_post = self.operands(self.inputs.pre[t], self.inputs.post[t])
            P, D = corr(p_pre, p_post), corr(d_pre, d_post)
            a_plus, a_minus = self.amplitudes()
            if self.inputs.case.update == "in-place":
                self.w += a_plus * P - a_minus * D
                self.w.clamp_(W_MIN, W_MAX)
            else:
                self.accumulate_grad(a_plus * P - a_minus * D)

    def accumulate_grad(self, dw):
        """Grad mode: ``grad -= clamp(w + dw) - w`` (the weight itself stays)."""
        dw = (self.w + dw).clamp_(W_MIN, W_MAX).sub_(self.w)
        if self.grad is None:
            self.grad = -dw
        else:
            self.grad.sub_(dw)

    def change(self) -> torch.Tensor:
        if self.inputs.case.update == "grad":
            return -self.grad if self.grad is not None else torch.zeros_like(self.w)
        return super().change()


class FusedTwoCalls(Plain):
    """Floor candidate: the correlations accumulated straight into ``w`` with their amplitudes
    (``addmm_`` with alpha for Linear; for conv two weight-gradients added with alpha)."""

    label = "fused: two calls"

    def advance(self, n: int) -> None:
        corr, linear_layer = self.inputs.correlate, self.inputs.case.layer == "linear"
        for t in range(n):
            p_pre, p_post, d_pre, d_post = self.operands(self.inputs.pre[t], self.inputs.post[t])
            a_plus, a_minus = self.amplitudes()
            if isinstance(a_plus, torch.Tensor):  # multiplicative: (w_max - w) P - (a-/a+) (w - w_min) D
                rule = self.inputs.rule
                P, D = corr(p_pre, p_post), corr(d_pre, d_post)
                dw = torch.addcmul((W_MAX - self.w).mul_(P), self.w - W_MIN, D, value=-rule.a_minus / rule.a_plus)
                self.finish(dw, alpha=rule.a_plus)
            elif self.inputs.case.update == "in-place" and linear_layer:
                self.w.addmm_(p_post.t(), p_pre, alpha=a_plus)
                self.w.addmm_(d_post.t(), d_pre, alpha=-a_minus)
                self.w.clamp_(W_MIN, W_MAX)
            else:
                dw = corr(p_pre, p_post).mul_(a_plus).sub_(corr(d_pre, d_post), alpha=a_minus)
                self.finish(dw)

    def finish(self, dw, alpha=1.0):
        if self.inputs.case.update == "in-place":
            self.w.add_(dw, alpha=alpha).clamp_(W_MIN, W_MAX)
        else:
            self.accumulate_grad(dw.mul_(alpha) if alpha != 1.0 else dw)


class FusedConcat(Plain):
    """Floor candidate for scalar amplitudes: one correlation of batch-concatenated operands,
    ``C([a+ P_post; -a- D_post], [P_pre; D_pre]) = a+ P - a- D``."""

    label = "fused: one call"

    def advance(self, n: int) -> None:
        corr = self.inputs.correlate
        for t in range(n):
            p_pre, p_post, d_pre, d_post = self.operands(self.inputs.pre[t], self.inputs.post[t])
            a_plus, a_minus = self.amplitudes()
            dw = corr(torch.cat([p_pre, d_pre]), torch.cat([p_post * a_plus, d_post * -a_minus]))
            if self.inputs.case.update == "in-place":
                self.w.add_(dw).clamp_(W_MIN, W_MAX)
            else:
                self.accumulate_grad(dw)


class TwoCorrelations(Method):
    """The two correlations alone, on each step's operands computed beforehand by Plain."""

    label = "two weight-gradients"

    def __init__(self, inputs: Inputs):
        super().__init__(inputs)
        plain = Plain(inputs)
        self.operands = [tuple(o.clone() for o in plain.operands(p, q)) for p, q in zip(inputs.pre, inputs.post)]
        self.amplitudes = plain.amplitudes()  # at w0: the check below uses step 1 only
        self.last = None

    def advance(self, n: int) -> None:
        corr = self.inputs.correlate
        for p_pre, p_post, d_pre, d_post in self.operands[:n]:
            self.last = corr(p_pre, p_post), corr(d_pre, d_post)

    def change(self) -> torch.Tensor:
        (P, D), (a_plus, a_minus) = self.last, self.amplitudes
        # the bounded change from w0, as both update modes make it
        return (self.inputs.w0 + a_plus * P - a_minus * D).clamp_(W_MIN, W_MAX) - self.inputs.w0


class SpikingJelly(Method):
    label = "SpikingJelly 2.0"

    def __init__(self, inputs: Inputs, learning):
        super().__init__(inputs)
        case, rule = inputs.case, inputs.rule
        self.step_fn = getattr(learning, f"stdp_{case.layer}_step")
        kwargs = dict(tau_pre=rule.tau_pre, tau_post=rule.tau_post)
        if case.rule == "multiplicative":
            kwargs.update(f_pre=lambda w: rule.a_minus * (w - W_MIN), f_post=lambda w: rule.a_plus * (W_MAX - w))
        else:  # constants: a Python float costs nothing, unlike a weight-shaped tensor
            kwargs.update(f_pre=lambda w: rule.a_minus, f_post=lambda w: rule.a_plus)
        if case.layer != "linear":
            kwargs["stride"] = (1,) * len(case.size)
        self.kwargs = kwargs

    def reset(self) -> None:
        super().reset()
        self.trace = (torch.zeros_like(self.inputs.pre[0]), torch.zeros_like(self.inputs.post[0]))

    def advance(self, n: int) -> None:
        for t in range(n):
            dw, self.trace = self.step_fn(self.inputs.pre[t], self.inputs.post[t], self.trace, self.w, **self.kwargs)
            self.w.add_(dw).clamp_(W_MIN, W_MAX)


class Norse(Method):
    label = "Norse 1.1"

    def __init__(self, inputs: Inputs, stdp):
        super().__init__(inputs)
        case, rule = inputs.case, inputs.rule
        self.stdp = stdp
        self.step_fn = getattr(stdp, f"stdp_step_{case.layer}")
        algorithm = "multiplicative_relu" if case.rule == "multiplicative" else "additive"
        # Norse's spikes enter its traces scaled by dt/tau: its amplitudes carry tau/dt back
        self.params = stdp.STDPParameters(
            tau_pre_inv=1.0 / rule.tau_pre, tau_post_inv=1.0 / rule.tau_post, w_min=W_MIN, w_max=W_MAX,
            eta_plus=rule.a_plus * rule.tau_pre / DT, eta_minus=rule.a_minus * rule.tau_post / DT,
            stdp_algorithm=algorithm, convolutional=case.layer != "linear")

    def reset(self) -> None:
        super().reset()
        self.state = self.stdp.STDPState(torch.zeros_like(self.inputs.pre[0]), torch.zeros_like(self.inputs.post[0]))

    def advance(self, n: int) -> None:
        w = self.w
        for t in range(n):
            w, self.state = self.step_fn(self.inputs.pre[t], self.inputs.post[t], w, self.state, self.params, dt=DT)
        self.w = w


def load_peers():
    peers = {}
    try:
        from spikingjelly.activation_based.functional import learning

        peers["SpikingJelly 2.0"] = learning
    except Exception as err:  # noqa: BLE001 - any import failure: the column shows "—"
        print(f"SpikingJelly not importable ({type(err).__name__}: {err}); its column is skipped")
    try:
        from norse.torch.functional import stdp

        peers["Norse 1.1"] = stdp
    except Exception as err:  # noqa: BLE001
        print(f"Norse not importable ({type(err).__name__}: {err}); its column is skipped")
    return peers


def methods_for(inputs: Inputs, peers) -> Dict[str, Method]:
    case = inputs.case
    methods: Dict[str, Method] = {}
    for cls in (Ours, OursRun, Plain, FusedTwoCalls):
        methods[cls.label] = cls(inputs)
    if case.rule != "multiplicative":
        methods[FusedConcat.label] = FusedConcat(inputs)
    methods[TwoCorrelations.label] = TwoCorrelations(inputs)
    peer_rows = case.update == "in-place" and case.rule in ("additive", "multiplicative")
    if peer_rows and "SpikingJelly 2.0" in peers and case.layer in ("linear", "conv1d", "conv2d"):
        methods["SpikingJelly 2.0"] = SpikingJelly(inputs, peers["SpikingJelly 2.0"])
    if peer_rows and "Norse 1.1" in peers and case.layer in ("linear", "conv2d"):
        methods["Norse 1.1"] = Norse(inputs, peers["Norse 1.1"])
    return methods


# ----------------------------------------------------------------------------- check and time


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_agreement(methods: Dict[str, Method], inputs: Inputs, device) -> Dict[str, float]:
    """Every method's weight change over CHECK_STEPS steps (the correlations: step 1) equals
    ours, and run over all T steps equals T steps; AssertionError naming the method if not."""
    report = {}
    references = {}
    for n in (1, CHECK_STEPS):
        ours = methods["ours step"]
        ours.reset()
        ours.advance(n)
        references[n] = ours.change().detach().clone()
    for label, method in methods.items():
        n = 1 if label == TwoCorrelations.label else CHECK_STEPS
        method.reset()
        method.advance(n)
        got = method.change().detach()
        diff = (got - references[n]).abs().max().item()
        report[label] = diff
        if not torch.allclose(got, references[n], rtol=RTOL, atol=ATOL):
            raise AssertionError(
                f"{inputs.case.name}: {label} does not make the weight change of STDPLearner.step "
                f"over {n} steps (max |difference| {diff:.3g}, max |dw| {references[n].abs().max().item():.3g})")
    # run over the whole sequence against step over the whole sequence
    ours, run = methods["ours step"], methods["ours run / T"]
    for method in (ours, run):
        method.reset()
        method.advance(inputs.steps)
    diff = (ours.change() - run.change()).abs().max().item()
    report[f"ours run vs step over T={inputs.steps}"] = diff
    if not torch.allclose(run.change(), ours.change(), rtol=RTOL, atol=ATOL):
        raise AssertionError(f"{inputs.case.name}: run over {inputs.steps} steps differs from step by {diff:.3g}")
    return report


def seconds_per_step(method: Method, n: int, device) -> float:
    """Reset (not timed), then n steps."""
    method.reset()
    sync(device)
    start = time.perf_counter()
    method.advance(n)
    sync(device)
    return (time.perf_counter() - start) / n


def time_methods(methods: Dict[str, Method], inputs: Inputs, device, rounds: int, budget_s: float):
    """Interleaved rounds. Ours and the hand-written forms do all T steps each round (the same
    spikes, the same traces); a peer does as many as fit in ``budget_s`` (at least one)."""
    steps_per_round = {}
    for label, method in methods.items():  # warm-up and a first estimate
        per_step = seconds_per_step(method, 1, device)
        peer = isinstance(method, (SpikingJelly, Norse))
        fitting = max(1, min(inputs.steps, int(budget_s / max(per_step, 1e-9))))
        steps_per_round[label] = fitting if peer else inputs.steps
    samples = {label: [] for label in methods}
    labels = list(methods)
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:  # rotate who goes first
            n = steps_per_round[label]
            samples[label].append(1e3 * seconds_per_step(methods[label], n, device))
    return {
        label: {"median_ms": statistics.median(s), "min_ms": min(s), "max_ms": max(s),
                "round_ms": s, "steps_per_round": steps_per_round[label]}
        for label, s in samples.items()
    }


def columns_of(timings):
    """The table's columns from the methods' timings; the floor is the fastest hand-written
    form, the plain step included (a fused form is not always faster)."""
    cols = {label: timings[label]["median_ms"] for label in timings if not label.startswith("fused")}
    forms = {label: t["median_ms"] for label, t in timings.items() if label.startswith("fused") or label == "plain step"}
    best = min(forms, key=forms.get)
    cols["plain fused floor"] = forms[best]
    return cols, best


# ----------------------------------------------------------------------------- ratios and goals


def ratios_of(case: Case, cols) -> Dict[str, Optional[float]]:
    peers = [cols[p] for p in ("SpikingJelly 2.0", "Norse 1.1") if p in cols]
    step = cols["ours step"]
    return {
        "ours step / plain": step / cols["plain step"],
        "ours step / fastest peer": step / min(peers) if peers else None,
        "ours run/T / ours step": cols["ours run / T"] / step,
        "ours sparse step / plain": step / cols["plain step"] if case.sparse else None,
    }


GOALS = [  # (name, which rows, ratio, limit)
    ("step <= 1.1x plain (dense: density >= 5 %, batch >= 8)", lambda c: c.dense, "ours step / plain", 1.1),
    ("run/T <= 1.0x step (every case)", lambda c: True, "ours run/T / ours step", 1.0),
    ("run/T <= 0.5x step (sparse rows)", lambda c: c.sparse, "ours run/T / ours step", 0.5),
    ("sparse step <= 0.5x plain", lambda c: c.sparse, "ours sparse step / plain", 0.5),
    ("step <= 0.67x fastest peer", lambda c: True, "ours step / fastest peer", 0.67),
]


def goals_of(rows) -> List[dict]:
    out = []
    for name, applies, ratio, limit in GOALS:
        values = {r["case"]: r["ratios"][ratio] for r in rows
                  if applies(r["case_obj"]) and r["ratios"][ratio] is not None}
        failing = sorted(c for c, v in values.items() if v > limit)
        worst = max(values, key=values.get) if values else None
        out.append({"goal": name, "pass": (not failing) if values else None, "rows": len(values), "failing": failing,
                    "worst_case": worst, "worst_ratio": values.get(worst)})
    return out


# ----------------------------------------------------------------------------- output


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}g}"


def print_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def print_run(rows, goals, where):
    print(f"\nms per step, median over rounds ({where})\n")
    print_table(["case"] + COLUMNS, [[r["case"]] + [fmt(r["columns"].get(c)) for c in COLUMNS] for r in rows])
    names = list(rows[0]["ratios"])
    print("\nratios\n")
    print_table(["case"] + names, [[r["case"]] + [fmt(r["ratios"][n]) for n in names] for r in rows])
    print("\ngoals of issue 10\n")
    print_table(["goal", "result", "worst case", "worst ratio", "failing rows"],
                [[g["goal"], {True: "PASS", False: "FAIL", None: "no rows"}[g["pass"]], g["worst_case"] or "—", fmt(g["worst_ratio"]),
                  f"{len(g['failing'])} of {g['rows']}"] for g in goals])


def machine(script: str, device: torch.device) -> dict:
    """What every result file records about the run: script, command, date, torch, threads,
    device and host (shared with roofline.py)."""
    return {
        "script": script,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def write_result(result: dict, name: str, device: torch.device, path: Optional[str] = None) -> None:
    """Write ``result`` as JSON to ``path``, default ``results/<name>_<device tag>.json``."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                f"{name}_{device_tag(device)}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    print(f"\nwritten to {path}")


def device_tag(device: torch.device) -> str:
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device)
    match = re.search(r"\b([A-Z]\d{2,4})\b", name)
    return (match.group(1) if match else re.sub(r"\W+", "_", name)).lower()


def measure(args, device, peers) -> List[dict]:
    rows = []
    for case in [c for c in CASES if not args.only or args.only in c.name]:
        steps = (10 if case.layer == "linear" else 5) if args.quick else (50 if case.layer == "linear" else 20)
        inputs = build_inputs(case, steps, device)
        methods = methods_for(inputs, peers)
        diffs = check_agreement(methods, inputs, device)
        print(f"{case.name}: all agree (max |difference| to ours: "
              + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items() if k != "ours step") + ")", flush=True)
        timings = time_methods(methods, inputs, device, args.rounds, budget_s=0.05 if args.quick else 0.4)
        cols, best = columns_of(timings)
        rows.append({"case": case.name, "case_obj": case, "config": case.__dict__, "steps_T": steps,
                     "max_abs_difference": diffs, "methods": timings, "columns": cols, "floor_form": best,
                     "ratios": ratios_of(case, cols)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="results file (default benchmarks/results/peers_speed_<device>.json)")
    parser.add_argument("--quick", action="store_true", help="T = 10 / 5 steps, 3 rounds: a smoke run")
    parser.add_argument("--rounds", type=int, help="timing rounds per case (default 7, --quick 3)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole measurement N times (spread)")
    parser.add_argument("--only", help="measure only the cases whose name contains this text")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (on a shared machine 1 is "
                        "steadier: one descheduled thread stalls every multi-threaded kernel)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 7)
    if args.rounds < 1 or args.runs < 1:
        parser.error("--rounds and --runs must be >= 1")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        # every method in full float32, as the learner computes (TF32 would fail the agreement check)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    peers = load_peers()
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")

    runs = []
    for run in range(args.runs):
        print(f"\n=== run {run + 1} of {args.runs} on {device} ===", flush=True)
        rows = measure(args, device, peers)
        goals = goals_of(rows)
        print_run(rows, goals, where)
        for r in rows:
            del r["case_obj"]
        runs.append({"rows": rows, "goals": goals})

    spread = {}
    if args.runs > 1:
        print(f"\nspread over {args.runs} runs (min .. max of each ratio)\n")
        names = list(runs[0]["rows"][0]["ratios"])
        table = []
        for i, row in enumerate(runs[0]["rows"]):
            cells = []
            for n in names:
                vals = [run["rows"][i]["ratios"][n] for run in runs if run["rows"][i]["ratios"][n] is not None]
                spread.setdefault(row["case"], {})[n] = [min(vals), max(vals)] if vals else None
                cells.append(f"{min(vals):.3g} .. {max(vals):.3g}" if vals else "—")
            table.append([row["case"]] + cells)
        print_table(["case"] + names, table)

    result = {
        **machine("benchmarks/peers_speed.py", device),
        "peers": {name: importlib.metadata.version(name.split()[0].lower()) for name in peers},
        "settings": {"quick": args.quick, "rounds": args.rounds, "runs": args.runs, "tau_pre": TAU_PRE,
                     "tau_post": TAU_POST, "a_plus": A_PLUS, "a_minus": A_MINUS, "w_min": W_MIN, "w_max": W_MAX,
                     "dt": DT, "triplet_preset": TRIPLET_PRESET, "check_steps": CHECK_STEPS, "rtol": RTOL,
                     "atol": ATOL, "triplet_amplitude_scale": TRIPLET_SCALE, "tf32": False},
        "runs": runs, "spread_over_runs": spread,
    }
    write_result(result, "peers_speed", device, args.json)


if __name__ == "__main__":
    main()
