"""Reliability of the core (review of December 2026, areas core and ckpt).

Every bad input raises a clear TypeError/ValueError naming the argument, before anything
changes: weight, .grad, traces and step count are compared before and after. Where the review
found silent wrong results (run != step, NaN), the equivalence or the error is asserted.
"""

import io
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.parametrize as parametrize
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core import event_run
from stdpwidgets.core.triplet import TripletRule

RULE = STDPRule(16.8, 33.7, 0.01, 0.0105, w_min=0.0, w_max=1.0)
MULT = STDPRule(16.8, 33.7, 0.01, 0.0105, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
GUTIG = STDPRule(20.0, 20.0, 0.3, 0.3, weight_dependence="gutig", mu=0.05, w_min=0.1, w_max=0.7)


def snapshot(learner):
    w = learner.layer.weight
    grad = None if not w.is_leaf or w.grad is None else w.grad.clone()
    traces = None if learner.traces is None else {k: t.clone() for k, t in learner.traces.items()}
    return w.detach().clone(), grad, traces, learner.steps


def assert_untouched(learner, before):
    w, grad, traces, steps = before
    now = learner.layer.weight
    assert torch.allclose(now.detach(), w, rtol=0, atol=0, equal_nan=True)  # bit for bit, NaN too
    now_grad = now.grad if now.is_leaf else None
    assert (now_grad is None and grad is None) or torch.equal(now_grad, grad)
    assert (learner.traces is None) == (traces is None)
    if traces is not None:
        assert all(torch.equal(learner.traces[k], t) for k, t in traces.items())
    assert learner.steps == steps


def primed(rule=RULE, update="in-place", **kwargs):
    torch.manual_seed(0)
    layer = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.2, 0.8)
    learner = STDPLearner(layer, rule, update=update, **kwargs)
    learner.run(torch.rand(10, 2, 4) < 0.5, torch.rand(10, 2, 3) < 0.5)
    return learner


class Scale(nn.Module):
    def forward(self, x):
        return 2.0 * x


def scaled_linear():
    layer = nn.Linear(4, 3, bias=False)
    parametrize.register_parametrization(layer, "weight", Scale())
    return layer


def legacy(norm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return norm(nn.Linear(4, 3, bias=False))


def inference_linear():
    with torch.inference_mode():
        return nn.Linear(4, 3, bias=False)


# ---------------------------------------------------------------- construction

@pytest.mark.parametrize("make,rule,error,match", [
    (scaled_linear, RULE, ValueError, r"layer\.weight is parametrized \(Scale"),
    (lambda: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3)), RULE, ValueError, "parametrized .*would be lost"),
    (lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3)), RULE, ValueError, "parametrized .*remove_parametrizations"),
    (lambda: legacy(nn.utils.weight_norm), RULE, ValueError, r"layer\.weight .* not a registered nn\.Parameter"),
    (lambda: legacy(nn.utils.spectral_norm), RULE, ValueError, r"layer\.weight .* not a registered nn\.Parameter"),
    (lambda: nn.Linear(4, 3).half(), RULE, TypeError, r"layer\.weight is torch\.float16; .*resolution.*float32 or float64"),
    (lambda: nn.Conv2d(1, 1, 3).to(torch.bfloat16), RULE, TypeError, r"layer\.weight is torch\.bfloat16"),
    (inference_linear, RULE, ValueError, r"layer\.weight .* inference_mode"),
    (lambda: nn.Linear(4, 3, device="meta"), RULE, ValueError, r"layer\.weight .* meta device .*to_empty"),
    (lambda: nn.Linear(4, 3), STDPRule(16.8, 33.7, 1e39, 1e39, w_min=0.0, w_max=1.0), ValueError, "amplitude 1e\\+39 overflows the layer's torch.float32"),
])
def test_layers_stdp_cannot_update_are_refused(make, rule, error, match):
    layer = make()
    with pytest.raises(error, match=match):
        STDPLearner(layer, rule)


@pytest.mark.parametrize("value", [np.float32(20.0), np.float64(20.0), np.int64(20), torch.tensor(20.0)])
def test_numpy_and_0d_tensor_scalars_are_accepted(value):
    assert STDPRule(value, value, 0.01, 0.01).tau_pre == 20.0
    assert TripletRule.preset("visual-cortex-all-to-all-minimal", tau_x=value).tau_x == 20.0
    assert STDPLearner(nn.Linear(2, 2), RULE, dt=value).dt == 20.0


