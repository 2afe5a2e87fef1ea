"""What a step knows without scanning: bounds that show its update finite, one-pass traces, and
a convolution's settings worked out once.

A step skips the weight-sized scan for NaN/inf only when host-side bounds prove the update
finite (:meth:`WeightUpdate.change_bound`); these tests check the bounds against the factors and
terms they bound, that the skip really happens, that it changes nothing in the result, and that
updates the bounds cannot clear are still checked.
"""

import math

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core import event_run, weight_update
from stdpwidgets.core.dependence import WeightDependence
from stdpwidgets.core.traces import add_spikes, advance_trace
from stdpwidgets.core.triplet import TripletRule

from reference import naive_conv_correlation


def _rule(dependence, **kw):
    return STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence=dependence, mu=0.4,
                    **{"w_min": -0.5, "w_max": 1.5, **kw})


@pytest.mark.parametrize("name", ["additive", "multiplicative", "gutig", "van-rossum"])
@pytest.mark.parametrize("bounds", [(-0.5, 1.5), (0.0, 1.0), (0.2, 0.3)])
def test_factor_bounds_bound_every_factor_within_the_weight_bounds(name, bounds):
    w_min, w_max = bounds
    dependence = WeightDependence(name, mu=0.4)
    g = torch.Generator().manual_seed(1)
    w = torch.cat([torch.tensor([w_min, w_max], dtype=torch.float64),
                   w_min + (w_max - w_min) * torch.rand(10_000, generator=g, dtype=torch.float64)])
    f_plus, f_minus = dependence.factors(w, w_min, w_max)
    bound_plus, bound_minus = dependence.factor_bounds(w_min, w_max)
    assert float(torch.as_tensor(f_plus).abs().max()) <= bound_plus
    assert float(torch.as_tensor(f_minus).abs().max()) <= bound_minus
    # and they are tight: reached at a bound
    assert math.isclose(float(torch.as_tensor(f_minus).abs().max()), bound_minus)


def test_factor_bounds_are_unknown_for_custom_factors_and_infinite_soft_bounds():
    custom = WeightDependence("custom", f_plus=lambda w: 1 - w, f_minus=lambda w: w)
    assert custom.factor_bounds(0.0, 1.0) is None
    assert WeightDependence("multiplicative").factor_bounds(0.0, math.inf) is None
    assert WeightDependence("additive").factor_bounds(-math.inf, math.inf) == (1.0, 1.0)


def _maxima(pre, post, reads):
    return float(pre.max()), float(post.max()), {n: float(t.max()) for n, t in reads.items()}


@pytest.mark.parametrize("rule", [
    STDPRule(16.8, 33.7, 0.05, 0.06),
    TripletRule.preset("visual-cortex-all-to-all-minimal"),
    TripletRule(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0, a2_plus=5e-10, a2_minus=7e-3,
                a3_plus=6.2e-3, a3_minus=2.3e-4),
], ids=["pair", "triplet-minimal", "triplet-full"])
def test_term_bounds_bound_the_terms_the_rule_correlates(rule):
    g = torch.Generator().manual_seed(2)
    pre = torch.randint(0, 4, (8, 10), generator=g).double()
    post = torch.randint(0, 3, (8, 5), generator=g).double()
    reads = {spec.name: 7 * torch.rand(8, 10 if spec.side == "pre" else 5, generator=g, dtype=torch.float64)
             for spec in rule.traces}
    terms = rule.correlation_terms(pre, post, reads)
    bounds = rule.term_bounds(*_maxima(pre, post, reads))
    assert len(bounds) == 4
    for term, bound in zip(terms, bounds):
        assert float(term.abs().max()) <= bound


def test_a_rule_with_terms_of_its_own_gives_no_bounds():
    class Signed(STDPRule):
        def correlation_terms(self, pre, post, read):
            return read["x"], post - 0.5, pre, read["y"]  # not bounded by the maxima

    assert Signed(16.8, 33.7, 0.05, 0.06).term_bounds(1.0, 1.0, {"x": 1.0, "y": 1.0}) is None


