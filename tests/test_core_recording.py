"""SpikeRecorder: forward hooks pick up a layer's input spikes and its neurons' output spikes, and
learning from them equals a learner stepped by hand with the same spikes, bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core.recording import SpikeRecorder

RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0105, w_min=0.0, w_max=1.0)
T_STEPS, BATCH, N_IN, N_OUT = 40, 3, 10, 4


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons: v <- decay v + input; a spike where v >= threshold,
    which resets v to 0. Returns the spikes, or ``(spikes, v)`` with ``return_membrane``."""

    def __init__(self, decay: float = 0.8, threshold: float = 0.6, return_membrane: bool = False):
        super().__init__()
        self.decay, self.threshold, self.return_membrane = decay, threshold, return_membrane
        self.v = None

    def forward(self, current):
        v = current if self.v is None else self.v * self.decay + current
        spikes = (v >= self.threshold).to(current.dtype)
        self.v = v * (1 - spikes)
        return (spikes, self.v) if self.return_membrane else spikes


class _ReferenceLIF:
    """The same neurons as plain Python numbers, one neuron at a time."""

    def __init__(self, batch, n, decay=0.8, threshold=0.6):
        self.v = [[0.0] * n for _ in range(batch)]
        self.decay, self.threshold = decay, threshold

    def step(self, current):
        out = torch.zeros_like(current)
        for b, row in enumerate(self.v):
            for i in range(len(row)):
                row[i] = row[i] * self.decay + current[b, i].item()
                if row[i] >= self.threshold:
                    out[b, i] = 1.0
                    row[i] = 0.0
        return out


def _model(return_membrane=False):
    torch.manual_seed(0)
    layer = nn.Linear(N_IN, N_OUT, bias=False).double()
    with torch.no_grad():
        layer.weight.uniform_(0.0, 0.5)
    return nn.Sequential(layer, LIF(return_membrane=return_membrane))


def _inputs():
    g = torch.Generator().manual_seed(1)
    return (torch.rand(T_STEPS, BATCH, N_IN, generator=g) < 0.3).double()


def _by_hand(inputs):
    """A copy of the model learning from spikes computed outside it: (weight, post spikes)."""
    layer = _model()[0]
    learner = STDPLearner(layer, RULE, dt=1.0)
    neurons = _ReferenceLIF(BATCH, N_OUT)
    posts = []
    for x in inputs:
        with torch.no_grad():
            post = neurons.step(layer(x))
        posts.append(post)
        learner.step(x, post)
    return layer.weight.detach().clone(), torch.stack(posts)


def test_recorded_learning_equals_learning_by_hand():
    inputs = _inputs()
    model = _model()
    learner = STDPLearner(model[0], RULE, dt=1.0)
    recorder = SpikeRecorder(model[0], model[1])
    posts = []
    for x in inputs:
        model(x)
        assert recorder.pending == 1
        pre, post = recorder.take()
        assert recorder.pending == 0
        assert torch.equal(pre, x)
        posts.append(post)
        learner.step(pre, post)
    w_hand, posts_hand = _by_hand(inputs)
    assert torch.equal(torch.stack(posts), posts_hand)
    assert 20 <= posts_hand.sum() <= 0.8 * posts_hand.numel()  # the neurons fire, not always
    assert (w_hand - _model()[0].weight).abs().max() > 1e-2  # and the weight learns
    assert torch.equal(model[0].weight, w_hand)


def test_select_picks_the_spikes_of_a_tuple_output():
    inputs = _inputs()
    model = _model(return_membrane=True)
    learner = STDPLearner(model[0], RULE, dt=1.0)
    with SpikeRecorder(model[0], model[1], select=lambda out: out[0]) as recorder:
        for x in inputs:
            spikes, _ = model[1](model[0](x))
            pre, post = recorder.take()
            assert post is not spikes and torch.equal(post, spikes)
            learner.step(pre, post)
    assert torch.equal(model[0].weight, _by_hand(inputs)[0])


def test_a_tuple_output_without_select_says_pass_select():
    model = _model(return_membrane=True)
    recorder = SpikeRecorder(model[0], model[1])
    with pytest.raises(TypeError, match=r"select="):
        model(_inputs()[0])


