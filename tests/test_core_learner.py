"""STDPLearner: run vs step, reductions, grad mode, bounds, checkpoints, devices, dtypes."""

import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

BOUNDED = dict(w_min=0.0, w_max=1.0)
RULES = {
    "additive-unbounded": STDPRule(16.8, 33.7, 0.01, 0.0085),
    "additive-bounded": STDPRule(16.8, 33.7, 0.05, 0.06, **BOUNDED),
    "multiplicative": STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence="multiplicative", **BOUNDED),
    "gutig": STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence="gutig", mu=0.4, **BOUNDED),
    "van-rossum": STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence="van-rossum", **BOUNDED),
    "nearest-multiplicative": STDPRule(16.8, 33.7, 0.05, 0.06, pairing="nearest",
                                       weight_dependence="multiplicative", **BOUNDED),
    "custom": STDPRule(16.8, 33.7, 0.05, 0.06, weight_dependence=(torch.sqrt, torch.square), **BOUNDED),
}


def make_layer(kind, device, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(6, 4, bias=False) if kind == "linear" else nn.Conv2d(2, 3, 3, padding=1, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.0, 1.0)  # on the CPU generator, so every device gets the same weights
    return layer.to(device=device, dtype=dtype)


def spikes(kind, steps, batch, device, dtype=torch.float64, seed=1, p=0.15):
    gen = torch.Generator().manual_seed(seed)
    pre_shape, post_shape = ((6,), (4,)) if kind == "linear" else ((2, 5, 5), (3, 5, 5))
    pre = (torch.rand(steps, batch, *pre_shape, generator=gen) < p).to(dtype)
    post = (torch.rand(steps, batch, *post_shape, generator=gen) < p).to(dtype)
    return pre.to(device), post.to(device)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("rule_name", list(RULES))
@pytest.mark.parametrize("traces_first", [False, True])
def test_run_equals_repeated_step(kind, rule_name, traces_first, device):
    rule = RULES[rule_name]
    pre, post = spikes(kind, 80, 3, device)
    results = []
    for use_run in (False, True):
        layer = make_layer(kind, device)
        learner = STDPLearner(layer, rule, dt=0.5, traces_first=traces_first)
        if use_run:
            dw = learner.run(pre[:50], post[:50]) + learner.run(pre[50:], post[50:])
        else:
            dw = sum(learner.step(p, q) for p, q in zip(pre, post))
        results.append((dw, layer.weight.detach().clone(), learner.pre_trace, learner.post_trace, learner.steps))
    (dw_s, w_s, x_s, y_s, n_s), (dw_r, w_r, x_r, y_r, n_r) = results
    assert n_s == n_r == 80
    assert dw_s.abs().max() > 0
    for a, b in ((dw_s, dw_r), (w_s, w_r), (x_s, x_r), (y_s, y_r)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule_name", ["additive-bounded", "multiplicative"])
def test_record_gives_the_weights_and_traces_of_each_step(rule_name, device):
    rule = RULES[rule_name]
    pre, post = spikes("linear", 40, 2, device)
    layer = make_layer("linear", device)
    learner = STDPLearner(layer, rule)
    weights, pre_traces, post_traces = [], [], []
    for p, q in zip(pre, post):
        learner.step(p, q)
        weights.append(layer.weight.detach().clone())
        pre_traces.append(learner.pre_trace)
        post_traces.append(learner.post_trace)
    layer2 = make_layer("linear", device)
    learner2 = STDPLearner(layer2, rule)
    first = learner2.run(pre[:15], post[:15], record=True)
    second = learner2.run(pre[15:], post[15:], record=True)  # starts from non-zero traces
    for name, stepped in (("weights", weights), ("pre_traces", pre_traces), ("post_traces", post_traces)):
        recorded = torch.cat([getattr(first, name), getattr(second, name)])
        torch.testing.assert_close(recorded, torch.stack(stepped), rtol=0, atol=1e-12)
    torch.testing.assert_close(first.dw + second.dw, weights[-1] - make_layer("linear", device).weight,
                               rtol=0, atol=1e-12)


def test_sum_and_mean_reduction(device):
    rule = RULES["additive-unbounded"]
    pre, post = spikes("conv", 20, 4, device)
    dws = {}
    for reduction in ("sum", "mean"):
        layer = make_layer("conv", device)
        dws[reduction] = STDPLearner(layer, rule, reduction=reduction).run(pre, post)
    torch.testing.assert_close(dws["mean"] * 4, dws["sum"], rtol=1e-13, atol=1e-14)
    # the mean over the batch is the mean of the per-sample updates
    single = []
    for b in range(4):
        layer = make_layer("conv", device)
        single.append(STDPLearner(layer, rule).run(pre[:, b : b + 1], post[:, b : b + 1]))
    torch.testing.assert_close(torch.stack(single).mean(0), dws["mean"], rtol=0, atol=1e-13)


@pytest.mark.parametrize("rule_name", ["additive-unbounded", "additive-bounded", "multiplicative"])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_grad_mode_with_sgd_lr1_equals_in_place(rule_name, kind, device):
    rule = RULES[rule_name]
    pre, post = spikes(kind, 30, 2, device)
    in_place = make_layer(kind, device)
    learner = STDPLearner(in_place, rule)
    for p, q in zip(pre, post):
        learner.step(p, q)
    via_grad = make_layer(kind, device)
    optimizer = torch.optim.SGD(via_grad.parameters(), lr=1.0)
    learner = STDPLearner(via_grad, rule, update="grad")
    for p, q in zip(pre, post):
        optimizer.zero_grad()
        w_before = via_grad.weight.detach().clone()
        dw = learner.step(p, q)
        assert torch.equal(via_grad.weight, w_before)  # grad mode leaves the weight alone
        torch.testing.assert_close(via_grad.weight.grad, -dw, rtol=0, atol=0)
        optimizer.step()
    torch.testing.assert_close(via_grad.weight, in_place.weight, rtol=0, atol=1e-14)


def test_grad_mode_accumulates_into_existing_grad():
    layer = make_layer("linear", "cpu")
    layer.weight.grad = torch.ones_like(layer.weight)
    pre, post = spikes("linear", 10, 1, "cpu", p=0.5)
    dw = STDPLearner(layer, RULES["additive-unbounded"], update="grad").run(pre, post)
    torch.testing.assert_close(layer.weight.grad, 1 - dw, rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    a=st.floats(0.0, 5.0),
    p=st.floats(0.0, 1.0),
    counts=st.integers(1, 3),
    dependence=st.sampled_from(["multiplicative", "gutig", "van-rossum", "additive"]),
    pairing=st.sampled_from(["all-to-all", "nearest"]),
    w_min=st.floats(-2.0, 0.5),
    width=st.floats(0.0, 3.0),
)
def test_weights_stay_within_bounds_for_any_spikes(seed, a, p, counts, dependence, pairing, w_min, width):
    rule = STDPRule(5.0, 7.0, a, 1.3 * a, pairing=pairing, weight_dependence=dependence, mu=0.5,
                    w_min=w_min, w_max=w_min + width)
    gen = torch.Generator().manual_seed(seed)
    layer = nn.Linear(5, 3, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(w_min, w_min + width, generator=gen)
    pre = (torch.rand(25, 4, 5, generator=gen) < p) * float(counts)
    post = (torch.rand(25, 4, 3, generator=gen) < p) * float(counts)
    learner = STDPLearner(layer, rule)
    learner.run(pre[:10], post[:10])
    for q, r in zip(pre[10:], post[10:]):
        learner.step(q, r)
    assert torch.isfinite(layer.weight).all()
    assert layer.weight.min() >= w_min and layer.weight.max() <= w_min + width


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_checkpoint_resume_is_bit_identical(kind, tmp_path):
    rule = RULES["multiplicative"]
    pre, post = spikes(kind, 60, 2, "cpu", dtype=torch.float32)
    layer = make_layer(kind, "cpu", dtype=torch.float32)
    learner = STDPLearner(layer, rule, dt=0.25)
    for p, q in zip(pre, post):
        learner.step(p, q)
    uninterrupted = layer.weight.detach().clone()

    layer = make_layer(kind, "cpu", dtype=torch.float32)
    learner = STDPLearner(layer, rule, dt=0.25)
    for p, q in zip(pre[:25], post[:25]):
        learner.step(p, q)
    torch.save({"layer": layer.state_dict(), "stdp": learner.state_dict()}, tmp_path / "ckpt.pt")
    del layer, learner

    checkpoint = torch.load(tmp_path / "ckpt.pt")
    fresh = make_layer(kind, "cpu", dtype=torch.float32, seed=99)
    fresh.load_state_dict(checkpoint["layer"])
    resumed = STDPLearner(fresh, rule, dt=0.25)
    resumed.load_state_dict(checkpoint["stdp"])
    assert resumed.steps == 25 and resumed.time == pytest.approx(6.25)
    for p, q in zip(pre[25:], post[25:]):
        resumed.step(p, q)
    assert torch.equal(fresh.weight, uninterrupted)


def test_checkpoint_of_run_resumes_identically():
    rule = RULES["additive-bounded"]
    pre, post = spikes("conv", 40, 2, "cpu")
    layer = make_layer("conv", "cpu")
    learner = STDPLearner(layer, rule)
    learner.run(pre[:20], post[:20])
    buffer = io.BytesIO()
    torch.save({"layer": layer.state_dict(), "stdp": learner.state_dict()}, buffer)
    learner.run(pre[20:], post[20:])
    buffer.seek(0)
    checkpoint = torch.load(buffer)
    fresh = make_layer("conv", "cpu", seed=5)
    fresh.load_state_dict(checkpoint["layer"])
    resumed = STDPLearner(fresh, rule)
    resumed.load_state_dict(checkpoint["stdp"])
    resumed.run(pre[20:], post[20:])
    assert torch.equal(fresh.weight, layer.weight)
    assert torch.equal(resumed.pre_trace, learner.pre_trace)


def test_load_state_dict_refuses_another_configuration():
    layer = make_layer("linear", "cpu")
    learner = STDPLearner(layer, RULES["additive-bounded"])
    learner.step(*[s[0] for s in spikes("linear", 1, 2, "cpu", p=0.5)])
    state = learner.state_dict()
    other = STDPLearner(make_layer("linear", "cpu"), RULES["multiplicative"])
    with pytest.raises(ValueError, match="another configuration"):
        other.load_state_dict(state)
    assert other.pre_trace is None
    other.load_state_dict(state, strict=False)
    torch.testing.assert_close(other.pre_trace, learner.pre_trace)


def test_state_follows_weight_device_and_dtype(device):
    for dtype in (torch.float32, torch.float64):
        layer = make_layer("conv", device, dtype=dtype)
        pre, post = spikes("conv", 5, 2, device, dtype=torch.bool)
        learner = STDPLearner(layer, RULES["multiplicative"])
        dw = learner.run(pre, post)
        assert dw.dtype == dtype and dw.device.type == torch.device(device).type
        assert learner.pre_trace.dtype == dtype and learner.pre_trace.device == layer.weight.device


def test_bool_and_float_spikes_agree():
    rule = RULES["multiplicative"]
    pre, post = spikes("linear", 30, 2, "cpu")
    out = []
    for dtype in (torch.bool, torch.float64):
        layer = make_layer("linear", "cpu")
        out.append(STDPLearner(layer, rule).run(pre.to(dtype), post.to(dtype)))
    assert torch.equal(out[0], out[1])


def test_reset_forgets_traces_but_keeps_weights():
    layer = make_layer("linear", "cpu")
    learner = STDPLearner(layer, RULES["additive-bounded"])
    learner.run(*spikes("linear", 10, 2, "cpu", p=0.5))
    w = layer.weight.detach().clone()
    learner.reset()
    assert learner.pre_trace is None and learner.post_trace is None and learner.steps == 0
    assert torch.equal(layer.weight, w)
    learner.run(*spikes("linear", 10, 5, "cpu"))  # a new batch size is fine after reset


def test_empty_run_changes_nothing():
    layer = make_layer("linear", "cpu")
    w = layer.weight.detach().clone()
    learner = STDPLearner(layer, RULES["multiplicative"])
    pre, post = spikes("linear", 0, 2, "cpu")
    assert torch.equal(learner.run(pre, post), torch.zeros_like(w))
    history = learner.run(pre, post, record=True)
    assert history.weights.shape == (0, 4, 6) and history.pre_traces.shape == (0, 2, 6)
    assert torch.equal(layer.weight, w) and learner.steps == 0


def test_no_autograd_graph_is_built():
    layer = make_layer("linear", "cpu")
    dw = STDPLearner(layer, RULES["multiplicative"]).run(*spikes("linear", 10, 2, "cpu", p=0.5))
    assert dw.grad_fn is None and layer.weight.grad is None and layer.weight.requires_grad


def test_repr_mentions_the_settings():
    learner = STDPLearner(make_layer("linear", "cpu"), RULES["multiplicative"], dt=0.1, decay="euler")
    text = repr(learner)
    assert "Linear" in text and "dt=0.1" in text and "'euler'" in text and "multiplicative" in text
    assert math.isclose(learner.time, 0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("rule_name", ["additive-bounded", "multiplicative", "nearest-multiplicative"])
def test_cuda_equals_cpu(kind, rule_name):
    rule = RULES[rule_name]
    results = {}
    for device in ("cpu", "cuda"):
        pre, post = spikes(kind, 40, 3, device)
        layer = make_layer(kind, device)
        learner = STDPLearner(layer, rule)
        history = learner.run(pre[:20], post[:20], record=True)
        for p, q in zip(pre[20:], post[20:]):
            learner.step(p, q)
        results[device] = (history.weights.cpu(), layer.weight.detach().cpu(), learner.pre_trace.cpu())
    for a, b in zip(results["cpu"], results["cuda"]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_float32_conv_is_not_rounded_by_tf32():
    """cuDNN allows TF32 by default; the correlations must still be full float32."""
    assert torch.backends.cudnn.allow_tf32  # PyTorch's default, which the core must not inherit
    rule = RULES["additive-unbounded"]
    pre, post = spikes("conv", 10, 4, "cpu", p=0.5)
    dws = []
    for device in ("cpu", "cuda"):
        layer = make_layer("conv", device, dtype=torch.float32)
        dws.append(STDPLearner(layer, rule).run(pre.float().to(device), post.float().to(device)).cpu())
    # float32 accumulation differs by ~1e-6 of the scale; TF32's 10-bit mantissa would give ~1e-3
    scale = dws[0].abs().max().item()
    assert (dws[1] - dws[0]).abs().max().item() < 2e-5 * scale
    assert torch.backends.cudnn.allow_tf32  # and the user's setting is restored