def test_power_law_accepts_numpy_scalars_and_names_a_bad_argument():
    from stdpwidgets.core.dependence import power_law

    assert power_law(np.float32(2.0), np.float64(0.5))[0].w0 == 2.0
    with pytest.raises(TypeError, match="power_law: mu must be a real number .*got str"):
        power_law(1.0, "0.4")


@pytest.mark.parametrize("value", [True, np.bool_(True), "20", torch.ones(2), 1j])
def test_non_real_scalars_are_refused_by_name(value):
    with pytest.raises(TypeError, match="tau_pre must be a real number .*NumPy scalar"):
        STDPRule(value, 20.0, 0.01, 0.01)
    with pytest.raises(TypeError, match="dt must be a real number"):
        STDPLearner(nn.Linear(2, 2), RULE, dt=value)


# ---------------------------------------------------------------- step / run

def parametrize_later(learner):
    parametrize.register_parametrization(learner.layer, "weight", Scale())


def legacy_norm_later(learner):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(learner.layer)


def replace_weight(learner):
    learner.layer.weight = nn.Parameter(torch.full((5, 4), 0.5))


def nan_dependence(learner):
    learner.rule = STDPRule(16.8, 33.7, 0.01, 0.01, weight_dependence=(lambda w: w * math.nan, torch.ones_like))


def wrong_shape_dependence(learner):
    learner.rule = STDPRule(16.8, 33.7, 0.01, 0.01, weight_dependence=(lambda w: torch.ones(5), torch.ones_like))


def nan_weight(learner):
    with torch.no_grad():
        learner.layer.weight[0, 0] = math.nan


def dependence(f_plus):
    def change(learner):
        learner.rule = STDPRule(16.8, 33.7, 0.01, 0.01, weight_dependence=(f_plus, torch.ones_like))
    return change


def huge_amplitude_after_double(learner):
    learner.layer.double()
    learner.rule = STDPRule(16.8, 33.7, 1e300, 1e300, w_min=0.0, w_max=1.0)


ONES = (torch.ones(2, 4), torch.ones(2, 3))
HUGE = (torch.full((2, 4), 1e20), torch.full((2, 3), 1e20))
BAD_CALLS = [
    ("half-after-step", lambda L: L.layer.half(), ONES, TypeError, r"layer\.weight is torch\.float16"),
    ("bf16-after-step", lambda L: L.layer.to(torch.bfloat16), ONES, TypeError, r"layer\.weight is torch\.bfloat16"),
    ("parametrized-after", parametrize_later, ONES, ValueError, r"layer\.weight is parametrized"),
    ("legacy-weight-norm-after", legacy_norm_later, ONES, ValueError, r"not a registered nn\.Parameter"),
    ("weight-replaced-other-shape", replace_weight, ONES, ValueError, r"shaped \(5, 4\) but the learner was built for \(3, 4\)"),
    ("sparse-spikes", None, (torch.ones(2, 4).to_sparse(), torch.ones(2, 3).to_sparse()), TypeError, "pre spikes must be a dense tensor.*to_dense"),
    ("spikes-huge-finite", lambda L: L.step(*HUGE), HUGE, ValueError, "not finite .*nothing was changed"),
    ("spikes-near-max", None, (torch.full((2, 4), 3e38), torch.ones(2, 3)), ValueError, "not finite"),
    ("callable-nan", nan_dependence, ONES, ValueError, "not finite .*custom weight dependence"),
    ("weight-holds-nan", nan_weight, (torch.zeros(2, 4), torch.zeros(2, 3)), ValueError, "layer.weight already holding NaN"),
    ("callable-wrong-shape", wrong_shape_dependence, ONES, ValueError, r"f_plus returned a tensor shaped \(5,\) for a weight shaped \(3, 4\)"),
    ("callable-other-device", dependence(lambda w: torch.ones(3, 4, device="meta")), ONES, ValueError, "f_plus returned a tensor on meta for a weight on cpu"),
    ("callable-returns-string", dependence(lambda w: "1"), ONES, TypeError, "f_plus must return a tensor shaped like the weight .*got str"),
    ("amplitude-overflow-later", huge_amplitude_after_double, (torch.full((2, 4), 1e10, dtype=torch.float64), torch.full((2, 3), 1e10, dtype=torch.float64)), ValueError, "not finite"),
]