def test_select_must_give_a_tensor():
    model = _model(return_membrane=True)
    SpikeRecorder(model[0], model[1], select=lambda out: out[0].tolist())
    with pytest.raises(TypeError, match=r"select\(output\)"):
        model(_inputs()[0])


class TwoLayerNet(nn.Module):
    """A custom model: the second layer learns from the first layer's spikes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.fc1, self.lif1 = nn.Linear(N_IN, 6, bias=False), LIF()
        self.fc2, self.lif2 = nn.Linear(6, N_OUT, bias=False), LIF(threshold=0.3)
        with torch.no_grad():
            self.fc1.weight.uniform_(0.0, 0.5)
            self.fc2.weight.uniform_(0.0, 0.5)

    def forward(self, x):
        hidden = self.lif1(self.fc1(x))
        self.hidden = hidden
        return self.lif2(self.fc2(hidden))


def test_a_hidden_layer_of_a_custom_model():
    inputs = _inputs().float()
    net, twin = TwoLayerNet(), TwoLayerNet()
    learner = STDPLearner(net.fc2, RULE, dt=1.0)
    learner_twin = STDPLearner(twin.fc2, RULE, dt=1.0)
    recorder = SpikeRecorder(net.fc2, net.lif2)
    hidden_spikes = 0.0
    for x in inputs:
        out = net(x)
        pre, post = recorder.take()
        assert torch.equal(pre, net.hidden) and torch.equal(post, out)
        learner.step(pre, post)
        out_twin = twin(x)
        learner_twin.step(twin.hidden, out_twin)
        hidden_spikes += float(pre.sum())
    assert hidden_spikes > 10
    assert (net.fc2.weight - TwoLayerNet().fc2.weight).abs().max() > 1e-3
    assert torch.equal(net.fc2.weight, twin.fc2.weight)


def test_spikes_of_an_autograd_network_are_detached():
    model = _model(return_membrane=True).float()
    x = _inputs()[0].float().requires_grad_(True)
    recorder = SpikeRecorder(model[0], model[1], select=lambda out: out[1])  # the membrane
    _, membrane = model(x * 1.0)
    assert membrane.grad_fn is not None  # the model's own graph is untouched
    pre, post = recorder.take()
    assert not pre.requires_grad and pre.grad_fn is None
    assert not post.requires_grad and post.grad_fn is None
    assert torch.equal(post, membrane.detach())


def test_the_first_positional_input_is_the_pre_spikes():
    class Gated(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(N_IN, N_OUT, bias=False)

        def forward(self, x, gate, *, scale=1.0):
            return self.linear(x) * gate * scale

    gated, lif = Gated(), LIF()
    recorder = SpikeRecorder(gated, lif)
    x, gate = _inputs()[0].float(), torch.ones(BATCH, N_OUT)
    lif(gated(x, gate, scale=2.0))
    pre, _ = recorder.take()
    assert torch.equal(pre, x)
    SpikeRecorder(gated.linear, lif)
    with pytest.raises(TypeError, match="first positional"):
        gated.linear(input=x)  # a keyword input only


def test_no_pass_recorded():
    model = _model()
    recorder = SpikeRecorder(model[0], model[1])
    with pytest.raises(RuntimeError, match="no forward pass was recorded since the last step"):
        recorder.take()
    model(_inputs()[0])
    recorder.take()
    with pytest.raises(RuntimeError, match="no forward pass"):
        recorder.take()


def test_more_than_one_pass_says_step_after_each():
    inputs = _inputs()
    model = _model()
    recorder = SpikeRecorder(model[0], model[1])
    model(inputs[0])
    model(inputs[1])
    model(inputs[2])
    message = r"call learner\.step\(\) after each forward pass \(3 passes recorded since the last step\), " \
              r"or record them yourself and call run\(\)"
    with pytest.raises(RuntimeError, match=message):
        recorder.take()
    assert recorder.pending == 3  # left as it was
    recorder.clear()
    assert recorder.pending == 0
    model(inputs[3])
    pre, _ = recorder.take()
    assert torch.equal(pre, inputs[3])


def test_only_one_of_the_two_modules_ran():
    x = _inputs()[0]
    model = _model()
    recorder = SpikeRecorder(model[0], model[1])
    current = model[0](x)
    with pytest.raises(RuntimeError, match="the layer Linear ran but the spiking module LIF did not"):
        recorder.take()
    recorder.clear()
    model[1](current)
    with pytest.raises(RuntimeError, match="the spiking module LIF ran but the layer Linear did not"):
        recorder.take()
    assert recorder.pending == 1


def test_spikes_changed_in_place_are_refused():
    x = _inputs()[0].clone()
    model = _model()
    recorder = SpikeRecorder(model[0], model[1])
    model(x)
    x.zero_()
    with pytest.raises(RuntimeError, match="changed in place"):
        recorder.take()


def test_inference_mode_spikes_are_recorded():
    model = _model()
    recorder = SpikeRecorder(model[0], model[1])
    x = _inputs()[0]
    with torch.inference_mode():
        out = model(x)
    pre, post = recorder.take()
    assert torch.equal(pre, x) and torch.equal(post, out)


def test_remove_takes_the_hooks_off_and_is_idempotent():
    model = _model()
    layer, lif = model
    before = (dict(layer._forward_hooks), dict(lif._forward_hooks))
    recorder = SpikeRecorder(layer, lif)
    assert len(layer._forward_hooks) == len(before[0]) + 1
    assert len(lif._forward_hooks) == len(before[1]) + 1
    model(_inputs()[0])
    recorder.remove()
    assert recorder.removed
    assert dict(layer._forward_hooks) == before[0] and dict(lif._forward_hooks) == before[1]
    recorder.remove()  # again: nothing happens
    recorder.take()  # the pass recorded before remove() is still there
    model(_inputs()[1])  # no longer recorded
    with pytest.raises(RuntimeError, match=r"no forward pass.*hooks were removed"):
        recorder.take()


def test_context_manager_removes_the_hooks():
    model = _model()
    with SpikeRecorder(model[0], model[1]) as recorder:
        assert isinstance(recorder, SpikeRecorder) and not recorder.removed
        model(_inputs()[0])
        assert recorder.pending == 1
    assert recorder.removed
    assert len(model[0]._forward_hooks) == 0 and len(model[1]._forward_hooks) == 0


@pytest.mark.parametrize("args, kwargs, match", [
    (("layer", LIF()), {}, "layer must be an nn.Module"),
    ((nn.Linear(2, 2), lambda x: x), {}, "spiking_module must be"),
    ((nn.Linear(2, 2), LIF()), {"select": 0}, "select must be None or a callable"),
])
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(TypeError, match=match):
        SpikeRecorder(*args, **kwargs)
    if isinstance(args[0], nn.Module):
        assert len(args[0]._forward_hooks) == 0  # nothing registered


# ---------------------------------------------------------------- the learner's glue


def test_learner_attach_step_detach():
    inputs = _inputs()
    model = _model()
    learner = STDPLearner(model[0], RULE, dt=1.0)
    recorder = learner.attach(model[1])
    assert isinstance(recorder, SpikeRecorder)
    with pytest.raises((RuntimeError, ValueError)):
        learner.attach(model[1])  # one recorder per learner
    for x in inputs:
        model(x)
        learner.step()  # = learner.step(*recorder.take())
    assert torch.equal(model[0].weight, _by_hand(inputs)[0])
    learner.detach()
    assert len(model[0]._forward_hooks) == 0 and len(model[1]._forward_hooks) == 0
    learner.attach(model[1]).remove()  # attach again after detach


def test_learner_attach_with_select():
    inputs = _inputs()
    model = _model(return_membrane=True)
    learner = STDPLearner(model[0], RULE, dt=1.0)
    learner.attach(model[1], select=lambda out: out[0])
    for x in inputs:
        model(x)
        learner.step()
    learner.detach()
    assert torch.equal(model[0].weight, _by_hand(inputs)[0])


def test_learner_step_without_a_pass_raises():
    model = _model()
    learner = STDPLearner(model[0], RULE, dt=1.0)
    learner.attach(model[1])
    with pytest.raises(RuntimeError, match="no forward pass"):
        learner.step()
    model(_inputs()[0])
    model(_inputs()[1])
    with pytest.raises(RuntimeError, match=r"\(2 passes recorded since the last step\)"):
        learner.step()
    assert learner.steps == 0
