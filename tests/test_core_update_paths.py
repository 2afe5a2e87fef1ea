"""Each update path of the learner, forced and pinned against a naive reference.

``run()`` takes one of four paths (:class:`stdpwidgets.core.event_run.UpdatePath`) and ``step()``
on ``nn.Linear`` a sparse or a dense one; which path serves a call is a matter of speed only. So
every path is forced here, shown to have run (a spy on the function only it calls), and compared
with a per-synapse Python loop written from the rule's definition, and with stepping.
"""

import math
import warnings

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core import event_run, sparse_linear
from stdpwidgets.core.event_run import UpdatePath, forced_path, choose_path
from stdpwidgets.core.triplet import TripletRule

from reference import naive_pair_synapses

N_IN, N_OUT, T = 6, 4, 30
ADDITIVE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=1.0)
UNBOUNDED = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.05, a_minus=0.06)
MULTIPLICATIVE = STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
GUTIG = STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence="gutig", mu=0.3, w_min=0.0, w_max=1.0)
RULES = {"additive": ADDITIVE, "unbounded": UNBOUNDED, "multiplicative": MULTIPLICATIVE, "gutig": GUTIG}


def naive_pair_rule(rule, w0, pre, post, dt=1.0, update="in-place"):
    """All-to-all pair STDP synapse by synapse (tests/reference.py), as a float64 tensor."""
    return torch.from_numpy(naive_pair_synapses(rule, w0, pre, post, dt=dt, update=update))


def trains(batch, density, seed, steps=T):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, N_IN, generator=g) < density,
            torch.rand(steps, batch, N_OUT, generator=g) < density)