@pytest.mark.parametrize("update", ["in-place", "grad"])
@pytest.mark.parametrize("method", ["step", "run"])
@pytest.mark.parametrize("name,change,spikes,error,match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls_raise_and_leave_state_untouched(name, change, spikes, error, match, method, update):
    learner = primed(update=update)
    if update == "grad":
        learner.layer.weight.grad = torch.full_like(learner.layer.weight, 0.25)
    if change is not None:
        change(learner)
    before = snapshot(learner)
    pre, post = spikes
    if method == "run":
        pre, post = pre.unsqueeze(0), post.unsqueeze(0)
        if pre.layout != torch.strided:
            pre, post = pre.coalesce(), post.coalesce()
    with pytest.raises(error, match=match):
        getattr(learner, method)(pre, post)
    assert_untouched(learner, before)


@pytest.mark.parametrize("method", ["step", "run"])
@pytest.mark.parametrize("make,pre,post", [
    (lambda: nn.Linear(4, 3, bias=False), (0, 4), (0, 3)),
    (lambda: nn.Conv2d(1, 2, 3, bias=False), (0, 1, 5, 5), (0, 2, 3, 3)),
])
def test_empty_batch_with_mean_is_refused(make, pre, post, method):
    learner = STDPLearner(make(), RULE, reduction="mean")
    before = snapshot(learner)
    pre, post = torch.zeros(pre), torch.zeros(post)
    if method == "run":
        pre, post = pre.unsqueeze(0), post.unsqueeze(0)
    with pytest.raises(ValueError, match="reduction='mean' needs a batch of at least one sample.*reduction='sum'"):
        getattr(learner, method)(pre, post)
    assert_untouched(learner, before)


def test_empty_batch_with_sum_is_a_zero_update():
    learner = STDPLearner(nn.Linear(4, 3, bias=False), RULE)
    w = learner.layer.weight.detach().clone().clamp(0, 1)
    dw = learner.step(torch.zeros(0, 4), torch.zeros(0, 3))
    assert torch.equal(learner.layer.weight.detach(), w) and not dw.isnan().any()


@pytest.mark.parametrize("pad,mode,size", [(3, "reflect", 3), (4, "circular", 3)])
def test_padding_too_big_for_the_input_is_a_value_error(pad, mode, size):
    learner = STDPLearner(nn.Conv2d(1, 1, 3, padding=pad, padding_mode=mode, bias=False), RULE)
    out = size + 2 * pad - 2
    with pytest.raises(ValueError, match=f"{mode} padding {pad} .* got \\({size}, {size}\\)"):
        learner.step(torch.ones(1, 1, size, size), torch.ones(1, 1, out, out))
    assert learner.traces is None and learner.steps == 0


@pytest.mark.parametrize("shape", [(0, 3), (4, 0)])
def test_linear_with_zero_features_learns_nothing(shape):
    learner = STDPLearner(nn.Linear(*shape, bias=False), RULE)
    assert learner.step(torch.ones(2, shape[0]), torch.ones(2, shape[1])).shape == (shape[1], shape[0])
    assert learner.run(torch.ones(4, 2, shape[0]), torch.ones(4, 2, shape[1])).shape == (shape[1], shape[0])
    assert learner.steps == 5


@pytest.mark.parametrize("method", ["step", "run"])
def test_traces_follow_a_dtype_change(method):
    learner = primed()
    learner.layer.double()
    pre, post = torch.ones(2, 4, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
    if method == "run":
        learner.run(pre.expand(3, 2, 4), post.expand(3, 2, 3))
    else:
        learner.step(pre, post)
    assert all(t.dtype == torch.float64 for t in learner.traces.values())
    assert learner.state_dict()["traces"]["x"].dtype == torch.float64


def test_a_custom_factor_in_another_dtype_keeps_the_weight_dtype():
    rule = STDPRule(16.8, 33.7, 0.01, 0.01, weight_dependence=(lambda w: (1 - w).double(), lambda w: 0.5))
    learner = STDPLearner(nn.Linear(4, 3, bias=False), rule)
    assert learner.step(torch.ones(2, 4), torch.ones(2, 3)).dtype == torch.float32
    assert learner.run(torch.ones(3, 2, 4), torch.ones(3, 2, 3)).dtype == torch.float32


# ---------------------------------------------------------------- step == run

@pytest.mark.parametrize("event", [0, 4])
@pytest.mark.parametrize("update", ["in-place", "grad"])
def test_weights_outside_the_bounds_run_equals_step(update, event):
    a, b = nn.Linear(4, 3, bias=False), nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        a.weight.fill_(2.0)
        b.weight.fill_(2.0)
        a.weight[0, 0] = -1.0
        b.weight[0, 0] = -1.0
    la, lb = STDPLearner(a, RULE, update=update), STDPLearner(b, RULE, update=update)
    pre, post = torch.zeros(10, 2, 4), torch.zeros(10, 2, 3)
    pre[event] = 1.0
    post[event + 1] = 1.0
    history = la.run(pre, post, record=True)
    for t in range(10):
        lb.step(pre[t], post[t])
    assert torch.equal(a.weight, b.weight)
    if update == "grad":
        assert torch.allclose(a.weight.grad, b.weight.grad, atol=1e-6, rtol=0)
        assert float(b.weight.grad[0, 1]) == pytest.approx(10.0, abs=1e-5)
    else:
        assert float(a.weight.detach().max()) == 1.0 and float(a.weight.detach().min()) >= 0.0
        assert float(history.weights[0].max()) == 1.0  # clipped at the first (silent) step, as step does
        assert torch.equal(history.weights[-1], a.weight.detach())


def test_a_clipped_weight_lies_exactly_on_its_bound():
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.6)
    learner = STDPLearner(layer, GUTIG)
    learner.step(torch.zeros(1, 1), torch.ones(1, 1))
    learner.step(torch.full((1, 1), 3.0), torch.zeros(1, 1))  # strong depression: clipped at w_min
    assert layer.weight.item() == torch.tensor(0.1).item()
    assert float(GUTIG.amplitudes(layer.weight.detach())[1]) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_gutig_small_mu_step_equals_run(seed):
    def trial(dtype, mode):
        g = torch.Generator().manual_seed(seed)
        w0 = 0.1 + 0.6 * torch.rand(8, 16, generator=g, dtype=torch.float64)
        pre, post = torch.rand(40, 2, 16, generator=g) < 0.4, torch.rand(40, 2, 8, generator=g) < 0.4
        layer = nn.Linear(16, 8, bias=False).to(dtype)
        with torch.no_grad():
            layer.weight.copy_(w0)
        learner = STDPLearner(layer, GUTIG)
        if mode == "run":
            learner.run(pre, post)
        else:
            for t in range(40):
                learner.step(pre[t], post[t])
        return layer.weight.detach().double()

    step32, run32, run64 = trial(torch.float32, "step"), trial(torch.float32, "run"), trial(torch.float64, "run")
    assert torch.equal(step32, run32)
    assert float((step32 - run64).abs().max()) < 1e-5


# ---------------------------------------------------------------- run is all or nothing

def test_run_out_of_memory_while_recording_changes_nothing(monkeypatch):
    learner = primed()
    before = snapshot(learner)

    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(event_run, "_expand_history", fail)
    with pytest.raises(MemoryError, match="nothing was changed.*record=False"):
        learner.run(torch.ones(5, 2, 4), torch.ones(5, 2, 3), record=True)
    assert_untouched(learner, before)


UNBOUNDED_RULE = STDPRule(16.8, 33.7, 0.01, 0.0105)
PATHS = {"sequential": (event_run.UpdatePath.SEQUENTIAL, RULE, 2), "sparse": (event_run.UpdatePath.SPARSE, RULE, 2),
         "multiplicative": (event_run.UpdatePath.SEQUENTIAL, MULT, 2),
         "scan": (event_run.UpdatePath.SCAN, RULE, 2), "summed": (event_run.UpdatePath.SUMMED, UNBOUNDED_RULE, 2)}
INTERRUPTIONS = [(name, "mid-run") for name in ("sequential", "sparse", "multiplicative")] + \
    [(name, "at-the-end") for name in PATHS]


@pytest.mark.parametrize("name,where", INTERRUPTIONS, ids=[f"{n}-{w}" for n, w in INTERRUPTIONS])
def test_a_run_interrupted_after_it_moved_the_weight_restores_it(monkeypatch, name, where):
    """run() updates an in-place weight where it lies, as step() does: interrupted (here by
    Ctrl-C) after events already moved it, mid-run or at its final check, everything is as
    it was, and the same run then goes through."""
    path, rule, batch = PATHS[name]
    learner = primed(rule)
    before = snapshot(learner)
    g = torch.Generator().manual_seed(2)
    pre, post = torch.rand(30, batch, 4, generator=g) < 0.5, torch.rand(30, batch, 3, generator=g) < 0.5
    moved = []

    def interrupt(*args):
        moved.append(not torch.equal(learner.layer.weight.detach(), before[0]))
        raise KeyboardInterrupt

    if where == "mid-run":  # at the fourth event's clip: three events have moved the weight
        calls, clip = [], learner._update.clip_
        monkeypatch.setattr(learner._update, "clip_",
                            lambda w: interrupt() if calls.append(1) or len(calls) == 4 else clip(w))
    else:
        monkeypatch.setattr(event_run, "check_finite", interrupt)
    with event_run.forced_path(path), pytest.raises(KeyboardInterrupt):
        learner.run(pre, post)
    assert moved == [path is not event_run.UpdatePath.SCAN]  # (the scan composes into a tensor of its own)
    assert_untouched(learner, before)
    monkeypatch.undo()
    with event_run.forced_path(path):
        learner.run(pre, post)
    assert learner.steps == before[3] + 30 and not torch.equal(learner.layer.weight.detach(), before[0])


def test_a_history_larger_than_memory_is_refused_up_front():
    learner = STDPLearner(nn.Linear(100, 100, bias=False), RULE)
    before = snapshot(learner)
    pre = torch.zeros(1, 1, 100, dtype=torch.bool).expand(10**8, 1, 100)
    post = torch.zeros(1, 1, 100, dtype=torch.bool).expand(10**8, 1, 100)
    with pytest.raises(ValueError, match=r"run\(record=True\) over 100000000 steps .*GiB .*record=False"):
        learner.run(pre, post, record=True)
    assert_untouched(learner, before)


def test_record_must_be_a_bool():
    learner = primed()
    before = snapshot(learner)
    with pytest.raises(TypeError, match="record must be True or False"):
        learner.run(torch.ones(2, 2, 4), torch.ones(2, 2, 3), record="yes")
    assert_untouched(learner, before)


# ---------------------------------------------------------------- checkpoints

def other_layer_state(good):
    other = STDPLearner(nn.Linear(5, 3), MULT)
    other.step(torch.ones(2, 5), torch.ones(2, 3))
    return other.state_dict()


def traces(good, **new):
    return dict(good, traces=dict(good["traces"], **new))


BAD_STATES = [
    ("steps-string", lambda g: dict(g, steps="abc"), TypeError, "steps must be an integer >= 0, got str 'abc'"),
    ("steps-none", lambda g: dict(g, steps=None), TypeError, "steps must be an integer >= 0, got NoneType"),
    ("steps-float", lambda g: dict(g, steps=2.0), TypeError, "steps must be an integer"),
    ("steps-bool", lambda g: dict(g, steps=True), TypeError, "steps must be an integer"),
    ("steps-negative", lambda g: dict(g, steps=-5), ValueError, "steps must be an integer >= 0, got -5"),
    ("steps-negative-numpy", lambda g: dict(g, steps=np.int32(-1)), ValueError, "steps must be an integer >= 0"),
    ("both-key-styles", lambda g: dict(g, steps="abc", pre_trace=torch.full((2, 4), 9.0), post_trace=torch.full((2, 3), 9.0)), ValueError, "both 'traces' and the old"),
    ("half-legacy", lambda g: {"steps": 1, "config": g["config"], "pre_trace": torch.ones(2, 4)}, ValueError, "both 'pre_trace' and 'post_trace'"),
    ("legacy-one-none", lambda g: {"steps": 1, "config": g["config"], "pre_trace": torch.ones(2, 4), "post_trace": None}, ValueError, "must both be tensors or both None"),
    ("unknown-key", lambda g: dict(g, extra=1), ValueError, r"unknown keys \['extra'\]"),
    ("missing-key", lambda g: {"traces": g["traces"], "config": g["config"]}, ValueError, r"missing \['steps'\]"),
    ("config-none-strict", lambda g: dict(g, config=None), TypeError, "config must be the dict"),
    ("config-other", lambda g: dict(g, config=dict(g["config"], dt=2.0)), ValueError, "another configuration"),
    ("nan-traces", lambda g: traces(g, x=torch.full((2, 4), math.nan)), ValueError, "saved trace 'x' contains NaN"),
    ("inf-traces", lambda g: traces(g, y=torch.full((2, 3), math.inf)), ValueError, "saved trace 'y' contains NaN or infinite"),
    ("overflow-in-dtype", lambda g: traces(g, x=torch.full((2, 4), 1e300, dtype=torch.float64)), ValueError, "saved trace 'x' contains NaN or infinite"),
    ("negative-traces", lambda g: traces(g, x=torch.full((2, 4), -5.0)), ValueError, "saved trace 'x' has negative values"),
    ("int-traces", lambda g: traces(g, x=torch.ones(2, 4, dtype=torch.long)), TypeError, "saved trace 'x' must be a dense floating-point tensor"),
    ("list-traces", lambda g: traces(g, x=[[0.0] * 4] * 2), TypeError, "saved trace 'x' must be a dense floating-point tensor, got list"),
    ("wrong-names", lambda g: dict(g, traces={"x": g["traces"]["x"]}), ValueError, r"traces \['x'\] do not match"),
    ("traces-not-a-dict", lambda g: dict(g, traces=[1, 2]), ValueError, "do not match this rule's traces"),
    ("meta-traces", lambda g: traces(g, x=torch.ones(2, 4, device="meta")), ValueError, "saved trace 'x' is on the meta device"),
    ("post-wrong-shape", lambda g: traces(g, y=torch.ones(2, 4)), ValueError, r"saved trace 'y' is shaped \(2, 4\)"),
    ("pre-trace-wrong-features", other_layer_state, ValueError, r"saved trace 'x' is shaped \(2, 5\), which does not fit this layer .*another layer"),
]


@pytest.mark.parametrize("name,mod,error,match", BAD_STATES, ids=[c[0] for c in BAD_STATES])
def test_bad_checkpoints_raise_and_load_nothing(name, mod, error, match):
    learner = primed(MULT)
    good = learner.state_dict()
    before = snapshot(learner)
    with pytest.raises(error, match=match):
        learner.load_state_dict(mod(good))
    assert_untouched(learner, before)


def test_checkpoints_load_numpy_steps_and_detach_traces():
    learner = primed(MULT)
    good = learner.state_dict()
    x = torch.ones(2, 4, requires_grad=True) * 1.0
    y = torch.ones(2, 3, requires_grad=True) * 1.0
    learner.load_state_dict(dict(good, steps=np.int64(7), traces={"x": x, "y": y}))
    assert learner.steps == 7 and type(learner.steps) is int
    assert not learner.pre_trace.requires_grad and learner.pre_trace.grad_fn is None
    learner.load_state_dict({"steps": torch.tensor(3), "config": good["config"], "pre_trace": x, "post_trace": y})
    assert learner.steps == 3 and not learner.post_trace.requires_grad


def test_a_lambda_dependence_can_be_checkpointed():
    rule = STDPRule(20.0, 20.0, 0.01, 0.01, weight_dependence=(lambda w: 1 - w, lambda w: w), w_min=0.0, w_max=1.0)
    learner = STDPLearner(nn.Linear(3, 2), rule)
    learner.step(torch.ones(1, 3), torch.ones(1, 2))
    buffer = io.BytesIO()
    torch.save(learner.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    assert "unpicklable" in str(saved["config"]["rule"]["weight_dependence"])
    fresh = STDPLearner(nn.Linear(3, 2), rule)
    fresh.load_state_dict(saved)
    assert fresh.steps == 1 and torch.equal(fresh.pre_trace, learner.pre_trace)


@pytest.mark.parametrize("method", ["step", "run"])
@pytest.mark.parametrize("side", ["pre", "post"])
def test_graded_spikes_need_all_to_all_pairing(method, side):
    """A reset trace would read 0.5 as a whole spike: nearest pairing refuses graded values."""
    nearest = STDPRule(16.8, 33.7, 0.01, 0.0105, pairing="nearest", w_min=0.0, w_max=1.0)
    layer = nn.Linear(4, 3, bias=False)
    learner = STDPLearner(layer, nearest, dt=1.0)
    learner.step(torch.ones(2, 4), torch.ones(2, 3))
    before = snapshot(learner)
    pre, post = torch.ones(2, 4), torch.ones(2, 3)
    if side == "pre":
        pre = torch.full((2, 4), 0.5)
    else:
        post = torch.full((2, 3), 1.25)
    if method == "run":
        pre, post = pre.unsqueeze(0), post.unsqueeze(0)
    with pytest.raises(ValueError, match=f"{side} spikes contain values that are not whole numbers.*all-to-all"):
        getattr(learner, method)(pre, post)
    assert_untouched(learner, before)
    # all-to-all takes the graded value as it is: the trace adds it
    graded = STDPLearner(nn.Linear(4, 3, bias=False), RULE, dt=1.0)
    graded.step(torch.full((2, 4), 0.5), torch.zeros(2, 3))
    assert torch.equal(graded.pre_trace, torch.full((2, 4), 0.5))
