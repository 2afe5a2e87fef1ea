"""Reward-modulated (three-factor) STDP: ``STDPLearner(..., eligibility_tau=tau_e)``.

Each step: ``e <- e exp(-dt/tau_e) + dw`` (dw: the plain learner's proposed change from the
current weight, weight dependence included, unclipped), then ``w <- clip(w + r e)``. Checked
against a per-synapse Python loop written here from that definition, a closed form for one
pairing and a delayed reward, and for convolutions and the triplet rule against the plain
learner's own proposals.
"""

import copy
import math

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core.triplet import TripletRule

from reference import naive_pair_synapses

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
TAU_E = 50.0
ADDITIVE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.2, a_minus=0.21, w_min=0.0, w_max=1.0)
MULTIPLICATIVE = STDPRule(16.8, 33.7, 0.2, 0.21, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)


def naive_reward_modulated(rule, w0, pre, post, rewards, tau_e, dt=1.0):
    """Three-factor STDP synapse by synapse (tests/reference.py): (final weights, final eligibility)."""
    w, e = naive_pair_synapses(rule, w0, pre, post, dt=dt, rewards=rewards, tau_e=tau_e)
    return torch.from_numpy(w), torch.from_numpy(e)


def problem(seed=0, steps=60, batch=2, n_in=5, n_out=3, density=0.25):
    g = torch.Generator().manual_seed(seed)
    pre = torch.rand(steps, batch, n_in, generator=g) < density
    post = torch.rand(steps, batch, n_out, generator=g) < density
    rewards = torch.where(torch.rand(steps, generator=g) < 0.3, torch.randn(steps, generator=g) * 2.0,
                          torch.zeros(steps)).tolist()
    w0 = 0.1 + 0.8 * torch.rand(n_out, n_in, generator=g, dtype=torch.float64)
    return pre, post, rewards, w0


def linear(w0, device="cpu"):
    layer = nn.Linear(w0.shape[1], w0.shape[0], bias=False).double().to(device)
    with torch.no_grad():
        layer.weight.copy_(w0)
    return layer


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rule", [ADDITIVE, MULTIPLICATIVE], ids=["additive", "multiplicative"])
@pytest.mark.parametrize("method", ["step", "run"])
def test_reward_modulated_stdp_matches_the_synapse_by_synapse_loop(rule, method, device):
    pre, post, rewards, w0 = problem()
    expected_w, expected_e = naive_reward_modulated(rule, w0, pre, post, rewards, TAU_E)
    layer = linear(w0, device)
    learner = STDPLearner(layer, rule, dt=1.0, eligibility_tau=TAU_E)
    if method == "step":
        for t in range(len(rewards)):
            learner.step(pre[t].to(device), post[t].to(device), reward=rewards[t])
    else:
        learner.run(pre.to(device), post.to(device), reward=torch.tensor(rewards))
    torch.testing.assert_close(layer.weight.detach().cpu(), expected_w, atol=1e-12, rtol=0)
    torch.testing.assert_close(learner.eligibility.cpu(), expected_e, atol=1e-12, rtol=0)
    w = expected_w
    assert float(w.min()) == 0.0 and float(w.max()) == 1.0  # the bounds were reached: clipping is tested


def test_a_delayed_reward_moves_the_weight_by_the_decayed_pairing():
    """Pre at step 10, post at step 10 + lag, reward r at step 10 + lag + delay:
    dw = r * a_plus * exp(-lag/tau_pre) * exp(-delay/tau_e) (the depression term reads y = 0)."""
    lag, delay, r = 7, 40, 0.5
    steps = 10 + lag + delay + 1
    pre, post = torch.zeros(steps, 1, 1), torch.zeros(steps, 1, 1)
    pre[10], post[10 + lag] = 1.0, 1.0
    rewards = [0.0] * steps
    rewards[10 + lag + delay] = r
    rule = STDPRule(16.8, 33.7, 0.01, 0.012, w_min=-1.0, w_max=1.0)
    layer = linear(torch.zeros(1, 1, dtype=torch.float64))
    learner = STDPLearner(layer, rule, dt=1.0, eligibility_tau=TAU_E)
    dw = learner.run(pre.double(), post.double(), reward=rewards)
    expected = r * 0.01 * math.exp(-lag / 16.8) * math.exp(-delay / TAU_E)
    assert float(dw) == pytest.approx(expected, rel=1e-12)
    assert float(learner.eligibility) == pytest.approx(0.01 * math.exp(-lag / 16.8) * math.exp(-delay / TAU_E), rel=1e-12)