def learner_for(rule, update="in-place", seed=0, n_in=N_IN, n_out=N_OUT):
    layer = nn.Linear(n_in, n_out, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(0.2 + 0.6 * torch.rand(n_out, n_in, generator=torch.Generator().manual_seed(seed),
                                                  dtype=torch.float64))
    return STDPLearner(layer, rule, dt=1.0, update=update)


def result_of(learner):
    weight = learner.layer.weight
    return (-weight.grad if learner.update == "grad" else weight).detach().clone()


class Spy:
    """Counts calls of a module function while passing them through."""

    def __init__(self, monkeypatch, module, name):
        self.calls, original = 0, getattr(module, name)

        def wrapped(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)


# (path, rule, update, the function only that path calls)
FORCED = [
    (UpdatePath.SUMMED, "unbounded", "in-place", None),
    (UpdatePath.SUMMED, "unbounded", "grad", None),
    (UpdatePath.SCAN, "additive", "in-place", (event_run, "_scan_chunk")),
    (UpdatePath.SCAN, "multiplicative", "in-place", (event_run, "_scan_chunk")),
    (UpdatePath.SEQUENTIAL, "additive", "in-place", (event_run, "_sequential_chunk")),
    (UpdatePath.SEQUENTIAL, "gutig", "in-place", (event_run, "_sequential_chunk")),
    (UpdatePath.SEQUENTIAL, "additive", "grad", (event_run, "_sequential_chunk")),
    (UpdatePath.SPARSE, "additive", "in-place", (sparse_linear, "sparse_change")),
    (UpdatePath.SPARSE, "multiplicative", "in-place", (sparse_linear, "sparse_change")),
    (UpdatePath.SPARSE, "gutig", "grad", (sparse_linear, "sparse_change")),
]


@pytest.mark.parametrize("path,rule_name,update,only", FORCED,
                         ids=[f"{p.value}-{r}-{u}" for p, r, u, _ in FORCED])
@pytest.mark.parametrize("batch,density", [(1, 0.1), (3, 0.3)])
@pytest.mark.parametrize("stepwise", [False, True], ids=["chunked-traces", "stepwise-traces"])
def test_each_forced_path_matches_the_naive_loop_and_stepping(monkeypatch, path, rule_name, update, only,
                                                             batch, density, stepwise):
    """``stepwise``: the traces event by event (large layers) instead of a chunk at once."""
    monkeypatch.setattr(event_run, "STEPWISE_MIN_TRACE_ELEMENTS", 0 if stepwise else 2**40)
    monkeypatch.setattr(event_run, "STEPWISE_MIN_WEIGHTS", 0 if stepwise else 2**40)
    rule = RULES[rule_name]
    pre, post = trains(batch, density, seed=batch)
    reference = naive_pair_rule(rule, learner_for(rule).layer.weight.detach(), pre, post, update=update)

    stepper = learner_for(rule, update)
    for t in range(T):
        stepper.step(pre[t], post[t])

    runner = learner_for(rule, update)
    spy = Spy(monkeypatch, *only) if only else None
    with forced_path(path):
        runner.run(pre, post)
    if spy is not None:
        assert spy.calls > 0, f"{path} did not run"
    torch.testing.assert_close(result_of(runner), reference, atol=1e-12, rtol=0)
    torch.testing.assert_close(result_of(stepper), reference, atol=1e-12, rtol=0)
    for name, trace in stepper.traces.items():
        torch.testing.assert_close(runner.traces[name], trace, atol=1e-12, rtol=0)


@pytest.mark.parametrize("rule_name", ["additive", "gutig"])
def test_with_stepwise_traces_a_dense_run_is_stepping_bit_for_bit(monkeypatch, rule_name):
    monkeypatch.setattr(event_run, "STEPWISE_MIN_TRACE_ELEMENTS", 0)
    rule = RULES[rule_name]
    pre, post = trains(3, 0.5, seed=11)
    pre[:, 0, 0] = True  # every step is an event
    stepper, runner = learner_for(rule), learner_for(rule)
    for t in range(T):
        stepper.step(pre[t], post[t])
    with forced_path(UpdatePath.SEQUENTIAL):  # (a small additive layer would take SCAN)
        history = runner.run(pre, post, record=True)
    assert torch.equal(runner.layer.weight, stepper.layer.weight)
    assert all(torch.equal(runner.traces[n], stepper.traces[n]) for n in stepper.traces)
    assert torch.equal(history.weights[-1], stepper.layer.weight.detach())
    assert torch.equal(history.traces["x"][-1], stepper.traces["x"])


def test_run_chooses_the_path_the_case_allows():
    big = nn.Linear(300, 200, bias=False)
    small = nn.Linear(4, 3, bias=False)
    assert choose_path(STDPLearner(small, UNBOUNDED), 50, False) is UpdatePath.SUMMED
    assert choose_path(STDPLearner(small, UNBOUNDED), 50, True) is UpdatePath.SEQUENTIAL
    assert choose_path(STDPLearner(small, GUTIG, update="grad"), 50, False) is UpdatePath.SEQUENTIAL
    assert choose_path(STDPLearner(small, UNBOUNDED, update="grad"), 50, False) is UpdatePath.SUMMED
    assert choose_path(STDPLearner(small, ADDITIVE), 50, False) is UpdatePath.SCAN
    assert choose_path(STDPLearner(small, MULTIPLICATIVE), 50, False) is UpdatePath.SCAN
    assert choose_path(STDPLearner(small, GUTIG), 50, False) is UpdatePath.SEQUENTIAL
    assert choose_path(STDPLearner(big, ADDITIVE), 50, False) is UpdatePath.SEQUENTIAL


def test_summing_interacting_updates_falls_back_to_one_at_a_time(monkeypatch):
    pre, post = trains(2, 0.3, seed=3)
    reference = naive_pair_rule(ADDITIVE, learner_for(ADDITIVE).layer.weight.detach(), pre, post)
    runner = learner_for(ADDITIVE)
    spy = Spy(monkeypatch, event_run, "_sequential_chunk")
    with forced_path(UpdatePath.SUMMED):
        runner.run(pre, post)
    assert spy.calls > 0
    torch.testing.assert_close(result_of(runner), reference, atol=1e-12, rtol=0)


def test_forcing_the_sparse_path_needs_a_linear_layer_within_its_bounds():
    learner = STDPLearner(nn.Conv1d(1, 2, 3, bias=False), ADDITIVE)
    with forced_path(UpdatePath.SPARSE), pytest.raises(ValueError, match="nn.Linear"):
        learner.run(torch.ones(2, 1, 1, 8), torch.ones(2, 1, 2, 6))
    assert learner.steps == 0


# ------------------------------------------------------------------ step: sparse or dense

def both_sides(monkeypatch, rule, update, batch, density, rule_seed=0, dtype=torch.float64):
    """(dense, sparse, sparse-path calls): the same steps with the sparse path off and forced."""
    pre, post = trains(batch, density, seed=7 + batch)
    out = []
    for fraction in (-1.0, 10.0):  # -1: nothing is cheap enough (dense); 10: everything is (sparse)
        monkeypatch.setattr(sparse_linear, "SPARSE_MAX_FRACTION", fraction)
        spy = Spy(monkeypatch, sparse_linear, "sparse_change")
        learner = learner_for(rule, update, seed=rule_seed)
        learner.layer.to(dtype)
        dws = [learner.step(pre[t].to(dtype) if t % 2 else pre[t], post[t]) for t in range(T)]
        out.append((result_of(learner), torch.stack(dws), learner.traces, spy.calls))
        monkeypatch.undo()
    return out


@pytest.mark.parametrize("update", ["in-place", "grad"])
@pytest.mark.parametrize("rule_name", ["additive", "unbounded", "multiplicative", "gutig", "triplet"])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_sparse_step_equals_the_dense_step(monkeypatch, rule_name, update, batch):
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal", w_min=0.0, w_max=1.0) \
        if rule_name == "triplet" else RULES[rule_name]
    (w_dense, dw_dense, tr_dense, dense_calls), (w_sparse, dw_sparse, tr_sparse, sparse_calls) = both_sides(
        monkeypatch, rule, update, batch, density=0.15)
    assert dense_calls == 0 and sparse_calls == T
    # the same operations in the same order: equal to the rounding of one multiply-add (a GEMM
    # kernel may fuse it, or not, depending on the size) and of the batch sum's order
    torch.testing.assert_close(w_sparse, w_dense, atol=1e-15, rtol=0)
    torch.testing.assert_close(dw_sparse, dw_dense, atol=1e-15, rtol=0)
    for name in tr_dense:
        assert torch.equal(tr_sparse[name], tr_dense[name])


def test_the_sparse_step_equals_the_dense_step_in_float32_to_one_rounding(monkeypatch):
    (w_dense, dw_dense, _, _), (w_sparse, dw_sparse, _, calls) = both_sides(
        monkeypatch, ADDITIVE, "in-place", 1, 0.05, dtype=torch.float32)
    assert calls == T
    assert float((w_sparse - w_dense).abs().max()) <= 2 * torch.finfo(torch.float32).eps
    assert float((dw_sparse - dw_dense).abs().max()) <= 2 * torch.finfo(torch.float32).eps


def test_a_sparse_step_is_chosen_only_when_few_weights_are_touched(monkeypatch):
    learner = learner_for(ADDITIVE, n_in=400, n_out=300)
    spy = Spy(monkeypatch, sparse_linear, "sparse_change")
    pre, post = torch.zeros(1, 400, dtype=torch.bool), torch.zeros(1, 300, dtype=torch.bool)
    pre[0, :2] = True
    post[0, :1] = True
    learner.step(pre, post)  # touches 1 row + 2 columns: 400 + 2*300 of 120000 weights (0.8 %)
    assert spy.calls == 1
    pre[0, :40] = True
    learner.step(pre, post)  # 40 columns: 10 % of the weights, dense
    assert spy.calls == 1


def test_the_sparse_step_leaves_weights_outside_the_bounds_to_the_dense_step():
    """The dense step clips every weight every step; the sparse one only touched weights, so it
    must not serve a weight set outside the bounds."""
    learner = learner_for(ADDITIVE, n_in=100, n_out=80)
    with torch.no_grad():
        learner.layer.weight[5, 50] = 1.7
    pre, post = torch.zeros(1, 100, dtype=torch.bool), torch.zeros(1, 80, dtype=torch.bool)
    pre[0, 0] = True
    dw = learner.step(pre, post)
    assert float(learner.layer.weight.detach()[5, 50]) == 1.0 and float(dw[5, 50]) == pytest.approx(-0.7)


def test_a_weight_changed_between_sparse_steps_is_scanned_again(monkeypatch):
    """The sparse path skips its scan of the weight's bounds while the weight's version counter
    says nothing changed it since the last step; a change through torch (here out of the
    bounds and NaN) is seen at the next step."""
    scans = Spy(monkeypatch, sparse_linear, "extremes")
    learner = learner_for(ADDITIVE, n_in=100, n_out=80)
    pre, post = torch.zeros(1, 100, dtype=torch.bool), torch.zeros(1, 80, dtype=torch.bool)
    pre[0, 0] = True
    for _ in range(3):
        learner.step(pre, post)
    assert scans.calls == 1  # the first step only
    with torch.no_grad():
        learner.layer.weight[5, 50] = 1.7
    dw = learner.step(pre, post)
    assert scans.calls == 2
    assert float(learner.layer.weight.detach()[5, 50]) == 1.0 and float(dw[5, 50]) == pytest.approx(-0.7)
    learner.step(pre, post)
    with torch.no_grad():
        learner.layer.weight[6, 60] = math.nan
    before = learner.layer.weight.detach().clone()
    with pytest.raises(ValueError, match="not finite"):
        learner.step(pre, post)
    assert torch.equal(learner.layer.weight.detach().nan_to_num(), before.nan_to_num())


def test_the_path_of_a_step_depends_on_its_own_spikes_only(monkeypatch):
    """Dense and sparse paths agree to a rounding only, so the choice must not depend on earlier
    steps: a sparse step right after dense ones takes the sparse path, a dense batch whose first
    sample alone touches too much is told apart without a full scan, and a learner resumed from
    its state dict repeats the uninterrupted one bit for bit across both kinds of steps."""
    spy = Spy(monkeypatch, sparse_linear, "sparse_change")
    g = torch.Generator().manual_seed(3)
    busy = [(torch.rand(1, 400, generator=g) < 0.3, torch.rand(1, 300, generator=g) < 0.3) for _ in range(6)]
    quiet_pre, quiet_post = torch.zeros(1, 400, dtype=torch.bool), torch.zeros(1, 300, dtype=torch.bool)
    quiet_pre[0, 3], quiet_post[0, 7] = True, True
    steps = busy[:3] + [(quiet_pre, quiet_post)] * 3 + busy[3:] + [(quiet_pre, quiet_post)] * 3
    whole = learner_for(ADDITIVE, n_in=400, n_out=300)
    served = []
    for pre, post in steps:
        before = spy.calls
        whole.step(pre, post)
        served.append(spy.calls > before)
    assert served == [False] * 3 + [True] * 3 + [False] * 3 + [True] * 3
    first = learner_for(ADDITIVE, n_in=400, n_out=300)
    for pre, post in steps[:5]:
        first.step(pre, post)
    resumed = learner_for(ADDITIVE, n_in=400, n_out=300)
    with torch.no_grad():
        resumed.layer.weight.copy_(first.layer.weight)
    resumed.load_state_dict(first.state_dict())
    for pre, post in steps[5:]:
        resumed.step(pre, post)
    assert torch.equal(resumed.layer.weight, whole.layer.weight)
    assert all(torch.equal(resumed.traces[k], whole.traces[k]) for k in whole.traces)
    batched = learner_for(ADDITIVE, n_in=400, n_out=300)  # the first sample decides a busy batch
    nonzero = Spy(monkeypatch, torch.Tensor, "nonzero")
    batched.step(torch.rand(4, 400, generator=g) < 0.3, torch.rand(4, 300, generator=g) < 0.3)
    assert nonzero.calls == 0


def test_nan_in_an_untouched_weight_still_raises_and_changes_nothing():
    learner = learner_for(ADDITIVE, n_in=100, n_out=80)
    with torch.no_grad():
        learner.layer.weight[5, 50] = math.nan
    before = learner.layer.weight.detach().clone()
    pre, post = torch.zeros(1, 100, dtype=torch.bool), torch.zeros(1, 80, dtype=torch.bool)
    pre[0, 0] = True
    with pytest.raises(ValueError, match="not finite"):
        learner.step(pre, post)
    assert torch.equal(learner.layer.weight.detach().nan_to_num(), before.nan_to_num())
    assert learner.steps == 0 and learner.traces is None


# ------------------------------------------------------------------ silent postsynaptic layer

def silent_learner(dt=1.0):
    return STDPLearner(nn.Linear(5, 3, bias=False), ADDITIVE, dt=dt)


def test_a_silent_postsynaptic_layer_warns_once_when_stepping():
    learner = silent_learner()
    pre, post = torch.ones(2, 5, dtype=torch.bool), torch.zeros(2, 3, dtype=torch.bool)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(999):
            learner.step(pre, post)
        assert not caught  # 999 ms: not yet
        for _ in range(2000):
            learner.step(pre, post)
    silent = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(silent) == 1
    assert "no postsynaptic spike for 1000 steps (1000 ms)" in str(silent[0].message)
    assert "threshold" in str(silent[0].message)


def test_a_silent_postsynaptic_layer_warns_from_run_and_counts_simulated_time():
    pre, post = torch.ones(3000, 1, 5, dtype=torch.bool), torch.zeros(3000, 1, 3, dtype=torch.bool)
    fine = silent_learner(dt=0.1)  # 3000 steps of 0.1 ms: 300 ms, too short to warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine.run(pre, post)
    learner = silent_learner()
    with pytest.warns(RuntimeWarning, match="no postsynaptic spike for 3000 steps"):
        learner.run(pre, post)


def test_a_layer_that_spikes_now_and_then_does_not_warn():
    learner = silent_learner()
    pre, post = torch.ones(4000, 1, 5, dtype=torch.bool), torch.zeros(4000, 1, 3, dtype=torch.bool)
    post[::900, 0, 1] = True  # a spike every 900 ms
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner.run(pre[:2000], post[:2000])
        for t in range(2000, 4000):
            learner.step(pre[t], post[t])


# ------------------------------------------------------------------ step() arguments

def test_step_without_spikes_and_without_attach_says_what_to_do():
    learner = silent_learner()
    with pytest.raises(TypeError, match="attach"):
        learner.step()
    with pytest.raises(TypeError, match="no post spikes"):
        learner.step(torch.ones(1, 5))
    assert learner.steps == 0


# ------------------------------------------------------------------ the returned dw's memory

@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_a_returned_dw_is_never_overwritten_while_anything_refers_to_it(update):
    """step() recycles the memory of the dw it returned last time only when nothing refers to it
    any more (no name, list, view or numpy array): what a user keeps never changes."""
    learner = STDPLearner(nn.Linear(50, 40, bias=False), ADDITIVE, update=update)
    g = torch.Generator().manual_seed(0)
    pre = lambda: torch.rand(3, 50, generator=g) < 0.3  # noqa: E731
    post = lambda: torch.rand(3, 40, generator=g) < 0.3  # noqa: E731
    kept = []
    for holder in ("name", "list", "view", "numpy"):
        dw = learner.step(pre(), post())
        copy = dw.clone()
        held = {"name": dw, "list": [dw], "view": dw[1:], "numpy": dw.numpy()}[holder]
        address = dw.data_ptr()
        del dw
        for _ in range(3):
            assert learner.step(pre(), post()).data_ptr() != address
        kept.append((held, copy))
    for held, copy in kept:
        value = held[0] if isinstance(held, list) else torch.as_tensor(held)
        assert torch.equal(value, copy if value.shape == copy.shape else copy[1:])
    dw = learner.step(pre(), post())
    address = dw.data_ptr()
    del dw  # nothing refers to it: its memory serves the next step
    assert learner.step(pre(), post()).data_ptr() == address


def test_traces_a_user_keeps_are_never_overwritten():
    """The new traces reuse the memory of the ones replaced two steps earlier only when nothing
    refers to those any more."""
    learner = STDPLearner(nn.Linear(50, 40, bias=False), TripletRule.preset("visual-cortex-all-to-all-minimal"))
    g = torch.Generator().manual_seed(1)
    kept = []
    for t in range(12):
        learner.step(torch.rand(3, 50, generator=g) < 0.3, torch.rand(3, 40, generator=g) < 0.3)
        if t % 4 == 0:
            kept.append(("dict", learner.traces, {k: v.clone() for k, v in learner.traces.items()}))
        if t % 4 == 1:
            kept.append(("tensor", learner.pre_trace, learner.pre_trace.clone()))
        if t % 4 == 2:
            kept.append(("numpy", learner.post_trace.numpy(), learner.post_trace.clone()))
    for kind, held, copy in kept:
        if kind == "dict":
            assert all(torch.equal(held[k], copy[k]) for k in copy)
        else:
            assert torch.equal(torch.as_tensor(held), copy)
    addresses = set()
    for _ in range(6):  # nothing kept any more: two sets of memory take turns
        learner.step(torch.rand(3, 50, generator=g) < 0.3, torch.rand(3, 40, generator=g) < 0.3)
        addresses.add(learner.pre_trace.data_ptr())
    assert len(addresses) == 2


def test_after_a_reset_the_traces_start_from_zeros_in_their_old_memory_unless_it_is_kept():
    """reset() keeps the forgotten traces' memory for the zeros of the next episode (and the
    steps after it), so short episodes do not pay fresh memory each time; a trace the caller
    still holds is never zeroed or overwritten, and every episode equals a fresh learner's."""
    g = torch.Generator().manual_seed(2)
    episodes = [[(torch.rand(3, 50, generator=g) < 0.3, torch.rand(3, 40, generator=g) < 0.3) for _ in range(4)]
                for _ in range(3)]
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    learner = STDPLearner(nn.Linear(50, 40, bias=False), rule)
    fresh = STDPLearner(nn.Linear(50, 40, bias=False), rule)
    fresh.layer.load_state_dict(learner.layer.state_dict())
    addresses = []
    for k, episode in enumerate(episodes):
        learner.reset()
        fresh = STDPLearner(fresh.layer, rule)  # a new learner each episode: nothing recycled
        held = learner.pre_trace if k == 1 else None  # kept across the reset
        copy = None if held is None else held.clone()
        for pre, post in episode:
            learner.step(pre, post)
            fresh.step(pre, post)
            addresses.append(learner.pre_trace.data_ptr())
        assert torch.equal(learner.layer.weight, fresh.layer.weight)
        assert all(torch.equal(learner.traces[n], fresh.traces[n]) for n in fresh.traces)
        if held is not None:
            assert torch.equal(held, copy) and held.data_ptr() not in addresses[-4:]
    # after the first episode the pre trace lives in two pieces of memory, taking turns
    assert len(set(addresses[4:])) <= 3 and set(addresses[-4:]) <= set(addresses[:8])


def test_a_recycled_dw_is_cleared_where_the_last_sparse_step_wrote(monkeypatch):
    """Sparse steps hand out dw in recycled memory, clearing only the rows and columns the last
    one touched: every dw must still equal the dense path's, zeros included."""
    pre, post = trains(1, 0.2, seed=5, steps=40)
    dense, sparse = learner_for(ADDITIVE, seed=1), learner_for(ADDITIVE, seed=1)
    for t in range(40):
        monkeypatch.setattr(sparse_linear, "SPARSE_MAX_FRACTION", -1.0)
        expected = dense.step(pre[t], post[t])
        monkeypatch.setattr(sparse_linear, "SPARSE_MAX_FRACTION", 10.0)
        got = sparse.step(pre[t], post[t])
        torch.testing.assert_close(got, expected, atol=1e-15, rtol=0)
        del got, expected  # nothing refers to them: their memory is reused


@pytest.mark.parametrize("update", ["in-place", "grad"])
@pytest.mark.parametrize("dependence", ["multiplicative", "gutig", "van-rossum"])
def test_factors_of_a_weight_known_within_its_bounds_equal_the_clamped_factors(monkeypatch, dependence, update):
    """A weight this learner left within its bounds, unchanged since (its version counter), gets
    its soft-bound factors without the clamps at zero, in fewer passes: the steps must be bit
    for bit those of a learner made to clamp them (every other call below is told it cannot
    know)."""
    # (multiplicative with w_min = 0 folds its factors into the correlations: the next test)
    w_min = -0.25 if dependence == "multiplicative" else 0.0
    rule = STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence=dependence, mu=0.3, w_min=w_min, w_max=1.0)
    known, clamped = learner_for(rule, update, seed=4), learner_for(rule, update, seed=4)
    pre, post = trains(3, 0.3, seed=11)
    seen = []
    original = type(rule).add_weighted_change_

    def spy(self, work, w, potentiation, depression, scratch, scratch_down, inside=False):
        seen.append(inside)
        told = inside if len(seen) % 2 else False  # calls alternate: known, then clamped
        return original(self, work, w, potentiation, depression, scratch, scratch_down, told)

    monkeypatch.setattr(type(rule), "add_weighted_change_", spy)
    for t in range(T):
        assert torch.equal(known.step(pre[t], post[t]), clamped.step(pre[t], post[t]))
    assert torch.equal(result_of(known), result_of(clamped))
    # known from the second step on (grad mode: from the first, by one scan of the weight,
    # which stays put)
    assert seen[0::2] == [update == "grad"] + [True] * (T - 1)