def _layers(kind):
    g = torch.Generator().manual_seed(3)
    layer = nn.Linear(12, 7, bias=False) if kind == "linear" else nn.Conv2d(2, 3, 3, padding=1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(0.2 + 0.6 * torch.rand(layer.weight.shape, generator=g))
    return layer, nn.Linear(12, 7, bias=False) if kind == "linear" else nn.Conv2d(2, 3, 3, padding=1, bias=False)


def _spikes(kind, steps=12, batch=4):
    g = torch.Generator().manual_seed(4)
    shape_pre, shape_post = ((batch, 12), (batch, 7)) if kind == "linear" else ((batch, 2, 6, 6), (batch, 3, 6, 6))
    return ((torch.rand(steps, *shape_pre, generator=g) < 0.3).float(),
            (torch.rand(steps, *shape_post, generator=g) < 0.3).float())


class CountingScan:
    """Counts the finiteness scans (weight_update.all_finite) while passing them through."""

    def __init__(self, monkeypatch):
        self.calls, original = 0, weight_update.all_finite

        def counted(tensors):
            self.calls += 1
            return original(tensors)

        monkeypatch.setattr(weight_update, "all_finite", counted)


RULES = {
    "additive": _rule("additive"),
    "multiplicative": _rule("multiplicative"),
    "gutig": _rule("gutig"),
    "triplet": TripletRule(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0, a2_plus=0.05,
                           a2_minus=0.07, a3_plus=0.06, a3_minus=0.02, w_min=-0.5, w_max=1.5),
}


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("rule_name", list(RULES))
@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_a_step_known_finite_skips_the_scan_and_equals_a_checked_step(monkeypatch, kind, rule_name, update):
    pre, post = _spikes(kind)
    known, twin = _layers(kind)
    twin.load_state_dict(known.state_dict())
    fast = STDPLearner(known, RULES[rule_name], dt=1.0, update=update)
    checked = STDPLearner(twin, RULES[rule_name], dt=1.0, update=update)
    # the twin is told nothing is known: every step scans
    monkeypatch.setattr(checked._update, "_stays_finite", lambda *args: False)
    scans = CountingScan(monkeypatch)
    fast.step(pre[0], post[0])  # the first step learns that the weight lies within the bounds
    before = scans.calls
    for t in range(1, len(pre)):
        fast.step(pre[t], post[t])
    skipped = scans.calls == before
    for t in range(len(pre)):
        checked.step(pre[t], post[t])
    assert scans.calls >= before + len(pre) - 1  # the twin scanned at every step
    assert skipped, "a step whose bounds show the update finite still scanned the weight"
    if update == "grad":
        assert torch.equal(known.weight.grad, twin.weight.grad)
    assert torch.equal(known.weight, twin.weight)


def test_an_unbounded_rule_and_a_custom_dependence_are_always_scanned(monkeypatch):
    pre, post = _spikes("linear")
    rules = [STDPRule(16.8, 33.7, 0.05, 0.06),
             STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence=(lambda w: 1 - w, lambda w: w), w_min=0.0, w_max=1.0)]
    for rule in rules:
        learner = STDPLearner(_layers("linear")[0], rule, dt=1.0)
        learner.step(pre[0], post[0])
        scans = CountingScan(monkeypatch)
        for t in range(1, 5):
            learner.step(pre[t], post[t])
        assert scans.calls == 4


@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_spikes_too_large_for_the_bounds_are_scanned_and_a_real_overflow_changes_nothing(monkeypatch, update):
    layer = _layers("linear")[0]  # float32
    rule = STDPRule(16.8, 33.7, a_plus=200.0, a_minus=0.0, w_min=0.0, w_max=1.0)
    learner = STDPLearner(layer, rule, dt=1.0, update=update)
    pre, post = _spikes("linear")
    learner.step(pre[0], post[0])
    learner.step(pre[1] * 1e17, post[1] * 1e17)  # the traces read at the next step reach ~1e17
    scans = CountingScan(monkeypatch)
    # finite (products up to ~1e34 x 200), but the host bound cannot show it below float32's max / 16
    learner.step(pre[2] * 1e17, post[2] * 1e17)
    assert scans.calls == 1 and bool(torch.isfinite(layer.weight).all())
    weight, traces, steps = layer.weight.detach().clone(), dict(learner.traces), learner.steps
    grad = None if layer.weight.grad is None else layer.weight.grad.clone()
    # not refused up front (each product ~2e36 < float32's max), but 200 x one product overflows
    with pytest.raises(ValueError, match="not finite|NaN or infinite"):
        learner.step(pre[3] * 1e19, post[3] * 1e19)
    assert scans.calls == 2
    assert torch.equal(layer.weight, weight) and learner.steps == steps
    assert all(torch.equal(learner.traces[n], traces[n]) for n in traces)
    if grad is not None:
        assert torch.equal(layer.weight.grad, grad)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("rule_name", list(RULES))
