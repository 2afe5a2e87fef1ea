"""Pairing protocols against the closed-form pair sums of the core (independent of the traces)."""

import math

import pytest

from stdpwidgets.core import STDPRule, pair_sum_all_to_all, pair_sum_nearest, stdp_window
from stdpwidgets.sim import pairing_protocol, pairing_sweep, pairing_weight_change, train_to_times

RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0105)


def test_protocol_spike_times():
    pre, post = pairing_protocol(3, -10.0, 20.0, dt=0.1)
    assert train_to_times(pre, 0.1).tolist() == pytest.approx([10.0, 60.0, 110.0])
    assert train_to_times(post, 0.1).tolist() == pytest.approx([0.0, 50.0, 100.0])


@pytest.mark.parametrize("delta_t", [10.0, -10.0])
def test_low_frequency_equals_n_times_window(delta_t):
    # At 0.1 Hz the cross terms are ~exp(-10 s / 33.7 ms) = 0: the change is 60 W(dt).
    change = pairing_weight_change(RULE, delta_t, 0.1, n_pairs=60)
    assert change == pytest.approx(60 * float(stdp_window([delta_t], RULE)[0]), rel=1e-9)


@pytest.mark.parametrize("frequency", [1.0, 10.0, 20.0, 40.0, 50.0])
@pytest.mark.parametrize("delta_t", [10.0, -10.0, 3.3])
def test_all_to_all_equals_pair_sum(frequency, delta_t):
    n, period = 60, 1000.0 / frequency
    pre_times = [k * period + max(0.0, -delta_t) for k in range(n)]
    post_times = [t + delta_t for t in pre_times]
    expected = pair_sum_all_to_all(pre_times, post_times, RULE)
    assert pairing_weight_change(RULE, delta_t, frequency, n_pairs=n) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # hand-computed cross terms at 50 Hz, +10 ms: post k pairs with pre j <= k (LTP) and pre j > k (LTD)
    if frequency == 50.0 and delta_t == 10.0:
        by_hand = sum(
            0.01 * math.exp(-((k - j) * 20 + 10) / 16.8) if j <= k else -0.0105 * math.exp(-((j - k) * 20 - 10) / 33.7)
            for k in range(n) for j in range(n)
        )
        assert expected == pytest.approx(by_hand, rel=1e-12)


def test_coarsened_grid_equals_fine_grid():
    fine = pairing_weight_change(RULE, 10.0, 10.0, n_pairs=20, coarsen=False)
    coarse = pairing_weight_change(RULE, 10.0, 10.0, n_pairs=20)
    assert coarse == pytest.approx(fine, rel=1e-12)


def test_nearest_and_bounded_rules():
    nearest = STDPRule(16.8, 33.7, 0.01, 0.0105, pairing="nearest")
    pre, post = pairing_protocol(30, 10.0, 40.0)
    expected = pair_sum_nearest(train_to_times(pre, 0.1), train_to_times(post, 0.1), nearest)
    assert pairing_weight_change(nearest, 10.0, 40.0, n_pairs=30) == pytest.approx(expected, rel=1e-9)
    bounded = STDPRule(16.8, 33.7, 0.01, 0.0105, w_min=0.0, w_max=1.0)
    assert pairing_weight_change(bounded, 10.0, 1.0, n_pairs=60, w0=0.99) == pytest.approx(0.01, rel=1e-9)
    relative = pairing_weight_change(bounded, 10.0, 0.1, w0=0.5, relative=True)
    assert relative == pytest.approx(60 * 0.01 * math.exp(-10 / 16.8) / 0.5, rel=1e-9)


def test_sweep_shape_and_values():
    curve = pairing_sweep(RULE, [-20.0, 10.0], [1.0, 20.0], n_pairs=5)
    assert curve.weight_change.shape == (2, 2)
    assert float(curve.weight_change[1, 1]) == pytest.approx(pairing_weight_change(RULE, 10.0, 20.0, n_pairs=5))


def test_bad_inputs():
    with pytest.raises(ValueError, match="multiple of dt"):
        pairing_weight_change(RULE, 10.05, 1.0)
    with pytest.raises(ValueError, match="overlap"):
        pairing_protocol(5, 30.0, 50.0)
    with pytest.raises(ValueError, match="frequency_hz"):
        pairing_protocol(5, 10.0, 0.0)
    with pytest.raises(TypeError, match="STDPRule"):
        pairing_weight_change("rule", 10.0, 1.0)
    with pytest.raises(ValueError, match="bounds"):
        pairing_weight_change(STDPRule(10, 10, 0.1, 0.1, w_min=0, w_max=1), 10.0, 1.0, w0=2.0)


def test_simulate_synapse_records_a_run_that_ends_at_the_pair_sum():
    import torch

    from stdpwidgets.sim import simulate_synapse

    rule = STDPRule(16.8, 33.7, 0.01, 0.0085)
    pre = torch.zeros(200, dtype=torch.bool)
    post = torch.zeros(200, dtype=torch.bool)
    pre[[10, 90]], post[[30, 95]] = True, True
    history = simulate_synapse(rule, pre, post, w0=0.5, dt=0.5)
    assert history.weights.dtype == torch.float32 and history.weights.shape == (200, 1, 1)
    expected = pair_sum_all_to_all([5.0, 45.0], [15.0, 47.5], rule)
    assert abs(history.weights[-1].item() - 0.5 - expected) < 1e-6
    assert history.pre_traces[10].item() == 1.0
    with pytest.raises(ValueError, match="1-D trains"):
        simulate_synapse(rule, pre.reshape(2, 100), post.reshape(2, 100), 0.5)
