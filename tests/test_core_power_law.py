"""The power-law weight dependence of Morrison, Aertsen & Diesmann (2007):
F+(w) = lambda w0^(1-mu) w^mu, F-(w) = lambda alpha w, as ``power_law(w0, mu)``."""

import io
import math

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core.dependence import power_law


@pytest.mark.parametrize("w0", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("mu", [0.0, 0.4, 1.0])
def test_factors_are_the_formula(w0, mu):
    w = torch.linspace(0.0, 5.0, 51, dtype=torch.float64)
    f_plus, f_minus = power_law(w0, mu)
    assert torch.allclose(f_plus(w), w0 ** (1 - mu) * w**mu, rtol=1e-15, atol=0)
    assert torch.equal(f_minus(w), w)
    # at the reference weight both factors are w0, whatever mu
    at_w0 = torch.tensor([w0], dtype=torch.float64)
    assert f_plus(at_w0).item() == pytest.approx(w0, rel=1e-15)


def test_rule_multiplies_the_factors_by_the_amplitudes():
    lam, alpha, w0, mu = 0.02, 1.05, 1.5, 0.4
    rule = STDPRule(20.0, 20.0, lam, lam * alpha, weight_dependence=power_law(w0, mu), w_min=0.0)
    w = torch.tensor([0.0, 0.25, 1.5, 4.0], dtype=torch.float64)
    big_f_plus, big_f_minus = rule.amplitudes(w)
    assert torch.allclose(big_f_plus, lam * w0 ** (1 - mu) * w**mu, rtol=1e-15, atol=0)
    assert torch.allclose(big_f_minus, lam * alpha * w, rtol=1e-15, atol=0)


def test_negative_weights_give_zero_factors_not_nan():
    f_plus, f_minus = power_law(1.0, 0.5)
    w = torch.tensor([-1.0, -0.1], dtype=torch.float64)
    assert torch.equal(f_plus(w), torch.zeros(2, dtype=torch.float64))
    assert torch.equal(f_minus(w), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize(
    "w0, mu, argument",
    [(0.0, 0.5, "w0"), (-1.0, 0.5, "w0"), (math.inf, 0.5, "w0"), (math.nan, 0.5, "w0"),
     (1.0, -0.1, "mu"), (1.0, 1.5, "mu"), (1.0, math.nan, "mu")],
)
def test_bad_values_raise_value_error_naming_the_argument(w0, mu, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        power_law(w0, mu)


@pytest.mark.parametrize("w0, mu, argument", [("1", 0.5, "w0"), (1.0, None, "mu"), (True, 0.5, "w0")])
def test_non_numbers_raise_type_error_naming_the_argument(w0, mu, argument):
    with pytest.raises(TypeError, match=rf"\b{argument}\b"):
        power_law(w0, mu)


def test_learner_steps_match_a_hand_computation():
    """pre at step 0, post at step 2, pre at step 5 on one synapse; dt = 1 ms."""
    lam, alpha, w0, mu, dt = 0.1, 0.5, 1.0, 0.4, 1.0
    tau_pre, tau_post = 16.8, 33.7
    rule = STDPRule(tau_pre, tau_post, lam, lam * alpha, weight_dependence=power_law(w0, mu), w_min=0.0)
    layer = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(2.0)
    learner = STDPLearner(layer, rule, dt=dt)
    pre_at, post_at = {0, 5}, {2}
    for t in range(7):
        learner.step(torch.tensor([[float(t in pre_at)]], dtype=torch.float64),
                     torch.tensor([[float(t in post_at)]], dtype=torch.float64))

    w = 2.0
    # step 2: the post spike reads the pre trace of step 0, decayed over two steps
    w += lam * w0 ** (1 - mu) * w**mu * math.exp(-2 * dt / tau_pre)
    # step 5: the pre spike reads the post trace of step 2, decayed over three steps
    w -= lam * alpha * w * math.exp(-3 * dt / tau_post)
    assert layer.weight.item() == pytest.approx(w, rel=1e-14)
    assert layer.weight.item() != pytest.approx(2.0)


def test_run_equals_step_and_checkpoints_compare_equal():
    rule = STDPRule(16.8, 33.7, 0.05, 0.05, weight_dependence=power_law(0.5, 0.3), w_min=0.0)
    gen = torch.Generator().manual_seed(0)
    pre = (torch.rand(60, 2, 5, generator=gen) < 0.2).double()
    post = (torch.rand(60, 2, 3, generator=gen) < 0.2).double()
    weights = []
    for use_run in (False, True):
        torch.manual_seed(1)
        layer = nn.Linear(5, 3, bias=False).double()
        with torch.no_grad():
            layer.weight.uniform_(0.0, 1.0)
        start = layer.weight.detach().clone()
        learner = STDPLearner(layer, rule, dt=0.5)
        if use_run:
            learner.run(pre, post)
        else:
            for p, q in zip(pre, post):
                learner.step(p, q)
        weights.append(layer.weight.detach().clone())
    assert torch.allclose(weights[0], weights[1], rtol=0, atol=1e-12)
    assert (weights[1] - start).abs().max() > 1e-3  # the rule did something

    # a rule built again from the same parameters is the same configuration: a checkpoint loads
    buffer = io.BytesIO()
    torch.save(learner.state_dict(), buffer)
    buffer.seek(0)
    again = STDPRule(16.8, 33.7, 0.05, 0.05, weight_dependence=power_law(0.5, 0.3), w_min=0.0)
    restored = STDPLearner(nn.Linear(5, 3, bias=False).double(), again, dt=0.5)
    restored.load_state_dict(torch.load(buffer, weights_only=False))
    assert torch.equal(restored.post_trace, learner.post_trace)
    other = STDPRule(16.8, 33.7, 0.05, 0.05, weight_dependence=power_law(0.5, 0.4), w_min=0.0)
    with pytest.raises(ValueError):
        STDPLearner(nn.Linear(5, 3, bias=False).double(), other, dt=0.5).load_state_dict(learner.state_dict())
