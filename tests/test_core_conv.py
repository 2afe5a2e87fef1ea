"""Conv STDP through the weight-gradient equals a naive loop over output positions."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

from reference import naive_conv_correlation, naive_traces

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.011, a_minus=0.0093)
DT = 1.0


def random_config(rng: random.Random, dims: int):
    """A random but valid convolution configuration of ``dims`` spatial dimensions."""
    groups = rng.choice([1, 1, 2, 3])
    cin = groups * rng.randint(1, 2)
    cout = groups * rng.randint(1, 2)
    kernel = tuple(rng.randint(1, 3) for _ in range(dims))
    dilation = tuple(rng.randint(1, 2) for _ in range(dims))
    padding_kind = rng.choice(["int", "tuple", "same", "valid"])
    if padding_kind == "same":
        stride, padding = (1,) * dims, "same"
    else:
        stride = tuple(rng.randint(1, 3) for _ in range(dims))
        padding = {
            "int": rng.randint(0, 2),
            "tuple": tuple(rng.randint(0, 2) for _ in range(dims)),
            "valid": "valid",
        }[padding_kind]
    padding_mode = rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"])
    max_size = 7 if dims < 3 else 5
    size = tuple(rng.randint(d * (k - 1) + 3, max_size + d * (k - 1)) for k, d in zip(kernel, dilation))
    return dict(in_channels=cin, out_channels=cout, kernel_size=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups, padding_mode=padding_mode), size


CONFIGS = [(dims, seed) for dims in (1, 2, 3) for seed in range(24 if dims < 3 else 12)]


def naive_update(layer, pre, post, rule, pairing_first=False):
    """Total STDP change over T steps from naive traces and the naive conv correlation."""
    factor_pre, factor_post = np.exp(-DT / rule.tau_pre), np.exp(-DT / rule.tau_post)
    x_read, _ = naive_traces(pre, factor_pre, rule.pairing, pairing_first)
    y_read, _ = naive_traces(post, factor_post, rule.pairing, pairing_first)
    padding = layer.padding if isinstance(layer.padding, str) else layer.padding
    args = (tuple(layer.weight.shape), layer.stride, padding, layer.dilation, layer.groups, layer.padding_mode)
    total = np.zeros(layer.weight.shape)
    for t in range(pre.shape[0]):
        total += rule.a_plus * naive_conv_correlation(x_read[t], post[t], *args)
        total -= rule.a_minus * naive_conv_correlation(pre[t], y_read[t], *args)
    return total


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("dims,seed", CONFIGS)
def test_conv_stdp_equals_naive_loop(dims, seed):
    rng = random.Random(1000 * dims + seed)
    config, size = random_config(rng, dims)
    torch.manual_seed(seed)
    layer = CONV[dims](**config, bias=False).double()
    batch, steps = 2, 6
    pre = (torch.rand(steps, batch, config["in_channels"], *size) < 0.4).double()
    with torch.no_grad():
        out_shape = layer(pre[0]).shape
    post = (torch.rand(steps, *out_shape) < 0.4).double()
    expected = naive_update(layer, pre.numpy(), post.numpy(), RULE)
    assert np.abs(expected).max() > 0, "the configuration must produce some update"

    w0 = layer.weight.detach().clone()
    learner = STDPLearner(layer, RULE, dt=DT)
    stepped = sum(learner.step(p, q) for p, q in zip(pre, post))
    np.testing.assert_allclose(stepped.numpy(), expected, rtol=0, atol=1e-10, err_msg=str(config))
    with torch.no_grad():
        layer.weight.copy_(w0)
    ran = STDPLearner(layer, RULE, dt=DT).run(pre, post)
    np.testing.assert_allclose(ran.numpy(), expected, rtol=0, atol=1e-10, err_msg=str(config))
    np.testing.assert_allclose((layer.weight - w0).detach().numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dims,seed", CONFIGS[::4])
def test_conv_correlation_equals_autograd_of_the_layer(dims, seed, device):
    """Second reference: the gradient of sum(post * layer(trace)) w.r.t. the weight."""
    rng = random.Random(77 + 1000 * dims + seed)
    config, size = random_config(rng, dims)
    torch.manual_seed(seed)
    layer = CONV[dims](**config, bias=False).double().to(device)
    x = torch.rand(3, config["in_channels"], *size, dtype=torch.float64, device=device)
    with torch.no_grad():
        post = (torch.rand_like(layer(x)) < 0.5).double()
    pre = torch.zeros_like(x)
    learner = STDPLearner(layer, STDPRule(1.0, 1.0, 1.0, 0.0), dt=1.0, update="grad")
    # one step with pre spikes = x (graded counts), then a step whose post spikes read x * e^-1
    learner.step(x, torch.zeros_like(post))
    layer.weight.grad = None
    learner.step(pre, post)
    stdp = -layer.weight.grad
    layer.weight.grad = None
    (layer(x * np.exp(-1.0)) * post).sum().backward()
    torch.testing.assert_close(stdp, layer.weight.grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest"])
def test_conv_nearest_and_traces_first_equal_naive(pairing):
    rule = STDPRule(16.8, 33.7, 0.011, 0.0093, pairing=pairing)
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False).double()
    gen = torch.Generator().manual_seed(4)
    pre = (torch.rand(6, 2, 2, 7, 7, generator=gen) < 0.3).double()
    post = (torch.rand(6, 2, 3, 4, 4, generator=gen) < 0.3).double()
    for traces_first in (False, True):
        expected = naive_update(layer, pre.numpy(), post.numpy(), rule, traces_first)
        w0 = layer.weight.detach().clone()
        dw = STDPLearner(layer, rule, dt=DT, traces_first=traces_first).run(pre, post)
        np.testing.assert_allclose(dw.numpy(), expected, rtol=0, atol=1e-10)
        with torch.no_grad():
            layer.weight.copy_(w0)


def test_linear_equals_conv2d_with_1x1_kernel_on_1x1_input(device):
    torch.manual_seed(0)
    linear = nn.Linear(5, 3, bias=False).double().to(device)
    conv = nn.Conv2d(5, 3, 1, bias=False).double().to(device)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(3, 5, 1, 1))
    rule = STDPRule(16.8, 33.7, 0.01, 0.012, weight_dependence="multiplicative", w_min=-1.0, w_max=1.0)
    pre = (torch.rand(50, 4, 5, device=device) < 0.2).double()
    post = (torch.rand(50, 4, 3, device=device) < 0.2).double()
    dw_linear = STDPLearner(linear, rule).run(pre, post)
    dw_conv = STDPLearner(conv, rule).run(pre[..., None, None], post[..., None, None])
    torch.testing.assert_close(dw_conv.reshape(3, 5), dw_linear, rtol=0, atol=1e-14)
    torch.testing.assert_close(conv.weight.reshape(3, 5), linear.weight, rtol=0, atol=1e-14)