def test_without_reward_the_weight_stays_and_the_trace_remembers():
    pre, post, _, w0 = problem(seed=1)
    layer = linear(w0)
    learner = STDPLearner(layer, ADDITIVE, dt=1.0, eligibility_tau=TAU_E)
    total = learner.run(pre, post)  # reward defaults to 0 at every step
    assert torch.equal(layer.weight.detach(), w0) and not total.any()
    assert float(learner.eligibility.abs().max()) > 0.01


def proposals_reference(layer, rule, pre, post, rewards, tau_e):
    """The three-factor update built from a plain learner's proposals (grad mode, unbounded copy
    of the rule: its -grad is the unclipped change from the current weight)."""
    unbounded = copy.copy(rule)
    object.__setattr__(unbounded, "w_min", -math.inf)
    object.__setattr__(unbounded, "w_max", math.inf)
    proposer = STDPLearner(layer, unbounded, dt=1.0, update="grad")
    e, fe = torch.zeros_like(layer.weight), math.exp(-1.0 / tau_e)
    for t in range(len(rewards)):
        layer.weight.grad = None
        proposed = proposer.step(pre[t], post[t])
        e = e * fe + proposed
        with torch.no_grad():
            layer.weight.copy_((layer.weight + rewards[t] * e).clamp(rule.w_min, rule.w_max))
    layer.weight.grad = None
    return layer.weight.detach().clone(), e


@pytest.mark.parametrize("kind", ["conv1d", "triplet-linear"])
def test_convolutions_and_the_triplet_rule_follow_their_proposals(kind):
    g = torch.Generator().manual_seed(3)
    if kind == "conv1d":
        make = lambda: nn.Conv1d(2, 3, 3, padding=1, bias=False).double()  # noqa: E731
        pre = torch.rand(40, 2, 2, 9, generator=g) < 0.3
        post = torch.rand(40, 2, 3, 9, generator=g) < 0.3
        rule = ADDITIVE
    else:
        make = lambda: nn.Linear(5, 3, bias=False).double()  # noqa: E731
        pre = torch.rand(40, 2, 5, generator=g) < 0.3
        post = torch.rand(40, 2, 3, generator=g) < 0.3
        rule = TripletRule.preset("visual-cortex-all-to-all-minimal", w_min=0.0, w_max=1.0)
    rewards = (torch.randn(40, generator=g) * 20).tolist()
    torch.manual_seed(0)
    reference_layer = make()
    with torch.no_grad():
        reference_layer.weight.uniform_(0.2, 0.8, generator=g)
    layer = copy.deepcopy(reference_layer)
    expected_w, expected_e = proposals_reference(reference_layer, rule, pre, post, rewards, TAU_E)
    learner = STDPLearner(layer, rule, dt=1.0, eligibility_tau=TAU_E)
    for t in range(40):
        learner.step(pre[t], post[t], reward=rewards[t])
    torch.testing.assert_close(layer.weight.detach(), expected_w, atol=1e-12, rtol=0)
    torch.testing.assert_close(learner.eligibility, expected_e, atol=1e-12, rtol=0)


def test_grad_mode_accumulates_minus_reward_times_eligibility():
    pre, post, rewards, w0 = problem(seed=2)
    layer = linear(w0)
    learner = STDPLearner(layer, ADDITIVE, dt=1.0, eligibility_tau=TAU_E, update="grad")
    e, expected = torch.zeros_like(w0), torch.zeros_like(w0)
    plain = STDPLearner(linear(w0), STDPRule(16.8, 33.7, 0.2, 0.21), dt=1.0, update="grad")
    for t in range(len(rewards)):
        dw = learner.step(pre[t], post[t], reward=rewards[t])
        e = e * math.exp(-1.0 / TAU_E) + plain.step(pre[t], post[t])
        torch.testing.assert_close(dw, rewards[t] * e, atol=1e-12, rtol=0)
        expected -= rewards[t] * e
    assert torch.equal(layer.weight.detach(), w0)  # grad mode leaves the weight alone
    torch.testing.assert_close(layer.weight.grad, expected, atol=1e-12, rtol=0)


