"""TripletRule in the learner: against per-spike references, the pair rule and the protocol closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reference import naive_conv_correlation, naive_trace_reads
from stdpwidgets import (
    TRIPLET_PRESETS,
    STDPLearner,
    STDPRule,
    TripletRule,
    triplet_bcm_threshold,
    triplet_poisson_drift,
    triplet_protocol_change,
)
from stdpwidgets.sim import pairing_weight_change

PARAMS = dict(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0,
              a2_plus=0.004, a2_minus=0.007, a3_plus=0.006, a3_minus=0.002)


def _trains(shape_pre, shape_post, steps, seed, p=0.15):
    g = torch.Generator().manual_seed(seed)
    pre = (torch.rand((steps, *shape_pre), generator=g) < p).double()
    post = (torch.rand((steps, *shape_post), generator=g) < p).double()
    return pre, post


def _reads(pre, post, rule, dt, traces_first):
    """r1, r2, o1, o2 as each step reads them, from the spike times."""
    specs = {"r1": (pre, rule.tau_plus), "r2": (pre, rule.tau_x), "o1": (post, rule.tau_minus),
             "o2": (post, rule.tau_y)}
    reads = {}
    for name, (spikes, tau) in specs.items():
        before = naive_trace_reads(spikes, dt, tau, rule.pairing)
        if traces_first and name in ("r1", "o1"):  # the fast traces then include this step's spikes
            before = before * 1.0 + spikes if rule.pairing == "all-to-all" else np.where(spikes != 0, 1.0, before)
        reads[name] = before
    return reads


def _reference_weights(w0, pre, post, rule, dt, traces_first, correlate):
    """Weight after each step, one step at a time from the definitions (F(w) before the step, then clip)."""
    pre, post = pre.numpy(), post.numpy()
    reads = _reads(pre, post, rule, dt, traces_first)
    w = w0.copy()
    path = []
    for t in range(pre.shape[0]):
        up = correlate(reads["r1"][t], post[t] * (rule.a2_plus + rule.a3_plus * reads["o2"][t]))
        down = correlate(pre[t] * (rule.a2_minus + rule.a3_minus * reads["r2"][t]), reads["o1"][t])
        f_plus, f_minus = (np.ones_like(w), np.ones_like(w))
        if rule.dependence.name == "multiplicative":
            f_plus, f_minus = rule.w_max - w, w - rule.w_min
        w = np.clip(w + f_plus * up - f_minus * down, rule.w_min, rule.w_max)
        path.append(w.copy())
    return np.stack(path)


def _linear_correlation(pre_term, post_term):
    return post_term.T @ pre_term  # (batch, out)^T (batch, in): summed over the batch


RULES = {
    "additive": {},
    "multiplicative": dict(weight_dependence="multiplicative", w_min=0.0, w_max=1.0),
    "clipped": dict(w_min=0.2, w_max=0.8),
}


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
@pytest.mark.parametrize("dependence", sorted(RULES))
@pytest.mark.parametrize("traces_first", [False, True])
def test_linear_step_and_run_match_the_per_spike_reference(pairing, dependence, traces_first):
    rule = TripletRule(**PARAMS, pairing=pairing, **RULES[dependence])
    pre, post = _trains((2, 5), (2, 3), 150, seed=3)
    layer = torch.nn.Linear(5, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.uniform_(0.3, 0.7, generator=torch.Generator().manual_seed(0))
    w0 = layer.weight.detach().clone()
    expected = _reference_weights(w0.numpy(), pre, post, rule, 1.0, traces_first, _linear_correlation)
    stepper = STDPLearner(layer, rule, dt=1.0, traces_first=traces_first)
    stepped = []
    for t in range(pre.shape[0]):
        stepper.step(pre[t], post[t])
        stepped.append(layer.weight.detach().clone())
    np.testing.assert_allclose(torch.stack(stepped).numpy(), expected, rtol=0, atol=1e-12)
    with torch.no_grad():
        layer.weight.copy_(w0)
    runner = STDPLearner(layer, rule, dt=1.0, traces_first=traces_first)
    history = runner.run(pre, post, record=True)
    np.testing.assert_allclose(history.weights.numpy(), expected, rtol=0, atol=1e-12)
    for name in ("r1", "r2", "o1", "o2"):
        torch.testing.assert_close(history.traces[name][-1], stepper.traces[name], rtol=0, atol=1e-12)
        torch.testing.assert_close(runner.traces[name], stepper.traces[name], rtol=0, atol=1e-12)
    assert torch.equal(history.pre_traces, history.traces["r1"])
    assert torch.equal(history.post_traces, history.traces["o1"])


def _conv_correlation(layer):
    def correlate(pre_term, post_term):
        return naive_conv_correlation(pre_term, post_term, tuple(layer.weight.shape), layer.stride,
                                      layer.padding, layer.dilation, layer.groups, layer.padding_mode)
    return correlate


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: torch.nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 9)),
        (lambda: torch.nn.Conv2d(2, 2, 2, dilation=2, groups=2), (1, 2, 5, 5)),
        (lambda: torch.nn.Conv3d(1, 2, 2, padding="same"), (1, 1, 3, 3, 3)),
    ],
    ids=["conv1d", "conv2d", "conv3d"],
)
def test_conv_step_and_run_match_the_per_spike_reference(pairing, make, shape):
    rule = TripletRule(**PARAMS, pairing=pairing)
    torch.manual_seed(0)
    layer = make().double()
    with torch.no_grad():
        post_shape = tuple(layer(torch.zeros(shape, dtype=torch.float64)).shape)
    pre, post = _trains(shape, post_shape, 60, seed=4, p=0.2)
    w0 = layer.weight.detach().clone()
    expected = _reference_weights(w0.numpy(), pre, post, rule, 0.5, False, _conv_correlation(layer))
    learner = STDPLearner(layer, rule, dt=0.5)
    for t in range(pre.shape[0]):
        learner.step(pre[t], post[t])
    np.testing.assert_allclose(layer.weight.detach().numpy(), expected[-1], rtol=0, atol=1e-12)
    with torch.no_grad():
        layer.weight.copy_(w0)
    STDPLearner(layer, rule, dt=0.5).run(pre, post)
    np.testing.assert_allclose(layer.weight.detach().numpy(), expected[-1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
@pytest.mark.parametrize("dependence", ["additive", "multiplicative", "gutig"])
@pytest.mark.parametrize("traces_first", [False, True])
@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_without_triplet_terms_it_is_the_pair_rule_bit_for_bit(pairing, dependence, traces_first, kind):
    bounds = dict(w_min=0.0, w_max=1.0, mu=0.5, weight_dependence=dependence)
    pair = STDPRule(16.8, 33.7, 0.01, 0.0105, pairing=pairing, **bounds)
    triplet = TripletRule(16.8, 33.7, 90.0, 120.0, 0.01, 0.0105, 0.0, 0.0, pairing=pairing, **bounds)
    make = {"linear": lambda: torch.nn.Linear(6, 4), "conv2d": lambda: torch.nn.Conv2d(2, 3, 3)}[kind]
    shape = {"linear": (3, 6), "conv2d": (2, 2, 6, 6)}[kind]
    results = []
    for rule in (pair, triplet):
        torch.manual_seed(0)
        layer = make()
        with torch.no_grad():
            post_shape = tuple(layer(torch.zeros(shape)).shape)
            layer.weight.uniform_(0.2, 0.8)
        pre, post = _trains(shape, post_shape, 40, seed=5)
        pre, post = pre.bool(), post.bool()
        learner = STDPLearner(layer, rule, dt=1.0, traces_first=traces_first)
        dws = [learner.step(pre[t], post[t]) for t in range(20)]
        history = learner.run(pre[20:], post[20:], record=True)
        results.append((torch.stack(dws), history.weights, history.pre_traces, history.post_traces,
                        learner.pre_trace, learner.post_trace))
    for a, b in zip(*results):
        assert torch.equal(a, b)


def _naive_protocol_change(rule, n, lag, frequency):
    """The pairing protocol summed spike by spike from the trace definitions (continuous time)."""
    period = 1000.0 / frequency
    pre = [k * period for k in range(n)]
    post = [k * period + lag for k in range(n)]

    def trace(times, t, tau):
        earlier = [s for s in times if s < t]
        if not earlier:
            return 0.0
        if rule.pairing == "nearest":
            return math.exp(-(t - max(earlier)) / tau)
        return sum(math.exp(-(t - s) / tau) for s in earlier)

    total = 0.0
    for t in post:
        total += trace(pre, t, rule.tau_plus) * (rule.a2_plus + rule.a3_plus * trace(post, t, rule.tau_y))
    for t in pre:
        total -= trace(post, t, rule.tau_minus) * (rule.a2_minus + rule.a3_minus * trace(pre, t, rule.tau_x))
    return total


@pytest.mark.parametrize("preset", sorted(TRIPLET_PRESETS))
@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_protocol_closed_form_against_the_learner_and_a_spike_loop(preset, pairing):
    rule = TripletRule.preset(preset, pairing=pairing)
    for frequency in (0.1, 10.0, 20.0, 40.0, 50.0):
        for lag in (10.0, -10.0, 0.0, 5.0):
            closed = triplet_protocol_change(rule, 60, lag, frequency)
            assert closed == pytest.approx(_naive_protocol_change(rule, 60, lag, frequency), rel=1e-12, abs=1e-15)
            learned = pairing_weight_change(rule, lag, frequency, 60, dt=1.0)
            assert learned == pytest.approx(closed, rel=1e-11, abs=1e-14)


def test_minimal_visual_cortex_model_at_low_frequency():
    """science.md: at 0.1 Hz, -10 ms, the minimal all-to-all model gives 60 A2- exp(-10/33.7)."""
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    assert triplet_protocol_change(rule, 60, -10.0, 0.1) == pytest.approx(-60 * 7.1e-3 * math.exp(-10 / 33.7), rel=1e-9)
    assert -60 * 7.1e-3 * math.exp(-10 / 33.7) == pytest.approx(-0.3166, abs=5e-5)
    # +10 ms at 0.1 Hz: no pair term (A2+ = 0) and o2 has decayed for 10 s: no change
    assert abs(triplet_protocol_change(rule, 60, 10.0, 0.1)) < 1e-30


def test_poisson_drift_and_bcm_threshold():
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    theta = triplet_bcm_threshold(rule)
    assert theta == pytest.approx(7.1e-3 * 33.7 / (6.5e-3 * 16.8 * 114.0) * 1e3, rel=1e-12)
    assert triplet_poisson_drift(rule, 10.0, theta) == pytest.approx(0.0, abs=1e-15)
    assert triplet_poisson_drift(rule, 10.0, 0.5 * theta) < 0 < triplet_poisson_drift(rule, 10.0, 2 * theta)
    # the drift is rho_x rho_y (A3+ tau+ tau_y rho_y - A2- tau-) in weight units per second
    x, y = 10e-3, 30e-3
    assert triplet_poisson_drift(rule, 10.0, 30.0) == pytest.approx(x * y * (6.5e-3 * 16.8 * 114 * y - 7.1e-3 * 33.7) * 1e3)


def test_state_dict_resume_is_bit_identical():
    rule = TripletRule.preset("visual-cortex-all-to-all-full", weight_dependence="multiplicative", w_min=0, w_max=1)
    pre, post = _trains((2, 5), (2, 3), 80, seed=6)
    torch.manual_seed(1)
    layer = torch.nn.Linear(5, 3, bias=False).double()
    learner = STDPLearner(layer, rule, dt=1.0)
    learner.run(pre[:40], post[:40])
    state = learner.state_dict()
    weight = layer.weight.detach().clone()
    assert sorted(state["traces"]) == ["o1", "o2", "r1", "r2"]
    learner.run(pre[40:], post[40:])
    resumed_layer = torch.nn.Linear(5, 3, bias=False).double()
    with torch.no_grad():
        resumed_layer.weight.copy_(weight)
    resumed = STDPLearner(resumed_layer, rule, dt=1.0)
    resumed.load_state_dict(state)
    resumed.run(pre[40:], post[40:])
    assert torch.equal(resumed_layer.weight, layer.weight)
    assert all(torch.equal(resumed.traces[n], learner.traces[n]) for n in state["traces"])
    # a pair-rule learner refuses the triplet checkpoint, naming what differs
    pair = STDPLearner(torch.nn.Linear(5, 3).double(), STDPRule(16.8, 33.7, 0.01, 0.01), dt=1.0)
    with pytest.raises(ValueError, match="another configuration"):
        pair.load_state_dict(state)
    with pytest.raises(ValueError, match="do not match this rule's traces"):
        pair.load_state_dict(state, strict=False)


def test_pair_checkpoint_of_the_old_format_still_loads():
    rule = STDPRule(16.8, 33.7, 0.01, 0.0105)
    layer = torch.nn.Linear(4, 2)
    learner = STDPLearner(layer, rule, dt=1.0)
    pre, post = _trains((1, 4), (1, 2), 30, seed=7)
    learner.run(pre.float(), post.float())
    new = learner.state_dict()
    old = {"pre_trace": new["traces"]["x"], "post_trace": new["traces"]["y"], "steps": new["steps"],
           "config": {k: v for k, v in new["config"].items() if k != "rule_type"}}
    other = STDPLearner(layer, rule, dt=1.0)
    other.load_state_dict(old)
    assert torch.equal(other.pre_trace, learner.pre_trace) and other.steps == 30


def test_traces_follow_the_layer_to_another_dtype(device):
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    layer = torch.nn.Linear(5, 3).to(device)
    learner = STDPLearner(layer, rule, dt=1.0)
    pre, post = _trains((2, 5), (2, 3), 20, seed=8)
    learner.run(pre.float().to(device), post.float().to(device))
    layer.double()
    learner.step(pre[0].to(device), post[0].to(device))  # double spikes now: no dtype error
    assert all(t.dtype == torch.float64 and t.device == layer.weight.device for t in learner.traces.values())
    learner.run(pre.to(device), post.to(device))
    assert learner.steps == 41


def test_triplet_rule_on_cuda_equals_cpu(device):
    rule = TripletRule.preset("visual-cortex-nearest-full", weight_dependence="multiplicative", w_min=0, w_max=1)
    pre, post = _trains((2, 2, 6, 6), (2, 3, 4, 4), 50, seed=9)
    weights = []
    for where in ("cpu", device):
        torch.manual_seed(2)
        layer = torch.nn.Conv2d(2, 3, 3).double().to(where)
        STDPLearner(layer, rule, dt=1.0).run(pre.to(where), post.to(where))
        weights.append(layer.weight.detach().cpu())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(tau_x=0.0), "tau_x must be a positive"),
        (dict(tau_y=float("nan")), "tau_y must be a positive"),
        (dict(a3_plus=-1e-3), "a3_plus must be a finite magnitude"),
        (dict(a2_minus=-1e-3), "a2_minus is a positive magnitude: depression subtracts it"),
        (dict(pairing="nearest-neighbour"), "unknown pairing"),
        (dict(weight_dependence="multiplicative"), "give finite w_min and w_max"),
        (dict(w_min=1.0, w_max=0.0), "must not exceed"),
    ],
)
def test_bad_parameters_name_the_argument(change, message):
    with pytest.raises(ValueError, match=message):
        TripletRule(**{**PARAMS, **change})


def test_presets_and_their_errors():
    assert set(TripletRule.PRESETS) == set(TRIPLET_PRESETS) and len(TRIPLET_PRESETS) == 4
    for name, entry in TRIPLET_PRESETS.items():
        rule = TripletRule.preset(name)
        assert "Pfister & Gerstner (2006)" in entry["source"] and rule.to_dict()["tau_plus"] == 16.8
    assert TripletRule.preset("visual-cortex-all-to-all-full", w_min=0.0).w_min == 0.0
    with pytest.raises(ValueError, match="unknown preset 'v1'"):
        TripletRule.preset("v1")
    with pytest.raises(TypeError, match="unknown TripletRule parameter"):
        TripletRule.preset("visual-cortex-all-to-all-full", a_plus=0.1)
    with pytest.raises(ValueError, match="closed form holds for additive"):
        triplet_protocol_change(TripletRule.preset("visual-cortex-all-to-all-full", weight_dependence="multiplicative",
                                                   w_min=0, w_max=1), 60, 10.0, 1.0)
    with pytest.raises(ValueError, match="below the period|< the period"):
        triplet_protocol_change(TripletRule.preset("visual-cortex-all-to-all-full"), 60, 30.0, 50.0)


def test_poisson_drift_on_the_grid_against_a_monte_carlo_run(one_torch_thread):
    """The learner's mean drift within 4 standard errors of the grid form (5 runs of 1000 synapses)."""
    from stdpwidgets.sim import poisson_spikes

    rule = TripletRule.preset("visual-cortex-all-to-all-full")
    dt, warm_up, steps, rate_pre, rate_post, batch = 1.0, 1_000, 10_000, 10.0, 40.0, 1000
    means = []
    for run in range(5):
        # a batch of independent 1x1 synapses: the learner sums their changes
        pre = poisson_spikes(rate_pre, warm_up + steps, dt, shape=(batch, 1), seed=100 + run, dtype=torch.float64)
        post = poisson_spikes(rate_post, warm_up + steps, dt, shape=(batch, 1), seed=200 + run, dtype=torch.float64)
        learner = STDPLearner(torch.nn.Linear(1, 1, bias=False).double(), rule, dt=dt)
        learner.run(pre[:warm_up], post[:warm_up])  # the traces start empty: let the slow ones fill (1 s >> tau_y)
        means.append(learner.run(pre[warm_up:], post[warm_up:]).item() / batch / (steps * dt * 1e-3))
    means = torch.tensor(means)
    mean, se = float(means.mean()), float(means.std() / math.sqrt(len(means)))
    grid = triplet_poisson_drift(rule, rate_pre, rate_post, dt=dt)
    assert se < 0.01 * grid and abs(mean - grid) < 4 * se
    continuous = triplet_poisson_drift(rule, rate_pre, rate_post)
    assert abs(grid - continuous) > 10 * se  # the grid effect (each tau -> about tau - dt/2) is real at dt = 1 ms
    assert grid == pytest.approx(continuous, rel=0.1)


def test_poisson_drift_with_a_weight_dependence():
    soft = TripletRule.preset("visual-cortex-all-to-all-full", weight_dependence="multiplicative", w_min=0, w_max=1)
    hard = TripletRule.preset("visual-cortex-all-to-all-full")
    x, y = 10e-3, 30e-3
    up = hard.a2_plus * hard.tau_plus + hard.a3_plus * hard.tau_plus * hard.tau_y * y
    down = hard.a2_minus * hard.tau_minus + hard.a3_minus * hard.tau_minus * hard.tau_x * x
    assert triplet_poisson_drift(soft, 10.0, 30.0, w=0.25) == pytest.approx(x * y * (0.75 * up - 0.25 * down) * 1e3)
    assert triplet_poisson_drift(hard, 10.0, 30.0) == pytest.approx(x * y * (up - down) * 1e3)
    with pytest.raises(ValueError, match="pass the current weight w"):
        triplet_poisson_drift(soft, 10.0, 30.0)