@pytest.mark.parametrize("update", ["in-place", "grad"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_multiplicative_factors_folded_into_the_correlations_equal_the_factors_applied(monkeypatch, update, reduction,
                                                                                       kind):
    """Multiplicative with w_min = 0, a weight known within its bounds: the change is
    a+ w_max P - w (a+ P + a- D), the second correlation adding a+ P as it is written (a GEMM
    for Linear, the generic form for convolutions). Every step after the first (grad mode:
    every step) takes that form; the weights equal a learner that applies the factors
    (w_max - w and w) one by one to a rounding (float64), and the synapse-by-synapse reference."""
    rule = MULTIPLICATIVE

    def layer():
        if kind == "linear":
            return learner_for(rule, seed=4).layer
        conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).double()
        with torch.no_grad():
            conv.weight.copy_(0.2 + 0.6 * torch.rand(conv.weight.shape, generator=torch.Generator().manual_seed(4),
                                                     dtype=torch.float64))
        return conv

    folded, factored = (STDPLearner(layer(), rule, dt=1.0, update=update, reduction=reduction) for _ in range(2))
    w0 = folded.layer.weight.detach().clone()
    if kind == "linear":
        pre, post = trains(3, 0.3, seed=11)
    else:
        g = torch.Generator().manual_seed(11)
        pre, post = torch.rand(T, 3, 2, 5, 5, generator=g) < 0.3, torch.rand(T, 3, 3, 5, 5, generator=g) < 0.3
    spy = Spy(monkeypatch, type(folded._update), "_add_folded_")
    for t in range(T):
        folded.step(pre[t], post[t])
        with monkeypatch.context() as m:  # the factors' own passes
            m.setattr(type(factored._update), "_folds", property(lambda self: False))
            factored.step(pre[t], post[t])
    assert spy.calls == (T if update == "grad" else T - 1)
    got, expected = result_of(folded), result_of(factored)
    assert not torch.equal(got, w0)
    torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-15)  # a rounding of |got| up to ~20
    if reduction == "sum" and kind == "linear":  # the reference sums over the batch
        reference = naive_pair_rule(rule, w0.numpy(), pre.numpy(), post.numpy(), update=update)
        assert torch.allclose(got, reference, rtol=0, atol=1e-12)