def test_run_equals_stepping_and_records_the_history():
    pre, post, rewards, w0 = problem(seed=4)
    stepper = STDPLearner(linear(w0), MULTIPLICATIVE, dt=1.0, eligibility_tau=TAU_E)
    dws = [stepper.step(pre[t], post[t], reward=rewards[t]) for t in range(len(rewards))]
    runner = STDPLearner(linear(w0), MULTIPLICATIVE, dt=1.0, eligibility_tau=TAU_E)
    history = runner.run(pre, post, record=True, reward=rewards)
    assert torch.equal(runner.layer.weight, stepper.layer.weight)
    assert torch.equal(runner.eligibility, stepper.eligibility)
    torch.testing.assert_close(history.dw, torch.stack(dws).sum(0), atol=1e-12, rtol=0)
    assert torch.equal(history.weights[-1], runner.layer.weight.detach())
    assert history.weights.shape == (len(rewards), 3, 5) and torch.equal(history.post_traces[-1], runner.post_trace)


def test_the_eligibility_is_checkpointed_and_resumes_bit_for_bit():
    pre, post, rewards, w0 = problem(seed=5)
    whole = STDPLearner(linear(w0), ADDITIVE, dt=1.0, eligibility_tau=TAU_E)
    whole.run(pre, post, reward=rewards)
    first = STDPLearner(linear(w0), ADDITIVE, dt=1.0, eligibility_tau=TAU_E)
    first.run(pre[:30], post[:30], reward=rewards[:30])
    state = first.state_dict()
    assert state["config"]["eligibility_tau"] == TAU_E and state["eligibility"].shape == (3, 5)
    second = STDPLearner(linear(first.layer.weight.detach()), ADDITIVE, dt=1.0, eligibility_tau=TAU_E)
    second.load_state_dict(state)
    second.run(pre[30:], post[30:], reward=rewards[30:])
    assert torch.equal(second.layer.weight, whole.layer.weight) and torch.equal(second.eligibility, whole.eligibility)
    plain = STDPLearner(linear(w0), ADDITIVE, dt=1.0)
    assert "eligibility" not in plain.state_dict() and "eligibility_tau" not in plain.state_dict()["config"]
    with pytest.raises(ValueError, match="eligibility_tau"):
        plain.load_state_dict(state, strict=False)
    bad = dict(state, eligibility=torch.full((3, 5), math.nan, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        second.load_state_dict(bad)


def snapshot(learner):
    weight = learner.layer.weight
    return (weight.detach().clone(), None if weight.grad is None else weight.grad.clone(),
            None if learner.eligibility is None else learner.eligibility.clone(), learner.steps,
            {k: v.clone() for k, v in (learner.traces or {}).items()})


def assert_untouched(learner, before):
    now = snapshot(learner)
    assert torch.equal(now[0], before[0]) and now[3] == before[3]
    assert (now[1] is None) == (before[1] is None) and (now[1] is None or torch.equal(now[1], before[1]))
    assert (now[2] is None) == (before[2] is None) and (now[2] is None or torch.equal(now[2], before[2]))
    assert now[4].keys() == before[4].keys() and all(torch.equal(now[4][k], before[4][k]) for k in now[4])


@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_bad_rewards_are_refused_and_change_nothing(update):
    pre, post, rewards, w0 = problem(seed=6)
    learner = STDPLearner(linear(w0), ADDITIVE, dt=1.0, eligibility_tau=TAU_E, update=update)
    learner.run(pre[:10], post[:10], reward=rewards[:10])
    before = snapshot(learner)
    cases = [
        (lambda: learner.step(pre[0], post[0], reward=math.nan), ValueError, "reward must be finite"),
        (lambda: learner.step(pre[0], post[0], reward="1"), TypeError, "reward must be a real number"),
        (lambda: learner.step(pre[0], post[0], reward=torch.ones(2)), ValueError, "per-sample reward"),
        (lambda: learner.run(pre, post, reward=rewards[:5]), ValueError, "5 values for a run of 60 steps"),
        (lambda: learner.run(pre, post, reward=[0.0] * 59 + [math.inf]), ValueError, r"reward\[59\] must be finite"),
        (lambda: learner.run(pre, post, reward=torch.ones(60, 2)), ValueError, "1-d tensor"),
        (lambda: learner.run(pre, post, reward=3.0), TypeError, "sequence of T = 60 rewards"),
        # a reward so large that the weight update overflows at step 20 of the run: all or nothing
        (lambda: learner.run(pre, post, reward=[0.0] * 20 + [1e308] * 40), ValueError, "not finite"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
        assert_untouched(learner, before)


def test_a_reward_needs_an_eligibility_trace_and_tau_e_is_checked():
    learner = STDPLearner(nn.Linear(5, 3, bias=False), ADDITIVE)
    with pytest.raises(ValueError, match="eligibility_tau=tau_e"):
        learner.step(torch.ones(1, 5), torch.ones(1, 3), reward=1.0)
    with pytest.raises(ValueError, match="eligibility_tau=tau_e"):
        learner.run(torch.ones(2, 1, 5), torch.ones(2, 1, 3), reward=[1.0, 0.0])
    assert learner.steps == 0 and learner.eligibility is None
    for bad, error in ((0.0, ValueError), (-5.0, ValueError), (math.inf, ValueError), ("50", TypeError), (True, TypeError)):
        with pytest.raises(error, match="eligibility_tau"):
            STDPLearner(nn.Linear(5, 3, bias=False), ADDITIVE, eligibility_tau=bad)


def test_reset_forgets_the_eligibility_and_the_trace_follows_the_layer_dtype():
    learner = STDPLearner(nn.Linear(5, 3, bias=False), ADDITIVE, eligibility_tau=TAU_E)
    learner.step(torch.ones(1, 5), torch.ones(1, 3))
    learner.step(torch.ones(1, 5), torch.ones(1, 3))
    assert learner.eligibility.dtype == torch.float32
    learner.layer.double()
    learner.step(torch.ones(1, 5, dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64), reward=0.1)
    assert learner.eligibility.dtype == torch.float64
    learner.reset()
    assert learner.eligibility is None and learner.steps == 0


@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_quiet_stretches_of_a_reward_run_are_stepping_bit_for_bit(monkeypatch, update):
    """Steps without spikes and reward only decay traces and eligibility: run() skips the step's
    machinery for them, with the same arithmetic."""
    pre, post, rewards, w0 = problem(seed=7, steps=200, density=0.02)
    pre[150:], post[150:] = False, False  # a long quiet tail
    rewards = [r if t % 7 else 0.0 for t, r in enumerate(rewards)]
    stepper = STDPLearner(linear(w0), ADDITIVE, dt=1.0, eligibility_tau=TAU_E, update=update)
    for t in range(200):
        stepper.step(pre[t], post[t], reward=rewards[t])
    runner = STDPLearner(linear(w0), ADDITIVE, dt=1.0, eligibility_tau=TAU_E, update=update)
    calls = []
    original = STDPLearner._quiet_steps
    monkeypatch.setattr(STDPLearner, "_quiet_steps", lambda self, n: calls.append(n) or original(self, n))
    runner.run(pre, post, reward=rewards)
    assert sum(calls) > 100  # most steps were quiet
    assert torch.equal(runner.layer.weight, stepper.layer.weight)
    assert torch.equal(runner.eligibility, stepper.eligibility) and runner.steps == stepper.steps
    assert all(torch.equal(runner.traces[n], stepper.traces[n]) for n in stepper.traces)
    if update == "grad":
        assert torch.equal(runner.layer.weight.grad, stepper.layer.weight.grad)