@pytest.mark.parametrize("update", ["in-place", "grad"])
@pytest.mark.parametrize("path", [event_run.UpdatePath.SEQUENTIAL, event_run.UpdatePath.SPARSE])
def test_a_run_known_finite_sums_nothing_per_event_and_equals_a_checked_run(monkeypatch, kind, rule_name, update,
                                                                              path):
    """run() takes the step's bounds over the whole run: known finite, its events add nothing
    to the finiteness checksum, and the result is the checked run's bit for bit."""
    if path is event_run.UpdatePath.SPARSE and kind == "conv":
        pytest.skip("the sparse path is nn.Linear's")
    pre, post = _spikes(kind, steps=20, batch=1 if path is event_run.UpdatePath.SPARSE else 4)
    known, twin = _layers(kind)
    twin.load_state_dict(known.state_dict())
    results = []
    original = event_run._updates_stay_finite
    for layer, knows in ((known, True), (twin, False)):
        learner = STDPLearner(layer, RULES[rule_name], dt=1.0, update=update)
        learner.step(pre[0], post[0])
        told = []
        monkeypatch.setattr(event_run, "_updates_stay_finite",
                            lambda *a: told.append(original(*a) and knows) or told[-1])
        with event_run.forced_path(path):
            learner.run(pre[1:], post[1:])
        assert told == [knows]
        results.append((layer.weight.detach().clone(), layer.weight.grad, learner.traces))
    (w_fast, g_fast, t_fast), (w_checked, g_checked, t_checked) = results
    assert torch.equal(w_fast, w_checked)
    if update == "grad":
        assert torch.equal(g_fast, g_checked)
    assert all(torch.equal(t_fast[n], t_checked[n]) for n in t_fast)


class WeightSums(TorchFunctionMode):
    """Counts sums over tensors shaped like ``shape`` (the finiteness checksum's sums of the
    weight) while passing every call through."""

    def __init__(self, shape):
        super().__init__()
        self.shape, self.calls = tuple(shape), 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "sum" and args and getattr(args[0], "shape", None) == self.shape:
            self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_a_run_known_finite_sums_no_weight_and_a_checked_run_does(monkeypatch, kind, update):
    """Known finite (a weight within its bounds, every update bounded on the host), an
    event-by-event run sums no weight-sized tensor at all, neither at its start and end nor at any event; told
    nothing is known, the same run sums the weight, with the same result bit for bit."""
    pre, post = _spikes(kind, steps=20, batch=1 if kind == "linear" else 4)
    results = []
    original = event_run._updates_stay_finite
    for knows in (True, False):
        layer = _layers(kind)[0]
        learner = STDPLearner(layer, RULES["additive"], dt=1.0, update=update)
        monkeypatch.setattr(event_run, "_updates_stay_finite", lambda *a: original(*a) and knows)
        sums = WeightSums(layer.weight.shape)
        with sums, event_run.forced_path(event_run.UpdatePath.SEQUENTIAL):  # (a small weight takes the scan)
            learner.run(pre, post)
        assert (sums.calls == 0) == knows, sums.calls
        results.append(layer.weight.grad if update == "grad" else layer.weight.detach())
    assert torch.equal(*results)


def test_a_run_reuses_the_memory_of_a_dropped_change_and_never_a_held_one():
    """In place, run() copies the weight (its restore point, which becomes the returned change)
    into the memory of the last change it handed out once nothing refers to it; a change the
    caller still holds is never overwritten."""
    pre, post = _spikes("linear", steps=10)
    learner = STDPLearner(_layers("linear")[0], RULES["additive"], dt=1.0)
    held = learner.run(pre[:5], post[:5])
    copy = held.clone()
    second = learner.run(pre[5:], post[5:])
    assert second.data_ptr() != held.data_ptr() and torch.equal(held, copy)
    address = second.data_ptr()
    del second
    third = learner.run(pre[:5], post[:5])
    assert third.data_ptr() == address  # the dropped change's memory, warm
    reference = STDPLearner(_layers("linear")[0], RULES["additive"], dt=1.0)
    for p, q in ((pre[:5], post[:5]), (pre[5:], post[5:])):
        reference.run(p, q)
    before = reference.layer.weight.detach().clone()
    assert torch.equal(third, reference.run(pre[:5], post[:5]))
    assert torch.equal(learner.layer.weight, reference.layer.weight) and not torch.equal(before, reference.layer.weight)