def test_a_weight_outside_its_bounds_is_not_folded(monkeypatch):
    """The folded form equals the clamped factors only within the bounds: a weight set outside
    them takes the clamped factors, as the other learner does, bit for bit."""
    folded, factored = learner_for(MULTIPLICATIVE, seed=4), learner_for(MULTIPLICATIVE, seed=4)
    pre, post = trains(1, 0.3, seed=12)
    for learner in (folded, factored):
        learner.step(pre[0], post[0])
        with torch.no_grad():
            learner.layer.weight[0, :5] = 1.5
            learner.layer.weight[1, :5] = -0.5
    spy = Spy(monkeypatch, type(folded._update), "_add_folded_")
    assert torch.equal(folded.step(pre[1], post[1]), factored.step(pre[1], post[1]))
    assert spy.calls == 0


def test_large_traces_take_no_scan():
    """With traces computed event by event the scan has nothing left to save: stepping it is."""
    small = nn.Linear(4, 3, bias=False)
    assert choose_path(STDPLearner(small, ADDITIVE), 50, False, stepwise=True) is UpdatePath.SEQUENTIAL
    assert choose_path(STDPLearner(small, MULTIPLICATIVE), 50, False, stepwise=True) is UpdatePath.SEQUENTIAL
    assert choose_path(STDPLearner(small, UNBOUNDED), 50, False, stepwise=True) is UpdatePath.SUMMED


