"""Bad input raises a clear error and leaves weights and traces untouched."""

import math

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

RULE = STDPRule(16.8, 33.7, 0.01, 0.012, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(tau_pre=0.0), ValueError, "tau_pre must be a positive"),
        (dict(tau_post=-3.0), ValueError, "tau_post must be a positive"),
        (dict(tau_pre=math.inf), ValueError, "tau_pre"),
        (dict(a_minus=-0.01), ValueError, "a_minus is a positive magnitude"),
        (dict(a_plus=math.nan), ValueError, "a_plus"),
        (dict(w_min=1.0, w_max=0.0), ValueError, r"w_min \(1.0\) must not exceed w_max \(0.0\)"),
        (dict(pairing="nearest-neighbour"), ValueError, "unknown pairing 'nearest-neighbour'; use one of 'all-to-all', 'nearest'"),
        (dict(weight_dependence="soft"), ValueError, "unknown weight_dependence 'soft'; use one of 'additive', 'multiplicative'"),
        (dict(weight_dependence=(abs,)), ValueError, "pair of callables"),
        (dict(weight_dependence="multiplicative", w_max=math.inf), ValueError, "give finite w_min and w_max"),
        (dict(mu=-1.0, weight_dependence="gutig"), ValueError, "mu must be"),
        (dict(tau_pre="20"), TypeError, "tau_pre must be a real number"),
    ],
)
def test_rule_validation(kwargs, error, match):
    params = dict(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.01, w_min=0.0, w_max=1.0)
    params.update(kwargs)
    with pytest.raises(error, match=match):
        STDPRule(**params)


def test_rule_is_immutable_and_comparable():
    rule = STDPRule(16.8, 33.7, 0.01, 0.01)
    with pytest.raises(AttributeError):
        rule.tau_pre = 3.0
    assert rule == STDPRule(16.8, 33.7, 0.01, 0.01)
    assert rule.to_dict()["tau_pre"] == 16.8


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: STDPLearner(nn.LSTM(3, 3), RULE), TypeError, r"supported: nn\.Linear, nn\.Conv1d, nn\.Conv2d, nn\.Conv3d"),
        (lambda: STDPLearner(nn.ConvTranspose2d(1, 1, 3), RULE), TypeError, "does not support layers of type ConvTranspose2d"),
        (lambda: STDPLearner(nn.LazyLinear(3), RULE), ValueError, "run one forward pass"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, dt=0.0), ValueError, "dt must be a positive"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, dt=-1.0), ValueError, "dt must be a positive"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, dt=40.0, decay="euler"), ValueError, "Euler decay needs dt < tau"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, decay="rk4"), ValueError, "unknown decay 'rk4'"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, reduction="max"), ValueError, "unknown reduction 'max'"),
        (lambda: STDPLearner(nn.Linear(3, 3), RULE, update="optimizer"), ValueError, "unknown update 'optimizer'"),
        (lambda: STDPLearner(nn.Linear(3, 3), {"tau_pre": 1}), TypeError, "rule must be an STDPRule"),
    ],
)
def test_learner_construction_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def primed(kind="linear"):
    """A learner that has already taken steps, so traces exist to be protected."""
    torch.manual_seed(0)
    layer = nn.Linear(4, 3, bias=False) if kind == "linear" else nn.Conv2d(2, 3, 3, stride=2, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0, 1)
    learner = STDPLearner(layer, RULE)
    if kind == "linear":
        pre, post = torch.ones(5, 2, 4), torch.ones(5, 2, 3)
    else:
        pre, post = torch.ones(5, 2, 2, 7, 7), torch.ones(5, 2, 3, 3, 3)
    learner.run(pre, post)
    return learner


BAD_STEPS = [
    ("linear", lambda: (torch.ones(2, 5), torch.ones(2, 3)), ValueError, r"shaped \(batch, \.\.\., 4\), got \(2, 5\)"),
    ("linear", lambda: (torch.ones(2, 4), torch.ones(2, 2)), ValueError, r"expected post shape \(2, 3\)"),
    ("linear", lambda: (torch.ones(3, 4), torch.ones(3, 3)), ValueError, "call reset"),
    ("linear", lambda: (torch.ones(4), torch.ones(3)), ValueError, r"\(batch, \.\.\., 4\)"),
    ("linear", lambda: (torch.full((2, 4), math.nan), torch.ones(2, 3)), ValueError, "pre spikes contain NaN or infinite"),
    ("linear", lambda: (torch.ones(2, 4), torch.full((2, 3), math.inf)), ValueError, "post spikes contain NaN or infinite"),
    ("linear", lambda: (-torch.ones(2, 4), torch.ones(2, 3)), ValueError, "negative"),
    ("linear", lambda: (torch.ones(2, 4, dtype=torch.float64), torch.ones(2, 3)), TypeError, r"use torch.bool or the weight's dtype torch.float32"),
    ("linear", lambda: (torch.ones(2, 4, dtype=torch.int64), torch.ones(2, 3)), TypeError, "dtype torch.int64"),
    ("linear", lambda: ([[1.0] * 4] * 2, torch.ones(2, 3)), TypeError, "must be a torch.Tensor"),
    ("linear", lambda: (torch.ones(2, 4, device="meta"), torch.ones(2, 3)), ValueError, "pre spikes are on meta but the layer's weight is on cpu"),
    ("conv", lambda: (torch.ones(2, 3, 7, 7), torch.ones(2, 3, 3, 3)), ValueError, r"shaped \(batch, 2, L, L\)"),
    ("conv", lambda: (torch.ones(2, 2, 7, 7), torch.ones(2, 3, 4, 4)), ValueError, r"expected post shape \(2, 3, 3, 3\)"),
    ("conv", lambda: (torch.ones(2, 2, 2, 2), torch.ones(2, 3, 1, 1)), ValueError, "smaller than the dilated kernel"),
    ("conv", lambda: (torch.ones(2, 2, 7), torch.ones(2, 3, 3)), ValueError, "with a batch axis"),
]


@pytest.mark.parametrize("kind,make,error,match", BAD_STEPS)
@pytest.mark.parametrize("method", ["step", "run"])
def test_bad_spikes_raise_and_leave_state_untouched(kind, make, error, match, method):
    learner = primed(kind)
    weight = learner.layer.weight.detach().clone()
    x, y, steps = learner.pre_trace.clone(), learner.post_trace.clone(), learner.steps
    pre, post = make()
    if method == "run":
        pre = pre.unsqueeze(0) if isinstance(pre, torch.Tensor) else [pre]
        post = post.unsqueeze(0)
    with pytest.raises(error, match=match):
        getattr(learner, method)(pre, post)
    assert torch.equal(learner.layer.weight, weight)
    assert torch.equal(learner.pre_trace, x) and torch.equal(learner.post_trace, y)
    assert learner.steps == steps


def test_run_needs_matching_time_axes():
    learner = primed()
    with pytest.raises(ValueError, match="same leading time axis"):
        learner.run(torch.ones(3, 2, 4), torch.ones(4, 2, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_spikes_on_cpu_for_a_cuda_layer_are_refused():
    layer = nn.Linear(4, 3).cuda()
    learner = STDPLearner(layer, RULE)
    with pytest.raises(ValueError, match=r"move them with \.to\('cuda:0'\)"):
        learner.step(torch.ones(2, 4), torch.ones(2, 3))
