"""Property test: ``run`` over T steps is T calls of ``step``, on random small layers and rules.

Random Linear and Conv1d/2d/3d layers (stride, padding incl. 'same', padding modes, dilation,
groups), both rules (STDPRule, TripletRule), both pairings, every named weight dependence
(Guetig with mu in (0, 1]), bounded, one-sided and unbounded bounds, in-place and grad modes,
traces_first, bool spikes or float counts, weights sometimes outside the bounds. Everything in
float64; ``run`` composes the events differently (batched correlations, cumulative sums,
prefix scans of clipped affine maps), so weights, grads and traces agree to a tight tolerance,
the step count exactly. The bounds always hold and nothing is NaN.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core.event_run import UpdatePath, forced_path
from stdpwidgets.core.triplet import TripletRule

ATOL = 1e-9

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

DEPENDENCES = ("additive", "multiplicative", "gutig", "van-rossum")


@st.composite
def layers(draw):
    """A layer and the shape of one step's pre spikes, (batch, *input)."""
    batch = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["linear", "conv1d", "conv2d", "conv3d"]))
    if kind == "linear":
        n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 4))
        return nn.Linear(n_in, n_out, bias=draw(st.booleans())), (batch, n_in)
    dims = int(kind[-2])
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    stride = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.sampled_from(["same", 0, 1, 2])) if stride == 1 else draw(st.integers(0, 2))
    span = dilation * (kernel - 1) + 1
    low = max(span, 3) if dims < 3 else max(span, 3)
    size = draw(st.integers(low, low + (3 if dims < 3 else 1)))
    layer_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    layer = layer_cls(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, padding_mode=mode, bias=False)
    return layer, (batch, c_in, *([size] * dims))


@st.composite
def rules(draw):
    dependence = draw(st.sampled_from(DEPENDENCES))
    mu = draw(st.floats(0.02, 1.0)) if dependence == "gutig" else 1.0
    if dependence == "additive":
        bounds = draw(st.sampled_from([(0.0, 1.0), (-0.5, 0.7), (0.0, math.inf), (-math.inf, math.inf)]))
    else:
        bounds = draw(st.sampled_from([(0.0, 1.0), (0.1, 0.7), (-1.0, 1.0)]))
    pairing = draw(st.sampled_from(["all-to-all", "nearest"]))
    amplitude = st.floats(0.0, 0.3)
    common = dict(pairing=pairing, weight_dependence=dependence, w_min=bounds[0], w_max=bounds[1], mu=mu)
    taus = st.floats(2.0, 40.0)
    if draw(st.booleans()):
        return STDPRule(draw(taus), draw(taus), draw(amplitude), draw(amplitude), **common)
    return TripletRule(draw(taus), draw(taus), draw(taus), draw(taus), draw(amplitude), draw(amplitude),
                       draw(amplitude), draw(amplitude), **common)


def spikes(shape, steps, counts, density, seed):
    g = torch.Generator().manual_seed(seed)
    if counts:
        return torch.randint(0, 3, (steps, *shape), generator=g).to(torch.float64) * \
            (torch.rand((steps, *shape), generator=g, dtype=torch.float64) < density)
    return torch.rand((steps, *shape), generator=g) < density


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layer_and_shape=layers(),
    rule=rules(),
    update=st.sampled_from(["in-place", "grad"]),
    traces_first=st.booleans(),
    reduction=st.sampled_from(["sum", "mean"]),
    decay=st.sampled_from(["exact", "euler"]),
    counts=st.booleans(),
    density=st.sampled_from([0.0, 0.1, 0.4, 0.9]),
    steps=st.integers(1, 8),
    outside=st.booleans(),
    seed=st.integers(0, 2**16),
    path=st.sampled_from([None, UpdatePath.SEQUENTIAL, UpdatePath.SCAN, UpdatePath.SUMMED, UpdatePath.SPARSE]),
)
def test_run_is_repeated_step(layer_and_shape, rule, update, traces_first, reduction, decay, counts,
                              density, steps, outside, seed, path):
    """``path`` forces one of run's update paths (None: run chooses); a path that cannot serve
    the case is replaced by the one that can (SUMMED needs updates that do not interact, SPARSE
    an nn.Linear within its bounds)."""
    layer = layer_and_shape[0]
    interacting = (update == "in-place" and (rule.bounded or not rule.weight_independent)) or (
        update == "grad" and rule.bounded)
    if path is UpdatePath.SUMMED and interacting:
        path = UpdatePath.SEQUENTIAL
    if path is UpdatePath.SPARSE and (not isinstance(layer, nn.Linear) or outside
                                      or rule.dependence.name == "custom"):
        path = UpdatePath.SEQUENTIAL
    with forced_path(path):
        check_run_is_repeated_step(layer_and_shape, rule, update, traces_first, reduction, decay,
                                   counts, density, steps, outside, seed)


def check_run_is_repeated_step(layer_and_shape, rule, update, traces_first, reduction, decay, counts,
                               density, steps, outside, seed):
    torch.set_num_threads(1)
    layer, pre_shape = layer_and_shape
    layer = layer.double()
    with torch.no_grad():
        post_shape = tuple(layer(torch.zeros(pre_shape, dtype=torch.float64)).shape)
        lo = rule.w_min if math.isfinite(rule.w_min) else -1.0
        hi = rule.w_max if math.isfinite(rule.w_max) else 1.0
        g = torch.Generator().manual_seed(seed + 1)
        spread = 0.3 if outside else 0.0  # some weights start outside the bounds
        w0 = lo - spread + (hi - lo + 2 * spread) * torch.rand(layer.weight.shape, generator=g, dtype=torch.float64)
        layer.weight.copy_(w0)
    pre = spikes(pre_shape, steps, counts, density, seed + 2)
    post = spikes(post_shape, steps, counts, density, seed + 3)
    kwargs = dict(dt=1.0, decay=decay, traces_first=traces_first, reduction=reduction, update=update)

    stepper = STDPLearner(layer, rule, **kwargs)
    for t in range(steps):
        stepper.step(pre[t], post[t])
    w_step = layer.weight.detach().clone()
    grad_step = None if layer.weight.grad is None else layer.weight.grad.clone()
    traces_step = stepper.traces

    with torch.no_grad():
        layer.weight.copy_(w0)
    layer.weight.grad = None
    runner = STDPLearner(layer, rule, **kwargs)
    history = runner.run(pre, post, record=True)
    w_run = layer.weight.detach().clone()

    assert runner.steps == stepper.steps == steps
    torch.testing.assert_close(w_run, w_step, atol=ATOL, rtol=0)
    torch.testing.assert_close(history.weights[-1], w_run, atol=0, rtol=0)
    for name, trace in traces_step.items():
        torch.testing.assert_close(runner.traces[name], trace, atol=ATOL, rtol=1e-12)
        assert bool((trace >= 0).all())
    if update == "grad":
        assert torch.equal(w_run, w0)
        torch.testing.assert_close(layer.weight.grad, grad_step, atol=ATOL, rtol=0)
        torch.testing.assert_close(history.dw, -layer.weight.grad, atol=0, rtol=0)
    else:
        torch.testing.assert_close(history.dw, w_run - w0, atol=0, rtol=0)
        assert bool((w_run >= rule.w_min).all()) and bool((w_run <= rule.w_max).all())
        assert bool((w_step >= rule.w_min).all()) and bool((w_step <= rule.w_max).all())
    for tensor in (w_step, w_run, history.weights, *runner.traces.values()):
        assert bool(torch.isfinite(tensor).all())