@pytest.mark.parametrize("rule_name,update", [("unbounded", "in-place"), ("unbounded", "grad"),
                                              ("weighted-unbounded", "grad")])
def test_summed_events_with_large_traces_are_summed_event_by_event(monkeypatch, update, rule_name):
    """Large traces: the summed path takes each event's traces as step() does (no chunked
    recurrence) and adds up the events' changes; equal to the naive loop and to stepping.
    (A weight-dependent unbounded rule sums in grad mode only, where the weight stays.)"""
    monkeypatch.setattr(event_run, "STEPWISE_MIN_TRACE_ELEMENTS", 0)
    rule = UNBOUNDED if rule_name == "unbounded" else STDPRule(
        16.8, 33.7, 0.05, 0.06, weight_dependence=(lambda w: 1.5 - w, lambda w: w))
    pre, post = trains(3, 0.3, seed=5)
    stepper, runner = learner_for(rule, update), learner_for(rule, update)
    for t in range(T):
        stepper.step(pre[t], post[t])
    summed = Spy(monkeypatch, event_run, "_summed_events")
    chunked = Spy(monkeypatch, event_run, "trace_sequence")
    runner.run(pre, post)
    assert summed.calls == 1 and chunked.calls == 0
    torch.testing.assert_close(result_of(runner), result_of(stepper), atol=1e-12, rtol=0)
    for name, trace in stepper.traces.items():
        torch.testing.assert_close(runner.traces[name], trace, atol=1e-12, rtol=0)
    if rule_name == "unbounded":
        reference = naive_pair_rule(rule, learner_for(rule).layer.weight.detach(), pre, post, update=update)
        torch.testing.assert_close(result_of(runner), reference, atol=1e-12, rtol=0)


