"""Poisson-driven layer under STDP: the learner's numbers, the firing model, and additive vs multiplicative."""

import pytest
import torch
from torch import nn

from stdpwidgets.core import STDPLearner, STDPRule, multiplicative_fixed_point
from stdpwidgets.sim import simulate_poisson_layer


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # many tiny tensor ops (see conftest)


def rule(dependence, a_plus=0.02, a_minus=0.0112):
    return STDPRule(16.8, 33.7, a_plus, a_minus, weight_dependence=dependence, w_min=0.0, w_max=1.0)


# 20 inputs at 20 Hz, coupling 0.2: about 45 Hz out, each output spike caused by one input
LAYER = dict(n_inputs=20, n_outputs=25, input_rate_hz=20.0, coupling=0.2, duration_ms=30000.0)


def test_final_weights_equal_one_learner_run_over_the_recorded_spikes():
    progress = []
    result = simulate_poisson_layer(rule("multiplicative"), 12, 4, duration_ms=1200.0, coupling=0.1,
                                    n_snapshots=6, seed=3, progress=progress.append)
    assert result.weights.shape == (7, 4, 12)
    assert result.times_ms.tolist() == [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0]
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert result.pre.shape == (1200, 1, 12) and result.post.shape == (1200, 1, 4)
    layer = nn.Linear(12, 4, bias=False)
    with torch.no_grad():
        layer.weight.copy_(result.initial_weights)
    STDPLearner(layer, result.rule, dt=1.0).run(result.pre, result.post)
    torch.testing.assert_close(layer.weight.detach(), result.final_weights, atol=1e-6, rtol=0)
    assert not torch.equal(result.final_weights, result.initial_weights)
    again = simulate_poisson_layer(rule("multiplicative"), 12, 4, duration_ms=1200.0, coupling=0.1,
                                   n_snapshots=6, seed=3)
    assert torch.equal(again.weights, result.weights) and torch.equal(again.post, result.post)


def test_output_rate_is_spontaneous_plus_coupling_times_input():
    # frozen weights (zero amplitudes): p = 5 Hz * dt + c * sum_j w_j s_j(t - 1), so
    # rate = 5 Hz + c * n * rate_in * mean(w) = 5 + 0.2 * 20 * 20 * 0.5 = 45 Hz
    frozen = rule("additive", 0.0, 0.0)
    result = simulate_poisson_layer(frozen, 20, 50, input_rate_hz=20.0, coupling=0.2, duration_ms=5000.0,
                                    initial_spread=0.0, seed=1)
    assert torch.equal(result.final_weights, torch.full((50, 20), 0.5))
    assert result.output_rate_hz == pytest.approx(45.0, rel=0.03)  # ~11 000 spikes: 1 % noise
    input_rate = float(result.pre.double().mean()) * 1000.0
    assert input_rate == pytest.approx(20.0, rel=0.03)


def test_additive_splits_the_weights_multiplicative_keeps_them_unimodal():
    additive = simulate_poisson_layer(rule("additive"), **LAYER, seed=0)
    multiplicative = simulate_poisson_layer(rule("multiplicative"), **LAYER, seed=0)
    for result in (additive, multiplicative):
        w = result.final_weights
        assert float(w.min()) >= 0.0 and float(w.max()) <= 1.0
    low, high = additive.fraction_near_bounds(0.1)
    assert low > 0.2 and high > 0.15 and low + high > 0.5  # bimodal: piled at both bounds
    assert float(additive.final_weights.std()) > 0.3
    w = multiplicative.final_weights
    assert multiplicative.fraction_near_bounds(0.1) == (0.0, 0.0)
    assert float(w.std()) < 0.06  # one narrow bump...
    # ...just above the uncorrelated fixed point (0.471): the causal pairs add a little LTP
    fixed_point = multiplicative_fixed_point(rule("multiplicative"))
    assert fixed_point == pytest.approx(0.4710, abs=1e-4)
    assert 0.0 < float(w.mean()) - fixed_point < 0.06


def test_bad_inputs():
    good = rule("additive")
    with pytest.raises(TypeError, match="STDPRule"):
        simulate_poisson_layer("additive")
    with pytest.raises(ValueError, match="n_inputs"):
        simulate_poisson_layer(good, 0, 3)
    with pytest.raises(ValueError, match="input_rate_hz"):
        simulate_poisson_layer(good, input_rate_hz=-1.0)
    with pytest.raises(ValueError, match="shorter than one step"):
        simulate_poisson_layer(good, duration_ms=0.2)
    with pytest.raises(TypeError, match="progress"):
        simulate_poisson_layer(good, duration_ms=10.0, progress=3)
