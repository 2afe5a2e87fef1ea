"""The checks of a spike sequence, read step by step for large steps (one aminmax each) or as two
reductions over all steps for small ones: the same events, the same maxima, the same errors.

``learner.STEP_BY_STEP_CHECK_MIN_ELEMENTS`` picks the form; each test runs both (the threshold set
to 1 takes the step-by-step form on any size, a huge one the two-reduction form), and one runs at
the real threshold's size.
"""

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core import learner as learner_module

FORMS = {"step by step": 1, "two reductions": 2**62}


def _rule():
    return STDPRule(20.0, 20.0, 0.01, 0.012, w_min=0.0, w_max=1.0, pairing="all-to-all")


def _learner(in_features=24, out_features=6, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(in_features, out_features, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.2, 0.8)
    return STDPLearner(layer, _rule(), dt=1.0)


def _counts(steps, batch, features, seed, density=0.2):
    """Whole spike counts 0, 1, 2; steps 2 and 5 (of those there are) silent."""
    g = torch.Generator().manual_seed(seed)
    counts = (torch.rand(steps, batch, features, generator=g) < density).float()
    counts += (torch.rand(steps, batch, features, generator=g) < density / 4).float()
    counts[2:3] = 0.0
    counts[5:6] = 0.0
    return counts


@pytest.mark.parametrize("form", FORMS)
def test_run_of_counts_equals_steps_in_either_form(monkeypatch, form):
    monkeypatch.setattr(learner_module, "STEP_BY_STEP_CHECK_MIN_ELEMENTS", FORMS[form])
    pre, post = _counts(9, 3, 24, seed=1), _counts(9, 3, 6, seed=2)
    post[7] = 0.0
    post[8, 0, 1] = 3.0  # the run's largest count, at its last step: the bound must see it
    ran, stepped = _learner(), _learner()
    dw_run = ran.run(pre, post)
    dw_steps = sum(stepped.step(pre[t], post[t]) for t in range(pre.shape[0]))
    torch.testing.assert_close(dw_run, dw_steps, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(ran.layer.weight, stepped.layer.weight, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ran.pre_trace, stepped.pre_trace, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ran.post_trace, stepped.post_trace, rtol=1e-6, atol=1e-7)
    # the checks' per-step record of which steps spike, and the run's largest counts
    assert ran._spike_max == {"pre": 2.0, "post": 3.0}
    busy = ran._busy_steps["pre"][1] | ran._busy_steps["post"][1]
    assert busy.tolist() == [True, True, False, True, True, False, True, True, True]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("side, step, value, message", [
    ("pre", 3, float("nan"), "pre spikes contain NaN or infinite values"),
    ("post", 6, float("inf"), "post spikes contain NaN or infinite values"),
    ("pre", 8, -1.0, "pre spikes contain negative values"),
    ("post", 0, -0.5, "post spikes contain negative values"),
])
def test_a_bad_value_at_any_step_is_refused_in_either_form(monkeypatch, form, side, step, value, message):
    monkeypatch.setattr(learner_module, "STEP_BY_STEP_CHECK_MIN_ELEMENTS", FORMS[form])
    learner = _learner()
    learner.step(_counts(1, 3, 24, seed=3)[0], _counts(1, 3, 6, seed=4)[0])
    weight, traces, steps = learner.layer.weight.detach().clone(), dict(learner.traces), learner.steps
    pre, post = _counts(9, 3, 24, seed=5), _counts(9, 3, 6, seed=6)
    (pre if side == "pre" else post)[step, 1, 2] = value
    with pytest.raises(ValueError, match=message):
        learner.run(pre, post)
    assert torch.equal(learner.layer.weight, weight)
    assert learner.steps == steps
    assert all(torch.equal(learner.traces[n], t) for n, t in traces.items())


class _Reductions(TorchFunctionMode):
    """Records (name, input shape) of every aminmax, amin and amax called inside it."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("aminmax", "amin", "amax"):
            self.calls.append((name, tuple(args[0].shape)))
        return func(*args, **(kwargs or {}))


def test_at_the_real_threshold_a_large_step_is_checked_step_by_step():
    """A step of 2**17 presynaptic counts is checked by one aminmax per step, the post side (six
    entries a step) by an amin and an amax over all steps; the run equals the steps and refuses a NaN."""
    features = learner_module.STEP_BY_STEP_CHECK_MIN_ELEMENTS
    pre, post = _counts(4, 1, features, seed=7, density=0.01), _counts(4, 1, 6, seed=8)
    post[2] = 1.0
    ran, stepped = _learner(features, 6), _learner(features, 6)
    with _Reductions() as spy:
        dw_run = ran.run(pre, post)
    assert spy.calls.count(("aminmax", (features,))) == 4  # one per step of the pre side
    assert ("amin", (4, features)) not in spy.calls and ("amax", (4, features)) not in spy.calls
    assert ("amin", (4, 6)) in spy.calls and ("amax", (4, 6)) in spy.calls
    dw_steps = sum(stepped.step(pre[t], post[t]) for t in range(4))
    torch.testing.assert_close(dw_run, dw_steps, rtol=1e-5, atol=1e-6)
    pre[3, 0, features - 1] = float("nan")
    weight = ran.layer.weight.detach().clone()
    with pytest.raises(ValueError, match="pre spikes contain NaN"):
        ran.run(pre, post)
    assert torch.equal(ran.layer.weight, weight)