def test_a_run_over_an_infinite_weight_that_a_silent_first_step_clips_still_fails():
    """A silent first step clips the weight, which turns +inf into w_max: the run must still
    see the infinite weight it started from, as stepping does, and change nothing."""
    layer = _layers("linear")[0]
    with torch.no_grad():
        layer.weight[2, 3] = math.inf
    before = layer.weight.detach().clone()
    pre, post = _spikes("linear", steps=6, batch=1)
    pre[0], post[0] = 0.0, 0.0
    learner = STDPLearner(layer, RULES["additive"], dt=1.0)
    assert event_run._updates_stay_finite(learner, pre, post)
    with pytest.raises(ValueError, match="not finite"):
        learner.run(pre, post)
    assert torch.equal(layer.weight, before) and learner.steps == 0 and learner.traces is None
    with pytest.raises(ValueError, match="not finite"):
        learner.step(pre[0], post[0])


@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_a_run_with_spikes_too_large_for_the_bounds_is_checked_and_a_real_overflow_changes_nothing(update):
    layer = _layers("linear")[0]  # float32
    rule = STDPRule(16.8, 33.7, a_plus=200.0, a_minus=0.0, w_min=0.0, w_max=1.0)
    learner = STDPLearner(layer, rule, dt=1.0, update=update)
    pre, post = _spikes("linear")
    learner.run(pre[:4], post[:4])
    assert event_run._updates_stay_finite(learner, pre[:4], post[:4])
    weight, traces, steps = layer.weight.detach().clone(), dict(learner.traces), learner.steps
    grad = None if layer.weight.grad is None else layer.weight.grad.clone()
    big_pre, big_post = pre[4:8] * 1e19, post[4:8] * 1e19
    learner._check_spikes(big_pre, big_post, time_axis=True)
    assert not event_run._updates_stay_finite(learner, big_pre, big_post)
    with pytest.raises(ValueError, match="not finite|NaN or infinite"):
        learner.run(big_pre, big_post)
    assert torch.equal(layer.weight, weight) and learner.steps == steps
    assert all(torch.equal(learner.traces[n], traces[n]) for n in traces)
    if grad is not None:
        assert torch.equal(layer.weight.grad, grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_advance_trace_is_the_decay_then_the_spikes_to_one_rounding(dtype, pairing):
    g = torch.Generator().manual_seed(5)
    trace = 3 * torch.rand(100_003, generator=g, dtype=dtype)
    spikes = torch.randint(0, 3, (100_003,), generator=g).to(dtype)
    factor = math.exp(-1 / 16.8)
    one_pass = advance_trace(trace, factor, spikes, pairing)
    two_passes = add_spikes(trace * factor, spikes, pairing)
    if pairing == "nearest":
        assert torch.equal(one_pass, two_passes)
    else:  # one rounding instead of two: within one ulp of the result
        ulp = torch.finfo(dtype).eps * two_passes.abs()
        assert bool(((one_pass - two_passes).abs() <= ulp).all())
        if dtype == torch.float32:  # and no farther from the float64 value
            exact = trace.double() * factor + spikes.double()
            assert float((one_pass.double() - exact).abs().max()) <= float((two_passes.double() - exact).abs().max())
    out = torch.empty_like(trace)
    assert advance_trace(trace, factor, spikes, pairing, out=out) is out and torch.equal(out, one_pass)


def test_a_convolution_changed_between_steps_is_correlated_with_its_new_settings():
    layer = nn.Conv2d(2, 3, 3, stride=1, padding=1, bias=False).double()
    learner = STDPLearner(layer, STDPRule(16.8, 33.7, 0.05, 0.06), dt=1.0, traces_first=True)
    g = torch.Generator().manual_seed(6)
    # a list is unhashable: worked out without the cache
    for stride, padding, mode in [(1, (1, 1), "zeros"), (2, (0, 0), "zeros"), (2, [1, 2], "zeros"),
                                  (1, (1, 1), "reflect"), (1, (2, 0), "circular")]:
        layer.stride, layer.padding, layer.padding_mode = (stride, stride), padding, mode
        if mode != "zeros":
            layer._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        learner.reset()
        pre = (torch.rand(2, 2, 7, 7, generator=g) < 0.4).double()
        with torch.no_grad():
            post = (torch.rand(layer(pre).shape, generator=g) < 0.4).double()
        dw = learner.step(pre, post)
        # from zero traces, one step reads the spikes themselves: P = D = C(pre, post)
        correlation = torch.from_numpy(naive_conv_correlation(
            pre.numpy(), post.numpy(), tuple(layer.weight.shape), (stride, stride), tuple(padding), (1, 1), 1, mode))
        torch.testing.assert_close(dw, (0.05 - 0.06) * correlation, rtol=0, atol=1e-12)