def test_the_spiking_steps_of_count_spikes_come_from_their_checks(monkeypatch):
    """A run of count spikes learns which steps spike from its value checks (no second pass
    over the spikes); the events and the silence tracking equal stepping's."""
    pre, post = trains(2, 0.2, seed=9, steps=80)
    pre, post = pre.double(), post.double()
    pre[10:70], post[5:75] = 0.0, 0.0  # a long silence in the middle
    stepper, runner = learner_for(ADDITIVE), learner_for(ADDITIVE)
    for t in range(pre.shape[0]):
        stepper.step(pre[t], post[t])
    scans = Spy(monkeypatch, event_run, "_spiking")
    runner.run(pre, post)
    assert scans.calls == 0
    torch.testing.assert_close(result_of(runner), result_of(stepper), atol=1e-12, rtol=0)
    last_spike = max(t for t in range(post.shape[0]) if post[t].any())
    assert runner._last_post == stepper._last_post == last_spike + 1
    assert runner._busy_steps["post"][1].tolist() == [bool(post[t].any()) for t in range(post.shape[0])]
    runner.run(pre.bool(), post.bool())  # bools: one scan of each
    assert scans.calls == 2


def test_one_sample_touches_its_own_non_zeros_as_a_batch_would():
    """Batch 1 reads the touched rows and columns off the sample's non-zeros directly; they are
    what the batch rule (|x|.amax over the batch != 0) gives, NaN counted, -0.0 not."""
    layer = nn.Linear(6, 5, bias=False)
    p_post = torch.tensor([[0.0, 2.0, float("nan"), -0.0, 0.5]])
    d_pre = torch.tensor([[1.0, 0.0, 0.0, -0.0, float("inf"), 3.0]])
    terms = (torch.ones(1, 6), p_post, d_pre, torch.ones(1, 5))
    rows, cols = sparse_linear.touched(layer, terms, force=True)
    assert rows.tolist() == [1, 2, 4] and cols.tolist() == [0, 4, 5]
    doubled = tuple(torch.cat([t, torch.zeros_like(t)]) for t in terms)  # batch 2: the same touches
    rows2, cols2 = sparse_linear.touched(layer, doubled, force=True)
    assert torch.equal(rows, rows2) and torch.equal(cols, cols2)
