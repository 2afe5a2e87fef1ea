"""The trace rule equals its closed forms: pair sums, the window, Euler's shortfall, the drift."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from stdpwidgets import (
    STDPLearner,
    STDPRule,
    euler_trace_error,
    multiplicative_fixed_point,
    pair_sum_all_to_all,
    pair_sum_nearest,
    poisson_drift,
    stdp_window,
)

from reference import exp_window_sum

DT = 0.5  # ms


def random_trains(seed, steps, n_pre, n_post, p_pre=0.05, p_post=0.05, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    pre = (torch.rand(steps, 1, n_pre, generator=gen) < p_pre).double()
    post = (torch.rand(steps, 1, n_post, generator=gen) < p_post).double()
    return pre.to(device), post.to(device)


def times_of(train, dt=DT):
    """Spike times in ms of a 1-D 0/1 train (repeated for counts > 1)."""
    steps = np.repeat(np.arange(train.shape[0]), train.cpu().numpy().astype(int))
    return steps * dt


def learn(rule, pre, post, device, use_run=True, **kwargs):
    layer = nn.Linear(pre.shape[-1], post.shape[-1], bias=False).double().to(device)
    nn.init.zeros_(layer.weight)
    learner = STDPLearner(layer, rule, dt=DT, **kwargs)
    if use_run:
        return learner.run(pre, post)
    return sum(learner.step(p, q) for p, q in zip(pre, post))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("use_run", [True, False])
def test_all_to_all_trace_rule_equals_pair_sum(seed, use_run, device):
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0085)
    pre, post = random_trains(seed, 600, 4, 3, device=device)
    dw = learn(rule, pre, post, device, use_run).cpu()
    for o in range(3):
        for i in range(4):
            pre_t, post_t = times_of(pre[:, 0, i]), times_of(post[:, 0, o])
            expected = pair_sum_all_to_all(pre_t, post_t, rule)
            naive = exp_window_sum(pre_t / DT, post_t / DT, DT, 16.8, 33.7, 0.01, 0.0085)
            assert expected == pytest.approx(naive, abs=1e-12)
            assert abs(dw[o, i].item() - expected) < 1e-12


def test_spike_counts_above_one_pair_each_spike(device):
    rule = STDPRule(tau_pre=10.0, tau_post=20.0, a_plus=1.0, a_minus=0.5)
    pre = torch.zeros(30, 1, 1, dtype=torch.float64, device=device)
    post = torch.zeros_like(pre)
    pre[3], pre[9], post[12], post[20] = 2, 1, 3, 1
    dw = learn(rule, pre, post, device)
    expected = pair_sum_all_to_all([1.5, 1.5, 4.5], [6.0, 6.0, 6.0, 10.0], rule)
    assert abs(dw.item() - expected) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_trace_rule_equals_nearest_pair_sum(seed, device):
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0085, pairing="nearest")
    pre, post = random_trains(seed, 800, 3, 2, p_pre=0.08, p_post=0.06, device=device)
    for use_run in (True, False):
        dw = learn(rule, pre, post, device, use_run).cpu()
        for o in range(2):
            for i in range(3):
                expected = pair_sum_nearest(times_of(pre[:, 0, i]), times_of(post[:, 0, o]), rule)
                assert abs(dw[o, i].item() - expected) < 1e-12


def test_nearest_pair_sum_by_hand():
    rule = STDPRule(tau_pre=10.0, tau_post=20.0, a_plus=1.0, a_minus=1.0, pairing="nearest")
    # post at 10 pairs with pre 5 only (not pre 0); pre 12 pairs with post 10; pre 5 with nothing
    expected = math.exp(-5 / 10) - math.exp(-2 / 20)
    assert pair_sum_nearest([0.0, 5.0, 12.0], [10.0], rule) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_traces_first_counts_same_step_pairs_both_ways(pairing, device):
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0085, pairing=pairing)
    pre, post = random_trains(5, 400, 2, 2, p_pre=0.1, p_post=0.1, device=device)
    closed = pair_sum_all_to_all if pairing == "all-to-all" else pair_sum_nearest
    for use_run in (True, False):
        dw = learn(rule, pre, post, device, use_run, traces_first=True).cpu()
        for o in range(2):
            for i in range(2):
                expected = closed(times_of(pre[:, 0, i]), times_of(post[:, 0, o]), rule, traces_first=True)
                assert abs(dw[o, i].item() - expected) < 1e-12


def test_same_step_pair_makes_no_pair_by_default(device):
    rule = STDPRule(tau_pre=10.0, tau_post=10.0, a_plus=1.0, a_minus=2.0)
    spikes = torch.ones(1, 1, 1, dtype=torch.float64, device=device)
    assert learn(rule, spikes, spikes, device).item() == 0.0
    assert learn(rule, spikes, spikes, device, traces_first=True).item() == pytest.approx(-1.0)


def test_window_values():
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0085)
    w = stdp_window([-10.0, 0.0, 10.0], rule)
    assert w[0].item() == pytest.approx(-0.0085 * math.exp(-10 / 33.7), rel=1e-15)
    assert w[1].item() == 0.0
    assert w[2].item() == pytest.approx(0.01 * math.exp(-10 / 16.8), rel=1e-15)
    soft = STDPRule(16.8, 33.7, 0.01, 0.0085, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
    assert stdp_window([10.0], soft, w=0.25)[0].item() == pytest.approx(0.75 * 0.01 * math.exp(-10 / 16.8))
    with pytest.raises(ValueError, match="depends on the weight"):
        stdp_window([1.0], soft)


@pytest.mark.parametrize("tau,dt,lag", [(16.8, 1.0, 20.0), (16.8, 0.1, 20.0), (33.7, 0.5, 50.0)])
def test_euler_trace_shortfall_matches_closed_form(tau, dt, lag, device):
    steps = int(round(lag / dt))
    rule = STDPRule(tau_pre=tau, tau_post=tau, a_plus=1.0, a_minus=1.0)
    layer = nn.Linear(1, 1, bias=False).double().to(device)
    traces = {}
    for decay in ("exact", "euler"):
        learner = STDPLearner(layer, rule, dt=dt, decay=decay)
        spikes = torch.zeros(steps + 1, 1, 1, dtype=torch.float64, device=device)
        spikes[0] = 1
        learner.run(spikes, torch.zeros_like(spikes))
        traces[decay] = learner.pre_trace.item()
    assert traces["exact"] == pytest.approx(math.exp(-lag / tau), rel=1e-12)
    assert traces["euler"] == pytest.approx((1 - dt / tau) ** steps, rel=1e-12)
    assert 1 - traces["euler"] / traces["exact"] == pytest.approx(euler_trace_error(tau, dt, lag), rel=1e-9)


def test_euler_error_numbers_from_science_notes():
    assert euler_trace_error(16.8, 1.0, 20.0) == pytest.approx(0.036, abs=0.001)
    assert euler_trace_error(16.8, 0.1, 20.0) == pytest.approx(0.0036, abs=0.0001)


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_poisson_drift_matches_simulated_mean(pairing):
    """Mean change of independent Poisson-driven synapses vs the drift formula (4 sigma)."""
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.003, pairing=pairing)
    rate_pre, rate_post, dt, steps, n = 20.0, 10.0, 1.0, 20000, 300
    gen = torch.Generator().manual_seed(11)
    pre = (torch.rand(steps, 1, n, generator=gen) < rate_pre * dt / 1000).double()
    post = (torch.rand(steps, 1, n, generator=gen) < rate_post * dt / 1000).double()
    layer = nn.Linear(n, n, bias=False).double()
    nn.init.zeros_(layer.weight)
    dw = STDPLearner(layer, rule, dt=dt).run(pre, post).diagonal()  # n independent synapses
    expected = poisson_drift(rule, 0.0, rate_pre, rate_post) * steps * dt / 1000
    sem = dw.std().item() / math.sqrt(n)
    assert abs(expected) > 10 * sem  # the check has power
    assert abs(dw.mean().item() - expected) < 4 * sem


def test_multiplicative_fixed_point_closed_form_and_simulation():
    rule = STDPRule(16.8, 33.7, a_plus=0.005, a_minus=0.005 * 0.8, weight_dependence="multiplicative",
                    w_min=0.0, w_max=1.0)
    w_star = multiplicative_fixed_point(rule)
    assert w_star == pytest.approx(16.8 / (16.8 + 0.8 * 33.7), rel=1e-15)
    assert poisson_drift(rule, w_star, 20.0, 20.0) == pytest.approx(0.0, abs=1e-15)
    gen = torch.Generator().manual_seed(3)
    steps, n = 30000, 200
    pre = (torch.rand(steps, 1, n, generator=gen) < 0.02).double()
    post = (torch.rand(steps, 1, 1, generator=gen) < 0.02).double()
    layer = nn.Linear(n, 1, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(0.05, 0.95, n))
    STDPLearner(layer, rule, dt=1.0).run(pre, post)
    assert layer.weight.mean().item() == pytest.approx(w_star, abs=0.03)
    assert layer.weight.std().item() < 0.1  # unimodal around w*, spread from 0.05-0.95 collapsed


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_sparse_long_run_equals_pair_sum(pairing, device):
    """Spikes thousands of steps apart: the event-driven run skips the gaps exactly."""
    rule = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0085, pairing=pairing)
    steps = 200_000
    pre = torch.zeros(steps, 1, 1, dtype=torch.float64, device=device)
    post = torch.zeros_like(pre)
    pre_steps = [5, 40_000, 40_030, 120_000, 199_990]
    post_steps = [12, 40_010, 120_000, 120_050, 199_999]
    pre[pre_steps], post[post_steps] = 1.0, 1.0
    dw = learn(rule, pre, post, device)
    closed = pair_sum_all_to_all if pairing == "all-to-all" else pair_sum_nearest
    expected = closed([s * DT for s in pre_steps], [s * DT for s in post_steps], rule)
    assert abs(dw.item() - expected) < 1e-12
