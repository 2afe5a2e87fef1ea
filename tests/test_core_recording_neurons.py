"""learner.attach() with real spiking modules: the package's AdaptiveLIF and SpikingJelly's LIFNode.

For each, a model ``Sequential(Linear, neurons)`` driven for T steps with ``learner.step()``
after every forward pass must learn exactly as a learner stepped by hand with the spikes the
same forward passes produce (recorded here without hooks).
"""

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.nn import AdaptiveLIF

RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0105, w_min=0.0, w_max=1.0)
T, BATCH, N_IN, N_OUT = 60, 2, 12, 5


def adaptive_lif():
    # drive in mV: a strong input makes the neurons fire within a few steps
    return AdaptiveLIF(N_OUT, tau_mem=20.0, v_rest=-65.0, v_reset=-65.0, v_threshold=-64.0,
                       refractory=2.0, theta_plus=0.5, tau_theta=200.0)


def spikingjelly_lif():
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    return neuron.LIFNode(tau=2.0, v_threshold=0.5)


def run_model(make_neurons, scale, learn):
    torch.manual_seed(0)
    layer = nn.Linear(N_IN, N_OUT, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.2, 0.8)
    neurons = make_neurons()
    model = nn.Sequential(layer, neurons)
    g = torch.Generator().manual_seed(3)
    inputs = (torch.rand(T, BATCH, N_IN, generator=g) < 0.3).float() * scale
    learner = STDPLearner(layer, RULE)
    pairs = []
    if learn:
        with learner.attach(neurons):
            for t in range(T):
                with torch.no_grad():
                    model(inputs[t])
                learner.step()
        return layer.weight.detach().clone(), learner.steps, None
    for t in range(T):  # by hand: the same forward passes, the spikes taken from their values
        with torch.no_grad():
            post = model(inputs[t])
        pairs.append((inputs[t].clone(), post.clone()))
        learner.step(inputs[t], post)
    return layer.weight.detach().clone(), learner.steps, pairs


@pytest.mark.parametrize("make_neurons,scale", [(adaptive_lif, 1.0), (spikingjelly_lif, 1.0)],
                         ids=["stdpwidgets.nn.AdaptiveLIF", "spikingjelly.LIFNode"])
def test_attach_learns_from_a_real_spiking_module_as_by_hand(make_neurons, scale):
    hooked, steps, _ = run_model(make_neurons, scale, learn=True)
    by_hand, _, pairs = run_model(make_neurons, scale, learn=False)
    assert steps == T
    assert sum(float(post.sum()) for _, post in pairs) > 5  # the neurons did fire: learning happened
    assert torch.equal(hooked, by_hand)
    assert not torch.equal(hooked, run_model(make_neurons, 0.0, learn=True)[0])


def test_a_detached_learner_leaves_the_model_as_it_was():
    layer, neurons = nn.Linear(N_IN, N_OUT, bias=False), adaptive_lif()
    hooks = (len(layer._forward_hooks), len(neurons._forward_hooks))
    learner = STDPLearner(layer, RULE)
    learner.attach(neurons)
    assert len(layer._forward_hooks) > hooks[0]
    learner.detach()
    assert (len(layer._forward_hooks), len(neurons._forward_hooks)) == hooks
    with pytest.raises(TypeError, match="attach"):
        learner.step()
